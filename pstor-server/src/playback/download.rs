//! The data port's files: `view.mp4` of a stream's range (by stream id,
//! or by camera, channel and main/sub), whole or a byte range, and its
//! SHA-256 sidecar. The file is planned ([`super::plan`]) before the
//! answer, so its length, ETag and Last-Modified are known; the body is
//! made piece by piece on the blocking pool as the client reads (at most
//! a few pieces ahead: memory does not grow with the file). When the
//! stored data goes while a file is sent (overwritten, a space lost), the
//! body fails: the connection is cut after the bytes already sent, which
//! were right; a client never gets another recording's bytes.

use super::plan::{plan, Export, PlanError};
use super::State;
use crate::manage::api::{parse_time, Id};
use crate::manage::blocking;
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use axum::body::Body;
use axum::extract::State as S;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use bytes::Bytes;
use pstor_core::{StreamId, StreamKind};
use pstor_http::{evaluate, format_date, parse_range, system_time, Conditions, RangeAsk, Verdict};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Bytes one step of the body makes (on the blocking pool).
const STEP_BYTES: u64 = 1 << 20;
/// Steps made ahead of what the client has taken.
const STEPS_AHEAD: usize = 2;

pub(super) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/health", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
        .route("/api/v1/streams/{stream}/view.mp4", get(file))
        .route("/api/v1/streams/{stream}/view.mp4.sha256", get(sha))
        .route("/api/v1/cameras/{camera}/{channel}/{kind}/view.mp4", get(file))
        .route("/api/v1/cameras/{camera}/{channel}/{kind}/view.mp4.sha256", get(sha))
        .route("/api/v1/streams/{stream}/init.mp4", get(super::segments::init))
        .route("/api/v1/streams/{stream}/media.m4s", get(super::segments::media))
        .route("/api/v1/cameras/{camera}/{channel}/{kind}/init.mp4", get(super::segments::init))
        .route("/api/v1/cameras/{camera}/{channel}/{kind}/media.m4s", get(super::segments::media))
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Engine(e) => e.into(),
            PlanError::Invalid(m) => ApiError::new(ApiCode::BadRequest, m),
            PlanError::NoRecording(m) => ApiError::new(ApiCode::NoRecording, m),
            PlanError::TooLong(m) => ApiError::new(ApiCode::ExportTooLong, m),
            PlanError::Unplayable(m) => ApiError::new(ApiCode::Unplayable, m),
        }
    }
}

/// A stream id of a path.
fn stream_id(s: &str) -> ApiResult<StreamId> {
    s.parse::<u64>()
        .map(StreamId)
        .map_err(|_| ApiError::new(ApiCode::BadRequest, format!("{s:?} is not a stream id (a number)")))
}

/// The stream of a camera id, channel and `main`/`sub`.
fn camera_stream(state: &State, camera: &str, channel: &str, kind: &str) -> ApiResult<StreamId> {
    let channel: u32 = channel
        .parse()
        .map_err(|_| ApiError::new(ApiCode::BadRequest, format!("{channel:?} is not a channel number")))?;
    let kind = match kind {
        "main" => StreamKind::Main,
        "sub" => StreamKind::Sub,
        other => return Err(ApiError::new(ApiCode::BadRequest, format!("{other:?} is neither main nor sub"))),
    };
    state.engine.find_stream(camera, channel, kind).ok_or_else(|| {
        ApiError::engine(
            pstor_core::ErrorCode::StreamNotFound,
            format!(
                "camera {camera:?} has no {} stream on channel {channel}",
                if kind == StreamKind::Main { "main" } else { "sub" }
            ),
        )
    })
}

