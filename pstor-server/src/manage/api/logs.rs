//! The log (manual 3.7): pages with totals (3.7.1), search by type, time,
//! level, address and content (3.7.4), CSV download of up to 1,000,000
//! entries streamed in constant memory (3.7.2), clearing with confirmation
//! (3.7.3; the clearing itself is the first entry afterwards).

use super::{de_opt_time, Confirm, PageQuery, Params};
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::{audited, blocking, State};
use crate::meta::logs::{for_each_log, LogEntry, LogFilter, LogKind, LogLevel, CSV_HEADER};
use axum::body::Body;
use axum::extract::State as S;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

/// Most entries one CSV download holds (3.7.2).
pub const MAX_CSV_ENTRIES: u64 = 1_000_000;
/// Bytes of CSV sent per chunk.
const CSV_CHUNK: usize = 64 << 10;

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct LogQuery {
    page: Option<u64>,
    page_size: Option<u32>,
    /// CSV only: at most this many entries (default and limit 1,000,000).
    limit: Option<u64>,
    kind: Option<LogKind>,
    level: Option<LogLevel>,
    #[serde(deserialize_with = "de_opt_time")]
    from: Option<i64>,
    #[serde(deserialize_with = "de_opt_time")]
    to: Option<i64>,
    ip: Option<String>,
    text: Option<String>,
}

impl LogQuery {
    fn filter(&self) -> LogFilter {
        LogFilter {
            kind: self.kind,
            level: self.level,
            from: self.from,
            to: self.to,
            ip: self.ip.clone().filter(|s| !s.is_empty()),
            text: self.text.clone(),
        }
    }
}

/// `GET /api/v1/logs`: a page, newest first, with the totals.
pub(super) async fn page(
    S(state): S<Arc<State>>,
    Params(q): Params<LogQuery>,
) -> ApiResult<Json<super::Page<LogEntry>>> {
    let p = PageQuery::from_parts(q.page, q.page_size)?;
    blocking(move || {
        let f = q.filter();
        let total = state.db.count_logs(&f)?;
        let items = state.db.log_page(&f, p.offset(), p.page_size)?;
        Ok(Json(p.page(items, total)))
    })
    .await
}

/// `GET /api/v1/logs.csv`: the matching entries as CSV, streamed.
pub(super) async fn csv(S(state): S<Arc<State>>, Params(q): Params<LogQuery>) -> ApiResult<Response> {
    let limit = q.limit.unwrap_or(MAX_CSV_ENTRIES);
    if limit == 0 || limit > MAX_CSV_ENTRIES {
        return Err(ApiError::new(ApiCode::BadRequest, format!("limit is 1 to {MAX_CSV_ENTRIES}")));
    }
    let filter = q.filter();
    let conn = {
        let db = Arc::clone(&state.db);
        blocking(move || Ok(db.reader()?)).await?
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(4);
    let db = Arc::clone(&state.db);
    tokio::task::spawn_blocking(move || {
        let mut buf = String::with_capacity(CSV_CHUNK + 4096);
        buf.push_str(CSV_HEADER);
        let mut open = true;
        let r = for_each_log(&conn, &filter, limit, |e: LogEntry| {
            e.to_csv_line(&mut buf);
            if buf.len() >= CSV_CHUNK {
                open = tx.blocking_send(Ok(std::mem::take(&mut buf))).is_ok();
                buf.reserve(CSV_CHUNK + 4096);
            }
            open
        });
        match r {
            Ok(()) if open => {
                let _ = tx.blocking_send(Ok(buf));
            }
            Ok(()) => {}
            Err(e) => {
                // The client sees a cut-off download, never a complete-looking one.
                let e = db.error(e);
                tracing::error!(error = %e, "the CSV download of the log failed");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let name = format!("pstor-log-{}.csv", &crate::meta::logs::rfc3339_us(crate::meta::now_us())[..10]);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `DELETE /api/v1/logs?confirm=true`.
pub(super) async fn clear(S(state): S<Arc<State>>, Params(c): Params<Confirm>) -> ApiResult<Response> {
    c.require("clearing the log deletes every entry")?;
    let n = blocking(move || {
        crate::manage::backups::before(&state, "clearing the log");
        Ok(state.db.clear_logs()?)
    })
    .await?;
    Ok(audited(format!("cleared the log ({n} entries deleted)"), StatusCode::NO_CONTENT))
}
