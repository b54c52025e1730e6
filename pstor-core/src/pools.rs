//! The resource-pool face of the engine (manual 3.5.2): create, edit,
//! delete, list; capacity carved out of spaces as per-space segment quotas.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::events::EventFeed;
use crate::store::State;
use crate::stream::StreamHandle;
use crate::types::*;
use std::collections::BTreeSet;
use std::sync::Arc;

/// At most this many resource pools (manual 3.5.2).
pub const MAX_POOLS: usize = 20;

/// Status of a resource pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolStatus {
    /// All its spaces are in service.
    Normal,
    /// Some of its spaces are lost or failed; writes go to the others.
    Degraded,
    /// None of its spaces is usable.
    Offline,
}

/// A resource pool as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolInfo {
    /// Its settings.
    pub config: PoolConfig,
    /// Status.
    pub status: PoolStatus,
    /// Capacity in bytes.
    pub capacity: u64,
    /// Bytes in segments holding data.
    pub used: u64,
    /// Capacity minus used.
    pub free: u64,
    /// Bytes protected by locks.
    pub locked: u64,
}

/// What a new pool is.
#[derive(Debug, Clone)]
pub struct PoolSpec {
    /// Unique name.
    pub name: String,
    /// Video, picture or mixed.
    pub kind: PoolKind,
    /// Capacity in bytes, striped over `spaces`.
    pub capacity: u64,
    /// Spaces to carve it from; empty = every space in service.
    pub spaces: Vec<SpaceId>,
    /// What happens when full.
    pub strategy: OverwriteStrategy,
    /// Retention in days (0 = no limit).
    pub cycle_days: u32,
    /// Max lockable share of the capacity, percent.
    pub max_lock_pct: u8,
}

/// Changes to a pool; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct PoolEdit {
    /// New name.
    pub name: Option<String>,
    /// New capacity (striped over the pool's current spaces).
    pub capacity: Option<u64>,
    /// New strategy.
    pub strategy: Option<OverwriteStrategy>,
    /// New cycle.
    pub cycle_days: Option<u32>,
    /// New max lock percent.
    pub max_lock_pct: Option<u8>,
}

impl Engine {
    /// Creates a resource pool.
    pub fn create_pool(&self, spec: PoolSpec) -> Result<PoolId> {
        self.inner.check_open()?;
        validate_pool_fields(&spec.name, spec.max_lock_pct)?;
        self.inner.change_catalog(|st| {
            if st.catalog.pools.len() >= MAX_POOLS {
                return Err(Error::TooManyPools { max: MAX_POOLS });
            }
            if st.catalog.pools.iter().any(|p| p.name == spec.name) {
                return Err(Error::DuplicatePoolName(spec.name.clone()));
            }
            let spaces: Vec<SpaceId> = if spec.spaces.is_empty() {
                st.spaces.values().filter(|r| r.space.writable()).map(|r| r.space.id).collect()
            } else {
                spec.spaces.clone()
            };
            let quotas = carve(st, &spaces, spec.capacity, &[])?;
            let mut id = PoolId(rand::random());
            while id.0 == 0 || st.catalog.pools.iter().any(|p| p.id == id) {
                id = PoolId(rand::random());
            }
            st.catalog.pools.push(PoolConfig {
                id,
                name: spec.name.clone(),
                kind: spec.kind,
                strategy: spec.strategy,
                cycle_days: spec.cycle_days,
                max_lock_pct: spec.max_lock_pct,
                quotas,
            });
            Ok(id)
        })
    }

    /// Edits a pool.
    pub fn edit_pool(&self, id: PoolId, edit: PoolEdit) -> Result<()> {
        self.inner.check_open()?;
        let now = self.inner.clock.now();
        self.inner.change_catalog(|st| {
            let cur = st.pool(id)?.clone();
            let mut new = cur.clone();
            if let Some(n) = &edit.name {
                if st.catalog.pools.iter().any(|p| p.name == *n && p.id != id) {
                    return Err(Error::DuplicatePoolName(n.clone()));
                }
                new.name = n.clone();
            }
            if let Some(s) = edit.strategy {
                new.strategy = s;
            }
            if let Some(c) = edit.cycle_days {
                new.cycle_days = c;
            }
            if let Some(m) = edit.max_lock_pct {
                new.max_lock_pct = m;
            }
            validate_pool_fields(&new.name, new.max_lock_pct)?;
            if let Some(cap) = edit.capacity {
                let spaces: Vec<SpaceId> = cur.quotas.iter().map(|q| q.0).collect();
                let (_, used) = st.pool_usage(&cur);
                if cap < used {
                    return Err(Error::ShrinkBelowUsed { pool: id, requested: cap, used });
                }
                new.quotas = carve(st, &spaces, cap, &cur.quotas)?;
                // Never below what is in use on each space.
                for q in &mut new.quotas {
                    let u = *st.used.get(&(id, q.0)).unwrap_or(&0);
                    if q.1 < u {
                        return Err(Error::ShrinkBelowUsed { pool: id, requested: cap, used });
                    }
                }
            }
            // Locks already granted must still fit the new limit.
            let (cap, _) = st.pool_usage(&new);
            let limit = cap * new.max_lock_pct as u64 / 100;
            let locked = st.locked_bytes(id, now, None);
            if locked > limit {
                return Err(Error::LockQuotaExceeded { pool: id, requested: 0, locked, limit });
            }
            if let Some(p) = st.catalog.pools.iter_mut().find(|p| p.id == id) {
                *p = new;
            }
            Ok(())
        })
    }

