//! The read path on real files (page cache warm): a 10-second range of a
//! 4 Mbit/s camera read back frame by frame, every record verified.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pstor_core::*;

mod common;

const T0: Timestamp = 1_795_392_000 * US_PER_SEC;

fn read_path(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut opts = EngineOptions::new(tmp.path().join("engine"));
    opts.min_space_capacity = 1 << 20;
    opts.segment_size = 16 << 20;
    let engine = Engine::open(opts).expect("open");
    let space_dir = tmp.path().join("space");
    std::fs::create_dir(&space_dir).expect("mkdir");
    let space = engine
        .initialize_space(SpaceSpec { path: space_dir, capacity: 128 << 20, segment_size: None })
        .expect("init")
        .wait()
        .expect("init done");
    let pool = common::pool(&engine, space, "video", PoolKind::Video, 128 << 20);
    let cam = common::camera(&engine, pool, "cam-1");
    // 60 s at 25 fps: a 60 KB key frame every 2 s, 12 KB frames between.
    let data = Bytes::from((0..60_000).map(|i| (i * 7) as u8).collect::<Vec<u8>>());
    for i in 0..60 * 25i64 {
        let key = i % 50 == 0;
        engine.append(cam, T0 + i * 40_000, key, data.slice(..if key { 60_000 } else { 12_000 })).expect("append");
    }
    engine.sync(cam).expect("sync");
    let (start, end) = (T0 + 20 * US_PER_SEC, T0 + 30 * US_PER_SEC);
    let bytes: u64 = engine.read(cam, start, end).expect("read").map(|f| f.expect("frame").data.len() as u64).sum();
    let mut g = c.benchmark_group("read_path");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("range_10s_4mbps", |b| {
        b.iter(|| engine.read(cam, start, end).expect("read").map(|f| f.expect("frame").data.len() as u64).sum::<u64>())
    });
    g.finish();
    engine.close().expect("close");
}

criterion_group!(benches, read_path);
criterion_main!(benches);
