//! A fast-start `.mp4` of stored frames (ftyp, moov, mdat) laid out before
//! any byte of it is made: the caller says how many samples, key samples
//! and bytes each *chunk* (a run of frames stored together) has, and the
//! movie knows its length and every box's place. The sample tables and the
//! media data are generated for the bytes a reader asks for, from a
//! [`ChunkSource`] that reads the chunks' frame tables and data again, so
//! the movie holds a few numbers per chunk, never the tables or the frames.
//!
//! Times: one 90 kHz timescale for the movie and the track; sample `i`
//! decodes at `floor((ts_i - ts_0) * 90000 / 10^6)`, so durations add up to
//! the capture times exactly, with no drift. A gap in the recording is the
//! duration of the frame before it (the picture holds), so the file's
//! timeline is the wall clock's. An edit list starts the presentation at
//! the asked start, after the key frame decoding must start from.

use super::boxes::{mp4_time, Mp4Box, Piece, Table, UNITY_MATRIX};
use super::entry::SampleEntry;
use crate::{Codec, MediaError};
use bytes::Bytes;

/// Ticks per second of the movie and its track.
pub const TIMESCALE: u32 = 90_000;

/// Ticks from `base` to `ts` (µs; `ts >= base`).
pub fn ticks(base: i64, ts: i64) -> u64 {
    ((ts as i128 - base as i128).max(0) as u128 * TIMESCALE as u128 / 1_000_000) as u64
}

/// What the movie knows of a chunk before reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSpec {
    /// Its samples.
    pub samples: u32,
    /// Its key samples.
    pub keys: u32,
    /// Its sample description (index into [`MovieSpec::entries`]).
    pub entry: u32,
    /// Its samples' bytes.
    pub data_len: u64,
    /// Its first sample's capture time (µs UTC).
    pub first_ts: i64,
}

/// A sample as the source reads it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Capture time (µs UTC).
    pub ts: i64,
    /// Its bytes.
    pub size: u32,
    /// Key sample.
    pub key: bool,
}

/// Everything a movie is made of.
#[derive(Debug, Clone)]
pub struct MovieSpec {
    /// The sample descriptions, in the order chunks refer to them.
    pub entries: Vec<SampleEntry>,
    /// The chunks, in time order.
    pub chunks: Vec<ChunkSpec>,
    /// The presentation starts here (µs UTC, at or after the first sample):
    /// the samples before it are decoded, not shown.
    pub start_ts: i64,
    /// The last sample's capture time (µs UTC).
    pub last_ts: i64,
    /// Duration of the last sample (µs): the frame after it is not in the file.
    pub last_duration_us: i64,
}

/// Reads the chunks of a movie again, as its bytes are made.
pub trait ChunkSource {
    /// What reading can fail with; a movie's own findings convert into it.
    type Error: From<MovieError>;
    /// The samples of chunk `chunk`, in order.
    fn samples(&mut self, chunk: usize) -> Result<Vec<Sample>, Self::Error>;
    /// The bytes of chunk `chunk`'s samples, one after the other.
    fn data(&mut self, chunk: usize) -> Result<Bytes, Self::Error>;
}

/// Why a movie cannot be made or its source does not fit it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MovieError {
    /// The spec cannot make a movie (no chunk, no entry, times backwards...).
    #[error("cannot make a movie: {0}")]
    Spec(String),
    /// A sample description could not be made.
    #[error("sample description {index}: {source}")]
    Entry {
        /// Which.
        index: usize,
        /// Why.
        source: MediaError,
    },
    /// What the source read back differs from what the movie was laid out
    /// with (the stored data changed): the movie cannot go on.
    #[error("chunk {chunk} changed since the movie was laid out: {what}")]
    Changed {
        /// Which chunk.
        chunk: usize,
        /// What differs.
        what: String,
    },
}

