//! Rebuilding a space's segment table from disk: headers and trailers of every
//! segment, footers on demand, and a record-by-record scan only of the tails
//! of open segments written since the last checkpoint.

use crate::error::{Error, Result};
use crate::format::checkpoint::Checkpoint;
use crate::format::needle::{
    next_needle_offset, NeedleEntry, NeedleHeader, ENTRY_HAS_KEY, MAX_META_LEN, NEEDLE_HEADER_LEN,
};
use crate::format::record::{decode_frames, verify_crc, RecordHeader, RECORD_HEADER_LEN};
use crate::format::segment::{
    decode_footer, decode_picture_footer, RecordEntry, SegmentHeader, SegmentUse, Trailer, DATA_START, NO_KEY,
    SEGMENT_HEADER_LEN, TRAILER_LEN,
};
use crate::open_report::SpaceRecovery;
use crate::space::{JobControl, Space};
use crate::types::*;
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// How much corruption opening tolerates (after raft-engine's recovery modes).
///
/// In every mode footers are verified when first read, and a segment whose
/// footer does not verify is read by scanning its records instead (`check`
/// with repair rewrites the footer); every record is verified on every read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryMode {
    /// A torn or corrupt record in an open segment's tail (even the torn last
    /// write of a power cut) or a corrupt segment header fails the open with
    /// [`Error::Corrupt`].
    AbsoluteConsistency,
    /// Torn or corrupt tails of open segments are truncated at the first
    /// invalid record (a `TailTruncated` event says so); a corrupt segment
    /// header fails the open. The default.
    #[default]
    TolerateCorruptTail,
    /// Like the default, and a segment with a corrupt header is treated as
    /// free (its data is given up, with a fresh random generation so none of
    /// its old records can ever match) instead of failing the open.
    TolerateAnyCorruption,
}

/// Why a scan stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanEnd {
    /// Clean end: unused bytes, or records of an older generation.
    Clean,
    /// A record of this generation that is torn or corrupt.
    Torn(String),
}

/// The result of scanning a segment's records.
#[derive(Debug)]
pub(crate) struct Scan {
    pub records: Vec<RecordEntry>,
    pub end: ScanEnd,
}

/// Scans records of segment `index` (generation `gen`, stream `stream`) from
/// the end of `known` (records already trusted) onwards.
pub(crate) fn scan_segment(
    space: &Space,
    index: u32,
    gen: u32,
    stream: StreamId,
    mut known: Vec<RecordEntry>,
) -> Result<Scan> {
    let seg_size = space.sb.segment_size;
    let mut offset = known.last().map_or(DATA_START, |r| r.end());
    let mut prev_crc = known.last().map_or(0, |r| r.crc);
    let mut prev_ts = known.last().map_or(Timestamp::MIN, |r| r.last_ts);
    let mut header = [0u8; RECORD_HEADER_LEN];
    loop {
        if offset + RECORD_HEADER_LEN as u64 > seg_size {
            return Ok(Scan { records: known, end: ScanEnd::Clean });
        }
        space.read(index, offset, &mut header)?;
        if !is_record_of(&header, gen) {
            // Never written, or left from an older generation: the end.
            return Ok(Scan { records: known, end: ScanEnd::Clean });
        }
        let h = match RecordHeader::parse(&header) {
            Ok(h) => h,
            Err(e) => return Ok(Scan { records: known, end: ScanEnd::Torn(format!("at offset {offset}: {e}")) }),
        };
        if h.stream != stream || h.prev_crc != prev_crc || h.first_ts <= prev_ts || offset + h.total_len() > seg_size {
            let why = format!("at offset {offset}: record does not follow its predecessor");
            return Ok(Scan { records: known, end: ScanEnd::Torn(why) });
        }
        let mut buf = vec![0u8; h.total_len() as usize];
        space.read(index, offset, &mut buf)?;
        let checked = verify_crc(&buf, &h).and_then(|_| decode_frames(&Bytes::from(buf), &h));
        let frames = match checked {
            Ok(f) => f,
            Err(e) => return Ok(Scan { records: known, end: ScanEnd::Torn(format!("at offset {offset}: {e}")) }),
        };
        let entry = RecordEntry {
            offset: offset as u32,
            len: h.total_len() as u32,
            first_ts: h.first_ts,
            last_ts: h.last_ts,
            first_key_ts: frames.iter().find(|f| f.key).map_or(NO_KEY, |f| f.ts),
            frames: h.frames,
            crc: h.crc,
        };
        offset = entry.end();
        prev_crc = entry.crc;
        prev_ts = entry.last_ts;
        known.push(entry);
    }
}

