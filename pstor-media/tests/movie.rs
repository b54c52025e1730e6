//! Movies of real encoder output (the gop10 vectors of tests/data), made
//! through `Movie::read_at` from an in-memory source and checked by the
//! peer that matters: ffprobe and ffmpeg (installed by the test command,
//! scripts/install-media-peers.sh).
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use pstor_media::mp4::movie::{ChunkSource, ChunkSpec, Movie, MovieError, MovieSpec, Sample};
use pstor_media::mp4::{key_frame_config, Lead, SampleEntry};
use pstor_media::{AccessUnit, Codec};

#[path = "support/probe.rs"]
mod probe;
#[path = "support/vectors.rs"]
mod vectors;
use probe::{decodes_cleanly, frame_sizes, probe, same_samples, shown_frames, Probe};

fn frames(codec: Codec, name: &str) -> Vec<Vec<u8>> {
    vectors::stored_units(codec, name)
}

/// A stored frame with its time.
#[derive(Clone)]
struct F {
    ts: i64,
    key: bool,
    data: Vec<u8>,
}

/// Chunks of frames in memory; `tamper` changes a chunk's sizes on reading.
struct Mem {
    chunks: Vec<Vec<F>>,
    tamper: Option<usize>,
}

impl ChunkSource for Mem {
    type Error = MovieError;
    fn samples(&mut self, c: usize) -> Result<Vec<Sample>, MovieError> {
        let mut s: Vec<Sample> =
            self.chunks[c].iter().map(|f| Sample { ts: f.ts, size: f.data.len() as u32, key: f.key }).collect();
        if self.tamper == Some(c) {
            s[0].size += 1;
        }
        Ok(s)
    }
    fn data(&mut self, c: usize) -> Result<Bytes, MovieError> {
        Ok(Bytes::from(self.chunks[c].iter().flat_map(|f| f.data.clone()).collect::<Vec<u8>>()))
    }
}

/// The movie of `all` from `start_ts`: chunks of `per` frames, split where
/// a key frame's parameter sets change (a new sample description).
fn movie(codec: Codec, all: &[F], per: usize, start_ts: i64) -> (Movie, Mem) {
    let mut entries: Vec<SampleEntry> = Vec::new();
    let mut chunks: Vec<Vec<F>> = Vec::new();
    let mut specs: Vec<ChunkSpec> = Vec::new();
    for f in all {
        let mut entry = entries.len().saturating_sub(1);
        if f.key {
            let Lead::Config(cfg) = key_frame_config(codec, &f.data, true).unwrap() else { panic!("whole frame") };
            if !entries.last().is_some_and(|e| e.config.same_parameter_sets(&cfg)) {
                entries.push(SampleEntry::new(cfg).unwrap());
                entry = entries.len() - 1;
            }
        }
        let new_chunk = specs.last().is_none_or(|s| s.samples as usize == per || s.entry as usize != entry);
        if new_chunk {
            specs.push(ChunkSpec { samples: 0, keys: 0, entry: entry as u32, data_len: 0, first_ts: f.ts });
            chunks.push(Vec::new());
        }
        let s = specs.last_mut().unwrap();
        s.samples += 1;
        s.keys += u32::from(f.key);
        s.data_len += f.data.len() as u64;
        chunks.last_mut().unwrap().push(f.clone());
    }
    let last_ts = all.last().unwrap().ts;
    let spec = MovieSpec { entries, chunks: specs, start_ts, last_ts, last_duration_us: 40_000 };
    (Movie::new(spec).unwrap(), Mem { chunks, tamper: None })
}

/// The whole file, read in windows of `window` bytes.
fn whole(m: &Movie, src: &mut Mem, window: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while (out.len() as u64) < m.len() {
        let b = m.read_at(src, out.len() as u64, window).unwrap();
        assert!(!b.is_empty(), "no progress at {}", out.len());
        out.extend_from_slice(&b);
    }
    out
}

fn timed(frames: Vec<Vec<u8>>, codec: Codec, t0: i64, step: i64) -> Vec<F> {
    frames
        .into_iter()
        .enumerate()
        .map(|(i, data)| F { ts: t0 + i as i64 * step, key: AccessUnit::parse(codec, &data).unwrap().is_key(), data })
        .collect()
}

