//! The cxx bridge: the types and functions the C++ side sees, in namespace
//! `pstor::ffi`. C++ programs do not use them directly: the hand-written
//! `include/pstor.hpp` wraps them into `pstor::Engine` and friends and turns
//! `rust::Error` into `pstor::Error` with the stable number
//! ([`last_error_code`]).
//!
//! Conventions of the bridge (cxx has no `Option`): an optional value is a
//! `has_*` flag next to it; `0` is "none" for ids the engine never hands out
//! as 0 (streams, locks); segment size `0` means the engine's default.
// The `#[cxx::bridge]` macro expands to `extern "C"` shims with
// `#[export_name]` and `unsafe` blocks around the raw calls it generates;
// that generated code is the only unsafe code in this crate (a test checks
// that no unsafe block is written by hand).
#![allow(unsafe_code)]

use crate::engine::{
    check_picture_id, connect_engine, default_engine_options, error_code_description, error_code_name, last_error_code,
    open_engine, Engine, FrameReader, Picture, SpaceJob,
};

#[cxx::bridge(namespace = "pstor::ffi")]
pub(crate) mod ffi {
    /// Engine settings for [`open_engine`]; start from
    /// [`default_engine_options`].
    #[derive(Debug, Clone, Copy)]
    struct EngineOptions {
        /// Smallest storage space accepted, in bytes (default 5 GiB).
        min_space_capacity: u64,
        /// Segment size of new storage spaces, in bytes (default 256 MiB).
        segment_size: u64,
        /// Local time zone for the video inspection's days and hours, in
        /// minutes east of UTC (default 0).
        utc_offset_minutes: i32,
    }

    /// What a resource pool stores.
    #[repr(u8)]
    #[derive(Debug)]
    enum PoolKind {
        /// Video recordings only.
        Video = 1,
        /// Pictures only.
        Picture = 2,
        /// Both.
        Mixed = 3,
    }

    /// What a full pool does.
    #[repr(u8)]
    #[derive(Debug)]
    enum OverwriteStrategy {
        /// Recycle the oldest unlocked data.
        OverwriteOldest = 1,
        /// Refuse writes with `PoolFull`.
        StopWhenFull = 2,
    }

    /// Main or sub stream of a camera channel.
    #[repr(u8)]
    #[derive(Debug)]
    enum StreamKind {
        /// Full resolution.
        Main = 1,
        /// Low resolution.
        Sub = 2,
    }

    /// Status of a storage space.
    #[repr(u8)]
    #[derive(Debug)]
    enum SpaceStatus {
        /// Known, but its folder holds no space (wiped by hand).
        Uninitialized = 0,
        /// Being initialized (see progress).
        Initializing = 1,
        /// In service.
        Normal = 2,
        /// Its segments are being scanned (see progress).
        Scanning = 3,
        /// Being restored from disk (see progress).
        Restoring = 4,
        /// Its folder vanished or became unreadable.
        Lost = 5,
        /// A fatal I/O error; no more writes go to it.
        Error = 6,
    }

    /// Status of a resource pool.
    #[repr(u8)]
    #[derive(Debug)]
    enum PoolStatus {
        /// All its spaces are in service.
        Normal = 0,
        /// Some of its spaces are lost or failed.
        Degraded = 1,
        /// None of its spaces is usable.
        Offline = 2,
    }

