//! The key index: bucket + key → picture id, for the S3 face.
//!
//! The truth is in the picture segments (every needle stores its key); the
//! index is a SQLite database in the engine's data folder (`keys.sqlite3`,
//! WAL, `synchronous=FULL`) that can always be rebuilt from them:
//!
//! - Every put tells the index where its needle goes (and its key, if any)
//!   while the pool's picture writer assigns the place, so a segment's
//!   needles are announced in order. [`KeyIndex::flush`] writes the queued
//!   rows in one transaction (one fsync for many puts: group commit, called
//!   by picture syncs and checkpoints) and records per segment how many of
//!   its needles the index covers (`segs`).
//! - After an unclean stop, or when the database is missing or corrupt (it is
//!   then set aside and recreated), reconcile (`Inner::reconcile_keys`) compares each
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
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// File name of the key index in the engine data folder.
pub const KEY_INDEX_FILE: &str = "keys.sqlite3";

/// A queued change.
#[derive(Debug, Clone)]
enum Op {
    Put { key: PictureKey, id: PictureId, ordinal: u32, stored_at: Timestamp },
    Remove { key: PictureKey, id: PictureId },
}

/// Changes not yet in the database.
#[derive(Debug, Default)]
struct Pending {
    ops: Vec<Op>,
    /// Per (space, segment): generation and needles announced.
    covered: HashMap<(SpaceId, u32), (u32, u32)>,
}

/// How many needles of each open picture segment are durable (sealed
/// segments are durable whole; segments not listed count as durable).
#[derive(Debug, Default)]
pub(crate) struct Durability(pub HashMap<(SpaceId, u32), (u32, u32)>);

impl Durability {
    fn durable_count(&self, seg: (SpaceId, u32), gen: u32) -> u32 {
        match self.0.get(&seg) {
            Some(&(g, n)) if g == gen => n,
            _ => u32::MAX,
        }
    }
    fn covers(&self, id: &PictureId, ordinal: u32) -> bool {
        ordinal < self.durable_count((id.space, id.segment), id.generation)
    }
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
    /// The needle carries a delete mark: the key was deleted at `stored_at`
    /// or later, so no older picture may name it again.
    pub deleted: bool,
}

