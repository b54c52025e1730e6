//! Tests of the Rust side of the bridge. The C++ side is exercised by
//! `examples/cpp/record.cpp` (scripts/test-cpp.sh).

use crate::bridge::ffi;
use crate::engine::*;
use pstor_core::ErrorCode;

/// The bridge's `ErrorCode` constant for `code`, `None` if the bridge lacks it.
fn bridge_code(code: ErrorCode) -> Option<ffi::ErrorCode> {
    use ffi::ErrorCode as B;
    Some(match code {
        ErrorCode::Ok => B::Ok,
        ErrorCode::NullParameter => B::NullParameter,
        ErrorCode::Panic => B::Panic,
        ErrorCode::BufferTooSmall => B::BufferTooSmall,
        ErrorCode::InvalidUtf8 => B::InvalidUtf8,
        ErrorCode::Unknown => B::Unknown,
        ErrorCode::Io => B::Io,
        ErrorCode::Corrupt => B::Corrupt,
        ErrorCode::Overwritten => B::Overwritten,
        ErrorCode::PathNotFound => B::PathNotFound,
        ErrorCode::NotADirectory => B::NotADirectory,
        ErrorCode::AlreadyInitialized => B::AlreadyInitialized,
        ErrorCode::NotASpace => B::NotASpace,
        ErrorCode::CapacityTooSmall => B::CapacityTooSmall,
        ErrorCode::InsufficientVolumeSpace => B::InsufficientVolumeSpace,
        ErrorCode::BadSegmentSize => B::BadSegmentSize,
        ErrorCode::Cancelled => B::Cancelled,
        ErrorCode::SpaceNotFound => B::SpaceNotFound,
        ErrorCode::SpaceAlreadyKnown => B::SpaceAlreadyKnown,
        ErrorCode::SpaceLost => B::SpaceLost,
        ErrorCode::SpaceFailed => B::SpaceFailed,
        ErrorCode::SpaceStatus => B::SpaceStatus,
        ErrorCode::ConfirmationRequired => B::ConfirmationRequired,
        ErrorCode::InUse => B::InUse,
        ErrorCode::EngineCopied => B::EngineCopied,
        ErrorCode::TooManyPools => B::TooManyPools,
        ErrorCode::DuplicatePoolName => B::DuplicatePoolName,
        ErrorCode::PoolNotFound => B::PoolNotFound,
        ErrorCode::CapacityExceedsFree => B::CapacityExceedsFree,
        ErrorCode::ShrinkBelowUsed => B::ShrinkBelowUsed,
        ErrorCode::PoolHasLocks => B::PoolHasLocks,
        ErrorCode::PoolFull => B::PoolFull,
        ErrorCode::WrongPoolKind => B::WrongPoolKind,
        ErrorCode::StreamNotFound => B::StreamNotFound,
        ErrorCode::StreamExists => B::StreamExists,
        ErrorCode::OutOfOrder => B::OutOfOrder,
        ErrorCode::DuplicateTimestamp => B::DuplicateTimestamp,
        ErrorCode::FrameSize => B::FrameSize,
        ErrorCode::InvalidPictureId => B::InvalidPictureId,
        ErrorCode::PictureNotFound => B::PictureNotFound,
        ErrorCode::KeyNotFound => B::KeyNotFound,
        ErrorCode::PictureSize => B::PictureSize,
        ErrorCode::KeyIndex => B::KeyIndex,
        ErrorCode::LockNotFound => B::LockNotFound,
        ErrorCode::LockQuotaExceeded => B::LockQuotaExceeded,
        ErrorCode::Protocol => B::Protocol,
        ErrorCode::AuthFailed => B::AuthFailed,
        ErrorCode::UnknownRequest => B::UnknownRequest,
        ErrorCode::FrameTooLarge => B::FrameTooLarge,
        ErrorCode::Busy => B::Busy,
        ErrorCode::Timeout => B::Timeout,
        ErrorCode::Disconnected => B::Disconnected,
        ErrorCode::Unsupported => B::Unsupported,
        ErrorCode::ServerRestarted => B::ServerRestarted,
        ErrorCode::InvalidArgument => B::InvalidArgument,
        ErrorCode::Closed => B::Closed,
        _ => return None,
    })
}

