//! Opening and closing an engine: embedded ([`pstor_engine_open`]) or a
//! client of a pstor-server ([`pstor_connect`]).
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::ptr::{arg_ref, arg_str, free_handle, into_handle, Out};
use crate::result::{boundary, Failure, FfiResult, ResultCode};
use pstor_client::Backend;
use pstor_core::EngineOptions;
use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

/// An open engine (opaque): the embedded engine ([`pstor_engine_open`]),
/// or a client of a pstor-server ([`pstor_connect`]) behind the same calls.
/// Thread safety: every function taking a `const pstor_engine *` may be
/// called from many threads at once. Freed by [`pstor_engine_free`] only.
pub struct pstor_engine {
    pub(crate) backend: Arc<dyn Backend>,
}

impl pstor_engine {
    /// The handle over a backend: [`pstor_engine_open`] passes the embedded
    /// engine, [`pstor_connect`] the remote client.
    fn from_backend(backend: Arc<dyn Backend>) -> pstor_engine {
        pstor_engine { backend }
    }
}

/// The backend behind a handle (NULL: `PSTOR_NULL_PARAMETER`). After
/// [`pstor_engine_close`] every call through it fails with `PSTOR_CLOSED`,
/// whatever it is: the backend refuses it.
pub(crate) fn backend_of<'a>(engine: *const pstor_engine) -> FfiResult<&'a dyn Backend> {
    Ok(arg_ref(engine)?.backend.as_ref())
}

/// Engine settings; fill with [`pstor_engine_options_default`], then change.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_engine_options {
    /// Smallest storage space accepted, in bytes (default 1 GiB,
    /// the same as the server and the Python SDK).
    pub min_space_capacity: u64,
    /// Segment size of new storage spaces, in bytes (default 256 MiB).
    pub segment_size: u64,
}

/// Writes the production defaults into `*out`.
#[no_mangle]
pub extern "C" fn pstor_engine_options_default(out: *mut pstor_engine_options) -> ResultCode {
    boundary(|| {
        let d = EngineOptions::new("");
        Out::new(out)?
            .write(pstor_engine_options { min_space_capacity: d.min_space_capacity, segment_size: d.segment_size });
        Ok(())
    })
}

/// Opens (or creates) the engine whose catalog is in folder `data_dir`,
/// with `options` (NULL: defaults), and writes the handle to `*out`.
///
/// Ownership: the strings are the caller's; the handle is the caller's, to
/// be released with [`pstor_engine_free`].
#[no_mangle]
pub extern "C" fn pstor_engine_open(
    data_dir: *const c_char,
    options: *const pstor_engine_options,
    out: *mut *mut pstor_engine,
) -> ResultCode {
    boundary(|| {
        let dir = arg_str(data_dir)?;
        let out = Out::new(out)?;
        let mut opts = EngineOptions::new(dir);
        if !options.is_null() {
            let o = arg_ref(options)?;
            opts.min_space_capacity = o.min_space_capacity;
            opts.segment_size = o.segment_size;
        }
        let backend = pstor_client::open_local(opts)?;
        out.write(into_handle(pstor_engine::from_backend(backend)));
        Ok(())
    })
}

/// Closes the engine cleanly: flushes and syncs every stream, writes the
/// checkpoint and the clean-shutdown marker. The engine is closed even when
/// this reports an error: for example `PSTOR_POOL_FULL` when frames
/// buffered for a full stop-when-full pool (never acknowledged by a sync)
/// could not be stored. Closing again does nothing. Calls after it fail
/// with `PSTOR_CLOSED`. The handle still needs [`pstor_engine_free`].
///
/// Remote mode ([`pstor_connect`]): closes the client's connections (it
/// reports an append refused since the last call it could have been
/// reported by); the server and its engine keep running. Frames not
/// acknowledged by a sync are durable only once the server syncs them.
#[no_mangle]
pub extern "C" fn pstor_engine_close(engine: *const pstor_engine) -> ResultCode {
    boundary(|| Ok(backend_of(engine)?.close()?))
}

/// Frees the handle; closes the engine first if it is still open (errors
/// are then lost: call [`pstor_engine_close`] to see them). NULL is a no-op.
#[no_mangle]
pub extern "C" fn pstor_engine_free(engine: *mut pstor_engine) {
    let _ = boundary(|| {
        if let Ok(e) = backend_of(engine) {
            let _ = e.close();
        }
        free_handle(engine);
        Ok(())
    });
}

