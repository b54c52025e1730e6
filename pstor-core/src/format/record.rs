//! Video records (docs/format.md §4): one checksummed chunk of consecutive
//! frames of one stream, written with one positioned write.
//!
//! `[header 56][frame table: count x 16][frame data ...]`, CRC over the
//! header's first 52 bytes and the whole payload. Each record carries the CRC
//! of the record before it in the segment (`prev_crc`), so a record left over
//! from before a crash can never be taken as the successor of a new one.

use super::codec::{bad, DecodeError, Reader, Writer};
use super::segment::{RecordEntry, NO_KEY};
use crate::checksum::{combine, Checksummed};
use crate::types::{StreamId, Timestamp};
use bytes::Bytes;

/// Magic of a record header.
pub const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"PREC");
/// Encoded record header length.
pub const RECORD_HEADER_LEN: usize = 56;
/// Bytes per frame-table entry.
pub const FRAME_ENTRY_LEN: usize = 16;
/// Record kind: a chunk of video frames.
pub const KIND_VIDEO: u8 = 1;
/// Frame flag: key frame.
pub const FRAME_KEY: u32 = 1;

/// One frame as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Capture time (µs UTC).
    pub ts: Timestamp,
    /// Whether it is a key frame (decoding can start here).
    pub key: bool,
    /// The frame bytes (a slice of the record buffer, no copy).
    pub data: Bytes,
}

/// The fixed header of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Generation of the segment the record was written into.
    pub generation: u32,
    /// Length of the payload after the header.
    pub payload_len: u32,
    /// The stream.
    pub stream: StreamId,
    /// First frame timestamp.
    pub first_ts: Timestamp,
    /// Last frame timestamp.
    pub last_ts: Timestamp,
    /// Number of frames.
    pub frames: u32,
    /// CRC of the previous record in the segment (0 for the first).
    pub prev_crc: u32,
    /// Stored CRC.
    pub crc: u32,
}

impl RecordHeader {
    /// Parses a header without checking the CRC (that needs the payload).
    pub fn parse(b: &[u8]) -> Result<Self, DecodeError> {
        let b = b.get(..RECORD_HEADER_LEN).ok_or_else(|| bad("record header: truncated"))?;
        let mut r = Reader::new(b);
        if r.u32()? != RECORD_MAGIC {
            return Err(bad("record header: bad magic"));
        }
        let kind = r.u8()?;
        if kind != KIND_VIDEO {
            return Err(bad(format!("record header: unknown kind {kind}")));
        }
        r.u8()?;
        r.u16()?;
        let h = RecordHeader {
            generation: r.u32()?,
            payload_len: r.u32()?,
            stream: StreamId(r.u64()?),
            first_ts: r.i64()?,
            last_ts: r.i64()?,
            frames: r.u32()?,
            prev_crc: r.u32()?,
            crc: {
                r.u32()?;
                r.u32()?
            },
        };
        if h.frames == 0
            || h.first_ts > h.last_ts
            || (h.frames as u64) * (FRAME_ENTRY_LEN as u64) > h.payload_len as u64
        {
            return Err(bad("record header: inconsistent fields"));
        }
        Ok(h)
    }

    /// Total length of the record.
    pub fn total_len(&self) -> u64 {
        RECORD_HEADER_LEN as u64 + self.payload_len as u64
    }
}

/// Checks the CRC of a whole record (`bytes` = header + payload).
pub fn verify_crc(bytes: &[u8], header: &RecordHeader) -> Result<(), DecodeError> {
    if bytes.len() as u64 != header.total_len() {
        return Err(bad("record: length mismatch"));
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&bytes[..RECORD_HEADER_LEN - 4]);
    h.update(&bytes[RECORD_HEADER_LEN..]);
    if h.finalize() != header.crc {
        return Err(bad("record: checksum mismatch"));
    }
    Ok(())
}

/// A whole record (`bytes` = header + payload) checked as a reader must:
/// its header, that it is of this segment generation and stream, its CRC.
pub fn verify_record(bytes: &[u8], generation: u32, stream: StreamId) -> Result<RecordHeader, DecodeError> {
    let h = RecordHeader::parse(bytes)?;
    if h.generation != generation || h.stream != stream {
        return Err(bad("record belongs to another generation or stream"));
    }
    verify_crc(bytes, &h)?;
    Ok(h)
}

