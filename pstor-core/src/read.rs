//! Reading a stream back: from the last key frame at or before the start of a
//! range to its end, one positioned read per record, every record verified
//! (generation, CRC) so recycled or damaged data is reported, never returned.

use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::format::record::{decode_frames, verify_record, Frame};
use crate::format::segment::{RecordEntry, NO_KEY};
use crate::recovery::{read_footer, scan_segment};
use crate::space::Space;
use crate::store::Slot;
use crate::types::*;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// How far before a range's start a read looks for its key frame.
pub const MAX_KEY_LOOKBACK_US: i64 = 10 * 60 * US_PER_SEC;

/// Sealed video segments whose record lists are kept in memory (a 256 MiB
/// segment of 1 MiB chunks lists ~256 records: ~10 KiB each).
pub const FOOTER_CACHE_ENTRIES: usize = 1024;

/// Sealed picture segments whose needle lists are kept in memory (a 256 MiB
/// segment of 50 KiB pictures lists ~5,000 needles: ~200 KiB each).
pub const PICTURE_FOOTER_CACHE_ENTRIES: usize = 64;

type FooterKey = (SpaceId, u32, u32);

/// Cached entry lists and their insertion order (oldest evicted first).
type FooterMap<T> = (HashMap<FooterKey, Arc<Vec<T>>>, VecDeque<FooterKey>);

/// A bounded cache of sealed segments' entry lists (from their footers):
/// video records or picture needles.
#[derive(Debug)]
pub(crate) struct FooterCache<T> {
    inner: Mutex<FooterMap<T>>,
    /// Segments kept.
    capacity: usize,
}

impl<T> FooterCache<T> {
    pub fn new(capacity: usize) -> Self {
        FooterCache { inner: Mutex::new((HashMap::new(), VecDeque::new())), capacity }
    }
    pub fn get(&self, k: &FooterKey) -> Option<Arc<Vec<T>>> {
        self.inner.lock().0.get(k).cloned()
    }
    pub fn insert(&self, k: FooterKey, v: Arc<Vec<T>>) {
        let mut g = self.inner.lock();
        if g.0.insert(k, v).is_none() {
            g.1.push_back(k);
        }
        while g.1.len() > self.capacity {
            if let Some(old) = g.1.pop_front() {
                g.0.remove(&old);
            }
        }
    }
}

/// A segment of a stream as seen by a reader at one moment.
#[derive(Debug, Clone)]
pub(crate) struct SegView {
    pub space: Arc<Space>,
    pub index: u32,
    pub gen: u32,
    pub slot: Slot,
}

/// The stream's segments (time order) whose data may fall in `[from, to]`,
/// and `before` more segments before the first of them. The stream's list
/// is in time order (segments of one stream never overlap, empty open ones
/// last), so both ends are found by binary search: a read costs
/// O(log segments) under the engine lock, not O(segments).
pub(crate) fn segment_views(
    inner: &Inner,
    stream: StreamId,
    from: Timestamp,
    to: Timestamp,
    before: usize,
) -> Result<Vec<SegView>> {
    let st = inner.lock_state();
    st.stream(stream)?;
    let list = st.by_stream.get(&stream).map(|v| v.as_slice()).unwrap_or(&[]);
    let span_of = |&(sid, idx): &(SpaceId, u32)| st.spaces.get(&sid)?.slots.get(idx as usize)?.span();
    let lo = list.partition_point(|k| span_of(k).is_some_and(|sp| sp.has_data() && sp.last_ts < from));
    let hi = list.partition_point(|k| span_of(k).is_some_and(|sp| sp.has_data() && sp.first_ts <= to));
    let mut out = Vec::new();
    for &(sid, idx) in list.get(lo.saturating_sub(before)..hi.max(lo)).unwrap_or(&[]) {
        let Some(rt) = st.spaces.get(&sid) else { continue };
        let Some(slot) = rt.slots.get(idx as usize) else { continue };
        let Some(sp) = slot.span() else { continue };
        if !sp.has_data() || sp.first_ts > to {
            continue;
        }
        out.push(SegView { space: Arc::clone(&rt.space), index: idx, gen: rt.gens[idx as usize], slot: slot.clone() });
    }
    Ok(out)
}

