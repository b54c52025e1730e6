//! The engine operations the SDKs use, behind one object-safe trait.
//!
//! [`Backend`] is the seam between the bindings (the C SDK, the C++ face,
//! the Python package) and whatever does the work. Each binding holds an
//! `Arc<dyn Backend>` and never names the engine, so a second
//! implementation — the remote client that speaks the SDK protocol to a
//! `pstor-server` — slots in without touching them: only a second
//! constructor (`pstor_connect`, `pstor.connect`, `pstor::Engine::connect`)
//! is added next to the one that calls [`open_local`].
//!
//! The methods mirror [`pstor_core::Engine`]'s public API, signature for
//! signature, where that is object-safe. Where it is not, or where a remote
//! call can fail but the engine's cannot:
//!
//! - [`Backend::read`] returns a boxed iterator, [`FrameStream`];
//! - space jobs are boxed [`SpaceJobHandle`]s;
//! - [`Backend::restore_space`] takes `&Path` (not `impl AsRef<Path>`);
//! - the listings and lookups that cannot fail in the engine
//!   ([`Backend::spaces`], [`Backend::pools`], [`Backend::streams`],
//!   [`Backend::locks`], [`Backend::find_stream`], [`Backend::thresholds`],
//!   [`Backend::today`]) return `Result`;
//! - the event feed is polled by sequence number with an optional wait
//!   ([`Backend::poll_events`], [`Backend::last_event_seq`]) instead of
//!   being borrowed (`Engine::events`).
//!
//! # What every backend promises
//!
//! **The same errors.** Every failure is a [`pstor_core::Error`] whose
//! [`Error::code()`](pstor_core::Error::code) is one of the stable numbers
//! of `docs/error-codes.md` ([`pstor_core::ErrorCode`]), and a failure
//! has the same number in both modes: the embedded backend returns the
//! engine's error; the remote one returns the server's as
//! [`Error::Remote`](pstor_core::Error::Remote) `{ code, message }`, with the
//! number the engine gave on the server. Only the remote mode adds the
//! network's numbers (700–707: `Protocol`, `AuthFailed`, `UnknownRequest`,
//! `FrameTooLarge`, `Busy`, `Timeout`, `Disconnected`, `Unsupported`). A
//! binding therefore maps an error by its code, never by its variant.
//!
//! **Closed after close.** Once [`Backend::close`] has begun, every other
//! method fails with [`Error::Closed`](pstor_core::Error::Closed) (PSTOR_CLOSED,
//! `pstor.Closed`, ...), whatever it is; closing again returns `Ok(())`.
//! The engine itself lets some in-memory calls through after close; the
//! embedded backend checks first, so the bindings need no flag of their own.
//!
//! **Threads.** A backend is `Send + Sync`; every method may be called from
//! many threads at once (group commit makes concurrent syncs cheap).
//! A [`FrameStream`] or a [`SpaceJobHandle`] is used by one thread at a
//! time and may move between threads.
//!
//! **Payloads.** [`Backend::append`] takes the frame as [`Bytes`] and passes
//! it on without a copy; picture bytes are borrowed for the call.
//!
//! **Paths** ([`Backend::initialize_space`], [`Backend::restore_space`]) name
//! folders on the engine's machine, which in remote mode is the server.

use bytes::Bytes;
use pstor_core::{
    CheckReport, Date, DayInspection, DaySummary, Engine, EngineOptions, Event, Frame, LockConfig, LockId, Picture,
    PictureId, PictureInfo, PictureKey, PictureMeta, PictureQuery, PoolEdit, PoolId, PoolInfo, PoolSpec, Result,
    SpaceId, SpaceInfo, SpaceJob, SpaceSpec, StreamId, StreamInfo, StreamKind, StreamSpec, Thresholds, Timestamp,
    WipeConfirmation,
};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[cfg(test)]
mod tests;

/// The frames of a time range, in order, read lazily ([`Backend::read`]).
/// An item is an error when a record cannot be read (`Corrupt`,
/// `Overwritten`, or in remote mode the connection's errors); the frames
/// before it were good.
pub type FrameStream = Box<dyn Iterator<Item = Result<Frame>> + Send>;

