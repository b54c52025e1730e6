//! The data port: pipelined append batches acknowledged after sync, range
//! reads streamed back byte for byte, pictures; operations sent to the
//! wrong port or unknown.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::*;
use pstor_core::*;
use pstor_proto::*;
use std::io::Write;

#[test]
fn pipelined_appends_then_a_range_read_gives_the_same_bytes() {
    let s = TestServer::start();
    let mut sig = s.client(Port::Signalling);
    let mut data = s.client(Port::Data);
    let cam = register(&mut sig, s.pool("video"), "cam-1");
    // 40 batches of 25 frames sent before reading any reply; the last one
    // asks for a sync, so its reply acknowledges durability of all.
    let batches: Vec<Vec<Frame>> = (0..40).map(|b| frames(b * 25, 25, 3000)).collect();
    let ids: Vec<u32> = batches
        .iter()
        .enumerate()
        .map(|(i, f)| data.send(&Request::Append { stream: cam, sync: i == 39, frames: f.clone() }))
        .collect();
    for id in ids {
        let Reply::Append { appended } = data.reply(id).unwrap() else { panic!() };
        assert_eq!(appended, 25);
    }
    let want: Vec<Frame> = batches.into_iter().flatten().collect();
    let got = data.read_range(cam, T0, T0 + 3600 * US_PER_SEC).unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "frames differ");
    // A range from the middle starts at the key frame before it.
    let mid = data.read_range(cam, T0 + 30 * 40_000, T0 + 60 * 40_000).unwrap();
    assert_eq!(mid.first().map(|f| (f.ts, f.key)), Some((T0 + 25 * 40_000, true)));
    assert_eq!(mid.last().map(|f| f.ts), Some(T0 + 60 * 40_000));
    // Many items: 3 MB at 256 KiB per item. Count them.
    let id = data.send(&Request::ReadRange { stream: cam, start: T0, end: T0 + 3600 * US_PER_SEC });
    let mut items = 0;
    loop {
        let a = data.recv().unwrap();
        assert_eq!(a.header.request_id, id);
        match a.msg {
            ServerMessage::StreamItem(_) => items += 1,
            ServerMessage::StreamEnd(e) => {
                assert_eq!(e.frames, 1000);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(items >= 10, "{items} items");
    // Syncing every stream, and a named one.
    data.call(Request::Sync { streams: vec![] }).unwrap();
    data.call(Request::Sync { streams: vec![cam] }).unwrap();
    assert_eq!(data.call(Request::Sync { streams: vec![StreamId(3)] }).unwrap_err().code(), ErrorCode::StreamNotFound);
}

#[test]
fn a_refused_frame_keeps_the_ones_before_it() {
    let s = TestServer::start();
    let mut sig = s.client(Port::Signalling);
    let mut data = s.client(Port::Data);
    let cam = register(&mut sig, s.pool("video"), "cam-1");
    let mut batch = frames(0, 10, 100);
    batch[6].ts = batch[2].ts; // out of order
    let err = data.call(Request::Append { stream: cam, sync: false, frames: batch }).unwrap_err();
    assert_eq!(err.code(), ErrorCode::OutOfOrder);
    assert!(err.to_string().contains("after 6 of 10 frames"), "{err}");
    data.call(Request::ResumeStream { stream: cam }).unwrap();
    data.call(Request::FlushStream { stream: cam }).unwrap();
    let got = data.read_range(cam, T0, T0 + US_PER_SEC).unwrap();
    assert_eq!(got.len(), 6);
    // Empty frames and unknown streams are refused; the connection goes on.
    let empty = vec![Frame { ts: T0 + US_PER_SEC, key: true, data: Bytes::new() }];
    let err = data.call(Request::Append { stream: cam, sync: false, frames: empty }).unwrap_err();
    assert_eq!(err.code(), ErrorCode::FrameSize);
    let err = data.read_range(StreamId(42), T0, T0 + 1).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StreamNotFound);
    data.ping().unwrap();
}

/// Batches pipelined behind a refused one are refused too (they are on
/// their way before the client can know), and so are the stream's flushes
/// and syncs, until the client says it has reported the failure
/// (`resume_stream`): what the stream holds stays a prefix of what was
/// sent, with no hole followed by later frames. Other streams and other
/// connections go on.
#[test]
fn batches_behind_a_refused_one_are_refused_until_the_stream_is_resumed() {
    let s = TestServer::start();
    let mut sig = s.client(Port::Signalling);
    let mut data = s.client(Port::Data);
    let cam = register(&mut sig, s.pool("video"), "cam-1");
    let other = register(&mut sig, s.pool("video"), "cam-2");
    let mut bad = frames(10, 10, 100);
    bad[3].data = content(13, 2 << 20); // larger than a 1 MiB segment holds
    let ids = [
        data.send(&Request::Append { stream: cam, sync: false, frames: frames(0, 10, 100) }),
        data.send(&Request::Append { stream: cam, sync: false, frames: bad }),
        data.send(&Request::Append { stream: cam, sync: false, frames: frames(20, 10, 100) }),
        data.send(&Request::Append { stream: other, sync: false, frames: frames(0, 10, 100) }),
        data.send(&Request::Append { stream: cam, sync: true, frames: frames(30, 10, 100) }),
        data.send(&Request::FlushStream { stream: cam }),
        data.send(&Request::Sync { streams: vec![other, cam] }),
    ];
    assert!(matches!(data.reply(ids[0]).unwrap(), Reply::Append { appended: 10 }));
    let first = data.reply(ids[1]).unwrap_err();
    assert_eq!(first.code(), ErrorCode::FrameSize);
    assert!(first.to_string().contains("after 3 of 10 frames"), "{first}");
    for &id in &ids[2..] {
        match data.reply(id) {
            Ok(Reply::Append { appended }) if id == ids[3] => assert_eq!(appended, 10, "the other stream goes on"),
            Err(e) if id != ids[3] => {
                assert_eq!(e.code(), ErrorCode::FrameSize, "{e}");
                assert!(e.to_string().contains("an earlier append on this connection failed"), "{e}");
            }
            other => panic!("request {id}: {other:?}"),
        }
    }
    // Another connection is not held back by this one's refusal.
    let mut data2 = s.client(Port::Data);
    data2.call(Request::Sync { streams: vec![cam] }).unwrap();
    // Resumed: the stream goes on after a hole the client was told of.
    data.call(Request::ResumeStream { stream: cam }).unwrap();
    data.call(Request::Append { stream: cam, sync: true, frames: frames(40, 10, 100) }).unwrap();
    let got: Vec<i64> =
        data.read_range(cam, T0, T0 + 60 * 40_000).unwrap().iter().map(|f| (f.ts - T0) / 40_000).collect();
    let want: Vec<i64> = (0..13).chain(40..50).collect();
    assert_eq!(got, want);
    data.call(Request::FlushStream { stream: other }).unwrap();
    let got = data.read_range(other, T0, T0 + 60 * 40_000).unwrap();
    assert_eq!(got.len(), 10);
}

#[test]
fn pictures_put_get_head_list_delete() {
    let s = TestServer::start();
    let pool = s.pool("pictures");
    let mut c = s.client(Port::Data);
    let mut ids = Vec::new();
    for n in 0..5u64 {
        let meta = PictureMeta {
            camera_id: format!("cam-{}", n % 2),
            captured_at: T0 + n as i64,
            content_type: "image/jpeg".into(),
            key: Some(PictureKey { bucket: "plates".into(), key: format!("2026/11/23/{n}.jpg") }),
        };
        let req = Request::PutPicture { pool, meta, data: content(n, 10_000 + n as usize), sync: n == 4 };
        let Reply::PutPicture { id } = c.call(req).unwrap() else { panic!() };
        ids.push(id);
    }
    c.call(Request::SyncPictures { pool }).unwrap();
    let Reply::GetPicture { picture } = c.call(Request::GetPicture { id: ids[2] }).unwrap() else { panic!() };
    assert_eq!(picture.data, content(2, 10_002));
    assert_eq!(picture.info.meta.camera_id, "cam-0");
    let Reply::GetPictureRange { picture: part } =
        c.call(Request::GetPictureRange { id: ids[2], offset: 100, len: 50 }).unwrap()
    else {
        panic!()
    };
    assert_eq!(part.data, content(2, 10_002).slice(100..150));
    let Reply::HeadPicture { info } = c.call(Request::HeadPicture { id: ids[3] }).unwrap() else { panic!() };
    assert_eq!(info.size, 10_003);
    let key = PictureKey { bucket: "plates".into(), key: "2026/11/23/1.jpg".into() };
    let Reply::GetPictureByKey { picture } = c.call(Request::GetPictureByKey { key: key.clone() }).unwrap() else {
        panic!()
    };
    assert_eq!(picture.info.id, ids[1]);
    let Reply::PictureIdForKey { id } = c.call(Request::PictureIdForKey { key: key.clone() }).unwrap() else {
        panic!()
    };
    assert_eq!(id, ids[1]);
    let query = PictureQuery { pool, camera_id: Some("cam-0".into()), start: T0, end: T0 + 10, limit: 10, after: None };
    let Reply::ListPictures { pictures } = c.call(Request::ListPictures { query }).unwrap() else { panic!() };
    assert_eq!(pictures.iter().map(|p| p.id).collect::<Vec<_>>(), vec![ids[0], ids[2], ids[4]]);
    let Reply::ListKeys { keys } =
        c.call(Request::ListKeys { bucket: "plates".into(), prefix: "2026/".into(), after: None, limit: 3 }).unwrap()
    else {
        panic!()
    };
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0], ("2026/11/23/0.jpg".to_string(), ids[0]));
    c.call(Request::DeletePicture { id: ids[0] }).unwrap();
    assert_eq!(c.call(Request::GetPicture { id: ids[0] }).unwrap_err().code(), ErrorCode::PictureNotFound);
    c.call(Request::DeletePictureByKey { key: key.clone() }).unwrap();
    assert_eq!(c.call(Request::GetPictureByKey { key }).unwrap_err().code(), ErrorCode::KeyNotFound);
    // Pictures go to picture or mixed pools only.
    let meta = PictureMeta { camera_id: "c".into(), captured_at: T0, content_type: String::new(), key: None };
    let req = Request::PutPicture { pool: s.pool("video"), meta, data: content(9, 10), sync: false };
    assert_eq!(c.call(req).unwrap_err().code(), ErrorCode::WrongPoolKind);
}

