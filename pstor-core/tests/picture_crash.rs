//! Crash consistency of the picture store through the fault-injecting
//! in-memory backend, after `crash_consistency.rs`: a crash at every sync
//! point of a picture workload (torn and reordered unsynced writes), a crash
//! while picture segments are recycled, bit rot in a picture's data, header
//! and meta, EIO on fsync and ENOSPC on write, and the one-read promise of
//! `get_picture` and `head_picture`.
//!
//! The contract checked everywhere: a picture put before a successful
//! `sync_pictures` / `sync_all` reads back byte-identical with its metadata;
//! a delete that returned `Ok` stays deleted; a key resolves to its newest
//! acknowledged put; an unsynced picture may be there or not, but nothing
//! ever returns bytes other than the ones put under that id.

mod common;
use bytes::Bytes;
use common::{payload, T0};
use pstor_core::io::{FaultPlan, MemStorage, Storage};
use pstor_core::*;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SEG: u64 = 64 << 10;
const SEGMENTS_PER_FILE: u32 = 4;
const CAPACITY: u64 = 64 << 20;
const CAMERAS: usize = 4;

fn opts() -> EngineOptions {
    let mut o = EngineOptions::new("/mem/engine");
    o.min_space_capacity = 256 << 10;
    o.segment_size = SEG;
    o.segments_per_file = SEGMENTS_PER_FILE;
    o.chunk_max_bytes = 6 << 10;
    o.background = false;
    o
}

fn space_dir() -> PathBuf {
    PathBuf::from("/mem/space1")
}

/// Where byte `at` of picture `id`'s record lies: its data file and offset.
fn locate(id: &PictureId, at: u64) -> (PathBuf, u64) {
    let file = space_dir().join(format!("seg-{:05}.dat", id.segment / SEGMENTS_PER_FILE));
    let offset = (id.segment % SEGMENTS_PER_FILE) as u64 * SEG + id.offset as u64 + at;
    (file, offset)
}

/// A space of 48 segments and a picture pool of `pool_segments` of them;
/// `None` if the storage crashed (or failed) before the setup finished.
fn setup(storage: &Arc<MemStorage>, clock: &Arc<FakeClock>, pool_segments: u64) -> Option<(Engine, PoolId)> {
    let dynstore: Arc<dyn Storage> = storage.clone();
    let engine = Engine::open_with(opts(), dynstore, clock.clone()).ok()?;
    storage.create_dir_all(&space_dir()).ok()?;
    let space = engine
        .initialize_space(SpaceSpec { path: space_dir(), capacity: 48 * SEG, segment_size: None })
        .ok()?
        .wait()
        .ok()?;
    let pool = engine
        .create_pool(PoolSpec {
            name: "pictures".into(),
            kind: PoolKind::Picture,
            capacity: pool_segments * SEG,
            spaces: vec![space],
            strategy: OverwriteStrategy::OverwriteOldest,
            cycle_days: 0,
            max_lock_pct: 0,
        })
        .ok()?;
    Some((engine, pool))
}

fn reopen(storage: MemStorage, clock: &Arc<FakeClock>, what: &str) -> (Engine, Arc<MemStorage>) {
    let storage = Arc::new(storage);
    let dynstore: Arc<dyn Storage> = storage.clone();
    let engine = Engine::open_with(opts(), dynstore, clock.clone()).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
    (engine, storage)
}

fn pool_of(engine: &Engine) -> PoolId {
    engine.pools().first().expect("the picture pool").config.id
}

fn key(n: usize) -> PictureKey {
    PictureKey { bucket: "evidence".into(), key: format!("plate-{n}.jpg") }
}

/// One put of the workload.
#[derive(Clone, Debug)]
struct Put {
    id: PictureId,
    meta: PictureMeta,
    data: Bytes,
}

/// What a workload wrote and what was acknowledged.
#[derive(Default, Clone)]
struct Ledger {
    puts: Vec<Put>,
    /// `puts[..acked]` were followed by a successful sync.
    acked: usize,
    /// `acked` before the last successful sync: pictures replaced under their
    /// key by puts before this have their delete mark durable (it is queued
    /// when the sync acknowledging the replacement returns, and made durable
    /// by the next one).
    marked: usize,
    /// Pictures whose delete returned `Ok`.
    deleted: BTreeSet<PictureId>,
    /// A delete that failed (the storage crashed under it): may or may not have happened.
    tried: BTreeSet<PictureId>,
    /// Pictures known to be gone (lost in an earlier crash).
    lost: BTreeSet<PictureId>,
    /// Pictures replaced under their key by a put that was not synced, seen
    /// still there after a crash: nothing deletes them any more.
    leaked: BTreeSet<PictureId>,
}

