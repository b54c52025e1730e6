//! The server's configuration: a TOML file (documented in docs/server.md,
//! example in examples/pstor-server.toml), every field optional. With no
//! file at all the defaults are the embedded default: data in
//! `./pstor-data`, both SDK ports on all interfaces, keys generated on
//! first start.

use crate::error::ServerError;
use crate::size::ByteSize;
use pstor_core::{EngineOptions, OverwriteStrategy, PoolKind};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything the server is told.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The data folder: the engine's catalog in `<data_dir>/engine`, the
    /// embedded default's space in `<data_dir>/space1`, generated
    /// credentials, the `ports` file.
    pub data_dir: PathBuf,
    /// Where to listen.
    pub listen: ListenConfig,
    /// Storage spaces to have (created if missing).
    pub spaces: Vec<SpaceConfig>,
    /// Resource pools to have (created if missing).
    pub pools: Vec<PoolConfig>,
    /// Who may connect.
    pub keys: KeysConfig,
    /// Connection and frame limits.
    pub limits: Limits,
    /// Log level and format.
    pub logging: LoggingConfig,
    /// Engine settings.
    pub engine: EngineConfig,
    /// The web management service (6060).
    pub management: ManagementConfig,
    /// The recorder of camera streams.
    pub recording: RecordingConfig,
    /// Playback and download (6038/6039).
    pub playback: PlaybackConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data_dir: PathBuf::from("pstor-data"),
            listen: ListenConfig::default(),
            spaces: Vec::new(),
            pools: Vec::new(),
            keys: KeysConfig::default(),
            limits: Limits::default(),
            logging: LoggingConfig::default(),
            engine: EngineConfig::default(),
            management: ManagementConfig::default(),
            recording: RecordingConfig::default(),
            playback: PlaybackConfig::default(),
        }
    }
}

impl ServerConfig {
    /// A server for this host only: bound to `127.0.0.1` on ports the
    /// system chooses (read them from [`RunningServer`](crate::RunningServer)),
    /// accepting the one key pair `key`, with spaces as small as 1 MiB
    /// allowed. Tests, benches and examples add their spaces and pools.
    pub fn loopback(data_dir: PathBuf, key: KeyPair) -> ServerConfig {
        let mut cfg = ServerConfig { data_dir, ..ServerConfig::default() };
        cfg.listen.bind = IpAddr::from([127, 0, 0, 1]);
        cfg.listen.signalling_port = 0;
        cfg.listen.data_port = 0;
        cfg.keys.pairs = vec![key];
        cfg.engine.min_space_capacity = ByteSize(1 << 20);
        cfg.management.port = 0;
        cfg.playback.port = 0;
        cfg.playback.data_port = 0;
        cfg.management.min_space_capacity = ByteSize(1 << 20);
        cfg
    }
}

/// The listening sockets.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenConfig {
    /// Address to bind both ports to. Default `0.0.0.0`: a VMS on another
    /// host must reach the server, and every connection must authenticate
    /// with a key pair. Use `127.0.0.1` to serve this host only.
    pub bind: IpAddr,
    /// Signalling port (manual: 6036); 0 = any free port.
    pub signalling_port: u16,
    /// Data port (manual: 6037); 0 = any free port.
    pub data_port: u16,
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig { bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED), signalling_port: 6036, data_port: 6037 }
    }
}

/// A storage space to have.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceConfig {
    /// Its folder (created if missing).
    pub path: PathBuf,
    /// Bytes to pre-allocate.
    pub capacity: ByteSize,
    /// Segment size (default: `engine.segment_size`).
    #[serde(default)]
    pub segment_size: Option<ByteSize>,
}

/// A pool's kind as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KindName {
    /// Video only.
    Video,
    /// Pictures only.
    Picture,
    /// Both.
    Mixed,
}

impl From<KindName> for PoolKind {
    fn from(k: KindName) -> Self {
        match k {
            KindName::Video => PoolKind::Video,
            KindName::Picture => PoolKind::Picture,
            KindName::Mixed => PoolKind::Mixed,
        }
    }
}

/// A pool's overwrite strategy as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyName {
    /// Recycle the oldest unlocked data when full.
    Overwrite,
    /// Refuse writes when full.
    Stop,
}

