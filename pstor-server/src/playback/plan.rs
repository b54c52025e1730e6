//! Planning a `.mp4` of a stream's time range: which stored frames it
//! holds (from the key frame at or before the start to the last frame at
//! or before the end), cut into chunks (a record's frames, split where a
//! key frame's parameter sets change the sample description), laid out by
//! [`pstor_media::mp4::Movie`]; and the [`EngineSource`] that reads the
//! chunks again, verified, as the client pulls the file.
//!
//! The plan reads every record's frame table once (one small read each)
//! and the start of each key frame (usually in the same read): the file's
//! length and its ETag are known before its first byte. What it keeps is a
//! few numbers per record (about 120 bytes per ≤ 256 KiB / ≤ 1 s record),
//! never a frame table or a frame.

use pstor_core::{Engine, RecordHead, RecordRef, StreamId, StreamInfo};
use pstor_media::mp4::movie::MAX_SAMPLE_DURATION_US;
use pstor_media::mp4::{
    key_frame_config, ChunkSource, ChunkSpec, Lead, Movie, MovieError, MovieSpec, Sample, SampleEntry,
};
use pstor_media::{Codec, DecoderConfig};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Bytes of a key frame read to find its parameter sets (they come first
/// and are small; a longer lead is read only when they do not fit).
const LEAD: usize = 4096;

/// Most sample descriptions (codec changes) one file holds.
pub const MAX_ENTRIES: usize = 64;

/// Records read with one verified read while a file is served (adjacent
/// ones; the engine reads them with one positioned read).
const DATA_BATCH_BYTES: u64 = 2 << 20;

/// Why a range cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The engine refused (unknown stream, lost space, overwritten, ...).
    #[error(transparent)]
    Engine(#[from] pstor_core::Error),
    /// Start after end, and the like.
    #[error("{0}")]
    Invalid(String),
    /// Nothing playable is recorded in the range.
    #[error("{0}")]
    NoRecording(String),
    /// The range is longer than a file may cover, or holds a gap a file
    /// cannot show.
    #[error("{0}")]
    TooLong(String),
    /// The stored frames cannot make an MP4 (codec, parameter sets).
    #[error("{0}")]
    Unplayable(String),
}

impl From<MovieError> for PlanError {
    fn from(e: MovieError) -> Self {
        PlanError::Unplayable(e.to_string())
    }
}

/// A chunk of the file: frames `first..first + count` of one record.
#[derive(Debug, Clone)]
pub struct Chunk {
    record: RecordRef,
    first: u32,
    count: u32,
    /// Offset of the first frame's data in the record.
    data_at: u32,
    /// Bytes of the chunk's frames.
    data_len: u32,
}

impl Chunk {
    fn same_record(&self, other: &Chunk) -> bool {
        same_record(&self.record, &other.record)
    }
}

fn same_record(a: &RecordRef, b: &RecordRef) -> bool {
    (a.space_id(), a.segment(), a.generation(), a.offset()) == (b.space_id(), b.segment(), b.generation(), b.offset())
}

/// A planned file.
#[derive(Debug, Clone)]
pub struct Export {
    /// The stream.
    pub info: StreamInfo,
    /// Its codec.
    pub codec: Codec,
    /// The presentation starts here (µs UTC): the asked start, or the
    /// first frame when recording begins later.
    pub shown_from: i64,
    /// The asked end (µs UTC).
    pub end: i64,
    /// The first frame's time (the key frame decoding starts at).
    pub first_ts: i64,
    /// The last frame's time.
    pub last_ts: i64,
    /// Frames in the file.
    pub frames: u64,
    /// Sample descriptions (more than one: the codec changed in the range).
    pub entries: usize,
    /// Each key frame's time and sample description (an HLS playlist's
    /// segments start at them).
    pub keys: Vec<(i64, u32)>,
    /// Duration of the last frame (µs).
    pub last_duration_us: i64,
    /// The layout.
    pub movie: Arc<Movie>,
    /// What each of the movie's chunks is.
    pub chunks: Arc<Vec<Chunk>>,
    /// A strong validator: the records' places, generations and CRCs, the
    /// times and the layout's version.
    pub etag: String,
}

impl Export {
    /// A source reading this file's chunks from `engine`.
    pub fn source(&self, engine: &Engine) -> EngineSource {
        EngineSource {
            engine: engine.clone(),
            stream: self.info.config.id,
            chunks: Arc::clone(&self.chunks),
            head: None,
            batch: None,
        }
    }
}

/// The decoder configuration of a key frame, reading more of it when its
/// parameter sets go beyond what is at hand.
fn key_config(
    engine: &Engine,
    stream: StreamId,
    codec: Codec,
    r: &RecordRef,
    head: &RecordHead,
    f: &pstor_core::FrameMeta,
) -> Result<DecoderConfig, String> {
    let rel = (f.offset - r.data_offset()) as usize;
    let at_hand = head.lead.get(rel..).map(|l| &l[..l.len().min(f.len as usize)]).unwrap_or_default();
    let owned;
    let lead: &[u8] = if !at_hand.is_empty() {
        at_hand
    } else {
        owned = engine.read_record_part(stream, r, f.offset, f.len.min(LEAD as u32)).map_err(|e| e.to_string())?;
        &owned
    };
    match key_frame_config(codec, lead, lead.len() == f.len as usize) {
        Ok(Lead::Config(c)) => Ok(c),
        Ok(Lead::NeedMore) => {
            let whole = engine.read_record_part(stream, r, f.offset, f.len).map_err(|e| e.to_string())?;
            match key_frame_config(codec, &whole, true) {
                Ok(Lead::Config(c)) => Ok(c),
                Ok(Lead::NeedMore) => Err("the key frame ends inside its parameter sets".into()),
                Err(e) => Err(e.to_string()),
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Plans the file of `stream` over `[start, end]` (µs UTC).
pub fn plan(engine: &Engine, stream: StreamId, start: i64, end: i64, max_range_us: i64) -> Result<Export, PlanError> {
    if end < start {
        return Err(PlanError::Invalid(format!("the range ends ({end}) before it starts ({start})")));
    }
    if end - start > max_range_us {
        return Err(PlanError::TooLong(format!(
            "the range is {} s long; one file covers at most {} s (playback.max_range_hours): ask for it in parts",
            (end - start) / 1_000_000,
            max_range_us / 1_000_000
        )));
    }
    let info = engine.stream(stream)?;
    let codec = Codec::from_name(&info.config.codec).ok_or_else(|| {
        PlanError::Unplayable(format!(
            "stream {stream} is of codec {:?}: MP4 files are made of H.264 and H.265",
            info.config.codec
        ))
    })?;
    let stored_config = DecoderConfig::parse(codec, &info.config.codec_config).ok();
    let found = engine.export_records(stream, start, end)?;
    let records = found.records;
    // Where decoding starts: the last key frame at or before `start` when
    // recording runs up to it, else the first key frame at or after it.
    let mut begin: Option<(usize, usize)> = None;
    if let Some(u) = found.key_within {
        for (i, r) in records.iter().enumerate().take(u + 1) {
            if r.first_key_ts().is_none_or(|k| k > start) {
                continue;
            }
            let head = engine.record_head(stream, r, 0)?;
            if let Some(j) = head.frames.iter().rposition(|f| f.key && f.ts <= start) {
                begin = Some((i, j));
            }
        }
    }
    let (first_record, mut first_frame) = begin.unwrap_or((0, 0));
    let mut started = begin.is_some();

    let mut entries: Vec<SampleEntry> = Vec::new();
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut specs: Vec<ChunkSpec> = Vec::new();
    let mut hasher = Sha256::new();
    hasher.update(format!("pstor-mp4/1 {stream} {start} {end}\n"));
    let (mut first_ts, mut last, mut before_last) = (None, None::<i64>, None::<i64>);
    let mut frames = 0u64;
    let mut keys = Vec::new();
    for r in records.iter().skip(first_record) {
        if r.first_ts() > end {
            break;
        }
        let lead = if r.first_key_ts() == Some(r.first_ts()) { LEAD } else { 0 };
        let head = engine.record_head(stream, r, lead)?;
        let mut entry = specs.last().map(|s| s.entry as usize);
        for (j, f) in head.frames.iter().enumerate().skip(std::mem::take(&mut first_frame)) {
            if f.ts > end {
                break;
            }
            if !started {
                if !(f.key && f.ts >= start) {
                    continue;
                }
                started = true;
            }
            if let Some(p) = last {
                if f.ts - p > MAX_SAMPLE_DURATION_US {
                    return Err(PlanError::TooLong(format!(
                        "the range holds a gap of {} s (from {p} to {}); a file shows a gap as one frame's duration, \
                         at most {} s: ask for the recorded parts before and after it",
                        (f.ts - p) / 1_000_000,
                        f.ts,
                        MAX_SAMPLE_DURATION_US / 1_000_000
                    )));
                }
            }
            if f.key || entry.is_none() {
                let cfg = match key_config(engine, stream, codec, r, &head, f) {
                    Ok(c) => Some(c),
                    Err(why) if entry.is_some() => {
                        tracing::warn!(%stream, ts = f.ts, %why, "a key frame's parameter sets do not parse: it keeps the sample description before it");
                        None
                    }
                    Err(why) => match stored_config.clone() {
                        Some(c) => {
                            tracing::warn!(%stream, ts = f.ts, %why, "the first key frame's parameter sets do not parse: using the stream's codec config");
                            Some(c)
                        }
                        None => {
                            return Err(PlanError::Unplayable(format!(
                                "the key frame at {} has no usable parameter sets ({why}) and the stream has no codec config",
                                f.ts
                            )))
                        }
                    },
                };
                if let Some(cfg) = cfg {
                    let found = entries.iter().position(|e| e.config.same_parameter_sets(&cfg));
                    let index = match found {
                        Some(i) => i,
                        None if entries.len() >= MAX_ENTRIES => {
                            return Err(PlanError::Unplayable(format!(
                                "the range changes codec settings more than {MAX_ENTRIES} times: ask for it in parts"
                            )))
                        }
                        None => {
                            entries.push(
                                SampleEntry::new(cfg)
                                    .map_err(|e| PlanError::Unplayable(format!("the key frame at {}: {e}", f.ts)))?,
                            );
                            entries.len() - 1
                        }
                    };
                    entry = Some(index);
                }
            }
            let e = entry.unwrap_or(0) as u32;
            let continues =
                chunks.last().is_some_and(|c: &Chunk| same_record(&c.record, r) && c.first + c.count == j as u32)
                    && specs.last().is_some_and(|s| s.entry == e);
            if !continues {
                chunks.push(Chunk { record: r.clone(), first: j as u32, count: 0, data_at: f.offset, data_len: 0 });
                specs.push(ChunkSpec { samples: 0, keys: 0, entry: e, data_len: 0, first_ts: f.ts });
                hasher.update(format!(
                    "{} {} {} {} {:08x} {j} {e}\n",
                    r.space_id(),
                    r.segment(),
                    r.generation(),
                    r.offset(),
                    r.crc()
                ));
            }
            if f.key {
                keys.push((f.ts, e));
            }
            let (c, s) = (chunks.last_mut(), specs.last_mut());
            if let (Some(c), Some(s)) = (c, s) {
                c.count += 1;
                c.data_len += f.len;
                s.samples += 1;
                s.keys += u32::from(f.key);
                s.data_len += u64::from(f.len);
            }
            first_ts.get_or_insert(f.ts);
            before_last = last;
            last = Some(f.ts);
            frames += 1;
        }
    }
    let (Some(first_ts), Some(last_ts)) = (first_ts, last) else {
        return Err(PlanError::NoRecording(format!(
            "stream {stream} has no recording with a key frame between {start} and {end}"
        )));
    };
    // The last frame lasts as long as the one before it (at most a second).
    let last_duration_us = before_last.map_or(40_000, |p| (last_ts - p).clamp(1_000, 1_000_000));
    let shown_from = start.max(first_ts);
    let spec = MovieSpec { entries, chunks: specs, start_ts: shown_from, last_ts, last_duration_us };
    let n_entries = spec.entries.len();
    let movie = Movie::new(spec)?;
    hasher.update(format!("{} {}\n", movie.len(), shown_from));
    let digest = hasher.finalize();
    let etag = format!("\"{}\"", digest[..16].iter().map(|b| format!("{b:02x}")).collect::<String>());
    Ok(Export {
        info,
        codec,
        shown_from,
        end,
        first_ts,
        last_ts,
        frames,
        entries: n_entries,
        keys,
        last_duration_us,
        movie: Arc::new(movie),
        chunks: Arc::new(chunks),
        etag,
    })
}

/// A batch of chunks' records, read and verified together.
#[derive(Debug)]
struct Batch {
    /// Chunks `start..end` are in it.
    start: usize,
    end: usize,
    /// The record each chunk of the batch is in (index into `bytes`).
    record_of: Vec<usize>,
    bytes: Vec<bytes::Bytes>,
}

/// Reads a planned file's chunks again, from the engine: frame tables for
/// the sample tables (the last one kept), verified records for the data
/// (a batch of adjacent ones, with the next batch hinted to the disk).
#[derive(Debug)]
pub struct EngineSource {
    engine: Engine,
    stream: StreamId,
    chunks: Arc<Vec<Chunk>>,
    head: Option<(usize, Arc<RecordHead>)>,
    batch: Option<Batch>,
}

/// What reading a planned file fails with.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The engine refused (overwritten, lost, I/O).
    #[error(transparent)]
    Engine(#[from] pstor_core::Error),
    /// The stored data is not what the file was planned with.
    #[error(transparent)]
    Movie(#[from] MovieError),
}

impl EngineSource {
    /// Chunks `from..` up to a batch's worth of adjacent records, and the
    /// records they are in.
    fn batch_at(&self, from: usize) -> (usize, Vec<usize>, Vec<RecordRef>) {
        let mut records: Vec<RecordRef> = Vec::new();
        let mut record_of = Vec::new();
        let mut end = from;
        let mut bytes = 0u64;
        while let Some(c) = self.chunks.get(end) {
            let is_last = records.last().is_some_and(|r| same_record(r, &c.record));
            if !is_last {
                if !records.is_empty() && bytes + u64::from(c.record.len()) > DATA_BATCH_BYTES {
                    break;
                }
                bytes += u64::from(c.record.len());
                records.push(c.record.clone());
            }
            record_of.push(records.len() - 1);
            end += 1;
        }
        (end, record_of, records)
    }
}

impl ChunkSource for EngineSource {
    type Error = SourceError;

    fn samples(&mut self, chunk: usize) -> Result<Vec<Sample>, SourceError> {
        let c = self.chunks.get(chunk).ok_or_else(|| MovieError::Changed { chunk, what: "no such chunk".into() })?;
        let head = match &self.head {
            Some((i, h)) if self.chunks[*i].same_record(c) => Arc::clone(h),
            _ => {
                let h = Arc::new(self.engine.record_head(self.stream, &c.record, 0)?);
                self.head = Some((chunk, Arc::clone(&h)));
                h
            }
        };
        let frames = head
            .frames
            .get(c.first as usize..(c.first + c.count) as usize)
            .ok_or_else(|| MovieError::Changed { chunk, what: "the record has fewer frames than planned".into() })?;
        Ok(frames.iter().map(|f| Sample { ts: f.ts, size: f.len, key: f.key }).collect())
    }

    fn data(&mut self, chunk: usize) -> Result<bytes::Bytes, SourceError> {
        let cached = self.batch.as_ref().is_some_and(|b| (b.start..b.end).contains(&chunk));
        if !cached {
            let (end, record_of, records) = self.batch_at(chunk);
            let bytes = self.engine.read_records_verified(self.stream, &records)?;
            // Let the disk read the next batch while this one goes out.
            let (_, _, next) = self.batch_at(end);
            self.engine.prefetch_records(&next);
            self.batch = Some(Batch { start: chunk, end, record_of, bytes });
        }
        let b = self.batch.as_ref().ok_or_else(|| MovieError::Changed { chunk, what: "no batch".into() })?;
        let c = &self.chunks[chunk];
        let record = &b.bytes[b.record_of[chunk - b.start]];
        let (at, len) = (c.data_at as usize, c.data_len as usize);
        if at + len > record.len() {
            return Err(MovieError::Changed { chunk, what: "the record is shorter than planned".into() }.into());
        }
        Ok(record.slice(at..at + len))
    }
}

impl From<SourceError> for std::io::Error {
    fn from(e: SourceError) -> Self {
        std::io::Error::other(e.to_string())
    }
}
