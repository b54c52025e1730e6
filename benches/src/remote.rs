//! `pstor-bench ingest --remote [HOST:PORT]`: the ingest workload driven
//! over the SDK protocol, measured against the embedded engine running the
//! same workload in the same invocation.
//!
//! Phases, each after [`settle`]:
//!
//! 1. **embedded**: the plain `ingest` run (an engine in `--dir`), removed after;
//! 2. **remote**: the same cameras, frames and syncs through
//!    `pstor_client::connect` clients: `--connections` clients (default one
//!    per writer thread), each with `--data-connections` append connections;
//!    writer thread `t` drives its cameras through the clients
//!    `c ≡ t (mod threads)`. The server is either started in this process
//!    (`--remote` alone: `pstor_server::Server::start` on loopback port 0,
//!    its data folder and space in `--dir` with the embedded run's capacity
//!    and segment size, a fresh key pair), or an existing one
//!    (`--remote HOST:PORT`, `--access-key`, `--secret-key`), where a pool
//!    `pstor-bench-<pid>` is created on the space with the most room and
//!    deleted afterwards.
//!
//! `ratio` is the embedded wall time over the remote one (remote MiB/s over
//! embedded MiB/s); the target is >= 0.80. CPU is this process's: with the
//! in-process server it counts client and server, so `cpu_ratio` is the
//! whole cost of the network path; against an external server it counts the
//! client only.

use crate::ingest::{drive, embedded, load, share, sizes, IngestArgs, Lanes, Measured};
use crate::measure::{cpu_per_gib, mib_s, percentile, rss_mib, settle, Report, Stopwatch};
use pstor_client::{Backend, RemoteOptions};
use pstor_core::*;
use pstor_server::config::SpaceConfig;
use pstor_server::{ByteSize, RunningServer, Server, ServerConfig};
use std::path::PathBuf;
use std::sync::Arc;

/// The server the remote phase talks to.
enum Target {
    /// Started here, in `root`.
    InProcess { server: Box<RunningServer>, root: PathBuf },
    /// Someone else's.
    External,
}

fn invalid(m: impl Into<String>) -> Error {
    Error::InvalidArgument(m.into())
}

/// The options for the server `--remote` names, or a server started here.
fn target(a: &IngestArgs, capacity: u64) -> Result<(RemoteOptions, Target)> {
    let addr = a.remote.as_deref().unwrap_or_default();
    if addr.is_empty() {
        let root = a.dir.join("ingest-remote");
        if root.exists() {
            return Err(invalid(format!("{} exists; give an empty --dir", root.display())));
        }
        let pair = pstor_server::credentials::generate();
        let mut cfg = ServerConfig::loopback(root.join("server"), pair.clone());
        cfg.engine.segment_size = ByteSize(a.segment_mib << 20);
        cfg.spaces = vec![SpaceConfig { path: root.join("space"), capacity: ByteSize(capacity), segment_size: None }];
        let server = Server::start(cfg).map_err(|e| invalid(format!("starting the in-process server: {e}")))?;
        let mut o = RemoteOptions::new("127.0.0.1", pair.access_key, pair.secret_key);
        o.signalling_port = server.signalling_addr().port();
        o.data_port = server.data_addr().port();
        return Ok((o, Target::InProcess { server: Box::new(server), root }));
    }
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| invalid(format!("--remote {addr}: give HOST:PORT")))?;
    let port: u16 = port.parse().map_err(|_| invalid(format!("--remote {addr}: bad port")))?;
    let key = |flag: &Option<String>, var: &str| {
        flag.clone()
            .or_else(|| std::env::var(var).ok())
            .ok_or_else(|| invalid(format!("--remote {addr} needs the key pair: --access-key/--secret-key or ${var}")))
    };
    let mut o =
        RemoteOptions::new(host, key(&a.access_key, "PSTOR_ACCESS_KEY")?, key(&a.secret_key, "PSTOR_SECRET_KEY")?);
    o.signalling_port = port;
    o.data_port = a.data_port.unwrap_or(port.wrapping_add(1));
    Ok((o, Target::External))
}

/// A video pool for the workload on the server: over the in-process
/// server's one space, as the embedded rig makes it; on an external server
/// on the space with the most room, as large as the workload needs.
fn bench_pool(admin: &dyn Backend, target: &Target, capacity: u64) -> Result<PoolId> {
    let spaces = admin.spaces()?;
    let (name, space, cap) = match target {
        Target::InProcess { .. } => {
            let s = spaces.first().ok_or_else(|| invalid("the in-process server has no space"))?;
            ("bench".to_string(), s.id, s.capacity)
        }
        Target::External => {
            let s = spaces
                .iter()
                .filter(|s| s.status == SpaceStatus::Normal)
                .max_by_key(|s| s.capacity.saturating_sub(s.reserved))
                .ok_or_else(|| invalid("the server has no storage space in service"))?;
            let free = s.capacity.saturating_sub(s.reserved);
            let cap = capacity.min(free) / s.segment_size.max(1) * s.segment_size;
            (format!("pstor-bench-{}", std::process::id()), s.id, cap)
        }
    };
    admin.create_pool(PoolSpec {
        name,
        kind: PoolKind::Video,
        capacity: cap,
        spaces: vec![space],
        strategy: OverwriteStrategy::OverwriteOldest,
        cycle_days: 0,
        max_lock_pct: 0,
    })
}

