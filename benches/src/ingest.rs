//! `pstor-bench ingest`: N simulated cameras (H.264-like frame sizes: a large
//! key frame every 2 s, small frames between) appended concurrently and synced
//! every M ms of stream time (group commit), as fast as the engine takes them.
//! Baseline: the same bytes as 1 MiB positioned writes to one pre-allocated
//! file, an fdatasync for every M ms of stream time.
//!
//! With `--remote`, the same workload is also driven over the SDK protocol
//! (see [`crate::remote`]), and the baseline is the embedded engine's run
//! of the same workload in the same process.

use crate::baseline::raw_write;
use crate::measure::{cpu_per_gib, mib_s, percentile, rss_mib, settle, Phase, Report, Stopwatch};
use crate::setup::rig;
use bytes::Bytes;
use pstor_client::Backend;
use pstor_core::*;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Folder to run in (a fresh subfolder is created and removed).
    #[arg(long)]
    pub dir: PathBuf,
    /// Simulated cameras.
    #[arg(long, default_value_t = 100)]
    pub streams: usize,
    /// Bit rate of each camera.
    #[arg(long, default_value_t = 4000)]
    pub bitrate_kbps: u64,
    /// Frames per second.
    #[arg(long, default_value_t = 25)]
    pub fps: u32,
    /// Seconds of stream time each camera records.
    #[arg(long, default_value_t = 30)]
    pub seconds: u32,
    /// Sync every this many ms of stream time.
    #[arg(long, default_value_t = 1000)]
    pub sync_ms: u32,
    /// Segment size: every camera keeps one open segment, so the space holds
    /// at least two per camera.
    #[arg(long, default_value_t = 32)]
    pub segment_mib: u64,
    /// Writer threads (cameras are spread over them).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Also drive the workload over the SDK protocol: alone, against a
    /// pstor-server started in this process (loopback, port 0, on a data
    /// folder like the embedded run's); with HOST:PORT, against that
    /// server's signalling port. Reports remote MiB/s against the embedded
    /// run's of the same invocation (target: ratio >= 0.80).
    #[arg(long, value_name = "HOST:PORT", num_args = 0..=1, default_missing_value = "")]
    pub remote: Option<String>,
    /// Remote: the server's data port (default: the signalling port + 1).
    #[arg(long, value_name = "N")]
    pub data_port: Option<u16>,
    /// Remote: the access key (default: $PSTOR_ACCESS_KEY).
    #[arg(long, value_name = "KEY")]
    pub access_key: Option<String>,
    /// Remote: the secret key (default: $PSTOR_SECRET_KEY).
    #[arg(long, value_name = "KEY")]
    pub secret_key: Option<String>,
    /// Remote: client connections (`pstor_client::connect` calls, each with
    /// `--data-connections` append connections); the writer threads share
    /// them out (default: one per writer thread).
    #[arg(long, value_name = "N")]
    pub connections: Option<usize>,
    /// Remote: append connections per client.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub data_connections: usize,
}

/// The workload every phase runs: the frames, their sizes, the syncs.
#[derive(Clone)]
pub struct Load {
    pub frames: u64,
    pub key_len: usize,
    pub small_len: usize,
    pub payload: Bytes,
    pub frame_us: i64,
    pub sync_every: u64,
    pub fps2: u64,
    pub t0: Timestamp,
}

/// What one writer thread drives: its cameras, each group through its
/// backend (`Arc<Engine>`: the embedded engine, called directly;
/// `Arc<dyn Backend>`: a remote client).
pub type Lanes<B> = Vec<(B, Vec<StreamId>)>;

