//! The engine: the public face over spaces, pools, streams and locks.

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::events::{EventFeed, EventKind};
use crate::format::catalog::{Catalog, SpaceRef, CATALOG_FILE};
use crate::format::checkpoint::{Checkpoint, OpenSegment, CHECKPOINT_FILE};
use crate::format::segment::{RecordEntry, DATA_START};
use crate::format::superblock::{SuperBlock, SUPERBLOCK_FILE};
use crate::io::{read_whole, write_atomic, OsStorage, Storage};
use crate::recovery::{load_segments, Found, RecoveryMode};
use crate::space::{JobControl, Space, SpaceStatus};
use crate::store::{Detached, Sealed, Slot, SpaceRt, State};
use crate::stream::StreamHandle;
use crate::types::*;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// At most this many resource pools (manual 3.5.2).
pub const MAX_POOLS: usize = 20;

/// Engine settings. `EngineOptions::new(dir)` gives the production defaults.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Where the engine keeps its catalog.
    pub data_dir: PathBuf,
    /// Smallest storage space capacity accepted (manual: 5 GB).
    pub min_space_capacity: u64,
    /// Segment size for new spaces.
    pub segment_size: u64,
    /// Segments per data file for new spaces (one fdatasync per file serves
    /// every stream writing in it).
    pub segments_per_file: u32,
    /// Largest frame accepted.
    pub max_frame_bytes: usize,
    /// A chunk (record) is written when it reaches this size...
    pub chunk_max_bytes: usize,
    /// ...or when its frames span more than this (µs of stream time)...
    pub chunk_max_span_us: i64,
    /// ...or has waited this long in memory (wall time; maintenance flushes it).
    pub chunk_max_age: Duration,
    /// What opening tolerates.
    pub recovery_mode: RecoveryMode,
    /// Run maintenance (retention, recycling, alarms, checkpoints, health
    /// checks) on a background thread. Tests with a fake clock turn it off and
    /// call [`Engine::run_maintenance`].
    pub background: bool,
    /// How often the background thread runs.
    pub maintenance_interval: Duration,
    /// How often a checkpoint bounds the scan after a crash.
    pub checkpoint_interval: Duration,
    /// Queued writes per space before appends wait (backpressure).
    pub io_queue_depth: usize,
    /// Gaps up to this long count as continuous recording (video inspection).
    pub gap_tolerance_us: i64,
    /// Offset of local time from UTC for inspection days and hours.
    pub utc_offset_minutes: i32,
    /// A stream starts a new segment after a silence longer than this, so
    /// retention (which frees whole segments) is not held back by old frames.
    pub segment_split_gap_us: i64,
}

impl EngineOptions {
    /// Production defaults with the catalog in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EngineOptions {
            data_dir: data_dir.into(),
            min_space_capacity: 5 << 30,
            segment_size: 256 << 20,
            segments_per_file: 16,
            max_frame_bytes: 16 << 20,
            chunk_max_bytes: 1 << 20,
            chunk_max_span_us: US_PER_SEC,
            chunk_max_age: Duration::from_secs(2),
            recovery_mode: RecoveryMode::default(),
            background: true,
            maintenance_interval: Duration::from_secs(1),
            checkpoint_interval: Duration::from_secs(5),
            io_queue_depth: 1024,
            gap_tolerance_us: 5 * US_PER_SEC,
            utc_offset_minutes: 0,
            segment_split_gap_us: 6 * 3600 * US_PER_SEC,
        }
    }
}

/// What to initialize.
#[derive(Debug, Clone)]
pub struct SpaceSpec {
    /// An existing, empty-of-pstor folder.
    pub path: PathBuf,
    /// Bytes to pre-allocate (rounded down to whole segments).
    pub capacity: u64,
    /// Segment size; `None` = the engine default.
    pub segment_size: Option<u64>,
}

/// A storage space as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceInfo {
    /// Id.
    pub id: SpaceId,
    /// Saving path.
    pub path: PathBuf,
    /// Status.
    pub status: SpaceStatus,
    /// Progress of initializing / scanning / restoring, percent.
    pub progress: u8,
    /// Total bytes (segments x segment size).
    pub capacity: u64,
    /// Bytes in segments holding data.
    pub used: u64,
    /// Bytes in free segments.
    pub free: u64,
    /// Bytes reserved by pools.
    pub reserved: u64,
    /// Segment size.
    pub segment_size: u64,
    /// Why it is Lost / Error, if it is.
    pub detail: Option<String>,
}

/// Status of a resource pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolStatus {
    /// All its spaces are in service.
    Normal,
    /// Some of its spaces are lost or failed; writes go to the others.
    Degraded,
    /// None of its spaces is usable.
    Offline,
}

/// A resource pool as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolInfo {
    /// Its settings.
    pub config: PoolConfig,
    /// Status.
    pub status: PoolStatus,
    /// Capacity in bytes.
    pub capacity: u64,
    /// Bytes in segments holding data.
    pub used: u64,
    /// Capacity minus used.
    pub free: u64,
    /// Bytes protected by locks.
    pub locked: u64,
}

/// What a new pool is.
#[derive(Debug, Clone)]
pub struct PoolSpec {
    /// Unique name.
    pub name: String,
    /// Video, picture or mixed.
    pub kind: PoolKind,
    /// Capacity in bytes, striped over `spaces`.
    pub capacity: u64,
    /// Spaces to carve it from; empty = every space in service.
    pub spaces: Vec<SpaceId>,
    /// What happens when full.
    pub strategy: OverwriteStrategy,
    /// Retention in days (0 = no limit).
    pub cycle_days: u32,
    /// Max lockable share of the capacity, percent.
    pub max_lock_pct: u8,
}

/// Changes to a pool; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct PoolEdit {
    /// New name.
    pub name: Option<String>,
    /// New capacity (striped over the pool's current spaces).
    pub capacity: Option<u64>,
    /// New strategy.
    pub strategy: Option<OverwriteStrategy>,
    /// New cycle.
    pub cycle_days: Option<u32>,
    /// New max lock percent.
    pub max_lock_pct: Option<u8>,
}

