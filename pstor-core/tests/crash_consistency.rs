//! Crash consistency through the fault-injecting in-memory backend: a crash
//! at every sync point, torn and reordered unsynced writes, ENOSPC, EIO on
//! fsync and on read, bit rot, a vanished volume. The invariant every test
//! asserts: everything acknowledged by `sync()` reads back byte-identical
//! after recovery, and nothing corrupt is ever returned.

mod common;
use bytes::Bytes;
use common::{payload, read_all, T0};
use pstor_core::io::{FaultPlan, MemStorage, Storage};
use pstor_core::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SEG: u64 = 64 << 10;
const CAPACITY: u64 = 64 << 20;

fn opts() -> EngineOptions {
    let mut o = EngineOptions::new("/mem/engine");
    o.min_space_capacity = 256 << 10;
    o.segment_size = SEG;
    o.segments_per_file = 4;
    o.chunk_max_bytes = 6 << 10;
    o.background = false;
    o
}

fn space_dir() -> PathBuf {
    PathBuf::from("/mem/space1")
}

/// What the workload wrote and what was acknowledged, per stream.
#[derive(Default, Clone)]
struct Ledger {
    written: Vec<Vec<(Timestamp, bool, Bytes)>>,
    acked: Vec<usize>,
}

/// Sets up a space, a pool and `streams` cameras; `None` if the storage
/// crashed (or failed) before the setup finished.
fn setup(storage: &Arc<MemStorage>, clock: &Arc<FakeClock>, streams: usize) -> Option<(Engine, Vec<StreamId>)> {
    setup_with(opts(), storage, clock, streams)
}

/// [`setup`] with these engine options.
fn setup_with(
    o: EngineOptions,
    storage: &Arc<MemStorage>,
    clock: &Arc<FakeClock>,
    streams: usize,
) -> Option<(Engine, Vec<StreamId>)> {
    let dynstore: Arc<dyn Storage> = storage.clone();
    let engine = Engine::open_with(o, dynstore, clock.clone()).ok()?;
    storage.create_dir_all(&space_dir()).ok()?;
    let space = engine
        .initialize_space(SpaceSpec { path: space_dir(), capacity: 48 * SEG, segment_size: None })
        .ok()?
        .wait()
        .ok()?;
    let pool = engine
        .create_pool(PoolSpec {
            name: "video".into(),
            kind: PoolKind::Video,
            capacity: 40 * SEG,
            spaces: vec![space],
            strategy: OverwriteStrategy::OverwriteOldest,
            cycle_days: 0,
            max_lock_pct: 0,
        })
        .ok()?;
    let mut ids = Vec::new();
    for n in 0..streams {
        let spec = StreamSpec {
            pool,
            camera_id: format!("cam-{n}"),
            channel: 1,
            kind: StreamKind::Main,
            codec: "H264".into(),
            codec_config: vec![],
        };
        ids.push(engine.register_stream(spec).ok()?);
    }
    Some((engine, ids))
}

/// Appends `rounds` frames to every stream, syncing all every `sync_every`
/// rounds; stops at the first error. Frames stay far below the pool's
/// capacity so nothing is recycled and every acked frame must survive.
fn workload(engine: &Engine, ids: &[StreamId], ledger: &mut Ledger, rounds: usize, sync_every: usize) -> Option<Error> {
    if ledger.written.len() < ids.len() {
        ledger.written.resize(ids.len(), Vec::new());
        ledger.acked.resize(ids.len(), 0);
    }
    for r in 0..rounds {
        for (i, &s) in ids.iter().enumerate() {
            let n = ledger.written[i].len();
            let ts = T0 + n as i64 * 40_000 + i as i64;
            let key = n.is_multiple_of(10);
            let data = payload(i as u64, ts, if key { 900 } else { 100 + (n * 31) % 300 });
            if let Err(e) = engine.append(s, ts, key, data.clone()) {
                return Some(e);
            }
            ledger.written[i].push((ts, key, data));
        }
        if r % sync_every == sync_every - 1 {
            match engine.sync_all() {
                Ok(()) => {
                    for i in 0..ids.len() {
                        ledger.acked[i] = ledger.written[i].len();
                    }
                }
                Err(e) => return Some(e),
            }
        }
    }
    None
}