/// Runs one writer thread per entry of `threads`: every frame of every
/// camera in stream-time order, a `sync_streams` per lane every
/// `sync_every` frames and at the end. The append and sync latencies.
pub fn drive<B, T>(load: &Load, threads: Vec<Lanes<B>>) -> Result<(Vec<Duration>, Vec<Duration>)>
where
    B: Deref<Target = T> + Send + 'static,
    T: Backend + ?Sized,
{
    let handles: Vec<_> = threads
        .into_iter()
        .map(|lanes| {
            let load = load.clone();
            std::thread::spawn(move || -> Result<(Vec<Duration>, Vec<Duration>)> {
                let cams: usize = lanes.iter().map(|(_, s)| s.len()).sum();
                let mut appends = Vec::with_capacity((load.frames as usize * cams) / 8 + 1);
                let mut syncs = Vec::new();
                for i in 0..load.frames {
                    let key = i % load.fps2 == 0;
                    let frame = load.payload.slice(..if key { load.key_len } else { load.small_len });
                    let ts = load.t0 + i as i64 * load.frame_us;
                    let mut n = 0usize;
                    for (backend, mine) in &lanes {
                        for &s in mine {
                            // Time one append in eight: the clock costs too.
                            if n.is_multiple_of(8) {
                                let t = Instant::now();
                                backend.append(s, ts, key, frame.clone())?;
                                appends.push(t.elapsed());
                            } else {
                                backend.append(s, ts, key, frame.clone())?;
                            }
                            n += 1;
                        }
                    }
                    if (i + 1) % load.sync_every == 0 {
                        let t = Instant::now();
                        for (backend, mine) in &lanes {
                            backend.sync_streams(mine)?;
                        }
                        syncs.push(t.elapsed());
                    }
                }
                for (backend, mine) in &lanes {
                    backend.sync_streams(mine)?;
                }
                Ok((appends, syncs))
            })
        })
        .collect();
    let mut appends = Vec::new();
    let mut syncs = Vec::new();
    for h in handles {
        let (a, s) = h.join().map_err(|_| Error::Panic("a writer thread panicked".into()))??;
        appends.extend(a);
        syncs.extend(s);
    }
    Ok((appends, syncs))
}

/// A measured phase of the workload.
pub struct Measured {
    pub phase: Phase,
    pub appends: Vec<Duration>,
    pub syncs: Vec<Duration>,
    pub rss: f64,
}

/// Frame sizes of one camera: (key frame, other frame) bytes, a GOP of 2 s
/// whose key frame is 10x the others.
pub fn frame_sizes(bitrate_kbps: u64, fps: u32) -> (usize, usize) {
    let gop_frames = 2 * fps as u64;
    let gop_bytes = bitrate_kbps * 1000 / 8 * 2;
    let small = (gop_bytes / (gop_frames - 1 + 10)).max(1);
    (small as usize * 10, small as usize)
}

/// The bytes the workload writes, and the space it needs.
pub fn sizes(a: &IngestArgs) -> (u64, u64) {
    let (key_len, small_len) = frame_sizes(a.bitrate_kbps, a.fps);
    let frames = a.seconds as u64 * a.fps as u64;
    let per_stream: u64 =
        (0..frames).map(|i| if i % (2 * a.fps as u64) == 0 { key_len } else { small_len } as u64).sum();
    let total = per_stream * a.streams as u64;
    let segment = a.segment_mib << 20;
    let capacity = (total + total / 4 + (1 << 30)).max(2 * a.streams as u64 * segment + segment);
    (total, capacity)
}

/// The workload's frames, starting now.
pub fn load(a: &IngestArgs) -> Load {
    let (key_len, small_len) = frame_sizes(a.bitrate_kbps, a.fps);
    Load {
        frames: a.seconds as u64 * a.fps as u64,
        key_len,
        small_len,
        payload: Bytes::from((0..key_len).map(|i| (i as u8).wrapping_mul(7)).collect::<Vec<u8>>()),
        frame_us: 1_000_000 / a.fps as i64,
        sync_every: (a.sync_ms as u64 * a.fps as u64 / 1000).max(1),
        fps2: 2 * a.fps as u64,
        t0: SystemClock.now(),
    }
}

/// Camera `t` of every `threads`: the cameras of writer thread `t`.
pub fn share<T: Copy>(items: &[T], threads: usize) -> Vec<Vec<T>> {
    (0..threads)
        .map(|t| items.iter().copied().skip(t).step_by(threads).collect())
        .filter(|c: &Vec<T>| !c.is_empty())
        .collect()
}