/// Checks the engine's invariants (catalog, segment headers, footers, every
/// record's checksum) and writes the number of problems left unfixed to
/// `*out_problems` (0: clean). With `repair`, what can be fixed is fixed
/// first. Reads everything: it takes as long as the data.
#[no_mangle]
pub extern "C" fn pstor_engine_check(
    engine: *const pstor_engine,
    repair: bool,
    out_problems: *mut usize,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out_problems)?;
        let report = e.check(repair)?;
        out.write(report.problems.iter().filter(|p| !p.repaired).count());
        Ok(())
    })
}

/// Where and how to reach a pstor-server, for [`pstor_connect`]. Fill it
/// with [`pstor_remote_options_default`], then set `host`, `access_key`
/// and `secret_key` (and the ports if they are not 6036/6037). The strings
/// are the caller's, borrowed for the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_remote_options {
    /// The server's host name or address (NUL-terminated UTF-8). Default NULL: must be set.
    pub host: *const c_char,
    /// The SDK signalling port (default 6036).
    pub signalling_port: u16,
    /// The SDK data port (default 6037).
    pub data_port: u16,
    /// The access key (NUL-terminated UTF-8). Default NULL: must be set.
    pub access_key: *const c_char,
    /// The secret key (NUL-terminated UTF-8; never sent over the network: it keys the
    /// handshake's HMAC). Default NULL: must be set.
    pub secret_key: *const c_char,
    /// How long to wait for a TCP connection and its handshake, in ms (default 5,000).
    pub connect_timeout_ms: u32,
    /// How long to wait for a reply, in ms (default 30,000).
    pub request_timeout_ms: u32,
    /// Parallel data connections for appends, reads and pictures (default 4).
    pub data_connections: u32,
}

/// Writes the defaults into `*out`: ports 6036/6037, a 5 s connect
/// timeout, a 30 s request timeout, 4 data connections, and NULL `host`,
/// `access_key` and `secret_key` (set them). NULL `out` does nothing.
#[no_mangle]
pub extern "C" fn pstor_remote_options_default(out: *mut pstor_remote_options) {
    let d = pstor_client::RemoteOptions::new("", "", "");
    let ms = |t: Duration| u32::try_from(t.as_millis()).unwrap_or(u32::MAX);
    if let Ok(out) = Out::new(out) {
        out.write(pstor_remote_options {
            host: std::ptr::null(),
            signalling_port: d.signalling_port,
            data_port: d.data_port,
            access_key: std::ptr::null(),
            secret_key: std::ptr::null(),
            connect_timeout_ms: ms(d.connect_timeout),
            request_timeout_ms: ms(d.request_timeout),
            data_connections: u32::try_from(d.data_connections).unwrap_or(u32::MAX),
        });
    }
}