/// A running storage-space initialization or restore
/// ([`Backend::initialize_space`], [`Backend::restore_space`]): progress,
/// cancel, wait. Dropping it does not stop the job.
pub trait SpaceJobHandle: Send + Sync + std::fmt::Debug {
    /// The space being initialized or restored (known from the start).
    fn space(&self) -> SpaceId;
    /// Progress in percent, 0..=100. Never blocks.
    fn progress(&self) -> u8;
    /// Asks the job to stop; [`SpaceJobHandle::wait`] then fails with
    /// `Cancelled` (unless it had finished).
    fn cancel(&self);
    /// Whether the job has finished, successfully or not. Never blocks.
    fn is_finished(&self) -> bool;
    /// Waits until the job has finished: the space id, or the job's error.
    fn wait(self: Box<Self>) -> Result<SpaceId>;
}

/// What the schedule calls answer where no recorder runs (embedded).
fn no_recorder() -> pstor_core::Error {
    pstor_core::Error::Remote {
        code: pstor_core::ErrorCode::Unsupported,
        message: "recording schedules are kept by pstor-server's recorder: connect to a server".into(),
    }
}

/// The engine operations the SDKs use, embedded or remote (see the
/// [module documentation](self) for what every implementation promises:
/// the same stable error codes, `Closed` after close, thread safety).
///
/// Each method is [`pstor_core::Engine`]'s method of the same name unless
/// its documentation says otherwise; the engine's documentation has the
/// details.
pub trait Backend: Send + Sync + std::fmt::Debug {
    // ---- storage spaces ----------------------------------------------------

    /// Starts initializing a folder into a storage space. Bad arguments fail
    /// at once; the allocation runs in the background.
    fn initialize_space(&self, spec: SpaceSpec) -> Result<Box<dyn SpaceJobHandle>>;
    /// Starts restoring a storage space found in `path` that this engine
    /// does not know: its pools, streams and locks come back, its segments
    /// are scanned.
    fn restore_space(&self, path: &Path) -> Result<Box<dyn SpaceJobHandle>>;
    /// The storage spaces.
    fn spaces(&self) -> Result<Vec<SpaceInfo>>;
    /// One storage space; `SpaceNotFound` if there is none.
    fn space(&self, id: SpaceId) -> Result<SpaceInfo>;
    /// Deletes a Lost (or Uninitialized) space from the engine.
    fn delete_space(&self, id: SpaceId) -> Result<()>;
    /// Re-initializes a space: all its data is deleted. Needs `confirm`.
    fn reinitialize_space(&self, id: SpaceId, confirm: Option<WipeConfirmation>) -> Result<()>;

    // ---- resource pools ----------------------------------------------------

    /// Creates a resource pool.
    fn create_pool(&self, spec: PoolSpec) -> Result<PoolId>;
    /// Changes a pool's settings (the fields that are `Some`).
    fn edit_pool(&self, id: PoolId, edit: PoolEdit) -> Result<()>;
    /// Deletes a pool with its data; `PoolHasLocks` while it holds locks.
    fn delete_pool(&self, id: PoolId) -> Result<()>;
    /// The resource pools.
    fn pools(&self) -> Result<Vec<PoolInfo>>;
    /// One pool; `PoolNotFound` if there is none.
    fn pool(&self, id: PoolId) -> Result<PoolInfo>;
    /// The storage thresholds (manual 3.8.2).
    fn thresholds(&self) -> Result<Thresholds>;
    /// Sets the storage thresholds.
    fn set_thresholds(&self, t: Thresholds) -> Result<()>;

    // ---- streams -----------------------------------------------------------

