//! What the engine-level fuzz targets share: a tiny engine on the in-memory
//! backend (64 KiB segments, so a few hundred KiB of data seal and recycle
//! segments), and what was written to it.

use bytes::Bytes;
use pstor_core::io::{MemStorage, OpenMode, Storage};
use pstor_core::*;
use std::path::Path;
use std::sync::Arc;

/// 2026-11-23 00:00:00 UTC in µs.
pub const T0: Timestamp = 1_795_392_000 * US_PER_SEC;
/// Segment size.
pub const SEG: u64 = 64 << 10;
/// The space's folder on the in-memory backend.
pub const SPACE_DIR: &str = "/mem/space";
/// Cameras recorded.
pub const STREAMS: usize = 3;

/// Engine options for the tiny engine.
pub fn opts(mode: RecoveryMode) -> EngineOptions {
    let mut o = EngineOptions::new("/mem/engine");
    o.min_space_capacity = 256 << 10;
    o.segment_size = SEG;
    o.segments_per_file = 4;
    o.chunk_max_bytes = 6 << 10;
    o.background = false;
    o.recovery_mode = mode;
    o
}

/// A fresh engine with a space of 24 segments, a video pool of 14 with
/// [`STREAMS`] cameras and a picture pool of 8.
pub struct Rig {
    pub engine: Engine,
    pub storage: Arc<MemStorage>,
    pub clock: Arc<FakeClock>,
    pub streams: Vec<StreamId>,
    pub pictures: PoolId,
}

impl Rig {
    /// Builds it; panics only if the in-memory setup itself fails.
    pub fn new() -> Rig {
        let storage = Arc::new(MemStorage::new(64 << 20));
        let clock = Arc::new(FakeClock::new(T0));
        let dynstore: Arc<dyn Storage> = storage.clone();
        let engine = Engine::open_with(opts(RecoveryMode::default()), dynstore, clock.clone()).expect("open");
        storage.create_dir_all(Path::new(SPACE_DIR)).expect("mkdir");
        let space = engine
            .initialize_space(SpaceSpec { path: SPACE_DIR.into(), capacity: 24 * SEG, segment_size: None })
            .expect("init")
            .wait()
            .expect("init done");
        let pool = |name: &str, kind, segments| {
            engine
                .create_pool(PoolSpec {
                    name: name.into(),
                    kind,
                    capacity: segments * SEG,
                    spaces: vec![space],
                    strategy: OverwriteStrategy::OverwriteOldest,
                    cycle_days: 0,
                    max_lock_pct: 50,
                })
                .expect("pool")
        };
        let video = pool("video", PoolKind::Video, 14);
        let pictures = pool("pictures", PoolKind::Picture, 8);
        let streams = (0..STREAMS)
            .map(|n| {
                engine
                    .register_stream(StreamSpec {
                        pool: video,
                        camera_id: format!("cam-{n}"),
                        channel: 1,
                        kind: StreamKind::Main,
                        codec: "H264".into(),
                        codec_config: vec![],
                    })
                    .expect("register")
            })
            .collect();
        Rig { engine, storage, clock, streams, pictures }
    }

    /// Reopens on `storage` (a crash image or the same backend after close).
    pub fn reopen(&self, storage: Arc<MemStorage>, mode: RecoveryMode) -> Result<Engine> {
        let dynstore: Arc<dyn Storage> = storage;
        Engine::open_with(opts(mode), dynstore, self.clock.clone())
    }
}

impl Default for Rig {
    fn default() -> Self {
        Rig::new()
    }
}

/// Deterministic content for frame or picture `n` of `len` bytes.
pub fn content(n: u64, len: usize) -> Bytes {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Bytes::from(
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect::<Vec<u8>>(),
    )
}

/// Metadata of picture `n`.
pub fn picture_meta(n: u64, camera: u8) -> PictureMeta {
    PictureMeta {
        camera_id: format!("cam-{}", camera % 4),
        captured_at: T0 + n as i64 * 1_000,
        content_type: "image/jpeg".into(),
        key: n.is_multiple_of(3).then(|| PictureKey { bucket: "b".into(), key: format!("k{}", n % 7) }),
    }
}

/// Overwrites bytes of a file on the in-memory backend, clipped to its end;
/// whether anything was written.
pub fn overwrite(storage: &MemStorage, path: &Path, offset: u64, bytes: &[u8]) -> bool {
    let Ok(f) = storage.open(path, OpenMode::ReadWrite) else { return false };
    let Ok(len) = f.len() else { return false };
    if len == 0 || bytes.is_empty() {
        return false;
    }
    let offset = offset % len;
    let n = bytes.len().min((len - offset) as usize);
    f.write_all_at(&bytes[..n], offset).is_ok()
}

/// Everything a reader can ask of an engine, answers ignored: on damaged
/// data every call must return (an error or data), never panic or hang.
pub fn exercise(engine: &Engine, rig: &Rig, ids: &[PictureId]) {
    for &s in &rig.streams {
        if let Ok(it) = engine.read(s, T0, T0 + 3_600 * US_PER_SEC) {
            for f in it.take(10_000) {
                if f.is_err() {
                    break;
                }
            }
        }
        let _ = engine.recorded_ranges(s, T0, T0 + 3_600 * US_PER_SEC, US_PER_SEC);
    }
    for id in ids {
        let _ = engine.get_picture(id);
        let _ = engine.head_picture(id);
    }
    let q = PictureQuery {
        pool: rig.pictures,
        camera_id: None,
        start: Timestamp::MIN,
        end: Timestamp::MAX,
        limit: 50,
        after: None,
    };
    let _ = engine.list_pictures(&q);
    let _ = engine.list_keys("b", "", None, 50);
    let _ = engine.check(false);
    let _ = engine.check(true);
}
