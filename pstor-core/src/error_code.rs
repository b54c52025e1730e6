//! The stable number of each kind of error: what the C API returns, what the
//! SDK protocol carries and what the Python exceptions are keyed by. A
//! number never changes meaning; a retired one stays reserved.
//! `docs/error-codes.md` is the reference table (a test keeps it in step).

use crate::error::Error;

/// Generates [`ErrorCode`], its list and its texts from one table.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $num:literal, $c:literal, $text:literal;)*) => {
        /// A stable error number. `0` is success; `1..=99` are for the
        /// bindings' own failures (a NULL argument, a panic caught at the
        /// boundary, ...), which the engine never returns; engine errors are
        /// grouped by area from 100 on. [`ErrorCode::Other`] carries a
        /// number this build does not list (a newer server's), kept as is.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
            /// A number this build does not know, reported by a remote
            /// server of a later version: kept as it came (never one of the
            /// numbers listed above; [`ErrorCode::of`] makes sure).
            Other(u32),
        }

        impl ErrorCode {
            /// Every code this build knows, in number order ([`ErrorCode::Other`]
            /// is not one).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];

            /// Its number.
            pub fn number(self) -> u32 {
                match self {
                    $(ErrorCode::$name => $num,)*
                    ErrorCode::Other(n) => n,
                }
            }

            /// The name of the constant in C (`PSTOR_POOL_FULL`);
            /// `PSTOR_UNKNOWN` for a number this build does not know.
            pub fn c_name(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $c,)*
                    ErrorCode::Other(_) => "PSTOR_UNKNOWN",
                }
            }

            /// A one-line description, for when no detailed message is at hand.
            pub fn description(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $text,)*
                    ErrorCode::Other(_) => "an error number this version does not know (from a newer server)",
                }
            }
        }
    };
}

