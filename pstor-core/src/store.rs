//! The engine's in-memory tables, behind one mutex: the catalog, every
//! space's segment table, pool usage, and each stream's segments in time
//! order. Appends do not touch it (they take only their stream's lock); it is
//! taken to allocate, recycle, seal, lock and answer listings.
//!
//! Memory per segment is one [`Slot`] (sealed: ~48 bytes); record lists of
//! sealed segments live on disk in footers and in a bounded cache.

use crate::error::{Error, FullReason, Result};
use crate::events::{EventFeed, EventKind};
use crate::format::catalog::Catalog;
use crate::format::needle::{camera_bits, camera_hash};
use crate::format::segment::SegmentUse;
use crate::space::{OpenSeg, Space, SpaceStatus};
use crate::types::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// A sealed segment's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub pool: PoolId,
    /// The stream (0 for a picture segment).
    pub stream: StreamId,
    pub usage: SegmentUse,
    /// Time range of its frames or pictures (capture times).
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub used: u64,
    /// Records or needles in it.
    pub entries: u32,
    /// Camera filter of a picture segment (0 for video).
    pub cameras: u64,
}

/// Who a new segment is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SegOwner {
    /// A video stream.
    Stream(StreamId),
    /// A pool's picture writer.
    Pictures,
}

/// One segment in memory.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    Free,
    Open(Arc<OpenSeg>),
    Sealed(Sealed),
}

/// A segment's owner and time span, whatever its state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub pool: PoolId,
    pub stream: StreamId,
    pub usage: SegmentUse,
    /// `MAX..MIN` while an open segment holds nothing.
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub cameras: u64,
}

impl Sealed {
    pub fn span(&self) -> Span {
        Span {
            pool: self.pool,
            stream: self.stream,
            usage: self.usage,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            cameras: self.cameras,
        }
    }
}

impl Span {
    /// Whether it holds any data.
    pub fn has_data(&self) -> bool {
        self.first_ts <= self.last_ts
    }
}

impl Slot {
    pub fn span(&self) -> Option<Span> {
        match self {
            Slot::Free => None,
            Slot::Sealed(s) => Some(s.span()),
            Slot::Open(o) => {
                let g = o.inner.lock();
                let (first_ts, last_ts) = g.time_range().unwrap_or((Timestamp::MAX, Timestamp::MIN));
                Some(Span { pool: o.pool, stream: o.stream, usage: o.usage, first_ts, last_ts, cameras: g.cameras })
            }
        }
    }
}

/// Whether a lock covers (part of) a segment's data. For pictures the camera
/// filter may say yes for a camera without pictures there: locks then protect
/// a little more than needed, never less.
pub(crate) fn lock_covers(l: &LockConfig, sp: &Span) -> bool {
    if !sp.has_data() || l.start > sp.last_ts || l.end < sp.first_ts {
        return false;
    }
    match (&l.target, sp.usage) {
        (LockTarget::Stream(s), SegmentUse::Video) => *s == sp.stream,
        (LockTarget::Pictures { pool, camera_id }, SegmentUse::Picture) => {
            let bits = camera_bits(camera_hash(camera_id));
            *pool == sp.pool && sp.cameras & bits == bits
        }
        _ => false,
    }
}

/// A space attached to the engine, with its segment table.
#[derive(Debug)]
pub(crate) struct SpaceRt {
    pub space: Arc<Space>,
    pub gens: Vec<u32>,
    pub slots: Vec<Slot>,
    pub free: BTreeSet<u32>,
}

/// A catalog space that could not be attached (folder gone, unreadable).
#[derive(Debug, Clone)]
pub(crate) struct Detached {
    pub path: String,
    pub status: SpaceStatus,
    pub reason: String,
    /// Progress of an initialization under way.
    pub job: Option<Arc<crate::space::JobControl>>,
}

/// Everything behind the engine mutex.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub catalog: Catalog,
    pub spaces: BTreeMap<SpaceId, SpaceRt>,
    pub detached: BTreeMap<SpaceId, Detached>,
    /// Segments per (pool, space) in use.
    pub used: HashMap<(PoolId, SpaceId), u32>,
    /// Each stream's segments in time order.
    pub by_stream: HashMap<StreamId, Vec<(SpaceId, u32)>>,
    /// Open segments recovered at open that their stream continues.
    pub resumable: HashMap<StreamId, (SpaceId, u32)>,
    /// Open picture segments recovered at open that their pool's picture
    /// writer continues.
    pub resumable_pictures: HashMap<PoolId, (SpaceId, u32)>,
    /// Pools whose low-space alarm is raised.
    pub alarmed: HashSet<PoolId>,
    /// Spaces whose volume is below the volume free-space threshold.
    pub volume_alarmed: HashSet<SpaceId>,
    /// Striping cursor.
    pub rr: usize,
}

