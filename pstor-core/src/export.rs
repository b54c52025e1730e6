//! Exporting a range of a stream into another container (the playback
//! service's `.mp4`, built on the fly): which records hold the range and
//! each one's frame table, read without the frames, so the file's layout is
//! known before its first byte; then the records themselves, verified
//! (generation, stream, CRC), as the client pulls the file.
//!
//! Reads that are not verified by a CRC (a frame table, the first bytes of
//! a key frame) check the segment's generation after the read: recycling
//! bumps the generation before the segment is written again, so bytes read
//! under an unchanged generation are this generation's.

use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::format::record::{decode_table, verify_record, RecordHeader, RECORD_HEADER_LEN};
use crate::format::segment::{RecordEntry, NO_KEY};
use crate::read::{current_generation, range_records, READ_BATCH_BYTES};
use crate::space::Space;
use crate::types::{SpaceId, StreamId, Timestamp};
use bytes::Bytes;
use std::sync::Arc;

/// One stored record of a stream: where it lies and what its index says
/// of it. Cheap to clone; holds no frame data.
#[derive(Debug, Clone)]
pub struct RecordRef {
    space: Arc<Space>,
    segment: u32,
    generation: u32,
    entry: RecordEntry,
}

impl RecordRef {
    /// The storage space.
    pub fn space_id(&self) -> SpaceId {
        self.space.id
    }
    /// The segment's index in its space.
    pub fn segment(&self) -> u32 {
        self.segment
    }
    /// The segment's generation when the record was listed.
    pub fn generation(&self) -> u32 {
        self.generation
    }
    /// Offset of the record in its segment.
    pub fn offset(&self) -> u32 {
        self.entry.offset
    }
    /// Length of the whole record (header, frame table, frames).
    pub fn len(&self) -> u32 {
        self.entry.len
    }
    /// Never: a record holds at least one frame.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// Its number of frames.
    pub fn frames(&self) -> u32 {
        self.entry.frames
    }
    /// Its first frame's time.
    pub fn first_ts(&self) -> Timestamp {
        self.entry.first_ts
    }
    /// Its last frame's time.
    pub fn last_ts(&self) -> Timestamp {
        self.entry.last_ts
    }
    /// Its first key frame's time, if it has one.
    pub fn first_key_ts(&self) -> Option<Timestamp> {
        (self.entry.first_key_ts != NO_KEY).then_some(self.entry.first_key_ts)
    }
    /// Its CRC: with space, segment, generation and offset, what identifies
    /// its content (an exporter's ETag is made of these).
    pub fn crc(&self) -> u32 {
        self.entry.crc
    }
    /// Where its frame data starts (after header and frame table).
    pub fn data_offset(&self) -> u32 {
        (RECORD_HEADER_LEN + self.entry.frames as usize * crate::format::record::FRAME_ENTRY_LEN) as u32
    }
    /// Whether `next` follows this record directly in the same segment.
    fn adjacent(&self, next: &RecordRef) -> bool {
        Arc::ptr_eq(&self.space, &next.space)
            && self.segment == next.segment
            && self.generation == next.generation
            && next.entry.offset as u64 == self.entry.end()
    }
}

/// The records of a range, as [`crate::Engine::export_records`] finds them.
#[derive(Debug, Clone)]
pub struct ExportRecords {
    /// In time order. The first holds the range's first frame or the key
    /// frame before it.
    pub records: Vec<RecordRef>,
    /// `Some(u)`: recording runs up to the range's start, and the key
    /// frame to start from is the last key frame at or before `start` in
    /// `records[..=u]`. `None`: the range starts after a gap (or no key
    /// frame is near); start at the first key frame at or after `start`.
    pub key_within: Option<usize>,
}

/// A frame as a record's frame table describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMeta {
    /// Capture time (µs UTC).
    pub ts: Timestamp,
    /// Length of its data.
    pub len: u32,
    /// Key frame.
    pub key: bool,
    /// Offset of its data from the start of the record.
    pub offset: u32,
}

/// A record's frame table and the first bytes of its frame data.
#[derive(Debug, Clone)]
pub struct RecordHead {
    /// Its frames, in order.
    pub frames: Vec<FrameMeta>,
    /// Up to the asked number of bytes from the start of the frame data
    /// (the first frame's, then the next's): a key frame's parameter sets
    /// are usually in it.
    pub lead: Bytes,
}

/// The error for a record whose segment was recycled after it was listed.
fn overwritten(stream: StreamId, r: &RecordRef) -> Error {
    Error::Overwritten { stream, ts: r.entry.first_ts }
}

/// Reads part of a record and makes sure the segment still holds the
/// record's generation afterwards.
fn read_checked(inner: &Inner, stream: StreamId, r: &RecordRef, at: u32, buf: &mut [u8]) -> Result<()> {
    if current_generation(inner, &r.space, r.segment) != Some(r.generation) {
        return Err(overwritten(stream, r));
    }
    r.space.read(r.segment, r.entry.offset as u64 + at as u64, buf)?;
    if current_generation(inner, &r.space, r.segment) != Some(r.generation) {
        return Err(overwritten(stream, r));
    }
    Ok(())
}

