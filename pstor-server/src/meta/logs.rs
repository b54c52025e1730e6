//! The log store (manual 3.7): operation logs (who, from which address,
//! what, with which result) and system logs (service start and stop, every
//! engine event), paged, searched, exported as CSV and cleared. Bounded by
//! count and age ([`LogLimits`]) so it never fills the disk.

use super::{now_us, MetaDb, MetaError};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};
use serde::{Deserialize, Serialize};

/// Operation or system log (manual 3.7's "type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    /// Something a user or client did.
    Operation,
    /// Something the service or the engine did or saw.
    System,
}

/// How serious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Normal.
    Info,
    /// Needs attention (an alarm, a refused login).
    Warning,
    /// A failure.
    Error,
}

impl LogKind {
    fn as_str(self) -> &'static str {
        match self {
            LogKind::Operation => "operation",
            LogKind::System => "system",
        }
    }
}

impl LogLevel {
    fn as_str(self) -> &'static str {
        match self {
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
        }
    }
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// Its number (increasing).
    pub id: i64,
    /// When (µs since the epoch, UTC).
    pub at: i64,
    /// Operation or system.
    pub kind: String,
    /// info, warning or error.
    pub level: String,
    /// The client's address (empty for system logs).
    pub ip: String,
    /// The user (empty for system logs).
    pub user: String,
    /// What happened.
    pub content: String,
    /// `ok` or why it failed.
    pub result: String,
}

/// A new entry.
#[derive(Debug, Clone)]
pub struct NewLog<'a> {
    /// Operation or system.
    pub kind: LogKind,
    /// How serious.
    pub level: LogLevel,
    /// Client address, or "".
    pub ip: &'a str,
    /// User, or "".
    pub user: &'a str,
    /// What happened.
    pub content: &'a str,
    /// `ok` or the error.
    pub result: &'a str,
}

/// What to find (manual 3.7.4); every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogFilter {
    /// Only this type.
    pub kind: Option<LogKind>,
    /// Only this level.
    pub level: Option<LogLevel>,
    /// From this time (µs, inclusive).
    pub from: Option<i64>,
    /// Up to this time (µs, inclusive).
    pub to: Option<i64>,
    /// Only this client address.
    pub ip: Option<String>,
    /// Content or user containing this text (case-insensitive for ASCII).
    pub text: Option<String>,
}

impl LogFilter {
    /// The WHERE clause and its values.
    fn clause(&self) -> (String, Vec<Value>) {
        let mut parts = Vec::new();
        let mut vals = Vec::new();
        if let Some(k) = self.kind {
            parts.push("kind = ?");
            vals.push(Value::Text(k.as_str().into()));
        }
        if let Some(l) = self.level {
            parts.push("level = ?");
            vals.push(Value::Text(l.as_str().into()));
        }
        if let Some(f) = self.from {
            parts.push("at >= ?");
            vals.push(Value::Integer(f));
        }
        if let Some(t) = self.to {
            parts.push("at <= ?");
            vals.push(Value::Integer(t));
        }
        if let Some(ip) = &self.ip {
            parts.push("ip = ?");
            vals.push(Value::Text(ip.clone()));
        }
        if let Some(t) = self.text.as_deref().filter(|t| t.chars().count() >= 3) {
            // The trigram index finds every entry holding the text (case-
            // insensitive), as a phrase: quotes doubled, nothing else special.
            parts.push("id IN (SELECT rowid FROM logs_text WHERE logs_text MATCH ?)");
            vals.push(Value::Text(format!("\"{}\"", t.replace('"', "\"\""))));
        } else if let Some(t) = self.text.as_deref().filter(|t| !t.is_empty()) {
            // Shorter than a trigram: a scan.
            parts.push("(content LIKE ? ESCAPE '\\' OR user LIKE ? ESCAPE '\\')");
            let pattern = format!("%{}%", t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            vals.push(Value::Text(pattern.clone()));
            vals.push(Value::Text(pattern));
        }
        let clause = if parts.is_empty() { String::new() } else { format!(" WHERE {}", parts.join(" AND ")) };
        (clause, vals)
    }
}

/// How much the store keeps.
#[derive(Debug, Clone, Copy)]
pub struct LogLimits {
    /// At most this many entries (the oldest go first).
    pub max_entries: u64,
    /// Entries older than this many days go.
    pub max_age_days: u32,
}

/// Prune every this many appends.
const PRUNE_EVERY: i64 = 1024;

const COLUMNS: &str = "id, at, kind, level, ip, user, content, result";

fn entry_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<LogEntry> {
    Ok(LogEntry {
        id: r.get(0)?,
        at: r.get(1)?,
        kind: r.get(2)?,
        level: r.get(3)?,
        ip: r.get(4)?,
        user: r.get(5)?,
        content: r.get(6)?,
        result: r.get(7)?,
    })
}

/// The header of the CSV export.
pub const CSV_HEADER: &str = "id,time,type,level,ip,user,content,result\n";

impl LogEntry {
    /// The entry as one CSV line (RFC 4180 quoting; fields that a
    /// spreadsheet would run as a formula get a leading `'`).
    pub fn to_csv_line(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "{},{},", self.id, rfc3339_us(self.at));
        for (i, f) in [&self.kind, &self.level, &self.ip, &self.user, &self.content, &self.result].iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(out, f);
        }
        out.push('\n');
    }
}