impl State {
    pub fn pool(&self, id: PoolId) -> Result<&PoolConfig> {
        self.catalog.pools.iter().find(|p| p.id == id).ok_or(Error::PoolNotFound(id))
    }

    pub fn stream(&self, id: StreamId) -> Result<&StreamConfig> {
        self.catalog.streams.iter().find(|s| s.id == id).ok_or(Error::StreamNotFound(id))
    }

    pub fn slot(&self, space: SpaceId, index: u32) -> Option<&Slot> {
        self.spaces.get(&space).and_then(|s| s.slots.get(index as usize))
    }

    pub fn segment_size(&self, space: SpaceId) -> u64 {
        self.spaces.get(&space).map_or(0, |s| s.space.sb.segment_size)
    }

    /// Segments reserved by pools on a space.
    pub fn reserved_on(&self, space: SpaceId) -> u64 {
        self.catalog.pools.iter().flat_map(|p| p.quotas.iter()).filter(|q| q.0 == space).map(|q| q.1 as u64).sum()
    }

    /// Whether a lock's stream or pool exists.
    pub fn lock_target_known(&self, t: &LockTarget) -> bool {
        match t {
            LockTarget::Stream(s) => self.catalog.streams.iter().any(|x| x.id == *s),
            LockTarget::Pictures { pool, .. } => self.catalog.pools.iter().any(|p| p.id == *pool),
        }
    }

    /// Whether a segment is protected by a lock in force.
    pub fn is_locked(&self, sp: &Span, now: Timestamp) -> bool {
        self.catalog.locks.iter().any(|l| l.in_force(now) && lock_covers(l, sp))
    }

    /// (capacity, used) of a pool in bytes, over all its spaces. Cheap: the
    /// usage counters are kept up to date.
    pub fn pool_usage(&self, pool: &PoolConfig) -> (u64, u64) {
        let mut cap = 0;
        let mut used = 0;
        for &(sid, quota) in &pool.quotas {
            let size = self.segment_size(sid);
            cap += quota as u64 * size;
            used += *self.used.get(&(pool.id, sid)).unwrap_or(&0) as u64 * size;
        }
        (cap, used)
    }

    /// Bytes of a pool's segments protected by locks (optionally with one
    /// extra, hypothetical lock).
    pub fn locked_bytes(&self, pool: PoolId, now: Timestamp, extra: Option<&LockConfig>) -> u64 {
        let mut total = 0;
        for rt in self.spaces.values() {
            for slot in &rt.slots {
                let Some(sp) = slot.span() else { continue };
                if sp.pool != pool || !sp.has_data() {
                    continue;
                }
                if extra.is_some_and(|l| lock_covers(l, &sp)) || self.is_locked(&sp, now) {
                    total += rt.space.sb.segment_size;
                }
            }
        }
        total
    }

    /// Spaces of a pool that can take new segments.
    fn usable_quotas(&self, pool: &PoolConfig) -> Vec<(SpaceId, u32)> {
        pool.quotas
            .iter()
            .copied()
            .filter(|(sid, _)| self.spaces.get(sid).is_some_and(|s| s.space.writable()))
            .collect()
    }

    /// Picks a free segment for `pool` on the least-filled usable space.
    fn pick_free(&mut self, pool: &PoolConfig) -> Option<(SpaceId, u32)> {
        let mut best: Option<(SpaceId, f64)> = None;
        let cands = self.usable_quotas(pool);
        let n = cands.len();
        for k in 0..n {
            let (sid, quota) = cands[(self.rr + k) % n];
            let used = *self.used.get(&(pool.id, sid)).unwrap_or(&0);
            if used >= quota || self.spaces.get(&sid).is_none_or(|s| s.free.is_empty()) {
                continue;
            }
            let fill = used as f64 / quota.max(1) as f64;
            if best.is_none_or(|b| fill < b.1) {
                best = Some((sid, fill));
            }
        }
        self.rr = self.rr.wrapping_add(1);
        let (sid, _) = best?;
        let idx = self.spaces.get_mut(&sid)?.free.pop_first()?;
        Some((sid, idx))
    }

