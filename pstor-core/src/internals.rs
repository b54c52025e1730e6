//! Entry points into the on-disk decoders and the record codec, which the
//! engine keeps private, for pstor's fuzzers (`fuzz/`) and micro-benchmarks
//! (`benches/`). Built only with the `internals` feature; not a stable API.
//!
//! Each `fuzz_*` function decodes arbitrary bytes and returns the decoder's
//! verdict. When decoding succeeds it also checks that encoding the result
//! and decoding it again gives the same value, and panics if not: a panic
//! here is a bug the fuzzer reports. Each also decodes a second copy of the
//! input whose checksums are made valid, so that mutations reach the
//! decoding behind them (random bytes almost never pass a CRC).

use crate::format::catalog::Catalog;
use crate::format::checkpoint::Checkpoint;
use crate::format::needle::{NeedleDraft, NeedleHeader, NEEDLE_HEADER_LEN};
use crate::format::record::{decode_frames, verify_crc, ChunkBuilder, RecordHeader, RECORD_HEADER_LEN};
use crate::format::segment::{
    decode_footer, decode_picture_footer, encode_footer, encode_picture_footer, SegmentHeader, Trailer, ENTRY_LEN,
    MAX_SEGMENT_SIZE, SEGMENT_HEADER_LEN, TRAILER_LEN,
};
use crate::format::superblock::SuperBlock;
use crate::format::DecodeError;
use crate::types::{PictureMeta, StreamId, Timestamp};
use crate::Frame;
use bytes::Bytes;

/// Asserts that `decode(encode(v)) == v`.
fn assert_round_trip<T: PartialEq + std::fmt::Debug>(
    what: &str,
    v: &T,
    encoded: Vec<u8>,
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
) {
    match decode(&encoded) {
        Ok(again) => assert_eq!(&again, v, "{what}: re-encoding changed the value"),
        Err(e) => panic!("{what}: decoded value does not re-encode: {e}"),
    }
}

/// Runs `f` on `b`, then on `b` with its checksums made valid by `fix` (if
/// it applies); returns the verdict on `b` itself.
fn as_is_and_fixed<T>(
    b: &[u8],
    fix: impl Fn(&mut [u8]) -> Option<()>,
    f: impl Fn(&[u8]) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    let mut fixed = b.to_vec();
    if fix(&mut fixed).is_some() {
        let _ = f(&fixed);
    }
    f(b)
}

/// Sets the CRC in the 4 bytes before `end` to that of the bytes before it.
fn fix_crc_before(b: &mut [u8], end: usize) -> Option<()> {
    let at = end.checked_sub(4)?;
    let crc = crc32fast::hash(b.get(..at)?);
    b.get_mut(at..end)?.copy_from_slice(&crc.to_le_bytes());
    Some(())
}

/// Decodes a space superblock.
pub fn fuzz_superblock(b: &[u8]) -> Result<(), DecodeError> {
    as_is_and_fixed(
        b,
        |x| fix_crc_before(x, x.len()),
        |b| {
            let sb = SuperBlock::decode(b)?;
            assert_round_trip("superblock", &sb, sb.encode(), SuperBlock::decode);
            Ok(())
        },
    )
}

/// Decodes a segment header.
pub fn fuzz_segment_header(b: &[u8]) -> Result<(), DecodeError> {
    as_is_and_fixed(
        b,
        |x| fix_crc_before(x, SEGMENT_HEADER_LEN),
        |b| {
            let h = SegmentHeader::decode(b)?;
            assert_round_trip("segment header", &h, h.encode(), SegmentHeader::decode);
            Ok(())
        },
    )
}

/// Decodes the catalog (pools, streams, locks).
pub fn fuzz_catalog(b: &[u8]) -> Result<(), DecodeError> {
    as_is_and_fixed(
        b,
        |x| fix_crc_before(x, x.len()),
        |b| {
            let c = Catalog::decode(b)?;
            assert_round_trip("catalog", &c, c.encode(), Catalog::decode);
            Ok(())
        },
    )
}

