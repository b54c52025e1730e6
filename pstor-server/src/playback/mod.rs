//! Playback and download (manual 1.5.4): two HTTP(S) ports over the same
//! engine. The **signalling** port (6038) says what there is and where:
//! a stream's recorded ranges with signed links to them, signed links on
//! request, a redirect of file requests to the data port. The **data**
//! port (6039) serves the bytes: a fast-start `.mp4` of any range, built
//! on the fly ([`plan`], `pstor_media::mp4`), with `Range`, `HEAD`,
//! `ETag`, conditional requests and a SHA-256 sidecar (docs/playback.md).
//!
//! Who may: a management session (its cookie; the ports are on the same
//! host, so the browser sends it) or API token, or a signed link
//! ([`links`]) that a player without either can use until it expires.
//! The address restrictions' `playback` list applies to both ports.

mod download;
mod hls;
pub mod links;
pub mod plan;
mod segments;
mod signalling;

use crate::access::{AccessControl, Service};
use crate::config::PlaybackConfig;
use crate::credentials::KeyRing;
use crate::manage::auth;
use crate::manage::error::{ApiCode, ApiError};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use parking_lot::Mutex;
use pstor_core::Engine;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// What anyone may fetch: the health probe and the player page's assets
/// (static; they hold no data).
const PUBLIC: [&str; 5] = ["/api/v1/health", "/player.html", "/player.js", "/player.css", "/favicon.ico"];

/// Connections each playback port serves at once.
const MAX_CONNECTIONS: usize = 512;
/// SHA-256 digests of served files kept (by ETag), for the header of
/// later downloads of the same file.
const DIGESTS_KEPT: usize = 1024;

/// Plans kept for the Range requests that follow a first one (a player
/// seeking in a long file asks for many parts of it), this long.
const PLAN_TTL: std::time::Duration = std::time::Duration::from_secs(30);
/// Plans kept at most.
const PLANS_KEPT: usize = 16;

/// A planned file of (stream, start, end) and when it was planned.
type Plans = HashMap<(pstor_core::StreamId, i64, i64), (std::time::Instant, plan::Export)>;

/// SHA-256 digests by ETag, and their insertion order (oldest evicted first).
type Digests = (HashMap<String, [u8; 32]>, VecDeque<String>);

/// How a request was let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// A management session or API token of this user.
    User(String),
    /// A signed link of this key.
    Link(String),
}

/// What both ports share.
#[derive(Debug)]
pub struct State {
    /// The engine.
    pub engine: Engine,
    /// The management service (sessions, tokens), when it runs.
    pub management: Option<Arc<crate::manage::State>>,
    /// Address restrictions.
    pub access: Arc<AccessControl>,
    /// The SDK key pairs, whose secrets sign links.
    pub keys: Arc<KeyRing>,
    /// This server's own link key.
    link_key: [u8; 32],
    /// The configuration's section.
    pub cfg: PlaybackConfig,
    /// Files being made now (a permit each, held until the body ends).
    pub exports: Arc<Semaphore>,
    /// SHA-256 of files made whole, by ETag.
    digests: Mutex<Digests>,
    /// Recent plans (kept `PLAN_TTL`).
    plans: Mutex<Plans>,
    /// Where the data port listens (links point there).
    pub data_addr: SocketAddr,
    /// Whether the ports serve TLS.
    pub tls: bool,
    /// The engine's context (the counters for /metrics).
    pub ctx: Arc<crate::dispatch::Context>,
}

impl State {
    /// A digest computed for a file of this ETag.
    pub fn digest(&self, etag: &str) -> Option<[u8; 32]> {
        self.digests.lock().0.get(etag).copied()
    }

    fn remember_digest(&self, etag: &str, d: [u8; 32]) {
        let mut g = self.digests.lock();
        if g.0.insert(etag.to_string(), d).is_none() {
            g.1.push_back(etag.to_string());
        }
        while g.1.len() > DIGESTS_KEPT {
            if let Some(old) = g.1.pop_front() {
                g.0.remove(&old);
            }
        }
    }

    /// A plan of (stream, start, end) made less than `PLAN_TTL` (30 s) ago.
    pub fn recent_plan(&self, key: (pstor_core::StreamId, i64, i64)) -> Option<plan::Export> {
        let mut g = self.plans.lock();
        g.retain(|_, (at, _)| at.elapsed() < PLAN_TTL);
        g.get(&key).map(|(_, e)| e.clone())
    }

