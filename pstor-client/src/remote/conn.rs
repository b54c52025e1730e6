//! One authenticated connection to a port of the server: TCP with
//! `TCP_NODELAY` and read/write timeouts, the handshake (with the server's
//! proof checked), and frames in and out. Nothing here retries: every
//! failure is reported, and a connection that failed is dropped by its
//! owner (see [`Failure::is_fatal`]).

use bytes::{Bytes, BytesMut};
use pstor_core::{Error, ErrorCode, Result};
use pstor_proto::frame::decode_frame_from;
use pstor_proto::{decode_server_frame, ClientHandshake, Hello, Kind, Port, RawFrame, Reply, Request, ServerMessage};
use std::io::{ErrorKind, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Largest body accepted before authentication (the server's Hello and
/// AuthOk are under 200 bytes; error frames carry at most a 64 KiB message).
const HANDSHAKE_MAX_BODY: u32 = 70 << 10;
/// Bytes asked of each `read` on the socket (more when a frame needs more).
const READ_CHUNK: usize = 64 << 10;

/// Where a connection goes: the server's host and one of its two ports.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// Host name or address, as given.
    pub host: String,
    /// TCP port number.
    pub port_number: u16,
    /// Which SDK port it is (checked against the server's Hello).
    pub port: Port,
    /// The key pair.
    pub access_key: String,
    /// The secret (keys the handshake's HMAC; never sent).
    pub secret_key: String,
    /// TCP connect plus handshake.
    pub connect_timeout: Duration,
    /// Read and write timeout of every call.
    pub request_timeout: Duration,
}

impl Endpoint {
    /// `host:port (signalling)`, for messages.
    pub fn describe(&self) -> String {
        format!("{}:{} ({} port)", self.host, self.port_number, self.port.name())
    }
}

/// A failure on a connection: the error to report, and whether the
/// connection must be dropped (its byte stream is no longer in step, or
/// the server closed it).
#[derive(Debug)]
pub(crate) struct Failure {
    /// What to report.
    pub error: Error,
    /// Drop the connection.
    pub fatal: bool,
}

impl Failure {
    /// A failure that ends the connection.
    pub fn fatal(error: Error) -> Failure {
        Failure { error, fatal: true }
    }

    /// Whether the connection must be dropped.
    pub fn is_fatal(&self) -> bool {
        self.fatal
    }
}

/// An [`Error::Remote`] with a code and message.
pub(crate) fn remote(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::Remote { code, message: message.into() }
}

/// The error for a socket failure while `doing` something with `ep`:
/// timeouts are `Timeout`, everything else `Disconnected`.
pub(crate) fn io_error(e: &std::io::Error, doing: &str, ep: &Endpoint) -> Error {
    let code = match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => ErrorCode::Timeout,
        _ => ErrorCode::Disconnected,
    };
    let what = match code {
        ErrorCode::Timeout => "no answer in time".to_string(),
        _ => e.to_string(),
    };
    remote(code, format!("{doing} {}: {what}", ep.describe()))
}

/// Whether an error frame's code means the server closes the connection
/// after it (docs/sdk-protocol.md §7): protocol violations, authentication,
/// frame size, busy, timeout. Engine errors and `UnknownRequest` leave it
/// open.
pub(crate) fn closes_connection(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Protocol | ErrorCode::AuthFailed | ErrorCode::FrameTooLarge | ErrorCode::Busy | ErrorCode::Timeout
    )
}

/// One authenticated connection.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    /// What each read lands in first (see [`Conn::fill`]).
    scratch: Box<[u8]>,
    next_id: u32,
    /// When a request was last written (what the server's idle timeout
    /// counts from, see [`Conn::needs_ping`]).
    last_sent: Instant,
    /// The server's limits and version.
    pub hello: Hello,
    /// The endpoint, for messages.
    pub ep: Endpoint,
}

