//! Shared helpers for the integration tests: tiny spaces, fake clock,
//! synthetic camera frames.
#![allow(dead_code)]

use bytes::Bytes;
use pstor_core::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// 2026-11-23 00:00:00 UTC in µs.
pub const T0: Timestamp = 1_795_392_000 * US_PER_SEC;
pub const SEG: u64 = 256 << 10;

pub fn opts(dir: &Path) -> EngineOptions {
    let mut o = EngineOptions::new(dir.join("engine"));
    o.min_space_capacity = 1 << 20;
    o.segment_size = SEG;
    o.segments_per_file = 4;
    o.chunk_max_bytes = 32 << 10;
    o.background = false;
    o
}

pub struct Rig {
    pub engine: Engine,
    pub clock: Arc<FakeClock>,
    pub storage: Arc<dyn pstor_core::io::Storage>,
    pub dir: PathBuf,
}

pub fn open(dir: &Path, storage: Arc<dyn pstor_core::io::Storage>, clock: Arc<FakeClock>) -> Engine {
    Engine::open_with(opts(dir), storage, clock).expect("open engine")
}

/// A fresh engine with one space of `segments` segments and one pool using `pool_segments` of them.
pub fn rig(dir: &Path, segments: u64, pool_segments: u64, strategy: OverwriteStrategy) -> (Rig, SpaceId, PoolId) {
    let clock = Arc::new(FakeClock::new(T0));
    let storage: Arc<dyn pstor_core::io::Storage> = Arc::new(pstor_core::io::OsStorage::new());
    let engine = open(dir, Arc::clone(&storage), Arc::clone(&clock));
    let sp = dir.join("space1");
    std::fs::create_dir_all(&sp).expect("mkdir");
    let space = engine
        .initialize_space(SpaceSpec { path: sp, capacity: segments * SEG, segment_size: None })
        .expect("init")
        .wait()
        .expect("init done");
    let pool = engine
        .create_pool(PoolSpec {
            name: "video".into(),
            kind: PoolKind::Video,
            capacity: pool_segments * SEG,
            spaces: vec![space],
            strategy,
            cycle_days: 0,
            max_lock_pct: 50,
        })
        .expect("pool");
    (Rig { engine, clock, storage, dir: dir.to_path_buf() }, space, pool)
}

/// The registration of synthetic camera `n` (main stream, channel 1).
pub fn camera_spec(pool: PoolId, n: u32) -> StreamSpec {
    StreamSpec {
        pool,
        camera_id: format!("cam-{n}"),
        channel: 1,
        kind: StreamKind::Main,
        codec: "H264".into(),
        codec_config: vec![0, 0, 0, 1, 0x67],
    }
}

pub fn camera(engine: &Engine, pool: PoolId, n: u32) -> StreamId {
    engine.register_stream(camera_spec(pool, n)).expect("register")
}

/// Deterministic frame content: a function of stream seed and timestamp.
pub fn payload(seed: u64, ts: Timestamp, len: usize) -> Bytes {
    let mut v = Vec::with_capacity(len);
    let mut x = seed ^ (ts as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for _ in 0..len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x as u8);
    }
    Bytes::from(v)
}

/// Appends `n` frames at 25 fps from `start`, a key frame every 25 frames, sizes 200..1200 bytes.
pub fn record(engine: &Engine, s: StreamId, seed: u64, start: Timestamp, n: usize) -> Vec<(Timestamp, bool, Bytes)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let ts = start + i as i64 * 40_000;
        let key = i % 25 == 0;
        let len = if key { 1200 } else { 200 + (i * 37) % 400 };
        let data = payload(seed, ts, len);
        engine.append(s, ts, key, data.clone()).expect("append");
        out.push((ts, key, data));
    }
    out
}

pub fn read_all(engine: &Engine, s: StreamId, start: Timestamp, end: Timestamp) -> Vec<Frame> {
    engine.read(s, start, end).expect("read").collect::<Result<Vec<_>>>().expect("frames")
}
