//! Backups of the metadata database (manual 3.8.9): consistent snapshots
//! (`VACUUM INTO`, which reads one transaction's view while writers go on)
//! copied onto every Normal storage space, in `<space>/pstor-meta-backup/`,
//! the last N kept per space. The engine never lists a space's folder, so
//! the subfolder is the space's own record of who used it: after a
//! reinstall (empty data folder, spaces found on disk) the service finds
//! the backups there and offers to restore the newest.

use super::{MetaDb, MetaError, MIGRATIONS};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// The subfolder of a space that holds backups.
pub const BACKUP_DIR: &str = "pstor-meta-backup";

/// A backup file found on a space.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupFile {
    /// `<space id>/<file name>`: what the restore call names.
    pub id: String,
    /// The space it is on.
    pub space: u32,
    /// The file.
    pub path: PathBuf,
    /// When it was taken (µs UTC, from its name).
    pub taken_at: i64,
    /// Its size.
    pub bytes: u64,
}

/// `meta-20261204T014500123456Z.db` for a time in µs.
pub fn file_name(at: i64) -> String {
    let t = super::logs::rfc3339_us(at); // 2026-12-04T01:45:00.123456Z
    let compact: String = t.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("meta-{compact}.db")
}

/// The time in a backup file's name.
pub fn parse_name(name: &str) -> Option<i64> {
    let core = name.strip_prefix("meta-")?.strip_suffix(".db")?;
    // 20261204T014500123456Z
    if core.len() != 22 || &core[8..9] != "T" || !core.ends_with('Z') {
        return None;
    }
    let s = format!(
        "{}-{}-{}T{}:{}:{}.{}Z",
        &core[0..4],
        &core[4..6],
        &core[6..8],
        &core[9..11],
        &core[11..13],
        &core[13..15],
        &core[15..21]
    );
    crate::manage::api::parse_time(&s).ok()
}

/// The backups in a space folder, newest first.
pub fn list_in(space: u32, space_dir: &Path) -> Vec<BackupFile> {
    let dir = space_dir.join(BACKUP_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut out: Vec<BackupFile> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let taken_at = parse_name(&name)?;
            let bytes = e.metadata().ok()?.len();
            Some(BackupFile { id: format!("{space}/{name}"), space, path: e.path(), taken_at, bytes })
        })
        .collect();
    out.sort_by_key(|b| std::cmp::Reverse(b.taken_at));
    out
}

impl MetaDb {
    /// Writes a snapshot into `space_dir`'s backup folder (temporary name,
    /// fsync, rename, fsync of the folder) and keeps the newest `keep`.
    pub fn backup_to(&self, space_dir: &Path, at: i64, keep: usize) -> Result<PathBuf, MetaError> {
        let dir = space_dir.join(BACKUP_DIR);
        let io = |what: &str, p: &Path, e: std::io::Error| MetaError::Backup(format!("{what} {}: {e}", p.display()));
        std::fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, e))?;
        let file = dir.join(file_name(at));
        let tmp = dir.join(format!("{}.tmp", file_name(at)));
        let _ = std::fs::remove_file(&tmp);
        let target = tmp.to_string_lossy().into_owned();
        self.with(|c| c.execute("VACUUM INTO ?1", [&target]).map(drop))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io("protecting", &tmp, e))?;
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| io("syncing", &tmp, e))?;
        std::fs::rename(&tmp, &file).map_err(|e| io("renaming", &tmp, e))?;
        std::fs::File::open(&dir).and_then(|f| f.sync_all()).map_err(|e| io("syncing", &dir, e))?;
        for old in list_in(0, space_dir).into_iter().skip(keep.max(1)) {
            let _ = std::fs::remove_file(&old.path);
        }
        Ok(file)
    }

    /// Replaces the database with a backup: the file is checked (opens, an
    /// integrity check passes, a schema this build knows), copied beside the
    /// database, renamed over it, and the connection reopened (migrating it
    /// if it is older).
    pub fn restore_from(&self, backup: &Path) -> Result<(), MetaError> {
        let bad = |why: String| MetaError::Backup(format!("{}: {why}", backup.display()));
        let src = Connection::open_with_flags(backup, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| bad(format!("cannot open it ({e})")))?;
        let ok: String =
            src.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| bad(format!("unreadable ({e})")))?;
        if ok != "ok" {
            return Err(bad(format!("damaged ({ok})")));
        }
        let version: u32 =
            src.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| bad(e.to_string()))?;
        if version == 0 || version > MIGRATIONS.len() as u32 {
            return Err(bad(format!("schema version {version} is not one this build can restore")));
        }
        let staged = self.path.with_extension("db.restoring");
        let _ = std::fs::remove_file(&staged);
        src.execute("VACUUM INTO ?1", [staged.to_string_lossy().as_ref()])
            .map_err(|e| bad(format!("copying it: {e}")))?;
        drop(src);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| bad(format!("protecting the copy: {e}")))?;
        let mut conn = self.conn.lock();
        // Checkpoint and close the live connection's log before the file goes.
        let _ = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
        let placeholder = Connection::open_in_memory().map_err(|e| self.error(e))?;
        drop(std::mem::replace(&mut *conn, placeholder));
        let io = |e: std::io::Error| MetaError::Backup(format!("replacing {}: {e}", self.path.display()));
        std::fs::File::open(&staged).and_then(|f| f.sync_all()).map_err(io)?;
        for ext in ["db-wal", "db-shm"] {
            let _ = std::fs::remove_file(self.path.with_extension(ext));
        }
        std::fs::rename(&staged, &self.path).map_err(io)?;
        *conn = super::open_migrated(&self.path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_time() {
        let at = 1_796_000_000_123_456;
        let n = file_name(at);
        assert_eq!(n, "meta-20261130T005320123456Z.db");
        assert_eq!(parse_name(&n), Some(at));
        assert_eq!(parse_name("meta-garbage.db"), None);
        assert_eq!(parse_name("notes.txt"), None);
    }

    #[test]
    fn a_backup_restores_what_was_there() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = MetaDb::open(&dir.path().join("a")).expect("open");
        db.put_setting("s", &42).expect("save");
        let space = dir.path().join("space");
        std::fs::create_dir(&space).expect("space");
        for i in 0..4 {
            db.backup_to(&space, 1_796_000_000_000_000 + i, 3).expect("backup");
        }
        let found = list_in(7, &space);
        assert_eq!(found.len(), 3, "the newest 3 kept");
        assert_eq!(found[0].taken_at, 1_796_000_000_000_003);
        assert!(found[0].id.starts_with("7/meta-"));
        db.put_setting("s", &0).expect("change");
        db.restore_from(&found[0].path).expect("restore");
        assert_eq!(db.setting::<i32>("s").expect("read"), 42);
        std::fs::write(&found[1].path, b"not a database at all").expect("damage");
        assert!(db.restore_from(&found[1].path).is_err());
        assert_eq!(db.setting::<i32>("s").expect("still readable"), 42);
    }
}
