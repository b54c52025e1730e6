//! Model-based test: random sequences of operations (register, append — good
//! and bad —, flush, sync, sync_all, read, recorded ranges, inspection, locks,
//! pools, reopen, clock, maintenance, check) run against the real engine (real
//! files in a temp dir, `OsStorage`, a `FakeClock`, no background thread) and
//! against a simple in-memory model; the two are compared after every step.
//!
//! No overwrite: the space has 64 segments of 256 KiB, each pool 24 of them,
//! and the model skips appends once a pool's data would pass about half its
//! capacity, so nothing is ever recycled and the model need not simulate
//! overwrite (tested in `overwrite_retention_locks.rs` and the crash tests).
//! Maintenance runs only when no pool's cycle can expire anything.
//!
//! Visibility: frames become readable when their chunk is written — on
//! `flush`, `sync`, `sync_all`, `check`, forced maintenance and reopen, or
//! earlier when the chunk fills up (timing dependent, on the I/O thread). The
//! model keeps, per stream, a lower bound `visible` on how many frames the
//! engine shows; every answer must be exactly the model's answer for some
//! prefix of `visible..=len` frames, and that prefix raises the bound (what is
//! visible stays visible). After a flush with no append since, the bound is
//! the whole stream, so answers must match the model exactly.

mod common;

use bytes::Bytes;
use common::{payload, rig, SEG, T0};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use pstor_core::*;
use std::collections::HashMap;
use std::sync::Arc;

const DAY: i64 = 86_400 * US_PER_SEC;
const HOUR: i64 = 3600 * US_PER_SEC;
const MAX_STREAMS: usize = 4;
const POOL_SEGMENTS: u64 = 24;
/// Model estimate of the bytes a pool may receive before appends are skipped.
const POOL_BUDGET: u64 = 12 * SEG;
/// Lock quota of every pool, percent.
const LOCK_PCT: u8 = 50;

type MFrame = (Timestamp, bool, Bytes);
type Outcome = std::result::Result<(), TestCaseError>;

/// A deliberately wrong append.
#[derive(Debug, Clone)]
enum Bad {
    /// The last timestamp again.
    Duplicate,
    /// Before the last timestamp by 1 + this µs.
    Earlier(u32),
    /// No bytes.
    Empty,
    /// A whole segment.
    TooBig,
    /// One byte over the largest frame accepted.
    JustTooBig,
}

/// Where a time range starts: a fraction of the stream's time window, or a
/// frame's timestamp plus -1, 0 or +1 µs.
#[derive(Debug, Clone)]
enum At {
    Frac(u16),
    Frame(u8, i8),
}

#[derive(Debug, Clone)]
enum Op {
    Register {
        pool: u8,
        dup: bool,
    },
    Append {
        stream: u8,
        delta: i64,
        key: bool,
        len: u16,
    },
    /// A frame of exactly the largest accepted size.
    AppendMax {
        stream: u8,
        key: bool,
    },
    AppendBad {
        stream: u8,
        bad: Bad,
    },
    Flush {
        stream: u8,
    },
    Sync {
        stream: u8,
    },
    SyncAll,
    Read {
        stream: u8,
        at: At,
        span: u32,
    },
    Ranges {
        stream: u8,
        tol_ms: u16,
        at: At,
        span: u32,
    },
    Inspect {
        stream: u8,
    },
    Lock {
        stream: u8,
        at: At,
        span: u32,
        expires_s: Option<u32>,
        inverted: bool,
    },
    Unlock {
        which: u8,
    },
    CreatePool {
        kind: u8,
    },
    EditCycle {
        pool: u8,
        days: u8,
    },
    Reopen,
    Advance {
        secs: u32,
    },
    Maintenance,
    Check,
}

fn at() -> impl Strategy<Value = At> {
    prop_oneof![
        3 => any::<u16>().prop_map(At::Frac),
        2 => (any::<u8>(), -1..=1i8).prop_map(|(i, d)| At::Frame(i, d)),
    ]
}

fn span() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), 0..3_000_000u32, 0..200_000_000u32]
}

