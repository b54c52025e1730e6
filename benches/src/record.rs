//! `pstor-bench record`: N cameras pulled over RTSP from local
//! gst-rtsp-server processes (`scripts/rtsp-test-server.py`, 4 Mbit/s
//! H.264 1280x720 at 25 fps) and recorded for M seconds by pstor's
//! recorder into the engine, against the peer a Frigate-style NVR uses —
//! `ffmpeg -rtsp_transport tcp -i URL -c copy -f segment` per camera — on the
//! same cameras, in the same run. Reports CPU seconds per camera-hour of
//! both and their ratio, the frames lost (every frame the camera sent in
//! the recorded span that is not stored, and every frame the recorder
//! dropped), and the RTSP servers' own CPU apart.

use crate::measure::{cpu_seconds, settle, Report};
use crate::setup;
use pstor_core::{Error, PoolKind, Result, StreamKind};
use pstor_recorder::{CameraSpec, LocalClock, Recorder, RecorderOptions, Schedule, WeekMinute};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// Options of `record`.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Folder to run in (a fresh subfolder is created and removed).
    #[arg(long)]
    pub dir: PathBuf,
    /// Cameras recorded at once.
    #[arg(long, default_value_t = 8)]
    pub cameras: usize,
    /// Seconds recorded, for pstor and for ffmpeg each.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Cameras served by one RTSP server process.
    #[arg(long, default_value_t = 8)]
    pub cameras_per_server: usize,
    /// The test media (made by scripts/make-test-media.sh if missing).
    #[arg(long, default_value = "target/test-media")]
    pub media: PathBuf,
}

fn invalid(m: impl Into<String>) -> Error {
    Error::InvalidArgument(m.into())
}

fn io(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| invalid(format!("{what}: {e}"))
}

