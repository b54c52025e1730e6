//! `pstor-bench ingest`: N simulated cameras (H.264-like frame sizes: a large
//! key frame every 2 s, small frames between) appended concurrently and synced
//! every M ms of stream time (group commit), as fast as the engine takes them.
//! Baseline: the same bytes as 1 MiB positioned writes to one pre-allocated
//! file, an fdatasync for every M ms of stream time.

use crate::baseline::raw_write;
use crate::measure::{cpu_per_gib, mib_s, percentile, rss_mib, settle, Report, Stopwatch};
use crate::setup::rig;
use bytes::Bytes;
use pstor_core::*;
use std::path::PathBuf;
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
}

/// Frame sizes of one camera: (key frame, other frame) bytes, a GOP of 2 s
/// whose key frame is 10x the others.
pub fn frame_sizes(bitrate_kbps: u64, fps: u32) -> (usize, usize) {
    let gop_frames = 2 * fps as u64;
    let gop_bytes = bitrate_kbps * 1000 / 8 * 2;
    let small = (gop_bytes / (gop_frames - 1 + 10)).max(1);
    (small as usize * 10, small as usize)
}

pub fn run(a: &IngestArgs) -> Result<Report> {
    if a.streams == 0 || a.fps == 0 || a.seconds == 0 || a.sync_ms == 0 || a.threads == 0 {
        return Err(Error::InvalidArgument("streams, fps, seconds, sync-ms and threads must be > 0".into()));
    }
    let (key_len, small_len) = frame_sizes(a.bitrate_kbps, a.fps);
    let frames = a.seconds as u64 * a.fps as u64;
    let per_stream: u64 =
        (0..frames).map(|i| if i % (2 * a.fps as u64) == 0 { key_len } else { small_len } as u64).sum();
    let total = per_stream * a.streams as u64;
    let segment = a.segment_mib << 20;
    let capacity = (total + total / 4 + (1 << 30)).max(2 * a.streams as u64 * segment + segment);
    let r = rig(&a.dir, "ingest", capacity, segment, PoolKind::Video)?;
    let streams = r.cameras(a.streams)?;
    let payload = Bytes::from((0..key_len).map(|i| (i as u8).wrapping_mul(7)).collect::<Vec<u8>>());
    let frame_us = 1_000_000 / a.fps as i64;
    let sync_every = (a.sync_ms as u64 * a.fps as u64 / 1000).max(1);
    let t0 = SystemClock.now();
    settle();
    let watch = Stopwatch::start();
    let chunks: Vec<Vec<StreamId>> = (0..a.threads)
        .map(|t| streams.iter().copied().skip(t).step_by(a.threads).collect())
        .filter(|c: &Vec<StreamId>| !c.is_empty())
        .collect();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|mine| {
            let (engine, payload) = (r.engine.clone(), payload.clone());
            let fps2 = 2 * a.fps as u64;
            std::thread::spawn(move || -> Result<(Vec<Duration>, Vec<Duration>)> {
                let mut appends = Vec::with_capacity((frames as usize * mine.len()) / 8 + 1);
                let mut syncs = Vec::new();
                for i in 0..frames {
                    let key = i % fps2 == 0;
                    let frame = payload.slice(..if key { key_len } else { small_len });
                    let ts = t0 + i as i64 * frame_us;
                    for (n, &s) in mine.iter().enumerate() {
                        // Time one append in eight: the clock costs too.
                        if n % 8 == 0 {
                            let t = Instant::now();
                            engine.append(s, ts, key, frame.clone())?;
                            appends.push(t.elapsed());
                        } else {
                            engine.append(s, ts, key, frame.clone())?;
                        }
                    }
                    if (i + 1) % sync_every == 0 {
                        let t = Instant::now();
                        engine.sync_streams(&mine)?;
                        syncs.push(t.elapsed());
                    }
                }
                engine.sync_streams(&mine)?;
                Ok((appends, syncs))
            })
        })
        .collect();
    let mut appends = Vec::new();
    let mut syncs = Vec::new();
    for h in handles {
        let (a, s) = h.join().map_err(|_| Error::InvalidArgument("a writer thread panicked".into()))??;
        appends.extend(a);
        syncs.extend(s);
    }
    let engine = watch.stop();
    let rss = rss_mib();
    let root = r.root.clone();
    r.remove()?;
    std::fs::create_dir_all(&root).map_err(|e| Error::Io { context: "baseline folder".into(), source: e })?;
    settle();
    let base = raw_write(&root, total, 1 << 20, (a.seconds as u64 * 1000 / a.sync_ms as u64).max(1))
        .map_err(|e| Error::Io { context: "the raw baseline".into(), source: e })?;
    let _ = std::fs::remove_dir_all(&root);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sizes_add_up_to_the_bitrate() {
        let (key, small) = frame_sizes(4000, 25);
        assert_eq!(key, 10 * small);
        let gop = key + 49 * small;
        let want = 4000 * 1000 / 8 * 2;
        assert!(gop <= want && want - gop < 59, "{gop} vs {want}");
    }
}
