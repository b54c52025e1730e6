//! End-to-end behaviour of spaces, pools, streams and reads on real files.

mod common;
use common::*;
use pstor_core::*;

#[test]
fn record_sync_read_back_and_reopen() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _space, pool) = rig(tmp.path(), 16, 8, OverwriteStrategy::OverwriteOldest);
    let a = camera(&rig.engine, pool, 1);
    let b = camera(&rig.engine, pool, 2);
    let fa = record(&rig.engine, a, 1, T0, 500);
    let fb = record(&rig.engine, b, 2, T0 + 5, 300);
    rig.engine.sync_all().expect("sync");
    let got = read_all(&rig.engine, a, T0, T0 + 1_000 * US_PER_SEC);
    assert_eq!(got.len(), fa.len());
    for (g, w) in got.iter().zip(&fa) {
        assert_eq!((g.ts, g.key, &g.data), (w.0, w.1, &w.2));
    }
    // A range starting mid-GOP starts at the key frame before it.
    let mid = T0 + 30 * 40_000;
    let got = read_all(&rig.engine, b, mid, mid + 40_000 * 10);
    assert_eq!(got[0].ts, T0 + 5 + 25 * 40_000);
    assert!(got[0].key);
    rig.engine.close().expect("close");
    drop(rig.engine);
    let e = open(tmp.path(), rig.storage.clone(), rig.clock.clone());
    let got = read_all(&e, a, T0, T0 + 1_000 * US_PER_SEC);
    assert_eq!(got.len(), fa.len());
    let got = read_all(&e, b, T0, T0 + 1_000 * US_PER_SEC);
    assert_eq!(got.len(), fb.len());
    // The newest stored frame still bounds appends after a reopen.
    let last = fa.last().expect("frames").0;
    assert!(matches!(e.append(a, last, true, payload(1, last, 10)), Err(Error::DuplicateTimestamp { .. })));
    assert!(matches!(e.append(a, last - 1, true, payload(1, last, 10)), Err(Error::OutOfOrder { .. })));
    // Appending continues after the last frame.
    let more = record(&e, a, 1, T0 + 500 * 40_000, 100);
    e.sync(a).expect("sync");
    let got = read_all(&e, a, T0, T0 + 1_000 * US_PER_SEC);
    assert_eq!(got.len(), fa.len() + more.len());
    let report = e.check(false).expect("check");
    assert!(report.is_clean(), "{:?}", report.problems);
    assert!(report.records > 0);
    e.close().expect("close");
}

#[test]
fn a_new_codec_config_replaces_the_old_one_and_survives_a_reopen() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _space, pool) = rig(tmp.path(), 16, 8, OverwriteStrategy::OverwriteOldest);
    let a = camera(&rig.engine, pool, 1);
    let b = camera(&rig.engine, pool, 2);
    record(&rig.engine, a, 1, T0, 50);
    rig.engine.set_codec_config(a, "H265", &[1, 2, 3, 4]).expect("set");
    // Setting what is there already is no change (and no catalog write).
    rig.engine.set_codec_config(a, "H265", &[1, 2, 3, 4]).expect("same again");
    assert!(matches!(rig.engine.set_codec_config(StreamId(999), "H264", &[]), Err(Error::StreamNotFound(_))));
    assert!(matches!(rig.engine.set_codec_config(a, "H264", &vec![0; 64 * 1024 + 1]), Err(Error::InvalidArgument(_))));
    rig.engine.close().expect("close");
    drop(rig.engine);
    let e = open(tmp.path(), rig.storage.clone(), rig.clock.clone());
    let sa = e.stream(a).expect("a").config;
    assert_eq!((sa.codec.as_str(), sa.codec_config.as_slice()), ("H265", &[1u8, 2, 3, 4][..]));
    // The other stream and the recorded frames are as they were.
    let sb = e.stream(b).expect("b").config;
    assert_eq!((sb.codec.as_str(), sb.codec_config.as_slice()), ("H264", &[0u8, 0, 0, 1, 0x67][..]));
    assert_eq!(read_all(&e, a, T0, T0 + 100 * US_PER_SEC).len(), 50);
    e.close().expect("close");
}

#[test]
fn camera_status_reports_reach_the_event_feed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _space, _pool) = rig(tmp.path(), 16, 8, OverwriteStrategy::OverwriteOldest);
    let after = rig.engine.events().last_seq();
    rig.engine.report_camera_status(7, "Gate (cam-7)", "normal", "streaming_error", "connection refused");
    let events = rig.engine.events().poll(after);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind.name(), "camera_status");
    assert_eq!(
        events[0].kind.to_string(),
        "recording schedule 7 camera Gate (cam-7): normal → streaming_error: connection refused"
    );
    rig.engine.close().expect("close");
}