/// A time parameter of a query (RFC 3339 or µs), if present; other
/// parameters (a signed link's) are left alone.
pub(super) fn query_param(query: Option<&str>, name: &str) -> ApiResult<Option<i64>> {
    let Some(v) = query.unwrap_or_default().split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')) else {
        return Ok(None);
    };
    let v = super::links::percent_decode(v)
        .ok_or_else(|| ApiError::new(ApiCode::BadRequest, format!("{name} is not valid percent-encoded UTF-8")))?;
    parse_time(&v).map(Some).map_err(|m| ApiError::new(ApiCode::BadRequest, format!("{name}: {m}")))
}

/// `link_secs` of a query (the lifetime of the links an answer hands
/// out), or `default`.
pub(super) fn link_secs(query: Option<&str>, default: i64) -> ApiResult<i64> {
    match query.unwrap_or_default().split('&').find_map(|kv| kv.strip_prefix("link_secs=")) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|&s| s > 0)
            .ok_or_else(|| ApiError::new(ApiCode::BadRequest, "link_secs must be a positive number of seconds")),
    }
}

/// `start` and `end` of a query.
pub(super) fn range_of(query: Option<&str>) -> ApiResult<(i64, i64)> {
    match (query_param(query, "start")?, query_param(query, "end")?) {
        (Some(s), Some(e)) => Ok((s, e)),
        _ => Err(ApiError::new(ApiCode::BadRequest, "start and end are needed (RFC 3339 or µs since 1970)")),
    }
}

/// The stream a path names: `/streams/{stream}/...` or
/// `/cameras/{camera}/{channel}/{main|sub}/...`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target(pub StreamId);

impl axum::extract::FromRequestParts<Arc<State>> for Target {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, ApiError> {
        let Id(p) = Id::<std::collections::HashMap<String, String>>::from_request_parts(parts, state).await?;
        let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
        match p.get("stream") {
            Some(s) => stream_id(s).map(Target),
            None => camera_stream(state, get("camera"), get("channel"), get("kind")).map(Target),
        }
    }
}

async fn file(S(state): S<Arc<State>>, Target(id): Target, req: Parts) -> ApiResult<Response> {
    serve(state, id, req).await
}

async fn sha(S(state): S<Arc<State>>, Target(id): Target, req: Parts) -> ApiResult<Response> {
    sidecar(state, id, req).await
}

/// A permit to make a file (or segment) now, or 503 with `Retry-After`.
pub(super) fn export_permit(state: &Arc<State>) -> ApiResult<tokio::sync::OwnedSemaphorePermit> {
    Arc::clone(&state.exports).try_acquire_owned().map_err(|_| {
        ApiError::new(
            ApiCode::Unavailable,
            format!("{} files are being made already (playback.max_exports): try again shortly", state.cfg.max_exports),
        )
        .retry_after(2)
    })
}

/// Plans the file of a request, holding an export permit.
async fn planned(
    state: &Arc<State>,
    id: StreamId,
    req: &Parts,
) -> ApiResult<(Export, tokio::sync::OwnedSemaphorePermit)> {
    let (start, end) = range_of(req.uri.query())?;
    let permit = export_permit(state)?;
    if let Some(e) = state.recent_plan((id, start, end)) {
        return Ok((e, permit));
    }
    let (engine, max) = (state.engine.clone(), state.max_range_us());
    let export = blocking(move || plan(&engine, id, start, end, max).map_err(ApiError::from)).await?;
    state.keep_plan((id, start, end), &export);
    Ok((export, permit))
}

/// `camera_ch1_main_20261204T101500Z-20261204T111500Z.mp4`: what and when,
/// in characters every file system takes.
pub(super) fn file_name(e: &Export) -> (String, String) {
    let c = &e.info.config;
    let kind = if c.kind == StreamKind::Main { "main" } else { "sub" };
    let name =
        format!("{}_ch{}_{kind}_{}-{}.mp4", c.camera_id, c.channel, compact_utc(e.shown_from), compact_utc(e.end));
    let safe: String = name
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.') { ch } else { '_' })
        .collect();
    (safe, name)
}

