//! Malformed input: an error reply where possible, the connection closed,
//! and another client connected at the same time unaffected.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pstor_core::*;
use pstor_proto::*;
use std::io::Write;

/// Sends `bytes` on a fresh authenticated data connection while a second
/// client is connected; checks the error frame (if `want` is some) and
/// the close, then that the bystander still works.
fn refused(s: &TestServer, bytes: &[u8], want: Option<ErrorCode>) {
    let mut bystander = s.client(Port::Data);
    bystander.ping().unwrap();
    let mut bad = s.client(Port::Data);
    bad.stream.write_all(bytes).unwrap();
    if let Some(code) = want {
        let a = bad.recv().unwrap();
        assert_eq!(a.header.kind, Kind::Error);
        assert_eq!(a.code(), Some(code), "{a:?}");
    }
    assert!(bad.is_closed(), "the server closes the connection");
    bystander.ping().unwrap();
    // New clients are served too.
    s.client(Port::Signalling).ping().unwrap();
}

fn ping_frame() -> Vec<u8> {
    Request::Ping {}.to_frame(9, DEFAULT_MAX_BODY).unwrap().to_vec()
}

#[test]
fn bad_magic() {
    let s = TestServer::start();
    let mut f = ping_frame();
    f[0] = b'X';
    refused(&s, &f, Some(ErrorCode::Protocol));
}

#[test]
fn bad_version_kind_and_flags() {
    let s = TestServer::start();
    for (at, v) in [(2, 9u8), (3, 0), (6, 1)] {
        let mut f = ping_frame();
        f[at] = v;
        refused(&s, &f, Some(ErrorCode::Protocol));
    }
}

#[test]
fn bad_crc() {
    let s = TestServer::start();
    let mut f = Request::GetPool { pool: PoolId(1) }.to_frame(3, DEFAULT_MAX_BODY).unwrap().to_vec();
    let last = f.len() - 1;
    f[last] ^= 1;
    refused(&s, &f, Some(ErrorCode::Protocol));
}

#[test]
fn bad_crc_on_a_large_body() {
    // Large bodies take their own reading path (a pooled buffer).
    let s = TestServer::start();
    let req = Request::Append { stream: StreamId(1), sync: false, frames: frames(0, 3, 100_000) };
    let mut f = req.to_frame(3, DEFAULT_MAX_BODY).unwrap().to_vec();
    f[HEADER_LEN + 150_000] ^= 0x40;
    refused(&s, &f, Some(ErrorCode::Protocol));
}

#[test]
fn oversized_length_is_refused_from_the_header() {
    let s = TestServer::start();
    // A header announcing 1 GiB; no body follows.
    let mut f = ping_frame();
    f[12..16].copy_from_slice(&(1u32 << 30).to_le_bytes());
    refused(&s, &f[..HEADER_LEN], Some(ErrorCode::FrameTooLarge));
}

#[test]
fn truncated_frame_then_closed() {
    let s = TestServer::start();
    let mut bystander = s.client(Port::Data);
    let mut bad = s.client(Port::Data);
    let f = Request::Append { stream: StreamId(1), sync: false, frames: frames(0, 3, 1000) }
        .to_frame(1, DEFAULT_MAX_BODY)
        .unwrap();
    bad.stream.write_all(&f[..f.len() / 2]).unwrap();
    drop(bad);
    bystander.ping().unwrap();
    s.client(Port::Data).ping().unwrap();
    // The same for a large body, read into a pooled buffer.
    let mut bad = s.client(Port::Data);
    let f = Request::Append { stream: StreamId(1), sync: false, frames: frames(0, 3, 100_000) }
        .to_frame(2, DEFAULT_MAX_BODY)
        .unwrap();
    bad.stream.write_all(&f[..f.len() / 2]).unwrap();
    drop(bad);
    bystander.ping().unwrap();
    s.client(Port::Data).ping().unwrap();
}

#[test]
fn a_body_that_does_not_decode() {
    let s = TestServer::start();
    // get_pool wants 4 bytes; 3 arrive, with a valid CRC.
    let f = frame::frame_bytes(Kind::Request, op::GET_POOL, 5, &[1, 2, 3], DEFAULT_MAX_BODY).unwrap();
    let mut sig = s.client(Port::Signalling);
    sig.stream.write_all(&f).unwrap();
    let a = sig.recv().unwrap();
    assert_eq!((a.header.op, a.header.request_id), (op::GET_POOL, 5), "the error names the request");
    assert_eq!(a.code(), Some(ErrorCode::Protocol));
    assert!(sig.is_closed());
    // Trailing bytes and bad enum tags are refused the same way.
    let mut body = Request::GetPool { pool: PoolId(1) }.encode_body().to_vec();
    body.push(0);
    let f = frame::frame_bytes(Kind::Request, op::GET_POOL, 6, &body, DEFAULT_MAX_BODY).unwrap();
    let mut sig = s.client(Port::Signalling);
    sig.stream.write_all(&f).unwrap();
    assert_eq!(sig.recv().unwrap().code(), Some(ErrorCode::Protocol));
    assert!(sig.is_closed());
}

#[test]
fn a_frame_of_the_wrong_kind() {
    let s = TestServer::start();
    let f = Reply::Ping {}.to_frame(1, DEFAULT_MAX_BODY).unwrap();
    refused(&s, &f, Some(ErrorCode::Protocol));
    let f = frame::frame_bytes(Kind::Request, op::AUTH, 1, &[0; 66], DEFAULT_MAX_BODY).unwrap();
    refused(&s, &f, Some(ErrorCode::Protocol));
}

#[test]
fn errors_come_after_the_answers_to_earlier_requests() {
    let s = TestServer::start();
    let mut c = s.client(Port::Data);
    let mut bytes = ping_frame();
    bytes.extend_from_slice(&ping_frame());
    let mut bad = ping_frame();
    bad[0] = 0;
    bytes.extend_from_slice(&bad);
    c.stream.write_all(&bytes).unwrap();
    for _ in 0..2 {
        assert!(matches!(c.recv().unwrap().msg, ServerMessage::Reply(Reply::Ping {})));
    }
    let a = c.recv().unwrap();
    assert_eq!((a.code(), a.header.request_id), (Some(ErrorCode::Protocol), 0));
    assert!(c.is_closed());
}

#[test]
fn garbage_before_the_handshake() {
    let s = TestServer::start();
    let mut raw = tcp(s.addr(Port::Signalling));
    let mut buf = bytes::BytesMut::new();
    read_frame(&mut raw, &mut buf).unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: pstor\r\n\r\n").unwrap();
    let f = read_frame(&mut raw, &mut buf).unwrap();
    assert_eq!(error_from_frame(&f.body).code(), ErrorCode::Protocol);
    assert!(is_closed(&mut raw));
    // An oversized Auth is refused from its header (4 KiB before auth).
    let mut raw = tcp(s.addr(Port::Signalling));
    let mut buf = bytes::BytesMut::new();
    read_frame(&mut raw, &mut buf).unwrap();
    let mut h = ping_frame();
    h[4..6].copy_from_slice(&op::AUTH.to_le_bytes());
    h[12..16].copy_from_slice(&5000u32.to_le_bytes());
    raw.write_all(&h[..HEADER_LEN]).unwrap();
    let f = read_frame(&mut raw, &mut buf).unwrap();
    assert_eq!(error_from_frame(&f.body).code(), ErrorCode::FrameTooLarge);
    assert!(is_closed(&mut raw));
    s.client(Port::Signalling).ping().unwrap();
}
