//! Storage spaces and resource pools: validation, statuses, restore,
//! re-initialize, delete, lost folders.

mod common;
use common::*;
use pstor_core::io::{FaultPlan, MemStorage, Storage};
use pstor_core::*;
use std::sync::Arc;

fn engine(dir: &std::path::Path) -> (Engine, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::new(T0));
    (open(dir, Arc::new(pstor_core::io::OsStorage::new()), Arc::clone(&clock)), clock)
}

fn spec(path: std::path::PathBuf, capacity: u64) -> SpaceSpec {
    SpaceSpec { path, capacity, segment_size: None }
}

#[test]
fn initialize_validates_each_failure_distinctly() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (e, _) = engine(tmp.path());
    let missing = tmp.path().join("nope");
    assert!(matches!(e.initialize_space(spec(missing, 8 * SEG)), Err(Error::PathNotFound(_))));
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    assert!(matches!(e.initialize_space(spec(file, 8 * SEG)), Err(Error::NotADirectory(_))));
    let d = tmp.path().join("s");
    std::fs::create_dir(&d).expect("mkdir");
    assert!(
        matches!(e.initialize_space(spec(d.clone(), 1000)), Err(Error::CapacityTooSmall { minimum, .. }) if minimum == 1 << 20)
    );
    let bad_seg = SpaceSpec { path: d.clone(), capacity: 8 * SEG, segment_size: Some(5000) };
    assert!(matches!(e.initialize_space(bad_seg), Err(Error::BadSegmentSize { .. })));
    let huge = spec(d.clone(), 1 << 60);
    assert!(matches!(e.initialize_space(huge), Err(Error::InsufficientVolumeSpace { .. })));
    let id = e.initialize_space(spec(d.clone(), 8 * SEG)).expect("init").wait().expect("done");
    assert!(matches!(e.initialize_space(spec(d.clone(), 8 * SEG)), Err(Error::AlreadyInitialized(_))));
    let info = e.space(id).expect("info");
    assert_eq!((info.status, info.capacity, info.free, info.progress), (SpaceStatus::Normal, 8 * SEG, 8 * SEG, 100));
    // Really allocated: the data files occupy disk blocks, not holes.
    let mut allocated = 0;
    for ent in std::fs::read_dir(&d).expect("ls") {
        let ent = ent.expect("entry");
        if ent.file_name().to_string_lossy().ends_with(".dat") {
            use std::os::unix::fs::MetadataExt;
            allocated += ent.metadata().expect("meta").blocks() * 512;
        }
    }
    assert!(allocated >= 8 * SEG, "only {allocated} bytes allocated");
    // Only a Lost space may be deleted; re-initializing needs confirmation.
    assert!(matches!(e.delete_space(id), Err(Error::SpaceStatus { .. })));
    assert!(matches!(e.reinitialize_space(id, None), Err(Error::ConfirmationRequired(_))));
    e.close().expect("close");
}

