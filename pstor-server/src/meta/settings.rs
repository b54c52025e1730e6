//! Settings as stored: one row per section, its value JSON. The typed
//! sections live with the code that uses them; a section never saved reads
//! as its `Default`, and unknown fields of an older or newer build are
//! ignored, so a section can gain fields without a migration.

use super::{MetaDb, MetaError};
use rusqlite::OptionalExtension;
use serde::de::DeserializeOwned;
use serde::Serialize;

impl MetaDb {
    /// A section, or its default when never saved (or unreadable: a
    /// damaged value must not stop the service; the caller's next save
    /// replaces it).
    pub fn setting<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, MetaError> {
        let text: Option<String> =
            self.with(|c| c.query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| r.get(0)).optional())?;
        Ok(match text {
            None => T::default(),
            Some(t) => serde_json::from_str(&t).unwrap_or_else(|e| {
                tracing::warn!(section = name, error = %e, "a stored setting is unreadable: using its default");
                T::default()
            }),
        })
    }

    /// Saves a section.
    pub fn put_setting<T: Serialize>(&self, name: &str, value: &T) -> Result<(), MetaError> {
        let text = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
        self.with(|c| {
            c.execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = ?2",
                [name, &text],
            )
            .map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(default)]
    struct Switches {
        digest: bool,
        limit: Option<u32>,
    }

    #[test]
    fn sections_default_round_trip_and_survive_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = MetaDb::open(dir.path()).expect("open");
        assert_eq!(db.setting::<Switches>("s").expect("read"), Switches::default());
        let s = Switches { digest: true, limit: Some(64) };
        db.put_setting("s", &s).expect("save");
        assert_eq!(db.setting::<Switches>("s").expect("read"), s);
        db.with(|c| c.execute("UPDATE settings SET value = '{\"digest\": true, \"later\": 1}'", [])).expect("newer");
        assert_eq!(db.setting::<Switches>("s").expect("read"), Switches { digest: true, limit: None });
        db.with(|c| c.execute("UPDATE settings SET value = 'garbage'", [])).expect("damage");
        assert_eq!(db.setting::<Switches>("s").expect("read"), Switches::default());
    }
}