fn op() -> impl Strategy<Value = Op> {
    let stream = || 0..8u8;
    // Mostly 1 µs..2 s; rarely a gap longer than the 5 s gap tolerance.
    let delta = prop_oneof![6 => 1..=40_000i64, 6 => 1..=2_000_000i64, 2 => Just(1i64), 1 => 2_000_000..=20_000_000i64];
    let len = prop_oneof![4 => 1..=2_000u16, 2 => 1..=30_000u16, 1 => Just(1u16)];
    let bad = prop_oneof![
        Just(Bad::Duplicate),
        any::<u32>().prop_map(Bad::Earlier),
        Just(Bad::Empty),
        Just(Bad::TooBig),
        Just(Bad::JustTooBig),
    ];
    prop_oneof![
        2 => (0..2u8, prop::bool::weighted(0.2)).prop_map(|(pool, dup)| Op::Register { pool, dup }),
        24 => (stream(), delta, prop::bool::weighted(0.3), len)
            .prop_map(|(stream, delta, key, len)| Op::Append { stream, delta, key, len }),
        1 => (stream(), any::<bool>()).prop_map(|(stream, key)| Op::AppendMax { stream, key }),
        3 => (stream(), bad).prop_map(|(stream, bad)| Op::AppendBad { stream, bad }),
        3 => stream().prop_map(|stream| Op::Flush { stream }),
        2 => stream().prop_map(|stream| Op::Sync { stream }),
        1 => Just(Op::SyncAll),
        6 => (stream(), at(), span()).prop_map(|(stream, at, span)| Op::Read { stream, at, span }),
        2 => (stream(), 1000..=3000u16, at(), span())
            .prop_map(|(stream, tol_ms, at, span)| Op::Ranges { stream, tol_ms, at, span }),
        1 => stream().prop_map(|stream| Op::Inspect { stream }),
        2 => (stream(), at(), span(), prop::option::of(0..200_000u32), prop::bool::weighted(0.1))
            .prop_map(|(stream, at, span, expires_s, inverted)| Op::Lock { stream, at, span, expires_s, inverted }),
        1 => any::<u8>().prop_map(|which| Op::Unlock { which }),
        1 => (0..6u8).prop_map(|kind| Op::CreatePool { kind }),
        1 => (0..2u8, 0..40u8).prop_map(|(pool, days)| Op::EditCycle { pool, days }),
        1 => Just(Op::Reopen),
        1 => prop_oneof![0..100u32, 0..300_000u32].prop_map(|secs| Op::Advance { secs }),
        1 => Just(Op::Maintenance),
        1 => Just(Op::Check),
    ]
}

struct MPool {
    id: PoolId,
    kind: PoolKind,
    cycle_days: u32,
    /// Estimated bytes written into it (frames plus overhead).
    bytes: u64,
}

struct MStream {
    id: StreamId,
    pool: usize,
    camera: u32,
    frames: Vec<MFrame>,
    /// At least this many of `frames` are visible to readers.
    visible: usize,
}

impl MStream {
    fn last(&self) -> Option<Timestamp> {
        self.frames.last().map(|f| f.0)
    }