#[test]
fn initialization_reports_progress_and_can_be_cancelled() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (e, _) = engine(tmp.path());
    let d = tmp.path().join("big");
    std::fs::create_dir(&d).expect("mkdir");
    // 4096 segments: long enough to observe and cancel.
    let job =
        e.initialize_space(SpaceSpec { path: d.clone(), capacity: 4096 * SEG, segment_size: None }).expect("start");
    let listed = e.space(job.space).expect("listed while initializing");
    assert_eq!(listed.status, SpaceStatus::Initializing);
    let mut seen = Vec::new();
    while !job.is_finished() {
        seen.push(job.progress());
        if job.progress() >= 5 {
            job.cancel();
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress went backwards");
    let res = job.wait();
    assert!(matches!(res, Err(Error::Cancelled(_))), "{res:?}");
    assert!(e.spaces().is_empty());
    assert!(!d.join("space.pst").exists());
    assert_eq!(std::fs::read_dir(&d).expect("ls").count(), 0, "cancel leaves no files");
    // The folder can be initialized afterwards.
    e.initialize_space(spec(d, 8 * SEG)).expect("init").wait().expect("done");
    e.close().expect("close");
}

#[test]
fn a_panicking_space_job_is_reported_as_panic_and_cleaned_up() {
    let tmp = tempfile::tempdir().expect("tmp");
    let storage = Arc::new(MemStorage::new(1 << 30));
    let e = open(tmp.path(), storage.clone(), Arc::new(FakeClock::new(T0)));
    let d = tmp.path().join("s");
    storage.create_dir_all(&d).expect("mkdir");
    storage.set_faults(FaultPlan { panic_on_allocate: true, ..FaultPlan::default() });
    let res = e.initialize_space(spec(d.clone(), 8 * SEG)).expect("start").wait();
    let Err(err) = res else { panic!("a panicked job succeeded: {res:?}") };
    assert_eq!(err.code(), ErrorCode::Panic, "{err}");
    assert_eq!(err.code().number(), 2);
    assert!(err.to_string().contains("initializing the space panicked: simulated bug"), "{err}");
    // Cleaned up like any failed job: not listed, no files left, and the
    // folder can be initialized once the bug is gone.
    assert!(e.spaces().is_empty(), "{:?}", e.spaces());
    assert!(storage.read_dir(&d).expect("ls").is_empty());
    storage.set_faults(FaultPlan::default());
    e.initialize_space(spec(d, 8 * SEG)).expect("init").wait().expect("done");
    e.close().expect("close");
}

#[test]
fn pool_validation_and_accounting() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, space, pool) = rig(tmp.path(), 40, 8, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    let mk = |name: &str, cap: u64| PoolSpec {
        name: name.into(),
        kind: PoolKind::Video,
        capacity: cap,
        spaces: vec![space],
        strategy: OverwriteStrategy::StopWhenFull,
        cycle_days: 0,
        max_lock_pct: 10,
    };
    assert!(matches!(e.create_pool(mk("video", SEG)), Err(Error::DuplicatePoolName(_))));
    assert!(
        matches!(e.create_pool(mk("big", 33 * SEG)), Err(Error::CapacityExceedsFree { available, .. }) if available == 32 * SEG)
    );
    assert!(matches!(e.create_pool(mk("", SEG)), Err(Error::InvalidArgument(_))));
    let mut bad = mk("pct", SEG);
    bad.max_lock_pct = 101;
    assert!(matches!(e.create_pool(bad), Err(Error::InvalidArgument(_))));
    for i in 1..MAX_POOLS {
        e.create_pool(mk(&format!("p{i}"), SEG)).expect("pool");
    }
    assert!(matches!(e.create_pool(mk("p21", SEG)), Err(Error::TooManyPools { max: 20 })));
    assert_eq!(e.pools().len(), 20);
    // Pools with random ids; edit and shrink rules.
    let info = e.pool(pool).expect("pool");
    assert_eq!((info.capacity, info.used, info.free, info.status), (8 * SEG, 0, 8 * SEG, PoolStatus::Normal));
    let s = camera(e, pool, 1);
    record(e, s, 1, T0, 2000);
    e.sync(s).expect("sync");
    let used = e.pool(pool).expect("pool").used;
    assert!(used >= 2 * SEG, "used {used}");
    assert!(matches!(
        e.edit_pool(pool, PoolEdit { capacity: Some(SEG), ..Default::default() }),
        Err(Error::ShrinkBelowUsed { .. })
    ));
    e.edit_pool(pool, PoolEdit { name: Some("renamed".into()), cycle_days: Some(7), ..Default::default() })
        .expect("edit");
    assert_eq!(e.pool(pool).expect("pool").config.cycle_days, 7);
    assert!(matches!(
        e.edit_pool(pool, PoolEdit { name: Some("p1".into()), ..Default::default() }),
        Err(Error::DuplicatePoolName(_))
    ));
    // Wrong kind, unknown pool, duplicate stream.
    let pics = e.pools().into_iter().find(|p| p.config.name == "p1").expect("p1").config.id;
    e.delete_pool(pics).expect("delete");
    let mut pic = mk("pictures", SEG);
    pic.kind = PoolKind::Picture;
    let pics = e.create_pool(pic).expect("picture pool");
    let stream = |pool| StreamSpec {
        pool,
        camera_id: "x".into(),
        channel: 1,
        kind: StreamKind::Sub,
        codec: "H265".into(),
        codec_config: vec![],
    };
    assert!(matches!(e.register_stream(stream(pics)), Err(Error::WrongPoolKind { .. })));
    assert!(matches!(e.register_stream(stream(PoolId(7))), Err(Error::PoolNotFound(_))));
    let dup = StreamSpec {
        pool,
        camera_id: "cam-1".into(),
        channel: 1,
        kind: StreamKind::Main,
        codec: "H264".into(),
        codec_config: vec![],
    };
    assert!(matches!(e.register_stream(dup), Err(Error::StreamExists { .. })));
    // Deleting the pool frees its space and its streams.
    e.delete_pool(pool).expect("delete pool");
    assert!(matches!(e.append(s, T0 + 10_000 * US_PER_SEC, true, payload(1, 0, 10)), Err(Error::StreamNotFound(_))));
    assert_eq!(e.space(space).expect("space").used, 0);
    e.close().expect("close");
}

