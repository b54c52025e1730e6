//! Operation sequences against a model: a tiny engine on the in-memory
//! backend runs appends, syncs, picture puts and deletes, reads, crashes
//! (a crash image with torn and reordered unsynced writes) and clean
//! reopens, and after every step what the engine returns is checked:
//!
//! - every frame a returned sync covered is read back byte for byte after
//!   any crash, a read returns a prefix of the appends that holds every
//!   synced frame (the prefix property, docs/design.md: never a frame
//!   missing before a later one, refused appends in between or not), and
//!   nothing read back is something never written;
//! - every synced picture comes back identical; a returned delete stays
//!   deleted; no id ever returns another picture's bytes;
//! - `check()` finds nothing wrong after every reopen.
//!
//! Sizes keep every sequence far below the pools' capacity, so nothing is
//! overwritten and the model needs no overwrite rules.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use pstor_core::*;
use pstor_fuzz_common::*;
use std::sync::Arc;

#[derive(Debug, Arbitrary)]
enum Op {
    Append { stream: u8, len: u16, key: bool },
    // An append the engine must refuse (a repeated timestamp, or an empty
    // frame): the stream goes on after it with nothing lost or skipped.
    Refused { stream: u8 },
    Sync,
    Put { camera: u8, len: u16 },
    SyncPictures,
    Delete { which: u8 },
    Read { stream: u8, from: u8 },
    Crash { seed: u64 },
    Reopen,
}

#[derive(Default)]
struct Model {
    /// Per stream: frames appended (ts, key, data) and how many a sync covered.
    frames: Vec<Vec<(Timestamp, bool, Bytes)>>,
    synced: Vec<usize>,
    /// Pictures: id, bytes, synced, deleted, key.
    pictures: Vec<(PictureId, Bytes, bool, bool, Option<PictureKey>)>,
    next_ts: Vec<Timestamp>,
    n: u64,
}

/// Which pictures a later put of the same key may have replaced (an S3
/// overwrite deletes the old picture once the new one is durable).
fn replaced_by_key(pictures: &[(PictureId, Bytes, bool, bool, Option<PictureKey>)]) -> Vec<bool> {
    (0..pictures.len())
        .map(|i| pictures[i].4.as_ref().is_some_and(|k| pictures[i + 1..].iter().any(|p| p.4.as_ref() == Some(k))))
        .collect()
}

fn read_stream(engine: &Engine, s: StreamId) -> Result<Vec<Frame>> {
    engine.read(s, T0, T0 + 24 * 3_600 * US_PER_SEC)?.collect()
}

/// After a reopen: the frames on disk must extend what was synced and be a
/// prefix of what was written; the model forgets the rest.
fn reconcile(engine: &Engine, rig: &Rig, m: &mut Model) {
    for (i, &s) in rig.streams.iter().enumerate() {
        let got = read_stream(engine, s).expect("a stream reads back after reopen");
        assert!(got.len() >= m.synced[i], "stream {i}: {} frames, {} were synced", got.len(), m.synced[i]);
        assert!(got.len() <= m.frames[i].len(), "stream {i}: more frames than written");
        for (f, w) in got.iter().zip(&m.frames[i]) {
            assert_eq!((f.ts, f.key, &f.data), (w.0, w.1, &w.2), "stream {i}: wrong frame");
        }
        m.frames[i].truncate(got.len());
        m.synced[i] = got.len();
    }
    let replaced = replaced_by_key(&m.pictures);
    let mut n = 0;
    m.pictures.retain_mut(|(id, data, synced, deleted, _)| {
        n += 1;
        match engine.get_picture(id) {
            Ok(p) => {
                assert!(!*deleted, "a deleted picture came back");
                assert_eq!(&p.data, data, "a picture came back with other bytes");
                *synced = true;
                true
            }
            Err(Error::PictureNotFound(_)) => {
                assert!(!*synced || *deleted || replaced[n - 1], "a synced picture was lost");
                false
            }
            Err(e) => panic!("get after reopen: {e}"),
        }
    });
    let report = engine.check(false).expect("check runs");
    assert!(report.is_clean(), "check after reopen: {:?}", report.problems);
}

