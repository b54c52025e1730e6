//! The Rust side of the bridge: thin adapters from the bridge's types (plain
//! numbers, `&str`, `&[u8]`, shared structs) to `pstor_core`, each inside
//! [`boundary`], which records the stable number of a failure for
//! [`last_error_code`] and turns a panic into an error instead of an abort.

use crate::bridge::ffi;
use pstor_client::{Backend, FrameStream, SpaceJobHandle};
use pstor_core as core;
use pstor_core::{ErrorCode, PictureId, PoolId, StreamId};
use std::cell::Cell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

thread_local! {
    /// The number of the last failure on this thread.
    static LAST_CODE: Cell<u32> = const { Cell::new(0) };
}

/// A failure as it crosses to C++: cxx makes its text the `what()` of the
/// `rust::Error` it throws; its number waits in [`LAST_CODE`].
#[derive(Debug)]
pub(crate) struct Failure(String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What every fallible bridge function returns.
pub(crate) type Outcome<T> = Result<T, Failure>;

/// Records `code` as this thread's last failure and makes the error.
fn fail(code: ErrorCode, message: String) -> Failure {
    LAST_CODE.with(|c| c.set(code.number()));
    Failure(message)
}

/// Runs `f`; an error or a panic becomes a [`Failure`] whose number
/// [`last_error_code`] then returns on this thread. (A panic crossing into
/// C++ would abort the process: cxx's own guard.)
pub(crate) fn boundary<T>(f: impl FnOnce() -> core::Result<T>) -> Outcome<T> {
    core::catch_panic("the call", f).map_err(|e| fail(e.code(), e.to_string()))
}

fn invalid(what: String) -> core::Error {
    core::Error::InvalidArgument(what)
}

/// The number of the last failure on the calling thread (0: none yet).
pub(crate) fn last_error_code() -> u32 {
    LAST_CODE.with(Cell::get)
}

/// The C name of a number (`PSTOR_UNKNOWN` if this version lacks it).
pub(crate) fn error_code_name(code: u32) -> &'static str {
    ErrorCode::from_number(code).unwrap_or(ErrorCode::Unknown).c_name()
}

/// The one-line description of a number.
pub(crate) fn error_code_description(code: u32) -> &'static str {
    ErrorCode::from_number(code).unwrap_or(ErrorCode::Unknown).description()
}

/// The production defaults.
pub(crate) fn default_engine_options() -> ffi::EngineOptions {
    let d = core::EngineOptions::new("");
    ffi::EngineOptions {
        min_space_capacity: d.min_space_capacity,
        segment_size: d.segment_size,
        utc_offset_minutes: d.utc_offset_minutes,
    }
}

/// Checks the text form of a picture id.
pub(crate) fn check_picture_id(text: &str) -> Outcome<()> {
    boundary(|| parse_id(text).map(|_| ()))
}

fn parse_id(text: &str) -> core::Result<PictureId> {
    text.parse()
}

/// Opens (or creates) an engine.
pub(crate) fn open_engine(data_dir: &str, options: &ffi::EngineOptions) -> Outcome<Box<Engine>> {
    boundary(|| {
        if data_dir.is_empty() {
            return Err(invalid("the data folder is empty".into()));
        }
        let mut opts = core::EngineOptions::new(data_dir);
        opts.min_space_capacity = options.min_space_capacity;
        opts.segment_size = options.segment_size;
        opts.utc_offset_minutes = options.utc_offset_minutes;
        Ok(Engine::from_backend(pstor_client::open_local(opts)?))
    })
}