/// The key index.
#[derive(Debug)]
pub(crate) struct KeyIndex {
    conn: Mutex<Connection>,
    pending: Mutex<Pending>,
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
    stored_at INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
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
                pending: Mutex::new(Pending::default()),
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
        Ok(KeyIndex { conn: Mutex::new(conn), pending: Mutex::new(Pending::default()), needs_reconcile, recreated })
    }

    fn open_file(path: &Path) -> std::result::Result<Connection, String> {
        let conn = Connection::open(path).map_err(|e| e.to_string())?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(|e| e.to_string())?;
        if check != "ok" {
            return Err(format!("quick_check: {check}"));
        }
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;").map_err(|e| e.to_string())?;
        conn.execute_batch(SCHEMA).map_err(|e| e.to_string())?;
        // A database of another layout is rebuilt rather than migrated: it
        // holds nothing the picture segments do not.
        conn.prepare("SELECT bucket, key, id, space, segment, generation, stored_at, deleted FROM keys LIMIT 0")
            .map_err(|e| format!("unexpected layout: {e}"))?;
        Ok(conn)
    }

    /// Whether reconcile must run for the spaces attached at open.
    pub fn needs_reconcile(&self) -> bool {
        self.needs_reconcile
    }

    /// Announces needle number `ordinal` of its segment, with its key if it
    /// has one (called under the picture writer's lock, in needle order).
    pub fn placed(&self, id: PictureId, ordinal: u32, key: Option<(&PictureKey, Timestamp)>) {
        let mut p = self.pending.lock();
        if let Some((key, stored_at)) = key {
            p.ops.push(Op::Put { key: key.clone(), id, ordinal, stored_at });
        }
        let c = p.covered.entry((id.space, id.segment)).or_insert((id.generation, 0));
        if c.0 != id.generation {
            *c = (id.generation, 0);
        }
        c.1 = c.1.max(ordinal + 1);
    }

    /// Queues the removal of `key` if it still names `id`.
    pub fn remove(&self, key: &PictureKey, id: PictureId) {
        self.pending.lock().ops.push(Op::Remove { key: key.clone(), id });
    }

    /// Writes the queued changes whose needles are durable, in one
    /// transaction (one fsync for many puts). `durability` is asked after the
    /// changes are taken, so a needle it calls durable was placed before:
    /// a key never names a picture a crash can still take away.
    pub fn flush(&self, durability: impl FnOnce() -> Durability) -> Result<()> {
        let conn = self.conn.lock();
        // Taken under the connection lock: a flush that finds nothing ready
        // was preceded by one that committed what was ready.
        let taken = std::mem::take(&mut *self.pending.lock());
        if taken.ops.is_empty() && taken.covered.is_empty() {
            return Ok(());
        }
        let durable = durability();
        let mut ready = Pending::default();
        let mut later = Pending::default();
        let mut blocked = false;
        for op in taken.ops {
            // Keep the order: once one change must wait, so do the later ones.
            blocked |= matches!(&op, Op::Put { id, ordinal, .. } if !durable.covers(id, *ordinal));
            if blocked {
                later.ops.push(op)
            } else {
                ready.ops.push(op)
            }
        }
        for (k, (gen, count)) in taken.covered {
            let n = durable.durable_count(k, gen).min(count);
            if n > 0 {
                ready.covered.insert(k, (gen, n));
            }
            if n < count {
                later.covered.insert(k, (gen, count));
            }
        }
        let res = (|| {
            let tx = conn.unchecked_transaction()?;
            for op in &ready.ops {
                match op {
                    Op::Put { key, id, stored_at, .. } => {
                        upsert(&tx, key, id, *stored_at, false)?;
                    }
                    Op::Remove { key, id } => {
                        tx.execute(
                            "DELETE FROM keys WHERE bucket = ?1 AND key = ?2 AND id = ?3",
                            params![key.bucket, key.key, &id.to_bytes()[..]],
                        )?;
                    }
                }
            }
            for (&(space, segment), &(generation, count)) in &ready.covered {
                tx.execute(
                    "INSERT INTO segs (space, segment, generation, indexed) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (space, segment) DO UPDATE SET generation = excluded.generation,
                     indexed = CASE WHEN segs.generation = excluded.generation
                         THEN max(segs.indexed, excluded.indexed) ELSE excluded.indexed END",
                    params![space.0, segment, generation, count],
                )?;
            }
            tx.commit()
        })();
        let failed = res.is_err();
        // Put back what waits (and, on failure, what was ready), before what
        // was queued meanwhile.
        let mut p = self.pending.lock();
        let newer = std::mem::take(&mut p.ops);
        if failed {
            p.ops = ready.ops;
            p.ops.extend(later.ops);
        } else {
            p.ops = later.ops;
        }
        p.ops.extend(newer);
        let back = if failed { ready.covered.into_iter().chain(later.covered).collect() } else { later.covered };
        for (k, v) in back {
            let c = p.covered.entry(k).or_insert(v);
            if c.0 == v.0 {
                c.1 = c.1.max(v.1);
            }
        }
        res.map_err(db_err)
    }

    /// The id stored under `key`, if any: the database's answer with the
    /// queued changes of that key applied in order.
    pub fn get(&self, key: &PictureKey) -> Result<Option<PictureId>> {
        let queued: Vec<Op> = self
            .pending
            .lock()
            .ops
            .iter()
            .filter(|op| match op {
                Op::Put { key: k, .. } | Op::Remove { key: k, .. } => k == key,
            })
            .cloned()
            .collect();
        if let Some(Op::Put { id, .. }) = queued.last() {
            return Ok(Some(*id));
        }
        let conn = self.conn.lock();
        let blob: Option<Vec<u8>> = conn
            .query_row(
                "SELECT id FROM keys WHERE bucket = ?1 AND key = ?2 AND deleted = 0",
                params![key.bucket, key.key],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        let mut current = blob.map(|b| PictureId::from_bytes(&b)).transpose()?;
        for op in queued {
            match op {
                Op::Put { id, .. } => current = Some(id),
                Op::Remove { id, .. } if current == Some(id) => current = None,
                Op::Remove { .. } => {}
            }
        }
        Ok(current)
    }

    /// Keys of `bucket` starting with `prefix`, after `after`, in order.
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, PictureId)>> {
        let conn = self.conn.lock();
        let from = match after {
            Some(a) if a >= prefix => a,
            _ => prefix,
        };
        let strict = after.is_some_and(|a| a >= prefix);
        let mut stmt = conn
            .prepare_cached("SELECT key, id FROM keys WHERE bucket = ?1 AND key >= ?2 AND deleted = 0 ORDER BY key")
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
                Some((g, n)) if g == s.generation && n == s.count => {}
                Some((g, n)) if g == s.generation && n < s.count => out.push((s.clone(), n)),
                // Coverage ran ahead of what survived a crash (needles placed
                // but never made durable): nothing to index, but the record
                // must come back to the real count, or needles written later
                // at those places would be skipped by the next reconcile.
                Some((g, _)) if g == s.generation => out.push((s.clone(), s.count)),
                _ => out.push((s.clone(), 0)),
            }
        }
        Ok(out)
    }

    /// Records what reconcile found in one segment and that its first
    /// `count` needles are covered. Per key the newest `stored_at` wins; a
    /// deleted needle that wins leaves a tombstone row, so an older picture
    /// found later cannot take the key back. Returns the live pictures that
    /// lost (a crash cut off their delete after a newer put of the key): the
    /// caller deletes them.
    pub fn cover(&self, seg: &SegKeys, found: &[FoundKey]) -> Result<Vec<PictureId>> {
        let conn = self.conn.lock();
        let res = (|| {
            let tx = conn.unchecked_transaction()?;
            tx.execute(
                "DELETE FROM keys WHERE space = ?1 AND segment = ?2 AND generation <> ?3",
                params![seg.space.0, seg.segment, seg.generation],
            )?;
            let mut losers = Vec::new();
            for f in found {
                let row: Option<(Vec<u8>, Timestamp, bool)> = tx
                    .query_row(
                        "SELECT id, stored_at, deleted FROM keys WHERE bucket = ?1 AND key = ?2",
                        params![f.key.bucket, f.key.key],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                let existing = row.and_then(|(b, at, del)| PictureId::from_bytes(&b).ok().map(|id| (id, at, del)));
                match existing {
                    Some((id, _, _)) if id == f.id => {}
                    Some((_, at, _)) if at > f.stored_at => {
                        if !f.deleted {
                            losers.push(f.id);
                        }
                    }
                    _ => {
                        if let Some((old, _, false)) = existing {
                            losers.push(old);
                        }
                        upsert(&tx, &f.key, &f.id, f.stored_at, f.deleted)?;
                    }
                }
            }
            tx.execute(
                "INSERT OR REPLACE INTO segs (space, segment, generation, indexed) VALUES (?1, ?2, ?3, ?4)",
                params![seg.space.0, seg.segment, seg.generation, seg.count],
            )?;
            tx.commit()?;
            Ok(losers)
        })();
        res.map_err(db_err)
    }

    /// Marks a clean stop (after a flush with everything durable): the next
    /// open need not reconcile.
    pub fn close_clean(&self) -> Result<()> {
        if !self.pending.lock().ops.is_empty() {
            return Ok(());
        }
        let conn = self.conn.lock();
        conn.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('clean', 1)", []).map_err(db_err)?;
        Ok(())
    }
}

