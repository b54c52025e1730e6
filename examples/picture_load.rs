//! picture_load: stores and reads back pictures the way a VMS does at peak
//! (many snapshot writers, each put durable before it is acknowledged), and
//! prints puts/s, MiB/s, gets/s and latency percentiles.
//!
//! ```text
//! cargo run --release --bin picture_load -- [--dir DIR] [--writers W] [--size-kib K]
//!                                          [--seconds S] [--capacity-mib M] [--sync-every N]
//! ```
//!
//! The folder is created (space and picture pool on first run) and reused.

use pstor_core::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    dir: PathBuf,
    writers: usize,
    size_kib: usize,
    seconds: u64,
    capacity_mib: u64,
    sync_every: usize,
    cold: bool,
}

const USAGE: &str =
    "usage: picture_load [--dir DIR] [--writers W] [--size-kib K] [--seconds S] [--capacity-mib M] [--sync-every N] [--cold]

W writer threads (default 16) put pictures of K KiB (default 100) for S seconds
(default 10), each syncing after every N of its puts (default 1: every put is
durable before it counts; concurrent syncs share one fdatasync). Then W reader
threads get random stored pictures for S seconds; with --cold the page cache
is dropped first (needs root: /proc/sys/vm/drop_caches), so gets hit the disk. Default folder:
./pstor-pictures (a space of M MiB, default 4096, and a picture pool).";

fn parse_args() -> std::result::Result<Args, String> {
    let mut a = Args {
        dir: PathBuf::from("pstor-pictures"),
        writers: 16,
        size_kib: 100,
        seconds: 10,
        capacity_mib: 4096,
        sync_every: 1,
        cold: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        if flag == "--cold" {
            a.cold = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || value.parse::<u64>().map_err(|_| format!("{flag}: not a number: {value}"));
        match flag.as_str() {
            "--dir" => a.dir = PathBuf::from(&value),
            "--writers" => a.writers = num()?.clamp(1, 256) as usize,
            "--size-kib" => a.size_kib = num()?.clamp(1, 16 * 1024) as usize,
            "--seconds" => a.seconds = num()?.clamp(1, 3600),
            "--capacity-mib" => a.capacity_mib = num()?.max(512),
            "--sync-every" => a.sync_every = num()?.clamp(1, 1_000_000) as usize,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Opens the folder, creating the space and the picture pool on first run.
fn setup(args: &Args) -> Result<(Engine, PoolId)> {
    let mut opts = EngineOptions::new(args.dir.join("engine"));
    opts.min_space_capacity = 256 << 20;
    let engine = Engine::open(opts)?;
    if let Some(p) = engine.pools().into_iter().find(|p| p.config.name == "pictures") {
        return Ok((engine, p.config.id));
    }
    let space_dir = args.dir.join("space1");
    std::fs::create_dir_all(&space_dir)
        .map_err(|e| Error::Io { context: "creating the space folder".into(), source: e })?;
    let capacity = args.capacity_mib << 20;
    let job = engine.initialize_space(SpaceSpec { path: space_dir, capacity, segment_size: None })?;
    let space = job.wait()?;
    let info = engine.spaces().into_iter().find(|s| s.id == space).map(|s| s.capacity).unwrap_or(capacity);
    let pool = engine.create_pool(PoolSpec {
        name: "pictures".into(),
        kind: PoolKind::Picture,
        capacity: info,
        spaces: vec![space],
        strategy: OverwriteStrategy::OverwriteOldest,
        cycle_days: 0,
        max_lock_pct: 0,
    })?;
    Ok((engine, pool))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn run(args: &Args) -> Result<()> {
    let (engine, pool) = setup(args)?;
    let size = args.size_kib << 10;
    // Distinct bytes per picture (the first 8 bytes carry a counter), so
    // nothing is deduplicated anywhere below us.
    let template: Vec<u8> = (0..size).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let writers: Vec<_> = (0..args.writers)
        .map(|w| {
            let (engine, stop, mut data) = (engine.clone(), Arc::clone(&stop), template.clone());
            let sync_every = args.sync_every;
            std::thread::spawn(move || -> Result<(Vec<PictureId>, Vec<Duration>)> {
                let mut ids = Vec::new();
                let mut lat = Vec::new();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    data[..8].copy_from_slice(&((w as u64) << 40 | n).to_le_bytes());
                    let meta = PictureMeta {
                        camera_id: format!("cam-{w}"),
                        captured_at: SystemClock.now(),
                        content_type: "image/jpeg".into(),
                        key: None,
                    };
                    let t = Instant::now();
                    ids.push(engine.put_picture(pool, &meta, &data)?);
                    n += 1;
                    if n.is_multiple_of(sync_every as u64) {
                        engine.sync_pictures(pool)?;
                    }
                    lat.push(t.elapsed());
                }
                engine.sync_pictures(pool)?;
                Ok((ids, lat))
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(args.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut ids = Vec::new();
    let mut lat = Vec::new();
    for w in writers {
        let (i, l) = w.join().map_err(|_| Error::Panic("a writer panicked".into()))??;
        ids.extend(i);
        lat.extend(l);
    }
    let put_secs = started.elapsed().as_secs_f64();
    lat.sort();
    let mib = (ids.len() * size) as f64 / (1 << 20) as f64;
    println!("puts: {} pictures of {} KiB by {} writers in {put_secs:.2} s", ids.len(), args.size_kib, args.writers);
    println!(
        "      {:.0} puts/s, {:.1} MiB/s; put+sync latency p50 {:?} p99 {:?}",
        ids.len() as f64 / put_secs,
        mib / put_secs,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );

    let ids = Arc::new(ids);
    if args.cold {
        let dropped = std::process::Command::new("sync").status().is_ok_and(|s| s.success())
            && std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok();
        println!("page cache {}", if dropped { "dropped: gets read the disk" } else { "NOT dropped (needs root)" });
    }
    stop.store(false, Ordering::Relaxed);
    let started = Instant::now();
    let readers: Vec<_> = (0..args.writers)
        .map(|r| {
            let (engine, stop, ids) = (engine.clone(), Arc::clone(&stop), Arc::clone(&ids));
            std::thread::spawn(move || -> Result<Vec<Duration>> {
                let mut lat = Vec::new();
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ r as u64;
                while !stop.load(Ordering::Relaxed) && !ids.is_empty() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let id = ids[(x % ids.len() as u64) as usize];
                    let t = Instant::now();
                    match engine.get_picture(&id) {
                        // Overwritten since (the pool turned over): not an error here.
                        Ok(_) | Err(Error::PictureNotFound(_)) => lat.push(t.elapsed()),
                        Err(e) => return Err(e),
                    }
                }
                Ok(lat)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(args.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for r in readers {
        lat.extend(r.join().map_err(|_| Error::Panic("a reader panicked".into()))??);
    }
    let get_secs = started.elapsed().as_secs_f64();
    lat.sort();
    println!(
        "gets: {} in {get_secs:.2} s = {:.0} gets/s, {:.1} MiB/s; latency p50 {:?} p99 {:?}",
        lat.len(),
        lat.len() as f64 / get_secs,
        (lat.len() * size) as f64 / (1 << 20) as f64 / get_secs,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    engine.close()
}
