//! Framing: every message on ports 6036/6037 is one frame, a 20-byte header
//! and a body (docs/sdk-protocol.md §2).
//!
//! ```text
//! offset size field
//!  0     2    magic "PS"
//!  2     1    version (1)
//!  3     1    kind (Kind)
//!  4     2    op (u16 LE)
//!  6     2    flags (u16 LE, 0 in version 1)
//!  8     4    request id (u32 LE)
//! 12     4    body length (u32 LE)
//! 16     4    CRC-32 (u32 LE) over bytes 0..16 and the body
//! ```
//!
//! Why a CRC on top of TCP: TCP's 16-bit checksum lets through roughly one
//! corrupted segment in 65,536 that a NIC, a middlebox or a bad memory
//! module damaged, and the frames here carry video and pictures that are
//! then *stored* (and served as evidence): a flipped bit would be written
//! to disk under a valid record CRC of our own. CRC-32 (crc32fast, SIMD)
//! costs well under a millisecond per 16 MiB frame, negligible beside the
//! disk write it protects. It also makes a desynchronised stream (a peer
//! that miscounted a length) fail at once instead of being decoded as
//! garbage.

use crate::error::ProtoError;
use crate::PROTOCOL_VERSION;
use bytes::{BufMut, Bytes, BytesMut};

/// The two bytes every frame starts with.
pub const MAGIC: [u8; 2] = *b"PS";
/// Length of the frame header.
pub const HEADER_LEN: usize = 20;
/// Offset of the CRC in the header (it covers the bytes before it).
const CRC_AT: usize = 16;

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// A request (client to server), or the client's handshake `Auth`.
    Request = 1,
    /// The answer to one request (server to client), or `AuthOk`.
    Reply = 2,
    /// The request failed: body = u32 error code + message
    /// ([`crate::message::ErrorReply`]). Request id 0: the connection failed.
    Error = 3,
    /// One batch of a streamed answer (the frames of a range read).
    StreamItem = 4,
    /// The end of a streamed answer.
    StreamEnd = 5,
    /// A message the server sends on its own: the handshake `Hello`.
    Event = 6,
}

impl Kind {
    /// The kind with this number.
    pub fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Request,
            2 => Kind::Reply,
            3 => Kind::Error,
            4 => Kind::StreamItem,
            5 => Kind::StreamEnd,
            6 => Kind::Event,
            _ => return None,
        })
    }

    /// Its name in words (for errors and logs).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Reply => "reply",
            Kind::Error => "error",
            Kind::StreamItem => "stream-item",
            Kind::StreamEnd => "stream-end",
            Kind::Event => "event",
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// What the frame is.
    pub kind: Kind,
    /// The operation (see [`crate::op`]).
    pub op: u16,
    /// Flag bits; none is defined in version 1, so this is always 0.
    pub flags: u16,
    /// Chosen by the client per request, echoed by every frame answering it.
    pub request_id: u32,
    /// Length of the body that follows.
    pub body_len: u32,
    /// CRC-32 of header bytes 0..16 and the body.
    pub crc: u32,
}

impl FrameHeader {
    /// Decodes and validates a header: magic, version, kind, flags, and the
    /// body length against `max_body` (so an oversized frame is refused
    /// before its body is read). The CRC is checked by [`FrameHeader::verify`]
    /// once the body is there.
    pub fn decode(b: &[u8; HEADER_LEN], max_body: u32) -> Result<FrameHeader, ProtoError> {
        check_prefix(b)?;
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let kind = Kind::from_u8(b[3]).ok_or(ProtoError::BadKind(b[3]))?;
        let flags = u16_at(6);
        if flags != 0 {
            return Err(ProtoError::BadFlags(flags));
        }
        let body_len = u32_at(12);
        if body_len > max_body {
            return Err(ProtoError::FrameTooLarge { len: body_len, max: max_body });
        }
        Ok(FrameHeader { kind, op: u16_at(4), flags, request_id: u32_at(8), body_len, crc: u32_at(CRC_AT) })
    }

    /// Checks the CRC against the header's first 16 bytes and the body.
    pub fn verify(&self, header: &[u8; HEADER_LEN], body: &[u8]) -> Result<(), ProtoError> {
        let actual = crc(&header[..CRC_AT], body);
        if actual != self.crc {
            return Err(ProtoError::BadCrc { expected: self.crc, actual });
        }
        Ok(())
    }

