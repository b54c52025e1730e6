//! The picture store on real files: put/get/head/delete, ids, bad input,
//! listing, keys and their index (persisted, rebuilt when lost or corrupt),
//! overwrite, retention and picture locks, concurrent writers.

mod common;
use common::{opts, payload, T0};
use pstor_core::*;
use std::path::Path;
use std::sync::Arc;

const SEG: u64 = common::SEG;

struct Pics {
    engine: Engine,
    clock: Arc<FakeClock>,
    space: SpaceId,
    pool: PoolId,
}

/// An engine with one space of `segments` segments and a pool of `kind`
/// using `pool_segments` of them.
fn pics(dir: &Path, segments: u64, pool_segments: u64, kind: PoolKind, strategy: OverwriteStrategy) -> Pics {
    let clock = Arc::new(FakeClock::new(T0));
    let engine = Engine::open_with(opts(dir), Arc::new(pstor_core::io::OsStorage::new()), clock.clone()).expect("open");
    let sp = dir.join("space1");
    std::fs::create_dir_all(&sp).expect("mkdir");
    let space = engine
        .initialize_space(SpaceSpec { path: sp, capacity: segments * SEG, segment_size: None })
        .expect("init")
        .wait()
        .expect("init done");
    let pool = engine
        .create_pool(PoolSpec {
            name: "pictures".into(),
            kind,
            capacity: pool_segments * SEG,
            spaces: vec![space],
            strategy,
            cycle_days: 0,
            max_lock_pct: 50,
        })
        .expect("pool");
    Pics { engine, clock, space, pool }
}

fn reopen(dir: &Path, clock: &Arc<FakeClock>) -> Engine {
    Engine::open_with(opts(dir), Arc::new(pstor_core::io::OsStorage::new()), clock.clone()).expect("reopen")
}

fn meta(camera: u32, captured_at: Timestamp) -> PictureMeta {
    PictureMeta { camera_id: format!("cam-{camera}"), captured_at, content_type: "image/jpeg".into(), key: None }
}

fn keyed(camera: u32, captured_at: Timestamp, bucket: &str, key: &str) -> PictureMeta {
    PictureMeta { key: Some(PictureKey { bucket: bucket.into(), key: key.into() }), ..meta(camera, captured_at) }
}

fn key(bucket: &str, key: &str) -> PictureKey {
    PictureKey { bucket: bucket.into(), key: key.into() }
}

#[test]
fn put_get_head_range_and_ids() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = pics(tmp.path(), 16, 8, PoolKind::Picture, OverwriteStrategy::OverwriteOldest);
    let data = payload(1, 2, 50_000);
    let m = meta(1, T0 + 5);
    let id = p.engine.put_picture(p.pool, &m, &data).expect("put");
    assert_eq!(id.space, p.space);
    let text = id.to_string();
    assert_eq!(text.len(), PICTURE_ID_CHARS);
    assert_eq!(text.parse::<PictureId>().expect("parse"), id);

    let got = p.engine.get_picture(&id).expect("get");
    assert_eq!(got.data, data);
    assert_eq!(got.info.meta, m);
    assert_eq!(got.info.size, data.len() as u64);
    assert_eq!(got.info.stored_at, T0);
    assert_eq!(got.info.etag().len(), 32);
    assert_eq!(p.engine.head_picture(&id).expect("head"), got.info);

    let part = p.engine.get_picture_range(&id, 100, 1000).expect("range");
    assert_eq!(part.data, data.slice(100..1100));
    assert!(matches!(p.engine.get_picture_range(&id, 49_999, 2), Err(Error::InvalidArgument(_))));
    assert!(matches!(p.engine.get_picture_range(&id, u64::MAX, 2), Err(Error::InvalidArgument(_))));

    // Same bytes twice: two pictures, two ids, one ETag.
    let id2 = p.engine.put_picture(p.pool, &m, &data).expect("put again");
    assert_ne!(id, id2);
    assert_eq!(p.engine.head_picture(&id2).expect("head").md5, got.info.md5);

    // Forged and stale ids: typed errors, never bytes.
    let forged = [
        PictureId { cookie: id.cookie ^ 1, ..id },
        PictureId { generation: id.generation + 1, ..id },
        PictureId { offset: id.offset + 8, ..id },
        PictureId { len: id.len - 1, ..id },
        PictureId { len: id.len + 1, ..id },
        PictureId { len: u32::MAX, ..id },
        PictureId { offset: 0, ..id },
        PictureId { segment: 9999, ..id },
        PictureId { space: SpaceId(id.space.0 ^ 1), ..id },
        // Another picture's offset with this one's cookie.
        PictureId { offset: id2.offset, len: id2.len, ..id },
    ];
    for f in forged {
        assert!(matches!(p.engine.get_picture(&f), Err(Error::PictureNotFound(_))), "{f:?}");
        assert!(matches!(p.engine.head_picture(&f), Err(Error::PictureNotFound(_))), "{f:?}");
    }
    for bad in ["", "abc", &text[..31], &format!("{text}A"), &text.replace(&text[..1], "*")] {
        assert!(matches!(bad.parse::<PictureId>(), Err(Error::InvalidPictureId(_))), "{bad:?}");
    }
    p.engine.close().expect("close");
}

