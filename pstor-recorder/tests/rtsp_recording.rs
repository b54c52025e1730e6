//! The recorder against a real RTSP server (gst-rtsp-server) serving
//! pre-encoded files, checked against ffprobe's view of those files.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pstor_core::{OverwriteStrategy, StreamKind};
use pstor_recorder::{RecordingState, StreamChoice};
use std::net::TcpListener;
use std::time::Duration;

const MIB: u64 = 1 << 20;

fn record_and_check(path: &str, source: &str, frames: u64) {
    let peer = Peer::start();
    let st = store(256 * MIB, OverwriteStrategy::OverwriteOldest);
    let rig = rig(&st.engine, quick());
    rig.recorder.set(1, spec(schedule("cam-1", &peer.url(path), st.pool), None));
    let status = wait_for(&rig, 1, Duration::from_secs(30), "frames recorded", normal_with(frames));
    let m = manifest(source);
    assert_eq!(status.codec.as_deref(), Some(m.codec.as_str()));
    assert_eq!((status.width, status.height), (Some(m.width), Some(m.height)));
    assert!(status.fps > 20.0 && status.fps < 30.0, "fps {}", status.fps);
    assert!(status.bitrate_bps > 0);
    // The shutdown waits for the camera's writer to sync and end (a
    // `remove` would not: read right after it, the last frames could still
    // be on their way into the engine).
    rig.recorder.shutdown(Duration::from_secs(10));
    let (info, stored) = stored(&st.engine, "cam-1");
    assert_eq!(info.config.codec, m.codec);
    assert_eq!(hex(&info.config.codec_config), m.extradata_hex, "the stream's codec config is the file's avcC/hvcC");
    assert!(stored.len() as u64 >= frames);
    assert_frames_match_source(&stored, &m);
    // 25 fps: 40 ms apart, within the slew of the timestamp rule.
    for w in stored.windows(2) {
        let d = w[1].ts - w[0].ts;
        assert!((35_000..=45_000).contains(&d), "frames {d} µs apart");
    }
    // Key frames carry their parameter sets in band (docs/media.md).
    for f in stored.iter().filter(|f| f.key) {
        let au = pstor_media::AccessUnit::parse(pstor_media::Codec::from_name(&m.codec).unwrap(), &f.data).unwrap();
        assert!(au.sps().is_some() && au.pps().is_some(), "a key frame without SPS/PPS");
    }
}

#[test]
fn records_an_h264_camera_exactly_as_the_source() {
    record_and_check("/Streaming/Channels/101", "h264-main", 150);
}

#[test]
fn records_an_h265_camera_exactly_as_the_source() {
    record_and_check("/Streaming/Channels/201", "h265-main", 100);
}

#[test]
fn the_hikvision_template_picks_main_and_sub_streams() {
    let peer = Peer::start();
    let st = store(64 * MIB, OverwriteStrategy::OverwriteOldest);
    let rig = rig(&st.engine, quick());
    let mut s = schedule("cam-t", "unused", st.pool);
    s.url = None;
    s.port = peer.port;
    s.stream = StreamChoice::Sub;
    rig.recorder.set(1, spec(s, None));
    let status = wait_for(&rig, 1, Duration::from_secs(30), "sub stream frames", normal_with(25));
    let m = manifest("h264-sub");
    assert_eq!((status.width, status.height), (Some(m.width), Some(m.height)));
    rig.recorder.shutdown(Duration::from_secs(10));
    let id = st.engine.find_stream("cam-t", 1, StreamKind::Sub).expect("sub stream");
    let frames: Vec<_> = st.engine.read(id, 0, i64::MAX / 2).unwrap().collect::<pstor_core::Result<_>>().unwrap();
    assert_frames_match_source(&frames, &m);
}