/// The record list of a segment: live for an open one, footer (cached) or a
/// scan for a sealed one.
pub(crate) fn segment_records(inner: &Inner, v: &SegView) -> Result<Arc<Vec<RecordEntry>>> {
    match &v.slot {
        Slot::Open(o) => Ok(Arc::new(o.records())),
        Slot::Free => Ok(Arc::new(Vec::new())),
        Slot::Sealed(s) => {
            let key = (v.space.id, v.index, v.gen);
            if let Some(r) = inner.footers.get(&key) {
                return Ok(r);
            }
            let (records, heal) = match read_footer(&v.space, v.index, v.gen)? {
                Some(r) => (Arc::new(r), false),
                None => (Arc::new(scan_segment(&v.space, v.index, v.gen, s.stream, Vec::new())?.records), true),
            };
            if heal && !records.is_empty() {
                // A crash tore the footer: write it again (best effort).
                let footer = crate::format::segment::encode_footer(v.gen, &records);
                let used = records.last().map_or(0, |r| r.end());
                let cmd = crate::space::IoCmd::Footer {
                    index: v.index,
                    generation: v.gen,
                    usage: crate::format::segment::SegmentUse::Video,
                    used,
                    footer,
                };
                let _ = v.space.submit(cmd);
            }
            inner.footers.insert(key, Arc::clone(&records));
            Ok(records)
        }
    }
}

/// Largest run of adjacent records a range read fetches with one pread:
/// large enough that a cold read streams at disk speed, small enough that a
/// reader who stops early wasted little.
pub const READ_BATCH_BYTES: u64 = 2 << 20;

/// The generation a segment of a space has now (`None`: no such space or
/// segment any more).
pub(crate) fn current_generation(inner: &Inner, space: &Space, segment: u32) -> Option<u32> {
    let st = inner.lock_state();
    st.spaces.get(&space.id).and_then(|rt| rt.gens.get(segment as usize).copied())
}

/// Reads and verifies one record; a generation change means it was recycled.
pub(crate) fn read_record(
    inner: &Inner,
    space: &Space,
    index: u32,
    gen: u32,
    stream: StreamId,
    e: &RecordEntry,
) -> Result<Vec<Frame>> {
    match read_records(inner, space, index, gen, stream, std::slice::from_ref(e)) {
        (_, Some(err)) => Err(err),
        (frames, None) => Ok(frames),
    }
}

/// Reads adjacent records (each starting where the previous one ends) with
/// one positioned read and verifies each (generation, stream, CRC); their
/// frames are slices of that one buffer. Returns the frames of the records
/// before the first one that fails, and that failure.
pub(crate) fn read_records(
    inner: &Inner,
    space: &Space,
    index: u32,
    gen: u32,
    stream: StreamId,
    entries: &[RecordEntry],
) -> (Vec<Frame>, Option<Error>) {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else { return (Vec::new(), None) };
    let base = first.offset as u64;
    let mut buf = vec![0u8; (last.end() - base) as usize];
    if let Err(e) = space.read(index, base, &mut buf) {
        return (Vec::new(), Some(e));
    }
    let buf = Bytes::from(buf);
    let recycled = || current_generation(inner, space, index).is_some_and(|g| g != gen);
    let mut frames = Vec::new();
    for e in entries {
        let at = (e.offset as u64 - base) as usize;
        let bytes = buf.slice(at..at + e.len as usize);
        let checked = verify_record(&bytes, gen, stream).and_then(|h| decode_frames(&bytes, &h));
        let err = match checked {
            Ok(f) => {
                frames.extend(f);
                continue;
            }
            Err(_) if recycled() => Error::Overwritten { stream, ts: e.first_ts },
            Err(err) => Error::Corrupt(format!("space {} segment {index} offset {}: {err}", space.id, e.offset)),
        };
        return (frames, Some(err));
    }
    (frames, None)
}