pub fn run(a: &IngestArgs) -> Result<Report> {
    if a.streams == 0 || a.fps == 0 || a.seconds == 0 || a.sync_ms == 0 || a.threads == 0 {
        return Err(Error::InvalidArgument("streams, fps, seconds, sync-ms and threads must be > 0".into()));
    }
    if a.remote.is_some() {
        return crate::remote::run(a);
    }
    let (total, _) = sizes(a);
    let m = embedded(a)?;
    let (engine, appends, syncs, rss) = (m.phase, m.appends, m.syncs, m.rss);
    let root = a.dir.join("ingest");
    std::fs::create_dir_all(&root).map_err(|e| Error::Io { context: "baseline folder".into(), source: e })?;
    settle();
    let base = raw_write(&root, total, 1 << 20, (a.seconds as u64 * 1000 / a.sync_ms as u64).max(1))
        .map_err(|e| Error::Io { context: "the raw baseline".into(), source: e })?;
    let _ = std::fs::remove_dir_all(&root);

    let mut appends = appends;
    let mut syncs = syncs;
    let mut rep = Report::default();
    rep.add("streams", a.streams, "cameras");
    rep.add("bitrate_kbps", a.bitrate_kbps, "kbit/s each");
    rep.add("stream_seconds", a.seconds, "s");
    rep.add("bytes", total, "B");
    rep.num("seconds", engine.wall, 3, "s wall");
    rep.num("mib_s", mib_s(total, engine.wall), 1, "MiB/s");
    rep.num("baseline_mib_s", mib_s(total, base.wall), 1, "MiB/s (1 MiB pwrites, same syncs)");
    rep.num("ratio", base.wall / engine.wall, 3, "");
    rep.num("cpu_s_per_gib", cpu_per_gib(engine.cpu, total), 3, "CPU s/GiB");
    rep.num("baseline_cpu_s_per_gib", cpu_per_gib(base.cpu, total), 3, "CPU s/GiB");
    rep.num("cpu_ratio", engine.cpu / base.cpu.max(1e-3), 2, "");
    rep.add("p99_append_us", percentile(&mut appends, 0.99).as_micros() as u64, "µs");
    rep.num("p99_sync_ms", percentile(&mut syncs, 0.99).as_secs_f64() * 1000.0, 2, "ms");
    rep.num("rss_mib", rss, 1, "MiB");
    Ok(rep)
}

/// The workload on the embedded engine, in `--dir`/ingest (removed after).
pub fn embedded(a: &IngestArgs) -> Result<Measured> {
    let (_, capacity) = sizes(a);
    let r = rig(&a.dir, "ingest", capacity, a.segment_mib << 20, PoolKind::Video)?;
    let streams = r.cameras(a.streams)?;
    let load = load(a);
    settle();
    let watch = Stopwatch::start();
    let engine = Arc::new(r.engine.clone());
    let threads: Vec<Lanes<Arc<Engine>>> =
        share(&streams, a.threads).into_iter().map(|s| vec![(Arc::clone(&engine), s)]).collect();
    let (appends, syncs) = drive(&load, threads)?;
    let phase = watch.stop();
    let rss = rss_mib();
    r.remove()?;
    Ok(Measured { phase, appends, syncs, rss })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cameras_are_shared_out_round_robin() {
        assert_eq!(share(&[1, 2, 3, 4, 5], 2), vec![vec![1, 3, 5], vec![2, 4]]);
        // No empty share when there are fewer items than threads.
        assert_eq!(share(&[7], 3), vec![vec![7]]);
    }

    #[test]
    fn frame_sizes_add_up_to_the_bitrate() {
        let (key, small) = frame_sizes(4000, 25);
        assert_eq!(key, 10 * small);
        let gop = key + 49 * small;
        let want = 4000 * 1000 / 8 * 2;
        assert!(gop <= want && want - gop < 59, "{gop} vs {want}");
    }
}
