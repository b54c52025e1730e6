//! The superblock: `space.pst` in a storage space folder (docs/format.md §2).

use super::codec::{bad, check_crc, DecodeError, Reader, Writer};
use super::FORMAT_VERSION;
use crate::types::SpaceId;

/// Magic at offset 0 of `space.pst`.
pub const SUPERBLOCK_MAGIC: [u8; 8] = *b"PSTORSPC";
/// File name of the superblock inside a space folder.
pub const SUPERBLOCK_FILE: &str = "space.pst";
/// Encoded length: 88 bytes of fields + 4 bytes CRC.
pub const SUPERBLOCK_LEN: usize = 92;

/// What a space folder says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuperBlock {
    /// The space id.
    pub space_id: SpaceId,
    /// Unique id of this space's initialization.
    pub space_uuid: u128,
    /// The engine that owns the space (a foreign engine must restore it).
    pub engine_uuid: u128,
    /// Bytes per segment (multiple of 4096).
    pub segment_size: u64,
    /// Number of segments.
    pub segment_count: u32,
    /// Segments held by one data file.
    pub segments_per_file: u32,
    /// When the space was initialized (µs).
    pub created_at: i64,
}

impl SuperBlock {
    /// Encodes to exactly [`SUPERBLOCK_LEN`] bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(SUPERBLOCK_LEN);
        w.bytes(&SUPERBLOCK_MAGIC); // 0..8
        w.u16(FORMAT_VERSION); // 8..10
        w.u16(0); // 10..12 flags
        w.u32(self.space_id.0); // 12..16
        w.u128(self.space_uuid); // 16..32
        w.u128(self.engine_uuid); // 32..48
        w.u64(self.segment_size); // 48..56
        w.u32(self.segment_count); // 56..60
        w.u32(self.segments_per_file); // 60..64
        w.i64(self.created_at); // 64..72
        w.bytes(&[0u8; 16]); // 72..88 reserved
        w.finish_crc() // 88..92
    }

    /// Decodes and validates.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != SUPERBLOCK_LEN {
            return Err(bad(format!("superblock: length {} != {SUPERBLOCK_LEN}", bytes.len())));
        }
        if bytes[..8] != SUPERBLOCK_MAGIC {
            return Err(bad("superblock: bad magic (not a pstor storage space)"));
        }
        let body = check_crc(bytes, "superblock")?;
        let mut r = Reader::new(&body[8..]);
        let version = r.u16()?;
        if version != FORMAT_VERSION {
            return Err(bad(format!("superblock: unsupported format version {version}")));
        }
        let _flags = r.u16()?;
        let sb = SuperBlock {
            space_id: SpaceId(r.u32()?),
            space_uuid: r.u128()?,
            engine_uuid: r.u128()?,
            segment_size: r.u64()?,
            segment_count: r.u32()?,
            segments_per_file: r.u32()?,
            created_at: r.i64()?,
        };
        if !sb.segment_size.is_multiple_of(4096) || sb.segment_size < super::segment::MIN_SEGMENT_SIZE {
            return Err(bad(format!("superblock: bad segment size {}", sb.segment_size)));
        }
        if sb.segment_size > super::segment::MAX_SEGMENT_SIZE {
            return Err(bad(format!("superblock: segment size {} too large", sb.segment_size)));
        }
        if sb.space_id.0 == 0 {
            return Err(bad("superblock: space id 0"));
        }
        if sb.segments_per_file == 0 || sb.segment_count == 0 {
            return Err(bad("superblock: zero segments"));
        }
        Ok(sb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let sb = SuperBlock {
            space_id: SpaceId(7),
            space_uuid: 1,
            engine_uuid: 2,
            segment_size: 1 << 20,
            segment_count: 10,
            segments_per_file: 4,
            created_at: 123,
        };
        let b = sb.encode();
        assert_eq!(b.len(), SUPERBLOCK_LEN);
        assert_eq!(SuperBlock::decode(&b).expect("decode"), sb);
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x40;
            assert!(SuperBlock::decode(&c).is_err(), "flip at {i} accepted");
        }
    }
}
