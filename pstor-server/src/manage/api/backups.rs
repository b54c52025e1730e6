//! Metadata backups over the API (manual 3.8.9): the list (with whether a
//! restore is suggested after a reinstall), a backup now, the restore.

use super::Body;
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::{audited, auth, backups, blocking, State};
use axum::extract::State as S;
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// `GET /api/v1/backups`.
pub(super) async fn list(S(state): S<Arc<State>>) -> ApiResult<Json<serde_json::Value>> {
    blocking(move || {
        let all = backups::list(&state);
        let suggested = backups::restore_suggested(&state);
        Ok(Json(serde_json::json!({
            "restore_suggested": suggested,
            "interval_hours": state.cfg.backup_interval_hours,
            "keep": state.cfg.backup_keep,
            "backups": all,
        })))
    })
    .await
}

/// `POST /api/v1/backups`: a backup now, onto every Normal space.
pub(super) async fn take(S(state): S<Arc<State>>) -> ApiResult<Response> {
    let written = blocking(move || {
        state.fresh_database.store(false, Ordering::SeqCst);
        Ok(backups::take(&state, "asked for"))
    })
    .await?;
    if written.is_empty() {
        return Err(ApiError::new(ApiCode::Conflict, "no Normal storage space took the backup (see the log)"));
    }
    let what = format!("backed up the metadata onto {} storage space(s)", written.len());
    Ok(audited(what, (StatusCode::CREATED, Json(serde_json::json!({ "written": written })))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Restore {
    /// The backup's id (`<space>/<file>`, from the list).
    backup: String,
    #[serde(default)]
    confirm: bool,
}

/// `POST /api/v1/backups/restore`: replaces users, settings and the log
/// with a backup's; every session ends (log in with the restored accounts).
pub(super) async fn restore(S(state): S<Arc<State>>, Body(r): Body<Restore>) -> ApiResult<Response> {
    if !r.confirm {
        return Err(ApiError::engine(
            pstor_core::ErrorCode::ConfirmationRequired,
            "restoring replaces every account, setting and log entry with the backup's: send confirm=true",
        ));
    }
    let st = Arc::clone(&state);
    let id = r.backup.clone();
    let taken_at = blocking(move || {
        let found = backups::list(&st).into_iter().find(|b| b.id == r.backup);
        let b =
            found.ok_or_else(|| ApiError::new(ApiCode::NotFound, format!("no backup {:?} on the spaces", r.backup)))?;
        backups::before(&st, "a restore");
        st.db.restore_from(&b.path).map_err(|e| ApiError::new(ApiCode::Conflict, e.to_string()))?;
        st.fresh_database.store(false, Ordering::SeqCst);
        st.sessions.clear_all(&st.db)?;
        st.access.set(st.db.setting(crate::manage::api::ACCESS_SETTING)?);
        let restored_admin = st.db.user(crate::meta::users::ADMIN)?;
        let file = st.data_dir.join(crate::manage::INITIAL_PASSWORD_FILE);
        if restored_admin.is_some_and(|u| !u.must_change) && file.exists() {
            let _ = std::fs::remove_file(&file);
        }
        Ok(b.taken_at)
    })
    .await?;
    let body = serde_json::json!({
        "restored": id,
        "taken_at": taken_at,
        "message": "restored: every session ended; log in with the restored accounts",
    });
    let cookie = auth::clear_cookie(state.secure_cookies());
    Ok(audited(format!("restored the metadata backup {id}"), ([(header::SET_COOKIE, cookie)], Json(body))))
}
