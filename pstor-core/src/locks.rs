//! Locks: protection of a stream's time range against overwrite and
//! retention, within the pool's max-lock quota.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::store::State;
use crate::types::*;

impl Engine {
    /// Locks a stream's time range against overwrite and retention.
    pub fn lock(
        &self,
        stream: StreamId,
        start: Timestamp,
        end: Timestamp,
        expires: Option<Timestamp>,
    ) -> Result<LockId> {
        self.add_lock(LockTarget::Stream(stream), start, end, expires)
    }

    /// Locks one camera's pictures in a pool, captured in `[start, end]`,
    /// against overwrite and retention. Counts against the pool's lock quota
    /// like video locks (whole segments).
    pub fn lock_pictures(
        &self,
        pool: PoolId,
        camera_id: &str,
        start: Timestamp,
        end: Timestamp,
        expires: Option<Timestamp>,
    ) -> Result<LockId> {
        if camera_id.is_empty() || camera_id.len() > crate::format::needle::MAX_CAMERA_LEN {
            return Err(Error::InvalidArgument("camera id must be 1..=256 bytes".into()));
        }
        self.add_lock(LockTarget::Pictures { pool, camera_id: camera_id.to_string() }, start, end, expires)
    }

    fn add_lock(
        &self,
        target: LockTarget,
        start: Timestamp,
        end: Timestamp,
        expires: Option<Timestamp>,
    ) -> Result<LockId> {
        self.inner.check_open()?;
        if start > end {
            return Err(Error::InvalidArgument(format!("lock range {start}..{end} ends before it starts")));
        }
        let now = self.inner.clock.now();
        if expires.is_some_and(|e| e <= now) {
            return Err(Error::InvalidArgument("lock expiry is in the past".into()));
        }
        self.inner.change_catalog(|st| {
            let pool = match &target {
                LockTarget::Stream(s) => st.pool(st.stream(*s)?.pool)?.clone(),
                LockTarget::Pictures { pool, .. } => {
                    let p = st.pool(*pool)?.clone();
                    if !p.kind.accepts_pictures() {
                        return Err(Error::WrongPoolKind { pool: p.id, kind: p.kind });
                    }
                    p
                }
            };
            let mut id = LockId(rand::random());
            while id.0 == 0 || st.catalog.locks.iter().any(|l| l.id == id) {
                id = LockId(rand::random());
            }
            let lock = LockConfig { id, target: target.clone(), start, end, expires };
            check_lock_quota(st, &pool, &lock, now)?;
            st.catalog.locks.push(lock);
            Ok(id)
        })
    }

    /// Lists the locks in force.
    pub fn locks(&self) -> Vec<LockConfig> {
        let now = self.inner.clock.now();
        self.inner.lock_state().catalog.locks.iter().filter(|l| l.in_force(now)).cloned().collect()
    }

    /// Changes a lock's expiry (`None` = until unlocked).
    pub fn extend_lock(&self, id: LockId, expires: Option<Timestamp>) -> Result<()> {
        self.inner.check_open()?;
        let now = self.inner.clock.now();
        if expires.is_some_and(|e| e <= now) {
            return Err(Error::InvalidArgument("lock expiry is in the past".into()));
        }
        self.inner.change_catalog(|st| {
            let l =
                st.catalog.locks.iter_mut().find(|l| l.id == id && l.in_force(now)).ok_or(Error::LockNotFound(id))?;
            l.expires = expires;
            Ok(())
        })
    }

    /// Removes a lock.
    /// A lock that has lapsed is not found, as in [`Engine::locks`].
    pub fn unlock(&self, id: LockId) -> Result<()> {
        self.inner.check_open()?;
        let now = self.inner.clock.now();
        self.inner.change_catalog(|st| {
            if !st.catalog.locks.iter().any(|l| l.id == id && l.in_force(now)) {
                return Err(Error::LockNotFound(id));
            }
            st.catalog.locks.retain(|l| l.id != id);
            Ok(())
        })
    }
}

fn check_lock_quota(st: &State, pool: &PoolConfig, lock: &LockConfig, now: Timestamp) -> Result<()> {
    let (cap, _) = st.pool_usage(pool);
    let limit = cap * pool.max_lock_pct as u64 / 100;
    let locked = st.locked_bytes(pool.id, now, None);
    let with = st.locked_bytes(pool.id, now, Some(lock));
    if with > limit {
        return Err(Error::LockQuotaExceeded { pool: pool.id, requested: with - locked, locked, limit });
    }
    Ok(())
}
