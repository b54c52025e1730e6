//! The key index: bucket + key → picture id, for the S3 face.
//!
//! The truth is in the picture segments (every needle stores its key); the
//! index is a SQLite database in the engine's data folder (`keys.sqlite3`,
//! WAL, `synchronous=FULL`) that can always be rebuilt from them:
//!
//! - A put queues its key row while the pool's picture writer assigns the
//!   needle's place, so the rows of a segment are queued in needle order.
//!   [`KeyIndex::flush`] writes every queued row in one transaction (one
//!   fsync for many puts: group commit, called by picture syncs) and records
//!   per segment how many of its needles the index covers (`segs`).
//! - After an unclean stop, or when the database is missing or corrupt (it is
//!   then set aside and recreated), [`KeyIndex::reconcile`] compares each
//!   picture segment's needle count with `segs` and indexes only the needles
//!   past it, reading their metadata (newest `stored_at` wins per key).
//! - Rows of recycled or deleted pictures are removed when a lookup finds
//!   their id stale, and by reconcile for segments that changed generation.
//!
//! With an in-memory storage backend (tests) the database is in memory too,
//! and so rebuilt at every open: the same code path as a lost database.

use crate::error::{Error, Result};
use crate::picture_id::PictureId;
use crate::types::{PictureKey, SpaceId, Timestamp};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// File name of the key index in the engine data folder.
pub const KEY_INDEX_FILE: &str = "keys.sqlite3";

/// A queued change.
#[derive(Debug, Clone)]
enum Op {
    Put { key: PictureKey, id: PictureId, ordinal: u32, stored_at: Timestamp },
    Remove { key: PictureKey, id: PictureId },
}

/// A picture segment as reconcile sees it.
#[derive(Debug, Clone)]
pub(crate) struct SegKeys {
    pub space: SpaceId,
    pub segment: u32,
    pub generation: u32,
    /// Needles in the segment.
    pub count: u32,
}

/// A keyed needle found by reconcile.
#[derive(Debug, Clone)]
pub(crate) struct FoundKey {
    pub key: PictureKey,
    pub id: PictureId,
    pub stored_at: Timestamp,
}

/// The key index.
#[derive(Debug)]
pub(crate) struct KeyIndex {
    conn: Mutex<Connection>,
    pending: Mutex<Vec<Op>>,
    /// The previous run did not close cleanly, or the database is new.
    needs_reconcile: bool,
    /// Set if the database had to be recreated (the reason), for the event feed.
    pub recreated: Option<String>,
}