/// Reopens on `image` and checks the invariant: every acked frame is there,
/// byte-identical, and every frame returned is one that was written.
fn verify(image: MemStorage, clock: &Arc<FakeClock>, ledger: &Ledger, what: &str) -> Engine {
    let storage: Arc<dyn Storage> = Arc::new(image);
    let engine = Engine::open_with(opts(), storage, clock.clone()).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
    for (i, written) in ledger.written.iter().enumerate() {
        let Some(s) = engine.find_stream(&format!("cam-{i}"), 1, StreamKind::Main) else {
            assert_eq!(ledger.acked[i], 0, "{what}: stream {i} lost with acked frames");
            continue;
        };
        let frames: Vec<Frame> = match engine.read(s, T0, T0 + 3_600 * US_PER_SEC) {
            Ok(it) => it.collect::<Result<_>>().unwrap_or_else(|e| panic!("{what}: stream {i}: read error {e}")),
            Err(e) => panic!("{what}: stream {i}: {e}"),
        };
        assert!(
            frames.len() >= ledger.acked[i],
            "{what}: stream {i}: {} frames back, {} acked",
            frames.len(),
            ledger.acked[i]
        );
        // The prefix property: frame k read back is frame k written, so
        // no frame is missing before a later one.
        for (k, f) in frames.iter().enumerate() {
            let w = written.get(k).unwrap_or_else(|| panic!("{what}: stream {i}: frame {k} never written"));
            assert_eq!((f.ts, f.key, &f.data), (w.0, w.1, &w.2), "{what}: stream {i}: frame {k} differs");
        }
    }
    let report = engine.check(false).unwrap_or_else(|e| panic!("{what}: check: {e}"));
    assert!(report.is_clean(), "{what}: check: {:?}", report.problems);
    engine
}

#[test]
fn crash_at_every_sync_point_keeps_every_acknowledged_frame() {
    let clock = Arc::new(FakeClock::new(T0));
    // Count the syncs of a whole run without faults.
    let probe = Arc::new(MemStorage::new(CAPACITY));
    let (engine, ids) = setup(&probe, &clock, 3).expect("setup");
    let mut ledger = Ledger::default();
    assert!(workload(&engine, &ids, &mut ledger, 120, 7).is_none());
    engine.close().expect("close");
    let total = probe.stats().syncs;
    assert!(total > 20, "only {total} syncs");
    let mut points = 0;
    for n in 1..=total {
        let storage =
            Arc::new(MemStorage::with_faults(CAPACITY, FaultPlan { crash_at_sync: Some(n), ..Default::default() }));
        let mut ledger = Ledger::default();
        if let Some((engine, ids)) = setup(&storage, &clock, 3) {
            let err = workload(&engine, &ids, &mut ledger, 120, 7);
            if err.is_none() {
                let _ = engine.close();
            }
        }
        // Group commit makes the number of syncs vary a little from run to
        // run; a run that did not crash must have made fewer than `n`.
        let made = storage.stats().syncs;
        assert!(storage.is_crashed() || made < n, "run {n} of {total}: {made} syncs and no crash at sync {n}");
        if !storage.is_crashed() {
            continue;
        }
        for seed in 0..3 {
            let e =
                verify(storage.crash_image(n * 31 + seed), &clock, &ledger, &format!("crash at sync {n}, seed {seed}"));
            e.close().expect("close");
        }
        points += 1;
    }
    assert!(points + 10 > total, "crashed at only {points} of {total} sync points");
    eprintln!("crashed at {points} sync points x 3 torn/reordered images");
}

#[test]
fn torn_and_reordered_unsynced_writes_never_surface() {
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let (engine, ids) = setup(&storage, &clock, 4).expect("setup");
    let mut ledger = Ledger::default();
    for step in 0..6 {
        assert!(workload(&engine, &ids, &mut ledger, 40, 9).is_none());
        // Power loss right now, with unsynced writes in flight: many outcomes.
        for seed in 0..12u64 {
            let e =
                verify(storage.crash_image(step * 100 + seed), &clock, &ledger, &format!("step {step} seed {seed}"));
            // Recovery followed by more writes and a second crash.
            let mut after = ledger.clone();
            let ids2: Vec<StreamId> =
                (0..4).map(|i| e.find_stream(&format!("cam-{i}"), 1, StreamKind::Main).expect("stream")).collect();
            // Continue each stream after what survived.
            for (i, s) in ids2.iter().enumerate() {
                let have = e.stream(*s).expect("info").last_ts;
                let keep = after.written[i].iter().take_while(|w| Some(w.0) <= have).count();
                after.written[i].truncate(keep);
                after.acked[i] = after.acked[i].min(keep);
            }
            assert!(workload(&e, &ids2, &mut after, 15, 5).is_none());
            e.close().expect("close");
        }
    }
}

