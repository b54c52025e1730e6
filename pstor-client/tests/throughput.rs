//! A measurement, not a check (ignored by default): append throughput of
//! the embedded backend and of the remote one on loopback, same frames,
//! same machine. Run it in release mode:
//! `cargo test -p pstor-client --release --test throughput -- --ignored --nocapture`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pstor_client::{open_local, Backend};
use pstor_core::*;
use pstor_server::config::KindName;
use std::sync::Arc;
use std::time::Instant;

const STREAMS: usize = 8;
const FRAME: usize = 16 << 10;
const TOTAL: u64 = 256 << 20;

/// Appends TOTAL bytes over STREAMS streams from one thread per stream,
/// syncs; MiB/s.
fn run(b: Arc<dyn Backend>, pool: PoolId) -> f64 {
    let streams: Vec<StreamId> =
        (0..STREAMS).map(|k| b.register_stream(camera(pool, &format!("cam-{k}"))).unwrap()).collect();
    let per_stream = TOTAL / STREAMS as u64 / FRAME as u64;
    let data = content(1, FRAME);
    let t = Instant::now();
    let threads: Vec<_> = streams
        .iter()
        .map(|&s| {
            let (b, data) = (b.clone(), data.clone());
            std::thread::spawn(move || {
                for i in 0..per_stream {
                    b.append(s, T0 + i as i64 * 40_000, i % 25 == 0, data.clone()).unwrap();
                }
                b.sync(s).unwrap();
            })
        })
        .collect();
    threads.into_iter().for_each(|h| h.join().unwrap());
    let secs = t.elapsed().as_secs_f64();
    (per_stream * STREAMS as u64 * FRAME as u64) as f64 / (1 << 20) as f64 / secs
}

#[test]
#[ignore = "a measurement; run with --ignored --nocapture in release mode"]
fn append_throughput_embedded_and_remote() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::new(dir.path().join("engine"));
    opts.min_space_capacity = MIB;
    opts.segment_size = 4 * MIB;
    let local = open_local(opts).unwrap();
    let path = dir.path().join("space1");
    std::fs::create_dir_all(&path).unwrap();
    let space =
        local.initialize_space(SpaceSpec { path, capacity: 512 * MIB, segment_size: None }).unwrap().wait().unwrap();
    let pool = local
        .create_pool(PoolSpec {
            name: "video".into(),
            kind: PoolKind::Video,
            capacity: 448 * MIB,
            spaces: vec![space],
            strategy: OverwriteStrategy::OverwriteOldest,
            cycle_days: 0,
            max_lock_pct: 10,
        })
        .unwrap();
    let embedded = run(local.clone(), pool);
    local.close().unwrap();

    let ts = TestServer::with(|cfg| {
        *cfg = config(cfg.data_dir.parent().unwrap(), 512, &[("video", KindName::Video, 448)]);
        cfg.engine.segment_size = pstor_server::ByteSize(4 * MIB);
    });
    let remote = run(ts.client(), ts.pool("video"));
    eprintln!(
        "append throughput, {STREAMS} streams of {} KiB frames, {} MiB: embedded {embedded:.0} MiB/s, remote {remote:.0} MiB/s ({:.0} %)",
        FRAME >> 10,
        TOTAL >> 20,
        100.0 * remote / embedded
    );
}