#[test]
fn bridge_error_codes_are_the_engines() {
    for &code in ErrorCode::ALL {
        let b = bridge_code(code)
            .unwrap_or_else(|| panic!("add {} = {} to ErrorCode in bridge.rs", code.c_name(), code.number()));
        assert_eq!(b.repr, code.number(), "{}", code.c_name());
        assert_eq!(error_code_name(code.number()), code.c_name());
        assert_eq!(error_code_description(code.number()), code.description());
    }
    assert_eq!(error_code_name(12345), "PSTOR_UNKNOWN");
}

/// A number this build does not know (a newer server's) reaches C++ as it
/// is, with the server's message.
#[test]
fn an_unknown_remote_number_crosses_as_it_is() {
    let message = "a newer server's refusal".to_string();
    let e = boundary::<()>(|| Err(pstor_core::Error::Remote { code: ErrorCode::of(950), message: message.clone() }))
        .expect_err("remote error");
    assert_eq!(last_error_code(), 950);
    assert_eq!(e.to_string(), message);
}

#[test]
fn failures_leave_their_number_on_the_thread() {
    let e = check_picture_id("not a picture id").expect_err("bad id");
    assert_eq!(last_error_code(), ErrorCode::InvalidPictureId.number());
    assert!(!e.to_string().is_empty());
    // Another thread has its own.
    std::thread::spawn(|| assert_eq!(last_error_code(), 0)).join().expect("thread");
    // A panic becomes PSTOR_PANIC, not an abort.
    let e = boundary::<()>(|| panic!("boom")).expect_err("panic");
    assert_eq!(last_error_code(), ErrorCode::Panic.number());
    assert!(e.to_string().contains("boom"), "{e}");
}

/// A remote backend reports a server's error as `Error::Remote`: C++ gets
/// the number it carries (`pstor::Error::code()`) and the server's message
/// (`what()`).
#[test]
fn a_remote_error_crosses_as_its_code() {
    for code in [
        ErrorCode::PoolFull,
        ErrorCode::Closed,
        ErrorCode::Protocol,
        ErrorCode::AuthFailed,
        ErrorCode::UnknownRequest,
        ErrorCode::FrameTooLarge,
        ErrorCode::Busy,
        ErrorCode::Timeout,
        ErrorCode::Disconnected,
        ErrorCode::Unsupported,
    ] {
        let message = format!("the server says: {}", code.description());
        let e = boundary::<()>(|| Err(pstor_core::Error::Remote { code, message: message.clone() }))
            .expect_err("remote error");
        assert_eq!(last_error_code(), code.number());
        assert_eq!(error_code_name(last_error_code()), code.c_name());
        assert_eq!(e.to_string(), message);
    }
}

#[test]
fn bad_enum_values_are_invalid_arguments() {
    let tmp = tempfile::tempdir().expect("tmp");
    let e = open(tmp.path());
    assert!(e
        .create_pool("p", ffi::PoolKind { repr: 42 }, 1 << 20, &[], ffi::OverwriteStrategy::OverwriteOldest, 1, 1)
        .is_err());
    assert_eq!(last_error_code(), ErrorCode::InvalidArgument.number());
    assert!(e.find_stream("cam", 1, ffi::StreamKind { repr: 9 }).is_err());
    assert_eq!(last_error_code(), ErrorCode::InvalidArgument.number());
    assert!(open_engine("", &default_engine_options()).is_err());
    assert_eq!(last_error_code(), ErrorCode::InvalidArgument.number());
}

