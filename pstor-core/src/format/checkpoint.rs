//! The checkpoint (docs/format.md §7): `checkpoint.pst` in each space, the
//! durable extent of every open (unsealed) segment at one moment, so reopening
//! scans only what was written after it. Its `clean` flag is the clean-shutdown
//! marker: when set, nothing at all is scanned.

use super::codec::{bad, check_crc, DecodeError, Reader, Writer};
use super::needle::{decode_entries, NeedleEntry, NEEDLE_ENTRY_LEN};
use super::segment::{RecordEntry, ENTRY_LEN};
use super::FORMAT_VERSION;
use crate::types::{StreamId, Timestamp};

/// Magic of a checkpoint file.
pub const CHECKPOINT_MAGIC: u32 = u32::from_le_bytes(*b"PCKP");
/// File name of the checkpoint inside a space folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.pst";
/// Flag bit: written by a clean shutdown.
pub const FLAG_CLEAN: u16 = 1;

/// The durable state of one open segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSegment {
    /// Segment index.
    pub index: u32,
    /// Its generation when the checkpoint was taken.
    pub generation: u32,
    /// Its stream.
    pub stream: StreamId,
    /// Video records durable at checkpoint time, in order.
    pub records: Vec<RecordEntry>,
    /// Picture segments: needles durable at checkpoint time, in order.
    pub needles: Vec<NeedleEntry>,
}

/// A checkpoint of one space.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Bumped on every checkpoint.
    pub seq: u64,
    /// Written by a clean shutdown (nothing to scan on reopen).
    pub clean: bool,
    /// When it was written.
    pub written_at: Timestamp,
    /// Open segments.
    pub segments: Vec<OpenSegment>,
}

impl Checkpoint {
    /// Encodes with a trailing CRC.
    pub fn encode(&self) -> Vec<u8> {
        let n: usize =
            self.segments.iter().map(|s| 24 + s.records.len() * ENTRY_LEN + s.needles.len() * NEEDLE_ENTRY_LEN).sum();
        let mut w = Writer::with_capacity(32 + n);
        w.u32(CHECKPOINT_MAGIC);
        w.u16(FORMAT_VERSION);
        w.u16(if self.clean { FLAG_CLEAN } else { 0 });
        w.u64(self.seq);
        w.i64(self.written_at);
        w.u32(self.segments.len() as u32);
        for s in &self.segments {
            w.u32(s.index);
            w.u32(s.generation);
            w.u64(s.stream.0);
            w.u32(s.records.len() as u32);
            for e in &s.records {
                e.encode_into(&mut w);
            }
            w.u32(s.needles.len() as u32);
            for e in &s.needles {
                e.encode_into(&mut w);
            }
        }
        w.finish_crc()
    }

    /// Decodes and validates.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let body = check_crc(bytes, "checkpoint")?;
        let mut r = Reader::new(body);
        if r.u32()? != CHECKPOINT_MAGIC {
            return Err(bad("checkpoint: bad magic"));
        }
        let version = r.u16()?;
        if version != FORMAT_VERSION {
            return Err(bad(format!("checkpoint: unsupported version {version}")));
        }
        let flags = r.u16()?;
        let seq = r.u64()?;
        let written_at = r.i64()?;
        let mut segments = Vec::new();
        for _ in 0..r.count(24)? {
            let index = r.u32()?;
            let generation = r.u32()?;
            let stream = StreamId(r.u64()?);
            let mut records = Vec::new();
            let mut prev_end = super::segment::DATA_START;
            for _ in 0..r.count(ENTRY_LEN)? {
                let e = RecordEntry::decode_from(&mut r)?;
                if e.offset as u64 != prev_end {
                    return Err(bad("checkpoint: records not contiguous"));
                }
                prev_end = e.end();
                records.push(e);
            }
            let n = r.count(NEEDLE_ENTRY_LEN)?;
            let needles = decode_entries(&mut r, n)?;
            if !records.is_empty() && !needles.is_empty() {
                return Err(bad("checkpoint: a segment holds both records and needles"));
            }
            segments.push(OpenSegment { index, generation, stream, records, needles });
        }
        r.expect_end()?;
        Ok(Checkpoint { seq, clean: flags & FLAG_CLEAN != 0, written_at, segments })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = Checkpoint {
            seq: 4,
            clean: true,
            written_at: 99,
            segments: vec![OpenSegment {
                index: 2,
                generation: 3,
                stream: StreamId(1),
                records: vec![RecordEntry {
                    offset: 4096,
                    len: 80,
                    first_ts: 1,
                    last_ts: 2,
                    first_key_ts: 1,
                    frames: 2,
                    crc: 5,
                }],
                needles: Vec::new(),
            }],
        };
        let b = c.encode();
        assert_eq!(Checkpoint::decode(&b).expect("decode"), c);
        let mut x = b.clone();
        x[10] ^= 1;
        assert!(Checkpoint::decode(&x).is_err());
    }
}