#[test]
fn enospc_poisons_the_space_without_losing_acknowledged_data() {
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let (engine, ids) = setup(&storage, &clock, 2).expect("setup");
    let mut ledger = Ledger::default();
    assert!(workload(&engine, &ids, &mut ledger, 60, 6).is_none());
    let writes = storage.stats().writes;
    storage.set_faults(FaultPlan { enospc_at_write: Some(writes + 3), ..Default::default() });
    let err = workload(&engine, &ids, &mut ledger, 200, 6).expect("the full disk must surface");
    assert!(matches!(err, Error::SpaceFailed(_) | Error::PoolFull { .. } | Error::Io { .. }), "{err}");
    let space = engine.spaces()[0].id;
    assert_eq!(engine.space(space).expect("space").status, SpaceStatus::Error);
    assert!(engine
        .events()
        .poll(0)
        .iter()
        .any(|e| matches!(e.kind, EventKind::SpaceStatus { status: SpaceStatus::Error, .. })));
    // With its only space poisoned, nothing new can be acknowledged.
    let s = ids[0];
    let ts = T0 + 100_000 * US_PER_SEC;
    let refused = engine.append(s, ts, true, payload(0, ts, 10)).and_then(|_| engine.sync(s));
    assert!(matches!(refused, Err(Error::PoolFull { reason: FullReason::NoUsableSpace, .. })), "{refused:?}");
    drop(engine);
    storage.set_faults(FaultPlan::default());
    verify(storage.crash_image(7), &clock, &ledger, "after ENOSPC").close().expect("close");
}

#[test]
fn eio_on_fsync_fails_the_sync_and_poisons_the_space() {
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let (engine, ids) = setup(&storage, &clock, 2).expect("setup");
    let mut ledger = Ledger::default();
    assert!(workload(&engine, &ids, &mut ledger, 30, 5).is_none());
    let syncs = storage.stats().syncs;
    storage.set_faults(FaultPlan { fail_sync_at: Some(syncs + 1), ..Default::default() });
    let err = workload(&engine, &ids, &mut ledger, 30, 5).expect("the failed fsync must surface");
    assert!(matches!(err, Error::SpaceFailed(_)), "{err}");
    // No retry on the failed space: new frames cannot be acknowledged there.
    let s = ids[0];
    let ts = T0 + 100_000 * US_PER_SEC;
    let refused = engine.append(s, ts, true, payload(0, ts, 10)).and_then(|_| engine.sync(s));
    assert!(matches!(refused, Err(Error::PoolFull { reason: FullReason::NoUsableSpace, .. })), "{refused:?}");
    assert_eq!(engine.spaces()[0].status, SpaceStatus::Error);
    drop(engine);
    verify(storage.crash_image(3), &clock, &ledger, "after EIO on fsync").close().expect("close");
}

#[test]
fn bit_rot_is_reported_never_returned() {
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let (engine, ids) = setup(&storage, &clock, 1).expect("setup");
    let mut ledger = Ledger::default();
    assert!(workload(&engine, &ids, &mut ledger, 400, 50).is_none());
    engine.close().expect("close");
    // Flip one bit inside the first record of segment 0 (file 0).
    storage.corrupt(Path::new("/mem/space1/seg-00000.dat"), 4096 + 200, 3).expect("corrupt");
    let dynstore: Arc<dyn Storage> = storage.clone();
    let engine = Engine::open_with(opts(), dynstore, clock.clone()).expect("reopen");
    let s = ids[0];
    let res: Result<Vec<Frame>> = engine.read(s, T0, T0 + 3_600 * US_PER_SEC).and_then(|it| it.collect());
    assert!(matches!(res, Err(Error::Corrupt(_))), "{res:?}");
    // Data after the damaged record is still readable.
    let later = ledger.written[0][300].0;
    let tail: Vec<Frame> = read_all(&engine, s, later, T0 + 3_600 * US_PER_SEC);
    assert!(tail.iter().all(|f| ledger.written[0].iter().any(|w| w.0 == f.ts && w.2 == f.data)));
    let report = engine.check(false).expect("check");
    assert!(!report.is_clean());
    assert!(report.problems.iter().any(|p| p.what.contains("checksum")), "{:?}", report.problems);
    engine.close().expect("close");
}

