//! The network shares pstor mounts (manual 3.5.3), one row each. What a
//! share is and how it is mounted is [`crate::shares`]; its password is in
//! a 0600 file, never in this database (whose backups travel onto the
//! storage spaces).

use super::{MetaDb, MetaError};
use rusqlite::params;

/// A stored share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRow {
    /// Its id (also its mount point's name).
    pub id: i64,
    /// `cifs` or `nfs`.
    pub kind: String,
    /// `//host/share` or `host:/export`.
    pub source: String,
    /// The CIFS user, if any.
    pub username: Option<String>,
    /// Extra mount options (comma-separated), possibly empty.
    pub options: String,
    /// When it was added, µs UTC.
    pub created_at: i64,
}

fn share_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<ShareRow> {
    Ok(ShareRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        source: r.get(2)?,
        username: r.get(3)?,
        options: r.get(4)?,
        created_at: r.get(5)?,
    })
}

impl MetaDb {
    /// Every share, in the order they were added.
    pub fn shares(&self) -> Result<Vec<ShareRow>, MetaError> {
        self.with(|c| {
            let mut st = c.prepare("SELECT id, kind, source, username, options, created_at FROM shares ORDER BY id")?;
            let rows = st.query_map([], share_from)?;
            rows.collect()
        })
    }

    /// Stores a new share; `None` if one with the same source exists.
    pub fn insert_share(
        &self,
        kind: &str,
        source: &str,
        username: Option<&str>,
        options: &str,
    ) -> Result<Option<i64>, MetaError> {
        self.with(|c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO shares (kind, source, username, options, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![kind, source, username, options, super::now_us()],
            )?;
            Ok((n == 1).then(|| c.last_insert_rowid()))
        })
    }

    /// Forgets a share; false if there was none.
    pub fn delete_share(&self, id: i64) -> Result<bool, MetaError> {
        self.with(|c| c.execute("DELETE FROM shares WHERE id = ?1", [id]).map(|n| n == 1))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shares_are_stored_once_per_source_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let db = MetaDb::open(dir.path()).unwrap();
        let a = db.insert_share("cifs", "//nas/video", Some("rec"), "vers=3.0").unwrap().unwrap();
        assert_eq!(db.insert_share("cifs", "//nas/video", None, "").unwrap(), None, "same source twice");
        let b = db.insert_share("nfs", "nas:/export/video", None, "").unwrap().unwrap();
        let all = db.shares().unwrap();
        assert_eq!(all.iter().map(|s| s.id).collect::<Vec<_>>(), vec![a, b]);
        assert_eq!((all[0].username.as_deref(), all[0].options.as_str()), (Some("rec"), "vers=3.0"));
        assert!(db.delete_share(a).unwrap());
        assert!(!db.delete_share(a).unwrap());
        assert_eq!(db.shares().unwrap().len(), 1);
    }
}