/// What a new stream is.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// Pool to record into.
    pub pool: PoolId,
    /// VMS camera id.
    pub camera_id: String,
    /// Channel number.
    pub channel: u32,
    /// Main or sub.
    pub kind: StreamKind,
    /// Codec name.
    pub codec: String,
    /// Opaque codec configuration.
    pub codec_config: Vec<u8>,
}

/// A stream as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Its registration.
    pub config: StreamConfig,
    /// Oldest recorded frame (flushed).
    pub first_ts: Option<Timestamp>,
    /// Newest recorded frame (flushed).
    pub last_ts: Option<Timestamp>,
    /// Segments holding its data.
    pub segments: usize,
}

/// Confirmation that re-initializing a space destroys its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WipeConfirmation {
    /// "Initialization will delete all the data in the selected saving path."
    DeleteAllDataInSpace,
}

/// A running initialization or restore: progress, cancel, wait.
#[derive(Debug)]
pub struct SpaceJob {
    /// The space being initialized or restored.
    pub space: SpaceId,
    control: Arc<JobControl>,
    handle: Option<std::thread::JoinHandle<Result<SpaceId>>>,
}

impl SpaceJob {
    pub(crate) fn new(
        space: SpaceId,
        control: Arc<JobControl>,
        handle: std::thread::JoinHandle<Result<SpaceId>>,
    ) -> Self {
        SpaceJob { space, control, handle: Some(handle) }
    }

    /// Progress in percent.
    pub fn progress(&self) -> u8 {
        self.control.progress.load(Ordering::Relaxed)
    }
    /// Asks the job to stop; [`SpaceJob::wait`] then returns [`Error::Cancelled`].
    pub fn cancel(&self) {
        self.control.cancel.store(true, Ordering::SeqCst);
    }
    /// Whether it has finished.
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }
    /// Waits for the result.
    pub fn wait(mut self) -> Result<SpaceId> {
        match self.handle.take() {
            Some(h) => h.join().unwrap_or_else(|_| Err(Error::Corrupt("space job panicked".into()))),
            None => Ok(self.space),
        }
    }
}

/// A completed seal: space, segment, generation, records (`None` if the
/// footer could not be written).
type SealedEntry = (SpaceId, u32, u32, Option<Vec<RecordEntry>>);

/// Shared engine internals.
#[derive(Debug)]
pub(crate) struct Inner {
    pub opts: EngineOptions,
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<EventFeed>,
    state: Mutex<State>,
    pub streams: RwLock<HashMap<StreamId, Arc<StreamHandle>>>,
    pub footers: crate::read::FooterCache,
    /// Seals completed by I/O threads, not yet applied to `state`.
    sealed: Mutex<Vec<SealedEntry>>,
    pub closed: AtomicBool,
    pub last_checkpoint: Mutex<Instant>,
    pub checkpoint_seq: Mutex<u64>,
    self_weak: Weak<Inner>,
    /// Keeps other engines out of the data directory until closed.
    lock: Mutex<Option<crate::io::DirLock>>,
    maintenance: Mutex<Option<(std::thread::JoinHandle<()>, crossbeam_channel::Sender<()>)>>,
}

