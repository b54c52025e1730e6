//! Unit tests of the remote module's pure parts (the end-to-end tests
//! against a real server are in `tests/remote*.rs`).

use super::*;
use pstor_proto::{decode_frame, DEFAULT_MAX_BODY};

#[test]
fn a_put_frame_is_the_protocols_put_request() {
    let meta = PictureMeta {
        camera_id: "cam-1".into(),
        captured_at: 1_795_392_000_000_000,
        content_type: "image/jpeg".into(),
        key: Some(PictureKey { bucket: "plates".into(), key: "2026/11/23/a.jpg".into() }),
    };
    let data = vec![7u8; 1000];
    for sync in [false, true] {
        let ours = put_picture_frame(9, PoolId(42), &meta, &data, sync, DEFAULT_MAX_BODY).expect("encodes");
        let theirs =
            Request::PutPicture { pool: PoolId(42), meta: meta.clone(), data: Bytes::from(data.clone()), sync }
                .to_frame(9, DEFAULT_MAX_BODY)
                .expect("encodes");
        assert_eq!(ours, theirs);
        let (frame, used) = decode_frame(&ours, DEFAULT_MAX_BODY).expect("valid").expect("complete");
        assert_eq!((used, frame.header.op), (ours.len(), op::PUT_PICTURE));
    }
}

#[test]
fn a_picture_over_the_limit_is_refused_before_sending() {
    let meta = PictureMeta { camera_id: "c".into(), captured_at: 0, content_type: "image/jpeg".into(), key: None };
    let err = put_picture_frame(1, PoolId(1), &meta, &[0u8; 5000], false, 4096).expect_err("too large");
    assert_eq!(err.code(), ErrorCode::PictureSize);
}

#[test]
fn streams_spread_over_the_slots() {
    let slots = (0..4).map(|_| Mutex::new(Slot::default())).collect();
    let ep = Endpoint {
        host: "localhost".into(),
        port_number: 1,
        port: Port::Data,
        access_key: "a".into(),
        secret_key: "s".into(),
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
    };
    let inner = Inner {
        closed: AtomicBool::new(false),
        sig: Arc::new(Pool::new(Endpoint { port: Port::Signalling, ..ep.clone() }, 1)),
        data: Arc::new(Pool::new(ep, 1)),
        slots,
        max_body: AtomicU32::new(DEFAULT_MAX_BODY),
        pictures_dirty: Mutex::new(HashMap::new()),
        request_timeout: Duration::from_secs(1),
        old_event_poll: AtomicBool::new(false),
    };
    let mut count = [0usize; 4];
    for id in 0..4000u64 {
        count[inner.slot_index(StreamId(id))] += 1;
    }
    assert!(count.iter().all(|&c| c > 800), "{count:?}");
}

#[test]
fn options_hide_the_secret() {
    let o = RemoteOptions::new("host", "PSAK1", "very secret");
    let shown = format!("{o:?}");
    assert!(!shown.contains("very secret") && shown.contains("PSAK1"), "{shown}");
    assert_eq!((o.signalling_port, o.data_port, o.data_connections), (6036, 6037, 4));
}
