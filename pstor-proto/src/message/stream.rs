//! Streamed answers (a range read): stream-item frames, each a batch of
//! video frames, then one stream-end frame; or an error frame, which ends
//! the stream too. All carry the request's op and id.

use crate::frame::Kind;
use crate::wire::{Reader, Wire, Writer};
use crate::ProtoError;
use bytes::Bytes;
use pstor_core::Frame;

/// Bytes one frame takes in an item besides its data (ts, key, length).
pub const FRAME_OVERHEAD: usize = 8 + 1 + 4;

/// The body of a stream-item frame: a batch of frames (a `list<Frame>`).
pub fn encode_stream_item(op: u16, request_id: u32, frames: &[Frame], max_body: u32) -> Result<Bytes, ProtoError> {
    let size = 4 + frames.iter().map(|f| FRAME_OVERHEAD + f.data.len()).sum::<usize>();
    let mut w = Writer::for_frame_with_capacity(size);
    w.count(frames.len());
    for f in frames {
        f.put(&mut w);
    }
    w.into_frame(Kind::StreamItem, op, request_id, max_body)
}

/// The frames of a stream item (their data are slices of `body`).
pub fn decode_stream_item(body: &Bytes) -> Result<Vec<Frame>, ProtoError> {
    crate::wire::from_body(body)
}

/// The end of a streamed answer: how many frames were sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEnd {
    /// Frames sent in all the items.
    pub frames: u64,
}

impl Wire for StreamEnd {
    const MIN_LEN: usize = 8;
    fn put(&self, w: &mut Writer) {
        w.u64(self.frames);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(StreamEnd { frames: r.u64()? })
    }
}

impl StreamEnd {
    /// The whole stream-end frame.
    pub fn to_frame(&self, op: u16, request_id: u32) -> Bytes {
        let mut w = Writer::for_frame_with_capacity(8);
        self.put(&mut w);
        // 8 bytes always fit.
        w.into_frame(Kind::StreamEnd, op, request_id, u32::MAX).unwrap_or_default()
    }
}
