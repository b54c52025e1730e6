//! `pstor-bench pictures`: W writers put K-KiB pictures for S seconds, each
//! put durable before it counts (`sync_pictures` after it: group commit),
//! then W readers get random ones. Baselines in the same run, same folder:
//! raw sequential writes of the same bytes with as many fdatasyncs as the
//! engine made, and a file-per-picture store with equal durability.

use crate::baseline::{file_per_picture, raw_write};
use crate::measure::{mib_s, percentile, settle, Report, Stopwatch};
use crate::setup::rig;
use pstor_core::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `pictures`.
#[derive(Debug, clap::Args)]
pub struct PicturesArgs {
    /// Folder to run in (a fresh subfolder is created and removed).
    #[arg(long)]
    pub dir: PathBuf,
    /// Picture size.
    #[arg(long, default_value_t = 100)]
    pub size_kib: usize,
    /// Concurrent writers (and readers).
    #[arg(long, default_value_t = 16)]
    pub writers: usize,
    /// Seconds of each phase.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
}

type Latencies = Vec<Duration>;

pub fn run(a: &PicturesArgs) -> Result<Report> {
    if a.size_kib == 0 || a.writers == 0 || a.seconds <= 0.0 {
        return Err(Error::InvalidArgument("size-kib, writers and seconds must be > 0".into()));
    }
    let size = a.size_kib << 10;
    // Room for a fast disk at ~1 GiB/s for the whole put phase.
    let capacity = ((a.seconds * 1.2) as u64 + 2) << 30;
    let r = rig(&a.dir, "pictures", capacity, 256 << 20, PoolKind::Picture)?;
    let template: Vec<u8> = (0..size).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let syncs_before = r.counters.syncs.load(Ordering::Relaxed);
    settle();
    let watch = Stopwatch::start();
    let writers: Vec<_> = (0..a.writers)
        .map(|w| {
            let (engine, stop, mut data, pool) = (r.engine.clone(), Arc::clone(&stop), template.clone(), r.pool);
            std::thread::spawn(move || -> Result<(Vec<PictureId>, Latencies)> {
                let (mut ids, mut lat) = (Vec::new(), Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    // Distinct bytes per picture: nothing below us deduplicates.
                    data[..8].copy_from_slice(&((w as u64) << 40 | ids.len() as u64).to_le_bytes());
                    let meta = PictureMeta {
                        camera_id: format!("bench-cam-{w}"),
                        captured_at: SystemClock.now(),
                        content_type: "image/jpeg".into(),
                        key: None,
                    };
                    let t = Instant::now();
                    ids.push(engine.put_picture(pool, &meta, &data)?);
                    engine.sync_pictures(pool)?;
                    lat.push(t.elapsed());
                }
                Ok((ids, lat))
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(a.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut ids = Vec::new();
    let mut put_lat = Vec::new();
    for h in writers {
        let (i, l) = h.join().map_err(|_| Error::Panic("a writer panicked".into()))??;
        ids.extend(i);
        put_lat.extend(l);
    }
    let put = watch.stop();
    let syncs = r.counters.syncs.load(Ordering::Relaxed) - syncs_before;
    let bytes = ids.len() as u64 * size as u64;

    // Random gets, counting the reads they make.
    let ids = Arc::new(ids);
    stop.store(false, Ordering::Relaxed);
    let reads_before = r.counters.reads.load(Ordering::Relaxed);
    let watch = Stopwatch::start();
    let readers: Vec<_> = (0..a.writers)
        .map(|n| {
            let (engine, stop, ids) = (r.engine.clone(), Arc::clone(&stop), Arc::clone(&ids));
            std::thread::spawn(move || -> Result<Latencies> {
                let mut lat = Vec::new();
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ n as u64;
                while !stop.load(Ordering::Relaxed) && !ids.is_empty() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let t = Instant::now();
                    engine.get_picture(&ids[(x % ids.len() as u64) as usize])?;
                    lat.push(t.elapsed());
                }
                Ok(lat)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(a.seconds / 2.0));
    stop.store(true, Ordering::Relaxed);
    let mut get_lat = Vec::new();
    for h in readers {
        get_lat.extend(h.join().map_err(|_| Error::Panic("a reader panicked".into()))??);
    }
    let get = watch.stop();
    let reads = r.counters.reads.load(Ordering::Relaxed) - reads_before;
    let root = r.root.clone();
    r.remove()?;

    std::fs::create_dir_all(&root).map_err(|e| Error::Io { context: "baseline folder".into(), source: e })?;
    let io = |e| Error::Io { context: "a baseline".into(), source: e };
    settle();
    let raw = raw_write(&root, bytes.max(1), 1 << 20, syncs).map_err(io)?;
    settle();
    let (fpp_count, fpp) = file_per_picture(&root, size, a.writers, a.seconds).map_err(io)?;
    let _ = std::fs::remove_dir_all(&root);

    let put_per_s = ids.len() as f64 / put.wall;
    let fpp_per_s = fpp_count as f64 / fpp.wall;
    let mut rep = Report::default();
    rep.add("size_kib", a.size_kib, "KiB");
    rep.add("writers", a.writers, "");
    rep.add("puts", ids.len(), "");
    rep.add("fdatasyncs", syncs, "(group commit)");
    rep.num("put_per_s", put_per_s, 1, "puts/s");
    rep.num("put_mib_s", mib_s(bytes, put.wall), 1, "MiB/s");
    rep.num("p99_put_ms", percentile(&mut put_lat, 0.99).as_secs_f64() * 1000.0, 2, "ms (put + sync)");
    rep.num("raw_mib_s", mib_s(bytes, raw.wall), 1, "MiB/s (same bytes, same fdatasyncs)");
    rep.num("ratio_raw", raw.wall / put.wall, 3, "");
    rep.num("file_per_picture_put_per_s", fpp_per_s, 1, "puts/s (tmp, fdatasync, rename, dir fsync)");
    rep.num("ratio_file_per_picture", put_per_s / fpp_per_s.max(1e-9), 2, "");
    rep.num("get_per_s", get_lat.len() as f64 / get.wall, 1, "gets/s");
    rep.add("p99_get_us", percentile(&mut get_lat, 0.99).as_micros() as u64, "µs");
    rep.num("reads_per_get", reads as f64 / get_lat.len().max(1) as f64, 3, "preads");
    Ok(rep)
}
