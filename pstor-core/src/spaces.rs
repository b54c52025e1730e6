//! The storage-space face of the engine (manual 3.5.1): initialize, restore,
//! list, delete (Lost only), re-initialize (with confirmation).

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::space::{JobControl, SpaceStatus};
use crate::store::{SpaceRt, State};
use crate::types::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What to initialize.
#[derive(Debug, Clone)]
pub struct SpaceSpec {
    /// An existing, empty-of-pstor folder.
    pub path: PathBuf,
    /// Bytes to pre-allocate (rounded down to whole segments).
    pub capacity: u64,
    /// Segment size; `None` = the engine default.
    pub segment_size: Option<u64>,
}

/// A storage space as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceInfo {
    /// Id.
    pub id: SpaceId,
    /// Saving path.
    pub path: PathBuf,
    /// Status.
    pub status: SpaceStatus,
    /// Progress of initializing / scanning / restoring, percent.
    pub progress: u8,
    /// Total bytes (segments x segment size).
    pub capacity: u64,
    /// Bytes in segments holding data.
    pub used: u64,
    /// Bytes in free segments.
    pub free: u64,
    /// Bytes reserved by pools.
    pub reserved: u64,
    /// Segment size.
    pub segment_size: u64,
    /// Why it is Lost / Error, if it is.
    pub detail: Option<String>,
}

/// Confirmation that re-initializing a space destroys its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WipeConfirmation {
    /// "Initialization will delete all the data in the selected saving path."
    DeleteAllDataInSpace,
}

/// A running initialization or restore: progress, cancel, wait.
#[derive(Debug)]
pub struct SpaceJob {
    /// The space being initialized or restored.
    pub space: SpaceId,
    control: Arc<JobControl>,
    handle: Option<std::thread::JoinHandle<Result<SpaceId>>>,
}

impl SpaceJob {
    pub(crate) fn new(
        space: SpaceId,
        control: Arc<JobControl>,
        handle: std::thread::JoinHandle<Result<SpaceId>>,
    ) -> Self {
        SpaceJob { space, control, handle: Some(handle) }
    }

    /// Progress in percent.
    pub fn progress(&self) -> u8 {
        self.control.progress.load(Ordering::Relaxed)
    }
    /// Asks the job to stop; [`SpaceJob::wait`] then returns [`Error::Cancelled`].
    pub fn cancel(&self) {
        self.control.cancel.store(true, Ordering::SeqCst);
    }
    /// Whether it has finished.
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }
    /// Waits for the result.
    pub fn wait(mut self) -> Result<SpaceId> {
        match self.handle.take() {
            // The job catches its own panics (and cleans up); this covers a
            // panic outside that guard.
            Some(h) => h.join().unwrap_or_else(|panic| {
                Err(Error::Panic(format!(
                    "space job {} panicked: {}",
                    self.space,
                    crate::panic_message(panic.as_ref())
                )))
            }),
            None => Ok(self.space),
        }
    }
}

impl Engine {
    /// Starts initializing a folder into a storage space. Validation errors
    /// are returned at once; the allocation runs on a thread (see [`SpaceJob`]).
    pub fn initialize_space(&self, spec: SpaceSpec) -> Result<SpaceJob> {
        self.inner.check_open()?;
        crate::init::start(&self.inner, spec)
    }

    /// Restores a space found on disk that this engine does not know (fresh
    /// install, lost catalog): adopts its pools, streams and locks from the
    /// catalog copy on it and scans its segments.
    pub fn restore_space(&self, path: impl AsRef<Path>) -> Result<SpaceJob> {
        self.inner.check_open()?;
        crate::init::restore(&self.inner, path.as_ref())
    }

    /// Checks what [`Engine::initialize_space`] would check first (the
    /// folder, segment size, capacity, the volume's free space) without
    /// starting anything: a caller with several folders can refuse them all
    /// before the first job starts.
    pub fn check_space_spec(&self, spec: &SpaceSpec) -> Result<()> {
        self.inner.check_open()?;
        crate::init::validate(&self.inner, spec).map(drop)
    }

