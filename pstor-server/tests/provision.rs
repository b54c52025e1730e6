//! The configuration's spaces and pools: created when missing, left alone
//! (and reported) when they differ, restored when a configured folder
//! holds a space this engine does not know.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pstor_proto::*;
use pstor_server::{ByteSize, Server};

#[test]
fn differences_are_reported_not_applied_and_known_spaces_are_restored() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 64);
    let server = Server::start(cfg.clone()).unwrap();
    let video = server.engine().pools().into_iter().find(|p| p.config.name == "video").unwrap();
    let space = server.engine().spaces()[0].clone();
    let mut sig = Client::connect(server.signalling_addr(), Port::Signalling, ACCESS, SECRET).unwrap();
    let cam = register(&mut sig, video.config.id, "cam-1");
    drop(sig);
    server.shutdown().unwrap();

    // The file now says otherwise: the server starts and changes nothing.
    let mut changed = cfg.clone();
    changed.pools[0].cycle_days = 99;
    changed.pools[0].capacity = ByteSize(8 << 20);
    changed.spaces[0].capacity = ByteSize(128 << 20);
    let server = Server::start(changed).unwrap();
    let again = server.engine().pool(video.config.id).unwrap();
    assert_eq!((again.config.cycle_days, again.capacity), (video.config.cycle_days, video.capacity));
    assert_eq!(server.engine().space(space.id).unwrap().capacity, space.capacity);
    assert_eq!(server.engine().pools().len(), 2, "no pool created twice");
    server.shutdown().unwrap();

    // A fresh data folder whose file names the same space folder: the space
    // is restored with its pools and streams, and nothing is duplicated.
    let mut fresh = cfg;
    fresh.data_dir = dir.path().join("other-data");
    let server = Server::start(fresh).unwrap();
    let e = server.engine();
    assert_eq!(e.spaces().iter().map(|s| s.id).collect::<Vec<_>>(), vec![space.id]);
    let mut names: Vec<String> = e.pools().into_iter().map(|p| p.config.name).collect();
    names.sort();
    assert_eq!(names, ["pictures", "video"]);
    assert_eq!(e.stream(cam).unwrap().config.camera_id, "cam-1");
    server.shutdown().unwrap();
}