fn open(dir: &std::path::Path) -> Box<Engine> {
    let mut o = default_engine_options();
    o.min_space_capacity = 1 << 20;
    o.segment_size = 256 << 10;
    open_engine(dir.join("engine").to_str().expect("utf-8"), &o).expect("open")
}

#[test]
fn record_read_lock_inspect_pictures() {
    let tmp = tempfile::tempdir().expect("tmp");
    let e = open(tmp.path());
    let space_dir = tmp.path().join("space1");
    std::fs::create_dir(&space_dir).expect("mkdir");
    let mut job = e.initialize_space(space_dir.to_str().expect("utf-8"), 4 << 20, 0).expect("init");
    let space = job.wait().expect("wait");
    assert_eq!(space, job.space());
    assert_eq!(job.wait().expect("again"), space);
    assert!(job.is_finished());
    let spaces = e.spaces().expect("spaces");
    assert_eq!(spaces.len(), 1);
    assert_eq!(spaces[0].status, ffi::SpaceStatus::Normal);

    let pool = e
        .create_pool("mixed", ffi::PoolKind::Mixed, 2 << 20, &[space], ffi::OverwriteStrategy::OverwriteOldest, 30, 50)
        .expect("pool");
    assert_eq!(e.pools().expect("pools")[0].kind, ffi::PoolKind::Mixed);
    let cam = e.register_stream(pool, "cam-1", 1, ffi::StreamKind::Main, "H264", b"cfg").expect("register");
    assert_eq!(e.find_stream("cam-1", 1, ffi::StreamKind::Main).expect("find"), cam);
    assert_eq!(e.find_stream("cam-2", 1, ffi::StreamKind::Main).expect("find"), 0);

    let t0 = 1_795_392_000_000_000i64;
    for i in 0..50i64 {
        e.append(cam, t0 + i * 40_000, i % 25 == 0, &[i as u8; 100]).expect("append");
    }
    e.sync(cam).expect("sync");
    let mut r = e.read(cam, t0 + 1_100_000, t0 + 2_000_000).expect("read");
    assert!(r.data().is_empty());
    let mut seen = Vec::new();
    while r.next().expect("next") {
        assert_eq!(r.data(), &[((r.ts() - t0) / 40_000) as u8; 100][..]);
        seen.push((r.ts(), r.key()));
    }
    assert_eq!(seen.first(), Some(&(t0 + 1_000_000, true)));
    assert_eq!(seen.len(), 25);
    assert!(!r.next().expect("after the end"));

    let ranges = e.recorded_ranges(cam, 0, i64::MAX, 1_000_000).expect("ranges");
    assert_eq!(ranges, vec![ffi::TimeRange { start: t0, end: t0 + 49 * 40_000 }]);

    let lock = e.lock(cam, t0, t0 + 1_000_000, false, 0).expect("lock");
    let locks = e.locks().expect("locks");
    assert_eq!((locks.len(), locks[0].id, locks[0].stream, locks[0].has_expiry), (1, lock, cam, false));
    e.unlock(lock).expect("unlock");
    assert!(e.unlock(lock).is_err());
    assert_eq!(last_error_code(), ErrorCode::LockNotFound.number());

    let days = e.inspect_day(cam, ffi::Date { year: 2026, month: 11, day: 23 }).expect("inspect");
    assert_eq!(days.hours.len(), 24);
    assert_eq!(days.recorded_secs, days.hours.iter().map(|h| h.recorded_secs as u64).sum::<u64>());
    assert!(e.inspect_day(cam, ffi::Date { year: 2026, month: 2, day: 30 }).is_err());
    assert_eq!(last_error_code(), ErrorCode::InvalidArgument.number());

    let id = e.put_picture(pool, "cam-1", t0, "image/jpeg", true, "plates", "a.jpg", b"jpeg bytes").expect("put");
    assert_eq!(id.len(), pstor_core::PICTURE_ID_CHARS);
    e.sync_pictures(pool).expect("sync pictures");
    let pic = e.get_picture(&id).expect("get");
    assert_eq!(pic.data(), b"jpeg bytes");
    let info = pic.info();
    assert_eq!((info.id.as_str(), info.has_key, info.size), (id.as_str(), true, 10));
    assert_eq!(e.get_picture_by_key("plates", "a.jpg").expect("by key").info().id, id);
    assert_eq!(e.head_picture(&id).expect("head").etag, info.etag);
    let listed = e.list_pictures(pool, "", 0, i64::MAX, 10, 0, "").expect("list");
    assert_eq!(listed.len(), 1);
    assert!(e.list_pictures(pool, "", 0, i64::MAX, 10, t0, &id).expect("page 2").is_empty());
    e.delete_picture(&id).expect("delete");
    assert!(e.get_picture(&id).is_err());
    assert_eq!(last_error_code(), ErrorCode::PictureNotFound.number());
    assert!(e.get_picture("short").is_err());
    assert_eq!(last_error_code(), ErrorCode::InvalidPictureId.number());

    let kept = e.lock(cam, t0, t0 + 500_000, false, 0).expect("kept lock");
    e.close().expect("close");
    e.close().expect("close twice");
    // Every call fails after close, including those the engine itself
    // still serves (reads) or carries out (unlock) once closed.
    let calls: [&dyn Fn() -> bool; 5] = [
        &|| e.append(cam, t0 + 10_000_000, true, b"x").is_err(),
        &|| e.read(cam, t0, t0 + 1_000_000).is_err(),
        &|| e.unlock(kept).is_err(),
        &|| e.locks().is_err(),
        &|| e.find_stream("cam-1", 1, ffi::StreamKind::Main).is_err(),
    ];
    for (i, call) in calls.iter().enumerate() {
        assert!(call(), "call {i} after close");
        assert_eq!(last_error_code(), ErrorCode::Closed.number(), "call {i}");
    }
}