/// What a picture must read as after recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Exactly its bytes and metadata.
    Present,
    /// `PictureNotFound`.
    Gone,
    /// Either of them.
    Either,
}

impl Ledger {
    fn index_of(&self, id: &PictureId) -> Option<usize> {
        self.puts.iter().position(|p| p.id == *id)
    }

    /// Index of the put that replaced put `i` under its key (the next one
    /// under that key that was not lost).
    fn replaced_by(&self, i: usize) -> Option<usize> {
        let k = self.puts[i].meta.key.as_ref()?;
        (i + 1..self.puts.len())
            .find(|&j| self.puts[j].meta.key.as_ref() == Some(k) && !self.lost.contains(&self.puts[j].id))
    }

    fn expect(&self, i: usize) -> Expect {
        let p = &self.puts[i];
        if self.deleted.contains(&p.id) || self.lost.contains(&p.id) {
            return Expect::Gone;
        }
        if self.leaked.contains(&p.id) {
            return Expect::Present;
        }
        match self.replaced_by(i) {
            // Replaced by a put acknowledged before the last sync: its delete
            // mark is durable.
            Some(j) if j < self.marked => return Expect::Gone,
            Some(_) => return Expect::Either,
            None => {}
        }
        if i < self.acked && !self.tried.contains(&p.id) {
            Expect::Present
        } else {
            Expect::Either
        }
    }

    /// Keys used, with the indexes of their puts in order.
    fn keys(&self) -> HashMap<PictureKey, Vec<usize>> {
        let mut m: HashMap<PictureKey, Vec<usize>> = HashMap::new();
        for (i, p) in self.puts.iter().enumerate() {
            if let Some(k) = &p.meta.key {
                m.entry(k.clone()).or_default().push(i);
            }
        }
        m
    }
}

/// Picture `n`'s metadata: 4 cameras in turn, capture times 1 ms apart
/// (every 7th one a little late, out of order), every 9th one keyed (4 keys,
/// so keys are replaced), content types of varying length.
fn meta_of(n: usize) -> PictureMeta {
    let late = if n % 7 == 3 { 2_500 } else { 0 };
    PictureMeta {
        camera_id: format!("cam-{}", n % CAMERAS),
        captured_at: T0 + n as i64 * 1_000 - late,
        content_type: if n.is_multiple_of(2) { "image/jpeg".into() } else { "image/webp".into() },
        key: (n % 9 == 4).then(|| key(n / 9 % 4)),
    }
}

fn data_of(n: usize) -> Bytes {
    payload(n as u64, n as i64, 300 + (n * 7_919) % 12_000)
}

/// Puts `rounds` x 4 pictures, deleting an earlier unkeyed picture every 3rd
/// round, a keyed one by its key every 7th, syncing (pictures or all, in
/// turn) every `sync_every` rounds. Stops at the first error.
fn workload(engine: &Engine, clock: &FakeClock, l: &mut Ledger, rounds: usize, sync_every: usize) -> Option<Error> {
    let pool = pool_of(engine);
    for r in 0..rounds {
        for _ in 0..CAMERAS {
            let n = l.puts.len();
            let (meta, data) = (meta_of(n), data_of(n));
            match engine.put_picture(pool, &meta, &data) {
                Ok(id) => l.puts.push(Put { id, meta, data }),
                Err(e) => return Some(e),
            }
            clock.advance(1_000);
        }
        if r % 3 == 2 {
            let n = l.puts.len();
            let target = (0..n.saturating_sub(6))
                .rev()
                .map(|i| &l.puts[i])
                .find(|p| p.meta.key.is_none() && !l.deleted.contains(&p.id) && !l.lost.contains(&p.id))
                .map(|p| p.id);
            if let Some(id) = target {
                match engine.delete_picture(&id) {
                    Ok(()) => {
                        l.deleted.insert(id);
                    }
                    Err(e) => {
                        l.tried.insert(id);
                        return Some(e);
                    }
                }
            }
        }
        if r % 7 == 6 {
            let k = key(r / 7 % 4);
            // The newest put under the key, unless already deleted.
            let newest = l.puts.iter().rev().find(|p| p.meta.key.as_ref() == Some(&k)).map(|p| p.id);
            if let Some(id) = newest.filter(|id| !l.deleted.contains(id) && !l.lost.contains(id)) {
                match engine.delete_picture_by_key(&k) {
                    Ok(()) => {
                        l.deleted.insert(id);
                    }
                    Err(e) => {
                        l.tried.insert(id);
                        return Some(e);
                    }
                }
            }
        }
        if r % sync_every == sync_every - 1 {
            let synced =
                if (r / sync_every).is_multiple_of(2) { engine.sync_pictures(pool) } else { engine.sync_all() };
            match synced {
                Ok(()) => {
                    l.marked = l.acked;
                    l.acked = l.puts.len();
                }
                Err(e) => return Some(e),
            }
        }
    }
    None
}

