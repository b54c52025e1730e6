//! # pstor-http
//!
//! What every pstor HTTP port that serves stored bytes needs to agree on,
//! with no HTTP framework in it: which part of a representation a request
//! asks for and on which conditions ([`ranges`]: `Range`, `If-Match`,
//! `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`,
//! `If-Range`, HTTP dates). The playback data port (6039) uses it for its
//! `.mp4` files; the picture ports use it for their objects. Pure and
//! fuzzed (`fuzz/fuzz_targets/http_range.rs`).

pub mod ranges;

pub use ranges::{
    evaluate, format_date, parse_date, parse_range, system_time, tag_matches, Conditions, RangeAsk, Verdict,
};
