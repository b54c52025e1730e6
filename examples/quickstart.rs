//! quickstart: the pstor engine embedded in a program, without a server.
//!
//! The main job is the service, `pstor-server run` (README.md); this example
//! shows the engine's Rust API on its own. It creates (or reopens) a data
//! folder in the current directory, initializes a storage space and a
//! resource pool on first run, records a few synthetic camera streams
//! (H.264-sized frames, a key frame every 2 s), syncs, reads a time range
//! back, and prints the ingest figures and the video-inspection table of
//! today.
//!
//! ```text
//! cargo run --release --bin quickstart -- [--dir DIR] [--cameras N] [--seconds S]
//!                                        [--bitrate-kbps B] [--capacity-mib M]
//! ```

use bytes::Bytes;
use pstor_core::*;
use std::path::PathBuf;
use std::time::Instant;

struct Args {
    dir: PathBuf,
    cameras: u32,
    seconds: i64,
    bitrate_kbps: u64,
    capacity_mib: u64,
    threads: usize,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut a = Args {
        dir: PathBuf::from("pstor-data"),
        cameras: 8,
        seconds: 120,
        bitrate_kbps: 4000,
        capacity_mib: 2048,
        threads: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || value.parse::<u64>().map_err(|_| format!("{flag}: not a number: {value}"));
        match flag.as_str() {
            "--dir" => a.dir = PathBuf::from(&value),
            "--cameras" => a.cameras = num()?.clamp(1, 10_000) as u32,
            "--seconds" => a.seconds = num()?.clamp(1, 86_400) as i64,
            "--bitrate-kbps" => a.bitrate_kbps = num()?.clamp(64, 100_000),
            "--capacity-mib" => a.capacity_mib = num()?.max(256),
            "--threads" => a.threads = num()?.clamp(1, 64) as usize,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(a)
}

const USAGE: &str =
    "usage: quickstart [--dir DIR] [--cameras N] [--seconds S] [--bitrate-kbps B] [--capacity-mib M] [--threads T]

Records N synthetic cameras for S seconds of stream time into an embedded
pstor engine (no server: the service is `pstor-server run`) in a data
folder (default ./pstor-data, created on first run), reads a range back and
prints the video inspection of today. --threads spreads the cameras over T
writer threads (each syncs its cameras once per second of stream time; the
syncs of all threads share fdatasyncs: group commit).";

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

fn run(args: &Args) -> Result<()> {
    let mut opts = EngineOptions::new(args.dir.join("engine"));
    // A demo: allow spaces below the production minimum of 5 GiB.
    opts.min_space_capacity = 256 << 20;
    opts.segment_size = 64 << 20;
    let engine = Engine::open(opts)?;
    let space_dir = args.dir.join("space1");
    if engine.spaces().is_empty() {
        std::fs::create_dir_all(&space_dir)
            .map_err(|e| Error::Io { context: "creating the space folder".into(), source: e })?;
        let capacity = args.capacity_mib << 20;
        println!("initializing storage space {} ({} MiB)...", space_dir.display(), args.capacity_mib);
        let job = engine.initialize_space(SpaceSpec { path: space_dir.clone(), capacity, segment_size: None })?;
        while !job.is_finished() {
            print!("\r  {:3}%", job.progress());
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        job.wait()?;
        println!("\r  100%");
    }
    let pool = match engine.pools().into_iter().find(|p| p.config.name == "video") {
        Some(p) => p.config.id,
        None => {
            let free: u64 = engine.spaces().iter().map(|s| s.capacity - s.reserved).sum();
            engine.create_pool(PoolSpec {
                name: "video".into(),
                kind: PoolKind::Video,
                capacity: free,
                spaces: vec![],
                strategy: OverwriteStrategy::OverwriteOldest,
                cycle_days: 30,
                max_lock_pct: 20,
            })?
        }
    };
    let mut cams = Vec::new();
    for n in 0..args.cameras {
        let camera_id = format!("camera-{n:03}");
        let id = match engine.find_stream(&camera_id, 1, StreamKind::Main) {
            Some(id) => id,
            None => engine.register_stream(StreamSpec {
                pool,
                camera_id,
                channel: 1,
                kind: StreamKind::Main,
                codec: "H264".into(),
                codec_config: vec![0, 0, 0, 1, 0x67, 0x42],
            })?,
        };
        cams.push(id);
    }

    // Stream time: the last `seconds` up to now, 25 fps, key frame every 2 s.
    let now = SystemClock.now();
    let start = now - args.seconds * US_PER_SEC;
    let fps = 25i64;
    let bytes_per_s = args.bitrate_kbps * 1000 / 8;
    let key_len = (bytes_per_s / 4) as usize; // a key frame carries ~1/4 s of bitrate
    let delta_len = ((bytes_per_s as usize - key_len / 2) / fps as usize).max(64);
    let frames_per_cam = args.seconds * fps;
    // On a rerun, continue after what each camera already has.
    let resume: Vec<Timestamp> =
        cams.iter().map(|&c| engine.stream(c).ok().and_then(|s| s.last_ts).unwrap_or(Timestamp::MIN)).collect();
    println!(
        "recording {} cameras x {} s at {} kbit/s with {} writer thread(s)...",
        cams.len(),
        args.seconds,
        args.bitrate_kbps,
        args.threads
    );
    let t = Instant::now();
    let per_thread: Vec<Vec<(usize, StreamId)>> = (0..args.threads)
        .map(|k| cams.iter().copied().enumerate().filter(|(c, _)| c % args.threads == k).collect())
        .collect();
    let totals = std::thread::scope(|scope| -> Result<(u64, u64)> {
        let workers: Vec<_> = per_thread
            .iter()
            .map(|mine| {
                let engine = engine.clone();
                let resume = &resume;
                scope.spawn(move || -> Result<(u64, u64)> {
                    let (mut frames, mut bytes) = (0u64, 0u64);
                    for i in 0..frames_per_cam {
                        let ts = start + i * US_PER_SEC / fps;
                        let key = i % (2 * fps) == 0;
                        for &(c, cam) in mine {
                            // Camera 1 drops out for 20 s to show a gap in the inspection.
                            let dropout = frames_per_cam / 2..frames_per_cam / 2 + 20 * fps;
                            if (c == 1 && dropout.contains(&i)) || ts <= resume[c] {
                                continue;
                            }
                            let len = if key { key_len } else { delta_len };
                            engine.append(cam, ts, key, Bytes::from(vec![(i as u8) ^ (c as u8); len]))?;
                            frames += 1;
                            bytes += len as u64;
                        }
                        if i % fps == fps - 1 {
                            let ids: Vec<StreamId> = mine.iter().map(|m| m.1).collect();
                            engine.sync_streams(&ids)?;
                        }
                    }
                    Ok((frames, bytes))
                })
            })
            .collect();
        let mut sum = (0, 0);
        for w in workers {
            let (f, b) = w.join().map_err(|_| Error::InvalidArgument("a writer thread panicked".into()))??;
            sum = (sum.0 + f, sum.1 + b);
        }
        Ok(sum)
    })?;
    let (frames, bytes) = totals;
    engine.sync_all()?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "ingest: {frames} frames, {:.1} MiB in {secs:.2} s = {:.0} frames/s, {:.1} MiB/s (synced every 1 s of stream time)",
        bytes as f64 / (1 << 20) as f64,
        frames as f64 / secs,
        bytes as f64 / (1 << 20) as f64 / secs
    );

    // Read back 10 s from the middle of camera 0.
    let mid = start + args.seconds / 2 * US_PER_SEC + 300_000;
    let t = Instant::now();
    let got: Vec<Frame> = engine.read(cams[0], mid, mid + 10 * US_PER_SEC)?.collect::<Result<_>>()?;
    println!(
        "read camera-000 [{} s .. +10 s]: {} frames, first is a key frame: {}, {:.1} ms",
        args.seconds / 2,
        got.len(),
        got.first().is_some_and(|f| f.key),
        t.elapsed().as_secs_f64() * 1000.0
    );

    println!("\nvideo inspection, today ({}), hours with recording:", fmt_date(engine.today()));
    println!("{:<12} {:>4} {:>10} {:>6} {:>9}", "camera", "hour", "recorded s", "gaps", "exception");
    for (c, &cam) in cams.iter().enumerate().take(4) {
        let day = engine.inspect_today(cam)?;
        for h in day.hours.iter().filter(|h| h.recorded_secs > 0) {
            println!(
                "{:<12} {:>4} {:>10} {:>6} {:>9}",
                format!("camera-{c:03}"),
                h.hour,
                h.recorded_secs,
                h.gaps.len(),
                if h.exception { "yes" } else { "no" }
            );
        }
    }
    for p in engine.pools() {
        println!(
            "\npool {} {:?}: {:.1} / {:.1} MiB used, {:?}",
            p.config.name,
            p.config.id,
            p.used as f64 / (1 << 20) as f64,
            p.capacity as f64 / (1 << 20) as f64,
            p.status
        );
    }
    engine.close()
}

fn fmt_date(d: Date) -> String {
    format!("{}-{:02}-{:02}", d.year, d.month, d.day)
}