impl From<StrategyName> for OverwriteStrategy {
    fn from(s: StrategyName) -> Self {
        match s {
            StrategyName::Overwrite => OverwriteStrategy::OverwriteOldest,
            StrategyName::Stop => OverwriteStrategy::StopWhenFull,
        }
    }
}

/// A resource pool to have (matched by name).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Unique name.
    pub name: String,
    /// video, picture or mixed.
    pub kind: KindName,
    /// Capacity, striped over its spaces.
    pub capacity: ByteSize,
    /// Paths of the spaces to carve it from (from `spaces`); empty = all.
    #[serde(default)]
    pub spaces: Vec<PathBuf>,
    /// overwrite (default) or stop.
    #[serde(default = "default_strategy")]
    pub strategy: StrategyName,
    /// Retention in days (0 = until overwritten). Default 30.
    #[serde(default = "default_cycle")]
    pub cycle_days: u32,
    /// Most of the capacity locks may hold, percent. Default 10.
    #[serde(default = "default_lock_pct")]
    pub max_lock_pct: u8,
}

impl PoolConfig {
    /// A pool over all the spaces with the file's defaults (overwrite,
    /// a 30-day cycle, 10 % for locks).
    pub fn new(name: impl Into<String>, kind: KindName, capacity: ByteSize) -> PoolConfig {
        PoolConfig {
            name: name.into(),
            kind,
            capacity,
            spaces: Vec::new(),
            strategy: default_strategy(),
            cycle_days: default_cycle(),
            max_lock_pct: default_lock_pct(),
        }
    }
}

fn default_strategy() -> StrategyName {
    StrategyName::Overwrite
}
fn default_cycle() -> u32 {
    30
}
fn default_lock_pct() -> u8 {
    10
}

/// An access key and its secret key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPair {
    /// The public name of the pair.
    pub access_key: String,
    /// The shared secret (never logged, never sent).
    pub secret_key: String,
}

/// Who may connect.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// A credentials file (`[[keys]]` tables of `access_key` and
    /// `secret_key`); generated with one new pair, mode 0600, if missing.
    /// Default: `<data_dir>/credentials.toml` when `pairs` is empty.
    pub credentials_file: Option<PathBuf>,
    /// Pairs written in this file (they are added to the file's).
    pub pairs: Vec<KeyPair>,
}

/// Connection and frame limits (docs/sdk-protocol.md §8).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Connections over both ports; more get `PSTOR_BUSY`.
    pub max_connections: u32,
    /// Largest frame body accepted and sent.
    pub max_body: ByteSize,
    /// Requests queued per connection before the server stops reading it.
    pub max_in_flight: u32,
    /// Request bodies queued per connection (at least `max_body`).
    pub queue_bytes: ByteSize,
    /// Free receive buffers kept for reuse, over all connections (0: none).
    pub receive_pool: ByteSize,
    /// Seconds a connection may stay idle (nothing received, nothing in
    /// progress), and a client may take to accept an answer's bytes.
    pub idle_timeout_secs: u64,
    /// Seconds a client has to authenticate.
    pub handshake_timeout_secs: u64,
    /// Size a range read aims for per stream item.
    pub read_batch: ByteSize,
    /// Seconds a graceful shutdown waits for requests in progress.
    pub shutdown_grace_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            max_body: ByteSize(pstor_proto::DEFAULT_MAX_BODY as u64),
            max_in_flight: pstor_proto::DEFAULT_MAX_IN_FLIGHT,
            queue_bytes: ByteSize(64 << 20),
            receive_pool: ByteSize(128 << 20),
            idle_timeout_secs: 300,
            handshake_timeout_secs: 10,
            read_batch: ByteSize(pstor_proto::DEFAULT_READ_ITEM_BYTES as u64),
            shutdown_grace_secs: 10,
        }
    }
}

impl Limits {
    /// `max_body` as the protocol's u32.
    pub fn max_body(&self) -> u32 {
        u32::try_from(self.max_body.0).unwrap_or(u32::MAX)
    }
    /// The idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
    /// The handshake timeout.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }
    /// The shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
    /// Request queue budget in bytes (never below one `max_body`).
    pub fn queue_bytes(&self) -> u32 {
        u32::try_from(self.queue_bytes.0.max(self.max_body.0)).unwrap_or(u32::MAX)
    }
}

