//! Fragmented MP4 of real encoder output: an init segment and media
//! segments per GOP, concatenated as a player appends them, read back by
//! ffprobe and decoded by ffmpeg; and the codec strings browsers ask for.
#![allow(clippy::unwrap_used)]

#[path = "support/probe.rs"]
mod probe;
#[path = "support/vectors.rs"]
mod vectors;

use bytes::Bytes;
use probe::{decodes_cleanly, probe, same_samples};
use pstor_media::mp4::fragment::{durations, init_segment, media_segment, FragmentSample};
use pstor_media::mp4::{key_frame_config, Lead, SampleEntry};
use pstor_media::{AccessUnit, Codec};

fn entry(codec: Codec, key: &[u8]) -> SampleEntry {
    let Lead::Config(c) = key_frame_config(codec, key, true).unwrap() else { panic!("a config") };
    SampleEntry::new(c).unwrap()
}

/// init + one media segment per GOP of `name`, at 25 fps from `t0`.
/// Frames as (time, key, bytes).
type Frames = Vec<(i64, bool, Vec<u8>)>;

fn fragmented(codec: Codec, name: &str, t0: i64) -> (Vec<u8>, Frames, SampleEntry) {
    let units = vectors::stored_units(codec, name);
    let frames: Frames = units
        .into_iter()
        .enumerate()
        .map(|(i, d)| (t0 + i as i64 * 40_000, AccessUnit::parse(codec, &d).unwrap().is_key(), d))
        .collect();
    let e = entry(codec, &frames[0].2);
    let mut file = init_segment(&e).unwrap();
    let gops: Vec<usize> = frames.iter().enumerate().filter(|(_, f)| f.1).map(|(i, _)| i).collect();
    for (n, &at) in gops.iter().enumerate() {
        let end = gops.get(n + 1).copied().unwrap_or(frames.len());
        let part = &frames[at..end];
        let times: Vec<i64> = part.iter().map(|f| f.0).collect();
        let next = frames.get(end).map(|f| f.0);
        let d = durations(t0, &times, next).unwrap();
        let samples: Vec<FragmentSample> = part
            .iter()
            .zip(&d)
            .map(|(f, &duration)| FragmentSample { duration, size: f.2.len() as u32, key: f.1 })
            .collect();
        let decode_time = pstor_media::mp4::movie::ticks(t0, part[0].0);
        let data = part.iter().map(|f| Bytes::from(f.2.clone())).collect();
        for piece in media_segment(n as u32 + 1, decode_time, &samples, data).unwrap() {
            file.extend_from_slice(&piece);
        }
    }
    (file, frames, e)
}

#[test]
fn init_and_media_segments_play_as_one_stream() {
    for (codec, name, want) in
        [(Codec::H264, "h264_gop10_96x64.h264", "h264"), (Codec::H265, "h265_gop10_96x64.hevc", "hevc")]
    {
        let t0 = 1_800_000_000_000_000;
        let (file, frames, _) = fragmented(codec, name, t0);
        let path = std::env::temp_dir().join(format!("pstor-fragment-{}-{want}.mp4", std::process::id()));
        std::fs::write(&path, &file).unwrap();
        let p = probe(&path);
        assert_eq!((p.codec.as_str(), p.width, p.height), (want, 96, 64));
        let f: Vec<(i64, bool, &[u8])> = frames.iter().map(|f| (f.0, f.1, f.2.as_slice())).collect();
        same_samples(&p, &f, t0);
        decodes_cleanly(&path);
        let _ = std::fs::remove_file(&path);
    }
}

#[test]
fn codec_strings_follow_rfc_6381() {
    let h264 = vectors::stored_units(Codec::H264, "h264_gop10_96x64.h264");
    assert_eq!(entry(Codec::H264, &h264[0]).codec_string().unwrap(), "avc1.4D400A");
    let h265 = vectors::stored_units(Codec::H265, "h265_gop10_96x64.hevc");
    let s = entry(Codec::H265, &h265[0]).codec_string().unwrap();
    // Main profile (1), compatible with Main (flag 1 and 2 → 0x6 reversed), Main tier.
    assert!(s.starts_with("hvc1.1.6.L"), "{s}");
}

#[test]
fn a_segment_whose_data_does_not_add_up_is_refused() {
    let s = [FragmentSample { duration: 3600, size: 10, key: true }];
    assert!(media_segment(1, 0, &s, vec![Bytes::from_static(&[0; 9])]).is_err());
    assert!(media_segment(1, 0, &[], vec![]).is_err());
    assert_eq!(durations(0, &[0, 40_000, 80_000], Some(200_000)).unwrap(), vec![3600, 3600, 10_800]);
    assert_eq!(durations(0, &[0, 40_000], None).unwrap(), vec![3600, 3600]);
    assert!(durations(0, &[0], Some(i64::MAX)).is_err());
}
