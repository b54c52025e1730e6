//! The handshake over real sockets: good keys, a wrong secret, an unknown
//! access key, the other port's proof, too slow a client.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::BytesMut;
use common::*;
use pstor_core::ErrorCode;
use pstor_proto::*;
use std::io::Write;

#[test]
fn handshake_ok_on_both_ports() {
    let s = TestServer::start();
    for port in [Port::Signalling, Port::Data] {
        let mut c = s.client(port);
        assert_eq!(c.hello.port, port);
        assert_eq!(c.hello.max_body, DEFAULT_MAX_BODY);
        assert_eq!(c.hello.max_in_flight, DEFAULT_MAX_IN_FLIGHT);
        assert!(c.hello.server_version.starts_with("pstor-server "));
        c.ping().unwrap();
    }
}

#[test]
fn wrong_secret_is_refused_and_closed() {
    let s = TestServer::start();
    let err = Client::connect(s.addr(Port::Data), Port::Data, ACCESS, "not-the-secret-key!").err().unwrap();
    assert_eq!(err.code(), ErrorCode::AuthFailed);
    // By hand, to see the close after the error frame.
    let mut stream = tcp(s.addr(Port::Data));
    let mut buf = BytesMut::new();
    let hello = read_frame(&mut stream, &mut buf).unwrap();
    let auth = ClientHandshake::new(ACCESS, "wrong secret, 20 chars").answer_frame(&hello, Port::Data).unwrap();
    stream.write_all(&auth).unwrap();
    let f = read_frame(&mut stream, &mut buf).unwrap();
    assert_eq!(f.header.kind, Kind::Error);
    assert_eq!(error_from_frame(&f.body).code(), ErrorCode::AuthFailed);
    assert!(is_closed(&mut stream));
    // The server is unaffected.
    s.client(Port::Data).ping().unwrap();
}

#[test]
fn unknown_access_key_is_refused() {
    let s = TestServer::start();
    let err = Client::connect(s.addr(Port::Signalling), Port::Signalling, "PSAKNOBODY", SECRET).err().unwrap();
    assert_eq!(err.code(), ErrorCode::AuthFailed);
    assert!(!err.to_string().contains(SECRET));
}

#[test]
fn a_proof_for_one_port_does_not_open_the_other() {
    let s = TestServer::start();
    let mut stream = tcp(s.addr(Port::Data));
    let mut buf = BytesMut::new();
    let hello_frame = read_frame(&mut stream, &mut buf).unwrap();
    let ServerMessage::Hello(mut hello) = decode_server_frame(&hello_frame).unwrap() else { panic!("hello") };
    // A client lying about the role: proof made for the signalling port.
    hello.port = Port::Signalling;
    let auth = ClientHandshake::new(ACCESS, SECRET).answer(&hello);
    stream.write_all(&frame::frame_bytes(Kind::Request, op::AUTH, 0, &wire::to_body(&auth), 4096).unwrap()).unwrap();
    let f = read_frame(&mut stream, &mut buf).unwrap();
    assert_eq!(error_from_frame(&f.body).code(), ErrorCode::AuthFailed);
}

#[test]
fn a_request_before_authenticating_is_refused() {
    let s = TestServer::start();
    let mut stream = tcp(s.addr(Port::Signalling));
    let mut buf = BytesMut::new();
    read_frame(&mut stream, &mut buf).unwrap();
    stream.write_all(&Request::ListPools {}.to_frame(1, DEFAULT_MAX_BODY).unwrap()).unwrap();
    let f = read_frame(&mut stream, &mut buf).unwrap();
    assert_eq!(error_from_frame(&f.body).code(), ErrorCode::AuthFailed);
    assert!(is_closed(&mut stream));
}

#[test]
fn a_client_that_does_not_authenticate_in_time_is_closed() {
    let s = TestServer::with(|c| c.limits.handshake_timeout_secs = 1);
    let mut stream = tcp(s.addr(Port::Data));
    let mut buf = BytesMut::new();
    read_frame(&mut stream, &mut buf).unwrap();
    // Say nothing: the server's timeout frame is the signal.
    let f = read_frame(&mut stream, &mut buf).unwrap();
    assert_eq!(error_from_frame(&f.body).code(), ErrorCode::Timeout);
    assert!(is_closed(&mut stream));
}
