//! Network shares (manual 3.5.3, "NAS"): a CIFS share `//host/share` (a
//! user and password, or a guest) or an NFS export `host:/export`, mounted
//! through the OS's mount helpers (`mount.cifs` of cifs-utils, `mount.nfs`
//! of nfs-common) under `<data_dir>/nas/<id>`, where storage spaces are
//! initialized like on any folder.
//!
//! A CIFS password goes into `<data_dir>/nas/<id>.credentials` (0600, the
//! file `mount.cifs` reads); it is never stored in the metadata database,
//! logged or returned. Shares are mounted again when the server starts,
//! before the engine opens (so their spaces open Normal), and retried every
//! minute while they are not mounted; a space on a share that goes away is
//! Lost, and comes back by itself when the share does (the engine's health
//! check restores it).

use crate::meta::shares::ShareRow;
use crate::meta::{MetaDb, MetaError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one `mount` may take before the share counts as unreachable.
pub const MOUNT_TIMEOUT: Duration = Duration::from_secs(20);

/// How often shares that are not mounted are tried again.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(60);

/// NFS mounts are soft by default: a vanished server then fails the
/// engine's I/O with an error (the space goes Lost, recording moves on)
/// instead of hanging it for ever, as a hard mount would.
const NFS_DEFAULT_OPTIONS: &str = "soft,timeo=100,retrans=3";

/// The protocol of a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShareKind {
    /// SMB/CIFS (`//host/share`).
    Cifs,
    /// NFS (`host:/export`).
    Nfs,
}

impl ShareKind {
    /// The name stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            ShareKind::Cifs => "cifs",
            ShareKind::Nfs => "nfs",
        }
    }

    fn parse(s: &str) -> Option<ShareKind> {
        match s {
            "cifs" => Some(ShareKind::Cifs),
            "nfs" => Some(ShareKind::Nfs),
            _ => None,
        }
    }

    /// The mount helper it needs and the Debian package that has it.
    fn helper(self) -> (&'static str, &'static str) {
        match self {
            ShareKind::Cifs => ("mount.cifs", "cifs-utils"),
            ShareKind::Nfs => ("mount.nfs", "nfs-common"),
        }
    }
}

/// A share to add.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareSpec {
    /// The protocol.
    pub kind: ShareKind,
    /// `//host/share` (CIFS) or `host:/export` (NFS).
    pub source: String,
    /// The CIFS user; none mounts as a guest.
    #[serde(default)]
    pub username: Option<String>,
    /// The CIFS user's password.
    #[serde(default)]
    pub password: Option<String>,
    /// Extra mount options, comma-separated (`vers=3.0`, `nfsvers=4.1`).
    #[serde(default)]
    pub options: Option<String>,
}

/// Why a share could not be added, mounted or removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// The request itself is wrong (source, user, options).
    #[error("{0}")]
    Invalid(String),
    /// This machine cannot mount shares of this kind (no helper, or a
    /// kernel without the filesystem).
    #[error("{0}")]
    Unsupported(String),
    /// The share refused the user and password.
    #[error("{0}")]
    AuthFailed(String),
    /// The share could not be reached or mounted.
    #[error("{0}")]
    MountFailed(String),
    /// A storage space lies on it.
    #[error("{0}")]
    InUse(String),
    /// No such share.
    #[error("{0}")]
    NotFound(String),
    /// A share with this source was added already.
    #[error("{0}")]
    Duplicate(String),
    /// The metadata database or a local file failed.
    #[error("{0}")]
    Local(String),
}

impl From<MetaError> for ShareError {
    fn from(e: MetaError) -> Self {
        ShareError::Local(e.to_string())
    }
}

/// What a share is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareState {
    /// Mounted at its mount point.
    Mounted,
    /// Not mounted and not tried yet (or unmounted by hand).
    NotMounted,
    /// The last mount could not reach or mount it.
    Unreachable,
    /// The last mount was refused the user and password.
    AuthFailed,
    /// This machine cannot mount it.
    Unsupported,
}

/// A share as listed: never its password.
#[derive(Debug, Clone, Serialize)]
pub struct ShareView {
    /// Its id.
    pub id: i64,
    /// The protocol.
    pub kind: String,
    /// `//host/share` or `host:/export`.
    pub source: String,
    /// The CIFS user, if any.
    pub username: Option<String>,
    /// Whether a password is kept for it.
    pub has_password: bool,
    /// The extra mount options.
    pub options: String,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// Its state now.
    pub state: ShareState,
    /// Why it is not mounted (the helper's words).
    pub detail: Option<String>,
    /// When it was last mounted or tried, µs UTC.
    pub checked_at: Option<i64>,
    /// When it was added, µs UTC.
    pub created_at: i64,
}

