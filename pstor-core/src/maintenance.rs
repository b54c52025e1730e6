//! Background upkeep, one round at a time: space health, lock expiry,
//! retention (cycle days), proactive recycling under the overwrite threshold,
//! low-space alarms, flushing of idle chunks, and periodic checkpoints.

use crate::engine::Inner;
use crate::error::Result;
use crate::events::EventKind;
use crate::format::catalog::CATALOG_FILE;
use crate::format::segment::SegmentUse;
use crate::format::superblock::{SuperBlock, SUPERBLOCK_FILE};
use crate::io::read_whole;
use crate::space::{Space, SpaceStatus};
use crate::store::Slot;
use crate::types::*;
use std::collections::HashSet;
use std::sync::Arc;

/// One round. `forced` (an explicit call) checkpoints regardless of the interval.
pub(crate) fn run(inner: &Inner, forced: bool) -> Result<()> {
    inner.check_open()?;
    let now = inner.clock.now();
    health(inner, now);
    expire_locks(inner, now)?;
    flush_idle_chunks(inner);
    retention(inner, now);
    overwrite_ahead(inner, now);
    alarms(inner, now);
    let due = inner.last_checkpoint.lock().elapsed() >= inner.opts.checkpoint_interval;
    if forced || due {
        // A failed sync is reported to the streams' own sync calls; the
        // checkpoint then covers what is durable.
        let _ = inner.sync_all();
        inner.checkpoint(false)?;
    }
    Ok(())
}

/// A space whose superblock cannot be read any more, or now belongs to
/// another space, is Lost; a Lost one whose folder holds it again is restored.
fn health(inner: &Inner, now: Timestamp) {
    bring_back_returned(inner, now);
    let spaces: Vec<_> = inner.lock_state().spaces.values().map(|rt| Arc::clone(&rt.space)).collect();
    let thresholds = inner.catalog_thresholds();
    for space in spaces {
        if space.status() != SpaceStatus::Normal || !check_present(inner, &space, now) {
            continue;
        }
        if thresholds.volume_free_pct > 0 {
            if let Ok(v) = inner.storage.volume_space(&space.path) {
                let pct = (v.available.saturating_mul(100) / v.total.max(1)) as u8;
                let mut st = inner.lock_state();
                if pct < thresholds.volume_free_pct {
                    if st.volume_alarmed.insert(space.id) {
                        inner.events.emit(now, EventKind::LowVolumeSpace { space: space.id, free_pct: pct });
                    }
                } else {
                    st.volume_alarmed.remove(&space.id);
                }
            }
        }
        // Keep the catalog copy present (it may have been missed while the
        // space was busy).
        if !inner.storage.exists(&space.path.join(CATALOG_FILE)) {
            let st = inner.lock_state();
            let _ = inner.persist_catalog(&st);
        }
    }
}

/// Whether the space's folder still holds its superblock. If not, the space
/// is marked Lost (events for it and its pools) and false returned.
pub(crate) fn check_present(inner: &Inner, space: &Space, now: Timestamp) -> bool {
    let problem = match read_whole(inner.storage.as_ref(), &space.path.join(SUPERBLOCK_FILE)) {
        Err(e) => format!("cannot read its superblock: {e}"),
        Ok(b) => match SuperBlock::decode(&b) {
            Ok(sb) if sb.space_uuid == space.sb.space_uuid => return true,
            Ok(_) => "its folder now holds another storage space".to_string(),
            Err(e) => format!("its superblock is unreadable: {e}"),
        },
    };
    space.set_status(SpaceStatus::Lost);
    inner.events.emit(now, EventKind::SpaceStatus { space: space.id, status: SpaceStatus::Lost, detail: problem });
    let pools: Vec<(PoolId, crate::PoolStatus)> = {
        let st = inner.lock_state();
        st.catalog
            .pools
            .iter()
            .filter(|p| p.quotas.iter().any(|q| q.0 == space.id))
            .map(|p| (p.id, crate::pools::pool_info(&st, p, now).status))
            .collect()
    };
    for (pool, status) in pools {
        inner.events.emit(now, EventKind::PoolStatus { pool, status });
    }
    false
}

/// The health check's restores of spaces that came back.
#[derive(Debug, Default)]
pub(crate) struct Returning {
    /// Under way (reaped by later rounds, cancelled at close).
    pub jobs: Vec<crate::SpaceJob>,
    /// Those whose restore could not even start (not tried again here).
    pub refused: HashSet<SpaceId>,
}