impl Conn {
    /// Connects, authenticates (mutually) and returns a connection ready for
    /// requests. Every failure names the address.
    pub fn open(ep: &Endpoint) -> Result<Conn> {
        let deadline = Instant::now() + ep.connect_timeout;
        let addrs: Vec<SocketAddr> = (ep.host.as_str(), ep.port_number)
            .to_socket_addrs()
            .map_err(|e| remote(ErrorCode::Disconnected, format!("cannot resolve {}: {e}", ep.describe())))?
            .collect();
        let mut last: Option<Error> = None;
        let mut stream = None;
        for addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => {
                    // Name the address tried when it is not what was given.
                    let given = format!("{}:{}", ep.host, ep.port_number);
                    let doing = match addr.to_string() == given {
                        true => "cannot connect to".to_string(),
                        false => format!("cannot connect (to {addr}) to"),
                    };
                    last = Some(io_error(&e, &doing, ep));
                }
            }
        }
        let Some(stream) = stream else {
            return Err(last.unwrap_or_else(|| {
                remote(ErrorCode::Timeout, format!("cannot connect to {}: no address answered in time", ep.describe()))
            }));
        };
        let setup = |r: std::io::Result<()>| r.map_err(|e| io_error(&e, "cannot configure the socket to", ep));
        setup(stream.set_nodelay(true))?;
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        setup(stream.set_read_timeout(Some(left)))?;
        setup(stream.set_write_timeout(Some(left)))?;
        let mut conn = Conn {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            next_id: 1,
            last_sent: Instant::now(),
            hello: Hello {
                nonce: [0; 32],
                port: ep.port,
                max_body: HANDSHAKE_MAX_BODY,
                max_in_flight: 1,
                server_version: String::new(),
                process: None,
            },
            ep: ep.clone(),
        };
        conn.handshake().map_err(|f| f.error)?;
        setup(conn.stream.set_read_timeout(Some(ep.request_timeout)))?;
        setup(conn.stream.set_write_timeout(Some(ep.request_timeout)))?;
        Ok(conn)
    }

    /// Hello, Auth, AuthOk; checks the server's proof.
    fn handshake(&mut self) -> std::result::Result<(), Failure> {
        let mut hs = ClientHandshake::new(self.ep.access_key.clone(), self.ep.secret_key.clone());
        let hello = self.recv_raw(HANDSHAKE_MAX_BODY)?;
        let auth = hs.answer_frame(&hello, self.ep.port).map_err(|e| Failure::fatal(self.name_error(e)))?;
        self.write(&auth)?;
        let ok = self.recv_raw(HANDSHAKE_MAX_BODY)?;
        self.hello = hs.finish_frame(&ok).map_err(|e| Failure::fatal(self.name_error(e)))?;
        Ok(())
    }

    /// Adds the address to a handshake error's message.
    fn name_error(&self, e: Error) -> Error {
        let code = e.code();
        remote(code, format!("{} (connecting to {})", e, self.ep.describe()))
    }

    /// The largest body the server accepts (from its Hello).
    pub fn max_body(&self) -> u32 {
        self.hello.max_body
    }

    /// The server instance id of its Hello (`None`: a server before
    /// protocol revision 1.1, which does not say).
    pub fn instance(&self) -> Option<u64> {
        self.hello.process.map(|p| p.instance)
    }

    /// Whether the connection has had no request for half the server's
    /// idle timeout (from its Hello; never for a server that does not say):
    /// the next request could race the server closing it.
    pub fn needs_ping(&self) -> bool {
        self.hello.process.is_some_and(|p| self.last_sent.elapsed() >= p.idle_timeout() / 2)
    }

    /// Keep-alive, for a connection with nothing outstanding, just before
    /// it is used: `false` if the server closed it (it is stale), or if it
    /// sat idle for half the server's idle timeout and does not answer a
    /// `ping` (sent then, so the request that follows cannot race the
    /// timeout). `false` means: drop it and connect again.
    ///
    /// Why ping before use rather than from a thread every half timeout:
    /// the client runs no threads of its own (a C or Python host may fork,
    /// or count its threads), and an idle connection the server closed
    /// costs only a reconnect, which is invisible when nothing was lost
    /// (the Hello's server instance id tells whether the server is the
    /// same process; see `append.rs`). What a ping must prevent is the
    /// race between a request and the server's idle timer; checking the
    /// clock before a request costs one `Instant::now`, and the ping's round
    /// trip is paid only after a long silence.
    pub fn keep_alive(&mut self) -> bool {
        if self.is_stale() {
            return false;
        }
        if !self.needs_ping() {
            return true;
        }
        matches!(self.call(&Request::Ping {}), Ok(ServerMessage::Reply(Reply::Ping {})))
    }

    /// Requests that may be outstanding on this connection (from Hello).
    pub fn window(&self) -> usize {
        (self.hello.max_in_flight as usize).max(1)
    }

    /// A fresh request id.
    pub fn next_id(&mut self) -> u32 {
        let id = self.next_id;
        // 0 is the connection's own id in error frames: never use it.
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Encodes and sends a request; its id.
    pub fn send(&mut self, req: &Request) -> std::result::Result<u32, Failure> {
        let id = self.next_id();
        self.send_as(req, id)?;
        Ok(id)
    }

    /// Encodes and sends a request with this id. Frames and pictures are
    /// written from the caller's buffers (a vectored write), not copied
    /// into the request. `Err` not fatal: the request does not encode
    /// (nothing was sent).
    pub fn send_as(&mut self, req: &Request, id: u32) -> std::result::Result<(), Failure> {
        let frame =
            req.to_gathered_frame(id, self.max_body()).map_err(|e| Failure { error: e.into(), fatal: false })?;
        self.write_all_vectored(frame.io_slices())
    }

    /// Writes a whole frame.
    pub fn write(&mut self, frame: &[u8]) -> std::result::Result<(), Failure> {
        self.last_sent = Instant::now();
        self.stream.write_all(frame).map_err(|e| self.lost(&e))
    }

    /// Writes every byte of `slices`, in order.
    fn write_all_vectored(&mut self, mut slices: Vec<IoSlice<'_>>) -> std::result::Result<(), Failure> {
        self.last_sent = Instant::now();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match self.stream.write_vectored(rest) {
                Ok(0) => return Err(self.lost(&std::io::Error::from(ErrorKind::WriteZero))),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.lost(&e)),
            }
        }
        Ok(())
    }

    /// The connection failed while writing.
    fn lost(&self, e: &std::io::Error) -> Failure {
        Failure::fatal(io_error(e, "lost the connection to", &self.ep))
    }

    /// The next frame from the server, validated (CRC, limits).
    pub fn recv(&mut self) -> std::result::Result<RawFrame, Failure> {
        let max = self.max_body();
        self.recv_raw(max)
    }

    fn recv_raw(&mut self, max_body: u32) -> std::result::Result<RawFrame, Failure> {
        loop {
            match decode_frame_from(&mut self.buf, max_body) {
                Ok(Some(f)) => return Ok(f),
                Ok(None) => {}
                Err(e) => {
                    let e: Error = e.into();
                    return Err(Failure::fatal(remote(
                        e.code(),
                        format!("the server at {} sent a bad frame: {e}", self.ep.describe()),
                    )));
                }
            }
            self.fill()?;
        }
    }

    /// Reads what the socket has into the buffer (at least one byte),
    /// through `scratch`, which was zeroed once: zeroing a fresh region of
    /// the buffer for every read would cost more than the small answers
    /// most reads bring.
    fn fill(&mut self) -> std::result::Result<(), Failure> {
        let r = loop {
            match self.stream.read(&mut self.scratch) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        match r {
            Ok(0) => Err(Failure::fatal(remote(
                ErrorCode::Disconnected,
                format!("the server at {} closed the connection", self.ep.describe()),
            ))),
            Ok(n) => {
                self.buf.extend_from_slice(self.scratch.get(..n).unwrap_or_default());
                Ok(())
            }
            Err(e) => Err(self.lost(&e)),
        }
    }

    /// Decodes the answer to request `id`: `Ok(message)` for a reply, a
    /// stream item or a stream end; `Err` for an error frame (fatal when the
    /// server closes the connection after it, or when it is the
    /// connection's own error, request id 0) or anything out of step.
    pub fn answer(&self, frame: &RawFrame, id: u32) -> std::result::Result<ServerMessage, Failure> {
        let h = frame.header;
        if h.kind == Kind::Error && h.request_id == 0 {
            // The connection's own error (idle timeout, a frame the server
            // could not read, shutdown): it closes after it.
            let error = pstor_proto::error_from_frame(&frame.body);
            return Err(Failure::fatal(remote(
                error.code(),
                format!("{} (the server at {} closed the connection)", error, self.ep.describe()),
            )));
        }
        if h.request_id != id {
            return Err(Failure::fatal(remote(
                ErrorCode::Protocol,
                format!(
                    "the server at {} answered request {} while request {id} was expected",
                    self.ep.describe(),
                    h.request_id
                ),
            )));
        }
        if h.kind == Kind::Error {
            let error = pstor_proto::error_from_frame(&frame.body);
            let fatal = closes_connection(error.code());
            return Err(Failure { error, fatal });
        }
        decode_server_frame(frame).map_err(|e| {
            let e: Error = e.into();
            Failure::fatal(remote(ErrorCode::Protocol, format!("bad answer from {}: {e}", self.ep.describe())))
        })
    }

    /// Sends a request and reads its reply (nothing else may be
    /// outstanding on the connection).
    pub fn call(&mut self, req: &Request) -> std::result::Result<ServerMessage, Failure> {
        let id = self.send(req)?;
        let frame = self.recv()?;
        self.answer(&frame, id)
    }

    /// Sends a frame built by the caller (request id `id`) and reads its
    /// reply.
    pub fn call_frame(&mut self, frame: &Bytes, id: u32) -> std::result::Result<ServerMessage, Failure> {
        self.write(frame)?;
        let frame = self.recv()?;
        self.answer(&frame, id)
    }

    /// Whether the server has closed the connection (or sent something
    /// unasked, which can only be its last error frame) while it sat idle.
    /// Never blocks.
    pub fn is_stale(&self) -> bool {
        if !self.buf.is_empty() {
            return true;
        }
        if self.stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut b = [0u8; 1];
        let stale = match self.stream.peek(&mut b) {
            Ok(_) => true, // end of stream (0) or an unasked frame
            Err(e) => e.kind() != ErrorKind::WouldBlock,
        };
        stale || self.stream.set_nonblocking(false).is_err()
    }

    /// Changes the read timeout (a long poll waits longer than a request).
    pub fn set_read_timeout(&self, t: Duration) -> std::result::Result<(), Failure> {
        self.stream
            .set_read_timeout(Some(t.max(Duration::from_millis(1))))
            .map_err(|e| Failure::fatal(io_error(&e, "cannot configure the connection to", &self.ep)))
    }
}
