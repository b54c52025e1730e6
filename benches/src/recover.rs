//! `pstor-bench recover`: a space of N segments (small segments are fine) is
//! filled by K cameras, then reopened after a clean stop and after a crash
//! (the engine dropped without closing while its K cameras were writing, so
//! their tails past the checkpoint are scanned). Reports both open times and
//! the bytes recovery read.

use crate::measure::{drop_caches, Report};
use crate::setup::{open, rig};
use bytes::Bytes;
use pstor_core::*;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Options of `recover`.
#[derive(Debug, clap::Args)]
pub struct RecoverArgs {
    /// Folder to run in (a fresh subfolder is created and removed).
    #[arg(long)]
    pub dir: PathBuf,
    /// Segments in the space.
    #[arg(long, default_value_t = 10_000)]
    pub segments: u64,
    /// Cameras writing (each keeps one open segment).
    #[arg(long, default_value_t = 100)]
    pub streams: usize,
    /// Segment size in KiB (at least 64).
    #[arg(long, default_value_t = 64)]
    pub segment_kib: u64,
    /// Drop the page cache before each open (needs root), so opens read the disk.
    #[arg(long)]
    pub cold: bool,
}

/// Appends `frames` 25 fps frames of 2 KiB to every stream from `ts`.
fn record(engine: &Engine, streams: &[StreamId], ts: &mut Timestamp, frames: u64, frame: &Bytes) -> Result<()> {
    for _ in 0..frames {
        for &s in streams {
            engine.append(s, *ts, true, frame.clone())?;
        }
        *ts += 40_000;
    }
    engine.sync_streams(streams)
}

pub fn run(a: &RecoverArgs) -> Result<Report> {
    if a.segments < 2 * a.streams as u64 + 1 || a.segment_kib < 64 {
        return Err(Error::InvalidArgument("need segments >= 2 x streams + 1 and segment-kib >= 64".into()));
    }
    let segment = a.segment_kib << 10;
    let r = rig(&a.dir, "recover", a.segments * segment, segment, PoolKind::Video)?;
    let streams = r.cameras(a.streams)?;
    // Fill about 90 % of the space: sealed segments everywhere.
    let frame = Bytes::from(vec![0x42u8; 2048]);
    let fill = a.segments * segment * 9 / 10;
    let per_round = a.streams as u64 * 25 * 2048;
    let mut ts = SystemClock.now();
    let start = Instant::now();
    for _ in 0..fill / per_round {
        record(&r.engine, &streams, &mut ts, 25, &frame)?;
    }
    let fill_secs = start.elapsed().as_secs_f64();
    let root = r.root.clone();
    r.engine.close()?;

    // Clean open.
    let cold = a.cold && drop_caches();
    let t = Instant::now();
    let (engine, counters) = open(&root, segment)?;
    let clean_open = t.elapsed().as_secs_f64() * 1000.0;
    let clean_read = counters.read_bytes.load(Ordering::Relaxed);
    // Write a little more (past the open's checkpoint), then "crash": drop
    // the engine without closing it, so no clean checkpoint is written.
    record(&engine, &streams, &mut ts, 25, &frame)?;
    drop(engine);
    let cold = cold && drop_caches();
    let t = Instant::now();
    let (engine, counters) = open(&root, segment)?;
    let crash_open = t.elapsed().as_secs_f64() * 1000.0;
    let crash_read = counters.read_bytes.load(Ordering::Relaxed);
    let info = engine.spaces();
    engine.close()?;
    std::fs::remove_dir_all(&root).map_err(|e| Error::Io { context: "removing the bench folder".into(), source: e })?;

    let mut rep = Report::default();
    rep.add("segments", info.first().map_or(0, |s| s.capacity / segment), "");
    rep.add("streams", a.streams, "");
    rep.add("cold", cold, "(page cache dropped before each open)");
    rep.num("fill_seconds", fill_secs, 2, "s");
    rep.num("clean_open_ms", clean_open, 1, "ms");
    rep.num("crash_open_ms", crash_open, 1, "ms");
    rep.num("clean_read_mib", clean_read as f64 / (1 << 20) as f64, 2, "MiB read by the clean open");
    rep.num("scanned_mib", crash_read as f64 / (1 << 20) as f64, 2, "MiB read by the crash open");
    Ok(rep)
}
