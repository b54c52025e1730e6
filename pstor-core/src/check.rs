//! `check`: verifies the invariants `docs/format.md` states between the
//! catalog, the in-memory index and the bytes on disk, reads every record, and
//! with `repair` fixes what is safe to fix (catalog copies, footers, orphan
//! segments, dangling locks, usage counters). It never deletes valid data of a
//! known stream.

use crate::engine::Inner;
use crate::error::Result;
use crate::format::catalog::{Catalog, CATALOG_FILE};
use crate::format::needle::NeedleHeader;
use crate::format::segment::{encode_footer, encode_picture_footer, SegmentHeader, SegmentUse, SEGMENT_HEADER_LEN};
use crate::format::superblock::{SuperBlock, SUPERBLOCK_FILE};
use crate::io::{read_whole, write_atomic};
use crate::read::{read_record, segment_records, SegView};
use crate::recovery::{read_footer, read_picture_footer, scan_picture_segment, scan_segment};
use crate::space::Space;
use crate::store::Slot;
use crate::types::*;
use std::collections::HashMap;
use std::sync::Arc;

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The space concerned, if any.
    pub space: Option<SpaceId>,
    /// The segment concerned, if any.
    pub segment: Option<u32>,
    /// What is wrong.
    pub what: String,
    /// Whether `repair` fixed it.
    pub repaired: bool,
}

/// What `check` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Segments examined.
    pub segments: u64,
    /// Records read and verified.
    pub records: u64,
    /// Problems, fixed or not.
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// True when nothing unfixed is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.iter().all(|p| p.repaired)
    }

    fn add(&mut self, space: Option<SpaceId>, segment: Option<u32>, what: String, repaired: bool) {
        self.problems.push(Problem { space, segment, what, repaired });
    }
}