/// Checks one picture against the ledger; returns whether it is there.
fn check_picture(engine: &Engine, l: &Ledger, i: usize, what: &str) -> bool {
    let p = &l.puts[i];
    let expect = l.expect(i);
    match engine.get_picture(&p.id) {
        Ok(got) => {
            assert!(expect != Expect::Gone, "{what}: picture {i} ({}) is back: {expect:?}", p.id);
            assert_eq!(got.data, p.data, "{what}: picture {i}: wrong bytes");
            assert_eq!(got.info.meta, p.meta, "{what}: picture {i}: wrong metadata");
            assert_eq!(got.info.id, p.id);
            let head = engine.head_picture(&p.id).unwrap_or_else(|e| panic!("{what}: picture {i}: head: {e}"));
            assert_eq!(head, got.info, "{what}: picture {i}: head differs from get");
            true
        }
        Err(Error::PictureNotFound(_)) => {
            assert!(expect != Expect::Present, "{what}: acknowledged picture {i} ({}) is lost", p.id);
            assert!(
                matches!(engine.head_picture(&p.id), Err(Error::PictureNotFound(_))),
                "{what}: picture {i}: get says not found, head does not"
            );
            false
        }
        Err(e) => panic!("{what}: picture {i} ({expect:?}): {e}"),
    }
}

/// Reopens on `image` and checks every picture, every key, the listing and
/// `check`; returns the engine and which pictures are there.
fn verify(image: MemStorage, clock: &Arc<FakeClock>, l: &Ledger, what: &str) -> (Engine, Arc<MemStorage>, Vec<bool>) {
    let (engine, storage) = reopen(image, clock, what);
    let there: Vec<bool> = (0..l.puts.len()).map(|i| check_picture(&engine, l, i, what)).collect();
    // Keys: the newest acknowledged put under a key, or a newer one that is
    // there; nothing if that put was deleted and no newer one is there.
    for (k, puts) in l.keys() {
        let acked = puts.iter().rev().find(|&&i| i < l.acked && !l.lost.contains(&l.puts[i].id)).copied();
        let got = engine.picture_id_for_key(&k);
        let by_key = engine.get_picture_by_key(&k);
        match (&got, &by_key) {
            (Ok(id), Ok(pic)) => {
                let i = l.index_of(id).unwrap_or_else(|| panic!("{what}: key {k:?} names an unknown id"));
                assert_eq!(l.puts[i].meta.key.as_ref(), Some(&k), "{what}: key {k:?} names another key's picture");
                assert!(there[i], "{what}: key {k:?} names picture {i}, which is not there");
                assert!(
                    acked.is_none_or(|a| i >= a),
                    "{what}: key {k:?} names picture {i}, older than acked {acked:?}"
                );
                assert_eq!(pic.data, l.puts[i].data, "{what}: key {k:?}: wrong bytes");
                // No newer put under the key is there.
                assert!(puts.iter().all(|&j| j <= i || !there[j]), "{what}: key {k:?} names {i}, a newer one is there");
            }
            (Err(Error::KeyNotFound { .. }), Err(Error::KeyNotFound { .. })) => {
                let live: Vec<usize> = puts.iter().copied().filter(|&j| there[j]).collect();
                assert!(live.is_empty(), "{what}: key {k:?} not found, yet its pictures {live:?} are there");
                if let Some(a) = acked {
                    // Deleted (perhaps), lost, or replaced by a newer put whose
                    // delete may have happened (a newer put and its delete
                    // win over the acknowledged one even if not acknowledged).
                    let gone = |id: &PictureId| l.deleted.contains(id) || l.tried.contains(id) || l.lost.contains(id);
                    assert!(
                        puts.iter().filter(|&&j| j >= a).any(|&j| gone(&l.puts[j].id)),
                        "{what}: key {k:?} of acknowledged put {a} is lost"
                    );
                }
            }
            other => panic!("{what}: key {k:?}: {other:?}"),
        }
    }
    // The listing: every picture that is there, in (capture time, id) order.
    let Some(pool) = engine.pools().first().map(|p| p.config.id) else {
        // The power went before the pool was created: nothing was put.
        assert!(l.puts.is_empty(), "{what}: the pool is gone but {} pictures were put", l.puts.len());
        return (engine, storage, Vec::new());
    };
    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let q = PictureQuery {
            pool,
            camera_id: None,
            start: T0 - US_PER_SEC,
            end: T0 + 3_600 * US_PER_SEC,
            limit: 37,
            after,
        };
        let page = engine.list_pictures(&q).unwrap_or_else(|e| panic!("{what}: list: {e}"));
        assert!(page.len() <= 37);
        after = page.last().map(|p| (p.meta.captured_at, p.id));
        let done = page.len() < 37;
        listed.extend(page);
        if done {
            break;
        }
    }
    assert!(listed.windows(2).all(|w| (w[0].meta.captured_at, w[0].id) < (w[1].meta.captured_at, w[1].id)));
    let listed_ids: BTreeSet<PictureId> = listed.iter().map(|p| p.id).collect();
    for info in &listed {
        let i = l.index_of(&info.id).unwrap_or_else(|| panic!("{what}: listed an unknown picture {}", info.id));
        assert!(there[i], "{what}: listed picture {i}, which get does not find");
        assert_eq!(info.meta, l.puts[i].meta);
    }
    for (i, p) in l.puts.iter().enumerate() {
        assert!(!there[i] || listed_ids.contains(&p.id), "{what}: picture {i} is there but not listed");
    }
    let report = engine.check(false).unwrap_or_else(|e| panic!("{what}: check: {e}"));
    assert!(report.is_clean(), "{what}: check: {:?}", report.problems);
    (engine, storage, there)
}

