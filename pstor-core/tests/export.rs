//! The export API (what the playback service's `.mp4` is planned and
//! served with): record lists with the same start rule as `read`, frame
//! tables without the frames, verified record bytes, and recycling seen as
//! `Overwritten`, never as another generation's bytes.

mod common;
use common::*;
use pstor_core::*;

/// Frames as (time, key, bytes).
type Frames = Vec<(Timestamp, bool, Vec<u8>)>;

/// The frames of a range as the export API gives them: each record's
/// table, the frames' bytes cut from the verified records.
fn exported(e: &Engine, s: StreamId, start: Timestamp, end: Timestamp) -> (Frames, Option<usize>) {
    let found = e.export_records(s, start, end).expect("records");
    let bytes = e.read_records_verified(s, &found.records).expect("verified");
    let mut out = Vec::new();
    for (r, b) in found.records.iter().zip(&bytes) {
        assert_eq!(b.len(), r.len() as usize);
        let head = e.record_head(s, r, 64).expect("head");
        assert_eq!(head.frames.len(), r.frames() as usize);
        let first = head.frames[0];
        assert_eq!(first.offset, r.data_offset());
        assert_eq!(&head.lead[..], &b[first.offset as usize..][..head.lead.len()], "lead = start of the data");
        for f in &head.frames {
            out.push((f.ts, f.key, b[f.offset as usize..(f.offset + f.len) as usize].to_vec()));
        }
    }
    (out, found.key_within)
}

#[test]
fn records_tables_and_bytes_give_back_exactly_the_frames() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 16, 8, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    let s = camera(e, pool, 1);
    let written = record(e, s, 7, T0, 1000);
    e.sync(s).expect("sync");
    // The whole stream, sealed segments and the open one.
    let (all, key) = exported(e, s, T0, T0 + 3600 * US_PER_SEC);
    assert_eq!(key, Some(0), "recording starts at T0 with a key frame");
    assert_eq!(all.len(), written.len());
    for (g, w) in all.iter().zip(&written) {
        assert_eq!((g.0, g.1, &g.2[..]), (w.0, w.1, &w.2[..]));
    }
    // From the middle of a GOP: the records start where `read` starts,
    // and the key frame to start from is in records[..=u].
    let mid = written[530].0;
    let found = e.export_records(s, mid, mid + US_PER_SEC).expect("records");
    let u = found.key_within.expect("recording runs up to the start");
    let heads: Vec<_> = found.records[..=u].iter().map(|r| e.record_head(s, r, 0).expect("head")).collect();
    let key = heads.iter().flat_map(|h| &h.frames).filter(|f| f.key && f.ts <= mid).last().expect("a key frame");
    assert_eq!(key.ts, written[525].0, "the last key frame at or before the start");
    let read: Vec<Frame> = read_all(e, s, mid, mid + US_PER_SEC);
    assert_eq!(read[0].ts, key.ts, "read starts at the same key frame");
    // A part of a record: the bytes at an offset.
    let r = &found.records[0];
    let h = e.record_head(s, r, 0).expect("head");
    let f = h.frames[1];
    let part = e.read_record_part(s, r, f.offset, f.len).expect("part");
    let whole = e.read_records_verified(s, std::slice::from_ref(r)).expect("verified");
    assert_eq!(&part[..], &whole[0][f.offset as usize..(f.offset + f.len) as usize]);
    let beyond = e.read_record_part(s, r, r.len() - 1, 2).expect_err("beyond the record");
    assert!(matches!(beyond, Error::InvalidArgument(_)), "{beyond}");
    e.prefetch_records(&found.records);
    e.close().expect("close");
}

#[test]
fn after_a_gap_the_range_starts_after_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 16, 8, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    let s = camera(e, pool, 1);
    record(e, s, 1, T0, 100);
    let later = T0 + 600 * US_PER_SEC;
    let second = record(e, s, 1, later, 100);
    e.sync(s).expect("sync");
    let found = e.export_records(s, T0 + 300 * US_PER_SEC, later + 10 * US_PER_SEC).expect("records");
    assert_eq!(found.key_within, None, "the start is in a gap");
    assert_eq!(found.records[0].first_ts(), second[0].0);
    assert!(e.export_records(s, later, T0).is_err(), "end before start");
    e.close().expect("close");
}

#[test]
fn a_recycled_record_is_overwritten_never_other_bytes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 16, 4, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    let s = camera(e, pool, 1);
    record(e, s, 1, T0, 400);
    e.sync(s).expect("sync");
    let found = e.export_records(s, T0, T0 + 20 * US_PER_SEC).expect("records");
    let first = found.records[0].clone();
    assert!(e.record_head(s, &first, 16).is_ok());
    // Write well over the pool's capacity: the oldest segments are recycled.
    record(e, s, 1, T0 + 10_000 * US_PER_SEC, 6000);
    e.sync(s).expect("sync");
    for err in [
        e.record_head(s, &first, 16).expect_err("head"),
        e.read_record_part(s, &first, 0, 8).expect_err("part"),
        e.read_records_verified(s, std::slice::from_ref(&first)).expect_err("bytes"),
    ] {
        assert!(matches!(err, Error::Overwritten { stream, .. } if stream == s), "{err}");
    }
    e.close().expect("close");
}

#[test]
fn a_locked_range_survives_overwrite_and_exports_in_full() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (rig, _, pool) = rig(tmp.path(), 16, 6, OverwriteStrategy::OverwriteOldest);
    let e = &rig.engine;
    let s = camera(e, pool, 1);
    let written = record(e, s, 3, T0, 400);
    e.sync(s).expect("sync");
    let (a, b) = (written[0].0, written[399].0);
    e.lock(s, a, b, None).expect("lock");
    let before = e.export_records(s, a, b).expect("records");
    record(e, s, 3, T0 + 10_000 * US_PER_SEC, 3000);
    e.sync(s).expect("sync");
    let bytes = e.read_records_verified(s, &before.records).expect("locked records stay");
    assert_eq!(bytes.len(), before.records.len());
    let (frames, _) = exported(e, s, a, b);
    assert_eq!(frames.len(), 400);
    e.close().expect("close");
}
