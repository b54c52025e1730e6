//! The engine: the public face over spaces, pools, streams and locks.

use crate::checksum::Checksummed;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::events::{EventFeed, EventKind};
use crate::format::catalog::{Catalog, CATALOG_FILE};
use crate::format::checkpoint::{Checkpoint, OpenSegment, CHECKPOINT_FILE};
use crate::format::segment::RecordEntry;
use crate::io::{read_whole, write_atomic, OsStorage, Storage};
use crate::recovery::RecoveryMode;
use crate::space::Space;
use crate::store::{Slot, State};
use crate::stream::StreamHandle;
use crate::types::*;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The smallest storage space accepted unless [`EngineOptions`] says
/// otherwise: 1 GiB, one default for the embedded engine, the SDKs and the
/// server.
pub const DEFAULT_MIN_SPACE_CAPACITY: u64 = 1 << 30;

/// Engine settings. `EngineOptions::new(dir)` gives the production defaults.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Where the engine keeps its catalog.
    pub data_dir: PathBuf,
    /// Smallest storage space capacity accepted; default
    /// [`DEFAULT_MIN_SPACE_CAPACITY`] (the manual's 5 GB is a product rule, and
    /// the same engine also runs on small disks).
    pub min_space_capacity: u64,
    /// Segment size for new spaces.
    pub segment_size: u64,
    /// Segments per data file for new spaces (one fdatasync per file serves
    /// every stream writing in it).
    pub segments_per_file: u32,
    /// Largest frame accepted.
    pub max_frame_bytes: usize,
    /// Largest picture accepted.
    pub max_picture_bytes: usize,
    /// A chunk (record) is written when it reaches this size... (256 KiB
    /// by default: buffered video stays bounded at 1,000 cameras, and a
    /// writer's frames reach the disk during the second instead of all at
    /// its sync; the per-record overhead, 48 header and 40 footer bytes, is
    /// still 0.03 %, and reads fetch runs of adjacent records in one pread.)
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
    /// A space's I/O thread starts an fdatasync of its own once this many
    /// bytes were written since the last one (0: only when asked). The disk
    /// then works while writers fill the next second, and their sync finds
    /// less left to write. Durability is unchanged: an `Ok` still comes
    /// only from a sync that started after the write.
    pub writeback_bytes: u64,
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
            min_space_capacity: DEFAULT_MIN_SPACE_CAPACITY,
            segment_size: 256 << 20,
            segments_per_file: 16,
            max_frame_bytes: 16 << 20,
            max_picture_bytes: 16 << 20,
            chunk_max_bytes: 256 << 10,
            chunk_max_span_us: US_PER_SEC,
            chunk_max_age: Duration::from_secs(2),
            recovery_mode: RecoveryMode::default(),
            background: true,
            maintenance_interval: Duration::from_secs(1),
            checkpoint_interval: Duration::from_secs(5),
            io_queue_depth: 1024,
            writeback_bytes: 8 << 20,
            gap_tolerance_us: 5 * US_PER_SEC,
            utc_offset_minutes: 0,
            segment_split_gap_us: 6 * 3600 * US_PER_SEC,
        }
    }
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

/// A completed seal: the space and the segment (its records or needles are
/// served from memory until evicted, even if the footer could not be written).
type SealedEntry = (SpaceId, Arc<crate::space::OpenSeg>);

