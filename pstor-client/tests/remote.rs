//! The remote backend against a real pstor-server in this process, on
//! loopback: connecting and authenticating, pipelined appends and their
//! errors, bad usage, and a server that goes away and comes back.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pstor_client::{connect, RemoteOptions};
use pstor_core::*;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn connect_authenticates_and_serves() {
    let ts = TestServer::start();
    let b = ts.client();
    let pools = b.pools().unwrap();
    let mut names: Vec<String> = pools.iter().map(|p| p.config.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["pictures", "video"]);
    assert_eq!(b.spaces().unwrap().len(), 1);
    b.check_open().unwrap();
    b.close().unwrap();
}

#[test]
fn a_wrong_secret_fails_in_connect_with_auth_failed() {
    let ts = TestServer::start();
    let mut o = ts.options();
    o.secret_key = "not the secret".into();
    let e = connect(o).unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed, "{e}");
    let port = ts.server().signalling_addr().port();
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "the message names the address: {e}");
}

#[test]
fn an_unknown_access_key_fails_in_connect_with_auth_failed() {
    let ts = TestServer::start();
    let mut o = ts.options();
    o.access_key = "PSAKNOBODY0000000000".into();
    assert_eq!(connect(o).unwrap_err().code(), ErrorCode::AuthFailed);
}