#[test]
fn restore_space_into_a_fresh_engine() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _space, pool) = rig(tmp.path(), 16, 8, OverwriteStrategy::OverwriteOldest);
    let s = camera(&rig.engine, pool, 1);
    let frames = record(&rig.engine, s, 9, T0, 800);
    let lock = rig.engine.lock(s, T0, T0 + US_PER_SEC, None).expect("lock");
    rig.engine.sync_all().expect("sync");
    // A crash (no clean close) and a lost catalog: a fresh install.
    drop(rig.engine);
    let fresh = tmp.path().join("fresh");
    let clock = Arc::new(FakeClock::new(T0));
    let mut o = opts(tmp.path());
    o.data_dir = fresh;
    let e = Engine::open_with(o, Arc::new(pstor_core::io::OsStorage::new()), clock).expect("open");
    assert!(e.pools().is_empty());
    assert!(matches!(e.restore_space(tmp.path().join("engine")), Err(Error::NotASpace { .. })));
    let job = e.restore_space(tmp.path().join("space1")).expect("restore");
    let id = job.wait().expect("restored");
    assert_eq!(e.space(id).expect("space").status, SpaceStatus::Normal);
    assert_eq!(e.pools().len(), 1);
    assert_eq!(e.pools()[0].config.id, pool);
    assert_eq!(e.locks().len(), 1);
    assert_eq!(e.locks()[0].id, lock);
    let s2 = e.find_stream("cam-1", 1, StreamKind::Main).expect("stream restored");
    assert_eq!(s2, s);
    let got = read_all(&e, s, T0, T0 + 3600 * US_PER_SEC);
    assert_eq!(got.len(), frames.len());
    assert!(got.iter().zip(&frames).all(|(g, w)| g.ts == w.0 && g.data == w.2));
    assert!(matches!(e.restore_space(tmp.path().join("space1")), Err(Error::SpaceAlreadyKnown(_))));
    e.close().expect("close");
}

#[test]
fn reinitialize_wipes_data_but_keeps_pools() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, space, pool) = rig(tmp.path(), 16, 8, OverwriteStrategy::OverwriteOldest);
    let s = camera(&rig.engine, pool, 1);
    record(&rig.engine, s, 1, T0, 500);
    rig.engine.sync(s).expect("sync");
    rig.engine.reinitialize_space(space, Some(WipeConfirmation::DeleteAllDataInSpace)).expect("reinit");
    assert!(read_all(&rig.engine, s, T0, T0 + 3600 * US_PER_SEC).is_empty());
    assert_eq!(rig.engine.pool(pool).expect("pool").used, 0);
    // Recording goes on after the wipe, and the wipe survives a reopen.
    let more = record(&rig.engine, s, 1, T0 + 1000 * US_PER_SEC, 100);
    rig.engine.close().expect("close");
    let e = open(tmp.path(), rig.storage.clone(), rig.clock.clone());
    assert_eq!(read_all(&e, s, T0, T0 + 3600 * US_PER_SEC).len(), more.len());
    e.close().expect("close");
}