/// Connects to a pstor-server and authenticates (mutually); every method of
/// the engine then goes to the server over the SDK protocol. Timeouts in
/// ms; ports, timeouts and the connection count must not be 0.
#[allow(clippy::too_many_arguments)]
pub(crate) fn connect_engine(
    host: &str,
    signalling_port: u16,
    data_port: u16,
    access_key: &str,
    secret_key: &str,
    connect_timeout_ms: i64,
    request_timeout_ms: i64,
    data_connections: u32,
) -> Outcome<Box<Engine>> {
    boundary(|| {
        if host.is_empty() {
            return Err(invalid("RemoteOptions: host is empty".into()));
        }
        if signalling_port == 0 || data_port == 0 {
            return Err(invalid("RemoteOptions: the ports must not be 0".into()));
        }
        let ms = |what: &str, v: i64| match u64::try_from(v) {
            Ok(v) if v > 0 => Ok(std::time::Duration::from_millis(v)),
            _ => Err(invalid(format!("RemoteOptions: {what} must be at least 1 ms, not {v} ms"))),
        };
        if data_connections == 0 {
            return Err(invalid("RemoteOptions: data_connections must be at least 1".into()));
        }
        let mut opts = pstor_client::RemoteOptions::new(host, access_key, secret_key);
        opts.signalling_port = signalling_port;
        opts.data_port = data_port;
        opts.connect_timeout = ms("connect_timeout", connect_timeout_ms)?;
        opts.request_timeout = ms("request_timeout", request_timeout_ms)?;
        opts.data_connections = data_connections as usize;
        Ok(Engine::from_backend(pstor_client::connect(opts)?))
    })
}

// ---- enums ---------------------------------------------------------------

fn pool_kind(k: ffi::PoolKind) -> core::Result<core::PoolKind> {
    Ok(match k {
        ffi::PoolKind::Video => core::PoolKind::Video,
        ffi::PoolKind::Picture => core::PoolKind::Picture,
        ffi::PoolKind::Mixed => core::PoolKind::Mixed,
        _ => return Err(invalid(format!("no pool kind {}", k.repr))),
    })
}

fn pool_kind_out(k: core::PoolKind) -> ffi::PoolKind {
    match k {
        core::PoolKind::Video => ffi::PoolKind::Video,
        core::PoolKind::Picture => ffi::PoolKind::Picture,
        core::PoolKind::Mixed => ffi::PoolKind::Mixed,
    }
}

fn strategy(s: ffi::OverwriteStrategy) -> core::Result<core::OverwriteStrategy> {
    Ok(match s {
        ffi::OverwriteStrategy::OverwriteOldest => core::OverwriteStrategy::OverwriteOldest,
        ffi::OverwriteStrategy::StopWhenFull => core::OverwriteStrategy::StopWhenFull,
        _ => return Err(invalid(format!("no overwrite strategy {}", s.repr))),
    })
}

fn strategy_out(s: core::OverwriteStrategy) -> ffi::OverwriteStrategy {
    match s {
        core::OverwriteStrategy::OverwriteOldest => ffi::OverwriteStrategy::OverwriteOldest,
        core::OverwriteStrategy::StopWhenFull => ffi::OverwriteStrategy::StopWhenFull,
    }
}

fn stream_kind(k: ffi::StreamKind) -> core::Result<core::StreamKind> {
    Ok(match k {
        ffi::StreamKind::Main => core::StreamKind::Main,
        ffi::StreamKind::Sub => core::StreamKind::Sub,
        _ => return Err(invalid(format!("no stream kind {}", k.repr))),
    })
}

fn space_status_out(s: core::SpaceStatus) -> ffi::SpaceStatus {
    match s {
        core::SpaceStatus::Uninitialized => ffi::SpaceStatus::Uninitialized,
        core::SpaceStatus::Initializing => ffi::SpaceStatus::Initializing,
        core::SpaceStatus::Normal => ffi::SpaceStatus::Normal,
        core::SpaceStatus::Scanning => ffi::SpaceStatus::Scanning,
        core::SpaceStatus::Restoring => ffi::SpaceStatus::Restoring,
        core::SpaceStatus::Lost => ffi::SpaceStatus::Lost,
        core::SpaceStatus::Error => ffi::SpaceStatus::Error,
    }
}

