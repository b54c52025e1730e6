//! A copy of a data folder (`cp -r`) must not write the original engine's
//! storage spaces: refused while the original exists. A moved folder finds
//! the spaces that moved with it; another name of the same folder (a
//! symlink) is the same engine.

mod common;
use common::*;
use pstor_core::*;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn sh(args: &[&str]) {
    let st = Command::new(args[0]).args(&args[1..]).status().expect("run");
    assert!(st.success(), "{args:?}");
}

fn open_at(dir: &Path) -> Result<Engine> {
    Engine::open_with(opts(dir), Arc::new(pstor_core::io::OsStorage::new()), Arc::new(FakeClock::new(T0)))
}

/// The engine at `dir` has both spaces in service and the camera's frames.
fn assert_whole(dir: &Path, inside: SpaceId, outside: SpaceId, cam: StreamId, frames: usize) {
    let e = open_at(dir).expect("open");
    assert_eq!(e.space(inside).expect("inside").status, SpaceStatus::Normal);
    assert!(e.space(inside).expect("inside").path.starts_with(dir), "{:?}", e.space(inside));
    assert_eq!(e.space(outside).expect("outside").status, SpaceStatus::Normal);
    assert_eq!(read_all(&e, cam, T0, T0 + 3600 * US_PER_SEC).len(), frames);
    e.close().expect("close");
}

#[test]
fn a_copied_data_folder_is_refused_and_a_moved_one_follows_its_spaces() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path();
    let (a, b, c) = (root.join("a"), root.join("b"), root.join("c"));
    // The server's layout (engine/ and space1/ side by side) and a space
    // on another disk.
    let (rig, inside, pool) = rig(&a, 16, 8, OverwriteStrategy::OverwriteOldest);
    let ext = root.join("disk2").join("space");
    std::fs::create_dir_all(&ext).expect("mkdir");
    let outside = rig
        .engine
        .initialize_space(SpaceSpec { path: ext.clone(), capacity: 8 * SEG, segment_size: None })
        .expect("init")
        .wait()
        .expect("done");
    let cam = camera(&rig.engine, pool, 1);
    let frames = record(&rig.engine, cam, 1, T0, 100).len();
    rig.engine.sync(cam).expect("sync");
    rig.engine.close().expect("close");
    drop(rig);

    // cp -r: the copy names the original's spaces; refused, and the
    // original is untouched.
    sh(&["cp", "-r", a.to_str().expect("utf-8"), b.to_str().expect("utf-8")]);
    let original_catalog = std::fs::read(a.join("engine").join("catalog.pst")).expect("catalog");
    let err = open_at(&b).expect_err("a copy must not open the original's spaces");
    assert_eq!(err.code(), ErrorCode::EngineCopied);
    assert_eq!(err.code().number(), 215);
    let Error::EngineCopied { here, original } = &err else { panic!("{err:?}") };
    assert_eq!((here.as_path(), original.as_path()), (b.join("engine").as_path(), a.join("engine").as_path()));
    assert!(err.to_string().contains("is a copy of the pstor engine in"), "{err}");
    assert_eq!(std::fs::read(a.join("engine").join("catalog.pst")).expect("catalog"), original_catalog);
    assert_whole(&a, inside, outside, cam, frames);
    sh(&["rm", "-rf", b.to_str().expect("utf-8")]);

    // mv: the space inside the folder is found at its new place, the one
    // on the other disk where it was.
    sh(&["mv", a.to_str().expect("utf-8"), c.to_str().expect("utf-8")]);
    assert_whole(&c, inside, outside, cam, frames);
    assert_whole(&c, inside, outside, cam, frames);

    // A symlink to the folder is the same engine, not a copy.
    let link = root.join("link");
    std::os::unix::fs::symlink(&c, &link).expect("symlink");
    let e = open_at(&link).expect("open through a symlink");
    assert_eq!(e.space(inside).expect("inside").status, SpaceStatus::Normal);
    e.close().expect("close");
    assert_whole(&c, inside, outside, cam, frames);
}