/// After recovery, what was seen is the new truth: pictures that are there
/// are durable now, the others are gone for good.
fn settle(l: &Ledger, there: &[bool]) -> Ledger {
    let mut next = l.clone();
    for (i, p) in l.puts.iter().enumerate() {
        if !there[i] && !l.deleted.contains(&p.id) {
            next.lost.insert(p.id);
        }
        if there[i] {
            next.tried.remove(&p.id);
        }
    }
    next.tried.retain(|id| !next.lost.contains(id));
    for (i, p) in l.puts.iter().enumerate() {
        if there[i] && next.replaced_by(i).is_some() {
            next.leaked.insert(p.id);
        }
    }
    next.acked = next.puts.len();
    next.marked = next.acked;
    next
}

#[test]
fn crash_at_every_picture_sync_point_keeps_every_acknowledged_picture() {
    let clock = Arc::new(FakeClock::new(T0));
    let (rounds, sync_every) = (30, 4);
    // Count the syncs of a whole run without faults.
    let probe = Arc::new(MemStorage::new(CAPACITY));
    let (engine, _) = setup(&probe, &clock, 40).expect("setup");
    let mut ledger = Ledger::default();
    assert!(workload(&engine, &clock, &mut ledger, rounds, sync_every).is_none());
    assert!(ledger.deleted.len() >= 10, "only {} deletes", ledger.deleted.len());
    assert!(ledger.puts.iter().map(|p| p.id.segment).collect::<BTreeSet<_>>().len() >= 8, "too few segments");
    engine.close().expect("close");
    let total = probe.stats().syncs;
    assert!(total > 40, "only {total} syncs");
    let mut points = 0;
    for n in 1..=total {
        let storage =
            Arc::new(MemStorage::with_faults(CAPACITY, FaultPlan { crash_at_sync: Some(n), ..Default::default() }));
        let mut ledger = Ledger::default();
        if let Some((engine, _)) = setup(&storage, &clock, 40) {
            if workload(&engine, &clock, &mut ledger, rounds, sync_every).is_none() {
                let _ = engine.close();
            }
        }
        // Group commit makes the number of syncs vary a little from run to
        // run; a run that did not crash must have made fewer than `n`.
        let made = storage.stats().syncs;
        assert!(storage.is_crashed() || made < n, "run {n} of {total}: {made} syncs and no crash at sync {n}");
        if !storage.is_crashed() {
            continue;
        }
        for seed in 0..3 {
            let what = format!("crash at sync {n}/{total}, seed {seed}");
            let (engine, storage, there) = verify(storage.crash_image(n * 31 + seed), &clock, &ledger, &what);
            if seed == 0 && !ledger.puts.is_empty() {
                // Go on from what survived, then lose power once more.
                let mut more = settle(&ledger, &there);
                let err = workload(&engine, &clock, &mut more, 3, 3);
                assert!(err.is_none(), "{what}: writing after recovery: {err:?}");
                let what = format!("{what}, then a second crash");
                let (engine2, _, _) = verify(storage.crash_image(seed + 7), &clock, &more, &what);
                engine2.close().expect("close");
            }
            drop(engine);
        }
        points += 1;
    }
    assert!(points + 10 > total, "crashed at only {points} of {total} sync points");
    eprintln!("pictures: crashed at {points} sync points x 3 torn/reordered images");
}