/// Unsafe code comes only from the `#[cxx::bridge]` expansion: no source
/// file has an unsafe block of its own.
#[test]
fn no_hand_written_unsafe() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        for word in [["unsafe", " {"].concat(), ["unsafe", " fn"].concat(), ["unsafe", " impl"].concat()] {
            assert!(!text.contains(&word), "`{word}` in {}", path.display());
        }
    }
}

// ---- remote mode -------------------------------------------------------------

/// The defaults `pstor::RemoteOptions` spells out in the header are the
/// remote client's.
#[test]
fn remote_defaults_in_the_header_are_the_clients() {
    let header = include_str!("../include/pstor.hpp");
    let d = pstor_client::RemoteOptions::new("", "", "");
    for want in [
        format!("std::uint16_t signalling_port = {};", d.signalling_port),
        format!("std::uint16_t data_port = {};", d.data_port),
        format!("std::chrono::milliseconds connect_timeout{{{}}};", d.connect_timeout.as_millis()),
        format!("std::chrono::milliseconds request_timeout{{{}}};", d.request_timeout.as_millis()),
        format!("std::uint32_t data_connections = {};", d.data_connections),
    ] {
        assert!(header.contains(&want), "pstor.hpp lacks `{want}`");
    }
}

#[test]
fn connect_refuses_bad_options() {
    let calls: [(&str, &dyn Fn() -> bool); 5] = [
        ("empty host", &|| connect_engine("", 6036, 6037, "a", "s", 1000, 1000, 1).is_err()),
        ("port 0", &|| connect_engine("127.0.0.1", 0, 6037, "a", "s", 1000, 1000, 1).is_err()),
        ("no timeout", &|| connect_engine("127.0.0.1", 6036, 6037, "a", "s", 0, 1000, 1).is_err()),
        ("negative timeout", &|| connect_engine("127.0.0.1", 6036, 6037, "a", "s", 1000, -5, 1).is_err()),
        ("no connections", &|| connect_engine("127.0.0.1", 6036, 6037, "a", "s", 1000, 1000, 0).is_err()),
    ];
    for (what, call) in calls {
        assert!(call(), "{what}");
        assert_eq!(last_error_code(), ErrorCode::InvalidArgument.number(), "{what}");
    }
}