fn csv_field(out: &mut String, f: &str) {
    let formula = f.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula || f.contains([',', '"', '\n', '\r']) {
        out.push('"');
        if formula {
            out.push('\'');
        }
        out.push_str(&f.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(f);
    }
}

/// µs since the epoch as RFC 3339 UTC with microseconds.
pub fn rfc3339_us(us: i64) -> String {
    let days = us.div_euclid(86_400_000_000);
    let rem = us.rem_euclid(86_400_000_000);
    let d = pstor_core::Date::from_days(days);
    let (h, m, s, frac) = (rem / 3_600_000_000, rem / 60_000_000 % 60, rem / 1_000_000 % 60, rem % 1_000_000);
    format!("{:04}-{:02}-{:02}T{h:02}:{m:02}:{s:02}.{frac:06}Z", d.year, d.month, d.day)
}

impl MetaDb {
    /// Appends an entry (and now and then drops what is past the limits).
    pub fn append_log(&self, e: &NewLog<'_>, limits: LogLimits) -> Result<i64, MetaError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO logs (at, kind, level, ip, user, content, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![now_us(), e.kind.as_str(), e.level.as_str(), e.ip, e.user, e.content, e.result],
            )?;
            let id = c.last_insert_rowid();
            if id % PRUNE_EVERY == 0 {
                prune(c, limits)?;
            }
            Ok(id)
        })
    }

    /// Appends a system entry (no user, no address). A failure to write it
    /// goes to the process log and never fails the caller: losing a log line
    /// must not stop what it reports.
    pub fn system_log(&self, level: LogLevel, content: &str, result: &str, limits: LogLimits) {
        let e = NewLog { kind: LogKind::System, level, ip: "", user: "", content, result };
        if let Err(err) = self.append_log(&e, limits) {
            tracing::error!(error = %err, content, "could not write a system entry to the log store");
        }
    }

    /// Appends many entries in one transaction (imports, benches), then
    /// drops what is past the limits.
    pub fn append_log_batch<'a>(
        &self,
        entries: impl IntoIterator<Item = NewLog<'a>>,
        limits: LogLimits,
    ) -> Result<usize, MetaError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut n = 0;
            {
                let mut st = tx.prepare(
                    "INSERT INTO logs (at, kind, level, ip, user, content, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                let at = now_us();
                for e in entries {
                    st.execute(params![at, e.kind.as_str(), e.level.as_str(), e.ip, e.user, e.content, e.result])?;
                    n += 1;
                }
            }
            prune(&tx, limits)?;
            tx.commit()?;
            Ok(n)
        })
    }

    /// Drops entries past the limits; how many went.
    pub fn prune_logs(&self, limits: LogLimits) -> Result<usize, MetaError> {
        self.with(|c| prune(c, limits))
    }

    /// How many entries match.
    pub fn count_logs(&self, filter: &LogFilter) -> Result<u64, MetaError> {
        let (clause, vals) = filter.clause();
        self.with(|c| c.query_row(&format!("SELECT count(*) FROM logs{clause}"), params_from_iter(vals), |r| r.get(0)))
    }

    /// A page of matching entries, newest first.
    pub fn log_page(&self, filter: &LogFilter, offset: u64, limit: u32) -> Result<Vec<LogEntry>, MetaError> {
        let (clause, mut vals) = filter.clause();
        vals.push(Value::Integer(i64::from(limit)));
        vals.push(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
        self.with(|c| {
            let mut st =
                c.prepare_cached(&format!("SELECT {COLUMNS} FROM logs{clause} ORDER BY id DESC LIMIT ? OFFSET ?"))?;
            let rows = st.query_map(params_from_iter(vals), entry_from)?.collect();
            rows
        })
    }

    /// Deletes every entry; how many. The text index is emptied whole (not
    /// entry by entry through its trigger) in the same transaction.
    pub fn clear_logs(&self) -> Result<usize, MetaError> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute_batch("DROP TRIGGER logs_text_delete")?;
            let n = tx.execute("DELETE FROM logs", [])?;
            tx.execute_batch(concat!(
                "INSERT INTO logs_text (logs_text) VALUES ('delete-all');",
                super::logs_text_delete_trigger!()
            ))?;
            tx.commit()?;
            Ok(n)
        })
    }
}