pub(crate) fn run(inner: &Inner, repair: bool) -> Result<CheckReport> {
    inner.check_open()?;
    // Everything written is on disk before we compare.
    let _ = inner.sync_all();
    let all: Vec<_> = inner.lock_state().spaces.values().map(|rt| Arc::clone(&rt.space)).collect();
    for s in &all {
        let _ = s.barrier();
    }
    // Seals completed meanwhile are applied by taking the engine lock; an
    // empty one frees its segment with a header write: let that land too.
    drop(inner.lock_state());
    for s in &all {
        let _ = s.barrier();
    }
    let mut report = CheckReport::default();
    let now = inner.clock.now();
    let (catalog, spaces) = {
        let st = inner.lock_state();
        let spaces: Vec<_> =
            st.spaces.values().map(|rt| (Arc::clone(&rt.space), rt.gens.clone(), rt.slots.clone())).collect();
        (st.catalog.clone(), spaces)
    };
    let known_pools: HashMap<PoolId, &PoolConfig> = catalog.pools.iter().map(|p| (p.id, p)).collect();
    let known_streams: HashMap<StreamId, &StreamConfig> = catalog.streams.iter().map(|s| (s.id, s)).collect();
    let mut orphans = Vec::new();
    let mut counted: HashMap<(PoolId, SpaceId), u32> = HashMap::new();
    for (space, gens, slots) in &spaces {
        let sid = space.id;
        if space.check_readable().is_err() {
            report.add(Some(sid), None, format!("space is {:?}; not checked", space.status()), false);
            continue;
        }
        match read_whole(inner.storage.as_ref(), &space.path.join(SUPERBLOCK_FILE))
            .ok()
            .and_then(|b| SuperBlock::decode(&b).ok())
        {
            Some(sb) if sb.space_uuid == space.sb.space_uuid => {}
            _ => report.add(Some(sid), None, "superblock missing or does not match".into(), false),
        }
        let copy = read_whole(inner.storage.as_ref(), &space.path.join(CATALOG_FILE))
            .ok()
            .and_then(|b| Catalog::decode(&b).ok());
        if copy.as_ref() != Some(&catalog) {
            let fixed = repair
                && write_atomic(inner.storage.as_ref(), &space.path.join(CATALOG_FILE), &catalog.encode()).is_ok();
            report.add(Some(sid), None, "catalog copy missing or stale".into(), fixed);
        }
        for (i, slot) in slots.iter().enumerate() {
            let idx = i as u32;
            report.segments += 1;
            let mut hb = [0u8; SEGMENT_HEADER_LEN];
            if let Err(e) = space.read(idx, 0, &mut hb) {
                report.add(Some(sid), Some(idx), format!("header unreadable: {e}"), false);
                continue;
            }
            let header = SegmentHeader::decode(&hb);
            let gen = gens[i];
            let span = slot.span();
            match (&header, &span) {
                (Ok(h), None) if h.usage == SegmentUse::Free || hb.iter().all(|&b| b == 0) => {}
                (Err(_), None) if hb.iter().all(|&b| b == 0) => {}
                (Ok(h), Some(sp))
                    if h.usage == sp.usage && h.generation == gen && h.stream == sp.stream && h.pool == sp.pool => {}
                (h, _) => {
                    let what = format!(
                        "header {:?} does not match the index (generation {gen}, {:?})",
                        h.as_ref().map(|h| (h.usage, h.generation)),
                        span.map(|s| s.stream)
                    );
                    // A free segment (e.g. given up under TolerateAnyCorruption)
                    // may safely get a fresh Free header with its generation.
                    let fixed = repair && span.is_none() && {
                        let header = space.header_bytes(idx, gen, SegmentUse::Free, PoolId(0), StreamId(0), now);
                        space.submit(crate::space::IoCmd::Header { index: idx, data: header, durable: true }).is_ok()
                    };
                    report.add(Some(sid), Some(idx), what, fixed);
                    continue;
                }
            }
            let Some(sp) = span else { continue };
            *counted.entry((sp.pool, sid)).or_insert(0) += 1;
            let owner_known = known_pools.contains_key(&sp.pool)
                && (sp.usage == SegmentUse::Picture || known_streams.contains_key(&sp.stream));
            if !owner_known {
                report.add(
                    Some(sid),
                    Some(idx),
                    format!("orphan segment of unknown pool {} / stream {}", sp.pool, sp.stream),
                    repair,
                );
                orphans.push((sid, idx));
                continue;
            }
            if sp.usage == SegmentUse::Picture {
                check_pictures(inner, space, idx, gen, slot, repair, &mut report);
            } else {
                check_video(inner, space, idx, gen, slot, sp.stream, repair, &mut report);
            }
        }
    }
    {
        let st = inner.lock_state();
        for (k, n) in &counted {
            if st.used.get(k).copied().unwrap_or(0) != *n {
                report.add(
                    Some(k.1),
                    None,
                    format!("pool {} usage counter {} != {n} segments", k.0, st.used.get(k).copied().unwrap_or(0)),
                    false,
                );
            }
        }
        for p in &catalog.pools {
            for &(sid, quota) in &p.quotas {
                let used = counted.get(&(p.id, sid)).copied().unwrap_or(0);
                if used > quota {
                    report.add(Some(sid), None, format!("pool {} uses {used} segments, quota {quota}", p.id), false);
                }
            }
        }
    }
    let dangling: Vec<LockId> = catalog
        .locks
        .iter()
        .filter(|l| match &l.target {
            LockTarget::Stream(s) => !known_streams.contains_key(s),
            LockTarget::Pictures { pool, .. } => !catalog.pools.iter().any(|p| p.id == *pool),
        })
        .map(|l| l.id)
        .collect();
    for l in &dangling {
        report.add(None, None, format!("lock {l} refers to an unknown stream or pool"), repair);
    }
    if repair {
        {
            let mut st = inner.lock_state();
            for (sid, idx) in orphans {
                st.free_segment(sid, idx, now, &inner.events, false);
            }
        }
        if !dangling.is_empty() {
            inner.change_catalog(|st| {
                st.catalog.locks.retain(|l| !dangling.contains(&l.id));
                Ok(())
            })?;
        }
        inner.sync_all()?;
    }
    Ok(report)
}

