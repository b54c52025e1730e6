//! Index lookups through the engine's API, on the in-memory backend so the
//! disk does not blur them: a camera with 8 hours of sparse frames (1 fps)
//! over some 900 sealed 64 KiB segments; recorded ranges of an hour in the
//! middle, and a read's key-frame lookup plus its first frame at random
//! times. Also a 100-picture listing page.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use pstor_core::io::{MemStorage, Storage};
use pstor_core::*;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

mod common;

const T0: Timestamp = 1_795_392_000 * US_PER_SEC;
const HOURS: i64 = 8;
const SEG: u64 = 64 << 10;

struct Setup {
    engine: Engine,
    cam: StreamId,
    pictures: PoolId,
}

fn setup() -> Setup {
    let storage = Arc::new(MemStorage::new(1 << 30));
    let mut opts = EngineOptions::new("/mem/engine");
    opts.min_space_capacity = 1 << 20;
    opts.segment_size = SEG;
    opts.background = false;
    let dynstore: Arc<dyn Storage> = storage.clone();
    let engine = Engine::open_with(opts, dynstore, Arc::new(FakeClock::new(T0))).expect("open");
    storage.create_dir_all(Path::new("/mem/space")).expect("mkdir");
    let space = engine
        .initialize_space(SpaceSpec { path: "/mem/space".into(), capacity: 1_600 * SEG, segment_size: None })
        .expect("init")
        .wait()
        .expect("init done");
    let video = common::pool(&engine, space, "video", PoolKind::Video, 1_200 * SEG);
    let pictures = common::pool(&engine, space, "pictures", PoolKind::Picture, 300 * SEG);
    let cam = common::camera(&engine, video, "cam-1");
    let frame = Bytes::from(vec![0x5au8; 2_000]);
    for i in 0..HOURS * 3_600 {
        engine.append(cam, T0 + i * US_PER_SEC, i % 10 == 0, frame.clone()).expect("append");
    }
    engine.sync(cam).expect("sync");
    let picture = vec![0xa5u8; 4_000];
    for i in 0..2_000i64 {
        let meta = PictureMeta {
            camera_id: format!("cam-{}", i % 4),
            captured_at: T0 + i * 10 * US_PER_SEC,
            content_type: "image/jpeg".into(),
            key: None,
        };
        engine.put_picture(pictures, &meta, &picture).expect("put");
    }
    engine.sync_pictures(pictures).expect("sync pictures");
    Setup { engine, cam, pictures }
}

fn index(c: &mut Criterion) {
    let s = setup();
    let mid = T0 + HOURS / 2 * 3_600 * US_PER_SEC;
    let mut g = c.benchmark_group("index");
    g.bench_function("recorded_ranges_1h", |b| {
        b.iter(|| s.engine.recorded_ranges(s.cam, mid, mid + 3_600 * US_PER_SEC, US_PER_SEC).expect("ranges"))
    });
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    g.bench_function("read_seek_first_frame", |b| {
        b.iter(|| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = T0 + (x % (HOURS as u64 * 3_600)) as i64 * US_PER_SEC;
            let mut it = s.engine.read(s.cam, at, at + US_PER_SEC).expect("read");
            black_box(it.next().expect("a frame").expect("valid frame").ts)
        })
    });
    let q = PictureQuery {
        pool: s.pictures,
        camera_id: Some("cam-2".into()),
        start: T0,
        end: T0 + 6 * 3_600 * US_PER_SEC,
        limit: 100,
        after: None,
    };
    g.bench_function("list_pictures_100", |b| b.iter(|| s.engine.list_pictures(black_box(&q)).expect("list").len()));
    g.finish();
    s.engine.close().expect("close");
}

criterion_group!(benches, index);
criterion_main!(benches);