/// Crashes while the pool recycles picture segments: what is returned is
/// always byte-identical, deletes stay deleted, and every acknowledged picture
/// newer than what the pool can have recycled is there.
#[test]
fn crash_while_recycling_picture_segments_never_returns_wrong_bytes() {
    let clock = Arc::new(FakeClock::new(T0));
    let (rounds, sync_every) = (60, 5);
    const POOL: u64 = 8;
    let probe = Arc::new(MemStorage::new(CAPACITY));
    let (engine, _) = setup(&probe, &clock, POOL).expect("setup");
    let mut ledger = Ledger::default();
    let seen = engine.events().poll(0).last().map_or(0, |e| e.seq);
    assert!(workload(&engine, &clock, &mut ledger, rounds, sync_every).is_none());
    let recycled = engine.events().poll(seen).iter().filter(|e| matches!(e.kind, EventKind::Recycled { .. })).count();
    assert!(recycled >= 10, "only {recycled} segments recycled");
    engine.close().expect("close");
    let total = probe.stats().syncs;
    let mut points = 0;
    for (n, seed) in (1..=total).step_by(2).flat_map(|n| (0..2).map(move |seed| (n, seed))) {
        let storage =
            Arc::new(MemStorage::with_faults(CAPACITY, FaultPlan { crash_at_sync: Some(n), ..Default::default() }));
        let mut l = Ledger::default();
        if let Some((engine, _)) = setup(&storage, &clock, POOL) {
            if workload(&engine, &clock, &mut l, rounds, sync_every).is_none() {
                let _ = engine.close();
            }
        }
        let what = format!("recycling, crash at sync {n}/{total}, seed {seed}");
        let (engine, _) = reopen(storage.crash_image(n * 7 + seed), &clock, &what);
        // Segments written, newest first: capture times grow with the puts
        // (a few ms late at most, and a segment holds at least 4 pictures),
        // so segments are recycled oldest first, and recycling one needs
        // POOL - 1 newer ones besides it.
        let mut segs: Vec<(u32, u32)> = Vec::new();
        for p in l.puts.iter().rev() {
            if !segs.contains(&(p.id.segment, p.id.generation)) {
                segs.push((p.id.segment, p.id.generation));
            }
        }
        let safe: BTreeSet<(u32, u32)> = segs.iter().take(POOL as usize - 2).copied().collect();
        let mut there = 0;
        for (i, p) in l.puts.iter().enumerate() {
            match engine.get_picture(&p.id) {
                Ok(got) => {
                    assert_eq!(got.data, p.data, "{what}: picture {i}: wrong bytes");
                    assert_eq!(got.info.meta, p.meta, "{what}: picture {i}: wrong metadata");
                    assert!(!l.deleted.contains(&p.id), "{what}: deleted picture {i} is back");
                    there += 1;
                }
                Err(Error::PictureNotFound(_)) => {
                    let must = l.expect(i) == Expect::Present && safe.contains(&(p.id.segment, p.id.generation));
                    assert!(!must, "{what}: acknowledged picture {i} in one of the newest segments is lost");
                }
                Err(e) => panic!("{what}: picture {i}: {e}"),
            }
        }
        assert!(l.acked == 0 || there > 0, "{what}: nothing left");
        let report = engine.check(false).unwrap_or_else(|e| panic!("{what}: check {e}"));
        assert!(report.is_clean(), "{what}: {:?}", report.problems);
        // (No pool: the power went before it was created.)
        if let Some(pool) = engine.pools().into_iter().next() {
            assert!(pool.used <= pool.capacity, "{what}: pool uses {} of {} bytes", pool.used, pool.capacity);
        } else {
            assert!(l.puts.is_empty(), "{what}: the pool is gone");
        }
        engine.close().expect("close");
        points += 1;
    }
    eprintln!("recycling: {points} crash images over {total} sync points");
}

