//! `pstor.Engine`: the engine with a Pythonic face, embedded
//! (`pstor.Engine(data_dir)`) or on a pstor-server (`pstor.connect(...)`).
//!
//! Every method that may touch the disk or wait (open, space jobs, pool
//! changes, append under backpressure, flush, sync, reads, pictures, check,
//! close) runs with the GIL released (`Python::detach`), so Python threads
//! using one engine run in parallel. Arguments are converted (and payloads
//! borrowed or copied) before the GIL is released.

use crate::convert::{self, opt_timestamp, payload, picture_id, timestamp};
use crate::errors::{invalid, IntoPyResult};
use crate::jobs::{EventSubscription, FrameReader, SpaceJob};
use crate::types::{
    CheckReport, DayInspection, DaySummary, LockInfo, Picture, PictureId, PictureInfo, PoolInfo, SpaceInfo, StreamInfo,
    Thresholds,
};
use pstor_client::Backend;
use pstor_core::{LockId, PictureKey, PictureMeta, PictureQuery, PoolId, SpaceId, StreamId, EVENT_RING};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple, PyType};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Largest `limit` a listing accepts (results are built in memory).
const MAX_LIST_LIMIT: usize = 1_000_000;

/// The pstor storage engine, embedded in this process or on a pstor-server.
///
/// `Engine(data_dir, *, min_space_capacity=None, segment_size=None, ...)`
/// opens (or creates) the engine whose catalog lives in `data_dir`;
/// `pstor.connect(host, access_key, secret_key)` returns an `Engine` whose
/// calls go to a pstor-server. Use it as a context manager
/// (`with pstor.Engine(d) as e:`) or call `close()`.
/// Timestamps are ints of microseconds since the Unix epoch, UTC (aware
/// `datetime`s are accepted too). Ids are ints; picture ids are `PictureId`s
/// (or their 32-character text). Errors raise `pstor.Error` subclasses.
/// All methods may be called from many threads at once.
// Every call goes through the `Backend`: the embedded engine or the remote
// client, behind the same class (`Engine::from_backend`).
#[pyclass(frozen, module = "pstor")]
pub struct Engine {
    /// Fails every call with `Closed` once `close()` has begun.
    backend: Arc<dyn Backend>,
    location: Location,
}

/// Where an engine is.
enum Location {
    /// Embedded: its catalog folder.
    Local(PathBuf),
    /// Remote: `host:signalling_port` of the server.
    Remote(String),
}

impl Engine {
    /// The Python engine over a backend: `Engine(data_dir)` passes the
    /// embedded engine, `pstor.connect` the remote client.
    fn from_backend(backend: Arc<dyn Backend>, location: Location) -> Self {
        Engine { backend, location }
    }

    /// The backend, for a call (made with the GIL released).
    fn core(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    fn picture_key(py: Python<'_>, bucket: Option<String>, key: Option<String>) -> PyResult<Option<PictureKey>> {
        match (bucket, key) {
            (Some(bucket), Some(key)) => Ok(Some(PictureKey { bucket, key })),
            (None, None) => Ok(None),
            _ => Err(invalid(py, "give both bucket and key, or neither")),
        }
    }

    fn check_limit(py: Python<'_>, limit: usize) -> PyResult<usize> {
        if limit > MAX_LIST_LIMIT {
            return Err(invalid(py, format!("limit {limit} is above {MAX_LIST_LIMIT}; page with `after`")));
        }
        Ok(limit)
    }
}

#[pymethods]
impl Engine {
    /// Opens (or creates) the engine whose catalog lives in `data_dir`.
    ///
    /// `min_space_capacity` (default `DEFAULT_MIN_SPACE_CAPACITY`, 1 GiB) and `segment_size` (default
    /// 256 MiB) are for new spaces; tests use tiny ones (1 MiB, 256 KiB).
    /// `utc_offset_minutes` sets the local day for video inspection.
    #[new]
    #[pyo3(signature = (data_dir, *, min_space_capacity=None, segment_size=None, segments_per_file=None,
                        max_frame_bytes=None, max_picture_bytes=None, utc_offset_minutes=None, io_queue_depth=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        data_dir: PathBuf,
        min_space_capacity: Option<u64>,
        segment_size: Option<u64>,
        segments_per_file: Option<u32>,
        max_frame_bytes: Option<usize>,
        max_picture_bytes: Option<usize>,
        utc_offset_minutes: Option<i32>,
        io_queue_depth: Option<usize>,
    ) -> PyResult<Self> {
        if utc_offset_minutes.is_some_and(|m| !(-1440..=1440).contains(&m)) {
            return Err(invalid(py, "utc_offset_minutes must be within -1440..=1440"));
        }
        let mut opts = pstor_core::EngineOptions::new(data_dir.clone());
        opts.min_space_capacity = min_space_capacity.unwrap_or(opts.min_space_capacity);
        opts.segment_size = segment_size.unwrap_or(opts.segment_size);
        opts.segments_per_file = segments_per_file.unwrap_or(opts.segments_per_file);
        opts.max_frame_bytes = max_frame_bytes.unwrap_or(opts.max_frame_bytes);
        opts.max_picture_bytes = max_picture_bytes.unwrap_or(opts.max_picture_bytes);
        opts.utc_offset_minutes = utc_offset_minutes.unwrap_or(opts.utc_offset_minutes);
        opts.io_queue_depth = io_queue_depth.unwrap_or(opts.io_queue_depth);
        let backend = py.detach(|| pstor_client::open_local(opts)).py_err(py)?;
        Ok(Engine::from_backend(backend, Location::Local(data_dir)))
    }