    /// The stable error numbers (docs/error-codes.md), as C++ constants
    /// `pstor::ErrorCode::PoolFull` and so on. A test keeps this list equal
    /// to `pstor_core::ErrorCode::ALL`. A number missing here still reaches
    /// C++ as its number.
    #[repr(u32)]
    #[derive(Debug)]
    enum ErrorCode {
        /// Success.
        Ok = 0,
        /// A required argument was NULL.
        NullParameter = 1,
        /// A panic was caught at the boundary (a bug in pstor).
        Panic = 2,
        /// A caller's buffer is too small.
        BufferTooSmall = 3,
        /// A string argument is not valid UTF-8.
        InvalidUtf8 = 4,
        /// An error without a number in this version.
        Unknown = 99,
        /// An I/O call failed.
        Io = 100,
        /// Corrupt data on disk.
        Corrupt = 101,
        /// The data was overwritten while being read.
        Overwritten = 102,
        /// The path does not exist.
        PathNotFound = 200,
        /// The path is not a directory.
        NotADirectory = 201,
        /// The folder is already a storage space.
        AlreadyInitialized = 202,
        /// The folder is not a storage space.
        NotASpace = 203,
        /// The capacity is below the minimum.
        CapacityTooSmall = 204,
        /// The volume has too little free space.
        InsufficientVolumeSpace = 205,
        /// Bad segment size.
        BadSegmentSize = 206,
        /// The initialization was cancelled.
        Cancelled = 207,
        /// Storage space not found.
        SpaceNotFound = 208,
        /// The storage space is already attached.
        SpaceAlreadyKnown = 209,
        /// The storage space is lost.
        SpaceLost = 210,
        /// The storage space has failed.
        SpaceFailed = 211,
        /// The storage space's status does not allow this.
        SpaceStatus = 212,
        /// The operation needs an explicit confirmation.
        ConfirmationRequired = 213,
        /// The folder is in use by another engine.
        InUse = 214,
        /// The data folder is a copy of another engine's.
        EngineCopied = 215,
        /// Too many resource pools.
        TooManyPools = 300,
        /// A resource pool with that name exists.
        DuplicatePoolName = 301,
        /// Resource pool not found.
        PoolNotFound = 302,
        /// The capacity exceeds what the spaces have free.
        CapacityExceedsFree = 303,
        /// The pool cannot shrink below what it uses.
        ShrinkBelowUsed = 304,
        /// The resource pool still has locks.
        PoolHasLocks = 305,
        /// The resource pool is full.
        PoolFull = 306,
        /// The resource pool is of the wrong kind.
        WrongPoolKind = 307,
        /// Stream not found.
        StreamNotFound = 400,
        /// The stream is already registered.
        StreamExists = 401,
        /// The frame is older than the stream's last frame.
        OutOfOrder = 402,
        /// The frame repeats the stream's last timestamp.
        DuplicateTimestamp = 403,
        /// The frame is empty or too large.
        FrameSize = 404,
        /// The picture id is not well formed.
        InvalidPictureId = 500,
        /// Picture not found.
        PictureNotFound = 501,
        /// No picture under that key.
        KeyNotFound = 502,
        /// The picture is empty or too large.
        PictureSize = 503,
        /// The picture key index failed.
        KeyIndex = 504,
        /// Lock not found.
        LockNotFound = 600,
        /// The lock exceeds the pool's lock quota.
        LockQuotaExceeded = 601,
        /// The SDK protocol was broken (bad magic, version, checksum or body).
        Protocol = 700,
        /// Authentication failed: unknown access key, or wrong secret key.
        AuthFailed = 701,
        /// The server does not know the request, or does not serve it on this port.
        UnknownRequest = 702,
        /// A protocol frame is larger than the peer accepts.
        FrameTooLarge = 703,
        /// The server is at its connection limit or shutting down.
        Busy = 704,
        /// The peer did not answer in time.
        Timeout = 705,
        /// Not connected, or the connection was lost (the outcome of a
        /// request in flight is unknown).
        Disconnected = 706,
        /// The operation is not available in this mode (embedded or remote).
        Unsupported = 707,
        /// The server restarted since writes no sync acknowledged were sent
        /// to it: they may be lost (remote mode).
        ServerRestarted = 708,
        /// Invalid argument.
        InvalidArgument = 900,
        /// The engine is closed.
        Closed = 901,
    }

