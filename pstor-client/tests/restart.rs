//! The server instance id end to end: the real `pstor-server` binary in a
//! child process, killed and started again on the same data folder and
//! ports between a client's writes and their sync. The restarted server is
//! another instance (its Hello says so), so the writes not synced before
//! the restart may be gone: the client's next sync of them fails with
//! `ServerRestarted` (708), once, instead of succeeding over them.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{server_binary, write_config, ServerProcess};
use common::*;
use pstor_client::remote::BATCH_FRAMES;
use pstor_client::{connect, Backend};
use pstor_core::*;
use std::path::Path;

fn pool(b: &dyn Backend, name: &str) -> PoolId {
    b.pools().unwrap().into_iter().find(|p| p.config.name == name).unwrap().config.id
}

fn snapshot(n: u64) -> (PictureMeta, Vec<u8>) {
    let meta = PictureMeta {
        camera_id: "cam-p".into(),
        captured_at: T0 + n as i64,
        content_type: "image/jpeg".into(),
        key: None,
    };
    (meta, content(100 + n, 3000).to_vec())
}

/// Kills the server (SIGKILL) and starts it again on the same ports.
fn restart(server: ServerProcess, bin: &Path, config: &Path, log: &Path) -> ServerProcess {
    let ports = (server.signalling, server.data);
    drop(server);
    ServerProcess::start(bin, config, Some(ports), log)
}

fn assert_restarted(r: Result<()>, what: &str) {
    let e = r.expect_err(what);
    assert_eq!(e.code(), ErrorCode::ServerRestarted, "{what}: {e}");
    assert!(e.to_string().contains("restarted"), "{what}: the message names the restart: {e}");
}

#[test]
fn writes_not_synced_before_a_server_restart_fail_their_sync() {
    let bin = server_binary();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let log = dir.path().join("server.log");
    let server = ServerProcess::start(&bin, &config, None, &log);
    let b = connect(server.options()).unwrap();
    let (video, pictures) = (pool(&*b, "video"), pool(&*b, "pictures"));
    let [synced, flushed, sent]: [StreamId; 3] =
        ["cam-0", "cam-1", "cam-2"].map(|c| b.register_stream(camera(video, c)).unwrap());
    let frames: Vec<Frame> = (0..BATCH_FRAMES as u64 + 6).map(|i| frame(1, T0, i, 500)).collect();
    // Synced before the restart: nothing at stake.
    append_all(&*b, synced, &frames).unwrap();
    b.sync(synced).unwrap();
    // Sent and answered (a flush waits for that), not synced.
    append_all(&*b, flushed, &frames).unwrap();
    b.flush(flushed).unwrap();
    // A full batch sent, its answer not read yet.
    append_all(&*b, sent, &frames[..BATCH_FRAMES]).unwrap();
    // A picture put, not synced.
    let (meta, data) = snapshot(1);
    b.put_picture(pictures, &meta, &data).unwrap();

    let server = restart(server, &bin, &config, &log);
    assert_restarted(b.sync_pictures(pictures), "sync_pictures after a restart");
    b.sync_pictures(pictures).unwrap(); // reported once
    assert_restarted(b.sync(flushed), "sync of answered frames after a restart");
    assert_restarted(b.sync_streams(&[sent]), "sync_streams of frames in flight across a restart");
    b.sync(synced).unwrap();
    b.sync_streams(&[flushed, sent]).unwrap(); // reported once
    assert_eq!(b.stream(synced).unwrap().last_ts, frames.last().map(|f| f.ts), "synced frames survive");

    // sync_all: a picture and frames, then a restart.
    b.put_picture(pictures, &meta, &data).unwrap();
    let more: Vec<Frame> = (0..BATCH_FRAMES as u64).map(|i| frame(1, T0 + US_PER_SEC * 10, i, 500)).collect();
    append_all(&*b, synced, &more).unwrap();
    b.flush(synced).unwrap();
    let server = restart(server, &bin, &config, &log);
    assert_restarted(b.sync_all(), "sync_all after a restart");
    b.sync_all().unwrap();

    // A picture put and synced on the new server is not at stake.
    b.put_picture(pictures, &meta, &data).unwrap();
    b.sync_pictures(pictures).unwrap();
    b.close().unwrap();
    drop(server);
}
