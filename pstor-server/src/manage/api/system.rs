//! The system's face (manual 3.3, 3.3.2): health, about, time, service
//! status, the home page's summary; and the public documents (OpenAPI,
//! the TLS certificate).

use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::{blocking, State};
use crate::meta::logs::rfc3339_us;
use crate::meta::now_us;
use axum::extract::State as S;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use pstor_core::SpaceStatus;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The OpenAPI document, kept in docs/.
pub const OPENAPI: &str = include_str!("../../../../docs/openapi.json");

/// `GET /api/v1/health`: a probe for load balancers and monitors.
pub(super) async fn health(S(state): S<Arc<State>>) -> Response {
    let stopping = state.ctx.stopping.load(Ordering::SeqCst);
    let open = state.ctx.engine.check_open().is_ok();
    let status = if open && !stopping { "ok" } else { "stopping" };
    let code = if status == "ok" { axum::http::StatusCode::OK } else { axum::http::StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(serde_json::json!({ "status": status }))).into_response()
}

/// `GET /api/v1/openapi.json`.
pub(super) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /api/v1/certificate`: the certificate the port serves, PEM.
pub(super) async fn certificate(S(state): S<Arc<State>>) -> ApiResult<Response> {
    let tls = state
        .tls
        .as_ref()
        .ok_or_else(|| ApiError::new(ApiCode::NotFound, "this port serves plain HTTP: no certificate"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"pstor-management.pem\""),
        ],
        tls.cert_pem.clone(),
    )
        .into_response())
}

/// `GET /api/v1/system/about` (3.3.2).
pub(super) async fn about(S(state): S<Arc<State>>) -> ApiResult<Json<serde_json::Value>> {
    let st = Arc::clone(&state);
    let (spaces, pools, streams, report) = blocking(move || {
        let e = &st.ctx.engine;
        Ok((e.spaces().len(), e.pools().len(), e.streams().len(), e.open_report()))
    })
    .await?;
    Ok(Json(serde_json::json!({
        "product": "pstor",
        "version": env!("CARGO_PKG_VERSION"),
        "build": format!("{} {}", std::env::consts::ARCH, if cfg!(debug_assertions) { "debug" } else { "release" }),
        "license": env!("CARGO_PKG_LICENSE"),
        "started_at": state.started_at,
        "uptime_secs": state.started.elapsed().as_secs(),
        "engine": {
            "status": if state.ctx.engine.check_open().is_ok() { "open" } else { "closed" },
            "last_stop_clean": report.last_stop_clean,
            "spaces": spaces,
            "pools": pools,
            "streams": streams,
        },
    })))
}

/// `GET /api/v1/system/time` (3.3: the server's system time).
pub(super) async fn time(S(state): S<Arc<State>>) -> ApiResult<Json<serde_json::Value>> {
    blocking(move || {
        let now = now_us();
        let lt = super::time::local_time(&state)?;
        let mut v = super::time::describe(&lt, now);
        v["now"] = now.into();
        v["utc"] = rfc3339_us(now).into();
        Ok(Json(v))
    })
    .await
}

#[derive(Debug, Serialize)]
pub(super) struct ServiceView {
    name: &'static str,
    description: &'static str,
    address: Option<String>,
    /// What pstor tells clients to use (the NIC choice and this port).
    announced: Option<String>,
    /// The same as a client outside reaches it (the address mapping).
    wan: Option<String>,
    status: &'static str,
}

/// `GET /api/v1/system/services` (3.3: service status), with the address
/// each is announced at (3.8.6) and mapped to (3.8.7).
pub(super) async fn services(S(state): S<Arc<State>>) -> ApiResult<Json<Vec<ServiceView>>> {
    blocking(move || {
        let stopping = state.ctx.stopping.load(Ordering::SeqCst);
        let status = if stopping { "stopping" } else { "running" };
        let p = state.ports;
        let ip = super::network::announced_ip(&state)?;
        let all = [
            ("sdk-signalling", "SDK signalling (6036)", Some(p.signalling)),
            ("sdk-data", "SDK data (6037)", Some(p.data)),
            ("management", "web management and REST API (6060)", p.management),
        ];
        let mut out = Vec::with_capacity(all.len());
        for (name, description, bound) in all {
            let announced = ip.zip(bound).map(|(ip, b)| std::net::SocketAddr::new(ip, b.port()));
            let wan = match announced {
                Some(a) => super::network::wan_of(&state, a)?,
                None => None,
            };
            out.push(ServiceView {
                name,
                description,
                address: bound.map(|a| a.to_string()),
                announced: announced.map(|a| a.to_string()),
                wan: wan.map(|a| a.to_string()),
                status,
            });
        }
        Ok(Json(out))
    })
    .await
}

/// `GET /api/v1/system/summary`: the home page (3.3).
pub(super) async fn summary(S(state): S<Arc<State>>) -> ApiResult<Json<serde_json::Value>> {
    blocking(move || {
        let e = &state.ctx.engine;
        let spaces = e.spaces();
        let in_service =
            |s: &&pstor_core::SpaceInfo| !matches!(s.status, SpaceStatus::Lost | SpaceStatus::Uninitialized);
        let total: u64 = spaces.iter().filter(in_service).map(|s| s.capacity).sum();
        let used: u64 = spaces.iter().filter(in_service).map(|s| s.used).sum();
        let free: u64 = spaces.iter().filter(in_service).map(|s| s.free).sum();
        let count = |st: SpaceStatus| spaces.iter().filter(|s| s.status == st).count();
        let streams = e.streams();
        let (schedules, enabled, scheduled_cameras) = state.ctx.recording.counts()?;
        let mut cameras: BTreeSet<&str> = streams.iter().map(|s| s.config.camera_id.as_str()).collect();
        let listed = state.ctx.recording.list(None)?;
        cameras.extend(listed.iter().map(|v| v.schedule.camera_id.as_str()));
        let accessible = listed
            .iter()
            .filter(|v| v.status.as_ref().is_some_and(|s| s.state == pstor_recorder::RecordingState::Normal))
            .count();
        Ok(Json(serde_json::json!({
            "capacity": { "total": total, "used": used, "free": free },
            "recording_schedules": { "live": schedules, "enabled": enabled, "historical": 0 },
            "scheduled_cameras": scheduled_cameras,
            "accessible_cameras": accessible,
            "cameras": cameras.len(),
            "streams": streams.len(),
            "pools": e.pools().len(),
            "spaces": {
                "total": spaces.len(),
                "normal": count(SpaceStatus::Normal),
                "uninitialized": count(SpaceStatus::Uninitialized),
                "lost": count(SpaceStatus::Lost),
            },
        })))
    })
    .await
}