    /// A time range, µs UTC, both ends inclusive.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct TimeRange {
        /// First µs.
        start: i64,
        /// Last µs.
        end: i64,
    }

    /// A calendar day.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Date {
        /// Year, e.g. 2026.
        year: i32,
        /// 1..=12.
        month: u32,
        /// 1..=31.
        day: u32,
    }

    /// One hour of a day's video inspection.
    #[derive(Debug, Clone)]
    struct HourInspection {
        /// 0..=23, local time.
        hour: u32,
        /// Seconds of the hour with video.
        recorded_secs: u32,
        /// Missing stretches within the hour.
        gaps: Vec<TimeRange>,
        /// Whether the hour has any gap (an exception hour).
        exception: bool,
        /// Whether the hour is only partly past (today).
        partial: bool,
    }

    /// A day's video inspection of one stream.
    #[derive(Debug, Clone)]
    struct DayInspection {
        /// The stream.
        stream: u64,
        /// The day.
        date: Date,
        /// Its 24 hours.
        hours: Vec<HourInspection>,
        /// Seconds with video over the day.
        recorded_secs: u64,
        /// Hours with a gap.
        exception_hours: u32,
    }

    /// One day of a month's inspection.
    #[derive(Debug, Clone, Copy)]
    struct DaySummary {
        /// The day.
        date: Date,
        /// Seconds with video.
        recorded_secs: u64,
        /// Hours with a gap.
        exception_hours: u32,
    }

    /// A storage space as listed.
    #[derive(Debug, Clone)]
    struct SpaceInfo {
        /// Its id.
        id: u32,
        /// Its folder.
        path: String,
        /// Its status.
        status: SpaceStatus,
        /// Progress in percent while initializing, scanning or restoring.
        progress: u8,
        /// Capacity in bytes.
        capacity: u64,
        /// Bytes holding data.
        used: u64,
        /// Bytes free.
        free: u64,
        /// Bytes promised to pools.
        reserved: u64,
        /// Segment size in bytes.
        segment_size: u64,
        /// Why it is lost or failed (empty otherwise).
        detail: String,
    }

    /// A resource pool as listed.
    #[derive(Debug, Clone)]
    struct PoolInfo {
        /// Its id.
        id: u32,
        /// Its name.
        name: String,
        /// What it stores.
        kind: PoolKind,
        /// What it does when full.
        strategy: OverwriteStrategy,
        /// Retention in days (0: keep until overwritten).
        cycle_days: u32,
        /// Most of its capacity that locks may hold, in percent.
        max_lock_pct: u8,
        /// Its status.
        status: PoolStatus,
        /// Capacity in bytes.
        capacity: u64,
        /// Bytes holding data.
        used: u64,
        /// Capacity minus used.
        free: u64,
        /// Bytes protected by locks.
        locked: u64,
    }

    /// A lock in force.
    #[derive(Debug, Clone)]
    struct LockInfo {
        /// Its id.
        id: u64,
        /// The stream it protects (0 for a pictures lock).
        stream: u64,
        /// The pool of a pictures lock (0 for a stream lock).
        pool: u32,
        /// The camera of a pictures lock (empty for a stream lock).
        camera_id: String,
        /// The protected range.
        range: TimeRange,
        /// Whether it expires.
        has_expiry: bool,
        /// When it expires (µs UTC), if `has_expiry`.
        expires: i64,
    }

    /// What is known about a stored picture.
    #[derive(Debug, Clone)]
    struct PictureInfo {
        /// Its id, 32 URL-safe characters.
        id: String,
        /// The camera that took it.
        camera_id: String,
        /// When it was taken (µs UTC).
        captured_at: i64,
        /// MIME type, e.g. `image/jpeg`.
        content_type: String,
        /// Whether it was stored under a bucket and key.
        has_key: bool,
        /// The bucket, if `has_key`.
        bucket: String,
        /// The key, if `has_key`.
        key: String,
        /// When pstor stored it (µs UTC).
        stored_at: i64,
        /// Size of its data in bytes.
        size: u64,
        /// MD5 of its data, 32 lowercase hex digits (the S3 ETag).
        etag: String,
    }

    extern "Rust" {
        /// An open engine. Every method takes `&self` and may be called
        /// from many threads at once.
        type Engine;
        /// A running storage space initialization.
        type SpaceJob;
        /// Frames of a time range being read; one thread at a time.
        type FrameReader;
        /// A picture read back (owns its bytes).
        type Picture;

        /// The stable number of the last failure on the calling thread (0 if
        /// none yet). The C++ wrapper reads it right after catching
        /// `rust::Error`, before any other call on that thread.
        fn last_error_code() -> u32;
        /// `PSTOR_POOL_FULL` for 306; `PSTOR_UNKNOWN` for a number this
        /// version does not know.
        fn error_code_name(code: u32) -> &'static str;
        /// A code's one-line description.
        fn error_code_description(code: u32) -> &'static str;
        /// The production defaults.
        fn default_engine_options() -> EngineOptions;
        /// Checks the 32-character text form of a picture id.
        fn check_picture_id(text: &str) -> Result<()>;

        /// Opens (or creates) the engine whose catalog is in `data_dir`.
        fn open_engine(data_dir: &str, options: &EngineOptions) -> Result<Box<Engine>>;
        /// Connects to a pstor-server (SDK ports) and authenticates; the
        /// engine's calls then go to the server. Timeouts in ms.
        #[allow(clippy::too_many_arguments)]
        fn connect_engine(
            host: &str,
            signalling_port: u16,
            data_port: u16,
            access_key: &str,
            secret_key: &str,
            connect_timeout_ms: i64,
            request_timeout_ms: i64,
            data_connections: u32,
        ) -> Result<Box<Engine>>;
        /// Clean shutdown (remote: closes the client's connections); later
        /// calls fail with `Closed`. Closing twice is fine.
        fn close(self: &Engine) -> Result<()>;

        /// Starts initializing folder `path` into a storage space.
        fn initialize_space(self: &Engine, path: &str, capacity: u64, segment_size: u64) -> Result<Box<SpaceJob>>;
        /// Starts restoring a storage space found on disk.
        fn restore_space(self: &Engine, path: &str) -> Result<Box<SpaceJob>>;
        /// Every storage space.
        fn spaces(self: &Engine) -> Result<Vec<SpaceInfo>>;
        /// The space being initialized.
        fn space(self: &SpaceJob) -> u32;
        /// Progress in percent.
        fn progress(self: &SpaceJob) -> u8;
        /// Whether the job has finished (then `wait` does not block).
        fn is_finished(self: &SpaceJob) -> bool;
        /// Asks the job to stop; `wait` then fails with `Cancelled`.
        fn cancel(self: &SpaceJob);
        /// Waits for the job; the space id on success. Again after that: the id.
        fn wait(self: &mut SpaceJob) -> Result<u32>;

        /// Creates a resource pool over `spaces`.
        #[allow(clippy::too_many_arguments)]
        fn create_pool(
            self: &Engine,
            name: &str,
            kind: PoolKind,
            capacity: u64,
            spaces: &[u32],
            strategy: OverwriteStrategy,
            cycle_days: u32,
            max_lock_pct: u8,
        ) -> Result<u32>;
        /// Deletes an empty pool without locks.
        fn delete_pool(self: &Engine, pool: u32) -> Result<()>;
        /// Every resource pool.
        fn pools(self: &Engine) -> Result<Vec<PoolInfo>>;

        /// Registers a camera stream into a pool; its id.
        fn register_stream(
            self: &Engine,
            pool: u32,
            camera_id: &str,
            channel: u32,
            kind: StreamKind,
            codec: &str,
            codec_config: &[u8],
        ) -> Result<u64>;
        /// The id of a registered stream, or 0.
        fn find_stream(self: &Engine, camera_id: &str, channel: u32, kind: StreamKind) -> Result<u64>;
        /// Appends one frame (copied) to a stream.
        fn append(self: &Engine, stream: u64, ts: i64, key: bool, data: &[u8]) -> Result<()>;
        /// Makes a stream's appended frames durable.
        fn sync(self: &Engine, stream: u64) -> Result<()>;
        /// Makes every stream's appended frames durable.
        fn sync_all(self: &Engine) -> Result<()>;
        /// Starts reading `[start, end]` from the key frame at or before `start`.
        fn read(self: &Engine, stream: u64, start: i64, end: i64) -> Result<Box<FrameReader>>;
        /// Moves to the next frame: false at the end of the range.
        fn next(self: &mut FrameReader) -> Result<bool>;
        /// The current frame's timestamp.
        fn ts(self: &FrameReader) -> i64;
        /// Whether the current frame is a key frame.
        fn key(self: &FrameReader) -> bool;
        /// The current frame's bytes, valid until the next `next` or the
        /// reader's end (empty before the first `next`).
        fn data(self: &FrameReader) -> &[u8];
        /// Recorded time ranges within `[start, end]`, merging gaps up to
        /// `tolerance_us`.
        fn recorded_ranges(
            self: &Engine,
            stream: u64,
            start: i64,
            end: i64,
            tolerance_us: i64,
        ) -> Result<Vec<TimeRange>>;

        /// Locks a stream's time range against overwrite and retention.
        fn lock(self: &Engine, stream: u64, start: i64, end: i64, has_expiry: bool, expires: i64) -> Result<u64>;
        /// Locks one camera's pictures in a pool, captured within the range.
        #[allow(clippy::too_many_arguments)]
        fn lock_pictures(
            self: &Engine,
            pool: u32,
            camera_id: &str,
            start: i64,
            end: i64,
            has_expiry: bool,
            expires: i64,
        ) -> Result<u64>;
        /// Removes a lock.
        fn unlock(self: &Engine, lock: u64) -> Result<()>;
        /// The locks in force.
        fn locks(self: &Engine) -> Result<Vec<LockInfo>>;

        /// Today in the engine's time zone.
        fn today(self: &Engine) -> Result<Date>;
        /// A day's video inspection.
        fn inspect_day(self: &Engine, stream: u64, date: Date) -> Result<DayInspection>;
        /// A month's video inspection, day by day.
        fn inspect_month(self: &Engine, stream: u64, year: i32, month: u32) -> Result<Vec<DaySummary>>;

        /// Stores a picture; its id (readable at once, durable after
        /// `sync_pictures`). Without `has_key`, `bucket` and `key` are ignored.
        #[allow(clippy::too_many_arguments)]
        fn put_picture(
            self: &Engine,
            pool: u32,
            camera_id: &str,
            captured_at: i64,
            content_type: &str,
            has_key: bool,
            bucket: &str,
            key: &str,
            data: &[u8],
        ) -> Result<String>;
        /// Makes a pool's stored pictures durable.
        fn sync_pictures(self: &Engine, pool: u32) -> Result<()>;
        /// Reads a picture by id.
        fn get_picture(self: &Engine, id: &str) -> Result<Box<Picture>>;
        /// Reads the picture stored under a bucket and key.
        fn get_picture_by_key(self: &Engine, bucket: &str, key: &str) -> Result<Box<Picture>>;
        /// A picture's metadata, without its data.
        fn head_picture(self: &Engine, id: &str) -> Result<PictureInfo>;
        /// Deletes a picture: never served again.
        fn delete_picture(self: &Engine, id: &str) -> Result<()>;
        /// Pictures of a pool by capture time within `[start, end]`
        /// (`camera_id` empty: every camera), at most `limit`, after the
        /// listing position (`after_id` empty: from the start).
        #[allow(clippy::too_many_arguments)]
        fn list_pictures(
            self: &Engine,
            pool: u32,
            camera_id: &str,
            start: i64,
            end: i64,
            limit: usize,
            after_ts: i64,
            after_id: &str,
        ) -> Result<Vec<PictureInfo>>;
        /// The picture's metadata.
        fn info(self: &Picture) -> PictureInfo;
        /// The picture's bytes, valid as long as the picture.
        fn data(self: &Picture) -> &[u8];
    }
}