#[test]
fn bad_input_is_refused_with_typed_errors() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = pics(tmp.path(), 16, 4, PoolKind::Picture, OverwriteStrategy::StopWhenFull);
    let e = &p.engine;
    assert!(matches!(e.put_picture(p.pool, &meta(1, T0), b""), Err(Error::PictureSize { len: 0, .. })));
    // Larger than the engine limit.
    let big = vec![7u8; e.options().max_picture_bytes + 1];
    assert!(matches!(e.put_picture(p.pool, &meta(1, T0), &big), Err(Error::PictureSize { .. })));
    // Larger than a segment can hold.
    let seg_big = vec![7u8; SEG as usize];
    assert!(matches!(e.put_picture(p.pool, &meta(1, T0), &seg_big), Err(Error::PictureSize { .. })));
    assert!(matches!(e.put_picture(PoolId(12345), &meta(1, T0), b"x"), Err(Error::PoolNotFound(_))));
    let bad_metas = [
        PictureMeta { camera_id: String::new(), ..meta(1, T0) },
        PictureMeta { camera_id: "c".repeat(257), ..meta(1, T0) },
        PictureMeta { content_type: "t".repeat(128), ..meta(1, T0) },
        keyed(1, T0, "", "k"),
        keyed(1, T0, "b", ""),
        keyed(1, T0, &"b".repeat(64), "k"),
        keyed(1, T0, "b", &"k".repeat(1025)),
    ];
    for m in bad_metas {
        assert!(matches!(e.put_picture(p.pool, &m, b"x"), Err(Error::InvalidArgument(_))), "{m:?}");
    }
    // A video pool takes no pictures.
    let video = e
        .create_pool(PoolSpec {
            name: "video".into(),
            kind: PoolKind::Video,
            capacity: 2 * SEG,
            spaces: vec![p.space],
            strategy: OverwriteStrategy::OverwriteOldest,
            cycle_days: 0,
            max_lock_pct: 0,
        })
        .expect("video pool");
    assert!(matches!(e.put_picture(video, &meta(1, T0), b"x"), Err(Error::WrongPoolKind { .. })));
    assert!(matches!(
        e.list_pictures(&PictureQuery { pool: video, camera_id: None, start: 0, end: 1, limit: 1, after: None }),
        Err(Error::WrongPoolKind { .. })
    ));
    assert!(matches!(e.lock_pictures(video, "cam-1", T0, T0 + 1, None), Err(Error::WrongPoolKind { .. })));
    // Stop-when-full: the pool fills up, then refuses.
    let data = payload(3, 4, 60_000);
    let mut stored = Vec::new();
    let err = loop {
        match e.put_picture(p.pool, &meta(1, T0 + stored.len() as i64), &data) {
            Ok(id) => stored.push(id),
            Err(err) => break err,
        }
        assert!(stored.len() < 100, "a 4-segment pool never filled up");
    };
    assert!(matches!(err, Error::PoolFull { reason: FullReason::StopWhenFull, .. }), "{err}");
    assert!(stored.len() >= 4 * 3, "only {} pictures fit", stored.len());
    for id in &stored {
        assert_eq!(e.get_picture(id).expect("still there").data, data);
    }
    e.close().expect("close");
}

