//! # pstor-core
//!
//! The storage engine of pstor, an open storage access service for video
//! surveillance. It turns folders on local disks, RAID/iSCSI volumes and NAS
//! mounts into **storage spaces** of pre-allocated segments, groups them into
//! **resource pools** with overwrite strategies, cycles (retention) and lock
//! quotas, records camera **streams** into them, and reads time ranges back.
//! Pools of kind picture or mixed also store **pictures** (snapshots, face
//! and plate crops): [`Engine::put_picture`] returns a [`PictureId`] that
//! [`Engine::get_picture`] reads back with one positioned read.
//!
//! ```
//! use pstor_core::*;
//! # fn main() -> Result<()> {
//! # let tmp = tempfile::tempdir().unwrap();
//! # let dir = tmp.path();
//! let mut opts = EngineOptions::new(dir.join("engine"));
//! opts.min_space_capacity = 1 << 20; // tests may use tiny spaces
//! opts.segment_size = 256 << 10;
//! let engine = Engine::open(opts)?;
//! std::fs::create_dir(dir.join("space1")).unwrap();
//! let space = engine
//!     .initialize_space(SpaceSpec { path: dir.join("space1"), capacity: 4 << 20, segment_size: None })?
//!     .wait()?;
//! let pool = engine.create_pool(PoolSpec {
//!     name: "video".into(),
//!     kind: PoolKind::Video,
//!     capacity: 2 << 20,
//!     spaces: vec![space],
//!     strategy: OverwriteStrategy::OverwriteOldest,
//!     cycle_days: 30,
//!     max_lock_pct: 20,
//! })?;
//! let cam = engine.register_stream(StreamSpec {
//!     pool,
//!     camera_id: "cam-1".into(),
//!     channel: 1,
//!     kind: StreamKind::Main,
//!     codec: "H264".into(),
//!     codec_config: vec![],
//! })?;
//! for i in 0..50i64 {
//!     engine.append(cam, 1_000_000 + i * 40_000, i % 25 == 0, bytes::Bytes::from(vec![i as u8; 1000]))?;
//! }
//! engine.sync(cam)?; // durable from here on
//! let frames: Vec<Frame> = engine.read(cam, 1_500_000, 2_000_000)?.collect::<Result<_>>()?;
//! assert!(frames[0].key && frames[0].ts <= 1_500_000);
//! engine.close()?;
//! # Ok(()) }
//! ```
//!
//! It is **not** a file system, a database, or a video decoder: frames are
//! opaque bytes with a timestamp and a key-frame flag.
//!
//! `docs/format.md` describes every byte it writes; `docs/design.md` the
//! durability contract and the threads.

mod attach;
mod check;
mod checksum;
mod clock;
mod engine;
mod error;
mod error_code;
mod events;
mod export;
pub mod format;
mod home;
mod init;
mod inspect;
#[cfg(feature = "internals")]
pub mod internals;
pub mod io;
mod keys;
mod locks;
mod maintenance;
mod open_report;
mod picture_id;
mod picture_writer;
mod pictures;
mod pools;
mod read;
mod recovery;
mod space;
mod spaces;
mod store;
mod stream;
mod types;

pub use check::{CheckReport, Problem};
pub use checksum::Checksummed;
pub use clock::{Clock, FakeClock, SystemClock};
pub use engine::{Engine, EngineOptions, StreamInfo, StreamSpec, DEFAULT_MIN_SPACE_CAPACITY};
pub use error::{catch_panic, panic_message, Error, FullReason, Result};
pub use error_code::ErrorCode;
pub use events::{Event, EventFeed, EventKind, Subscription, EVENT_RING};
pub use export::{ExportRecords, FrameMeta, RecordHead, RecordRef};
pub use format::record::Frame;
pub use format::superblock::SUPERBLOCK_FILE;
pub use inspect::{Date, DayInspection, DaySummary, HourInspection, LocalDay};
pub use keys::KEY_INDEX_FILE;
pub use open_report::{OpenReport, SpaceRecovery};
pub use picture_id::{PictureId, PICTURE_ID_BYTES, PICTURE_ID_CHARS};
pub use pictures::{Picture, PictureInfo, PictureQuery};
pub use pools::{PoolEdit, PoolInfo, PoolSpec, PoolStatus, MAX_POOLS};
pub use read::FrameIter;
pub use recovery::RecoveryMode;
pub use space::SpaceStatus;
pub use spaces::{SpaceInfo, SpaceJob, SpaceSpec, WipeConfirmation};
pub use types::*;
