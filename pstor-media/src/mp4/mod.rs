//! MP4 (ISO BMFF) files of stored frames, for playback and export: box
//! building ([`boxes`]), sample descriptions ([`entry`]) and the fast-start
//! `.mp4` laid out before its first byte ([`movie`]). Pure: the bytes of
//! the samples come from the caller.

pub mod boxes;
pub mod entry;
pub mod movie;

pub use entry::{key_frame_config, Lead, SampleEntry};
pub use movie::{ChunkSource, ChunkSpec, Movie, MovieError, MovieSpec, Sample, TIMESCALE};
