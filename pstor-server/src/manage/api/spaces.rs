//! Storage spaces (manual 3.5.1): the list, initializing folders as jobs
//! with progress, re-initializing (wipe) with confirmation, deleting a
//! Lost space, restoring a space found on disk.

use super::{Body, Confirm, Id, PageQuery, Params};
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::{audited, blocking, State};
use crate::volumes::{self, DeviceType};
use axum::extract::State as S;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use pstor_core::{SpaceId, SpaceInfo, SpaceSpec, SpaceStatus, WipeConfirmation};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// A space as the API shows it (the columns of the manual's Figure 3-15).
#[derive(Debug, Serialize)]
pub(super) struct SpaceView {
    id: u32,
    path: String,
    device_type: DeviceType,
    status: &'static str,
    progress: u8,
    capacity: u64,
    used: u64,
    free: u64,
    reserved: u64,
    /// Used share of the capacity, percent (one decimal).
    usage_pct: f64,
    segment_size: u64,
    detail: Option<String>,
}

/// The API's name of a space status.
pub fn status_name(s: SpaceStatus) -> &'static str {
    match s {
        SpaceStatus::Uninitialized => "uninitialized",
        SpaceStatus::Initializing => "initializing",
        SpaceStatus::Normal => "normal",
        SpaceStatus::Scanning => "scanning",
        SpaceStatus::Restoring => "restoring",
        SpaceStatus::Lost => "lost",
        SpaceStatus::Error => "error",
    }
}

fn view(s: SpaceInfo, mounts: &[volumes::Mount]) -> SpaceView {
    let usage_pct = if s.capacity == 0 { 0.0 } else { (s.used as f64 * 1000.0 / s.capacity as f64).round() / 10.0 };
    SpaceView {
        id: s.id.0,
        device_type: volumes::device_type_of(mounts, &s.path),
        path: s.path.display().to_string(),
        status: status_name(s.status),
        progress: s.progress,
        capacity: s.capacity,
        used: s.used,
        free: s.free,
        reserved: s.reserved,
        usage_pct,
        segment_size: s.segment_size,
        detail: s.detail,
    }
}

/// `GET /api/v1/spaces`.
pub(super) async fn list(
    S(state): S<Arc<State>>,
    Params(q): Params<PageQuery>,
) -> ApiResult<Json<super::Page<SpaceView>>> {
    let q = q.validate()?;
    blocking(move || {
        let mounts = volumes::mounts();
        let all = state.ctx.engine.spaces().into_iter().map(|s| view(s, &mounts)).collect();
        Ok(Json(q.of(all)))
    })
    .await
}