/// A Lost space whose folder holds its own superblock again (a volume
/// remounted, a disk plugged back, a share reachable again) is restored in
/// place, as [`crate::Engine::restore_space`] would: Restoring, Scanning,
/// Normal, its data scanned afresh since nobody knows what happened to it
/// while it was away. A restore that fails leaves the space in Error with
/// the reason (an explicit restore retries it); one is never retried here.
fn bring_back_returned(inner: &Inner, now: Timestamp) {
    let finished: Vec<crate::SpaceJob> = {
        let mut r = inner.returning.lock();
        let (done, running) = std::mem::take(&mut r.jobs).into_iter().partition(|j| j.is_finished());
        r.jobs = running;
        done
    };
    for job in finished {
        let space = job.space;
        if let Err(e) = job.wait() {
            inner.events.emit(
                now,
                EventKind::SpaceStatus {
                    space,
                    status: SpaceStatus::Error,
                    detail: format!("its folder came back, but restoring it failed: {e}"),
                },
            );
        }
    }
    let mut lost: Vec<(SpaceId, u128, std::path::PathBuf)> = {
        let st = inner.lock_state();
        st.catalog
            .spaces
            .iter()
            .filter(|r| {
                let attached_lost = st.spaces.get(&r.id).is_some_and(|rt| rt.space.status() == SpaceStatus::Lost);
                let detached_lost =
                    st.detached.get(&r.id).is_some_and(|d| d.status == SpaceStatus::Lost && d.job.is_none());
                attached_lost || detached_lost
            })
            .map(|r| (r.id, r.uuid, std::path::PathBuf::from(&r.path)))
            .collect()
    };
    {
        // A space that is no longer Lost is brought back again the next
        // time it is.
        let mut r = inner.returning.lock();
        r.refused.retain(|id| lost.iter().any(|l| l.0 == *id));
        let refused = &r.refused;
        lost.retain(|l| !refused.contains(&l.0));
    }
    // Read outside the engine lock: a volume that is still half there (a
    // share timing out) must not hold up the engine.
    let back: Vec<(SpaceId, std::path::PathBuf)> = lost
        .into_iter()
        .filter(|(_, uuid, path)| {
            read_whole(inner.storage.as_ref(), &path.join(SUPERBLOCK_FILE))
                .ok()
                .and_then(|b| SuperBlock::decode(&b).ok())
                .is_some_and(|sb| sb.space_uuid == *uuid)
        })
        .map(|(id, _, path)| (id, path))
        .collect();
    for (space, path) in back {
        match crate::init::restore(inner, &path) {
            Ok(job) => {
                inner.events.emit(
                    now,
                    EventKind::SpaceStatus {
                        space,
                        status: SpaceStatus::Restoring,
                        detail: "its folder is back: restoring it".into(),
                    },
                );
                inner.returning.lock().jobs.push(job);
            }
            Err(e) => {
                // Said once; an explicit restore may still succeed.
                inner.returning.lock().refused.insert(space);
                inner.events.emit(
                    now,
                    EventKind::SpaceStatus {
                        space,
                        status: SpaceStatus::Lost,
                        detail: format!("its folder is back, but it cannot be restored: {e}"),
                    },
                );
            }
        }
    }
}

fn expire_locks(inner: &Inner, now: Timestamp) -> Result<()> {
    let expired: Vec<LockId> = {
        let st = inner.lock_state();
        st.catalog.locks.iter().filter(|l| !l.in_force(now)).map(|l| l.id).collect()
    };
    if expired.is_empty() {
        return Ok(());
    }
    inner.change_catalog(|st| {
        st.catalog.locks.retain(|l| l.in_force(now));
        Ok(())
    })?;
    for lock in expired {
        inner.events.emit(now, EventKind::LockExpired { lock });
    }
    Ok(())
}

fn flush_idle_chunks(inner: &Inner) {
    let handles: Vec<_> = inner.streams.read().values().cloned().collect();
    for h in handles {
        let mut w = h.writer.lock();
        if w.chunk_since.is_some_and(|t| t.elapsed() >= inner.opts.chunk_max_age) {
            if let Err(e) = h.emit_chunk(inner, &mut w) {
                inner
                    .events
                    .emit(inner.clock.now(), EventKind::RecordingError { stream: h.id, message: e.to_string() });
            }
        }
    }
}