/// A fresh engine with `n` pictures put and synced, closed cleanly and
/// opened again (footers and needle lists are then read from disk).
fn stored(n: usize) -> (Engine, Arc<MemStorage>, Arc<FakeClock>, Ledger) {
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let (engine, pool) = setup(&storage, &clock, 40).expect("setup");
    let mut l = Ledger::default();
    for i in 0..n {
        let (meta, data) = (meta_of(i), data_of(i));
        let id = engine.put_picture(pool, &meta, &data).expect("put");
        l.puts.push(Put { id, meta, data });
    }
    engine.sync_pictures(pool).expect("sync");
    l.acked = n;
    engine.close().expect("close");
    let dynstore: Arc<dyn Storage> = storage.clone();
    let engine = Engine::open_with(opts(), dynstore, clock.clone()).expect("reopen");
    (engine, storage, clock, l)
}

#[test]
fn bit_rot_in_a_picture_is_an_error_never_bytes() {
    let (engine, storage, _clock, l) = stored(40);
    // One picture in a sealed segment, one in the open (last) segment.
    let open_seg = l.puts.last().expect("puts").id.segment;
    let sealed = l.puts.iter().position(|p| p.id.segment != open_seg && p.meta.key.is_some()).expect("sealed");
    let open = l.puts.len() - 1;
    for i in [sealed, open] {
        let p = &l.puts[i];
        let head_len = p.id.len as u64 - p.data.len() as u64;
        let good = engine.get_picture(&p.id).expect("intact").info;
        // Data: the metadata still verifies, the data does not.
        for at in [head_len, head_len + p.data.len() as u64 / 2, p.id.len as u64 - 1] {
            let (file, off) = locate(&p.id, at);
            storage.corrupt(&file, off, 5).expect("flip");
            let got = engine.get_picture(&p.id);
            assert!(matches!(got, Err(Error::Corrupt(_))), "picture {i}, data byte {at}: {got:?}");
            let part = engine.get_picture_range(&p.id, 0, 1);
            assert!(matches!(part, Err(Error::Corrupt(_))), "picture {i}, data byte {at}, range: {part:?}");
            assert_eq!(engine.head_picture(&p.id).expect("head still works"), good);
            let report = engine.check(false).expect("check");
            assert!(
                report.problems.iter().any(|x| x.segment == Some(p.id.segment) && x.what.contains("checksum")),
                "picture {i}, data byte {at}: {:?}",
                report.problems
            );
            storage.corrupt(&file, off, 5).expect("flip back");
            assert_eq!(engine.get_picture(&p.id).expect("restored").data, p.data);
        }
        // Every field of the header, and the meta (camera, content type, key).
        let fields = [0u64, 4, 5, 6, 8, 12, 16, 20, 24, 31, 32, 40, 55, 56, 60, 64, 68, 71];
        for at in fields.into_iter().chain(NEEDLE_META_PROBES.iter().map(|m| 72 + m)).filter(|&at| at < head_len) {
            for bit in [0u8, 7] {
                let (file, off) = locate(&p.id, at);
                storage.corrupt(&file, off, bit).expect("flip");
                let got = engine.get_picture(&p.id);
                assert!(
                    matches!(got, Err(Error::Corrupt(_) | Error::PictureNotFound(_))),
                    "picture {i}, header byte {at} bit {bit}: {:?}",
                    got.map(|p| p.info)
                );
                let head = engine.head_picture(&p.id);
                assert!(
                    matches!(head, Err(Error::Corrupt(_) | Error::PictureNotFound(_))),
                    "picture {i}, header byte {at} bit {bit}: head {head:?}"
                );
                if let Some(k) = &p.meta.key {
                    let by_key = engine.get_picture_by_key(k);
                    assert!(
                        by_key.is_err(),
                        "picture {i}, header byte {at} bit {bit}: by key {:?}",
                        by_key.map(|p| p.info)
                    );
                }
                storage.corrupt(&file, off, bit).expect("flip back");
            }
        }
        assert_eq!(engine.get_picture(&p.id).expect("restored").data, p.data);
    }
    // The neighbours were never affected, and all is well again.
    for p in &l.puts {
        assert_eq!(engine.get_picture(&p.id).expect("intact").data, p.data);
    }
    assert!(engine.check(false).expect("check").is_clean());
    engine.close().expect("close");
}