libfuzzer_sys::fuzz_target!(|ops: Vec<Op>| {
    let rig = Rig::new();
    let mut engine = rig.engine.clone();
    let mut storage = rig.storage.clone();
    let mut m = Model {
        frames: vec![Vec::new(); STREAMS],
        synced: vec![0; STREAMS],
        next_ts: vec![T0; STREAMS],
        ..Model::default()
    };
    for op in ops.into_iter().take(64) {
        match op {
            Op::Append { stream, len, key } => {
                let i = usize::from(stream) % STREAMS;
                let ts = m.next_ts[i];
                m.next_ts[i] += 40_000;
                m.n += 1;
                let data = content(m.n, usize::from(len % 4_096) + 1);
                engine.append(rig.streams[i], ts, key, data.clone()).expect("append");
                m.frames[i].push((ts, key, data));
            }
            Op::Refused { stream } => {
                let i = usize::from(stream) % STREAMS;
                let res = match m.frames[i].last() {
                    Some(last) => engine.append(rig.streams[i], last.0, false, content(m.n, 10)),
                    None => engine.append(rig.streams[i], m.next_ts[i], true, Bytes::new()),
                };
                assert!(
                    matches!(res, Err(Error::DuplicateTimestamp { .. } | Error::FrameSize { .. })),
                    "a bad append was not refused: {res:?}"
                );
            }
            Op::Sync => {
                engine.sync_all().expect("sync");
                for i in 0..STREAMS {
                    m.synced[i] = m.frames[i].len();
                }
                for p in &mut m.pictures {
                    p.2 = true;
                }
            }
            Op::Put { camera, len } => {
                m.n += 1;
                let data = content(m.n, usize::from(len % 8_192) + 1);
                let meta = picture_meta(m.n, camera);
                let id = engine.put_picture(rig.pictures, &meta, &data).expect("put");
                m.pictures.push((id, data, false, false, meta.key));
            }
            Op::SyncPictures => {
                engine.sync_pictures(rig.pictures).expect("sync pictures");
                for p in &mut m.pictures {
                    p.2 = true;
                }
            }
            Op::Delete { which } => {
                let live: Vec<usize> = (0..m.pictures.len()).filter(|&i| !m.pictures[i].3).collect();
                if let Some(&i) = live.get(usize::from(which) % live.len().max(1)) {
                    match engine.delete_picture(&m.pictures[i].0) {
                        Ok(()) => m.pictures[i].3 = true,
                        // A keyed picture is deleted when its key is put again.
                        Err(Error::PictureNotFound(_)) if replaced_by_key(&m.pictures)[i] => m.pictures[i].3 = true,
                        Err(e) => panic!("delete: {e}"),
                    }
                }
            }
            Op::Read { stream, from } => {
                let i = usize::from(stream) % STREAMS;
                // Readers see a frame once its chunk is written (`flush`);
                // everything a sync covered is written.
                let got = read_stream(&engine, rig.streams[i]).expect("read");
                assert!(got.len() >= m.synced[i] && got.len() <= m.frames[i].len(), "read a prefix of the writes");
                let skip = usize::from(from) % (got.len() + 1);
                for (f, w) in got.iter().zip(&m.frames[i]).skip(skip) {
                    assert_eq!((f.ts, f.key, &f.data), (w.0, w.1, &w.2));
                }
            }
            Op::Crash { seed } => {
                let image = Arc::new(storage.crash_image(seed));
                drop(engine);
                engine = rig.reopen(image.clone(), RecoveryMode::default()).expect("reopen after a crash");
                storage = image;
                reconcile(&engine, &rig, &mut m);
            }
            Op::Reopen => {
                engine.close().expect("close");
                drop(engine);
                engine = rig.reopen(storage.clone(), RecoveryMode::default()).expect("reopen");
                for i in 0..STREAMS {
                    m.synced[i] = m.frames[i].len();
                }
                reconcile(&engine, &rig, &mut m);
            }
        }
    }
    let _ = engine.close();
});