#[derive(Debug, Clone)]
struct LastTry {
    state: ShareState,
    detail: Option<String>,
    at: i64,
}

/// The shares of one data folder: their mount points, credentials and the
/// outcome of their last mount.
#[derive(Debug)]
pub struct Shares {
    dir: PathBuf,
    tries: parking_lot::Mutex<HashMap<i64, LastTry>>,
    /// Adding, mounting and removing one at a time (they share mount points).
    busy: parking_lot::Mutex<()>,
}

impl Shares {
    /// The shares under `<data_dir>/nas`.
    pub fn new(data_dir: &Path) -> Shares {
        Shares { dir: data_dir.join("nas"), tries: Default::default(), busy: Default::default() }
    }

    /// Where share `id` is mounted.
    pub fn mount_point(&self, id: i64) -> PathBuf {
        self.dir.join(id.to_string())
    }

    fn credentials_file(&self, id: i64) -> PathBuf {
        self.dir.join(format!("{id}.credentials"))
    }

    /// Checks, stores and mounts a share; nothing is kept if the mount fails.
    pub fn add(&self, db: &MetaDb, spec: &ShareSpec) -> Result<ShareView, ShareError> {
        validate(spec)?;
        // A machine that cannot mount the kind at all is told before anything is stored.
        helper_present(spec.kind)?;
        let _one = self.busy.lock();
        let options = spec.options.clone().unwrap_or_default();
        let id = db
            .insert_share(spec.kind.name(), &spec.source, spec.username.as_deref(), &options)?
            .ok_or_else(|| ShareError::Duplicate(format!("the share {} was added already", spec.source)))?;
        let row = ShareRow {
            id,
            kind: spec.kind.name().into(),
            source: spec.source.clone(),
            username: spec.username.clone(),
            options,
            created_at: crate::meta::now_us(),
        };
        let res = self
            .write_credentials(id, spec.username.as_deref(), spec.password.as_deref())
            .and_then(|()| self.mount_row(&row));
        if let Err(e) = res {
            self.forget(db, id);
            return Err(e);
        }
        Ok(self.view(&row, &crate::volumes::mounts()))
    }

    /// Mounts a stored share now (already mounted: nothing to do).
    pub fn mount(&self, db: &MetaDb, id: i64) -> Result<ShareView, ShareError> {
        let row = find(db, id)?;
        let _one = self.busy.lock();
        self.mount_row(&row)?;
        Ok(self.view(&row, &crate::volumes::mounts()))
    }

