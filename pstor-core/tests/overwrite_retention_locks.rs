//! Overwrite strategies, thresholds, retention (cycle days), locks and their
//! quota, and video inspection — all on a fake clock.

mod common;
use common::*;
use pstor_core::io::{FaultPlan, MemStorage, Storage};
use pstor_core::*;
use std::sync::Arc;

const DAY: i64 = 86_400 * US_PER_SEC;

/// Appends 1 fps frames of `len` bytes for `secs` seconds from `start`.
fn record_slow(e: &Engine, s: StreamId, start: Timestamp, secs: i64, len: usize) {
    for i in 0..secs {
        let ts = start + i * US_PER_SEC;
        e.append(s, ts, i % 2 == 0, payload(s.0, ts, len)).expect("append");
    }
}

/// Appends 4 KB frames at 25 fps until the engine refuses one.
fn fill_until_refused(e: &Engine, s: StreamId) -> Option<Error> {
    (0..100_000i64).find_map(|i| {
        let ts = T0 + i * 40_000;
        e.append(s, ts, i % 25 == 0, payload(1, ts, 4000)).err()
    })
}

#[test]
fn stop_when_full_refuses_with_a_typed_error_and_an_event() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 16, 4, OverwriteStrategy::StopWhenFull);
    let e = &rig.engine;
    let s = camera(e, pool, 1);
    let events = e.events().subscribe();
    let err = fill_until_refused(e, s);
    assert!(matches!(err, Some(Error::PoolFull { reason: FullReason::StopWhenFull, .. })), "{err:?}");
    assert!(events
        .try_iter()
        .any(|ev| matches!(ev.kind, EventKind::PoolFull { reason: FullReason::StopWhenFull, .. })));
    let info = e.pool(pool).expect("pool");
    assert_eq!(info.used, info.capacity);
    e.run_maintenance().expect("maintenance");
    assert!(e.events().poll(0).iter().any(|ev| matches!(ev.kind, EventKind::LowSpace { .. })));
    // Frames still buffered cannot be stored: sync says so rather than lying...
    assert!(matches!(e.sync(s), Err(Error::PoolFull { .. })));
    // ...and succeeds once the operator gives the pool room.
    e.edit_pool(pool, PoolEdit { capacity: Some(6 * SEG), ..Default::default() }).expect("grow");
    e.sync(s).expect("sync after growing");
    e.close().expect("close");
}

#[test]
fn overwrite_recycles_the_oldest_and_readers_see_overwritten_not_wrong_bytes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 16, 4, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    let s = camera(e, pool, 1);
    let first = record(e, s, 1, T0, 400);
    e.sync(s).expect("sync");
    // A reader positioned on the oldest data, not yet read.
    let mut reader = e.read(s, T0 - US_PER_SEC, T0 + 1000 * US_PER_SEC).expect("reader");
    // Write well over the pool's capacity.
    let later = T0 + 10_000 * US_PER_SEC;
    let last = record(e, s, 1, later, 6000);
    e.sync(s).expect("sync");
    let info = e.pool(pool).expect("pool");
    assert!(info.used <= info.capacity);
    // The reader's first record was recycled and rewritten under it.
    match reader.next() {
        Some(Err(Error::Overwritten { stream, .. })) => assert_eq!(stream, s),
        other => panic!("expected Overwritten, got {other:?}"),
    }
    assert!(reader.next().is_none(), "an iterator stops after an error");
    assert_eq!(first.len(), 400);
    // The oldest data is gone; the newest is intact.
    assert!(read_all(e, s, T0, T0 + 1000 * US_PER_SEC).is_empty());
    let tail = read_all(e, s, last[5000].0, later + 10_000 * US_PER_SEC);
    assert_eq!(tail.len(), 1000);
    assert!(tail.iter().zip(&last[5000..]).all(|(g, w)| g.ts == w.0 && g.data == w.2));
    assert!(e.events().poll(0).iter().any(|ev| matches!(ev.kind, EventKind::Recycled { retention: false, .. })));
    let ranges = e.recorded_ranges(s, T0, later + 10_000 * US_PER_SEC, 5 * US_PER_SEC).expect("ranges");
    assert_eq!(ranges.len(), 1);
    assert_eq!(ranges[0].1, last[5999].0);
    e.close().expect("close");
}

