//! Real-process crash test for pictures: a child process (this very test
//! binary, re-executed) puts pictures from four threads into a picture pool on
//! the real file system, deletes some of them, and journals (fsynced) every put
//! a `sync_pictures` acknowledged and every delete that returned `Ok`; the
//! parent SIGKILLs it at a random moment, reopens the engine and checks:
//!
//! - every acknowledged put reads back byte-identical with its meta (and its
//!   ETag is the MD5 of the data), and is listed;
//! - every acknowledged delete is `PictureNotFound` (by id) and `KeyNotFound`
//!   (by key), and is not listed;
//! - every keyed put resolves by key to itself; the one reused key of each
//!   writer resolves to the newest surviving put of it, never older than the
//!   last acknowledged one (but see [`KEY_AHEAD_OF_DATA_TOLERATED`]); a put
//!   superseded by a later acknowledged put of the same key in the same run
//!   is gone (the usual case) or, if the kill lost its best-effort delete,
//!   still reads back identical;
//! - a delete the kill interrupted (journaled as attempted, not as done) has
//!   happened or not: the picture reads back identical or is not found;
//! - every listed picture (acknowledged or not) is one that was put and reads
//!   back byte-identical; a camera's listing is exactly the pool listing's
//!   pictures of that camera;
//! - `check` finds nothing wrong.
//!
//! Ten rounds, each child continuing on the same folder (new pictures, deletes
//! of pictures of earlier rounds). The pool is sized so nothing is recycled:
//! every acknowledged picture must survive.

mod common;
use common::{payload, T0};
use md5::{Digest, Md5};
use pstor_core::*;
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Set (to the test directory) in the child's environment only.
const CHILD_ENV: &str = "PSTOR_PICTURE_KILL9_CHILD";
/// The round number, for the child.
const ROUND_ENV: &str = "PSTOR_PICTURE_KILL9_ROUND";
/// Journal of acknowledged puts and deletes (see [`Journal`]).
const JOURNAL: &str = "acked.log";
/// Created by the child once its space and pool are in place.
const READY: &str = "child-ready";
/// The first rounds kill the child at a random time after it starts (it may
/// die while initializing its space); later rounds count from its readiness.
const ROUNDS_FROM_SPAWN: usize = 2;
const ROUNDS: usize = 10;
/// Writer threads in the child.
const WRITERS: u32 = 4;
/// Pictures one writer puts in one round at most; then it waits for the kill.
const MAX_PUTS: u32 = 60;
/// Cameras the pictures are spread over.
const CAMERAS: u32 = 3;
const SEG: u64 = 1 << 20;
/// The space and the pool: 256 segments of 1 MiB.
const SPACE_SEGS: u64 = 256;
const POOL_SEGS: u64 = 256;
const POOL_NAME: &str = "pictures";
const BUCKET: &str = "snap";
/// How long a child may take to open the engine and set up.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Whether to tolerate a writer's reused key naming a put whose needle never
/// made it, so that the key is not found (or is corrupt) while older puts of
/// it are live. This test found that (a key row was written before its needle
/// was durable; about one run in 30); the key index now writes a row only once
/// its needle is durable, so it is not tolerated any more.
const KEY_AHEAD_OF_DATA_TOLERATED: bool = false;

// ---- the deterministic pictures -------------------------------------------------

/// Which put a picture is: the `n`th put of writer `w` in round `round`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Ident {
    round: u32,
    n: u32,
    w: u32,
}

