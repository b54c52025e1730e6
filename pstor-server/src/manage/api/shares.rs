//! Network shares over the API (manual 3.5.3, "NAS"): list with their
//! state, add (mounted at once; nothing kept if that fails), mount again,
//! delete (only when no storage space lies on it). The work is
//! [`crate::shares`]'s; passwords are never returned.

use super::{Body, Id, PageQuery, Params};
use crate::manage::error::ApiResult;
use crate::manage::{audited, blocking, State};
use crate::shares::{ShareSpec, ShareView};
use axum::extract::State as S;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use std::sync::Arc;

/// `GET /api/v1/nas`.
pub(super) async fn list(
    S(state): S<Arc<State>>,
    Params(q): Params<PageQuery>,
) -> ApiResult<Json<super::Page<ShareView>>> {
    let q = q.validate()?;
    blocking(move || Ok(Json(q.of(state.shares.list(&state.db)?)))).await
}

/// `GET /api/v1/nas/{id}`.
pub(super) async fn one(S(state): S<Arc<State>>, Id(id): Id<i64>) -> ApiResult<Json<ShareView>> {
    blocking(move || Ok(Json(state.shares.one(&state.db, id)?))).await
}

/// `POST /api/v1/nas`: adds and mounts a share.
pub(super) async fn add(S(state): S<Arc<State>>, Body(spec): Body<ShareSpec>) -> ApiResult<Response> {
    let view = blocking(move || Ok(state.shares.add(&state.db, &spec)?)).await?;
    let what =
        format!("added the network share {} ({}), mounted at {}", view.source, view.kind, view.mount_point.display());
    Ok(audited(what, (StatusCode::CREATED, Json(view))))
}

/// `POST /api/v1/nas/{id}/mount`: mounts a share that is not mounted.
pub(super) async fn mount(S(state): S<Arc<State>>, Id(id): Id<i64>) -> ApiResult<Response> {
    let view = blocking(move || Ok(state.shares.mount(&state.db, id)?)).await?;
    Ok(audited(format!("mounted the network share {}", view.source), Json(view)))
}

/// `DELETE /api/v1/nas/{id}`: unmounts and forgets a share no space uses.
pub(super) async fn delete(S(state): S<Arc<State>>, Id(id): Id<i64>) -> ApiResult<Response> {
    let row = blocking(move || {
        let spaces = state.ctx.engine.spaces();
        Ok(state.shares.remove(&state.db, id, |mp| spaces.iter().any(|s| s.path.starts_with(mp)))?)
    })
    .await?;
    let body = serde_json::json!({ "deleted": row.id, "source": row.source });
    Ok(audited(format!("deleted the network share {}", row.source), Json(body)))
}
