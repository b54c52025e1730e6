//! Initializing a folder into a storage space, and restoring a space found on
//! disk. Both validate at once and then run on a thread with progress and
//! cancellation, because pre-allocating terabytes takes a while.

use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::format::catalog::{Catalog, SpaceRef, CATALOG_FILE};
use crate::format::segment::{SegmentUse, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE};
use crate::format::superblock::{SuperBlock, SUPERBLOCK_FILE};
use crate::home::absolute;
use crate::io::{read_whole, write_atomic, OpenMode};
use crate::space::{data_file_name, JobControl, Space, SpaceStatus};
use crate::spaces::{SpaceJob, SpaceSpec};
use crate::store::Detached;
use crate::stream::StreamHandle;
use crate::types::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The catalog keeps absolute paths: a space given relative to the caller's
/// working directory must still be found by a process started elsewhere
/// (a server's admin subcommands, a restart from another directory).
/// Absolute paths are kept as given (an operator's symlinked mount point
/// stays a symlink); relative ones are resolved.
/// Checks `spec` without side effects: the folder, the segment size, the
/// capacity and the volume's free space. Returns the absolute path, the
/// segment size and the segment count.
pub(crate) fn validate(inner: &Inner, spec: &SpaceSpec) -> Result<(PathBuf, u64, u64)> {
    let storage = inner.storage.as_ref();
    let path = absolute(&spec.path);
    if !storage.exists(&path) {
        return Err(Error::PathNotFound(path));
    }
    if !storage.is_dir(&path) {
        return Err(Error::NotADirectory(path));
    }
    if storage.exists(&path.join(SUPERBLOCK_FILE)) {
        return Err(Error::AlreadyInitialized(path));
    }
    let seg = spec.segment_size.unwrap_or(inner.opts.segment_size);
    if !seg.is_multiple_of(4096) {
        return Err(Error::BadSegmentSize { size: seg, reason: "must be a multiple of 4096" });
    }
    if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&seg) {
        return Err(Error::BadSegmentSize { size: seg, reason: "must be between 64 KiB and 4 GiB" });
    }
    if spec.capacity < inner.opts.min_space_capacity {
        return Err(Error::CapacityTooSmall { requested: spec.capacity, minimum: inner.opts.min_space_capacity });
    }
    if seg > spec.capacity {
        return Err(Error::BadSegmentSize { size: seg, reason: "larger than the capacity" });
    }
    let count = spec.capacity / seg;
    let vol =
        storage.volume_space(&path).map_err(|e| Error::io(format!("reading free space of {}", path.display()), e))?;
    let keep = vol.total / 100 * inner.catalog_thresholds().volume_free_pct as u64;
    let need = count * seg + keep;
    if vol.available < need {
        return Err(Error::InsufficientVolumeSpace { requested: need, available: vol.available });
    }
    if count > u32::MAX as u64 {
        return Err(Error::BadSegmentSize { size: seg, reason: "too small for this capacity (too many segments)" });
    }
    Ok((path, seg, count))
}

/// Validates `spec` and starts initializing on a thread.
pub(crate) fn start(inner: &Inner, spec: SpaceSpec) -> Result<SpaceJob> {
    let storage = inner.storage.as_ref();
    let (path, seg, count) = validate(inner, &spec)?;
    // Held while the files are allocated, so two engines cannot initialize
    // one folder at once; released just before the space is opened.
    let folder_lock = crate::space::lock_dir(storage, &path)?;
    let control = Arc::new(JobControl::default());
    let id = {
        let mut st = inner.lock_state();
        let path_str = path.to_string_lossy().into_owned();
        let known =
            st.catalog.spaces.iter().any(|s| s.path == path_str) || st.detached.values().any(|d| d.path == path_str);
        if known {
            return Err(Error::AlreadyInitialized(path));
        }
        let mut id = SpaceId(rand::random());
        while id.0 == 0 || st.spaces.contains_key(&id) || st.detached.contains_key(&id) {
            id = SpaceId(rand::random());
        }
        st.detached.insert(
            id,
            Detached {
                path: path_str,
                status: SpaceStatus::Initializing,
                reason: "initializing".into(),
                job: Some(Arc::clone(&control)),
            },
        );
        id
    };
    let sb = SuperBlock {
        space_id: id,
        space_uuid: rand::random(),
        engine_uuid: inner.lock_state().catalog.engine_uuid,
        segment_size: seg,
        segment_count: count as u32,
        segments_per_file: inner.opts.segments_per_file.max(1),
        created_at: inner.clock.now(),
    };
    let weak = inner.weak();
    let ctl = Arc::clone(&control);
    let handle = std::thread::Builder::new()
        .name(format!("pstor-init-{id}"))
        .spawn(move || {
            let inner = weak.upgrade().ok_or(Error::Closed)?;
            let res =
                crate::catch_panic("initializing the space", || initialize(&inner, &path, &sb, &ctl, folder_lock));
            if res.is_err() {
                inner.lock_state().detached.remove(&id);
                remove_data_files(&inner, &path, &sb);
            }
            res.map(|_| id)
        })
        .map_err(|e| Error::io("starting the initialization thread", e))?;
    Ok(SpaceJob::new(id, control, handle))
}