/// `YYYYMMDDThhmmssZ` of a µs UTC time.
fn compact_utc(us: i64) -> String {
    let (d, h, m, s, _) = super::utc_fields(us);
    format!("{:04}{:02}{:02}T{h:02}{m:02}{s:02}Z", d.year, d.month, d.day)
}

fn disposition(e: &Export, suffix: &str) -> HeaderValue {
    let (safe, full) = file_name(e);
    let encoded = super::links::encode(&format!("{full}{suffix}"));
    HeaderValue::from_str(&format!("attachment; filename=\"{safe}{suffix}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The headers every answer about a planned file carries.
fn validators(state: &State, e: &Export, h: &mut HeaderMap) {
    let mut put = |k: header::HeaderName, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    put(header::ETAG, e.etag.clone());
    put(header::LAST_MODIFIED, format_date(system_time(e.last_ts)));
    put(header::CACHE_CONTROL, "private, no-cache".into());
    if let Some(d) = state.digest(&e.etag) {
        put(
            header::HeaderName::from_static("repr-digest"),
            format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(d)),
        );
    }
    put(header::HeaderName::from_static("x-pstor-frames"), e.frames.to_string());
    put(header::HeaderName::from_static("x-pstor-first-frame"), e.first_ts.to_string());
    put(header::HeaderName::from_static("x-pstor-last-frame"), e.last_ts.to_string());
    put(header::HeaderName::from_static("x-pstor-shown-from"), e.shown_from.to_string());
}

/// `view.mp4`: the whole file, a byte range, 304/412 by the conditions.
async fn serve(state: Arc<State>, id: StreamId, req: Parts) -> ApiResult<Response> {
    let (e, permit) = planned(&state, id, &req).await?;
    let len = e.movie.len();
    let h = &req.headers;
    let c = Conditions {
        if_match: header_str(h, header::IF_MATCH),
        if_none_match: header_str(h, header::IF_NONE_MATCH),
        if_modified_since: header_str(h, header::IF_MODIFIED_SINCE),
        if_unmodified_since: header_str(h, header::IF_UNMODIFIED_SINCE),
        if_range: header_str(h, header::IF_RANGE),
    };
    let head = req.method == Method::HEAD;
    let mut resp = Response::new(Body::empty());
    validators(&state, &e, resp.headers_mut());
    match evaluate(&c, &e.etag, system_time(e.last_ts), true) {
        Verdict::NotModified => {
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            Ok(resp)
        }
        Verdict::Failed => {
            Err(ApiError::new(ApiCode::PreconditionFailed, "the file is not the one the conditions name"))
        }
        Verdict::Proceed { use_range } => {
            let ask = match header_str(h, header::RANGE) {
                Some(r) if use_range => parse_range(r, len),
                _ => RangeAsk::Whole,
            };
            let (first, last) = match ask {
                RangeAsk::Whole | RangeAsk::Several => (0, len - 1),
                RangeAsk::Part { first, last } => {
                    *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
                    let cr = format!("bytes {first}-{last}/{len}");
                    resp.headers_mut()
                        .insert(header::CONTENT_RANGE, HeaderValue::from_str(&cr).map_err(|_| bad_header())?);
                    (first, last)
                }
                RangeAsk::Unsatisfiable => {
                    let mut r = ApiError::new(ApiCode::RangeNotSatisfiable, format!("the file has {len} bytes"))
                        .into_response();
                    r.headers_mut().insert(
                        header::CONTENT_RANGE,
                        HeaderValue::from_str(&format!("bytes */{len}")).map_err(|_| bad_header())?,
                    );
                    return Ok(r);
                }
            };
            let hs = resp.headers_mut();
            hs.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            hs.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
            hs.insert(header::CONTENT_DISPOSITION, disposition(&e, ""));
            hs.insert(header::CONTENT_LENGTH, HeaderValue::from(last - first + 1));
            if !head {
                *resp.body_mut() = body(&state, e, first, last + 1, permit);
            }
            Ok(resp)
        }
    }
}

fn bad_header() -> ApiError {
    ApiError::new(ApiCode::BadRequest, "a header value could not be made")
}

/// Makes bytes `from..to` of a planned file on the blocking pool, a step
/// at a time, a few steps ahead of the client.
fn body(state: &Arc<State>, e: Export, from: u64, to: u64, permit: tokio::sync::OwnedSemaphorePermit) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(STEPS_AHEAD);
    let ctx = Arc::clone(&state.ctx);
    let state = Arc::clone(state);
    let engine = state.engine.clone();
    let stream = e.info.config.id;
    tokio::spawn(async move {
        let _permit = permit;
        let m = &ctx.metrics;
        m.playback_files.inc();
        m.playback_active.inc();
        let mut src = Some(e.source(&engine));
        let mut at = from;
        while at < to {
            let (movie, mut s) = (Arc::clone(&e.movie), src.take());
            let step = tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                let mut pos = at;
                let end = to.min(at + STEP_BYTES);
                let result = (|| {
                    let s = s.as_mut().ok_or_else(|| std::io::Error::other("no source"))?;
                    while pos < end {
                        let b = movie.read_at(s, pos, (end - pos) as usize)?;
                        if b.is_empty() {
                            return Err(std::io::Error::other("the file ended early"));
                        }
                        pos += b.len() as u64;
                        out.push(b);
                    }
                    Ok(())
                })();
                (s, out, pos, result)
            })
            .await;
            let (s, out, pos, result) = match step {
                Ok(x) => x,
                Err(_) => (None, Vec::new(), at, Err(std::io::Error::other("a step of the file panicked"))),
            };
            src = s;
            for b in out {
                m.playback_bytes.inc_by(b.len() as u64);
                if tx.send(Ok(b)).await.is_err() {
                    m.playback_active.dec();
                    return; // the client went away
                }
            }
            if let Err(err) = result {
                m.playback_aborted.inc();
                state.forget_plans(stream);
                tracing::warn!(%stream, at = pos, error = %err, "a file's stored data went while it was sent: the connection is cut");
                let _ = tx.send(Err(err)).await;
                break;
            }
            at = pos;
        }
        m.playback_active.dec();
    });
    Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// `view.mp4.sha256`: the file's SHA-256 in `sha256sum`'s format, made by
