//! The embedded backend driven through `Arc<dyn Backend>` (never the
//! concrete engine), one test per group of operations, on tiny spaces in a
//! temporary folder.

use super::*;
use pstor_core::{Error, ErrorCode, LockTarget, OverwriteStrategy, PoolKind, SpaceStatus, US_PER_DAY, US_PER_SEC};
use std::path::PathBuf;
use std::time::Instant;

const SEG: u64 = 256 << 10;

/// A backend on tiny spaces, and the folder it lives in.
struct Rig {
    backend: Arc<dyn Backend>,
    dir: tempfile::TempDir,
}

fn rig() -> Rig {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = EngineOptions::new(dir.path().join("engine"));
    opts.min_space_capacity = 1 << 20;
    opts.segment_size = SEG;
    opts.segments_per_file = 4;
    opts.chunk_max_bytes = 32 << 10;
    opts.background = false;
    let backend = open_local(opts).expect("open");
    Rig { backend, dir }
}

impl Rig {
    fn folder(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    }

    /// A space of 16 segments.
    fn space(&self, name: &str) -> SpaceId {
        let spec = SpaceSpec { path: self.folder(name), capacity: 16 * SEG, segment_size: None };
        self.backend.initialize_space(spec).expect("start").wait().expect("initialized")
    }

    fn pool(&self, name: &str, kind: PoolKind, space: SpaceId, segments: u64) -> PoolId {
        self.backend
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
    }

    fn camera(&self, pool: PoolId, camera_id: &str) -> StreamId {
        self.backend
            .register_stream(StreamSpec {
                pool,
                camera_id: camera_id.into(),
                channel: 1,
                kind: StreamKind::Main,
                codec: "H264".into(),
                codec_config: vec![0, 0, 0, 1],
            })
            .expect("register")
    }
}

fn code<T: std::fmt::Debug>(r: Result<T>) -> ErrorCode {
    r.expect_err("an error").code()
}

/// Now, µs UTC, a minute ago (so today's inspection has seen it).
fn recently() -> Timestamp {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    now.as_micros() as i64 - 60 * US_PER_SEC
}

#[test]
fn the_trait_objects_are_thread_safe() {
    fn send_sync<T: Send + Sync + ?Sized>() {}
    fn send<T: Send + ?Sized>() {}
    send_sync::<dyn Backend>();
    send_sync::<dyn SpaceJobHandle>();
    send::<FrameStream>();
}

#[test]
fn spaces_initialize_list_get_and_refuse() {
    let r = rig();
    let b = &r.backend;
    let spec = SpaceSpec { path: r.folder("s1"), capacity: 16 * SEG, segment_size: None };
    let job = b.initialize_space(spec).expect("start");
    let id = job.space();
    let got = job.wait().expect("initialized");
    assert_eq!(got, id);

    let all = b.spaces().expect("spaces");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, id);
    assert_eq!(all[0].status, SpaceStatus::Normal);
    assert_eq!(all[0].capacity, 16 * SEG);
    assert_eq!(b.space(id).expect("space").path, r.dir.path().join("s1"));
    assert_eq!(code(b.space(SpaceId(id.0.wrapping_add(1)))), ErrorCode::SpaceNotFound);

    // Refusals carry the engine's numbers.
    let again = SpaceSpec { path: r.dir.path().join("s1"), capacity: 16 * SEG, segment_size: None };
    assert_eq!(code(b.initialize_space(again)), ErrorCode::AlreadyInitialized);
    let missing = SpaceSpec { path: r.dir.path().join("nope"), capacity: 16 * SEG, segment_size: None };
    assert_eq!(code(b.initialize_space(missing)), ErrorCode::PathNotFound);
    let small = SpaceSpec { path: r.folder("s2"), capacity: 1000, segment_size: None };
    assert_eq!(code(b.initialize_space(small)), ErrorCode::CapacityTooSmall);
    assert_eq!(code(b.delete_space(id)), ErrorCode::SpaceStatus);
    assert_eq!(code(b.reinitialize_space(id, None)), ErrorCode::ConfirmationRequired);
    b.reinitialize_space(id, Some(WipeConfirmation::DeleteAllDataInSpace)).expect("wipe");
    assert_eq!(code(b.restore_space(&r.folder("empty"))), ErrorCode::NotASpace);
    assert_eq!(code(b.restore_space(&r.dir.path().join("s1"))), ErrorCode::SpaceAlreadyKnown);

    // A job's handle: progress, finished, cancel (too late: it succeeds).
    let job = b
        .initialize_space(SpaceSpec { path: r.folder("s3"), capacity: 8 * SEG, segment_size: Some(SEG) })
        .expect("start");
    while !job.is_finished() {
        assert!(job.progress() <= 100);
        std::thread::sleep(Duration::from_millis(1));
    }
    job.cancel();
    match job.wait() {
        Ok(s) => assert_eq!(b.space(s).expect("space").status, SpaceStatus::Normal),
        Err(e) => assert_eq!(e.code(), ErrorCode::Cancelled),
    }
}

