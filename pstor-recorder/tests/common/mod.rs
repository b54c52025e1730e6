//! What the recorder's tests share: the real RTSP peer (GStreamer's
//! gst-rtsp-server, `scripts/rtsp-test-server.py`) serving the media of
//! `scripts/make-test-media.sh`, the ground truth from ffprobe
//! (`scripts/media-manifest.py`), and an engine in a temporary folder.
#![allow(dead_code, clippy::unwrap_used)]

use pstor_core::*;
use pstor_recorder::{
    CameraSpec, CameraStatus, Credentials, LocalClock, RecordMode, Recorder, RecorderOptions, RecordingState, Schedule,
    Transition, TransitionSink, WeekMinute,
};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The test media, made once (the script skips what exists).
pub fn media() -> PathBuf {
    static MADE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        let dir = std::env::var_os("PSTOR_TEST_MEDIA").map_or_else(|| repo().join("target/test-media"), PathBuf::from);
        let ok = Command::new("bash")
            .arg(repo().join("scripts/make-test-media.sh"))
            .arg(&dir)
            .status()
            .expect("run scripts/make-test-media.sh (needs ffmpeg: scripts/install-media-peers.sh)");
        assert!(ok.success(), "make-test-media.sh failed");
        dir
    })
    .clone()
}

/// One packet of the source file, as ffprobe reports it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Packet {
    pub key: bool,
    pub size: usize,
    /// SHA-256 of the packet without its parameter-set NAL units.
    pub sha256: String,
}

/// The truth about a source file.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Manifest {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub extradata_hex: String,
    pub packets: Vec<Packet>,
}

