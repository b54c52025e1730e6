//! The durability contract end to end: the real `pstor-server` binary in a
//! child process, client threads appending and syncing through the remote
//! backend, `kill -9` in the middle of the writes, a restart on the same
//! data folder, and then every frame that a successful `sync` acknowledged
//! must be there with its bytes (frames not acknowledged may or may not be).
//!
//! The binary is built by running cargo (the one running this test) for
//! `pstor-server`, into this test's own target folder (`common::process`).
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{server_binary, write_config, ServerProcess};
use common::*;
use pstor_client::{connect, Backend};
use pstor_core::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

const WRITERS: usize = 4;
/// Frames each writer has had acknowledged before the kill.
const BEFORE_KILL: u64 = 400;
/// A writer syncs every this many frames.
const SYNC_EVERY: u64 = 20;

#[test]
fn every_frame_acknowledged_by_sync_survives_kill_9() {
    let bin = server_binary();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let log = dir.path().join("server.log");
    let server = ServerProcess::start(&bin, &config, None, &log);
    let client = connect(server.options()).unwrap();
    let pool = client.pools().unwrap().into_iter().find(|p| p.config.name == "video").unwrap().config.id;
    let streams: Vec<StreamId> =
        (0..WRITERS).map(|w| client.register_stream(camera(pool, &format!("cam-{w}"))).unwrap()).collect();

    // Each writer appends to its stream and syncs every SYNC_EVERY frames;
    // `acked[w]` is the number of frames its last successful sync covered.
    let acked = Arc::new(Mutex::new(vec![0u64; WRITERS]));
    let (progress_tx, progress_rx) = mpsc::channel::<()>();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = streams
        .iter()
        .enumerate()
        .map(|(w, &s)| {
            // Half the writers share the first client; the others connect.
            let b: Arc<dyn Backend> = if w % 2 == 0 { client.clone() } else { connect(server.options()).unwrap() };
            let (acked, tx, stop) = (Arc::clone(&acked), progress_tx.clone(), Arc::clone(&stop));
            std::thread::spawn(move || -> Error {
                let mut i = 0u64;
                loop {
                    let f = frame(w as u64, T0, i, 4000);
                    let mut r = b.append(s, f.ts, f.key, f.data);
                    if r.is_ok() && i % SYNC_EVERY == SYNC_EVERY - 1 {
                        r = b.sync(s);
                        if r.is_ok() {
                            acked.lock().unwrap()[w] = i + 1;
                            let _ = tx.send(());
                        }
                    }
                    if let Err(e) = r {
                        return e;
                    }
                    if stop.load(Ordering::Relaxed) && i > 100_000 {
                        panic!("the writer did not notice the server died");
                    }
                    i += 1;
                }
            })
        })
        .collect();
    drop(progress_tx);

    // Kill once every writer has had BEFORE_KILL frames acknowledged: they
    // are still writing (and syncing) when the server dies.
    while acked.lock().unwrap().iter().any(|&n| n < BEFORE_KILL) {
        progress_rx.recv_timeout(Duration::from_secs(120)).expect("the writers make progress");
    }
    let (signalling, data) = (server.signalling, server.data);
    drop(server); // SIGKILL, then wait
    stop.store(true, Ordering::Relaxed);
    for h in writers {
        let e = h.join().unwrap();
        eprintln!("writer stopped: {e}");
        assert!(
            matches!(e.code(), ErrorCode::Disconnected | ErrorCode::Timeout),
            "a writer's call failed with a connection error, got {e}"
        );
    }
    let acked = acked.lock().unwrap().clone();

    // Restart on the same data folder and ports; a new client checks.
    let server = ServerProcess::start(&bin, &config, Some((signalling, data)), &log);
    let check = connect(server.options()).unwrap();
    for (w, &s) in streams.iter().enumerate() {
        let n = acked[w];
        assert!(n >= BEFORE_KILL);
        let got = read_all(&*check, s, T0, T0 + 1_000_000 * 40_000).unwrap();
        assert!(got.len() >= n as usize, "stream {w}: {} frames back, {n} acknowledged", got.len());
        eprintln!("stream {w}: {n} frames acknowledged by sync, {} found after the restart", got.len());
        for (i, f) in got.iter().take(n as usize).enumerate() {
            assert!(*f == frame(w as u64, T0, i as u64, 4000), "stream {w} frame {i} is not what was written");
        }
    }
    // The first client reconnects to the new server by itself.
    assert_eq!(client.streams().unwrap().len(), WRITERS);
    check.close().unwrap();
}
