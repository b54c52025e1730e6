//! The engine's errors: one enum, each variant says what was wrong in words an
//! operator can act on. [`Error::code`] gives each kind its stable number
//! ([`ErrorCode`](crate::ErrorCode)), which the bindings and the protocol use.

use crate::types::*;
use std::path::PathBuf;

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a pool refuses a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullReason {
    /// Strategy "stop when full" and no free capacity left.
    StopWhenFull,
    /// Strategy "overwrite", but everything left is locked or still being written.
    OnlyLockedData,
    /// None of the pool's spaces is usable (lost or failed).
    NoUsableSpace,
    /// Strategy "overwrite", nothing locked, but every segment of the pool
    /// is open for writing: the pool has fewer segments than writers
    /// recording into it (each stream keeps one segment open).
    HeldOpen {
        /// Streams (and picture writers) holding the pool's segments open.
        writers: u32,
        /// The pool's segments on its usable spaces.
        segments: u32,
    },
}

impl std::fmt::Display for FullReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FullReason::StopWhenFull => "its strategy is stop-when-full and it has no free capacity",
            FullReason::OnlyLockedData => "only locked or open data is left to overwrite",
            FullReason::NoUsableSpace => "none of its storage spaces is usable",
            FullReason::HeldOpen { writers, segments } => {
                return write!(
                    f,
                    "all {segments} of its segments are held open by {writers} recording streams: a pool needs \
                     more segments than streams recording into it (one open segment each, plus room to overwrite)"
                )
            }
        })
    }
}

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What the engine was doing.
        context: String,
        /// The system error.
        #[source]
        source: std::io::Error,
    },
    /// Bytes on disk are not what they should be (checksum, magic, bounds).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The data asked for was recycled (overwritten) while being read.
    #[error("stream {stream}: the data at {ts} was overwritten while it was being read")]
    Overwritten {
        /// The stream.
        stream: StreamId,
        /// Start of the record that was recycled.
        ts: Timestamp,
    },
    /// A path given as a storage space does not exist.
    #[error("path does not exist: {0}")]
    PathNotFound(PathBuf),
    /// A path given as a storage space is not a directory.
    #[error("not a directory: {0}")]
    NotADirectory(PathBuf),
    /// The folder is already a storage space.
    #[error("{0} is already a storage space (restore it, or re-initialize it to wipe it)")]
    AlreadyInitialized(PathBuf),
    /// The folder holds no storage space (no valid superblock).
    #[error("{path} is not a storage space: {reason}")]
    NotASpace {
        /// The folder.
        path: PathBuf,
        /// What was missing or wrong.
        reason: String,
    },
    /// The requested capacity is below the minimum.
    #[error("capacity {requested} bytes is below the minimum of {minimum} bytes")]
    CapacityTooSmall {
        /// Requested bytes.
        requested: u64,
        /// Minimum bytes.
        minimum: u64,
    },
    /// The volume lacks the free space the request needs.
    #[error("the volume has {available} bytes available, {requested} bytes are needed")]
    InsufficientVolumeSpace {
        /// Bytes needed (including the volume free-space threshold).
        requested: u64,
        /// Bytes available.
        available: u64,
    },
    /// The segment size is unusable.
    #[error("bad segment size {size}: {reason}")]
    BadSegmentSize {
        /// The size given.
        size: u64,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Initialization was cancelled.
    #[error("initialization of {0} was cancelled")]
    Cancelled(PathBuf),
    /// No space with that id.
    #[error("storage space {0} not found")]
    SpaceNotFound(SpaceId),
    /// The space was already known to this engine.
    #[error("storage space {0} is already attached to this engine")]
    SpaceAlreadyKnown(SpaceId),
    /// The space's folder vanished or became unreadable.
    #[error("storage space {0} is lost (its folder vanished or is unreadable)")]
    SpaceLost(SpaceId),
    /// The space had a failed fsync or other fatal I/O error.
    #[error("storage space {0} has failed (an earlier I/O error); check the volume, then reopen")]
    SpaceFailed(SpaceId),
    /// The operation needs a space in another status.
    #[error("storage space {space} is {status:?}; {needed}")]
    SpaceStatus {
        /// The space.
        space: SpaceId,
        /// Its current status.
        status: crate::SpaceStatus,
        /// What the operation needs.
        needed: &'static str,
    },
    /// A destructive operation was asked without its confirmation.
    #[error("refused: {0}")]
    ConfirmationRequired(&'static str),
    /// 20 pools exist already.
    #[error("at most {max} resource pools may exist")]
    TooManyPools {
        /// The limit.
        max: usize,
    },
    /// Another pool has this name.
    #[error("a resource pool named {0:?} exists already")]
    DuplicatePoolName(String),
    /// No pool with that id.
    #[error("resource pool {0} not found")]
    PoolNotFound(PoolId),
    /// More capacity asked than the spaces have unreserved.
    #[error("requested {requested} bytes but the storage spaces have {available} bytes unreserved")]
    CapacityExceedsFree {
        /// Bytes requested.
        requested: u64,
        /// Bytes available.
        available: u64,
    },
    /// A pool may not shrink below what it uses.
    #[error("cannot shrink pool {pool} to {requested} bytes: {used} bytes are in use")]
    ShrinkBelowUsed {
        /// The pool.
        pool: PoolId,
        /// New capacity asked.
        requested: u64,
        /// Bytes in use.
        used: u64,
    },
    /// The pool holds locked data; unlock it first.
    #[error("resource pool {0} holds locked data; unlock it first")]
    PoolHasLocks(PoolId),
    /// The pool cannot take the write.
    #[error("resource pool {pool} is full: {reason}")]
    PoolFull {
        /// The pool.
        pool: PoolId,
        /// Why.
        reason: FullReason,
    },
    /// The pool's kind does not take this data.
    #[error("resource pool {pool} is a {kind:?} pool")]
    WrongPoolKind {
        /// The pool.
        pool: PoolId,
        /// Its kind.
        kind: PoolKind,
    },
    /// An error reported by a remote pstor-server (or by the connection to
    /// it), carried by its stable number and the server's message.
    #[error("{message}")]
    Remote {
        /// The stable number (the same as the engine's error would have).
        code: crate::ErrorCode,
        /// The message, in words an operator can act on.
        message: String,
    },
    /// An argument was invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The data folder is a copy (`cp -r`) of another engine's, which still
    /// exists: its catalog names that engine's storage spaces, and opening
    /// it would write them.
    #[error(
        "{here} is a copy of the pstor engine in {original}, whose storage spaces its catalog names (opening it \
         would write that engine's spaces): open the original, move the folder instead of copying it, or start \
         a new engine and restore_space the spaces it should have"
    )]
    EngineCopied {
        /// The folder being opened.
        here: PathBuf,
        /// Where the engine it was copied from lives.
        original: PathBuf,
    },
    /// A panic was caught (a bug in pstor): in a background job, or at a
    /// binding's boundary.
    #[error("internal error (please report it): {0}")]
    Panic(String),
    /// No stream with that id.
    #[error("stream {0} not found")]
    StreamNotFound(StreamId),
    /// A stream with the same camera, channel and kind exists.
    #[error("camera {camera_id} channel {channel} {kind:?} is already registered as stream {existing}")]
    StreamExists {
        /// Camera id.
        camera_id: String,
        /// Channel.
        channel: u32,
        /// Main or sub.
        kind: StreamKind,
        /// The existing stream.
        existing: StreamId,
    },
    /// A frame's timestamp is not after the previous one.
    #[error("stream {stream}: frame at {got} is not after the previous frame at {last}")]
    OutOfOrder {
        /// The stream.
        stream: StreamId,
        /// Previous timestamp.
        last: Timestamp,
        /// Offered timestamp.
        got: Timestamp,
    },
    /// A frame with the same timestamp was already appended.
    #[error("stream {stream}: duplicate frame timestamp {ts}")]
    DuplicateTimestamp {
        /// The stream.
        stream: StreamId,
        /// The timestamp.
        ts: Timestamp,
    },
    /// A frame is too large (or empty).
    #[error("frame of {len} bytes refused (allowed 1..={max})")]
    FrameSize {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A picture id that is not well formed (length, characters, fields).
    #[error("invalid picture id: {0}")]
    InvalidPictureId(String),

    /// No such picture: never stored, deleted, or overwritten (its segment
    /// was recycled), or the id was forged.
    #[error("picture {0} not found (deleted, overwritten, or never stored)")]
    PictureNotFound(String),

    /// No picture is stored under this bucket and key.
    #[error("no picture under bucket {bucket:?} key {key:?}")]
    KeyNotFound {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },

    /// A picture that is empty or larger than the limit.
    #[error("picture of {len} bytes refused (allowed 1..={max})")]
    PictureSize {
        /// Its size.
        len: usize,
        /// The largest accepted.
        max: usize,
    },

    /// The key index could not be read or written.
    #[error("key index: {0}")]
    KeyIndex(String),

    /// No lock with that id.
    #[error("lock {0} not found")]
    LockNotFound(LockId),
    /// Locking would exceed the pool's max-lock percentage.
    #[error("lock refused: pool {pool} may lock {limit} bytes, {locked} are locked and this needs {requested} more ({} left)", limit.saturating_sub(*locked))]
    LockQuotaExceeded {
        /// The pool.
        pool: PoolId,
        /// Bytes the new lock would add.
        requested: u64,
        /// Bytes already locked.
        locked: u64,
        /// The pool's lock limit in bytes.
        limit: u64,
    },
    /// Another process (or engine) has this folder open.
    #[error("{0} is in use by another pstor engine (lock held on its pstor.lock)")]
    InUse(PathBuf),
    /// The engine was closed.
    #[error("the engine is closed")]
    Closed,
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}

/// What a caught panic said: its message when it carried one (`panic!` with
/// a string or a format), else "unknown panic".
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs `f`; a panic in it becomes [`Error::Panic`] naming `what` was
/// running, so a job thread or a binding reports a bug instead of dying.
pub fn catch_panic<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|panic| Err(Error::Panic(format!("{what} panicked: {}", panic_message(panic.as_ref())))))
}

impl From<crate::format::DecodeError> for Error {
    fn from(e: crate::format::DecodeError) -> Self {
        Error::Corrupt(e.0)
    }
}
