//! A frame on its way from a camera session to the engine.

use bytes::Bytes;

/// One stored frame: an access unit in the stored form
/// (`docs/media.md`), its time (µs UTC) and whether it is a key frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Stored time, µs UTC.
    pub ts: i64,
    /// A key frame (decoding can start here).
    pub key: bool,
    /// The access unit: 4-byte length-prefixed NAL units.
    pub data: Bytes,
}