/// The storage engine. Cheap to clone; all clones share one engine. Every
/// method is safe to call from many threads at once.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl Engine {
    /// Opens (or creates) an engine on the real file system.
    pub fn open(opts: EngineOptions) -> Result<Engine> {
        Self::open_with(opts, Arc::new(OsStorage::new()), Arc::new(SystemClock))
    }

    /// Opens with a given storage backend and clock (tests, simulations).
    pub fn open_with(opts: EngineOptions, storage: Arc<dyn Storage>, clock: Arc<dyn Clock>) -> Result<Engine> {
        storage
            .create_dir_all(&opts.data_dir)
            .map_err(|e| Error::io(format!("creating {}", opts.data_dir.display()), e))?;
        let lock = crate::space::lock_dir(storage.as_ref(), &opts.data_dir)?;
        let cat_path = opts.data_dir.join(CATALOG_FILE);
        let catalog = if storage.exists(&cat_path) {
            let bytes = read_whole(storage.as_ref(), &cat_path).map_err(|e| Error::io("reading the catalog", e))?;
            Catalog::decode(&bytes)?
        } else {
            let c = Catalog { engine_uuid: rand::random(), ..Catalog::default() };
            write_atomic(storage.as_ref(), &cat_path, &c.encode()).map_err(|e| Error::io("writing the catalog", e))?;
            c
        };
        let inner = Arc::new_cyclic(|w| Inner {
            opts,
            storage,
            clock,
            events: Arc::new(EventFeed::default()),
            state: Mutex::new(State { catalog, ..State::default() }),
            streams: RwLock::new(HashMap::new()),
            footers: crate::read::FooterCache::default(),
            sealed: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            last_checkpoint: Mutex::new(Instant::now()),
            checkpoint_seq: Mutex::new(0),
            self_weak: w.clone(),
            lock: Mutex::new(Some(lock)),
            maintenance: Mutex::new(None),
        });
        let refs = inner.lock_state().catalog.spaces.clone();
        for r in refs {
            inner.attach_known(&r)?;
        }
        {
            let st = inner.lock_state();
            let mut streams = inner.streams.write();
            for s in &st.catalog.streams {
                let last = stream_info(&st, s).last_ts;
                streams.insert(s.id, Arc::new(StreamHandle::new(s.id, s.pool, last)));
            }
        }
        // A crash between writing the engine copy of the catalog and the
        // spaces' copies leaves those stale (missing the last change, which
        // `restore_space` would then not adopt): bring them up to date.
        {
            let st = inner.lock_state();
            let bytes = st.catalog.encode();
            for rt in st.spaces.values().filter(|rt| rt.space.writable()) {
                let path = rt.space.path.join(CATALOG_FILE);
                if read_whole(inner.storage.as_ref(), &path).ok().as_deref() != Some(bytes.as_slice()) {
                    // As in `persist_catalog`: a copy that cannot be written is reported by `check`.
                    let _ = write_atomic(inner.storage.as_ref(), &path, &bytes);
                }
            }
        }
        // Not clean any more: a crash from here on must scan.
        inner.checkpoint(false)?;
        if inner.opts.background {
            inner.start_maintenance();
        }
        Ok(Engine { inner })
    }

    /// The event feed (alarms, status changes, recording errors).
    pub fn events(&self) -> &EventFeed {
        &self.inner.events
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.inner.opts
    }

    /// Current thresholds.
    pub fn thresholds(&self) -> Thresholds {
        self.inner.lock_state().catalog.thresholds
    }

    /// Sets the storage thresholds (manual 3.8.2).
    pub fn set_thresholds(&self, t: Thresholds) -> Result<()> {
        if t.overwrite_pct > 100 || t.alarm_pct > 100 || t.volume_free_pct > 100 {
            return Err(Error::InvalidArgument("thresholds are percentages (0..=100)".into()));
        }
        self.inner.change_catalog(|st| {
            st.catalog.thresholds = t;
            Ok(())
        })
    }

    // ---- storage spaces ------------------------------------------------

    /// Starts initializing a folder into a storage space. Validation errors
    /// are returned at once; the allocation runs on a thread (see [`SpaceJob`]).
    pub fn initialize_space(&self, spec: SpaceSpec) -> Result<SpaceJob> {
        self.inner.check_open()?;
        crate::init::start(&self.inner, spec)
    }

    /// Restores a space found on disk that this engine does not know (fresh
    /// install, lost catalog): adopts its pools, streams and locks from the
    /// catalog copy on it and scans its segments.
    pub fn restore_space(&self, path: impl AsRef<Path>) -> Result<SpaceJob> {
        self.inner.check_open()?;
        crate::init::restore(&self.inner, path.as_ref())
    }

    /// Lists the storage spaces.
    pub fn spaces(&self) -> Vec<SpaceInfo> {
        let st = self.inner.lock_state();
        let mut out: Vec<SpaceInfo> = st.spaces.values().map(|rt| space_info(&st, rt)).collect();
        for (id, d) in &st.detached {
            out.push(SpaceInfo {
                id: *id,
                path: PathBuf::from(&d.path),
                status: d.status,
                progress: d.job.as_ref().map_or(0, |j| j.progress.load(Ordering::Relaxed)),
                capacity: 0,
                used: 0,
                free: 0,
                reserved: 0,
                segment_size: 0,
                detail: Some(d.reason.clone()),
            });
        }
        out.sort_by_key(|s| s.path.clone());
        out
    }

    /// One storage space.
    pub fn space(&self, id: SpaceId) -> Result<SpaceInfo> {
        self.spaces().into_iter().find(|s| s.id == id).ok_or(Error::SpaceNotFound(id))
    }

    /// Deletes a Lost (or Uninitialized) space from the engine (manual: only
    /// Lost spaces may be deleted). Its pools lose the capacity they had on it.
    pub fn delete_space(&self, id: SpaceId) -> Result<()> {
        let status = self.space(id)?.status;
        if !matches!(status, SpaceStatus::Lost | SpaceStatus::Uninitialized) {
            return Err(Error::SpaceStatus { space: id, status, needed: "only a Lost space may be deleted" });
        }
        let removed = self.inner.change_catalog(|st| {
            st.catalog.spaces.retain(|s| s.id != id);
            for p in &mut st.catalog.pools {
                p.quotas.retain(|q| q.0 != id);
            }
            st.detached.remove(&id);
            let rt = st.spaces.remove(&id);
            if let Some(rt) = &rt {
                for (i, slot) in rt.slots.iter().enumerate() {
                    if let Some(sp) = slot.span() {
                        if let Some(l) = st.by_stream.get_mut(&sp.stream) {
                            l.retain(|&k| k != (id, i as u32));
                        }
                    }
                }
            }
            st.used.retain(|k, _| k.1 != id);
            Ok(rt)
        })?;
        if let Some(rt) = removed {
            rt.space.stop_io();
            rt.space.release_lock();
        }
        Ok(())
    }

    /// Re-initializes a space: all its data is deleted (every segment freed);
    /// pools keep their capacity on it.
    pub fn reinitialize_space(&self, id: SpaceId, confirm: Option<WipeConfirmation>) -> Result<()> {
        if confirm != Some(WipeConfirmation::DeleteAllDataInSpace) {
            return Err(Error::ConfirmationRequired(
                "re-initializing deletes all data in the space; pass WipeConfirmation::DeleteAllDataInSpace",
            ));
        }
        // Streams writing there must let go of their segments first.
        for h in self.inner.streams.read().values() {
            let mut w = h.writer.lock();
            if w.slot.as_ref().is_some_and(|s| s.space.id == id) {
                w.slot = None;
            }
        }
        let now = self.inner.clock.now();
        let mut st = self.inner.lock_state();
        let rt = st.spaces.get(&id).ok_or(Error::SpaceNotFound(id))?;
        if !rt.space.writable() {
            let status = rt.space.status();
            return Err(Error::SpaceStatus { space: id, status, needed: "the space must be Normal" });
        }
        let space = Arc::clone(&rt.space);
        for idx in 0..rt.slots.len() as u32 {
            st.free_segment(id, idx, now, &self.inner.events, false);
        }
        drop(st);
        let rx = space.sync_async()?;
        rx.recv().map_err(|_| Error::SpaceFailed(id))?
    }

    // ---- resource pools ------------------------------------------------

    /// Creates a resource pool.
    pub fn create_pool(&self, spec: PoolSpec) -> Result<PoolId> {
        self.inner.check_open()?;
        validate_pool_fields(&spec.name, spec.max_lock_pct)?;
        self.inner.change_catalog(|st| {
            if st.catalog.pools.len() >= MAX_POOLS {
                return Err(Error::TooManyPools { max: MAX_POOLS });
            }
            if st.catalog.pools.iter().any(|p| p.name == spec.name) {
                return Err(Error::DuplicatePoolName(spec.name.clone()));
            }
            let spaces: Vec<SpaceId> = if spec.spaces.is_empty() {
                st.spaces.values().filter(|r| r.space.writable()).map(|r| r.space.id).collect()
            } else {
                spec.spaces.clone()
            };
            let quotas = carve(st, &spaces, spec.capacity, &[])?;
            let mut id = PoolId(rand::random());
            while id.0 == 0 || st.catalog.pools.iter().any(|p| p.id == id) {
                id = PoolId(rand::random());
            }
            st.catalog.pools.push(PoolConfig {
                id,
                name: spec.name.clone(),
                kind: spec.kind,
                strategy: spec.strategy,
                cycle_days: spec.cycle_days,
                max_lock_pct: spec.max_lock_pct,
                quotas,
            });
            Ok(id)
        })
    }

    /// Edits a pool.
    pub fn edit_pool(&self, id: PoolId, edit: PoolEdit) -> Result<()> {
        self.inner.check_open()?;
        let now = self.inner.clock.now();
        self.inner.change_catalog(|st| {
            let cur = st.pool(id)?.clone();
            let mut new = cur.clone();
            if let Some(n) = &edit.name {
                if st.catalog.pools.iter().any(|p| p.name == *n && p.id != id) {
                    return Err(Error::DuplicatePoolName(n.clone()));
                }
                new.name = n.clone();
            }
            if let Some(s) = edit.strategy {
                new.strategy = s;
            }
            if let Some(c) = edit.cycle_days {
                new.cycle_days = c;
            }
            if let Some(m) = edit.max_lock_pct {
                new.max_lock_pct = m;
            }
            validate_pool_fields(&new.name, new.max_lock_pct)?;
            if let Some(cap) = edit.capacity {
                let spaces: Vec<SpaceId> = cur.quotas.iter().map(|q| q.0).collect();
                let (_, used) = st.pool_usage(&cur);
                if cap < used {
                    return Err(Error::ShrinkBelowUsed { pool: id, requested: cap, used });
                }
                new.quotas = carve(st, &spaces, cap, &cur.quotas)?;
                // Never below what is in use on each space.
                for q in &mut new.quotas {
                    let u = *st.used.get(&(id, q.0)).unwrap_or(&0);
                    if q.1 < u {
                        return Err(Error::ShrinkBelowUsed { pool: id, requested: cap, used });
                    }
                }
            }
            // Locks already granted must still fit the new limit.
            let (cap, _) = st.pool_usage(&new);
            let limit = cap * new.max_lock_pct as u64 / 100;
            let locked = st.locked_bytes(id, now, None);
            if locked > limit {
                return Err(Error::LockQuotaExceeded { pool: id, requested: 0, locked, limit });
            }
            if let Some(p) = st.catalog.pools.iter_mut().find(|p| p.id == id) {
                *p = new;
            }
            Ok(())
        })
    }

    /// Deletes a pool, its streams and its recordings. Refused while it holds
    /// locked data.
    pub fn delete_pool(&self, id: PoolId) -> Result<()> {
        self.inner.check_open()?;
        let now = self.inner.clock.now();
        {
            let st = self.inner.lock_state();
            st.pool(id)?;
            if st.locked_bytes(id, now, None) > 0 {
                return Err(Error::PoolHasLocks(id));
            }
        }
        let victims: Vec<Arc<StreamHandle>> =
            self.inner.streams.read().values().filter(|h| h.pool == id).cloned().collect();
        for h in &victims {
            let mut w = h.writer.lock();
            w.deleted = true;
            w.slot = None;
            w.chunk = Default::default();
        }
        self.inner.change_catalog(|st| {
            let segs: Vec<(SpaceId, u32)> = st
                .spaces
                .iter()
                .flat_map(|(sid, rt)| {
                    rt.slots
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.span().is_some_and(|sp| sp.pool == id))
                        .map(move |(i, _)| (*sid, i as u32))
                })
                .collect();
            for (sid, idx) in segs {
                st.free_segment(sid, idx, now, &EventFeed::default(), false);
            }
            st.catalog.pools.retain(|p| p.id != id);
            let gone: BTreeSet<StreamId> = st.catalog.streams.iter().filter(|s| s.pool == id).map(|s| s.id).collect();
            st.catalog.streams.retain(|s| s.pool != id);
            st.catalog.locks.retain(|l| !gone.contains(&l.stream));
            st.used.retain(|k, _| k.0 != id);
            for s in &gone {
                st.by_stream.remove(s);
                st.resumable.remove(s);
            }
            Ok(())
        })?;
        let mut streams = self.inner.streams.write();
        for h in victims {
            streams.remove(&h.id);
        }
        Ok(())
    }

    /// Lists the pools.
    pub fn pools(&self) -> Vec<PoolInfo> {
        let now = self.inner.clock.now();
        let st = self.inner.lock_state();
        st.catalog.pools.iter().map(|p| pool_info(&st, p, now)).collect()
    }

    /// One pool.
    pub fn pool(&self, id: PoolId) -> Result<PoolInfo> {
        let now = self.inner.clock.now();
        let st = self.inner.lock_state();
        Ok(pool_info(&st, st.pool(id)?, now))
    }

    // ---- streams ---------------------------------------------------------

    /// Registers a stream in a pool.
    pub fn register_stream(&self, spec: StreamSpec) -> Result<StreamId> {
        self.inner.check_open()?;
        if spec.camera_id.is_empty() || spec.camera_id.len() > 256 {
            return Err(Error::InvalidArgument("camera id must be 1..=256 bytes".into()));
        }
        if spec.codec.len() > 64 || spec.codec_config.len() > 64 * 1024 {
            return Err(Error::InvalidArgument("codec name <= 64 bytes, codec config <= 64 KiB".into()));
        }
        let id = self.inner.change_catalog(|st| {
            let pool = st.pool(spec.pool)?;
            if !pool.kind.accepts_video() {
                return Err(Error::WrongPoolKind { pool: pool.id, kind: pool.kind });
            }
            if let Some(s) = st
                .catalog
                .streams
                .iter()
                .find(|s| s.camera_id == spec.camera_id && s.channel == spec.channel && s.kind == spec.kind)
            {
                return Err(Error::StreamExists {
                    camera_id: spec.camera_id.clone(),
                    channel: spec.channel,
                    kind: spec.kind,
                    existing: s.id,
                });
            }
            let mut id = StreamId(rand::random());
            while id.0 == 0 || st.catalog.streams.iter().any(|s| s.id == id) {
                id = StreamId(rand::random());
            }
            st.catalog.streams.push(StreamConfig {
                id,
                pool: spec.pool,
                camera_id: spec.camera_id.clone(),
                channel: spec.channel,
                kind: spec.kind,
                codec: spec.codec.clone(),
                codec_config: spec.codec_config.clone(),
            });
            Ok(id)
        })?;
        self.inner.streams.write().insert(id, Arc::new(StreamHandle::new(id, spec.pool, None)));
        Ok(id)
    }

    /// Finds a stream by camera, channel and kind.
    pub fn find_stream(&self, camera_id: &str, channel: u32, kind: StreamKind) -> Option<StreamId> {
        let st = self.inner.lock_state();
        st.catalog
            .streams
            .iter()
            .find(|s| s.camera_id == camera_id && s.channel == channel && s.kind == kind)
            .map(|s| s.id)
    }

    /// Lists the streams.
    pub fn streams(&self) -> Vec<StreamInfo> {
        let st = self.inner.lock_state();
        st.catalog.streams.iter().map(|s| stream_info(&st, s)).collect()
    }

    /// One stream.
    pub fn stream(&self, id: StreamId) -> Result<StreamInfo> {
        let st = self.inner.lock_state();
        Ok(stream_info(&st, st.stream(id)?))
    }

    /// Appends a frame. Frames of a stream must come in strictly increasing
    /// timestamp order. The frame is buffered; [`Engine::flush`] makes it
    /// visible to readers, [`Engine::sync`] makes it durable.
    pub fn append(&self, stream: StreamId, ts: Timestamp, key: bool, data: Bytes) -> Result<()> {
        self.inner.check_open()?;
        let h = self.inner.handle(stream)?;
        h.append(&self.inner, ts, key, data)
    }

    /// Writes the stream's buffered frames (visible to readers, not yet durable).
    pub fn flush(&self, stream: StreamId) -> Result<()> {
        let h = self.inner.handle(stream)?;
        let spaces = {
            let mut w = h.writer.lock();
            h.emit_chunk(&self.inner, &mut w)?;
            w.dirty.clone()
        };
        for s in spaces {
            s.barrier()?;
        }
        Ok(())
    }

    /// Makes every frame appended to the stream so far durable. Concurrent
    /// syncs of many streams share one fdatasync per data file.
    pub fn sync(&self, stream: StreamId) -> Result<()> {
        let h = self.inner.handle(stream)?;
        let spaces = h.prepare_sync(&self.inner)?;
        wait_syncs(&spaces)
    }

    /// Makes every frame of every stream durable.
    pub fn sync_all(&self) -> Result<()> {
        self.inner.sync_all()
    }

    /// Reads frames of `stream` from the last key frame at or before `start`
    /// up to `end` (inclusive), in order. Sees flushed frames.
    pub fn read(&self, stream: StreamId, start: Timestamp, end: Timestamp) -> Result<crate::read::FrameIter> {
        crate::read::read_range(&self.inner, stream, start, end)
    }

    /// Recorded time ranges of a stream within `[start, end]`, merging gaps up
    /// to `tolerance_us`.
    pub fn recorded_ranges(
        &self,
        stream: StreamId,
        start: Timestamp,
        end: Timestamp,
        tolerance_us: i64,
    ) -> Result<Vec<(Timestamp, Timestamp)>> {
        crate::read::recorded_ranges(&self.inner, stream, start, end, tolerance_us)
    }

    // ---- locks -----------------------------------------------------------

    /// Locks a stream's time range against overwrite and retention.
    pub fn lock(
        &self,
        stream: StreamId,
        start: Timestamp,
        end: Timestamp,
        expires: Option<Timestamp>,
    ) -> Result<LockId> {
        self.inner.check_open()?;
        if start > end {
            return Err(Error::InvalidArgument(format!("lock range {start}..{end} ends before it starts")));
        }
        let now = self.inner.clock.now();
        if expires.is_some_and(|e| e <= now) {
            return Err(Error::InvalidArgument("lock expiry is in the past".into()));
        }
        self.inner.change_catalog(|st| {
            let pool = st.pool(st.stream(stream)?.pool)?.clone();
            let mut id = LockId(rand::random());
            while id.0 == 0 || st.catalog.locks.iter().any(|l| l.id == id) {
                id = LockId(rand::random());
            }
            let lock = LockConfig { id, stream, start, end, expires };
            check_lock_quota(st, &pool, &lock, now)?;
            st.catalog.locks.push(lock);
            Ok(id)
        })
    }

    /// Lists the locks in force.
    pub fn locks(&self) -> Vec<LockConfig> {
        let now = self.inner.clock.now();
        self.inner.lock_state().catalog.locks.iter().filter(|l| l.in_force(now)).cloned().collect()
    }

    /// Changes a lock's expiry (`None` = until unlocked).
    pub fn extend_lock(&self, id: LockId, expires: Option<Timestamp>) -> Result<()> {
        let now = self.inner.clock.now();
        if expires.is_some_and(|e| e <= now) {
            return Err(Error::InvalidArgument("lock expiry is in the past".into()));
        }
        self.inner.change_catalog(|st| {
            let l =
                st.catalog.locks.iter_mut().find(|l| l.id == id && l.in_force(now)).ok_or(Error::LockNotFound(id))?;
            l.expires = expires;
            Ok(())
        })
    }

    /// Removes a lock.
    pub fn unlock(&self, id: LockId) -> Result<()> {
        self.inner.change_catalog(|st| {
            let n = st.catalog.locks.len();
            st.catalog.locks.retain(|l| l.id != id);
            if st.catalog.locks.len() == n {
                return Err(Error::LockNotFound(id));
            }
            Ok(())
        })
    }

    // ---- upkeep ----------------------------------------------------------

    /// Runs one round of maintenance now: health checks, lock expiry,
    /// retention, proactive recycling, alarms, chunk flushing, checkpoint.
    pub fn run_maintenance(&self) -> Result<()> {
        crate::maintenance::run(&self.inner, true)
    }

    /// Writes a checkpoint now (bounds the scan after a crash).
    pub fn checkpoint(&self) -> Result<()> {
        self.inner.check_open()?;
        self.inner.sync_all()?;
        self.inner.checkpoint(false)
    }

    /// Verifies the documented invariants; with `repair`, fixes what is safe.
    pub fn check(&self, repair: bool) -> Result<crate::check::CheckReport> {
        crate::check::run(&self.inner, repair)
    }

    /// Clean shutdown: flush and sync everything, stop the I/O threads, write
    /// the clean-shutdown checkpoint. Later calls fail with [`Error::Closed`].
    pub fn close(&self) -> Result<()> {
        self.inner.close()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Best effort if the owner forgot to close: stop threads, no marker.
        if !self.closed.load(Ordering::SeqCst) {
            let st = self.state.get_mut();
            for rt in st.spaces.values() {
                rt.space.stop_io();
            }
        }
    }
}

