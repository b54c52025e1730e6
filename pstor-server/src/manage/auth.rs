//! Who is calling: sessions (a random token in the `pstor_session`
//! cookie, `HttpOnly; Secure; SameSite=Strict`, server-side idle and
//! absolute expiry, a CSRF token for every state-changing request), bearer
//! tokens for scripts (`Authorization: Bearer pst_...`, created and revoked
//! by the admin), the forced password change of a one-time password
//! (manual 3.2.1) and the brute-force lockout.
//!
//! Tokens are stored only as SHA-256 hashes (sessions in the metadata
//! database, so a restart keeps them; a cache in memory answers requests).

use super::error::{ApiCode, ApiError};
use super::State;
use crate::meta::users::{random_hex, token_hash, SessionRow};
use crate::meta::{now_us, MetaDb};
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "pstor_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Bearer tokens start with this.
pub const TOKEN_PREFIX: &str = "pst_";

/// How a request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A session cookie (the hash of its token).
    Session([u8; 32]),
    /// A bearer token (its id).
    Token(i64),
}

/// The authenticated caller, in every protected request's extensions (and
/// its response's, for the operation log).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: String,
    /// The client's address.
    pub ip: IpAddr,
    /// How.
    pub via: Via,
}

/// The client's address, put into every request by the accept loop (tests
/// put it themselves).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub IpAddr);

/// The client address of a request (unspecified when nobody said).
pub fn peer_ip(req: &Request) -> IpAddr {
    req.extensions().get::<PeerAddr>().map_or(IpAddr::from([0, 0, 0, 0]), |p| p.0)
}

/// The session table: the database's rows, cached.
#[derive(Debug)]
pub struct Sessions {
    live: Mutex<HashMap<[u8; 32], Live>>,
    idle: i64,
    max: i64,
}

#[derive(Debug, Clone)]
struct Live {
    row: SessionRow,
    /// `last_seen` as last written to the database.
    persisted_seen: i64,
}

/// `last_seen` is written back at most this often (µs).
const TOUCH_EVERY_US: i64 = 60_000_000;

/// A session just created: the cookie's token (shown once) and its row.
#[derive(Debug)]
pub struct NewSession {
    /// The token for the cookie.
    pub token: String,
    /// What is stored.
    pub row: SessionRow,
}

/// What [`Sessions::validate`] found.
enum Check {
    /// No such session (never, logged out, revoked).
    Unknown,
    /// It ended by expiry just now.
    Expired,
    /// Live; `touch`: write `last_seen` back.
    Live { row: SessionRow, touch: bool },
}

impl Sessions {
    /// The table, loaded from the database (expired rows dropped).
    pub fn load(db: &MetaDb, idle: Duration, max: Duration) -> Result<Sessions, crate::meta::MetaError> {
        let us = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let s = Sessions { live: Mutex::new(HashMap::new()), idle: us(idle), max: us(max) };
        let now = now_us();
        for row in db.sessions()? {
            if s.expired(&row, now) {
                db.delete_sessions(Some(&row.token_hash), &row.user)?;
            } else {
                s.live.lock().insert(row.token_hash, Live { persisted_seen: row.last_seen, row });
            }
        }
        Ok(s)
    }

    fn expired(&self, row: &SessionRow, now: i64) -> bool {
        now - row.last_seen > self.idle || now - row.created_at > self.max
    }

    /// The idle timeout in seconds.
    pub fn idle_secs(&self) -> i64 {
        self.idle / 1_000_000
    }

    /// When a session ends at the latest (µs).
    pub fn absolute_end(&self, row: &SessionRow) -> i64 {
        row.created_at.saturating_add(self.max)
    }

    /// Creates a session (blocking: writes the database).
    pub fn create(&self, db: &MetaDb, user: &str, must_change: bool, ip: IpAddr) -> Result<NewSession, ApiError> {
        let token = random_hex(32);
        let now = now_us();
        let row = SessionRow {
            token_hash: token_hash(&token),
            user: user.to_string(),
            csrf: random_hex(24),
            must_change,
            created_at: now,
            last_seen: now,
            ip: ip.to_string(),
        };
        db.insert_session(&row)?;
        self.live.lock().insert(row.token_hash, Live { row: row.clone(), persisted_seen: now });
        Ok(NewSession { token, row })
    }

    /// The session of a token hash, its last request set to now.
    fn validate(&self, hash: &[u8; 32]) -> Check {
        let now = now_us();
        let mut g = self.live.lock();
        let Some(live) = g.get_mut(hash) else { return Check::Unknown };
        if self.expired(&live.row, now) {
            g.remove(hash);
            return Check::Expired;
        }
        live.row.last_seen = now;
        let touch = now - live.persisted_seen > TOUCH_EVERY_US;
        if touch {
            live.persisted_seen = now;
        }
        Check::Live { row: live.row.clone(), touch }
    }

