//! Recording schedules (manual 3.6.1), one row each: the schedule as JSON
//! and its camera password sealed by [`crate::recording::secrets`] (this
//! database travels in backups; the key does not).

use super::{MetaDb, MetaError};
use rusqlite::params;

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// Its id.
    pub id: i64,
    /// The schedule, JSON.
    pub spec: String,
    /// The sealed password, if any.
    pub secret: Option<Vec<u8>>,
    /// Created, µs UTC.
    pub created_at: i64,
    /// Last changed, µs UTC.
    pub updated_at: i64,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScheduleRow> {
    Ok(ScheduleRow { id: r.get(0)?, spec: r.get(1)?, secret: r.get(2)?, created_at: r.get(3)?, updated_at: r.get(4)? })
}

const COLUMNS: &str = "SELECT id, spec, secret, created_at, updated_at FROM schedules";

impl MetaDb {
    /// Every schedule, by id.
    pub fn schedules(&self) -> Result<Vec<ScheduleRow>, MetaError> {
        self.with(|c| {
            let mut st = c.prepare(&format!("{COLUMNS} ORDER BY id"))?;
            let rows = st.query_map([], row)?;
            rows.collect()
        })
    }

    /// One schedule.
    pub fn schedule(&self, id: i64) -> Result<Option<ScheduleRow>, MetaError> {
        self.with(|c| {
            let mut st = c.prepare(&format!("{COLUMNS} WHERE id = ?1"))?;
            let mut rows = st.query_map([id], row)?;
            rows.next().transpose()
        })
    }

    /// Stores a new schedule; its id.
    pub fn insert_schedule(&self, spec: &str, secret: Option<&[u8]>) -> Result<i64, MetaError> {
        self.with(|c| {
            let now = super::now_us();
            c.execute(
                "INSERT INTO schedules (spec, secret, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                params![spec, secret, now],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Replaces a schedule; false if there is none.
    pub fn update_schedule(&self, id: i64, spec: &str, secret: Option<&[u8]>) -> Result<bool, MetaError> {
        self.with(|c| {
            c.execute(
                "UPDATE schedules SET spec = ?2, secret = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, spec, secret, super::now_us()],
            )
            .map(|n| n == 1)
        })
    }

    /// Forgets a schedule; false if there was none.
    pub fn delete_schedule(&self, id: i64) -> Result<bool, MetaError> {
        self.with(|c| c.execute("DELETE FROM schedules WHERE id = ?1", [id]).map(|n| n == 1))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn schedules_are_stored_replaced_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let db = MetaDb::open(dir.path()).unwrap();
        let a = db.insert_schedule(r#"{"camera_id":"a"}"#, Some(b"sealed")).unwrap();
        let b = db.insert_schedule(r#"{"camera_id":"b"}"#, None).unwrap();
        assert_eq!(db.schedules().unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), vec![a, b]);
        assert!(db.update_schedule(a, r#"{"camera_id":"a2"}"#, None).unwrap());
        let got = db.schedule(a).unwrap().unwrap();
        assert_eq!((got.spec.as_str(), got.secret), (r#"{"camera_id":"a2"}"#, None));
        assert!(db.delete_schedule(b).unwrap());
        assert!(!db.delete_schedule(b).unwrap());
        assert!(!db.update_schedule(b, "{}", None).unwrap());
        assert_eq!(db.schedule(b).unwrap(), None);
    }
}