fn wait_syncs(spaces: &[Arc<Space>]) -> Result<()> {
    let mut rxs = Vec::with_capacity(spaces.len());
    for s in spaces {
        rxs.push((s.id, s.sync_async()?));
    }
    for (id, rx) in rxs {
        rx.recv().map_err(|_| Error::SpaceFailed(id))??;
    }
    Ok(())
}

fn validate_pool_fields(name: &str, max_lock_pct: u8) -> Result<()> {
    if name.trim().is_empty() || name.len() > 64 {
        return Err(Error::InvalidArgument("pool name must be 1..=64 bytes, not blank".into()));
    }
    if max_lock_pct > 100 {
        return Err(Error::InvalidArgument(format!("max lock percent {max_lock_pct} > 100")));
    }
    Ok(())
}

/// Splits `capacity` evenly over `spaces` into segment quotas, checking each
/// space has that much unreserved (not counting `current`, the pool's own).
fn carve(st: &State, spaces: &[SpaceId], capacity: u64, current: &[(SpaceId, u32)]) -> Result<Vec<(SpaceId, u32)>> {
    if spaces.is_empty() {
        return Err(Error::CapacityExceedsFree { requested: capacity, available: 0 });
    }
    if capacity == 0 {
        return Err(Error::InvalidArgument("pool capacity must be > 0".into()));
    }
    let mut uniq = spaces.to_vec();
    uniq.sort();
    uniq.dedup();
    let share = capacity / uniq.len() as u64;
    let mut quotas = Vec::new();
    let mut available_total = 0u64;
    let mut short = false;
    for (i, sid) in uniq.iter().enumerate() {
        let rt = st.spaces.get(sid).ok_or(Error::SpaceNotFound(*sid))?;
        let seg = rt.space.sb.segment_size;
        let mine = current.iter().find(|q| q.0 == *sid).map_or(0, |q| q.1 as u64);
        let free_segs = rt.slots.len() as u64 - (st.reserved_on(*sid) - mine);
        available_total += free_segs * seg;
        let want = if i == 0 { capacity - share * (uniq.len() as u64 - 1) } else { share };
        let segs = want.div_ceil(seg);
        if segs > free_segs {
            short = true;
        }
        quotas.push((*sid, segs as u32));
    }
    if short {
        return Err(Error::CapacityExceedsFree { requested: capacity, available: available_total });
    }
    Ok(quotas)
}