/// Frees segments whose newest data is older than the pool's cycle. An idle
/// stream's open segment past the cycle is sealed first (and waited for), so
/// one round frees it too.
fn retention(inner: &Inner, now: Timestamp) {
    let cutoffs: Vec<(PoolId, Timestamp)> = {
        let st = inner.lock_state();
        st.catalog
            .pools
            .iter()
            .filter(|p| p.cycle_days > 0)
            .map(|p| (p.id, now - p.cycle_days as i64 * US_PER_DAY))
            .collect()
    };
    if cutoffs.is_empty() {
        return;
    }
    // 1. Seal open segments whose newest frame or picture is past the cycle.
    let mut to_close: HashSet<StreamId> = HashSet::new();
    let mut pictures_to_close: HashSet<PoolId> = HashSet::new();
    {
        let st = inner.lock_state();
        for rt in st.spaces.values() {
            for slot in &rt.slots {
                let (Slot::Open(o), Some(sp)) = (slot, slot.span()) else { continue };
                let expired = cutoffs.iter().any(|&(p, cutoff)| p == o.pool && sp.last_ts < cutoff);
                if expired && sp.has_data() && !st.is_locked(&sp, now) {
                    match o.usage {
                        SegmentUse::Picture => pictures_to_close.insert(o.pool),
                        _ => to_close.insert(o.stream),
                    };
                }
            }
        }
    }
    let closing = !pictures_to_close.is_empty() || !to_close.is_empty();
    for pool in pictures_to_close {
        if let Some(w) = inner.picture_writers.read().get(&pool) {
            w.close_segment(inner);
        }
        // A recovered picture segment nobody resumed is sealed directly.
        let resumable = inner.lock_state().resumable_pictures.remove(&pool);
        if let Some((sid, idx)) = resumable {
            seal_recovered(inner, sid, idx);
        }
    }
    for s in to_close {
        if let Ok(h) = inner.handle(s) {
            let _ = h.close_segment(inner);
        }
        let resumable = inner.lock_state().resumable.remove(&s);
        if let Some((sid, idx)) = resumable {
            seal_recovered(inner, sid, idx);
        }
    }
    if closing {
        // Wait for the seals, so this round frees what they sealed.
        let spaces: Vec<Arc<crate::space::Space>> =
            inner.lock_state().spaces.values().map(|rt| Arc::clone(&rt.space)).collect();
        for space in spaces {
            let _ = space.barrier();
        }
    }
    // 2. Free sealed segments past the cycle.
    let mut st = inner.lock_state();
    for (pool, cutoff) in cutoffs {
        while let Some((sid, idx)) = st.oldest_recyclable(pool, now, Some(cutoff)) {
            st.free_segment(sid, idx, now, &inner.events, true);
        }
    }
}

/// Seals an open segment recovered at open that no writer continued.
fn seal_recovered(inner: &Inner, sid: SpaceId, idx: u32) {
    let st = inner.lock_state();
    if let (Some(rt), Some(Slot::Open(o))) = (st.spaces.get(&sid), st.slot(sid, idx)) {
        let (space, open) = (Arc::clone(&rt.space), Arc::clone(o));
        drop(st);
        crate::stream::seal_segment(inner, &space, &open);
    }
}

fn free_pct(cap: u64, used: u64) -> u64 {
    if cap == 0 {
        return 100;
    }
    cap.saturating_sub(used) * 100 / cap
}

/// Keeps pools with strategy overwrite above the overwrite threshold.
fn overwrite_ahead(inner: &Inner, now: Timestamp) {
    let mut st = inner.lock_state();
    let threshold = st.catalog.thresholds.overwrite_pct as u64;
    let pools: Vec<PoolConfig> =
        st.catalog.pools.iter().filter(|p| p.strategy == OverwriteStrategy::OverwriteOldest).cloned().collect();
    for p in pools {
        loop {
            let (cap, used) = st.pool_usage(&p);
            if free_pct(cap, used) >= threshold {
                break;
            }
            match st.oldest_recyclable(p.id, now, None) {
                Some((sid, idx)) => st.free_segment(sid, idx, now, &inner.events, false),
                None => break,
            }
        }
    }
}

fn alarms(inner: &Inner, now: Timestamp) {
    let mut st = inner.lock_state();
    let threshold = st.catalog.thresholds.alarm_pct as u64;
    let pools = st.catalog.pools.clone();
    for p in pools {
        let (cap, used) = st.pool_usage(&p);
        let pct = free_pct(cap, used);
        if pct < threshold {
            if st.alarmed.insert(p.id) {
                inner.events.emit(now, EventKind::LowSpace { pool: p.id, free_pct: pct as u8 });
            }
        } else {
            st.alarmed.remove(&p.id);
        }
    }
}