#[test]
fn pools_create_edit_list_delete_and_thresholds() {
    let r = rig();
    let b = &r.backend;
    let space = r.space("s1");
    let pool = r.pool("video", PoolKind::Video, space, 8);
    let info = b.pool(pool).expect("pool");
    assert_eq!((info.config.name.as_str(), info.capacity), ("video", 8 * SEG));
    assert_eq!(b.pools().expect("pools").len(), 1);

    b.edit_pool(pool, PoolEdit { name: Some("cams".into()), cycle_days: Some(7), ..PoolEdit::default() })
        .expect("edit");
    let info = b.pool(pool).expect("pool");
    assert_eq!((info.config.name.as_str(), info.config.cycle_days), ("cams", 7));

    assert_eq!(
        code(b.create_pool(PoolSpec {
            name: "cams".into(),
            kind: PoolKind::Picture,
            capacity: SEG,
            spaces: vec![space],
            strategy: OverwriteStrategy::StopWhenFull,
            cycle_days: 0,
            max_lock_pct: 0,
        })),
        ErrorCode::DuplicatePoolName
    );
    assert_eq!(code(b.pool(PoolId(pool.0.wrapping_add(1)))), ErrorCode::PoolNotFound);

    let t = b.thresholds().expect("thresholds");
    b.set_thresholds(Thresholds { alarm_pct: 25, ..t }).expect("set");
    assert_eq!(b.thresholds().expect("thresholds").alarm_pct, 25);
    assert_eq!(code(b.set_thresholds(Thresholds { alarm_pct: 101, ..t })), ErrorCode::InvalidArgument);

    b.delete_pool(pool).expect("delete");
    assert!(b.pools().expect("pools").is_empty());
    assert_eq!(code(b.delete_pool(pool)), ErrorCode::PoolNotFound);
}