fn db_err(e: rusqlite::Error) -> Error {
    Error::KeyIndex(e.to_string())
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS keys (
    bucket TEXT NOT NULL, key TEXT NOT NULL, id BLOB NOT NULL,
    space INTEGER NOT NULL, segment INTEGER NOT NULL, generation INTEGER NOT NULL,
    stored_at INTEGER NOT NULL,
    PRIMARY KEY (bucket, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keys_by_segment ON keys (space, segment);
CREATE TABLE IF NOT EXISTS segs (
    space INTEGER NOT NULL, segment INTEGER NOT NULL, generation INTEGER NOT NULL, indexed INTEGER NOT NULL,
    PRIMARY KEY (space, segment)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;
";

impl KeyIndex {
    /// Opens the index in `dir` (a real folder), or in memory if `dir` is `None`.
    pub fn open(dir: Option<&Path>) -> Result<Self> {
        let Some(dir) = dir else {
            let conn = Connection::open_in_memory().map_err(db_err)?;
            conn.execute_batch(SCHEMA).map_err(db_err)?;
            return Ok(KeyIndex {
                conn: Mutex::new(conn),
                pending: Mutex::new(Vec::new()),
                needs_reconcile: true,
                recreated: None,
            });
        };
        let path = dir.join(KEY_INDEX_FILE);
        let existed = path.exists();
        let (conn, recreated) = match Self::open_file(&path) {
            Ok(c) => (c, None),
            Err(why) => {
                // Set the damaged database aside (for a post-mortem) and
                // rebuild a new one from the picture segments.
                let aside = PathBuf::from(format!("{}.corrupt-{}", path.display(), std::process::id()));
                let _ = std::fs::rename(&path, &aside);
                for ext in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
                }
                (Self::open_file(&path).map_err(Error::KeyIndex)?, Some(why))
            }
        };
        let clean: Option<i64> =
            conn.query_row("SELECT v FROM meta WHERE k = 'clean'", [], |r| r.get(0)).optional().map_err(db_err)?;
        conn.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('clean', 0)", []).map_err(db_err)?;
        let needs_reconcile = !existed || recreated.is_some() || clean != Some(1);
        Ok(KeyIndex { conn: Mutex::new(conn), pending: Mutex::new(Vec::new()), needs_reconcile, recreated })
    }

    fn open_file(path: &Path) -> std::result::Result<Connection, String> {
        let conn = Connection::open(path).map_err(|e| e.to_string())?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(|e| e.to_string())?;
        if check != "ok" {
            return Err(format!("quick_check: {check}"));
        }
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;").map_err(|e| e.to_string())?;
        conn.execute_batch(SCHEMA).map_err(|e| e.to_string())?;
        Ok(conn)
    }

    /// Whether reconcile must run for the spaces attached at open.
    pub fn needs_reconcile(&self) -> bool {
        self.needs_reconcile
    }

    /// Queues a put (called under the picture writer's lock, in needle order).
    pub fn put(&self, key: &PictureKey, id: PictureId, ordinal: u32, stored_at: Timestamp) {
        self.pending.lock().push(Op::Put { key: key.clone(), id, ordinal, stored_at });
    }

    /// Queues the removal of `key` if it still names `id`.
    pub fn remove(&self, key: &PictureKey, id: PictureId) {
        self.pending.lock().push(Op::Remove { key: key.clone(), id });
    }

    /// Writes every queued change durably (one transaction, one fsync).
    pub fn flush(&self) -> Result<()> {
        let conn = self.conn.lock();
        // Taken under the connection lock: a flush that finds nothing queued
        // was preceded by one that committed what was queued.
        let ops = std::mem::take(&mut *self.pending.lock());
        if ops.is_empty() {
            return Ok(());
        }
        let res = (|| {
            let tx = conn.unchecked_transaction()?;
            for op in &ops {
                match op {
                    Op::Put { key, id, ordinal, stored_at } => {
                        upsert(&tx, key, id, *stored_at, true)?;
                        tx.execute(
                            "INSERT INTO segs (space, segment, generation, indexed) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT (space, segment) DO UPDATE SET generation = excluded.generation,
                             indexed = CASE WHEN segs.generation = excluded.generation
                                 THEN max(segs.indexed, excluded.indexed) ELSE excluded.indexed END",
                            params![id.space.0, id.segment, id.generation, ordinal + 1],
                        )?;
                    }
                    Op::Remove { key, id } => {
                        tx.execute(
                            "DELETE FROM keys WHERE bucket = ?1 AND key = ?2 AND id = ?3",
                            params![key.bucket, key.key, &id.to_bytes()[..]],
                        )?;
                    }
                }
            }
            tx.commit()
        })();
        if let Err(e) = res {
            // Keep the changes for the next attempt, in order.
            let mut p = self.pending.lock();
            let later = std::mem::take(&mut *p);
            *p = ops;
            p.extend(later);
            return Err(db_err(e));
        }
        Ok(())
    }

    /// The id stored under `key`, if any.
    pub fn get(&self, key: &PictureKey) -> Result<Option<PictureId>> {
        if let Some(op) = self.pending.lock().iter().rev().find(|op| match op {
            Op::Put { key: k, .. } | Op::Remove { key: k, .. } => k == key,
        }) {
            if let Op::Put { id, .. } = op {
                return Ok(Some(*id));
            }
            // A queued removal: fall through to the database after flushing.
            self.flush()?;
        }
        let conn = self.conn.lock();
        let blob: Option<Vec<u8>> = conn
            .query_row("SELECT id FROM keys WHERE bucket = ?1 AND key = ?2", params![key.bucket, key.key], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        blob.map(|b| PictureId::from_bytes(&b)).transpose()
    }

    /// Keys of `bucket` starting with `prefix`, after `after`, in order.
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, PictureId)>> {
        self.flush()?;
        let conn = self.conn.lock();
        let from = match after {
            Some(a) if a >= prefix => a,
            _ => prefix,
        };
        let strict = after.is_some_and(|a| a >= prefix);
        let mut stmt = conn
            .prepare_cached("SELECT key, id FROM keys WHERE bucket = ?1 AND key >= ?2 ORDER BY key")
            .map_err(db_err)?;
        let mut rows = stmt.query(params![bucket, from]).map_err(db_err)?;
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(row) = rows.next().map_err(db_err)? else { break };
            let key: String = row.get(0).map_err(db_err)?;
            if !key.starts_with(prefix) {
                break;
            }
            if strict && key == from {
                continue;
            }
            let blob: Vec<u8> = row.get(1).map_err(db_err)?;
            out.push((key, PictureId::from_bytes(&blob)?));
        }
        Ok(out)
    }

    /// The segments whose needles the index does not fully cover, with the
    /// first needle to index (0 if the segment changed generation).
    pub fn uncovered(&self, segs: &[SegKeys]) -> Result<Vec<(SegKeys, u32)>> {
        self.flush()?;
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached("SELECT generation, indexed FROM segs WHERE space = ?1 AND segment = ?2")
            .map_err(db_err)?;
        let mut out = Vec::new();
        for s in segs {
            let row: Option<(u32, u32)> = stmt
                .query_row(params![s.space.0, s.segment], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(db_err)?;
            match row {
                Some((g, n)) if g == s.generation && n >= s.count => {}
                Some((g, n)) if g == s.generation => out.push((s.clone(), n)),
                _ => out.push((s.clone(), 0)),
            }
        }
        Ok(out)
    }

    /// Records what reconcile found in one segment: its keys (newest
    /// `stored_at` wins) and that its first `count` needles are covered.
    pub fn cover(&self, seg: &SegKeys, found: &[FoundKey]) -> Result<()> {
        self.flush()?;
        let conn = self.conn.lock();
        let res = (|| {
            let tx = conn.unchecked_transaction()?;
            tx.execute(
                "DELETE FROM keys WHERE space = ?1 AND segment = ?2 AND generation <> ?3",
                params![seg.space.0, seg.segment, seg.generation],
            )?;
            for f in found {
                upsert(&tx, &f.key, &f.id, f.stored_at, false)?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO segs (space, segment, generation, indexed) VALUES (?1, ?2, ?3, ?4)",
                params![seg.space.0, seg.segment, seg.generation, seg.count],
            )?;
            tx.commit()
        })();
        res.map_err(db_err)
    }

    /// Marks a clean stop: the next open need not reconcile.
    pub fn close_clean(&self) -> Result<()> {
        self.flush()?;
        let conn = self.conn.lock();
        conn.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('clean', 1)", []).map_err(db_err)?;
        Ok(())
    }
}

/// Inserts or replaces a key's row; unless `always`, only a newer picture
/// replaces an existing one.
fn upsert(
    tx: &Connection,
    key: &PictureKey,
    id: &PictureId,
    stored_at: Timestamp,
    always: bool,
) -> rusqlite::Result<usize> {
    let sql = if always {
        "INSERT INTO keys (bucket, key, id, space, segment, generation, stored_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (bucket, key) DO UPDATE SET id = excluded.id, space = excluded.space,
         segment = excluded.segment, generation = excluded.generation, stored_at = excluded.stored_at"
    } else {
        "INSERT INTO keys (bucket, key, id, space, segment, generation, stored_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (bucket, key) DO UPDATE SET id = excluded.id, space = excluded.space,
         segment = excluded.segment, generation = excluded.generation, stored_at = excluded.stored_at
         WHERE excluded.stored_at >= keys.stored_at"
    };
    tx.execute(sql, params![key.bucket, key.key, &id.to_bytes()[..], id.space.0, id.segment, id.generation, stored_at])
}