/// Frames of a time range, read lazily record by record.
#[derive(Debug)]
pub struct FrameIter {
    inner: Arc<Inner>,
    stream: StreamId,
    /// Records to read, in order.
    records: Vec<Located>,
    next: usize,
    /// Frames before this are skipped.
    from: Timestamp,
    end: Timestamp,
    pending: VecDeque<Frame>,
    /// The error to report once the frames before it are out.
    failed: Option<Error>,
    done: bool,
}

impl FrameIter {
    /// The run of adjacent records of one segment starting at record
    /// `start`, at most [`READ_BATCH_BYTES`] (or the one record if larger):
    /// what one read fetches.
    fn run_at(&self, start: usize) -> std::ops::Range<usize> {
        let Some((space, index, gen, first)) = self.records.get(start) else { return start..start };
        let mut end = start + 1;
        for (s, i, g, e) in &self.records[start + 1..] {
            let prev = &self.records[end - 1].3;
            let adjacent = Arc::ptr_eq(s, space) && i == index && g == gen && e.offset as u64 == prev.end();
            if !adjacent || e.end() - first.offset as u64 > READ_BATCH_BYTES {
                break;
            }
            end += 1;
        }
        start..end
    }
}

impl Iterator for FrameIter {
    type Item = Result<Frame>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(f) = self.pending.pop_front() {
                return Some(Ok(f));
            }
            if let Some(err) = self.failed.take() {
                self.done = true;
                return Some(Err(err));
            }
            if self.done || self.next >= self.records.len() {
                return None;
            }
            let run: Vec<RecordEntry> = self.records[self.run_at(self.next)].iter().map(|r| r.3).collect();
            let (space, index, gen, _) = &self.records[self.next];
            self.next += run.len();
            // Let the next run be read ahead while this one is verified and
            // consumed: playback streams at disk speed.
            if self.next < self.records.len() {
                let (s, i, _, e) = &self.records[self.next];
                if let Some(last) = self.records[self.run_at(self.next)].last() {
                    s.will_need(*i, e.offset as u64, last.3.end() - e.offset as u64);
                }
            }
            let (frames, failed) = read_records(&self.inner, space, *index, *gen, self.stream, &run);
            let (from, end) = (self.from, self.end);
            self.pending.extend(frames.into_iter().filter(|f| f.ts >= from && f.ts <= end));
            self.failed = failed;
        }
    }
}

/// A stored record of a stream with where it lies.
pub(crate) type Located = (Arc<Space>, u32, u32, RecordEntry);

/// What [`range_records`] finds: the records and where the key frame is.
pub(crate) type RangeRecords = (Vec<Located>, Option<(usize, usize)>);