#[test]
fn streams_append_sync_read_and_ranges() {
    let r = rig();
    let b = &r.backend;
    let space = r.space("s1");
    let pool = r.pool("video", PoolKind::Video, space, 8);
    let cam = r.camera(pool, "cam-1");
    let sub = r.camera(pool, "cam-2");
    assert_eq!(b.find_stream("cam-1", 1, StreamKind::Main).expect("find"), Some(cam));
    assert_eq!(b.find_stream("cam-1", 1, StreamKind::Sub).expect("find"), None);
    assert_eq!(b.streams().expect("streams").len(), 2);
    assert_eq!(b.stream(cam).expect("stream").config.camera_id, "cam-1");
    assert_eq!(code(b.stream(StreamId(1))), ErrorCode::StreamNotFound);

    let t0 = 1_000 * US_PER_SEC;
    let frames: Vec<(Timestamp, bool, Bytes)> =
        (0..100i64).map(|i| (t0 + i * 40_000, i % 25 == 0, Bytes::from(vec![i as u8; 300 + i as usize]))).collect();
    for (ts, key, data) in &frames {
        b.append(cam, *ts, *key, data.clone()).expect("append");
        b.append(sub, *ts, *key, data.clone()).expect("append");
    }
    assert_eq!(code(b.append(cam, t0, true, Bytes::from_static(b"x"))), ErrorCode::OutOfOrder);
    assert_eq!(code(b.append(cam, t0 + 99 * 40_000, true, Bytes::from_static(b"x"))), ErrorCode::DuplicateTimestamp);
    assert_eq!(code(b.append(cam, t0 + 10_000_000, true, Bytes::new())), ErrorCode::FrameSize);
    b.flush(cam).expect("flush");
    b.sync(cam).expect("sync");
    b.sync_streams(&[cam, sub]).expect("sync streams");
    b.sync_all().expect("sync all");
    assert_eq!(code(b.sync_streams(&[cam, StreamId(1)])), ErrorCode::StreamNotFound);

    // From the key frame at or before the start, to the end inclusive.
    let read: Vec<Frame> =
        b.read(cam, t0 + 30 * 40_000, t0 + 60 * 40_000).expect("read").collect::<Result<_>>().expect("frames");
    assert_eq!(read.first().map(|f| f.ts), Some(t0 + 25 * 40_000));
    assert_eq!(read.last().map(|f| f.ts), Some(t0 + 60 * 40_000));
    for f in &read {
        let (_, key, data) = &frames[((f.ts - t0) / 40_000) as usize];
        assert_eq!((f.key, &f.data), (*key, data));
    }
    // The stream moves between threads.
    let mut stream = b.read(sub, t0, t0 + 200 * 40_000).expect("read");
    let n = std::thread::spawn(move || stream.by_ref().count()).join().expect("thread");
    assert_eq!(n, 100);
    assert_eq!(code(b.read(StreamId(1), 0, 1).map(|_| ())), ErrorCode::StreamNotFound);

    let ranges = b.recorded_ranges(cam, 0, t0 + 3600 * US_PER_SEC, US_PER_SEC).expect("ranges");
    assert_eq!(ranges, vec![(t0, t0 + 99 * 40_000)]);
    let info = b.stream(cam).expect("stream");
    assert_eq!((info.first_ts, info.last_ts), (Some(t0), Some(t0 + 99 * 40_000)));
}

#[test]
fn locks_and_inspection() {
    let r = rig();
    let b = &r.backend;
    let space = r.space("s1");
    let video = r.pool("video", PoolKind::Video, space, 8);
    let pictures = r.pool("pictures", PoolKind::Picture, space, 4);
    let cam = r.camera(video, "cam-1");
    let t0 = recently();
    for i in 0..50i64 {
        b.append(cam, t0 + i * 40_000, i % 25 == 0, Bytes::from(vec![1u8; 500])).expect("append");
    }
    b.sync(cam).expect("sync");

    let lock = b.lock(cam, t0, t0 + US_PER_SEC, None).expect("lock");
    let pic_lock = b.lock_pictures(pictures, "cam-1", t0, t0 + 1, Some(t0 + 3600 * US_PER_SEC)).expect("lock");
    let locks = b.locks().expect("locks");
    assert_eq!(locks.len(), 2);
    assert!(locks.iter().any(|l| l.id == lock && l.target == LockTarget::Stream(cam)));
    assert_eq!(code(b.lock(cam, t0 + 1, t0, None)), ErrorCode::InvalidArgument);
    assert_eq!(code(b.lock_pictures(video, "cam-1", t0, t0 + 1, None)), ErrorCode::WrongPoolKind);
    b.extend_lock(lock, Some(t0 + 7200 * US_PER_SEC)).expect("extend");
    assert_eq!(
        b.locks().expect("locks").iter().find(|l| l.id == lock).map(|l| l.expires),
        Some(Some(t0 + 7200 * US_PER_SEC))
    );
    assert_eq!(code(b.delete_pool(video)), ErrorCode::PoolHasLocks);
    b.unlock(lock).expect("unlock");
    b.unlock(pic_lock).expect("unlock");
    assert_eq!(code(b.unlock(lock)), ErrorCode::LockNotFound);
    assert_eq!(code(b.extend_lock(lock, None)), ErrorCode::LockNotFound);

    let today = b.today().expect("today");
    let day = b.inspect_today(cam).expect("today's inspection");
    assert_eq!(day.date, today);
    // The two seconds recorded a minute ago (unless that was yesterday).
    if Date::from_days(t0.div_euclid(US_PER_DAY)) == today {
        assert!(day.recorded_secs() >= 1, "{day:?}");
        assert_eq!(b.inspect_day(cam, today).expect("day").recorded_secs(), day.recorded_secs());
    }
    let month = b.inspect_month(cam, today.year, today.month).expect("month");
    assert_eq!(month.last().map(|d| d.date), Some(today));
    assert_eq!(code(b.inspect_day(cam, Date { year: 2026, month: 2, day: 30 })), ErrorCode::InvalidArgument);
    assert_eq!(code(b.inspect_month(StreamId(1), today.year, today.month)), ErrorCode::StreamNotFound);
}