error_codes! {
    /// Success.
    Ok = 0, "PSTOR_OK", "success";
    /// A required pointer argument was NULL.
    NullParameter = 1, "PSTOR_NULL_PARAMETER", "a required argument was NULL";
    /// A panic was caught (a bug in pstor): in a background job such as a
    /// space initialization, or at a binding's boundary.
    Panic = 2, "PSTOR_PANIC", "internal error: a panic was caught (please report it)";
    /// A caller's buffer is too small for the output.
    BufferTooSmall = 3, "PSTOR_BUFFER_TOO_SMALL", "the output buffer is too small";
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 4, "PSTOR_INVALID_UTF8", "a string argument is not valid UTF-8";
    /// An error this build of the binding has no number for.
    Unknown = 99, "PSTOR_UNKNOWN", "an error without a number in this version";

    /// An I/O call failed.
    Io = 100, "PSTOR_IO", "an I/O call failed";
    /// Bytes on disk are not what they should be.
    Corrupt = 101, "PSTOR_CORRUPT", "corrupt data on disk";
    /// The data asked for was recycled while being read.
    Overwritten = 102, "PSTOR_OVERWRITTEN", "the data was overwritten while being read";

    /// A storage space path does not exist.
    PathNotFound = 200, "PSTOR_PATH_NOT_FOUND", "the path does not exist";
    /// A storage space path is not a directory.
    NotADirectory = 201, "PSTOR_NOT_A_DIRECTORY", "the path is not a directory";
    /// The folder is already a storage space.
    AlreadyInitialized = 202, "PSTOR_ALREADY_INITIALIZED", "the folder is already a storage space";
    /// The folder holds no storage space.
    NotASpace = 203, "PSTOR_NOT_A_SPACE", "the folder is not a storage space";
    /// The capacity is below the minimum.
    CapacityTooSmall = 204, "PSTOR_CAPACITY_TOO_SMALL", "the capacity is below the minimum";
    /// The volume lacks the free space asked for.
    InsufficientVolumeSpace = 205, "PSTOR_INSUFFICIENT_VOLUME_SPACE", "the volume has too little free space";
    /// A bad segment size.
    BadSegmentSize = 206, "PSTOR_BAD_SEGMENT_SIZE", "bad segment size";
    /// A space initialization was cancelled.
    Cancelled = 207, "PSTOR_CANCELLED", "the initialization was cancelled";
    /// No such storage space.
    SpaceNotFound = 208, "PSTOR_SPACE_NOT_FOUND", "storage space not found";
    /// The storage space is already attached.
    SpaceAlreadyKnown = 209, "PSTOR_SPACE_ALREADY_KNOWN", "the storage space is already attached";
    /// The storage space is lost (its folder vanished).
    SpaceLost = 210, "PSTOR_SPACE_LOST", "the storage space is lost";
    /// The storage space failed (an earlier I/O error).
    SpaceFailed = 211, "PSTOR_SPACE_FAILED", "the storage space has failed";
    /// The storage space's status does not allow this.
    SpaceStatus = 212, "PSTOR_SPACE_STATUS", "the storage space's status does not allow this";
    /// A destructive operation needs its explicit confirmation.
    ConfirmationRequired = 213, "PSTOR_CONFIRMATION_REQUIRED", "the operation needs an explicit confirmation";
    /// The folder is in use by another engine.
    InUse = 214, "PSTOR_IN_USE", "the folder is in use by another pstor engine";
    /// The data folder is a copy of another engine's (its catalog names that
    /// engine's storage spaces).
    EngineCopied = 215, "PSTOR_ENGINE_COPIED", "the data folder is a copy of another pstor engine's";

    /// The pool limit is reached.
    TooManyPools = 300, "PSTOR_TOO_MANY_POOLS", "too many resource pools";
    /// A pool with that name exists.
    DuplicatePoolName = 301, "PSTOR_DUPLICATE_POOL_NAME", "a resource pool with that name exists";
    /// No such pool.
    PoolNotFound = 302, "PSTOR_POOL_NOT_FOUND", "resource pool not found";
    /// The pool capacity exceeds the free capacity of its spaces.
    CapacityExceedsFree = 303, "PSTOR_CAPACITY_EXCEEDS_FREE", "the capacity exceeds what the spaces have free";
    /// A pool cannot shrink below what it uses.
    ShrinkBelowUsed = 304, "PSTOR_SHRINK_BELOW_USED", "the pool cannot shrink below what it uses";
    /// The pool still has locks.
    PoolHasLocks = 305, "PSTOR_POOL_HAS_LOCKS", "the resource pool still has locks";
    /// The pool refuses the write.
    PoolFull = 306, "PSTOR_POOL_FULL", "the resource pool is full";
    /// The pool is of the wrong kind (video vs picture).
    WrongPoolKind = 307, "PSTOR_WRONG_POOL_KIND", "the resource pool is of the wrong kind";

    /// No such stream.
    StreamNotFound = 400, "PSTOR_STREAM_NOT_FOUND", "stream not found";
    /// The stream is already registered.
    StreamExists = 401, "PSTOR_STREAM_EXISTS", "the stream is already registered";
    /// A frame's timestamp is before the stream's last one.
    OutOfOrder = 402, "PSTOR_OUT_OF_ORDER", "the frame is older than the stream's last frame";
    /// A frame's timestamp equals the stream's last one.
    DuplicateTimestamp = 403, "PSTOR_DUPLICATE_TIMESTAMP", "the frame repeats the stream's last timestamp";
    /// A frame is empty or too large.
    FrameSize = 404, "PSTOR_FRAME_SIZE", "the frame is empty or too large";

    /// A picture id is not well formed.
    InvalidPictureId = 500, "PSTOR_INVALID_PICTURE_ID", "the picture id is not well formed";
    /// No such picture.
    PictureNotFound = 501, "PSTOR_PICTURE_NOT_FOUND", "picture not found";
    /// No picture under that bucket and key.
    KeyNotFound = 502, "PSTOR_KEY_NOT_FOUND", "no picture under that key";
    /// A picture is empty or too large.
    PictureSize = 503, "PSTOR_PICTURE_SIZE", "the picture is empty or too large";
    /// The key index failed.
    KeyIndex = 504, "PSTOR_KEY_INDEX", "the picture key index failed";

    /// No such lock.
    LockNotFound = 600, "PSTOR_LOCK_NOT_FOUND", "lock not found";
    /// The lock would exceed the pool's lock quota.
    LockQuotaExceeded = 601, "PSTOR_LOCK_QUOTA_EXCEEDED", "the lock exceeds the pool's lock quota";

    /// The peer broke the SDK protocol (bad magic, version, checksum or body).
    Protocol = 700, "PSTOR_PROTOCOL", "the SDK protocol was broken (malformed frame or body)";
    /// The access key is unknown or the proof of the secret key is wrong.
    AuthFailed = 701, "PSTOR_AUTH_FAILED", "authentication failed (unknown access key or wrong secret key)";
    /// The server does not know this request, or it is not served on this port.
    UnknownRequest = 702, "PSTOR_UNKNOWN_REQUEST", "unknown request, or not served on this port";
    /// A frame is larger than the peer accepts.
    FrameTooLarge = 703, "PSTOR_FRAME_TOO_LARGE", "the protocol frame is larger than allowed";
    /// The server is at its connection limit or shutting down.
    Busy = 704, "PSTOR_BUSY", "the server is busy (connection limit) or shutting down";
    /// The peer did not answer in time.
    Timeout = 705, "PSTOR_TIMEOUT", "the peer did not answer in time";
    /// The connection could not be made or was lost; the outcome of
    /// requests in flight is unknown (only acknowledged writes are durable).
    Disconnected = 706, "PSTOR_DISCONNECTED", "not connected to the server, or the connection was lost";
    /// The operation is not available in this mode (embedded or remote).
    Unsupported = 707, "PSTOR_UNSUPPORTED", "the operation is not available in this mode";
    /// The server restarted since this client's unsynced writes went to
    /// it: the restarted server may not have them (a remote client checks
    /// the server instance id of every connection).
    ServerRestarted = 708, "PSTOR_SERVER_RESTARTED", "the server restarted: writes not synced before the restart may be lost";

    /// An argument is out of range or malformed.
    InvalidArgument = 900, "PSTOR_INVALID_ARGUMENT", "invalid argument";
    /// The engine is closed.
    Closed = 901, "PSTOR_CLOSED", "the engine is closed";
}