    /// Same as `Engine(data_dir, ...)`.
    #[classmethod]
    #[pyo3(signature = (data_dir, **kwargs))]
    fn open<'py>(
        cls: &Bound<'py, PyType>,
        data_dir: &Bound<'py, PyAny>,
        kwargs: Option<&Bound<'py, pyo3::types::PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        cls.call((data_dir,), kwargs)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let state = if self.closed() { "closed" } else { "open" };
        match &self.location {
            Location::Local(dir) => format!("<pstor.Engine {} ({state})>", dir.display()),
            Location::Remote(addr) => format!("<pstor.Engine remote {addr} ({state})>"),
        }
    }

    /// The folder holding the engine's catalog; None for an engine on a
    /// pstor-server (`remote`).
    #[getter]
    fn data_dir(&self) -> Option<String> {
        match &self.location {
            Location::Local(dir) => Some(dir.to_string_lossy().into_owned()),
            Location::Remote(_) => None,
        }
    }

    /// `"host:signalling_port"` of the pstor-server for an engine made by
    /// `pstor.connect`; None for an embedded engine.
    #[getter]
    fn remote(&self) -> Option<String> {
        match &self.location {
            Location::Local(_) => None,
            Location::Remote(addr) => Some(addr.clone()),
        }
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.backend.check_open().is_err()
    }

    /// Clean shutdown: flushes and syncs everything, stops the I/O threads and
    /// writes the clean-shutdown checkpoint. Later calls raise `Closed`;
    /// closing again does nothing. Remote: closes the connections to the
    /// server (which keeps running), raising an append failure not
    /// reported yet.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.backend.close()).py_err(py)
    }

    // ---- storage spaces ---------------------------------------------------

    /// Starts initializing the folder `path` (existing, not yet a space) into
    /// a storage space of `capacity` bytes (rounded down to whole segments).
    /// Returns a `SpaceJob`: `job.wait()` gives the space id; `job.progress`,
    /// `job.cancel()`. Argument errors raise at once.
    #[pyo3(signature = (path, capacity, *, segment_size=None))]
    fn initialize_space(
        &self,
        py: Python<'_>,
        path: PathBuf,
        capacity: u64,
        segment_size: Option<u64>,
    ) -> PyResult<SpaceJob> {
        let e = self.core();
        let spec = pstor_core::SpaceSpec { path, capacity, segment_size };
        py.detach(|| e.initialize_space(spec)).py_err(py).map(SpaceJob::new)
    }

    /// Restores a storage space found on disk that this engine does not know
    /// (fresh install, lost catalog): adopts the pools, streams and locks
    /// recorded on it and scans its segments. Returns a `SpaceJob`.
    fn restore_space(&self, py: Python<'_>, path: PathBuf) -> PyResult<SpaceJob> {
        let e = self.core();
        py.detach(|| e.restore_space(&path)).py_err(py).map(SpaceJob::new)
    }

    /// The storage spaces (list of `SpaceInfo`).
    fn spaces(&self, py: Python<'_>) -> PyResult<Vec<SpaceInfo>> {
        let e = self.core();
        Ok(py.detach(|| e.spaces()).py_err(py)?.into_iter().map(SpaceInfo::from).collect())
    }

    /// One storage space (`SpaceInfo`); raises `SpaceNotFound`.
    fn space(&self, py: Python<'_>, space_id: u32) -> PyResult<SpaceInfo> {
        let e = self.core();
        py.detach(|| e.space(SpaceId(space_id))).py_err(py).map(SpaceInfo::from)
    }

    /// Deletes a Lost (or Uninitialized) space from the engine; its pools lose
    /// the capacity they had on it. Other statuses raise `SpaceStatusError`.
    fn delete_space(&self, py: Python<'_>, space_id: u32) -> PyResult<()> {
        let e = self.core();
        py.detach(|| e.delete_space(SpaceId(space_id))).py_err(py)
    }

    /// Re-initializes a space: ALL its data is deleted; pools keep their
    /// capacity on it. Pass `confirm=True` (else `ConfirmationRequired`).
    #[pyo3(signature = (space_id, *, confirm=false))]
    fn reinitialize_space(&self, py: Python<'_>, space_id: u32, confirm: bool) -> PyResult<()> {
        let e = self.core();
        let c = confirm.then_some(pstor_core::WipeConfirmation::DeleteAllDataInSpace);
        py.detach(|| e.reinitialize_space(SpaceId(space_id), c)).py_err(py)
    }

    // ---- resource pools ---------------------------------------------------

    /// Creates a resource pool and returns its id (int).
    ///
    /// `kind`: a `PoolKind` (or "video" / "picture" / "mixed"); `capacity` in
    /// bytes, striped over `spaces` (space ids; empty/None = every space in
    /// service); `strategy`: an `OverwriteStrategy` ("overwrite_oldest" or
    /// "stop_when_full"); `cycle_days`: retention (0 = none); `max_lock_pct`:
    /// share of the capacity locks may hold.
    #[pyo3(signature = (name, *, capacity, kind=None, spaces=None, strategy=None,
                        cycle_days=30, max_lock_pct=10),
           text_signature = "($self, name, *, capacity, kind='video', spaces=None, strategy='overwrite_oldest', cycle_days=30, max_lock_pct=10)")]
    #[allow(clippy::too_many_arguments)]
    fn create_pool(
        &self,
        py: Python<'_>,
        name: String,
        capacity: u64,
        kind: Option<Bound<'_, PyAny>>,
        spaces: Option<Vec<u32>>,
        strategy: Option<Bound<'_, PyAny>>,
        cycle_days: u32,
        max_lock_pct: u8,
    ) -> PyResult<u32> {
        let e = self.core();
        let spec = pstor_core::PoolSpec {
            name,
            kind: kind.map(|k| convert::parse_pool_kind(py, &k)).transpose()?.unwrap_or(pstor_core::PoolKind::Video),
            capacity,
            spaces: spaces.unwrap_or_default().into_iter().map(SpaceId).collect(),
            strategy: strategy
                .map(|s| convert::parse_strategy(py, &s))
                .transpose()?
                .unwrap_or(pstor_core::OverwriteStrategy::OverwriteOldest),
            cycle_days,
            max_lock_pct,
        };
        py.detach(|| e.create_pool(spec)).py_err(py).map(|p| p.0)
    }

    /// Changes a pool's settings; arguments left None keep their value.
    #[pyo3(signature = (pool_id, *, name=None, capacity=None, strategy=None, cycle_days=None, max_lock_pct=None))]
    #[allow(clippy::too_many_arguments)]
    fn edit_pool(
        &self,
        py: Python<'_>,
        pool_id: u32,
        name: Option<String>,
        capacity: Option<u64>,
        strategy: Option<Bound<'_, PyAny>>,
        cycle_days: Option<u32>,
        max_lock_pct: Option<u8>,
    ) -> PyResult<()> {
        let e = self.core();
        let strategy = strategy.map(|s| convert::parse_strategy(py, &s)).transpose()?;
        let edit = pstor_core::PoolEdit { name, capacity, strategy, cycle_days, max_lock_pct };
        py.detach(|| e.edit_pool(PoolId(pool_id), edit)).py_err(py)
    }

    /// Deletes a pool (its streams and data go; raises `PoolHasLocks` while
    /// it holds locks).
    fn delete_pool(&self, py: Python<'_>, pool_id: u32) -> PyResult<()> {
        let e = self.core();
        py.detach(|| e.delete_pool(PoolId(pool_id))).py_err(py)
    }

    /// The resource pools (list of `PoolInfo`).
    fn pools(&self, py: Python<'_>) -> PyResult<Vec<PoolInfo>> {
        let e = self.core();
        Ok(py.detach(|| e.pools()).py_err(py)?.into_iter().map(PoolInfo::from).collect())
    }

    /// One pool (`PoolInfo`); raises `PoolNotFound`.
    fn pool(&self, py: Python<'_>, pool_id: u32) -> PyResult<PoolInfo> {
        let e = self.core();
        py.detach(|| e.pool(PoolId(pool_id))).py_err(py).map(PoolInfo::from)
    }

    /// Storage thresholds (`Thresholds`).
    fn thresholds(&self, py: Python<'_>) -> PyResult<Thresholds> {
        let e = self.core();
        let t = py.detach(|| e.thresholds()).py_err(py)?;
        Ok(Thresholds { overwrite_pct: t.overwrite_pct, alarm_pct: t.alarm_pct, volume_free_pct: t.volume_free_pct })
    }

    /// Sets storage thresholds (percentages); arguments left None keep their value.
    #[pyo3(signature = (*, overwrite_pct=None, alarm_pct=None, volume_free_pct=None))]
    fn set_thresholds(
        &self,
        py: Python<'_>,
        overwrite_pct: Option<u8>,
        alarm_pct: Option<u8>,
        volume_free_pct: Option<u8>,
    ) -> PyResult<()> {
        let e = self.core();
        let mut t = py.detach(|| e.thresholds()).py_err(py)?;
        t.overwrite_pct = overwrite_pct.unwrap_or(t.overwrite_pct);
        t.alarm_pct = alarm_pct.unwrap_or(t.alarm_pct);
        t.volume_free_pct = volume_free_pct.unwrap_or(t.volume_free_pct);
        py.detach(|| e.set_thresholds(t)).py_err(py)
    }

    // ---- streams ----------------------------------------------------------

    /// Registers a camera stream in a video or mixed pool; returns its id.
    /// `kind` is a `StreamKind` ("main" or "sub"); `codec_config` opaque bytes.
    #[pyo3(signature = (pool_id, camera_id, *, channel=1, kind=None, codec=String::from("H264"), codec_config=None),
           text_signature = "($self, pool_id, camera_id, *, channel=1, kind='main', codec='H264', codec_config=None)")]
    #[allow(clippy::too_many_arguments)]
    fn register_stream(
        &self,
        py: Python<'_>,
        pool_id: u32,
        camera_id: String,
        channel: u32,
        kind: Option<Bound<'_, PyAny>>,
        codec: String,
        codec_config: Option<Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let e = self.core();
        let codec_config = match &codec_config {
            Some(c) if !c.is_none() => payload(c)?.as_slice().to_vec(),
            _ => Vec::new(),
        };
        let spec = pstor_core::StreamSpec {
            pool: PoolId(pool_id),
            camera_id,
            channel,
            kind: stream_kind_arg(py, kind.as_ref())?,
            codec,
            codec_config,
        };
        py.detach(|| e.register_stream(spec)).py_err(py).map(|s| s.0)
    }

    /// The id of the stream of this camera, channel and kind, or None.
    #[pyo3(signature = (camera_id, channel=1, kind=None),
           text_signature = "($self, camera_id, channel=1, kind='main')")]
    fn find_stream(
        &self,
        py: Python<'_>,
        camera_id: &str,
        channel: u32,
        kind: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Option<u64>> {
        let k = stream_kind_arg(py, kind.as_ref())?;
        let e = self.core();
        Ok(py.detach(|| e.find_stream(camera_id, channel, k)).py_err(py)?.map(|s| s.0))
    }

    /// The registered streams (list of `StreamInfo`).
    fn streams(&self, py: Python<'_>) -> PyResult<Vec<StreamInfo>> {
        let e = self.core();
        Ok(py.detach(|| e.streams()).py_err(py)?.into_iter().map(StreamInfo::from).collect())
    }

    /// One stream (`StreamInfo`); raises `StreamNotFound`.
    fn stream(&self, py: Python<'_>, stream_id: u64) -> PyResult<StreamInfo> {
        let e = self.core();
        py.detach(|| e.stream(StreamId(stream_id))).py_err(py).map(StreamInfo::from)
    }

    /// Appends a frame: `ts` (µs, strictly after the stream's previous frame),
    /// `key` (a key frame?), `data` (bytes or any buffer). Buffered into
    /// chunks; `flush()` makes it readable, `sync()` durable. May wait (GIL
    /// released) when the disks are behind (backpressure).
    fn append(
        &self,
        py: Python<'_>,
        stream_id: u64,
        ts: &Bound<'_, PyAny>,
        key: bool,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let e = self.core();
        let ts = timestamp(ts)?;
        let p = payload(data)?;
        py.detach(|| e.append(StreamId(stream_id), ts, key, p.into_bytes())).py_err(py)
    }

    /// Writes the stream's buffered frames (readable, not yet durable).
    fn flush(&self, py: Python<'_>, stream_id: u64) -> PyResult<()> {
        let e = self.core();
        py.detach(|| e.flush(StreamId(stream_id))).py_err(py)
    }

    /// Makes every frame appended to the stream so far durable. Concurrent
    /// syncs (from many threads) share fdatasyncs: group commit.
    fn sync(&self, py: Python<'_>, stream_id: u64) -> PyResult<()> {
        let e = self.core();
        py.detach(|| e.sync(StreamId(stream_id))).py_err(py)
    }

    /// Makes every frame appended to these streams durable, one sync per space.
    fn sync_streams(&self, py: Python<'_>, stream_ids: Vec<u64>) -> PyResult<()> {
        let e = self.core();
        let ids: Vec<StreamId> = stream_ids.into_iter().map(StreamId).collect();
        py.detach(|| e.sync_streams(&ids)).py_err(py)
    }

    /// Makes every frame of every stream durable.
    fn sync_all(&self, py: Python<'_>) -> PyResult<()> {
        let e = self.core();
        py.detach(|| e.sync_all()).py_err(py)
    }

    /// Reads the frames of `[start, end]` (µs, inclusive), starting at the last
    /// key frame at or before `start`: an iterator of `Frame`s, read lazily.
    /// Sees flushed frames.
    fn read(
        &self,
        py: Python<'_>,
        stream_id: u64,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
    ) -> PyResult<FrameReader> {
        let e = self.core();
        let (start, end) = (timestamp(start)?, timestamp(end)?);
        py.detach(|| e.read(StreamId(stream_id), start, end)).py_err(py).map(FrameReader::new)
    }

    /// Recorded time ranges of a stream within `[start, end]` as a list of
    /// `(start, end)` µs tuples, merging gaps up to `tolerance_us`.
    #[pyo3(signature = (stream_id, start, end, *, tolerance_us=5_000_000))]
    fn recorded_ranges(
        &self,
        py: Python<'_>,
        stream_id: u64,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
        tolerance_us: i64,
    ) -> PyResult<Vec<(i64, i64)>> {
        let e = self.core();
        let (start, end) = (timestamp(start)?, timestamp(end)?);
        py.detach(|| e.recorded_ranges(StreamId(stream_id), start, end, tolerance_us)).py_err(py)
    }

    // ---- locks ------------------------------------------------------------

    /// Locks a stream's `[start, end]` against overwrite and retention, until
    /// `expires` (µs; None = until unlocked). Returns the lock id. Raises
    /// `LockQuotaExceeded` past the pool's max-lock percent.
    #[pyo3(signature = (stream_id, start, end, *, expires=None))]
    fn lock(
        &self,
        py: Python<'_>,
        stream_id: u64,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
        expires: Option<Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let e = self.core();
        let (start, end, expires) = (timestamp(start)?, timestamp(end)?, opt_timestamp(expires.as_ref())?);
        py.detach(|| e.lock(StreamId(stream_id), start, end, expires)).py_err(py).map(|l| l.0)
    }

    /// Locks one camera's pictures in a picture or mixed pool captured in
    /// `[start, end]`. Returns the lock id.
    #[pyo3(signature = (pool_id, camera_id, start, end, *, expires=None))]
    fn lock_pictures(
        &self,
        py: Python<'_>,
        pool_id: u32,
        camera_id: &str,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
        expires: Option<Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let e = self.core();
        let (start, end, expires) = (timestamp(start)?, timestamp(end)?, opt_timestamp(expires.as_ref())?);
        py.detach(|| e.lock_pictures(PoolId(pool_id), camera_id, start, end, expires)).py_err(py).map(|l| l.0)
    }

    /// The locks in force (list of `LockInfo`).
    fn locks(&self, py: Python<'_>) -> PyResult<Vec<LockInfo>> {
        let e = self.core();
        Ok(py.detach(|| e.locks()).py_err(py)?.into_iter().map(LockInfo::from).collect())
    }

    /// Changes a lock's expiry (µs; None = until unlocked).
    #[pyo3(signature = (lock_id, expires=None))]
    fn extend_lock(&self, py: Python<'_>, lock_id: u64, expires: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let e = self.core();
        let expires = opt_timestamp(expires.as_ref())?;
        py.detach(|| e.extend_lock(LockId(lock_id), expires)).py_err(py)
    }

    /// Removes a lock; raises `LockNotFound` (also for one that lapsed).
    fn unlock(&self, py: Python<'_>, lock_id: u64) -> PyResult<()> {
        let e = self.core();
        py.detach(|| e.unlock(LockId(lock_id))).py_err(py)
    }

    // ---- video inspection -------------------------------------------------

    /// Today's local date (`datetime.date`, per `utc_offset_minutes`).
    fn today<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let e = self.core();
        convert::DateValue(py.detach(|| e.today()).py_err(py)?).into_pyobject(py)
    }

    /// Per hour of `date` (a `datetime.date`): recorded seconds and gaps.
    fn inspect_day(&self, py: Python<'_>, stream_id: u64, date: &Bound<'_, PyAny>) -> PyResult<DayInspection> {
        let e = self.core();
        let d = convert::date(py, date)?;
        py.detach(|| e.inspect_day(StreamId(stream_id), d)).py_err(py).map(DayInspection::from)
    }

    /// Today so far (`DayInspection`).
    fn inspect_today(&self, py: Python<'_>, stream_id: u64) -> PyResult<DayInspection> {
        let e = self.core();
        py.detach(|| e.inspect_today(StreamId(stream_id))).py_err(py).map(DayInspection::from)
    }

    /// Per day of a month (up to today): list of `DaySummary`.
    fn inspect_month(&self, py: Python<'_>, stream_id: u64, year: i64, month: u32) -> PyResult<Vec<DaySummary>> {
        let e = self.core();
        convert::check_year(py, year)?;
        let days = py.detach(|| e.inspect_month(StreamId(stream_id), year as i32, month)).py_err(py)?;
        Ok(days
            .into_iter()
            .map(|d| DaySummary {
                date: convert::DateValue(d.date),
                recorded_secs: d.recorded_secs,
                exception_hours: d.exception_hours,
            })
            .collect())
    }

    // ---- pictures ---------------------------------------------------------

    /// Stores a picture in a picture or mixed pool and returns its
    /// `PictureId` once it is readable; durable after `sync_pictures(pool)`.
    /// `data`: bytes (not copied) or any buffer (copied once). Give `bucket`
    /// and `key` to also name it (a later put of the same name replaces it).
    #[pyo3(signature = (pool_id, data, *, camera_id, captured_at, content_type=String::from("image/jpeg"), bucket=None, key=None),
           text_signature = "($self, pool_id, data, *, camera_id, captured_at, content_type='image/jpeg', bucket=None, key=None)")]
    #[allow(clippy::too_many_arguments)]
    fn put_picture(
        &self,
        py: Python<'_>,
        pool_id: u32,
        data: &Bound<'_, PyAny>,
        camera_id: String,
        captured_at: &Bound<'_, PyAny>,
        content_type: String,
        bucket: Option<String>,
        key: Option<String>,
    ) -> PyResult<PictureId> {
        let e = self.core();
        let meta = PictureMeta {
            camera_id,
            captured_at: timestamp(captured_at)?,
            content_type,
            key: Self::picture_key(py, bucket, key)?,
        };
        let p = payload(data)?;
        let bytes = p.as_slice();
        py.detach(|| e.put_picture(PoolId(pool_id), &meta, bytes)).py_err(py).map(PictureId)
    }

    /// Makes every picture put into the pool so far durable (group commit).
    fn sync_pictures(&self, py: Python<'_>, pool_id: u32) -> PyResult<()> {
        let e = self.core();
        py.detach(|| e.sync_pictures(PoolId(pool_id))).py_err(py)
    }

    /// Reads a picture (`Picture`: `.info`, `.data`), verified. Raises
    /// `PictureNotFound` (deleted, overwritten, never stored) or `InvalidPictureId`.
    fn get_picture(&self, py: Python<'_>, picture_id: &Bound<'_, PyAny>) -> PyResult<Picture> {
        let e = self.core();
        let id = convert::picture_id(py, picture_id)?;
        let p = py.detach(|| e.get_picture(&id)).py_err(py)?;
        Picture::new(py, p)
    }

    /// Reads `length` bytes of a picture from `offset` (an HTTP Range).
    fn get_picture_range(
        &self,
        py: Python<'_>,
        picture_id: &Bound<'_, PyAny>,
        offset: u64,
        length: u64,
    ) -> PyResult<Picture> {
        let e = self.core();
        let id = convert::picture_id(py, picture_id)?;
        let p = py.detach(|| e.get_picture_range(&id, offset, length)).py_err(py)?;
        Picture::new(py, p)
    }

    /// A picture's metadata (`PictureInfo`) without its data.
    fn head_picture(&self, py: Python<'_>, picture_id: &Bound<'_, PyAny>) -> PyResult<PictureInfo> {
        let e = self.core();
        let id = picture_id_arg(py, picture_id)?;
        py.detach(|| e.head_picture(&id)).py_err(py).map(PictureInfo::from)
    }

    /// Deletes a picture: it is never served again (durable on return).
    fn delete_picture(&self, py: Python<'_>, picture_id: &Bound<'_, PyAny>) -> PyResult<()> {
        let e = self.core();
        let id = picture_id_arg(py, picture_id)?;
        py.detach(|| e.delete_picture(&id)).py_err(py)
    }

    /// The id of the picture stored under `bucket`/`key`; raises `KeyNotFound`.
    fn picture_id_for_key(&self, py: Python<'_>, bucket: String, key: String) -> PyResult<PictureId> {
        let e = self.core();
        let k = PictureKey { bucket, key };
        py.detach(|| e.picture_id_for_key(&k)).py_err(py).map(PictureId)
    }

    /// Reads the picture stored under `bucket`/`key` (`Picture`).
    fn get_picture_by_key(&self, py: Python<'_>, bucket: String, key: String) -> PyResult<Picture> {
        let e = self.core();
        let k = PictureKey { bucket, key };
        let p = py.detach(|| e.get_picture_by_key(&k)).py_err(py)?;
        Picture::new(py, p)
    }

    /// Deletes the picture stored under `bucket`/`key`.
    fn delete_picture_by_key(&self, py: Python<'_>, bucket: String, key: String) -> PyResult<()> {
        let e = self.core();
        let k = PictureKey { bucket, key };
        py.detach(|| e.delete_picture_by_key(&k)).py_err(py)
    }

    /// Keys of a bucket in order, starting with `prefix`, after `after`: a
    /// list of `(key, PictureId)` tuples, at most `limit`.
    #[pyo3(signature = (bucket, prefix="", *, after=None, limit=1000))]
    fn list_keys<'py>(
        &self,
        py: Python<'py>,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let e = self.core();
        let limit = Self::check_limit(py, limit)?;
        let rows = py.detach(|| e.list_keys(bucket, prefix, after, limit)).py_err(py)?;
        let rows = rows.into_iter().map(|(k, id)| crate::types::key_row(py, k, id)).collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, rows)
    }

    /// Pictures of a pool captured in `[start, end]` (optionally one
    /// camera's), by capture time then id: a list of `PictureInfo`, at most
    /// `limit`. For the next page pass `after=(last.captured_at, last.id)`.
    #[pyo3(signature = (pool_id, start, end, *, camera_id=None, limit=1000, after=None))]
    #[allow(clippy::too_many_arguments)]
    fn list_pictures(
        &self,
        py: Python<'_>,
        pool_id: u32,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
        camera_id: Option<String>,
        limit: usize,
        after: Option<(Bound<'_, PyAny>, Bound<'_, PyAny>)>,
    ) -> PyResult<Vec<PictureInfo>> {
        let e = self.core();
        let after = match after {
            Some((ts, id)) => Some((timestamp(&ts)?, picture_id(py, &id)?)),
            None => None,
        };
        let q = PictureQuery {
            pool: PoolId(pool_id),
            camera_id,
            start: timestamp(start)?,
            end: timestamp(end)?,
            limit: Self::check_limit(py, limit)?,
            after,
        };
        Ok(py.detach(|| e.list_pictures(&q)).py_err(py)?.into_iter().map(PictureInfo::from).collect())
    }

    // ---- events, upkeep ---------------------------------------------------

    /// Events with `seq > after`, oldest first (the engine keeps the last
    /// 4096): a list of `Event`. Poll with the last `seq` seen.
    #[pyo3(signature = (after=0))]
    fn poll_events(&self, py: Python<'_>, after: u64) -> PyResult<Vec<crate::types::Event>> {
        let e = self.core();
        let evs = py.detach(|| e.poll_events(after, EVENT_RING, Duration::ZERO)).py_err(py)?;
        evs.into_iter().map(|ev| crate::types::Event::new(py, ev)).collect()
    }

    /// A subscription to every later event (`EventSubscription`: iterate it
    /// or call `get(timeout)`).
    fn subscribe(&self, py: Python<'_>) -> PyResult<EventSubscription> {
        let e = self.core();
        let after = py.detach(|| e.last_event_seq()).py_err(py)?;
        Ok(EventSubscription::new(&self.backend, after))
    }

    /// Verifies the engine's invariants between catalog, index and disk,
    /// reading every record; with `repair=True` fixes what is safe. Returns a
    /// `CheckReport`.
    #[pyo3(signature = (repair=false))]
    fn check(&self, py: Python<'_>, repair: bool) -> PyResult<CheckReport> {
        let e = self.core();
        py.detach(|| e.check(repair)).py_err(py).map(CheckReport::from)
    }

    // ---- recording schedules (remote mode: the server's recorder) -------

    /// Recording schedules whose camera name, id or IP address contains
    /// `search`: `(schedules, total)`, `limit` of them from the `offset`th,
    /// each a dict of the management API's `Schedule` (docs/recording.md),
    /// never with a password. Remote mode only (embedded: `pstor.Unsupported`).
    #[pyo3(signature = (search="", offset=0, limit=100))]
    fn list_schedules<'py>(
        &self,
        py: Python<'py>,
        search: &str,
        offset: u32,
        limit: u32,
    ) -> PyResult<(Bound<'py, PyAny>, u32)> {
        let e = self.core();
        let search = search.to_owned();
        let (json, total) = py.detach(|| e.list_schedules(&search, offset, limit)).py_err(py)?;
        Ok((from_json(py, &json)?, total))
    }

    /// One schedule (a dict) with its camera's recording status.
    fn get_schedule<'py>(&self, py: Python<'py>, schedule_id: i64) -> PyResult<Bound<'py, PyAny>> {
        let e = self.core();
        let json = py.detach(|| e.get_schedule(schedule_id)).py_err(py)?;
        from_json(py, &json)
    }

    /// Creates a schedule from a dict (`camera_id`, `ip`, `pool`, ...;
    /// docs/recording.md); returns it with its `id`.
    fn create_schedule<'py>(&self, py: Python<'py>, schedule: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let body = to_json(py, schedule)?;
        let e = self.core();
        let json = py.detach(|| e.create_schedule(&body)).py_err(py)?;
        from_json(py, &json)
    }

    /// Replaces a schedule (a `password` left out is kept, `None` removes it).
    fn replace_schedule<'py>(
        &self,
        py: Python<'py>,
        schedule_id: i64,
        schedule: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let body = to_json(py, schedule)?;
        let e = self.core();
        let json = py.detach(|| e.replace_schedule(schedule_id, &body)).py_err(py)?;
        from_json(py, &json)
    }

    /// Deletes a schedule (its recordings stay).
    fn delete_schedule(&self, py: Python<'_>, schedule_id: i64) -> PyResult<()> {
        let e = self.core();
        py.detach(|| e.delete_schedule(schedule_id)).py_err(py)
    }

    /// Starts (`start=True`) or stops an event of an event schedule;
    /// returns the schedule after it.
    fn schedule_event<'py>(&self, py: Python<'py>, schedule_id: i64, start: bool) -> PyResult<Bound<'py, PyAny>> {
        let e = self.core();
        let json = py.detach(|| e.schedule_event(schedule_id, start)).py_err(py)?;
        from_json(py, &json)
    }

    /// Runs one round of maintenance now (retention, recycling, alarms, lock
    /// expiry, chunk flushing, checkpoint). The engine also runs it every second.
    fn run_maintenance(&self, py: Python<'_>) -> PyResult<()> {
        let e = self.core();
        py.detach(|| e.run_maintenance()).py_err(py)
    }

    /// Writes a checkpoint now (bounds the scan after a crash).
    fn checkpoint(&self, py: Python<'_>) -> PyResult<()> {
        let e = self.core();
        py.detach(|| e.checkpoint()).py_err(py)
    }
}