    /// Registers a camera's stream in a pool.
    fn register_stream(&self, spec: StreamSpec) -> Result<StreamId>;
    /// The stream registered for a camera's channel and kind, if any.
    fn find_stream(&self, camera_id: &str, channel: u32, kind: StreamKind) -> Result<Option<StreamId>>;
    /// The registered streams.
    fn streams(&self) -> Result<Vec<StreamInfo>>;
    /// One stream; `StreamNotFound` if there is none.
    fn stream(&self, id: StreamId) -> Result<StreamInfo>;
    /// Appends a frame (timestamps strictly increasing per stream). `data`
    /// is passed on as it is, not copied. Buffered: [`Backend::flush`] makes
    /// it readable, [`Backend::sync`] durable.
    fn append(&self, stream: StreamId, ts: Timestamp, key: bool, data: Bytes) -> Result<()>;
    /// Writes the stream's buffered frames (readable, not yet durable).
    fn flush(&self, stream: StreamId) -> Result<()>;
    /// Makes every frame appended to the stream so far durable.
    fn sync(&self, stream: StreamId) -> Result<()>;
    /// Makes every frame appended to these streams durable, with one sync
    /// per space for all of them.
    fn sync_streams(&self, streams: &[StreamId]) -> Result<()>;
    /// Makes every frame of every stream, and every picture, durable.
    fn sync_all(&self) -> Result<()>;
    /// Reads `[start, end]` of a stream, from the last key frame at or
    /// before `start`: a boxed iterator (one allocation per read, none per
    /// frame).
    fn read(&self, stream: StreamId, start: Timestamp, end: Timestamp) -> Result<FrameStream>;
    /// Recorded time ranges of a stream within `[start, end]`, merging gaps
    /// up to `tolerance_us`.
    fn recorded_ranges(
        &self,
        stream: StreamId,
        start: Timestamp,
        end: Timestamp,
        tolerance_us: i64,
    ) -> Result<Vec<(Timestamp, Timestamp)>>;

    // ---- locks -------------------------------------------------------------

    /// Locks a stream's time range against overwrite and retention.
    fn lock(&self, stream: StreamId, start: Timestamp, end: Timestamp, expires: Option<Timestamp>) -> Result<LockId>;
    /// Locks one camera's pictures in a pool captured in `[start, end]`.
    fn lock_pictures(
        &self,
        pool: PoolId,
        camera_id: &str,
        start: Timestamp,
        end: Timestamp,
        expires: Option<Timestamp>,
    ) -> Result<LockId>;
    /// The locks in force.
    fn locks(&self) -> Result<Vec<LockConfig>>;
    /// Changes a lock's expiry (`None`: until unlocked).
    fn extend_lock(&self, id: LockId, expires: Option<Timestamp>) -> Result<()>;
    /// Removes a lock; `LockNotFound` also for one that lapsed.
    fn unlock(&self, id: LockId) -> Result<()>;

    // ---- video inspection --------------------------------------------------

    /// Today's date in the engine's local time.
    fn today(&self) -> Result<Date>;
    /// A stream's day, hour by hour: recorded seconds and gaps.
    fn inspect_day(&self, stream: StreamId, date: Date) -> Result<DayInspection>;
    /// Today so far.
    fn inspect_today(&self, stream: StreamId) -> Result<DayInspection>;
    /// A stream's month, day by day (days after today left out).
    fn inspect_month(&self, stream: StreamId, year: i32, month: u32) -> Result<Vec<DaySummary>>;

    // ---- pictures ----------------------------------------------------------

    /// Stores a picture in a picture or mixed pool; readable when this
    /// returns, durable after [`Backend::sync_pictures`].
    fn put_picture(&self, pool: PoolId, meta: &PictureMeta, data: &[u8]) -> Result<PictureId>;
    /// Makes every picture put into `pool` so far durable.
    fn sync_pictures(&self, pool: PoolId) -> Result<()>;
    /// Reads a picture, verified.
    fn get_picture(&self, id: &PictureId) -> Result<Picture>;
    /// Reads `len` bytes of a picture from `offset` (an HTTP Range).
    fn get_picture_range(&self, id: &PictureId, offset: u64, len: u64) -> Result<Picture>;
    /// A picture's metadata without its data.
    fn head_picture(&self, id: &PictureId) -> Result<PictureInfo>;
    /// Deletes a picture (durable when this returns).
    fn delete_picture(&self, id: &PictureId) -> Result<()>;
    /// The id of the picture stored under `key`.
    fn picture_id_for_key(&self, key: &PictureKey) -> Result<PictureId>;
    /// Reads the picture stored under `key`.
    fn get_picture_by_key(&self, key: &PictureKey) -> Result<Picture>;
    /// Deletes the picture stored under `key`.
    fn delete_picture_by_key(&self, key: &PictureKey) -> Result<()>;
    /// Keys of a bucket in order, starting with `prefix`, after `after`, at
    /// most `limit`.
    fn list_keys(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, PictureId)>>;
    /// One page of a pool's pictures by capture time, then id.
    fn list_pictures(&self, q: &PictureQuery) -> Result<Vec<PictureInfo>>;