/// A port on loopback that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn connect_to_nothing_is_disconnected() {
    let port = closed_port();
    assert!(connect_engine("127.0.0.1", port, port, "a", "s", 2000, 2000, 1).is_err());
    assert_eq!(last_error_code(), ErrorCode::Disconnected.number());
}

/// A pstor-server on loopback (ports chosen by the system) with one key
/// pair, one space and a video pool.
fn test_server(dir: &std::path::Path) -> pstor_server::RunningServer {
    use pstor_server::config::{KeyPair, KindName, PoolConfig, SpaceConfig};
    use pstor_server::{ByteSize, ServerConfig};
    let key = KeyPair { access_key: "PSAKCXXTEST000000001".into(), secret_key: SECRET.into() };
    let mut cfg = ServerConfig::loopback(dir.join("data"), key);
    cfg.engine.segment_size = ByteSize(256 << 10);
    cfg.spaces = vec![SpaceConfig { path: dir.join("space1"), capacity: ByteSize(8 << 20), segment_size: None }];
    let pool = PoolConfig::new("video", KindName::Video, ByteSize(4 << 20));
    cfg.pools = vec![PoolConfig { cycle_days: 0, max_lock_pct: 50, ..pool }];
    cfg.logging.level = "warn".into();
    pstor_server::Server::start(cfg).expect("server")
}

const SECRET: &str = "cxx-test-secret-0123456789";

fn connect_to(server: &pstor_server::RunningServer, access: &str, secret: &str) -> Outcome<Box<Engine>> {
    let (s, d) = (server.signalling_addr(), server.data_addr());
    connect_engine(&s.ip().to_string(), s.port(), d.port(), access, secret, 5000, 30_000, 2)
}

#[test]
fn remote_round_trip_and_wrong_keys() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = test_server(tmp.path());
    assert!(connect_to(&server, "PSAKCXXTEST000000001", "not-the-secret-key-at-all").is_err());
    assert_eq!(last_error_code(), ErrorCode::AuthFailed.number());
    assert!(connect_to(&server, "PSAKUNKNOWN", SECRET).is_err());
    assert_eq!(last_error_code(), ErrorCode::AuthFailed.number());

    let e = connect_to(&server, "PSAKCXXTEST000000001", SECRET).expect("connect");
    let pool = e.pools().expect("pools").iter().find(|p| p.name == "video").expect("video pool").id;
    let cam = e.register_stream(pool, "cam-r", 1, ffi::StreamKind::Main, "H264", b"").expect("register");
    let t0 = 1_795_392_000_000_000i64;
    for i in 0..50i64 {
        e.append(cam, t0 + i * 40_000, i % 25 == 0, &[i as u8; 300]).expect("append");
    }
    e.sync(cam).expect("sync");
    let mut r = e.read(cam, t0, t0 + 2_000_000).expect("read");
    let mut n = 0;
    while r.next().expect("next") {
        assert_eq!(r.data(), &[((r.ts() - t0) / 40_000) as u8; 300][..]);
        n += 1;
    }
    assert_eq!(n, 50);
    // A server's refusal carries the engine's number.
    assert!(e.register_stream(777, "cam-x", 1, ffi::StreamKind::Main, "H264", b"").is_err());
    assert_eq!(last_error_code(), ErrorCode::PoolNotFound.number());
    e.close().expect("close");
    assert!(e.pools().is_err());
    assert_eq!(last_error_code(), ErrorCode::Closed.number());
    drop(e);
    server.shutdown().expect("shutdown");
}