#[test]
fn a_damaged_record_inside_a_batched_read_ends_the_range_after_the_good_frames() {
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let (engine, ids) = setup(&storage, &clock, 1).expect("setup");
    let mut ledger = Ledger::default();
    assert!(workload(&engine, &ids, &mut ledger, 400, 50).is_none());
    engine.close().expect("close");
    // Records here are at most 6 KiB, so this lands in a later record of the
    // run of adjacent records that one read fetches.
    storage.corrupt(Path::new("/mem/space1/seg-00000.dat"), 4096 + 20_000, 1).expect("corrupt");
    let dynstore: Arc<dyn Storage> = storage.clone();
    let engine = Engine::open_with(opts(), dynstore, clock.clone()).expect("reopen");
    let mut good = Vec::new();
    let mut it = engine.read(ids[0], T0, T0 + 3_600 * US_PER_SEC).expect("read");
    let err = loop {
        match it.next() {
            Some(Ok(f)) => good.push(f),
            Some(Err(e)) => break e,
            None => panic!("the damaged record was returned"),
        }
    };
    assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
    assert!(it.next().is_none(), "the range ends at the error");
    // Every frame before the damage came out, in order, intact.
    assert!(good.len() >= 10, "only {} frames before the damage", good.len());
    for (f, w) in good.iter().zip(&ledger.written[0]) {
        assert_eq!((f.ts, f.key, &f.data), (w.0, w.1, &w.2));
    }
    engine.close().expect("close");
}

#[test]
fn torn_tail_is_truncated_with_an_event_or_refused_in_absolute_mode() {
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let (engine, ids) = setup(&storage, &clock, 1).expect("setup");
    let mut ledger = Ledger::default();
    assert!(workload(&engine, &ids, &mut ledger, 60, 60).is_none());
    drop(engine); // a crash: the open segment has no footer and must be scanned
    let image = Arc::new(storage.crash_image(1));
    // Damage the last record written in segment 0 (the open one).
    let file = image.open(Path::new("/mem/space1/seg-00000.dat"), pstor_core::io::OpenMode::Read).expect("open");
    let mut seg0 = vec![0u8; SEG as usize];
    pstor_core::io::read_exact_at(file.as_ref(), &mut seg0, 0).expect("read");
    let last = seg0.iter().rposition(|&b| b != 0).expect("data in segment 0") as u64;
    image.corrupt(Path::new("/mem/space1/seg-00000.dat"), last - 10, 0).expect("corrupt");
    let mut strict = opts();
    strict.recovery_mode = RecoveryMode::AbsoluteConsistency;
    let dynstore: Arc<dyn Storage> = image.clone();
    let res = Engine::open_with(strict, dynstore, clock.clone());
    assert!(matches!(res, Err(Error::Corrupt(_))), "absolute consistency must refuse: {res:?}");
    let dynstore: Arc<dyn Storage> = image.clone();
    let engine = Engine::open_with(opts(), dynstore, clock.clone()).expect("default mode opens");
    assert!(engine.events().poll(0).iter().any(|e| matches!(e.kind, EventKind::TailTruncated { .. })));
    let report = engine.open_report();
    assert!(!report.last_stop_clean && !report.created);
    let space = &report.spaces[0];
    assert_eq!(space.truncated.len(), 1, "{space}");
    assert_eq!(space.truncated[0].0, 0, "segment 0 was torn: {space}");
    assert!(space.scanned_segments >= 1 && space.given_up.is_empty(), "{space}");
    assert!(space.to_string().contains("1 torn tails truncated"), "{space}");
    let frames: Vec<Frame> = read_all(&engine, ids[0], T0, T0 + 3_600 * US_PER_SEC);
    assert!(!frames.is_empty() && frames.len() < ledger.written[0].len(), "{} frames", frames.len());
    assert!(frames.iter().zip(&ledger.written[0]).all(|(f, w)| f.ts == w.0 && f.data == w.2));
    assert!(engine.check(false).expect("check").is_clean());
    engine.close().expect("close");
}

