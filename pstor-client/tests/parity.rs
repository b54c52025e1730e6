//! Parity: the same scenario driven through the embedded backend
//! (`open_local`) and through the remote one (`connect` to a pstor-server
//! in this process) gives the same transcript: the same shapes of
//! listings, the same bytes back, the same error codes. Ids (random) and
//! paths are left out of the transcript; everything else is compared.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pstor_client::{open_local, Backend};
use pstor_core::*;
use pstor_server::config::SpaceConfig;
use pstor_server::ByteSize;
use std::path::Path;
use std::time::{Duration, Instant};

/// The transcript of a run, one line per observation.
#[derive(Default)]
struct Log(Vec<String>);

impl Log {
    fn put(&mut self, what: &str, v: impl std::fmt::Debug) {
        self.0.push(format!("{what}: {v:?}"));
    }
    fn code<T>(&mut self, what: &str, r: Result<T>) {
        let c = match r {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("{:?}", e.code()),
        };
        self.0.push(format!("{what}: {c}"));
    }
}

fn now_us() -> Timestamp {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    d.as_micros() as i64
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01).
fn civil(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    Date { year, month, day }
}

/// Relative to `base`, in ms (so both runs' transcripts compare).
fn rel(base: Timestamp, t: Timestamp) -> i64 {
    (t - base) / 1000
}

