//! Locks over the API: list, create (a stream's time range, or a camera's
//! pictures in a pool), extend or shorten the expiry, unlock.

use super::{de_opt_time, de_time, Body, Id, PageQuery, Params};
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::{audited, blocking, State};
use axum::extract::State as S;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use pstor_core::{LockConfig, LockId, LockTarget, PoolId, StreamId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Serialize)]
pub(super) struct LockView {
    /// Ids are 64-bit: a string, so JavaScript keeps every digit.
    id: String,
    stream: Option<String>,
    pool: Option<u32>,
    camera_id: Option<String>,
    start: i64,
    end: i64,
    expires: Option<i64>,
}

fn view(l: LockConfig) -> LockView {
    let (stream, pool, camera_id) = match l.target {
        LockTarget::Stream(s) => (Some(s.0.to_string()), None, None),
        LockTarget::Pictures { pool, camera_id } => (None, Some(pool.0), Some(camera_id)),
    };
    LockView { id: l.id.0.to_string(), stream, pool, camera_id, start: l.start, end: l.end, expires: l.expires }
}

/// `GET /api/v1/locks`.
pub(super) async fn list(
    S(state): S<Arc<State>>,
    Params(q): Params<PageQuery>,
) -> ApiResult<Json<super::Page<LockView>>> {
    let q = q.validate()?;
    blocking(move || Ok(Json(q.of(state.ctx.engine.locks().into_iter().map(view).collect())))).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewLock {
    /// A stream's id (as a string or number), or `pool` + `camera_id`.
    #[serde(default)]
    stream: Option<IdArg>,
    #[serde(default)]
    pool: Option<u32>,
    #[serde(default)]
    camera_id: Option<String>,
    #[serde(deserialize_with = "de_time")]
    start: i64,
    #[serde(deserialize_with = "de_time")]
    end: i64,
    #[serde(default, deserialize_with = "de_opt_time")]
    expires: Option<i64>,
}

/// A 64-bit id given as a number or a string of digits.
#[derive(Debug, Clone, Copy)]
pub struct IdArg(pub u64);

impl<'de> Deserialize<'de> for IdArg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Ok(IdArg(n)),
            Raw::Text(t) => t.parse().map(IdArg).map_err(|_| serde::de::Error::custom(format!("{t:?} is not an id"))),
        }
    }
}

/// `POST /api/v1/locks`.
pub(super) async fn create(S(state): S<Arc<State>>, Body(l): Body<NewLock>) -> ApiResult<Response> {
    let lock = blocking(move || {
        let e = &state.ctx.engine;
        let id = match (l.stream, l.pool, l.camera_id) {
            (Some(s), None, None) => e.lock(StreamId(s.0), l.start, l.end, l.expires)?,
            (None, Some(p), Some(c)) => e.lock_pictures(PoolId(p), &c, l.start, l.end, l.expires)?,
            _ => {
                return Err(ApiError::new(
                    ApiCode::BadRequest,
                    "lock either a stream (stream) or a camera's pictures (pool and camera_id)",
                ))
            }
        };
        e.locks()
            .into_iter()
            .find(|x| x.id == id)
            .map(view)
            .ok_or_else(|| ApiError::new(ApiCode::NotFound, "the lock lapsed at once"))
    })
    .await?;
    let what = format!(
        "locked {} from {} to {} (lock {})",
        lock.stream.as_deref().map_or_else(
            || format!("pictures of {:?}", lock.camera_id.as_deref().unwrap_or("")),
            |s| format!("stream {s}")
        ),
        lock.start,
        lock.end,
        lock.id
    );
    Ok(audited(what, (StatusCode::CREATED, Json(lock))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Extend {
    /// The new expiry; `null` = until unlocked.
    #[serde(deserialize_with = "de_opt_time")]
    expires: Option<i64>,
}

/// `PATCH /api/v1/locks/{id}`: a new expiry.
pub(super) async fn extend(S(state): S<Arc<State>>, Id(id): Id<u64>, Body(x): Body<Extend>) -> ApiResult<Response> {
    blocking(move || Ok(state.ctx.engine.extend_lock(LockId(id), x.expires)?)).await?;
    Ok(audited(format!("changed the expiry of lock {id}"), StatusCode::NO_CONTENT))
}

/// `DELETE /api/v1/locks/{id}`.
pub(super) async fn unlock(S(state): S<Arc<State>>, Id(id): Id<u64>) -> ApiResult<Response> {
    blocking(move || Ok(state.ctx.engine.unlock(LockId(id))?)).await?;
    Ok(audited(format!("unlocked lock {id}"), StatusCode::NO_CONTENT))
}