fn mix(x: Ident) -> u64 {
    let mut h = (x.round as u64) << 40 ^ (x.w as u64) << 20 ^ x.n as u64;
    h = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

/// Capture time: one second per put, in (round, n, writer) order, so the
/// capture time alone tells which put a listed picture is.
fn captured_at(x: Ident) -> Timestamp {
    T0 + (((x.round * MAX_PUTS + x.n) * WRITERS + x.w) as i64) * US_PER_SEC
}

fn ident_of(ts: Timestamp) -> Option<Ident> {
    let d = ts - T0;
    if d < 0 || d % US_PER_SEC != 0 {
        return None;
    }
    let q = (d / US_PER_SEC) as u64;
    let w = (q % WRITERS as u64) as u32;
    let q = q / WRITERS as u64;
    let n = (q % MAX_PUTS as u64) as u32;
    let round = q / MAX_PUTS as u64;
    (round < ROUNDS as u64).then_some(Ident { round: round as u32, n, w })
}

fn camera_of(x: Ident) -> String {
    format!("cam-{}", (x.w + x.n) % CAMERAS)
}

/// Each writer's one reused key.
fn reused_key(w: u32) -> PictureKey {
    PictureKey { bucket: BUCKET.into(), key: format!("w{w}/latest") }
}

fn is_reused(x: Ident) -> bool {
    x.n % 5 == 2
}

fn key_of(x: Ident) -> Option<PictureKey> {
    match x.n % 5 {
        2 => Some(reused_key(x.w)),
        0 | 3 => Some(PictureKey { bucket: BUCKET.into(), key: format!("r{}/w{}/n{}", x.round, x.w, x.n) }),
        _ => None,
    }
}

fn meta_of(x: Ident) -> PictureMeta {
    PictureMeta {
        camera_id: camera_of(x),
        captured_at: captured_at(x),
        content_type: ["image/jpeg", "image/png", "image/jpeg", ""][(x.n % 4) as usize].into(),
        key: key_of(x),
    }
}

/// 1 KiB..40 KiB mostly, one in eight 100 KiB..200 KiB.
fn len_of(x: Ident) -> usize {
    let h = mix(x);
    if h.is_multiple_of(8) {
        (100 << 10) + ((h >> 8) % (100 << 10)) as usize + 1
    } else {
        (1 << 10) + ((h >> 8) % (39 << 10)) as usize
    }
}

fn data_of(x: Ident) -> bytes::Bytes {
    payload(mix(x) ^ 0x0123_4567_89AB_CDEF, captured_at(x), len_of(x))
}

fn opts(dir: &Path) -> EngineOptions {
    let mut o = EngineOptions::new(dir.join("engine"));
    o.min_space_capacity = 1 << 20;
    o.segment_size = SEG;
    o
}

fn open_engine(dir: &Path) -> Engine {
    Engine::open(opts(dir)).expect("open engine")
}

// ---- the journal -------------------------------------------------------------------

/// What the children acknowledged, from the complete lines of the journal:
/// `P <id> <round> <writer> <n>` (a put a sync acknowledged), `I <id>` (a
/// delete about to be attempted), `D <id>` (a delete that returned `Ok`).
#[derive(Debug, Default)]
struct Journal {
    /// Acknowledged puts in journal order.
    puts: Vec<(PictureId, Ident)>,
    intents: HashSet<PictureId>,
    deleted: HashSet<PictureId>,
}

fn read_journal(dir: &Path) -> Journal {
    let text = match std::fs::read_to_string(dir.join(JOURNAL)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => panic!("reading the journal: {e}"),
    };
    let complete = match text.rfind('\n') {
        Some(p) => &text[..=p],
        None => "",
    };
    let mut j = Journal::default();
    let mut known = HashSet::new();
    for line in complete.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let id = |s: &str| s.parse::<PictureId>().unwrap_or_else(|e| panic!("journal line {line:?}: {e}"));
        let num = |s: &str| s.parse::<u32>().unwrap_or_else(|e| panic!("journal line {line:?}: {e}"));
        match parts[..] {
            ["P", i, r, w, n] => {
                let id = id(i);
                assert!(known.insert(id), "journal: id {id} acknowledged twice");
                j.puts.push((id, Ident { round: num(r), w: num(w), n: num(n) }));
            }
            ["I", i] => {
                let id = id(i);
                assert!(known.contains(&id), "journal: delete of {id}, which was never acknowledged");
                j.intents.insert(id);
            }
            ["D", i] => {
                let id = id(i);
                assert!(j.intents.contains(&id), "journal: delete of {id} without intent");
                j.deleted.insert(id);
            }
            _ => panic!("malformed journal line {line:?}"),
        }
    }
    j
}

/// Appends lines in one write and makes them durable: a kill leaves at most
/// one torn last line.
fn journal_append(journal: &Mutex<File>, lines: &str) {
    let mut f = journal.lock().expect("journal lock");
    f.write_all(lines.as_bytes()).expect("journal write");
    f.sync_data().expect("journal sync");
}

// ---- the child -------------------------------------------------------------------