/// A laid-out movie: its length, its pieces, and a few numbers per chunk.
#[derive(Debug, Clone)]
pub struct Movie {
    pieces: Vec<(u64, Piece)>,
    len: u64,
    chunks: Vec<ChunkSpec>,
    /// Samples, key samples and data bytes before each chunk (and in all, last).
    before: Vec<(u32, u32, u64)>,
    base_ts: i64,
    last_duration: u64,
    /// Where the first chunk's data starts in the file.
    data_start: u64,
}

const STTS_ENTRY: u64 = 8;
const STSS_ENTRY: u64 = 4;
const STSC_ENTRY: u64 = 12;
const STSZ_ENTRY: u64 = 4;
const CO64_ENTRY: u64 = 8;

/// The most a sample's duration can be (a gap in the recording included):
/// 32 bits of 90 kHz ticks, 13 h 15 min.
pub const MAX_SAMPLE_DURATION_US: i64 = (u32::MAX as i64) * 1_000_000 / TIMESCALE as i64;

/// `ftyp` of a file of this codec.
pub fn ftyp(codec: Codec) -> Mp4Box {
    let mut b = Mp4Box::new(b"ftyp");
    b.bytes(b"isom").u32(0x200);
    b.bytes(b"isom").bytes(b"iso2").bytes(if codec == Codec::H265 { b"hvc1" } else { b"avc1" }).bytes(b"mp41");
    b
}

/// `mvhd` (version 1) of a one-track movie.
pub fn mvhd(created: u64, duration: u64) -> Mp4Box {
    let mut b = Mp4Box::full(b"mvhd", 1, 0);
    b.u64(created).u64(created).u32(TIMESCALE).u64(duration);
    b.u32(0x0001_0000).u16(0x0100).zeros(10); // rate 1.0, volume 1.0, reserved
    for m in UNITY_MATRIX {
        b.u32(m);
    }
    b.zeros(24).u32(2); // pre_defined, next_track_ID
    b
}

/// `tkhd` (version 1) of the video track (id 1).
pub fn tkhd(created: u64, duration: u64, width: u16, height: u16) -> Mp4Box {
    let mut b = Mp4Box::full(b"tkhd", 1, 0x3); // enabled, in movie
    b.u64(created).u64(created).u32(1).u32(0).u64(duration);
    b.zeros(8).u16(0).u16(0).u16(0).u16(0); // reserved, layer, group, volume, reserved
    for m in UNITY_MATRIX {
        b.u32(m);
    }
    b.u32(u32::from(width) << 16).u32(u32::from(height) << 16);
    b
}

/// `mdia` of the video track around its sample table.
pub fn mdia(created: u64, duration: u64, stbl: Mp4Box) -> Mp4Box {
    let mut mdhd = Mp4Box::full(b"mdhd", 1, 0);
    mdhd.u64(created).u64(created).u32(TIMESCALE).u64(duration).u16(0x55c4).u16(0); // language "und"
    let mut hdlr = Mp4Box::full(b"hdlr", 0, 0);
    hdlr.u32(0).bytes(b"vide").zeros(12).bytes(b"VideoHandler\0");
    let mut vmhd = Mp4Box::full(b"vmhd", 0, 1);
    vmhd.zeros(8);
    let mut url = Mp4Box::full(b"url ", 0, 1); // the data is in this file
    url.bytes(&[]);
    let mut dref = Mp4Box::full(b"dref", 0, 0);
    dref.u32(1).child(url);
    let mut dinf = Mp4Box::new(b"dinf");
    dinf.child(dref);
    let mut minf = Mp4Box::new(b"minf");
    minf.child(vmhd).child(dinf).child(stbl);
    let mut mdia = Mp4Box::new(b"mdia");
    mdia.child(mdhd).child(hdlr).child(minf);
    mdia
}

/// `stsd` with these entries.
pub fn stsd(entries: &[SampleEntry]) -> Result<Mp4Box, MovieError> {
    let mut b = Mp4Box::full(b"stsd", 0, 0);
    b.u32(entries.len() as u32);
    for (index, e) in entries.iter().enumerate() {
        b.child(e.to_box().map_err(|source| MovieError::Entry { index, source })?);
    }
    Ok(b)
}