/// The workload through `pstor_client::connect` clients.
fn remote_phase(a: &IngestArgs, capacity: u64) -> Result<(Measured, String)> {
    let (opts, target) = target(a, capacity)?;
    let whom = match &target {
        Target::InProcess { .. } => "in-process".to_string(),
        Target::External => format!("{}:{}", opts.host, opts.signalling_port),
    };
    let admin = pstor_client::connect(RemoteOptions { data_connections: 1, ..opts.clone() })?;
    let pool = bench_pool(admin.as_ref(), &target, capacity)?;
    let tag = match target {
        Target::InProcess { .. } => String::new(),
        Target::External => format!("-{}", std::process::id()),
    };
    let streams: Vec<StreamId> = (0..a.streams)
        .map(|i| {
            admin.register_stream(StreamSpec {
                pool,
                camera_id: format!("bench-cam{tag}-{i}"),
                channel: 1,
                kind: StreamKind::Main,
                codec: "H264".into(),
                codec_config: Vec::new(),
            })
        })
        .collect::<Result<_>>()?;
    let n_clients = a.connections.unwrap_or(a.threads).max(1);
    let clients: Vec<Arc<dyn Backend>> = (0..n_clients)
        .map(|_| pstor_client::connect(RemoteOptions { data_connections: a.data_connections.max(1), ..opts.clone() }))
        .collect::<Result<_>>()?;
    // Thread t drives its cameras through the clients c ≡ t (mod threads)
    // (or, with fewer clients than threads, through client t mod clients).
    let threads: Vec<Lanes<Arc<dyn Backend>>> = share(&streams, a.threads)
        .into_iter()
        .enumerate()
        .map(|(t, cams)| {
            let mine: Vec<&Arc<dyn Backend>> = if n_clients >= a.threads {
                clients.iter().skip(t).step_by(a.threads).collect()
            } else {
                clients.iter().skip(t % n_clients).take(1).collect()
            };
            share(&cams, mine.len()).into_iter().zip(mine).map(|(s, c)| (Arc::clone(c), s)).collect()
        })
        .collect();
    let load = load(a);
    settle();
    let watch = Stopwatch::start();
    let (appends, syncs) = drive(&load, threads)?;
    let phase = watch.stop();
    let rss = rss_mib();
    for c in &clients {
        c.close()?;
    }
    if let Target::External = target {
        // Best effort: the pool and its data were the bench's own.
        let _ = admin.delete_pool(pool);
    }
    admin.close()?;
    if let Target::InProcess { server, root } = target {
        server.shutdown().map_err(|e| invalid(format!("stopping the in-process server: {e}")))?;
        std::fs::remove_dir_all(&root)
            .map_err(|e| Error::Io { context: "removing the remote bench folder".into(), source: e })?;
    }
    Ok((Measured { phase, appends, syncs, rss }, whom))
}

/// `ingest --remote`: the embedded run, then the remote one.
pub fn run(a: &IngestArgs) -> Result<Report> {
    if a.data_connections == 0 || a.connections == Some(0) {
        return Err(invalid("connections and data-connections must be > 0"));
    }
    let (total, capacity) = sizes(a);
    let emb = embedded(a)?;
    let (mut rem, whom) = remote_phase(a, capacity)?;
    let mut emb_syncs = emb.syncs.clone();

    let mut rep = Report::default();
    rep.add("streams", a.streams, "cameras");
    rep.add("bitrate_kbps", a.bitrate_kbps, "kbit/s each");
    rep.add("stream_seconds", a.seconds, "s");
    rep.add("bytes", total, "B");
    rep.add("threads", a.threads, "writer threads");
    rep.add("connections", a.connections.unwrap_or(a.threads), "clients");
    rep.add("data_connections", a.data_connections, "append connections per client");
    rep.add("server", whom, "");
    rep.num("seconds", rem.phase.wall, 3, "s wall (remote)");
    rep.num("embedded_seconds", emb.phase.wall, 3, "s wall (embedded)");
    rep.num("mib_s", mib_s(total, rem.phase.wall), 1, "MiB/s over the SDK protocol");
    rep.num("embedded_mib_s", mib_s(total, emb.phase.wall), 1, "MiB/s embedded, same run");
    rep.num("ratio", emb.phase.wall / rem.phase.wall, 3, "remote / embedded (target >= 0.80)");
    rep.num("cpu_s_per_gib", cpu_per_gib(rem.phase.cpu, total), 3, "CPU s/GiB (this process)");
    rep.num("embedded_cpu_s_per_gib", cpu_per_gib(emb.phase.cpu, total), 3, "CPU s/GiB");
    rep.num("cpu_ratio", rem.phase.cpu / emb.phase.cpu.max(1e-3), 2, "remote / embedded");
    rep.add("p99_append_us", percentile(&mut rem.appends, 0.99).as_micros() as u64, "µs (remote, pipelined)");
    rep.num("p99_sync_ms", percentile(&mut rem.syncs, 0.99).as_secs_f64() * 1000.0, 2, "ms (remote)");
    rep.num("embedded_p99_sync_ms", percentile(&mut emb_syncs, 0.99).as_secs_f64() * 1000.0, 2, "ms");
    // Where the writer threads' time went: waiting in syncs, and in appends
    // (one append in eight is timed), as shares of threads x wall time.
    let share = |v: &[std::time::Duration], scale: f64, wall: f64| {
        v.iter().map(|d| d.as_secs_f64()).sum::<f64>() * scale / (a.threads as f64 * wall)
    };
    rep.num("sync_wait_share", share(&rem.syncs, 1.0, rem.phase.wall), 3, "of the writers' time (remote)");
    rep.num("embedded_sync_wait_share", share(&emb_syncs, 1.0, emb.phase.wall), 3, "of the writers' time");
    rep.num("append_share", share(&rem.appends, 8.0, rem.phase.wall), 3, "of the writers' time (remote, est.)");
    rep.num("embedded_append_share", share(&emb.appends, 8.0, emb.phase.wall), 3, "of the writers' time (est.)");
    rep.num("rss_mib", rem.rss, 1, "MiB");
    Ok(rep)
}