    /// Mounts every stored share that is not mounted; failures are logged
    /// and shown by the share's state.
    pub fn mount_all(&self, db: &MetaDb) {
        let rows = match db.shares() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the network shares");
                return;
            }
        };
        for row in rows {
            let _one = self.busy.lock();
            if is_mounted(&self.mount_point(row.id)) {
                continue;
            }
            match self.mount_row(&row) {
                Ok(()) => {
                    tracing::info!(share = %row.source, mount_point = %self.mount_point(row.id).display(), "network share mounted")
                }
                Err(e) => tracing::warn!(share = %row.source, error = %e, "network share not mounted"),
            }
        }
    }

    /// Unmounts and forgets a share no storage space uses (`in_use`: whether
    /// a space lies under the given mount point).
    pub fn remove(&self, db: &MetaDb, id: i64, in_use: impl Fn(&Path) -> bool) -> Result<ShareRow, ShareError> {
        let row = find(db, id)?;
        let _one = self.busy.lock();
        let mp = self.mount_point(id);
        if in_use(&mp) {
            return Err(ShareError::InUse(format!(
                "a storage space lies on the share {} ({}): delete the space first",
                row.source,
                mp.display()
            )));
        }
        if is_mounted(&mp) {
            let out = run(Command::new("umount").arg(&mp), MOUNT_TIMEOUT)?;
            if !out.success {
                return Err(ShareError::MountFailed(format!("cannot unmount {}: {}", mp.display(), out.message)));
            }
        }
        self.forget(db, id);
        Ok(row)
    }

    /// Every share with its state now.
    pub fn list(&self, db: &MetaDb) -> Result<Vec<ShareView>, ShareError> {
        let mounts = crate::volumes::mounts();
        Ok(db.shares()?.iter().map(|r| self.view(r, &mounts)).collect())
    }

    /// One share with its state now.
    pub fn one(&self, db: &MetaDb, id: i64) -> Result<ShareView, ShareError> {
        Ok(self.view(&find(db, id)?, &crate::volumes::mounts()))
    }

    fn view(&self, row: &ShareRow, mounts: &[crate::volumes::Mount]) -> ShareView {
        let mp = self.mount_point(row.id);
        let last = self.tries.lock().get(&row.id).cloned();
        let mounted = mounts.iter().any(|m| m.mount_point == mp);
        let (state, detail) = match (&last, mounted) {
            (_, true) => (ShareState::Mounted, None),
            (Some(t), false) if t.state != ShareState::Mounted => (t.state, t.detail.clone()),
            // Mounted once, gone since (unmounted by hand, or the share
            // vanished and the kernel dropped it).
            _ => (ShareState::NotMounted, None),
        };
        ShareView {
            id: row.id,
            kind: row.kind.clone(),
            source: row.source.clone(),
            username: row.username.clone(),
            has_password: self.credentials_file(row.id).exists(),
            options: row.options.clone(),
            mount_point: mp,
            state,
            detail,
            checked_at: last.map(|t| t.at),
            created_at: row.created_at,
        }
    }

    fn mount_row(&self, row: &ShareRow) -> Result<(), ShareError> {
        let res = self.try_mount(row);
        let (state, detail) = match &res {
            Ok(()) => (ShareState::Mounted, None),
            Err(ShareError::AuthFailed(m)) => (ShareState::AuthFailed, Some(m.clone())),
            Err(ShareError::Unsupported(m)) => (ShareState::Unsupported, Some(m.clone())),
            Err(e) => (ShareState::Unreachable, Some(e.to_string())),
        };
        self.tries.lock().insert(row.id, LastTry { state, detail, at: crate::meta::now_us() });
        res
    }

    fn try_mount(&self, row: &ShareRow) -> Result<(), ShareError> {
        let kind = ShareKind::parse(&row.kind)
            .ok_or_else(|| ShareError::Local(format!("share {} has an unknown kind {:?}", row.id, row.kind)))?;
        let mp = self.mount_point(row.id);
        if is_mounted(&mp) {
            return Ok(());
        }
        helper_present(kind)?;
        std::fs::create_dir_all(&mp)
            .map_err(|e| ShareError::Local(format!("cannot create the mount point {}: {e}", mp.display())))?;
        let mut options: Vec<String> = Vec::new();
        match kind {
            ShareKind::Cifs if self.credentials_file(row.id).exists() => {
                options.push(format!("credentials={}", self.credentials_file(row.id).display()))
            }
            ShareKind::Cifs => options.push("guest".into()),
            ShareKind::Nfs => options.push(NFS_DEFAULT_OPTIONS.into()),
        }
        if !row.options.is_empty() {
            options.push(row.options.clone());
        }
        let out = run(
            Command::new("mount").args(["-t", kind.name()]).arg(&row.source).arg(&mp).arg("-o").arg(options.join(",")),
            MOUNT_TIMEOUT,
        )?;
        if out.success {
            return Ok(());
        }
        Err(classify(kind, &row.source, &out.message))
    }

    fn write_credentials(&self, id: i64, user: Option<&str>, password: Option<&str>) -> Result<(), ShareError> {
        let Some(user) = user else { return Ok(()) };
        let local = |e: std::io::Error| ShareError::Local(format!("cannot write the share's credentials: {e}"));
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir).map_err(local)?;
        }
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(self.credentials_file(id))
            .map_err(local)?;
        let mut text = format!("username={user}\n");
        if let Some(p) = password {
            text.push_str(&format!("password={p}\n"));
        }
        f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(local)
    }

    /// Drops a share's row, credentials and (empty) mount point.
    fn forget(&self, db: &MetaDb, id: i64) {
        let _ = std::fs::remove_file(self.credentials_file(id));
        let _ = std::fs::remove_dir(self.mount_point(id));
        self.tries.lock().remove(&id);
        if let Err(e) = db.delete_share(id) {
            tracing::warn!(share = id, error = %e, "cannot forget the network share");
        }
    }
}