/// CPU seconds (user + system) of another process so far.
fn process_cpu(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    let Some(rest) = stat.rsplit_once(')').map(|x| x.1) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// The RTSP servers.
struct Servers {
    procs: Vec<(Child, u16)>,
}

impl Servers {
    fn start(n: usize, media: &Path) -> Result<Servers> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rtsp-test-server.py");
        let mut procs = Vec::new();
        for _ in 0..n {
            let mut child = Command::new("/usr/bin/python3")
                .arg(&script)
                .arg("--media")
                .arg(media)
                .args(["--port", "0"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(io("starting scripts/rtsp-test-server.py (scripts/install-media-peers.sh)"))?;
            let mut line = String::new();
            let stdout = child.stdout.take().ok_or_else(|| invalid("no stdout"))?;
            BufReader::new(stdout).read_line(&mut line).map_err(io("reading the RTSP server's READY line"))?;
            let port = line
                .trim()
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| invalid(format!("the RTSP server said {line:?}")))?;
            procs.push((child, port));
        }
        Ok(Servers { procs })
    }

    fn url(&self, camera: usize, per_server: usize) -> String {
        let port = self.procs[(camera / per_server.max(1)) % self.procs.len()].1;
        format!("rtsp://127.0.0.1:{port}/Streaming/Channels/101")
    }

    fn cpu(&self) -> f64 {
        self.procs.iter().map(|(c, _)| process_cpu(c.id())).sum()
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for (c, _) in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// pstor's phase: (CPU s, frames stored, frames lost).
fn pstor_phase(a: &RecordArgs, servers: &Servers) -> Result<(f64, u64, u64)> {
    // Room for everything (no overwrite during the run, which would look
    // like loss): 1 MB/s a camera (the cameras send 0.5) and three
    // segments each beyond that for the ones open and sealing.
    const SEGMENT: u64 = 8 << 20;
    let capacity = a.cameras as u64 * (a.seconds * 1_000_000 + 3 * SEGMENT);
    let rig = setup::rig(&a.dir, "record", capacity.max(64 << 20), SEGMENT, PoolKind::Video)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io("starting a runtime"))?;
    let clock: LocalClock = Arc::new(|| WeekMinute { weekday: 0, minute: 0 });
    let recorder = Recorder::new(
        rig.engine.clone(),
        runtime.handle().clone(),
        RecorderOptions::default(),
        clock,
        Arc::new(|_| {}),
    );
    let cpu0 = cpu_seconds();
    for i in 0..a.cameras {
        let schedule: Schedule = serde_json::from_value(serde_json::json!({
            "camera_id": format!("bench-cam-{i}"), "ip": "127.0.0.1", "pool": rig.pool.0,
            "url": servers.url(i, a.cameras_per_server),
        }))
        .map_err(|e| invalid(e.to_string()))?;
        let spec = CameraSpec { schedule, credentials: None, credentials_error: None, require_credentials: false };
        recorder.set(i as u64, spec);
    }
    std::thread::sleep(Duration::from_secs(a.seconds));
    // Before the shutdown, which forgets the cameras: everything counted
    // as recorded here must read back after it.
    let status: Vec<_> = (0..a.cameras as u64).map(|i| recorder.status(i)).collect();
    let dropped: u64 = status.iter().flatten().map(|s| s.frames_dropped + s.frames_invalid).sum();
    recorder.shutdown(Duration::from_secs(30));
    let cpu = cpu_seconds() - cpu0;
    drop(runtime);
    // Lost: frames missing between each camera's first and last stored
    // frame (40 ms apart at 25 fps), frames the recorder says it stored
    // that cannot be read back, and the ones it dropped.
    let (mut stored, mut missing) = (0u64, 0u64);
    for (i, status) in status.iter().enumerate() {
        let Some(id) = rig.engine.find_stream(&format!("bench-cam-{i}"), 1, StreamKind::Main) else {
            return Err(invalid(format!("camera {i} recorded nothing")));
        };
        let frames = rig.engine.read(id, 0, i64::MAX / 2)?.collect::<Result<Vec<_>>>()?;
        stored += frames.len() as u64;
        if let (Some(f), Some(l)) = (frames.first(), frames.last()) {
            let expected = ((l.ts - f.ts) as f64 / 40_000.0).round() as u64 + 1;
            missing += expected.saturating_sub(frames.len() as u64);
        }
        let recorded = status.as_ref().map_or(0, |s| s.frames_recorded);
        missing += recorded.saturating_sub(frames.len() as u64);
    }
    rig.remove()?;
    Ok((cpu, stored, missing + dropped))
}

/// ffmpeg's phase: CPU s of the ffmpeg processes.
fn ffmpeg_phase(a: &RecordArgs, servers: &Servers) -> Result<f64> {
    let out = a.dir.join("ffmpeg-record");
    std::fs::create_dir_all(&out).map_err(io("creating the ffmpeg folder"))?;
    let mut children = Vec::new();
    for i in 0..a.cameras {
        let pattern = out.join(format!("cam{i}-%03d.mp4"));
        let child = Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i"])
            .arg(servers.url(i, a.cameras_per_server))
            .args(["-c", "copy", "-f", "segment", "-segment_time", "10", "-reset_timestamps", "1"])
            .arg(&pattern)
            .stdin(Stdio::null())
            .spawn()
            .map_err(io("starting ffmpeg"))?;
        children.push(child);
    }
    std::thread::sleep(Duration::from_secs(a.seconds));
    // Read the CPU just before stopping (a killed process's /proc is gone).
    let cpu: f64 = children.iter().map(|c| process_cpu(c.id())).sum();
    for c in &mut children {
        let _ = Command::new("kill").args(["-INT", &c.id().to_string()]).status();
    }
    for c in &mut children {
        let _ = c.wait();
    }
    std::fs::remove_dir_all(&out).map_err(io("removing the ffmpeg folder"))?;
    Ok(cpu)
}

/// Runs the workload.
pub fn run(a: &RecordArgs) -> Result<Report> {
    if a.cameras == 0 || a.seconds == 0 {
        return Err(invalid("--cameras and --seconds must be at least 1"));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/make-test-media.sh");
    let made = Command::new("bash")
        .arg(script)
        .arg(&a.media)
        .stdout(Stdio::null())
        .status()
        .map_err(io("make-test-media.sh"))?;
    if !made.success() {
        return Err(invalid("scripts/make-test-media.sh failed"));
    }
    let servers = Servers::start(a.cameras.div_ceil(a.cameras_per_server.max(1)), &a.media)?;
    settle();
    let srv0 = servers.cpu();
    let (pstor_cpu, stored, lost) = pstor_phase(a, &servers)?;
    let srv_pstor = servers.cpu() - srv0;
    settle();
    let srv1 = servers.cpu();
    let ffmpeg_cpu = ffmpeg_phase(a, &servers)?;
    let srv_ffmpeg = servers.cpu() - srv1;
    let camera_hours = a.cameras as f64 * a.seconds as f64 / 3600.0;
    let per_hour = |cpu: f64| cpu / camera_hours;
    let mut r = Report::default();
    r.add("cameras", a.cameras as u64, "");
    r.add("seconds", a.seconds, "s");
    r.add("frames_stored", stored, "");
    r.add("frames_lost", lost, "");
    r.num("cpu_s_per_camera_hour", per_hour(pstor_cpu), 1, "CPU s per camera-hour (pstor recorder + engine)");
    r.num("ffmpeg_cpu_s_per_camera_hour", per_hour(ffmpeg_cpu), 1, "CPU s per camera-hour (ffmpeg -c copy -f segment)");
    r.num("cpu_ratio_vs_ffmpeg", pstor_cpu / ffmpeg_cpu.max(1e-9), 3, "(target <= 0.5)");
    r.num("rtsp_server_cpu_s_pstor_phase", srv_pstor, 1, "s (the RTSP servers, apart)");
    r.num("rtsp_server_cpu_s_ffmpeg_phase", srv_ffmpeg, 1, "s (the RTSP servers, apart)");
    Ok(r)
}