#[test]
fn pictures_put_get_keys_list_delete() {
    let r = rig();
    let b = &r.backend;
    let space = r.space("s1");
    let pool = r.pool("pictures", PoolKind::Picture, space, 4);
    let t0 = 1_000 * US_PER_SEC;
    let key = PictureKey { bucket: "plates".into(), key: "2026/a.jpg".into() };
    let meta = |n: i64, key: Option<PictureKey>| PictureMeta {
        camera_id: "cam-1".into(),
        captured_at: t0 + n,
        content_type: "image/jpeg".into(),
        key,
    };
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let a = b.put_picture(pool, &meta(1, Some(key.clone())), &data).expect("put");
    let c = b.put_picture(pool, &meta(2, None), &data[..100]).expect("put");
    b.sync_pictures(pool).expect("sync");

    let got = b.get_picture(&a).expect("get");
    assert_eq!(&got.data[..], &data[..]);
    assert_eq!(got.info.meta.key.as_ref(), Some(&key));
    assert_eq!(&b.get_picture_range(&a, 10, 20).expect("range").data[..], &data[10..30]);
    assert_eq!(code(b.get_picture_range(&a, 4990, 20)), ErrorCode::InvalidArgument);
    assert_eq!(b.head_picture(&c).expect("head").size, 100);
    assert_eq!(b.picture_id_for_key(&key).expect("id"), a);
    assert_eq!(b.get_picture_by_key(&key).expect("by key").info.id, a);
    assert_eq!(b.list_keys("plates", "2026/", None, 10).expect("keys"), vec![("2026/a.jpg".to_string(), a)]);
    let q = PictureQuery { pool, camera_id: Some("cam-1".into()), start: t0, end: t0 + 10, limit: 10, after: None };
    let listed: Vec<PictureId> = b.list_pictures(&q).expect("list").into_iter().map(|p| p.id).collect();
    assert_eq!(listed, vec![a, c]);
    assert_eq!(code(b.put_picture(pool, &meta(3, None), &[])), ErrorCode::PictureSize);

    b.delete_picture(&c).expect("delete");
    assert_eq!(code(b.get_picture(&c)), ErrorCode::PictureNotFound);
    b.delete_picture_by_key(&key).expect("delete by key");
    assert_eq!(code(b.get_picture_by_key(&key)), ErrorCode::KeyNotFound);
    assert_eq!(code(b.head_picture(&a)), ErrorCode::PictureNotFound);
    assert!(b.list_pictures(&q).expect("list").is_empty());
}