fn check_lock_quota(st: &State, pool: &PoolConfig, lock: &LockConfig, now: Timestamp) -> Result<()> {
    let (cap, _) = st.pool_usage(pool);
    let limit = cap * pool.max_lock_pct as u64 / 100;
    let locked = st.locked_bytes(pool.id, now, None);
    let with = st.locked_bytes(pool.id, now, Some(lock));
    if with > limit {
        return Err(Error::LockQuotaExceeded { pool: pool.id, requested: with - locked, locked, limit });
    }
    Ok(())
}

fn space_info(st: &State, rt: &SpaceRt) -> SpaceInfo {
    let seg = rt.space.sb.segment_size;
    let total = rt.slots.len() as u64;
    let free = rt.free.len() as u64;
    SpaceInfo {
        id: rt.space.id,
        path: rt.space.path.clone(),
        status: rt.space.status(),
        progress: rt.space.progress(),
        capacity: total * seg,
        used: (total - free) * seg,
        free: free * seg,
        reserved: st.reserved_on(rt.space.id) * seg,
        segment_size: seg,
        detail: None,
    }
}

fn pool_info(st: &State, p: &PoolConfig, now: Timestamp) -> PoolInfo {
    let (capacity, used) = st.pool_usage(p);
    let locked = st.locked_bytes(p.id, now, None);
    let usable = p.quotas.iter().filter(|(sid, _)| st.spaces.get(sid).is_some_and(|s| s.space.writable())).count();
    let status = if usable == p.quotas.len() && usable > 0 {
        PoolStatus::Normal
    } else if usable > 0 {
        PoolStatus::Degraded
    } else {
        PoolStatus::Offline
    };
    PoolInfo { config: p.clone(), status, capacity, used, free: capacity.saturating_sub(used), locked }
}

