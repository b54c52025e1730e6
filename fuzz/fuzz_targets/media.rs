//! pstor-media's parsers on arbitrary bytes, as both codecs: stored frames
//! (access units), SPS, decoder configuration records, and the record a
//! key frame's parameter sets make. Never a panic; what parses holds
//! together (the NAL units cover the frame; a record built parses back to
//! the same configuration).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pstor_media::sps::Sps;
use pstor_media::{annexb, without_parameter_sets, AccessUnit, Codec, DecoderConfig};

fuzz_target!(|data: &[u8]| {
    for codec in [Codec::H264, Codec::H265] {
        if let Ok(au) = AccessUnit::parse(codec, data) {
            let covered: usize = au.nals().map(|(_, n)| n.len() + 4).sum();
            assert_eq!(covered, data.len());
            let bare = without_parameter_sets(codec, data);
            assert!(bare.is_ok() || au.nals().all(|(h, _)| h.kind.is_parameter_set() || !h.kind.is_slice()));
            if let Ok(cfg) = DecoderConfig::from_access_unit(&au) {
                if let Ok(record) = cfg.to_record() {
                    let back = DecoderConfig::parse(codec, &record).expect("a record we built parses");
                    assert!(back.same_parameter_sets(&cfg));
                }
            }
        }
        let _ = Sps::parse(codec, data);
        if let Ok(cfg) = DecoderConfig::parse(codec, data) {
            let _ = cfg.dimensions();
            let _ = cfg.to_record();
        }
        for au in annexb::access_units(codec, data) {
            assert!(!au.is_empty());
        }
    }
});