#[test]
fn delete_is_final_also_after_reopen() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = pics(tmp.path(), 16, 8, PoolKind::Mixed, OverwriteStrategy::OverwriteOldest);
    let a = p.engine.put_picture(p.pool, &meta(1, T0), &payload(1, 1, 1000)).expect("a");
    let b = p.engine.put_picture(p.pool, &keyed(1, T0 + 1, "evidence", "b.jpg"), &payload(1, 2, 2000)).expect("b");
    p.engine.sync_pictures(p.pool).expect("sync");
    p.engine.delete_picture(&a).expect("delete a");
    assert!(matches!(p.engine.get_picture(&a), Err(Error::PictureNotFound(_))));
    assert!(matches!(p.engine.head_picture(&a), Err(Error::PictureNotFound(_))));
    assert!(matches!(p.engine.delete_picture(&a), Err(Error::PictureNotFound(_))), "deleting twice");
    p.engine.delete_picture_by_key(&key("evidence", "b.jpg")).expect("delete b by key");
    assert!(matches!(p.engine.get_picture(&b), Err(Error::PictureNotFound(_))));
    assert!(matches!(p.engine.get_picture_by_key(&key("evidence", "b.jpg")), Err(Error::KeyNotFound { .. })));
    p.engine.close().expect("close");
    // Not after a clean reopen either (the open segment is resumed).
    let e = reopen(tmp.path(), &p.clock);
    assert!(matches!(e.get_picture(&a), Err(Error::PictureNotFound(_))));
    assert!(matches!(e.get_picture(&b), Err(Error::PictureNotFound(_))));
    assert!(matches!(e.get_picture_by_key(&key("evidence", "b.jpg")), Err(Error::KeyNotFound { .. })));
    let c = e.put_picture(p.pool, &meta(2, T0 + 2), b"after reopen").expect("c");
    assert_eq!(c.segment, a.segment, "the open picture segment is continued after a clean stop");
    assert!(matches!(e.get_picture(&a), Err(Error::PictureNotFound(_))));
    e.close().expect("close");
}

