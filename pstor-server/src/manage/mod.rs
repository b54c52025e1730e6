//! The web management service on port 6060 (manual 1.5.4, chapters
//! 3.2–3.8): HTTPS (rustls), the administrator's sessions and bearer
//! tokens, and the REST API under `/api/v1` (docs/api.md, the OpenAPI
//! document in docs/openapi.json). One router, one authentication layer
//! ([`auth`]), one settings store and one log (the metadata database,
//! [`crate::meta`]): the recording, playback and picture services add their
//! routes to [`api`].
//!
//! Requests run on the server's tokio runtime; everything that blocks
//! (engine calls, the database, password hashing) runs on tokio's blocking
//! pool through [`blocking`].

pub mod api;
pub mod auth;
pub mod backups;
pub mod error;
pub mod metrics;
pub mod ntp;
pub mod tls;

use crate::access::{AccessControl, Service};
use crate::config::ManagementConfig;
use crate::dispatch::Context;
use crate::meta::logs::{LogKind, LogLevel, LogLimits, NewLog};
use crate::meta::MetaDb;
use auth::{Caller, Lockout, Sessions};
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::{ApiCode, ApiError, ApiResult};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Connections the management port serves at once; more wait in the
/// kernel's backlog.
const MAX_CONNECTIONS: usize = 512;

/// The addresses of the services, for the service status (3.3).
#[derive(Debug, Clone, Copy)]
pub struct ServicePorts {
    /// SDK signalling (6036).
    pub signalling: SocketAddr,
    /// SDK data (6037).
    pub data: SocketAddr,
    /// Management (6060); set once bound.
    pub management: Option<SocketAddr>,
}

/// What every request of the management service shares.
#[derive(Debug)]
pub struct State {
    /// The engine and the SDK side's job table.
    pub ctx: Arc<Context>,
    /// The metadata database.
    pub db: Arc<MetaDb>,
    /// Live sessions.
    pub sessions: Sessions,
    /// Failed logins.
    pub lockout: Lockout,
    /// Address restrictions of every port.
    pub access: Arc<AccessControl>,
    /// The SDK key pairs (3.8.5).
    pub keys: Arc<crate::credentials::KeyRing>,
    /// The configuration's section.
    pub cfg: ManagementConfig,
    /// The data folder.
    pub data_dir: PathBuf,
    /// The certificate served (None on a plain-HTTP port).
    pub tls: Option<tls::TlsIdentity>,
    /// The services' addresses.
    pub ports: ServicePorts,
    /// When the service started.
    pub started: Instant,
    /// The same, µs UTC.
    pub started_at: i64,
    /// The metadata database was created at this start and nobody has
    /// backed it up or restored one since ([`backups`]).
    pub fresh_database: std::sync::atomic::AtomicBool,
    /// The last NTP measurement.
    pub ntp: parking_lot::Mutex<ntp::NtpStatus>,
    /// Wakes the NTP schedule when its setting changes.
    pub ntp_changed: tokio::sync::Notify,
    /// The network shares (NAS).
    pub shares: Arc<crate::shares::Shares>,
}

impl State {
    /// The log's bounds.
    pub fn log_limits(&self) -> LogLimits {
        LogLimits { max_entries: self.cfg.log_max_entries, max_age_days: self.cfg.log_max_age_days }
    }

    /// Whether cookies carry `Secure` (always, but on a plain-HTTP port).
    pub fn secure_cookies(&self) -> bool {
        self.tls.is_some()
    }
}

/// Runs `f` on the blocking pool (engine calls, the database, hashing).
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> ApiResult<T> + Send + 'static) -> ApiResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => Err(ApiError::from(pstor_core::Error::Panic(format!(
            "a request panicked: {}",
            pstor_core::panic_message(e.into_panic().as_ref())
        )))),
        Err(e) => Err(ApiError::new(ApiCode::Unavailable, format!("the request was cut short: {e}"))),
    }
}

/// What a state-changing handler says it did, for the operation log; put
/// into its response's extensions ([`audited`]).
#[derive(Debug, Clone)]
pub struct Audit {
    /// The log's content, e.g. `created resource pool "cams" (id 7)`.
    pub content: String,
    /// The user, when the handler knows it better than the session (login).
    pub user: Option<String>,
}

/// A response with its operation-log line.
pub fn audited(content: impl Into<String>, resp: impl IntoResponse) -> Response {
    let mut r = resp.into_response();
    r.extensions_mut().insert(Audit { content: content.into(), user: None });
    r
}

