//! Every request and reply survives encoding and decoding, as a body and as
//! a whole frame, for generated field values; every operation number has a
//! request or reply here (a new operation without one fails the census).

use bytes::Bytes;
use proptest::prelude::*;
use pstor_core::*;
use pstor_proto::op::{self, OPS};
use pstor_proto::*;
use std::collections::BTreeSet;

/// Field values every variant is built from.
#[derive(Debug, Clone)]
struct Seed {
    a: u64,
    b: i64,
    c: u32,
    s: String,
    t: String,
    data: Vec<u8>,
    flag: bool,
    opt: Option<i64>,
}

fn seed() -> impl Strategy<Value = Seed> {
    (
        any::<u64>(),
        any::<i64>(),
        any::<u32>(),
        ".{0,40}",
        "[a-z/]{0,12}",
        // Up to twice the size above which payloads are gathered, not copied.
        proptest::collection::vec(any::<u8>(), 0..2 * wire::GATHER_MIN),
        any::<bool>(),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(a, b, c, s, t, data, flag, opt)| Seed { a, b, c, s, t, data, flag, opt })
}

impl Seed {
    fn id(&self) -> PictureId {
        PictureId {
            space: SpaceId(self.c),
            segment: self.c / 3,
            generation: 7,
            offset: self.c.rotate_left(5),
            len: 99,
            cookie: self.a as u32,
        }
    }
    fn key(&self) -> PictureKey {
        PictureKey { bucket: self.t.clone(), key: self.s.clone() }
    }
    fn meta(&self) -> PictureMeta {
        PictureMeta {
            camera_id: self.s.clone(),
            captured_at: self.b,
            content_type: self.t.clone(),
            key: self.flag.then(|| self.key()),
        }
    }
    fn frames(&self) -> Vec<Frame> {
        (0..(self.c % 5) as usize)
            .map(|i| Frame {
                ts: self.b.wrapping_add(i as i64),
                key: i == 0,
                data: Bytes::from(self.data[..self.data.len() / (i + 1)].to_vec()),
            })
            .collect()
    }
    fn date(&self) -> Date {
        Date { year: self.b as i32, month: self.c % 13, day: self.c % 32 }
    }
    fn info(&self) -> PictureInfo {
        PictureInfo { id: self.id(), meta: self.meta(), stored_at: self.b ^ 5, size: self.a, md5: [self.c as u8; 16] }
    }
    fn picture(&self) -> Picture {
        Picture { info: self.info(), data: Bytes::from(self.data.clone()) }
    }
    fn space_info(&self) -> SpaceInfo {
        SpaceInfo {
            id: SpaceId(self.c),
            path: self.s.clone().into(),
            status: [SpaceStatus::Normal, SpaceStatus::Lost, SpaceStatus::Error][(self.a % 3) as usize],
            progress: (self.c % 101) as u8,
            capacity: self.a,
            used: self.a / 2,
            free: self.a / 3,
            reserved: self.a / 4,
            segment_size: 1 << 20,
            detail: self.flag.then(|| self.t.clone()),
        }
    }
    fn pool_info(&self) -> PoolInfo {
        PoolInfo {
            config: PoolConfig {
                id: PoolId(self.c),
                name: self.s.clone(),
                kind: PoolKind::Mixed,
                strategy: OverwriteStrategy::StopWhenFull,
                cycle_days: self.c % 400,
                max_lock_pct: 10,
                quotas: vec![(SpaceId(1), self.c), (SpaceId(2), 3)],
            },
            status: PoolStatus::Degraded,
            capacity: self.a,
            used: 1,
            free: 2,
            locked: 3,
        }
    }
    fn stream_info(&self) -> StreamInfo {
        StreamInfo {
            config: StreamConfig {
                id: StreamId(self.a),
                pool: PoolId(self.c),
                camera_id: self.s.clone(),
                channel: self.c,
                kind: StreamKind::Sub,
                codec: self.t.clone(),
                codec_config: self.data.clone(),
            },
            first_ts: self.opt,
            last_ts: self.opt.map(|t| t ^ 1),
            segments: self.c as usize,
        }
    }
    fn lock(&self) -> LockConfig {
        LockConfig {
            id: LockId(self.a),
            target: if self.flag {
                LockTarget::Stream(StreamId(self.a))
            } else {
                LockTarget::Pictures { pool: PoolId(self.c), camera_id: self.s.clone() }
            },
            start: self.b,
            end: self.b.wrapping_add(10),
            expires: self.opt,
        }
    }
    fn day(&self) -> DayInspection {
        DayInspection {
            stream: StreamId(self.a),
            date: self.date(),
            hours: (0..(self.c % 25))
                .map(|h| HourInspection {
                    hour: h,
                    recorded_secs: h * 100,
                    gaps: vec![(self.b, self.b ^ 3)],
                    exception: h % 2 == 0,
                    partial: self.flag,
                })
                .collect(),
        }
    }
    fn events(&self) -> Vec<Event> {
        let kinds = vec![
            EventKind::SpaceStatus { space: SpaceId(self.c), status: SpaceStatus::Scanning, detail: self.s.clone() },
            EventKind::PoolStatus { pool: PoolId(1), status: PoolStatus::Offline },
            EventKind::LowSpace { pool: PoolId(2), free_pct: 3 },
            EventKind::LowVolumeSpace { space: SpaceId(4), free_pct: 5 },
            EventKind::PoolFull { pool: PoolId(6), reason: FullReason::OnlyLockedData },
            EventKind::PoolFull { pool: PoolId(6), reason: FullReason::HeldOpen { writers: self.c, segments: 3 } },
            EventKind::RecordingError { stream: StreamId(self.a), message: self.t.clone() },
            EventKind::Recycled { pool: PoolId(7), stream: StreamId(8), until: self.b, retention: self.flag },
            EventKind::LockExpired { lock: LockId(9) },
            EventKind::TailTruncated { space: SpaceId(10), segment: 11, detail: self.s.clone() },
            EventKind::KeyIndexRebuilt { reason: self.t.clone() },
            EventKind::CameraStatus {
                schedule: self.a,
                camera: self.s.clone(),
                from: "normal".into(),
                to: self.t.clone(),
                reason: self.s.clone(),
            },
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Event { seq: self.a.wrapping_add(i as u64), at: self.b, kind })
            .collect()
    }
}

