//! The real binary: the embedded default on first start and its reuse,
//! SIGTERM's clean shutdown, a second signal's immediate exit, and the
//! administration subcommands (refused while a server holds the folder).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pstor_core::*;
use pstor_proto::*;
use pstor_server::config::KeyPair;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pstor-server");

/// A running `pstor-server run` and its output lines.
struct Proc {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    signalling: SocketAddr,
    data: SocketAddr,
}

fn lines(r: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`.
fn wait_line(rx: &Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) if l.contains(needle) => return l,
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => panic!("no line with {needle:?} within 60 s"),
            Err(RecvTimeoutError::Disconnected) => panic!("the server ended before printing {needle:?}"),
        }
    }
}

/// `run` on loopback, every port chosen by the system.
const RUN_ON_LOOPBACK: [&str; 13] = [
    "run",
    "--bind",
    "127.0.0.1",
    "--signalling-port",
    "0",
    "--data-port",
    "0",
    "--management-port",
    "0",
    "--playback-port",
    "0",
    "--playback-data-port",
    "0",
];

impl Proc {
    fn start(data: &Path) -> Proc {
        let mut cmd = Command::new(BIN);
        cmd.args(RUN_ON_LOOPBACK).arg("--data").arg(data).env("RUST_LOG", "info");
        Proc::spawn(cmd, Stdio::piped(), data)
    }

    /// Starts `cmd` (a `run` on data folder `data`) with its standard error
    /// going to `stderr`, and waits for its "listening" line.
    fn spawn(mut cmd: Command, stderr: Stdio, data: &Path) -> Proc {
        let mut child = cmd.stdout(Stdio::piped()).stderr(stderr).spawn().unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = match child.stderr.take() {
            Some(e) => lines(e),
            None => std::sync::mpsc::channel().1,
        };
        let line = wait_line(&stdout, "listening ");
        let addr = |key: &str| -> SocketAddr {
            let v = line.split_whitespace().find_map(|w| w.strip_prefix(key)).unwrap();
            v.parse().unwrap()
        };
        let (signalling, data_addr) = (addr("signalling="), addr("data="));
        // The ports file says the same.
        let ports = std::fs::read_to_string(data.join("ports")).unwrap();
        assert!(ports.contains(&format!("signalling={signalling}")) && ports.contains(&format!("data={data_addr}")));
        Proc { child, stdout, stderr, signalling, data: data_addr }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
    }

    /// Waits for the exit status (at most 60 s).
    fn wait(mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            // Draining the pipes is what we wait on, between polls of the child.
            if let Err(RecvTimeoutError::Disconnected) = self.stderr.recv_timeout(Duration::from_millis(50)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            while self.stdout.try_recv().is_ok() {}
        }
    }
}

/// The first key pair of a credentials file.
fn credentials(data: &Path) -> (String, String) {
    let text = std::fs::read_to_string(data.join("credentials.toml")).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    let k = &v["keys"][0];
    (k["access_key"].as_str().unwrap().into(), k["secret_key"].as_str().unwrap().into())
}

fn admin(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn embedded_default_first_start_sigterm_and_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("pstor-data");
    let p = Proc::start(&data);
    let (ak, sk) = credentials(&data);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(data.join("credentials.toml")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let mut sig = Client::connect(p.signalling, Port::Signalling, &ak, &sk).unwrap();
    let Reply::ListSpaces { spaces } = sig.call(Request::ListSpaces {}).unwrap() else { panic!() };
    assert_eq!(spaces.len(), 1);
    assert!(spaces[0].path.ends_with("space1"));
    assert!(spaces[0].capacity >= 1 << 30);
    let Reply::ListPools { pools } = sig.call(Request::ListPools {}).unwrap() else { panic!() };
    assert_eq!(pools.len(), 1);
    assert_eq!((pools[0].config.name.as_str(), pools[0].config.kind), ("default", PoolKind::Mixed));
    let pool = pools[0].config.id;
    let cam = register(&mut sig, pool, "cam-1");
    let mut d = Client::connect(p.data, Port::Data, &ak, &sk).unwrap();
    d.call(Request::Append { stream: cam, sync: true, frames: frames(0, 50, 2000) }).unwrap();
    let meta = PictureMeta { camera_id: "cam-1".into(), captured_at: T0, content_type: "image/jpeg".into(), key: None };
    let Reply::PutPicture { id } =
        d.call(Request::PutPicture { pool, meta, data: content(1, 5000), sync: true }).unwrap()
    else {
        panic!()
    };
    // The folder is the server's: the admin commands say so.
    let out = admin(&["pool", "list", "--data", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"), "{}", String::from_utf8_lossy(&out.stderr));

    p.signal("-TERM");
    assert_eq!(p.wait(), 0);
    assert!(d.is_closed() && sig.is_closed());
    assert!(checkpoint_is_clean(&data.join("space1")));

    // Second start: the same space, pool, keys and data; nothing created.
    let p = Proc::start(&data);
    assert_eq!(credentials(&data), (ak.clone(), sk.clone()));
    let mut sig = Client::connect(p.signalling, Port::Signalling, &ak, &sk).unwrap();
    let Reply::ListSpaces { spaces: again } = sig.call(Request::ListSpaces {}).unwrap() else { panic!() };
    assert_eq!(again.iter().map(|s| s.id).collect::<Vec<_>>(), vec![spaces[0].id]);
    let Reply::ListPools { pools: again } = sig.call(Request::ListPools {}).unwrap() else { panic!() };
    assert_eq!(again.iter().map(|p| p.config.id).collect::<Vec<_>>(), vec![pool]);
    let mut d = Client::connect(p.data, Port::Data, &ak, &sk).unwrap();
    assert_eq!(d.read_range(cam, T0, T0 + US_PER_SEC * 10).unwrap().len(), 50);
    let Reply::GetPicture { picture } = d.call(Request::GetPicture { id }).unwrap() else { panic!() };
    assert_eq!(picture.data, content(1, 5000));
    p.signal("-INT");
    assert_eq!(p.wait(), 0);
    // The check subcommand finds it clean.
    let out = admin(&["check", "--data", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("clean"));
}

#[test]
fn a_second_signal_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let p = Proc::start(&data);
    let (ak, sk) = credentials(&data);
    let mut sig = Client::connect(p.signalling, Port::Signalling, &ak, &sk).unwrap();
    let pool = default_pool(&mut sig);
    let cam = register(&mut sig, pool, "cam-1");
    let mut d = Client::connect(p.data, Port::Data, &ak, &sk).unwrap();
    for b in 0..30u64 {
        d.call(Request::Append { stream: cam, sync: b == 29, frames: frames(b * 40, 40, 25_000) }).unwrap();
    }
    // A client that asks for 30 MB and reads none holds the graceful
    // shutdown for its grace period (10 s)...
    let mut slow = Client::connect(p.data, Port::Data, &ak, &sk).unwrap();
    slow.send(&Request::ReadRange { stream: cam, start: T0, end: T0 + 3600 * US_PER_SEC });
    p.signal("-TERM");
    wait_line(&p.stderr, "shutting down gracefully");
    // ...unless a second signal says not to wait.
    let started = Instant::now();
    p.signal("-TERM");
    assert_eq!(p.wait(), 130);
    assert!(started.elapsed() < Duration::from_secs(8));
    drop(slow);
}

/// DIR/pstor-server.toml: data folder DIR/d, one 8 MiB space DIR/s1 in
/// 1 MiB segments (instead of the embedded default's share of the volume).
fn small_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("pstor-server.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[engine]\nmin_space_capacity = \"1MiB\"\nsegment_size = \"1MiB\"\n[[spaces]]\npath = {:?}\ncapacity = \"8MiB\"\n",
            dir.join("d").to_str().unwrap(),
            dir.join("s1").to_str().unwrap()
        ),
    )
    .unwrap();
    config
}

#[test]
fn admin_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let cfg = config.to_str().unwrap();
    // No engine yet: a clear error.
    let out = admin(&["spaces", "--config", cfg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no pstor engine"));
    // A server start provisions the configured space, then stops.
    let p = Proc::start_with_config(&config);
    p.signal("-TERM");
    assert_eq!(p.wait(), 0);
    let space2 = dir.path().join("s2");
    let out = admin(&["init-space", "--config", cfg, "--path", space2.to_str().unwrap(), "--capacity", "16MiB"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ready"));
    let out = admin(&["spaces", "--config", cfg]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("s1") && text.contains("s2") && text.contains("16MiB"), "{text}");
    let ok = |args: &[&str]| {
        let out = admin(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    ok(&[
        "pool",
        "create",
        "--config",
        cfg,
        "--name",
        "cams",
        "--kind",
        "video",
        "--capacity",
        "4MiB",
        "--space",
        space2.to_str().unwrap(),
    ]);
    ok(&["pool", "edit", "--config", cfg, "cams", "--cycle-days", "5", "--strategy", "stop"]);
    let list = ok(&["pool", "list", "--config", cfg]);
    assert!(list.contains("cams") && list.contains("Video"), "{list}");
    let out = admin(&["pool", "create", "--config", cfg, "--name", "cams", "--kind", "video", "--capacity", "1MiB"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    ok(&["pool", "delete", "--config", cfg, "cams"]);
    assert!(!ok(&["pool", "list", "--config", cfg]).contains("cams"));
    assert!(ok(&["check", "--config", cfg, "--repair"]).contains("clean"));
    // Bad sizes are usage errors.
    let out = admin(&["init-space", "--config", cfg, "--path", "x", "--capacity", "12 parsecs"]);
    assert_eq!(out.status.code(), Some(2));
}

impl Proc {
    fn start_with_config(config: &Path) -> Proc {
        let mut cmd = Command::new(BIN);
        cmd.args(RUN_ON_LOOPBACK).arg("--config").arg(config);
        Proc::spawn(cmd, Stdio::piped(), &config.parent().unwrap().join("d"))
    }
}

#[test]
fn init_space_without_an_engine_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let space = dir.path().join("space1");
    let out = admin(&["init-space", "--data", data, "--path", space.to_str().unwrap(), "--capacity", "16MiB"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds no pstor engine"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "init-space created {left:?}");
}

/// `sh -c` evaluates `keys show`'s output and prints the two variables.
fn eval_exports(exports: &str) -> (String, String) {
    let out = Command::new("sh")
        .args(["-c", r#"eval "$1" && printf '%s\n%s\n' "$PSTOR_ACCESS_KEY" "$PSTOR_SECRET_KEY""#, "sh", exports])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut it = text.lines();
    (it.next().unwrap().to_string(), it.next().unwrap().to_string())
}

#[test]
fn keys_show_prints_exports_a_client_connects_with() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("pstor-data");
    let data_arg = data.to_str().unwrap();
    // Nothing to show before the first start, and nothing created.
    let out = admin(&["keys", "show", "--data", data_arg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no credentials file at"));
    assert!(!data.exists());

    // The generated pair, while the server runs.
    let p = Proc::start(&data);
    let out = admin(&["keys", "show", "--data", data_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let exports = String::from_utf8(out.stdout).unwrap();
    assert!(exports.lines().all(|l| l.starts_with("export PSTOR_")) && exports.lines().count() == 2, "{exports}");
    let (ak, sk) = eval_exports(&exports);
    assert_eq!((ak.clone(), sk.clone()), credentials(&data));
    Client::connect(p.signalling, Port::Signalling, &ak, &sk).unwrap().ping().unwrap();
    p.signal("-TERM");
    assert_eq!(p.wait(), 0);

    // A pair with characters the shell would take apart survives the quoting.
    let odd = KeyPair { access_key: "PSAK odd'key".into(), secret_key: "it's a \"secret\" $HOME `id` \\ ; #".into() };
    let pairs = vec![KeyPair { access_key: ak.clone(), secret_key: sk }, odd.clone()];
    pstor_server::credentials::write_file(&data.join("credentials.toml"), &pairs).unwrap();
    let p = Proc::start(&data);
    let out = admin(&["keys", "show", "--data", data_arg, "--access-key", &odd.access_key]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let (ak2, sk2) = eval_exports(&String::from_utf8(out.stdout).unwrap());
    assert_eq!((ak2.as_str(), sk2.as_str()), (odd.access_key.as_str(), odd.secret_key.as_str()));
    Client::connect(p.data, Port::Data, &ak2, &sk2).unwrap().ping().unwrap();
    let out = admin(&["keys", "show", "--data", data_arg, "--access-key", "PSAKNOSUCHKEY"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key pair with access key"));
    p.signal("-TERM");
    assert_eq!(p.wait(), 0);
}

#[test]
fn logs_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let log = dir.path().join("log");
    let mut cmd = Command::new(BIN);
    cmd.args(RUN_ON_LOOPBACK).arg("--config").arg(&config).env("RUST_LOG", "info").env_remove("NO_COLOR");
    let p = Proc::spawn(cmd, Stdio::from(std::fs::File::create(&log).unwrap()), &dir.path().join("d"));
    p.signal("-TERM");
    assert_eq!(p.wait(), 0);
    let text = std::fs::read(&log).unwrap();
    assert!(String::from_utf8_lossy(&text).contains("generated a key pair"), "{}", String::from_utf8_lossy(&text));
    assert!(!text.contains(&0x1b), "ANSI escapes in a log file: {:?}", String::from_utf8_lossy(&text));
}

#[test]
fn the_start_log_says_how_the_last_stop_went() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let p = Proc::start(&data);
    assert!(wait_line(&p.stderr, "engine open").contains("new engine"));
    let (ak, sk) = credentials(&data);
    let mut sig = Client::connect(p.signalling, Port::Signalling, &ak, &sk).unwrap();
    let pool = default_pool(&mut sig);
    let cam = register(&mut sig, pool, "cam-1");
    let mut d = Client::connect(p.data, Port::Data, &ak, &sk).unwrap();
    d.call(Request::Append { stream: cam, sync: true, frames: frames(0, 40, 2000) }).unwrap();
    // kill -9: the next start recovers, scanning the open segment's tail.
    p.signal("-KILL");
    p.wait();
    let p = Proc::start(&data);
    let open = wait_line(&p.stderr, "engine open");
    assert!(open.contains("unclean (recovered)"), "{open}");
    let space = wait_line(&p.stderr, "space1");
    assert!(space.contains("recovered") && space.contains("tails scanned"), "{space}");
    // A clean stop: the next start says so and scans nothing.
    p.signal("-INT");
    assert_eq!(p.wait(), 0);
    let p = Proc::start(&data);
    let open = wait_line(&p.stderr, "engine open");
    assert!(open.contains("last_stop=\"clean\"") || open.contains("last_stop=clean"), "{open}");
    let space = wait_line(&p.stderr, "space1");
    assert!(space.contains(": clean,") && !space.contains("scanned"), "{space}");
    p.signal("-INT");
    assert_eq!(p.wait(), 0);
}

#[test]
fn a_forgotten_admin_password_is_reset_with_the_server_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let cfg = config.to_str().unwrap();
    let p = Proc::start_with_config(&config);
    let data = dir.path().join("d");
    let file = data.join("initial-admin-password");
    let first = std::fs::read_to_string(&file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(data.join("meta.db")).unwrap().permissions().mode() & 0o777,
        0o600,
        "meta.db is private"
    );
    // While it runs: refused (the engine's folder is in use).
    let out = admin(&["reset-admin-password", "--config", cfg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"), "{}", String::from_utf8_lossy(&out.stderr));
    p.signal("-TERM");
    assert_eq!(p.wait(), 0);
    std::fs::remove_file(&file).unwrap();
    let out = admin(&["reset-admin-password", "--config", cfg]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("initial-admin-password"));
    let second = std::fs::read_to_string(&file).unwrap();
    assert_ne!(first, second);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let db = pstor_server::meta::MetaDb::open(&data).unwrap();
    let admin_row = db.user("admin").unwrap().unwrap();
    assert!(admin_row.must_change && pstor_server::meta::users::verify_password(&admin_row.hash, second.trim()));
    drop(db);
    let out = admin(&["clear-access", "--config", cfg]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

// The recorder's real RTSP peer and source checks, shared with its own tests.
#[path = "../../pstor-recorder/tests/common/mod.rs"]
mod media;

/// The newest flushed frame of a camera's main stream, over the SDK.
fn last_ts(sig: &mut Client, camera: &str) -> Option<Timestamp> {
    let req = Request::FindStream { camera_id: camera.into(), channel: 1, kind: StreamKind::Main };
    let Reply::FindStream { stream } = sig.call(req).unwrap() else { panic!() };
    let Reply::GetStream { stream } = sig.call(Request::GetStream { stream: stream? }).unwrap() else { panic!() };
    stream.last_ts
}

fn wait_last_ts(sig: &mut Client, camera: &str, after: Timestamp) -> Timestamp {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(t) = last_ts(sig, camera).filter(|&t| t > after) {
            return t;
        }
        assert!(Instant::now() < deadline, "no frame of {camera} after {after} within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The one pool of the embedded default.
fn default_pool(sig: &mut Client) -> PoolId {
    let Reply::ListPools { pools } = sig.call(Request::ListPools {}).unwrap() else { panic!() };
    pools[0].config.id
}

#[test]
fn recording_resumes_by_itself_after_kill_9_and_keeps_what_was_synced() {
    let peer = media::Peer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    // The VMS creates the schedule over the SDK (op create_schedule).
    let p = Proc::start(&data);
    let (ak, sk) = credentials(&data);
    let mut sig = Client::connect(p.signalling, Port::Signalling, &ak, &sk).unwrap();
    let pool = default_pool(&mut sig);
    let schedule = serde_json::json!({"camera_id": "cam-k", "name": "Gate K", "ip": "127.0.0.1", "pool": pool.0,
                                      "url": peer.url("/Streaming/Channels/102"), "password": "pw-never-back"});
    let Reply::CreateSchedule { json } = sig.call(Request::CreateSchedule { json: schedule.to_string() }).unwrap()
    else {
        panic!()
    };
    assert!(!json.contains("pw-never-back"), "the password came back: {json}");
    let made: serde_json::Value = serde_json::from_str(&json).unwrap();
    let id = made["id"].as_i64().unwrap();
    assert_eq!((made["camera_id"].as_str(), made["has_password"].as_bool()), (Some("cam-k"), Some(true)));
    // The same schedule, searched and by id; typed errors for the rest.
    let Reply::ListSchedules { json, total } =
        sig.call(Request::ListSchedules { search: "gate".into(), offset: 0, limit: 10 }).unwrap()
    else {
        panic!()
    };
    let list: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!((total, list.len(), list[0]["id"].as_i64()), (1, 1, Some(id)));
    let Reply::ListSchedules { total, .. } =
        sig.call(Request::ListSchedules { search: "nobody".into(), offset: 0, limit: 10 }).unwrap()
    else {
        panic!()
    };
    assert_eq!(total, 0);
    let code = |r: Result<Reply, pstor_core::Error>| r.map(|_| ()).unwrap_err().code().number();
    assert_eq!(code(sig.call(Request::GetSchedule { schedule: id + 100 })), 807);
    assert_eq!(code(sig.call(Request::CreateSchedule { json: "{not json".into() })), 817);
    assert_eq!(code(sig.call(Request::CreateSchedule { json: schedule.to_string() })), 812, "a duplicate");
    let bad = serde_json::json!({"camera_id": "x", "ip": "127.0.0.1", "pool": pool.0, "channel": 0});
    assert_eq!(code(sig.call(Request::CreateSchedule { json: bad.to_string() })), 817);
    let wrong_pool = serde_json::json!({"camera_id": "x", "ip": "127.0.0.1", "pool": 999});
    assert_eq!(code(sig.call(Request::CreateSchedule { json: wrong_pool.to_string() })), 302);
    assert_eq!(code(sig.call(Request::ScheduleEvent { schedule: id, start: true })), 812, "continuous");
    assert_eq!(code(sig.call(Request::DeleteSchedule { schedule: id + 100 })), 807);
    // The password is for a camera without one: replace it, keeping the rest.
    let mut changed = schedule.clone();
    changed["password"] = serde_json::Value::Null;
    let Reply::ReplaceSchedule { json } =
        sig.call(Request::ReplaceSchedule { schedule: id, json: changed.to_string() }).unwrap()
    else {
        panic!()
    };
    assert!(json.contains("\"has_password\":false"), "{json}");

    let first = wait_last_ts(&mut sig, "cam-k", 0);
    let seen = wait_last_ts(&mut sig, "cam-k", first + 4_000_000);
    let Reply::GetSchedule { json } = sig.call(Request::GetSchedule { schedule: id }).unwrap() else { panic!() };
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["status"]["state"], "normal", "{json}");
    assert!(v["status"]["frames_recorded"].as_u64().unwrap() > 0, "{json}");
    // Its transitions are in the event feed: camera status events in
    // poll_all_events (revision 1.2), left out of poll_events.
    let Reply::PollAllEvents { events, .. } =
        sig.call(Request::PollAllEvents { after_seq: 0, max: 1000, wait_ms: 0 }).unwrap()
    else {
        panic!()
    };
    let went_normal = events.iter().any(|e| {
        matches!(&e.kind, EventKind::CameraStatus { schedule, camera, to, .. }
            if *schedule == id as u64 && camera == "Gate K (cam-k)" && to == "normal")
    });
    assert!(went_normal, "{events:?}");
    let Reply::PollEvents { events: old, .. } =
        sig.call(Request::PollEvents { after_seq: 0, max: 1000, wait_ms: 300 }).unwrap()
    else {
        panic!()
    };
    assert!(old.iter().all(|e| !matches!(e.kind, EventKind::CameraStatus { .. })), "{old:?}");
    // Two sync intervals later everything up to `seen` is durable.
    std::thread::sleep(Duration::from_millis(2500));
    p.signal("-KILL");
    p.wait();

    // The next start records again by itself.
    let p = Proc::start(&data);
    let mut sig = Client::connect(p.signalling, Port::Signalling, &ak, &sk).unwrap();
    let resumed = wait_last_ts(&mut sig, "cam-k", seen + 3_000_000);
    wait_last_ts(&mut sig, "cam-k", resumed + 2_000_000);
    p.signal("-INT");
    assert_eq!(p.wait(), 0);

    let engine = Engine::open(EngineOptions::new(data.join("engine"))).unwrap();
    let (_, frames) = media::stored(&engine, "cam-k");
    media::assert_frames_match_source(&frames, &media::manifest("h264-sub"));
    // Nothing synced before the kill is missing: the frames up to `seen`
    // are one unbroken run from the first.
    let before: Vec<_> = frames.iter().filter(|f| f.ts <= seen).collect();
    assert!(before.last().unwrap().ts == seen, "the frame at {seen} seen before the kill is there");
    assert!(before.windows(2).all(|w| w[1].ts - w[0].ts < 100_000), "a hole before the kill");
    assert!(frames.last().unwrap().ts > resumed);
    engine.close().unwrap();
}
