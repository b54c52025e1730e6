//! The SDK and picture key pairs (manual 3.8.5): the list (access keys
//! only), the download of a pair as a file, and the reset, which closes
//! every connection authenticated with the old pair. Both calls that
//! reveal a secret key ask for the administrator's password again.

use super::Body;
use crate::manage::auth::Caller;
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::{audited, blocking, State};
use axum::extract::State as S;
use axum::http::header;
use axum::response::Response;
use axum::{Extension, Json};
use serde::Deserialize;
use std::sync::Arc;

/// `GET /api/v1/keys`.
pub(super) async fn list(S(state): S<Arc<State>>) -> Json<serde_json::Value> {
    let keys: Vec<_> = state
        .keys
        .access_keys()
        .into_iter()
        .map(|(k, resettable)| serde_json::json!({ "access_key": k, "resettable": resettable }))
        .collect();
    Json(serde_json::json!(keys))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WithPassword {
    access_key: String,
    /// The caller's password, asked again.
    password: String,
}

impl WithPassword {
    /// The pair named, once the caller's password checks out (blocking).
    fn checked_pair(&self, state: &State, caller: &Caller) -> ApiResult<crate::config::KeyPair> {
        super::session::recheck_password(state, caller, &self.password)?;
        state
            .keys
            .pair(&self.access_key)
            .ok_or_else(|| ApiError::new(ApiCode::NotFound, format!("no access key {:?}", self.access_key)))
    }
}

/// `POST /api/v1/keys/download`: the pair as a text file.
pub(super) async fn download(
    S(state): S<Arc<State>>,
    Extension(caller): Extension<Caller>,
    Body(w): Body<WithPassword>,
) -> ApiResult<Response> {
    let access = w.access_key.clone();
    let pair = blocking(move || w.checked_pair(&state, &caller)).await?;
    let text = format!(
        "# pstor key pair (manual 3.8.5): give both to the VMS; keep this file private.\naccess_key={}\nsecret_key={}\n",
        pair.access_key, pair.secret_key
    );
    let resp = (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"pstor-key-{}.txt\"", pair.access_key)),
        ],
        text,
    );
    // Audited though a download: it hands out a secret.
    Ok(audited(format!("downloaded the key pair of access key {access}"), resp))
}

/// `POST /api/v1/keys/reset`: a new pair in place of the old one; the old
/// pair's connections close. The new pair is in the answer (only there).
pub(super) async fn reset(
    S(state): S<Arc<State>>,
    Extension(caller): Extension<Caller>,
    Body(w): Body<WithPassword>,
) -> ApiResult<Response> {
    let old = w.access_key.clone();
    let new = blocking(move || {
        w.checked_pair(&state, &caller)?;
        state.keys.reset(&w.access_key).map_err(|e| ApiError::new(ApiCode::Conflict, e.to_string()))
    })
    .await?;
    let what = format!("reset the key pair of access key {old} (new access key {})", new.access_key);
    Ok(audited(what, Json(serde_json::json!({ "access_key": new.access_key, "secret_key": new.secret_key }))))
}