impl ErrorCode {
    /// The code with this number, if this version knows it.
    pub fn from_number(n: u32) -> Option<ErrorCode> {
        ErrorCode::ALL.binary_search_by_key(&n, |c| c.number()).ok().map(|i| ErrorCode::ALL[i])
    }

    /// The code with this number, known or not: a number this build does
    /// not list is [`ErrorCode::Other`] with that number (what a client
    /// reports for an error of a newer server), so it is never lost.
    pub fn of(n: u32) -> ErrorCode {
        ErrorCode::from_number(n).unwrap_or(ErrorCode::Other(n))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.c_name(), self.number())
    }
}

impl Error {
    /// The stable number of this kind of error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Io { .. } => ErrorCode::Io,
            Error::Corrupt(_) => ErrorCode::Corrupt,
            Error::Overwritten { .. } => ErrorCode::Overwritten,
            Error::PathNotFound(_) => ErrorCode::PathNotFound,
            Error::NotADirectory(_) => ErrorCode::NotADirectory,
            Error::AlreadyInitialized(_) => ErrorCode::AlreadyInitialized,
            Error::NotASpace { .. } => ErrorCode::NotASpace,
            Error::CapacityTooSmall { .. } => ErrorCode::CapacityTooSmall,
            Error::InsufficientVolumeSpace { .. } => ErrorCode::InsufficientVolumeSpace,
            Error::BadSegmentSize { .. } => ErrorCode::BadSegmentSize,
            Error::Cancelled(_) => ErrorCode::Cancelled,
            Error::SpaceNotFound(_) => ErrorCode::SpaceNotFound,
            Error::SpaceAlreadyKnown(_) => ErrorCode::SpaceAlreadyKnown,
            Error::SpaceLost(_) => ErrorCode::SpaceLost,
            Error::SpaceFailed(_) => ErrorCode::SpaceFailed,
            Error::SpaceStatus { .. } => ErrorCode::SpaceStatus,
            Error::ConfirmationRequired(_) => ErrorCode::ConfirmationRequired,
            Error::InUse(_) => ErrorCode::InUse,
            Error::EngineCopied { .. } => ErrorCode::EngineCopied,
            Error::TooManyPools { .. } => ErrorCode::TooManyPools,
            Error::DuplicatePoolName(_) => ErrorCode::DuplicatePoolName,
            Error::PoolNotFound(_) => ErrorCode::PoolNotFound,
            Error::CapacityExceedsFree { .. } => ErrorCode::CapacityExceedsFree,
            Error::ShrinkBelowUsed { .. } => ErrorCode::ShrinkBelowUsed,
            Error::PoolHasLocks(_) => ErrorCode::PoolHasLocks,
            Error::PoolFull { .. } => ErrorCode::PoolFull,
            Error::WrongPoolKind { .. } => ErrorCode::WrongPoolKind,
            Error::StreamNotFound(_) => ErrorCode::StreamNotFound,
            Error::StreamExists { .. } => ErrorCode::StreamExists,
            Error::OutOfOrder { .. } => ErrorCode::OutOfOrder,
            Error::DuplicateTimestamp { .. } => ErrorCode::DuplicateTimestamp,
            Error::FrameSize { .. } => ErrorCode::FrameSize,
            Error::InvalidPictureId(_) => ErrorCode::InvalidPictureId,
            Error::PictureNotFound(_) => ErrorCode::PictureNotFound,
            Error::KeyNotFound { .. } => ErrorCode::KeyNotFound,
            Error::PictureSize { .. } => ErrorCode::PictureSize,
            Error::KeyIndex(_) => ErrorCode::KeyIndex,
            Error::LockNotFound(_) => ErrorCode::LockNotFound,
            Error::LockQuotaExceeded { .. } => ErrorCode::LockQuotaExceeded,
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::Panic(_) => ErrorCode::Panic,
            Error::Closed => ErrorCode::Closed,
            Error::Remote { code, .. } => *code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_unique_sorted_and_round_trip() {
        for w in ErrorCode::ALL.windows(2) {
            assert!(w[0].number() < w[1].number(), "{} and {} out of order", w[0], w[1]);
        }
        for &c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_number(c.number()), Some(c));
            assert!(c.c_name().starts_with("PSTOR_") && !c.description().is_empty());
        }
        assert_eq!(ErrorCode::from_number(7), None);
        assert_eq!(ErrorCode::of(7), ErrorCode::Other(7));
        assert_eq!(ErrorCode::of(302), ErrorCode::PoolNotFound);
        assert_eq!(Error::Closed.code().number(), 901);
    }

    /// The reference table in docs/error-codes.md lists every code with its
    /// number and C name, and nothing else.
    #[test]
    fn the_reference_table_matches() {
        let doc = include_str!("../../docs/error-codes.md");
        // The management API's own codes (pstor-server) follow their heading.
        let engine = doc.split("## The management API's codes").next().unwrap_or(doc);
        let rows: Vec<(u32, &str)> = engine
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let n = cells.get(1)?.parse().ok()?;
                Some((n, cells.get(2)?.trim_matches('`')))
            })
            .collect();
        let want: Vec<(u32, &str)> = ErrorCode::ALL.iter().map(|c| (c.number(), c.c_name())).collect();
        assert_eq!(rows, want, "docs/error-codes.md is out of step with ErrorCode");
    }
}