fn pool_status_out(s: core::PoolStatus) -> ffi::PoolStatus {
    match s {
        core::PoolStatus::Normal => ffi::PoolStatus::Normal,
        core::PoolStatus::Degraded => ffi::PoolStatus::Degraded,
        core::PoolStatus::Offline => ffi::PoolStatus::Offline,
    }
}

fn date_in(d: ffi::Date) -> core::Date {
    core::Date { year: d.year, month: d.month, day: d.day }
}

fn date_out(d: core::Date) -> ffi::Date {
    ffi::Date { year: d.year, month: d.month, day: d.day }
}

fn expiry(has_expiry: bool, expires: i64) -> Option<i64> {
    has_expiry.then_some(expires)
}

fn picture_info(i: &core::PictureInfo) -> ffi::PictureInfo {
    let (has_key, bucket, key) = match &i.meta.key {
        Some(k) => (true, k.bucket.clone(), k.key.clone()),
        None => (false, String::new(), String::new()),
    };
    ffi::PictureInfo {
        id: i.id.to_string(),
        camera_id: i.meta.camera_id.clone(),
        captured_at: i.meta.captured_at,
        content_type: i.meta.content_type.clone(),
        has_key,
        bucket,
        key,
        stored_at: i.stored_at,
        size: i.size,
        etag: i.etag(),
    }
}

// ---- opaque types ----------------------------------------------------------

/// An open engine, as C++ holds it (`rust::Box<pstor::ffi::Engine>`): the
/// embedded engine or a client of a pstor-server, behind its [`Backend`]. After `close`, the backend fails every call with
/// `Closed`. Dropping it closes the backend (errors are then lost: call
/// `close` to see them).
pub(crate) struct Engine {
    backend: Arc<dyn Backend>,
}

impl Engine {
    /// The C++ engine over a backend: [`open_engine`] passes the embedded
    /// engine, [`connect_engine`] the remote client.
    fn from_backend(backend: Arc<dyn Backend>) -> Box<Engine> {
        Box::new(Engine { backend })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Best effort, as documented; a failure cannot be reported from a
        // destructor, and the data acknowledged by `sync` is safe anyway.
        let _ = catch_unwind(AssertUnwindSafe(|| self.backend.close()));
    }
}

/// A running storage space initialization or restore.
pub(crate) struct SpaceJob {
    space: u32,
    job: Option<Box<dyn SpaceJobHandle>>,
    /// Whether `job` has been waited for (`job` is then `None`).
    waited: bool,
}

/// Frames being read, and the current one (its bytes stay valid until the
/// next call to `next`).
pub(crate) struct FrameReader {
    iter: FrameStream,
    current: Option<core::Frame>,
}

/// A picture read back.
pub(crate) struct Picture(core::Picture);

impl SpaceJob {
    pub(crate) fn space(&self) -> u32 {
        self.space
    }
    pub(crate) fn progress(&self) -> u8 {
        match &self.job {
            Some(j) => j.progress(),
            None => 100,
        }
    }
    pub(crate) fn is_finished(&self) -> bool {
        self.job.as_ref().is_none_or(|j| j.is_finished())
    }
    pub(crate) fn cancel(&self) {
        if let Some(j) = &self.job {
            j.cancel();
        }
    }
    pub(crate) fn wait(&mut self) -> Outcome<u32> {
        boundary(|| match self.job.take() {
            Some(j) => {
                self.waited = true;
                Ok(j.wait()?.0)
            }
            None if self.waited => Ok(self.space),
            None => Err(invalid("no job".into())),
        })
    }
}

impl FrameReader {
    pub(crate) fn next(&mut self) -> Outcome<bool> {
        boundary(|| {
            self.current = self.iter.next().transpose()?;
            Ok(self.current.is_some())
        })
    }
    pub(crate) fn ts(&self) -> i64 {
        self.current.as_ref().map_or(0, |f| f.ts)
    }
    pub(crate) fn key(&self) -> bool {
        self.current.as_ref().is_some_and(|f| f.key)
    }
    pub(crate) fn data(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |f| &f.data[..])
    }
}