#[test]
fn digest_authentication_with_right_and_wrong_passwords() {
    let peer = Peer::start();
    let st = store(64 * MIB, OverwriteStrategy::OverwriteOldest);
    let rig = rig(&st.engine, quick());
    let url = peer.url("/Streaming/Channels/301");
    rig.recorder.set(1, spec(schedule("cam-ok", &url, st.pool), Some(("cam", "secret-pass"))));
    rig.recorder.set(2, spec(schedule("cam-bad", &url, st.pool), Some(("cam", "wrong"))));
    rig.recorder.set(3, spec(schedule("cam-none", &url, st.pool), None));
    wait_for(&rig, 1, Duration::from_secs(30), "authenticated frames", normal_with(25));
    for id in [2, 3] {
        let s = wait_for(&rig, id, Duration::from_secs(20), "an authentication error", |s| {
            s.state == RecordingState::StreamingError
        });
        assert!(s.reason.as_deref().unwrap().contains("authentication failed"), "{:?}", s.reason);
        assert_eq!(s.frames_recorded, 0);
    }
    rig.recorder.shutdown(Duration::from_secs(10));
    assert!(st.engine.find_stream("cam-bad", 1, StreamKind::Main).is_none());
}

#[test]
fn no_video_garbage_and_refused_connections_are_streaming_errors() {
    let peer = Peer::start();
    let st = store(64 * MIB, OverwriteStrategy::OverwriteOldest);
    let rig = rig(&st.engine, quick());
    // A server that answers anything with garbage.
    let garbage = TcpListener::bind("127.0.0.1:0").unwrap();
    let garbage_port = garbage.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in garbage.incoming().flatten() {
            use std::io::Write;
            let mut c = c;
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\n\r\n\x00\xff garbage \x13\x37\r\n\r\n");
        }
    });
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    rig.recorder.set(1, spec(schedule("cam-audio", &peer.url("/audio-only"), st.pool), None));
    rig.recorder.set(2, spec(schedule("cam-junk", &format!("rtsp://127.0.0.1:{garbage_port}/x"), st.pool), None));
    rig.recorder.set(3, spec(schedule("cam-closed", &format!("rtsp://127.0.0.1:{closed}/x"), st.pool), None));
    rig.recorder.set(4, spec(schedule("cam-404", &peer.url("/no/such/path"), st.pool), None));
    for (id, word) in [(1, "no H.264/H.265 video"), (2, "cannot reach"), (3, "cannot reach"), (4, "cannot reach")] {
        let s = wait_for(&rig, id, Duration::from_secs(20), word, |s| s.state == RecordingState::StreamingError);
        assert!(s.reason.as_deref().unwrap().contains(word), "schedule {id}: {:?}", s.reason);
    }
    // The failing ones retry with backoff, counted.
    wait_for(&rig, 3, Duration::from_secs(20), "reconnects", |s| s.reconnects >= 2);
    rig.recorder.shutdown(Duration::from_secs(10));
}