pub fn manifest(name: &str) -> Manifest {
    let path = media().join(format!("{name}.manifest.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// SHA-256 of a stored frame without its parameter sets: written here,
/// apart from pstor-media, so the check does not lean on the code it
/// checks.
pub fn frame_hash(codec: &str, data: &[u8]) -> String {
    let mut kept = Vec::new();
    let mut i = 0;
    while i + 4 <= data.len() {
        let len = u32::from_be_bytes(data[i..i + 4].try_into().unwrap()) as usize;
        let nal = &data[i..i + 4 + len];
        let t = if codec == "H265" { (nal[4] >> 1) & 0x3f } else { nal[4] & 0x1f };
        let parameter_set = if codec == "H265" { (32..=34).contains(&t) } else { t == 7 || t == 8 };
        if !parameter_set {
            kept.extend_from_slice(nal);
        }
        i += 4 + len;
    }
    assert_eq!(i, data.len(), "a stored frame is whole length-prefixed NAL units");
    hex(&Sha256::digest(&kept))
}

/// The RTSP server process.
pub struct Peer {
    child: Option<Child>,
    pub port: u16,
    args: Vec<String>,
}

impl Peer {
    pub fn start() -> Peer {
        Peer::start_on(0)
    }

    pub fn start_on(port: u16) -> Peer {
        let media = media();
        let args = vec![
            repo().join("scripts/rtsp-test-server.py").display().to_string(),
            "--media".into(),
            media.display().to_string(),
        ];
        let mut p = Peer { child: None, port, args };
        p.spawn();
        p
    }

    fn spawn(&mut self) {
        let mut child = Command::new("/usr/bin/python3")
            .args(&self.args)
            .args(["--port", &self.port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start scripts/rtsp-test-server.py (needs python3-gi and gst-rtsp-server: scripts/install-media-peers.sh)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("READY ").unwrap_or_else(|| panic!("the RTSP server said {line:?}"));
        self.port = url.rsplit(':').next().unwrap().parse().unwrap();
        self.child = Some(child);
    }

    pub fn url(&self, path: &str) -> String {
        format!("rtsp://127.0.0.1:{}{path}", self.port)
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// SIGKILL, then wait for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGSTOP / SIGCONT: a camera that stalls without closing.
    pub fn pause(&self, stopped: bool) {
        let sig = if stopped { "-STOP" } else { "-CONT" };
        assert!(Command::new("kill").args([sig, &self.pid().to_string()]).status().unwrap().success());
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.pause(false);
        }
        self.kill();
    }
}

/// An engine with one video pool (id in `pool`) in a temporary folder.
pub struct Store {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
    pub pool: PoolId,
}

pub fn store(capacity: u64, strategy: OverwriteStrategy) -> Store {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::new(dir.path().join("engine"));
    opts.min_space_capacity = 1 << 20;
    opts.segment_size = 1 << 20;
    let engine = Engine::open(opts).unwrap();
    let pool = add_pool(&engine, dir.path(), "video", capacity, strategy);
    Store { dir, engine, pool }
}

pub fn add_pool(engine: &Engine, dir: &Path, name: &str, capacity: u64, strategy: OverwriteStrategy) -> PoolId {
    let path = dir.join(format!("space-{name}"));
    std::fs::create_dir(&path).unwrap();
    let space = engine
        .initialize_space(SpaceSpec { path, capacity: capacity + (2 << 20), segment_size: None })
        .unwrap()
        .wait()
        .unwrap();
    engine
        .create_pool(PoolSpec {
            name: name.into(),
            kind: PoolKind::Video,
            capacity,
            spaces: vec![space],
            strategy,
            cycle_days: 30,
            max_lock_pct: 20,
        })
        .unwrap()
}

/// A recorder on a runtime of its own, its transitions collected.
pub struct Rig {
    pub runtime: tokio::runtime::Runtime,
    pub recorder: Recorder,
    pub transitions: Arc<Mutex<Vec<Transition>>>,
}

pub fn always() -> LocalClock {
    Arc::new(|| WeekMinute { weekday: 0, minute: 0 })
}

pub fn rig(engine: &Engine, opts: RecorderOptions) -> Rig {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let transitions = Arc::new(Mutex::new(Vec::new()));
    let t = Arc::clone(&transitions);
    let sink: TransitionSink = Arc::new(move |tr| t.lock().unwrap().push(tr));
    let recorder = Recorder::new(engine.clone(), runtime.handle().clone(), opts, always(), sink);
    Rig { runtime, recorder, transitions }
}

/// Fast failure detection for tests.
pub fn quick() -> RecorderOptions {
    let mut o = RecorderOptions::default();
    o.session.stall_timeout = Duration::from_secs(3);
    o.session.step_timeout = Duration::from_secs(5);
    o
}

pub fn schedule(camera: &str, url: &str, pool: PoolId) -> Schedule {
    let mut s: Schedule =
        serde_json::from_value(serde_json::json!({ "camera_id": camera, "ip": "127.0.0.1", "pool": pool.0 })).unwrap();
    s.url = Some(url.into());
    s
}

pub fn spec(schedule: Schedule, creds: Option<(&str, &str)>) -> CameraSpec {
    CameraSpec {
        schedule,
        credentials: creds.map(|(u, p)| Credentials { username: u.into(), password: p.into() }),
        credentials_error: None,
        require_credentials: false,
    }
}

pub fn event_schedule(camera: &str, url: &str, pool: PoolId, pre: u32, post: u32) -> Schedule {
    Schedule { mode: RecordMode::Event, pre_record_secs: pre, post_record_secs: post, ..schedule(camera, url, pool) }
}

/// Waits up to `limit` for the status of schedule `id` to satisfy `f`.
pub fn wait_for(rig: &Rig, id: u64, limit: Duration, what: &str, f: impl Fn(&CameraStatus) -> bool) -> CameraStatus {
    let deadline = Instant::now() + limit;
    loop {
        let s = rig.recorder.status(id).expect("schedule known");
        if f(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}; status: {s:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn normal_with(frames: u64) -> impl Fn(&CameraStatus) -> bool {
    move |s| s.state == RecordingState::Normal && s.frames_recorded >= frames
}

/// The stored frames of a camera's main stream.
pub fn stored(engine: &Engine, camera: &str) -> (StreamInfo, Vec<Frame>) {
    let id = engine.find_stream(camera, 1, StreamKind::Main).expect("stream registered");
    let info = engine.stream(id).unwrap();
    let frames = engine.read(id, i64::MIN / 2, i64::MAX / 2).unwrap().collect::<Result<Vec<_>>>().unwrap();
    (info, frames)
}

/// Checks that `frames` are the source's packets in order (cyclically: the
/// server loops the file), from wherever the recording started; a new
/// alignment is searched only after a gap in time (a reconnect). Returns
/// how many frames matched.
pub fn assert_frames_match_source(frames: &[Frame], m: &Manifest) {
    assert!(!frames.is_empty(), "nothing stored");
    let n = m.packets.len();
    let find = |h: &str| m.packets.iter().position(|p| p.sha256 == h);
    let mut expect: Option<usize> = None;
    let mut prev_ts: Option<i64> = None;
    for (i, f) in frames.iter().enumerate() {
        let h = frame_hash(&m.codec, &f.data);
        if let Some(p) = prev_ts {
            assert!(f.ts > p, "frame {i}: time {} not after {p}", f.ts);
            if f.ts - p > 500_000 {
                // A gap: the session restarted, the source may be anywhere.
                expect = None;
            }
        }
        let at = match expect {
            Some(e) => e,
            None => {
                let at =
                    find(&h).unwrap_or_else(|| panic!("frame {i} ({} bytes) is no packet of the source", f.data.len()));
                assert!(f.key, "frame {i}: a recording starts at a key frame");
                at
            }
        };
        let p = &m.packets[at];
        assert_eq!(h, p.sha256, "frame {i} differs from source packet {at}");
        assert_eq!(f.key, p.key, "frame {i} (packet {at}): key flag");
        expect = Some((at + 1) % n);
        prev_ts = Some(f.ts);
    }
}