fn write(bytes: &[u8], name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pstor-media-movie-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Checks a file's packets against the frames it was made of.
fn same(p: &Probe, frames: &[F], shown_from: i64) {
    let f: Vec<(i64, bool, &[u8])> = frames.iter().map(|f| (f.ts, f.key, f.data.as_slice())).collect();
    same_samples(p, &f, shown_from);
}

#[test]
fn a_whole_h264_range_is_the_frames_exactly() {
    let all = timed(frames(Codec::H264, "h264_gop10_96x64.h264"), Codec::H264, 1_700_000_000_000_000, 40_000);
    assert_eq!(all.len(), 60);
    let (m, mut src) = movie(Codec::H264, &all, 7, all[0].ts);
    let bytes = whole(&m, &mut src, 1 << 20);
    assert_eq!(bytes.len() as u64, m.len());
    // fast start: ftyp, then moov, then mdat
    assert_eq!(&bytes[4..8], b"ftyp");
    let moov_at = u32::from_be_bytes(bytes[0..4].try_into().unwrap()) as usize;
    assert_eq!(&bytes[moov_at + 4..moov_at + 8], b"moov");
    assert!(m.data_start() as usize > moov_at);
    // Any window size gives the same bytes.
    for w in [1, 5, 4096] {
        assert!(whole(&m, &mut src, w) == bytes, "window {w}");
    }
    let path = write(&bytes, "whole.mp4");
    let p = probe(&path);
    assert_eq!((p.codec.as_str(), p.width, p.height), ("h264", 96, 64));
    assert!((p.duration - 2.4).abs() < 1e-3, "duration {}", p.duration);
    same(&p, &all, all[0].ts);
    decodes_cleanly(&path);
}

#[test]
fn an_edit_list_starts_the_presentation_at_the_asked_time() {
    let all = timed(frames(Codec::H264, "h264_gop10_96x64.h264"), Codec::H264, 5_000_000, 40_000);
    // Start at frame 15: decoding starts at the key frame 10.
    let from = &all[10..];
    let (m, mut src) = movie(Codec::H264, from, 4, all[15].ts);
    let path = write(&whole(&m, &mut src, 1 << 16), "edit.mp4");
    let p = probe(&path);
    assert!((p.duration - 45.0 * 0.04).abs() < 1e-3, "duration {}", p.duration);
    same(&p, from, all[15].ts);
    // The frames ffmpeg shows are those from the start on.
    assert_eq!(shown_frames(&path), 45);
    decodes_cleanly(&path);
}

#[test]
fn a_gap_is_the_duration_of_the_frame_before_it() {
    let mut all = timed(frames(Codec::H264, "h264_gop10_96x64.h264"), Codec::H264, 0, 40_000);
    for f in &mut all[30..] {
        f.ts += 10_000_000;
    }
    let (m, mut src) = movie(Codec::H264, &all, 8, 0);
    let path = write(&whole(&m, &mut src, 1 << 16), "gap.mp4");
    let p = probe(&path);
    assert!((p.duration - 12.4).abs() < 1e-3, "duration {}", p.duration);
    same(&p, &all, all[0].ts);
    decodes_cleanly(&path);
}

#[test]
fn a_codec_change_gets_its_own_sample_description() {
    let mut all = timed(frames(Codec::H264, "h264_gop10_96x64.h264"), Codec::H264, 0, 40_000);
    all.truncate(30);
    all.extend(timed(frames(Codec::H264, "h264_gop10_130x74.h264"), Codec::H264, 30 * 40_000, 40_000));
    let (m, mut src) = movie(Codec::H264, &all, 64, 0);
    assert_eq!(m.chunks().len(), 2, "split at the change");
    let bytes = whole(&m, &mut src, 1 << 16);
    let path = write(&bytes, "change.mp4");
    let p = probe(&path);
    same(&p, &all, all[0].ts);
    decodes_cleanly(&path);
    // Both sizes come out of the decoder.
    assert_eq!(frame_sizes(&path), ["130,74", "96,64"]);
}

#[test]
fn h265_movies_play_too() {
    let all = timed(frames(Codec::H265, "h265_gop10_96x64.hevc"), Codec::H265, 0, 40_000);
    assert_eq!(all.iter().filter(|f| f.key).count(), 6);
    let (m, mut src) = movie(Codec::H265, &all, 9, 0);
    let path = write(&whole(&m, &mut src, 1 << 16), "h265.mp4");
    let p = probe(&path);
    assert_eq!((p.codec.as_str(), p.width, p.height), ("hevc", 96, 64));
    same(&p, &all, all[0].ts);
    decodes_cleanly(&path);
}

#[test]
fn a_source_that_changed_fails_the_read_and_never_gives_other_bytes() {
    let all = timed(frames(Codec::H264, "h264_gop10_96x64.h264"), Codec::H264, 0, 40_000);
    let (m, mut src) = movie(Codec::H264, &all, 7, 0);
    src.tamper = Some(3);
    let mut at = 0;
    let err = loop {
        match m.read_at(&mut src, at, 4096) {
            Ok(b) => at += b.len() as u64,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, MovieError::Changed { chunk: 3, .. }), "{err}");
}

#[test]
fn bad_specs_are_refused_with_a_reason() {
    let all = timed(frames(Codec::H264, "h264_gop10_96x64.h264"), Codec::H264, 0, 40_000);
    let (m, _) = movie(Codec::H264, &all, 7, 0);
    let good = MovieSpec {
        entries: vec![SampleEntry::new(match key_frame_config(Codec::H264, &all[0].data, true).unwrap() {
            Lead::Config(c) => c,
            Lead::NeedMore => unreachable!(),
        })
        .unwrap()],
        chunks: m.chunks().to_vec(),
        start_ts: 0,
        last_ts: all[59].ts,
        last_duration_us: 40_000,
    };
    assert!(Movie::new(good.clone()).is_ok());
    let cases: Vec<(MovieSpec, &str)> = vec![
        (MovieSpec { chunks: vec![], ..good.clone() }, "at least one chunk"),
        (MovieSpec { start_ts: -1, ..good.clone() }, "before the first sample"),
        (MovieSpec { start_ts: 10_000_000, ..good.clone() }, "after the last sample"),
        (MovieSpec { last_duration_us: -5, ..good.clone() }, "duration"),
        (
            MovieSpec {
                chunks: {
                    let mut c = good.chunks.clone();
                    c[1].first_ts = c[0].first_ts;
                    c
                },
                ..good.clone()
            },
            "does not start after",
        ),
        (
            MovieSpec {
                chunks: {
                    let mut c = good.chunks.clone();
                    c[2].entry = 4;
                    c
                },
                ..good.clone()
            },
            "inconsistent",
        ),
    ];
    for (spec, why) in cases {
        let e = Movie::new(spec).expect_err(why).to_string();
        assert!(e.contains(why), "{e} should say {why}");
    }
}
