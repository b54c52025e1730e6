//! Writes the fuzz seed corpus (`fuzz/seeds/<target>/`) from real engine
//! output: a tiny engine on the in-memory backend records video and
//! pictures, closes cleanly, and its superblock, catalog, checkpoint,
//! segment headers, records, footers and needles are cut out of its files.
//!
//! The SDK protocol's seeds (`sdk_frame`) are frames as the server and a
//! client exchange them: handshake, requests, replies, errors, stream items.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml -p pstor-fuzz-common --bin make_seeds [DIR]`

use pstor_core::internals::{
    encode_needle, encode_record, fuzz_catalog, fuzz_checkpoint, fuzz_footer, fuzz_needle, fuzz_record,
    fuzz_segment_header, fuzz_superblock,
};
use pstor_core::io::{read_whole, Storage};
use pstor_fuzz_common::*;
use std::path::{Path, PathBuf};

fn data_file(segment: u32) -> PathBuf {
    PathBuf::from(format!("{SPACE_DIR}/seg-{:05}.dat", segment / 4))
}

/// `len` bytes at `offset` of segment `segment`.
fn segment_bytes(storage: &dyn Storage, segment: u32, offset: u64, len: usize) -> Vec<u8> {
    let file = read_whole(storage, &data_file(segment)).expect("data file");
    let at = (segment % 4) as usize * SEG as usize + offset as usize;
    file[at..at + len].to_vec()
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).expect("seed folder");
    std::fs::write(d.join(name), bytes).expect("seed file");
}

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds"));
    let rig = Rig::new();
    for i in 0..200i64 {
        for (n, &s) in rig.streams.iter().enumerate() {
            let len = if i % 25 == 0 { 3_000 } else { 400 + (i as usize * 37) % 900 };
            rig.engine.append(s, T0 + i * 40_000 + n as i64, i % 25 == 0, content(i as u64, len)).expect("append");
        }
    }
    let mut ids = Vec::new();
    for n in 0..40u64 {
        let meta = picture_meta(n, n as u8);
        ids.push(rig.engine.put_picture(rig.pictures, &meta, &content(n, 500 + n as usize * 50)).expect("put"));
    }
    rig.engine.close().expect("close");
    let storage: &dyn Storage = rig.storage.as_ref();
    let file = |p: &str| read_whole(storage, Path::new(p)).expect("engine file");

    // Seeds are worth most when they decode: check that they do.
    let sb = file("/mem/space/space.pst");
    fuzz_superblock(&sb).expect("superblock seed decodes");
    write(&dir, "superblock", "space", &sb);
    let catalog = file("/mem/engine/catalog.pst");
    fuzz_catalog(&catalog).expect("catalog seed decodes");
    write(&dir, "catalog", "engine", &catalog);
    let checkpoint = file("/mem/space/checkpoint.pst");
    fuzz_checkpoint(&checkpoint).expect("checkpoint seed decodes");
    write(&dir, "checkpoint", "clean", &checkpoint);
    let (mut headers, mut records, mut footers) = (0, 0, 0);
    for seg in 0..8u32 {
        let header = segment_bytes(storage, seg, 0, 64);
        headers += usize::from(fuzz_segment_header(&header).is_ok());
        write(&dir, "segment_header", &format!("seg{seg}"), &header);
        let record = segment_bytes(storage, seg, 4096, 8192);
        records += usize::from(fuzz_record(&record).is_ok());
        write(&dir, "record", &format!("seg{seg}"), &record);
        let mut end = SEG.to_le_bytes().to_vec();
        end.extend(segment_bytes(storage, seg, SEG - 4096, 4096));
        footers += usize::from(fuzz_footer(&end).is_ok());
        write(&dir, "footer", &format!("seg{seg}"), &end);
    }
    assert!(
        headers >= 4 && records >= 2 && footers >= 2,
        "{headers} headers, {records} records, {footers} footers decode"
    );
    let frames: Vec<_> = (0..10i64).map(|i| (T0 + i * 40_000, i == 0, content(i as u64, 100 + i as usize))).collect();
    write(&dir, "record", "encoded", &encode_record(7, &frames));
    for (n, id) in ids.iter().enumerate().step_by(8) {
        let needle = segment_bytes(storage, id.segment, id.offset as u64, id.len as usize);
        fuzz_needle(&needle).expect("needle seed decodes");
        write(&dir, "needle", &format!("put{n}"), &needle);
        write(&dir, "picture_id", &format!("text{n}"), id.to_string().as_bytes());
        write(&dir, "picture_id", &format!("bytes{n}"), &id.to_bytes());
    }
    write(&dir, "needle", "encoded", &encode_needle(&picture_meta(3, 1), &content(3, 700)));
    // segment_scan: [flags][offset][bytes]: damage at a header, a record, a
    // trailer, the superblock and the checkpoint, from a clean close and
    // from a crash image.
    let scan = |flags: u8, offset: u32, bytes: &[u8]| {
        let mut v = vec![flags];
        v.extend(offset.to_le_bytes());
        v.extend(bytes);
        v
    };
    let junk = content(99, 64);
    for (name, flags, offset) in [
        ("header", 0u8, 0u32),
        ("record", 0, 4096 + 40),
        ("trailer", 0, SEG as u32 - 40),
        ("record_crashed", 1, SEG as u32 + 4096 + 100),
        ("superblock", 12, 8),
        ("checkpoint", 14, 30),
        ("catalog", 18, 20),
    ] {
        write(&dir, "segment_scan", name, &scan(flags, offset, &junk));
    }
    sdk_frames(&dir, ids[0]);
    // ops: arbitrary bytes decode to operation lists.
    for n in 0..6u64 {
        write(&dir, "ops", &format!("random{n}"), &content(1_000 + n, 64 + n as usize * 96));
    }
    println!("seeds written to {}", dir.display());
}

