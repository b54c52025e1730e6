//! The metadata database: everything the service knows beyond the engine
//! (users, sessions, API tokens, settings, the log) in one SQLite file,
//! `<data_dir>/meta.db`. SQLite gives it its own crash safety: WAL mode, a
//! transaction per change, `synchronous = NORMAL` (a crash of the process
//! loses nothing committed; a power cut may lose the last transactions,
//! never the file's consistency). Schema changes are numbered migrations
//! kept in `PRAGMA user_version`.
//!
//! Calls block (disk I/O): the management service makes them on tokio's
//! blocking pool, never on the runtime's workers.

pub mod backup;
pub mod logs;
pub mod schedules;
pub mod settings;
pub mod shares;
pub mod users;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file's name in the data folder.
pub const FILE_NAME: &str = "meta.db";

/// The trigger that keeps the log's text index in step with deletions
/// (migration 2 creates it; clearing the log drops and recreates it).
macro_rules! logs_text_delete_trigger {
    () => {
        "CREATE TRIGGER logs_text_delete AFTER DELETE ON logs BEGIN
             INSERT INTO logs_text (logs_text, rowid, content, user) VALUES ('delete', old.id, old.content, old.user);
         END;"
    };
}
pub(crate) use logs_text_delete_trigger;

/// Numbered schema migrations; `user_version` is how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: users, sessions, API tokens, settings, the log.
    "CREATE TABLE users (
         name TEXT PRIMARY KEY,
         hash TEXT NOT NULL,
         must_change INTEGER NOT NULL,
         changed_at INTEGER NOT NULL
     );
     CREATE TABLE sessions (
         token_hash BLOB PRIMARY KEY,
         user TEXT NOT NULL,
         csrf TEXT NOT NULL,
         must_change INTEGER NOT NULL,
         created_at INTEGER NOT NULL,
         last_seen INTEGER NOT NULL,
         ip TEXT NOT NULL
     );
     CREATE TABLE api_tokens (
         id INTEGER PRIMARY KEY,
         name TEXT NOT NULL,
         token_hash BLOB NOT NULL UNIQUE,
         user TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         last_used INTEGER
     );
     CREATE TABLE settings (
         name TEXT PRIMARY KEY,
         value TEXT NOT NULL
     );
     CREATE TABLE logs (
         id INTEGER PRIMARY KEY,
         at INTEGER NOT NULL,
         kind TEXT NOT NULL,
         level TEXT NOT NULL,
         ip TEXT NOT NULL,
         user TEXT NOT NULL,
         content TEXT NOT NULL,
         result TEXT NOT NULL
     );
     CREATE INDEX logs_at ON logs (at);",
    // 2: a trigram full-text index of the log's content and user, kept by
    // triggers: a text search reads the index instead of every row.
    concat!(
        "CREATE VIRTUAL TABLE logs_text USING fts5(
             content, user, content='logs', content_rowid='id', tokenize='trigram case_sensitive 0'
         );
         CREATE TRIGGER logs_text_insert AFTER INSERT ON logs BEGIN
             INSERT INTO logs_text (rowid, content, user) VALUES (new.id, new.content, new.user);
         END;",
        logs_text_delete_trigger!(),
        "INSERT INTO logs_text (logs_text) VALUES ('rebuild');"
    ),
    // 3: network shares (NAS, manual 3.5.3); their passwords live in 0600
    // files beside their mount points, never here.
    "CREATE TABLE shares (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         kind TEXT NOT NULL,
         source TEXT NOT NULL UNIQUE,
         username TEXT,
         options TEXT NOT NULL,
         created_at INTEGER NOT NULL
     );",
    // 4: recording schedules (manual 3.6.1): the schedule as JSON (its
    // fields evolve with serde defaults), the camera password encrypted
    // with the key of `<data_dir>/recording.key` (never in this database).
    "CREATE TABLE schedules (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         spec TEXT NOT NULL,
         secret BLOB,
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL
     );",
];

/// What went wrong with the metadata database.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// SQLite failed (disk full, I/O error, a damaged file).
    #[error("metadata database {path}: {source}")]
    Sql {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A backup could not be written or restored.
    #[error("metadata backup: {0}")]
    Backup(String),
    /// The file was written by a newer pstor-server.
    #[error(
        "metadata database {path}: schema version {found} is newer than this build's {known}; use a newer pstor-server"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// This build's.
        known: u32,
    },
}

/// The open database.
#[derive(Debug)]
pub struct MetaDb {
    path: PathBuf,
    conn: Mutex<Connection>,
    created: bool,
}

/// Opens the file read-write (creating it), in WAL mode, migrated.
fn open_migrated(path: &Path) -> Result<Connection, MetaError> {
    let sql = |source| MetaError::Sql { path: path.to_path_buf(), source };
    let mut conn =
        open_connection(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE).map_err(sql)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
    let found: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
    let known = MIGRATIONS.len() as u32;
    if found > known {
        return Err(MetaError::TooNew { path: path.to_path_buf(), found, known });
    }
    for (n, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction().map_err(sql)?;
        tx.execute_batch(step).map_err(sql)?;
        tx.pragma_update(None, "user_version", n as u32 + 1).map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(conn)
}

impl MetaDb {
    /// Opens (creating if missing) and migrates the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<MetaDb, MetaError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| MetaError::Backup(format!("creating {}: {e}", data_dir.display())))?;
        let path = data_dir.join(FILE_NAME);
        let created = !path.exists();
        if created {
            // Password and token hashes and the log: private from the start
            // (SQLite gives its -wal and -shm files the database's mode).
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| MetaError::Backup(format!("creating {}: {e}", path.display())))?;
        }
        let conn = open_migrated(&path)?;
        Ok(MetaDb { path, conn: Mutex::new(conn), created })
    }

    /// Whether this open created the file (a first start, or a reinstall).
    pub fn created(&self) -> bool {
        self.created
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection (one caller at a time).
    pub fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, MetaError> {
        let mut conn = self.conn.lock();
        f(&mut conn).map_err(|source| MetaError::Sql { path: self.path.clone(), source })
    }

    /// A second, read-only connection: a long read (a CSV download of the
    /// log) sees one consistent snapshot without holding up writers.
    pub fn reader(&self) -> Result<Connection, MetaError> {
        open_connection(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|source| MetaError::Sql { path: self.path.clone(), source })
    }

    /// Wraps an error of a connection from [`MetaDb::reader`].
    pub fn error(&self, source: rusqlite::Error) -> MetaError {
        MetaError::Sql { path: self.path.clone(), source }
    }

    /// The bytes the database takes on disk (file and write-ahead log).
    pub fn size_on_disk(&self) -> u64 {
        let wal = self.path.with_extension("db-wal");
        [&self.path, &wal].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
    }
}

fn open_connection(path: &Path, flags: OpenFlags) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    // Another connection writing (the log during a CSV read): wait, do not fail.
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Now, in µs since the Unix epoch (the engine's timestamps).
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(MetaDb::open(dir.path()).expect("first open"));
        let db = MetaDb::open(dir.path()).expect("second open runs no migration again");
        let v: u32 = db.with(|c| c.pragma_query_value(None, "user_version", |r| r.get(0))).expect("version");
        assert_eq!(v, MIGRATIONS.len() as u32);
        db.with(|c| c.pragma_update(None, "user_version", 99)).expect("bump");
        drop(db);
        let e = MetaDb::open(dir.path()).expect_err("newer schema refused");
        assert!(e.to_string().contains("newer than this build"), "{e}");
    }
}