    /// The header bytes of a frame of this kind, op and request id around
    /// `body` (CRC computed; `body_len` and `crc` of `self` are ignored).
    pub fn encode(&self, body: &[u8]) -> Result<[u8; HEADER_LEN], ProtoError> {
        self.encode_parts(&[body])
    }

    /// As [`FrameHeader::encode`], for a body given as consecutive parts
    /// (a [`GatheredFrame`]'s).
    pub fn encode_parts(&self, body: &[&[u8]]) -> Result<[u8; HEADER_LEN], ProtoError> {
        let total: usize = body.iter().map(|p| p.len()).sum();
        let len = u32::try_from(total).map_err(|_| ProtoError::FrameTooLarge { len: u32::MAX, max: u32::MAX })?;
        let mut h = [0u8; HEADER_LEN];
        h[0..2].copy_from_slice(&MAGIC);
        h[2] = PROTOCOL_VERSION;
        h[3] = self.kind as u8;
        h[4..6].copy_from_slice(&self.op.to_le_bytes());
        h[6..8].copy_from_slice(&self.flags.to_le_bytes());
        h[8..12].copy_from_slice(&self.request_id.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        let mut c = crc32fast::Hasher::new();
        c.update(&h[..CRC_AT]);
        body.iter().for_each(|p| c.update(p));
        h[CRC_AT..].copy_from_slice(&c.finalize().to_le_bytes());
        Ok(h)
    }

    /// A header for a new frame (length and CRC are filled in by encoding).
    pub fn new(kind: Kind, op: u16, request_id: u32) -> FrameHeader {
        FrameHeader { kind, op, flags: 0, request_id, body_len: 0, crc: 0 }
    }
}

/// Checks what can be checked of a header from its first bytes (magic,
/// version, kind), so garbage is refused without waiting for 20 bytes.
fn check_prefix(b: &[u8]) -> Result<(), ProtoError> {
    if let Some(m) = b.get(0..2) {
        if m != MAGIC {
            return Err(ProtoError::BadMagic([m[0], m[1]]));
        }
    }
    if let Some(&v) = b.get(2) {
        if v != PROTOCOL_VERSION {
            return Err(ProtoError::BadVersion(v));
        }
    }
    if let Some(&k) = b.get(3) {
        if Kind::from_u8(k).is_none() {
            return Err(ProtoError::BadKind(k));
        }
    }
    Ok(())
}

fn crc(header: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(header);
    h.update(body);
    h.finalize()
}

/// A frame as it travels: a validated header and its body, not yet decoded
/// (see [`crate::message`] for that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    /// The header.
    pub header: FrameHeader,
    /// The body (a slice of the receive buffer when decoded by
    /// [`decode_frame_from`]: no copy).
    pub body: Bytes,
}

/// Decodes one frame from the front of `buf`. `Ok(None)`: the frame is not
/// complete yet (read more and call again); `Ok(Some((frame, used)))`: the
/// frame and how many bytes of `buf` it took. Errors are final: the stream
/// cannot be resynchronised. The body is copied; [`decode_frame_from`]
/// splits it off a `BytesMut` instead.
pub fn decode_frame(buf: &[u8], max_body: u32) -> Result<Option<(RawFrame, usize)>, ProtoError> {
    let Some(header) = peek_header(buf, max_body)? else { return Ok(None) };
    let total = HEADER_LEN + header.body_len as usize;
    let Some(body) = buf.get(HEADER_LEN..total) else { return Ok(None) };
    let hb: &[u8; HEADER_LEN] = header_bytes(buf)?;
    header.verify(hb, body)?;
    Ok(Some((RawFrame { header, body: Bytes::copy_from_slice(body) }, total)))
}

/// Decodes one frame from the front of `buf` and removes it, the body
/// shared with `buf`'s allocation (no copy). `Ok(None)`: incomplete; `buf`
/// is left as it was, with room reserved for the rest of the frame. Errors
/// are final.
pub fn decode_frame_from(buf: &mut BytesMut, max_body: u32) -> Result<Option<RawFrame>, ProtoError> {
    let Some(header) = peek_header(buf, max_body)? else { return Ok(None) };
    let total = HEADER_LEN + header.body_len as usize;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    let frame = buf.split_to(total).freeze();
    let hb: &[u8; HEADER_LEN] = header_bytes(&frame)?;
    let body = frame.slice(HEADER_LEN..);
    header.verify(hb, &body)?;
    Ok(Some(RawFrame { header, body }))
}