/// The writer. Does nothing unless re-executed by `picture_kill9_crash_loop`.
#[test]
fn picture_kill9_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let round: u32 = std::env::var(ROUND_ENV).expect("round").parse().expect("round number");
    child_main(Path::new(&dir), round);
}

/// Finds or creates the space and the pool (either may be missing or the
/// space half-initialized after an earlier kill).
fn child_setup(engine: &Engine, dir: &Path) -> PoolId {
    let space = match engine.spaces().into_iter().find(|s| s.status == SpaceStatus::Normal) {
        Some(s) => s.id,
        None => {
            assert!(engine.spaces().is_empty(), "a space the engine lists but not in service: {:?}", engine.spaces());
            // A folder left by a killed initialization may hold anything:
            // never reuse it.
            let mut n = 1;
            let path = loop {
                let p = dir.join(format!("space-{n}"));
                if !p.exists() {
                    break p;
                }
                n += 1;
            };
            std::fs::create_dir(&path).expect("mkdir space");
            let spec = SpaceSpec { path, capacity: SPACE_SEGS * SEG, segment_size: None };
            engine.initialize_space(spec).expect("initialize space").wait().expect("space initialized")
        }
    };
    match engine.pools().into_iter().find(|p| p.config.name == POOL_NAME) {
        Some(p) => p.config.id,
        None => engine
            .create_pool(PoolSpec {
                name: POOL_NAME.into(),
                kind: PoolKind::Picture,
                capacity: POOL_SEGS * SEG,
                spaces: vec![space],
                strategy: OverwriteStrategy::OverwriteOldest,
                cycle_days: 0,
                max_lock_pct: 50,
            })
            .expect("create pool"),
    }
}

fn child_main(dir: &Path, round: u32) {
    let engine = open_engine(dir);
    let pool = child_setup(&engine, dir);
    // Pictures of earlier rounds each writer may delete: acknowledged, never
    // touched by a delete, and not under the reused key.
    let j = read_journal(dir);
    let mut earlier: Vec<Vec<PictureId>> = vec![Vec::new(); WRITERS as usize];
    for (id, x) in &j.puts {
        if !j.intents.contains(id) && !is_reused(*x) {
            earlier[x.w as usize].push(*id);
        }
    }
    eprintln!("child: round {round}, {} acknowledged puts so far", j.puts.len());
    std::fs::write(dir.join(READY), b"").expect("ready marker");
    let journal =
        Mutex::new(std::fs::OpenOptions::new().create(true).append(true).open(dir.join(JOURNAL)).expect("journal"));
    std::thread::scope(|s| {
        for (w, deletable) in earlier.into_iter().enumerate() {
            let (engine, journal) = (&engine, &journal);
            s.spawn(move || writer(engine, pool, round, w as u32, deletable, journal));
        }
    });
    eprintln!("child: every writer is done, waiting for the kill");
    loop {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn writer(engine: &Engine, pool: PoolId, round: u32, w: u32, mut deletable: Vec<PictureId>, journal: &Mutex<File>) {
    let mut rng = rand::thread_rng();
    let mut unsynced: Vec<(PictureId, Ident)> = Vec::new();
    for n in 0..MAX_PUTS {
        let x = Ident { round, n, w };
        let id = engine.put_picture(pool, &meta_of(x), &data_of(x)).expect("put picture");
        unsynced.push((id, x));
        if n + 1 == MAX_PUTS || rng.gen_ratio(1, 3) {
            engine.sync_pictures(pool).expect("sync pictures");
            let mut lines = String::new();
            for (id, x) in unsynced.drain(..) {
                lines.push_str(&format!("P {id} {} {} {}\n", x.round, x.w, x.n));
                if !is_reused(x) {
                    deletable.push(id);
                }
            }
            journal_append(journal, &lines);
        }
        if !deletable.is_empty() && rng.gen_ratio(1, 8) {
            let id = deletable.swap_remove(rng.gen_range(0..deletable.len()));
            journal_append(journal, &format!("I {id}\n"));
            engine.delete_picture(&id).unwrap_or_else(|e| panic!("deleting acknowledged picture {id}: {e}"));
            journal_append(journal, &format!("D {id}\n"));
        }
        // Spread the writing over the round rather than finishing early.
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..4_000)));
    }
}

