//! Picture records ("needles", docs/format.md §11): one picture per record in
//! a picture segment shared by every camera of a pool.
//!
//! `[header 72][meta][data]`. The header CRC covers the header's first 64
//! bytes and the meta; the data has its own CRC (`data_crc`, inside the
//! covered header), so `head` verifies a picture's metadata without reading
//! its data, and `get` verifies both with the one read of the whole record.
//! The last header word is the delete mark, outside every CRC so deleting is
//! one small in-place write.

use super::codec::{bad, DecodeError, Reader, Writer};
use super::record::RECORD_MAGIC;
use super::segment::DATA_START;
use crate::types::{PictureKey, PictureMeta, Timestamp};
use md5::{Digest, Md5};

/// Record kind: a picture.
pub const KIND_PICTURE: u8 = 2;
/// Encoded needle header length.
pub const NEEDLE_HEADER_LEN: usize = 72;
/// Bytes of the header covered by the header CRC (with the meta).
const CRC_COVERED: usize = 64;
/// Offset of the delete mark in the header.
pub const DELETE_MARK_OFFSET: u64 = 68;
/// Delete mark of a deleted picture (a live one has 0).
pub const DELETE_MARK: u32 = u32::from_le_bytes(*b"PDEL");
/// Longest camera id.
pub const MAX_CAMERA_LEN: usize = 256;
/// Longest content type.
pub const MAX_CONTENT_TYPE_LEN: usize = 127;
/// Longest bucket name.
pub const MAX_BUCKET_LEN: usize = 63;
/// Longest key.
pub const MAX_KEY_LEN: usize = 1024;
/// Largest meta block (written_at + four length-prefixed strings).
pub const MAX_META_LEN: usize =
    8 + 2 + MAX_CAMERA_LEN + 1 + MAX_CONTENT_TYPE_LEN + 1 + MAX_BUCKET_LEN + 2 + MAX_KEY_LEN;
/// Encoded length of one footer / checkpoint entry ([`NeedleEntry`]); the
/// same as a video [`super::segment::RecordEntry`], so trailers work alike.
pub const NEEDLE_ENTRY_LEN: usize = 40;
/// Entry flag: the picture carries a key (bucket + key).
pub const ENTRY_HAS_KEY: u16 = 1;

/// Needles start at multiples of this, so the 4-byte delete mark (at a
/// multiple of 4 within the needle) never straddles a disk sector and its
/// write cannot tear.
pub const NEEDLE_ALIGN: u64 = 8;

/// Where the needle after one ending at `end` starts.
pub fn next_needle_offset(end: u64) -> u64 {
    end.div_ceil(NEEDLE_ALIGN) * NEEDLE_ALIGN
}

