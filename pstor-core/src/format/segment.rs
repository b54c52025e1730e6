//! Segment header, footer index and trailer (docs/format.md §3, §5).
//!
//! A segment is a fixed region of a data file:
//! `[header block 4096][records ...][free][footer entries][trailer 64]`.
//! The header is written when the segment is allocated or freed (each time
//! with a new generation); the footer and trailer when it is sealed.

use super::codec::{bad, DecodeError, Reader, Writer};
use super::needle::{decode_entries, summarize, NeedleEntry};
use super::FORMAT_VERSION;
use crate::types::{PoolId, StreamId, Timestamp};

/// Magic of a segment header.
pub const SEGMENT_MAGIC: u32 = u32::from_le_bytes(*b"PSEG");
/// Encoded header length (60 bytes of fields + 4 CRC).
pub const SEGMENT_HEADER_LEN: usize = 64;
/// Records start here; the header has a whole 4 KiB block to itself so that
/// rewriting it never tears a record.
pub const DATA_START: u64 = 4096;
/// Magic of a segment trailer.
pub const TRAILER_MAGIC: u32 = u32::from_le_bytes(*b"PFTR");
/// Encoded trailer length, at the very end of a sealed segment.
pub const TRAILER_LEN: usize = 64;
/// Encoded length of one footer entry ([`RecordEntry`]).
pub const ENTRY_LEN: usize = 40;
// Trailers find footers the same way for video and picture segments.
const _: () = assert!(super::needle::NEEDLE_ENTRY_LEN == ENTRY_LEN);
/// Smallest allowed segment size (tests use tiny segments).
pub const MIN_SEGMENT_SIZE: u64 = 64 * 1024;
/// Largest allowed segment size (offsets in entries are u32).
pub const MAX_SEGMENT_SIZE: u64 = 1 << 32;
/// `first_key_ts` of a record without a key frame.
pub const NO_KEY: Timestamp = i64::MAX;

/// What a segment currently holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentUse {
    /// Free for allocation.
    Free,
    /// Video records of one stream.
    Video,
    /// Pictures (needles) of the cameras of one pool.
    Picture,
}

impl SegmentUse {
    fn code(self) -> u8 {
        match self {
            SegmentUse::Free => 0,
            SegmentUse::Video => 1,
            SegmentUse::Picture => 2,
        }
    }
}

/// The header at the start of each segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The owning space's uuid (guards against segments copied between spaces).
    pub space_uuid: u128,
    /// Segment index in the space.
    pub index: u32,
    /// Bumped on every allocation and every free.
    pub generation: u32,
    /// What the segment holds.
    pub usage: SegmentUse,
    /// Owning pool (0 when free).
    pub pool: PoolId,
    /// Owning stream (0 when free or holding pictures).
    pub stream: StreamId,
    /// When it was allocated or freed (µs).
    pub stamped_at: Timestamp,
}

impl SegmentHeader {
    /// Encodes to [`SEGMENT_HEADER_LEN`] bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(SEGMENT_HEADER_LEN);
        w.u32(SEGMENT_MAGIC); // 0
        w.u16(FORMAT_VERSION); // 4
        w.u8(self.usage.code()); // 6
        w.u8(0); // 7
        w.u128(self.space_uuid); // 8
        w.u32(self.index); // 24
        w.u32(self.generation); // 28
        w.u32(self.pool.0); // 32
        w.u32(0); // 36
        w.u64(self.stream.0); // 40
        w.i64(self.stamped_at); // 48
        w.u32(0); // 56 reserved
        w.finish_crc() // 60
    }

    /// Decodes and validates.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let b = b.get(..SEGMENT_HEADER_LEN).ok_or_else(|| bad("segment header: truncated"))?;
        let body = super::codec::check_crc(b, "segment header")?;
        let mut r = Reader::new(body);
        if r.u32()? != SEGMENT_MAGIC {
            return Err(bad("segment header: bad magic"));
        }
        let version = r.u16()?;
        if version != FORMAT_VERSION {
            return Err(bad(format!("segment header: unsupported version {version}")));
        }
        let usage = match r.u8()? {
            0 => SegmentUse::Free,
            1 => SegmentUse::Video,
            2 => SegmentUse::Picture,
            c => return Err(bad(format!("segment header: unknown use {c}"))),
        };
        r.u8()?;
        let space_uuid = r.u128()?;
        let index = r.u32()?;
        let generation = r.u32()?;
        let pool = PoolId(r.u32()?);
        r.u32()?;
        let stream = StreamId(r.u64()?);
        let stamped_at = r.i64()?;
        Ok(SegmentHeader { space_uuid, index, generation, usage, pool, stream, stamped_at })
    }
}