/// Log output.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingConfig {
    /// A level (`error`, `warn`, `info`, `debug`, `trace`) or a tracing
    /// filter (`info,pstor_server=debug`); `RUST_LOG` overrides it.
    pub level: String,
    /// `text` (default) or `json` (one JSON object per line).
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig { level: "info".into(), format: LogFormat::Text }
    }
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Engine settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Smallest storage space accepted. Default
    /// [`pstor_core::DEFAULT_MIN_SPACE_CAPACITY`] (1 GiB), as in the SDKs.
    pub min_space_capacity: ByteSize,
    /// Segment size of new spaces that do not set one. Default 256 MiB.
    pub segment_size: ByteSize,
    /// Local time offset from UTC, minutes (inspection days and hours).
    pub utc_offset_minutes: i32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            min_space_capacity: ByteSize(pstor_core::DEFAULT_MIN_SPACE_CAPACITY),
            segment_size: ByteSize(256 << 20),
            utc_offset_minutes: 0,
        }
    }
}

/// The web management service on 6060 (docs/server.md §10).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManagementConfig {
    /// Serve it (default true).
    pub enabled: bool,
    /// Its port (manual: 6060); 0 = any free port.
    pub port: u16,
    /// Address to bind to; default `listen.bind`.
    pub bind: Option<IpAddr>,
    /// Serve plain HTTP instead of HTTPS. Only for a port behind a TLS
    /// proxy on the same host, or tests: passwords and session cookies
    /// would cross the network in clear.
    pub plain_http: bool,
    /// Certificate chain (PEM) to serve; with `tls_key`. Default: a
    /// self-signed one generated into `<data_dir>/tls/`.
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Minutes without a request after which a session ends. Default 30.
    pub session_idle_minutes: u64,
    /// Hours after which a session ends, used or not. Default 12.
    pub session_max_hours: u64,
    /// Failed logins (per user, and per client address) before logins are
    /// refused for `lockout_secs`. Default 5.
    pub lockout_failures: u32,
    /// Seconds logins stay refused after too many failures. Default 300.
    pub lockout_secs: u64,
    /// Most log entries kept (the oldest go first). Default 2,000,000.
    pub log_max_entries: u64,
    /// Days a log entry is kept. Default 365.
    pub log_max_age_days: u32,
    /// Largest request body, bytes. Default 1 MiB.
    pub max_body: ByteSize,
    /// A bearer token Prometheus may scrape `/metrics` with (besides any
    /// API token or session). Default none.
    pub metrics_token: Option<String>,
    /// Let anyone on this host scrape `/metrics` without a token. Default false.
    pub metrics_open_on_loopback: bool,
    /// Hours between metadata backups onto the storage spaces (0: none on
    /// a schedule; they are still taken before risky operations). Default 24.
    pub backup_interval_hours: u64,
    /// Backups kept per storage space. Default 7.
    pub backup_keep: u32,
    /// Folders the folder browser may show and change (with what lies
    /// under them). Default: every mounted storage filesystem but the
    /// system volume.
    pub browse_roots: Vec<PathBuf>,
    /// Add the system volume (`/`) to the default roots. Default false.
    pub browse_system_volume: bool,
    /// Smallest storage space the API initializes (manual 3.5.1: at least
    /// 5 GB). Default 5 GiB; the engine's own floor,
    /// `[engine] min_space_capacity`, applies as well.
    pub min_space_capacity: ByteSize,
}

impl Default for ManagementConfig {
    fn default() -> Self {
        ManagementConfig {
            enabled: true,
            port: 6060,
            bind: None,
            plain_http: false,
            tls_cert: None,
            tls_key: None,
            session_idle_minutes: 30,
            session_max_hours: 12,
            lockout_failures: 5,
            lockout_secs: 300,
            log_max_entries: 2_000_000,
            log_max_age_days: 365,
            max_body: ByteSize(1 << 20),
            metrics_token: None,
            metrics_open_on_loopback: false,
            backup_interval_hours: 24,
            backup_keep: 7,
            browse_roots: Vec::new(),
            browse_system_volume: false,
            min_space_capacity: ByteSize(5 << 30),
        }
    }
}