/// Offsets into the meta block probed by the bit-rot test: the stored-at
/// time, the camera id's length and text, and further in (content type, key).
const NEEDLE_META_PROBES: [u64; 6] = [0, 7, 8, 10, 16, 30];

/// A failed fdatasync: the sync fails, the space stops taking writes, no later
/// sync pretends the lost writes are durable, and what was acknowledged
/// before survives a power loss.
#[test]
fn eio_on_fsync_fails_the_picture_sync_and_acknowledges_nothing_false() {
    let clock = Arc::new(FakeClock::new(T0));
    let storage = Arc::new(MemStorage::new(CAPACITY));
    let (engine, pool) = setup(&storage, &clock, 40).expect("setup");
    let mut l = Ledger::default();
    assert!(workload(&engine, &clock, &mut l, 12, 4).is_none());
    assert_eq!(l.acked, l.puts.len());
    let syncs = storage.stats().syncs;
    storage.set_faults(FaultPlan { fail_sync_at: Some(syncs + 1), ..Default::default() });
    // Puts that stay within the open segment: written and readable, not durable.
    let mut unsynced = Vec::new();
    for n in l.puts.len()..l.puts.len() + 3 {
        let (meta, data) = (meta_of(n), payload(n as u64, 0, 200));
        let id = engine.put_picture(pool, &meta, &data).expect("put before the failing sync");
        assert_eq!(engine.get_picture(&id).expect("readable").data, data);
        unsynced.push(Put { id, meta, data });
    }
    let err = engine.sync_pictures(pool).expect_err("the failed fsync must surface");
    assert!(matches!(err, Error::SpaceFailed(_)), "{err}");
    assert_eq!(engine.spaces()[0].status, SpaceStatus::Error);
    assert!(engine
        .events()
        .poll(0)
        .iter()
        .any(|e| matches!(e.kind, EventKind::SpaceStatus { status: SpaceStatus::Error, .. })));
    // No retry on the failed space: later syncs fail too, new puts are refused.
    assert!(engine.sync_pictures(pool).is_err(), "a later sync must not acknowledge the lost writes");
    assert!(engine.sync_all().is_err(), "a later sync_all must not acknowledge the lost writes");
    let refused = engine.put_picture(pool, &meta_of(999), b"after the failure");
    assert!(
        matches!(refused, Err(Error::PoolFull { reason: FullReason::NoUsableSpace, .. } | Error::SpaceFailed(_))),
        "{refused:?}"
    );
    let del = engine.delete_picture(&l.puts[0].id);
    assert!(del.is_err(), "a delete cannot be made durable on a failed space: {del:?}");
    l.tried.insert(l.puts[0].id);
    l.puts.extend(unsynced);
    drop(engine);
    for seed in 0..4 {
        let (e, _, _) = verify(storage.crash_image(seed), &clock, &l, &format!("after EIO on fsync, seed {seed}"));
        e.close().expect("close");
    }
}