fn requests(x: &Seed) -> Vec<Request> {
    let stream = StreamId(x.a);
    vec![
        Request::Ping {},
        Request::ListSpaces {},
        Request::GetSpace { space: SpaceId(x.c) },
        Request::InitializeSpace {
            spec: SpaceSpec { path: x.s.clone().into(), capacity: x.a, segment_size: x.opt.map(|v| v as u64) },
        },
        Request::RestoreSpace { path: x.t.clone().into() },
        Request::DeleteSpace { space: SpaceId(x.c) },
        Request::ReinitializeSpace { space: SpaceId(x.c), confirm: x.flag },
        Request::JobStatus { job: x.a },
        Request::CancelJob { job: x.a },
        Request::ListPools {},
        Request::GetPool { pool: PoolId(x.c) },
        Request::CreatePool {
            spec: PoolSpec {
                name: x.s.clone(),
                kind: PoolKind::Picture,
                capacity: x.a,
                spaces: vec![SpaceId(x.c), SpaceId(1)],
                strategy: OverwriteStrategy::OverwriteOldest,
                cycle_days: x.c,
                max_lock_pct: x.c as u8,
            },
        },
        Request::EditPool {
            pool: PoolId(x.c),
            edit: PoolEdit {
                name: x.flag.then(|| x.s.clone()),
                capacity: Some(x.a),
                strategy: None,
                cycle_days: Some(x.c),
                max_lock_pct: x.flag.then_some(3),
            },
        },
        Request::DeletePool { pool: PoolId(x.c) },
        Request::RegisterStream {
            spec: StreamSpec {
                pool: PoolId(x.c),
                camera_id: x.s.clone(),
                channel: x.c,
                kind: StreamKind::Main,
                codec: x.t.clone(),
                codec_config: x.data.clone(),
            },
        },
        Request::FindStream { camera_id: x.s.clone(), channel: x.c, kind: StreamKind::Sub },
        Request::ListStreams { after: x.flag.then_some(stream), limit: x.c },
        Request::GetStream { stream },
        Request::RecordedRanges { stream, start: x.b, end: x.b ^ 7, tolerance_us: x.b >> 3 },
        Request::LockStream { stream, start: x.b, end: x.b.wrapping_add(1), expires: x.opt },
        Request::LockPictures { pool: PoolId(x.c), camera_id: x.s.clone(), start: x.b, end: x.b, expires: x.opt },
        Request::ListLocks { after: x.flag.then_some(LockId(x.a)), limit: x.c },
        Request::ExtendLock { lock: LockId(x.a), expires: x.opt },
        Request::Unlock { lock: LockId(x.a) },
        Request::InspectDay { stream, date: x.date() },
        Request::InspectToday { stream },
        Request::InspectMonth { stream, year: x.b as i32, month: x.c },
        Request::Today {},
        Request::GetThresholds {},
        Request::SetThresholds {
            thresholds: Thresholds { overwrite_pct: x.c as u8, alarm_pct: 4, volume_free_pct: x.a as u8 },
        },
        Request::PollEvents { after_seq: x.a, max: x.c, wait_ms: x.c / 7 },
        Request::PollAllEvents { after_seq: x.a, max: x.c / 2, wait_ms: x.c / 5 },
        Request::Check { repair: x.flag },
        Request::ListSchedules { search: x.s.clone(), offset: x.c, limit: x.c / 3 },
        Request::GetSchedule { schedule: x.b },
        Request::CreateSchedule { json: x.t.clone() },
        Request::ReplaceSchedule { schedule: x.b, json: x.s.clone() },
        Request::DeleteSchedule { schedule: x.b },
        Request::ScheduleEvent { schedule: x.b, start: x.flag },
        Request::Append { stream, sync: x.flag, frames: x.frames() },
        Request::FlushStream { stream },
        Request::ResumeStream { stream },
        Request::Sync { streams: vec![stream; (x.c % 4) as usize] },
        Request::ReadRange { stream, start: x.b, end: x.b.wrapping_mul(3) },
        Request::PutPicture { pool: PoolId(x.c), meta: x.meta(), data: Bytes::from(x.data.clone()), sync: x.flag },
        Request::SyncPictures { pool: PoolId(x.c) },
        Request::GetPicture { id: x.id() },
        Request::GetPictureRange { id: x.id(), offset: x.a, len: x.a >> 4 },
        Request::HeadPicture { id: x.id() },
        Request::GetPictureByKey { key: x.key() },
        Request::PictureIdForKey { key: x.key() },
        Request::DeletePicture { id: x.id() },
        Request::DeletePictureByKey { key: x.key() },
        Request::ListPictures {
            query: PictureQuery {
                pool: PoolId(x.c),
                camera_id: x.flag.then(|| x.s.clone()),
                start: x.b,
                end: x.b ^ 9,
                limit: x.c as usize,
                after: x.opt.map(|t| (t, x.id())),
            },
        },
        Request::ListKeys { bucket: x.t.clone(), prefix: x.s.clone(), after: x.flag.then(|| x.s.clone()), limit: x.c },
    ]
}