    /// Ends one session (logout).
    pub fn revoke(&self, db: &MetaDb, hash: &[u8; 32], user: &str) -> Result<(), ApiError> {
        self.live.lock().remove(hash);
        db.delete_sessions(Some(hash), user)?;
        Ok(())
    }

    /// Ends every session of `user` but `keep`, whose must-change flag is
    /// lifted (after a password change).
    pub fn revoke_others(&self, db: &MetaDb, user: &str, keep: Option<&[u8; 32]>) -> Result<(), ApiError> {
        let kept = keep.and_then(|k| self.live.lock().get(k).cloned());
        self.live.lock().retain(|_, l| l.row.user != user);
        db.delete_sessions(None, user)?;
        if let Some(mut k) = kept {
            k.row.must_change = false;
            db.insert_session(&k.row)?;
            self.live.lock().insert(k.row.token_hash, k);
        }
        Ok(())
    }

    /// Ends every session (a restored database brings other accounts).
    pub fn clear_all(&self, db: &MetaDb) -> Result<(), ApiError> {
        self.live.lock().clear();
        db.with(|c| c.execute("DELETE FROM sessions", []).map(drop))?;
        Ok(())
    }

    /// A session's row.
    pub fn get(&self, hash: &[u8; 32]) -> Option<SessionRow> {
        self.live.lock().get(hash).map(|l| l.row.clone())
    }
}

/// Failed logins per user and per address, and who is locked out.
#[derive(Debug)]
pub struct Lockout {
    state: Mutex<HashMap<String, Failures>>,
    max: u32,
    cool_down: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Entries kept before stale ones are swept (an attacker with many
/// addresses must not grow the table without bound).
const MAX_TRACKED: usize = 65_536;

impl Lockout {
    /// After `max` failures, refuse for `cool_down`.
    pub fn new(max: u32, cool_down: Duration) -> Self {
        Lockout { state: Mutex::new(HashMap::new()), max, cool_down }
    }

    fn keys(user: &str, ip: IpAddr) -> [String; 2] {
        [format!("user:{user}"), format!("ip:{ip}")]
    }

    /// Seconds left of a lockout of this user or address, if any.
    pub fn locked(&self, user: &str, ip: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let g = self.state.lock();
        Self::keys(user, ip)
            .iter()
            .filter_map(|k| g.get(k)?.locked_until.filter(|&u| u > now).map(|u| (u - now).as_secs().max(1)))
            .max()
    }

    /// Counts a failure; true when it starts a lockout.
    pub fn failed(&self, user: &str, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut g = self.state.lock();
        if g.len() > MAX_TRACKED {
            let horizon = self.cool_down;
            g.retain(|_, f| now.duration_since(f.last) < horizon || f.locked_until.is_some_and(|u| u > now));
        }
        let mut started = false;
        for k in Self::keys(user, ip) {
            let f = g.entry(k).or_insert(Failures { count: 0, last: now, locked_until: None });
            // Failures a cool-down's length ago are forgiven; so is a lockout that ended.
            if now.duration_since(f.last) > self.cool_down || f.locked_until.is_some_and(|u| u <= now) {
                *f = Failures { count: 0, last: now, locked_until: None };
            }
            f.count += 1;
            f.last = now;
            if f.count >= self.max && f.locked_until.is_none() {
                f.locked_until = Some(now + self.cool_down);
                started = true;
            }
        }
        started
    }

    /// A successful login clears the user's and the address's count.
    pub fn succeeded(&self, user: &str, ip: IpAddr) {
        let mut g = self.state.lock();
        for k in Self::keys(user, ip) {
            g.remove(&k);
        }
    }

    /// The cool-down, seconds.
    pub fn cool_down_secs(&self) -> u64 {
        self.cool_down.as_secs()
    }
}

/// The token of an `Authorization: Bearer ...` header (either case of
/// `Bearer`), if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).map(str::trim)
}

/// Whether an address is this host's (loopback, also IPv4-mapped).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        v4 => v4.is_loopback(),
    }
}

/// The session token of the request's cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// The `Set-Cookie` value of a new session (`secure`: the Secure flag,
/// always on except on a plain-HTTP port).
pub fn set_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly;{} SameSite=Strict",
        if secure { " Secure;" } else { "" }
    )
}

/// The `Set-Cookie` value that deletes it.
pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", 0, secure)
}

/// Equal, in time independent of where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a session with a must-change password may still do (3.2.1): read
/// and end itself, and change the password.
fn allowed_before_password_change(method: &Method, path: &str) -> bool {
    matches!(
        (method, path),
        (&Method::GET | &Method::DELETE, "/api/v1/session") | (&Method::PUT, "/api/v1/session/password")
    )
}

