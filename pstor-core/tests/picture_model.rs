//! Model-based test of the picture store: random sequences of puts (keyed or
//! not), gets, heads, deletes (by id and by key), syncs, listings, clean
//! reopens and power cuts (`MemStorage::crash_image`) run against the engine
//! and against a small model, compared after every step.
//!
//! Overwrite is part of the model: the pool is small, so it turns over many
//! times. Capture times rise with every put, so picture segments are recycled
//! in the order they were filled, and pictures go in put order: the pictures
//! lost to overwrite are always a prefix of the puts. The model checks that
//! (once a picture is gone, every older one is gone too), that the newest
//! pictures, which fit the pool by a wide margin, are always there, and that
//! whatever is returned is exactly what was put.
//!
//! Durability: a power cut may take puts not yet synced (they may also
//! survive, exactly); it never takes a synced put (unless overwritten) nor
//! undoes a delete that returned.

mod common;

use bytes::Bytes;
use common::{payload, T0};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use pstor_core::io::{MemStorage, Storage};
use pstor_core::*;
use std::path::PathBuf;
use std::sync::Arc;

const SEG: u64 = 64 << 10;
const POOL_SEGMENTS: u64 = 8;
/// The newest pictures totalling this many bytes are never overwritten: the
/// pool minus one segment being filled and one being recycled, minus per-needle
/// overhead and footers (generously).
const SAFE_BYTES: u64 = (POOL_SEGMENTS - 3) * SEG * 3 / 4;
const CAMERAS: u8 = 3;
const KEYS: u8 = 4;

type Outcome = std::result::Result<(), TestCaseError>;

#[derive(Debug, Clone)]
enum Op {
    Put { camera: u8, len: u16, key: Option<u8> },
    Get(u16),
    Delete(u16),
    DeleteByKey(u8),
    GetByKey(u8),
    Sync,
    List { camera: Option<u8>, from: u16, span: u16, limit: u8 },
    Reopen,
    Crash(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0..CAMERAS, 1u16..24_000, proptest::option::weighted(0.3, 0..KEYS))
            .prop_map(|(camera, len, key)| Op::Put { camera, len, key }),
        4 => any::<u16>().prop_map(Op::Get),
        2 => any::<u16>().prop_map(Op::Delete),
        1 => (0..KEYS).prop_map(Op::DeleteByKey),
        2 => (0..KEYS).prop_map(Op::GetByKey),
        3 => Just(Op::Sync),
        2 => (proptest::option::of(0..CAMERAS), any::<u16>(), any::<u16>(), 1u8..40)
            .prop_map(|(camera, from, span, limit)| Op::List { camera, from, span, limit }),
        1 => Just(Op::Reopen),
        1 => any::<u64>().prop_map(Op::Crash),
    ]
}

/// One put as the model knows it.
#[derive(Clone)]
struct MPic {
    id: PictureId,
    meta: PictureMeta,
    data: Bytes,
    /// A sync returned after it.
    durable: bool,
    /// Its delete returned `Ok` (or it was replaced under its key by a put
    /// whose sync returned): never served again.
    deleted: bool,
    /// Known gone (overwritten, or lost in a power cut).
    gone: bool,
    /// May be gone without the model knowing (not durable at a power cut, a
    /// delete that failed, replaced by an unsynced put).
    maybe_gone: bool,
}

impl std::fmt::Debug for MPic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} bytes, {:?}, durable {}, deleted {}, gone {}, maybe gone {})",
            self.id,
            self.data.len(),
            self.meta.key,
            self.durable,
            self.deleted,
            self.gone,
            self.maybe_gone
        )
    }
}

struct World {
    storage: Arc<MemStorage>,
    clock: Arc<FakeClock>,
    engine: Engine,
    pool: PoolId,
    pics: Vec<MPic>,
    /// Puts since the last sync (indexes into `pics`).
    unsynced: Vec<usize>,
    /// Replaced under a key by a put not yet synced.
    replaced: Vec<usize>,
    /// Replaced by a synced put: its delete mark is queued and rides the
    /// next sync (until then it may still be served).
    marking: Vec<usize>,
}

fn opts() -> EngineOptions {
    let mut o = EngineOptions::new("/mem/engine");
    o.min_space_capacity = 256 << 10;
    o.segment_size = SEG;
    o.segments_per_file = 4;
    o.background = false;
    o
}

fn key(k: u8) -> PictureKey {
    PictureKey { bucket: "evidence".into(), key: format!("k{k}") }
}