impl Picture {
    pub(crate) fn info(&self) -> ffi::PictureInfo {
        picture_info(&self.0.info)
    }
    pub(crate) fn data(&self) -> &[u8] {
        &self.0.data
    }
}

impl Engine {
    pub(crate) fn close(&self) -> Outcome<()> {
        boundary(|| self.backend.close())
    }

    // ---- storage spaces --------------------------------------------------

    fn job(job: Box<dyn SpaceJobHandle>) -> Box<SpaceJob> {
        Box::new(SpaceJob { space: job.space().0, job: Some(job), waited: false })
    }

    pub(crate) fn initialize_space(&self, path: &str, capacity: u64, segment_size: u64) -> Outcome<Box<SpaceJob>> {
        boundary(|| {
            let spec = core::SpaceSpec {
                path: path.into(),
                capacity,
                segment_size: (segment_size != 0).then_some(segment_size),
            };
            Ok(Self::job(self.backend.initialize_space(spec)?))
        })
    }

    pub(crate) fn restore_space(&self, path: &str) -> Outcome<Box<SpaceJob>> {
        boundary(|| Ok(Self::job(self.backend.restore_space(Path::new(path))?)))
    }

    pub(crate) fn spaces(&self) -> Outcome<Vec<ffi::SpaceInfo>> {
        boundary(|| {
            Ok(self
                .backend
                .spaces()?
                .into_iter()
                .map(|s| ffi::SpaceInfo {
                    id: s.id.0,
                    path: s.path.to_string_lossy().into_owned(),
                    status: space_status_out(s.status),
                    progress: s.progress,
                    capacity: s.capacity,
                    used: s.used,
                    free: s.free,
                    reserved: s.reserved,
                    segment_size: s.segment_size,
                    detail: s.detail.unwrap_or_default(),
                })
                .collect())
        })
    }

    // ---- pools -----------------------------------------------------------

    #[allow(clippy::too_many_arguments)] // mirrors `PoolSpec`, field by field
    pub(crate) fn create_pool(
        &self,
        name: &str,
        kind: ffi::PoolKind,
        capacity: u64,
        spaces: &[u32],
        strategy: ffi::OverwriteStrategy,
        cycle_days: u32,
        max_lock_pct: u8,
    ) -> Outcome<u32> {
        boundary(|| {
            let spec = core::PoolSpec {
                name: name.into(),
                kind: pool_kind(kind)?,
                capacity,
                spaces: spaces.iter().map(|&s| core::SpaceId(s)).collect(),
                strategy: self::strategy(strategy)?,
                cycle_days,
                max_lock_pct,
            };
            Ok(self.backend.create_pool(spec)?.0)
        })
    }

    pub(crate) fn delete_pool(&self, pool: u32) -> Outcome<()> {
        boundary(|| self.backend.delete_pool(PoolId(pool)))
    }

    pub(crate) fn pools(&self) -> Outcome<Vec<ffi::PoolInfo>> {
        boundary(|| {
            Ok(self
                .backend
                .pools()?
                .into_iter()
                .map(|p| ffi::PoolInfo {
                    id: p.config.id.0,
                    name: p.config.name,
                    kind: pool_kind_out(p.config.kind),
                    strategy: strategy_out(p.config.strategy),
                    cycle_days: p.config.cycle_days,
                    max_lock_pct: p.config.max_lock_pct,
                    status: pool_status_out(p.status),
                    capacity: p.capacity,
                    used: p.used,
                    free: p.free,
                    locked: p.locked,
                })
                .collect())
        })
    }

    // ---- streams ---------------------------------------------------------