#[test]
fn nothing_listening_fails_quickly_with_disconnected() {
    // A port that was free a moment ago: nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut o = RemoteOptions::new("127.0.0.1", ACCESS, SECRET);
    o.signalling_port = port;
    o.data_port = port;
    let e = connect(o).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Disconnected, "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

#[test]
fn bad_options_are_invalid_arguments() {
    let ok = || RemoteOptions::new("127.0.0.1", ACCESS, SECRET);
    let bad: Vec<RemoteOptions> = vec![
        RemoteOptions::new("", ACCESS, SECRET),
        RemoteOptions::new("127.0.0.1", "", SECRET),
        RemoteOptions { signalling_port: 0, ..ok() },
        RemoteOptions { data_port: 0, ..ok() },
        RemoteOptions { connect_timeout: Duration::ZERO, ..ok() },
        RemoteOptions { request_timeout: Duration::ZERO, ..ok() },
        RemoteOptions { data_connections: 0, ..ok() },
        RemoteOptions { data_connections: pstor_client::remote::MAX_DATA_CONNECTIONS + 1, ..ok() },
    ];
    for o in bad {
        let shown = format!("{o:?}");
        assert_eq!(connect(o).unwrap_err().code(), ErrorCode::InvalidArgument, "{shown}");
    }
}

#[test]
fn appends_are_pipelined_and_read_back_after_sync() {
    let ts = TestServer::start();
    let b = ts.client();
    let s = b.register_stream(camera(ts.pool("video"), "cam-1")).unwrap();
    // More than a window of batches (64 requests of 64 frames) in flight.
    let frames: Vec<Frame> = (0..5000).map(|i| frame(1, T0, i, 200)).collect();
    append_all(&*b, s, &frames).unwrap();
    b.sync(s).unwrap();
    let back = read_all(&*b, s, T0, T0 + 10_000 * 40_000).unwrap();
    assert_eq!(back.len(), frames.len());
    assert!(back == frames, "every frame comes back with its bytes");
    let info = b.stream(s).unwrap();
    assert_eq!((info.first_ts, info.last_ts), (Some(T0), Some(frames[4999].ts)));
    b.close().unwrap();
}

#[test]
fn flush_makes_frames_readable() {
    let ts = TestServer::start();
    let b = ts.client();
    let s = b.register_stream(camera(ts.pool("video"), "cam-1")).unwrap();
    let frames: Vec<Frame> = (0..10).map(|i| frame(2, T0, i, 1000)).collect();
    append_all(&*b, s, &frames).unwrap();
    b.flush(s).unwrap();
    assert!(read_all(&*b, s, T0, T0 + US_PER_SEC).unwrap() == frames);
}

#[test]
fn an_out_of_order_frame_in_a_pipelined_batch_surfaces_on_the_next_flush_and_sync() {
    let ts = TestServer::start();
    let b = ts.client();
    let s = b.register_stream(camera(ts.pool("video"), "cam-ooo")).unwrap();
    let good: Vec<Frame> = (0..10).map(|i| frame(3, T0, i, 500)).collect();
    append_all(&*b, s, &good).unwrap();
    // Goes back in time: accepted by `append` (pipelined), refused by the server.
    let back = frame(3, T0, 5, 500);
    b.append(s, back.ts, back.key, back.data).unwrap();
    let after = frame(3, T0, 11, 500);
    b.append(s, after.ts, after.key, after.data).unwrap();
    let e = b.flush(s).unwrap_err();
    assert_eq!(e.code(), ErrorCode::OutOfOrder, "{e}");
    // Reported once: the stream goes on.
    b.flush(s).unwrap();
    let read = read_all(&*b, s, T0, T0 + US_PER_SEC).unwrap();
    assert!(read == good, "the frames before the refused one were appended, none after it");

    // The same through sync, with more batches pipelined after the bad one.
    let later: Vec<Frame> = (100..400).map(|i| frame(3, T0, i, 500)).collect();
    append_all(&*b, s, &later[..50]).unwrap();
    let bad = frame(3, T0, 20, 500);
    b.append(s, bad.ts, bad.key, bad.data).unwrap();
    let mut reported = None;
    for (j, f) in later.iter().enumerate().skip(50) {
        // The error may come back through a later append (never lost).
        if let Err(e) = b.append(s, f.ts, f.key, f.data.clone()) {
            reported = Some((j, e));
            break;
        }
    }
    let (resumed, e) = match reported {
        Some((j, e)) => (j + 1, e),
        None => (later.len(), b.sync(s).unwrap_err()),
    };
    assert_eq!(e.code(), ErrorCode::OutOfOrder, "{e}");
    // Reported once; the frames appended after the report are taken.
    append_all(&*b, s, &later[resumed..]).unwrap();
    b.sync(s).unwrap();
    // The prefix property: the frames of the pipelined batches behind the
    // refused one, appended before the report, are not stored (they were
    // refused too): the one hole is where the caller was told of it.
    let want: Vec<Frame> = good.iter().chain(&later[..50]).chain(&later[resumed..]).cloned().collect();
    let read = read_all(&*b, s, T0, T0 + 3_600 * US_PER_SEC).unwrap();
    assert_eq!(read.len(), want.len(), "frames stored after the refusal: {} (resumed at {resumed})", read.len());
    assert!(read == want, "no hole but the one reported");
}

#[test]
fn an_append_to_an_unknown_stream_fails_at_the_next_call() {
    let ts = TestServer::start();
    let b = ts.client();
    b.append(StreamId(77), T0, true, content(1, 10)).unwrap();
    assert_eq!(code(b.flush(StreamId(77))), ErrorCode::StreamNotFound);
    assert_eq!(code(b.sync(StreamId(77))), ErrorCode::StreamNotFound);
    assert_eq!(code(b.sync_streams(&[StreamId(77)])), ErrorCode::StreamNotFound);
    // Reported once: nothing of the unknown stream is left for close to sync.
    b.close().unwrap();
}

#[test]
fn sync_streams_and_sync_all_cover_every_connection() {
    let ts = TestServer::start();
    let b = ts.client();
    let pool = ts.pool("video");
    let streams: Vec<StreamId> =
        (0..8).map(|i| b.register_stream(camera(pool, &format!("cam-{i}"))).unwrap()).collect();
    for (k, &s) in streams.iter().enumerate() {
        let frames: Vec<Frame> = (0..100).map(|i| frame(k as u64, T0, i, 300)).collect();
        append_all(&*b, s, &frames).unwrap();
    }
    b.sync_streams(&streams[..4]).unwrap();
    b.sync_all().unwrap();
    b.sync_streams(&[]).unwrap();
    for (k, &s) in streams.iter().enumerate() {
        let frames: Vec<Frame> = (0..100).map(|i| frame(k as u64, T0, i, 300)).collect();
        assert!(read_all(&*b, s, T0, T0 + 10 * US_PER_SEC).unwrap() == frames, "stream {k}");
    }
}

#[test]
fn calls_after_close_fail_with_closed() {
    let ts = TestServer::start();
    let b = ts.client();
    let s = b.register_stream(camera(ts.pool("video"), "cam-1")).unwrap();
    let frames: Vec<Frame> = (0..10).map(|i| frame(4, T0, i, 100)).collect();
    append_all(&*b, s, &frames).unwrap();
    b.close().unwrap();
    assert_eq!(code(b.spaces()), ErrorCode::Closed);
    assert_eq!(code(b.append(s, T0 + US_PER_SEC, true, content(9, 10))), ErrorCode::Closed);
    assert_eq!(code(b.sync(s)), ErrorCode::Closed);
    assert_eq!(code(b.read(s, T0, T0 + US_PER_SEC)), ErrorCode::Closed);
    assert_eq!(code(b.poll_events(0, 10, Duration::ZERO)), ErrorCode::Closed);
    assert_eq!(code(b.check_open()), ErrorCode::Closed);
    b.close().unwrap();
    // Close closed the client, not the server; and it synced the frames.
    let other = ts.client();
    assert!(read_all(&*other, s, T0, T0 + US_PER_SEC).unwrap() == frames);
    assert!(ts.server().engine().check_open().is_ok());
}

#[test]
fn a_huge_frame_fails_with_a_size_error_not_a_hang() {
    let ts = TestServer::start();
    let b = ts.client();
    let s = b.register_stream(camera(ts.pool("video"), "cam-big")).unwrap();
    // Over the server's largest body: refused before sending, with the
    // embedded engine's code for a frame too large.
    let over = bytes::Bytes::from(vec![0u8; pstor_proto::DEFAULT_MAX_BODY as usize]);
    assert_eq!(code(b.append(s, T0, true, over)), ErrorCode::FrameSize);
    // Under the body limit but over the engine's largest frame: the server's FrameSize.
    let big = bytes::Bytes::from(vec![0u8; (16 << 20) + 1]);
    match b.append(s, T0, true, big) {
        Err(e) => assert_eq!(e.code(), ErrorCode::FrameSize, "{e}"),
        Ok(()) => assert_eq!(code(b.flush(s)), ErrorCode::FrameSize),
    }
    // The stream and the connection go on.
    b.append(s, T0 + 40_000, true, content(1, 100)).unwrap();
    b.sync(s).unwrap();
    // A picture over the limit too.
    let meta = PictureMeta { camera_id: "c".into(), captured_at: T0, content_type: "image/jpeg".into(), key: None };
    let huge = vec![0u8; pstor_proto::DEFAULT_MAX_BODY as usize];
    assert_eq!(code(b.put_picture(ts.pool("pictures"), &meta, &huge)), ErrorCode::PictureSize);
    assert_eq!(b.pools().unwrap().len(), 2);
}

#[test]
fn unsupported_operations_say_so() {
    let ts = TestServer::start();
    let b = ts.client();
    let e = b.run_maintenance().unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unsupported);
    assert!(e.to_string().contains("run_maintenance"), "{e}");
    assert_eq!(code(b.checkpoint()), ErrorCode::Unsupported);
}

