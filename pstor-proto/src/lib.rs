//! # pstor-proto
//!
//! The SDK protocol of pstor-server, spoken on the signalling port (6036)
//! and the data port (6037): framing, the body codec, every request and
//! reply, error frames, streamed range reads and the HMAC handshake. Both
//! sides use it: `pstor-server`, and the SDKs' remote mode.
//!
//! It is pure: no sockets, no async runtime, no threads. Feed it bytes
//! from whatever I/O you have (tokio on the server, blocking `std::net` in
//! a client) and write the bytes it gives back. `docs/sdk-protocol.md` is
//! the byte-by-byte reference; the constants here mirror it.
//!
//! A client, in order:
//!
//! ```
//! use pstor_proto::*;
//! # fn main() -> Result<(), pstor_core::Error> {
//! # // A server in memory, to show both sides.
//! # let server = ServerHandshake::new(Port::Data, "pstor-server doc", DEFAULT_MAX_BODY, 64);
//! # let from_server = |bytes: bytes::Bytes| decode_frame(&bytes, u32::MAX).ok().flatten().map(|f| f.0).unwrap();
//! // 1. The server speaks first: answer its Hello with an Auth frame.
//! let mut hs = ClientHandshake::new("PSAKEXAMPLE", "secret key");
//! let hello_frame = from_server(server.hello_frame()); // read with decode_frame / decode_frame_from
//! let auth = hs.answer_frame(&hello_frame, Port::Data)?; // write these bytes
//! # let (_key, ok) = server.verify_frame(&from_server(auth), |_| Some("secret key".into()))?;
//! // 2. Check the server's proof; its Hello gives the limits to respect.
//! let hello = hs.finish_frame(&from_server(ok))?;
//! // 3. Requests, pipelined if you like: each carries an id its answer echoes.
//! let req = Request::Sync { streams: vec![] };
//! let bytes = req.to_frame(1, hello.max_body)?; // write these bytes
//! # let reply = Reply::Sync {}.to_frame(1, u32::MAX)?;
//! // 4. Answers: a reply, an error, or (range reads) stream items then an end.
//! match decode_server_frame(&from_server(reply))? {
//!     ServerMessage::Reply(Reply::Sync {}) => {}
//!     ServerMessage::Error(e) => return Err(e.into_error()),
//!     other => panic!("unexpected {other:?}"),
//! }
//! # let _ = bytes;
//! # Ok(()) }
//! ```
//!
//! Decode the server's frames with the `max_body` of its [`Hello`] (the
//! Hello itself fits in [`HANDSHAKE_MAX_BODY`]); never send a body larger
//! than it ([`Request::to_frame`] refuses to build one). A connection's
//! answers come in the order of its requests; pipelining is free as long as
//! answers are read concurrently, or at most `max_in_flight` requests are
//! outstanding.
//!
//! It is **not** a client: connecting, timeouts, reconnecting and matching
//! answers to requests belong to the SDKs (`pstor-client`).

pub mod auth;
mod error;
pub mod frame;
pub mod limits;
pub mod message;
pub mod op;
pub mod wire;

pub use auth::{Auth, AuthOk, ClientHandshake, Hello, ServerHandshake, ServerProcess};
pub use error::ProtoError;
pub use frame::{
    decode_frame, decode_frame_from, encode_frame, FrameHeader, GatheredFrame, Kind, RawFrame, HEADER_LEN,
};
pub use limits::*;
pub use message::{
    decode_client_frame, decode_server_frame, error_from_frame, error_to_frame, ClientMessage, ErrorReply, JobStatus,
    Reply, Request, ServerMessage, StreamEnd,
};
pub use op::{Port, Served};

/// The protocol version this build speaks (byte 2 of every frame header).
pub const PROTOCOL_VERSION: u8 = 1;