#[test]
fn vanished_folder_makes_the_space_lost_and_writes_move_on() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, s2, cams) = two_space_rig(tmp.path());
    let e = &rig.engine;
    let d2 = tmp.path().join("space2");
    let pool = e.pools().iter().find(|p| p.config.name == "striped").expect("pool").config.id;
    let events = e.events().subscribe();
    std::fs::remove_dir_all(&d2).expect("rm -rf");
    e.run_maintenance().expect("maintenance");
    assert_eq!(e.space(s2).expect("space").status, SpaceStatus::Lost);
    assert_eq!(e.pool(pool).expect("pool").status, PoolStatus::Degraded);
    let evs: Vec<Event> = events.try_iter().collect();
    assert!(evs
        .iter()
        .any(|ev| matches!(ev.kind, EventKind::SpaceStatus { space, status: SpaceStatus::Lost, .. } if space == s2)));
    assert!(evs.iter().any(|ev| matches!(ev.kind, EventKind::PoolStatus { status: PoolStatus::Degraded, .. })));
    // Reads of data on the lost space fail clearly; writes continue on space 1.
    let mut lost_reads = 0;
    for c in &cams {
        match e.read(*c, T0, T0 + 3600 * US_PER_SEC).map(|it| it.collect::<Result<Vec<_>>>()) {
            Err(Error::SpaceLost(id)) | Ok(Err(Error::SpaceLost(id))) => {
                assert_eq!(id, s2);
                lost_reads += 1;
            }
            Ok(Ok(frames)) => assert_eq!(frames.len(), 300),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(lost_reads > 0, "striping put nothing on space 2");
    for (i, c) in cams.iter().enumerate() {
        record(e, *c, i as u64, T0 + 100 * US_PER_SEC, 300);
        e.sync(*c).expect("sync after failover");
    }
    for c in &cams {
        let frames = read_all(e, *c, T0 + 100 * US_PER_SEC, T0 + 3600 * US_PER_SEC);
        assert_eq!(frames.len(), 300);
    }
    assert!(matches!(
        e.reinitialize_space(s2, Some(WipeConfirmation::DeleteAllDataInSpace)),
        Err(Error::SpaceStatus { .. })
    ));
    e.delete_space(s2).expect("delete lost space");
    assert_eq!(e.spaces().len(), 1);
    assert_eq!(e.pool(pool).expect("pool").status, PoolStatus::Normal);
    e.close().expect("close");
}

/// Runs health checks until `space` is Normal again (its restore runs on a
/// thread of its own).
fn wait_until_normal(e: &Engine, space: SpaceId) {
    for _ in 0..500 {
        e.run_maintenance().expect("maintenance");
        if e.space(space).expect("listed").status == SpaceStatus::Normal {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("space {space} did not come back: {:?}", e.space(space));
}

#[test]
fn a_lost_space_whose_folder_comes_back_is_restored_by_the_health_check() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, s2, cams) = two_space_rig(tmp.path());
    let e = &rig.engine;
    let (d2, away) = (tmp.path().join("space2"), tmp.path().join("space2.away"));
    let events = e.events().subscribe();
    // The volume goes (unmounted, unplugged): Lost, its frames unreadable.
    std::fs::rename(&d2, &away).expect("mv away");
    e.run_maintenance().expect("maintenance");
    assert_eq!(e.space(s2).expect("space").status, SpaceStatus::Lost);
    let readable = |e: &Engine| cams.iter().filter(|c| e.read(**c, T0, T0 + 3600 * US_PER_SEC).is_ok()).count();
    let counts =
        |e: &Engine| -> Vec<usize> { cams.iter().map(|c| read_all(e, *c, T0, T0 + 3600 * US_PER_SEC).len()).collect() };
    assert!(readable(e) < cams.len(), "striping put nothing on space 2");
    // It comes back: restored in place (scanned), every frame readable.
    std::fs::rename(&away, &d2).expect("mv back");
    wait_until_normal(e, s2);
    assert_eq!(counts(e), vec![300; cams.len()]);
    // The restore says so just after the space turns Normal.
    let mut evs: Vec<Event> = Vec::new();
    while let Ok(Some(ev)) = events.recv_timeout(std::time::Duration::from_secs(5)) {
        let restored =
            matches!(&ev.kind, EventKind::SpaceStatus { space, status: SpaceStatus::Normal, .. } if *space == s2);
        evs.push(ev);
        if restored {
            break;
        }
    }
    for want in [SpaceStatus::Lost, SpaceStatus::Restoring, SpaceStatus::Normal] {
        assert!(
            evs.iter().any(
                |ev| matches!(&ev.kind, EventKind::SpaceStatus { space, status, .. } if *space == s2 && *status == want)
            ),
            "no {want:?} event: {evs:?}"
        );
    }
    // Lost across a restart: back at the first health check of the next open.
    std::fs::rename(&d2, &away).expect("mv away");
    e.run_maintenance().expect("maintenance");
    rig.engine.close().expect("close");
    let e = open(tmp.path(), rig.storage.clone(), rig.clock.clone());
    e.run_maintenance().expect("maintenance");
    assert_eq!(e.space(s2).expect("space").status, SpaceStatus::Lost);
    std::fs::rename(&away, &d2).expect("mv back");
    wait_until_normal(&e, s2);
    assert_eq!(counts(&e), vec![300; cams.len()]);
    assert!(e.check(false).expect("check").is_clean());
    e.close().expect("close");
}

/// Two spaces in one pool; 4 cameras recorded and synced on both.
fn two_space_rig(dir: &std::path::Path) -> (Rig, SpaceId, SpaceId, Vec<StreamId>) {
    let (rig, s1, _) = rig(dir, 16, 4, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    let d2 = dir.join("space2");
    std::fs::create_dir(&d2).expect("mkdir");
    let s2 = e.initialize_space(spec(d2, 16 * SEG)).expect("init").wait().expect("done");
    let pool = e
        .create_pool(PoolSpec {
            name: "striped".into(),
            kind: PoolKind::Mixed,
            capacity: 16 * SEG,
            spaces: vec![s1, s2],
            strategy: OverwriteStrategy::OverwriteOldest,
            cycle_days: 0,
            max_lock_pct: 0,
        })
        .expect("pool");
    let cams: Vec<StreamId> = (0..4).map(|i| camera(e, pool, 10 + i)).collect();
    for (i, c) in cams.iter().enumerate() {
        record(e, *c, i as u64, T0, 300);
    }
    e.sync_all().expect("sync");
    (rig, s1, s2, cams)
}

#[test]
fn close_with_a_vanished_space_folder_marks_it_lost_and_closes_the_rest() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, s1, s2, cams) = two_space_rig(tmp.path());
    let e = &rig.engine;
    // More frames buffered and unsynced on every camera, then the folder of
    // space 2 goes (a NAS unmounted, a disk pulled) and nobody ran the
    // health check since.
    for (i, c) in cams.iter().enumerate() {
        record(e, *c, i as u64, T0 + 100 * US_PER_SEC, 10);
    }
    let events = e.events().subscribe();
    std::fs::remove_dir_all(tmp.path().join("space2")).expect("rm -rf");
    e.close().expect("close with a vanished space");
    let evs: Vec<Event> = events.try_iter().collect();
    assert!(
        evs.iter().any(
            |ev| matches!(ev.kind, EventKind::SpaceStatus { space, status: SpaceStatus::Lost, .. } if space == s2)
        ),
        "{evs:?}"
    );
    // The rest closed cleanly; space 2 is Lost after reopening.
    let e = open(tmp.path(), rig.storage.clone(), rig.clock.clone());
    assert_eq!(e.space(s1).expect("space 1").status, SpaceStatus::Normal);
    assert_eq!(e.space(s2).expect("space 2").status, SpaceStatus::Lost);
    assert!(e.check(false).expect("check").is_clean());
    // A camera recorded on space 1 reads back whole, with the frames close
    // synced; one on space 2 lost its 300 frames with the space, but its 10
    // buffered ones were stored on space 1 at close.
    let counts: Vec<usize> = cams.iter().map(|c| read_all(&e, *c, T0, T0 + 200 * US_PER_SEC).len()).collect();
    assert!(counts.iter().all(|&n| n == 10 || n == 310), "{counts:?}");
    let on_space1 = counts.iter().filter(|&&n| n == 310).count();
    assert!(on_space1 < cams.len(), "striping put nothing on space 2: {counts:?}");
    assert!(on_space1 > 0, "striping put nothing on space 1");
    e.close().expect("close");
}