/// Shared engine internals.
#[derive(Debug)]
pub(crate) struct Inner {
    pub opts: EngineOptions,
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<EventFeed>,
    state: Mutex<State>,
    pub streams: RwLock<HashMap<StreamId, Arc<StreamHandle>>>,
    pub footers: crate::read::FooterCache<RecordEntry>,
    pub picture_footers: crate::read::FooterCache<crate::format::needle::NeedleEntry>,
    /// Each picture pool's writer (created on first put).
    pub picture_writers: RwLock<HashMap<PoolId, Arc<crate::picture_writer::PictureWriter>>>,
    /// Bucket + key → picture id.
    pub keys: crate::keys::KeyIndex,
    /// Seals completed by I/O threads, not yet applied to `state`.
    sealed: Mutex<Vec<SealedEntry>>,
    pub closed: AtomicBool,
    pub last_checkpoint: Mutex<Instant>,
    pub checkpoint_seq: Mutex<u64>,
    self_weak: Weak<Inner>,
    /// Keeps other engines out of the data directory until closed.
    lock: Mutex<Option<crate::io::DirLock>>,
    maintenance: Mutex<Option<(std::thread::JoinHandle<()>, crossbeam_channel::Sender<()>)>>,
    /// Lost spaces whose folder came back, being restored by the health check.
    pub returning: Mutex<crate::maintenance::Returning>,
    /// What this open found (set once, at the end of the open).
    open_report: std::sync::OnceLock<crate::OpenReport>,
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
        let started = Instant::now();
        storage
            .create_dir_all(&opts.data_dir)
            .map_err(|e| Error::io(format!("creating {}", opts.data_dir.display()), e))?;
        let lock = crate::space::lock_dir(storage.as_ref(), &opts.data_dir)?;
        let cat_path = opts.data_dir.join(CATALOG_FILE);
        let created = !storage.exists(&cat_path);
        let mut catalog = if !created {
            let bytes = read_whole(storage.as_ref(), &cat_path).map_err(|e| Error::io("reading the catalog", e))?;
            Catalog::decode(&bytes)?
        } else {
            Catalog { engine_uuid: rand::random(), ..Catalog::default() }
        };
        if crate::home::settle(storage.as_ref(), &opts.data_dir, &mut catalog)? || created {
            write_atomic(storage.as_ref(), &cat_path, &catalog.encode())
                .map_err(|e| Error::io("writing the catalog", e))?;
        }
        let keys_started = Instant::now();
        let keys = crate::keys::KeyIndex::open(storage.is_native().then_some(opts.data_dir.as_path()))?;
        let mut key_index_took = keys_started.elapsed();
        let key_index_recreated = keys.recreated.clone();
        let inner = Arc::new_cyclic(|w| Inner {
            opts,
            storage,
            clock,
            events: Arc::new(EventFeed::default()),
            state: Mutex::new(State { catalog, ..State::default() }),
            streams: RwLock::new(HashMap::new()),
            footers: crate::read::FooterCache::new(crate::read::FOOTER_CACHE_ENTRIES),
            picture_footers: crate::read::FooterCache::new(crate::read::PICTURE_FOOTER_CACHE_ENTRIES),
            picture_writers: RwLock::new(HashMap::new()),
            keys,
            sealed: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            last_checkpoint: Mutex::new(Instant::now()),
            checkpoint_seq: Mutex::new(0),
            self_weak: w.clone(),
            lock: Mutex::new(Some(lock)),
            maintenance: Mutex::new(None),
            returning: Mutex::new(Default::default()),
            open_report: std::sync::OnceLock::new(),
        });
        // Handles first: loading each space raises their newest timestamps.
        {
            let st = inner.lock_state();
            let mut streams = inner.streams.write();
            for s in &st.catalog.streams {
                streams.insert(s.id, Arc::new(StreamHandle::new(s.id, s.pool)));
            }
        }
        let refs = inner.lock_state().catalog.spaces.clone();
        let mut spaces = Vec::with_capacity(refs.len());
        for r in refs {
            spaces.push(inner.attach_known(&r)?);
        }
        // Clean: no space in service needed a scan, and the key index (on
        // disk) was closed cleanly too.
        let keys_clean = !inner.storage.is_native() || !inner.keys.needs_reconcile();
        let last_stop_clean = !created
            && keys_clean
            && spaces.iter().filter(|s| s.status == crate::space::SpaceStatus::Normal).all(|s| s.clean_checkpoint);
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
        if let Some(why) = key_index_recreated {
            let now = inner.clock.now();
            inner.events.emit(now, EventKind::KeyIndexRebuilt { reason: why });
        }
        if inner.keys.needs_reconcile() {
            let reconcile_started = Instant::now();
            inner.reconcile_keys(None)?;
            key_index_took += reconcile_started.elapsed();
        }
        // Not clean any more: a crash from here on must scan.
        inner.checkpoint(false)?;
        if inner.opts.background {
            inner.start_maintenance();
        }
        let _ = inner.open_report.set(crate::OpenReport {
            created,
            last_stop_clean,
            spaces,
            key_index_took,
            took: started.elapsed(),
        });
        Ok(Engine { inner })
    }

    /// Fails with [`Error::Closed`] once [`Engine::close`] has begun. Calls
    /// that only read in-memory state (listings, the event feed) do not
    /// check by themselves; bindings that promise `Closed` after close ask.
    pub fn check_open(&self) -> Result<()> {
        self.inner.check_open()
    }

    /// What this open found: whether the last stop was clean, and per
    /// space what recovery read, scanned, truncated or gave up on.
    pub fn open_report(&self) -> crate::OpenReport {
        self.inner.open_report.get().cloned().unwrap_or_default()
    }

    /// The event feed (alarms, status changes, recording errors).
    pub fn events(&self) -> &Arc<EventFeed> {
        &self.inner.events
    }

    /// Puts a recorded camera's change of recording state into the event
    /// feed (the server's recorder reports them: the engine records
    /// whatever a client sends, and knows no cameras of its own).
    pub fn report_camera_status(&self, schedule: u64, camera: &str, from: &str, to: &str, reason: &str) {
        let kind = EventKind::CameraStatus {
            schedule,
            camera: camera.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            reason: reason.to_owned(),
        };
        self.inner.events.emit(self.inner.clock.now(), kind);
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
        self.inner.check_open()?;
        if t.overwrite_pct > 100 || t.alarm_pct > 100 || t.volume_free_pct > 100 {
            return Err(Error::InvalidArgument("thresholds are percentages (0..=100)".into()));
        }
        self.inner.change_catalog(|st| {
            st.catalog.thresholds = t;
            Ok(())
        })
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
        self.inner.streams.write().insert(id, Arc::new(StreamHandle::new(id, spec.pool)));
        Ok(id)
    }

    /// Replaces a stream's codec name and codec configuration (the
    /// recorder keeps them at the camera's newest parameter sets; stored
    /// key frames carry their own, so frames already written keep
    /// decoding as before: `docs/media.md`). A no-op when unchanged.
    pub fn set_codec_config(&self, stream: StreamId, codec: &str, codec_config: &[u8]) -> Result<()> {
        self.inner.check_open()?;
        if codec.len() > 64 || codec_config.len() > 64 * 1024 {
            return Err(Error::InvalidArgument("codec name <= 64 bytes, codec config <= 64 KiB".into()));
        }
        {
            let st = self.inner.lock_state();
            let s = st.stream(stream)?;
            if s.codec == codec && s.codec_config == codec_config {
                return Ok(());
            }
        }
        self.inner.change_catalog(|st| {
            let s = st.catalog.streams.iter_mut().find(|s| s.id == stream).ok_or(Error::StreamNotFound(stream))?;
            s.codec = codec.to_owned();
            s.codec_config = codec_config.to_owned();
            Ok(())
        })
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
        self.append_checksummed(stream, ts, key, Checksummed::new(data))
    }

    /// As [`Engine::append`], with the frame's CRC-32 already computed
    /// ([`Checksummed::new`]) where its bytes were in cache: the server
    /// hashes a frame on the thread that received it, and the engine then
    /// makes the record's checksum without reading the bytes again.
    pub fn append_checksummed(&self, stream: StreamId, ts: Timestamp, key: bool, frame: Checksummed) -> Result<()> {
        self.inner.check_open()?;
        let h = self.inner.handle(stream)?;
        h.append(&self.inner, ts, key, frame)
    }

    /// Writes the stream's buffered frames (visible to readers, not yet durable).
    pub fn flush(&self, stream: StreamId) -> Result<()> {
        self.inner.check_open()?;
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
        self.inner.check_open()?;
        let h = self.inner.handle(stream)?;
        let spaces = h.prepare_sync(&self.inner)?;
        wait_syncs(&spaces)
    }

    /// Makes every frame appended to these streams durable, with one sync
    /// per space for all of them (cheaper than one `sync` per stream).
    pub fn sync_streams(&self, streams: &[StreamId]) -> Result<()> {
        self.inner.check_open()?;
        let handles = streams.iter().map(|&s| self.inner.handle(s)).collect::<Result<Vec<_>>>()?;
        self.inner.sync_handles(handles)
    }

    /// Makes every frame of every stream durable.
    pub fn sync_all(&self) -> Result<()> {
        self.inner.check_open()?;
        self.inner.sync_all()
    }

    /// Reads frames of `stream` from the last key frame at or before `start`
    /// up to `end` (inclusive), in order. Sees flushed frames.
    pub fn read(&self, stream: StreamId, start: Timestamp, end: Timestamp) -> Result<crate::read::FrameIter> {
        self.inner.check_open()?;
        crate::read::read_range(&self.inner, stream, start, end)
    }

    /// The records holding `[start, end]` of `stream`, from the one with
    /// the key frame at or before `start` (the same rule as [`Engine::read`]),
    /// without reading them: what an exporter plans a file with.
    pub fn export_records(
        &self,
        stream: StreamId,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<crate::export::ExportRecords> {
        self.inner.check_open()?;
        crate::export::export_records(&self.inner, stream, start, end)
    }

    /// A record's frame table and up to `lead` bytes of its frame data: one
    /// positioned read, checked against the segment's index and generation
    /// (not the CRC, which needs the whole record). A recycled segment is
    /// [`Error::Overwritten`].
    pub fn record_head(
        &self,
        stream: StreamId,
        record: &crate::export::RecordRef,
        lead: usize,
    ) -> Result<crate::export::RecordHead> {
        self.inner.check_open()?;
        crate::export::record_head(&self.inner, stream, record, lead)
    }

    /// `len` bytes of a record from offset `at` (e.g. the start of a key
    /// frame, for its parameter sets), generation-checked like
    /// [`Engine::record_head`].
    pub fn read_record_part(
        &self,
        stream: StreamId,
        record: &crate::export::RecordRef,
        at: u32,
        len: u32,
    ) -> Result<Bytes> {
        self.inner.check_open()?;
        crate::export::read_part(&self.inner, stream, record, at, len)
    }

    /// The whole bytes of each record, verified (generation, stream, CRC,
    /// and the CRC the index listed), adjacent records with one read. A
    /// record recycled since it was listed is [`Error::Overwritten`]: an
    /// exporter never serves another generation's bytes.
    pub fn read_records_verified(&self, stream: StreamId, records: &[crate::export::RecordRef]) -> Result<Vec<Bytes>> {
        self.inner.check_open()?;
        crate::export::read_verified(&self.inner, stream, records)
    }

    /// Hints that these records will be read soon (readahead).
    pub fn prefetch_records(&self, records: &[crate::export::RecordRef]) {
        crate::export::prefetch(records)
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
        self.inner.check_open()?;
        if tolerance_us < 0 {
            return Err(Error::InvalidArgument(format!("gap tolerance {tolerance_us} us is negative")));
        }
        crate::read::recorded_ranges(&self.inner, stream, start, end, tolerance_us)
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

/// Queues a sync to each space, then waits for all of them.
pub(crate) fn wait_syncs(spaces: &[Arc<Space>]) -> Result<()> {
    let mut rxs = Vec::with_capacity(spaces.len());
    for s in spaces {
        rxs.push((s.id, s.sync_async()?));
    }
    for (id, rx) in rxs {
        rx.recv().map_err(|_| Error::SpaceFailed(id))??;
    }
    Ok(())
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

    /// Makes every frame and picture durable (and the picture keys).
    pub fn sync_all(&self) -> Result<()> {
        let handles: Vec<Arc<StreamHandle>> = self.streams.read().values().cloned().collect();
        let video = self.sync_handles(handles);
        let mut spaces: Vec<Arc<Space>> = Vec::new();
        let mut replaced = Vec::new();
        for w in self.picture_writers.read().values() {
            replaced.extend(w.take_replaced());
            for s in w.spaces() {
                if !spaces.iter().any(|x| Arc::ptr_eq(x, &s)) {
                    spaces.push(s);
                }
            }
        }
        let pictures = wait_syncs(&spaces).and_then(|_| {
            self.delete_replaced(replaced);
            self.flush_keys()
        });
        video.and(pictures)
    }

    /// Queues every handle's buffered chunk, then waits for one sync per
    /// space they wrote to.
    pub fn sync_handles(&self, handles: Vec<Arc<StreamHandle>>) -> Result<()> {
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

    /// Called on an I/O thread when a seal is done, whether or not its footer
    /// could be written. It must not take the engine lock: a thread holding
    /// that lock may be waiting for room in this very I/O queue. The result is
    /// applied by the next `lock_state`.
    pub fn on_sealed(&self, sid: SpaceId, open: Arc<crate::space::OpenSeg>) {
        // Serve the entries from memory: no need to read back the footer just
        // written, and if it could not be written they are all there is.
        let key = (sid, open.index, open.generation);
        {
            let g = open.inner.lock();
            if !g.records.is_empty() {
                self.footers.insert(key, Arc::new(g.records.clone()));
            }
            if !g.needles.is_empty() {
                self.picture_footers.insert(key, Arc::new(g.needles.clone()));
            }
        }
        self.sealed.lock().push((sid, open));
    }

    /// Takes the engine lock, first applying seals completed since.
    pub fn lock_state(&self) -> parking_lot::MutexGuard<'_, State> {
        let mut st = self.state.lock();
        let done = std::mem::take(&mut *self.sealed.lock());
        for (sid, open) in done {
            st.mark_sealed(sid, &open, self.clock.now(), &self.events);
        }
        st
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
                                let durable = g.durable;
                                Some(OpenSegment {
                                    index: o.index,
                                    generation: o.generation,
                                    stream: o.stream,
                                    records: g.records[..durable.min(g.records.len())].to_vec(),
                                    needles: g.needles[..durable.min(g.needles.len())].to_vec(),
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
        // A space coming back stops being restored: it is Lost again after
        // the next open, and returns at that engine's first health check.
        let returning = std::mem::take(&mut self.returning.lock().jobs);
        for job in returning {
            job.cancel();
            let _ = job.wait();
        }
        // A space whose folder vanished since the last health check is Lost
        // now, so the rest closes cleanly: on Linux, writes through files
        // still open in a removed folder would even "succeed".
        let now = self.clock.now();
        let present: Vec<Arc<Space>> = self
            .lock_state()
            .spaces
            .values()
            .filter(|rt| rt.space.status() == crate::space::SpaceStatus::Normal)
            .map(|rt| Arc::clone(&rt.space))
            .collect();
        for s in &present {
            crate::maintenance::check_present(self, s, now);
        }
        let synced = self.sync_all();
        let spaces: Vec<Arc<Space>> = self.lock_state().spaces.values().map(|r| Arc::clone(&r.space)).collect();
        for s in &spaces {
            s.stop_io();
        }
        // What is durable is described by the clean checkpoint even when some
        // buffered frames could not be stored (they were never acknowledged).
        let marked = self.checkpoint(true);
        let keys = if synced.is_ok() && marked.is_ok() { self.keys.close_clean() } else { Ok(()) };
        for s in &spaces {
            s.release_lock();
        }
        self.lock.lock().take();
        synced.and(marked).and(keys)
    }
}