fn picture_id_arg(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<pstor_core::PictureId> {
    convert::picture_id(py, obj)
}

fn stream_kind_arg(py: Python<'_>, kind: Option<&Bound<'_, PyAny>>) -> PyResult<pstor_core::StreamKind> {
    match kind {
        Some(k) if !k.is_none() => convert::parse_stream_kind(py, k),
        _ => Ok(pstor_core::StreamKind::Main),
    }
}

/// Seconds from Python as a `Duration`: finite and above 0.
fn seconds(py: Python<'_>, what: &str, secs: f64) -> PyResult<Duration> {
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err(invalid(py, format!("{what} must be a number of seconds above 0, not {secs}")));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Connects to a pstor-server and authenticates (mutually: the server
/// proves it holds the secret key too). Returns an `Engine` whose calls go
/// to the server over the SDK protocol: the same methods, results and
/// exceptions as an embedded one (see the README's "Remote mode" for what
/// differs). The GIL is released while connecting.
///
/// `host`: the server's name or address; `signalling_port` / `data_port`:
/// its SDK ports (6036 / 6037); `timeout`: seconds to wait for a reply
/// (30); `connect_timeout`: seconds for a connection and its handshake
/// (5); `data_connections`: parallel connections for appends, reads and
/// pictures (4). Raises `AuthFailed` (unknown access key or wrong secret
/// key), `Disconnected` (nothing listening, unknown host), `Timeout`,
/// `Busy`, `InvalidArgument`.
#[pyfunction]
#[pyo3(signature = (host, access_key, secret_key, *, signalling_port=None, data_port=None, timeout=None,
                    connect_timeout=None, data_connections=None),
       text_signature = "(host, access_key, secret_key, *, signalling_port=6036, data_port=6037, timeout=30.0, connect_timeout=5.0, data_connections=4)")]