#[test]
fn events_poll_by_sequence_and_wait() {
    let r = rig();
    let b = &r.backend;
    assert_eq!(b.last_event_seq().expect("seq"), 0);
    assert!(b.poll_events(0, 100, Duration::ZERO).expect("poll").is_empty());
    // Nothing comes: the wait ends empty after about `wait`.
    let t = Instant::now();
    assert!(b.poll_events(0, 100, Duration::from_millis(30)).expect("poll").is_empty());
    assert!(t.elapsed() >= Duration::from_millis(30));

    // A waiting poll wakes up when a space initialization reports.
    let waiter = {
        let b = Arc::clone(b);
        std::thread::spawn(move || b.poll_events(0, 100, Duration::from_secs(60)))
    };
    std::thread::sleep(Duration::from_millis(20));
    r.space("s1");
    r.space("s2");
    let woke = waiter.join().expect("waiter").expect("poll");
    assert!(!woke.is_empty());
    assert_eq!(woke[0].seq, 1);
    assert_eq!(woke[0].kind.name(), "space_status");

    let last = b.last_event_seq().expect("seq");
    assert!(last >= 2);
    let all = b.poll_events(0, 100, Duration::ZERO).expect("poll");
    assert_eq!(all.last().map(|e| e.seq), Some(last));
    assert_eq!(b.poll_events(0, 1, Duration::ZERO).expect("poll").len(), 1);
    assert_eq!(b.poll_events(1, 100, Duration::ZERO).expect("poll")[0].seq, 2);
    // From now on: nothing new yet, and an event waiting returns at once.
    assert!(b.poll_events(last, 100, Duration::ZERO).expect("poll").is_empty());
    let t = Instant::now();
    assert_eq!(b.poll_events(last - 1, 100, Duration::from_secs(60)).expect("poll").len(), 1);
    assert!(t.elapsed() < Duration::from_secs(30));
}

#[test]
fn upkeep_check_maintenance_checkpoint() {
    let r = rig();
    let b = &r.backend;
    let space = r.space("s1");
    let pool = r.pool("video", PoolKind::Video, space, 8);
    let cam = r.camera(pool, "cam-1");
    b.append(cam, US_PER_SEC, true, Bytes::from_static(b"frame")).expect("append");
    b.sync_all().expect("sync");
    b.run_maintenance().expect("maintenance");
    b.checkpoint().expect("checkpoint");
    let report = b.check(false).expect("check");
    assert!(report.is_clean(), "{:?}", report.problems);
    assert!(b.check(true).expect("repair").is_clean());
    b.check_open().expect("open");
}