// ---- the parent ------------------------------------------------------------------

#[derive(Debug, Default)]
struct Verified {
    /// Pictures read back and compared (listed ones and acknowledged ones).
    read: u64,
    /// Acknowledged puts checked.
    acked: u64,
    /// Acknowledged puts read back identical.
    acked_live: u64,
    /// Acknowledged deletes checked.
    deleted: u64,
    /// Acknowledged puts of a reused key, superseded by a later acknowledged
    /// put of it, checked gone.
    superseded: u64,
    /// Such puts still there (their delete is best effort across a crash).
    superseded_kept: u64,
    /// Keys resolved and checked.
    keys: u64,
    /// Reused keys found naming a put that never made it (tolerated, see
    /// [`KEY_AHEAD_OF_DATA_TOLERATED`]).
    keys_lost: u64,
    /// Listed pictures that were never acknowledged.
    unacked_live: u64,
    /// Pictures listed.
    listed: u64,
    /// Bytes the pool uses.
    pool_used: u64,
    /// Torn tails recovery truncated when the parent opened the engine.
    torn_tails: u64,
}

/// Reads a picture and checks it is exactly put `x`.
fn expect_identical(engine: &Engine, id: &PictureId, x: Ident, round: usize, what: &str) -> PictureInfo {
    let p = engine.get_picture(id).unwrap_or_else(|e| panic!("round {round}: {what} {id} ({x:?}): {e}"));
    check_picture(&p, id, x, round, what);
    p.info
}

fn check_picture(p: &Picture, id: &PictureId, x: Ident, round: usize, what: &str) {
    assert_eq!(p.info.id, *id, "round {round}: {what} {x:?}: id");
    assert_eq!(p.info.meta, meta_of(x), "round {round}: {what} {id} ({x:?}): meta");
    let want = data_of(x);
    assert!(
        p.data == want,
        "round {round}: {what} {id} ({x:?}): data differs ({} vs {} bytes)",
        p.data.len(),
        want.len()
    );
    assert_eq!(p.info.size, want.len() as u64, "round {round}: {what} {id} ({x:?}): size");
    let md5: [u8; 16] = Md5::digest(&want).into();
    assert_eq!(p.info.md5, md5, "round {round}: {what} {id} ({x:?}): md5");
}

/// A read's outcome for a message: the picture's info, not its bytes.
fn outcome(r: &Result<Picture>) -> String {
    match r {
        Ok(p) => format!("Ok({:?})", p.info),
        Err(e) => format!("Err({e:?})"),
    }
}

fn expect_not_found(engine: &Engine, id: &PictureId, round: usize, what: &str) {
    match engine.get_picture(id) {
        Err(Error::PictureNotFound(_)) => {}
        other => panic!("round {round}: {what} {id}: expected PictureNotFound, got {}", outcome(&other)),
    }
    match engine.head_picture(id) {
        Err(Error::PictureNotFound(_)) => {}
        other => panic!("round {round}: {what} {id}: head: expected PictureNotFound, got {other:?}"),
    }
}

/// Every picture of the query, page by page (`limit` per page).
fn list_all(engine: &Engine, pool: PoolId, camera_id: Option<String>, limit: usize) -> Vec<PictureInfo> {
    let mut q = PictureQuery { pool, camera_id, start: Timestamp::MIN, end: Timestamp::MAX, limit, after: None };
    let mut out: Vec<PictureInfo> = Vec::new();
    loop {
        let page = engine.list_pictures(&q).expect("list pictures");
        assert!(page.len() <= limit, "a page of {} pictures, limit {limit}", page.len());
        let Some(last) = page.last() else { break };
        q.after = Some((last.meta.captured_at, last.id));
        let full = page.len() == limit;
        out.extend(page);
        if !full {
            break;
        }
    }
    out
}