fn stream_info(st: &State, s: &StreamConfig) -> StreamInfo {
    let segs = st.by_stream.get(&s.id).cloned().unwrap_or_default();
    let spans: Vec<_> = segs
        .iter()
        .filter_map(|&(sid, i)| st.slot(sid, i).and_then(|x| x.span()))
        .filter(|sp| sp.first_ts <= sp.last_ts)
        .collect();
    StreamInfo {
        config: s.clone(),
        first_ts: spans.iter().map(|s| s.first_ts).min(),
        last_ts: spans.iter().map(|s| s.last_ts).max(),
        segments: segs.len(),
    }
}

impl Inner {
    pub fn catalog_thresholds(&self) -> Thresholds {
        self.lock_state().catalog.thresholds
    }

    pub fn weak(&self) -> Weak<Inner> {
        self.self_weak.clone()
    }

    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    pub fn handle(&self, id: StreamId) -> Result<Arc<StreamHandle>> {
        self.streams.read().get(&id).cloned().ok_or(Error::StreamNotFound(id))
    }

    /// Applies a catalog change and persists it (engine copy, then every
    /// space's copy) before returning.
    pub fn change_catalog<T>(&self, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let mut st = self.lock_state();
        let before = st.catalog.clone();
        let out = f(&mut st)?;
        if st.catalog != before {
            st.bump();
            if let Err(e) = self.persist_catalog(&st) {
                st.catalog = before;
                return Err(e);
            }
        }
        Ok(out)
    }

    pub fn persist_catalog(&self, st: &State) -> Result<()> {
        let bytes = st.catalog.encode();
        let path = self.opts.data_dir.join(CATALOG_FILE);
        write_atomic(self.storage.as_ref(), &path, &bytes).map_err(|e| Error::io("writing the catalog", e))?;
        for rt in st.spaces.values() {
            if rt.space.writable() {
                // A space that cannot take its copy is found by the health check.
                let _ = write_atomic(self.storage.as_ref(), &rt.space.path.join(CATALOG_FILE), &bytes);
            }
        }
        Ok(())
    }

