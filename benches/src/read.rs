//! `pstor-bench read`: time-range reads from sealed segments. K cameras record
//! M minutes (H.264-like frames, as `ingest`), the engine is reopened, then
//! readers play back random ranges of R seconds: throughput of the frames
//! returned and the latency to the first frame of a range (the index lookup,
//! the key-frame look-back and the first record read). Baseline: the same
//! number of bytes read from one file in 1 MiB positioned reads, in the same
//! run, on the same folder.

use crate::baseline::raw_read;
use crate::ingest::frame_sizes;
use crate::measure::{drop_caches, mib_s, percentile, Report, Stopwatch};
use crate::setup::{open, rig};
use bytes::Bytes;
use pstor_core::*;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Options of `read`.
#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// Folder to run in (a fresh subfolder is created and removed).
    #[arg(long)]
    pub dir: PathBuf,
    /// Cameras recorded.
    #[arg(long, default_value_t = 8)]
    pub streams: usize,
    /// Bit rate of each camera.
    #[arg(long, default_value_t = 4000)]
    pub bitrate_kbps: u64,
    /// Frames per second.
    #[arg(long, default_value_t = 25)]
    pub fps: u32,
    /// Minutes of stream time each camera records.
    #[arg(long, default_value_t = 5)]
    pub minutes: u32,
    /// Seconds of each range read back.
    #[arg(long, default_value_t = 30)]
    pub range_seconds: u32,
    /// Ranges read in all.
    #[arg(long, default_value_t = 64)]
    pub ranges: usize,
    /// Reader threads.
    #[arg(long, default_value_t = 2)]
    pub readers: usize,
    /// Segment size in MiB.
    #[arg(long, default_value_t = 16)]
    pub segment_mib: u64,
    /// Drop the page cache before reading (needs root), for both pstor and
    /// the baseline, so both read the disk.
    #[arg(long)]
    pub cold: bool,
}

/// A small deterministic generator (xorshift) for the ranges' starts.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Reads `[start, end]` of `stream`: bytes returned and the time to the
/// first frame.
fn read_range(engine: &Engine, stream: StreamId, start: Timestamp, end: Timestamp) -> Result<(u64, Duration)> {
    let t = Instant::now();
    let mut first = None;
    let mut bytes = 0u64;
    for f in engine.read(stream, start, end)? {
        bytes += f?.data.len() as u64;
        first.get_or_insert_with(|| t.elapsed());
    }
    match first {
        Some(first) => Ok((bytes, first)),
        None => Err(Error::InvalidArgument(format!("range {start}..{end} of stream {stream:?} came back empty"))),
    }
}

