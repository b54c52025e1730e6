//! A real `pstor-server` process for the tests that kill or restart it:
//! the binary built by the cargo running the test, a configuration file,
//! the process started and its ports read from its `listening` line.

use super::{ACCESS, SECRET};
use pstor_client::RemoteOptions;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Builds `pstor-server` with the cargo running this test, into the same
/// target folder and profile directory; its path.
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile dir>/deps/<this test>
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target = profile_dir.parent().unwrap();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "-p", "pstor-server", "--bin", "pstor-server", "--target-dir"])
        .arg(target)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    } else {
        // The profile this test was built with: its dependencies are built.
        cmd.args(["--profile", "test"]);
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "building pstor-server failed: {status}");
    let bin = profile_dir.join("pstor-server");
    assert!(bin.exists(), "{} was not built", bin.display());
    bin
}

/// A server process, killed (SIGKILL) when dropped.
pub struct ServerProcess {
    child: Child,
    pub signalling: u16,
    pub data: u16,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    /// Starts the server and waits for its `listening` line.
    pub fn start(bin: &Path, config: &Path, ports: Option<(u16, u16)>, log: &Path) -> ServerProcess {
        let mut cmd = Command::new(bin);
        cmd.args(["run", "--config"]).arg(config);
        if let Some((s, d)) = ports {
            cmd.args(["--signalling-port", &s.to_string(), "--data-port", &d.to_string()]);
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let mut child = cmd.stdout(Stdio::piped()).stderr(log).stdin(Stdio::null()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if line.starts_with("listening ") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(l) => l,
            Err(e) => {
                let _ = child.kill();
                panic!("the server did not start listening: {e}");
            }
        };
        // "listening signalling=127.0.0.1:X data=127.0.0.1:Y"
        let port = |name: &str| -> u16 {
            let field = line.split_whitespace().find_map(|w| w.strip_prefix(name)).unwrap();
            field.rsplit(':').next().unwrap().parse().unwrap()
        };
        let (signalling, data) = (port("signalling="), port("data="));
        ServerProcess { child, signalling, data }
    }

    pub fn options(&self) -> RemoteOptions {
        let mut o = RemoteOptions::new("127.0.0.1", ACCESS, SECRET);
        o.signalling_port = self.signalling;
        o.data_port = self.data;
        o.connect_timeout = Duration::from_secs(10);
        o.request_timeout = Duration::from_secs(30);
        o
    }
}

/// Writes `<dir>/pstor-server.toml`: loopback, ports chosen by the
/// system, one 96 MiB space of 1 MiB segments with an 80 MiB video pool
/// ("video") and an 8 MiB picture pool ("pictures"), the test key pair;
/// `limits` is the body of a `[limits]` table (empty: the defaults).
pub fn write_config(dir: &Path, limits: &str) -> PathBuf {
    write_config_sized(dir, limits, 80)
}

/// As [`write_config`], with a video pool of `video_mib` MiB (and a space
/// 16 MiB larger).
pub fn write_config_sized(dir: &Path, limits: &str, video_mib: u64) -> PathBuf {
    let space_mib = video_mib + 16;
    let text = format!(
        r#"data_dir = "{data}"

[listen]
bind = "127.0.0.1"
signalling_port = 0
data_port = 0

[management]
port = 0

[playback]
port = 0
data_port = 0

[[spaces]]
path = "{space}"
capacity = "{space_mib}MiB"

[[pools]]
name = "video"
kind = "video"
capacity = "{video_mib}MiB"
cycle_days = 0

[[pools]]
name = "pictures"
kind = "picture"
capacity = "8MiB"
cycle_days = 0

[limits]
{limits}

[keys]
pairs = [{{ access_key = "{ACCESS}", secret_key = "{SECRET}" }}]

[engine]
min_space_capacity = "1MiB"
segment_size = "1MiB"

[logging]
level = "warn"
"#,
        data = dir.join("data").display(),
        space = dir.join("space1").display(),
    );
    let path = dir.join("pstor-server.toml");
    std::fs::write(&path, text).unwrap();
    path
}