    /// Lists the storage spaces.
    pub fn spaces(&self) -> Vec<SpaceInfo> {
        let st = self.inner.lock_state();
        let mut out: Vec<SpaceInfo> = st.spaces.values().map(|rt| space_info(&st, rt)).collect();
        for (id, d) in &st.detached {
            out.push(SpaceInfo {
                id: *id,
                path: PathBuf::from(&d.path),
                status: d.status,
                progress: d.job.as_ref().map_or(0, |j| j.progress.load(Ordering::Relaxed)),
                capacity: 0,
                used: 0,
                free: 0,
                reserved: 0,
                segment_size: 0,
                detail: Some(d.reason.clone()),
            });
        }
        out.sort_by_key(|s| s.path.clone());
        out
    }

    /// One storage space.
    pub fn space(&self, id: SpaceId) -> Result<SpaceInfo> {
        self.spaces().into_iter().find(|s| s.id == id).ok_or(Error::SpaceNotFound(id))
    }

    /// Deletes a Lost (or Uninitialized) space from the engine (manual: only
    /// Lost spaces may be deleted). Its pools lose the capacity they had on it.
    pub fn delete_space(&self, id: SpaceId) -> Result<()> {
        self.inner.check_open()?;
        let status = self.space(id)?.status;
        if !matches!(status, SpaceStatus::Lost | SpaceStatus::Uninitialized) {
            return Err(Error::SpaceStatus { space: id, status, needed: "only a Lost space may be deleted" });
        }
        let removed = self.inner.change_catalog(|st| {
            st.catalog.spaces.retain(|s| s.id != id);
            for p in &mut st.catalog.pools {
                p.quotas.retain(|q| q.0 != id);
            }
            st.detached.remove(&id);
            Ok(st.detach_space(id))
        })?;
        if let Some(rt) = removed {
            rt.space.stop_io();
            rt.space.release_lock();
        }
        Ok(())
    }

    /// Re-initializes a space: all its data is deleted (every segment freed);
    /// pools keep their capacity on it.
    pub fn reinitialize_space(&self, id: SpaceId, confirm: Option<WipeConfirmation>) -> Result<()> {
        self.inner.check_open()?;
        if confirm != Some(WipeConfirmation::DeleteAllDataInSpace) {
            return Err(Error::ConfirmationRequired(
                "re-initializing deletes all data in the space; pass WipeConfirmation::DeleteAllDataInSpace",
            ));
        }
        // Streams writing there must let go of their segments first.
        for h in self.inner.streams.read().values() {
            let mut w = h.writer.lock();
            if w.slot.as_ref().is_some_and(|s| s.space.id == id) {
                w.slot = None;
            }
        }
        let now = self.inner.clock.now();
        let mut st = self.inner.lock_state();
        let rt = st.spaces.get(&id).ok_or(Error::SpaceNotFound(id))?;
        if !rt.space.writable() {
            let status = rt.space.status();
            return Err(Error::SpaceStatus { space: id, status, needed: "the space must be Normal" });
        }
        let space = Arc::clone(&rt.space);
        for idx in 0..rt.slots.len() as u32 {
            st.free_segment(id, idx, now, &self.inner.events, false);
        }
        drop(st);
        let rx = space.sync_async()?;
        rx.recv().map_err(|_| Error::SpaceFailed(id))?
    }
}

pub(crate) fn space_info(st: &State, rt: &SpaceRt) -> SpaceInfo {
    let seg = rt.space.sb.segment_size;
    let total = rt.slots.len() as u64;
    let free = rt.free.len() as u64;
    SpaceInfo {
        id: rt.space.id,
        path: rt.space.path.clone(),
        status: rt.space.status(),
        progress: rt.space.progress(),
        capacity: total * seg,
        used: (total - free) * seg,
        free: free * seg,
        reserved: st.reserved_on(rt.space.id) * seg,
        segment_size: seg,
        detail: None,
    }
}