#[test]
fn lost_at_open_is_listed_and_deletable() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, space, _) = rig(tmp.path(), 8, 4, OverwriteStrategy::OverwriteOldest);
    rig.engine.close().expect("close");
    std::fs::remove_dir_all(tmp.path().join("space1")).expect("rm");
    let e = open(tmp.path(), rig.storage.clone(), rig.clock.clone());
    let info = e.space(space).expect("listed");
    assert_eq!(info.status, SpaceStatus::Lost);
    assert!(info.detail.is_some());
    assert_eq!(e.pools()[0].status, PoolStatus::Offline);
    e.delete_space(space).expect("delete");
    assert!(e.spaces().is_empty());
    e.close().expect("close");
}

#[test]
fn a_wiped_folder_is_uninitialized_and_can_be_deleted_and_initialized_again() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, space, _) = rig(tmp.path(), 8, 4, OverwriteStrategy::OverwriteOldest);
    rig.engine.close().expect("close");
    drop(rig.engine);
    let dir = tmp.path().join("space1");
    for ent in std::fs::read_dir(&dir).expect("ls") {
        std::fs::remove_file(ent.expect("entry").path()).expect("rm");
    }
    let e = open(tmp.path(), rig.storage.clone(), rig.clock.clone());
    assert_eq!(e.space(space).expect("listed").status, SpaceStatus::Uninitialized);
    e.delete_space(space).expect("delete");
    e.initialize_space(SpaceSpec { path: dir, capacity: 8 * SEG, segment_size: None })
        .expect("init")
        .wait()
        .expect("done");
    e.close().expect("close");
}

