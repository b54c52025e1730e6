//! The parsers against streams and records made by ffmpeg with libx264 and
//! libx265 (tests/data; `make-vectors.sh` there says how): sizes and
//! profiles as ffprobe reports them, records rebuilt byte for byte.
#![allow(clippy::unwrap_used)]

use pstor_media::sps::Sps;
use pstor_media::{annexb, AccessUnit, Codec, DecoderConfig};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// (file, codec, width, height, profile_idc)
const RECORDS: &[(&str, Codec, u32, u32, u8)] = &[
    ("h264_baseline_320x240.avcC", Codec::H264, 320, 240, 66),
    ("h264_main_96x64.avcC", Codec::H264, 96, 64, 77),
    ("h264_main_640x360.avcC", Codec::H264, 640, 360, 77),
    ("h264_high_130x74_aud.avcC", Codec::H264, 130, 74, 100),
    ("h264_high_642x362.avcC", Codec::H264, 642, 362, 100),
    ("h264_high_cqm_320x240.avcC", Codec::H264, 320, 240, 100),
    ("h264_high_interlaced_322x244.avcC", Codec::H264, 322, 244, 100),
    ("h264_high422_320x240.avcC", Codec::H264, 320, 240, 122),
    ("h264_high444_bframes_320x240.avcC", Codec::H264, 320, 240, 244),
    ("h265_main_96x64.hvcC", Codec::H265, 96, 64, 1),
    ("h265_main_130x74_aud.hvcC", Codec::H265, 130, 74, 1),
    ("h265_main_640x360.hvcC", Codec::H265, 640, 360, 1),
    ("h265_main_642x362.hvcC", Codec::H265, 642, 362, 1),
    ("h265_rext422_10_320x240.hvcC", Codec::H265, 320, 240, 4),
    ("h265_temporal_layers_320x240.hvcC", Codec::H265, 320, 240, 1),
];

#[test]
fn records_parse_give_the_picture_size_and_rebuild_byte_for_byte() {
    for &(file, codec, w, h, profile) in RECORDS {
        let record = data(file);
        let cfg = DecoderConfig::parse(codec, &record).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(cfg.length_size, 4, "{file}");
        assert_eq!(cfg.dimensions().unwrap(), (w, h), "{file}");
        let sps = Sps::parse(codec, &cfg.sps[0]).unwrap();
        let got_profile = match &sps {
            Sps::H264(s) => s.profile_idc,
            Sps::H265(s) => s.ptl.profile_idc,
        };
        assert_eq!(got_profile, profile, "{file}");
        if let Sps::H265(s) = &sps {
            assert_eq!(s.max_sub_layers > 1, file.contains("temporal"), "{file}");
            assert_eq!(s.bit_depth_luma, if file.contains("_10_") { 10 } else { 8 }, "{file}");
            assert_eq!(s.chroma_format_idc, if file.contains("422") { 2 } else { 1 }, "{file}");
        }
        let rebuilt = cfg.to_record().unwrap();
        assert_eq!(hex(&rebuilt), hex(&record), "{file}: our record differs from ffmpeg's");
        assert_eq!(DecoderConfig::parse(codec, &rebuilt).unwrap(), cfg, "{file}: round trip");
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A raw stream's first access unit, in the stored form, is a key frame
/// whose in-band parameter sets make the file's record.
#[test]
fn key_frames_of_raw_streams_carry_the_parameter_sets_of_the_record() {
    for (stream, record, codec) in [
        ("h264_main_96x64.h264", "h264_main_96x64.avcC", Codec::H264),
        ("h264_high_130x74_aud.h264", "h264_high_130x74_aud.avcC", Codec::H264),
        ("h265_main_96x64.hevc", "h265_main_96x64.hvcC", Codec::H265),
        ("h265_main_130x74_aud.hevc", "h265_main_130x74_aud.hvcC", Codec::H265),
    ] {
        let raw = data(stream);
        let units: Vec<Vec<u8>> = annexb::access_units(codec, &raw).map(|au| stored(&au)).collect();
        assert!(units.len() >= 2, "{stream}: {} access units", units.len());
        let first = AccessUnit::parse(codec, &units[0]).unwrap_or_else(|e| panic!("{stream}: {e}"));
        assert!(first.is_key(), "{stream}");
        let from_frame = DecoderConfig::from_access_unit(&first).unwrap();
        let file = DecoderConfig::parse(codec, &data(record)).unwrap();
        assert!(from_frame.same_parameter_sets(&file), "{stream}: in-band sets differ from the record's");
        for (i, u) in units.iter().enumerate().skip(1) {
            let au = AccessUnit::parse(codec, u).unwrap_or_else(|e| panic!("{stream} unit {i}: {e}"));
            assert!(au.nal_count() >= 1);
        }
    }
}

fn stored(nals: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    for n in nals {
        pstor_media::append_length_prefixed(n, &mut v).unwrap();
    }
    v
}