/// Decodes a checkpoint.
pub fn fuzz_checkpoint(b: &[u8]) -> Result<(), DecodeError> {
    as_is_and_fixed(
        b,
        |x| fix_crc_before(x, x.len()),
        |b| {
            let c = Checkpoint::decode(b)?;
            assert_round_trip("checkpoint", &c, c.encode(), Checkpoint::decode);
            Ok(())
        },
    )
}

/// Decodes the end of a segment as reading a sealed one does: `b` is the
/// segment size (8 bytes, little-endian) followed by the segment's last
/// bytes. Decodes the trailer in the last 64 bytes, then the footer before
/// it both as video record entries and as picture needle entries.
pub fn fuzz_footer(b: &[u8]) -> Result<(), DecodeError> {
    as_is_and_fixed(b, fix_footer, decode_segment_end)
}

/// Makes the footer CRC in the trailer and the trailer's own CRC valid.
fn fix_footer(b: &mut [u8]) -> Option<()> {
    // `b` is the segment size (8 bytes), then the segment's last bytes.
    let trailer = b.len().checked_sub(TRAILER_LEN)?.checked_sub(8)? + 8;
    let records = u32::from_le_bytes(*b.get(trailer + 12..)?.first_chunk::<4>()?) as usize;
    let footer = trailer.checked_sub(records.checked_mul(ENTRY_LEN)?).filter(|&f| f >= 8)?;
    let crc = crc32fast::hash(b.get(footer..trailer)?);
    b.get_mut(trailer + 16..trailer + 20)?.copy_from_slice(&crc.to_le_bytes());
    fix_crc_before(b.get_mut(trailer..)?, TRAILER_LEN)
}

fn decode_segment_end(b: &[u8]) -> Result<(), DecodeError> {
    let truncated = || DecodeError("segment end: truncated".into());
    let (size, b) = b.split_first_chunk::<8>().ok_or_else(truncated)?;
    let seg = u64::from_le_bytes(*size).clamp(b.len() as u64, MAX_SEGMENT_SIZE.max(b.len() as u64));
    let tail = b.len().checked_sub(TRAILER_LEN).ok_or_else(truncated)?;
    let t = Trailer::decode(&b[tail..], seg)?;
    assert_round_trip("trailer", &t, t.encode(), |x| Trailer::decode(x, seg));
    // Where `b` starts in the segment, and the footer in `b`.
    let b_start = seg - b.len() as u64;
    let fo = t.footer_offset(seg).ok_or_else(|| DecodeError("footer: does not fit".into()))?;
    let fo = usize::try_from(fo.checked_sub(b_start).ok_or_else(truncated)?).map_err(|_| truncated())?;
    let body = &b[fo..tail];
    let video = decode_footer(body, &t).map(|entries| {
        let again = encode_footer(t.generation, &entries);
        let (t2, e2) = split_footer(&again, seg, decode_footer);
        assert_eq!((t2, e2), (t.clone(), entries), "video footer: re-encoding changed it");
    });
    let pictures = decode_picture_footer(body, &t).map(|entries| {
        let again = encode_picture_footer(t.generation, &entries);
        let (t2, e2) = split_footer(&again, seg, decode_picture_footer);
        assert_eq!((t2, e2), (t.clone(), entries), "picture footer: re-encoding changed it");
    });
    video.or(pictures)
}

/// Decodes footer bytes written by the engine (entries + trailer).
fn split_footer<E>(
    footer: &[u8],
    seg: u64,
    decode: impl Fn(&[u8], &Trailer) -> Result<Vec<E>, DecodeError>,
) -> (Trailer, Vec<E>) {
    let tail = footer.len() - TRAILER_LEN;
    let t = Trailer::decode(&footer[tail..], seg).expect("re-encoded trailer decodes");
    let e = decode(&footer[..tail], &t).expect("re-encoded footer decodes");
    (t, e)
}

/// Decodes a video record (header, CRC, frame table), as a read does.
pub fn fuzz_record(b: &[u8]) -> Result<Vec<Frame>, DecodeError> {
    as_is_and_fixed(b, fix_record, decode_one_record)
}