#[test]
fn proactive_recycling_keeps_free_space_above_the_overwrite_threshold() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 16, 10, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    e.set_thresholds(Thresholds { overwrite_pct: 30, alarm_pct: 10, volume_free_pct: 0 }).expect("thresholds");
    let s = camera(e, pool, 1);
    record(e, s, 1, T0, 5000);
    e.sync(s).expect("sync");
    e.run_maintenance().expect("maintenance");
    let info = e.pool(pool).expect("pool");
    assert!(info.free * 100 / info.capacity >= 30, "free {} of {}", info.free, info.capacity);
    assert!(matches!(
        e.set_thresholds(Thresholds { overwrite_pct: 101, ..Thresholds::default() }),
        Err(Error::InvalidArgument(_))
    ));
    e.close().expect("close");
}

#[test]
fn retention_frees_data_older_than_the_cycle() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 32, 24, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    e.edit_pool(pool, PoolEdit { cycle_days: Some(1), ..Default::default() }).expect("cycle");
    let busy = camera(e, pool, 1);
    let idle = camera(e, pool, 2);
    record(e, busy, 1, T0, 2000);
    record(e, idle, 2, T0, 200);
    e.sync_all().expect("sync");
    rig.clock.advance(2 * DAY);
    record(e, busy, 1, T0 + 2 * DAY, 300);
    e.sync_all().expect("sync");
    e.run_maintenance().expect("maintenance"); // one round: seals the idle stream's segment, frees all expired
    assert!(read_all(e, busy, T0, T0 + DAY).is_empty());
    assert!(read_all(e, idle, T0, T0 + DAY).is_empty());
    assert_eq!(read_all(e, busy, T0 + 2 * DAY, T0 + 3 * DAY).len(), 300);
    assert!(e.events().poll(0).iter().any(|ev| matches!(ev.kind, EventKind::Recycled { retention: true, .. })));
    e.close().expect("close");
}

#[test]
fn locks_protect_data_within_the_quota_and_survive_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 16, 8, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    e.edit_pool(pool, PoolEdit { max_lock_pct: Some(25), ..Default::default() }).expect("edit");
    let s = camera(e, pool, 1);
    let frames = record(e, s, 1, T0, 3000);
    e.sync(s).expect("sync");
    assert!(matches!(e.lock(s, T0 + 10, T0, None), Err(Error::InvalidArgument(_))));
    assert!(matches!(e.lock(StreamId(1), T0, T0 + 1, None), Err(Error::StreamNotFound(_))));
    // 3000 frames span ~5 segments; locking all of it exceeds 25 % of 8.
    let all = e.lock(s, T0, T0 + 200 * US_PER_SEC, None);
    match all {
        Err(Error::LockQuotaExceeded { limit, locked, requested, .. }) => {
            assert_eq!(limit, 2 * SEG);
            assert_eq!(locked, 0);
            assert!(requested > limit);
            let msg = e.lock(s, T0, T0 + 200 * US_PER_SEC, None).expect_err("again").to_string();
            assert!(msg.contains("left"), "{msg}");
        }
        other => panic!("expected quota error, got {other:?}"),
    }
    let evidence = (T0 + 2 * US_PER_SEC, T0 + 6 * US_PER_SEC);
    let lock = e.lock(s, evidence.0, evidence.1, Some(T0 + 10 * DAY)).expect("lock");
    assert_eq!(e.pool(pool).expect("pool").locked, SEG);
    // The limit cannot be lowered under what is locked.
    let lower = e.edit_pool(pool, PoolEdit { max_lock_pct: Some(5), ..Default::default() });
    assert!(matches!(lower, Err(Error::LockQuotaExceeded { .. })), "{lower:?}");
    let expect_evidence = |e: &Engine| {
        let got = read_all(e, s, evidence.0, evidence.1);
        assert!(!got.is_empty());
        for g in got {
            let w = frames.iter().find(|w| w.0 == g.ts).expect("frame known");
            assert_eq!(g.data, w.2);
        }
    };
    // Overwrite the pool several times over: the locked segment stays.
    record(e, s, 1, T0 + 1000 * US_PER_SEC, 12_000);
    e.sync(s).expect("sync");
    expect_evidence(e);
    assert!(read_all(e, s, T0 + 100 * US_PER_SEC, T0 + 110 * US_PER_SEC).is_empty(), "unlocked old data recycled");
    // Locks survive a restart.
    e.close().expect("close");
    let e = open(tmp.path(), rig.storage.clone(), rig.clock.clone());
    assert_eq!(e.locks().len(), 1);
    expect_evidence(&e);
    e.extend_lock(lock, Some(T0 + 20 * DAY)).expect("extend");
    assert!(matches!(e.extend_lock(lock, Some(T0 - 1)), Err(Error::InvalidArgument(_))));
    // Expiry lifts the protection.
    rig.clock.advance(21 * DAY);
    e.run_maintenance().expect("maintenance");
    assert!(e.locks().is_empty());
    assert!(e.events().poll(0).iter().any(|ev| matches!(ev.kind, EventKind::LockExpired { lock: l } if l == lock)));
    assert!(matches!(e.unlock(lock), Err(Error::LockNotFound(_))));
    record(&e, s, 1, T0 + 22 * DAY, 12_000);
    e.sync(s).expect("sync");
    assert!(read_all(&e, s, evidence.0, evidence.1).is_empty());
    e.close().expect("close");
}

