//! The signalling port's answers: what is recorded of a stream in a time
//! range, with signed data-port links to the whole range and to each
//! recorded part; signed links to any data-port file on request; and a
//! redirect (307) of file requests to the data port, so that one URL on
//! either port gets the file.

use super::download::{link_secs, range_of, Target};
use super::{request_host, Grant, State};
use crate::manage::api::Body;
use crate::manage::blocking;
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use axum::extract::{Request, State as S};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use pstor_core::StreamKind;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The player page (Media Source Extensions over the HLS playlists): in
/// the binary, nothing from elsewhere.
const PLAYER_HTML: &str = include_str!("../../assets/player/player.html");
const PLAYER_JS: &str = include_str!("../../assets/player/player.js");
const PLAYER_CSS: &str = include_str!("../../assets/player/player.css");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}

/// `/player.html`: the page, with a Content-Security-Policy that lets it
/// fetch only from this server's playback ports (no inline script).
async fn player_page(S(state): S<Arc<State>>, req: Parts) -> Response {
    let host = request_host(&req.headers, &req.uri, state.data_addr);
    let scheme = if state.tls { "https" } else { "http" };
    let data = format!("{scheme}://{}", super::authority(&host, state.data_addr.port()));
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' {data}; \
         media-src 'self' {data} blob:; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    );
    let mut r = asset("text/html; charset=utf-8", PLAYER_HTML);
    if let Ok(v) = HeaderValue::from_str(&csp) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

/// Lifetime of the links a listing hands out unless asked otherwise.
const DEFAULT_LINK_SECS: i64 = 3600;

pub(super) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/health", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .route("/player.html", get(player_page))
        .route("/player.js", get(|| async { asset("text/javascript; charset=utf-8", PLAYER_JS) }))
        .route("/player.css", get(|| async { asset("text/css; charset=utf-8", PLAYER_CSS) }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/api/v1/streams/{stream}/recordings", get(recordings))
        .route("/api/v1/cameras/{camera}/{channel}/{kind}/recordings", get(recordings))
        .route("/api/v1/streams/{stream}/playlist.m3u8", get(super::hls::recording))
        .route("/api/v1/cameras/{camera}/{channel}/{kind}/playlist.m3u8", get(super::hls::recording))
        .route("/api/v1/streams/{stream}/live.m3u8", get(super::hls::live))
        .route("/api/v1/cameras/{camera}/{channel}/{kind}/live.m3u8", get(super::hls::live))
        .route("/api/v1/links", post(create_link))
        .route("/api/v1/streams/{stream}/{file}", get(to_data_port))
        .route("/api/v1/cameras/{camera}/{channel}/{kind}/{file}", get(to_data_port))
}

/// A recorded part and its file.
#[derive(Debug, Serialize)]
struct Part {
    start: i64,
    end: i64,
    mp4: String,
}

/// What [`recordings`] answers.
#[derive(Debug, Serialize)]
struct Recordings {
    stream: String,
    camera_id: String,
    channel: u32,
    kind: &'static str,
    codec: String,
    start: i64,
    end: i64,
    /// Recorded parts (gaps up to the engine's tolerance merged).
    ranges: Vec<Part>,
    /// The whole range as one file, and its SHA-256.
    mp4: String,
    sha256: String,
    /// When the links expire (Unix seconds).
    expires: i64,
}

async fn recordings(S(state): S<Arc<State>>, Target(id): Target, req: Parts) -> ApiResult<Response> {
    let (start, end) = range_of(req.uri.query())?;
    if end < start {
        return Err(ApiError::new(ApiCode::BadRequest, "the range ends before it starts"));
    }
    let secs = link_secs(req.uri.query(), DEFAULT_LINK_SECS)?;
    let host = request_host(&req.headers, &req.uri, state.data_addr);
    let engine = state.engine.clone();
    let (info, ranges) = blocking(move || {
        let info = engine.stream(id)?;
        let tol = engine.options().gap_tolerance_us;
        Ok((info, engine.recorded_ranges(id, start, end, tol)?))
    })
    .await?;
    let file = |a: i64, b: i64, suffix: &str| {
        state.link(&host, &format!("/api/v1/streams/{id}/view.mp4{suffix}?start={a}&end={b}"), secs)
    };
    let (mp4, expires) = file(start, end, "");
    let c = &info.config;
    let body = Recordings {
        stream: id.to_string(),
        camera_id: c.camera_id.clone(),
        channel: c.channel,
        kind: if c.kind == StreamKind::Main { "main" } else { "sub" },
        codec: c.codec.clone(),
        start,
        end,
        ranges: ranges.into_iter().map(|(a, b)| Part { start: a, end: b, mp4: file(a, b, "").0 }).collect(),
        mp4,
        sha256: file(start, end, ".sha256").0,
        expires,
    };
    Ok(Json(body).into_response())
}

/// What `POST /api/v1/links` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkAsk {
    /// A data-port path with its query, e.g. `/api/v1/streams/7/view.mp4?start=...&end=...`.
    path: String,
    /// Seconds it stays valid (default an hour, at most the configured maximum).
    expires_in_secs: Option<i64>,
}

async fn create_link(S(state): S<Arc<State>>, Extension(grant): Extension<Grant>, req: Request) -> ApiResult<Response> {
    if matches!(grant, Grant::Link(_)) {
        return Err(ApiError::new(ApiCode::BadLink, "a signed link cannot make links: use a session or an API token"));
    }
    let host = request_host(req.headers(), req.uri(), state.data_addr);
    let Body(ask) = Body::<LinkAsk>::from_request(req, &()).await?;
    let p = ask.path.as_str();
    let data_file = (p.starts_with("/api/v1/streams/") || p.starts_with("/api/v1/cameras/"))
        && p.split('?').next().is_some_and(|path| path.ends_with("/view.mp4") || path.ends_with("/view.mp4.sha256"));
    if !data_file || p.chars().any(|c| c.is_control() || c == ' ' || c == '#') {
        return Err(ApiError::new(
            ApiCode::BadRequest,
            "path must be a data-port file: /api/v1/streams/{stream}/view.mp4?start=...&end=... (or .../view.mp4.sha256, or the cameras form)",
        ));
    }
    if p.split(['?', '&']).any(|kv| kv.starts_with("sig=") || kv.starts_with("exp=") || kv.starts_with("key=")) {
        return Err(ApiError::new(ApiCode::BadRequest, "path must not carry exp, key or sig: the link adds them"));
    }
    let secs = ask.expires_in_secs.unwrap_or(DEFAULT_LINK_SECS);
    if secs <= 0 || secs > state.link_max_secs() {
        return Err(ApiError::new(
            ApiCode::BadRequest,
            format!("expires_in_secs must be 1 to {} (playback.link_max_hours)", state.link_max_secs()),
        ));
    }
    let (url, expires) = state.link(&host, p, secs);
    Ok((StatusCode::CREATED, Json(serde_json::json!({"url": url, "expires": expires}))).into_response())
}

use axum::extract::FromRequest;

/// A file asked of the signalling port: 307 to the same path and query
/// on the data port.
async fn to_data_port(S(state): S<Arc<State>>, req: Request) -> ApiResult<Response> {
    let path = req.uri().path();
    let data_file = ["/view.mp4", "/view.mp4.sha256", "/init.mp4", "/media.m4s"];
    if !data_file.iter().any(|f| path.ends_with(f)) {
        return Err(ApiError::new(ApiCode::NotFound, format!("no endpoint {path} on the signalling port")));
    }
    let host = request_host(req.headers(), req.uri(), state.data_addr);
    let scheme = if state.tls { "https" } else { "http" };
    let pq = req.uri().path_and_query().map_or(path, |p| p.as_str());
    let to = format!("{scheme}://{}{pq}", super::authority(&host, state.data_addr.port()));
    let mut r = StatusCode::TEMPORARY_REDIRECT.into_response();
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&to).map_err(|_| ApiError::new(ApiCode::BadRequest, "bad path"))?,
    );
    Ok(r)
}