/// Makes a record's CRC (over its header and payload) valid.
fn fix_record(b: &mut [u8]) -> Option<()> {
    let total = usize::try_from(RecordHeader::parse(b).ok()?.total_len()).ok()?;
    let mut h = crc32fast::Hasher::new();
    h.update(b.get(..RECORD_HEADER_LEN - 4)?);
    h.update(b.get(RECORD_HEADER_LEN..total)?);
    b.get_mut(RECORD_HEADER_LEN - 4..RECORD_HEADER_LEN)?.copy_from_slice(&h.finalize().to_le_bytes());
    Some(())
}

fn decode_one_record(b: &[u8]) -> Result<Vec<Frame>, DecodeError> {
    let h = RecordHeader::parse(b)?;
    let bytes = b
        .get(..usize::try_from(h.total_len()).unwrap_or(usize::MAX))
        .ok_or_else(|| DecodeError("record: truncated".into()))?;
    verify_crc(bytes, &h)?;
    let frames = decode_frames(&Bytes::copy_from_slice(bytes), &h)?;
    let mut c = ChunkBuilder::default();
    for f in &frames {
        c.push(f.ts, f.key, crate::checksum::Checksummed::new(f.data.clone()));
    }
    let (again, _) = c.take_record(h.stream, h.generation, 0, h.prev_crc);
    assert_eq!(
        decode_record(&Bytes::from(again.to_vec())).as_ref(),
        Ok(&frames),
        "record: re-encoding changed the frames"
    );
    Ok(frames)
}

/// Decodes a picture needle (header, header CRC over the meta, data CRC), as
/// a get does.
pub fn fuzz_needle(b: &[u8]) -> Result<PictureMeta, DecodeError> {
    as_is_and_fixed(b, fix_needle, decode_one_needle)
}

/// Makes a needle's data CRC and header CRC (over header and meta) valid.
fn fix_needle(b: &mut [u8]) -> Option<()> {
    let h = NeedleHeader::parse(b).ok()?;
    let total = usize::try_from(h.total_len()).ok()?;
    let data_crc = crc32fast::hash(b.get(h.head_len()..total)?);
    b.get_mut(20..24)?.copy_from_slice(&data_crc.to_le_bytes());
    let mut c = crc32fast::Hasher::new();
    c.update(b.get(..64)?);
    c.update(b.get(NEEDLE_HEADER_LEN..h.head_len())?);
    b.get_mut(64..68)?.copy_from_slice(&c.finalize().to_le_bytes());
    Some(())
}

fn decode_one_needle(b: &[u8]) -> Result<PictureMeta, DecodeError> {
    let h = NeedleHeader::parse(b)?;
    let (meta, _) = h.verify_head(b)?;
    let end = usize::try_from(h.total_len()).unwrap_or(usize::MAX);
    let data = b.get(h.head_len()..end).ok_or_else(|| DecodeError("needle: data truncated".into()))?;
    h.verify_data(data)?;
    Ok(meta)
}

/// Encodes one record of `frames` (timestamp, key flag, data) for stream
/// `stream`: the write path's chunk encoder, CRC included.
pub fn encode_record(stream: u64, frames: &[(Timestamp, bool, Bytes)]) -> Vec<u8> {
    let mut c = ChunkBuilder::default();
    for (ts, key, data) in frames {
        c.push(*ts, *key, crate::checksum::Checksummed::new(data.clone()));
    }
    c.take_record(StreamId(stream), 1, 0, 0).0.to_vec()
}

/// Decodes a record as the read path does: header, CRC, frame table; the
/// frames are slices of `b`, not copies.
pub fn decode_record(b: &Bytes) -> Result<Vec<Frame>, DecodeError> {
    let h = RecordHeader::parse(b)?;
    if b.len() as u64 != h.total_len() {
        return Err(DecodeError("record: length mismatch".into()));
    }
    verify_crc(b, &h)?;
    decode_frames(b, &h)
}

/// Encodes a needle for `data` (copy, MD5, CRCs) as a put does, placed at
/// offset 4096 of a segment of generation 1.
pub fn encode_needle(meta: &PictureMeta, data: &[u8]) -> Vec<u8> {
    NeedleDraft::new(meta, meta.captured_at, 0x5eed, data).place(1, 4096, 0).0
}