    /// Keeps a plan for the requests that follow.
    pub fn keep_plan(&self, key: (pstor_core::StreamId, i64, i64), e: &plan::Export) {
        let mut g = self.plans.lock();
        if g.len() >= PLANS_KEPT {
            if let Some(oldest) = g.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| *k) {
                g.remove(&oldest);
            }
        }
        g.insert(key, (std::time::Instant::now(), e.clone()));
    }

    /// Forgets the plans of a stream (its stored data went under one).
    pub fn forget_plans(&self, stream: pstor_core::StreamId) {
        self.plans.lock().retain(|k, _| k.0 != stream);
    }

    /// A data-port URL of `path_and_query`, signed with the server's key,
    /// valid `secs` (at most the configured maximum) from now; `host` is
    /// the host the client reached us by.
    pub fn link(&self, host: &str, path_and_query: &str, secs: i64) -> (String, i64) {
        let max = self.link_max_secs();
        let expires = now_secs() + secs.clamp(1, max);
        let signed = links::signed(path_and_query, links::SERVER_KEY, &self.link_key, expires);
        let scheme = if self.tls { "https" } else { "http" };
        (format!("{scheme}://{}{signed}", authority(host, self.data_addr.port())), expires)
    }

    /// Longest link lifetime, seconds.
    pub fn link_max_secs(&self) -> i64 {
        i64::try_from(self.cfg.link_max_hours.saturating_mul(3600)).unwrap_or(i64::MAX).max(1)
    }

    /// Longest range of one file, µs.
    pub fn max_range_us(&self) -> i64 {
        i64::try_from(self.cfg.max_range_hours.saturating_mul(3_600_000_000)).unwrap_or(i64::MAX)
    }
}

/// `host:port` for a link: the host part of the client's `Host` (IPv6
/// literals keep their brackets) with the data port.
fn authority(host: &str, port: u16) -> String {
    let h = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    format!("{h}:{port}")
}

/// The UTC calendar fields of a µs time: date, hour, minute, second, ms.
pub(crate) fn utc_fields(us: i64) -> (pstor_core::Date, i64, i64, i64, i64) {
    let s = us.div_euclid(1_000_000);
    let t = s.rem_euclid(86_400);
    (pstor_core::Date::from_days(s.div_euclid(86_400)), t / 3600, t / 60 % 60, t % 60, us.rem_euclid(1_000_000) / 1000)
}

/// Now, Unix seconds.
pub fn now_secs() -> i64 {
    crate::meta::now_us() / 1_000_000
}

/// The host a request reached us by (its `Host` header, or `:authority`).
pub fn request_host(req_headers: &axum::http::HeaderMap, uri: &axum::http::Uri, fallback: SocketAddr) -> String {
    req_headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| fallback.to_string())
}

/// The layer of both ports: the address list, then a signed link or a
/// session / token; CORS for the data port's signed links (a player page
/// on another port fetches them); the headers every answer carries.
async fn authorize(state: axum::extract::State<Arc<State>>, mut req: Request, next: Next) -> Response {
    let ip = auth::peer_ip(&req);
    let mut resp = if !state.access.allows(Service::Playback, ip) {
        ApiError::new(
            ApiCode::AddressNotAllowed,
            format!("{ip} is not in the playback ports' allowed address ranges (settings: access)"),
        )
        .into_response()
    } else if req.method() == Method::OPTIONS {
        // A CORS preflight carries no credentials.
        Response::new(axum::body::Body::empty())
    } else if PUBLIC.contains(&req.uri().path()) {
        next.run(req).await
    } else {
        let (method, uri, headers) = (req.method().clone(), req.uri().clone(), req.headers().clone());
        match grant(&state, &method, &uri, &headers, ip).await {
            Ok(g) => {
                req.extensions_mut().insert(g);
                next.run(req).await
            }
            Err(e) => e.into_response(),
        }
    };
    let h = resp.headers_mut();
    if state.tls {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, OPTIONS"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Range, If-Range, If-None-Match, If-Modified-Since"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "Content-Range, Content-Length, Accept-Ranges, ETag, Repr-Digest, X-Pstor-Frames, X-Pstor-Codecs",
        ),
    );
    resp
}

/// Who a request is: its signed link, else its session or token.
async fn grant(
    state: &Arc<State>,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    ip: std::net::IpAddr,
) -> Result<Grant, ApiError> {
    match links::parts(uri.path(), uri.query()) {
        Err(e) => Err(ApiError::new(ApiCode::BadLink, e.to_string())),
        Ok(Some(p)) => {
            if !matches!(*method, Method::GET | Method::HEAD) {
                return Err(ApiError::new(ApiCode::BadLink, "a signed link is for GET and HEAD only"));
            }
            let secret = if p.key == links::SERVER_KEY {
                state.link_key.to_vec()
            } else {
                state
                    .keys
                    .secret(&p.key)
                    .ok_or_else(|| {
                        ApiError::new(ApiCode::BadLink, "the link's key is not one of this server's SDK keys")
                    })?
                    .into_bytes()
            };
            links::verify(&p, &secret, now_secs(), state.link_max_secs()).map_err(|e| match e {
                links::LinkError::Expired(_) => ApiError::new(ApiCode::LinkExpired, e.to_string()),
                links::LinkError::Bad(m) => ApiError::new(ApiCode::BadLink, m),
            })?;
            Ok(Grant::Link(p.key))
        }
        Ok(None) => {
            let Some(m) = &state.management else {
                return Err(ApiError::new(
                    ApiCode::Unauthenticated,
                    "the management service is off: the playback ports take signed links only",
                ));
            };
            let caller = auth::authenticate(m, ip, headers, method, uri.path()).await?;
            Ok(Grant::User(caller.user))
        }
    }
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(ApiCode::NotFound, format!("no endpoint {} on this port (docs/playback.md)", req.uri().path()))
}

