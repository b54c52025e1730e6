//! Messages: requests, replies, error frames and streamed answers, and
//! [`decode_server_frame`] / [`decode_client_frame`], which turn any frame
//! one side can receive into what it means.

mod error;
mod macros;
mod reply;
mod request;
mod stream;

pub use error::{error_from_frame, error_to_frame, ErrorReply};
pub use reply::{JobStatus, Reply};
pub use request::Request;
pub use stream::{decode_stream_item, encode_stream_item, StreamEnd, FRAME_OVERHEAD};

use crate::auth::{Auth, AuthOk, Hello};
use crate::frame::{Kind, RawFrame};
use crate::wire::from_body;
use crate::{op, ProtoError};
use pstor_core::Frame;

/// What a frame from the server means.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServerMessage {
    /// The handshake's first frame.
    Hello(Hello),
    /// The handshake succeeded.
    AuthOk(AuthOk),
    /// A request's answer.
    Reply(Reply),
    /// A request failed (request id 0: the connection failed and will close).
    Error(ErrorReply),
    /// One batch of a range read.
    StreamItem(Vec<Frame>),
    /// A range read ended.
    StreamEnd(StreamEnd),
}

/// Decodes a frame received from the server.
pub fn decode_server_frame(frame: &RawFrame) -> Result<ServerMessage, ProtoError> {
    let h = &frame.header;
    Ok(match (h.kind, h.op) {
        (Kind::Event, op::HELLO) => ServerMessage::Hello(from_body(&frame.body)?),
        (Kind::Reply, op::AUTH) => ServerMessage::AuthOk(from_body(&frame.body)?),
        (Kind::Reply, op) => ServerMessage::Reply(Reply::decode(op, &frame.body)?),
        (Kind::Error, _) => ServerMessage::Error(from_body(&frame.body)?),
        (Kind::StreamItem, _) => ServerMessage::StreamItem(decode_stream_item(&frame.body)?),
        (Kind::StreamEnd, _) => ServerMessage::StreamEnd(from_body(&frame.body)?),
        (Kind::Event, op) => return Err(ProtoError::UnknownOp(op)),
        (Kind::Request, _) => return Err(ProtoError::UnexpectedKind { expected: "a server frame", got: "request" }),
    })
}

/// What a frame from the client means.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientMessage {
    /// The handshake's answer.
    Auth(Auth),
    /// A request.
    Request(Request),
}

/// Decodes a frame received from a client. Only requests come from
/// clients; an unknown op is [`ProtoError::UnknownOp`] (the one error after
/// which the connection may stay open).
pub fn decode_client_frame(frame: &RawFrame) -> Result<ClientMessage, ProtoError> {
    let h = &frame.header;
    if h.kind != Kind::Request {
        return Err(ProtoError::UnexpectedKind { expected: "request", got: h.kind.name() });
    }
    Ok(match h.op {
        op::AUTH => ClientMessage::Auth(from_body(&frame.body)?),
        op => ClientMessage::Request(Request::decode(op, &frame.body)?),
    })
}
