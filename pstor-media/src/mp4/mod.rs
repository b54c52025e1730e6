//! MP4 (ISO BMFF) files of stored frames, for playback and export: box
//! building ([`boxes`]), sample descriptions ([`entry`]) and the fast-start
//! `.mp4` laid out before its first byte ([`movie`]), fragmented MP4 for
//! browsers and HLS ([`fragment`]). Pure: the bytes of the samples come
//! from the caller.

pub mod boxes;
pub mod entry;
pub mod fragment;
pub mod movie;

pub use entry::{key_frame_config, Lead, SampleEntry};
pub use movie::{ChunkSource, ChunkSpec, Movie, MovieError, MovieSpec, Sample, TIMESCALE};