fn state_changing(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The layer of every protected route: a bearer token or a live session
/// (with its CSRF token on state-changing requests, and only the password
/// change while the password must change), else 401/403.
pub async fn require(
    state: axum::extract::State<Arc<State>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let ip = peer_ip(&req);
    let found = authenticate(&state, ip, req.headers(), req.method(), req.uri().path()).await;
    match found {
        Ok(caller) => {
            req.extensions_mut().insert(caller.clone());
            let mut resp = next.run(req).await;
            resp.extensions_mut().insert(caller);
            Ok(resp)
        }
        Err(e) => {
            drain(req, state.cfg.max_body.0).await;
            Err(e)
        }
    }
}

/// Reads a refused request's body (up to `limit`) before the answer goes
/// out: an HTTP/2 client still sending it would otherwise see its stream
/// reset instead of the answer.
pub async fn drain(req: Request, limit: u64) {
    let _ = axum::body::to_bytes(req.into_body(), usize::try_from(limit).unwrap_or(usize::MAX)).await;
}

/// Who a request's bearer token or session cookie is, checked as
/// [`require`] does (CSRF, must-change password).
pub async fn authenticate(
    state: &Arc<State>,
    ip: IpAddr,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
) -> Result<Caller, ApiError> {
    let bearer = bearer_token(headers).map(str::to_string);
    let caller = if let Some(token) = bearer {
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(ApiError::new(ApiCode::Unauthenticated, "not a pstor API token (they start with pst_)"));
        }
        let db = Arc::clone(&state.db);
        let found = super::blocking(move || Ok(db.use_token(&token_hash(&token))?)).await?;
        let (id, user) =
            found.ok_or_else(|| ApiError::new(ApiCode::Unauthenticated, "unknown or revoked API token"))?;
        Caller { user, ip, via: Via::Token(id) }
    } else {
        let token = session_cookie(headers)
            .ok_or_else(|| ApiError::new(ApiCode::Unauthenticated, "log in first: POST /api/v1/session"))?;
        let hash = token_hash(token);
        let (row, touch) = match state.sessions.validate(&hash) {
            Check::Live { row, touch } => (row, touch),
            Check::Unknown => {
                return Err(ApiError::new(
                    ApiCode::Unauthenticated,
                    "no such session (logged out or revoked): log in again",
                ))
            }
            Check::Expired => {
                let db = Arc::clone(&state.db);
                let _ = super::blocking(move || Ok(db.delete_sessions(Some(&hash), "")?)).await;
                return Err(ApiError::new(ApiCode::Unauthenticated, "the session expired: log in again"));
            }
        };
        if touch {
            let db = Arc::clone(&state.db);
            let seen = row.last_seen;
            tokio::task::spawn_blocking(move || {
                if let Err(e) = db.touch_session(&hash, seen) {
                    tracing::warn!(error = %e, "could not record a session's last request");
                }
            });
        }
        if state_changing(method) {
            let sent = headers.get(CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
            if !same(sent, row.csrf.as_bytes()) {
                return Err(ApiError::new(
                    ApiCode::Csrf,
                    "state-changing requests of a session must carry its CSRF token in X-CSRF-Token \
                     (csrf_token of the login answer, or of GET /api/v1/session)",
                ));
            }
        }
        if row.must_change && !allowed_before_password_change(method, path) {
            return Err(ApiError::new(
                ApiCode::PasswordChangeRequired,
                "this password is one-time or was reset: change it first (PUT /api/v1/session/password)",
            ));
        }
        Caller { user: row.user, ip, via: Via::Session(hash) }
    };
    Ok(caller)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_after_the_limit_per_user_and_per_address() {
        let l = Lockout::new(3, Duration::from_secs(60));
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        assert!(!l.failed("admin", a) && !l.failed("admin", a));
        assert_eq!(l.locked("admin", a), None);
        assert!(l.failed("admin", a), "the third failure starts it");
        assert!(l.locked("admin", b).is_some(), "the user is locked from any address");
        assert!(l.locked("other", a).is_some(), "the address is locked for any user");
        assert_eq!(l.locked("other", b), None);
        l.succeeded("other", b);
        assert!(l.locked("admin", a).is_some(), "a success elsewhere does not lift it");
    }

    #[test]
    fn cookies_and_csrf_compare() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; pstor_session=abc; b=2".parse().expect("header"));
        assert_eq!(session_cookie(&h), Some("abc"));
        assert_eq!(set_cookie("t", 60, true), "pstor_session=t; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Strict");
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
        assert!(allowed_before_password_change(&Method::PUT, "/api/v1/session/password"));
        assert!(!allowed_before_password_change(&Method::GET, "/api/v1/pools"));
    }
}