/// `[playback]`: playback and download over HTTP(S) (docs/playback.md):
/// the signalling port (6038: recordings, playlists, signed links) and the
/// data port (6039: `.mp4` files and fMP4 segments).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlaybackConfig {
    /// Serve them (default true).
    pub enabled: bool,
    /// The signalling port (manual: 6038); 0 = any free port.
    pub port: u16,
    /// The data port (manual: 6039); 0 = any free port.
    pub data_port: u16,
    /// Address to bind both to; default `listen.bind`.
    pub bind: Option<IpAddr>,
    /// Serve plain HTTP instead of HTTPS (with the management port's
    /// certificate). Only behind a TLS proxy on the same host, or tests.
    pub plain_http: bool,
    /// Longest time range one file or playlist covers, hours. Default 24.
    pub max_range_hours: u64,
    /// Files and segments being made at once; more are refused with 503
    /// and `Retry-After`. Default 64.
    pub max_exports: usize,
    /// Longest lifetime of a signed link, hours. Default 168 (a week).
    pub link_max_hours: u64,
}

impl Default for PlaybackConfig {
    fn default() -> Self {
        PlaybackConfig {
            enabled: true,
            port: 6038,
            data_port: 6039,
            bind: None,
            plain_http: false,
            max_range_hours: 24,
            max_exports: 64,
            link_max_hours: 168,
        }
    }
}

/// `[recording]`: how cameras are pulled (docs/recording.md).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingConfig {
    /// Seconds allowed for each RTSP step (DESCRIBE, SETUP, PLAY).
    pub connect_timeout_secs: u64,
    /// A camera that sends no frame for this long is reconnected.
    pub stall_timeout_secs: u64,
    /// Frames queued per camera before the engine; beyond, frames are
    /// dropped to the next key frame and counted.
    pub frame_queue: usize,
    /// How often each camera's frames are synced, milliseconds.
    pub sync_interval_ms: u64,
    /// Memory bound of each event-mode camera's pre-record buffer.
    pub prerecord_max_bytes: ByteSize,
    /// Largest difference, seconds, between a camera's clock (its RTCP
    /// sender reports) and this server's for the camera's to be used.
    pub max_camera_skew_secs: u64,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        RecordingConfig {
            connect_timeout_secs: 10,
            stall_timeout_secs: 10,
            frame_queue: 256,
            sync_interval_ms: 1000,
            prerecord_max_bytes: ByteSize(32 << 20),
            max_camera_skew_secs: 10,
        }
    }
}

impl RecordingConfig {
    /// The recorder's options.
    pub fn options(&self) -> pstor_recorder::RecorderOptions {
        let d = pstor_recorder::RecorderOptions::default();
        pstor_recorder::RecorderOptions {
            session: pstor_recorder::rtsp::SessionSettings {
                step_timeout: Duration::from_secs(self.connect_timeout_secs.max(1)),
                stall_timeout: Duration::from_secs(self.stall_timeout_secs.max(1)),
                ..d.session
            },
            timeline: pstor_recorder::timeline::TimelineOptions {
                max_camera_skew: i64::try_from(self.max_camera_skew_secs.saturating_mul(1_000_000)).unwrap_or(i64::MAX),
                ..d.timeline
            },
            frame_queue: self.frame_queue.max(1),
            sync_every: Duration::from_millis(self.sync_interval_ms.max(10)),
            prerecord_max_bytes: usize::try_from(self.prerecord_max_bytes.0).unwrap_or(usize::MAX),
        }
    }
}