/// A sealed segment without a valid footer: report it, and with `repair`
/// write the footer the scan found.
fn report_footer(space: &Space, idx: u32, footer: Option<Vec<u8>>, repair: bool, report: &mut CheckReport) {
    let fixed = repair
        && footer.is_some_and(|footer| {
            space
                .write_direct(idx, space.sb.segment_size - footer.len() as u64, &footer)
                .and_then(|_| space.sync_all_direct())
                .is_ok()
        });
    report.add(Some(space.id), Some(idx), "sealed segment has no valid footer".into(), fixed);
}

/// Footer and every record of a video segment.
#[allow(clippy::too_many_arguments)]
fn check_video(
    inner: &Inner,
    space: &Arc<Space>,
    idx: u32,
    gen: u32,
    slot: &Slot,
    stream: StreamId,
    repair: bool,
    report: &mut CheckReport,
) {
    let sid = space.id;
    if let Slot::Sealed(_) = slot {
        match read_footer(space, idx, gen) {
            Ok(Some(_)) => {}
            Ok(None) => match scan_segment(space, idx, gen, stream, Vec::new()) {
                Ok(scanned) => {
                    let footer = (!scanned.records.is_empty()).then(|| encode_footer(gen, &scanned.records));
                    report_footer(space, idx, footer, repair, report);
                }
                Err(e) => {
                    report.add(Some(sid), Some(idx), format!("segment unreadable: {e}"), false);
                    return;
                }
            },
            Err(e) => {
                report.add(Some(sid), Some(idx), format!("footer unreadable: {e}"), false);
                return;
            }
        }
    }
    let view = SegView { space: Arc::clone(space), index: idx, gen, slot: slot.clone() };
    let records = match segment_records(inner, &view) {
        Ok(r) => r,
        Err(e) => {
            report.add(Some(sid), Some(idx), format!("record list unreadable: {e}"), false);
            return;
        }
    };
    let mut prev = Timestamp::MIN;
    for e in records.iter() {
        report.records += 1;
        if e.first_ts <= prev {
            report.add(Some(sid), Some(idx), format!("record at {} out of time order", e.offset), false);
        }
        prev = e.last_ts;
        if let Err(err) = read_record(inner, space, idx, gen, stream, e) {
            report.add(Some(sid), Some(idx), format!("record at offset {}: {err}", e.offset), false);
        }
    }
}

/// Footer and every needle of a picture segment (deleted ones included: their
/// bytes must still verify).
fn check_pictures(
    inner: &Inner,
    space: &Arc<Space>,
    idx: u32,
    gen: u32,
    slot: &Slot,
    repair: bool,
    report: &mut CheckReport,
) {
    let sid = space.id;
    if let Slot::Sealed(_) = slot {
        match read_picture_footer(space, idx, gen) {
            Ok(Some(_)) => {}
            Ok(None) => match scan_picture_segment(space, idx, gen, Vec::new()) {
                Ok(scanned) => {
                    let footer = (!scanned.needles.is_empty()).then(|| encode_picture_footer(gen, &scanned.needles));
                    report_footer(space, idx, footer, repair, report);
                }
                Err(e) => {
                    report.add(Some(sid), Some(idx), format!("segment unreadable: {e}"), false);
                    return;
                }
            },
            Err(e) => {
                report.add(Some(sid), Some(idx), format!("footer unreadable: {e}"), false);
                return;
            }
        }
    }
    let needles = match inner.picture_entries(space, idx, gen, slot) {
        Ok(n) => n,
        Err(e) => {
            report.add(Some(sid), Some(idx), format!("needle list unreadable: {e}"), false);
            return;
        }
    };
    for e in needles.iter() {
        report.records += 1;
        let mut buf = vec![0u8; e.len as usize];
        let verified = space.read(idx, e.offset as u64, &mut buf).map_err(|e| e.to_string()).and_then(|_| {
            let h = NeedleHeader::parse(&buf).map_err(|e| e.to_string())?;
            if h.generation != gen || h.cookie != e.cookie || h.total_len() != e.len as u64 {
                return Err("needle does not match its index entry".to_string());
            }
            h.verify_head(&buf).map_err(|e| e.to_string())?;
            h.verify_data(&buf[h.head_len()..]).map_err(|e| e.to_string())
        });
        if let Err(why) = verified {
            report.add(Some(sid), Some(idx), format!("needle at offset {}: {why}", e.offset), false);
        }
    }
}