/// `today()` is the server's `today` operation: it needs no stream.
#[test]
fn today_comes_from_a_fresh_server_without_streams() {
    let ts = TestServer::with(|cfg| cfg.engine.utc_offset_minutes = 14 * 60);
    let b = ts.client();
    assert!(b.streams().unwrap().is_empty());
    assert_eq!(b.today().unwrap(), ts.server().engine().today());
    // The server's calendar (UTC+14 here), not the client's.
    let utc = Date::from_days((now_us() + 14 * 3600 * US_PER_SEC).div_euclid(US_PER_DAY));
    assert_eq!(b.today().unwrap(), utc);
    let s = b.register_stream(camera(ts.pool("video"), "cam-1")).unwrap();
    assert_eq!(b.inspect_today(s).unwrap().date, b.today().unwrap());
}

#[test]
fn space_jobs_report_progress_and_finish() {
    let ts = TestServer::start();
    let b = ts.client();
    let path = ts.dir.path().join("space2");
    std::fs::create_dir(&path).unwrap();
    let job = b.initialize_space(SpaceSpec { path: path.clone(), capacity: 8 * MIB, segment_size: None }).unwrap();
    let space = job.space();
    assert!(job.progress() <= 100);
    let id = job.wait().unwrap();
    assert_eq!(id, space);
    assert_eq!(b.space(space).unwrap().status, SpaceStatus::Normal);
    // A job that fails reports the engine's error.
    let again = b.initialize_space(SpaceSpec { path, capacity: 8 * MIB, segment_size: None });
    assert_eq!(code(again.and_then(|j| j.wait())), ErrorCode::AlreadyInitialized);
}

#[test]
fn events_long_poll_waits_for_the_next_event() {
    let ts = TestServer::start();
    let b = ts.client();
    let last = b.last_event_seq().unwrap();
    assert!(b.poll_events(last, 10, Duration::ZERO).unwrap().is_empty());
    let s = b.register_stream(camera(ts.pool("video"), "cam-ev")).unwrap();
    b.append(s, T0, true, content(1, 100)).unwrap();
    b.sync(s).unwrap();
    let now = now_us();
    // A lock that lapses in a moment: maintenance reports it as an event.
    let lock = b.lock(s, T0, T0 + 1, Some(now + US_PER_SEC)).unwrap();
    let waiter = {
        let b = b.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut after = last;
            while Instant::now() < deadline {
                for e in b.poll_events(after, 100, Duration::from_secs(10)).unwrap() {
                    after = e.seq;
                    if e.kind == (EventKind::LockExpired { lock }) {
                        return true;
                    }
                }
            }
            false
        })
    };
    assert!(waiter.join().unwrap(), "the lock's expiry came through the long poll");
}