#[test]
fn the_largest_picture_fits_in_a_frame() {
    // Segments large enough for the engine's largest picture (16 MiB).
    let s = TestServer::with(|c| {
        c.engine.segment_size = pstor_server::ByteSize(32 << 20);
        c.spaces[0].capacity = pstor_server::ByteSize(256 << 20);
        c.pools[1].capacity = pstor_server::ByteSize(64 << 20);
    });
    let pool = s.pool("pictures");
    let mut c = s.client(Port::Data);
    let meta = PictureMeta {
        camera_id: "c".repeat(256),
        captured_at: T0,
        content_type: "i".repeat(127),
        key: Some(PictureKey { bucket: "b".repeat(63), key: "k".repeat(1024) }),
    };
    let data = content(1, 16 << 20);
    let Reply::PutPicture { id } = c.call(Request::PutPicture { pool, meta, data: data.clone(), sync: false }).unwrap()
    else {
        panic!()
    };
    let Reply::GetPicture { picture } = c.call(Request::GetPicture { id }).unwrap() else { panic!() };
    assert!(picture.data == data);
}

#[test]
fn wrong_port_and_unknown_operations_are_refused_and_the_connection_goes_on() {
    let s = TestServer::start();
    let mut sig = s.client(Port::Signalling);
    let err = sig.call(Request::Sync { streams: vec![] }).unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownRequest);
    assert!(err.to_string().contains("not served on the signalling port"), "{err}");
    sig.ping().unwrap();
    let mut data = s.client(Port::Data);
    assert_eq!(data.call(Request::ListPools {}).unwrap_err().code(), ErrorCode::UnknownRequest);
    // An op number nobody knows, with a body.
    let bytes = frame::frame_bytes(Kind::Request, 0x7abc, 77, b"whatever", DEFAULT_MAX_BODY).unwrap();
    std::io::Write::write_all(&mut data.stream, &bytes).unwrap();
    let a = data.recv().unwrap();
    assert_eq!((a.header.kind, a.header.op, a.header.request_id), (Kind::Error, 0x7abc, 77));
    assert_eq!(a.code(), Some(ErrorCode::UnknownRequest));
    data.ping().unwrap();
}