fn table_box(kind: &[u8; 4], fixed: &[u32], count: u64, table: Table, entry: u64) -> Mp4Box {
    let mut b = Mp4Box::full(kind, 0, 0);
    for v in fixed {
        b.u32(*v);
    }
    b.u32(count as u32).table(table, count * entry);
    b
}

impl Movie {
    /// Lays a movie out.
    pub fn new(spec: MovieSpec) -> Result<Movie, MovieError> {
        let bad = |m: String| Err(MovieError::Spec(m));
        let (Some(first), Some(entry0)) = (spec.chunks.first(), spec.entries.first()) else {
            return bad("a movie needs at least one chunk and one sample description".into());
        };
        let base_ts = first.first_ts;
        if spec.start_ts < base_ts {
            return bad(format!("the presentation starts at {} before the first sample at {base_ts}", spec.start_ts));
        }
        if !(0..=MAX_SAMPLE_DURATION_US).contains(&spec.last_duration_us) {
            return bad(format!("the last sample's duration {} us is out of range", spec.last_duration_us));
        }
        let mut before = Vec::with_capacity(spec.chunks.len() + 1);
        let (mut samples, mut keys, mut data) = (0u64, 0u64, 0u64);
        for (i, c) in spec.chunks.iter().enumerate() {
            if c.samples == 0 || c.keys > c.samples || c.entry as usize >= spec.entries.len() {
                return bad(format!("chunk {i}: {c:?} is inconsistent"));
            }
            if let Some(next) = spec.chunks.get(i + 1) {
                let span = next.first_ts as i128 - c.first_ts as i128;
                if span < i128::from(c.samples) {
                    return bad(format!("chunk {} does not start after chunk {i}", i + 1));
                }
                if ticks(c.first_ts, next.first_ts) > u64::from(u32::MAX) * u64::from(c.samples) {
                    return bad(format!(
                        "chunk {i} and the next are {} s apart: a gap longer than {} s cannot be one sample's duration",
                        span / 1_000_000,
                        MAX_SAMPLE_DURATION_US / 1_000_000
                    ));
                }
            }
            before.push((samples as u32, keys as u32, data));
            samples += u64::from(c.samples);
            keys += u64::from(c.keys);
            data += c.data_len;
        }
        if samples > u64::from(u32::MAX) {
            return bad(format!("{samples} samples are more than a movie can number"));
        }
        before.push((samples as u32, keys as u32, data));
        let chunk_count = spec.chunks.len() as u64;
        if spec.last_ts < spec.chunks.last().map_or(base_ts, |c| c.first_ts) {
            return bad(format!("the last sample at {} is before the last chunk starts", spec.last_ts));
        }
        let last_duration = ticks(0, spec.last_duration_us);
        let total = ticks(base_ts, spec.last_ts) + last_duration;
        let media_time = ticks(base_ts, spec.start_ts);
        if media_time >= total {
            return bad("the presentation starts after the last sample ends".into());
        }
        let shown = total - media_time;
        let created = mp4_time(spec.start_ts);
        let (w, h) = (entry0.width, entry0.height);

        let mut stbl = Mp4Box::new(b"stbl");
        stbl.child(stsd(&spec.entries)?);
        stbl.child(table_box(b"stts", &[], samples, Table::Durations, STTS_ENTRY));
        stbl.child(table_box(b"stss", &[], keys, Table::KeySamples, STSS_ENTRY));
        stbl.child(table_box(b"stsc", &[], chunk_count, Table::ChunkSamples, STSC_ENTRY));
        stbl.child(table_box(b"stsz", &[0], samples, Table::Sizes, STSZ_ENTRY));
        stbl.child(table_box(b"co64", &[], chunk_count, Table::ChunkOffsets, CO64_ENTRY));
        let mut elst = Mp4Box::full(b"elst", 1, 0);
        elst.u32(1).u64(shown).u64(media_time).u16(1).u16(0);
        let mut edts = Mp4Box::new(b"edts");
        edts.child(elst);
        let mut trak = Mp4Box::new(b"trak");
        trak.child(tkhd(created, shown, w, h)).child(edts).child(mdia(created, total, stbl));
        let mut moov = Mp4Box::new(b"moov");
        moov.child(mvhd(created, shown)).child(trak);
        let mut mdat = Mp4Box::new(b"mdat");
        mdat.table(Table::Data, data);

        let mut flat = Vec::new();
        ftyp(entry0.config.codec).flatten(&mut flat);
        moov.flatten(&mut flat);
        mdat.flatten(&mut flat);
        let mut pieces = Vec::with_capacity(flat.len());
        let mut at = 0u64;
        let mut data_start = 0;
        for p in flat {
            let n = match &p {
                Piece::Bytes(b) => b.len() as u64,
                Piece::Table(t, n) => {
                    if *t == Table::Data {
                        data_start = at;
                    }
                    *n
                }
            };
            pieces.push((at, p));
            at += n;
        }
        Ok(Movie { pieces, len: at, chunks: spec.chunks, before, base_ts, last_duration, data_start })
    }