/// One entry of a record's frame table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableEntry {
    /// Capture time (µs UTC).
    pub ts: Timestamp,
    /// Length of the frame's data.
    pub len: u32,
    /// Key frame.
    pub key: bool,
}

/// Decodes and checks a record's frame table (`table`: the `frames x 16`
/// bytes after the header; `data_len`: the payload bytes after it): times
/// strictly increasing and matching the header, lengths adding up to the
/// data. Needs no frame data, so an exporter can plan with it.
pub fn decode_table(table: &[u8], header: &RecordHeader, data_len: u64) -> Result<Vec<TableEntry>, DecodeError> {
    let table_len = header.frames as usize * FRAME_ENTRY_LEN;
    let mut r = Reader::new(table.get(..table_len).ok_or_else(|| bad("record: table truncated"))?);
    let mut out = Vec::with_capacity(header.frames as usize);
    let (mut prev, mut total) = (i64::MIN, 0u64);
    for _ in 0..header.frames {
        let ts = r.i64()?;
        let len = r.u32()?;
        let flags = r.u32()?;
        total += len as u64;
        if ts <= prev || total > data_len {
            return Err(bad("record: frame table inconsistent"));
        }
        prev = ts;
        out.push(TableEntry { ts, len, key: flags & FRAME_KEY != 0 });
    }
    if total != data_len
        || out.first().map(|f| f.ts) != Some(header.first_ts)
        || out.last().map(|f| f.ts) != Some(header.last_ts)
    {
        return Err(bad("record: frames do not match the header"));
    }
    Ok(out)
}

/// Decodes the frames of a verified record. `bytes` must hold header + payload.
pub fn decode_frames(bytes: &Bytes, header: &RecordHeader) -> Result<Vec<Frame>, DecodeError> {
    let payload = bytes.slice(RECORD_HEADER_LEN..);
    let table_len = header.frames as usize * FRAME_ENTRY_LEN;
    let data_len =
        (payload.len() as u64).checked_sub(table_len as u64).ok_or_else(|| bad("record: table truncated"))?;
    let table = decode_table(&payload, header, data_len)?;
    let mut pos = table_len;
    Ok(table
        .into_iter()
        .map(|e| {
            let data = payload.slice(pos..pos + e.len as usize);
            pos += e.len as usize;
            Frame { ts: e.ts, key: e.key, data }
        })
        .collect())
}

/// Accumulates frames of one stream into the next record (a chunk).
#[derive(Debug, Default)]
pub struct ChunkBuilder {
    table: Vec<(Timestamp, u32, u32)>,
    data: Vec<Bytes>,
    data_len: usize,
    /// CRC of the frames' data so far, combined from each frame's
    /// ([`crate::checksum`]): the record's CRC is made from it without
    /// reading the data again.
    data_crc: u32,
    first_key_ts: Option<Timestamp>,
}

