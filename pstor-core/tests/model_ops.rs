//! Model test: random sequences of stream, lock, append, flush, sync, read,
//! reopen and clock operations run against the real engine (real files) and
//! against a simple in-memory model, compared after every operation.
//!
//! Pools are far larger than what a case writes, so nothing is recycled and
//! the model need not simulate overwrite (tested in
//! `overwrite_retention_locks.rs` and the crash tests).

mod common;
use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use pstor_core::*;
use std::sync::Arc;

#[derive(Debug, Clone)]
enum Bad {
    Duplicate,
    Earlier,
    Empty,
    TooBig,
}

#[derive(Debug, Clone)]
enum Op {
    Register { pool: u8 },
    Append { stream: u8, delta_ms: u16, key: bool, len: u16 },
    AppendBad { stream: u8, bad: Bad },
    Flush { stream: u8 },
    Sync { stream: u8 },
    SyncAll,
    Read { stream: u8, from: u16, span: u16 },
    Ranges { stream: u8 },
    Lock { stream: u8, from: u16, span: u16 },
    Unlock { which: u8 },
    EditCycle { pool: u8, days: u8 },
    Reopen,
    Advance { secs: u32 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => any::<u8>().prop_map(|pool| Op::Register { pool }),
        12 => (any::<u8>(), 1..2000u16, any::<bool>(), 1..3000u16)
            .prop_map(|(stream, delta_ms, key, len)| Op::Append { stream, delta_ms, key, len }),
        2 => (any::<u8>(), prop_oneof![Just(Bad::Duplicate), Just(Bad::Earlier), Just(Bad::Empty), Just(Bad::TooBig)])
            .prop_map(|(stream, bad)| Op::AppendBad { stream, bad }),
        2 => any::<u8>().prop_map(|stream| Op::Flush { stream }),
        2 => any::<u8>().prop_map(|stream| Op::Sync { stream }),
        1 => Just(Op::SyncAll),
        4 => (any::<u8>(), any::<u16>(), any::<u16>()).prop_map(|(stream, from, span)| Op::Read { stream, from, span }),
        1 => any::<u8>().prop_map(|stream| Op::Ranges { stream }),
        1 => (any::<u8>(), any::<u16>(), any::<u16>()).prop_map(|(stream, from, span)| Op::Lock { stream, from, span }),
        1 => any::<u8>().prop_map(|which| Op::Unlock { which }),
        1 => (any::<u8>(), 0..40u8).prop_map(|(pool, days)| Op::EditCycle { pool, days }),
        1 => Just(Op::Reopen),
        1 => (0..100_000u32).prop_map(|secs| Op::Advance { secs }),
    ]
}

/// What the model knows of one stream.
#[derive(Default)]
struct MStream {
    id: Option<StreamId>,
    frames: Vec<(Timestamp, bool, Bytes)>,
    /// No append since the last flush / sync / reopen: reads must be exact.
    exact: bool,
}

struct Harness {
    tmp: tempfile::TempDir,
    clock: Arc<FakeClock>,
    storage: Arc<dyn pstor_core::io::Storage>,
    engine: Engine,
    pools: Vec<PoolId>,
    streams: Vec<MStream>,
    locks: Vec<LockId>,
}