/// reading the whole file (and remembered: later downloads of the same
/// file carry it as `Repr-Digest`).
async fn sidecar(state: Arc<State>, id: StreamId, req: Parts) -> ApiResult<Response> {
    let (e, permit) = planned(&state, id, &req).await?;
    let digest = match state.digest(&e.etag) {
        Some(d) => d,
        None => {
            let (engine, movie) = (state.engine.clone(), Arc::clone(&e.movie));
            let (forget, stream) = (Arc::clone(&state), e.info.config.id);
            let mut src = e.source(&engine);
            let d = blocking(move || {
                let _permit = permit;
                let mut h = Sha256::new();
                let mut at = 0;
                while at < movie.len() {
                    let b = movie.read_at(&mut src, at, STEP_BYTES as usize).map_err(|err| {
                        forget.forget_plans(stream);
                        ApiError::new(
                            ApiCode::Conflict,
                            format!("the file's stored data went while it was read: {err}"),
                        )
                    })?;
                    h.update(&b);
                    at += b.len() as u64;
                }
                Ok(<[u8; 32]>::from(h.finalize()))
            })
            .await?;
            state.remember_digest(&e.etag, d);
            d
        }
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let (safe, _) = file_name(&e);
    let mut resp = (StatusCode::OK, format!("{hex}  {safe}\n")).into_response();
    validators(&state, &e, resp.headers_mut());
    let hs = resp.headers_mut();
    hs.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    hs.insert(header::CONTENT_DISPOSITION, disposition(&e, ".sha256"));
    Ok(resp)
}
