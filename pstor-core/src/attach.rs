//! Putting a space in service: from what recovery found on disk to the
//! engine's tables (segment table, pool usage, each stream's segments), the
//! open segments streams continue, and the seals a crash cut short.

use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::format::catalog::SpaceRef;
use crate::format::checkpoint::{Checkpoint, CHECKPOINT_FILE};
use crate::format::segment::SegmentUse;
use crate::format::superblock::{SuperBlock, SUPERBLOCK_FILE};
use crate::io::read_whole;
use crate::open_report::SpaceRecovery;
use crate::recovery::{load_segments, Found};
use crate::space::{JobControl, OpenSeg, Space, SpaceStatus};
use crate::store::{Detached, Sealed, Slot, SpaceRt};
use crate::types::*;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

impl Inner {
    /// Attaches a space listed in the catalog at open; says what it found.
    pub(crate) fn attach_known(&self, r: &SpaceRef) -> Result<SpaceRecovery> {
        let path = PathBuf::from(&r.path);
        let sb_path = path.join(SUPERBLOCK_FILE);
        // Not put in service: listed with its status and why.
        let detach = |status: SpaceStatus, reason: String| {
            let mut st = self.lock_state();
            st.detached.insert(r.id, Detached { path: r.path.clone(), status, reason: reason.clone(), job: None });
            drop(st);
            SpaceRecovery::not_in_service(r.id, path.clone(), status, reason)
        };
        let lost = |reason: String| {
            self.events.emit(
                self.clock.now(),
                EventKind::SpaceStatus { space: r.id, status: SpaceStatus::Lost, detail: reason.clone() },
            );
            detach(SpaceStatus::Lost, reason)
        };
        let bytes = match read_whole(self.storage.as_ref(), &sb_path) {
            Ok(b) => b,
            // The folder is there but holds no space any more (wiped by
            // hand): Uninitialized, not Lost.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.storage.is_dir(&path) => {
                let reason = format!("{} has no superblock: the folder is not initialized", path.display());
                return Ok(detach(SpaceStatus::Uninitialized, reason));
            }
            Err(e) => return Ok(lost(format!("cannot read {}: {e}", sb_path.display()))),
        };
        let sb = match SuperBlock::decode(&bytes) {
            Ok(sb) => sb,
            Err(e) => return Ok(detach(SpaceStatus::Error, format!("superblock unreadable: {e}"))),
        };
        if sb.space_uuid != r.uuid {
            return Ok(lost(format!("{} now holds a different storage space", path.display())));
        }
        let space = match Space::open(self.storage.as_ref(), &path, sb) {
            Ok(s) => s,
            Err(e @ Error::Io { .. }) => return Ok(lost(e.to_string())),
            Err(e @ Error::InUse(_)) => return Ok(detach(SpaceStatus::Error, e.to_string())),
            Err(e) => return Err(e),
        };
        self.load_space(Arc::new(space), None)
    }

    /// Loads a space's segments and puts it in service; says what recovery
    /// found.
    pub fn load_space(&self, space: Arc<Space>, job: Option<&JobControl>) -> Result<SpaceRecovery> {
        let started = Instant::now();
        let mut report = SpaceRecovery::new(space.id, space.path.clone());
        let ckpt_path = space.path.join(CHECKPOINT_FILE);
        let ckpt = read_whole(self.storage.as_ref(), &ckpt_path).ok().and_then(|b| Checkpoint::decode(&b).ok());
        if let Some(c) = &ckpt {
            let mut seq = self.checkpoint_seq.lock();
            *seq = (*seq).max(c.seq);
        }
        report.clean_checkpoint = ckpt.as_ref().is_some_and(|c| c.clean);
        space.set_status(SpaceStatus::Scanning);
        let found = load_segments(&space, ckpt.as_ref(), self.opts.recovery_mode, job, &mut report)?;
        let now = self.clock.now();
        let mut rt = SpaceRt {
            space: Arc::clone(&space),
            gens: Vec::with_capacity(found.len()),
            slots: Vec::with_capacity(found.len()),
            free: BTreeSet::new(),
        };
        let mut to_seal = Vec::new();
        let mut st = self.lock_state();
        for (i, f) in found.into_iter().enumerate() {
            let idx = i as u32;
            match f {
                Found::Free { gen } => {
                    rt.gens.push(gen);
                    rt.slots.push(Slot::Free);
                    rt.free.insert(idx);
                }
                Found::Sealed { header, trailer } => {
                    rt.gens.push(header.generation);
                    rt.slots.push(Slot::Sealed(Sealed {
                        pool: header.pool,
                        stream: header.stream,
                        usage: header.usage,
                        first_ts: trailer.first_ts,
                        last_ts: trailer.last_ts,
                        used: trailer.used,
                        entries: trailer.records,
                        cameras: trailer.cameras,
                    }));
                }
                Found::Open { header, records, needles, torn } => {
                    if let Some(detail) = torn {
                        report.truncated.push((idx, detail.clone()));
                        self.events.emit(now, EventKind::TailTruncated { space: space.id, segment: idx, detail });
                    }
                    let h = header;
                    rt.gens.push(h.generation);
                    let open = OpenSeg::new(idx, h.generation, h.pool, h.stream, h.usage, records, needles);
                    rt.slots.push(Slot::Open(Arc::new(open)));
                    to_seal.push(idx);
                }
            }
        }
        // Index the segments by stream, in time order, and count pool usage.
        let mut per_stream: HashMap<StreamId, Vec<(Timestamp, u32)>> = HashMap::new();
        for (i, slot) in rt.slots.iter().enumerate() {
            if let Some(sp) = slot.span() {
                *st.used.entry((sp.pool, space.id)).or_insert(0) += 1;
                if sp.usage != SegmentUse::Video {
                    continue;
                }
                let key = if sp.first_ts <= sp.last_ts { sp.first_ts } else { Timestamp::MAX };
                per_stream.entry(sp.stream).or_default().push((key, i as u32));
            }
        }
        for (stream, mut segs) in per_stream {
            segs.sort();
            let mut list = st.by_stream.remove(&stream).unwrap_or_default();
            list.extend(segs.iter().map(|&(_, i)| (space.id, i)));
            // Keep the stream's list in time order across spaces.
            let start_of = |k: &(SpaceId, u32)| -> Timestamp {
                let slot = if k.0 == space.id {
                    rt.slots.get(k.1 as usize)
                } else {
                    st.spaces.get(&k.0).and_then(|r| r.slots.get(k.1 as usize))
                };
                slot.and_then(|s| s.span())
                    .filter(|sp| sp.first_ts <= sp.last_ts)
                    .map_or(Timestamp::MAX, |sp| sp.first_ts)
            };
            list.sort_by_key(start_of);
            st.by_stream.insert(stream, list);
        }
        // The newest open segment of a stream is continued by it; older ones
        // (a seal cut short by a crash) are sealed now.
        let mut resume = Vec::new();
        for idx in to_seal {
            let Some(Slot::Open(o)) = rt.slots.get(idx as usize) else { continue };
            if o.usage == SegmentUse::Picture {
                // A pool's picture writer continues one open picture segment.
                let known_pool = st.catalog.pools.iter().any(|p| p.id == o.pool);
                if known_pool && !st.resumable_pictures.contains_key(&o.pool) {
                    st.resumable_pictures.insert(o.pool, (space.id, idx));
                } else {
                    resume.push(Arc::clone(o));
                }
                continue;
            }
            let newest = st.by_stream.get(&o.stream).and_then(|l| l.last()).copied() == Some((space.id, idx));
            let known_stream = st.catalog.streams.iter().any(|s| s.id == o.stream);
            if newest && known_stream && !st.resumable.contains_key(&o.stream) {
                st.resumable.insert(o.stream, (space.id, idx));
            } else {
                resume.push(Arc::clone(o));
            }
        }
        let mut newest: HashMap<StreamId, Timestamp> = HashMap::new();
        for sp in rt.slots.iter().filter_map(|s| s.span()).filter(|sp| sp.has_data() && sp.usage == SegmentUse::Video) {
            let n = newest.entry(sp.stream).or_insert(sp.last_ts);
            *n = (*n).max(sp.last_ts);
        }
        st.detached.remove(&space.id);
        st.spaces.insert(space.id, rt);
        drop(st);
        // Appends must come after what this space holds of each stream.
        for (stream, ts) in newest {
            if let Ok(h) = self.handle(stream) {
                let mut w = h.writer.lock();
                w.last_ts = Some(w.last_ts.map_or(ts, |l| l.max(ts)));
            }
        }
        space.set_status(SpaceStatus::Normal);
        space.start_io(
            self.opts.io_queue_depth,
            self.opts.writeback_bytes,
            Arc::clone(&self.events),
            Arc::clone(&self.clock),
        );
        report.seals_resumed = resume.len() as u32;
        for open in resume {
            crate::stream::seal_segment(self, &space, &open);
        }
        report.took = started.elapsed();
        Ok(report)
    }
}