#[test]
fn listing_by_camera_and_time_pages_and_skips_deleted() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = pics(tmp.path(), 32, 24, PoolKind::Picture, OverwriteStrategy::OverwriteOldest);
    let e = &p.engine;
    // 3 cameras, 60 pictures each, one per second, spread over several segments.
    let mut ids: Vec<Vec<(Timestamp, PictureId)>> = vec![Vec::new(); 3];
    for i in 0..60i64 {
        for (cam, list) in ids.iter_mut().enumerate() {
            let ts = T0 + i * US_PER_SEC + cam as i64;
            let id = e.put_picture(p.pool, &meta(cam as u32, ts), &payload(cam as u64, ts, 9_000)).expect("put");
            list.push((ts, id));
        }
    }
    e.sync_pictures(p.pool).expect("sync");
    let q = |camera: Option<u32>, start: Timestamp, end: Timestamp, limit: usize, after| PictureQuery {
        pool: p.pool,
        camera_id: camera.map(|c| format!("cam-{c}")),
        start,
        end,
        limit,
        after,
    };
    // One camera, a 10-second window.
    let got = e.list_pictures(&q(Some(1), T0 + 10 * US_PER_SEC, T0 + 20 * US_PER_SEC, 100, None)).expect("list");
    let want: Vec<PictureId> = ids[1][10..20].iter().map(|x| x.1).collect();
    assert_eq!(got.iter().map(|i| i.id).collect::<Vec<_>>(), want);
    assert!(got.iter().all(|i| i.meta.camera_id == "cam-1" && i.size == 9_000));
    // Every camera, in capture-time order, paged by 7.
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = e.list_pictures(&q(None, T0, T0 + 3600 * US_PER_SEC, 7, after)).expect("page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        after = page.last().map(|i| (i.meta.captured_at, i.id));
        all.extend(page);
    }
    assert_eq!(all.len(), 180);
    assert!(all.windows(2).all(|w| w[0].meta.captured_at < w[1].meta.captured_at));
    // Deleted pictures are left out, also across a reopen.
    e.delete_picture(&ids[2][5].1).expect("delete");
    e.close().expect("close");
    let e = reopen(tmp.path(), &p.clock);
    let got = e.list_pictures(&q(Some(2), T0, T0 + 10 * US_PER_SEC, 100, None)).expect("list");
    assert_eq!(got.len(), 9);
    assert!(!got.iter().any(|i| i.id == ids[2][5].1));
    // An unknown camera and an empty window give nothing.
    assert!(e.list_pictures(&q(Some(9), T0, T0 + 3600 * US_PER_SEC, 10, None)).expect("none").is_empty());
    assert!(e.list_pictures(&q(None, T0 - 10, T0 - 1, 10, None)).expect("none").is_empty());
    assert!(matches!(e.list_pictures(&q(None, T0, T0 - 1, 10, None)), Err(Error::InvalidArgument(_))));
    e.close().expect("close");
}

#[test]
fn keys_resolve_replace_list_and_survive_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = pics(tmp.path(), 16, 8, PoolKind::Picture, OverwriteStrategy::OverwriteOldest);
    let e = &p.engine;
    let put = |k: &str, v: u64| {
        e.put_picture(p.pool, &keyed(1, T0 + v as i64, "plates", k), &payload(v, 0, 3000)).expect("put")
    };
    let a1 = put("2026/11/23/a.jpg", 1);
    let _b = put("2026/11/23/b.jpg", 2);
    let _c = put("2026/11/24/c.jpg", 3);
    let a2 = put("2026/11/23/a.jpg", 4);
    e.sync_pictures(p.pool).expect("sync");
    assert_eq!(e.picture_id_for_key(&key("plates", "2026/11/23/a.jpg")).expect("a"), a2);
    assert_eq!(e.get_picture_by_key(&key("plates", "2026/11/23/a.jpg")).expect("a").data, payload(4, 0, 3000));
    // The replaced picture is gone (an S3 overwrite).
    assert!(matches!(e.get_picture(&a1), Err(Error::PictureNotFound(_))));
    assert!(matches!(e.get_picture_by_key(&key("plates", "nope")), Err(Error::KeyNotFound { .. })));
    assert!(matches!(e.get_picture_by_key(&key("other", "2026/11/23/a.jpg")), Err(Error::KeyNotFound { .. })));
    let listed = e.list_keys("plates", "2026/11/23/", None, 10).expect("list");
    assert_eq!(listed.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), ["2026/11/23/a.jpg", "2026/11/23/b.jpg"]);
    let after = e.list_keys("plates", "", Some("2026/11/23/a.jpg"), 10).expect("list after");
    assert_eq!(after.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), ["2026/11/23/b.jpg", "2026/11/24/c.jpg"]);
    assert_eq!(e.list_keys("plates", "", None, 2).expect("limit").len(), 2);
    e.close().expect("close");
    assert!(tmp.path().join("engine").join(KEY_INDEX_FILE).exists());
    let e = reopen(tmp.path(), &p.clock);
    assert_eq!(e.picture_id_for_key(&key("plates", "2026/11/23/a.jpg")).expect("after restart"), a2);
    e.close().expect("close");
}