#[test]
fn after_close_every_call_fails_with_closed() {
    let r = rig();
    let space = r.space("s1");
    let pool = r.pool("video", PoolKind::Video, space, 4);
    let pictures = r.pool("pictures", PoolKind::Picture, space, 4);
    let cam = r.camera(pool, "cam-1");
    let b = Arc::clone(&r.backend);
    b.append(cam, US_PER_SEC, true, Bytes::from_static(b"frame")).expect("append");
    let pic = b
        .put_picture(
            pictures,
            &PictureMeta { camera_id: "c".into(), captured_at: 1, content_type: String::new(), key: None },
            b"jpeg",
        )
        .expect("put");
    let lock = b.lock(cam, 0, US_PER_SEC, None).expect("lock");
    b.close().expect("close");
    b.close().expect("closing again does nothing");

    let key = PictureKey { bucket: "b".into(), key: "k".into() };
    let meta = PictureMeta { camera_id: "c".into(), captured_at: 1, content_type: String::new(), key: None };
    let spec = PoolSpec {
        name: "p".into(),
        kind: PoolKind::Video,
        capacity: SEG,
        spaces: vec![],
        strategy: OverwriteStrategy::OverwriteOldest,
        cycle_days: 0,
        max_lock_pct: 0,
    };
    let stream_spec = StreamSpec {
        pool,
        camera_id: "cam-9".into(),
        channel: 1,
        kind: StreamKind::Main,
        codec: String::new(),
        codec_config: vec![],
    };
    let q = PictureQuery { pool: pictures, camera_id: None, start: 0, end: 1, limit: 1, after: None };
    let date = Date { year: 2026, month: 11, day: 23 };
    let calls: Vec<(&str, ErrorCode)> = vec![
        ("check_open", code(b.check_open())),
        (
            "initialize_space",
            code(b.initialize_space(SpaceSpec { path: r.folder("x"), capacity: 0, segment_size: None })),
        ),
        ("restore_space", code(b.restore_space(&r.dir.path().join("s1")))),
        ("spaces", code(b.spaces())),
        ("space", code(b.space(space))),
        ("delete_space", code(b.delete_space(space))),
        ("reinitialize_space", code(b.reinitialize_space(space, Some(WipeConfirmation::DeleteAllDataInSpace)))),
        ("create_pool", code(b.create_pool(spec))),
        ("edit_pool", code(b.edit_pool(pool, PoolEdit::default()))),
        ("delete_pool", code(b.delete_pool(pool))),
        ("pools", code(b.pools())),
        ("pool", code(b.pool(pool))),
        ("thresholds", code(b.thresholds())),
        ("set_thresholds", code(b.set_thresholds(Thresholds::default()))),
        ("register_stream", code(b.register_stream(stream_spec))),
        ("find_stream", code(b.find_stream("cam-1", 1, StreamKind::Main))),
        ("streams", code(b.streams())),
        ("stream", code(b.stream(cam))),
        ("append", code(b.append(cam, 2 * US_PER_SEC, true, Bytes::from_static(b"f")))),
        ("flush", code(b.flush(cam))),
        ("sync", code(b.sync(cam))),
        ("sync_streams", code(b.sync_streams(&[cam]))),
        ("sync_all", code(b.sync_all())),
        ("read", code(b.read(cam, 0, US_PER_SEC).map(|_| ()))),
        ("recorded_ranges", code(b.recorded_ranges(cam, 0, 1, 0))),
        ("lock", code(b.lock(cam, 0, 1, None))),
        ("lock_pictures", code(b.lock_pictures(pictures, "c", 0, 1, None))),
        ("locks", code(b.locks())),
        ("extend_lock", code(b.extend_lock(lock, None))),
        ("unlock", code(b.unlock(lock))),
        ("today", code(b.today())),
        ("inspect_day", code(b.inspect_day(cam, date))),
        ("inspect_today", code(b.inspect_today(cam))),
        ("inspect_month", code(b.inspect_month(cam, 2026, 11))),
        ("put_picture", code(b.put_picture(pictures, &meta, b"jpeg"))),
        ("sync_pictures", code(b.sync_pictures(pictures))),
        ("get_picture", code(b.get_picture(&pic))),
        ("get_picture_range", code(b.get_picture_range(&pic, 0, 1))),
        ("head_picture", code(b.head_picture(&pic))),
        ("delete_picture", code(b.delete_picture(&pic))),
        ("picture_id_for_key", code(b.picture_id_for_key(&key))),
        ("get_picture_by_key", code(b.get_picture_by_key(&key))),
        ("delete_picture_by_key", code(b.delete_picture_by_key(&key))),
        ("list_keys", code(b.list_keys("b", "", None, 1))),
        ("list_pictures", code(b.list_pictures(&q))),
        ("poll_events", code(b.poll_events(0, 1, Duration::ZERO))),
        ("last_event_seq", code(b.last_event_seq())),
        ("check", code(b.check(false))),
        ("run_maintenance", code(b.run_maintenance())),
        ("checkpoint", code(b.checkpoint())),
    ];
    for (name, c) in calls {
        assert_eq!(c, ErrorCode::Closed, "{name} after close");
    }
}

#[test]
fn a_remote_error_keeps_its_number() {
    // What the remote backend will return for a server's refusal.
    let e = Error::Remote { code: ErrorCode::PoolFull, message: "pool 7 is full".into() };
    assert_eq!(e.code(), ErrorCode::PoolFull);
    assert_eq!(e.to_string(), "pool 7 is full");
    for c in [ErrorCode::Protocol, ErrorCode::Timeout, ErrorCode::Disconnected, ErrorCode::Unsupported] {
        assert_eq!(Error::Remote { code: c, message: String::new() }.code(), c);
    }
}