/// Verifies the engine against the journal.
fn verify(engine: &Engine, dir: &Path, round: usize) -> Verified {
    let j = read_journal(dir);
    let torn_tails =
        engine.events().poll(0).iter().filter(|e| matches!(e.kind, EventKind::TailTruncated { .. })).count() as u64;
    let mut v = Verified { torn_tails, ..Verified::default() };
    let Some(pool) = engine.pools().into_iter().find(|p| p.config.name == POOL_NAME) else {
        assert!(j.puts.is_empty(), "round {round}: acknowledged puts but no pool");
        return v;
    };
    let pool_id = pool.config.id;
    v.pool_used = pool.used;
    // Far from the 10 % free that starts recycling (segments are not filled
    // to the byte, so the pool uses more than the bytes put).
    assert!(pool.used < pool.capacity / 4 * 3, "round {round}: pool {} of {} bytes used", pool.used, pool.capacity);

    // Everything listed is a put that happened, and reads back identical.
    let listed = list_all(engine, pool_id, None, 97);
    let mut live: HashMap<PictureId, Ident> = HashMap::new();
    let mut live_idents: HashSet<Ident> = HashSet::new();
    let mut prev: Option<(Timestamp, PictureId)> = None;
    for info in &listed {
        let at = (info.meta.captured_at, info.id);
        assert!(prev.is_none_or(|p| p < at), "round {round}: listing not in order at {at:?} after {prev:?}");
        prev = Some(at);
        let x = ident_of(info.meta.captured_at)
            .unwrap_or_else(|| panic!("round {round}: listed picture {} was never put: {:?}", info.id, info.meta));
        assert!(x.round <= round as u32 && x.n < MAX_PUTS, "round {round}: listed picture {x:?} was never put");
        assert!(live_idents.insert(x), "round {round}: put {x:?} listed twice");
        let got = expect_identical(engine, &info.id, x, round, "listed picture");
        assert_eq!(&got, info, "round {round}: listed info vs read info of {x:?}");
        live.insert(info.id, x);
        v.read += 1;
    }
    v.listed = listed.len() as u64;

    // A camera's listing (small pages) is the pool listing's pictures of it.
    for c in 0..CAMERAS {
        let cam = format!("cam-{c}");
        let got: Vec<PictureId> = list_all(engine, pool_id, Some(cam.clone()), 7).iter().map(|i| i.id).collect();
        let want: Vec<PictureId> = listed.iter().filter(|i| i.meta.camera_id == cam).map(|i| i.id).collect();
        assert_eq!(got, want, "round {round}: listing of {cam} vs the pool listing");
    }

    // Acknowledged puts and deletes.
    let acked: HashMap<PictureId, Ident> = j.puts.iter().copied().collect();
    // Reused-key puts per (round, writer), in put order.
    let mut reused_runs: BTreeMap<(u32, u32), Vec<PictureId>> = BTreeMap::new();
    for (id, x) in &j.puts {
        if is_reused(*x) {
            reused_runs.entry((x.round, x.w)).or_default().push(*id);
        }
    }
    let superseded: HashSet<PictureId> =
        reused_runs.values().flat_map(|ids| ids[..ids.len() - 1].iter().copied()).collect();
    for (id, x) in &j.puts {
        v.acked += 1;
        if j.deleted.contains(id) {
            expect_not_found(engine, id, round, "acknowledged delete");
            assert!(!live.contains_key(id), "round {round}: deleted picture {id} ({x:?}) is listed");
            if let Some(k) = key_of(*x) {
                match engine.get_picture_by_key(&k) {
                    Err(Error::KeyNotFound { .. }) => {}
                    other => panic!(
                        "round {round}: key {k:?} of deleted {x:?}: expected KeyNotFound, got {}",
                        outcome(&other)
                    ),
                }
            }
            v.deleted += 1;
        } else if superseded.contains(id) {
            // The next put of its key (same writer, same run) was acknowledged
            // after it and deleted it, unless the kill lost that delete (it
            // is queued without waiting, so a crash may drop it).
            match engine.get_picture(id) {
                Err(Error::PictureNotFound(_)) => {
                    assert!(!live.contains_key(id), "round {round}: superseded picture {id} ({x:?}) is listed");
                    v.superseded += 1;
                }
                Ok(p) => {
                    check_picture(&p, id, *x, round, "superseded put of a reused key");
                    assert!(live.contains_key(id), "round {round}: readable picture {id} ({x:?}) is not listed");
                    v.superseded_kept += 1;
                    v.read += 1;
                }
                Err(e) => panic!("round {round}: superseded put {id} ({x:?}): {e}"),
            }
        } else if j.intents.contains(id) || is_reused(*x) {
            // A delete that may or may not have happened; a reused-key put a
            // later (unacknowledged or later-run) put of the key may have deleted.
            match engine.get_picture(id) {
                Ok(p) => {
                    check_picture(&p, id, *x, round, "acknowledged put");
                    assert!(live.contains_key(id), "round {round}: readable picture {id} ({x:?}) is not listed");
                    v.acked_live += 1;
                    v.read += 1;
                }
                Err(Error::PictureNotFound(_)) => {
                    assert!(!live.contains_key(id), "round {round}: listed picture {id} ({x:?}) is not found");
                }
                Err(e) => panic!("round {round}: acknowledged put {id} ({x:?}): {e}"),
            }
        } else {
            expect_identical(engine, id, *x, round, "acknowledged put");
            assert!(live.contains_key(id), "round {round}: acknowledged picture {id} ({x:?}) is not listed");
            v.acked_live += 1;
            v.read += 1;
        }
    }
    v.unacked_live = live.keys().filter(|id| !acked.contains_key(id)).count() as u64;

    // Unique keys: every live keyed picture (acknowledged or not) resolves by
    // its key to itself; acknowledged deletes were checked above.
    for (id, x) in &live {
        let Some(k) = key_of(*x).filter(|_| !is_reused(*x)) else { continue };
        let p = engine.get_picture_by_key(&k).unwrap_or_else(|e| panic!("round {round}: key {k:?} of {x:?}: {e}"));
        check_picture(&p, id, *x, round, "picture by key");
        v.keys += 1;
        v.read += 1;
    }
    // Unique keys of acknowledged puts that are not live: only after a delete.
    for (id, x) in &j.puts {
        if let Some(k) = key_of(*x).filter(|_| !is_reused(*x) && !live.contains_key(id)) {
            assert!(j.intents.contains(id), "round {round}: acknowledged keyed put {x:?} is gone without a delete");
            match engine.get_picture_by_key(&k) {
                Err(Error::KeyNotFound { .. }) => {}
                other => {
                    panic!("round {round}: key {k:?} of deleted {x:?}: expected KeyNotFound, got {}", outcome(&other))
                }
            }
        }
    }
    // Each writer's reused key: the newest surviving put of it, which is
    // never older than the newest acknowledged one.
    for w in 0..WRITERS {
        let k = reused_key(w);
        let newest_live = live.iter().filter(|(_, x)| x.w == w && is_reused(**x)).max_by_key(|(_, x)| **x);
        let newest_acked = j.puts.iter().filter(|(_, x)| x.w == w && is_reused(*x)).map(|(_, x)| *x).max();
        match (engine.get_picture_by_key(&k), newest_live) {
            (Ok(p), Some((id, x))) => {
                check_picture(&p, id, *x, round, "picture by reused key");
                v.read += 1;
                assert!(
                    newest_acked.is_none_or(|a| a <= *x),
                    "round {round}: reused key {k:?} names {x:?}, older than the acknowledged {newest_acked:?}"
                );
                v.keys += 1;
            }
            (Err(e @ (Error::KeyNotFound { .. } | Error::Corrupt(_))), Some((id, x)))
                if KEY_AHEAD_OF_DATA_TOLERATED =>
            {
                // The key names a newer put that never made it (or made it
                // torn), never one that is there.
                if matches!(e, Error::Corrupt(_)) {
                    let named = engine.picture_id_for_key(&k).expect("id for key");
                    assert!(!live.contains_key(&named), "round {round}: reused key {k:?} names live {named}: {e}");
                }
                assert!(
                    newest_acked.is_none_or(|a| a <= *x),
                    "round {round}: reused key {k:?}: newest live put {x:?} older than the acknowledged {newest_acked:?}"
                );
                eprintln!(
                    "picture_kill9: round {round}: reused key {k:?} lost ({e}) while its put {x:?} ({id}) is there: \
                     the key index got ahead of the data (known engine issue, tolerated)"
                );
                v.keys_lost += 1;
            }
            (Err(Error::KeyNotFound { .. }), None) => {
                assert!(newest_acked.is_none(), "round {round}: reused key {k:?} lost (acknowledged {newest_acked:?})");
            }
            (got, want) => {
                panic!("round {round}: reused key {k:?}: got {}, newest live put {want:?}", outcome(&got))
            }
        }
    }

    let report = engine.check(false).expect("check");
    assert!(report.is_clean(), "round {round}: check found {:?}", report.problems);
    v
}