#[test]
fn a_lost_or_corrupt_key_index_is_rebuilt_from_the_segments() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = pics(tmp.path(), 16, 8, PoolKind::Picture, OverwriteStrategy::OverwriteOldest);
    let mut want = Vec::new();
    for i in 0..40u64 {
        let k = format!("k{i:03}");
        let id = p.engine.put_picture(p.pool, &keyed(1, T0 + i as i64, "b", &k), &payload(i, 0, 7000)).expect("put");
        want.push((k, id));
    }
    // One replaced key and one deleted picture must stay that way.
    let replaced = p.engine.put_picture(p.pool, &keyed(1, T0 + 99, "b", "k000"), b"newer").expect("replace");
    want[0].1 = replaced;
    p.engine.delete_picture_by_key(&key("b", "k001")).expect("delete");
    want.remove(1);
    p.engine.close().expect("close");
    let db = tmp.path().join("engine").join(KEY_INDEX_FILE);

    // Lost: the file is gone.
    std::fs::remove_file(&db).expect("rm");
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    let e = reopen(tmp.path(), &p.clock);
    let listed = e.list_keys("b", "", None, 1000).expect("list");
    assert_eq!(listed, want);
    e.close().expect("close");

    // Corrupt: garbage in place of the database.
    std::fs::write(&db, vec![0x5a; 8192]).expect("garbage");
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    let e = reopen(tmp.path(), &p.clock);
    assert!(e.events().poll(0).iter().any(|ev| matches!(ev.kind, EventKind::KeyIndexRebuilt { .. })));
    assert_eq!(e.list_keys("b", "", None, 1000).expect("list"), want);
    e.close().expect("close");
}

#[test]
fn overwrite_recycles_the_oldest_picture_segment() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = pics(tmp.path(), 16, 4, PoolKind::Picture, OverwriteStrategy::OverwriteOldest);
    let mut ids = Vec::new();
    // About 3 pictures per segment: 40 pictures turn a 4-segment pool over several times.
    for i in 0..40i64 {
        let ts = T0 + i * US_PER_SEC;
        ids.push((ts, p.engine.put_picture(p.pool, &meta(1, ts), &payload(7, ts, 70_000)).expect("put")));
    }
    let mut gone = 0;
    for (ts, id) in &ids {
        match p.engine.get_picture(id) {
            Ok(pic) => assert_eq!(pic.data, payload(7, *ts, 70_000)),
            Err(Error::PictureNotFound(_)) => gone += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(gone >= 25, "only {gone} pictures were overwritten");
    // The newest ones are all there, and the oldest went first.
    let first_kept = ids.iter().position(|(_, id)| p.engine.head_picture(id).is_ok()).expect("some kept");
    assert!(ids[first_kept..].iter().all(|(_, id)| p.engine.head_picture(id).is_ok()));
    let info = p.engine.pools().into_iter().find(|x| x.config.id == p.pool).expect("pool");
    assert_eq!(info.used, 4 * SEG);
    p.engine.close().expect("close");
}

#[test]
fn picture_locks_protect_one_camera_within_the_quota() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = pics(tmp.path(), 16, 6, PoolKind::Picture, OverwriteStrategy::OverwriteOldest);
    let e = &p.engine;
    // Camera 1's evidence, alone in the first segments.
    let mut evidence = Vec::new();
    for i in 0..5i64 {
        let ts = T0 + i;
        evidence.push(e.put_picture(p.pool, &meta(1, ts), &payload(1, ts, 70_000)).expect("evidence"));
    }
    let lock = e.lock_pictures(p.pool, "cam-1", T0, T0 + 10, None).expect("lock");
    assert!(matches!(e.lock_pictures(p.pool, "", T0, T0 + 1, None), Err(Error::InvalidArgument(_))));
    assert!(matches!(e.lock_pictures(PoolId(1), "cam-1", T0, T0 + 1, None), Err(Error::PoolNotFound(_))));
    // Much more than the pool holds, from another camera.
    for i in 0..60i64 {
        let ts = T0 + 1000 + i;
        match e.put_picture(p.pool, &meta(2, ts), &payload(2, ts, 70_000)) {
            Ok(_) => {}
            Err(Error::PoolFull { reason: FullReason::OnlyLockedData, .. }) => break,
            Err(err) => panic!("unexpected {err}"),
        }
    }
    for id in &evidence {
        e.get_picture(id).expect("locked evidence survives overwrite");
    }
    let pool = e.pools().into_iter().find(|x| x.config.id == p.pool).expect("pool");
    assert!(pool.locked >= 2 * SEG, "locked {}", pool.locked);
    // A lock over everything exceeds the 50 % quota.
    let err = e.lock_pictures(p.pool, "cam-2", T0, T0 + 10_000, None).expect_err("quota");
    assert!(matches!(err, Error::LockQuotaExceeded { .. }), "{err}");
    // Survives a restart; once unlocked, the evidence can be recycled.
    e.close().expect("close");
    let e = reopen(tmp.path(), &p.clock);
    assert!(e
        .locks()
        .iter()
        .any(|l| l.id == lock && l.target == LockTarget::Pictures { pool: p.pool, camera_id: "cam-1".into() }));
    e.unlock(lock).expect("unlock");
    for i in 0..40i64 {
        let ts = T0 + 5000 + i;
        e.put_picture(p.pool, &meta(2, ts), &payload(2, ts, 70_000)).expect("put after unlock");
    }
    assert!(evidence.iter().all(|id| matches!(e.get_picture(id), Err(Error::PictureNotFound(_)))));
    e.close().expect("close");
}