fn open(storage: &Arc<MemStorage>, clock: &Arc<FakeClock>) -> Engine {
    let s: Arc<dyn Storage> = storage.clone();
    Engine::open_with(opts(), s, clock.clone()).expect("open")
}

impl World {
    fn new() -> World {
        let storage = Arc::new(MemStorage::new(64 << 20));
        let clock = Arc::new(FakeClock::new(T0));
        let engine = open(&storage, &clock);
        let dir = PathBuf::from("/mem/space1");
        storage.create_dir_all(&dir).expect("mkdir");
        let space = engine
            .initialize_space(SpaceSpec { path: dir, capacity: 32 * SEG, segment_size: None })
            .expect("init")
            .wait()
            .expect("init done");
        let pool = engine
            .create_pool(PoolSpec {
                name: "pictures".into(),
                kind: PoolKind::Picture,
                capacity: POOL_SEGMENTS * SEG,
                spaces: vec![space],
                strategy: OverwriteStrategy::OverwriteOldest,
                cycle_days: 0,
                max_lock_pct: 0,
            })
            .expect("pool");
        World {
            storage,
            clock,
            engine,
            pool,
            pics: Vec::new(),
            unsynced: Vec::new(),
            replaced: Vec::new(),
            marking: Vec::new(),
        }
    }

    fn pick(&self, n: u16) -> Option<usize> {
        (!self.pics.is_empty()).then(|| n as usize % self.pics.len())
    }

    /// Whether picture `i` must be served (exactly).
    fn must_exist(&self, i: usize) -> bool {
        let p = &self.pics[i];
        if p.deleted || p.gone || p.maybe_gone {
            return false;
        }
        // Among the newest pictures that fit the pool by a wide margin.
        let newer: u64 = self.pics[i..].iter().map(|p| p.id.len as u64).sum();
        newer <= SAFE_BYTES
    }

    /// Checks what the engine says of picture `i`; returns whether it is there.
    fn check(&mut self, i: usize) -> std::result::Result<bool, TestCaseError> {
        let got = self.engine.get_picture(&self.pics[i].id);
        let p = &self.pics[i];
        match got {
            Ok(pic) => {
                prop_assert!(!p.deleted && !p.gone, "picture {i} served after it was deleted or lost: {p:?}");
                prop_assert_eq!(&pic.data, &p.data, "picture {} bytes", i);
                prop_assert_eq!(&pic.info.meta, &p.meta, "picture {} meta", i);
                match self.engine.head_picture(&p.id) {
                    Ok(h) => prop_assert_eq!(h.md5, pic.info.md5),
                    // Its delete mark (replaced under its key) landed meanwhile.
                    Err(Error::PictureNotFound(_)) if p.maybe_gone => {}
                    Err(e) => return Err(TestCaseError::fail(format!("picture {i}: head: {e}"))),
                }
                Ok(true)
            }
            Err(Error::PictureNotFound(_)) => {
                prop_assert!(!self.must_exist(i), "picture {i} lost: {p:?}");
                self.observed_missing(i);
                Ok(false)
            }
            Err(e) => Err(TestCaseError::fail(format!("picture {i}: unexpected error {e}"))),
        }
    }

    /// Picture `i` was not found: unless deleted, or possibly gone another way
    /// (a delete mark not yet durable, which a power cut can undo), it was
    /// overwritten and never comes back.
    fn observed_missing(&mut self, i: usize) {
        let p = &mut self.pics[i];
        if !p.deleted && !p.maybe_gone {
            p.gone = true;
        }
    }

    /// The prefix rule: pictures are overwritten in put order, so once one
    /// is overwritten no older one is still served.
    fn check_overwrite_order(&mut self) -> Outcome {
        let mut present = Vec::with_capacity(self.pics.len());
        for i in 0..self.pics.len() {
            present.push(self.check(i)?);
        }
        let overwritten = (0..self.pics.len()).rev().find(|&i| self.pics[i].gone);
        if let Some(g) = overwritten {
            if let Some(i) = (0..g).find(|&i| present[i]) {
                return Err(TestCaseError::fail(format!(
                    "picture {g} was overwritten but the older picture {i} is still served ({:?})",
                    self.pics[i]
                )));
            }
        }
        Ok(())
    }

    /// The newest put under a key.
    fn key_holder(&self, k: u8) -> Option<usize> {
        (0..self.pics.len()).rev().find(|&i| self.pics[i].meta.key.as_ref() == Some(&key(k)))
    }