/// Stable 64-bit hash of a camera id (FNV-1a), kept in footer entries so a
/// listing filters a segment's pictures without reading them.
pub fn camera_hash(camera_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in camera_id.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The bits a camera sets in a segment's 64-bit camera filter (a Bloom
/// filter with two probes): a clear bit proves the camera has no picture there.
pub fn camera_bits(hash: u64) -> u64 {
    (1u64 << (hash & 63)) | (1u64 << ((hash >> 32) & 63))
}

/// Checks a picture's metadata against the limits of the format.
pub fn validate_meta(meta: &PictureMeta) -> Result<(), String> {
    if meta.camera_id.is_empty() || meta.camera_id.len() > MAX_CAMERA_LEN {
        return Err(format!("camera id must be 1..={MAX_CAMERA_LEN} bytes"));
    }
    if meta.content_type.len() > MAX_CONTENT_TYPE_LEN {
        return Err(format!("content type must be at most {MAX_CONTENT_TYPE_LEN} bytes"));
    }
    if let Some(k) = &meta.key {
        if k.bucket.is_empty() || k.bucket.len() > MAX_BUCKET_LEN {
            return Err(format!("bucket must be 1..={MAX_BUCKET_LEN} bytes"));
        }
        if k.key.is_empty() || k.key.len() > MAX_KEY_LEN {
            return Err(format!("key must be 1..={MAX_KEY_LEN} bytes"));
        }
    }
    Ok(())
}

fn encode_meta(meta: &PictureMeta, written_at: Timestamp, w: &mut Writer) {
    w.i64(written_at);
    w.u16(meta.camera_id.len() as u16);
    w.bytes(meta.camera_id.as_bytes());
    w.u8(meta.content_type.len() as u8);
    w.bytes(meta.content_type.as_bytes());
    let (bucket, key) = meta.key.as_ref().map_or(("", ""), |k| (k.bucket.as_str(), k.key.as_str()));
    w.u8(bucket.len() as u8);
    w.bytes(bucket.as_bytes());
    w.u16(key.len() as u16);
    w.bytes(key.as_bytes());
}

fn meta_str(r: &mut Reader<'_>, len: usize, max: usize, what: &str) -> Result<String, DecodeError> {
    if len > max {
        return Err(bad(format!("needle meta: {what} too long")));
    }
    String::from_utf8(r.take(len)?.to_vec()).map_err(|_| bad(format!("needle meta: {what} is not UTF-8")))
}

/// Decodes a meta block: the metadata and when the picture was stored.
pub fn decode_meta(b: &[u8], captured_at: Timestamp) -> Result<(PictureMeta, Timestamp), DecodeError> {
    let mut r = Reader::new(b);
    let written_at = r.i64()?;
    let n = r.u16()? as usize;
    let camera_id = meta_str(&mut r, n, MAX_CAMERA_LEN, "camera id")?;
    let n = r.u8()? as usize;
    let content_type = meta_str(&mut r, n, MAX_CONTENT_TYPE_LEN, "content type")?;
    let n = r.u8()? as usize;
    let bucket = meta_str(&mut r, n, MAX_BUCKET_LEN, "bucket")?;
    let n = r.u16()? as usize;
    let key = meta_str(&mut r, n, MAX_KEY_LEN, "key")?;
    r.expect_end()?;
    if camera_id.is_empty() || bucket.is_empty() != key.is_empty() {
        return Err(bad("needle meta: inconsistent fields"));
    }
    let key = (!bucket.is_empty()).then_some(PictureKey { bucket, key });
    Ok((PictureMeta { camera_id, captured_at, content_type, key }, written_at))
}

/// The fixed header of a needle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedleHeader {
    /// Length of the meta block after the header.
    pub meta_len: u16,
    /// Generation of the segment it was written into.
    pub generation: u32,
    /// Length of the picture data after the meta.
    pub data_len: u32,
    /// Random cookie, repeated in the picture's id.
    pub cookie: u32,
    /// CRC of the data.
    pub data_crc: u32,
    /// Capture time (µs UTC).
    pub captured_at: Timestamp,
    /// [`camera_hash`] of the camera id.
    pub camera_hash: u64,
    /// MD5 of the data (the ETag).
    pub md5: [u8; 16],
    /// CRC of the previous needle in the segment (0 for the first).
    pub prev_crc: u32,
    /// Header CRC (over bytes 0..64 and the meta).
    pub crc: u32,
    /// The delete mark is set.
    pub deleted: bool,
}