fn prune(c: &Connection, limits: LogLimits) -> rusqlite::Result<usize> {
    let cutoff = now_us() - i64::from(limits.max_age_days) * 86_400_000_000;
    let mut n = c.execute("DELETE FROM logs WHERE at < ?1", [cutoff])?;
    let max = i64::try_from(limits.max_entries).unwrap_or(i64::MAX);
    n += c.execute("DELETE FROM logs WHERE id <= (SELECT max(id) FROM logs) - ?1", [max])?;
    Ok(n)
}

/// Reads matching entries newest first, at most `max`, calling `each` for
/// every one, on its own connection (`MetaDb::reader`): constant memory
/// whatever the count. Stops early when `each` returns false.
pub fn for_each_log(
    conn: &Connection,
    filter: &LogFilter,
    max: u64,
    mut each: impl FnMut(LogEntry) -> bool,
) -> rusqlite::Result<()> {
    let (clause, mut vals) = filter.clause();
    vals.push(Value::Integer(i64::try_from(max).unwrap_or(i64::MAX)));
    let mut st = conn.prepare(&format!("SELECT {COLUMNS} FROM logs{clause} ORDER BY id DESC LIMIT ?"))?;
    let mut rows = st.query(params_from_iter(vals))?;
    while let Some(r) = rows.next()? {
        if !each(entry_from(r)?) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: LogLimits = LogLimits { max_entries: 1_000_000, max_age_days: 365 };

    fn op<'a>(content: &'a str, ip: &'a str) -> NewLog<'a> {
        NewLog { kind: LogKind::Operation, level: LogLevel::Info, ip, user: "admin", content, result: "ok" }
    }

    #[test]
    fn pages_search_and_clear() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = MetaDb::open(dir.path()).expect("open");
        for i in 0..25 {
            db.append_log(&op(&format!("created pool p{i}"), if i % 5 == 0 { "10.0.0.5" } else { "::1" }), LIMITS)
                .expect("append");
        }
        db.append_log(
            &NewLog {
                kind: LogKind::System,
                level: LogLevel::Warning,
                ip: "",
                user: "",
                content: "100%_x",
                result: "ok",
            },
            LIMITS,
        )
        .expect("append");
        let all = LogFilter::default();
        assert_eq!(db.count_logs(&all).expect("count"), 26);
        let page = db.log_page(&all, 10, 10).expect("page 2");
        assert_eq!(page.len(), 10);
        assert_eq!(page[0].content, "created pool p15", "newest first");
        let by_ip = LogFilter { ip: Some("10.0.0.5".into()), ..LogFilter::default() };
        assert_eq!(db.count_logs(&by_ip).expect("count"), 5);
        let text = LogFilter { text: Some("POOL P2".into()), ..LogFilter::default() };
        assert_eq!(db.count_logs(&text).expect("count"), 6, "p2 and p20..p24, case-insensitive");
        let wild = LogFilter { text: Some("%_".into()), ..LogFilter::default() };
        assert_eq!(db.count_logs(&wild).expect("count"), 1, "LIKE wildcards are literal");
        let sys = LogFilter { kind: Some(LogKind::System), level: Some(LogLevel::Warning), ..LogFilter::default() };
        assert_eq!(db.count_logs(&sys).expect("count"), 1);
        let reader = db.reader().expect("reader");
        let mut seen = 0;
        for_each_log(&reader, &all, 7, |_| {
            seen += 1;
            true
        })
        .expect("iterate");
        assert_eq!(seen, 7);
        assert_eq!(db.clear_logs().expect("clear"), 26);
    }

    #[test]
    fn a_version_1_log_is_indexed_by_the_migration() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let c = rusqlite::Connection::open(dir.path().join(super::super::FILE_NAME)).expect("raw");
            c.execute_batch(super::super::MIGRATIONS[0]).expect("schema 1");
            c.pragma_update(None, "user_version", 1).expect("version");
            c.execute(
                "INSERT INTO logs (at, kind, level, ip, user, content, result) VALUES (1, 'system', 'info', '', '', 'Space Lost: sda', 'ok')",
                [],
            )
            .expect("an old entry");
        }
        let db = MetaDb::open(dir.path()).expect("migrated");
        let f = LogFilter { text: Some("space lost".into()), ..LogFilter::default() };
        assert_eq!(db.count_logs(&f).expect("count"), 1, "found through the rebuilt index");
        db.append_log(&op("space lost again", ""), LIMITS).expect("append");
        assert_eq!(db.count_logs(&f).expect("count"), 2, "new entries are indexed by the trigger");
        assert_eq!(db.clear_logs().expect("clear"), 2);
        assert_eq!(db.count_logs(&f).expect("count"), 0);
        db.append_log(&op("space lost after the clear", ""), LIMITS).expect("append");
        assert_eq!(db.count_logs(&f).expect("count"), 1, "the index works after a clear");
        let quote = LogFilter { text: Some("a \"quoted\" word".into()), ..LogFilter::default() };
        assert_eq!(db.count_logs(&quote).expect("quotes are literal"), 0);
    }

    #[test]
    fn limits_bound_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = MetaDb::open(dir.path()).expect("open");
        let small = LogLimits { max_entries: 100, max_age_days: 365 };
        for i in 0..(PRUNE_EVERY + 5) {
            db.append_log(&op(&format!("e{i}"), ""), small).expect("append");
        }
        let n = db.count_logs(&LogFilter::default()).expect("count");
        assert!((100..=105).contains(&n), "pruned at the 1,024th append to the newest 100 (+5 after): {n}");
        db.with(|c| c.execute("UPDATE logs SET at = 0", [])).expect("age them");
        assert_eq!(db.prune_logs(small).expect("prune") as u64, n);
    }

    #[test]
    fn csv_lines_quote_and_defuse_formulas() {
        let e = LogEntry {
            id: 7,
            at: 1_700_000_000_123_456,
            kind: "operation".into(),
            level: "info".into(),
            ip: "::1".into(),
            user: "admin".into(),
            content: "renamed \"a,b\"".into(),
            result: "=HYPERLINK(1)".into(),
        };
        let mut s = String::new();
        e.to_csv_line(&mut s);
        assert_eq!(
            s,
            "7,2023-11-14T22:13:20.123456Z,operation,info,::1,admin,\"renamed \"\"a,b\"\"\",\"'=HYPERLINK(1)\"\n"
        );
    }
}
