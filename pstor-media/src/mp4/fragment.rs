//! Fragmented MP4 for browsers and HLS (ISO/IEC 23000-19 CMAF-style): an
//! init segment (ftyp, moov without samples, mvex) per sample description,
//! and media segments (moof with one trun, then mdat) of consecutive
//! stored frames. Media Source Extensions append them as they come; an
//! HLS playlist names them (`EXT-X-MAP` for the init segment).

use super::boxes::Mp4Box;
use super::entry::SampleEntry;
use super::movie::{mdia, mvhd, stsd, tkhd, MovieError, TIMESCALE};
use bytes::Bytes;

/// `sample_flags` of a key sample: depends on no other.
const KEY_FLAGS: u32 = 0x0200_0000;
/// `sample_flags` of another sample: depends on others, not a sync sample.
const OTHER_FLAGS: u32 = 0x0101_0000;

/// A sample of a media segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentSample {
    /// Its duration, ticks of [`TIMESCALE`].
    pub duration: u32,
    /// Its bytes.
    pub size: u32,
    /// Key sample.
    pub key: bool,
}

/// The init segment of one sample description: what a player needs before
/// the media segments that use it.
pub fn init_segment(entry: &SampleEntry) -> Result<Vec<u8>, MovieError> {
    let mut ftyp = Mp4Box::new(b"ftyp");
    ftyp.bytes(b"iso6").u32(0).bytes(b"iso6").bytes(b"cmfc").bytes(b"mp41");
    let empty = |kind: &[u8; 4], extra: usize| {
        let mut b = Mp4Box::full(kind, 0, 0);
        b.zeros(extra).u32(0);
        b
    };
    let mut stbl = Mp4Box::new(b"stbl");
    stbl.child(stsd(std::slice::from_ref(entry))?);
    stbl.child(empty(b"stts", 0)).child(empty(b"stsc", 0)).child(empty(b"stsz", 4)).child(empty(b"stco", 0));
    let mut trak = Mp4Box::new(b"trak");
    trak.child(tkhd(0, 0, entry.width, entry.height)).child(mdia(0, 0, stbl));
    let mut trex = Mp4Box::full(b"trex", 0, 0);
    trex.u32(1).u32(1).u32(0).u32(0).u32(0); // track 1, description 1, no defaults
    let mut mvex = Mp4Box::new(b"mvex");
    mvex.child(trex);
    let mut moov = Mp4Box::new(b"moov");
    moov.child(mvhd(0, 0)).child(trak).child(mvex);
    let mut out = ftyp.to_bytes();
    out.extend_from_slice(&moov.to_bytes());
    Ok(out)
}

/// A media segment: `moof` (sequence number `sequence`, decoding from
/// `decode_time` ticks) and `mdat` with `data`, the samples' bytes in
/// order. Returns the pieces to send, the data not copied.
pub fn media_segment(
    sequence: u32,
    decode_time: u64,
    samples: &[FragmentSample],
    data: Vec<Bytes>,
) -> Result<Vec<Bytes>, MovieError> {
    let total: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
    let have: u64 = data.iter().map(|d| d.len() as u64).sum();
    if samples.is_empty() || total != have {
        return Err(MovieError::Spec(format!(
            "a media segment of {} samples and {have} of their {total} bytes",
            samples.len()
        )));
    }
    let mut mfhd = Mp4Box::full(b"mfhd", 0, 0);
    mfhd.u32(sequence);
    // default-base-is-moof: data offsets count from the moof's first byte.
    let mut tfhd = Mp4Box::full(b"tfhd", 0, 0x02_0000);
    tfhd.u32(1);
    let mut tfdt = Mp4Box::full(b"tfdt", 1, 0);
    tfdt.u64(decode_time);
    // data offset, duration, size and flags per sample
    let mut trun = Mp4Box::full(b"trun", 0, 0x000_701);
    trun.u32(samples.len() as u32).u32(0);
    for s in samples {
        trun.u32(s.duration).u32(s.size).u32(if s.key { KEY_FLAGS } else { OTHER_FLAGS });
    }
    let mut traf = Mp4Box::new(b"traf");
    traf.child(tfhd).child(tfdt).child(trun);
    let mut moof = Mp4Box::new(b"moof");
    moof.child(mfhd).child(traf);
    let mut moof_bytes = moof.to_bytes();
    let mdat_header = if total + 8 > u64::from(u32::MAX) { 16 } else { 8 };
    // The trun's data offset: past the moof and the mdat's header. It sits
    // after moof(8) mfhd(16) traf(8) tfhd(16) tfdt(20) trun header(12) count(4).
    let offset_at = 8 + 16 + 8 + 16 + 20 + 12 + 4;
    let offset = (moof_bytes.len() + mdat_header) as u32;
    moof_bytes[offset_at..offset_at + 4].copy_from_slice(&offset.to_be_bytes());
    let mut mdat = Vec::with_capacity(16);
    if mdat_header == 16 {
        mdat.extend_from_slice(&1u32.to_be_bytes());
        mdat.extend_from_slice(b"mdat");
        mdat.extend_from_slice(&(total + 16).to_be_bytes());
    } else {
        mdat.extend_from_slice(&((total + 8) as u32).to_be_bytes());
        mdat.extend_from_slice(b"mdat");
    }
    let mut out = vec![Bytes::from(moof_bytes), Bytes::from(mdat)];
    out.extend(data);
    Ok(out)
}

/// Durations of samples at these capture times (µs), in ticks from
/// `base`, the last one lasting until `next` (the frame after them) or as
/// long as the one before it. Exact: they add up to the times' span.
pub fn durations(base: i64, times: &[i64], next: Option<i64>) -> Result<Vec<u32>, MovieError> {
    let ticks = |t: i64| super::movie::ticks(base, t);
    let mut out = Vec::with_capacity(times.len());
    for (i, &t) in times.iter().enumerate() {
        let d = match times.get(i + 1).copied().or(next) {
            Some(n) => ticks(n).saturating_sub(ticks(t)),
            None if i > 0 => ticks(t).saturating_sub(ticks(times[i - 1])),
            None => u64::from(TIMESCALE / 25),
        };
        out.push(
            u32::try_from(d)
                .map_err(|_| MovieError::Spec(format!("sample {i} lasts {d} ticks, more than 32 bits hold")))?,
        );
    }
    Ok(out)
}