    // ---- events ------------------------------------------------------------

    /// At most `max` events with `seq > after`, oldest first (the engine
    /// keeps the last [`pstor_core::EVENT_RING`]). When there are none yet,
    /// waits up to `wait` for one (`Duration::ZERO`: answers at once); an
    /// empty list means none came in time. Embedded, the wait sleeps until
    /// the feed has a newer event; remote, it is a long poll.
    fn poll_events(&self, after: u64, max: usize, wait: Duration) -> Result<Vec<Event>>;
    /// The sequence number of the newest event so far (0: none yet): poll
    /// after it for the events from now on (a subscription).
    fn last_event_seq(&self) -> Result<u64>;

    // ---- recording schedules (a server's recorder) ---------------------------

    /// Recording schedules whose camera name, id or IP address contains
    /// `search` ("" for all), `limit` of them from the `offset`th: a JSON
    /// array of the management API's `Schedule` objects and the number of
    /// matches (docs/sdk-protocol.md §6.6). Only a server records cameras:
    /// embedded, every schedule call is `Unsupported`.
    fn list_schedules(&self, search: &str, offset: u32, limit: u32) -> Result<(String, u32)> {
        let _ = (search, offset, limit);
        Err(no_recorder())
    }
    /// One schedule with its camera's status, as JSON.
    fn get_schedule(&self, id: i64) -> Result<String> {
        let _ = id;
        Err(no_recorder())
    }
    /// Creates a schedule from its JSON (`NewSchedule`); the answer is the
    /// schedule made, with its id (never its password).
    fn create_schedule(&self, json: &str) -> Result<String> {
        let _ = json;
        Err(no_recorder())
    }
    /// Replaces a schedule (a password left out is kept, `null` removes it).
    fn replace_schedule(&self, id: i64, json: &str) -> Result<String> {
        let _ = (id, json);
        Err(no_recorder())
    }
    /// Deletes a schedule (its recordings stay).
    fn delete_schedule(&self, id: i64) -> Result<()> {
        let _ = id;
        Err(no_recorder())
    }
    /// Starts (`true`) or stops an event of an event schedule; the answer
    /// is the schedule's JSON after it.
    fn schedule_event(&self, id: i64, start: bool) -> Result<String> {
        let _ = (id, start);
        Err(no_recorder())
    }

    // ---- upkeep ------------------------------------------------------------

    /// Verifies the engine's invariants; with `repair`, fixes what is safe.
    fn check(&self, repair: bool) -> Result<CheckReport>;
    /// Runs one round of maintenance now.
    fn run_maintenance(&self) -> Result<()>;
    /// Writes a checkpoint now.
    fn checkpoint(&self) -> Result<()>;
    /// Fails with `Closed` once [`Backend::close`] has begun. Answers from
    /// local state: no request to a server.
    fn check_open(&self) -> Result<()>;
    /// Clean shutdown (embedded: flush and sync everything, write the
    /// clean-shutdown checkpoint). The backend is closed even when this
    /// reports an error; every later call fails with `Closed`, and closing
    /// again returns `Ok(())`.
    fn close(&self) -> Result<()>;
}

/// Opens (or creates) the embedded engine whose catalog is in
/// `opts.data_dir`, as a backend.
pub fn open_local(opts: EngineOptions) -> Result<Arc<dyn Backend>> {
    Ok(Arc::new(Engine::open(opts)?))
}

impl SpaceJobHandle for SpaceJob {
    fn space(&self) -> SpaceId {
        self.space
    }
    fn progress(&self) -> u8 {
        SpaceJob::progress(self)
    }
    fn cancel(&self) {
        SpaceJob::cancel(self)
    }
    fn is_finished(&self) -> bool {
        SpaceJob::is_finished(self)
    }
    fn wait(self: Box<Self>) -> Result<SpaceId> {
        SpaceJob::wait(*self)
    }
}