    /// The file's length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Never: a movie has at least its boxes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Where the media data starts (everything before it is ftyp and moov).
    pub fn data_start(&self) -> u64 {
        self.data_start
    }

    /// The chunks.
    pub fn chunks(&self) -> &[ChunkSpec] {
        &self.chunks
    }

    /// The chunk holding data byte `offset` of the file, if any.
    pub fn chunk_at(&self, offset: u64) -> Option<usize> {
        let d = offset.checked_sub(self.data_start)?;
        if d >= self.before.last()?.2 {
            return None;
        }
        Some(self.before.partition_point(|b| b.2 <= d) - 1)
    }

    /// Up to `max` bytes of the file from `offset` (fewer at its end or at
    /// a piece's end; none from its end on).
    pub fn read_at<S: ChunkSource>(&self, src: &mut S, offset: u64, max: usize) -> Result<Bytes, S::Error> {
        if offset >= self.len || max == 0 {
            return Ok(Bytes::new());
        }
        let i = self.pieces.partition_point(|p| p.0 <= offset) - 1;
        let (start, piece) = &self.pieces[i];
        let end = self.pieces.get(i + 1).map_or(self.len, |p| p.0);
        let want = (end - offset).min(max as u64);
        let rel = offset - start;
        match piece {
            Piece::Bytes(b) => Ok(Bytes::copy_from_slice(&b[rel as usize..(rel + want) as usize])),
            Piece::Table(Table::Data, _) => {
                let c =
                    self.chunk_at(offset).ok_or_else(|| MovieError::Spec("data offset beyond the chunks".into()))?;
                let bytes = src.data(c)?;
                let spec = &self.chunks[c];
                if bytes.len() as u64 != spec.data_len {
                    let what = format!("{} data bytes instead of {}", bytes.len(), spec.data_len);
                    return Err(MovieError::Changed { chunk: c, what }.into());
                }
                let from = rel - self.before[c].2;
                let n = want.min(spec.data_len - from);
                Ok(bytes.slice(from as usize..(from + n) as usize))
            }
            Piece::Table(t, _) => {
                let size = entry_size(*t);
                let (first, last) = (rel / size, (rel + want).div_ceil(size));
                let mut out = Vec::with_capacity(((last - first) * size) as usize);
                self.table_entries(src, *t, first, last, &mut out)?;
                let skip = (rel - first * size) as usize;
                Ok(Bytes::from(out).slice(skip..skip + want as usize))
            }
        }
    }

