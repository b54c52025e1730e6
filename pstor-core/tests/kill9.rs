//! Real-process crash test: a child process (this very test binary, re-executed)
//! records eight streams on the real file system and journals every sync the
//! engine acknowledged; the parent SIGKILLs it at a random moment, reopens the
//! engine and checks that every acknowledged frame reads back byte-identical,
//! that whatever else is returned is also exactly what was written, and that
//! `check` finds nothing wrong. Twelve rounds, each child continuing the same
//! deterministic frame sequences after whatever the engine recovered.

mod common;
use common::*;
use pstor_core::io::OsStorage;
use pstor_core::*;
use rand::Rng;
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Set (to the test directory) in the child's environment only.
const CHILD_ENV: &str = "PSTOR_KILL9_CHILD";
/// Journal of acknowledged syncs, one `stream_id ts` line each.
const JOURNAL: &str = "acked.log";
/// Created by the child once its space, pool and streams are in place.
const READY: &str = "child-ready";
/// The first rounds kill the child at a random time after it starts, so it may
/// die while initializing its space; later rounds count the random time from
/// the child's readiness, so every later round records (however slowly the
/// disk initializes a space) and at most this many half-initialized space
/// folders pile up.
const ROUNDS_FROM_SPAWN: usize = 2;
const STREAMS: u32 = 8;
const ITERATIONS: usize = 12;
/// The space and the pool: 256 segments of 256 KiB = 64 MiB.
const SPACE_SEGS: u64 = 256;
const POOL_SEGS: u64 = 256;
/// Frames per stream the children may write in total (over all runs): about
/// 3.6 MiB per stream, 29 MiB in all, well below the pool (checked by
/// `kill9_crash_loop`), so nothing is ever recycled during the test. Once a
/// child has written them all it syncs and waits for its kill.
const MAX_FRAMES: u64 = 4_000;
/// Stream time between two frames of a stream (25 fps).
const STEP: i64 = 40_000;
/// How long a child may take to open the engine and set up (generous: only a
/// hung child reaches it).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

// ---- the deterministic frame sequences -------------------------------------

fn base_ts(k: u32) -> Timestamp {
    T0 + k as i64 * 7_919
}

fn seed_of(k: u32) -> u64 {
    0x5EED_0000_0000_0000 ^ (k as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D)
}

fn frame_ts(k: u32, i: u64) -> Timestamp {
    base_ts(k) + i as i64 * STEP
}

fn frame_key(i: u64) -> bool {
    i.is_multiple_of(25)
}

fn frame_len(k: u32, i: u64) -> usize {
    let mut x = (k as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    if frame_key(i) {
        3_000 + (x % 1_000) as usize
    } else {
        100 + (x % 1_400) as usize
    }
}

/// Index of the frame of stream `k` at `ts`, if `ts` is one of its timestamps.
fn frame_index(k: u32, ts: Timestamp) -> Option<u64> {
    let d = ts - base_ts(k);
    (d >= 0 && d % STEP == 0).then_some((d / STEP) as u64)
}

fn camera_name(k: u32) -> String {
    format!("cam-{k}")
}

fn open_engine(dir: &Path) -> Engine {
    Engine::open_with(opts(dir), Arc::new(OsStorage::new()), Arc::new(SystemClock)).expect("open engine")
}

// ---- the child ---------------------------------------------------------------

/// The writer. Does nothing unless re-executed by `kill9_crash_loop`.
#[test]
fn kill9_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    child_main(Path::new(&dir));
}

/// Finds or creates the space, the pool and the streams (any of them may be
/// missing or half-created after an earlier kill).
fn child_setup(engine: &Engine, dir: &Path) -> Vec<StreamId> {
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
    let pool = match engine.pools().into_iter().find(|p| p.config.name == "video") {
        Some(p) => p.config.id,
        None => engine
            .create_pool(PoolSpec {
                name: "video".into(),
                kind: PoolKind::Video,
                capacity: POOL_SEGS * SEG,
                spaces: vec![space],
                strategy: OverwriteStrategy::OverwriteOldest,
                cycle_days: 0,
                max_lock_pct: 50,
            })
            .expect("create pool"),
    };
    (0..STREAMS)
        .map(|k| engine.find_stream(&camera_name(k), 1, StreamKind::Main).unwrap_or_else(|| camera(engine, pool, k)))
        .collect()
}

