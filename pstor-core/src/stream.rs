//! A stream's write side: frames are buffered into a chunk (bounded by bytes
//! and by time span), and a full chunk becomes one record queued to its
//! segment's space I/O thread. Appends take only the stream's own lock; the
//! engine lock is taken once per segment (allocation, seal).

use crate::checksum::Checksummed;
use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::format::record::ChunkBuilder;
use crate::format::record::{FRAME_ENTRY_LEN, RECORD_HEADER_LEN};
use crate::format::segment::{footer_len, DATA_START};
use crate::space::{IoCmd, OpenSeg, Space};
use crate::types::*;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The segment a stream is appending to.
#[derive(Debug)]
pub(crate) struct WriteSlot {
    pub space: Arc<Space>,
    pub open: Arc<OpenSeg>,
    /// Offset of the next record.
    pub next: u64,
    /// Records queued to this segment.
    pub count: usize,
    /// CRC of the last record queued.
    pub prev_crc: u32,
    /// Newest frame queued to this segment.
    pub last_ts: Timestamp,
}

/// A stream's mutable write state.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub last_ts: Option<Timestamp>,
    pub chunk: ChunkBuilder,
    /// When the first frame of the current chunk arrived (wall clock).
    pub chunk_since: Option<Instant>,
    pub slot: Option<WriteSlot>,
    /// Spaces written since the last sync.
    pub dirty: Vec<Arc<Space>>,
    /// A write error not yet reported by a sync.
    pub pending_error: Option<String>,
    /// The stream was deleted with its pool.
    pub deleted: bool,
}

/// A registered stream at run time.
#[derive(Debug)]
pub(crate) struct StreamHandle {
    pub id: StreamId,
    pub pool: PoolId,
    pub writer: Mutex<Writer>,
    /// Largest frame that fits an empty segment of the pool (0 = not known yet).
    fit: AtomicU64,
}

impl StreamHandle {
    /// A handle with nothing appended yet; loading a space that holds the
    /// stream's data raises `last_ts` to its newest frame.
    pub fn new(id: StreamId, pool: PoolId) -> Self {
        StreamHandle { id, pool, writer: Mutex::new(Writer::default()), fit: AtomicU64::new(0) }
    }

    /// The largest frame accepted: the engine limit, or less if the pool's
    /// smallest segment cannot hold it as a record of its own.
    fn max_frame(&self, inner: &Inner) -> usize {
        let mut fit = self.fit.load(Ordering::Relaxed);
        if fit == 0 {
            let st = inner.lock_state();
            let smallest = st
                .pool(self.pool)
                .ok()
                .and_then(|p| p.quotas.iter().map(|q| st.segment_size(q.0)).filter(|&s| s > 0).min());
            fit = smallest.map_or(u64::MAX, |seg| {
                seg.saturating_sub(DATA_START + footer_len(1) + (RECORD_HEADER_LEN + FRAME_ENTRY_LEN) as u64)
            });
            self.fit.store(fit, Ordering::Relaxed);
        }
        inner.opts.max_frame_bytes.min(usize::try_from(fit).unwrap_or(usize::MAX))
    }

    /// Appends one frame.
    pub fn append(&self, inner: &Inner, ts: Timestamp, key: bool, frame: Checksummed) -> Result<()> {
        let len = frame.data().len();
        let max = self.max_frame(inner);
        if len == 0 || len > max {
            return Err(Error::FrameSize { len, max });
        }
        let mut w = self.writer.lock();
        if w.deleted {
            return Err(Error::StreamNotFound(self.id));
        }
        if let Some(last) = w.last_ts {
            if ts == last {
                return Err(Error::DuplicateTimestamp { stream: self.id, ts });
            }
            if ts < last {
                return Err(Error::OutOfOrder { stream: self.id, last, got: ts });
            }
        }
        // Emit the buffered chunk first if this frame would overflow it, so
        // an error (pool full) refuses this frame and keeps earlier ones.
        if let Some(first) = w.chunk.first_ts() {
            if ts.saturating_sub(first) > inner.opts.chunk_max_span_us
                || w.chunk.encoded_len_with(len) > inner.opts.chunk_max_bytes
            {
                self.emit_chunk(inner, &mut w)?;
            }
        }
        if w.chunk.is_empty() {
            w.chunk_since = Some(Instant::now());
        }
        w.chunk.push(ts, key, frame);
        w.last_ts = Some(ts);
        Ok(())
    }