/// The header at the front of `buf`, if all 20 bytes are there (what a
/// reader that puts large bodies in buffers of its own looks at first).
/// Garbage is refused from the bytes there are.
pub fn peek_header(buf: &[u8], max_body: u32) -> Result<Option<FrameHeader>, ProtoError> {
    check_prefix(buf)?;
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    FrameHeader::decode(header_bytes(buf)?, max_body).map(Some)
}

fn header_bytes(buf: &[u8]) -> Result<&[u8; HEADER_LEN], ProtoError> {
    buf.get(..HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or(ProtoError::Truncated {
        what: "frame header",
        need: HEADER_LEN,
        left: buf.len(),
    })
}

/// Appends one frame (header with CRC, then `body`) to `out`. Fails with
/// [`ProtoError::FrameTooLarge`] if the body is over `max_body` (the limit
/// the peer announced).
pub fn encode_frame(
    kind: Kind,
    op: u16,
    request_id: u32,
    body: &[u8],
    max_body: u32,
    out: &mut impl BufMut,
) -> Result<(), ProtoError> {
    check_len(body.len(), max_body)?;
    let h = FrameHeader::new(kind, op, request_id).encode(body)?;
    out.put_slice(&h);
    out.put_slice(body);
    Ok(())
}

/// One frame as bytes (see [`encode_frame`]).
pub fn frame_bytes(kind: Kind, op: u16, request_id: u32, body: &[u8], max_body: u32) -> Result<Bytes, ProtoError> {
    let mut out = BytesMut::with_capacity(HEADER_LEN + body.len());
    encode_frame(kind, op, request_id, body, max_body, &mut out)?;
    Ok(out.freeze())
}

/// A frame whose large payloads are not copied into it: the header and the
/// small fields in one buffer, with shared `Bytes` (video frames, pictures)
/// spliced in at recorded offsets. Written with one vectored write
/// ([`GatheredFrame::io_slices`]), it puts the same bytes on the wire as
/// the contiguous frame without the copy (and without a fresh buffer as
/// large as the body, whose pages the kernel must fault in).
#[derive(Debug, Clone)]
pub struct GatheredFrame {
    /// Header and small fields.
    head: Bytes,
    /// (offset in `head`, payload inserted there), offsets non-decreasing.
    shared: Vec<(usize, Bytes)>,
}

impl GatheredFrame {
    /// The frame as slices for a vectored write, in wire order.
    pub fn io_slices(&self) -> Vec<std::io::IoSlice<'_>> {
        pieces(&self.head, &self.shared, 0).into_iter().map(std::io::IoSlice::new).collect()
    }

    /// Its length on the wire.
    pub fn len(&self) -> usize {
        self.head.len() + self.shared.iter().map(|(_, p)| p.len()).sum::<usize>()
    }

    /// Whether it is empty (never: a frame has a header).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frame as one contiguous buffer (what [`crate::Request::to_frame`]
    /// gives); without a copy when nothing is spliced in.
    pub fn to_bytes(&self) -> Bytes {
        if self.shared.is_empty() {
            return self.head.clone();
        }
        let mut out = BytesMut::with_capacity(self.len());
        pieces(&self.head, &self.shared, 0).into_iter().for_each(|p| out.put_slice(p));
        out.freeze()
    }
}

/// The non-empty pieces, in wire order from byte `from` of `head` on, of
/// `head` with `shared` spliced in at their offsets.
fn pieces<'a>(head: &'a [u8], shared: &'a [(usize, Bytes)], from: usize) -> Vec<&'a [u8]> {
    let mut at = from;
    let mut out = Vec::with_capacity(2 * shared.len() + 1);
    for (off, payload) in shared {
        out.push(head.get(at..*off).unwrap_or_default());
        out.push(&payload[..]);
        at = at.max(*off);
    }
    out.push(head.get(at..).unwrap_or_default());
    out.retain(|p| !p.is_empty());
    out
}

/// Fills in the header of `buf`, whose first [`HEADER_LEN`] bytes were
/// reserved for it, for a body made of `buf`'s rest with `shared` payloads
/// spliced in at their offsets (at or after [`HEADER_LEN`], in order; none
/// for a contiguous frame). How [`crate::wire::Writer`] builds frames
/// without copying the body twice.
pub(crate) fn seal(
    mut buf: BytesMut,
    shared: Vec<(usize, Bytes)>,
    kind: Kind,
    op: u16,
    request_id: u32,
    max_body: u32,
) -> Result<GatheredFrame, ProtoError> {
    let body_len = buf.len().saturating_sub(HEADER_LEN) + shared.iter().map(|(_, p)| p.len()).sum::<usize>();
    check_len(body_len, max_body)?;
    let h = FrameHeader::new(kind, op, request_id).encode_parts(&pieces(&buf, &shared, HEADER_LEN))?;
    if let Some(dst) = buf.get_mut(..HEADER_LEN) {
        dst.copy_from_slice(&h);
    }
    Ok(GatheredFrame { head: buf.freeze(), shared })
}