#[test]
fn a_folder_is_used_by_one_engine_at_a_time() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, _) = rig(tmp.path(), 8, 4, OverwriteStrategy::OverwriteOldest);
    let again = Engine::open_with(opts(tmp.path()), rig.storage.clone(), rig.clock.clone());
    assert!(matches!(again, Err(Error::InUse(_))), "{again:?}");
    // A second engine (other data dir) cannot take the attached space either.
    let mut other = opts(tmp.path());
    other.data_dir = tmp.path().join("other-engine");
    let e2 = Engine::open_with(other, rig.storage.clone(), rig.clock.clone()).expect("second engine");
    let res = e2.restore_space(tmp.path().join("space1")).and_then(|job| job.wait());
    assert!(matches!(res, Err(Error::InUse(_))), "{res:?}");
    rig.engine.close().expect("close");
    drop(rig.engine);
    // Once the first engine is gone, the space can be restored elsewhere.
    e2.restore_space(tmp.path().join("space1")).expect("restore").wait().expect("restored");
    e2.close().expect("close");
}

/// A space given by a path relative to the working directory is recorded
/// by its absolute path, so a process started elsewhere still finds it.
#[test]
fn relative_space_paths_are_recorded_absolute() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (e, _) = engine(tmp.path());
    let d = tmp.path().join("rel");
    std::fs::create_dir(&d).expect("mkdir");
    let cwd = std::env::current_dir().expect("cwd");
    // "../.." up to the root, then the folder: relative without changing
    // the (process-wide) working directory.
    let mut rel = std::path::PathBuf::new();
    for _ in cwd.components().skip(1) {
        rel.push("..");
    }
    rel.push(d.strip_prefix("/").expect("absolute temp dir"));
    assert!(rel.is_relative());
    let id = e.initialize_space(spec(rel, 8 * SEG)).expect("init").wait().expect("done");
    let info = e.space(id).expect("info");
    assert_eq!(info.path, std::fs::canonicalize(&d).expect("canon"));
    e.close().expect("close");
}