impl NeedleHeader {
    /// Parses a header without checking its CRC (that needs the meta).
    pub fn parse(b: &[u8]) -> Result<Self, DecodeError> {
        let b = b.get(..NEEDLE_HEADER_LEN).ok_or_else(|| bad("needle header: truncated"))?;
        let mut r = Reader::new(b);
        if r.u32()? != RECORD_MAGIC {
            return Err(bad("needle header: bad magic"));
        }
        let kind = r.u8()?;
        if kind != KIND_PICTURE {
            return Err(bad(format!("needle header: not a picture record (kind {kind})")));
        }
        if r.u8()? != 0 {
            return Err(bad("needle header: unknown flags"));
        }
        let meta_len = r.u16()?;
        let generation = r.u32()?;
        let data_len = r.u32()?;
        let cookie = r.u32()?;
        let data_crc = r.u32()?;
        let captured_at = r.i64()?;
        let camera_hash = r.u64()?;
        let mut md5 = [0u8; 16];
        md5.copy_from_slice(r.take(16)?);
        let prev_crc = r.u32()?;
        if r.u32()? != 0 {
            return Err(bad("needle header: reserved field set"));
        }
        let crc = r.u32()?;
        let deleted = match r.u32()? {
            0 => false,
            DELETE_MARK => true,
            _ => return Err(bad("needle header: bad delete mark")),
        };
        if meta_len as usize > MAX_META_LEN || data_len == 0 {
            return Err(bad("needle header: inconsistent lengths"));
        }
        Ok(NeedleHeader {
            meta_len,
            generation,
            data_len,
            cookie,
            data_crc,
            captured_at,
            camera_hash,
            md5,
            prev_crc,
            crc,
            deleted,
        })
    }

    /// Header + meta length.
    pub fn head_len(&self) -> usize {
        NEEDLE_HEADER_LEN + self.meta_len as usize
    }

    /// Total length of the needle.
    pub fn total_len(&self) -> u64 {
        self.head_len() as u64 + self.data_len as u64
    }

    /// Verifies the header CRC over `head` (header + meta) and decodes the meta.
    pub fn verify_head(&self, head: &[u8]) -> Result<(PictureMeta, Timestamp), DecodeError> {
        let head = head.get(..self.head_len()).ok_or_else(|| bad("needle: meta truncated"))?;
        let mut h = crc32fast::Hasher::new();
        h.update(&head[..CRC_COVERED]);
        h.update(&head[NEEDLE_HEADER_LEN..]);
        if h.finalize() != self.crc {
            return Err(bad("needle: header checksum mismatch"));
        }
        let (meta, written_at) = decode_meta(&head[NEEDLE_HEADER_LEN..], self.captured_at)?;
        if camera_hash(&meta.camera_id) != self.camera_hash {
            return Err(bad("needle: camera hash does not match the camera id"));
        }
        Ok((meta, written_at))
    }

    /// Verifies the data CRC.
    pub fn verify_data(&self, data: &[u8]) -> Result<(), DecodeError> {
        if data.len() as u64 != self.data_len as u64 {
            return Err(bad("needle: data length mismatch"));
        }
        if crc32fast::hash(data) != self.data_crc {
            return Err(bad("needle: data checksum mismatch"));
        }
        Ok(())
    }
}

/// A needle being built: the expensive part (copy, MD5, data CRC) is done
/// before the writer knows where it goes; [`NeedleDraft::place`] then fills
/// in the generation and chain CRC, which is cheap.
#[derive(Debug)]
pub struct NeedleDraft {
    buf: Vec<u8>,
    meta_len: u16,
    captured_at: Timestamp,
    camera_hash: u64,
    cookie: u32,
    has_key: bool,
}

impl NeedleDraft {
    /// Lays out a needle for `data`. `meta` must pass [`validate_meta`].
    pub fn new(meta: &PictureMeta, written_at: Timestamp, cookie: u32, data: &[u8]) -> Self {
        let mut mw = Writer::with_capacity(64);
        encode_meta(meta, written_at, &mut mw);
        let hash = camera_hash(&meta.camera_id);
        let md5: [u8; 16] = Md5::digest(data).into();
        let mut w = Writer::with_capacity(NEEDLE_HEADER_LEN + mw.buf.len() + data.len());
        w.u32(RECORD_MAGIC); // 0
        w.u8(KIND_PICTURE); // 4
        w.u8(0); // 5 flags
        w.u16(mw.buf.len() as u16); // 6
        w.u32(0); // 8 generation, set by `place`
        w.u32(data.len() as u32); // 12
        w.u32(cookie); // 16
        w.u32(crc32fast::hash(data)); // 20
        w.i64(meta.captured_at); // 24
        w.u64(hash); // 32
        w.bytes(&md5); // 40
        w.u32(0); // 56 prev_crc, set by `place`
        w.u32(0); // 60 reserved
        w.u32(0); // 64 crc, set by `place`
        w.u32(0); // 68 delete mark
        w.bytes(&mw.buf);
        w.bytes(data);
        NeedleDraft {
            buf: w.buf,
            meta_len: mw.buf.len() as u16,
            captured_at: meta.captured_at,
            camera_hash: hash,
            cookie,
            has_key: meta.key.is_some(),
        }
    }