#[test]
fn a_killed_and_restarted_camera_reconnects_without_duplicating_frames() {
    let mut peer = Peer::start();
    let st = store(256 * MIB, OverwriteStrategy::OverwriteOldest);
    let rig = rig(&st.engine, quick());
    rig.recorder.set(1, spec(schedule("cam-1", &peer.url("/Streaming/Channels/101"), st.pool), None));
    wait_for(&rig, 1, Duration::from_secs(30), "frames", normal_with(50));
    peer.kill();
    let down =
        wait_for(&rig, 1, Duration::from_secs(20), "a streaming error", |s| s.state == RecordingState::StreamingError);
    // Down for longer than inspection's gap tolerance (5 s).
    std::thread::sleep(Duration::from_secs(6));
    peer.restart();
    let before = down.frames_recorded;
    wait_for(&rig, 1, Duration::from_secs(60), "recording again", move |s| {
        s.state == RecordingState::Normal && s.frames_recorded >= before + 50
    });
    let status = rig.recorder.status(1).unwrap();
    assert!(status.reconnects >= 1);
    rig.recorder.shutdown(Duration::from_secs(10));
    let (_, frames) = stored(&st.engine, "cam-1");
    assert_frames_match_source(&frames, &manifest("h264-main"));
    // The outage is a gap in the recorded ranges (what inspection shows).
    let id = st.engine.find_stream("cam-1", 1, StreamKind::Main).unwrap();
    let ranges = st.engine.recorded_ranges(id, 0, i64::MAX / 2, 1_000_000).unwrap();
    assert!(ranges.len() >= 2, "the outage shows as a gap: {ranges:?}");
    // And video inspection of that day shows it: a gap that covers the
    // outage, in an exception hour.
    let (outage_start, outage_end) = (ranges[0].1, ranges[1].0);
    let date = pstor_core::Date::from_days(outage_start.div_euclid(pstor_core::US_PER_DAY));
    let day = st.engine.inspect_day(id, date).unwrap();
    let hour = day.hours.iter().find(|h| h.gaps.iter().any(|g| g.0 < outage_end && g.1 > outage_start));
    assert!(hour.is_some_and(|h| h.exception), "inspection of {date:?} does not show the outage: {day:?}");
    let kinds: Vec<_> = rig.transitions.lock().unwrap().iter().map(|t| t.to).collect();
    let normal_after_error = kinds.windows(2).any(|w| w == [RecordingState::StreamingError, RecordingState::Normal]);
    assert!(normal_after_error, "transitions {kinds:?}");
}

#[test]
fn a_stalled_camera_is_detected_and_recovers() {
    let peer = Peer::start();
    let st = store(128 * MIB, OverwriteStrategy::OverwriteOldest);
    let rig = rig(&st.engine, quick());
    rig.recorder.set(1, spec(schedule("cam-1", &peer.url("/Streaming/Channels/102"), st.pool), None));
    wait_for(&rig, 1, Duration::from_secs(30), "frames", normal_with(25));
    peer.pause(true);
    let s = wait_for(&rig, 1, Duration::from_secs(20), "a stall", |s| s.state == RecordingState::StreamingError);
    assert!(
        s.reason.as_deref().unwrap().contains("no frame for 3 s") || s.reason.as_deref().unwrap().contains("timed out"),
        "{:?}",
        s.reason
    );
    peer.pause(false);
    let before = s.frames_recorded;
    wait_for(&rig, 1, Duration::from_secs(60), "recording again", move |s| {
        s.state == RecordingState::Normal && s.frames_recorded > before + 25
    });
    rig.recorder.shutdown(Duration::from_secs(10));
    let id = st.engine.find_stream("cam-1", 1, StreamKind::Main).unwrap();
    let frames: Vec<_> = st.engine.read(id, 0, i64::MAX / 2).unwrap().collect::<pstor_core::Result<_>>().unwrap();
    assert_frames_match_source(&frames, &manifest("h264-sub"));
}

#[test]
fn event_recording_keeps_pre_record_and_adds_post_record() {
    let peer = Peer::start();
    let st = store(128 * MIB, OverwriteStrategy::OverwriteOldest);
    let rig = rig(&st.engine, quick());
    rig.recorder.set(1, spec(event_schedule("cam-e", &peer.url("/Streaming/Channels/102"), st.pool, 3, 2), None));
    // Armed and buffering, nothing written.
    let idle = wait_for(&rig, 1, Duration::from_secs(30), "frames buffered", |s| {
        s.state == RecordingState::Normal && s.last_frame_at.is_some()
    });
    assert!(!idle.recording);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(rig.recorder.status(1).unwrap().frames_recorded, 0);
    let started_at = rig.recorder.status(1).unwrap().last_frame_at.unwrap();
    rig.recorder.event(1, true).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    rig.recorder.event(1, false).unwrap();
    let stopped_at = pstor_recorder::rtsp::now_us();
    std::thread::sleep(Duration::from_secs(4));
    let s = rig.recorder.status(1).unwrap();
    assert!(!s.event_active && !s.recording, "{s:#?}");
    rig.recorder.shutdown(Duration::from_secs(10));
    let (_, frames) = stored(&st.engine, "cam-e");
    assert_frames_match_source(&frames, &manifest("h264-sub"));
    let (first, last) = (frames[0].ts, frames.last().unwrap().ts);
    // Pre-record: at least 3 s before the event, at most one GOP (1 s) more.
    let pre = started_at - first;
    assert!((3_000_000..=4_300_000).contains(&pre), "pre-record {pre} µs");
    // Post-record: about 2 s after the stop.
    let post = last - stopped_at;
    assert!((1_300_000..=2_700_000).contains(&post), "post-record {post} µs");
    // One continuous stretch: no frame lost between buffer and live.
    assert!(frames.windows(2).all(|w| w[1].ts - w[0].ts < 100_000));
    assert!(rig.recorder.event(99, true).is_err());
}