pub fn run(a: &ReadArgs) -> Result<Report> {
    if a.streams == 0 || a.fps == 0 || a.readers == 0 || a.ranges == 0 || a.range_seconds == 0 {
        return Err(Error::InvalidArgument("streams, fps, readers, ranges and range-seconds must be > 0".into()));
    }
    // A margin at the end keeps ranges in sealed segments, not the open ones.
    let recorded_s = a.minutes as u64 * 60;
    if recorded_s < 2 * a.range_seconds as u64 + 10 {
        return Err(Error::InvalidArgument("record at least twice the range length plus 10 s".into()));
    }
    let (key_len, small_len) = frame_sizes(a.bitrate_kbps, a.fps);
    let frames = recorded_s * a.fps as u64;
    let gop = 2 * a.fps as u64;
    let per_stream: u64 = (0..frames).map(|i| if i % gop == 0 { key_len } else { small_len } as u64).sum();
    let segment = a.segment_mib << 20;
    let total = per_stream * a.streams as u64;
    let capacity = total + total / 4 + 2 * a.streams as u64 * segment;
    let r = rig(&a.dir, "read", capacity, segment, PoolKind::Video)?;
    let streams = r.cameras(a.streams)?;
    let payload = Bytes::from((0..key_len).map(|i| (i as u8).wrapping_mul(13)).collect::<Vec<u8>>());
    let frame_us = 1_000_000 / a.fps as i64;
    let t0 = SystemClock.now();
    for i in 0..frames {
        let key = i % gop == 0;
        let frame = payload.slice(..if key { key_len } else { small_len });
        for &s in &streams {
            r.engine.append(s, t0 + i as i64 * frame_us, key, frame.clone())?;
        }
    }
    r.engine.sync_streams(&streams)?;
    let root = r.root.clone();
    r.engine.close()?;

    let (engine, counters) = open(&root, segment)?;
    // Warm: what was just recorded is still cached, as the baseline's file
    // will be; cold: neither is.
    let cold = a.cold && drop_caches();
    let range_us = a.range_seconds as i64 * 1_000_000;
    // Starts in [t0, t_last - range - open segment margin).
    let span_us = (recorded_s as i64 - a.range_seconds as i64 - 10) * 1_000_000;
    let watch = Stopwatch::start();
    let handles: Vec<_> = (0..a.readers)
        .map(|reader| {
            let (engine, streams) = (engine.clone(), streams.clone());
            let mine = a.ranges / a.readers + usize::from(reader < a.ranges % a.readers);
            std::thread::spawn(move || -> Result<(u64, Vec<Duration>)> {
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (reader as u64 + 1).wrapping_mul(0x2545_f491);
                let mut bytes = 0;
                let mut firsts = Vec::with_capacity(mine);
                for _ in 0..mine {
                    let stream = streams[next_random(&mut rng) as usize % streams.len()];
                    let start = t0 + (next_random(&mut rng) % span_us as u64) as i64;
                    let (b, first) = read_range(&engine, stream, start, start + range_us)?;
                    bytes += b;
                    firsts.push(first);
                }
                Ok((bytes, firsts))
            })
        })
        .collect();
    let mut bytes = 0;
    let mut firsts = Vec::new();
    for h in handles {
        let (b, f) = h.join().map_err(|_| Error::Panic("a reader thread panicked".into()))??;
        bytes += b;
        firsts.extend(f);
    }
    let phase = watch.stop();
    let reads = counters.reads.load(Ordering::Relaxed);
    let read_bytes = counters.read_bytes.load(Ordering::Relaxed);
    engine.close()?;
    std::fs::remove_dir_all(&root).map_err(|e| Error::Io { context: "removing the bench folder".into(), source: e })?;
    std::fs::create_dir_all(&root).map_err(|e| Error::Io { context: "baseline folder".into(), source: e })?;
    let base = raw_read(&root, read_bytes, 1 << 20, a.cold)
        .map_err(|e| Error::Io { context: "the raw read baseline".into(), source: e })?;
    let _ = std::fs::remove_dir_all(&root);

    let mut rep = Report::default();
    rep.add("streams", a.streams, "cameras");
    rep.add("ranges", a.ranges, "");
    rep.add("range_seconds", a.range_seconds, "s");
    rep.add("cold", cold, "(page cache dropped before reading)");
    rep.num("mib_s", mib_s(bytes, phase.wall), 1, "MiB/s of frames returned");
    rep.num("disk_mib_s", mib_s(read_bytes, phase.wall), 1, "MiB/s read from the space");
    rep.num("baseline_mib_s", mib_s(read_bytes, base.wall), 1, "MiB/s (1 MiB preads of as many bytes)");
    rep.num("ratio", base.wall / phase.wall, 3, "");
    rep.num("reads_per_range", reads as f64 / a.ranges as f64, 1, "preads");
    rep.num("p50_first_frame_ms", percentile(&mut firsts, 0.5).as_secs_f64() * 1000.0, 3, "ms");
    rep.num("p99_first_frame_ms", percentile(&mut firsts, 0.99).as_secs_f64() * 1000.0, 3, "ms");
    rep.num("cpu_s_per_gib", crate::measure::cpu_per_gib(phase.cpu, bytes), 3, "CPU s/GiB");
    Ok(rep)
}