    /// Deletes a pool, its streams and its recordings. Refused while it holds
    /// locked data.
    pub fn delete_pool(&self, id: PoolId) -> Result<()> {
        self.inner.check_open()?;
        let now = self.inner.clock.now();
        {
            let st = self.inner.lock_state();
            st.pool(id)?;
            if st.locked_bytes(id, now, None) > 0 {
                return Err(Error::PoolHasLocks(id));
            }
        }
        let victims: Vec<Arc<StreamHandle>> =
            self.inner.streams.read().values().filter(|h| h.pool == id).cloned().collect();
        for h in &victims {
            let mut w = h.writer.lock();
            w.deleted = true;
            w.slot = None;
            w.chunk = Default::default();
        }
        self.inner.change_catalog(|st| {
            let segs: Vec<(SpaceId, u32)> = st
                .spaces
                .iter()
                .flat_map(|(sid, rt)| {
                    rt.slots
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.span().is_some_and(|sp| sp.pool == id))
                        .map(move |(i, _)| (*sid, i as u32))
                })
                .collect();
            for (sid, idx) in segs {
                st.free_segment(sid, idx, now, &EventFeed::default(), false);
            }
            st.catalog.pools.retain(|p| p.id != id);
            let gone: BTreeSet<StreamId> = st.catalog.streams.iter().filter(|s| s.pool == id).map(|s| s.id).collect();
            st.catalog.streams.retain(|s| s.pool != id);
            st.catalog.locks.retain(|l| match &l.target {
                LockTarget::Stream(s) => !gone.contains(s),
                LockTarget::Pictures { pool, .. } => *pool != id,
            });
            st.used.retain(|k, _| k.0 != id);
            st.resumable_pictures.remove(&id);
            for s in &gone {
                st.by_stream.remove(s);
                st.resumable.remove(s);
            }
            Ok(())
        })?;
        // Its picture segments were freed above: forget the writer's slot.
        self.inner.picture_writers.write().remove(&id);
        let mut streams = self.inner.streams.write();
        for h in victims {
            streams.remove(&h.id);
        }
        Ok(())
    }

    /// Lists the pools.
    pub fn pools(&self) -> Vec<PoolInfo> {
        let now = self.inner.clock.now();
        let st = self.inner.lock_state();
        st.catalog.pools.iter().map(|p| pool_info(&st, p, now)).collect()
    }

    /// One pool.
    pub fn pool(&self, id: PoolId) -> Result<PoolInfo> {
        let now = self.inner.clock.now();
        let st = self.inner.lock_state();
        Ok(pool_info(&st, st.pool(id)?, now))
    }
}

fn validate_pool_fields(name: &str, max_lock_pct: u8) -> Result<()> {
    if name.trim().is_empty() || name.len() > 64 {
        return Err(Error::InvalidArgument("pool name must be 1..=64 bytes, not blank".into()));
    }
    if max_lock_pct > 100 {
        return Err(Error::InvalidArgument(format!("max lock percent {max_lock_pct} > 100")));
    }
    Ok(())
}

/// Splits `capacity` evenly over `spaces` into segment quotas, checking each
/// space has that much unreserved (not counting `current`, the pool's own).
fn carve(st: &State, spaces: &[SpaceId], capacity: u64, current: &[(SpaceId, u32)]) -> Result<Vec<(SpaceId, u32)>> {
    if spaces.is_empty() {
        return Err(Error::CapacityExceedsFree { requested: capacity, available: 0 });
    }
    if capacity == 0 {
        return Err(Error::InvalidArgument("pool capacity must be > 0".into()));
    }
    let mut uniq = spaces.to_vec();
    uniq.sort();
    uniq.dedup();
    let share = capacity / uniq.len() as u64;
    let mut quotas = Vec::new();
    let mut available_total = 0u64;
    let mut short = false;
    for (i, sid) in uniq.iter().enumerate() {
        let rt = st.spaces.get(sid).ok_or(Error::SpaceNotFound(*sid))?;
        let seg = rt.space.sb.segment_size;
        let mine = current.iter().find(|q| q.0 == *sid).map_or(0, |q| q.1 as u64);
        let free_segs = rt.slots.len() as u64 - (st.reserved_on(*sid) - mine);
        available_total += free_segs * seg;
        let want = if i == 0 { capacity - share * (uniq.len() as u64 - 1) } else { share };
        let segs = want.div_ceil(seg);
        if segs > free_segs {
            short = true;
        }
        quotas.push((*sid, segs as u32));
    }
    if short {
        return Err(Error::CapacityExceedsFree { requested: capacity, available: available_total });
    }
    Ok(quotas)
}

pub(crate) fn pool_info(st: &State, p: &PoolConfig, now: Timestamp) -> PoolInfo {
    let (capacity, used) = st.pool_usage(p);
    let locked = st.locked_bytes(p.id, now, None);
    let usable = p.quotas.iter().filter(|(sid, _)| st.spaces.get(sid).is_some_and(|s| s.space.writable())).count();
    let status = if usable == p.quotas.len() && usable > 0 {
        PoolStatus::Normal
    } else if usable > 0 {
        PoolStatus::Degraded
    } else {
        PoolStatus::Offline
    };
    PoolInfo { config: p.clone(), status, capacity, used, free: capacity.saturating_sub(used), locked }
}