impl ServerConfig {
    /// Reads a TOML file.
    pub fn load(path: &Path) -> Result<ServerConfig, ServerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerError::Config(format!("reading {}: {e}", path.display())))?;
        let mut cfg: ServerConfig =
            toml::from_str(&text).map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))?;
        // Relative paths in the file are relative to the file's folder.
        let base = path.parent().unwrap_or(Path::new("."));
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut cfg.data_dir);
        cfg.spaces.iter_mut().for_each(|s| fix(&mut s.path));
        cfg.pools.iter_mut().flat_map(|p| p.spaces.iter_mut()).for_each(fix);
        if let Some(f) = cfg.keys.credentials_file.as_mut() {
            fix(f);
        }
        cfg.management.tls_cert.iter_mut().chain(cfg.management.tls_key.iter_mut()).for_each(fix);
        cfg.management.browse_roots.iter_mut().for_each(fix);
        Ok(cfg)
    }

    /// Checks what can be checked before starting.
    pub fn validate(&self) -> Result<(), ServerError> {
        let l = &self.limits;
        let bad = |m: String| Err(ServerError::Config(m));
        if l.max_connections == 0 {
            return bad("limits.max_connections must be at least 1".into());
        }
        if l.max_body.0 < 64 << 10 || l.max_body.0 > 1 << 30 {
            return bad(format!("limits.max_body {} must be between 64KiB and 1GiB", l.max_body));
        }
        if l.max_in_flight == 0 {
            return bad("limits.max_in_flight must be at least 1".into());
        }
        if l.read_batch.0 == 0 || l.read_batch.0 > l.max_body.0 / 2 {
            return bad(format!("limits.read_batch {} must be between 1 byte and half of max_body", l.read_batch));
        }
        if l.idle_timeout_secs == 0 || l.handshake_timeout_secs == 0 {
            return bad("limits.idle_timeout_secs and handshake_timeout_secs must be at least 1".into());
        }
        let m = &self.management;
        if m.tls_cert.is_some() != m.tls_key.is_some() {
            return bad("management.tls_cert and management.tls_key go together: set both or neither".into());
        }
        if m.session_idle_minutes == 0 || m.session_max_hours == 0 || m.lockout_failures == 0 {
            return bad(
                "management.session_idle_minutes, session_max_hours and lockout_failures must be at least 1".into()
            );
        }
        if m.max_body.0 < 1024 || m.max_body.0 > 64 << 20 {
            return bad(format!("management.max_body {} must be between 1KiB and 64MiB", m.max_body));
        }
        if m.backup_keep == 0 {
            return bad("management.backup_keep must be at least 1".into());
        }
        if m.metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
            return bad("management.metrics_token must be at least 16 characters".into());
        }
        if m.log_max_entries < 1000 || m.log_max_age_days == 0 {
            return bad("management.log_max_entries must be at least 1000 and log_max_age_days at least 1".into());
        }
        let mut names = std::collections::HashSet::new();
        for p in &self.pools {
            if !names.insert(&p.name) {
                return bad(format!("pool {:?} is listed twice", p.name));
            }
            for s in &p.spaces {
                if !self.spaces.iter().any(|c| &c.path == s) {
                    return bad(format!("pool {:?} names space {} which is not in [[spaces]]", p.name, s.display()));
                }
            }
        }
        Ok(())
    }

    /// The engine options this configuration gives.
    pub fn engine_options(&self) -> EngineOptions {
        let mut o = EngineOptions::new(self.data_dir.join("engine"));
        o.min_space_capacity = self.engine.min_space_capacity.0;
        o.segment_size = self.engine.segment_size.0;
        o.utc_offset_minutes = self.engine.utc_offset_minutes;
        o
    }

    /// Where the generated or configured credentials file is.
    pub fn credentials_path(&self) -> Option<PathBuf> {
        match (&self.keys.credentials_file, self.keys.pairs.is_empty()) {
            (Some(f), _) => Some(f.clone()),
            (None, true) => Some(self.data_dir.join("credentials.toml")),
            (None, false) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_validates() {
        let text = include_str!("../../examples/pstor-server.toml");
        let cfg: ServerConfig = toml::from_str(text).expect("example parses");
        cfg.validate().expect("example validates");
        assert_eq!(cfg.listen.signalling_port, 6036);
        assert!(!cfg.spaces.is_empty() && !cfg.pools.is_empty());
    }

    #[test]
    fn an_empty_file_is_the_embedded_default() {
        let cfg: ServerConfig = toml::from_str("").expect("empty parses");
        cfg.validate().expect("defaults validate");
        assert_eq!(cfg.data_dir, PathBuf::from("pstor-data"));
        assert_eq!((cfg.listen.signalling_port, cfg.listen.data_port), (6036, 6037));
        assert_eq!(cfg.credentials_path(), Some(PathBuf::from("pstor-data/credentials.toml")));
    }

    #[test]
    fn typos_and_bad_values_are_refused() {
        assert!(toml::from_str::<ServerConfig>("[listen]\nport = 1").is_err());
        assert!(toml::from_str::<ServerConfig>("[[pools]]\nname='a'\nkind='audio'\ncapacity='1GiB'").is_err());
        let cfg: ServerConfig = toml::from_str("[limits]\nmax_connections = 0").expect("parses");
        assert!(cfg.validate().is_err());
        let cfg: ServerConfig =
            toml::from_str("[[pools]]\nname='a'\nkind='video'\ncapacity='1GiB'\nspaces=['/nowhere']").expect("parses");
        assert!(cfg.validate().is_err());
    }
}