    /// Entries `first..last` of table `t`, encoded into `out`.
    fn table_entries<S: ChunkSource>(
        &self,
        src: &mut S,
        t: Table,
        first: u64,
        last: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), S::Error> {
        match t {
            Table::ChunkSamples => {
                for c in first..last {
                    let spec = &self.chunks[c as usize];
                    out.extend_from_slice(&(c as u32 + 1).to_be_bytes());
                    out.extend_from_slice(&spec.samples.to_be_bytes());
                    out.extend_from_slice(&(spec.entry + 1).to_be_bytes());
                }
            }
            Table::ChunkOffsets => {
                for c in first..last {
                    out.extend_from_slice(&(self.data_start + self.before[c as usize].2).to_be_bytes());
                }
            }
            Table::Durations | Table::Sizes | Table::KeySamples => {
                let by_key = t == Table::KeySamples;
                let index = |b: &(u32, u32, u64)| u64::from(if by_key { b.1 } else { b.0 });
                let mut c = self.before.partition_point(|b| index(b) <= first) - 1;
                let mut n = first;
                while n < last && c < self.chunks.len() {
                    let samples = self.checked_samples(src, c)?;
                    let (s0, k0) = (u64::from(self.before[c].0), u64::from(self.before[c].1));
                    if by_key {
                        let keyed = samples.iter().enumerate().filter(|(_, s)| s.key).map(|(j, _)| j as u64);
                        for j in keyed.skip((n - k0) as usize).take((last - n) as usize) {
                            out.extend_from_slice(&((s0 + j + 1) as u32).to_be_bytes());
                            n += 1;
                        }
                    } else {
                        let next_ts = self.chunks.get(c + 1).map(|x| x.first_ts);
                        for j in (n - s0) as usize..samples.len().min((last - s0) as usize) {
                            if t == Table::Sizes {
                                out.extend_from_slice(&samples[j].size.to_be_bytes());
                            } else {
                                let at = ticks(self.base_ts, samples[j].ts);
                                let duration = match samples.get(j + 1).map(|s| s.ts).or(next_ts) {
                                    Some(next) => ticks(self.base_ts, next) - at,
                                    None => self.last_duration,
                                };
                                let duration = u32::try_from(duration).map_err(|_| MovieError::Changed {
                                    chunk: c,
                                    what: format!("sample {j} lasts {duration} ticks, more than 32 bits hold"),
                                })?;
                                out.extend_from_slice(&1u32.to_be_bytes());
                                out.extend_from_slice(&duration.to_be_bytes());
                            }
                            n += 1;
                        }
                    }
                    c += 1;
                }
            }
            Table::Data => {}
        }
        Ok(())
    }

    /// A chunk's samples, checked against its spec.
    fn checked_samples<S: ChunkSource>(&self, src: &mut S, c: usize) -> Result<Vec<Sample>, S::Error> {
        let samples = src.samples(c)?;
        let spec = &self.chunks[c];
        let changed = |what: String| MovieError::Changed { chunk: c, what };
        let keys = samples.iter().filter(|s| s.key).count() as u64;
        let data: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
        if samples.len() as u64 != u64::from(spec.samples) || keys != u64::from(spec.keys) || data != spec.data_len {
            return Err(changed(format!(
                "{} samples, {keys} keys, {data} bytes instead of {}, {}, {}",
                samples.len(),
                spec.keys,
                spec.samples,
                spec.data_len
            ))
            .into());
        }
        let limit = self.chunks.get(c + 1).map_or(i64::MAX, |n| n.first_ts);
        if samples.first().map(|s| s.ts) != Some(spec.first_ts)
            || samples.windows(2).any(|w| w[1].ts <= w[0].ts)
            || samples.last().is_some_and(|s| s.ts >= limit)
        {
            return Err(changed("sample times differ".into()).into());
        }
        Ok(samples)
    }
}

fn entry_size(t: Table) -> u64 {
    match t {
        Table::Durations => STTS_ENTRY,
        Table::KeySamples => STSS_ENTRY,
        Table::ChunkSamples => STSC_ENTRY,
        Table::Sizes => STSZ_ENTRY,
        Table::ChunkOffsets => CO64_ENTRY,
        Table::Data => 1,
    }
}
