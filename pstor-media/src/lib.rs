//! pstor-media: the H.264/H.265 bitstream work of pstor's recorder and
//! playback. Pure: no I/O, every parser returns a typed [`MediaError`]
//! instead of panicking (and is fuzzed).
//!
//! The stored form of video (`docs/media.md`): a stored frame is one
//! access unit as 4-byte big-endian length-prefixed NAL units, no start
//! codes; a key frame (H.264 IDR, H.265 IRAP) carries its parameter sets in
//! band in front of its slices (H.264 SPS, PPS; H.265 VPS, SPS, PPS), so
//! every key frame is self-describing and a codec change mid-stream (the
//! operator changed the resolution) is simply the next key frame's new
//! parameter sets. A stream's codec config is the decoder configuration
//! record (avcC / hvcC payload) of its newest parameter sets.

pub mod access_unit;
pub mod annexb;
pub mod bits;
pub mod codec;
pub mod config;
pub mod error;
pub mod mp4;
pub mod nal;
pub mod sps;

pub use access_unit::{without_parameter_sets, AccessUnit};
pub use codec::Codec;
pub use config::DecoderConfig;
pub use error::{MediaError, Result};
pub use nal::{append_length_prefixed, length_prefixed, NalHeader, NalKind};