    fn sync_done(&mut self) {
        for &i in &self.unsynced {
            self.pics[i].durable = true;
        }
        self.unsynced.clear();
        // Marks queued after the previous sync are durable now.
        for old in std::mem::take(&mut self.marking) {
            self.pics[old].deleted = true;
        }
        for old in std::mem::take(&mut self.replaced) {
            self.pics[old].maybe_gone = true;
            self.marking.push(old);
        }
    }

    fn after_restart(&mut self, crashed: bool) {
        if crashed {
            for &i in &self.unsynced {
                self.pics[i].maybe_gone = true;
            }
            // A replaced picture whose mark was not durable is not deleted by
            // anyone any more; it may be there or not.
            for old in std::mem::take(&mut self.replaced).into_iter().chain(std::mem::take(&mut self.marking)) {
                self.pics[old].maybe_gone = true;
            }
        }
        self.unsynced.clear();
    }

    fn step(&mut self, op: &Op) -> Outcome {
        match *op {
            Op::Put { camera, len, key: k } => {
                let n = self.pics.len();
                self.clock.advance(1_000);
                let meta = PictureMeta {
                    camera_id: format!("cam-{camera}"),
                    captured_at: T0 + n as i64 * 1_000,
                    content_type: "image/jpeg".into(),
                    key: k.map(key),
                };
                let data = payload(n as u64, 0, len as usize);
                let previous = k.and_then(|k| self.key_holder(k));
                let id = self.engine.put_picture(self.pool, &meta, &data);
                let id = id.map_err(|e| TestCaseError::fail(format!("put {n}: {e}")))?;
                prop_assert_eq!(id.to_string().parse::<PictureId>().ok(), Some(id));
                self.pics.push(MPic { id, meta, data, durable: false, deleted: false, gone: false, maybe_gone: false });
                self.unsynced.push(n);
                if let Some(old) = previous.filter(|&o| !self.pics[o].deleted) {
                    self.replaced.push(old);
                }
                // Read your write.
                prop_assert!(self.check(n)?, "picture {n} not readable right after its put");
            }
            Op::Get(x) => {
                if let Some(i) = self.pick(x) {
                    self.check(i)?;
                }
            }
            Op::Delete(x) => {
                let Some(i) = self.pick(x) else { return Ok(()) };
                match self.engine.delete_picture(&self.pics[i].id) {
                    Ok(()) => {
                        prop_assert!(!self.pics[i].deleted && !self.pics[i].gone, "deleted twice: {i}");
                        self.pics[i].deleted = true;
                    }
                    Err(Error::PictureNotFound(_)) => {
                        prop_assert!(!self.must_exist(i), "delete of live picture {i} not found");
                        self.observed_missing(i);
                    }
                    Err(e) => return Err(TestCaseError::fail(format!("delete {i}: {e}"))),
                }
                prop_assert!(matches!(self.engine.get_picture(&self.pics[i].id), Err(Error::PictureNotFound(_))));
            }
            Op::DeleteByKey(k) => {
                let holder = self.key_holder(k);
                let named = self.engine.picture_id_for_key(&key(k)).ok();
                match self.engine.delete_picture_by_key(&key(k)) {
                    Ok(()) => {
                        let named = named.ok_or_else(|| TestCaseError::fail("deleted a key that named nothing"))?;
                        let i = self
                            .pics
                            .iter()
                            .position(|p| p.id == named)
                            .ok_or_else(|| TestCaseError::fail("key named an unknown picture"))?;
                        prop_assert!(!self.pics[i].deleted && !self.pics[i].gone, "key {k}: deleted picture {i} again");
                        prop_assert!(
                            holder
                                .is_some_and(|h| (i + 1..=h)
                                    .all(|m| self.pics[m].meta.key != Some(key(k)) || !self.must_exist(m))),
                            "key {k} named {i}, but a newer put of it must exist"
                        );
                        self.pics[i].deleted = true;
                    }
                    Err(Error::KeyNotFound { .. }) => {
                        if let Some(i) = holder {
                            prop_assert!(!self.must_exist(i), "key {k}: live picture {i} not found by key");
                        }
                    }
                    Err(e) => return Err(TestCaseError::fail(format!("delete key {k}: {e}"))),
                }
            }
            Op::GetByKey(k) => {
                let holder = self.key_holder(k);
                match self.engine.get_picture_by_key(&key(k)) {
                    Ok(pic) => {
                        let i = holder.ok_or_else(|| TestCaseError::fail("a key never put resolved"))?;
                        // The newest put of the key, or (after a power cut took
                        // newer unsynced ones) an older one that survived.
                        let j = (0..=i)
                            .rev()
                            .find(|&j| self.pics[j].id == pic.info.id)
                            .ok_or_else(|| TestCaseError::fail(format!("key {k} names an unknown picture")))?;
                        prop_assert_eq!(self.pics[j].meta.key.clone(), Some(key(k)));
                        prop_assert!(!self.pics[j].deleted && !self.pics[j].gone, "key {k} names deleted {j}");
                        prop_assert!(
                            (j + 1..=i).all(|m| self.pics[m].meta.key != Some(key(k)) || !self.must_exist(m)),
                            "key {k} names {j}, but a newer put of it must exist"
                        );
                        prop_assert_eq!(&pic.data, &self.pics[j].data);
                    }
                    Err(Error::KeyNotFound { .. }) => {
                        if let Some(i) = holder {
                            prop_assert!(!self.must_exist(i), "key {k}: live picture {i} not found by key");
                        }
                    }
                    Err(e) => return Err(TestCaseError::fail(format!("get key {k}: {e}"))),
                }
            }
            Op::Sync => {
                self.engine.sync_pictures(self.pool).map_err(|e| TestCaseError::fail(format!("sync: {e}")))?;
                self.sync_done();
            }
            Op::List { camera, from, span, limit } => {
                let n = self.pics.len().max(1) as i64;
                let start = T0 + (from as i64 % n) * 1_000;
                let end = start + (span as i64 % n) * 1_000;
                let q = PictureQuery {
                    pool: self.pool,
                    camera_id: camera.map(|c| format!("cam-{c}")),
                    start,
                    end,
                    limit: limit as usize,
                    after: None,
                };
                let got = self.engine.list_pictures(&q).map_err(|e| TestCaseError::fail(format!("list: {e}")))?;
                prop_assert!(got.len() <= limit as usize);
                prop_assert!(got.windows(2).all(|w| w[0].meta.captured_at < w[1].meta.captured_at));
                let mut listed = 0;
                for info in &got {
                    let i = self
                        .pics
                        .iter()
                        .position(|p| p.id == info.id)
                        .ok_or_else(|| TestCaseError::fail("listed an unknown picture"))?;
                    prop_assert!(!self.pics[i].deleted && !self.pics[i].gone, "listed deleted/gone picture {i}");
                    prop_assert_eq!(&info.meta, &self.pics[i].meta);
                    listed += 1;
                }
                // Every picture that must exist in the window is listed, up to the limit.
                let want: Vec<usize> = (0..self.pics.len())
                    .filter(|&i| {
                        let m = &self.pics[i].meta;
                        m.captured_at >= start
                            && m.captured_at <= end
                            && camera.is_none_or(|c| m.camera_id == format!("cam-{c}"))
                    })
                    .collect();
                if want.iter().all(|&i| self.must_exist(i)) {
                    prop_assert_eq!(listed, want.len().min(limit as usize), "listing of {:?}", q);
                }
            }
            Op::Reopen => {
                self.engine.close().map_err(|e| TestCaseError::fail(format!("close: {e}")))?;
                self.sync_done();
                self.engine = open(&self.storage, &self.clock);
                self.after_restart(false);
            }
            Op::Crash(seed) => {
                // The old engine keeps writing to the old storage until it is
                // dropped (when replaced): the image is what a power cut left.
                self.storage = Arc::new(self.storage.crash_image(seed));
                self.engine = open(&self.storage, &self.clock);
                self.after_restart(true);
                let report = self.engine.check(false).map_err(|e| TestCaseError::fail(format!("check: {e}")))?;
                prop_assert!(report.is_clean(), "check after a power cut: {:?}", report.problems);
            }
        }
        self.check_overwrite_order()
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        max_shrink_iters: 1000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn pictures_behave_like_the_model(ops in proptest::collection::vec(op(), 1..160)) {
        let mut w = World::new();
        for op in &ops {
            w.step(op)?;
        }
        if std::env::var_os("PICTURE_MODEL_STATS").is_some() {
            let gone = w.pics.iter().filter(|p| p.gone).count();
            let deleted = w.pics.iter().filter(|p| p.deleted).count();
            eprintln!("stats: {} puts, {gone} overwritten, {deleted} deleted", w.pics.len());
        }
        w.engine.close().map_err(|e| TestCaseError::fail(format!("close: {e}")))?;
    }
}