fn check_len(len: usize, max_body: u32) -> Result<(), ProtoError> {
    match u32::try_from(len) {
        Ok(l) if l <= max_body => Ok(()),
        Ok(l) => Err(ProtoError::FrameTooLarge { len: l, max: max_body }),
        Err(_) => Err(ProtoError::FrameTooLarge { len: u32::MAX, max: max_body }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        encode_frame(Kind::Request, 0x0102, 77, body, 1 << 20, &mut v).expect("encode");
        v
    }

    #[test]
    fn round_trip_both_decoders() {
        let f = frame(b"hello");
        let (got, used) = decode_frame(&f, 1 << 20).expect("ok").expect("complete");
        assert_eq!(used, f.len());
        assert_eq!(got.header.kind, Kind::Request);
        assert_eq!(got.header.op, 0x0102);
        assert_eq!(got.header.request_id, 77);
        assert_eq!(&got.body[..], b"hello");
        let mut buf = BytesMut::from(&f[..]);
        buf.extend_from_slice(&frame(b"second"));
        let a = decode_frame_from(&mut buf, 1 << 20).expect("ok").expect("complete");
        let b = decode_frame_from(&mut buf, 1 << 20).expect("ok").expect("complete");
        assert_eq!((&a.body[..], &b.body[..]), (&b"hello"[..], &b"second"[..]));
        assert!(buf.is_empty());
    }

    #[test]
    fn truncated_input_needs_more_not_an_error() {
        let f = frame(b"some body bytes");
        for n in 0..f.len() {
            assert_eq!(decode_frame(&f[..n], 1 << 20), Ok(None), "prefix of {n} bytes");
            let mut buf = BytesMut::from(&f[..n]);
            assert_eq!(decode_frame_from(&mut buf, 1 << 20), Ok(None));
            assert_eq!(buf.len(), n, "an incomplete frame stays in the buffer");
        }
    }

    #[test]
    fn every_header_field_corruption_is_refused() {
        let f = frame(b"body");
        let with = |i: usize, v: u8| {
            let mut g = f.clone();
            g[i] = v;
            decode_frame(&g, 1 << 20)
        };
        assert_eq!(with(0, b'X'), Err(ProtoError::BadMagic([b'X', b'S'])));
        assert_eq!(with(1, b'X'), Err(ProtoError::BadMagic([b'P', b'X'])));
        assert_eq!(with(2, 2), Err(ProtoError::BadVersion(2)));
        assert_eq!(with(3, 0), Err(ProtoError::BadKind(0)));
        assert_eq!(with(3, 7), Err(ProtoError::BadKind(7)));
        assert_eq!(with(6, 1), Err(ProtoError::BadFlags(1)));
        assert_eq!(with(7, 0x80), Err(ProtoError::BadFlags(0x8000)));
        // op, request id, CRC and the body are covered by the CRC.
        for i in [4, 5, 8, 9, 10, 11, 16, 17, 18, 19, 20, 23] {
            assert!(matches!(with(i, f[i] ^ 0x10), Err(ProtoError::BadCrc { .. })), "byte {i}");
        }
        // A larger length waits for more bytes; a length over the limit is
        // refused from the header alone.
        assert_eq!(with(12, 5), Ok(None));
        assert_eq!(with(15, 1), Err(ProtoError::FrameTooLarge { len: (1 << 24) + 4, max: 1 << 20 }));
    }

    #[test]
    fn garbage_is_refused_before_a_whole_header() {
        assert_eq!(decode_frame(b"GE", 100), Err(ProtoError::BadMagic(*b"GE")));
        assert_eq!(decode_frame(b"PS\x09", 100), Err(ProtoError::BadVersion(9)));
        assert_eq!(decode_frame(b"P", 100), Ok(None));
    }

    #[test]
    fn oversized_frames_are_not_encoded() {
        let mut v = Vec::new();
        assert_eq!(
            encode_frame(Kind::Reply, 1, 1, &[0; 11], 10, &mut v),
            Err(ProtoError::FrameTooLarge { len: 11, max: 10 })
        );
        assert!(v.is_empty());
    }
}