    pub(crate) fn register_stream(
        &self,
        pool: u32,
        camera_id: &str,
        channel: u32,
        kind: ffi::StreamKind,
        codec: &str,
        codec_config: &[u8],
    ) -> Outcome<u64> {
        boundary(|| {
            let spec = core::StreamSpec {
                pool: PoolId(pool),
                camera_id: camera_id.into(),
                channel,
                kind: stream_kind(kind)?,
                codec: codec.into(),
                codec_config: codec_config.to_vec(),
            };
            Ok(self.backend.register_stream(spec)?.0)
        })
    }

    pub(crate) fn find_stream(&self, camera_id: &str, channel: u32, kind: ffi::StreamKind) -> Outcome<u64> {
        boundary(|| Ok(self.backend.find_stream(camera_id, channel, stream_kind(kind)?)?.map_or(0, |s| s.0)))
    }

    pub(crate) fn append(&self, stream: u64, ts: i64, key: bool, data: &[u8]) -> Outcome<()> {
        boundary(|| self.backend.append(StreamId(stream), ts, key, bytes::Bytes::copy_from_slice(data)))
    }

    pub(crate) fn sync(&self, stream: u64) -> Outcome<()> {
        boundary(|| self.backend.sync(StreamId(stream)))
    }

    pub(crate) fn sync_all(&self) -> Outcome<()> {
        boundary(|| self.backend.sync_all())
    }

    pub(crate) fn read(&self, stream: u64, start: i64, end: i64) -> Outcome<Box<FrameReader>> {
        boundary(|| Ok(Box::new(FrameReader { iter: self.backend.read(StreamId(stream), start, end)?, current: None })))
    }

    pub(crate) fn recorded_ranges(
        &self,
        stream: u64,
        start: i64,
        end: i64,
        tolerance_us: i64,
    ) -> Outcome<Vec<ffi::TimeRange>> {
        boundary(|| {
            Ok(self
                .backend
                .recorded_ranges(StreamId(stream), start, end, tolerance_us)?
                .into_iter()
                .map(|(start, end)| ffi::TimeRange { start, end })
                .collect())
        })
    }

    // ---- locks -----------------------------------------------------------

    pub(crate) fn lock(&self, stream: u64, start: i64, end: i64, has_expiry: bool, expires: i64) -> Outcome<u64> {
        boundary(|| Ok(self.backend.lock(StreamId(stream), start, end, expiry(has_expiry, expires))?.0))
    }

    pub(crate) fn lock_pictures(
        &self,
        pool: u32,
        camera_id: &str,
        start: i64,
        end: i64,
        has_expiry: bool,
        expires: i64,
    ) -> Outcome<u64> {
        boundary(|| Ok(self.backend.lock_pictures(PoolId(pool), camera_id, start, end, expiry(has_expiry, expires))?.0))
    }

    pub(crate) fn unlock(&self, lock: u64) -> Outcome<()> {
        boundary(|| self.backend.unlock(core::LockId(lock)))
    }

    pub(crate) fn locks(&self) -> Outcome<Vec<ffi::LockInfo>> {
        boundary(|| {
            Ok(self
                .backend
                .locks()?
                .into_iter()
                .map(|l| {
                    let (stream, pool, camera_id) = match l.target {
                        core::LockTarget::Stream(s) => (s.0, 0, String::new()),
                        core::LockTarget::Pictures { pool, camera_id } => (0, pool.0, camera_id),
                    };
                    ffi::LockInfo {
                        id: l.id.0,
                        stream,
                        pool,
                        camera_id,
                        range: ffi::TimeRange { start: l.start, end: l.end },
                        has_expiry: l.expires.is_some(),
                        expires: l.expires.unwrap_or(0),
                    }
                })
                .collect())
        })
    }

    // ---- video inspection --------------------------------------------------

    pub(crate) fn today(&self) -> Outcome<ffi::Date> {
        boundary(|| Ok(date_out(self.backend.today()?)))
    }