pub(crate) fn export_records(
    inner: &Inner,
    stream: StreamId,
    start: Timestamp,
    end: Timestamp,
) -> Result<ExportRecords> {
    let (records, key) = range_records(inner, stream, start, end)?;
    let records = records
        .into_iter()
        .map(|(space, segment, generation, entry)| RecordRef { space, segment, generation, entry })
        .collect();
    Ok(ExportRecords { records, key_within: key.map(|(_, u)| u) })
}

pub(crate) fn record_head(inner: &Inner, stream: StreamId, r: &RecordRef, lead: usize) -> Result<RecordHead> {
    let data_at = r.data_offset();
    let data_len = r.entry.len.checked_sub(data_at).ok_or_else(|| {
        Error::Corrupt(format!("segment {} offset {}: record shorter than its frame table", r.segment, r.entry.offset))
    })?;
    let lead = lead.min(data_len as usize);
    let mut buf = vec![0u8; data_at as usize + lead];
    read_checked(inner, stream, r, 0, &mut buf)?;
    let bad = |what: String| {
        Error::Corrupt(format!("space {} segment {} offset {}: {what}", r.space.id, r.segment, r.entry.offset))
    };
    let h = RecordHeader::parse(&buf).map_err(|e| bad(e.to_string()))?;
    if h.generation != r.generation
        || h.stream != stream
        || h.frames != r.entry.frames
        || h.total_len() != r.entry.len as u64
    {
        return Err(bad("the record does not match the segment's index".into()));
    }
    if h.crc != r.entry.crc {
        // The same place and generation, another record (a crash rewrote
        // an unsynced tail): not the one listed.
        return Err(overwritten(stream, r));
    }
    let table =
        decode_table(&buf[RECORD_HEADER_LEN..data_at as usize], &h, data_len as u64).map_err(|e| bad(e.to_string()))?;
    let mut offset = data_at;
    let frames = table
        .into_iter()
        .map(|e| {
            let f = FrameMeta { ts: e.ts, len: e.len, key: e.key, offset };
            offset += e.len;
            f
        })
        .collect();
    let lead = Bytes::from(buf).slice(data_at as usize..);
    Ok(RecordHead { frames, lead })
}

pub(crate) fn read_part(inner: &Inner, stream: StreamId, r: &RecordRef, at: u32, len: u32) -> Result<Bytes> {
    if at as u64 + len as u64 > r.entry.len as u64 {
        return Err(Error::InvalidArgument(format!("bytes {at}..+{len} are beyond a record of {} bytes", r.entry.len)));
    }
    let mut buf = vec![0u8; len as usize];
    read_checked(inner, stream, r, at, &mut buf)?;
    Ok(Bytes::from(buf))
}

pub(crate) fn read_verified(inner: &Inner, stream: StreamId, refs: &[RecordRef]) -> Result<Vec<Bytes>> {
    let mut out = Vec::with_capacity(refs.len());
    let mut i = 0;
    while i < refs.len() {
        // A run of adjacent records, up to READ_BATCH_BYTES: one pread.
        let mut j = i + 1;
        while j < refs.len()
            && refs[j - 1].adjacent(&refs[j])
            && refs[j].entry.end() - refs[i].entry.offset as u64 <= READ_BATCH_BYTES
        {
            j += 1;
        }
        let (first, last) = (&refs[i], &refs[j - 1]);
        let mut buf = vec![0u8; (last.entry.end() - first.entry.offset as u64) as usize];
        first.space.read(first.segment, first.entry.offset as u64, &mut buf)?;
        let buf = Bytes::from(buf);
        for r in &refs[i..j] {
            let at = (r.entry.offset - first.entry.offset) as usize;
            let bytes = buf.slice(at..at + r.entry.len as usize);
            let checked = verify_record(&bytes, r.generation, stream).map(|h| h.crc);
            match checked {
                Ok(crc) if crc == r.entry.crc => {}
                // The same place and generation, another record (a crash
                // rewrote an unsynced tail): not what was listed.
                Ok(_) => return Err(overwritten(stream, r)),
                Err(_) if current_generation(inner, &r.space, r.segment) != Some(r.generation) => {
                    return Err(overwritten(stream, r))
                }
                Err(e) => {
                    return Err(Error::Corrupt(format!(
                        "space {} segment {} offset {}: {e}",
                        r.space.id, r.segment, r.entry.offset
                    )))
                }
            }
            out.push(bytes);
        }
        i = j;
    }
    Ok(out)
}

/// Hints the storage that these records will be read soon.
pub(crate) fn prefetch(refs: &[RecordRef]) {
    let (Some(first), Some(last)) = (refs.first(), refs.last()) else { return };
    if refs.windows(2).all(|w| w[0].adjacent(&w[1])) {
        first.space.will_need(first.segment, first.entry.offset as u64, last.entry.end() - first.entry.offset as u64);
    } else {
        for r in refs {
            r.space.will_need(r.segment, r.entry.offset as u64, r.entry.len as u64);
        }
    }
}