/// Index entry of one record: in footers, checkpoints and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordEntry {
    /// Offset of the record from the segment start.
    pub offset: u32,
    /// Total record length (header + payload).
    pub len: u32,
    /// Timestamp of its first frame.
    pub first_ts: Timestamp,
    /// Timestamp of its last frame.
    pub last_ts: Timestamp,
    /// Timestamp of its first key frame, or [`NO_KEY`].
    pub first_key_ts: Timestamp,
    /// Number of frames.
    pub frames: u32,
    /// The record's CRC (the next record's `prev_crc`).
    pub crc: u32,
}

impl RecordEntry {
    /// Appends the 40-byte encoding.
    pub fn encode_into(&self, w: &mut Writer) {
        w.u32(self.offset);
        w.u32(self.len);
        w.i64(self.first_ts);
        w.i64(self.last_ts);
        w.i64(self.first_key_ts);
        w.u32(self.frames);
        w.u32(self.crc);
    }

    /// Reads one 40-byte entry.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let e = RecordEntry {
            offset: r.u32()?,
            len: r.u32()?,
            first_ts: r.i64()?,
            last_ts: r.i64()?,
            first_key_ts: r.i64()?,
            frames: r.u32()?,
            crc: r.u32()?,
        };
        let min_len = super::record::RECORD_HEADER_LEN as u32;
        if e.first_ts > e.last_ts || e.frames == 0 || (e.offset as u64) < DATA_START || e.len < min_len {
            return Err(bad("record entry: inconsistent fields"));
        }
        Ok(e)
    }

    /// Offset just past the record.
    pub fn end(&self) -> u64 {
        self.offset as u64 + self.len as u64
    }
}

/// The trailer of a sealed segment, in its last [`TRAILER_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// Generation of the segment when sealed (a stale trailer is ignored).
    pub generation: u32,
    /// Number of footer entries, stored just before the trailer.
    pub records: u32,
    /// CRC of the footer entries.
    pub footer_crc: u32,
    /// End of the last record.
    pub used: u64,
    /// First frame timestamp in the segment.
    pub first_ts: Timestamp,
    /// Last frame timestamp in the segment.
    pub last_ts: Timestamp,
    /// Picture segments: the camera filter (`needle::camera_bits` of every
    /// camera with a picture here); 0 for video.
    pub cameras: u64,
}

impl Trailer {
    /// Encodes to [`TRAILER_LEN`] bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(TRAILER_LEN);
        w.u32(TRAILER_MAGIC); // 0
        w.u16(FORMAT_VERSION); // 4
        w.u16(0); // 6
        w.u32(self.generation); // 8
        w.u32(self.records); // 12
        w.u32(self.footer_crc); // 16
        w.u32(0); // 20
        w.u64(self.used); // 24
        w.i64(self.first_ts); // 32
        w.i64(self.last_ts); // 40
        w.u64(self.cameras); // 48
        w.u32(0); // 56
        w.finish_crc() // 60
    }

    /// Decodes and validates against the segment size.
    pub fn decode(b: &[u8], segment_size: u64) -> Result<Self, DecodeError> {
        let b = b.get(..TRAILER_LEN).ok_or_else(|| bad("trailer: truncated"))?;
        let body = super::codec::check_crc(b, "trailer")?;
        let mut r = Reader::new(body);
        if r.u32()? != TRAILER_MAGIC {
            return Err(bad("trailer: bad magic"));
        }
        let version = r.u16()?;
        if version != FORMAT_VERSION {
            return Err(bad(format!("trailer: unsupported version {version}")));
        }
        r.u16()?;
        let generation = r.u32()?;
        let records = r.u32()?;
        let footer_crc = r.u32()?;
        r.u32()?;
        let used = r.u64()?;
        let first_ts = r.i64()?;
        let last_ts = r.i64()?;
        let cameras = r.u64()?;
        let t = Trailer { generation, records, footer_crc, used, first_ts, last_ts, cameras };
        if t.footer_offset(segment_size).is_none_or(|fo| t.used > fo) || first_ts > last_ts {
            return Err(bad("trailer: inconsistent sizes"));
        }
        Ok(t)
    }

    /// Where the footer entries start, if they fit the segment.
    pub fn footer_offset(&self, segment_size: u64) -> Option<u64> {
        let footer = self.records as u64 * ENTRY_LEN as u64 + TRAILER_LEN as u64;
        segment_size.checked_sub(footer).filter(|&o| o >= DATA_START)
    }
}

/// Bytes a footer with `records` entries plus the trailer takes.
pub fn footer_len(records: usize) -> u64 {
    (records * ENTRY_LEN + TRAILER_LEN) as u64
}

/// Appends the trailer to encoded footer entries.
fn finish_footer(mut w: Writer, t: Trailer) -> Vec<u8> {
    let trailer = Trailer { footer_crc: crc32fast::hash(&w.buf), ..t };
    w.bytes(&trailer.encode());
    w.buf
}