/// The embedded backend: plain delegation to the engine's own methods,
/// each after [`Engine::check_open`] (the engine checks it itself only in
/// the calls that touch the disk).
impl Backend for Engine {
    fn initialize_space(&self, spec: SpaceSpec) -> Result<Box<dyn SpaceJobHandle>> {
        self.check_open()?;
        Ok(Box::new(Engine::initialize_space(self, spec)?))
    }
    fn restore_space(&self, path: &Path) -> Result<Box<dyn SpaceJobHandle>> {
        self.check_open()?;
        Ok(Box::new(Engine::restore_space(self, path)?))
    }
    fn spaces(&self) -> Result<Vec<SpaceInfo>> {
        self.check_open()?;
        Ok(Engine::spaces(self))
    }
    fn space(&self, id: SpaceId) -> Result<SpaceInfo> {
        self.check_open()?;
        Engine::space(self, id)
    }
    fn delete_space(&self, id: SpaceId) -> Result<()> {
        self.check_open()?;
        Engine::delete_space(self, id)
    }
    fn reinitialize_space(&self, id: SpaceId, confirm: Option<WipeConfirmation>) -> Result<()> {
        self.check_open()?;
        Engine::reinitialize_space(self, id, confirm)
    }

    fn create_pool(&self, spec: PoolSpec) -> Result<PoolId> {
        self.check_open()?;
        Engine::create_pool(self, spec)
    }
    fn edit_pool(&self, id: PoolId, edit: PoolEdit) -> Result<()> {
        self.check_open()?;
        Engine::edit_pool(self, id, edit)
    }
    fn delete_pool(&self, id: PoolId) -> Result<()> {
        self.check_open()?;
        Engine::delete_pool(self, id)
    }
    fn pools(&self) -> Result<Vec<PoolInfo>> {
        self.check_open()?;
        Ok(Engine::pools(self))
    }
    fn pool(&self, id: PoolId) -> Result<PoolInfo> {
        self.check_open()?;
        Engine::pool(self, id)
    }
    fn thresholds(&self) -> Result<Thresholds> {
        self.check_open()?;
        Ok(Engine::thresholds(self))
    }
    fn set_thresholds(&self, t: Thresholds) -> Result<()> {
        self.check_open()?;
        Engine::set_thresholds(self, t)
    }

    fn register_stream(&self, spec: StreamSpec) -> Result<StreamId> {
        self.check_open()?;
        Engine::register_stream(self, spec)
    }
    fn find_stream(&self, camera_id: &str, channel: u32, kind: StreamKind) -> Result<Option<StreamId>> {
        self.check_open()?;
        Ok(Engine::find_stream(self, camera_id, channel, kind))
    }
    fn streams(&self) -> Result<Vec<StreamInfo>> {
        self.check_open()?;
        Ok(Engine::streams(self))
    }
    fn stream(&self, id: StreamId) -> Result<StreamInfo> {
        self.check_open()?;
        Engine::stream(self, id)
    }
    fn append(&self, stream: StreamId, ts: Timestamp, key: bool, data: Bytes) -> Result<()> {
        // `Engine::append` checks `Closed` itself (the hot path: one check).
        Engine::append(self, stream, ts, key, data)
    }
    fn flush(&self, stream: StreamId) -> Result<()> {
        self.check_open()?;
        Engine::flush(self, stream)
    }
    fn sync(&self, stream: StreamId) -> Result<()> {
        self.check_open()?;
        Engine::sync(self, stream)
    }
    fn sync_streams(&self, streams: &[StreamId]) -> Result<()> {
        self.check_open()?;
        Engine::sync_streams(self, streams)
    }
    fn sync_all(&self) -> Result<()> {
        self.check_open()?;
        Engine::sync_all(self)
    }
    fn read(&self, stream: StreamId, start: Timestamp, end: Timestamp) -> Result<FrameStream> {
        self.check_open()?;
        Ok(Box::new(Engine::read(self, stream, start, end)?))
    }
    fn recorded_ranges(
        &self,
        stream: StreamId,
        start: Timestamp,
        end: Timestamp,
        tolerance_us: i64,
    ) -> Result<Vec<(Timestamp, Timestamp)>> {
        self.check_open()?;
        Engine::recorded_ranges(self, stream, start, end, tolerance_us)
    }