fn replies(x: &Seed) -> Vec<Reply> {
    let stream = StreamId(x.a);
    vec![
        Reply::Ping {},
        Reply::ListSpaces { spaces: vec![x.space_info(), x.space_info()] },
        Reply::GetSpace { space: x.space_info() },
        Reply::InitializeSpace { job: x.a, space: SpaceId(x.c) },
        Reply::RestoreSpace { job: x.a, space: SpaceId(x.c) },
        Reply::DeleteSpace {},
        Reply::ReinitializeSpace {},
        Reply::JobStatus {
            status: JobStatus {
                job: x.a,
                space: SpaceId(x.c),
                progress: 40,
                finished: x.flag,
                error: x.flag.then(|| ErrorReply { code: 207, message: x.s.clone() }),
            },
        },
        Reply::CancelJob {},
        Reply::ListPools { pools: vec![x.pool_info()] },
        Reply::GetPool { pool: x.pool_info() },
        Reply::CreatePool { pool: PoolId(x.c) },
        Reply::EditPool {},
        Reply::DeletePool {},
        Reply::RegisterStream { stream },
        Reply::FindStream { stream: x.flag.then_some(stream) },
        Reply::ListStreams { streams: vec![x.stream_info(); (x.c % 3) as usize], more: x.flag },
        Reply::GetStream { stream: x.stream_info() },
        Reply::RecordedRanges { ranges: vec![(x.b, x.b ^ 1), (1, 2)] },
        Reply::LockStream { lock: LockId(x.a) },
        Reply::LockPictures { lock: LockId(x.a) },
        Reply::ListLocks { locks: vec![x.lock(), x.lock()], more: !x.flag },
        Reply::ExtendLock {},
        Reply::Unlock {},
        Reply::InspectDay { day: x.day() },
        Reply::InspectToday { day: x.day() },
        Reply::InspectMonth { days: vec![DaySummary { date: x.date(), recorded_secs: x.a, exception_hours: x.c }] },
        Reply::Today { date: x.date() },
        Reply::GetThresholds { thresholds: Thresholds::default() },
        Reply::SetThresholds {},
        Reply::PollEvents { events: x.events(), latest_seq: x.a },
        Reply::PollAllEvents { events: x.events(), latest_seq: x.a / 3 },
        Reply::ListSchedules { json: x.s.clone(), total: x.c },
        Reply::GetSchedule { json: x.t.clone() },
        Reply::CreateSchedule { json: x.s.clone() },
        Reply::ReplaceSchedule { json: x.t.clone() },
        Reply::DeleteSchedule {},
        Reply::ScheduleEvent { json: x.s.clone() },
        Reply::Check {
            report: CheckReport {
                segments: x.a,
                records: x.a / 2,
                problems: vec![Problem {
                    space: Some(SpaceId(x.c)),
                    segment: x.flag.then_some(x.c),
                    what: x.s.clone(),
                    repaired: x.flag,
                }],
            },
        },
        Reply::Append { appended: x.c },
        Reply::FlushStream {},
        Reply::ResumeStream {},
        Reply::Sync {},
        Reply::PutPicture { id: x.id() },
        Reply::SyncPictures {},
        Reply::GetPicture { picture: x.picture() },
        Reply::GetPictureRange { picture: x.picture() },
        Reply::HeadPicture { info: x.info() },
        Reply::GetPictureByKey { picture: x.picture() },
        Reply::PictureIdForKey { id: x.id() },
        Reply::DeletePicture {},
        Reply::DeletePictureByKey {},
        Reply::ListPictures { pictures: vec![x.info(); (x.c % 3) as usize] },
        Reply::ListKeys { keys: vec![(x.s.clone(), x.id())] },
    ]
}