    /// Total encoded length.
    #[allow(clippy::len_without_is_empty)] // a record's length, never empty
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Finishes the needle for `offset` in a segment of `generation`.
    pub fn place(mut self, generation: u32, offset: u32, prev_crc: u32) -> (Vec<u8>, NeedleEntry) {
        self.buf[8..12].copy_from_slice(&generation.to_le_bytes());
        self.buf[56..60].copy_from_slice(&prev_crc.to_le_bytes());
        let head_end = NEEDLE_HEADER_LEN + self.meta_len as usize;
        let mut h = crc32fast::Hasher::new();
        h.update(&self.buf[..CRC_COVERED]);
        h.update(&self.buf[NEEDLE_HEADER_LEN..head_end]);
        let crc = h.finalize();
        self.buf[64..68].copy_from_slice(&crc.to_le_bytes());
        let entry = NeedleEntry {
            offset,
            len: self.buf.len() as u32,
            cookie: self.cookie,
            crc,
            captured_at: self.captured_at,
            camera_hash: self.camera_hash,
            meta_len: self.meta_len,
            flags: if self.has_key { ENTRY_HAS_KEY } else { 0 },
        };
        (self.buf, entry)
    }
}

/// Index entry of one needle: in picture footers, checkpoints and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedleEntry {
    /// Offset of the needle from the segment start.
    pub offset: u32,
    /// Total needle length.
    pub len: u32,
    /// Its cookie.
    pub cookie: u32,
    /// Its header CRC (the next needle's `prev_crc`).
    pub crc: u32,
    /// Capture time.
    pub captured_at: Timestamp,
    /// [`camera_hash`] of its camera.
    pub camera_hash: u64,
    /// Length of its meta block.
    pub meta_len: u16,
    /// [`ENTRY_HAS_KEY`].
    pub flags: u16,
}

impl NeedleEntry {
    /// Appends the 40-byte encoding.
    pub fn encode_into(&self, w: &mut Writer) {
        w.u32(self.offset);
        w.u32(self.len);
        w.u32(self.cookie);
        w.u32(self.crc);
        w.i64(self.captured_at);
        w.u64(self.camera_hash);
        w.u16(self.meta_len);
        w.u16(self.flags);
        w.u32(0);
    }

    /// Reads one 40-byte entry.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let e = NeedleEntry {
            offset: r.u32()?,
            len: r.u32()?,
            cookie: r.u32()?,
            crc: r.u32()?,
            captured_at: r.i64()?,
            camera_hash: r.u64()?,
            meta_len: r.u16()?,
            flags: r.u16()?,
        };
        let reserved = r.u32()?;
        let min_len = (NEEDLE_HEADER_LEN + e.meta_len as usize) as u64 + 1;
        if reserved != 0 || (e.offset as u64) < DATA_START || (e.len as u64) < min_len || e.flags & !ENTRY_HAS_KEY != 0
        {
            return Err(bad("needle entry: inconsistent fields"));
        }
        Ok(e)
    }

    /// Offset just past the needle.
    pub fn end(&self) -> u64 {
        self.offset as u64 + self.len as u64
    }

    /// Header + meta length.
    pub fn head_len(&self) -> usize {
        NEEDLE_HEADER_LEN + self.meta_len as usize
    }
}

