//! A fresh engine for one workload: a data folder under `--dir`, one storage
//! space sized for the workload and one pool, through the counting backend.

use crate::counting::{Counters, CountingStorage};
use pstor_core::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An engine ready for a workload.
pub struct Rig {
    pub engine: Engine,
    pub pool: PoolId,
    pub counters: Arc<Counters>,
    /// The folder the workload owns (removed by [`Rig::remove`]).
    pub root: PathBuf,
}

/// Opens an engine in `dir/<name>` (which must not exist) with a space of
/// `capacity` bytes in segments of `segment_size`, and a pool of `kind` over
/// all of it.
pub fn rig(dir: &Path, name: &str, capacity: u64, segment_size: u64, kind: PoolKind) -> Result<Rig> {
    let root = dir.join(name);
    if root.exists() {
        return Err(Error::InvalidArgument(format!("{} exists; give an empty --dir", root.display())));
    }
    let (engine, counters) = open(&root, segment_size)?;
    let space_dir = root.join("space");
    std::fs::create_dir_all(&space_dir)
        .map_err(|e| Error::Io { context: "creating the space folder".into(), source: e })?;
    let space = engine.initialize_space(SpaceSpec { path: space_dir, capacity, segment_size: None })?.wait()?;
    let capacity = engine.spaces().into_iter().find(|s| s.id == space).map_or(capacity, |s| s.capacity);
    let pool = engine.create_pool(PoolSpec {
        name: "bench".into(),
        kind,
        capacity,
        spaces: vec![space],
        strategy: OverwriteStrategy::OverwriteOldest,
        cycle_days: 0,
        max_lock_pct: 0,
    })?;
    Ok(Rig { engine, pool, counters, root })
}

/// Opens (again) the engine of a workload folder, through a fresh counting
/// backend.
pub fn open(root: &Path, segment_size: u64) -> Result<(Engine, Arc<Counters>)> {
    let storage = CountingStorage::default();
    let counters = Arc::clone(&storage.counters);
    let mut opts = EngineOptions::new(root.join("engine"));
    opts.min_space_capacity = 1 << 20;
    opts.segment_size = segment_size;
    Ok((Engine::open_with(opts, Arc::new(storage), Arc::new(SystemClock))?, counters))
}

impl Rig {
    /// Registers `n` cameras (main streams) in the pool.
    pub fn cameras(&self, n: usize) -> Result<Vec<StreamId>> {
        (0..n)
            .map(|i| {
                self.engine.register_stream(StreamSpec {
                    pool: self.pool,
                    camera_id: format!("bench-cam-{i}"),
                    channel: 1,
                    kind: StreamKind::Main,
                    codec: "H264".into(),
                    codec_config: Vec::new(),
                })
            })
            .collect()
    }

    /// Closes the engine and removes its folder.
    pub fn remove(self) -> Result<()> {
        self.engine.close()?;
        std::fs::remove_dir_all(&self.root)
            .map_err(|e| Error::Io { context: "removing the bench folder".into(), source: e })
    }
}