    /// Turns the buffered chunk (if any) into a record queued for writing.
    pub fn emit_chunk(&self, inner: &Inner, w: &mut Writer) -> Result<()> {
        if w.chunk.is_empty() {
            return Ok(());
        }
        let len = w.chunk.encoded_len() as u64;
        loop {
            if w.slot.as_ref().is_some_and(|s| !s.space.writable()) {
                // Its space was lost or failed: continue on another one.
                w.slot = None;
            }
            if w.slot.is_none() {
                w.slot = Some(self.take_slot(inner)?);
            }
            let Some(slot) = w.slot.as_mut() else { continue };
            let seg_size = slot.space.sb.segment_size;
            let first_ts = w.chunk.first_ts().unwrap_or(Timestamp::MIN);
            // After a long silence, start a new segment so retention is not
            // held back by old frames sharing a segment with new ones.
            let long_gap = slot.count > 0 && first_ts.saturating_sub(slot.last_ts) > inner.opts.segment_split_gap_us;
            if long_gap || slot.next + len + footer_len(slot.count + 1) > seg_size {
                if long_gap {
                    if let Some(old) = w.slot.take() {
                        seal_segment(inner, &old.space, &old.open);
                    }
                    continue;
                }
                if slot.count == 0 {
                    let max = (seg_size - DATA_START - footer_len(1)) as usize;
                    return Err(Error::FrameSize { len: len as usize, max });
                }
                if let Some(full) = w.slot.take() {
                    seal_segment(inner, &full.space, &full.open);
                }
                continue;
            }
            let (buf, entry) = w.chunk.take_record(self.id, slot.open.generation, slot.next as u32, slot.prev_crc);
            let cmd = IoCmd::Record { offset: slot.next, data: buf, entry, open: Arc::clone(&slot.open) };
            slot.next += len;
            slot.count += 1;
            slot.prev_crc = entry.crc;
            slot.last_ts = entry.last_ts;
            let space = Arc::clone(&slot.space);
            w.chunk_since = None;
            if let Err(e) = space.submit(cmd) {
                // The record is gone with its space; the next sync reports it.
                w.pending_error = Some(e.to_string());
                inner
                    .events
                    .emit(inner.clock.now(), EventKind::RecordingError { stream: self.id, message: e.to_string() });
            }
            if !w.dirty.iter().any(|d| Arc::ptr_eq(d, &space)) {
                w.dirty.push(space);
            }
            return Ok(());
        }
    }

    /// Continues the segment recovered at open, or allocates a new one.
    fn take_slot(&self, inner: &Inner) -> Result<WriteSlot> {
        let mut st = inner.lock_state();
        if let Some((sid, idx)) = st.resumable.remove(&self.id) {
            if let Some(rt) = st.spaces.get(&sid).filter(|rt| rt.space.writable()) {
                if let Some(crate::store::Slot::Open(open)) = rt.slots.get(idx as usize) {
                    let g = open.inner.lock();
                    let slot = WriteSlot {
                        space: Arc::clone(&rt.space),
                        open: Arc::clone(open),
                        next: g.records.last().map_or(DATA_START, |r| r.end()),
                        count: g.records.len(),
                        prev_crc: g.records.last().map_or(0, |r| r.crc),
                        last_ts: g.records.last().map_or(Timestamp::MIN, |r| r.last_ts),
                    };
                    return Ok(slot);
                }
            }
        }
        drop(st);
        let (space, open) = allocate_segment(inner, self.pool, crate::store::SegOwner::Stream(self.id))?;
        Ok(WriteSlot { space, open, next: DATA_START, count: 0, prev_crc: 0, last_ts: Timestamp::MIN })
    }

    /// Queues the buffered chunk and returns the spaces to sync.
    pub fn prepare_sync(&self, inner: &Inner) -> Result<Vec<Arc<Space>>> {
        let mut w = self.writer.lock();
        self.emit_chunk(inner, &mut w)?;
        if let Some(e) = w.pending_error.take() {
            w.dirty.clear();
            return Err(Error::Io { context: "writing buffered frames".into(), source: std::io::Error::other(e) });
        }
        Ok(std::mem::take(&mut w.dirty))
    }

    /// Seals the open segment (retention of an idle stream, shutdown of a pool).
    pub fn close_segment(&self, inner: &Inner) -> Result<()> {
        let mut w = self.writer.lock();
        self.emit_chunk(inner, &mut w)?;
        if let Some(slot) = w.slot.take() {
            seal_segment(inner, &slot.space, &slot.open);
        }
        Ok(())
    }
}

/// Allocates a new open segment in `pool` (recycling if the pool is full and
/// its strategy allows); a refusal raises a `PoolFull` event.
pub(crate) fn allocate_segment(
    inner: &Inner,
    pool: PoolId,
    owner: crate::store::SegOwner,
) -> Result<(Arc<Space>, Arc<OpenSeg>)> {
    let now = inner.clock.now();
    let mut st = inner.lock_state();
    let mut res = st.allocate(pool, owner, now, &inner.events);
    if let Err(Error::PoolFull {
        reason: crate::FullReason::OnlyLockedData | crate::FullReason::HeldOpen { .. }, ..
    }) = &res
    {
        // Segments whose seal is queued become recyclable once their
        // footer is written: wait for that, then try once more.
        let busy = st.seals_in_flight(pool);
        if !busy.is_empty() {
            drop(st);
            for s in busy {
                s.barrier()?;
            }
            st = inner.lock_state();
            res = st.allocate(pool, owner, inner.clock.now(), &inner.events);
        }
    }
    if let Err(Error::PoolFull { pool, reason }) = &res {
        inner.events.emit(now, EventKind::PoolFull { pool: *pool, reason: *reason });
    }
    res
}

/// Queues the footer write of a full or closed segment (video or pictures);
/// the engine marks it sealed when the I/O thread has written it.
pub(crate) fn seal_segment(inner: &Inner, space: &Space, open: &Arc<OpenSeg>) {
    let weak = inner.weak();
    let sid = space.id;
    let sealed = Arc::clone(open);
    let done = Box::new(move |_written: Result<()>| {
        if let Some(inner) = weak.upgrade() {
            inner.on_sealed(sid, sealed);
        }
    });
    open.sealing.store(true, std::sync::atomic::Ordering::SeqCst);
    if space.submit(IoCmd::Seal { open: Arc::clone(open), done }).is_err() {
        // The space is gone; what was written stays readable until restart,
        // when the segment is scanned.
        inner.on_sealed(sid, Arc::clone(open));
    }
}
