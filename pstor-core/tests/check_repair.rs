//! `check` finds what is wrong and repairs what is safe; the volume
//! free-space threshold guards initialization and raises an alarm.

mod common;
use common::*;
use pstor_core::io::{MemStorage, Storage};
use pstor_core::*;
use std::path::PathBuf;
use std::sync::Arc;

#[test]
fn check_reports_and_repairs_catalog_copies_and_torn_footers() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 16, 8, OverwriteStrategy::OverwriteOldest);
    let s = camera(&rig.engine, pool, 1);
    record(&rig.engine, s, 1, T0, 1500);
    rig.engine.close().expect("close");
    let space_dir = tmp.path().join("space1");
    // Tear the footer of sealed segment 0: zero the byte before its trailer.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().read(true).write(true).open(space_dir.join("seg-00000.dat")).expect("open");
        let at = SEG - 64 - 1;
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, at).expect("read");
        f.write_all_at(&[b[0] ^ 0xff], at).expect("write");
    }
    let e = open(tmp.path(), rig.storage.clone(), rig.clock.clone());
    std::fs::remove_file(space_dir.join("catalog.pst")).expect("rm catalog copy");
    let report = e.check(false).expect("check");
    assert!(!report.is_clean());
    assert!(report.problems.iter().any(|p| p.what.contains("catalog copy")), "{:?}", report.problems);
    assert!(report.problems.iter().any(|p| p.what.contains("footer") && p.segment == Some(0)), "{:?}", report.problems);
    assert!(report.problems.iter().all(|p| !p.repaired));
    let repaired = e.check(true).expect("repair");
    assert!(repaired.is_clean(), "{:?}", repaired.problems);
    let again = e.check(false).expect("check again");
    assert!(again.problems.is_empty(), "{:?}", again.problems);
    assert_eq!(read_all(&e, s, T0, T0 + 3600 * US_PER_SEC).len(), 1500);
    e.close().expect("close");
}

#[test]
fn volume_free_space_threshold_guards_initialization_and_alarms() {
    let storage = Arc::new(MemStorage::new(32 << 20));
    let dynstore: Arc<dyn Storage> = storage.clone();
    let mut o = opts(std::path::Path::new("/v"));
    o.segment_size = 64 << 10;
    let e = Engine::open_with(o, dynstore, Arc::new(FakeClock::new(T0))).expect("open");
    e.set_thresholds(Thresholds { volume_free_pct: 50, ..Thresholds::default() }).expect("thresholds");
    let dir = PathBuf::from("/v/space1");
    storage.create_dir_all(&dir).expect("mkdir");
    let too_big = e.initialize_space(SpaceSpec { path: dir.clone(), capacity: 20 << 20, segment_size: None });
    assert!(matches!(too_big, Err(Error::InsufficientVolumeSpace { .. })), "{too_big:?}");
    e.initialize_space(SpaceSpec { path: dir, capacity: 14 << 20, segment_size: None })
        .expect("init")
        .wait()
        .expect("done");
    // Something else fills the volume: the alarm fires once.
    let filler = storage.open(std::path::Path::new("/v/filler"), pstor_core::io::OpenMode::CreateNew).expect("filler");
    filler.allocate(0, 4 << 20).expect("fill");
    e.run_maintenance().expect("maintenance");
    e.run_maintenance().expect("maintenance");
    let alarms =
        e.events().poll(0).into_iter().filter(|ev| matches!(ev.kind, EventKind::LowVolumeSpace { .. })).count();
    assert_eq!(alarms, 1);
    e.close().expect("close");
}
