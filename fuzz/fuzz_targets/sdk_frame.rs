//! The SDK protocol's decoders (pstor-proto) on arbitrary bytes: the frame
//! decoder (whole and fed in two pieces, which must agree), the request,
//! reply, stream-item, error and handshake body decoders. Each runs on the
//! input as is, on a copy whose header length and CRC are made valid (so
//! mutations reach the bodies), and on the input read as `op (u16 LE) +
//! body`. Whatever decodes must encode back to the same bytes (the
//! encoding is canonical). Never a panic, never an allocation beyond what
//! the input justifies.
#![no_main]

use bytes::{Bytes, BytesMut};
use pstor_proto::auth::{Auth, AuthOk, Hello};
use pstor_proto::frame::{decode_frame, decode_frame_from, HEADER_LEN};
use pstor_proto::message::{decode_client_frame, decode_server_frame, decode_stream_item};
use pstor_proto::wire::{from_body, to_body, Wire};
use pstor_proto::{error_from_frame, ErrorReply, JobStatus, RawFrame, Reply, Request, StreamEnd};

/// A small limit, so oversized frames are refused often.
const MAX_BODY: u32 = 1 << 16;

/// Decodes `body` as a `T`; if it decodes, its encoding is `body` again.
fn canonical<T: Wire + std::fmt::Debug>(body: &Bytes) {
    if let Ok(v) = from_body::<T>(body) {
        assert_eq!(to_body(&v), *body, "{v:?} does not encode back to its bytes");
    }
}

/// Every body decoder on one body.
fn bodies(op: u16, body: &Bytes) {
    if let Ok(r) = Request::decode(op, body) {
        assert_eq!(r.encode_body(), *body, "request {r:?} does not encode back to its bytes");
        assert_eq!(r.op(), op);
    }
    if let Ok(r) = Reply::decode(op, body) {
        assert_eq!(r.encode_body(), *body, "reply {r:?} does not encode back to its bytes");
    }
    if let Ok(frames) = decode_stream_item(body) {
        assert_eq!(to_body(&frames), *body);
    }
    canonical::<ErrorReply>(body);
    canonical::<StreamEnd>(body);
    canonical::<JobStatus>(body);
    canonical::<Hello>(body);
    canonical::<Auth>(body);
    canonical::<AuthOk>(body);
    let _ = error_from_frame(body);
}

fn frame(f: &RawFrame) {
    let _ = decode_client_frame(f);
    let _ = decode_server_frame(f);
    bodies(f.header.op, &f.body);
}

/// Every frame in `data`, decoded whole and fed to the incremental decoder
/// in two pieces; both must see the same frames and the same verdict.
fn stream(data: &[u8]) {
    let split = data.first().map_or(0, |&b| b as usize % (data.len() + 1));
    let mut buf = BytesMut::from(&data[..split]);
    let mut fed = split;
    let mut rest = data;
    loop {
        let whole = decode_frame(rest, MAX_BODY);
        let incremental = loop {
            match decode_frame_from(&mut buf, MAX_BODY) {
                Ok(None) if fed < data.len() => {
                    buf.extend_from_slice(&data[fed..]);
                    fed = data.len();
                }
                other => break other,
            }
        };
        match (whole, incremental) {
            (Ok(Some((f, used))), Ok(Some(g))) => {
                assert_eq!(f, g, "the two decoders disagree");
                frame(&f);
                rest = &rest[used..];
            }
            (Ok(None), Ok(None)) => return,
            (Err(a), Err(b)) => {
                assert_eq!(a, b, "the two decoders disagree");
                return;
            }
            (a, b) => panic!("the two decoders disagree: {a:?} / {b:?}"),
        }
    }
}

/// A copy whose first header announces the bytes that follow it and
/// carries their CRC.
fn with_valid_crc(data: &[u8]) -> Option<Vec<u8>> {
    let mut v = data.to_vec();
    let body_len = v.len().checked_sub(HEADER_LEN)?.min(MAX_BODY as usize);
    v.truncate(HEADER_LEN + body_len);
    v.get_mut(12..16)?.copy_from_slice(&(body_len as u32).to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(v.get(..16)?);
    h.update(v.get(HEADER_LEN..)?);
    let crc = h.finalize();
    v.get_mut(16..20)?.copy_from_slice(&crc.to_le_bytes());
    Some(v)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    stream(data);
    if let Some(fixed) = with_valid_crc(data) {
        stream(&fixed);
    }
    if let [a, b, body @ ..] = data {
        bodies(u16::from_le_bytes([*a, *b]), &Bytes::copy_from_slice(body));
    }
});
