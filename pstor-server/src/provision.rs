//! Opening the engine and making the configured spaces and pools exist:
//! the embedded default on a first start without configuration, or the
//! configuration's `[[spaces]]` and `[[pools]]`, created when missing and
//! reported (never changed) when they differ.

use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::size::ByteSize;
use pstor_core::io::{OsStorage, Storage};
use pstor_core::*;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::{info, warn};

/// Name of the embedded default's pool.
pub const DEFAULT_POOL: &str = "default";
/// Folder of the embedded default's space, in the data folder.
pub const DEFAULT_SPACE_DIR: &str = "space1";
/// The embedded default's space takes this share of the volume's free space...
pub const DEFAULT_SPACE_SHARE: u64 = 10;
/// ...at least this much...
pub const DEFAULT_SPACE_MIN: u64 = pstor_core::DEFAULT_MIN_SPACE_CAPACITY;
/// ...and at most this much.
pub const DEFAULT_SPACE_MAX: u64 = 1 << 40;

/// Opens the engine in `<data_dir>/engine` and provisions spaces and pools.
pub fn open(cfg: &ServerConfig) -> Result<Engine, ServerError> {
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| ServerError::io(format!("creating the data folder {}", cfg.data_dir.display()), e))?;
    let engine = Engine::open(cfg.engine_options()).map_err(ServerError::engine)?;
    let report = engine.open_report();
    let last_stop = if report.created {
        "new engine"
    } else if report.last_stop_clean {
        "clean"
    } else {
        "unclean (recovered)"
    };
    info!(
        data = %cfg.data_dir.display(),
        spaces = engine.spaces().len(),
        pools = engine.pools().len(),
        streams = engine.streams().len(),
        last_stop,
        took_ms = report.took.as_millis() as u64,
        key_index_ms = report.key_index_took.as_millis() as u64,
        "engine open"
    );
    for space in &report.spaces {
        if space.status != pstor_core::SpaceStatus::Normal || !space.truncated.is_empty() || !space.given_up.is_empty()
        {
            warn!("{space}");
        } else {
            info!("{space}");
        }
    }
    let provisioned = if cfg.spaces.is_empty() && cfg.pools.is_empty() {
        embedded_default(&engine, cfg)
    } else {
        apply_config(&engine, cfg)
    };
    if let Err(e) = provisioned {
        let _ = engine.close();
        return Err(e);
    }
    Ok(engine)
}

/// The embedded default's space capacity and segment size for a volume with
/// `available` bytes free: 10 % of it, clamped to 1 GiB..1 TiB, never more
/// than half of what is free; segments of 16 MiB below 8 GiB, 64 MiB below
/// 64 GiB, else 256 MiB (so a space has 64 to 4,096 segments).
pub fn default_space_size(available: u64) -> Result<(u64, u64), ServerError> {
    let capacity = (available / DEFAULT_SPACE_SHARE).clamp(DEFAULT_SPACE_MIN, DEFAULT_SPACE_MAX);
    if capacity > available / 2 {
        return Err(ServerError::Config(format!(
            "the volume has {} free; the embedded default needs a space of at least {} and leaves as much free: \
             free some space or configure [[spaces]]",
            ByteSize(available),
            ByteSize(DEFAULT_SPACE_MIN)
        )));
    }
    let segment = match capacity {
        c if c >= 64 << 30 => 256 << 20,
        c if c >= 8 << 30 => 64 << 20,
        _ => 16 << 20,
    };
    Ok((capacity / segment * segment, segment))
}

/// First start without configuration (the engine knows no space and no
/// pool): one space in `<data_dir>/space1` sized for the free space and one
/// mixed pool over all of it. Later starts find them and do nothing.
fn embedded_default(engine: &Engine, cfg: &ServerConfig) -> Result<(), ServerError> {
    if !engine.spaces().is_empty() || !engine.pools().is_empty() {
        return Ok(());
    }
    let dir = cfg.data_dir.join(DEFAULT_SPACE_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| ServerError::io(format!("creating {}", dir.display()), e))?;
    let vol = OsStorage::new()
        .volume_space(&dir)
        .map_err(|e| ServerError::io(format!("reading the free space of {}", dir.display()), e))?;
    let (capacity, segment) = default_space_size(vol.available)?;
    info!(
        path = %dir.display(),
        capacity = %ByteSize(capacity),
        segment_size = %ByteSize(segment),
        volume_free = %ByteSize(vol.available),
        "first start without configuration: creating the embedded default storage space \
         (10% of the volume's free space, within 1GiB..1TiB)"
    );
    let space = initialize_or_restore(engine, SpaceSpec { path: dir, capacity, segment_size: Some(segment) })?;
    let info = engine.space(space)?;
    let pool = engine.create_pool(PoolSpec {
        name: DEFAULT_POOL.into(),
        kind: PoolKind::Mixed,
        capacity: info.capacity.saturating_sub(info.reserved),
        spaces: vec![space],
        strategy: OverwriteStrategy::OverwriteOldest,
        cycle_days: 0,
        max_lock_pct: 10,
    })?;
    info!(
        pool = %pool,
        name = DEFAULT_POOL,
        capacity = %ByteSize(info.capacity.saturating_sub(info.reserved)),
        "created the embedded default resource pool (mixed: video and pictures; overwrites the oldest when full)"
    );
    Ok(())
}

