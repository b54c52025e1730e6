//! A pool's picture writer: the one open picture segment every camera of the
//! pool appends needles to. The costly part of a put (copy, MD5, data CRC)
//! runs before its lock is taken; under it only the offset is assigned, the
//! chain CRC computed over the small header and the write queued to the
//! space's I/O thread, so concurrent puts overlap. Durability is the I/O
//! thread's group commit, as for video.

use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::format::needle::{next_needle_offset, NeedleDraft};
use crate::format::segment::{footer_len, DATA_START};
use crate::picture_id::PictureId;
use crate::space::{IoCmd, OpenSeg, Space};
use crate::store::{SegOwner, Slot};
use crate::stream::{allocate_segment, seal_segment};
use crate::types::*;
use parking_lot::Mutex;
use std::sync::Arc;

/// The open picture segment and where its next needle goes.
#[derive(Debug)]
struct PicSlot {
    space: Arc<Space>,
    open: Arc<OpenSeg>,
    next: u64,
    count: usize,
    prev_crc: u32,
}

#[derive(Debug, Default)]
struct WriterState {
    slot: Option<PicSlot>,
    /// Spaces written to since open: a picture sync covers each of them.
    spaces: Vec<Arc<Space>>,
    /// Pictures whose key was put again: deleted after the next sync.
    replaced: Vec<PictureId>,
}

/// The picture writer of one pool.
#[derive(Debug)]
pub(crate) struct PictureWriter {
    pub pool: PoolId,
    state: Mutex<WriterState>,
}

impl PictureWriter {
    pub fn new(pool: PoolId) -> Self {
        PictureWriter { pool, state: Mutex::new(WriterState::default()) }
    }

    /// Places a needle and waits until it is written (readable; durable after
    /// the next sync of the pool's pictures). A key is queued for the key
    /// index under the lock, so a segment's keys are queued in needle order.
    pub fn put(&self, inner: &Inner, draft: NeedleDraft, key: Option<(&PictureKey, Timestamp)>) -> Result<PictureId> {
        let len = draft.len() as u64;
        let (id, written) = {
            let mut g = self.state.lock();
            let slot = loop {
                if g.slot.as_ref().is_some_and(|s| !s.space.writable()) {
                    // Its space was lost or failed: continue on another one.
                    g.slot = None;
                }
                let slot = match g.slot.take() {
                    Some(s) => s,
                    None => self.take_slot(inner)?,
                };
                let seg_size = slot.space.sb.segment_size;
                if slot.next + len + footer_len(slot.count + 1) <= seg_size {
                    break slot;
                }
                if slot.count == 0 {
                    let max = seg_size.saturating_sub(DATA_START + footer_len(1)) as usize;
                    return Err(Error::PictureSize { len: len as usize, max });
                }
                seal_segment(inner, &slot.space, &slot.open);
            };
            let (data, entry) = draft.place(slot.open.generation, slot.next as u32, slot.prev_crc);
            let id = PictureId {
                space: slot.space.id,
                segment: slot.open.index,
                generation: slot.open.generation,
                offset: entry.offset,
                len: entry.len,
                cookie: entry.cookie,
            };
            inner.keys.placed(id, slot.count as u32, key);
            let (tx, rx) = crossbeam_channel::bounded(1);
            let cmd = IoCmd::Needle { offset: slot.next, data, entry, open: Arc::clone(&slot.open), done: tx };
            let space = Arc::clone(&slot.space);
            let next = next_needle_offset(slot.next + len);
            g.slot = Some(PicSlot { next, count: slot.count + 1, prev_crc: entry.crc, ..slot });
            if !g.spaces.iter().any(|s| Arc::ptr_eq(s, &space)) {
                g.spaces.push(Arc::clone(&space));
            }
            space.submit(cmd)?;
            (id, (space.id, rx))
        };
        let (sid, rx) = written;
        rx.recv().map_err(|_| Error::SpaceFailed(sid))??;
        Ok(id)
    }

    /// Continues the picture segment recovered at open, or allocates one.
    fn take_slot(&self, inner: &Inner) -> Result<PicSlot> {
        {
            let mut st = inner.lock_state();
            if let Some((sid, idx)) = st.resumable_pictures.remove(&self.pool) {
                if let Some(rt) = st.spaces.get(&sid).filter(|rt| rt.space.writable()) {
                    if let Some(Slot::Open(open)) = rt.slots.get(idx as usize) {
                        let g = open.inner.lock();
                        return Ok(PicSlot {
                            space: Arc::clone(&rt.space),
                            open: Arc::clone(open),
                            next: next_needle_offset(g.used()),
                            count: g.needles.len(),
                            prev_crc: g.needles.last().map_or(0, |n| n.crc),
                        });
                    }
                }
            }
        }
        let (space, open) = allocate_segment(inner, self.pool, SegOwner::Pictures)?;
        Ok(PicSlot { space, open, next: DATA_START, count: 0, prev_crc: 0 })
    }

    /// Notes a picture whose key now names a newer one.
    pub fn replaced(&self, id: PictureId) {
        self.state.lock().replaced.push(id);
    }

    /// Pictures replaced so far: the caller deletes them once the sync it
    /// is about to wait for has made their replacements durable.
    pub fn take_replaced(&self) -> Vec<PictureId> {
        std::mem::take(&mut self.state.lock().replaced)
    }

    /// The spaces a sync of this pool's pictures must cover.
    pub fn spaces(&self) -> Vec<Arc<Space>> {
        self.state.lock().spaces.clone()
    }

    /// Seals the open picture segment (retention of an idle pool, shutdown).
    pub fn close_segment(&self, inner: &Inner) {
        if let Some(slot) = self.state.lock().slot.take() {
            seal_segment(inner, &slot.space, &slot.open);
        }
    }
}