/// ENOSPC on a needle write: the put fails with a typed error, the space is
/// poisoned, the sync after it fails, and acknowledged pictures survive.
#[test]
fn enospc_on_a_picture_write_fails_the_put_and_acknowledges_nothing_false() {
    for (skip, what) in [(1u64, "the first write"), (3, "the third write")] {
        let clock = Arc::new(FakeClock::new(T0));
        let storage = Arc::new(MemStorage::new(CAPACITY));
        let (engine, pool) = setup(&storage, &clock, 40).expect("setup");
        let mut l = Ledger::default();
        assert!(workload(&engine, &clock, &mut l, 10, 5).is_none());
        assert_eq!(l.acked, l.puts.len());
        let writes = storage.stats().writes;
        storage.set_faults(FaultPlan { enospc_at_write: Some(writes + skip), ..Default::default() });
        let mut failed = None;
        for n in l.puts.len()..l.puts.len() + 10 {
            let (meta, data) = (meta_of(n), data_of(n));
            match engine.put_picture(pool, &meta, &data) {
                Ok(id) => l.puts.push(Put { id, meta, data }),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let err = failed.unwrap_or_else(|| panic!("{what}: the full disk must surface"));
        assert!(matches!(err, Error::SpaceFailed(_) | Error::PoolFull { .. } | Error::Io { .. }), "{what}: {err}");
        assert_eq!(engine.spaces()[0].status, SpaceStatus::Error, "{what}");
        let synced = engine.sync_pictures(pool);
        assert!(synced.is_err(), "{what}: a sync after a lost write must fail: {synced:?}");
        assert!(engine.sync_all().is_err(), "{what}");
        drop(engine);
        storage.set_faults(FaultPlan::default());
        for seed in 0..3 {
            let (e, _, _) =
                verify(storage.crash_image(seed), &clock, &l, &format!("after ENOSPC at {what}, seed {seed}"));
            e.close().expect("close");
        }
    }
}

/// `get_picture` and `head_picture` are one positioned read each, in an open
/// or a sealed segment, cold after a restart or warm.
#[test]
fn get_and_head_are_one_read_each() {
    let (engine, storage, _clock, l) = stored(40);
    let open_seg = l.puts.last().expect("puts").id.segment;
    let sealed: Vec<&Put> = l.puts.iter().filter(|p| p.id.segment != open_seg).take(3).collect();
    let open: Vec<&Put> = l.puts.iter().filter(|p| p.id.segment == open_seg).take(3).collect();
    assert!(!sealed.is_empty() && !open.is_empty());
    let reads = |f: &dyn Fn()| {
        let before = storage.stats().reads;
        f();
        storage.stats().reads - before
    };
    for p in sealed.iter().chain(&open) {
        assert_eq!(reads(&|| assert_eq!(engine.get_picture(&p.id).expect("get").data, p.data)), 1, "get {}", p.id);
        assert_eq!(reads(&|| assert_eq!(engine.head_picture(&p.id).expect("head").meta, p.meta)), 1, "head {}", p.id);
        assert_eq!(reads(&|| assert_eq!(engine.get_picture(&p.id).expect("get").data, p.data)), 1, "warm get");
        let r = reads(&|| assert_eq!(engine.get_picture_range(&p.id, 1, 10).expect("range").data, p.data.slice(1..11)));
        assert_eq!(r, 1, "range {}", p.id);
    }
    // Through a key: the index is not on the storage, the picture is one read.
    let keyed = l.puts.iter().rev().find(|p| p.meta.key.is_some()).expect("keyed");
    let k = keyed.meta.key.clone().expect("key");
    let r = reads(&|| assert_eq!(engine.get_picture_by_key(&k).expect("by key").data, keyed.data));
    assert_eq!(r, 1, "get by key");
    // A new picture, read back at once.
    let pool = pool_of(&engine);
    let id = engine.put_picture(pool, &meta_of(1000), b"fresh").expect("put");
    assert_eq!(reads(&|| assert_eq!(engine.get_picture(&id).expect("get").data.as_ref(), b"fresh")), 1);
    assert_eq!(reads(&|| assert!(engine.head_picture(&id).is_ok())), 1);
    // A forged id with a valid place costs at most one read, and finds nothing.
    let forged = PictureId { cookie: id.cookie ^ 0x5a5a, ..id };
    let r = reads(&|| assert!(matches!(engine.get_picture(&forged), Err(Error::PictureNotFound(_)))));
    assert!(r <= 1, "{r} reads for a forged id");
    engine.close().expect("close");
}

#[test]
fn locate_matches_the_space_layout() {
    // A self-check of this file's `locate`: flipping the first byte of a
    // picture's record breaks exactly that picture's magic.
    let (engine, storage, _clock, l) = stored(10);
    let p = &l.puts[5];
    let (file, off) = locate(&p.id, 0);
    storage.corrupt(Path::new(&file), off, 0).expect("flip");
    assert!(matches!(engine.get_picture(&p.id), Err(Error::PictureNotFound(_))));
    assert!(l.puts.iter().filter(|q| q.id != p.id).all(|q| engine.get_picture(&q.id).is_ok()));
    storage.corrupt(Path::new(&file), off, 0).expect("flip back");
    assert_eq!(engine.get_picture(&p.id).expect("restored").data, p.data);
    engine.close().expect("close");
}
