//! Recording schedules over the API (manual 3.6.1): list with search by
//! camera name, id or IP address, view with status, and — beyond the
//! manual, which only views them, since no VMS pushes plans to us —
//! create, replace and delete; events start and stop event recording.
//! Passwords go in (`password`) and never come out (`has_password`).

use super::{Body, Id, PageQuery};
use crate::manage::error::ApiResult;
use crate::manage::{audited, blocking, State};
use crate::recording::ScheduleView;
use axum::extract::State as S;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

/// `GET /api/v1/schedules` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    /// Part of the camera name, camera id or IP address.
    search: Option<String>,
    page: Option<u64>,
    page_size: Option<u32>,
}

/// `GET /api/v1/schedules`.
pub(super) async fn list(
    S(state): S<Arc<State>>,
    super::Params(q): super::Params<ListQuery>,
) -> ApiResult<Json<super::Page<ScheduleView>>> {
    let page = PageQuery::from_parts(q.page, q.page_size)?;
    blocking(move || Ok(Json(page.of(state.ctx.recording.list(q.search.as_deref())?)))).await
}

/// `GET /api/v1/schedules/{id}`.
pub(super) async fn one(S(state): S<Arc<State>>, Id(id): Id<i64>) -> ApiResult<Json<ScheduleView>> {
    blocking(move || Ok(Json(state.ctx.recording.one(id)?))).await
}

fn describe(v: &ScheduleView) -> String {
    let s = &v.schedule;
    let name = if s.name.is_empty() { String::new() } else { format!(" ({})", s.name) };
    format!("recording schedule {} for camera {}{name} channel {} from {}", v.id, s.camera_id, s.channel, v.rtsp_url)
}

/// `POST /api/v1/schedules`.
pub(super) async fn create(S(state): S<Arc<State>>, Body(body): Body<serde_json::Value>) -> ApiResult<Response> {
    let v = blocking(move || Ok(state.ctx.recording.create(body)?)).await?;
    Ok(audited(format!("created {}", describe(&v)), (StatusCode::CREATED, Json(v))))
}

/// `PUT /api/v1/schedules/{id}`.
pub(super) async fn replace(
    S(state): S<Arc<State>>,
    Id(id): Id<i64>,
    Body(body): Body<serde_json::Value>,
) -> ApiResult<Response> {
    let v = blocking(move || Ok(state.ctx.recording.update(id, body)?)).await?;
    Ok(audited(format!("changed {}", describe(&v)), Json(v)))
}

/// `DELETE /api/v1/schedules/{id}`: stops recording (the recordings stay).
pub(super) async fn delete(S(state): S<Arc<State>>, Id(id): Id<i64>) -> ApiResult<Response> {
    let s = blocking(move || Ok(state.ctx.recording.delete(id)?)).await?;
    let what = format!("deleted recording schedule {id} for camera {} channel {}", s.camera_id, s.channel);
    Ok(audited(what, Json(serde_json::json!({ "deleted": id }))))
}

/// `POST /api/v1/schedules/{id}/events` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventBody {
    /// `start` or `stop`.
    state: EventState,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum EventState {
    Start,
    Stop,
}

/// `POST /api/v1/schedules/{id}/events`: an event starts (records from
/// now − pre-record) or stops (records post-record seconds more).
pub(super) async fn event(S(state): S<Arc<State>>, Id(id): Id<i64>, Body(b): Body<EventBody>) -> ApiResult<Response> {
    let start = matches!(b.state, EventState::Start);
    let v = blocking(move || Ok(state.ctx.recording.event(id, start)?)).await?;
    let what = format!("{} an event on {}", if start { "started" } else { "stopped" }, describe(&v));
    Ok(audited(what, (StatusCode::ACCEPTED, Json(v))))
}
