//! What the server tests share: a server on loopback (port 0) over tiny
//! spaces, and a small blocking client built from pstor-proto on
//! `std::net::TcpStream`.
#![allow(dead_code, clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use pstor_core::*;
use pstor_proto::*;
use pstor_server::config::{KeyPair, KindName, PoolConfig, SpaceConfig};
use pstor_server::{ByteSize, RunningServer, Server, ServerConfig};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const ACCESS: &str = "PSAKTESTTESTTEST0001";
pub const SECRET: &str = "test-secret-key-0123456789";
/// 2026-11-23 00:00:00 UTC in µs.
pub const T0: Timestamp = 1_795_392_000 * US_PER_SEC;

/// A configuration on loopback, ports chosen by the system, one space of
/// `space_mib` MiB (1 MiB segments) and two pools: "video" (video, half)
/// and "pictures" (picture, a quarter).
pub fn config(dir: &Path, space_mib: u64) -> ServerConfig {
    let key = KeyPair { access_key: ACCESS.into(), secret_key: SECRET.into() };
    let mut cfg = ServerConfig::loopback(dir.join("data"), key);
    cfg.engine.segment_size = ByteSize(1 << 20);
    cfg.spaces =
        vec![SpaceConfig { path: dir.join("space1"), capacity: ByteSize(space_mib << 20), segment_size: None }];
    let pool = |name: &str, kind, mib: u64| PoolConfig {
        cycle_days: 0,
        max_lock_pct: 50,
        ..PoolConfig::new(name, kind, ByteSize(mib << 20))
    };
    cfg.pools = vec![pool("video", KindName::Video, space_mib / 2), pool("pictures", KindName::Picture, space_mib / 4)];
    cfg
}

/// A started server and its folder.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub dir: tempfile::TempDir,
    pub cfg: ServerConfig,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::with(|_| {})
    }

    /// Starts with a configuration changed by `f`.
    pub fn with(f: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), 64);
        f(&mut cfg);
        let server = Server::start(cfg.clone()).unwrap();
        TestServer { server: Some(server), dir, cfg }
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }

    pub fn addr(&self, port: Port) -> SocketAddr {
        self.server().addr(port)
    }

    /// An authenticated client on a port.
    pub fn client(&self, port: Port) -> Client {
        Client::connect(self.addr(port), port, ACCESS, SECRET).unwrap()
    }

    pub fn pool(&self, name: &str) -> PoolId {
        self.server().engine().pools().into_iter().find(|p| p.config.name == name).unwrap().config.id
    }

    pub fn space_dir(&self) -> PathBuf {
        self.dir.path().join("space1")
    }
}

/// The clean-shutdown flag of a space's checkpoint (docs/format.md §7:
/// magic u32, version u16, flags u16 whose bit 0 is "clean").
pub fn checkpoint_is_clean(space_dir: &Path) -> bool {
    let b = std::fs::read(space_dir.join("checkpoint.pst")).unwrap();
    assert_eq!(&b[0..4], b"PCKP");
    u16::from_le_bytes([b[6], b[7]]) & 1 == 1
}

/// A blocking SDK client.
pub struct Client {
    pub stream: TcpStream,
    buf: BytesMut,
    next: u32,
    pub hello: Hello,
}

/// One frame from the server, decoded.
#[derive(Debug)]
pub struct Answer {
    pub header: FrameHeader,
    pub msg: ServerMessage,
}

impl Answer {
    /// The error code, if it is an error frame.
    pub fn code(&self) -> Option<ErrorCode> {
        match &self.msg {
            ServerMessage::Error(e) => Some(e.clone().into_error().code()),
            _ => None,
        }
    }
}

fn disconnected(why: impl std::fmt::Display) -> Error {
    Error::Remote { code: ErrorCode::Disconnected, message: why.to_string() }
}

/// A TCP connection with a read timeout (so no test can hang).
pub fn tcp(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads one frame from a raw stream; `Err` on end of stream or reset.
pub fn read_frame(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<RawFrame> {
    loop {
        if let Some(f) = frame::decode_frame_from(buf, u32::MAX).map_err(Error::from)? {
            return Ok(f);
        }
        let mut chunk = [0u8; 64 << 10];
        match stream.read(&mut chunk) {
            Ok(0) => return Err(disconnected("end of stream")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(disconnected(e)),
        }
    }
}

/// Whether the server closed the stream (end of stream or reset, not a
/// timeout), after any frames still in flight.
pub fn is_closed(stream: &mut TcpStream) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return false,
            Err(_) => return true,
        }
    }
}

