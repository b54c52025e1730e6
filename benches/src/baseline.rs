//! The baselines each workload is compared with, run in the same process on
//! the same folder: raw positioned writes to one pre-allocated file, raw
//! positioned reads of one file, and a file-per-picture store with the
//! durability of a picture put.

use crate::measure::{Phase, Stopwatch};
use pstor_core::io::{OpenMode, OsStorage, Storage};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Writes `total` bytes as `chunk`-byte positioned writes to one
/// pre-allocated file, with `syncs` fdatasyncs spread evenly (at least the
/// final one); the file is removed afterwards.
pub fn raw_write(dir: &Path, total: u64, chunk: usize, syncs: u64) -> std::io::Result<Phase> {
    let os = OsStorage::new();
    let path = dir.join("baseline-raw.dat");
    let file = os.open(&path, OpenMode::CreateTruncate)?;
    file.allocate(0, total.max(1))?;
    file.sync_data()?;
    let data: Vec<u8> = (0..chunk).map(|i| (i as u8).wrapping_mul(31)).collect();
    let every = (total / syncs.max(1)).max(1);
    let watch = Stopwatch::start();
    let mut written = 0u64;
    let mut next_sync = every;
    while written < total {
        let n = (total - written).min(chunk as u64) as usize;
        file.write_all_at(&data[..n], written)?;
        written += n as u64;
        if written >= next_sync {
            file.sync_data()?;
            next_sync += every;
        }
    }
    file.sync_data()?;
    let phase = watch.stop();
    drop(file);
    os.remove_file(&path)?;
    Ok(phase)
}

/// Writes a file of `total` bytes (not timed), then reads it back in
/// `chunk`-byte positioned reads, after dropping the page cache if `cold`;
/// the file is removed afterwards.
pub fn raw_read(dir: &Path, total: u64, chunk: usize, cold: bool) -> std::io::Result<Phase> {
    let os = OsStorage::new();
    let path = dir.join("baseline-read.dat");
    let file = os.open(&path, OpenMode::CreateTruncate)?;
    let data: Vec<u8> = (0..chunk).map(|i| (i as u8).wrapping_mul(29)).collect();
    let mut written = 0u64;
    while written < total {
        let n = (total - written).min(chunk as u64) as usize;
        file.write_all_at(&data[..n], written)?;
        written += n as u64;
    }
    file.sync_data()?;
    if cold {
        crate::measure::drop_caches();
    }
    let mut buf = vec![0u8; chunk];
    let watch = Stopwatch::start();
    let mut read = 0u64;
    while read < total {
        let n = (total - read).min(chunk as u64) as usize;
        pstor_core::io::read_exact_at(file.as_ref(), &mut buf[..n], read)?;
        read += n as u64;
    }
    let phase = watch.stop();
    drop(file);
    os.remove_file(&path)?;
    Ok(phase)
}

/// A file-per-picture store with equal durability: each picture is written
/// to a temporary name in a two-level directory tree, fdatasynced, renamed,
/// and its directory fsynced. `writers` threads for `seconds`; returns the
/// pictures stored and the phase. The tree is removed afterwards.
pub fn file_per_picture(dir: &Path, size: usize, writers: usize, seconds: f64) -> std::io::Result<(u64, Phase)> {
    let root = dir.join("baseline-files");
    std::fs::create_dir_all(&root)?;
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let watch = Stopwatch::start();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let (root, stop, count) = (root.clone(), Arc::clone(&stop), Arc::clone(&count));
            std::thread::spawn(move || -> std::io::Result<()> {
                let os = OsStorage::new();
                let data = vec![w as u8; size];
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("{w:02}-{n:08}.jpg");
                    let sub = root.join(format!("{:02x}", n % 256)).join(format!("{:02x}", (n / 256) % 256));
                    std::fs::create_dir_all(&sub)?;
                    let tmp = sub.join(format!(".{name}.tmp"));
                    let f = os.open(&tmp, OpenMode::CreateNew)?;
                    f.write_all_at(&data, 0)?;
                    f.sync_data()?;
                    drop(f);
                    os.rename(&tmp, &sub.join(&name))?;
                    os.sync_dir(&sub)?;
                    count.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().map_err(|_| std::io::Error::other("a baseline writer panicked"))??;
    }
    let phase = watch.stop();
    std::fs::remove_dir_all(&root)?;
    Ok((count.load(Ordering::Relaxed), phase))
}
