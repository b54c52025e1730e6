//! Many writers and readers at once, with I/O queues of depth 2 (maximum
//! backpressure), tiny segments (frequent seals) and a small pool (constant
//! recycling). A watchdog turns a deadlock into a failure instead of a hang.

mod common;
use common::*;
use pstor_core::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn writers_and_readers_under_backpressure_and_recycling() {
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            for _ in 0..1200 {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            eprintln!("watchdog: no progress in 120 s (deadlock?)");
            std::process::abort();
        })
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let clock = Arc::new(FakeClock::new(T0));
    let mut o = opts(tmp.path());
    o.io_queue_depth = 2;
    o.chunk_max_bytes = 4 << 10;
    let engine = Engine::open_with(o, Arc::new(pstor_core::io::OsStorage::new()), clock).expect("open");
    let dir = tmp.path().join("space1");
    std::fs::create_dir(&dir).expect("mkdir");
    let space = engine
        .initialize_space(SpaceSpec { path: dir, capacity: 24 * SEG, segment_size: None })
        .expect("init")
        .wait()
        .expect("done");
    let pool = engine
        .create_pool(PoolSpec {
            name: "busy".into(),
            kind: PoolKind::Video,
            capacity: 16 * SEG,
            spaces: vec![space],
            strategy: OverwriteStrategy::OverwriteOldest,
            cycle_days: 0,
            max_lock_pct: 0,
        })
        .expect("pool");
    let cams: Vec<StreamId> = (0..6).map(|i| camera(&engine, pool, i)).collect();
    std::thread::scope(|scope| {
        for (w, &cam) in cams.iter().enumerate() {
            let engine = engine.clone();
            scope.spawn(move || {
                for i in 0..2500i64 {
                    let ts = T0 + i * 40_000;
                    let len = if i % 25 == 0 { 3000 } else { 200 + (i as usize * 13) % 700 };
                    engine.append(cam, ts, i % 25 == 0, payload(w as u64, ts, len)).expect("append");
                    if i % 50 == 49 {
                        if w % 2 == 0 {
                            engine.sync(cam).expect("sync");
                        } else {
                            engine.sync_streams(&[cam]).expect("sync_streams");
                        }
                    }
                }
                engine.sync(cam).expect("final sync");
            });
        }
        for r in 0..2 {
            let engine = engine.clone();
            let cams = cams.clone();
            scope.spawn(move || {
                let mut verified = 0usize;
                for k in 0..300usize {
                    let w = (k + r) % cams.len();
                    let from = T0 + ((k * 7) % 90) as i64 * US_PER_SEC;
                    let Ok(it) = engine.read(cams[w], from, from + 5 * US_PER_SEC) else { continue };
                    for f in it {
                        match f {
                            // Must be exactly what was written for that timestamp.
                            Ok(f) => {
                                let len = f.data.len();
                                assert_eq!(f.data, payload(w as u64, f.ts, len), "wrong bytes under concurrency");
                                verified += 1;
                            }
                            Err(Error::Overwritten { .. }) => break,
                            Err(e) => panic!("reader: {e}"),
                        }
                    }
                }
                eprintln!("reader {r}: verified {verified} frames");
            });
        }
    });
    let info = engine.pool(pool).expect("pool");
    assert!(info.used <= info.capacity);
    assert!(engine.events().poll(0).iter().any(|e| matches!(e.kind, EventKind::Recycled { .. })));
    for (w, &cam) in cams.iter().enumerate() {
        let frames = read_all(&engine, cam, T0 + 95 * US_PER_SEC, T0 + 100 * US_PER_SEC);
        assert!(!frames.is_empty(), "newest data of camera {w} missing");
        assert!(frames.iter().all(|f| f.data == payload(w as u64, f.ts, f.data.len())));
    }
    let report = engine.check(false).expect("check");
    assert!(report.is_clean(), "{:?}", report.problems);
    engine.close().expect("close");
    done.store(true, Ordering::SeqCst);
    watchdog.join().expect("watchdog");
}

#[test]
fn bad_frames_get_typed_errors() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 8, 4, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    let s = camera(e, pool, 1);
    e.append(s, T0, true, payload(1, T0, 100)).expect("first");
    assert!(
        matches!(e.append(s, T0, false, payload(1, T0, 100)), Err(Error::DuplicateTimestamp { ts, .. }) if ts == T0)
    );
    assert!(
        matches!(e.append(s, T0 - 1, false, payload(1, T0, 100)), Err(Error::OutOfOrder { last, got, .. }) if last == T0 && got == T0 - 1)
    );
    assert!(matches!(e.append(s, T0 + 1, false, bytes::Bytes::new()), Err(Error::FrameSize { len: 0, .. })));
    let huge = bytes::Bytes::from(vec![0u8; (16 << 20) + 1]);
    assert!(matches!(e.append(s, T0 + 1, false, huge), Err(Error::FrameSize { .. })));
    // A frame that fits no segment of the pool's spaces.
    let big = bytes::Bytes::from(vec![7u8; SEG as usize]);
    assert!(matches!(e.append(s, T0 + 2, true, big), Err(Error::FrameSize { max, .. }) if max < SEG as usize));
    let fits = bytes::Bytes::from(vec![7u8; SEG as usize - 8192]);
    e.append(s, T0 + 3, true, fits).expect("a frame that fits a segment");
    e.sync(s).expect("sync");
    assert!(matches!(e.append(StreamId(42), T0, true, payload(1, T0, 1)), Err(Error::StreamNotFound(_))));
    assert!(matches!(e.sync_streams(&[s, StreamId(42)]), Err(Error::StreamNotFound(_))));
    assert!(matches!(e.read(s, T0 + 10, T0), Err(Error::InvalidArgument(_))));
    assert!(matches!(e.recorded_ranges(s, T0, T0 + 10, -1), Err(Error::InvalidArgument(_))));
    let lock = e.lock(s, T0, T0 + 3, None).expect("lock");
    e.close().ok();
    assert!(matches!(e.append(s, T0 + 5, true, payload(1, T0, 1)), Err(Error::Closed)));
    // Nothing reads or rewrites the catalog of a closed engine (another
    // engine may have opened the folder since).
    assert!(matches!(e.read(s, T0, T0 + 3), Err(Error::Closed)));
    assert!(matches!(e.recorded_ranges(s, T0, T0 + 3, 1), Err(Error::Closed)));
    assert!(matches!(e.unlock(lock), Err(Error::Closed)));
    assert!(matches!(e.extend_lock(lock, None), Err(Error::Closed)));
    assert!(matches!(e.set_thresholds(e.thresholds()), Err(Error::Closed)));
    assert!(matches!(e.delete_space(SpaceId(1)), Err(Error::Closed)));
    assert!(matches!(
        e.reinitialize_space(SpaceId(1), Some(WipeConfirmation::DeleteAllDataInSpace)),
        Err(Error::Closed)
    ));
    assert!(matches!(e.sync_pictures(PoolId(1)), Err(Error::Closed)));
    assert!(matches!(e.check_open(), Err(Error::Closed)));
}