/// Connects to a pstor-server with `*options` and authenticates (mutually:
/// the server proves it holds the secret key too), and writes the handle to
/// `*out`. The handle takes every other call of this SDK, as one from
/// [`pstor_engine_open`] does; see pstor-ffi/README.md ("Remote mode") for
/// what differs.
///
/// Fails with `PSTOR_NULL_PARAMETER` (NULL `options`, `host`, `access_key`,
/// `secret_key` or `out`), `PSTOR_INVALID_UTF8`, `PSTOR_INVALID_ARGUMENT`
/// (an empty host, a port, timeout or connection count of 0),
/// `PSTOR_AUTH_FAILED` (unknown access key or wrong secret key),
/// `PSTOR_DISCONNECTED` (nothing listening, host unknown, connection lost),
/// `PSTOR_TIMEOUT`, `PSTOR_BUSY` (the server is at its connection limit) or
/// `PSTOR_PROTOCOL` (not a pstor-server).
///
/// Ownership: the strings are the caller's; the handle is the caller's, to
/// be released with [`pstor_engine_free`].
#[no_mangle]
pub extern "C" fn pstor_connect(options: *const pstor_remote_options, out: *mut *mut pstor_engine) -> ResultCode {
    boundary(|| {
        let o = arg_ref(options)?;
        let host = arg_str(o.host)?;
        let access_key = arg_str(o.access_key)?;
        let secret_key = arg_str(o.secret_key)?;
        let out = Out::new(out)?;
        let bad = |what: &str| Err(Failure::invalid(format!("pstor_remote_options: {what}")));
        if host.is_empty() {
            return bad("host is empty");
        }
        if o.signalling_port == 0 || o.data_port == 0 {
            return bad("the ports must not be 0");
        }
        if o.connect_timeout_ms == 0 || o.request_timeout_ms == 0 {
            return bad("the timeouts must be at least 1 ms");
        }
        if o.data_connections == 0 {
            return bad("data_connections must be at least 1");
        }
        let mut opts = pstor_client::RemoteOptions::new(host, access_key, secret_key);
        opts.signalling_port = o.signalling_port;
        opts.data_port = o.data_port;
        opts.connect_timeout = Duration::from_millis(u64::from(o.connect_timeout_ms));
        opts.request_timeout = Duration::from_millis(u64::from(o.request_timeout_ms));
        opts.data_connections = o.data_connections as usize;
        let backend = pstor_client::connect(opts)?;
        out.write(into_handle(pstor_engine::from_backend(backend)));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::pstor_result;
    use crate::streams::{pstor_stream_append, pstor_stream_register, pstor_stream_sync, PSTOR_STREAM_MAIN};
    use pstor_core::StreamId;
    use pstor_server::config::{KeyPair, KindName, PoolConfig, SpaceConfig};
    use pstor_server::{ByteSize, RunningServer, Server, ServerConfig};
    use std::ffi::CString;

    const ACCESS: &str = "PSAKFFITEST000000001";
    const SECRET: &str = "ffi-test-secret-0123456789";

    /// A server on loopback (ports chosen by the system), one key pair, a
    /// space and a video pool.
    fn server(dir: &std::path::Path) -> RunningServer {
        let key = KeyPair { access_key: ACCESS.into(), secret_key: SECRET.into() };
        let mut cfg = ServerConfig::loopback(dir.join("data"), key);
        cfg.engine.segment_size = ByteSize(256 << 10);
        cfg.spaces = vec![SpaceConfig { path: dir.join("space1"), capacity: ByteSize(8 << 20), segment_size: None }];
        let pool = PoolConfig::new("video", KindName::Video, ByteSize(4 << 20));
        cfg.pools = vec![PoolConfig { cycle_days: 0, max_lock_pct: 50, ..pool }];
        Server::start(cfg).expect("server")
    }

    /// Options for `addr` with these keys (the strings live in `keep`).
    fn options(
        keep: &mut Vec<CString>,
        host: &str,
        ports: (u16, u16),
        access: &str,
        secret: &str,
    ) -> pstor_remote_options {
        let mut o = defaults();
        for (i, s) in [host, access, secret].into_iter().enumerate() {
            keep.push(CString::new(s).expect("no NUL"));
            let p = keep.last().map_or(std::ptr::null(), |c| c.as_ptr());
            match i {
                0 => o.host = p,
                1 => o.access_key = p,
                _ => o.secret_key = p,
            }
        }
        (o.signalling_port, o.data_port) = ports;
        o
    }

    fn defaults() -> pstor_remote_options {
        let mut o = pstor_remote_options {
            host: c"sentinel".as_ptr(),
            signalling_port: 1,
            data_port: 1,
            access_key: std::ptr::null(),
            secret_key: std::ptr::null(),
            connect_timeout_ms: 1,
            request_timeout_ms: 1,
            data_connections: 1,
        };
        pstor_remote_options_default(&mut o);
        o
    }

    #[test]
    fn remote_options_defaults() {
        let o = defaults();
        assert!(o.host.is_null() && o.access_key.is_null() && o.secret_key.is_null());
        assert_eq!((o.signalling_port, o.data_port), (6036, 6037));
        assert_eq!((o.connect_timeout_ms, o.request_timeout_ms, o.data_connections), (5000, 30_000, 4));
        pstor_remote_options_default(std::ptr::null_mut()); // a no-op
    }

    #[test]
    fn connect_checks_its_arguments() {
        let mut keep = Vec::new();
        let mut out: *mut pstor_engine = std::ptr::null_mut();
        assert_eq!(pstor_connect(std::ptr::null(), &mut out), pstor_result::PSTOR_NULL_PARAMETER);
        // NULL strings (the defaults) are NULL parameters.
        assert_eq!(pstor_connect(&defaults(), &mut out), pstor_result::PSTOR_NULL_PARAMETER);
        let good = options(&mut keep, "127.0.0.1", (6036, 6037), ACCESS, SECRET);
        assert_eq!(pstor_connect(&good, std::ptr::null_mut()), pstor_result::PSTOR_NULL_PARAMETER);
        let bad_utf8 = [0xffu8, 0];
        let o = pstor_remote_options { host: bad_utf8.as_ptr().cast(), ..good };
        assert_eq!(pstor_connect(&o, &mut out), pstor_result::PSTOR_INVALID_UTF8);
        let empty = options(&mut keep, "", (6036, 6037), ACCESS, SECRET);
        for o in [
            empty,
            pstor_remote_options { signalling_port: 0, ..good },
            pstor_remote_options { data_port: 0, ..good },
            pstor_remote_options { connect_timeout_ms: 0, ..good },
            pstor_remote_options { request_timeout_ms: 0, ..good },
            pstor_remote_options { data_connections: 0, ..good },
        ] {
            assert_eq!(pstor_connect(&o, &mut out), pstor_result::PSTOR_INVALID_ARGUMENT);
        }
        assert!(out.is_null(), "outputs are written only on success");
    }

    #[test]
    fn connect_to_nothing_and_with_wrong_keys() {
        let mut keep = Vec::new();
        let mut out: *mut pstor_engine = std::ptr::null_mut();
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let o = options(&mut keep, "127.0.0.1", (port, port), ACCESS, SECRET);
        assert_eq!(pstor_connect(&o, &mut out), pstor_result::PSTOR_DISCONNECTED);

        let tmp = tempfile::tempdir().expect("tmp");
        let s = server(tmp.path());
        let ports = (s.signalling_addr().port(), s.data_addr().port());
        let o = options(&mut keep, "127.0.0.1", ports, ACCESS, "a-wrong-secret-key-0123456");
        assert_eq!(pstor_connect(&o, &mut out), pstor_result::PSTOR_AUTH_FAILED);
        let o = options(&mut keep, "127.0.0.1", ports, "PSAKNOBODY", SECRET);
        assert_eq!(pstor_connect(&o, &mut out), pstor_result::PSTOR_AUTH_FAILED);
        assert!(out.is_null());

        let o = options(&mut keep, "127.0.0.1", ports, ACCESS, SECRET);
        assert_eq!(pstor_connect(&o, &mut out), pstor_result::PSTOR_OK);
        assert!(!out.is_null());
        let pool = s.engine().pools().iter().find(|p| p.config.name == "video").expect("pool").config.id;
        let (cam_id, codec) = (CString::new("cam-c").expect("str"), CString::new("H264").expect("str"));
        let mut cam = 0u64;
        let r = pstor_stream_register(out, pool.0, cam_id.as_ptr(), 1, PSTOR_STREAM_MAIN, codec.as_ptr(), &mut cam);
        assert_eq!(r, pstor_result::PSTOR_OK);
        let t0 = 1_795_392_000_000_000i64;
        for i in 0..30i64 {
            let frame = [i as u8; 500];
            let r = pstor_stream_append(out, cam, t0 + i * 40_000, i == 0, frame.as_ptr(), frame.len());
            assert_eq!(r, pstor_result::PSTOR_OK);
        }
        assert_eq!(pstor_stream_sync(out, cam), pstor_result::PSTOR_OK);
        // The server's engine has them, durable.
        let frames: Vec<_> = s.engine().read(StreamId(cam), t0, t0 + 10_000_000).expect("read").collect();
        assert_eq!(frames.len(), 30);
        // A pipelined append's refusal comes with the stream's next call.
        let late = [1u8; 10];
        assert_eq!(pstor_stream_append(out, cam, t0, true, late.as_ptr(), late.len()), pstor_result::PSTOR_OK);
        assert_eq!(pstor_stream_sync(out, cam), pstor_result::PSTOR_OUT_OF_ORDER);
        // Close closes the client, not the server.
        assert_eq!(pstor_engine_close(out), pstor_result::PSTOR_OK);
        assert_eq!(pstor_stream_sync(out, cam), pstor_result::PSTOR_CLOSED);
        assert_eq!(s.engine().pools().len(), 1);
        pstor_engine_free(out);
        s.shutdown().expect("shutdown");
    }
}
