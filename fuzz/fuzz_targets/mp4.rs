//! The MP4 builder (pstor-media's mp4) on arbitrary inputs: a movie laid
//! out from arbitrary chunk tables and a key frame's parameter sets (or a
//! real configuration when those do not parse), read back through windows
//! of arbitrary offsets and lengths from a source that agrees with the
//! tables or was tampered with; fragments and their durations. Never a
//! panic; a movie that is made reads back to exactly its length, its boxes
//! add up to it, every window is the same bytes as the whole, and a
//! tampered source is an error, never bytes.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pstor_media::mp4::fragment::{durations, init_segment, media_segment, FragmentSample};
use pstor_media::mp4::{
    key_frame_config, ChunkSource, ChunkSpec, Lead, Movie, MovieError, MovieSpec, Sample, SampleEntry,
};
use pstor_media::{Codec, DecoderConfig};

#[derive(Arbitrary, Debug)]
struct Chunk {
    samples: u8,
    keys: u8,
    entry: u8,
    data_len: u16,
    /// µs from this chunk's first sample to the next chunk's.
    span: u32,
}

#[derive(Arbitrary, Debug)]
struct Input {
    h265: bool,
    key_frame: Vec<u8>,
    chunks: Vec<Chunk>,
    start_after_us: u32,
    last_duration_us: u32,
    /// Changes what the source says of this chunk.
    tamper: Option<u8>,
    windows: Vec<(u32, u16)>,
}

/// A source that agrees with the spec (sample j of chunk i at first_ts + j,
/// data split evenly, the first `keys` samples key) unless tampered.
struct Source {
    specs: Vec<ChunkSpec>,
    tamper: Option<usize>,
}

impl ChunkSource for Source {
    type Error = MovieError;
    fn samples(&mut self, c: usize) -> Result<Vec<Sample>, MovieError> {
        let s = self.specs[c];
        let n = u64::from(s.samples);
        let mut out: Vec<Sample> = (0..n)
            .map(|j| {
                let size = s.data_len / n + if j + 1 == n { s.data_len % n } else { 0 };
                Sample { ts: s.first_ts + j as i64, size: size as u32, key: j < u64::from(s.keys) }
            })
            .collect();
        if self.tamper == Some(c) {
            out[0].size = out[0].size.wrapping_add(1);
        }
        Ok(out)
    }
    fn data(&mut self, c: usize) -> Result<Bytes, MovieError> {
        let s = self.specs[c];
        let extra = usize::from(self.tamper == Some(c));
        Ok(Bytes::from(vec![c as u8; s.data_len as usize + extra]))
    }
}

fn fallback(codec: Codec) -> DecoderConfig {
    let record: &[u8] = match codec {
        Codec::H264 => include_bytes!("../../pstor-media/tests/data/h264_main_96x64.avcC"),
        Codec::H265 => include_bytes!("../../pstor-media/tests/data/h265_main_96x64.hvcC"),
    };
    DecoderConfig::parse(codec, record).expect("a committed record parses")
}

fuzz_target!(|input: Input| {
    let codec = if input.h265 { Codec::H265 } else { Codec::H264 };
    let mut entries = Vec::new();
    for whole in [false, true] {
        if let Ok(Lead::Config(c)) = key_frame_config(codec, &input.key_frame, whole) {
            if let Ok(e) = SampleEntry::new(c) {
                let _ = e.codec_string();
                let _ = init_segment(&e);
                entries.push(e);
            }
        }
    }
    entries.push(SampleEntry::new(fallback(codec)).expect("the committed record makes an entry"));
    let t0 = 1_800_000_000_000_000i64;
    let mut at = t0;
    let specs: Vec<ChunkSpec> = input
        .chunks
        .iter()
        .take(64)
        .map(|c| {
            let s = ChunkSpec {
                samples: u32::from(c.samples),
                keys: u32::from(c.keys),
                entry: u32::from(c.entry) % 4,
                data_len: u64::from(c.data_len),
                first_ts: at,
            };
            at += i64::from(c.span);
            s
        })
        .collect();
    let last_ts = specs.last().map_or(t0, |s| s.first_ts + i64::from(s.samples.saturating_sub(1)));
    let spec = MovieSpec {
        entries,
        chunks: specs.clone(),
        start_ts: t0 + i64::from(input.start_after_us),
        last_ts,
        last_duration_us: i64::from(input.last_duration_us),
    };
    let Ok(movie) = Movie::new(spec) else { return };
    let tamper = input.tamper.map(|t| usize::from(t) % specs.len());
    let mut src = Source { specs: specs.clone(), tamper };
    // The whole file, in the largest pieces.
    let mut whole = Vec::new();
    let mut failed = false;
    while (whole.len() as u64) < movie.len() {
        match movie.read_at(&mut src, whole.len() as u64, 1 << 20) {
            Ok(b) => {
                assert!(!b.is_empty(), "no progress at {}", whole.len());
                whole.extend_from_slice(&b);
            }
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    if tamper.is_none() {
        assert!(!failed, "an agreeing source reads whole");
        assert_eq!(whole.len() as u64, movie.len());
        // Top-level boxes: ftyp, moov, mdat, adding up to the file.
        let mut pos = 0usize;
        let mut kinds = Vec::new();
        while pos < whole.len() {
            let size = u32::from_be_bytes(whole[pos..pos + 4].try_into().unwrap()) as u64;
            let size = if size == 1 { u64::from_be_bytes(whole[pos + 8..pos + 16].try_into().unwrap()) } else { size };
            kinds.push(whole[pos + 4..pos + 8].to_vec());
            pos += size as usize;
        }
        assert_eq!(pos, whole.len());
        assert_eq!(kinds, [b"ftyp".to_vec(), b"moov".to_vec(), b"mdat".to_vec()]);
        for (offset, len) in input.windows.iter().take(16) {
            let off = u64::from(*offset) % movie.len();
            let b = movie.read_at(&mut src, off, usize::from(*len)).expect("a window of an agreeing source");
            assert_eq!(&b[..], &whole[off as usize..off as usize + b.len()]);
        }
    } else {
        // What came before the error is the file's; the tampered chunk
        // cannot come out whole.
        assert!(failed, "a tampered chunk is read (its tables and data) and refused");
    }
    // A fragment of the first chunk's samples.
    if let Ok(samples) = (Source { specs: specs.clone(), tamper: None }).samples(0) {
        let times: Vec<i64> = samples.iter().map(|s| s.ts).collect();
        if let Ok(d) = durations(t0, &times, specs.get(1).map(|s| s.first_ts)) {
            let frag: Vec<FragmentSample> = samples
                .iter()
                .zip(d)
                .map(|(s, duration)| FragmentSample { duration, size: s.size, key: s.key })
                .collect();
            let data = vec![Bytes::from(vec![0u8; specs[0].data_len as usize])];
            let pieces = media_segment(1, 0, &frag, data).expect("a fragment of agreeing sizes");
            let total: usize = pieces.iter().map(Bytes::len).sum();
            assert!(total >= specs[0].data_len as usize + 16);
        }
    }
});