    /// The oldest (by newest timestamp) sealed, unlocked segment of a pool on
    /// a usable space, optionally only those whose newest data is before `before`.
    pub fn oldest_recyclable(&self, pool: PoolId, now: Timestamp, before: Option<Timestamp>) -> Option<(SpaceId, u32)> {
        let mut best: Option<(Timestamp, SpaceId, u32)> = None;
        for (sid, rt) in &self.spaces {
            if !rt.space.writable() {
                continue;
            }
            for (i, slot) in rt.slots.iter().enumerate() {
                if let Slot::Sealed(s) = slot {
                    if s.pool != pool || before.is_some_and(|b| s.last_ts >= b) {
                        continue;
                    }
                    if self.is_locked(&s.span(), now) {
                        continue;
                    }
                    if best.is_none_or(|b| s.last_ts < b.0) {
                        best = Some((s.last_ts, *sid, i as u32));
                    }
                }
            }
        }
        best.map(|b| (b.1, b.2))
    }

    /// Turns a segment into a free one (new generation, header rewritten).
    pub fn free_segment(&mut self, sid: SpaceId, idx: u32, now: Timestamp, events: &EventFeed, retention: bool) {
        let Some(rt) = self.spaces.get_mut(&sid) else { return };
        let Some(slot) = rt.slots.get_mut(idx as usize) else { return };
        let Some(span) = slot.span() else { return };
        *slot = Slot::Free;
        let gen = rt.gens[idx as usize].wrapping_add(1);
        rt.gens[idx as usize] = gen;
        rt.free.insert(idx);
        let header = rt.space.header_bytes(idx, gen, SegmentUse::Free, PoolId(0), StreamId(0), now);
        // Best effort: if the space failed, the stale header makes the data
        // reappear after a restart, which loses nothing.
        let _ = rt.space.submit(crate::space::IoCmd::Header { index: idx, data: header, durable: false });
        if let Some(u) = self.used.get_mut(&(span.pool, sid)) {
            *u = u.saturating_sub(1);
        }
        if let Some(list) = self.by_stream.get_mut(&span.stream) {
            list.retain(|&k| k != (sid, idx));
        }
        if self.resumable.get(&span.stream) == Some(&(sid, idx)) {
            self.resumable.remove(&span.stream);
        }
        if self.resumable_pictures.get(&span.pool) == Some(&(sid, idx)) {
            self.resumable_pictures.remove(&span.pool);
        }
        if span.first_ts <= span.last_ts {
            events.emit(
                now,
                EventKind::Recycled { pool: span.pool, stream: span.stream, until: span.last_ts, retention },
            );
        }
    }

    /// Allocates a new open segment for `stream` in `pool`, recycling the
    /// oldest unlocked data if the pool is full and its strategy allows. A
    /// refusal is returned without an event: the caller may retry once seals
    /// in flight have landed.
    pub fn allocate(
        &mut self,
        pool_id: PoolId,
        owner: SegOwner,
        now: Timestamp,
        events: &EventFeed,
    ) -> Result<(Arc<Space>, Arc<OpenSeg>)> {
        let pool = self.pool(pool_id)?.clone();
        let picked = match self.pick_free(&pool) {
            Some(p) => p,
            None => {
                let reason = if self.usable_quotas(&pool).is_empty() {
                    FullReason::NoUsableSpace
                } else if pool.strategy == OverwriteStrategy::StopWhenFull {
                    FullReason::StopWhenFull
                } else if let Some((sid, idx)) = self.oldest_recyclable(pool_id, now, None) {
                    self.free_segment(sid, idx, now, events, false);
                    match self.pick_free(&pool) {
                        Some(p) => return self.allocate_at(p, pool_id, owner, now),
                        None => self.nothing_to_overwrite(&pool, now),
                    }
                } else {
                    self.nothing_to_overwrite(&pool, now)
                };
                return Err(Error::PoolFull { pool: pool_id, reason });
            }
        };
        self.allocate_at(picked, pool_id, owner, now)
    }

    /// Why an overwriting pool has nothing to recycle: locked data, or every
    /// segment held open by its writers (fewer segments than streams).
    fn nothing_to_overwrite(&self, pool: &PoolConfig, now: Timestamp) -> FullReason {
        let mut writers = std::collections::HashSet::new();
        let mut locked = false;
        for rt in self.spaces.values().filter(|rt| rt.space.writable()) {
            for slot in &rt.slots {
                match slot {
                    Slot::Open(o) if o.pool == pool.id => {
                        writers.insert((o.usage, o.stream));
                    }
                    Slot::Sealed(s) if s.pool == pool.id => locked |= self.is_locked(&s.span(), now),
                    _ => {}
                }
            }
        }
        if locked || writers.is_empty() {
            return FullReason::OnlyLockedData;
        }
        let segments = self.usable_quotas(pool).iter().map(|q| q.1).sum();
        FullReason::HeldOpen { writers: writers.len() as u32, segments }
    }