/// Initializes a space (or restores it, if the folder already holds one
/// this engine does not know) and waits, logging progress.
fn initialize_or_restore(engine: &Engine, spec: SpaceSpec) -> Result<SpaceId, ServerError> {
    let path = spec.path.clone();
    let job = match engine.initialize_space(spec) {
        Ok(job) => job,
        Err(Error::AlreadyInitialized(_)) => {
            info!(path = %path.display(), "the folder already holds a storage space: restoring it");
            engine.restore_space(&path)?
        }
        Err(e) => return Err(e.into()),
    };
    Ok(wait_job(job, |p| info!(path = %path.display(), progress = p, "preparing the storage space"))?)
}

/// Waits for a space job, reporting progress every 10 % (the job API has no
/// completion signal besides `wait`, which gives no progress).
pub fn wait_job(job: SpaceJob, mut progress: impl FnMut(u8)) -> Result<SpaceId> {
    let mut shown = 0u8;
    while !job.is_finished() {
        let p = job.progress();
        if p >= shown.saturating_add(10) {
            progress(p);
            shown = p;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    job.wait()
}

fn same_path(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}

fn find_space(engine: &Engine, path: &Path) -> Option<SpaceInfo> {
    engine.spaces().into_iter().find(|s| same_path(&s.path, path))
}

/// The configuration's spaces and pools: created if missing, compared and
/// reported if present.
fn apply_config(engine: &Engine, cfg: &ServerConfig) -> Result<(), ServerError> {
    for s in &cfg.spaces {
        std::fs::create_dir_all(&s.path).map_err(|e| ServerError::io(format!("creating {}", s.path.display()), e))?;
        let seg = s.segment_size.map_or(cfg.engine.segment_size.0, |b| b.0);
        match find_space(engine, &s.path) {
            Some(info) => {
                let want = s.capacity.0 / seg.max(1) * seg;
                if info.capacity != want || info.segment_size != seg {
                    warn!(
                        path = %s.path.display(),
                        configured = %format!("{} in {} segments", ByteSize(want), ByteSize(seg)),
                        actual = %format!("{} in {} segments", ByteSize(info.capacity), ByteSize(info.segment_size)),
                        "storage space differs from the configuration; not changed"
                    );
                }
            }
            None => {
                info!(path = %s.path.display(), capacity = %s.capacity, "creating configured storage space");
                let spec = SpaceSpec { path: s.path.clone(), capacity: s.capacity.0, segment_size: Some(seg) };
                initialize_or_restore(engine, spec)?;
            }
        }
    }
    for p in &cfg.pools {
        let kind = PoolKind::from(p.kind);
        let strategy = OverwriteStrategy::from(p.strategy);
        match engine.pools().into_iter().find(|i| i.config.name == p.name) {
            Some(info) => {
                let c = &info.config;
                let seg = engine.spaces().iter().map(|s| s.segment_size).max().unwrap_or(0);
                let slack = seg.saturating_mul(c.quotas.len().max(1) as u64);
                let mut diffs = Vec::new();
                if c.kind != kind {
                    diffs.push(format!("kind {:?} (configured {:?})", c.kind, kind));
                }
                if info.capacity.abs_diff(p.capacity.0) > slack {
                    diffs.push(format!("capacity {} (configured {})", ByteSize(info.capacity), p.capacity));
                }
                if c.strategy != strategy {
                    diffs.push(format!("strategy {:?} (configured {:?})", c.strategy, strategy));
                }
                if c.cycle_days != p.cycle_days {
                    diffs.push(format!("cycle {} days (configured {})", c.cycle_days, p.cycle_days));
                }
                if c.max_lock_pct != p.max_lock_pct {
                    diffs.push(format!("max lock {}% (configured {}%)", c.max_lock_pct, p.max_lock_pct));
                }
                if !diffs.is_empty() {
                    warn!(
                        pool = %c.id,
                        name = %p.name,
                        differences = %diffs.join(", "),
                        "resource pool differs from the configuration; not changed (edit it with `pstor-server pool \
                         edit` or over the SDK)"
                    );
                }
            }
            None => {
                let spaces = p
                    .spaces
                    .iter()
                    .map(|path| {
                        find_space(engine, path).map(|s| s.id).ok_or_else(|| {
                            ServerError::Config(format!("pool {:?}: no storage space at {}", p.name, path.display()))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let id = engine.create_pool(PoolSpec {
                    name: p.name.clone(),
                    kind,
                    capacity: p.capacity.0,
                    spaces,
                    strategy,
                    cycle_days: p.cycle_days,
                    max_lock_pct: p.max_lock_pct,
                })?;
                info!(pool = %id, name = %p.name, capacity = %p.capacity, "created configured resource pool");
            }
        }
    }
    Ok(())
}

/// The ports file: `signalling=ADDR` and `data=ADDR` lines, written after
/// binding so scripts and tests can find ports chosen by the system.
pub fn ports_file(data_dir: &Path) -> PathBuf {
    data_dir.join("ports")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_space_sizes() {
        assert_eq!(default_space_size(63 << 30).expect("fits"), ((63 << 30) / 10 / (16 << 20) * (16 << 20), 16 << 20));
        assert_eq!(default_space_size(200 << 30).expect("fits").1, 64 << 20);
        let (cap, seg) = default_space_size(100 << 40).expect("fits");
        assert_eq!((cap, seg), (1 << 40, 256 << 20));
        assert_eq!(default_space_size(4 << 30).expect("fits").0, 1 << 30);
        assert!(default_space_size(1 << 30).is_err());
    }
}