#[test]
fn the_open_report_tells_a_new_engine_a_clean_stop_a_crash_and_a_lost_space_apart() {
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let reopen = |storage: &Arc<MemStorage>| {
        let dynstore: Arc<dyn Storage> = storage.clone();
        Engine::open_with(opts(), dynstore, clock.clone()).expect("open")
    };
    let (engine, ids) = setup(&storage, &clock, 2).expect("setup");
    let new = engine.open_report();
    assert!(new.created && !new.last_stop_clean && new.spaces.is_empty(), "{new:?}");
    let mut ledger = Ledger::default();
    assert!(workload(&engine, &ids, &mut ledger, 200, 50).is_none());
    engine.close().expect("close");

    // A clean stop: nothing scanned.
    let engine = reopen(&storage);
    let clean = engine.open_report();
    assert!(!clean.created && clean.last_stop_clean, "{clean:?}");
    let space = &clean.spaces[0];
    assert_eq!((space.status, space.clean_checkpoint, space.scanned_segments), (SpaceStatus::Normal, true, 0));
    assert_eq!(space.segments, 48);
    assert!(space.to_string().contains(": clean, 48 segments"), "{space}");

    // A crash after synced and unsynced appends: the open segments' tails
    // past the last checkpoint are scanned and their records recovered.
    let more = record_some(&engine, &ids, T0 + 1_000 * US_PER_SEC, 100);
    engine.sync_all().expect("sync");
    record_some(&engine, &ids, T0 + 2_000 * US_PER_SEC, 5);
    drop(engine);
    let image = Arc::new(storage.crash_image(3));
    let engine = reopen(&image);
    let crashed = engine.open_report();
    assert!(!crashed.last_stop_clean, "{crashed:?}");
    let space = &crashed.spaces[0];
    assert!(!space.clean_checkpoint && space.scanned_segments >= 2, "{space}");
    assert!(space.recovered_entries >= 2, "{space}: {more} frames synced after the checkpoint");
    assert!(space.to_string().contains("recovered"), "{space}");
    engine.close().expect("close");

    // A vanished folder is reported, not recovered.
    image.set_unavailable(&space_dir(), true);
    let engine = reopen(&image);
    let lost = engine.open_report();
    let space = &lost.spaces[0];
    assert_eq!(space.status, SpaceStatus::Lost);
    assert!(space.detail.as_deref().is_some_and(|d| d.contains("cannot read")), "{space}");
    assert_eq!(space.segments, 0);
    engine.close().expect("close");
}

/// Appends `n` frames to each stream from `start` without syncing; how many in all.
fn record_some(engine: &Engine, ids: &[StreamId], start: Timestamp, n: i64) -> usize {
    for (k, s) in ids.iter().enumerate() {
        for i in 0..n {
            let ts = start + i * 40_000;
            engine.append(*s, ts, i == 0, payload(k as u64, ts, 300)).expect("append");
        }
    }
    ids.len() * n as usize
}

#[test]
fn eio_on_read_and_vanished_volume_are_clear_errors() {
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let (engine, ids) = setup(&storage, &clock, 1).expect("setup");
    let mut ledger = Ledger::default();
    assert!(workload(&engine, &ids, &mut ledger, 100, 10).is_none());
    let reads = storage.stats().reads;
    storage.set_faults(FaultPlan { eio_at_read: Some(reads + 1), ..Default::default() });
    let res: Result<Vec<Frame>> = engine.read(ids[0], T0, T0 + 3_600 * US_PER_SEC).and_then(|it| it.collect());
    assert!(matches!(res, Err(Error::Io { .. })), "{res:?}");
    storage.set_faults(FaultPlan::default());
    storage.set_unavailable(&space_dir(), true);
    engine.run_maintenance().expect("maintenance");
    let space = engine.spaces()[0].id;
    assert_eq!(engine.space(space).expect("space").status, SpaceStatus::Lost);
    let res = engine.read(ids[0], T0, T0 + 3_600 * US_PER_SEC).map(|it| it.count());
    assert!(matches!(res, Err(Error::SpaceLost(_))), "{res:?}");
    assert!(matches!(engine.append(ids[0], T0 + 10_000 * US_PER_SEC, true, payload(0, 0, 10)), Ok(())));
    assert!(engine.sync(ids[0]).is_err(), "a sync with no usable space must fail");
    // Close reports the frame it could not store (no space left to take
    // it), not an I/O error of the lost folder.
    let closed = engine.close();
    assert!(matches!(closed, Err(Error::PoolFull { .. }) | Err(Error::SpaceLost(_))), "{closed:?}");
}