/// The records a read of `[start, end]` needs, in order, and where the
/// key frame at or before `start` is to be found: `Some((k, u))` when
/// recording runs up to `start` (records `k..=u` hold that key frame and
/// `start`; the range starts at the last key frame at or before `start` in
/// them); `None` after a gap or with no key frame near (the range starts
/// at the first record reaching `start`). Record lists only, no frame read.
pub(crate) fn range_records(inner: &Inner, stream: StreamId, start: Timestamp, end: Timestamp) -> Result<RangeRecords> {
    if start > end {
        return Err(Error::InvalidArgument(format!("read range {start}..{end} ends before it starts")));
    }
    // Segments older than the key look-back are never read, but the newest
    // of them is where the look-back below stops.
    let views = segment_views(inner, stream, start.saturating_sub(MAX_KEY_LOOKBACK_US), end, 1)?;
    // Only the segments reaching `start`, plus those before it back to the
    // newest one holding a key frame (key look-back; usually just one, but a
    // segment may hold no key frame at all, e.g. one large frame).
    let first = views.iter().position(|v| v.slot.span().is_some_and(|s| s.last_ts >= start)).unwrap_or(views.len());
    let mut back = first.saturating_sub(1);
    while back > 0 {
        let v = &views[back];
        // Bounded: a stream without key frames must not make every read walk
        // back through all its segments.
        let too_old = v.slot.span().is_some_and(|s| s.last_ts < start.saturating_sub(MAX_KEY_LOOKBACK_US));
        if too_old
            || v.space.check_readable().is_ok() && segment_records(inner, v)?.iter().any(|r| r.first_key_ts != NO_KEY)
        {
            break;
        }
        back -= 1;
    }
    let mut records = Vec::new();
    for (i, v) in views.iter().enumerate().skip(back) {
        if let Err(e) = v.space.check_readable() {
            // The look-back segment is optional; one in the range is not.
            if i < first {
                continue;
            }
            return Err(e);
        }
        for e in segment_records(inner, v)?.iter() {
            if e.first_ts <= end {
                records.push((Arc::clone(&v.space), v.index, v.gen, *e));
            }
        }
    }
    // The record holding the last key frame at or before `start`.
    // Look back only when recording runs up to `start`: after a gap, the
    // range starts at the first frame after it, not at stale frames before.
    let tol = inner.opts.gap_tolerance_us;
    let upto = records
        .iter()
        .rposition(|r| r.3.first_ts <= start)
        .filter(|&u| records[u].3.last_ts.saturating_add(tol) >= start);
    let key_rec =
        upto.and_then(|u| records[..=u].iter().rposition(|r| r.3.first_key_ts != NO_KEY && r.3.first_key_ts <= start));
    match (key_rec, upto) {
        (Some(k), Some(u)) => {
            records.drain(..k);
            Ok((records, Some((0, u - k))))
        }
        _ => {
            let first_needed = records.iter().position(|r| r.3.last_ts >= start).unwrap_or(records.len());
            records.drain(..first_needed);
            Ok((records, None))
        }
    }
}

/// Builds the iterator for `[start, end]`, starting at the last key frame at
/// or before `start`.
pub(crate) fn read_range(inner: &Inner, stream: StreamId, start: Timestamp, end: Timestamp) -> Result<FrameIter> {
    let (mut records, key) = range_records(inner, stream, start, end)?;
    let arc = inner.weak().upgrade().ok_or(Error::Closed)?;
    let mut it = FrameIter {
        inner: arc,
        stream,
        records: Vec::new(),
        next: 0,
        from: start,
        end,
        pending: VecDeque::new(),
        failed: None,
        done: false,
    };
    match key {
        Some((k, u)) => {
            // Decode k..=u to find the exact key frame, then go on from u+1.
            let mut frames = Vec::new();
            for (space, index, gen, e) in &records[k..=u] {
                frames.extend(read_record(inner, space, *index, *gen, stream, e)?);
            }
            let p = frames.iter().rposition(|f| f.key && f.ts <= start).unwrap_or(0);
            it.from = frames.get(p).map_or(start, |f| f.ts);
            it.pending = frames.into_iter().skip(p).filter(|f| f.ts <= end).collect();
            it.records = records.split_off(u + 1);
        }
        None => it.records = records,
    }
    Ok(it)
}

/// Recorded ranges within `[start, end]`, gaps up to `tolerance` merged.
pub(crate) fn recorded_ranges(
    inner: &Inner,
    stream: StreamId,
    start: Timestamp,
    end: Timestamp,
    tolerance: i64,
) -> Result<Vec<(Timestamp, Timestamp)>> {
    let views = segment_views(inner, stream, start, end, 0)?;
    let mut out: Vec<(Timestamp, Timestamp)> = Vec::new();
    for v in &views {
        for e in segment_records(inner, v)?.iter() {
            if e.last_ts < start || e.first_ts > end {
                continue;
            }
            let (a, b) = (e.first_ts.max(start), e.last_ts.min(end));
            match out.last_mut() {
                Some(last) if a - last.1 <= tolerance => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
    }
    Ok(out)
}
