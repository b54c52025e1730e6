//! What the remote-mode tests share: a pstor-server on loopback (port 0)
//! over tiny spaces, in-process, and the options to reach it.
#![allow(dead_code, clippy::unwrap_used)]

pub mod process;

use bytes::Bytes;
use pstor_client::{connect, Backend, RemoteOptions};
use pstor_core::*;
use pstor_server::config::{KeyPair, KindName, PoolConfig, SpaceConfig};
use pstor_server::{ByteSize, RunningServer, Server, ServerConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub const ACCESS: &str = "PSAKTESTCLIENT000001";
pub const SECRET: &str = "client-test-secret-0123456789";
/// 2026-11-23 00:00:00 UTC in µs.
pub const T0: Timestamp = 1_795_392_000 * US_PER_SEC;
pub const MIB: u64 = 1 << 20;

/// A configuration on loopback, ports chosen by the system, 1 MiB
/// segments, one space of `space_mib` MiB in `<dir>/space1` and the pools
/// given as (name, kind, MiB).
pub fn config(dir: &Path, space_mib: u64, pools: &[(&str, KindName, u64)]) -> ServerConfig {
    let key = KeyPair { access_key: ACCESS.into(), secret_key: SECRET.into() };
    let mut cfg = ServerConfig::loopback(dir.join("data"), key);
    cfg.engine.segment_size = ByteSize(MIB);
    cfg.spaces =
        vec![SpaceConfig { path: dir.join("space1"), capacity: ByteSize(space_mib * MIB), segment_size: None }];
    cfg.pools = pools
        .iter()
        .map(|(name, kind, mib)| PoolConfig {
            cycle_days: 0,
            max_lock_pct: 50,
            ..PoolConfig::new(*name, *kind, ByteSize(mib * MIB))
        })
        .collect();
    cfg
}

/// A started server and its folder.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub dir: tempfile::TempDir,
    pub cfg: ServerConfig,
}

impl TestServer {
    /// One 64 MiB space, a 40 MiB video pool and a 16 MiB picture pool.
    pub fn start() -> TestServer {
        Self::with(|_| {})
    }

    /// The default configuration changed by `f`.
    pub fn with(f: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), 64, &[("video", KindName::Video, 40), ("pictures", KindName::Picture, 16)]);
        f(&mut cfg);
        let server = Server::start(cfg.clone()).unwrap();
        TestServer { server: Some(server), dir, cfg }
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }

    /// Options to reach it.
    pub fn options(&self) -> RemoteOptions {
        let s = self.server();
        let mut o = RemoteOptions::new("127.0.0.1", ACCESS, SECRET);
        o.signalling_port = s.signalling_addr().port();
        o.data_port = s.data_addr().port();
        o.connect_timeout = Duration::from_secs(10);
        o.request_timeout = Duration::from_secs(30);
        o
    }

    /// A connected client.
    pub fn client(&self) -> Arc<dyn Backend> {
        connect(self.options()).unwrap()
    }

    pub fn pool(&self, name: &str) -> PoolId {
        self.server().engine().pools().into_iter().find(|p| p.config.name == name).unwrap().config.id
    }

    /// Stops it gracefully (and waits).
    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().unwrap();
        }
    }

    /// Starts it again on the same data folder and the same ports.
    pub fn restart_on_same_ports(&mut self, signalling: u16, data: u16) {
        let mut cfg = self.cfg.clone();
        cfg.listen.signalling_port = signalling;
        cfg.listen.data_port = data;
        self.server = Some(Server::start(cfg).unwrap());
    }
}

/// Deterministic frame content: `len` bytes from seed `n`.
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

/// The stream spec of a camera's main stream in a pool.
pub fn camera(pool: PoolId, camera_id: &str) -> StreamSpec {
    StreamSpec {
        pool,
        camera_id: camera_id.into(),
        channel: 1,
        kind: StreamKind::Main,
        codec: "H264".into(),
        codec_config: vec![0, 0, 0, 1, 0x67],
    }
}

/// Frame `i` of a test stream seeded `seed`: 40 ms apart from `base`, a
/// key frame every 25, about `len` bytes.
pub fn frame(seed: u64, base: Timestamp, i: u64, len: usize) -> Frame {
    Frame {
        ts: base + i as i64 * 40_000,
        key: i.is_multiple_of(25),
        data: content(seed.wrapping_mul(1_000_003) + i, len + (i as usize % 7)),
    }
}

/// Appends frames through a backend.
pub fn append_all(b: &dyn Backend, s: StreamId, frames: &[Frame]) -> Result<()> {
    for f in frames {
        b.append(s, f.ts, f.key, f.data.clone())?;
    }
    Ok(())
}

/// Reads a whole range into memory.
pub fn read_all(b: &dyn Backend, s: StreamId, start: Timestamp, end: Timestamp) -> Result<Vec<Frame>> {
    b.read(s, start, end)?.collect()
}

/// The code of an error.
pub fn code<T>(r: Result<T>) -> ErrorCode {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.code(),
    }
}