/// Crashes while the pool is recycling: returned frames are always
/// byte-identical and contiguous per stream (old data goes oldest-first, never
/// from the middle), and the newest acknowledged frame is always there.
#[test]
fn crash_while_overwriting_never_returns_wrong_bytes() {
    let clock = Arc::new(FakeClock::new(T0));
    let small = |storage: &Arc<MemStorage>| -> Option<(Engine, Vec<StreamId>)> {
        let (engine, ids) = setup(storage, &clock, 2)?;
        let pool = engine.pools().first()?.config.id;
        engine.edit_pool(pool, PoolEdit { capacity: Some(8 * SEG), ..Default::default() }).ok()?;
        Some((engine, ids))
    };
    let probe = Arc::new(MemStorage::new(CAPACITY));
    let (engine, ids) = small(&probe).expect("setup");
    let mut ledger = Ledger::default();
    assert!(workload(&engine, &ids, &mut ledger, 1500, 25).is_none());
    assert!(
        engine.events().poll(0).iter().any(|e| matches!(e.kind, EventKind::Recycled { .. })),
        "no recycling happened"
    );
    engine.close().expect("close");
    let total = probe.stats().syncs;
    let mut points = 0;
    for (n, seed) in (1..=total).flat_map(|n| (0..3).map(move |seed| (n, seed))) {
        let storage =
            Arc::new(MemStorage::with_faults(CAPACITY, FaultPlan { crash_at_sync: Some(n), ..Default::default() }));
        let mut ledger = Ledger::default();
        if let Some((engine, ids)) = small(&storage) {
            if workload(&engine, &ids, &mut ledger, 1500, 25).is_none() {
                let _ = engine.close();
            }
        }
        let what = format!("overwrite, crash at sync {n}/{total}, seed {seed}");
        let dynstore: Arc<dyn Storage> = Arc::new(storage.crash_image(n * 7 + seed));
        let engine = Engine::open_with(opts(), dynstore, clock.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
        for (i, written) in ledger.written.iter().enumerate() {
            let Some(s) = engine.find_stream(&format!("cam-{i}"), 1, StreamKind::Main) else { continue };
            let frames: Vec<Frame> = engine
                .read(s, T0, T0 + 100_000 * US_PER_SEC)
                .and_then(|it| it.collect())
                .unwrap_or_else(|e| panic!("{what}: stream {i}: {e}"));
            let Some(first) = frames.first() else {
                assert_eq!(ledger.acked[i], 0, "{what}: stream {i}: acked frames all gone");
                continue;
            };
            let start = written.iter().position(|w| w.0 == first.ts).unwrap_or_else(|| panic!("{what}: unknown frame"));
            for (k, f) in frames.iter().enumerate() {
                let w = &written[start + k];
                assert_eq!((f.ts, f.key, &f.data), (w.0, w.1, &w.2), "{what}: stream {i}: hole or wrong bytes");
            }
            assert!(start + frames.len() >= ledger.acked[i], "{what}: stream {i}: newest acked frame lost");
        }
        let report = engine.check(false).unwrap_or_else(|e| panic!("{what}: check {e}"));
        assert!(report.is_clean(), "{what}: {:?}", report.problems);
        engine.close().expect("close");
        points += 1;
    }
    eprintln!("overwrite: {points} crash images over {total} sync points");
}

#[test]
fn a_corrupt_segment_header_is_given_up_only_when_asked_and_repaired_by_check() {
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let (engine, ids) = setup(&storage, &clock, 1).expect("setup");
    let mut ledger = Ledger::default();
    assert!(workload(&engine, &ids, &mut ledger, 50, 50).is_none());
    engine.close().expect("close");
    // Damage the header of segment 5 (free) of file 1.
    storage.corrupt(Path::new("/mem/space1/seg-00001.dat"), SEG + 20, 2).expect("corrupt");
    let dynstore: Arc<dyn Storage> = storage.clone();
    let refused = Engine::open_with(opts(), dynstore, clock.clone());
    assert!(matches!(refused, Err(Error::Corrupt(_))), "default mode refuses: {refused:?}");
    let mut lenient = opts();
    lenient.recovery_mode = RecoveryMode::TolerateAnyCorruption;
    let dynstore: Arc<dyn Storage> = storage.clone();
    let engine = Engine::open_with(lenient, dynstore, clock.clone()).expect("lenient open");
    let report = engine.check(false).expect("check");
    assert!(report.problems.iter().any(|p| p.segment == Some(5)), "{:?}", report.problems);
    assert!(engine.check(true).expect("repair").is_clean());
    assert!(engine.check(false).expect("check").problems.is_empty());
    engine.close().expect("close");
    // Repaired for good: the default mode opens again.
    let dynstore: Arc<dyn Storage> = storage.clone();
    Engine::open_with(opts(), dynstore, clock.clone()).expect("open after repair").close().expect("close");
}

#[test]
fn a_lost_space_whose_folder_returns_is_restored_in_place() {
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let (engine, ids) = setup(&storage, &clock, 2).expect("setup");
    let mut ledger = Ledger::default();
    assert!(workload(&engine, &ids, &mut ledger, 80, 10).is_none());
    storage.set_unavailable(&space_dir(), true);
    engine.run_maintenance().expect("maintenance");
    let space = engine.spaces()[0].id;
    assert_eq!(engine.space(space).expect("space").status, SpaceStatus::Lost);
    // The volume comes back (a NAS reconnects): restore re-attaches it.
    storage.set_unavailable(&space_dir(), false);
    let job = engine.restore_space(space_dir()).expect("restore");
    assert_eq!(job.wait().expect("restored"), space);
    assert_eq!(engine.space(space).expect("space").status, SpaceStatus::Normal);
    for (i, &s) in ids.iter().enumerate() {
        let frames: Vec<Frame> = read_all(&engine, s, T0, T0 + 3_600 * US_PER_SEC);
        assert!(frames.len() >= ledger.acked[i]);
        assert!(frames.iter().zip(&ledger.written[i]).all(|(f, w)| f.ts == w.0 && f.data == w.2));
    }
    // Recording goes on there.
    assert!(workload(&engine, &ids, &mut ledger, 20, 10).is_none());
    engine.close().expect("close");
}

#[test]
fn writeback_makes_written_frames_durable_before_any_sync() {
    // The I/O thread starts an fdatasync of its own once `writeback_bytes`
    // were written: frames flushed (written) but never synced survive a
    // power loss once it ran, in every torn or reordered image.
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let mut o = opts();
    o.writeback_bytes = 32 << 10;
    let (engine, ids) = setup_with(o, &storage, &clock, 1).expect("setup");
    let cam = ids[0];
    // A first frame, synced: the stream's segment is allocated (its header
    // synced), so the next sync can only be a writeback.
    let first = payload(0, T0, 512);
    engine.append(cam, T0, true, first.clone()).expect("append");
    engine.sync(cam).expect("sync");
    let syncs_before = storage.stats().syncs;
    // 48 KiB of frames, written (flushed) and never synced.
    let mut written = vec![first];
    for n in 1..97i64 {
        let ts = T0 + n * 40_000;
        let data = payload(0, ts, 512);
        engine.append(cam, ts, n % 25 == 0, data.clone()).expect("append");
        written.push(data);
    }
    engine.flush(cam).expect("flush");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while storage.stats().syncs == syncs_before {
        assert!(std::time::Instant::now() < deadline, "no writeback sync after {} KiB written", 48);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for seed in 0..8 {
        let image: Arc<dyn Storage> = Arc::new(storage.crash_image(seed));
        let e = Engine::open_with(opts(), image, clock.clone()).expect("reopen");
        let s = e.find_stream("cam-0", 1, StreamKind::Main).expect("the stream is durable");
        let frames: Vec<Frame> =
            e.read(s, T0, T0 + 3_600 * US_PER_SEC).expect("read").collect::<Result<_>>().expect("frames");
        let bytes: usize = frames.iter().map(|f| f.data.len()).sum();
        // At least the first 32 KiB of records were covered by the writeback.
        assert!(bytes >= 28 << 10, "seed {seed}: only {bytes} bytes survived");
        for (f, w) in frames.iter().zip(&written) {
            assert_eq!(&f.data, w, "seed {seed}: a frame differs");
        }
        assert!(e.check(false).expect("check").is_clean());
        e.close().expect("close");
    }
    engine.close().expect("close");
}