#[test]
fn frames_arriving_in_pieces_of_any_size_are_reassembled() {
    // Large bodies (64 KiB and more) are read into pooled buffers of their
    // own, small ones split off the connection's buffer: interleave both,
    // and deliver the bytes in pieces that cut headers and bodies anywhere.
    let s = TestServer::start();
    let mut sig = s.client(Port::Signalling);
    let mut data = s.client(Port::Data);
    let cam = register(&mut sig, s.pool("video"), "cam-1");
    let sizes = [100usize, 70_000, 30, 200_000, 5_000, 65_536, 1];
    let batches: Vec<Vec<Frame>> =
        sizes.iter().enumerate().map(|(i, &n)| frames(i as u64 * 2, 2, n.div_ceil(2))).collect();
    let mut wire = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        let req = Request::Append { stream: cam, sync: i + 1 == batches.len(), frames: b.clone() };
        wire.extend_from_slice(&req.to_frame(i as u32 + 1, DEFAULT_MAX_BODY).unwrap());
    }
    let cuts = [1usize, 19, 2, 65_536, 7, 100_000, 3, 20, 150_000];
    let mut at = 0;
    for n in cuts.iter().cycle() {
        let end = (at + n).min(wire.len());
        data.stream.write_all(&wire[at..end]).unwrap();
        data.stream.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        at = end;
        if at == wire.len() {
            break;
        }
    }
    for (i, b) in batches.iter().enumerate() {
        let Reply::Append { appended } = data.reply(i as u32 + 1).unwrap() else { panic!() };
        assert_eq!(appended as usize, b.len());
    }
    let want: Vec<Frame> = batches.into_iter().flatten().collect();
    let got = data.read_range(cam, T0, T0 + 3600 * US_PER_SEC).unwrap();
    assert!(got == want, "frames differ");
}