/// Whether header bytes claim to be a record of generation `gen` (magic and
/// generation fields), before any other check.
fn is_record_of(b: &[u8], gen: u32) -> bool {
    let field = |at: usize| b.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
    field(0) == Some(crate::format::record::RECORD_MAGIC) && field(8) == Some(gen)
}

/// Reads a sealed segment's trailer and footer entry bytes; `None` if the
/// trailer is missing, stale or corrupt.
fn read_footer_bytes(space: &Space, index: u32, gen: u32) -> Result<Option<(Trailer, Vec<u8>)>> {
    let seg = space.sb.segment_size;
    let mut tb = [0u8; TRAILER_LEN];
    space.read(index, seg - TRAILER_LEN as u64, &mut tb)?;
    let Ok(t) = Trailer::decode(&tb, seg) else { return Ok(None) };
    if t.generation != gen {
        return Ok(None);
    }
    let Some(fo) = t.footer_offset(seg) else { return Ok(None) };
    let mut body = vec![0u8; (seg - TRAILER_LEN as u64 - fo) as usize];
    space.read(index, fo, &mut body)?;
    Ok(Some((t, body)))
}

/// Reads a sealed video segment's footer; `None` if the trailer is missing,
/// stale or corrupt (then the caller scans).
pub(crate) fn read_footer(space: &Space, index: u32, gen: u32) -> Result<Option<Vec<RecordEntry>>> {
    Ok(read_footer_bytes(space, index, gen)?.and_then(|(t, body)| decode_footer(&body, &t).ok()))
}

/// Reads a sealed picture segment's footer; `None` if it does not verify.
pub(crate) fn read_picture_footer(space: &Space, index: u32, gen: u32) -> Result<Option<Vec<NeedleEntry>>> {
    Ok(read_footer_bytes(space, index, gen)?.and_then(|(t, body)| decode_picture_footer(&body, &t).ok()))
}

/// Scans the needles of picture segment `index` (generation `gen`) from the
/// end of `known` onwards: two small reads (header, then header + meta) per needle (the header
/// CRC covers the data CRC; data is verified when read), stopping at the
/// first needle that does not verify or does not chain to its predecessor.
/// For segments whose needles were all made durable (sealed ones).
pub(crate) fn scan_picture_segment(
    space: &Space,
    index: u32,
    gen: u32,
    known: Vec<NeedleEntry>,
) -> Result<PictureScan> {
    scan_needles(space, index, gen, known, false)
}

/// Like [`scan_picture_segment`], but also reads and verifies each needle's
/// data: for the tail of an open segment after an unclean stop, where the
/// last, unsynced needles may be torn (header and meta written, data not),
/// as a record's is for video.
pub(crate) fn scan_picture_tail(space: &Space, index: u32, gen: u32, known: Vec<NeedleEntry>) -> Result<PictureScan> {
    scan_needles(space, index, gen, known, true)
}

fn scan_needles(
    space: &Space,
    index: u32,
    gen: u32,
    mut known: Vec<NeedleEntry>,
    verify_data: bool,
) -> Result<PictureScan> {
    let seg_size = space.sb.segment_size;
    let mut offset = known.last().map_or(DATA_START, |r| next_needle_offset(r.end()));
    let mut prev_crc = known.last().map_or(0, |r| r.crc);
    let mut head = vec![0u8; NEEDLE_HEADER_LEN + MAX_META_LEN];
    let end = loop {
        if offset + NEEDLE_HEADER_LEN as u64 > seg_size {
            break ScanEnd::Clean;
        }
        space.read(index, offset, &mut head[..NEEDLE_HEADER_LEN])?;
        if !is_record_of(&head, gen) {
            // Never written, or left from an older generation: the end.
            break ScanEnd::Clean;
        }
        let h = match NeedleHeader::parse(&head) {
            Ok(h) => h,
            Err(e) => break ScanEnd::Torn(format!("at offset {offset}: {e}")),
        };
        if h.prev_crc != prev_crc || offset + h.total_len() > seg_size {
            break ScanEnd::Torn(format!("at offset {offset}: needle does not follow its predecessor"));
        }
        space.read(index, offset, &mut head[..h.head_len()])?;
        let meta = match h.verify_head(&head) {
            Ok((meta, _)) => meta,
            Err(e) => break ScanEnd::Torn(format!("at offset {offset}: {e}")),
        };
        if verify_data {
            let mut data = vec![0u8; h.data_len as usize];
            space.read(index, offset + h.head_len() as u64, &mut data)?;
            if let Err(e) = h.verify_data(&data) {
                break ScanEnd::Torn(format!("at offset {offset}: {e}"));
            }
        }
        let entry = NeedleEntry {
            offset: offset as u32,
            len: h.total_len() as u32,
            cookie: h.cookie,
            crc: h.crc,
            captured_at: h.captured_at,
            camera_hash: h.camera_hash,
            meta_len: h.meta_len,
            flags: if meta.key.is_some() { ENTRY_HAS_KEY } else { 0 },
        };
        offset = next_needle_offset(entry.end());
        prev_crc = entry.crc;
        known.push(entry);
    };
    Ok(PictureScan { needles: known, end })
}