/// Writes an operation or system log entry on the blocking pool; a
/// failure to log is itself logged (and never fails the request). The
/// answer goes out after its entry is written, so a client that sees it
/// finds the entry.
pub async fn log_entry(db: &Arc<MetaDb>, limits: LogLimits, entry: OwnedLog) {
    let db = Arc::clone(db);
    let _ = tokio::task::spawn_blocking(move || {
        let e = NewLog {
            kind: entry.kind,
            level: entry.level,
            ip: &entry.ip,
            user: &entry.user,
            content: &entry.content,
            result: &entry.result,
        };
        if let Err(err) = db.append_log(&e, limits) {
            tracing::error!(error = %err, content = %entry.content, "could not write the operation log");
        }
    })
    .await;
}

/// A log entry to write.
#[derive(Debug, Clone)]
pub struct OwnedLog {
    /// Operation or system.
    pub kind: LogKind,
    /// How serious.
    pub level: LogLevel,
    /// Client address.
    pub ip: String,
    /// User.
    pub user: String,
    /// What.
    pub content: String,
    /// `ok` or why not.
    pub result: String,
}

/// The message of an error response, for the operation log.
#[derive(Debug, Clone)]
pub struct Failure(pub String);

/// Every state-changing request writes one operation log entry: what the
/// handler said it did (or the method and path), who, from where, and the
/// result.
async fn audit(state: axum::extract::State<Arc<State>>, req: Request, next: Next) -> Response {
    let changing = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !changing {
        return next.run(req).await;
    }
    let ip = auth::peer_ip(&req).to_string();
    let what = format!("{} {}", req.method(), req.uri().path());
    let resp = next.run(req).await;
    let audit = resp.extensions().get::<Audit>().cloned();
    let user = audit
        .as_ref()
        .and_then(|a| a.user.clone())
        .or_else(|| resp.extensions().get::<Caller>().map(|c| c.user.clone()))
        .unwrap_or_default();
    let status = resp.status();
    let result = if status.is_success() {
        "ok".to_string()
    } else {
        let why = resp.extensions().get::<Failure>().map_or_else(|| status.to_string(), |f| f.0.clone());
        format!("failed ({}): {why}", status.as_u16())
    };
    let level = match status.as_u16() {
        0..=399 => LogLevel::Info,
        400..=499 => LogLevel::Warning,
        _ => LogLevel::Error,
    };
    let content = audit.map_or(what, |a| a.content);
    log_entry(&state.db, state.log_limits(), OwnedLog { kind: LogKind::Operation, level, ip, user, content, result })
        .await;
    resp
}

/// The outermost layer: the address restriction, and the headers every
/// answer carries (HSTS on TLS, no sniffing, no framing, no caching).
async fn guard(state: axum::extract::State<Arc<State>>, req: Request, next: Next) -> Response {
    let ip = auth::peer_ip(&req);
    let mut resp = if state.access.allows(Service::Management, ip) {
        next.run(req).await
    } else {
        auth::drain(req, state.cfg.max_body.0).await;
        ApiError::new(
            ApiCode::AddressNotAllowed,
            format!("{ip} is not in the management port's allowed address ranges (settings: access)"),
        )
        .into_response()
    };
    let h = resp.headers_mut();
    if state.tls.is_some() {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    resp
}

/// Counts each request of a route by its route, method and status.
async fn count(state: axum::extract::State<Arc<State>>, req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<axum::extract::MatchedPath>().map_or_else(String::new, |m| m.as_str().to_string());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let labels = vec![("route", route), ("method", method), ("status", resp.status().as_u16().to_string())];
    state.ctx.metrics.api_requests.get_or_create(&labels).inc();
    resp
}

async fn not_found(state: axum::extract::State<Arc<State>>, req: Request) -> ApiError {
    let path = req.uri().path().to_string();
    auth::drain(req, state.cfg.max_body.0).await;
    ApiError::new(ApiCode::NotFound, format!("no endpoint {path} (the API is under /api/v1, see /api/v1/openapi.json)"))
}

async fn method_not_allowed(state: axum::extract::State<Arc<State>>, req: Request) -> ApiError {
    let what = format!("{} does not take {}", req.uri().path(), req.method());
    auth::drain(req, state.cfg.max_body.0).await;
    ApiError::new(ApiCode::MethodNotAllowed, what)
}

/// The whole service: public and protected routes, the layers, the state.
pub fn router(state: Arc<State>) -> Router {
    let protected = api::protected().route_layer(from_fn_with_state(Arc::clone(&state), auth::require));
    let limit = usize::try_from(state.cfg.max_body.0).unwrap_or(usize::MAX);
    Router::new()
        .merge(api::public())
        .merge(protected)
        .route("/metrics", axum::routing::get(metrics::scrape))
        .route_layer(from_fn_with_state(Arc::clone(&state), count))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(Arc::clone(&state), audit))
        .layer(from_fn_with_state(Arc::clone(&state), guard))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves the management router on `listener` until `stop`.
pub async fn accept_loop(listener: TcpListener, state: Arc<State>, stop: watch::Receiver<bool>) {
    let acceptor = state.tls.as_ref().map(|t| tokio_rustls::TlsAcceptor::from(Arc::clone(&t.config)));
    crate::http::serve(listener, router(state), acceptor, MAX_CONNECTIONS, "management", stop).await
}

/// Where the first start writes the administrator's one-time password.
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

/// Makes sure the administrator exists: on the first start it gets a
/// random one-time password, written to `<data_dir>/initial-admin-password`
/// (mode 0600) and announced in the log; that password can only be changed
/// (manual 3.2.1), and changing it removes the file.
pub fn ensure_admin(db: &MetaDb, data_dir: &std::path::Path) -> Result<(), crate::ServerError> {
    let file = data_dir.join(INITIAL_PASSWORD_FILE);
    if let Some(pw) = db.ensure_admin()? {
        write_password_file(&file, &pw)?;
        tracing::info!(
            file = %file.display(),
            "created the administrator \"admin\" with a one-time password, in that file (mode 0600): log in with it \
             on the management port and choose a new password"
        );
    } else if file.exists() && db.user(crate::meta::users::ADMIN)?.is_some_and(|u| u.must_change) {
        tracing::info!(file = %file.display(), "the administrator's one-time password is still in that file");
    }
    Ok(())
}

/// Writes a password file: mode 0600 from its creation, fsynced.
pub fn write_password_file(file: &std::path::Path, pw: &str) -> Result<(), crate::ServerError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e| crate::ServerError::io(format!("writing {}", file.display()), e);
    let _ = std::fs::remove_file(file);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(file).map_err(io)?;
    f.write_all(format!("{pw}\n").as_bytes()).and_then(|_| f.sync_all()).map_err(io)
}