/// Encodes footer entries + trailer, to be written ending at the segment end.
pub fn encode_footer(generation: u32, entries: &[RecordEntry]) -> Vec<u8> {
    let mut w = Writer::with_capacity(entries.len() * ENTRY_LEN + TRAILER_LEN);
    for e in entries {
        e.encode_into(&mut w);
    }
    let t = Trailer {
        generation,
        records: entries.len() as u32,
        footer_crc: 0,
        used: entries.last().map_or(DATA_START, |e| e.end()),
        first_ts: entries.first().map_or(0, |e| e.first_ts),
        last_ts: entries.last().map_or(0, |e| e.last_ts),
        cameras: 0,
    };
    finish_footer(w, t)
}

/// Encodes a picture segment's footer (needle entries) + trailer.
pub fn encode_picture_footer(generation: u32, entries: &[NeedleEntry]) -> Vec<u8> {
    let mut w = Writer::with_capacity(entries.len() * ENTRY_LEN + TRAILER_LEN);
    for e in entries {
        e.encode_into(&mut w);
    }
    let (first_ts, last_ts, cameras) = summarize(entries);
    let used = entries.last().map_or(DATA_START, |e| e.end());
    finish_footer(
        w,
        Trailer { generation, records: entries.len() as u32, footer_crc: 0, used, first_ts, last_ts, cameras },
    )
}

/// Checks footer bytes against the trailer's length and CRC.
fn check_footer<'a>(bytes: &'a [u8], trailer: &Trailer) -> Result<Reader<'a>, DecodeError> {
    if bytes.len() != trailer.records as usize * ENTRY_LEN {
        return Err(bad("footer: length does not match the trailer"));
    }
    if crc32fast::hash(bytes) != trailer.footer_crc {
        return Err(bad("footer: checksum mismatch"));
    }
    Ok(Reader::new(bytes))
}

/// Decodes a picture segment's footer entries and checks them against the
/// trailer (CRC, contiguity, used mark, summary).
pub fn decode_picture_footer(bytes: &[u8], trailer: &Trailer) -> Result<Vec<NeedleEntry>, DecodeError> {
    let mut r = check_footer(bytes, trailer)?;
    let out = decode_entries(&mut r, trailer.records as usize)?;
    let used = out.last().map_or(DATA_START, |e| e.end());
    if used != trailer.used || summarize(&out) != (trailer.first_ts, trailer.last_ts, trailer.cameras) {
        return Err(bad("footer: needle entries do not match the trailer"));
    }
    Ok(out)
}

/// Decodes footer entries (the bytes just before the trailer) and checks them
/// against the trailer: CRC, order, and bounds.
pub fn decode_footer(bytes: &[u8], trailer: &Trailer) -> Result<Vec<RecordEntry>, DecodeError> {
    let mut r = check_footer(bytes, trailer)?;
    let mut out = Vec::with_capacity(trailer.records as usize);
    let mut next = DATA_START;
    let mut last_ts = i64::MIN;
    for _ in 0..trailer.records {
        let e = RecordEntry::decode_from(&mut r)?;
        if e.offset as u64 != next || e.first_ts <= last_ts {
            return Err(bad("footer: entries out of order"));
        }
        next = e.end();
        last_ts = e.last_ts;
        out.push(e);
    }
    if next != trailer.used {
        return Err(bad("footer: entries do not end at the used mark"));
    }
    let span = (out.first().map_or(0, |e| e.first_ts), out.last().map_or(0, |e| e.last_ts));
    if span != (trailer.first_ts, trailer.last_ts) || trailer.cameras != 0 {
        return Err(bad("footer: record entries do not match the trailer"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(offset: u32, len: u32, ts: i64) -> RecordEntry {
        RecordEntry { offset, len, first_ts: ts, last_ts: ts + 10, first_key_ts: ts, frames: 2, crc: 1 }
    }

    #[test]
    fn header_round_trip_and_bit_flips() {
        let h = SegmentHeader {
            space_uuid: 9,
            index: 3,
            generation: 4,
            usage: SegmentUse::Video,
            pool: PoolId(5),
            stream: StreamId(6),
            stamped_at: 7,
        };
        let b = h.encode();
        assert_eq!(b.len(), SEGMENT_HEADER_LEN);
        assert_eq!(SegmentHeader::decode(&b).expect("decode"), h);
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 1;
            assert!(SegmentHeader::decode(&c).is_err());
        }
    }

    #[test]
    fn footer_round_trip() {
        let entries = vec![entry(4096, 100, 1), entry(4196, 60, 20)];
        let bytes = encode_footer(3, &entries);
        let (body, tr) = bytes.split_at(bytes.len() - TRAILER_LEN);
        let t = Trailer::decode(tr, 1 << 20).expect("trailer");
        assert_eq!(t.generation, 3);
        assert_eq!(t.used, 4256);
        assert_eq!(decode_footer(body, &t).expect("footer"), entries);
        let mut bad_body = body.to_vec();
        bad_body[5] ^= 1;
        assert!(decode_footer(&bad_body, &t).is_err());
    }
}