/// `sdk_frame` seeds: one frame (or a few, back to back) per file, each
/// checked to decode.
fn sdk_frames(dir: &Path, id: pstor_core::PictureId) {
    use bytes::Bytes;
    use pstor_core::*;
    use pstor_proto::message::encode_stream_item;
    use pstor_proto::*;
    let max = DEFAULT_MAX_BODY;
    let stream = StreamId(0x1234_5678_9abc);
    let meta = picture_meta(3, 1);
    let frames: Vec<Frame> = (0..6i64)
        .map(|i| Frame { ts: T0 + i * 40_000, key: i == 0, data: content(i as u64, 60 + i as usize) })
        .collect();
    let server = ServerHandshake::new(Port::Data, "pstor-server seeds", max, 64);
    let mut client = ClientHandshake::new("PSAKSEEDSEEDSEED0001", "seed secret key 0123");
    let auth = client.answer(server.hello());
    let ok = server.verify(&auth, |_| Some("seed secret key 0123".into())).expect("seed handshake verifies");
    let hs = |kind, op, b: Bytes| frame::frame_bytes(kind, op, 0, &b, max).expect("fits");
    let mut seeds: Vec<(&str, Bytes)> = vec![
        ("hello", server.hello_frame()),
        ("auth", hs(Kind::Request, op::AUTH, pstor_proto::wire::to_body(&auth))),
        ("auth_ok", hs(Kind::Reply, op::AUTH, pstor_proto::wire::to_body(&ok))),
    ];
    let requests = [
        ("ping", Request::Ping {}),
        ("append", Request::Append { stream, sync: true, frames: frames.clone() }),
        ("read_range", Request::ReadRange { stream, start: T0, end: T0 + 1_000_000 }),
        (
            "put_picture",
            Request::PutPicture { pool: PoolId(7), meta: meta.clone(), data: content(9, 300), sync: false },
        ),
        ("get_picture", Request::GetPicture { id }),
        (
            "create_pool",
            Request::CreatePool {
                spec: PoolSpec {
                    name: "video".into(),
                    kind: PoolKind::Mixed,
                    capacity: 1 << 30,
                    spaces: vec![SpaceId(3)],
                    strategy: OverwriteStrategy::OverwriteOldest,
                    cycle_days: 30,
                    max_lock_pct: 10,
                },
            },
        ),
        (
            "list_pictures",
            Request::ListPictures {
                query: PictureQuery {
                    pool: PoolId(7),
                    camera_id: Some("cam-1".into()),
                    start: T0,
                    end: T0 + 1,
                    limit: 100,
                    after: Some((T0, id)),
                },
            },
        ),
        ("poll_events", Request::PollEvents { after_seq: 3, max: 100, wait_ms: 1000 }),
        ("inspect_day", Request::InspectDay { stream, date: Date { year: 2026, month: 11, day: 23 } }),
    ];
    for (name, r) in requests {
        seeds.push((name, r.to_frame(7, max).expect("fits")));
    }
    let replies = [
        (
            "reply_get_picture",
            Reply::GetPicture {
                picture: Picture {
                    info: PictureInfo { id, meta, stored_at: T0, size: 300, md5: [7; 16] },
                    data: content(9, 300),
                },
            },
        ),
        (
            "reply_poll_events",
            Reply::PollEvents {
                events: vec![Event {
                    seq: 4,
                    at: T0,
                    kind: EventKind::PoolFull { pool: PoolId(7), reason: FullReason::StopWhenFull },
                }],
                latest_seq: 4,
            },
        ),
        ("reply_append", Reply::Append { appended: 6 }),
    ];
    for (name, r) in replies {
        seeds.push((name, r.to_frame(7, max).expect("fits")));
    }
    seeds.push(("stream_item", encode_stream_item(op::READ_RANGE, 7, &frames, max).expect("fits")));
    seeds.push(("stream_end", StreamEnd { frames: 6 }.to_frame(op::READ_RANGE, 7)));
    seeds.push(("error", error_to_frame(&Error::PoolNotFound(PoolId(7)), op::GET_POOL, 7)));
    // Pipelined: several frames back to back.
    let mut pipelined = Vec::new();
    for (_, b) in &seeds[3..6] {
        pipelined.extend_from_slice(b);
    }
    seeds.push(("pipelined", Bytes::from(pipelined)));
    for (name, bytes) in &seeds {
        let (f, _) = decode_frame(bytes, u32::MAX).expect("seed frame decodes").expect("seed frame is complete");
        decode_client_frame(&f).map(|_| ()).or_else(|_| decode_server_frame(&f).map(|_| ())).expect("seed decodes");
        write(dir, "sdk_frame", name, bytes);
    }
}