/// What [`prepare`] hands the server: the bound listener and the state.
#[derive(Debug)]
pub struct Prepared {
    /// Bound, non-blocking.
    pub listener: std::net::TcpListener,
    /// The shared state.
    pub state: Arc<State>,
}

/// Sets the management service up (administrator, certificate, sessions,
/// the bound port); the server then runs [`accept_loop`] on its runtime.
pub fn prepare(
    cfg: &crate::ServerConfig,
    ctx: Arc<Context>,
    db: Arc<MetaDb>,
    access: Arc<AccessControl>,
    keys: Arc<crate::credentials::KeyRing>,
    shares: Arc<crate::shares::Shares>,
    mut ports: ServicePorts,
) -> Result<Prepared, crate::ServerError> {
    let m = &cfg.management;
    let fresh = db.created();
    ensure_admin(&db, &cfg.data_dir)?;
    let bind = m.bind.unwrap_or(cfg.listen.bind);
    let tls = if m.plain_http {
        tracing::warn!(
            "the management port serves plain HTTP (management.plain_http): passwords cross the network in clear"
        );
        None
    } else {
        let configured = m.tls_cert.as_deref().zip(m.tls_key.as_deref());
        Some(tls::load(&cfg.data_dir, configured, bind)?)
    };
    let addr = SocketAddr::new(bind, m.port);
    let listener = std::net::TcpListener::bind(addr).map_err(|source| crate::ServerError::Bind { addr, source })?;
    listener.set_nonblocking(true).map_err(|source| crate::ServerError::Bind { addr, source })?;
    ports.management = Some(listener.local_addr().map_err(|e| crate::ServerError::io("reading a bound address", e))?);
    let sessions = Sessions::load(
        &db,
        Duration::from_secs(m.session_idle_minutes.saturating_mul(60)),
        Duration::from_secs(m.session_max_hours.saturating_mul(3600)),
    )?;
    let state = Arc::new(State {
        ctx,
        db,
        sessions,
        lockout: Lockout::new(m.lockout_failures, Duration::from_secs(m.lockout_secs)),
        access,
        keys,
        cfg: m.clone(),
        data_dir: cfg.data_dir.clone(),
        tls,
        ports,
        started: Instant::now(),
        started_at: crate::meta::now_us(),
        fresh_database: std::sync::atomic::AtomicBool::new(fresh),
        ntp: parking_lot::Mutex::new(ntp::NtpStatus::default()),
        ntp_changed: tokio::sync::Notify::new(),
        shares,
    });
    Ok(Prepared { listener, state })
}