/// Decodes needle entries, each starting where the previous one ends (rounded
/// up to [`NEEDLE_ALIGN`]), the first at [`DATA_START`] (footer and
/// checkpoint bodies). `count` is checked against the bytes by the caller.
pub fn decode_entries(r: &mut Reader<'_>, count: usize) -> Result<Vec<NeedleEntry>, DecodeError> {
    let mut out = Vec::with_capacity(count);
    let mut next = DATA_START;
    for _ in 0..count {
        let e = NeedleEntry::decode_from(r)?;
        if e.offset as u64 != next {
            return Err(bad("needle entries: not contiguous"));
        }
        next = next_needle_offset(e.end());
        out.push(e);
    }
    Ok(out)
}

/// Summary of a set of needles: (first, last) capture time and camera filter.
pub fn summarize(entries: &[NeedleEntry]) -> (Timestamp, Timestamp, u64) {
    let first = entries.iter().map(|e| e.captured_at).min().unwrap_or(0);
    let last = entries.iter().map(|e| e.captured_at).max().unwrap_or(0);
    let cameras = entries.iter().fold(0, |f, e| f | camera_bits(e.camera_hash));
    (first, last, cameras)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: bool) -> PictureMeta {
        PictureMeta {
            camera_id: "cam-7".into(),
            captured_at: 1_700_000_000_000_000,
            content_type: "image/jpeg".into(),
            key: key.then(|| PictureKey { bucket: "plates".into(), key: "2026/11/23/a.jpg".into() }),
        }
    }

    #[test]
    fn round_trip_and_every_bit_flip_detected() {
        let data = b"\xff\xd8 a small jpeg \xff\xd9".to_vec();
        let d = NeedleDraft::new(&meta(true), 42, 0xdead_beef, &data);
        let (buf, entry) = d.place(9, 4096, 77);
        assert_eq!(entry.len as usize, buf.len());
        assert_eq!(entry.flags, ENTRY_HAS_KEY);
        let h = NeedleHeader::parse(&buf).expect("header");
        assert_eq!((h.generation, h.cookie, h.prev_crc, h.deleted), (9, 0xdead_beef, 77, false));
        assert_eq!(h.total_len(), buf.len() as u64);
        let (m, written_at) = h.verify_head(&buf).expect("head");
        assert_eq!((m, written_at), (meta(true), 42));
        h.verify_data(&buf[h.head_len()..]).expect("data");
        let md5: [u8; 16] = Md5::digest(&data).into();
        assert_eq!(h.md5, md5);
        for i in 0..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x04;
            let ok = NeedleHeader::parse(&b).and_then(|h| {
                h.verify_head(&b)?;
                h.verify_data(&b[h.head_len()..])?;
                Ok(h)
            });
            // Only the delete mark is outside the CRCs, and a flipped bit
            // there is neither 0 nor the mark.
            assert!(ok.is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn delete_mark_is_read() {
        let (mut buf, _) = NeedleDraft::new(&meta(false), 1, 5, b"x").place(1, 4096, 0);
        buf[68..72].copy_from_slice(&DELETE_MARK.to_le_bytes());
        let h = NeedleHeader::parse(&buf).expect("header");
        assert!(h.deleted);
        h.verify_head(&buf).expect("the mark is outside the CRC");
    }

    #[test]
    fn entries_round_trip() {
        let (_, e1) = NeedleDraft::new(&meta(false), 1, 5, b"abc").place(1, 4096, 0);
        let at = next_needle_offset(e1.end()) as u32;
        assert_eq!(at % 8, 0);
        let (_, e2) = NeedleDraft::new(&meta(true), 1, 6, b"defg").place(1, at, e1.crc);
        let mut w = Writer::default();
        e1.encode_into(&mut w);
        e2.encode_into(&mut w);
        assert_eq!(w.buf.len(), 2 * NEEDLE_ENTRY_LEN);
        let got = decode_entries(&mut Reader::new(&w.buf), 2).expect("entries");
        assert_eq!(got, vec![e1, e2]);
        let (first, last, cams) = summarize(&got);
        assert_eq!((first, last), (meta(false).captured_at, meta(false).captured_at));
        assert_eq!(cams, camera_bits(camera_hash("cam-7")));
    }
}