#[test]
fn a_full_pool_waits_for_a_seal_held_behind_a_slow_header_sync() {
    // A new segment's header is made durable before any record in it is
    // written; with a slow disk the segment fills while that sync is in
    // flight, so its seal waits behind it. A full pool must wait for that
    // seal before telling the truth about its data (here: all locked), and
    // overwriting must not fail for a seal still in flight.
    let tmp = tempfile::tempdir().expect("tmp");
    let storage = Arc::new(MemStorage::new(1 << 30));
    let e = open(tmp.path(), storage.clone(), Arc::new(FakeClock::new(T0)));
    let d = tmp.path().join("space1");
    storage.create_dir_all(&d).expect("mkdir");
    let space = e
        .initialize_space(SpaceSpec { path: d, capacity: 16 * SEG, segment_size: None })
        .expect("init")
        .wait()
        .expect("done");
    let spec = |name: &str, max_lock_pct| PoolSpec {
        name: name.into(),
        kind: PoolKind::Video,
        capacity: 4 * SEG,
        spaces: vec![space],
        strategy: OverwriteStrategy::OverwriteOldest,
        cycle_days: 0,
        max_lock_pct,
    };
    let locked = e.create_pool(spec("locked", 100)).expect("pool");
    let open_pool = e.create_pool(spec("overwritten", 0)).expect("pool");
    let (a, b) = (camera(&e, locked, 1), camera(&e, open_pool, 2));
    e.lock(a, T0, T0 + DAY, None).expect("lock");
    storage.set_faults(FaultPlan { slow_sync: Some(std::time::Duration::from_millis(40)), ..FaultPlan::default() });
    let err = fill_until_refused(&e, a);
    assert!(matches!(err, Some(Error::PoolFull { reason: FullReason::OnlyLockedData, .. })), "{err:?}");
    // Three times the pool's size: every segment recycled, no refusal.
    for i in 0..3_000i64 {
        let ts = T0 + i * 40_000;
        e.append(b, ts, i % 25 == 0, payload(2, ts, 4000)).unwrap_or_else(|err| panic!("frame {i}: {err}"));
    }
    storage.set_faults(FaultPlan::default());
    let _ = e.close();
}

#[test]
fn a_pool_holding_only_locked_data_refuses_writes_with_an_alarm() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 16, 4, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    e.edit_pool(pool, PoolEdit { max_lock_pct: Some(100), ..Default::default() }).expect("edit");
    let s = camera(e, pool, 1);
    e.lock(s, T0, T0 + DAY, None).expect("lock the whole day ahead");
    let err = fill_until_refused(e, s);
    assert!(matches!(err, Some(Error::PoolFull { reason: FullReason::OnlyLockedData, .. })), "{err:?}");
    assert!(e
        .events()
        .poll(0)
        .iter()
        .any(|ev| matches!(ev.kind, EventKind::PoolFull { reason: FullReason::OnlyLockedData, .. })));
    assert!(matches!(e.delete_pool(pool), Err(Error::PoolHasLocks(_))));
    // Close reports that buffered frames could not be stored.
    assert!(matches!(e.close(), Err(Error::PoolFull { .. })));
    let e = open(tmp.path(), rig.storage.clone(), rig.clock.clone());
    assert!(e.check(false).expect("check").is_clean());
    e.close().expect("close");
}