/// The scenario. `dir` is a folder on the engine's machine (here both
/// are this machine); `base` is the same for both runs.
fn scenario(b: &dyn Backend, dir: &Path, base: Timestamp, log: &mut Log) {
    // ---- spaces -------------------------------------------------------------
    let path = dir.join("space-p");
    std::fs::create_dir_all(&path).unwrap();
    let job = b.initialize_space(SpaceSpec { path: path.clone(), capacity: 24 * MIB, segment_size: None }).unwrap();
    let planned = job.space();
    let space = job.wait().unwrap();
    log.put("job space is the planned one", planned == space);
    log.code(
        "initialize again",
        b.initialize_space(SpaceSpec { path: path.clone(), capacity: 24 * MIB, segment_size: None })
            .and_then(|j| j.wait()),
    );
    let mut spaces: Vec<_> = b
        .spaces()
        .unwrap()
        .into_iter()
        .map(|s| (s.capacity, s.segment_size, s.status, s.progress, s.reserved, s.detail))
        .collect();
    spaces.sort_by_key(|s| s.0);
    log.put("spaces", spaces);
    let one = b.space(space).unwrap();
    log.put("space", (one.capacity, one.segment_size, one.status));

    // ---- pools --------------------------------------------------------------
    let spec = |name: &str, kind, mib: u64, lock_pct| PoolSpec {
        name: name.into(),
        kind,
        capacity: mib * MIB,
        spaces: vec![space],
        strategy: OverwriteStrategy::OverwriteOldest,
        cycle_days: 0,
        max_lock_pct: lock_pct,
    };
    let video = b.create_pool(spec("video", PoolKind::Video, 10, 25)).unwrap();
    let pics = b.create_pool(spec("pics", PoolKind::Picture, 4, 50)).unwrap();
    log.code("duplicate pool name", b.create_pool(spec("video", PoolKind::Video, 1, 10)));
    b.edit_pool(video, PoolEdit { cycle_days: Some(0), ..Default::default() }).unwrap();
    let mut pools: Vec<_> = b
        .pools()
        .unwrap()
        .into_iter()
        .map(|p| {
            let c = p.config;
            (c.name, c.kind, c.strategy, c.cycle_days, c.max_lock_pct, c.quotas.len(), p.status, p.capacity)
        })
        .collect();
    pools.sort_by(|a, b| a.0.cmp(&b.0));
    log.put("pools", pools);
    let thresholds = b.thresholds().unwrap();
    log.put("thresholds", thresholds);
    b.set_thresholds(thresholds).unwrap();

    // ---- streams ------------------------------------------------------------
    let s = b.register_stream(camera(video, "cam-1")).unwrap();
    log.code("register again", b.register_stream(camera(video, "cam-1")));
    log.put("find", b.find_stream("cam-1", 1, StreamKind::Main).unwrap() == Some(s));
    log.put("find unknown", b.find_stream("cam-x", 1, StreamKind::Main).unwrap());
    let shape = |i: StreamInfo| {
        (
            i.config.camera_id,
            i.config.channel,
            i.config.kind,
            i.config.codec,
            i.config.codec_config,
            i.first_ts.map(|t| rel(base, t)),
            i.last_ts.map(|t| rel(base, t)),
        )
    };
    log.put("streams before data", b.streams().unwrap().into_iter().map(shape).collect::<Vec<_>>());

    // ---- video: append, sync, read ------------------------------------------
    // About 4 MiB: more segments than the 25 % lock quota of the pool covers.
    let frames: Vec<Frame> = (0..330).map(|i| frame(11, base, i, 12 << 10)).collect();
    append_all(b, s, &frames).unwrap();
    b.sync(s).unwrap();
    let last = frames.last().unwrap().ts;
    log.put("stream after data", shape(b.stream(s).unwrap()));
    let back = read_all(b, s, base, last).unwrap();
    log.put("read all equal", (back.len(), back == frames));
    let mid = read_all(b, s, base + 30 * 40_000, base + 60 * 40_000).unwrap();
    log.put("read from mid-GOP", (mid.len(), rel(base, mid[0].ts), mid[0].key));
    log.put("read after the last frame (from its key frame)", read_all(b, s, last + 1, last + 2).unwrap().len());
    let ranges = b.recorded_ranges(s, base - US_PER_SEC, last + US_PER_SEC, 0).unwrap();
    log.put("ranges", ranges.iter().map(|&(a, z)| (rel(base, a), rel(base, z))).collect::<Vec<_>>());
    log.code("negative tolerance", b.recorded_ranges(s, base, last, -1));
    log.put("streams", b.streams().unwrap().into_iter().map(shape).collect::<Vec<_>>());

    // ---- locks --------------------------------------------------------------
    let l1 = b.lock(s, base, base + US_PER_SEC, None).unwrap();
    let lock_shape = |l: &LockConfig| {
        let target = match &l.target {
            LockTarget::Stream(x) => format!("stream {}", *x == s),
            LockTarget::Pictures { camera_id, .. } => format!("pictures {camera_id}"),
        };
        (target, rel(base, l.start), rel(base, l.end), l.expires.is_some())
    };
    log.put("locks", b.locks().unwrap().iter().map(lock_shape).collect::<Vec<_>>());
    b.extend_lock(l1, Some(now_us() + US_PER_DAY)).unwrap();
    log.put("extended", b.locks().unwrap().iter().map(lock_shape).collect::<Vec<_>>());
    log.code("lock over the quota", b.lock(s, base, last, None));
    log.code("lock backwards", b.lock(s, last, base, None));
    log.code("delete a pool with locks", b.delete_pool(video));
    b.unlock(l1).unwrap();
    log.code("unlock again", b.unlock(l1));
    log.code("extend unlocked", b.extend_lock(l1, None));

    // ---- events after a lock ------------------------------------------------
    let all = b.poll_events(0, 4096, Duration::ZERO).unwrap();
    log.put(
        "space initialized event",
        all.iter().any(|e| {
            e.kind == EventKind::SpaceStatus { space, status: SpaceStatus::Normal, detail: "initialized".into() }
        }),
    );
    let seq = b.last_event_seq().unwrap();
    log.put("last seq is the newest", all.last().map(|e| e.seq) <= Some(seq));
    let l2 = b.lock(s, base, base + US_PER_SEC, Some(now_us() + US_PER_SEC)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut after = seq;
    let mut expired = false;
    while !expired && Instant::now() < deadline {
        for e in b.poll_events(after, 100, Duration::from_secs(5)).unwrap() {
            after = e.seq;
            expired |= e.kind == EventKind::LockExpired { lock: l2 };
        }
    }
    log.put("lock expired event", expired);
    log.code("unlock the lapsed lock", b.unlock(l2));

    // ---- inspection ---------------------------------------------------------
    let date = civil(base.div_euclid(US_PER_DAY));
    let day = b.inspect_day(s, date).unwrap();
    log.put("inspect day", (day.stream == s, day.date, &day.hours));
    let month = b.inspect_month(s, date.year, date.month).unwrap();
    let today = b.today().unwrap();
    // Today's entry is left out: it may change between the two runs.
    log.put("inspect month", month.iter().filter(|d| d.date != today).collect::<Vec<_>>());
    log.put("today", today == civil(now_us().div_euclid(US_PER_DAY)));
    log.put("inspect today", b.inspect_today(s).unwrap().date == today);
    log.code("inspect year 0", b.inspect_day(s, Date { year: 0, month: 1, day: 1 }));

    // ---- pictures -----------------------------------------------------------
    let key = |k: &str| PictureKey { bucket: "plates".into(), key: k.into() };
    let meta = |i: i64| PictureMeta {
        camera_id: "cam-p".into(),
        captured_at: base + i * US_PER_SEC,
        content_type: "image/jpeg".into(),
        key: Some(key(&format!("k{i}"))),
    };
    let pdata = |i: i64| content(100 + i as u64, 30_000 + i as usize * 1000);
    let ids: Vec<PictureId> = (0..3).map(|i| b.put_picture(pics, &meta(i), &pdata(i)).unwrap()).collect();
    log.code("picture into a video pool", b.put_picture(video, &meta(9), &pdata(9)));
    b.sync_pictures(pics).unwrap();
    let p0 = b.get_picture(&ids[0]).unwrap();
    log.put("get", (p0.data == pdata(0), &p0.info.meta, p0.info.size, p0.info.md5));
    let h = b.head_picture(&ids[1]).unwrap();
    log.put("head", (&h.meta, h.size, rel(base, h.stored_at) > 0));
    log.put("range", b.get_picture_range(&ids[2], 100, 50).unwrap().data == pdata(2).slice(100..150));
    log.code("range past the end", b.get_picture_range(&ids[2], 1 << 20, 10));
    log.put("id for key", b.picture_id_for_key(&key("k1")).unwrap() == ids[1]);
    log.put("get by key", b.get_picture_by_key(&key("k2")).unwrap().data == pdata(2));
    let keys = |v: Vec<(String, PictureId)>| v.into_iter().map(|(k, id)| (k, ids.contains(&id))).collect::<Vec<_>>();
    log.put("list keys", keys(b.list_keys("plates", "k", None, 10).unwrap()));
    log.put("list keys after", keys(b.list_keys("plates", "", Some("k0"), 1).unwrap()));
    let q = PictureQuery {
        pool: pics,
        camera_id: Some("cam-p".into()),
        start: base,
        end: base + 60 * US_PER_SEC,
        limit: 2,
        after: None,
    };
    let page = b.list_pictures(&q).unwrap();
    let shown = |v: &[PictureInfo]| v.iter().map(|p| (rel(base, p.meta.captured_at), p.size)).collect::<Vec<_>>();
    log.put("list pictures", shown(&page));
    let last_p = page.last().unwrap();
    let next =
        b.list_pictures(&PictureQuery { after: Some((last_p.meta.captured_at, last_p.id)), ..q.clone() }).unwrap();
    log.put("list pictures, next page", shown(&next));
    let pl = b.lock_pictures(pics, "cam-p", base, base + 10 * US_PER_SEC, None).unwrap();
    log.put("picture lock", b.locks().unwrap().iter().map(lock_shape).collect::<Vec<_>>());
    b.unlock(pl).unwrap();
    b.delete_picture(&ids[0]).unwrap();
    log.code("get deleted", b.get_picture(&ids[0]));
    log.code("head deleted", b.head_picture(&ids[0]));
    log.code("delete deleted", b.delete_picture(&ids[0]));
    b.delete_picture_by_key(&key("k1")).unwrap();
    log.code("get by deleted key", b.get_picture_by_key(&key("k1")));
    log.code("id for missing key", b.picture_id_for_key(&key("nope")));
    log.code("delete missing key", b.delete_picture_by_key(&key("nope")));

    // ---- not found, and other refusals: the same codes ------------------------
    let (ns, np, nl) = (StreamId(7), PoolId(7), LockId(7));
    log.code("space 7", b.space(SpaceId(7)));
    log.code("delete space 7", b.delete_space(SpaceId(7)));
    log.code("reinitialize without confirmation", b.reinitialize_space(space, None));
    log.code("pool 7", b.pool(np));
    log.code("edit pool 7", b.edit_pool(np, PoolEdit::default()));
    log.code("delete pool 7", b.delete_pool(np));
    log.code("register in pool 7", b.register_stream(camera(np, "cam-z")));
    log.code("stream 7", b.stream(ns));
    log.code("append to stream 7, then flush", b.append(ns, base, true, content(1, 10)).and_then(|()| b.flush(ns)));
    log.code("flush 7", b.flush(ns));
    log.code("sync 7", b.sync(ns));
    log.code("sync streams 7", b.sync_streams(&[ns]));
    log.code("read 7", b.read(ns, base, last));
    log.code("ranges 7", b.recorded_ranges(ns, base, last, 0));
    log.code("lock 7", b.lock(ns, base, last, None));
    log.code("unlock 7", b.unlock(nl));
    log.code("inspect 7", b.inspect_day(ns, date));
    log.code("inspect today 7", b.inspect_today(ns));
    log.code("pictures of pool 7", b.list_pictures(&PictureQuery { pool: np, ..q.clone() }));
    log.code("append out of order, then sync", b.append(s, base, true, content(1, 10)).and_then(|()| b.sync(s)));
    log.code("sync after the error was reported", b.sync(s));

    // ---- check, sync_all, close --------------------------------------------
    let report = b.check(false).unwrap();
    log.put("check problems", report.problems.len());
    b.sync_all().unwrap();
    b.close().unwrap();
    log.code("spaces after close", b.spaces());
    log.code("append after close", b.append(s, last + 40_000, true, content(1, 10)));
    log.code("close again", b.close());
}

#[test]
fn the_embedded_and_the_remote_backend_answer_alike() {
    // Frames two days ago, at 10:00 UTC: days that no longer change.
    let base = (now_us().div_euclid(US_PER_DAY) - 2) * US_PER_DAY + 10 * 3600 * US_PER_SEC;

    // Embedded: an engine set up like the server (1 MiB segments, one
    // 4 MiB space made the way the server's configuration makes it).
    let local_dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::new(local_dir.path().join("engine"));
    opts.min_space_capacity = MIB;
    opts.segment_size = MIB;
    let local = open_local(opts).unwrap();
    let first = local_dir.path().join("space1");
    std::fs::create_dir_all(&first).unwrap();
    local
        .initialize_space(SpaceSpec { path: first, capacity: 4 * MIB, segment_size: Some(MIB) })
        .unwrap()
        .wait()
        .unwrap();
    let mut local_log = Log::default();
    scenario(&*local, local_dir.path(), base, &mut local_log);

    // Remote: a server with the same 4 MiB space and no pools.
    let ts = TestServer::with(|cfg| {
        cfg.spaces[0] =
            SpaceConfig { path: cfg.spaces[0].path.clone(), capacity: ByteSize(4 * MIB), segment_size: None };
        cfg.pools.clear();
    });
    let remote = ts.client();
    let mut remote_log = Log::default();
    scenario(&*remote, ts.dir.path(), base, &mut remote_log);

    // Shown with --nocapture.
    for line in &remote_log.0 {
        eprintln!("{line}");
    }
    for (l, r) in local_log.0.iter().zip(&remote_log.0) {
        assert_eq!(l, r, "embedded (left) and remote (right) differ");
    }
    assert_eq!(local_log.0.len(), remote_log.0.len());
    // The server goes on after its client closed.
    assert!(ts.server().engine().check_open().is_ok());
}