/// `GET /api/v1/spaces/{id}`.
pub(super) async fn one(S(state): S<Arc<State>>, Id(id): Id<u32>) -> ApiResult<Json<SpaceView>> {
    blocking(move || Ok(Json(view(state.ctx.engine.space(SpaceId(id))?, &volumes::mounts())))).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewSpace {
    path: PathBuf,
    capacity: u64,
    #[serde(default)]
    segment_size: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewSpaces {
    spaces: Vec<NewSpace>,
}

#[derive(Debug, Serialize)]
struct Started {
    path: String,
    job: u64,
    space: u32,
}

/// `POST /api/v1/spaces`: initializes one or many folders, each as a job
/// (follow it at `GET /api/v1/jobs/{job}` or on the space's progress). All
/// folders are checked before the first job starts: a wrong one starts none.
pub(super) async fn initialize(S(state): S<Arc<State>>, Body(req): Body<NewSpaces>) -> ApiResult<Response> {
    if req.spaces.is_empty() || req.spaces.len() > 64 {
        return Err(ApiError::new(ApiCode::BadRequest, "name 1 to 64 folders to initialize"));
    }
    let (started, names) = blocking(move || {
        let engine = &state.ctx.engine;
        let mut seen = std::collections::HashSet::new();
        for s in &req.spaces {
            absolute(&s.path)?;
            if !seen.insert(std::fs::canonicalize(&s.path).unwrap_or_else(|_| s.path.clone())) {
                return Err(ApiError::engine(
                    pstor_core::ErrorCode::InvalidArgument,
                    format!("{} is named twice", s.path.display()),
                ));
            }
            let minimum = state.cfg.min_space_capacity.0;
            if s.capacity < minimum {
                return Err(ApiError::engine(
                    pstor_core::ErrorCode::CapacityTooSmall,
                    format!(
                        "{}: a storage space needs at least {} (management.min_space_capacity), not {}",
                        s.path.display(),
                        crate::ByteSize(minimum),
                        crate::ByteSize(s.capacity)
                    ),
                ));
            }
            let spec = SpaceSpec { path: s.path.clone(), capacity: s.capacity, segment_size: s.segment_size };
            engine
                .check_space_spec(&spec)
                .map_err(|e| ApiError::engine(e.code(), format!("{}: {e}", s.path.display())))?;
        }
        let mut started = Vec::new();
        for s in req.spaces {
            let path = s.path.display().to_string();
            let job = engine.initialize_space(SpaceSpec {
                path: s.path,
                capacity: s.capacity,
                segment_size: s.segment_size,
            })?;
            let space = job.space.0;
            started.push(Started { path, job: state.ctx.jobs.add(job), space });
        }
        let names = started.iter().map(|s| format!("{} (space {})", s.path, s.space)).collect::<Vec<_>>().join(", ");
        Ok((started, names))
    })
    .await?;
    Ok(audited(format!("started initializing storage space {names}"), (StatusCode::ACCEPTED, Json(started))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RestoreSpace {
    path: PathBuf,
}

/// Refuses a relative path (it would depend on the server's working folder).
fn absolute(p: &std::path::Path) -> ApiResult<()> {
    if p.is_absolute() {
        Ok(())
    } else {
        Err(ApiError::engine(pstor_core::ErrorCode::InvalidArgument, format!("{}: give an absolute path", p.display())))
    }
}

/// `POST /api/v1/spaces/restore`: attaches a space found on disk
/// (Restoring → Scanning → Normal).
pub(super) async fn restore(S(state): S<Arc<State>>, Body(req): Body<RestoreSpace>) -> ApiResult<Response> {
    let path = req.path.display().to_string();
    absolute(&req.path)?;
    let started = blocking(move || {
        let job = state.ctx.engine.restore_space(&req.path)?;
        let space = job.space.0;
        Ok(Started { path: req.path.display().to_string(), job: state.ctx.jobs.add(job), space })
    })
    .await?;
    Ok(audited(
        format!("started restoring storage space {path} (space {})", started.space),
        (StatusCode::ACCEPTED, Json(started)),
    ))
}

/// `POST /api/v1/spaces/{id}/reinitialize` with `{"confirm": true}`:
/// deletes all the space's data.
pub(super) async fn reinitialize(
    S(state): S<Arc<State>>,
    Id(id): Id<u32>,
    Body(c): Body<Confirm>,
) -> ApiResult<Response> {
    c.require("re-initializing deletes all the data in the storage space")?;
    blocking(move || {
        crate::manage::backups::before(&state, &format!("re-initializing storage space {id}"));
        Ok(state.ctx.engine.reinitialize_space(SpaceId(id), Some(WipeConfirmation::DeleteAllDataInSpace))?)
    })
    .await?;
    Ok(audited(format!("re-initialized storage space {id} (all its data deleted)"), StatusCode::NO_CONTENT))
}

/// `DELETE /api/v1/spaces/{id}`: only a Lost (or Uninitialized) space.
pub(super) async fn delete(S(state): S<Arc<State>>, Id(id): Id<u32>) -> ApiResult<Response> {
    blocking(move || Ok(state.ctx.engine.delete_space(SpaceId(id))?)).await?;
    Ok(audited(format!("deleted storage space {id}"), StatusCode::NO_CONTENT))
}

/// `GET /api/v1/jobs/{id}`: a space job's progress and outcome.
pub(super) async fn job(S(state): S<Arc<State>>, Id(id): Id<u64>) -> ApiResult<Json<serde_json::Value>> {
    let j = state.ctx.jobs.status(id).map_err(|_| {
        ApiError::new(ApiCode::NotFound, format!("no space job {id} (finished jobs are forgotten after 64 newer ones)"))
    })?;
    let error = j.error.map(|e| {
        let code = pstor_core::ErrorCode::of(e.code);
        serde_json::json!({ "code": e.code, "name": code.c_name(), "message": e.message })
    });
    Ok(Json(serde_json::json!({
        "job": j.job,
        "space": j.space.0,
        "progress": j.progress,
        "state": if !j.finished { "running" } else if error.is_some() { "failed" } else { "done" },
        "error": error,
    })))
}
