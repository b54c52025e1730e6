//! Every category of signalling operation over a real socket: spaces and
//! jobs, pools, streams, locks, inspection, thresholds, events, check.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pstor_core::*;
use pstor_proto::*;
use std::time::Duration;

#[test]
fn spaces_and_space_jobs() {
    let s = TestServer::start();
    let mut c = s.client(Port::Signalling);
    let Reply::ListSpaces { spaces } = c.call(Request::ListSpaces {}).unwrap() else { panic!() };
    assert_eq!(spaces.len(), 1);
    assert_eq!(spaces[0].status, SpaceStatus::Normal);
    let Reply::GetSpace { space } = c.call(Request::GetSpace { space: spaces[0].id }).unwrap() else { panic!() };
    assert_eq!(space.capacity, 64 << 20);
    assert_eq!(c.call(Request::GetSpace { space: SpaceId(7) }).unwrap_err().code(), ErrorCode::SpaceNotFound);

    // Initialize a second space as a job, follow it to the end.
    let path = s.dir.path().join("space2");
    std::fs::create_dir(&path).unwrap();
    let spec = SpaceSpec { path: path.clone(), capacity: 8 << 20, segment_size: Some(1 << 20) };
    let Reply::InitializeSpace { job, space } = c.call(Request::InitializeSpace { spec }).unwrap() else { panic!() };
    let status = loop {
        let Reply::JobStatus { status } = c.call(Request::JobStatus { job }).unwrap() else { panic!() };
        if status.finished {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20)); // the job API has no completion signal over the wire
    };
    assert_eq!((status.space, status.error, status.progress), (space, None, 100));
    let Reply::ListSpaces { spaces } = c.call(Request::ListSpaces {}).unwrap() else { panic!() };
    assert_eq!(spaces.len(), 2);
    // Its folder is a space now: initializing it again fails at once.
    let spec = SpaceSpec { path, capacity: 8 << 20, segment_size: None };
    assert_eq!(c.call(Request::InitializeSpace { spec }).unwrap_err().code(), ErrorCode::AlreadyInitialized);
    // Unknown jobs, and deleting a space in service, are refused.
    assert_eq!(c.call(Request::JobStatus { job: 999 }).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(c.call(Request::CancelJob { job: 999 }).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert!(c.call(Request::DeleteSpace { space }).is_err());
    let err = c.call(Request::ReinitializeSpace { space, confirm: false }).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConfirmationRequired);
    let err = c.call(Request::RestoreSpace { path: s.dir.path().join("nowhere") }).unwrap_err();
    assert_eq!(err.code(), ErrorCode::PathNotFound);
}

#[test]
fn pools() {
    let s = TestServer::start();
    let mut c = s.client(Port::Signalling);
    let Reply::ListPools { pools } = c.call(Request::ListPools {}).unwrap() else { panic!() };
    let mut names: Vec<_> = pools.iter().map(|p| p.config.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["pictures", "video"]);
    let spec = PoolSpec {
        name: "evidence".into(),
        kind: PoolKind::Mixed,
        capacity: 4 << 20,
        spaces: vec![],
        strategy: OverwriteStrategy::StopWhenFull,
        cycle_days: 7,
        max_lock_pct: 20,
    };
    let Reply::CreatePool { pool } = c.call(Request::CreatePool { spec: spec.clone() }).unwrap() else { panic!() };
    assert_eq!(c.call(Request::CreatePool { spec }).unwrap_err().code(), ErrorCode::DuplicatePoolName);
    let edit = PoolEdit { cycle_days: Some(14), name: Some("evidence-2".into()), ..PoolEdit::default() };
    c.call(Request::EditPool { pool, edit }).unwrap();
    let Reply::GetPool { pool: info } = c.call(Request::GetPool { pool }).unwrap() else { panic!() };
    assert_eq!((info.config.name.as_str(), info.config.cycle_days), ("evidence-2", 14));
    assert_eq!(info.config.kind, PoolKind::Mixed);
    c.call(Request::DeletePool { pool }).unwrap();
    assert_eq!(c.call(Request::GetPool { pool }).unwrap_err().code(), ErrorCode::PoolNotFound);
}