/// Tries the shares that are not mounted again every [`RETRY_INTERVAL`]
/// until the server stops: a share that comes back is mounted, and the
/// engine's health check then brings its spaces back.
pub async fn keep_mounted(shares: Arc<Shares>, db: Arc<MetaDb>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = crate::conn::wait_shutdown(&mut stop) => return,
            _ = tokio::time::sleep(RETRY_INTERVAL) => {}
        }
        let (s, d) = (Arc::clone(&shares), Arc::clone(&db));
        let _ = tokio::task::spawn_blocking(move || s.mount_all(&d)).await;
    }
}

fn find(db: &MetaDb, id: i64) -> Result<ShareRow, ShareError> {
    db.shares()?.into_iter().find(|r| r.id == id).ok_or_else(|| ShareError::NotFound(format!("no network share {id}")))
}

/// Whether something is mounted exactly at `path`.
pub fn is_mounted(path: &Path) -> bool {
    crate::volumes::mounts().iter().any(|m| m.mount_point == path)
}

/// Checks a share's fields: nothing that could reach `mount` as an option
/// of its own, or break the credentials file's lines.
pub fn validate(spec: &ShareSpec) -> Result<(), ShareError> {
    let bad = |m: String| Err(ShareError::Invalid(m));
    let src = spec.source.as_str();
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| !c.is_control() && c != ',' && c != '\\');
    let host_ok = |h: &str| {
        !h.is_empty()
            && h.len() <= 253
            && !h.starts_with('-')
            && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c))
    };
    match spec.kind {
        ShareKind::Cifs => {
            let rest = src.strip_prefix("//");
            let (host, share) = rest.and_then(|r| r.split_once('/')).unwrap_or(("", ""));
            if !host_ok(host) || !plain(share) || src.len() > 1024 {
                return bad(format!("a CIFS share is //host/share (no commas or backslashes), not {src:?}"));
            }
            if spec.password.is_some() && spec.username.is_none() {
                return bad("a password needs a username (leave both out to mount as a guest)".into());
            }
        }
        ShareKind::Nfs => {
            // The host may be an IPv6 address in brackets: split at the ":/".
            let (host, path) = src.split_once(":/").unwrap_or(("", ""));
            if !host_ok(host) || !path.chars().all(|c| !c.is_control() && c != ',' && c != ' ') || src.len() > 1024 {
                return bad(format!("an NFS export is host:/path (no commas or spaces), not {src:?}"));
            }
            if spec.username.is_some() || spec.password.is_some() {
                return bad("an NFS export takes no username or password".into());
            }
        }
    }
    if let Some(u) = &spec.username {
        if u.is_empty() || u.len() > 256 || u.chars().any(|c| c.is_control() || c == ',') {
            return bad("the username must be 1 to 256 characters, without commas or control characters".into());
        }
    }
    if let Some(p) = &spec.password {
        if p.len() > 256 || p.chars().any(|c| c == '\n' || c == '\r' || c == '\0') {
            return bad("the password must be at most 256 characters, on one line".into());
        }
    }
    if let Some(o) = &spec.options {
        if o.len() > 512 {
            return bad("the mount options are at most 512 characters".into());
        }
        for item in o.split(',').filter(|i| !i.is_empty()) {
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            let word = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-:/".contains(c));
            if key.is_empty() || !word(key) || !word(value) {
                return bad(format!("the mount option {item:?} is not of the form name or name=value"));
            }
            if ["credentials", "cred", "username", "user", "password", "pass", "password2"].contains(&key) {
                return bad(format!("the mount option {key} is set by pstor (use the username and password fields)"));
            }
        }
    }
    Ok(())
}

/// The helper `mount` calls for the kind must be installed.
fn helper_present(kind: ShareKind) -> Result<(), ShareError> {
    let (helper, package) = kind.helper();
    let found = ["/sbin", "/usr/sbin", "/bin", "/usr/bin"].iter().any(|d| Path::new(d).join(helper).exists());
    if found {
        return Ok(());
    }
    Err(ShareError::Unsupported(format!(
        "this machine cannot mount {} shares: {helper} is not installed (Debian: apt-get install {package})",
        kind.name().to_uppercase()
    )))
}

/// What the helper said, sorted into the errors the API shows.
fn classify(kind: ShareKind, source: &str, message: &str) -> ShareError {
    let m = message.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    let name = kind.name().to_uppercase();
    if has(&["unknown filesystem type", "no such device", "error(19)"]) {
        ShareError::Unsupported(format!(
            "this kernel cannot mount {name} shares (load its {} module): {message}",
            kind.name()
        ))
    } else if has(&["permission denied", "error(13)", "access denied", "logon failure", "error(1)"]) {
        ShareError::AuthFailed(format!("the share {source} refused the user and password: {message}"))
    } else {
        ShareError::MountFailed(format!("cannot mount {source}: {message}"))
    }
}