impl ChunkBuilder {
    /// Adds a frame.
    pub fn push(&mut self, ts: Timestamp, key: bool, frame: Checksummed) {
        let crc = frame.crc();
        let data = frame.into_data();
        self.table.push((ts, data.len() as u32, if key { FRAME_KEY } else { 0 }));
        self.data_len += data.len();
        self.data_crc = combine(self.data_crc, crc, data.len() as u64);
        if key && self.first_key_ts.is_none() {
            self.first_key_ts = Some(ts);
        }
        self.data.push(data);
    }
    /// Whether no frame is buffered.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
    /// Timestamp of the first buffered frame.
    pub fn first_ts(&self) -> Option<Timestamp> {
        self.table.first().map(|f| f.0)
    }
    /// The encoded length the record will have.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.table.len() * FRAME_ENTRY_LEN + self.data_len
    }
    /// The encoded length after adding a frame of `len` bytes.
    pub fn encoded_len_with(&self, len: usize) -> usize {
        self.encoded_len() + FRAME_ENTRY_LEN + len
    }
    /// Encodes the record for `offset` in a segment of `generation` and empties
    /// the builder. Returns the record (header and frame table encoded, the
    /// frames' data as buffered: not copied) and the index entry. Must not
    /// be empty.
    pub fn take_record(
        &mut self,
        stream: StreamId,
        generation: u32,
        offset: u32,
        prev_crc: u32,
    ) -> (EncodedRecord, RecordEntry) {
        let first_ts = self.table.first().map_or(0, |f| f.0);
        let last_ts = self.table.last().map_or(0, |f| f.0);
        let frames = self.table.len() as u32;
        let payload_len = (self.table.len() * FRAME_ENTRY_LEN + self.data_len) as u32;
        let total = self.encoded_len();
        let mut w = Writer::with_capacity(RECORD_HEADER_LEN + self.table.len() * FRAME_ENTRY_LEN);
        w.u32(RECORD_MAGIC);
        w.u8(KIND_VIDEO);
        w.u8(0);
        w.u16(0);
        w.u32(generation);
        w.u32(payload_len);
        w.u64(stream.0);
        w.i64(first_ts);
        w.i64(last_ts);
        w.u32(frames);
        w.u32(prev_crc);
        w.u32(0); // reserved
        w.u32(0); // CRC, patched below
        for &(ts, len, flags) in &self.table {
            w.i64(ts);
            w.u32(len);
            w.u32(flags);
        }
        let mut head = w.buf;
        let mut h = crc32fast::Hasher::new();
        h.update(&head[..RECORD_HEADER_LEN - 4]);
        h.update(&head[RECORD_HEADER_LEN..]);
        let crc = combine(h.finalize(), self.data_crc, self.data_len as u64);
        head[RECORD_HEADER_LEN - 4..RECORD_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
        let entry = RecordEntry {
            offset,
            len: total as u32,
            first_ts,
            last_ts,
            first_key_ts: self.first_key_ts.unwrap_or(NO_KEY),
            frames,
            crc,
        };
        let data = std::mem::take(&mut self.data);
        *self = ChunkBuilder::default();
        (EncodedRecord { head, data }, entry)
    }
}

/// A record ready to be written: header and frame table encoded, then the
/// frames' data as the stream buffered them. The I/O thread writes it with
/// one vectored positioned write, so the frames are copied once (into the
/// page cache), not first into a record buffer as large as the record.
#[derive(Debug, Clone, Default)]
pub struct EncodedRecord {
    /// Header and frame table.
    pub head: Vec<u8>,
    /// The frames' data, in table order.
    pub data: Vec<Bytes>,
}

impl EncodedRecord {
    /// The record's pieces in on-disk order.
    pub fn pieces(&self) -> Vec<&[u8]> {
        std::iter::once(&self.head[..]).chain(self.data.iter().map(|d| &d[..])).collect()
    }

    /// The record as one contiguous buffer.
    #[cfg(any(test, feature = "internals"))]
    pub fn to_vec(&self) -> Vec<u8> {
        self.pieces().concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let mut c = ChunkBuilder::default();
        c.push(10, true, Checksummed::new(Bytes::from_static(b"key")));
        c.push(20, false, Checksummed::new(Bytes::from_static(b"delta")));
        let expected_len = c.encoded_len();
        let (record, entry) = c.take_record(StreamId(3), 7, 4096, 0);
        assert!(c.is_empty());
        assert_eq!(record.pieces().len(), 3, "head, then each frame's data as buffered");
        let buf = record.to_vec();
        assert_eq!(buf.len(), expected_len);
        assert_eq!(entry.first_key_ts, 10);
        let h = RecordHeader::parse(&buf).expect("header");
        assert_eq!((h.generation, h.stream, h.frames), (7, StreamId(3), 2));
        verify_crc(&buf, &h).expect("crc");
        let frames = decode_frames(&Bytes::from(buf.clone()), &h).expect("frames");
        assert_eq!(frames[0].data.as_ref(), b"key");
        assert!(frames[0].key && !frames[1].key);
        assert_eq!(frames[1].ts, 20);
        for i in 0..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x10;
            let ok = RecordHeader::parse(&b).and_then(|h| verify_crc(&b, &h));
            assert!(ok.is_err(), "flip at {i} accepted");
        }
    }
}