    fn lock(&self, stream: StreamId, start: Timestamp, end: Timestamp, expires: Option<Timestamp>) -> Result<LockId> {
        self.check_open()?;
        Engine::lock(self, stream, start, end, expires)
    }
    fn lock_pictures(
        &self,
        pool: PoolId,
        camera_id: &str,
        start: Timestamp,
        end: Timestamp,
        expires: Option<Timestamp>,
    ) -> Result<LockId> {
        self.check_open()?;
        Engine::lock_pictures(self, pool, camera_id, start, end, expires)
    }
    fn locks(&self) -> Result<Vec<LockConfig>> {
        self.check_open()?;
        Ok(Engine::locks(self))
    }
    fn extend_lock(&self, id: LockId, expires: Option<Timestamp>) -> Result<()> {
        self.check_open()?;
        Engine::extend_lock(self, id, expires)
    }
    fn unlock(&self, id: LockId) -> Result<()> {
        self.check_open()?;
        Engine::unlock(self, id)
    }

    fn today(&self) -> Result<Date> {
        self.check_open()?;
        Ok(Engine::today(self))
    }
    fn inspect_day(&self, stream: StreamId, date: Date) -> Result<DayInspection> {
        self.check_open()?;
        Engine::inspect_day(self, stream, date)
    }
    fn inspect_today(&self, stream: StreamId) -> Result<DayInspection> {
        self.check_open()?;
        Engine::inspect_today(self, stream)
    }
    fn inspect_month(&self, stream: StreamId, year: i32, month: u32) -> Result<Vec<DaySummary>> {
        self.check_open()?;
        Engine::inspect_month(self, stream, year, month)
    }

    fn put_picture(&self, pool: PoolId, meta: &PictureMeta, data: &[u8]) -> Result<PictureId> {
        self.check_open()?;
        Engine::put_picture(self, pool, meta, data)
    }
    fn sync_pictures(&self, pool: PoolId) -> Result<()> {
        self.check_open()?;
        Engine::sync_pictures(self, pool)
    }
    fn get_picture(&self, id: &PictureId) -> Result<Picture> {
        self.check_open()?;
        Engine::get_picture(self, id)
    }
    fn get_picture_range(&self, id: &PictureId, offset: u64, len: u64) -> Result<Picture> {
        self.check_open()?;
        Engine::get_picture_range(self, id, offset, len)
    }
    fn head_picture(&self, id: &PictureId) -> Result<PictureInfo> {
        self.check_open()?;
        Engine::head_picture(self, id)
    }
    fn delete_picture(&self, id: &PictureId) -> Result<()> {
        self.check_open()?;
        Engine::delete_picture(self, id)
    }
    fn picture_id_for_key(&self, key: &PictureKey) -> Result<PictureId> {
        self.check_open()?;
        Engine::picture_id_for_key(self, key)
    }
    fn get_picture_by_key(&self, key: &PictureKey) -> Result<Picture> {
        self.check_open()?;
        Engine::get_picture_by_key(self, key)
    }
    fn delete_picture_by_key(&self, key: &PictureKey) -> Result<()> {
        self.check_open()?;
        Engine::delete_picture_by_key(self, key)
    }
    fn list_keys(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, PictureId)>> {
        self.check_open()?;
        Engine::list_keys(self, bucket, prefix, after, limit)
    }
    fn list_pictures(&self, q: &PictureQuery) -> Result<Vec<PictureInfo>> {
        self.check_open()?;
        Engine::list_pictures(self, q)
    }

    fn poll_events(&self, after: u64, max: usize, wait: Duration) -> Result<Vec<Event>> {
        self.check_open()?;
        let feed = self.events();
        if !wait.is_zero() {
            feed.wait_newer(after, wait);
        }
        let mut events = feed.poll(after);
        events.truncate(max);
        Ok(events)
    }
    fn last_event_seq(&self) -> Result<u64> {
        self.check_open()?;
        Ok(self.events().last_seq())
    }

    fn check(&self, repair: bool) -> Result<CheckReport> {
        self.check_open()?;
        Engine::check(self, repair)
    }
    fn run_maintenance(&self) -> Result<()> {
        self.check_open()?;
        Engine::run_maintenance(self)
    }
    fn checkpoint(&self) -> Result<()> {
        self.check_open()?;
        Engine::checkpoint(self)
    }
    fn check_open(&self) -> Result<()> {
        Engine::check_open(self)
    }
    fn close(&self) -> Result<()> {
        Engine::close(self)
    }
}