fn child_log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[test]
fn picture_kill9_crash_loop() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let started = Instant::now();
    // Everything the children can put fits in half the pool: no recycling.
    let all_bytes: u64 = (0..ROUNDS as u32)
        .flat_map(|round| (0..WRITERS).flat_map(move |w| (0..MAX_PUTS).map(move |n| Ident { round, n, w })))
        .map(|x| len_of(x) as u64)
        .sum();
    assert!(all_bytes < POOL_SEGS * SEG / 2, "{all_bytes} bytes of pictures would not leave the pool half free");
    let tmp = tempfile::tempdir().expect("tmp");
    let dir: PathBuf = tmp.path().to_path_buf();
    let exe = std::env::current_exe().expect("current exe");
    let mut rng = rand::thread_rng();
    let mut total = Verified::default();
    let mut rounds_without_space = 0;
    let mut last = Verified::default();
    let mut kill_delays: Vec<u64> = (0..ROUNDS as u64).map(|r| 60 + r * 500 / ROUNDS as u64).collect();
    kill_delays.shuffle(&mut rng);
    for (round, delay) in kill_delays.into_iter().enumerate() {
        let log = dir.join(format!("child-{round}.log"));
        let out = File::create(&log).expect("child log");
        let err = out.try_clone().expect("child log");
        let ready = dir.join(READY);
        match std::fs::remove_file(&ready) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("removing the ready marker: {e}"),
            _ => {}
        }
        let spawned = Instant::now();
        let mut child = Command::new(&exe)
            .args(["picture_kill9_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .env(ROUND_ENV, round.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn child");
        if round >= ROUNDS_FROM_SPAWN {
            while !ready.exists() {
                if let Some(status) = child.try_wait().expect("poll child") {
                    panic!("round {round}: the child ended ({status}) before it was ready:\n{}", child_log_tail(&log));
                }
                if spawned.elapsed() > READY_TIMEOUT {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("round {round}: the child is not ready after {READY_TIMEOUT:?}:\n{}", child_log_tail(&log));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        // Random within the delay's slot, so the kills land all over a run.
        std::thread::sleep(Duration::from_millis(delay + rng.gen_range(0..50)));
        child.kill().expect("kill child");
        let status = child.wait().expect("wait child");
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: the child ended by itself ({status}) instead of being killed:\n{}",
            child_log_tail(&log)
        );

        let engine = open_engine(&dir);
        if engine.spaces().is_empty() {
            // Killed before the space was initialized.
            assert!(read_journal(&dir).puts.is_empty(), "round {round}: acknowledged puts but no space");
            engine.close().expect("close");
            rounds_without_space += 1;
            continue;
        }
        let v = verify(&engine, &dir, round);
        engine.close().expect("close");
        drop(engine);
        eprintln!("picture_kill9: round {round} (kill after {delay} ms): {v:?}");
        total.read += v.read;
        total.keys += v.keys;
        total.keys_lost += v.keys_lost;
        total.unacked_live += v.unacked_live;
        total.torn_tails += v.torn_tails;
        last = v;
    }
    eprintln!(
        "picture_kill9: {ROUNDS} kill -9 rounds ({rounds_without_space} before the space existed), \
         {} pictures read back byte-identical over all rounds, {} key lookups ({} reused keys lost, tolerated); at the end {} pictures listed, \
         {} acknowledged puts checked ({} read back, {} acknowledged deletes, {} superseded puts of a reused key gone, {} still there), \
         {} unacknowledged survivors and {} torn tails truncated over all rounds, pool use {} of {} bytes (at most {all_bytes} bytes put), {:.1} s",
        total.read,
        total.keys,
        total.keys_lost,
        last.listed,
        last.acked,
        last.acked_live,
        last.deleted,
        last.superseded,
        last.superseded_kept,
        total.unacked_live,
        total.torn_tails,
        last.pool_used,
        POOL_SEGS * SEG,
        started.elapsed().as_secs_f64()
    );
    assert!(
        last.acked_live > 0 && last.deleted > 0 && last.superseded > 0 && last.keys > 0,
        "the test verified too little: {last:?}"
    );
}
