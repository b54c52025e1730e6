//! The body writer.

use crate::error::ProtoError;
use crate::frame::{seal, GatheredFrame, Kind, HEADER_LEN};
use bytes::{BufMut, Bytes, BytesMut};

/// Builds a body, or a whole frame: [`Writer::for_frame`] reserves the
/// header in front so [`Writer::into_frame`] fills it in without copying
/// the body again; [`Writer::for_gathered_frame`] does not copy large
/// shared payloads at all.
#[derive(Debug, Default)]
pub struct Writer {
    buf: BytesMut,
    start: usize,
    /// Gathering: the payloads [`Writer::shared`] kept, with their offsets.
    gathered: Option<Vec<(usize, Bytes)>>,
}

/// Payloads at least this long are spliced into a gathered frame; shorter
/// ones cost less to copy than a piece of a vectored write.
pub const GATHER_MIN: usize = 2048;

impl Writer {
    /// A writer for a body alone.
    pub fn new() -> Self {
        Writer { buf: BytesMut::new(), start: 0, gathered: None }
    }

    /// A writer whose output becomes a frame ([`Writer::into_frame`]).
    pub fn for_frame() -> Self {
        Self::for_frame_with_capacity(0)
    }

    /// As [`Writer::for_frame`], with room for a body of `n` bytes.
    pub fn for_frame_with_capacity(n: usize) -> Self {
        let mut buf = BytesMut::with_capacity(HEADER_LEN + n);
        buf.put_bytes(0, HEADER_LEN);
        Writer { buf, start: HEADER_LEN, gathered: None }
    }

    /// A writer whose output becomes a [`GatheredFrame`]
    /// ([`Writer::into_gathered_frame`]); `n`: room for the small fields.
    pub fn for_gathered_frame(n: usize) -> Self {
        Writer { gathered: Some(Vec::new()), ..Self::for_frame_with_capacity(n) }
    }

    /// Bytes of body written so far.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body.
    pub fn into_body(mut self) -> Bytes {
        self.buf.split_off(self.start).freeze()
    }

    /// The whole frame: header (with CRC) and body. Fails with
    /// [`ProtoError::FrameTooLarge`] if the body is over `max_body`.
    pub fn into_frame(self, kind: Kind, op: u16, request_id: u32, max_body: u32) -> Result<Bytes, ProtoError> {
        self.into_gathered_frame(kind, op, request_id, max_body).map(|f| f.to_bytes())
    }

    /// The gathered frame: header (with CRC), small fields, shared
    /// payloads. A writer not made by [`Writer::for_gathered_frame`] gives
    /// a frame of one piece ([`Writer::into_frame`] is this, made contiguous).
    pub fn into_gathered_frame(
        mut self,
        kind: Kind,
        op: u16,
        request_id: u32,
        max_body: u32,
    ) -> Result<GatheredFrame, ProtoError> {
        if self.start != HEADER_LEN {
            // A body-only writer (it never gathers): the body behind a header.
            let mut w = Writer::for_frame_with_capacity(self.len());
            w.raw(&self.buf[self.start..]);
            self = w;
        }
        let shared = self.gathered.take().unwrap_or_default();
        seal(self.buf, shared, kind, op, request_id, max_body)
    }

    /// Raw bytes, no length.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.put_slice(b);
    }
    /// A u8.
    pub fn u8(&mut self, v: u8) {
        self.buf.put_u8(v);
    }
    /// A u16.
    pub fn u16(&mut self, v: u16) {
        self.buf.put_u16_le(v);
    }
    /// A u32.
    pub fn u32(&mut self, v: u32) {
        self.buf.put_u32_le(v);
    }
    /// A u64.
    pub fn u64(&mut self, v: u64) {
        self.buf.put_u64_le(v);
    }
    /// An i32.
    pub fn i32(&mut self, v: i32) {
        self.buf.put_i32_le(v);
    }
    /// An i64.
    pub fn i64(&mut self, v: i64) {
        self.buf.put_i64_le(v);
    }
    /// A bool (0 or 1).
    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    /// A string: u16 length + UTF-8. A string over 65,535 bytes is cut at
    /// the last character boundary that fits (only messages and check
    /// reports can be that long; names and ids are limited far below).
    pub fn str(&mut self, s: &str) {
        let mut end = s.len().min(u16::MAX as usize);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let s = s.get(..end).unwrap_or_default();
        self.u16(s.len() as u16);
        self.raw(s.as_bytes());
    }

    /// Bytes: u32 length + raw. Bodies are limited far below 4 GiB (the
    /// frame length is a u32), so the length always fits; a longer slice is
    /// cut (and the frame then refused as too large).
    pub fn bytes(&mut self, b: &[u8]) {
        let n = b.len().min(u32::MAX as usize);
        self.u32(n as u32);
        self.raw(b.get(..n).unwrap_or_default());
    }

    /// Bytes, encoded as [`Writer::bytes`]; a gathering writer keeps a
    /// large payload by reference instead of copying it.
    pub fn shared(&mut self, b: &Bytes) {
        match &mut self.gathered {
            Some(kept) if b.len() >= GATHER_MIN && b.len() <= u32::MAX as usize => {
                self.buf.put_u32_le(b.len() as u32);
                kept.push((self.buf.len(), b.clone()));
            }
            _ => self.bytes(b),
        }
    }

    /// A list count.
    pub fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
}