    pub fn sync_all(&self) -> Result<()> {
        let handles: Vec<Arc<StreamHandle>> = self.streams.read().values().cloned().collect();
        let mut spaces: Vec<Arc<Space>> = Vec::new();
        let mut first_err = None;
        for h in handles {
            match h.prepare_sync(self) {
                Ok(list) => {
                    for s in list {
                        if !spaces.iter().any(|x| Arc::ptr_eq(x, &s)) {
                            spaces.push(s);
                        }
                    }
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        let res = wait_syncs(&spaces);
        match first_err {
            Some(e) => Err(e),
            None => res,
        }
    }

    /// Called on an I/O thread when a seal is done. It must not take the
    /// engine lock: a thread holding that lock may be waiting for room in this
    /// very I/O queue. The result is applied by the next `lock_state`.
    pub fn on_sealed(&self, sid: SpaceId, idx: u32, gen: u32, res: Result<Vec<RecordEntry>>) {
        let records = res.ok();
        if let Some(r) = records.as_ref().filter(|r| !r.is_empty()) {
            self.footers.insert((sid, idx, gen), Arc::new(r.clone()));
        }
        self.sealed.lock().push((sid, idx, gen, records));
    }

    /// Takes the engine lock, first applying seals completed since.
    pub fn lock_state(&self) -> parking_lot::MutexGuard<'_, State> {
        let mut st = self.state.lock();
        let done = std::mem::take(&mut *self.sealed.lock());
        for (sid, idx, gen, records) in done {
            let records = match records {
                Some(r) => r,
                // The footer was not written: keep serving the records in memory.
                None => match st.slot(sid, idx) {
                    Some(Slot::Open(o)) => {
                        let r = o.records();
                        if !r.is_empty() {
                            self.footers.insert((sid, idx, gen), Arc::new(r.clone()));
                        }
                        r
                    }
                    _ => continue,
                },
            };
            st.mark_sealed(sid, idx, gen, &records, self.clock.now(), &self.events);
        }
        st
    }

    /// Attaches a space listed in the catalog at open.
    fn attach_known(&self, r: &SpaceRef) -> Result<()> {
        let path = PathBuf::from(&r.path);
        let sb_path = path.join(SUPERBLOCK_FILE);
        let lost = |reason: String| {
            let mut st = self.lock_state();
            st.detached.insert(
                r.id,
                Detached { path: r.path.clone(), status: SpaceStatus::Lost, reason: reason.clone(), job: None },
            );
            self.events.emit(
                self.clock.now(),
                EventKind::SpaceStatus { space: r.id, status: SpaceStatus::Lost, detail: reason },
            );
        };
        let bytes = match read_whole(self.storage.as_ref(), &sb_path) {
            Ok(b) => b,
            // The folder is there but holds no space any more (wiped by
            // hand): Uninitialized, not Lost.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.storage.is_dir(&path) => {
                let reason = format!("{} has no superblock: the folder is not initialized", path.display());
                let mut st = self.lock_state();
                st.detached.insert(
                    r.id,
                    Detached { path: r.path.clone(), status: SpaceStatus::Uninitialized, reason, job: None },
                );
                return Ok(());
            }
            Err(e) => {
                lost(format!("cannot read {}: {e}", sb_path.display()));
                return Ok(());
            }
        };
        let sb = match SuperBlock::decode(&bytes) {
            Ok(sb) => sb,
            Err(e) => {
                let mut st = self.lock_state();
                let reason = format!("superblock unreadable: {e}");
                st.detached
                    .insert(r.id, Detached { path: r.path.clone(), status: SpaceStatus::Error, reason, job: None });
                return Ok(());
            }
        };
        if sb.space_uuid != r.uuid {
            lost(format!("{} now holds a different storage space", path.display()));
            return Ok(());
        }
        let space = match Space::open(self.storage.as_ref(), &path, sb) {
            Ok(s) => s,
            Err(e @ Error::Io { .. }) => {
                lost(e.to_string());
                return Ok(());
            }
            Err(e @ Error::InUse(_)) => {
                let mut st = self.lock_state();
                st.detached.insert(
                    r.id,
                    Detached { path: r.path.clone(), status: SpaceStatus::Error, reason: e.to_string(), job: None },
                );
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        self.load_space(Arc::new(space), None)
    }

    /// Loads a space's segments and puts it in service.
    pub fn load_space(&self, space: Arc<Space>, job: Option<&JobControl>) -> Result<()> {
        let ckpt_path = space.path.join(CHECKPOINT_FILE);
        let ckpt = read_whole(self.storage.as_ref(), &ckpt_path).ok().and_then(|b| Checkpoint::decode(&b).ok());
        if let Some(c) = &ckpt {
            let mut seq = self.checkpoint_seq.lock();
            *seq = (*seq).max(c.seq);
        }
        space.set_status(SpaceStatus::Scanning);
        let found = load_segments(&space, ckpt.as_ref(), self.opts.recovery_mode, job)?;
        let now = self.clock.now();
        let mut rt = SpaceRt {
            space: Arc::clone(&space),
            gens: Vec::with_capacity(found.len()),
            slots: Vec::with_capacity(found.len()),
            free: BTreeSet::new(),
        };
        let mut to_seal = Vec::new();
        let mut st = self.lock_state();
        for (i, f) in found.into_iter().enumerate() {
            let idx = i as u32;
            match f {
                Found::Free { gen } => {
                    rt.gens.push(gen);
                    rt.slots.push(Slot::Free);
                    rt.free.insert(idx);
                }
                Found::Sealed { gen, pool, stream, trailer } => {
                    rt.gens.push(gen);
                    rt.slots.push(Slot::Sealed(Sealed {
                        pool,
                        stream,
                        first_ts: trailer.first_ts,
                        last_ts: trailer.last_ts,
                        used: trailer.used,
                    }));
                }
                Found::Open { gen, pool, stream, records, torn } => {
                    if let Some(detail) = torn {
                        self.events.emit(now, EventKind::TailTruncated { space: space.id, segment: idx, detail });
                    }
                    rt.gens.push(gen);
                    rt.slots.push(Slot::Open(Arc::new(crate::space::OpenSeg::new(idx, gen, pool, stream, records))));
                    to_seal.push(idx);
                }
            }
        }
        // Index the segments by stream, in time order, and count pool usage.
        let mut per_stream: HashMap<StreamId, Vec<(Timestamp, u32)>> = HashMap::new();
        for (i, slot) in rt.slots.iter().enumerate() {
            if let Some(sp) = slot.span() {
                *st.used.entry((sp.pool, space.id)).or_insert(0) += 1;
                let key = if sp.first_ts <= sp.last_ts { sp.first_ts } else { Timestamp::MAX };
                per_stream.entry(sp.stream).or_default().push((key, i as u32));
            }
        }
        for (stream, mut segs) in per_stream {
            segs.sort();
            let mut list = st.by_stream.remove(&stream).unwrap_or_default();
            list.extend(segs.iter().map(|&(_, i)| (space.id, i)));
            // Keep the stream's list in time order across spaces.
            let start_of = |k: &(SpaceId, u32)| -> Timestamp {
                let slot = if k.0 == space.id {
                    rt.slots.get(k.1 as usize)
                } else {
                    st.spaces.get(&k.0).and_then(|r| r.slots.get(k.1 as usize))
                };
                slot.and_then(|s| s.span())
                    .filter(|sp| sp.first_ts <= sp.last_ts)
                    .map_or(Timestamp::MAX, |sp| sp.first_ts)
            };
            list.sort_by_key(start_of);
            st.by_stream.insert(stream, list);
        }
        // The newest open segment of a stream is continued by it; older ones
        // (a seal cut short by a crash) are sealed now.
        let mut resume = Vec::new();
        for idx in to_seal {
            let Some(Slot::Open(o)) = rt.slots.get(idx as usize) else { continue };
            let newest = st.by_stream.get(&o.stream).and_then(|l| l.last()).copied() == Some((space.id, idx));
            let known_stream = st.catalog.streams.iter().any(|s| s.id == o.stream);
            if newest && known_stream && !st.resumable.contains_key(&o.stream) {
                st.resumable.insert(o.stream, (space.id, idx));
            } else {
                resume.push(Arc::clone(o));
            }
        }
        let mut newest: HashMap<StreamId, Timestamp> = HashMap::new();
        for sp in rt.slots.iter().filter_map(|s| s.span()).filter(|sp| sp.first_ts <= sp.last_ts) {
            let n = newest.entry(sp.stream).or_insert(sp.last_ts);
            *n = (*n).max(sp.last_ts);
        }
        st.detached.remove(&space.id);
        st.spaces.insert(space.id, rt);
        drop(st);
        // Appends must come after what this space holds of each stream.
        for (stream, ts) in newest {
            if let Ok(h) = self.handle(stream) {
                let mut w = h.writer.lock();
                w.last_ts = Some(w.last_ts.map_or(ts, |l| l.max(ts)));
            }
        }
        space.set_status(SpaceStatus::Normal);
        space.start_io(self.opts.io_queue_depth, Arc::clone(&self.events), Arc::clone(&self.clock));
        for open in resume {
            let next = open.records().last().map_or(DATA_START, |r| r.end());
            let slot = crate::stream::WriteSlot {
                space: Arc::clone(&space),
                open,
                next,
                count: 0,
                prev_crc: 0,
                last_ts: Timestamp::MIN,
            };
            crate::stream::seal_slot(self, slot);
        }
        Ok(())
    }

    /// Writes every space's checkpoint (durable extents of open segments).
    pub fn checkpoint(&self, clean: bool) -> Result<()> {
        let now = self.clock.now();
        // Held throughout: checkpoints never interleave (one temp file name).
        let mut seq_guard = self.checkpoint_seq.lock();
        *seq_guard += 1;
        let seq = *seq_guard;
        let spaces: Vec<(Arc<Space>, Vec<OpenSegment>)> = {
            let st = self.lock_state();
            st.spaces
                .values()
                .filter(|rt| rt.space.writable())
                .map(|rt| {
                    let opens = rt
                        .slots
                        .iter()
                        .filter_map(|s| match s {
                            Slot::Open(o) => {
                                let g = o.inner.lock();
                                Some(OpenSegment {
                                    index: o.index,
                                    generation: o.generation,
                                    stream: o.stream,
                                    records: g.records[..g.durable].to_vec(),
                                })
                            }
                            _ => None,
                        })
                        .collect();
                    (Arc::clone(&rt.space), opens)
                })
                .collect()
        };
        for (space, segments) in spaces {
            let c = Checkpoint { seq, clean, written_at: now, segments };
            write_atomic(self.storage.as_ref(), &space.path.join(CHECKPOINT_FILE), &c.encode())
                .map_err(|e| Error::io(format!("writing the checkpoint of space {}", space.id), e))?;
        }
        *self.last_checkpoint.lock() = Instant::now();
        Ok(())
    }

    fn start_maintenance(&self) {
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        let weak = self.weak();
        let every = self.opts.maintenance_interval;
        let h = std::thread::Builder::new().name("pstor-maintenance".into()).spawn(move || loop {
            match rx.recv_timeout(every) {
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let Some(inner) = weak.upgrade() else { return };
            if let Err(e) = crate::maintenance::run(&inner, false) {
                inner.events.emit(
                    inner.clock.now(),
                    EventKind::RecordingError { stream: StreamId(0), message: format!("maintenance: {e}") },
                );
            }
        });
        if let Ok(h) = h {
            *self.maintenance.lock() = Some((h, tx));
        }
    }

    fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        if let Some((h, tx)) = self.maintenance.lock().take() {
            drop(tx);
            let _ = h.join();
        }
        let synced = self.sync_all();
        let spaces: Vec<Arc<Space>> = self.lock_state().spaces.values().map(|r| Arc::clone(&r.space)).collect();
        for s in &spaces {
            s.stop_io();
        }
        // What is durable is described by the clean checkpoint even when some
        // buffered frames could not be stored (they were never acknowledged).
        let marked = self.checkpoint(true);
        for s in &spaces {
            s.release_lock();
        }
        self.lock.lock().take();
        synced.and(marked)
    }
}