impl Client {
    /// Connects and authenticates.
    pub fn connect(addr: SocketAddr, port: Port, access: &str, secret: &str) -> Result<Client> {
        let mut stream = tcp(addr);
        let mut buf = BytesMut::new();
        let mut hs = ClientHandshake::new(access, secret);
        let hello = read_frame(&mut stream, &mut buf)?;
        let auth = hs.answer_frame(&hello, port)?;
        stream.write_all(&auth).map_err(disconnected)?;
        let ok = read_frame(&mut stream, &mut buf)?;
        let hello = hs.finish_frame(&ok)?;
        Ok(Client { stream, buf, next: 1, hello })
    }

    /// Sends a request; its id.
    pub fn send(&mut self, req: &Request) -> u32 {
        let id = self.next;
        self.next += 1;
        let bytes = req.to_frame(id, self.hello.max_body).unwrap();
        self.stream.write_all(&bytes).unwrap();
        id
    }

    /// The next frame from the server.
    pub fn recv(&mut self) -> Result<Answer> {
        let f = read_frame(&mut self.stream, &mut self.buf)?;
        let msg = decode_server_frame(&f)?;
        Ok(Answer { header: f.header, msg })
    }

    /// The answer to one request sent now.
    pub fn call(&mut self, req: Request) -> Result<Reply> {
        let id = self.send(&req);
        self.reply(id)
    }

    /// The next answer, which must be to request `id`.
    pub fn reply(&mut self, id: u32) -> Result<Reply> {
        let a = self.recv()?;
        assert_eq!(a.header.request_id, id, "answers come in request order");
        match a.msg {
            ServerMessage::Reply(r) => Ok(r),
            ServerMessage::Error(e) => Err(e.into_error()),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Reads a range through the stream items.
    pub fn read_range(&mut self, stream: StreamId, start: Timestamp, end: Timestamp) -> Result<Vec<Frame>> {
        let id = self.send(&Request::ReadRange { stream, start, end });
        let mut frames = Vec::new();
        loop {
            let a = self.recv()?;
            assert_eq!(a.header.request_id, id);
            match a.msg {
                ServerMessage::StreamItem(batch) => frames.extend(batch),
                ServerMessage::StreamEnd(end) => {
                    assert_eq!(end.frames, frames.len() as u64);
                    return Ok(frames);
                }
                ServerMessage::Error(e) => return Err(e.into_error()),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    pub fn ping(&mut self) -> Result<()> {
        match self.call(Request::Ping {})? {
            Reply::Ping {} => Ok(()),
            other => panic!("{other:?}"),
        }
    }

    /// Whether the server has closed the connection.
    pub fn is_closed(&mut self) -> bool {
        self.buf.clear();
        is_closed(&mut self.stream)
    }
}

/// Deterministic frame content.
pub fn content(n: u64, len: usize) -> Bytes {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Bytes::from(
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect::<Vec<u8>>(),
    )
}

/// Registers a camera stream in the "video" pool over the SDK.
pub fn register(c: &mut Client, pool: PoolId, camera: &str) -> StreamId {
    let spec = StreamSpec {
        pool,
        camera_id: camera.into(),
        channel: 1,
        kind: StreamKind::Main,
        codec: "H264".into(),
        codec_config: vec![0, 0, 0, 1, 0x67],
    };
    match c.call(Request::RegisterStream { spec }).unwrap() {
        Reply::RegisterStream { stream } => stream,
        other => panic!("{other:?}"),
    }
}

/// `n` frames of about `len` bytes from `ts`, 40 ms apart, a key frame
/// every 25.
pub fn frames(first: u64, n: u64, len: usize) -> Vec<Frame> {
    (first..first + n)
        .map(|i| Frame { ts: T0 + i as i64 * 40_000, key: i % 25 == 0, data: content(i, len + (i as usize % 7)) })
        .collect()
}