fn initialize(
    inner: &Arc<Inner>,
    path: &Path,
    sb: &SuperBlock,
    ctl: &JobControl,
    folder_lock: crate::io::DirLock,
) -> Result<()> {
    let storage = inner.storage.as_ref();
    let nfiles = sb.segment_count.div_ceil(sb.segments_per_file);
    let mut done = 0u64;
    let blank = |idx: u32| {
        crate::format::segment::SegmentHeader {
            space_uuid: sb.space_uuid,
            index: idx,
            generation: 0,
            usage: SegmentUse::Free,
            pool: PoolId(0),
            stream: StreamId(0),
            stamped_at: sb.created_at,
        }
        .encode()
    };
    for n in 0..nfiles {
        let p = path.join(data_file_name(n));
        let f = storage
            .open(&p, OpenMode::CreateTruncate)
            .map_err(|e| Error::io(format!("creating {}", p.display()), e))?;
        for k in 0..sb.segments_in_file(n) {
            if ctl.cancel.load(Ordering::SeqCst) {
                return Err(Error::Cancelled(path.to_path_buf()));
            }
            let off = k as u64 * sb.segment_size;
            f.allocate(off, sb.segment_size).map_err(|e| Error::io(format!("allocating {}", p.display()), e))?;
            let idx = n * sb.segments_per_file + k;
            f.write_all_at(&blank(idx), off).map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
            done += 1;
            ctl.progress.store((done * 99 / sb.segment_count as u64) as u8, Ordering::Relaxed);
        }
        f.sync_data().map_err(|e| Error::io(format!("syncing {}", p.display()), e))?;
    }
    storage.sync_dir(path).map_err(|e| Error::io(format!("syncing {}", path.display()), e))?;
    // The superblock comes last: until it exists the folder is not a space,
    // so a crash or cancel mid-way leaves nothing half-initialized behind.
    write_atomic(storage, &path.join(SUPERBLOCK_FILE), &sb.encode())
        .map_err(|e| Error::io("writing the superblock", e))?;
    drop(folder_lock);
    let space = Arc::new(Space::open(storage, path, sb.clone())?);
    inner.load_space(space, None)?;
    inner.change_catalog(|st| {
        st.catalog.spaces.push(SpaceRef {
            id: sb.space_id,
            uuid: sb.space_uuid,
            path: path.to_string_lossy().into_owned(),
        });
        Ok(())
    })?;
    ctl.progress.store(100, Ordering::Relaxed);
    inner.events.emit(
        inner.clock.now(),
        EventKind::SpaceStatus { space: sb.space_id, status: SpaceStatus::Normal, detail: "initialized".into() },
    );
    Ok(())
}

fn remove_data_files(inner: &Inner, path: &Path, sb: &SuperBlock) {
    let storage = inner.storage.as_ref();
    let _ = storage.remove_file(&path.join(SUPERBLOCK_FILE));
    let _ = storage.remove_file(&path.join(crate::io::LOCK_FILE));
    for n in 0..sb.segment_count.div_ceil(sb.segments_per_file) {
        let _ = storage.remove_file(&path.join(data_file_name(n)));
    }
    let _ = storage.sync_dir(path);
}

/// Validates and starts restoring a space found on disk.
pub(crate) fn restore(inner: &Inner, path: &Path) -> Result<SpaceJob> {
    let storage = inner.storage.as_ref();
    let path = absolute(path);
    let path = path.as_path();
    if !storage.is_dir(path) {
        return Err(if storage.exists(path) {
            Error::NotADirectory(path.into())
        } else {
            Error::PathNotFound(path.into())
        });
    }
    let sb_path = path.join(SUPERBLOCK_FILE);
    let bytes =
        read_whole(storage, &sb_path).map_err(|e| Error::NotASpace { path: path.into(), reason: e.to_string() })?;
    let sb = SuperBlock::decode(&bytes).map_err(|e| Error::NotASpace { path: path.into(), reason: e.0 })?;
    let copy = read_whole(storage, &path.join(CATALOG_FILE)).ok().and_then(|b| Catalog::decode(&b).ok());
    let control = Arc::new(JobControl::default());
    {
        let mut st = inner.lock_state();
        // A space that went Lost while attached and whose folder is back is
        // taken out of the tables and restored in place.
        let lost = st.spaces.get(&sb.space_id).is_some_and(|rt| rt.space.status() == SpaceStatus::Lost);
        if lost {
            if let Some(rt) = st.detach_space(sb.space_id) {
                rt.space.stop_io();
                rt.space.release_lock();
            }
        }
        if st.spaces.contains_key(&sb.space_id) {
            return Err(Error::SpaceAlreadyKnown(sb.space_id));
        }
        // A Lost space whose folder came back may be restored in place.
        if let Some(d) = st.detached.get(&sb.space_id) {
            // A Lost space whose folder came back, or a failed restore, may be retried.
            if !matches!(d.status, SpaceStatus::Lost | SpaceStatus::Error) || d.job.is_some() {
                return Err(Error::SpaceAlreadyKnown(sb.space_id));
            }
        }
        st.detached.insert(
            sb.space_id,
            Detached {
                path: path.to_string_lossy().into_owned(),
                status: SpaceStatus::Restoring,
                reason: "restoring".into(),
                job: Some(Arc::clone(&control)),
            },
        );
    }
    let weak = inner.weak();
    let ctl = Arc::clone(&control);
    let path: PathBuf = path.into();
    let id = sb.space_id;
    let handle = std::thread::Builder::new()
        .name(format!("pstor-restore-{id}"))
        .spawn(move || {
            let inner = weak.upgrade().ok_or(Error::Closed)?;
            let res = crate::catch_panic("restoring the space", || restore_run(&inner, &path, sb, copy, &ctl));
            if let Err(e) = &res {
                let mut st = inner.lock_state();
                if let Some(d) = st.detached.get_mut(&id) {
                    d.status = SpaceStatus::Error;
                    d.reason = e.to_string();
                    d.job = None;
                }
            }
            res.map(|_| id)
        })
        .map_err(|e| Error::io("starting the restore thread", e))?;
    Ok(SpaceJob::new(id, control, handle))
}