#[test]
fn pictures_round_trip() {
    let ts = TestServer::start();
    let b = ts.client();
    let pool = ts.pool("pictures");
    let key = PictureKey { bucket: "plates".into(), key: "a/1.jpg".into() };
    let meta = PictureMeta {
        camera_id: "cam-p".into(),
        captured_at: T0,
        content_type: "image/jpeg".into(),
        key: Some(key.clone()),
    };
    let data = content(5, 100 << 10);
    let id = b.put_picture(pool, &meta, &data).unwrap();
    b.sync_pictures(pool).unwrap();
    let p = b.get_picture(&id).unwrap();
    assert_eq!((&p.data[..], &p.info.meta), (&data[..], &meta));
    assert_eq!(b.get_picture_by_key(&key).unwrap().data, data);
    assert_eq!(b.picture_id_for_key(&key).unwrap(), id);
    assert_eq!(&b.get_picture_range(&id, 10, 20).unwrap().data[..], &data[10..30]);
    assert_eq!(b.head_picture(&id).unwrap().size, data.len() as u64);
    b.delete_picture(&id).unwrap();
    assert_eq!(code(b.get_picture(&id)), ErrorCode::PictureNotFound);
    b.sync_all().unwrap();
}

#[test]
fn the_server_going_away_fails_calls_with_disconnected_and_a_restart_heals() {
    let mut ts = TestServer::start();
    let (sig, data) = (ts.server().signalling_addr().port(), ts.server().data_addr().port());
    let b = ts.client();
    let s = b.register_stream(camera(ts.pool("video"), "cam-away")).unwrap();
    let (acked_tx, acked_rx) = mpsc::channel::<u64>();
    let writer = {
        let b = b.clone();
        std::thread::spawn(move || -> (u64, Error) {
            let mut synced = 0;
            let mut i = 0;
            loop {
                let f = frame(6, T0, i, 2000);
                let r = b.append(s, f.ts, f.key, f.data).and_then(|()| if i % 50 == 49 { b.sync(s) } else { Ok(()) });
                match r {
                    Ok(()) if i % 50 == 49 => {
                        synced = i;
                        let _ = acked_tx.send(i);
                    }
                    Ok(()) => {}
                    Err(e) => return (synced, e),
                }
                i += 1;
            }
        })
    };
    // Stop once the writer has had a sync acknowledged (a real signal).
    acked_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    ts.stop();
    let (synced, e) = writer.join().unwrap();
    assert!(synced >= 49);
    assert!(
        matches!(e.code(), ErrorCode::Disconnected | ErrorCode::Busy | ErrorCode::Closed),
        "the writer's next call failed with a connection error, got {e}"
    );
    assert_eq!(code(b.pools()), ErrorCode::Disconnected, "nothing listens now");

    ts.restart_on_same_ports(sig, data);
    // The same client reconnects by itself.
    assert_eq!(b.pools().unwrap().len(), 2);
    let info = b.stream(s).unwrap();
    let last = info.last_ts.unwrap();
    assert!(last >= T0 + synced as i64 * 40_000, "every synced frame survived the shutdown");
    // The stream carries on after its last stored frame (a first call may
    // still report the loss of frames that were in flight).
    let next = (last - T0) as u64 / 40_000 + 1;
    let f = frame(6, T0, next, 2000);
    if b.append(s, f.ts, f.key, f.data.clone()).is_err() {
        b.append(s, f.ts, f.key, f.data.clone()).unwrap();
    }
    b.sync(s).unwrap();
    let back = read_all(&*b, s, f.ts, f.ts).unwrap();
    assert_eq!(back.last().map(|x| &x.data), Some(&f.data));
    let before = read_all(&*b, s, T0, T0 + synced as i64 * 40_000).unwrap();
    let want: Vec<Frame> = (0..=synced).map(|i| frame(6, T0, i, 2000)).collect();
    assert!(before == want, "the acknowledged frames with their bytes");
}

/// Now, µs UTC.
fn now_us() -> Timestamp {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    d.as_micros() as i64
}