    /// Whether segments of `pool` are being sealed (soon recyclable).
    pub fn seals_in_flight(&self, pool: PoolId) -> Vec<Arc<Space>> {
        let mut out: Vec<Arc<Space>> = Vec::new();
        for rt in self.spaces.values() {
            let busy = rt.slots.iter().any(
                |s| matches!(s, Slot::Open(o) if o.pool == pool && o.sealing.load(std::sync::atomic::Ordering::SeqCst)),
            );
            if busy {
                out.push(Arc::clone(&rt.space));
            }
        }
        out
    }

    fn allocate_at(
        &mut self,
        picked: (SpaceId, u32),
        pool_id: PoolId,
        owner: SegOwner,
        now: Timestamp,
    ) -> Result<(Arc<Space>, Arc<OpenSeg>)> {
        let (sid, idx) = picked;
        let (stream, usage) = match owner {
            SegOwner::Stream(s) => (s, SegmentUse::Video),
            SegOwner::Pictures => (StreamId(0), SegmentUse::Picture),
        };
        let rt = self.spaces.get_mut(&sid).ok_or(Error::SpaceNotFound(sid))?;
        let gen = rt.gens[idx as usize].wrapping_add(1);
        rt.gens[idx as usize] = gen;
        let open = Arc::new(OpenSeg::new(idx, gen, pool_id, stream, usage, Vec::new(), Vec::new()));
        rt.slots[idx as usize] = Slot::Open(Arc::clone(&open));
        let space = Arc::clone(&rt.space);
        let header = space.header_bytes(idx, gen, usage, pool_id, stream, now);
        if let Err(e) = space.submit(crate::space::IoCmd::Header { index: idx, data: header, durable: true }) {
            rt.slots[idx as usize] = Slot::Free;
            rt.free.insert(idx);
            return Err(e);
        }
        *self.used.entry((pool_id, sid)).or_insert(0) += 1;
        if usage == SegmentUse::Video {
            self.by_stream.entry(stream).or_default().push((sid, idx));
        }
        Ok((space, open))
    }

    /// Marks an open segment sealed once its footer is written.
    pub fn mark_sealed(&mut self, sid: SpaceId, open: &OpenSeg, now: Timestamp, events: &EventFeed) {
        let idx = open.index;
        let Some(rt) = self.spaces.get_mut(&sid) else { return };
        if rt.gens.get(idx as usize) != Some(&open.generation) {
            return;
        }
        let Some(slot) = rt.slots.get_mut(idx as usize) else { return };
        if !matches!(slot, Slot::Open(_)) {
            return;
        }
        match open.summary() {
            Some(sealed) => *slot = Slot::Sealed(sealed),
            // An empty segment is not worth keeping: give it back.
            None => self.free_segment(sid, idx, now, events, false),
        }
    }

    /// Takes a space out of the tables (its segments, pool usage, resumable
    /// segments); the caller stops its I/O and releases its folder lock.
    pub fn detach_space(&mut self, id: SpaceId) -> Option<SpaceRt> {
        let rt = self.spaces.remove(&id)?;
        for list in self.by_stream.values_mut() {
            list.retain(|k| k.0 != id);
        }
        self.used.retain(|k, _| k.1 != id);
        self.resumable.retain(|_, k| k.0 != id);
        self.resumable_pictures.retain(|_, k| k.0 != id);
        Some(rt)
    }

    /// Starts a catalog change: bumps its sequence number.
    pub fn bump(&mut self) {
        self.catalog.seq += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN.md: the in-memory index costs at most 1 KiB per segment. A
    /// sealed segment costs its slot, its generation, its place in its
    /// stream's list and (when free) a set entry; record lists live on disk
    /// (footers) and in a bounded cache, not per segment.
    #[test]
    fn index_memory_per_segment_is_within_budget() {
        let per_segment = std::mem::size_of::<Slot>()
            + std::mem::size_of::<u32>()
            + std::mem::size_of::<(SpaceId, u32)>()
            // A BTreeSet<u32> entry, with the node overhead at worst.
            + 4 * std::mem::size_of::<u32>();
        assert!(per_segment <= 128, "{per_segment} bytes per segment");
    }
}