fn frame_of(bytes: &Bytes) -> RawFrame {
    let (f, used) = decode_frame(bytes, DEFAULT_MAX_BODY).expect("decodes").expect("complete");
    assert_eq!(used, bytes.len());
    f
}

fn check_request(r: &Request, id: u32) {
    let body = r.encode_body();
    let back = Request::decode(r.op(), &body).unwrap_or_else(|e| panic!("{r:?}: {e}"));
    assert_eq!(format!("{back:?}"), format!("{r:?}"));
    assert_eq!(back.encode_body(), body);
    let bytes = r.to_frame(id, DEFAULT_MAX_BODY).expect("fits");
    // The gathered frame puts the same bytes on the wire, piece by piece.
    let gathered = r.to_gathered_frame(id, DEFAULT_MAX_BODY).expect("fits");
    assert_eq!(gathered.len(), bytes.len());
    assert_eq!(gathered.to_bytes(), bytes);
    assert_eq!(gathered.io_slices().iter().flat_map(|s| s.iter().copied()).collect::<Vec<u8>>(), bytes.to_vec());
    let frame = frame_of(&bytes);
    assert_eq!(frame.header.request_id, id);
    match decode_client_frame(&frame).expect("client frame") {
        ClientMessage::Request(again) => assert_eq!(again.encode_body(), body),
        other => panic!("{other:?}"),
    }
    // Every strict prefix of the body is refused, never accepted short.
    for n in (0..body.len()).step_by(body.len() / 16 + 1) {
        assert!(Request::decode(r.op(), &body.slice(..n)).is_err(), "{r:?} accepted {n} of {} bytes", body.len());
    }
}