    fn at(&self, at: &At) -> Timestamp {
        match at {
            At::Frame(i, d) if !self.frames.is_empty() => self.frames[*i as usize % self.frames.len()].0 + *d as i64,
            At::Frame(_, d) => T0 + *d as i64,
            At::Frac(f) => {
                let lo = T0 - 3 * US_PER_SEC;
                let hi = self.last().unwrap_or(T0) + 8 * US_PER_SEC;
                lo + ((hi - lo) as i128 * *f as i128 / u16::MAX as i128) as i64
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MLock {
    id: LockId,
    stream: StreamId,
    start: Timestamp,
    end: Timestamp,
    expires: Option<Timestamp>,
}

struct Harness {
    tmp: tempfile::TempDir,
    clock: Arc<FakeClock>,
    storage: Arc<dyn pstor_core::io::Storage>,
    engine: Engine,
    space: SpaceId,
    pools: Vec<MPool>,
    streams: Vec<MStream>,
    locks: Vec<MLock>,
    cameras: u32,
    /// Largest frame accepted, once learned from a `FrameSize` error.
    max_frame: Option<usize>,
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

fn ok<T>(r: Result<T>, what: &str) -> std::result::Result<T, TestCaseError> {
    r.map_err(|e| fail(format!("{what}: unexpected error {e:?}")))
}

/// Frames as `+ms[K]/len` relative to T0, for messages.
fn show<'a>(frames: impl IntoIterator<Item = (Timestamp, bool, &'a Bytes)>) -> String {
    let v: Vec<String> = frames
        .into_iter()
        .map(|(ts, key, data)| format!("+{}{}/{}", ts - T0, if key { "K" } else { "" }, data.len()))
        .collect();
    format!("[{}]", v.join(" "))
}

/// The model's read: from the last key frame at or before `start` when
/// recording runs up to `start` (the last frame at or before it is within the
/// gap tolerance), else from `start`; up to `end` inclusive.
fn expected_read(frames: &[MFrame], start: Timestamp, end: Timestamp, tol: i64) -> Vec<MFrame> {
    let from = match frames.iter().rposition(|f| f.0 <= start) {
        Some(p) if frames[p].0 + tol >= start => frames[..=p].iter().rposition(|f| f.1).map_or(start, |k| frames[k].0),
        _ => start,
    };
    frames.iter().filter(|f| f.0 >= from && f.0 <= end).cloned().collect()
}

/// Runs of frames whose neighbours are at most `tol` apart. Exact for the
/// engine's record-based ranges as long as `tol` >= the chunk span (1 s):
/// frames of one record are never further apart than that.
fn model_ranges(frames: &[MFrame], tol: i64) -> Vec<(Timestamp, Timestamp)> {
    let mut out: Vec<(Timestamp, Timestamp)> = Vec::new();
    for f in frames {
        match out.last_mut() {
            Some(r) if f.0 - r.1 <= tol => r.1 = f.0,
            _ => out.push((f.0, f.0)),
        }
    }
    out
}

/// The model's inspection of the day starting at `day0`, seen at `now`.
fn expected_day(frames: &[MFrame], day0: Timestamp, now: Timestamp, tol: i64) -> Vec<HourInspection> {
    let ranges = model_ranges(frames, tol);
    let mut hours = Vec::new();
    for h in 0..24u32 {
        let h0 = day0 + h as i64 * HOUR;
        if h0 >= now {
            break;
        }
        let h1 = (h0 + HOUR).min(now);
        let pieces: Vec<(Timestamp, Timestamp)> =
            ranges.iter().map(|&(a, b)| (a.max(h0), b.min(h1))).filter(|(a, b)| a <= b).collect();
        let covered: i64 = pieces.iter().map(|(a, b)| b - a).sum();
        // The holes between the recorded pieces, longer than the tolerance.
        let mut edges = vec![h0];
        for (a, b) in &pieces {
            edges.push(*a);
            edges.push(*b);
        }
        edges.push(h1);
        let gaps: Vec<(Timestamp, Timestamp)> =
            edges.chunks(2).map(|c| (c[0], c[1])).filter(|(a, b)| b - a > tol).collect();
        hours.push(HourInspection {
            hour: h,
            // Nearest second, half up (the engine's documented rounding).
            recorded_secs: ((covered + US_PER_SEC / 2) / US_PER_SEC) as u32,
            exception: !gaps.is_empty(),
            gaps,
            partial: h1 < h0 + HOUR,
        });
    }
    hours
}

fn register(e: &Engine, pool: PoolId, camera: u32) -> Result<StreamId> {
    e.register_stream(common::camera_spec(pool, camera))
}

impl Harness {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tmp");
        let (rig, space, pool) = rig(tmp.path(), 64, POOL_SEGMENTS, OverwriteStrategy::OverwriteOldest);
        let id = register(&rig.engine, pool, 0).expect("register");
        Harness {
            tmp,
            clock: rig.clock,
            storage: rig.storage,
            engine: rig.engine,
            space,
            pools: vec![MPool { id: pool, kind: PoolKind::Video, cycle_days: 0, bytes: 0 }],
            streams: vec![MStream { id, pool: 0, camera: 0, frames: Vec::new(), visible: 0 }],
            locks: Vec::new(),
            cameras: 1,
            max_frame: None,
        }
    }

    fn tol(&self) -> i64 {
        self.engine.options().gap_tolerance_us
    }

    fn pick(&self, n: u8) -> usize {
        n as usize % self.streams.len()
    }

    fn all_visible(&mut self) {
        for m in &mut self.streams {
            m.visible = m.frames.len();
        }
    }

    /// The engine's answer `what` must be the model's answer for some prefix
    /// of `visible..=len` frames of stream `i`; the shortest such prefix
    /// raises the bound.
    fn consistent(
        &mut self,
        i: usize,
        what: &str,
        f: impl Fn(&[MFrame]) -> std::result::Result<(), String>,
    ) -> Outcome {
        let m = &mut self.streams[i];
        let n = m.frames.len();
        for v in m.visible..=n {
            if f(&m.frames[..v]).is_ok() {
                m.visible = v;
                return Ok(());
            }
        }
        let why = f(&m.frames).err().unwrap_or_default();
        let scope = if m.visible == n {
            "all flushed".to_string()
        } else {
            format!("no prefix of {}..={n} frames matches either", m.visible)
        };
        Err(fail(format!("stream {i} {what}: {why} ({scope})")))
    }

    /// Learns the largest frame accepted from the error a whole segment gets.
    fn max_frame(&mut self, id: StreamId) -> std::result::Result<usize, TestCaseError> {
        let r = self.engine.append(id, T0 - 1, true, Bytes::from(vec![7u8; SEG as usize]));
        let max = match r {
            Err(Error::FrameSize { len, max }) if len == SEG as usize && max < len => max,
            other => return Err(fail(format!("a frame of a whole segment: {other:?}"))),
        };
        if self.max_frame.is_some_and(|m| m != max) {
            return Err(fail(format!("largest frame changed from {:?} to {max}", self.max_frame)));
        }
        self.max_frame = Some(max);
        Ok(max)
    }

    fn append(&mut self, i: usize, delta: i64, key: bool, len: usize, cost: u64) -> Outcome {
        let pool = self.streams[i].pool;
        if self.pools[pool].bytes + cost > POOL_BUDGET {
            return Ok(()); // would come near recycling: skipped
        }
        let m = &mut self.streams[i];
        let ts = m.last().unwrap_or(T0) + delta;
        let data = payload(m.id.0, ts, len);
        ok(self.engine.append(m.id, ts, key, data.clone()), &format!("append +{} len {len}", ts - T0))?;
        m.frames.push((ts, key, data));
        self.pools[pool].bytes += cost;
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        let tol = self.tol();
        match op {
            Op::Register { pool, dup } => {
                if self.streams.len() >= MAX_STREAMS {
                    return Ok(());
                }
                let p = *pool as usize % self.pools.len();
                let (pid, kind) = (self.pools[p].id, self.pools[p].kind);
                if *dup {
                    // Into a video pool: the pool's kind is checked first.
                    let m = &self.streams[0];
                    let r = register(&self.engine, self.pools[0].id, m.camera);
                    prop_assert!(
                        matches!(r, Err(Error::StreamExists { existing, .. }) if existing == m.id),
                        "registering camera {} again: {:?}",
                        m.camera,
                        r
                    );
                    return Ok(());
                }
                let camera = self.cameras;
                self.cameras += 1;
                let r = register(&self.engine, pid, camera);
                if !kind.accepts_video() {
                    prop_assert!(
                        matches!(r, Err(Error::WrongPoolKind { pool, kind: k }) if pool == pid && k == kind),
                        "registering into a {kind:?} pool: {r:?}"
                    );
                    return Ok(());
                }
                let id = ok(r, "register")?;
                self.streams.push(MStream { id, pool: p, camera, frames: Vec::new(), visible: 0 });
            }
            Op::Append { stream, delta, key, len } => {
                let i = self.pick(*stream);
                self.append(i, *delta, *key, *len as usize, *len as u64 + 64)?;
            }
            Op::AppendMax { stream, key } => {
                let i = self.pick(*stream);
                let max = self.max_frame(self.streams[i].id)?;
                // Seals the current segment and fills one of its own.
                self.append(i, 40_000, *key, max, 2 * SEG)?;
            }
            Op::AppendBad { stream, bad } => {
                let i = self.pick(*stream);
                let (id, last) = (self.streams[i].id, self.streams[i].last());
                let next = last.unwrap_or(T0) + 1000;
                let e = &self.engine;
                match bad {
                    Bad::Duplicate => {
                        let Some(l) = last else { return Ok(()) };
                        let r = e.append(id, l, true, payload(1, l, 10));
                        prop_assert!(
                            matches!(r, Err(Error::DuplicateTimestamp { stream, ts }) if stream == id && ts == l),
                            "append at the last timestamp +{}: {:?}",
                            l - T0,
                            r
                        );
                    }
                    Bad::Earlier(by) => {
                        let Some(l) = last else { return Ok(()) };
                        let ts = l - 1 - (*by % 5_000_000) as i64;
                        let r = e.append(id, ts, true, payload(1, ts, 10));
                        prop_assert!(
                            matches!(r, Err(Error::OutOfOrder { stream, last, got }) if stream == id && last == l && got == ts),
                            "append at +{} after +{}: {:?}",
                            ts - T0,
                            l - T0,
                            r
                        );
                    }
                    Bad::Empty => {
                        let r = e.append(id, next, true, Bytes::new());
                        prop_assert!(matches!(r, Err(Error::FrameSize { len: 0, .. })), "empty frame: {r:?}");
                    }
                    Bad::TooBig => {
                        self.max_frame(id)?;
                    }
                    Bad::JustTooBig => {
                        let max = self.max_frame(id)?;
                        let r = self.engine.append(id, next, true, Bytes::from(vec![1u8; max + 1]));
                        prop_assert!(
                            matches!(r, Err(Error::FrameSize { len, max: m }) if len == max + 1 && m == max),
                            "frame of {} bytes: {:?}",
                            max + 1,
                            r
                        );
                    }
                }
            }
            Op::Flush { stream } => {
                let i = self.pick(*stream);
                ok(self.engine.flush(self.streams[i].id), "flush")?;
                self.streams[i].visible = self.streams[i].frames.len();
            }
            Op::Sync { stream } => {
                let i = self.pick(*stream);
                ok(self.engine.sync(self.streams[i].id), "sync")?;
                self.streams[i].visible = self.streams[i].frames.len();
            }
            Op::SyncAll => {
                ok(self.engine.sync_all(), "sync_all")?;
                self.all_visible();
            }
            Op::Read { stream, at, span } => {
                let i = self.pick(*stream);
                let m = &self.streams[i];
                let start = m.at(at);
                let end = start + *span as i64;
                let it = ok(self.engine.read(m.id, start, end), "read")?;
                let got: Vec<Frame> = ok(it.collect::<Result<_>>(), "reading frames")?;
                let what = format!("read [+{}, +{}]", start - T0, end - T0);
                self.consistent(i, &what, |frames| {
                    let want = expected_read(frames, start, end, tol);
                    let same = got.len() == want.len()
                        && got.iter().zip(&want).all(|(g, w)| g.ts == w.0 && g.key == w.1 && g.data == w.2);
                    if same {
                        return Ok(());
                    }
                    Err(format!(
                        "got {} want {}",
                        show(got.iter().map(|f| (f.ts, f.key, &f.data))),
                        show(want.iter().map(|f| (f.0, f.1, &f.2)))
                    ))
                })?;
            }
            Op::Ranges { stream, tol_ms, at, span } => {
                let i = self.pick(*stream);
                let rtol = *tol_ms as i64 * 1000;
                let m = &self.streams[i];
                let id = m.id;
                let all = ok(self.engine.recorded_ranges(id, Timestamp::MIN, Timestamp::MAX, rtol), "ranges")?;
                let rel = |v: &[(Timestamp, Timestamp)]| -> Vec<(i64, i64)> {
                    v.iter().map(|(a, b)| (a - T0, b - T0)).collect()
                };
                self.consistent(i, &format!("recorded_ranges(tol {rtol})"), |frames| {
                    let want = model_ranges(frames, rtol);
                    if all == want {
                        return Ok(());
                    }
                    Err(format!("got {:?} want {:?}", rel(&all), rel(&want)))
                })?;
                // A window: the answer lies within the window and the model's
                // ranges, covers every frame in the window, and its gaps are
                // longer than the tolerance.
                let s = self.streams[i].at(at);
                let e = s + *span as i64;
                let win = ok(self.engine.recorded_ranges(id, s, e, rtol), "ranges in a window")?;
                self.consistent(i, &format!("recorded_ranges([+{}, +{}], tol {rtol})", s - T0, e - T0), |frames| {
                    let full = model_ranges(frames, rtol);
                    let inside = win
                        .iter()
                        .all(|&(a, b)| s <= a && a <= b && b <= e && full.iter().any(|&(x, y)| x <= a && b <= y));
                    let apart = win.windows(2).all(|w| w[1].0 - w[0].1 > rtol);
                    let covered = frames
                        .iter()
                        .filter(|f| f.0 >= s && f.0 <= e)
                        .all(|f| win.iter().any(|&(a, b)| a <= f.0 && f.0 <= b));
                    if inside && apart && covered {
                        return Ok(());
                    }
                    Err(format!(
                        "got {:?} for model ranges {:?} (inside {inside}, apart {apart}, covered {covered})",
                        rel(&win),
                        rel(&full)
                    ))
                })?;
            }
            Op::Inspect { stream } => {
                let i = self.pick(*stream);
                let date = Date { year: 2026, month: 11, day: 23 };
                let day0 = date.days_since_epoch() * DAY;
                prop_assert_eq!(day0, T0);
                let now = self.clock.now();
                let got = ok(self.engine.inspect_day(self.streams[i].id, date), "inspect_day")?;
                prop_assert_eq!(got.date, date);
                self.consistent(i, "inspect_day", |frames| {
                    let want = expected_day(frames, day0, now, tol);
                    if got.hours == want {
                        return Ok(());
                    }
                    Err(format!("got {:?} want {:?}", got.hours, want))
                })?;
            }
            Op::Lock { stream, at, span, expires_s, inverted } => {
                let i = self.pick(*stream);
                let m = &self.streams[i];
                let (id, pool) = (m.id, self.pools[m.pool].id);
                let mut start = m.at(at);
                let mut end = start + *span as i64;
                if *inverted {
                    (start, end) = (end + 1, start);
                }
                let now = self.clock.now();
                let expires = expires_s.map(|s| now + s as i64 * US_PER_SEC);
                let before = ok(self.engine.pool(pool), "pool")?;
                let r = self.engine.lock(id, start, end, expires);
                if start > end || expires.is_some_and(|x| x <= now) {
                    prop_assert!(
                        matches!(r, Err(Error::InvalidArgument(_))),
                        "lock [{start}, {end}] until {expires:?}: {r:?}"
                    );
                    return Ok(());
                }
                match r {
                    Ok(lock) => self.locks.push(MLock { id: lock, stream: id, start, end, expires }),
                    // Only when the pool's segments could pass the quota.
                    Err(Error::LockQuotaExceeded { .. }) if before.used > before.capacity * LOCK_PCT as u64 / 100 => {}
                    Err(x) => {
                        return Err(fail(format!("lock with {} of {} bytes used: {x:?}", before.used, before.capacity)))
                    }
                }
            }
            Op::Unlock { which } => {
                let now = self.clock.now();
                if self.locks.is_empty() {
                    let r = self.engine.unlock(LockId(*which as u64 + 1));
                    prop_assert!(matches!(r, Err(Error::LockNotFound(_))), "unlock of no lock: {r:?}");
                    return Ok(());
                }
                let l = self.locks.remove(*which as usize % self.locks.len());
                let r = self.engine.unlock(l.id);
                let in_force = l.expires.is_none_or(|e| e > now);
                // A lapsed lock is not found, whether or not maintenance purged it.
                prop_assert!(
                    if in_force { r.is_ok() } else { matches!(r, Err(Error::LockNotFound(_))) },
                    "unlock of {l:?} at {now}: {r:?}"
                );
                let again = self.engine.unlock(l.id);
                prop_assert!(matches!(again, Err(Error::LockNotFound(id)) if id == l.id), "second unlock: {again:?}");
            }
            Op::CreatePool { kind: k } => {
                let space = self.space;
                let spec = move |name: &str, capacity: u64, kind: PoolKind| PoolSpec {
                    name: name.into(),
                    kind,
                    capacity,
                    spaces: if capacity.is_multiple_of(2) { vec![space] } else { Vec::new() },
                    strategy: OverwriteStrategy::StopWhenFull,
                    cycle_days: 0,
                    max_lock_pct: LOCK_PCT,
                };
                if self.pools.len() == 1 {
                    let kind = [PoolKind::Video, PoolKind::Mixed, PoolKind::Picture][*k as usize % 3];
                    // Odd capacity (rounded up to whole segments): all spaces.
                    let capacity = POOL_SEGMENTS * SEG - (*k as u64 / 3 % 2);
                    let id = ok(self.engine.create_pool(spec("second", capacity, kind)), "create pool")?;
                    self.pools.push(MPool { id, kind, cycle_days: 0, bytes: 0 });
                } else if k % 2 == 0 {
                    let r = self.engine.create_pool(spec("second", SEG, PoolKind::Video));
                    prop_assert!(matches!(r, Err(Error::DuplicatePoolName(ref n)) if n == "second"), "{r:?}");
                } else {
                    // 64 - 2 * 24 segments are left.
                    let r = self.engine.create_pool(spec("third", POOL_SEGMENTS * SEG, PoolKind::Video));
                    prop_assert!(matches!(r, Err(Error::CapacityExceedsFree { .. })), "{r:?}");
                }
            }
            Op::EditCycle { pool, days } => {
                let p = *pool as usize % self.pools.len();
                let edit = PoolEdit { cycle_days: Some(*days as u32), ..Default::default() };
                ok(self.engine.edit_pool(self.pools[p].id, edit), "edit pool")?;
                self.pools[p].cycle_days = *days as u32;
            }
            Op::Reopen => {
                let old = self.engine.clone();
                ok(old.close(), "close")?;
                let id = self.streams[0].id;
                let r = old.append(id, T0, true, payload(1, T0, 10));
                prop_assert!(matches!(r, Err(Error::Closed)), "append after close: {r:?}");
                self.engine = ok(
                    Engine::open_with(
                        common::opts(self.tmp.path()),
                        Arc::clone(&self.storage),
                        Arc::clone(&self.clock) as Arc<dyn Clock>,
                    ),
                    "reopen",
                )?;
                drop(old);
                // Close syncs everything: all of it is durable and readable.
                self.all_visible();
            }
            Op::Advance { secs } => self.clock.advance(*secs as i64 * US_PER_SEC),
            Op::Maintenance => {
                let now = self.clock.now();
                // Retention frees segments whose newest frame is older than
                // now - cycle; frames are all after T0. Skip when it could.
                if self.pools.iter().any(|p| p.cycle_days > 0 && now - p.cycle_days as i64 * DAY > T0) {
                    return Ok(());
                }
                ok(self.engine.run_maintenance(), "maintenance")?;
                // It purges lapsed locks and (forced) syncs every stream.
                self.locks.retain(|l| l.expires.is_none_or(|e| e > now));
                self.all_visible();
            }
            Op::Check => {
                let report = ok(self.engine.check(false), "check")?;
                prop_assert!(report.is_clean(), "check: {:?}", report.problems);
                self.all_visible();
            }
        }
        self.invariants()
    }

    fn invariants(&mut self) -> Outcome {
        let e = self.engine.clone();
        let now = self.clock.now();
        // Streams: count, registration, first / last flushed timestamps.
        let infos = e.streams();
        prop_assert_eq!(infos.len(), self.streams.len(), "stream count");
        let by_id: HashMap<StreamId, StreamInfo> = infos.into_iter().map(|s| (s.config.id, s)).collect();
        let mut segments: HashMap<PoolId, u64> = HashMap::new();
        for i in 0..self.streams.len() {
            let m = &self.streams[i];
            let pool = self.pools[m.pool].id;
            let Some(info) = by_id.get(&m.id).cloned() else {
                return Err(fail(format!("stream {i} ({}) is not listed", m.id)));
            };
            prop_assert_eq!(info.config.pool, pool);
            prop_assert_eq!(&info.config.camera_id, &format!("cam-{}", m.camera));
            *segments.entry(pool).or_default() += info.segments as u64;
            let (first, last, segs) = (info.first_ts, info.last_ts, info.segments);
            self.consistent(i, "StreamInfo", |frames| {
                let want = (frames.first().map(|f| f.0), frames.last().map(|f| f.0));
                if (first, last) == want && (frames.is_empty() || segs > 0) {
                    return Ok(());
                }
                let rel = |t: Option<Timestamp>| t.map(|t| t - T0);
                Err(format!(
                    "first/last +{:?}/+{:?} in {segs} segments, want +{:?}/+{:?}",
                    rel(first),
                    rel(last),
                    rel(want.0),
                    rel(want.1)
                ))
            })?;
        }
        // Pools: count, settings, usage within capacity (no recycling needed).
        let pools = e.pools();
        prop_assert_eq!(pools.len(), self.pools.len(), "pool count");
        for m in &self.pools {
            let Some(p) = pools.iter().find(|p| p.config.id == m.id) else {
                return Err(fail(format!("pool {} is not listed", m.id)));
            };
            prop_assert_eq!(p.config.kind, m.kind);
            prop_assert_eq!(p.config.cycle_days, m.cycle_days);
            prop_assert_eq!(p.status, PoolStatus::Normal);
            prop_assert_eq!(p.capacity, POOL_SEGMENTS * SEG);
            prop_assert!(p.used <= p.capacity && p.locked <= p.used && p.free == p.capacity - p.used, "{:?}", p);
            // Nothing recycled: the model's budget keeps it well under.
            prop_assert!(p.used <= 20 * SEG, "pool {} uses {} segments", m.id, p.used / SEG);
            let listed = segments.get(&m.id).copied().unwrap_or(0) * SEG;
            prop_assert_eq!(p.used, listed, "pool used vs its streams' segments");
        }
        // Locks in force.
        let mut got: Vec<MLock> = e
            .locks()
            .into_iter()
            .filter_map(|l| match l.target {
                LockTarget::Stream(stream) => {
                    Some(MLock { id: l.id, stream, start: l.start, end: l.end, expires: l.expires })
                }
                LockTarget::Pictures { .. } => None,
            })
            .collect();
        let mut want: Vec<MLock> = self.locks.iter().filter(|l| l.expires.is_none_or(|x| x > now)).cloned().collect();
        got.sort_by_key(|l| l.id);
        want.sort_by_key(|l| l.id);
        prop_assert_eq!(got, want, "locks in force");
        Ok(())
    }

    /// At the end: everything synced, every stream read whole and exactly.
    fn finish(mut self) -> Outcome {
        ok(self.engine.sync_all(), "sync_all")?;
        self.all_visible();
        for (i, m) in self.streams.iter().enumerate() {
            let it = ok(self.engine.read(m.id, Timestamp::MIN, Timestamp::MAX), "read all")?;
            let got: Vec<Frame> = ok(it.collect::<Result<_>>(), "reading all frames")?;
            let same = got.len() == m.frames.len()
                && got.iter().zip(&m.frames).all(|(g, w)| g.ts == w.0 && g.key == w.1 && g.data == w.2);
            prop_assert!(
                same,
                "stream {} whole: got {} want {}",
                i,
                show(got.iter().map(|f| (f.ts, f.key, &f.data))),
                show(m.frames.iter().map(|f| (f.0, f.1, &f.2)))
            );
        }
        let report = ok(self.engine.check(false), "check")?;
        prop_assert!(report.is_clean(), "check: {:?}", report.problems);
        ok(self.engine.close(), "close")
    }
}

/// Runs one sequence against a fresh engine and the model.
fn run(ops: &[Op]) -> Outcome {
    let mut h = Harness::new();
    h.invariants()?;
    for (n, op) in ops.iter().enumerate() {
        h.apply(op).map_err(|e| fail(format!("op #{n} {op:?}: {e}")))?;
    }
    h.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_the_model(ops in prop::collection::vec(op(), 1..=60)) {
        run(&ops)?;
    }
}

/// Found by the model: a key frame, then a segment holding no key frame (one
/// frame of the largest size), then `start` in the next segment. The read
/// looked back one segment only and began at `start`, on a non-key frame.
#[test]
fn read_looks_back_past_a_segment_without_key_frames() {
    let append = |key| Op::Append { stream: 0, delta: 1, key, len: 1 };
    let ops = [
        append(true),
        Op::AppendMax { stream: 0, key: false },
        append(false),
        append(false),
        Op::Flush { stream: 0 },
        Op::Read { stream: 0, at: At::Frame(3, 0), span: 0 },
    ];
    run(&ops).expect("the model agrees");
}
