//! The raw streams of pstor-media's tests/data as stored frames (4-byte
//! length-prefixed access units), for the tests of every crate that needs
//! real encoder output (`#[path]`-included outside pstor-media).
#![allow(dead_code, clippy::unwrap_used)]

use pstor_media::{annexb, Codec};

/// The access units of `tests/data/<name>` (Annex B), in the stored form.
pub fn stored_units(codec: Codec, name: &str) -> Vec<Vec<u8>> {
    let path = format!("{}/../pstor-media/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    annexb::access_units(codec, &raw)
        .map(|au| {
            let mut v = Vec::new();
            for n in au {
                pstor_media::append_length_prefixed(n, &mut v).unwrap();
            }
            v
        })
        .collect()
}