#[test]
fn connections_the_server_closed_while_idle_are_replaced_without_loss() {
    let ts = TestServer::with(|cfg| cfg.limits.idle_timeout_secs = 1);
    let mut o = ts.options();
    o.data_connections = 1; // both streams on one append connection
    let b = connect(o).unwrap();
    let pool = ts.pool("video");
    let (s1, s2) =
        (b.register_stream(camera(pool, "cam-a")).unwrap(), b.register_stream(camera(pool, "cam-b")).unwrap());
    let f1: Vec<Frame> = (0..10).map(|i| frame(7, T0, i, 300)).collect();
    let f2: Vec<Frame> = (0..10).map(|i| frame(8, T0, i, 300)).collect();
    append_all(&*b, s1, &f1[..5]).unwrap();
    append_all(&*b, s2, &f2[..5]).unwrap();
    b.sync_all().unwrap();
    // Pending only (a batch is not full): nothing of these is on the wire.
    append_all(&*b, s2, &f2[5..]).unwrap();
    // The server closes every idle connection (a real signal: its count).
    let deadline = Instant::now() + Duration::from_secs(60);
    while ts.server().connections() > 0 {
        assert!(Instant::now() < deadline, "the server did not close the idle connections");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Stale connections are noticed and replaced: no call fails.
    assert_eq!(b.pools().unwrap().len(), 2);
    append_all(&*b, s1, &f1[5..]).unwrap();
    b.sync(s1).unwrap();
    b.sync(s2).unwrap();
    assert!(read_all(&*b, s1, T0, T0 + US_PER_SEC).unwrap() == f1);
    assert!(read_all(&*b, s2, T0, T0 + US_PER_SEC).unwrap() == f2);
}

/// Keep-alive: frames sent on an append connection and not synced, the
/// connection then idle past the server's idle timeout (1 s), which closes
/// it. The client reads the answers, notices the close, reconnects to the
/// same server instance (its Hello says so): the frames are in that
/// server's engine, so the reconnect is invisible and the next sync covers
/// them; no call reports `Disconnected`.
#[test]
fn an_append_connection_idle_past_the_timeout_with_unsynced_frames_reconnects_invisibly() {
    let ts = TestServer::with(|cfg| cfg.limits.idle_timeout_secs = 1);
    let mut o = ts.options();
    o.data_connections = 1; // both streams on one append connection
    let b = connect(o).unwrap();
    let pool = ts.pool("video");
    let (s1, s2) =
        (b.register_stream(camera(pool, "cam-a")).unwrap(), b.register_stream(camera(pool, "cam-b")).unwrap());
    let n = pstor_client::remote::BATCH_FRAMES as u64;
    let f1: Vec<Frame> = (0..2 * n + 1).map(|i| frame(9, T0, i, 300)).collect();
    let f2: Vec<Frame> = (0..n + 1).map(|i| frame(10, T0, i, 300)).collect();
    // s2: a batch sent and answered (the flush reads every answer), not synced.
    append_all(&*b, s2, &f2[..n as usize]).unwrap();
    b.flush(s2).unwrap();
    // s1: a batch sent after it, its answer not read yet.
    append_all(&*b, s1, &f1[..n as usize]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ts.server().connections() > 0 {
        assert!(Instant::now() < deadline, "the server did not close the idle connections");
        std::thread::sleep(Duration::from_millis(20));
    }
    append_all(&*b, s1, &f1[n as usize..]).unwrap();
    append_all(&*b, s2, &f2[n as usize..]).unwrap();
    b.sync(s1).unwrap();
    b.sync(s2).unwrap();
    assert!(read_all(&*b, s1, T0, T0 + 100 * US_PER_SEC).unwrap() == f1);
    assert!(read_all(&*b, s2, T0, T0 + 100 * US_PER_SEC).unwrap() == f2);
    // Idle again, longer than the timeout: a plain append and sync.
    std::thread::sleep(Duration::from_millis(2500));
    let f = frame(9, T0, 2 * n + 1, 300);
    b.append(s1, f.ts, f.key, f.data.clone()).unwrap();
    b.sync(s1).unwrap();
    b.sync_all().unwrap();
}

#[test]
fn a_read_dropped_early_leaves_the_client_working() {
    let ts = TestServer::start();
    let b = ts.client();
    let s = b.register_stream(camera(ts.pool("video"), "cam-r")).unwrap();
    // About 4 MiB: many stream items.
    let frames: Vec<Frame> = (0..2000).map(|i| frame(9, T0, i, 2000)).collect();
    append_all(&*b, s, &frames).unwrap();
    b.sync(s).unwrap();
    let end = frames.last().unwrap().ts;
    for _ in 0..3 {
        let first: Vec<Frame> = b.read(s, T0, end).unwrap().take(3).map(|f| f.unwrap()).collect();
        assert!(first[..] == frames[..3]);
    }
    assert!(read_all(&*b, s, T0, end).unwrap() == frames);
    b.close().unwrap();
}