fn child_main(dir: &Path) {
    let engine = open_engine(dir);
    let streams = child_setup(&engine, dir);
    // Continue every sequence after the newest frame the engine has.
    let mut next: Vec<u64> = (0..STREAMS)
        .map(|k| {
            let info = engine.stream(streams[k as usize]).expect("stream info");
            match info.last_ts {
                None => 0,
                Some(ts) => {
                    let i =
                        frame_index(k, ts).unwrap_or_else(|| panic!("stream {k}: last ts {ts} is not a frame of it"));
                    i + 1
                }
            }
        })
        .collect();
    eprintln!("child: resuming at {next:?}");
    std::fs::write(dir.join(READY), b"").expect("ready marker");
    let mut journal = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(JOURNAL)).expect("journal");
    let mut rng = rand::thread_rng();
    // Streams with frames appended (in this run) that no sync has covered yet.
    let mut unsynced = vec![false; STREAMS as usize];
    let mut ack = |streams_synced: &[usize], next: &[u64], unsynced: &mut [bool]| {
        let mut lines = String::new();
        for &k in streams_synced {
            if unsynced[k] {
                let ts = frame_ts(k as u32, next[k] - 1);
                lines.push_str(&format!("{} {ts}\n", streams[k].0));
                unsynced[k] = false;
            }
        }
        if !lines.is_empty() {
            // One write per sync: a kill leaves at most one torn last line.
            journal.write_all(lines.as_bytes()).expect("journal write");
            journal.sync_data().expect("journal sync");
        }
    };
    let all: Vec<usize> = (0..STREAMS as usize).collect();
    loop {
        let mut wrote = false;
        for k in 0..STREAMS {
            let i = next[k as usize];
            if i >= MAX_FRAMES {
                continue;
            }
            let ts = frame_ts(k, i);
            let data = payload(seed_of(k), ts, frame_len(k, i));
            engine.append(streams[k as usize], ts, frame_key(i), data).expect("append");
            next[k as usize] = i + 1;
            unsynced[k as usize] = true;
            wrote = true;
        }
        if !wrote {
            // Everything written: make it durable and wait for the kill.
            engine.sync_all().expect("sync all");
            ack(&all, &next, &mut unsynced);
            loop {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // Syncs now and then (a stream is covered every ~20 frames), and
        // flushes that write frames without acknowledging them.
        let k = rng.gen_range(0..STREAMS as usize);
        match rng.gen_range(0..100) {
            0..4 => {
                engine.sync_all().expect("sync all");
                ack(&all, &next, &mut unsynced);
            }
            4..12 => {
                engine.sync(streams[k]).expect("sync");
                ack(&[k], &next, &mut unsynced);
            }
            12..16 => engine.flush(streams[k]).expect("flush"),
            _ => {}
        }
        // Spread the writing over the whole test rather than finishing in
        // the first rounds.
        std::thread::sleep(Duration::from_micros(500));
    }
}

// ---- the parent --------------------------------------------------------------

/// Newest acknowledged timestamp per stream id, from complete journal lines.
fn read_journal(dir: &Path) -> HashMap<u64, Timestamp> {
    let text = match std::fs::read_to_string(dir.join(JOURNAL)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => panic!("reading the journal: {e}"),
    };
    let mut acked: HashMap<u64, Timestamp> = HashMap::new();
    let complete = match text.rfind('\n') {
        Some(p) => &text[..=p],
        None => "",
    };
    for line in complete.lines() {
        let mut parts = line.split(' ');
        let (Some(id), Some(ts), None) = (parts.next(), parts.next(), parts.next()) else {
            panic!("malformed journal line {line:?}");
        };
        let id: u64 = id.parse().unwrap_or_else(|e| panic!("journal line {line:?}: {e}"));
        let ts: Timestamp = ts.parse().unwrap_or_else(|e| panic!("journal line {line:?}: {e}"));
        let e = acked.entry(id).or_insert(ts);
        *e = (*e).max(ts);
    }
    acked
}

#[derive(Debug, Default)]
struct Verified {
    /// Frames read back and compared.
    frames: u64,
    /// Frames present per stream.
    present: Vec<u64>,
    /// Acknowledged frames per stream.
    acked: Vec<u64>,
}

/// Verifies every stream of the engine against the journal.
fn verify(engine: &Engine, dir: &Path, round: usize) -> Verified {
    let acked = read_journal(dir);
    let mut out = Verified::default();
    let mut seen_ids = 0;
    for k in 0..STREAMS {
        let Some(id) = engine.find_stream(&camera_name(k), 1, StreamKind::Main) else {
            out.present.push(0);
            out.acked.push(0);
            continue;
        };
        seen_ids += acked.contains_key(&id.0) as usize;
        let acked_idx = acked.get(&id.0).map(|&ts| {
            frame_index(k, ts).unwrap_or_else(|| panic!("round {round} stream {k}: acked ts {ts} is not a frame of it"))
        });
        let mut expected_next = 0u64;
        let mut first: Option<Timestamp> = None;
        let mut prev: Option<Timestamp> = None;
        let mut count = 0u64;
        for item in engine.read(id, 0, Timestamp::MAX).expect("read") {
            let f = item.unwrap_or_else(|e| panic!("round {round} stream {k}: read error after {count} frames: {e}"));
            if let Some(p) = prev {
                assert!(f.ts > p, "round {round} stream {k}: ts {} after {p}", f.ts);
            }
            prev = Some(f.ts);
            first.get_or_insert(f.ts);
            let i = frame_index(k, f.ts)
                .unwrap_or_else(|| panic!("round {round} stream {k}: ts {} was never written", f.ts));
            assert!(i < MAX_FRAMES, "round {round} stream {k}: frame {i} was never written");
            // The prefix property (docs/design.md): the child is never told
            // of a failure, so no frame may be missing before a later one,
            // acknowledged or not.
            assert_eq!(
                i,
                expected_next,
                "round {round} stream {k}: frame {expected_next} (ts {}) is missing before frame {i} \
                 (acknowledged up to {acked_idx:?})",
                frame_ts(k, expected_next)
            );
            assert_eq!(f.key, frame_key(i), "round {round} stream {k} frame {i}: key flag");
            let want = payload(seed_of(k), f.ts, frame_len(k, i));
            assert!(
                f.data == want,
                "round {round} stream {k} frame {i}: data differs ({} vs {} bytes)",
                f.data.len(),
                want.len()
            );
            expected_next = i + 1;
            count += 1;
        }
        if let Some(a) = acked_idx {
            assert!(
                expected_next > a,
                "round {round} stream {k}: acknowledged up to frame {a} (ts {}), only frames up to {expected_next} read back",
                frame_ts(k, a)
            );
        }
        let info = engine.stream(id).expect("stream info");
        assert_eq!(info.last_ts, prev, "round {round} stream {k}: listed last ts vs last frame read");
        assert_eq!(info.first_ts, first, "round {round} stream {k}: listed first ts vs first frame read");
        out.frames += count;
        out.present.push(count);
        out.acked.push(acked_idx.map_or(0, |a| a + 1));
    }
    assert_eq!(seen_ids, acked.len(), "round {round}: the journal names streams the engine does not know");
    let report = engine.check(false).expect("check");
    assert!(report.is_clean(), "round {round}: check found {:?}", report.problems);
    out
}

fn child_log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[test]
fn kill9_crash_loop() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let started = Instant::now();
    // Everything the children can write fits in half the pool: no recycling.
    let all_bytes: u64 = (0..STREAMS).flat_map(|k| (0..MAX_FRAMES).map(move |i| frame_len(k, i) as u64)).sum();
    assert!(all_bytes < POOL_SEGS * SEG / 2, "{all_bytes} bytes of frames would not leave the pool half free");
    let tmp = tempfile::tempdir().expect("tmp");
    let dir: PathBuf = tmp.path().to_path_buf();
    let exe = std::env::current_exe().expect("current exe");
    let mut rng = rand::thread_rng();
    let mut total_verified = 0u64;
    // The slowest recovering open (wall time of `open` after a kill) and
    // what its report says, for the summary.
    let mut slowest: Option<(Duration, OpenReport)> = None;
    let mut acked_verified = 0u64;
    let mut unacked_survivors = 0u64;
    let mut rounds_without_space = 0;
    let mut last = Verified::default();
    for round in 0..ITERATIONS {
        let log = dir.join(format!("child-{round}.log"));
        let out = std::fs::File::create(&log).expect("child log");
        let err = out.try_clone().expect("child log");
        let ready = dir.join(READY);
        match std::fs::remove_file(&ready) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("removing the ready marker: {e}"),
            _ => {}
        }
        let spawned = Instant::now();
        let mut child = Command::new(&exe)
            .args(["kill9_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
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
        std::thread::sleep(Duration::from_millis(rng.gen_range(50..=400)));
        child.kill().expect("kill child");
        let status = child.wait().expect("wait child");
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: the child ended by itself ({status}) instead of being killed:\n{}",
            child_log_tail(&log)
        );

        let opening = Instant::now();
        let engine = open_engine(&dir);
        let took = opening.elapsed();
        let report = engine.open_report();
        assert!(!report.last_stop_clean, "round {round}: a kill -9 reported as a clean stop: {report:?}");
        if slowest.as_ref().is_none_or(|s| took > s.0) {
            slowest = Some((took, report));
        }
        if engine.spaces().is_empty() {
            // Killed before the space was initialized.
            assert!(read_journal(&dir).is_empty(), "round {round}: acknowledged frames but no space");
            engine.close().expect("close");
            rounds_without_space += 1;
            continue;
        }
        let v = verify(&engine, &dir, round);
        engine.close().expect("close");
        drop(engine);
        total_verified += v.frames;
        acked_verified += v.acked.iter().sum::<u64>();
        unacked_survivors += v.present.iter().zip(&v.acked).map(|(p, a)| p.saturating_sub(*a)).sum::<u64>();
        last = v;
    }
    eprintln!(
        "kill9: {ITERATIONS} kill -9 iterations ({rounds_without_space} before the space existed), \
         {total_verified} frames verified byte-identical ({acked_verified} of them acknowledged, \
         {unacked_survivors} unacknowledged survivors, no hole), \
         final frames per stream {:?}, {:.1} s",
        last.present,
        started.elapsed().as_secs_f64()
    );
    if let Some((took, report)) = &slowest {
        let spaces: Vec<String> = report.spaces.iter().map(|s| s.to_string()).collect();
        eprintln!(
            "kill9: slowest reopen {} ms (key index {} ms): {}",
            took.as_millis(),
            report.key_index_took.as_millis(),
            spaces.join("; ")
        );
    }
    assert!(total_verified > 0, "no frame was ever verified");
}