fn restore_run(
    inner: &Arc<Inner>,
    path: &Path,
    mut sb: SuperBlock,
    copy: Option<Catalog>,
    ctl: &JobControl,
) -> Result<()> {
    let storage = inner.storage.as_ref();
    // Adopt the pools, streams and locks described by the catalog copy.
    let new_streams = inner.change_catalog(|st| {
        let Some(copy) = &copy else { return Ok(Vec::new()) };
        let mut added = Vec::new();
        for p in &copy.pools {
            let here: Vec<(SpaceId, u32)> = p.quotas.iter().copied().filter(|q| q.0 == sb.space_id).collect();
            if let Some(mine) = st.catalog.pools.iter_mut().find(|x| x.id == p.id) {
                for q in here {
                    if !mine.quotas.iter().any(|m| m.0 == q.0) {
                        mine.quotas.push(q);
                    }
                }
                continue;
            }
            if st.catalog.pools.len() >= crate::pools::MAX_POOLS {
                return Err(Error::TooManyPools { max: crate::pools::MAX_POOLS });
            }
            let mut np = p.clone();
            np.quotas = here;
            while st.catalog.pools.iter().any(|x| x.name == np.name) {
                np.name.push_str(" (restored)");
            }
            st.catalog.pools.push(np);
        }
        for s in &copy.streams {
            let dup =
                st.catalog.streams.iter().any(|x| {
                    x.id == s.id || (x.camera_id == s.camera_id && x.channel == s.channel && x.kind == s.kind)
                });
            if !dup && st.catalog.pools.iter().any(|p| p.id == s.pool) {
                st.catalog.streams.push(s.clone());
                added.push((s.id, s.pool));
            }
        }
        for l in &copy.locks {
            if !st.catalog.locks.iter().any(|x| x.id == l.id) && st.lock_target_known(&l.target) {
                st.catalog.locks.push(l.clone());
            }
        }
        Ok(added)
    })?;
    {
        let mut streams = inner.streams.write();
        for (id, pool) in new_streams {
            // Their newest timestamps are set when the space is loaded below.
            streams.entry(id).or_insert_with(|| Arc::new(StreamHandle::new(id, pool)));
        }
    }
    let space = Arc::new(Space::open(storage, path, sb.clone())?);
    space.set_status(SpaceStatus::Scanning);
    {
        let mut st = inner.lock_state();
        if let Some(d) = st.detached.get_mut(&sb.space_id) {
            d.status = SpaceStatus::Scanning;
        }
    }
    inner.load_space(space, Some(ctl))?;
    // Its pictures' keys are new to this engine's key index.
    inner.reconcile_keys(Some(sb.space_id))?;
    // Its old checkpoint may be marked clean: replace it before anything is
    // appended, or a crash would skip scanning the new tails.
    inner.checkpoint(false)?;
    // The space belongs to this engine now.
    let engine_uuid = inner.lock_state().catalog.engine_uuid;
    if sb.engine_uuid != engine_uuid {
        sb.engine_uuid = engine_uuid;
        write_atomic(storage, &path.join(SUPERBLOCK_FILE), &sb.encode())
            .map_err(|e| Error::io("rewriting the superblock", e))?;
    }
    inner.change_catalog(|st| {
        let p = path.to_string_lossy().into_owned();
        st.catalog.spaces.retain(|s| s.id != sb.space_id);
        st.catalog.spaces.push(SpaceRef { id: sb.space_id, uuid: sb.space_uuid, path: p });
        Ok(())
    })?;
    ctl.progress.store(100, Ordering::Relaxed);
    inner.events.emit(
        inner.clock.now(),
        EventKind::SpaceStatus { space: sb.space_id, status: SpaceStatus::Normal, detail: "restored".into() },
    );
    Ok(())
}