    pub(crate) fn inspect_day(&self, stream: u64, date: ffi::Date) -> Outcome<ffi::DayInspection> {
        boundary(|| {
            let d = self.backend.inspect_day(StreamId(stream), date_in(date))?;
            Ok(ffi::DayInspection {
                stream: d.stream.0,
                date: date_out(d.date),
                recorded_secs: d.recorded_secs(),
                exception_hours: d.exception_hours() as u32,
                hours: d
                    .hours
                    .into_iter()
                    .map(|h| ffi::HourInspection {
                        hour: h.hour,
                        recorded_secs: h.recorded_secs,
                        gaps: h.gaps.into_iter().map(|(start, end)| ffi::TimeRange { start, end }).collect(),
                        exception: h.exception,
                        partial: h.partial,
                    })
                    .collect(),
            })
        })
    }

    pub(crate) fn inspect_month(&self, stream: u64, year: i32, month: u32) -> Outcome<Vec<ffi::DaySummary>> {
        boundary(|| {
            Ok(self
                .backend
                .inspect_month(StreamId(stream), year, month)?
                .into_iter()
                .map(|d| ffi::DaySummary {
                    date: date_out(d.date),
                    recorded_secs: d.recorded_secs,
                    exception_hours: d.exception_hours,
                })
                .collect())
        })
    }

    // ---- pictures ----------------------------------------------------------

    #[allow(clippy::too_many_arguments)] // mirrors `PictureMeta`, field by field
    pub(crate) fn put_picture(
        &self,
        pool: u32,
        camera_id: &str,
        captured_at: i64,
        content_type: &str,
        has_key: bool,
        bucket: &str,
        key: &str,
        data: &[u8],
    ) -> Outcome<String> {
        boundary(|| {
            let meta = core::PictureMeta {
                camera_id: camera_id.into(),
                captured_at,
                content_type: content_type.into(),
                key: has_key.then(|| core::PictureKey { bucket: bucket.into(), key: key.into() }),
            };
            Ok(self.backend.put_picture(PoolId(pool), &meta, data)?.to_string())
        })
    }

    pub(crate) fn sync_pictures(&self, pool: u32) -> Outcome<()> {
        boundary(|| self.backend.sync_pictures(PoolId(pool)))
    }

    pub(crate) fn get_picture(&self, id: &str) -> Outcome<Box<Picture>> {
        boundary(|| Ok(Box::new(Picture(self.backend.get_picture(&parse_id(id)?)?))))
    }

    pub(crate) fn get_picture_by_key(&self, bucket: &str, key: &str) -> Outcome<Box<Picture>> {
        boundary(|| {
            let k = core::PictureKey { bucket: bucket.into(), key: key.into() };
            Ok(Box::new(Picture(self.backend.get_picture_by_key(&k)?)))
        })
    }

    pub(crate) fn head_picture(&self, id: &str) -> Outcome<ffi::PictureInfo> {
        boundary(|| Ok(picture_info(&self.backend.head_picture(&parse_id(id)?)?)))
    }

    pub(crate) fn delete_picture(&self, id: &str) -> Outcome<()> {
        boundary(|| self.backend.delete_picture(&parse_id(id)?))
    }

    #[allow(clippy::too_many_arguments)] // mirrors `PictureQuery`, field by field
    pub(crate) fn list_pictures(
        &self,
        pool: u32,
        camera_id: &str,
        start: i64,
        end: i64,
        limit: usize,
        after_ts: i64,
        after_id: &str,
    ) -> Outcome<Vec<ffi::PictureInfo>> {
        boundary(|| {
            let after = if after_id.is_empty() { None } else { Some((after_ts, parse_id(after_id)?)) };
            let q = core::PictureQuery {
                pool: PoolId(pool),
                camera_id: (!camera_id.is_empty()).then(|| camera_id.to_string()),
                start,
                end,
                limit,
                after,
            };
            Ok(self.backend.list_pictures(&q)?.iter().map(picture_info).collect())
        })
    }
}