/// The result of scanning a picture segment.
#[derive(Debug)]
pub(crate) struct PictureScan {
    pub needles: Vec<NeedleEntry>,
    pub end: ScanEnd,
}

/// What a segment was found to be at open.
#[derive(Debug)]
pub(crate) enum Found {
    Free { gen: u32 },
    Sealed { header: SegmentHeader, trailer: Trailer },
    Open { header: SegmentHeader, records: Vec<RecordEntry>, needles: Vec<NeedleEntry>, torn: Option<String> },
}

/// Reads every segment's header and trailer, scanning open segments' tails
/// past the checkpoint (none at all after a clean shutdown).
pub(crate) fn load_segments(
    space: &Space,
    ckpt: Option<&Checkpoint>,
    mode: RecoveryMode,
    job: Option<&JobControl>,
    report: &mut SpaceRecovery,
) -> Result<Vec<Found>> {
    let sb = &space.sb;
    let n = sb.segment_count;
    let mut out = Vec::with_capacity(n as usize);
    let mut hb = [0u8; SEGMENT_HEADER_LEN];
    let mut tb = [0u8; TRAILER_LEN];
    for idx in 0..n {
        if let Some(j) = job {
            j.progress.store(((idx as u64 * 100) / n as u64) as u8, Ordering::Relaxed);
        }
        space.set_progress(((idx as u64 * 100) / n as u64) as u8);
        space.read(idx, 0, &mut hb)?;
        report.segments += 1;
        let header = match SegmentHeader::decode(&hb) {
            Ok(h) if h.space_uuid == sb.space_uuid && h.index == idx => h,
            other => {
                let why = match other {
                    Ok(_) => "header belongs to another space or segment".to_string(),
                    Err(e) => e.to_string(),
                };
                if mode == RecoveryMode::TolerateAnyCorruption {
                    // Start a fresh generation no old record can match.
                    report.given_up.push((idx, why));
                    out.push(Found::Free { gen: rand::random() });
                    continue;
                }
                return Err(Error::Corrupt(format!("space {} segment {idx}: {why}", space.id)));
            }
        };
        if header.usage == SegmentUse::Free {
            out.push(Found::Free { gen: header.generation });
            continue;
        }
        space.read(idx, sb.segment_size - TRAILER_LEN as u64, &mut tb)?;
        if let Ok(t) = Trailer::decode(&tb, sb.segment_size) {
            if t.generation == header.generation {
                out.push(Found::Sealed { header, trailer: t });
                continue;
            }
        }
        let from_ckpt =
            ckpt.and_then(|c| c.segments.iter().find(|s| s.index == idx && s.generation == header.generation));
        let clean = ckpt.is_some_and(|c| c.clean) && from_ckpt.is_some();
        let (records, needles, end) = match (header.usage, from_ckpt) {
            (SegmentUse::Picture, s) => {
                let known = s.map(|s| s.needles.clone()).unwrap_or_default();
                if clean {
                    (Vec::new(), known, ScanEnd::Clean)
                } else {
                    let before = known.len();
                    let scan = scan_picture_tail(space, idx, header.generation, known)?;
                    report.scanned_segments += 1;
                    report.recovered_entries += scan.needles.len().saturating_sub(before) as u64;
                    (Vec::new(), scan.needles, scan.end)
                }
            }
            (_, s) => {
                let known = s.map(|s| s.records.clone()).unwrap_or_default();
                if clean {
                    (known, Vec::new(), ScanEnd::Clean)
                } else {
                    let before = known.len();
                    let scan = scan_segment(space, idx, header.generation, header.stream, known)?;
                    report.scanned_segments += 1;
                    report.recovered_entries += scan.records.len().saturating_sub(before) as u64;
                    (scan.records, Vec::new(), scan.end)
                }
            }
        };
        let torn = match end {
            ScanEnd::Torn(why) if mode == RecoveryMode::AbsoluteConsistency => {
                return Err(Error::Corrupt(format!("space {} segment {idx}: {why}", space.id)));
            }
            ScanEnd::Torn(why) => Some(why),
            ScanEnd::Clean => None,
        };
        out.push(Found::Open { header, records, needles, torn });
    }
    space.set_progress(100);
    Ok(out)
}