/// A finished command: whether it succeeded and what it printed.
struct Outcome {
    success: bool,
    message: String,
}

/// Runs a command, killed after `timeout` (a share that does not answer).
fn run(cmd: &mut Command, timeout: Duration) -> Result<Outcome, ShareError> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ShareError::Unsupported(format!("cannot run {:?}: {e}", cmd.get_program())))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ShareError::MountFailed(format!("no answer within {} s", timeout.as_secs())));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(ShareError::Local(format!("waiting for {:?}: {e}", cmd.get_program()))),
        }
    };
    // The helpers say little: read after the exit (a chatty one would
    // fill the pipe, block, and be cut off by the timeout).
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut text);
    }
    let message = text.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(Outcome { success: status.success(), message })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(kind: ShareKind, source: &str) -> ShareSpec {
        ShareSpec { kind, source: source.into(), username: None, password: None, options: None }
    }

    #[test]
    fn sources_users_and_options_are_checked() {
        assert!(validate(&spec(ShareKind::Cifs, "//nas.local/video")).is_ok());
        assert!(validate(&spec(ShareKind::Cifs, "//10.0.0.5/video/cam 1")).is_ok());
        assert!(validate(&spec(ShareKind::Nfs, "nas:/export/video")).is_ok());
        assert!(validate(&spec(ShareKind::Nfs, "[fd00::5]:/export")).is_ok());
        for (kind, bad) in [
            (ShareKind::Cifs, "nas/video"),
            (ShareKind::Cifs, "//nas"),
            (ShareKind::Cifs, "//nas/"),
            (ShareKind::Cifs, "//nas/a,credentials=/etc/shadow"),
            (ShareKind::Cifs, "//-o/x"),
            (ShareKind::Cifs, "//nas/a\nb"),
            (ShareKind::Nfs, "nas:export"),
            (ShareKind::Nfs, "-oremount:/x"),
            (ShareKind::Nfs, "nas:/a b"),
        ] {
            let e = validate(&spec(kind, bad));
            assert!(matches!(e, Err(ShareError::Invalid(_))), "{bad:?}: {e:?}");
        }
        let mut s = spec(ShareKind::Cifs, "//nas/video");
        s.password = Some("x".into());
        assert!(validate(&s).is_err(), "password without a user");
        s.username = Some("rec".into());
        assert!(validate(&s).is_ok());
        s.password = Some("a\nusername=root".into());
        assert!(validate(&s).is_err(), "a second line in the credentials file");
        s.password = None;
        for bad in ["credentials=/etc/shadow", "vers=3.0,user=root", "a b", "x=y;z", "=1"] {
            s.options = Some(bad.into());
            assert!(validate(&s).is_err(), "{bad:?}");
        }
        s.options = Some("vers=3.0,uid=0,file_mode=0600".into());
        assert!(validate(&s).is_ok());
        let mut n = spec(ShareKind::Nfs, "nas:/export");
        n.username = Some("rec".into());
        assert!(validate(&n).is_err(), "NFS with a user");
    }

    #[test]
    fn helper_messages_are_sorted_into_errors() {
        let c = |m| classify(ShareKind::Cifs, "//nas/v", m);
        assert!(matches!(c("mount: /x: unknown filesystem type 'cifs'."), ShareError::Unsupported(_)));
        assert!(matches!(
            c("mount error: cifs filesystem not supported by the system; mount error(19): No such device"),
            ShareError::Unsupported(_)
        ));
        assert!(matches!(c("mount error(13): Permission denied"), ShareError::AuthFailed(_)));
        assert!(matches!(c("mount error(113): could not connect to 10.0.0.9"), ShareError::MountFailed(_)));
        let Err(ShareError::MountFailed(m)) =
            run(Command::new("sh").args(["-c", "sleep 5"]), Duration::from_millis(100)).map(|_| ())
        else {
            panic!("a hanging mount is not cut off")
        };
        assert!(m.contains("no answer"), "{m}");
        let out = run(Command::new("sh").args(["-c", "echo 'a  b' >&2; exit 3"]), Duration::from_secs(5)).unwrap();
        assert!(!out.success);
        assert_eq!(out.message, "a b");
    }
}