/// The signalling port's router.
pub fn signalling_router(state: Arc<State>) -> Router {
    signalling::routes().fallback(not_found).layer(from_fn_with_state(Arc::clone(&state), authorize)).with_state(state)
}

/// The data port's router.
pub fn data_router(state: Arc<State>) -> Router {
    download::routes().fallback(not_found).layer(from_fn_with_state(Arc::clone(&state), authorize)).with_state(state)
}

/// The bound ports and the state, ready to serve.
#[derive(Debug)]
pub struct Prepared {
    /// Signalling (6038).
    pub signalling: std::net::TcpListener,
    /// Data (6039).
    pub data: std::net::TcpListener,
    /// The shared state.
    pub state: Arc<State>,
    /// TLS, unless plain HTTP.
    pub tls: Option<crate::manage::tls::TlsIdentity>,
}

/// Binds the ports and makes the state.
pub fn prepare(
    cfg: &crate::ServerConfig,
    ctx: Arc<crate::dispatch::Context>,
    management: Option<Arc<crate::manage::State>>,
    access: Arc<AccessControl>,
    keys: Arc<KeyRing>,
) -> Result<Prepared, crate::ServerError> {
    let p = &cfg.playback;
    let bind = p.bind.unwrap_or(cfg.listen.bind);
    let listen = |port: u16| -> Result<std::net::TcpListener, crate::ServerError> {
        let addr = SocketAddr::new(bind, port);
        let l = std::net::TcpListener::bind(addr).map_err(|source| crate::ServerError::Bind { addr, source })?;
        l.set_nonblocking(true).map_err(|source| crate::ServerError::Bind { addr, source })?;
        Ok(l)
    };
    let (signalling, data) = (listen(p.port)?, listen(p.data_port)?);
    let data_addr = data.local_addr().map_err(|e| crate::ServerError::io("reading a bound address", e))?;
    let tls = if p.plain_http {
        tracing::warn!("the playback ports serve plain HTTP (playback.plain_http): links and cookies cross in clear");
        None
    } else if let Some(t) = management.as_ref().and_then(|m| m.tls.clone()) {
        Some(t)
    } else {
        let m = &cfg.management;
        Some(crate::manage::tls::load(&cfg.data_dir, m.tls_cert.as_deref().zip(m.tls_key.as_deref()), bind)?)
    };
    let state = Arc::new(State {
        engine: ctx.engine.clone(),
        management,
        access,
        keys,
        link_key: crate::keyfile::load_or_create(&cfg.data_dir, links::KEY_FILE)?,
        cfg: p.clone(),
        exports: Arc::new(Semaphore::new(p.max_exports.max(1))),
        digests: Mutex::new((HashMap::new(), VecDeque::new())),
        plans: Mutex::new(HashMap::new()),
        data_addr,
        tls: tls.is_some(),
        ctx,
    });
    Ok(Prepared { signalling, data, state, tls })
}

/// Serves both ports until `stop`.
pub fn spawn(
    p: Prepared,
    runtime: &tokio::runtime::Runtime,
    stop: &watch::Receiver<bool>,
) -> Result<(), crate::ServerError> {
    let _rt = runtime.enter();
    let acceptor = p.tls.as_ref().map(|t| tokio_rustls::TlsAcceptor::from(Arc::clone(&t.config)));
    let reg = |l| TcpListener::from_std(l).map_err(|e| crate::ServerError::io("registering a listener", e));
    let (s, d) = (reg(p.signalling)?, reg(p.data)?);
    runtime.spawn(crate::http::serve(
        s,
        signalling_router(Arc::clone(&p.state)),
        acceptor.clone(),
        MAX_CONNECTIONS,
        "playback signalling",
        stop.clone(),
    ));
    runtime.spawn(crate::http::serve(
        d,
        data_router(p.state),
        acceptor,
        MAX_CONNECTIONS,
        "playback data",
        stop.clone(),
    ));
    Ok(())
}