#[test]
fn retention_frees_picture_segments_past_the_cycle() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = pics(tmp.path(), 16, 8, PoolKind::Picture, OverwriteStrategy::OverwriteOldest);
    let e = &p.engine;
    e.edit_pool(p.pool, PoolEdit { cycle_days: Some(1), ..PoolEdit::default() }).expect("cycle");
    let old = e.put_picture(p.pool, &meta(1, T0), &payload(1, 0, 20_000)).expect("old");
    e.sync_pictures(p.pool).expect("sync");
    p.clock.advance(2 * US_PER_DAY);
    e.run_maintenance().expect("maintenance");
    assert!(matches!(e.get_picture(&old), Err(Error::PictureNotFound(_))));
    let pool = e.pools().into_iter().find(|x| x.config.id == p.pool).expect("pool");
    assert_eq!(pool.used, 0);
    // New pictures go to a new segment.
    let now = p.clock.now();
    let fresh = e.put_picture(p.pool, &meta(1, now), b"fresh").expect("fresh");
    assert_eq!(e.get_picture(&fresh).expect("get").data.as_ref(), b"fresh");
    e.close().expect("close");
}

#[test]
fn sixteen_writers_and_readers_at_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = pics(tmp.path(), 64, 48, PoolKind::Picture, OverwriteStrategy::OverwriteOldest);
    let engine = p.engine.clone();
    let pool = p.pool;
    let handles: Vec<_> = (0..16u64)
        .map(|w| {
            let e = engine.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..20i64 {
                    let ts = T0 + i * 1000 + w as i64;
                    let data = payload(w, ts, 5_000 + (i as usize * 311) % 20_000);
                    let id = e.put_picture(pool, &meta(w as u32, ts), &data).expect("put");
                    // Read-your-write, from this thread, before any sync.
                    assert_eq!(e.get_picture(&id).expect("get").data, data);
                    mine.push((id, data));
                    if i % 5 == 4 {
                        e.sync_pictures(pool).expect("sync");
                    }
                }
                mine
            })
        })
        .collect();
    let all: Vec<_> = handles.into_iter().flat_map(|h| h.join().expect("writer")).collect();
    assert_eq!(all.len(), 320);
    p.engine.close().expect("close");
    let e = reopen(tmp.path(), &p.clock);
    for (id, data) in &all {
        assert_eq!(&e.get_picture(id).expect("after restart").data, data);
    }
    let report = e.check(false).expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    e.close().expect("close");
}