/// Inserts or replaces a key's row (a tombstone if `deleted`).
fn upsert(
    tx: &Connection,
    key: &PictureKey,
    id: &PictureId,
    stored_at: Timestamp,
    deleted: bool,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO keys (bucket, key, id, space, segment, generation, stored_at, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (bucket, key) DO UPDATE SET id = excluded.id, space = excluded.space,
         segment = excluded.segment, generation = excluded.generation, stored_at = excluded.stored_at,
         deleted = excluded.deleted",
        params![key.bucket, key.key, &id.to_bytes()[..], id.space.0, id.segment, id.generation, stored_at, deleted],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(segment: u32, generation: u32, offset: u32) -> PictureId {
        PictureId { space: SpaceId(7), segment, generation, offset, len: 100, cookie: offset ^ 0x55 }
    }

    fn seg(segment: u32, generation: u32, count: u32) -> SegKeys {
        SegKeys { space: SpaceId(7), segment, generation, count }
    }

    fn key(k: &str) -> PictureKey {
        PictureKey { bucket: "b".into(), key: k.into() }
    }

    #[test]
    fn queued_changes_are_visible_and_coverage_follows_flushes() {
        let ix = KeyIndex::open(None).expect("open");
        ix.placed(id(1, 3, 4096), 0, Some((&key("a"), 10)));
        ix.placed(id(1, 3, 4196), 1, None);
        // Visible before the flush.
        assert_eq!(ix.get(&key("a")).expect("get"), Some(id(1, 3, 4096)));
        ix.flush(Durability::default).expect("flush");
        assert_eq!(ix.get(&key("a")).expect("get"), Some(id(1, 3, 4096)));
        // Covered up to the two needles announced; a third one, or another
        // generation, is not.
        assert!(ix.uncovered(&[seg(1, 3, 2)]).expect("uncovered").is_empty());
        let u = ix.uncovered(&[seg(1, 3, 3), seg(1, 4, 1), seg(2, 1, 1)]).expect("uncovered");
        let starts: Vec<(u32, u32, u32)> = u.iter().map(|(s, n)| (s.segment, s.generation, *n)).collect();
        assert_eq!(starts, vec![(1, 3, 2), (1, 4, 0), (2, 1, 0)]);
        // Not yet durable: kept queued (still visible), not written.
        let not_yet = Durability([((SpaceId(7), 1), (3, 2))].into_iter().collect());
        ix.placed(id(1, 3, 4296), 2, Some((&key("b"), 30)));
        ix.flush(|| not_yet).expect("flush");
        assert_eq!(ix.get(&key("b")).expect("get"), Some(id(1, 3, 4296)));
        assert_eq!(ix.pending.lock().ops.len(), 1);
        ix.flush(Durability::default).expect("flush");
        assert!(ix.pending.lock().ops.is_empty());
        // A removal names the id it removes: a newer put is not removed.
        ix.placed(id(1, 3, 4396), 3, Some((&key("a"), 20)));
        ix.remove(&key("a"), id(1, 3, 4096));
        assert_eq!(ix.get(&key("a")).expect("get"), Some(id(1, 3, 4396)));
        ix.remove(&key("a"), id(1, 3, 4396));
        assert_eq!(ix.get(&key("a")).expect("get"), None);
        ix.flush(Durability::default).expect("flush");
        assert_eq!(ix.get(&key("a")).expect("get"), None);
    }

    #[test]
    fn reconcile_keeps_the_newest_and_drops_older_generations() {
        let ix = KeyIndex::open(None).expect("open");
        ix.placed(id(1, 1, 4096), 0, Some((&key("k"), 50)));
        ix.flush(Durability::default).expect("flush");
        // An older picture of the same key found by a scan does not win...
        let older = FoundKey { key: key("k"), id: id(2, 1, 4096), stored_at: 40, deleted: false };
        assert_eq!(ix.cover(&seg(2, 1, 1), &[older]).expect("cover"), vec![id(2, 1, 4096)], "the older one lost");
        assert_eq!(ix.get(&key("k")).expect("get"), Some(id(1, 1, 4096)));
        // ...a newer one does, and the one it replaces lost.
        let newer = FoundKey { key: key("k"), id: id(2, 1, 8192), stored_at: 60, deleted: false };
        assert_eq!(ix.cover(&seg(2, 1, 2), &[newer]).expect("cover"), vec![id(1, 1, 4096)]);
        assert_eq!(ix.get(&key("k")).expect("get"), Some(id(2, 1, 8192)));
        // A newer deleted one leaves a tombstone: older live ones cannot
        // take the key back.
        let gone = FoundKey { key: key("k"), id: id(3, 1, 4096), stored_at: 70, deleted: true };
        assert_eq!(ix.cover(&seg(3, 1, 1), &[gone]).expect("cover"), vec![id(2, 1, 8192)]);
        assert_eq!(ix.get(&key("k")).expect("get"), None);
        let stale = FoundKey { key: key("k"), id: id(4, 1, 4096), stored_at: 65, deleted: false };
        assert_eq!(ix.cover(&seg(4, 1, 1), &[stale]).expect("cover"), vec![id(4, 1, 4096)]);
        assert_eq!(ix.get(&key("k")).expect("get"), None);
        assert!(ix.list("b", "", None, 10).expect("list").is_empty());
        // Segment 3 recycled (generation 2): its old rows go.
        ix.cover(&seg(3, 2, 0), &[]).expect("cover");
        let live = FoundKey { key: key("k"), id: id(4, 1, 4096), stored_at: 65, deleted: false };
        assert!(ix.cover(&seg(4, 1, 1), &[live]).expect("cover").is_empty());
        assert_eq!(ix.get(&key("k")).expect("get"), Some(id(4, 1, 4096)));
    }

    #[test]
    fn listing_by_prefix_and_after() {
        let ix = KeyIndex::open(None).expect("open");
        for (n, k) in ["a/1", "a/2", "a/3", "b/1"].iter().enumerate() {
            ix.placed(id(1, 1, 4096 + n as u32 * 100), n as u32, Some((&key(k), n as i64)));
        }
        ix.flush(Durability::default).expect("flush");
        let names = |v: Vec<(String, PictureId)>| v.into_iter().map(|x| x.0).collect::<Vec<_>>();
        assert_eq!(names(ix.list("b", "a/", None, 10).expect("list")), ["a/1", "a/2", "a/3"]);
        assert_eq!(names(ix.list("b", "a/", Some("a/1"), 10).expect("list")), ["a/2", "a/3"]);
        assert_eq!(names(ix.list("b", "a/", Some("a/"), 1).expect("list")), ["a/1"]);
        assert_eq!(names(ix.list("b", "", Some("a/3"), 10).expect("list")), ["b/1"]);
        assert!(ix.list("other", "", None, 10).expect("list").is_empty());
    }
}