#[test]
fn a_pool_with_fewer_segments_than_streams_says_so() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 16, 2, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    let cams: Vec<StreamId> = (1..=3).map(|i| camera(e, pool, i)).collect();
    for c in &cams[..2] {
        record(e, *c, 1, T0, 10);
        e.sync(*c).expect("sync");
    }
    let events = e.events().subscribe();
    record(e, cams[2], 1, T0, 10);
    let err = e.sync(cams[2]).expect_err("a third stream in a two-segment pool");
    let held = FullReason::HeldOpen { writers: 2, segments: 2 };
    assert!(matches!(err, Error::PoolFull { reason, .. } if reason == held), "{err:?}");
    assert!(err.to_string().contains("all 2 of its segments are held open by 2 recording streams"), "{err}");
    assert!(events.try_iter().any(|ev| ev.kind == EventKind::PoolFull { pool, reason: held }));
    // One more segment and the third camera records.
    e.edit_pool(pool, PoolEdit { capacity: Some(3 * SEG), ..Default::default() }).expect("grow");
    e.sync(cams[2]).expect("sync with room");
    e.close().expect("close");
}

#[test]
fn inspection_rounds_recorded_seconds_to_the_nearest() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 64, 48, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    let s = camera(e, pool, 1);
    let h = 3600 * US_PER_SEC;
    // One recording per hour, covering (first to last frame) 9.96 s, 9.5 s,
    // 9.48 s and a single frame (0 s).
    let record = |start: Timestamp, frames: i64, step: i64| {
        for i in 0..frames {
            let ts = start + i * step;
            e.append(s, ts, i == 0, payload(1, ts, 100)).expect("append");
        }
    };
    record(T0, 250, 40_000);
    record(T0 + h, 20, 500_000);
    record(T0 + 2 * h, 238, 40_000);
    record(T0 + 3 * h, 1, 40_000);
    e.sync(s).expect("sync");
    rig.clock.set(T0 + 5 * h);
    let day = e.inspect_day(s, e.today()).expect("inspect");
    let secs: Vec<u32> = day.hours[..4].iter().map(|h| h.recorded_secs).collect();
    assert_eq!(secs, [10, 10, 9, 0]);
    assert_eq!(e.inspect_month(s, 2026, 11).expect("month")[22].recorded_secs, 29);
    e.close().expect("close");
}

#[test]
fn video_inspection_by_hour_day_and_month() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 64, 48, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    let s = camera(e, pool, 1);
    let h = 3600 * US_PER_SEC;
    record_slow(e, s, T0, 1800, 100); // 00:00-00:30
    record_slow(e, s, T0 + 40 * 60 * US_PER_SEC, 1800, 100); // 00:40-01:10
    record_slow(e, s, T0 + 5 * h, 3601, 100); // 05:00-06:00:00
    e.sync(s).expect("sync");
    rig.clock.set(T0 + 8 * h + 30 * 60 * US_PER_SEC);
    let date = Date { year: 2026, month: 11, day: 23 };
    assert_eq!(e.today(), date);
    let day = e.inspect_day(s, date).expect("inspect");
    assert_eq!(day.hours.len(), 9, "hours up to now only");
    let h0 = &day.hours[0];
    assert!(h0.exception);
    assert_eq!(h0.gaps.len(), 1);
    assert_eq!(h0.gaps[0].0, T0 + 1799 * US_PER_SEC);
    assert_eq!(h0.gaps[0].1, T0 + 40 * 60 * US_PER_SEC);
    assert!((2998..=3000).contains(&h0.recorded_secs), "{}", h0.recorded_secs);
    let h1 = &day.hours[1];
    assert!(h1.exception && (598..=600).contains(&h1.recorded_secs));
    assert!(day.hours[2].exception && day.hours[2].recorded_secs == 0);
    let h5 = &day.hours[5];
    assert!(!h5.exception, "{h5:?}");
    assert_eq!(h5.recorded_secs, 3600);
    assert!(day.hours[8].partial);
    assert_eq!(e.inspect_today(s).expect("today"), day);
    let month = e.inspect_month(s, 2026, 11).expect("month");
    assert_eq!(month.len(), 23);
    assert_eq!(month[22].exception_hours as usize, day.exception_hours());
    assert_eq!(month[0].recorded_secs, 0);
    assert!(matches!(e.inspect_day(s, Date { year: 2026, month: 2, day: 30 }), Err(Error::InvalidArgument(_))));
    e.close().expect("close");
}
