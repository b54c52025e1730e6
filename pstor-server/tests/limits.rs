//! Limits and backpressure: the connection limit, the idle timeout, a slow
//! reader that stalls only itself, and the graceful shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pstor_core::*;
use pstor_proto::*;
use pstor_server::ByteSize;
use std::time::Duration;

#[test]
fn over_max_connections_gets_busy() {
    let s = TestServer::with(|c| c.limits.max_connections = 2);
    let mut a = s.client(Port::Signalling);
    let _b = s.client(Port::Data);
    let err = Client::connect(s.addr(Port::Data), Port::Data, ACCESS, SECRET).err().unwrap();
    assert_eq!(err.code(), ErrorCode::Busy);
    a.ping().unwrap();
    // A place frees when a connection ends: the server's count is the signal.
    drop(a);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.server().connections() > 1 {
        assert!(std::time::Instant::now() < deadline, "the closed connection was never released");
        std::thread::yield_now();
    }
    s.client(Port::Signalling).ping().unwrap();
}

#[test]
fn an_idle_connection_is_closed() {
    let s = TestServer::with(|c| c.limits.idle_timeout_secs = 1);
    let mut idle = s.client(Port::Data);
    // Nothing sent: the server's timeout frame (request id 0) is the signal.
    let a = idle.recv().unwrap();
    assert_eq!((a.code(), a.header.request_id), (Some(ErrorCode::Timeout), 0));
    assert!(idle.is_closed());
}

#[test]
fn a_long_request_is_not_idle() {
    let s = TestServer::with(|c| c.limits.idle_timeout_secs = 1);
    let mut c = s.client(Port::Signalling);
    // A 2.5 s event poll outlasts the idle timeout without being cut.
    let Reply::PollEvents { events, .. } =
        c.call(Request::PollEvents { after_seq: u64::MAX - 1, max: 1, wait_ms: 2500 }).unwrap()
    else {
        panic!()
    };
    assert!(events.is_empty());
}

#[test]
fn a_slow_reader_stalls_only_itself() {
    let s = TestServer::with(|c| {
        c.spaces[0].capacity = ByteSize(128 << 20);
        c.pools[0].capacity = ByteSize(96 << 20);
    });
    let mut sig = s.client(Port::Signalling);
    let mut data = s.client(Port::Data);
    let cam = register(&mut sig, s.pool("video"), "cam-1");
    // 40 MB of video: far more than the socket buffers and the answer queue.
    for b in 0..40u64 {
        let req = Request::Append { stream: cam, sync: b == 39, frames: frames(b * 40, 40, 25_000) };
        data.call(req).unwrap();
    }
    let mut slow = s.client(Port::Data);
    let id = slow.send(&Request::ReadRange { stream: cam, start: T0, end: T0 + 3600 * US_PER_SEC });
    // The slow client reads nothing; everybody else goes on.
    for i in 0..3 {
        data.ping().unwrap();
        sig.ping().unwrap();
        let few = data.read_range(cam, T0, T0 + 40_000).unwrap();
        assert_eq!(few.len(), 2);
        register(&mut sig, s.pool("video"), &format!("cam-x{i}"));
        s.client(Port::Data).ping().unwrap();
    }
    // The slow reader can still read all of it, in order, later.
    let mut n = 0u64;
    loop {
        let a = slow.recv().unwrap();
        assert_eq!(a.header.request_id, id);
        match a.msg {
            ServerMessage::StreamItem(batch) => {
                for f in batch {
                    assert_eq!(f.ts, T0 + n as i64 * 40_000);
                    n += 1;
                }
            }
            ServerMessage::StreamEnd(e) => {
                assert_eq!(e.frames, n);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(n, 1600);
}

#[test]
fn graceful_shutdown_through_the_library_leaves_a_clean_marker() {
    let mut s = TestServer::start();
    let mut sig = s.client(Port::Signalling);
    let mut data = s.client(Port::Data);
    let cam = register(&mut sig, s.pool("video"), "cam-1");
    // Appended, not synced: the shutdown syncs it.
    data.call(Request::Append { stream: cam, sync: false, frames: frames(0, 100, 1000) }).unwrap();
    // The append's executor counts itself out just after queueing its
    // answer: wait for that, or the poll below could be taken for running
    // while it is still unread (and a shutdown then rightly drops it).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.server().requests_in_progress() != 0 {
        assert!(std::time::Instant::now() < deadline, "the append never finished");
        std::thread::yield_now();
    }
    // A request in progress when the shutdown begins gets its answer.
    let poller = std::thread::spawn(move || {
        let r = sig.call(Request::PollEvents { after_seq: u64::MAX - 1, max: 1, wait_ms: 30_000 });
        (r, sig.is_closed())
    });
    // Shut down once the server is executing the poll.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.server().requests_in_progress() == 0 {
        assert!(std::time::Instant::now() < deadline, "the poll never started");
        std::thread::yield_now();
    }
    let server = s.server.take().unwrap();
    let started = std::time::Instant::now();
    server.shutdown().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "the long poll was woken, not waited out");
    let (answer, closed) = poller.join().unwrap();
    assert!(matches!(answer, Ok(Reply::PollEvents { .. })), "{answer:?}");
    assert!(closed);
    assert!(data.is_closed());
    assert!(checkpoint_is_clean(&s.space_dir()), "close left the clean-shutdown marker");
    // Reopening finds everything, with nothing to scan or truncate.
    let mut opts = s.cfg.engine_options();
    opts.background = false;
    let engine = Engine::open(opts).unwrap();
    assert!(!engine.events().poll(0).iter().any(|e| matches!(e.kind, EventKind::TailTruncated { .. })));
    assert_eq!(engine.read(cam, T0, T0 + US_PER_SEC * 10).unwrap().count(), 100);
    assert!(engine.check(false).unwrap().is_clean());
    engine.close().unwrap();
    // The server starts again on the same folder.
    let again = pstor_server::Server::start(s.cfg.clone()).unwrap();
    assert_eq!(again.engine().streams().len(), 1);
    again.shutdown().unwrap();
}

#[test]
fn a_bad_configuration_is_refused_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 64);
    cfg.limits.read_batch = ByteSize(64 << 20);
    assert!(matches!(pstor_server::Server::start(cfg), Err(pstor_server::ServerError::Config(_))));
    // A port in use.
    let s = TestServer::start();
    let mut cfg = config(dir.path(), 64);
    cfg.listen.data_port = s.addr(Port::Data).port();
    let err = pstor_server::Server::start(cfg).unwrap_err();
    assert!(matches!(err, pstor_server::ServerError::Bind { .. }), "{err}");
}