impl Harness {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tmp");
        let (rig, space, pool) = rig(tmp.path(), 64, 24, OverwriteStrategy::OverwriteOldest);
        let second = rig
            .engine
            .create_pool(PoolSpec {
                name: "second".into(),
                kind: PoolKind::Mixed,
                capacity: 24 * SEG,
                spaces: vec![space],
                strategy: OverwriteStrategy::StopWhenFull,
                cycle_days: 0,
                max_lock_pct: 50,
            })
            .expect("pool");
        Harness {
            tmp,
            clock: rig.clock,
            storage: rig.storage,
            engine: rig.engine,
            pools: vec![pool, second],
            streams: Vec::new(),
            locks: Vec::new(),
        }
    }

    fn pick(&self, n: u8) -> Option<usize> {
        (!self.streams.is_empty()).then(|| n as usize % self.streams.len())
    }

    /// The model's answer to read(start, end): from the last key frame at or
    /// before start if recording runs up to start (the last frame before it is
    /// within the gap tolerance), else from start; up to end.
    fn expected(
        frames: &[(Timestamp, bool, Bytes)],
        start: Timestamp,
        end: Timestamp,
    ) -> Vec<(Timestamp, bool, Bytes)> {
        let tolerance = EngineOptions::new("x").gap_tolerance_us;
        let recording = frames.iter().rev().find(|f| f.0 <= start).is_some_and(|p| p.0 + tolerance >= start);
        let key = frames.iter().rev().find(|f| f.1 && f.0 <= start).filter(|_| recording);
        let from = key.map_or(start, |f| f.0);
        frames.iter().filter(|f| f.0 >= from && f.0 <= end).cloned().collect()
    }

    fn apply(&mut self, op: &Op) {
        let e = &self.engine;
        match op {
            Op::Register { pool } => {
                if self.streams.len() >= 4 {
                    return;
                }
                let n = self.streams.len() as u32;
                let id = camera(e, self.pools[*pool as usize % 2], n);
                self.streams.push(MStream { id: Some(id), exact: true, ..Default::default() });
            }
            Op::Append { stream, delta_ms, key, len } => {
                let Some(i) = self.pick(*stream) else { return };
                let m = &mut self.streams[i];
                let id = m.id.expect("id");
                let ts = m.frames.last().map_or(T0, |f| f.0) + *delta_ms as i64 * 1000;
                let data = payload(id.0, ts, *len as usize);
                e.append(id, ts, *key, data.clone()).expect("append");
                m.frames.push((ts, *key, data));
                m.exact = false;
            }
            Op::AppendBad { stream, bad } => {
                let Some(i) = self.pick(*stream) else { return };
                let m = &self.streams[i];
                let id = m.id.expect("id");
                let last = m.frames.last().map(|f| f.0);
                let next = last.map_or(T0, |l| l + 1000);
                match bad {
                    Bad::Duplicate => {
                        if let Some(l) = last {
                            let r = e.append(id, l, false, payload(1, l, 10));
                            assert!(matches!(r, Err(Error::DuplicateTimestamp { ts, .. }) if ts == l), "{r:?}");
                        }
                    }
                    Bad::Earlier => {
                        if let Some(l) = last {
                            let r = e.append(id, l - 1, false, payload(1, l, 10));
                            assert!(matches!(r, Err(Error::OutOfOrder { .. })), "{r:?}");
                        }
                    }
                    Bad::Empty => {
                        let r = e.append(id, next, false, Bytes::new());
                        assert!(matches!(r, Err(Error::FrameSize { len: 0, .. })), "{r:?}");
                    }
                    Bad::TooBig => {
                        let r = e.append(id, next, true, Bytes::from(vec![0u8; SEG as usize]));
                        assert!(matches!(r, Err(Error::FrameSize { .. })), "{r:?}");
                    }
                }
            }
            Op::Flush { stream } | Op::Sync { stream } => {
                let Some(i) = self.pick(*stream) else { return };
                let id = self.streams[i].id.expect("id");
                if matches!(op, Op::Flush { .. }) {
                    e.flush(id).expect("flush");
                } else {
                    e.sync(id).expect("sync");
                    // A sync also writes: what it covered is readable.
                    e.flush(id).expect("flush");
                }
                self.streams[i].exact = true;
            }
            Op::SyncAll => {
                e.sync_all().expect("sync_all");
                for m in &mut self.streams {
                    e.flush(m.id.expect("id")).expect("flush");
                    m.exact = true;
                }
            }
            Op::Read { stream, from, span } => {
                let Some(i) = self.pick(*stream) else { return };
                let m = &self.streams[i];
                let start = T0 + *from as i64 * 10_000;
                let end = start + *span as i64 * 10_000;
                let got: Vec<Frame> =
                    e.read(m.id.expect("id"), start, end).expect("read").collect::<Result<_>>().expect("frames");
                if m.exact {
                    let want = Self::expected(&m.frames, start, end);
                    assert_eq!(got.len(), want.len(), "read [{start}, {end}] of stream {i}");
                    for (g, w) in got.iter().zip(&want) {
                        assert_eq!((g.ts, g.key, &g.data), (w.0, w.1, &w.2));
                    }
                } else {
                    // Some frames may still be buffered: what comes back is a
                    // contiguous, byte-identical run of the model's frames.
                    let first = got.first().map(|g| m.frames.iter().position(|f| f.0 == g.ts).expect("known frame"));
                    for (k, g) in got.iter().enumerate() {
                        let w = &m.frames[first.expect("first") + k];
                        assert_eq!((g.ts, g.key, &g.data), (w.0, w.1, &w.2));
                    }
                }
            }
            Op::Ranges { stream } => {
                let Some(i) = self.pick(*stream) else { return };
                let m = &self.streams[i];
                if !m.exact {
                    return;
                }
                let ranges = e
                    .recorded_ranges(m.id.expect("id"), Timestamp::MIN, Timestamp::MAX, 5 * US_PER_SEC)
                    .expect("ranges");
                // Deltas are at most 2 s, so the recording is one range.
                match (m.frames.first(), m.frames.last()) {
                    (Some(f), Some(l)) => assert_eq!(ranges, vec![(f.0, l.0)]),
                    _ => assert!(ranges.is_empty()),
                }
                let info = e.stream(m.id.expect("id")).expect("info");
                assert_eq!(info.first_ts, m.frames.first().map(|f| f.0));
                assert_eq!(info.last_ts, m.frames.last().map(|f| f.0));
            }
            Op::Lock { stream, from, span } => {
                let Some(i) = self.pick(*stream) else { return };
                let start = T0 + *from as i64 * 10_000;
                match e.lock(self.streams[i].id.expect("id"), start, start + *span as i64 * 10_000, None) {
                    Ok(id) => self.locks.push(id),
                    Err(Error::LockQuotaExceeded { .. }) => {}
                    Err(x) => panic!("lock: {x}"),
                }
            }
            Op::Unlock { which } => {
                if self.locks.is_empty() {
                    assert!(matches!(e.unlock(LockId(u64::from(*which) + 1)), Err(Error::LockNotFound(_))));
                    return;
                }
                let id = self.locks.remove(*which as usize % self.locks.len());
                e.unlock(id).expect("unlock");
                assert!(matches!(e.unlock(id), Err(Error::LockNotFound(_))));
            }
            Op::EditCycle { pool, days } => {
                let p = self.pools[*pool as usize % 2];
                e.edit_pool(p, PoolEdit { cycle_days: Some(*days as u32), ..Default::default() }).expect("edit");
                assert_eq!(e.pool(p).expect("pool").config.cycle_days, *days as u32);
            }
            Op::Reopen => {
                e.close().expect("close");
                self.engine = open(self.tmp.path(), Arc::clone(&self.storage), Arc::clone(&self.clock));
                for m in &mut self.streams {
                    m.exact = true;
                }
            }
            Op::Advance { secs } => self.clock.advance(*secs as i64 * US_PER_SEC),
        }
        self.invariants();
    }

    fn invariants(&self) {
        let e = &self.engine;
        assert_eq!(e.streams().len(), self.streams.len());
        let mut locks: Vec<LockId> = e.locks().iter().map(|l| l.id).collect();
        let mut mine = self.locks.clone();
        locks.sort();
        mine.sort();
        assert_eq!(locks, mine);
        for p in e.pools() {
            assert!(p.used <= p.capacity && p.locked <= p.capacity, "{p:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_shrink_iters: 400, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_model(ops in prop::collection::vec(op(), 1..60)) {
        // Maintenance is not run, so cycles and clock moves free nothing
        // here; they must still never disturb what was written.
        let mut h = Harness::new();
        for op in &ops {
            h.apply(op);
        }
        let report = h.engine.check(false).expect("check");
        prop_assert!(report.is_clean(), "{:?}", report.problems);
        h.engine.close().expect("close");
    }
}