#[test]
fn a_resolution_change_updates_the_codec_config_and_keeps_every_frame() {
    let peer = Peer::start();
    let st = store(256 * MIB, OverwriteStrategy::OverwriteOldest);
    let rig = rig(&st.engine, quick());
    rig.recorder.set(1, spec(schedule("cam-r", &peer.url("/resolution-change"), st.pool), None));
    // Long enough to cross a switch (10 s each).
    wait_for(&rig, 1, Duration::from_secs(60), "frames over a switch", normal_with(375));
    rig.recorder.shutdown(Duration::from_secs(10));
    let (main, alt) = (manifest("h264-main"), manifest("h264-alt"));
    let (info, frames) = stored(&st.engine, "cam-r");
    let configs = [main.extradata_hex.clone(), alt.extradata_hex.clone()];
    assert!(configs.contains(&hex(&info.config.codec_config)), "the codec config is one of the two sources'");
    let mut sizes = std::collections::BTreeSet::new();
    for f in &frames {
        let h = frame_hash("H264", &f.data);
        let in_main = main.packets.iter().any(|p| p.sha256 == h);
        let in_alt = alt.packets.iter().any(|p| p.sha256 == h);
        assert!(in_main || in_alt, "a frame of neither source");
        if f.key {
            let au = pstor_media::AccessUnit::parse(pstor_media::Codec::H264, &f.data).unwrap();
            let sps = pstor_media::sps::Sps::parse(pstor_media::Codec::H264, au.sps().unwrap()).unwrap();
            sizes.insert(sps.dimensions());
        }
    }
    assert_eq!(sizes.len(), 2, "key frames carry both resolutions' SPS: {sizes:?}");
    assert!(frames.windows(2).all(|w| w[1].ts > w[0].ts && w[1].ts - w[0].ts < 100_000), "no gap at the switch");
}

#[test]
fn a_full_pool_with_strategy_stop_is_a_recording_error_that_spares_other_cameras() {
    let peer = Peer::start();
    let st = store(4 * MIB, OverwriteStrategy::StopWhenFull);
    let other = add_pool(&st.engine, st.dir.path(), "other", 128 * MIB, OverwriteStrategy::OverwriteOldest);
    let rig = rig(&st.engine, quick());
    rig.recorder.set(1, spec(schedule("cam-full", &peer.url("/Streaming/Channels/101"), st.pool), None));
    rig.recorder.set(2, spec(schedule("cam-fine", &peer.url("/Streaming/Channels/102"), other), None));
    let s =
        wait_for(&rig, 1, Duration::from_secs(60), "a recording error", |s| s.state == RecordingState::RecordingError);
    assert!(s.reason.is_some(), "{s:#?}");
    let fine = rig.recorder.status(2).unwrap().frames_recorded;
    wait_for(&rig, 2, Duration::from_secs(20), "the other camera goes on", move |s| {
        s.state == RecordingState::Normal && s.frames_recorded > fine + 50
    });
    assert_eq!(rig.recorder.status(1).unwrap().state, RecordingState::RecordingError);
    rig.recorder.shutdown(Duration::from_secs(10));
    let (_, frames) = stored(&st.engine, "cam-full");
    assert_frames_match_source(&frames, &manifest("h264-main"));
}