#[allow(clippy::too_many_arguments)]
pub fn connect(
    py: Python<'_>,
    host: String,
    access_key: String,
    secret_key: String,
    signalling_port: Option<u16>,
    data_port: Option<u16>,
    timeout: Option<f64>,
    connect_timeout: Option<f64>,
    data_connections: Option<usize>,
) -> PyResult<Engine> {
    if host.is_empty() {
        return Err(invalid(py, "host is empty"));
    }
    let mut opts = pstor_client::RemoteOptions::new(host, access_key, secret_key);
    opts.signalling_port = signalling_port.unwrap_or(opts.signalling_port);
    opts.data_port = data_port.unwrap_or(opts.data_port);
    if opts.signalling_port == 0 || opts.data_port == 0 {
        return Err(invalid(py, "the ports must not be 0"));
    }
    if let Some(t) = timeout {
        opts.request_timeout = seconds(py, "timeout", t)?;
    }
    if let Some(t) = connect_timeout {
        opts.connect_timeout = seconds(py, "connect_timeout", t)?;
    }
    opts.data_connections = data_connections.unwrap_or(opts.data_connections);
    if opts.data_connections == 0 || opts.data_connections > 256 {
        return Err(invalid(py, format!("data_connections must be within 1..=256, not {}", opts.data_connections)));
    }
    let addr = format!("{}:{}", opts.host, opts.signalling_port);
    let backend = py.detach(|| pstor_client::connect(opts)).py_err(py)?;
    Ok(Engine::from_backend(backend, Location::Remote(addr)))
}

/// A JSON text from the server as Python objects (`json.loads`).
fn from_json<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (text,))
}

/// Python objects as JSON text for the server (`json.dumps`).
fn to_json(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<String> {
    py.import("json")?.call_method1("dumps", (value,))?.extract()
}