fn check_reply(r: &Reply, id: u32) {
    let body = r.encode_body();
    let back = Reply::decode(r.op(), &body).unwrap_or_else(|e| panic!("{r:?}: {e}"));
    assert_eq!(format!("{back:?}"), format!("{r:?}"));
    assert_eq!(back.encode_body(), body);
    let frame = frame_of(&r.to_frame(id, DEFAULT_MAX_BODY).expect("fits"));
    match decode_server_frame(&frame).expect("server frame") {
        ServerMessage::Reply(again) => assert_eq!(again.encode_body(), body),
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_request_round_trips(x in seed(), id in any::<u32>()) {
        for r in requests(&x) {
            check_request(&r, id);
        }
    }

    #[test]
    fn every_reply_round_trips(x in seed(), id in any::<u32>()) {
        for r in replies(&x) {
            check_reply(&r, id);
        }
    }

    #[test]
    fn stream_items_round_trip(x in seed()) {
        let frames = x.frames();
        let bytes = message::encode_stream_item(op::READ_RANGE, 9, &frames, DEFAULT_MAX_BODY).expect("fits");
        match decode_server_frame(&frame_of(&bytes)).expect("decodes") {
            ServerMessage::StreamItem(got) => prop_assert_eq!(got, frames),
            other => prop_assert!(false, "{:?}", other),
        }
        let end = StreamEnd { frames: x.a }.to_frame(op::READ_RANGE, 9);
        match decode_server_frame(&frame_of(&end)).expect("decodes") {
            ServerMessage::StreamEnd(e) => prop_assert_eq!(e.frames, x.a),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic(op in any::<u16>(), body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let body = Bytes::from(body);
        let _ = Request::decode(op, &body);
        let _ = Reply::decode(op, &body);
        let _ = message::decode_stream_item(&body);
        let _ = error_from_frame(&body);
    }
}

#[test]
fn every_operation_has_a_request_and_a_reply() {
    let x = Seed { a: 1, b: 2, c: 3, s: "s".into(), t: "t".into(), data: vec![1], flag: true, opt: None };
    let all: BTreeSet<u16> = OPS.iter().map(|o| o.op).collect();
    let reqs: BTreeSet<u16> = requests(&x).iter().map(Request::op).collect();
    let mut reps: BTreeSet<u16> = replies(&x).iter().map(Reply::op).collect();
    assert_eq!(reqs, all, "a request variant is missing from the census");
    // A range read is answered by stream items, not a reply.
    reps.insert(op::READ_RANGE);
    assert_eq!(reps, all, "a reply variant is missing from the census");
}

#[test]
fn errors_travel_with_their_stable_code() {
    let e = Error::PoolNotFound(PoolId(42));
    let bytes = error_to_frame(&e, op::GET_POOL, 5);
    let f = frame_of(&bytes);
    assert_eq!((f.header.kind, f.header.op, f.header.request_id), (Kind::Error, op::GET_POOL, 5));
    let back = error_from_frame(&f.body);
    assert_eq!(back.code(), ErrorCode::PoolNotFound);
    assert_eq!(back.to_string(), e.to_string());
    assert!(matches!(back, Error::Remote { .. }));
    // A code this build does not know is kept as it is.
    let unknown = ErrorReply { code: 4242, message: "future".into() }.into_error();
    assert_eq!(unknown.code(), ErrorCode::Other(4242));
    assert_eq!(unknown.to_string(), "future");
    // A body that does not decode is a protocol error, not a panic.
    assert_eq!(error_from_frame(&[1, 2]).code(), ErrorCode::Protocol);
}

#[test]
fn requests_know_their_port() {
    assert_eq!(Request::Ping {}.served(), Served::Both);
    assert!(Request::Append { stream: StreamId(1), sync: false, frames: vec![] }.is_served_on(Port::Data));
    assert!(!Request::ListPools {}.is_served_on(Port::Data));
    assert_eq!(Request::GetPicture { id: PictureId::from_bytes(&[0; 24]).expect("id") }.port(), Port::Data);
}

#[test]
fn unknown_ops_and_leftovers_are_refused() {
    assert_eq!(Request::decode(0x7fff, &Bytes::new()).map(|_| ()), Err(ProtoError::UnknownOp(0x7fff)));
    assert!(matches!(Request::decode(op::PING, &Bytes::from_static(&[0])), Err(ProtoError::Malformed(_))));
    // A sync flag byte other than 0 or 1 (undefined flag bits) is refused.
    let mut body = Request::Append { stream: StreamId(1), sync: true, frames: vec![] }.encode_body().to_vec();
    body[8] = 3;
    assert!(matches!(Request::decode(op::APPEND, &Bytes::from(body)), Err(ProtoError::Malformed(_))));
}

#[test]
fn too_large_requests_are_not_encoded() {
    let r = Request::PutPicture {
        pool: PoolId(1),
        meta: PictureMeta { camera_id: "c".into(), captured_at: 0, content_type: String::new(), key: None },
        data: Bytes::from(vec![0; 2000]),
        sync: false,
    };
    assert!(matches!(r.to_frame(1, 1000), Err(ProtoError::FrameTooLarge { max: 1000, .. })));
    assert!(r.to_frame(1, 4000).is_ok());
}

#[test]
fn gathered_frames_share_large_payloads_and_respect_the_limit() {
    let big = Bytes::from((0..100_000u32).map(|i| i as u8).collect::<Vec<u8>>());
    let frames: Vec<Frame> = [10usize, wire::GATHER_MIN - 1, wire::GATHER_MIN, 100_000, 0, 50_000]
        .iter()
        .enumerate()
        .map(|(i, &n)| Frame { ts: i as i64, key: i == 0, data: big.slice(..n) })
        .collect();
    let req = Request::Append { stream: StreamId(5), sync: true, frames };
    let gathered = req.to_gathered_frame(3, DEFAULT_MAX_BODY).expect("fits");
    let whole = req.to_frame(3, DEFAULT_MAX_BODY).expect("fits");
    assert_eq!(gathered.to_bytes(), whole);
    // The three payloads of GATHER_MIN bytes or more are the caller's
    // memory, not copies; the smaller ones are copied among the fields.
    let slices = gathered.io_slices();
    let range = big.as_ptr_range();
    let spliced: Vec<usize> = slices.iter().filter(|s| range.contains(&s.as_ptr())).map(|s| s.len()).collect();
    assert_eq!(spliced, vec![wire::GATHER_MIN, 100_000, 50_000]);
    assert_eq!(slices.len(), 6, "fields, payload, fields, payload, fields, payload");
    // Over the peer's limit: refused, as the contiguous frame is.
    let limit = whole.len() as u32 - HEADER_LEN as u32 - 1;
    assert!(matches!(req.to_gathered_frame(3, limit), Err(ProtoError::FrameTooLarge { .. })));
    assert!(matches!(req.to_frame(3, limit), Err(ProtoError::FrameTooLarge { .. })));
}
