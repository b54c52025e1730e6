//! Identifiers and settings shared by the whole engine, named with the
//! manual's words.

use std::fmt;

/// Microseconds since the Unix epoch, UTC. Frame and lock times use it.
pub type Timestamp = i64;

/// Microseconds in one second.
pub const US_PER_SEC: i64 = 1_000_000;

/// Microseconds in one day.
pub const US_PER_DAY: i64 = 86_400 * US_PER_SEC;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $int:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $int);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A storage space's id (random, stored in its superblock).
    SpaceId,
    u32
);
id_type!(
    /// A resource pool's id (random u32; the VMS links cameras to it).
    PoolId,
    u32
);
id_type!(
    /// A registered video stream's id (random).
    StreamId,
    u64
);
id_type!(
    /// A lock's id (random).
    LockId,
    u64
);

/// What a resource pool stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// Video recordings only.
    Video,
    /// Pictures only.
    Picture,
    /// Both.
    Mixed,
}

impl PoolKind {
    pub(crate) fn code(self) -> u8 {
        match self {
            PoolKind::Video => 1,
            PoolKind::Picture => 2,
            PoolKind::Mixed => 3,
        }
    }
    pub(crate) fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => PoolKind::Video,
            2 => PoolKind::Picture,
            3 => PoolKind::Mixed,
            _ => return None,
        })
    }
    /// Whether video streams may be recorded into a pool of this kind.
    pub fn accepts_video(self) -> bool {
        matches!(self, PoolKind::Video | PoolKind::Mixed)
    }
    /// Whether pictures may be stored in a pool of this kind.
    pub fn accepts_pictures(self) -> bool {
        matches!(self, PoolKind::Picture | PoolKind::Mixed)
    }
}

/// What a full pool does (manual 3.5.2, "Overwrite Strategy").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverwriteStrategy {
    /// Recycle the oldest unlocked data to make room.
    OverwriteOldest,
    /// Refuse writes with [`crate::Error::PoolFull`].
    StopWhenFull,
}

impl OverwriteStrategy {
    pub(crate) fn code(self) -> u8 {
        match self {
            OverwriteStrategy::OverwriteOldest => 1,
            OverwriteStrategy::StopWhenFull => 2,
        }
    }
    pub(crate) fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => OverwriteStrategy::OverwriteOldest,
            2 => OverwriteStrategy::StopWhenFull,
            _ => return None,
        })
    }
}

/// Main or sub stream of a camera channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamKind {
    /// The full-resolution stream.
    Main,
    /// The low-resolution stream.
    Sub,
}

impl StreamKind {
    pub(crate) fn code(self) -> u8 {
        match self {
            StreamKind::Main => 1,
            StreamKind::Sub => 2,
        }
    }
    pub(crate) fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => StreamKind::Main,
            2 => StreamKind::Sub,
            _ => return None,
        })
    }
}

/// Storage thresholds (manual 3.8.2), in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// When a pool's free space falls below this, its oldest unlocked data is
    /// recycled ahead of time (pools with strategy overwrite). Default 10.
    pub overwrite_pct: u8,
    /// When a pool's free space falls below this, an alarm event is raised. Default 10.
    pub alarm_pct: u8,
    /// Free space to keep on a volume holding a storage space: initializing a
    /// space may not take the volume below it, and an alarm is raised when the
    /// volume falls below it. Default 0.
    pub volume_free_pct: u8,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { overwrite_pct: 10, alarm_pct: 10, volume_free_pct: 0 }
    }
}

/// A resource pool's settings as stored in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The pool id.
    pub id: PoolId,
    /// Unique display name.
    pub name: String,
    /// Video, picture or mixed.
    pub kind: PoolKind,
    /// What happens when full.
    pub strategy: OverwriteStrategy,
    /// Retention in days; 0 = no limit.
    pub cycle_days: u32,
    /// Max share of the capacity that locks may hold, in percent.
    pub max_lock_pct: u8,
    /// Segments reserved on each space (the pool's capacity, striped).
    pub quotas: Vec<(SpaceId, u32)>,
}

/// A registered stream as stored in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// The stream id.
    pub id: StreamId,
    /// The pool it records into.
    pub pool: PoolId,
    /// The VMS camera id.
    pub camera_id: String,
    /// The channel number.
    pub channel: u32,
    /// Main or sub stream.
    pub kind: StreamKind,
    /// Codec name, e.g. "H264".
    pub codec: String,
    /// Opaque codec configuration (e.g. SPS/PPS), returned to readers as is.
    pub codec_config: Vec<u8>,
}

/// What a lock protects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LockTarget {
    /// A video stream's frames.
    Stream(StreamId),
    /// One camera's pictures in a pool.
    Pictures {
        /// The picture (or mixed) pool.
        pool: PoolId,
        /// The camera.
        camera_id: String,
    },
}

/// A lock protecting a time range of a stream, or of a camera's pictures,
/// from overwrite and retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockConfig {
    /// The lock id.
    pub id: LockId,
    /// What it protects.
    pub target: LockTarget,
    /// Start of the locked range (inclusive).
    pub start: Timestamp,
    /// End of the locked range (inclusive).
    pub end: Timestamp,
    /// When the lock lapses by itself; `None` = until unlocked.
    pub expires: Option<Timestamp>,
}

/// A client-chosen name for a picture (for the S3 face): bucket + key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PictureKey {
    /// Bucket, 1..=63 bytes.
    pub bucket: String,
    /// Key, 1..=1024 bytes.
    pub key: String,
}

/// What is stored with a picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureMeta {
    /// The camera that took it (1..=256 bytes).
    pub camera_id: String,
    /// When it was taken (µs UTC).
    pub captured_at: Timestamp,
    /// MIME type, e.g. `image/jpeg` (at most 127 bytes, may be empty).
    pub content_type: String,
    /// Optional name (bucket + key).
    pub key: Option<PictureKey>,
}

impl LockConfig {
    /// Whether the lock is still in force at `now`.
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}