#[test]
fn streams_and_paged_listing() {
    let s = TestServer::start();
    let mut c = s.client(Port::Signalling);
    let video = s.pool("video");
    let mut ids: Vec<StreamId> = (0..7).map(|n| register(&mut c, video, &format!("cam-{n}"))).collect();
    ids.sort();
    let Reply::FindStream { stream } =
        c.call(Request::FindStream { camera_id: "cam-3".into(), channel: 1, kind: StreamKind::Main }).unwrap()
    else {
        panic!()
    };
    assert!(stream.is_some_and(|s| ids.contains(&s)));
    let Reply::FindStream { stream } =
        c.call(Request::FindStream { camera_id: "cam-3".into(), channel: 1, kind: StreamKind::Sub }).unwrap()
    else {
        panic!()
    };
    assert_eq!(stream, None);
    // Pages of 3, in id order.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let Reply::ListStreams { streams, more } = c.call(Request::ListStreams { after, limit: 3 }).unwrap() else {
            panic!()
        };
        assert!(streams.len() <= 3);
        seen.extend(streams.iter().map(|s| s.config.id));
        after = streams.last().map(|s| s.config.id);
        if !more {
            break;
        }
    }
    assert_eq!(seen, ids);
    let Reply::GetStream { stream } = c.call(Request::GetStream { stream: ids[0] }).unwrap() else { panic!() };
    assert_eq!(stream.config.codec, "H264");
    // The picture pool does not take video; a duplicate camera is refused.
    let pictures = s.pool("pictures");
    let spec = StreamSpec {
        pool: pictures,
        camera_id: "x".into(),
        channel: 1,
        kind: StreamKind::Main,
        codec: String::new(),
        codec_config: vec![],
    };
    assert_eq!(c.call(Request::RegisterStream { spec }).unwrap_err().code(), ErrorCode::WrongPoolKind);
    let spec = StreamSpec {
        pool: video,
        camera_id: "cam-0".into(),
        channel: 1,
        kind: StreamKind::Main,
        codec: "H264".into(),
        codec_config: vec![],
    };
    assert_eq!(c.call(Request::RegisterStream { spec }).unwrap_err().code(), ErrorCode::StreamExists);
}

#[test]
fn locks_inspection_and_recorded_ranges() {
    let s = TestServer::start();
    let mut sig = s.client(Port::Signalling);
    let mut data = s.client(Port::Data);
    let cam = register(&mut sig, s.pool("video"), "cam-1");
    let Reply::Append { appended } =
        data.call(Request::Append { stream: cam, sync: true, frames: frames(0, 250, 2000) }).unwrap()
    else {
        panic!()
    };
    assert_eq!(appended, 250);
    data.call(Request::FlushStream { stream: cam }).unwrap();
    // Recorded ranges are served on both ports.
    for c in [&mut sig, &mut data] {
        let Reply::RecordedRanges { ranges } = c
            .call(Request::RecordedRanges {
                stream: cam,
                start: T0 - US_PER_SEC,
                end: T0 + 60 * US_PER_SEC,
                tolerance_us: US_PER_SEC,
            })
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(ranges.len(), 1);
        assert_eq!(ranges[0].0, T0);
    }
    let req = Request::RecordedRanges { stream: cam, start: T0, end: T0 + 1, tolerance_us: -1 };
    assert_eq!(sig.call(req).unwrap_err().code(), ErrorCode::InvalidArgument);

    // Locks: stream and pictures, list, extend, unlock.
    let Reply::LockStream { lock } =
        sig.call(Request::LockStream { stream: cam, start: T0, end: T0 + 5 * US_PER_SEC, expires: None }).unwrap()
    else {
        panic!()
    };
    let Reply::LockPictures { lock: plock } = sig
        .call(Request::LockPictures {
            pool: s.pool("pictures"),
            camera_id: "cam-1".into(),
            start: T0,
            end: T0 + 1,
            expires: Some(i64::MAX),
        })
        .unwrap()
    else {
        panic!()
    };
    let Reply::ListLocks { locks, more } = sig.call(Request::ListLocks { after: None, limit: 1 }).unwrap() else {
        panic!()
    };
    assert_eq!((locks.len(), more), (1, true));
    let Reply::ListLocks { locks: rest, more } =
        sig.call(Request::ListLocks { after: Some(locks[0].id), limit: 10 }).unwrap()
    else {
        panic!()
    };
    assert_eq!((rest.len(), more), (1, false));
    let mut all = vec![locks[0].id, rest[0].id];
    all.sort();
    let mut want = vec![lock, plock];
    want.sort();
    assert_eq!(all, want);
    sig.call(Request::ExtendLock { lock, expires: Some(i64::MAX) }).unwrap();
    sig.call(Request::Unlock { lock }).unwrap();
    sig.call(Request::Unlock { lock: plock }).unwrap();
    assert_eq!(sig.call(Request::Unlock { lock }).unwrap_err().code(), ErrorCode::LockNotFound);

    // Inspection: the recorded day, today, the month; absurd years refused.
    let date = Date { year: 2026, month: 11, day: 23 };
    let Reply::InspectDay { day } = sig.call(Request::InspectDay { stream: cam, date }).unwrap() else { panic!() };
    assert_eq!(day.date, date);
    assert_eq!(day.hours.len(), 24);
    assert_eq!(day.hours[0].recorded_secs, 10, "9.96 s recorded, rounded to the nearest second");
    let Reply::InspectToday { day } = sig.call(Request::InspectToday { stream: cam }).unwrap() else { panic!() };
    assert_eq!(day.stream, cam);
    let Reply::InspectMonth { days } = sig.call(Request::InspectMonth { stream: cam, year: 2026, month: 11 }).unwrap()
    else {
        panic!()
    };
    assert_eq!(days.iter().find(|d| d.date == date).map(|d| d.recorded_secs), Some(10));
    for year in [i32::MIN, 0, 10_000, i32::MAX] {
        let err = sig.call(Request::InspectDay { stream: cam, date: Date { year, month: 12, day: 31 } }).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "year {year}");
        let err = sig.call(Request::InspectMonth { stream: cam, year, month: 12 }).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "year {year}");
    }
    let err = sig.call(Request::InspectMonth { stream: cam, year: 2026, month: 13 }).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
}

#[test]
fn thresholds_and_check() {
    let s = TestServer::start();
    let mut c = s.client(Port::Signalling);
    let Reply::GetThresholds { thresholds } = c.call(Request::GetThresholds {}).unwrap() else { panic!() };
    assert_eq!(thresholds, Thresholds::default());
    let t = Thresholds { overwrite_pct: 15, alarm_pct: 20, volume_free_pct: 1 };
    c.call(Request::SetThresholds { thresholds: t }).unwrap();
    let Reply::GetThresholds { thresholds } = c.call(Request::GetThresholds {}).unwrap() else { panic!() };
    assert_eq!(thresholds, t);
    let bad = Thresholds { overwrite_pct: 101, ..t };
    assert_eq!(c.call(Request::SetThresholds { thresholds: bad }).unwrap_err().code(), ErrorCode::InvalidArgument);
    let Reply::Check { report } = c.call(Request::Check { repair: false }).unwrap() else { panic!() };
    assert!(report.is_clean(), "{:?}", report.problems);
    assert!(report.segments > 0);
}

#[test]
fn events_long_poll_wakes_on_a_new_event() {
    let s = TestServer::start();
    let mut c = s.client(Port::Signalling);
    // The start-up (space initialized) left events; wait_ms 0 answers at once.
    let Reply::PollEvents { events, latest_seq } =
        c.call(Request::PollEvents { after_seq: 0, max: 100, wait_ms: 0 }).unwrap()
    else {
        panic!()
    };
    assert!(!events.is_empty());
    assert_eq!(events.last().map(|e| e.seq), Some(latest_seq));
    // A subscriber waits on its own connection...
    let addr = s.addr(Port::Signalling);
    let waiter = std::thread::spawn(move || {
        let mut w = Client::connect(addr, Port::Signalling, ACCESS, SECRET).unwrap();
        w.call(Request::PollEvents { after_seq: latest_seq, max: 10, wait_ms: 30_000 }).unwrap()
    });
    // ...and is woken by the next event: a space initialized by another client.
    let path = s.dir.path().join("space2");
    std::fs::create_dir(&path).unwrap();
    let spec = SpaceSpec { path, capacity: 4 << 20, segment_size: Some(1 << 20) };
    let Reply::InitializeSpace { space, .. } = c.call(Request::InitializeSpace { spec }).unwrap() else { panic!() };
    let Reply::PollEvents { events, latest_seq: latest } = waiter.join().unwrap() else { panic!() };
    assert!(events.iter().all(|e| e.seq > latest_seq));
    assert!(events.iter().any(|e| matches!(e.kind, EventKind::SpaceStatus { space: s, .. } if s == space)));
    assert!(latest > latest_seq);
    // `max` caps the answer.
    let Reply::PollEvents { events, .. } = c.call(Request::PollEvents { after_seq: 0, max: 1, wait_ms: 0 }).unwrap()
    else {
        panic!()
    };
    assert_eq!(events.len(), 1);
}
