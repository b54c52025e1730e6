//! The management API in-process (tower `oneshot` on the server's own
//! router, over a real engine and metadata database): the first login's
//! forced password change, sessions, CSRF, lockout, bearer tokens, the
//! error shapes, and the areas of the manual it serves.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::TestServer;
use http_body_util::BodyExt;
use pstor_server::manage::auth::PeerAddr;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::path::Path;
use tower::ServiceExt;

const NEW_PASSWORD: &str = "Camera-Vault-2026";

/// A server with its router and a runtime to drive requests on.
struct Api {
    ts: TestServer,
    router: axum::Router,
    rt: tokio::runtime::Runtime,
}

/// An answer: status, headers, JSON body (or the text as a JSON string).
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
    text: String,
}

impl Answer {
    /// The error's code, checking the error shape.
    fn code(&self) -> u64 {
        let e = &self.body["error"];
        assert!(e["name"].as_str().is_some_and(|n| n.starts_with("PSTOR_")), "error shape: {}", self.text);
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "error shape: {}", self.text);
        e["code"].as_u64().unwrap()
    }
}

/// How a request authenticates.
#[derive(Clone, Default)]
struct Auth {
    cookie: Option<String>,
    csrf: Option<String>,
    bearer: Option<String>,
}

impl Api {
    fn start() -> Api {
        Self::with(|_| {})
    }

    fn with(f: impl FnOnce(&mut pstor_server::ServerConfig)) -> Api {
        let ts = TestServer::with(f);
        let router = ts.server().management_router().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Api { ts, router, rt }
    }

    fn raw(&self, req: Request<Body>) -> Answer {
        let resp = self.rt.block_on(self.router.clone().oneshot(req)).unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = self.rt.block_on(resp.into_body().collect()).unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Answer { status, headers, body, text }
    }

    fn from(&self, ip: IpAddr, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Answer {
        let mut b = Request::builder().method(method).uri(path).extension(PeerAddr(ip));
        if let Some(c) = &auth.cookie {
            b = b.header(header::COOKIE, format!("pstor_session={c}"));
        }
        if let Some(c) = &auth.csrf {
            b = b.header("x-csrf-token", c);
        }
        if let Some(t) = &auth.bearer {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        };
        self.raw(req.unwrap())
    }

    fn call(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Answer {
        self.from(IpAddr::from([127, 0, 0, 1]), method, path, auth, body)
    }

    fn initial_password(&self) -> String {
        let p = self.ts.cfg.data_dir.join("initial-admin-password");
        std::fs::read_to_string(p).unwrap().trim().to_string()
    }

    /// Logs in; the session.
    fn login(&self, user: &str, password: &str) -> (Answer, Auth) {
        let a = self.call(
            Method::POST,
            "/api/v1/session",
            &Auth::default(),
            Some(json!({"user": user, "password": password})),
        );
        let cookie = a
            .headers
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().trim_start_matches("pstor_session=").to_string());
        let csrf = a.body["csrf_token"].as_str().map(String::from);
        (a, Auth { cookie, csrf, bearer: None })
    }

    /// The admin with the one-time password changed: a full session.
    fn admin(&self) -> Auth {
        let (a, auth) = self.login("admin", &self.initial_password());
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let change = json!({"current_password": self.initial_password(), "new_password": NEW_PASSWORD});
        let c = self.call(Method::PUT, "/api/v1/session/password", &auth, Some(change));
        assert_eq!(c.status, StatusCode::NO_CONTENT, "{}", c.text);
        auth
    }

    /// The operation log's newest entries' contents.
    fn log_contents(&self, auth: &Auth) -> Vec<String> {
        let a = self.call(Method::GET, "/api/v1/logs?kind=operation&page_size=100", auth, None);
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        a.body["items"].as_array().unwrap().iter().map(|e| e["content"].as_str().unwrap().to_string()).collect()
    }
}

#[test]
fn the_one_time_password_can_only_be_changed() {
    let api = Api::start();
    let file = api.ts.cfg.data_dir.join("initial-admin-password");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let once = api.initial_password();
    assert!(once.len() >= 12);

    let (a, auth) = api.login("admin", &once);
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["must_change_password"], json!(true));
    let cookie = a.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    // Nothing else works with it, reads included.
    for (m, p) in
        [(Method::GET, "/api/v1/pools"), (Method::GET, "/api/v1/system/summary"), (Method::GET, "/api/v1/logs")]
    {
        let r = api.call(m, p, &auth, None);
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, 801), "{p}: {}", r.text);
    }
    let r = api.call(Method::POST, "/api/v1/pools", &auth, Some(json!({"name": "x", "kind": "video", "capacity": 1})));
    assert_eq!(r.code(), 801);
    assert_eq!(api.call(Method::GET, "/api/v1/session", &auth, None).status, StatusCode::OK);

    // The rules, and the current password, are checked.
    let weak = api.call(
        Method::PUT,
        "/api/v1/session/password",
        &auth,
        Some(json!({"current_password": once, "new_password": "lowercaseonly"})),
    );
    assert_eq!((weak.status, weak.code()), (StatusCode::UNPROCESSABLE_ENTITY, 806));
    assert!(weak.body["error"]["message"].as_str().unwrap().contains("at least two kinds"), "{}", weak.text);
    let wrong = api.call(
        Method::PUT,
        "/api/v1/session/password",
        &auth,
        Some(json!({"current_password": "nope", "new_password": NEW_PASSWORD})),
    );
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, 802));

    let ok = api.call(
        Method::PUT,
        "/api/v1/session/password",
        &auth,
        Some(json!({"current_password": once, "new_password": NEW_PASSWORD})),
    );
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text);
    assert!(!file.exists(), "the one-time password file goes with the change");
    assert_eq!(
        api.call(Method::GET, "/api/v1/pools", &auth, None).status,
        StatusCode::OK,
        "the same session now works"
    );
    assert_eq!(api.login("admin", &once).0.code(), 802, "the one-time password is gone");
    let (again, _) = api.login("admin", NEW_PASSWORD);
    assert_eq!(again.body["must_change_password"], json!(false));
    assert!(api.log_contents(&auth).iter().any(|c| c.contains("changed the password")));
}

/// Every endpoint but the public ones, with a method it takes.
const PROTECTED: &[(&str, &str)] = &[
    ("GET", "/api/v1/session"),
    ("DELETE", "/api/v1/session"),
    ("PUT", "/api/v1/session/password"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/1"),
    ("GET", "/api/v1/system/about"),
    ("GET", "/api/v1/system/time"),
    ("GET", "/api/v1/system/services"),
    ("GET", "/api/v1/system/summary"),
    ("GET", "/api/v1/spaces"),
    ("POST", "/api/v1/spaces"),
    ("POST", "/api/v1/spaces/restore"),
    ("GET", "/api/v1/spaces/1"),
    ("DELETE", "/api/v1/spaces/1"),
    ("POST", "/api/v1/spaces/1/reinitialize"),
    ("GET", "/api/v1/jobs/1"),
    ("GET", "/api/v1/pools"),
    ("POST", "/api/v1/pools"),
    ("GET", "/api/v1/pools/1"),
    ("PATCH", "/api/v1/pools/1"),
    ("DELETE", "/api/v1/pools/1"),
    ("GET", "/api/v1/locks"),
    ("POST", "/api/v1/locks"),
    ("PATCH", "/api/v1/locks/1"),
    ("DELETE", "/api/v1/locks/1"),
    ("GET", "/api/v1/streams"),
    ("GET", "/api/v1/inspection/day"),
    ("GET", "/api/v1/inspection/month"),
    ("GET", "/api/v1/inspection/hour"),
    ("GET", "/api/v1/logs"),
    ("DELETE", "/api/v1/logs"),
    ("GET", "/api/v1/logs.csv"),
    ("GET", "/api/v1/settings/thresholds"),
    ("PUT", "/api/v1/settings/thresholds"),
    ("GET", "/api/v1/settings/access"),
    ("PUT", "/api/v1/settings/access"),
    ("GET", "/api/v1/settings/features"),
    ("PUT", "/api/v1/settings/features"),
    ("GET", "/api/v1/system/interfaces"),
    ("GET", "/api/v1/settings/network"),
    ("PUT", "/api/v1/settings/network"),
    ("GET", "/api/v1/settings/mapping"),
    ("PUT", "/api/v1/settings/mapping"),
    ("GET", "/api/v1/settings/mapping.txt"),
    ("GET", "/api/v1/settings/ntp"),
    ("PUT", "/api/v1/settings/ntp"),
    ("POST", "/api/v1/settings/ntp/sync"),
    ("GET", "/api/v1/settings/time"),
    ("PUT", "/api/v1/settings/time"),
    ("GET", "/api/v1/settings/time/zones"),
    ("GET", "/api/v1/backups"),
    ("POST", "/api/v1/backups"),
    ("POST", "/api/v1/backups/restore"),
    ("GET", "/api/v1/keys"),
    ("POST", "/api/v1/keys/download"),
    ("POST", "/api/v1/keys/reset"),
    ("GET", "/api/v1/volumes"),
    ("GET", "/api/v1/folders"),
    ("POST", "/api/v1/folders"),
    ("PATCH", "/api/v1/folders"),
    ("DELETE", "/api/v1/folders"),
    ("GET", "/api/v1/nas"),
    ("POST", "/api/v1/nas"),
    ("GET", "/api/v1/nas/1"),
    ("DELETE", "/api/v1/nas/1"),
    ("POST", "/api/v1/nas/1/mount"),
    ("GET", "/api/v1/schedules"),
    ("POST", "/api/v1/schedules"),
    ("GET", "/api/v1/schedules/1"),
    ("PUT", "/api/v1/schedules/1"),
    ("DELETE", "/api/v1/schedules/1"),
    ("POST", "/api/v1/schedules/1/events"),
    ("GET", "/metrics"),
];

#[test]
fn every_endpoint_but_the_public_ones_needs_a_session() {
    let api = Api::start();
    let forged = Auth { cookie: Some("0".repeat(64)), ..Auth::default() };
    let bad_bearer = Auth { bearer: Some("pst_0000".into()), ..Auth::default() };
    for (m, p) in PROTECTED {
        let m: Method = m.parse().unwrap();
        for auth in [&Auth::default(), &forged, &bad_bearer] {
            let r = api.call(m.clone(), p, auth, Some(json!({})));
            assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, 800), "{m} {p}: {}", r.text);
            assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
        }
    }
    for p in ["/api/v1/health", "/api/v1/openapi.json", "/api/v1/certificate"] {
        let r = api.call(Method::GET, p, &Auth::default(), None);
        assert_eq!(r.status, StatusCode::OK, "{p}: {}", r.text);
    }
    let cert = api.call(Method::GET, "/api/v1/certificate", &Auth::default(), None);
    assert!(cert.text.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(cert.headers.get(header::STRICT_TRANSPORT_SECURITY).is_some(), "HSTS on a TLS port");
    assert_eq!(cert.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
}

#[test]
fn state_changes_of_a_session_need_its_csrf_token() {
    let api = Api::start();
    let auth = api.admin();
    let pool = json!({"name": "evidence", "kind": "video", "capacity": 4 << 20});
    let none = Auth { csrf: None, ..auth.clone() };
    let wrong = Auth { csrf: Some("0".repeat(48)), ..auth.clone() };
    for a in [&none, &wrong] {
        let r = api.call(Method::POST, "/api/v1/pools", a, Some(pool.clone()));
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, 804), "{}", r.text);
    }
    assert_eq!(api.call(Method::GET, "/api/v1/pools", &none, None).status, StatusCode::OK, "reads need none");
    let r = api.call(Method::POST, "/api/v1/pools", &auth, Some(pool));
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(!api.ts.server().engine().pools().iter().all(|p| p.config.name != "evidence"));
}

#[test]
fn five_failures_lock_the_user_out_and_say_so_in_the_log() {
    let api = Api::start();
    let once = api.initial_password();
    for i in 0..5 {
        let (a, _) = api.login("admin", &format!("wrong-{i}"));
        assert_eq!((a.status, a.code()), (StatusCode::UNAUTHORIZED, 802), "{}", a.text);
    }
    let (locked, _) = api.login("admin", &once);
    assert_eq!((locked.status, locked.code()), (StatusCode::TOO_MANY_REQUESTS, 803), "{}", locked.text);
    let retry: u64 = locked.headers.get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    // The address is locked for any user, too.
    let (other, _) = api.login("nobody", "whatever-1");
    assert_eq!(other.code(), 803);
    // From another address, the user is still locked.
    let from = IpAddr::from([10, 9, 8, 7]);
    let body = json!({"user": "admin", "password": once});
    let a = api.from(from, Method::POST, "/api/v1/session", &Auth::default(), Some(body));
    assert_eq!(a.code(), 803);
    // The log says it (read through the database: nobody can log in now).
    let db = api.ts.server().metadata();
    let f = pstor_server::meta::logs::LogFilter { text: Some("locked out".into()), ..Default::default() };
    assert!(db.count_logs(&f).unwrap() >= 1);
    let f = pstor_server::meta::logs::LogFilter { text: Some("login".into()), ..Default::default() };
    assert!(db.count_logs(&f).unwrap() >= 5, "every failed login is an operation log entry");
}

#[test]
fn logout_and_revocation_end_access_at_once() {
    let api = Api::start();
    let auth = api.admin();
    let t = api.call(Method::POST, "/api/v1/tokens", &auth, Some(json!({"name": "backup script"})));
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    let token = t.body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("pst_"));
    let bearer = Auth { bearer: Some(token.clone()), ..Auth::default() };
    assert_eq!(api.call(Method::GET, "/api/v1/system/about", &bearer, None).status, StatusCode::OK);
    // A bearer request needs no CSRF token.
    let th = json!({"overwrite_pct": 12, "alarm_pct": 15, "volume_free_pct": 1});
    assert_eq!(api.call(Method::PUT, "/api/v1/settings/thresholds", &bearer, Some(th)).status, StatusCode::NO_CONTENT);
    assert_eq!(api.ts.server().engine().thresholds().alarm_pct, 15);
    let list = api.call(Method::GET, "/api/v1/tokens", &auth, None);
    assert!(!list.text.contains(&token[4..]), "the token is shown only once");
    let id = list.body[0]["id"].as_i64().unwrap();
    assert!(list.body[0]["last_used"].as_i64().is_some());
    assert_eq!(api.call(Method::DELETE, &format!("/api/v1/tokens/{id}"), &auth, None).status, StatusCode::NO_CONTENT);
    assert_eq!(api.call(Method::GET, "/api/v1/system/about", &bearer, None).code(), 800);

    let out = api.call(Method::DELETE, "/api/v1/session", &auth, None);
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(api.call(Method::GET, "/api/v1/pools", &auth, None).code(), 800);
}

#[test]
fn sessions_survive_a_restart_and_expire_on_the_server() {
    let mut api = Api::start();
    let auth = api.admin();
    let data = api.ts.cfg.clone();
    api.ts.server.take().unwrap().shutdown().unwrap();
    let server = pstor_server::Server::start(data.clone()).unwrap();
    api.router = server.management_router().unwrap();
    assert_eq!(api.call(Method::GET, "/api/v1/pools", &auth, None).status, StatusCode::OK, "kept over a restart");
    // Age the session past the idle timeout in the database: the next start drops it.
    let db = server.metadata().clone();
    db.with(|c| c.execute("UPDATE sessions SET last_seen = last_seen - 31 * 60 * 1000000", [])).unwrap();
    drop(db);
    server.shutdown().unwrap();
    let server = pstor_server::Server::start(data).unwrap();
    api.router = server.management_router().unwrap();
    let r = api.call(Method::GET, "/api/v1/pools", &auth, None);
    assert_eq!(r.code(), 800, "idle past 30 minutes: {}", r.text);
    api.ts.server = Some(server);
}

#[test]
fn errors_have_one_shape_and_fitting_statuses() {
    let api = Api::start();
    let auth = api.admin();
    let a = |m: Method, p: &str, b: Option<Value>| api.call(m, p, &auth, b);
    let r = a(Method::GET, "/api/v1/nowhere", None);
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 807));
    let r = a(Method::PUT, "/api/v1/pools", Some(json!({})));
    assert_eq!((r.status, r.code()), (StatusCode::METHOD_NOT_ALLOWED, 809));
    let r = a(Method::GET, "/api/v1/pools/12345", None);
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 302), "an engine error keeps its number");
    let r = a(Method::GET, "/api/v1/pools/abc", None);
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, 808));
    let r = a(Method::GET, "/api/v1/pools?page=0", None);
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, 808));
    let r = a(Method::POST, "/api/v1/pools", Some(json!({"name": "x", "kind": "audio", "capacity": 1})));
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, 808), "{}", r.text);
    let r = a(Method::POST, "/api/v1/pools", Some(json!({"name": "x", "kind": "video", "capacity": 1u64 << 60})));
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, 303), "{}", r.text);
    let r = a(Method::DELETE, "/api/v1/pools/1", None);
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, 213), "confirmation first: {}", r.text);
    // Not JSON, and too large.
    let req = |body: Body, ct: Option<&str>| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/pools")
            .extension(PeerAddr(IpAddr::from([127, 0, 0, 1])))
            .header(header::COOKIE, format!("pstor_session={}", auth.cookie.as_deref().unwrap()))
            .header("x-csrf-token", auth.csrf.as_deref().unwrap());
        if let Some(ct) = ct {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(body).unwrap()
    };
    let r = api.raw(req(Body::from("name=x"), Some("application/x-www-form-urlencoded")));
    assert_eq!((r.status, r.code()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, 811));
    let r = api.raw(req(Body::from("{not json"), Some("application/json")));
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, 808));
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 << 20));
    let r = api.raw(req(Body::from(big), Some("application/json")));
    assert_eq!((r.status, r.code()), (StatusCode::PAYLOAD_TOO_LARGE, 810), "{}", &r.text[..r.text.len().min(300)]);
}

#[test]
fn pools_spaces_and_the_home_summary() {
    let api = Api::start();
    let auth = api.admin();
    let spaces = api.call(Method::GET, "/api/v1/spaces", &auth, None);
    assert_eq!(spaces.body["total"], json!(1), "{}", spaces.text);
    let s = &spaces.body["items"][0];
    assert_eq!(s["status"], json!("normal"));
    assert_eq!(s["device_type"], json!("local"));
    assert_eq!(s["capacity"], json!(64u64 << 20));

    // Add a pool, edit it, look at it, delete it.
    let new = json!({"name": "lobby <b>", "kind": "mixed", "capacity": 4 << 20, "cycle_days": 7, "max_lock_pct": 20,
                     "strategy": "stop", "transcoding": "frame", "original_cycle_days": 3});
    let c = api.call(Method::POST, "/api/v1/pools", &auth, Some(new));
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    let id = c.body["id"].as_u64().unwrap();
    for (k, v) in [
        ("name", json!("lobby <b>")),
        ("kind", json!("mixed")),
        ("strategy", json!("stop")),
        ("cycle_days", json!(7)),
        ("max_lock_pct", json!(20)),
        ("status", json!("normal")),
        ("transcoding", json!("frame")),
        ("original_cycle_days", json!(3)),
    ] {
        assert_eq!(c.body[k], v, "{k}: {}", c.text);
    }
    assert_eq!(c.body["capacity"], json!(4u64 << 20));
    let e = api.call(
        Method::PATCH,
        &format!("/api/v1/pools/{id}"),
        &auth,
        Some(json!({"cycle_days": 9, "original_cycle_days": 5})),
    );
    assert_eq!(
        (e.body["cycle_days"].clone(), e.body["original_cycle_days"].clone(), e.body["transcoding"].clone()),
        (json!(9), json!(5), json!("frame")),
        "{}",
        e.text
    );
    let list = api.call(Method::GET, "/api/v1/pools?page_size=1&page=2", &auth, None);
    assert_eq!((list.body["total"].clone(), list.body["total_pages"].clone()), (json!(3), json!(3)), "{}", list.text);
    let summary = api.call(Method::GET, "/api/v1/system/summary", &auth, None);
    assert_eq!(summary.body["pools"], json!(3), "{}", summary.text);
    assert_eq!(summary.body["capacity"]["total"], json!(64u64 << 20));
    assert_eq!(summary.body["spaces"]["normal"], json!(1));
    let d = api.call(Method::DELETE, &format!("/api/v1/pools/{id}?confirm=true"), &auth, None);
    assert_eq!(d.status, StatusCode::NO_CONTENT, "{}", d.text);
    assert_eq!(api.call(Method::GET, &format!("/api/v1/pools/{id}"), &auth, None).code(), 302);

    // Initialize a second folder as a job and follow it.
    let folder = api.ts.dir.path().join("space2");
    std::fs::create_dir(&folder).unwrap();
    let body = json!({"spaces": [{"path": folder, "capacity": 8 << 20}]});
    let r = api.call(Method::POST, "/api/v1/spaces", &auth, Some(body));
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let job = r.body[0]["job"].as_u64().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let j = api.call(Method::GET, &format!("/api/v1/jobs/{job}"), &auth, None);
        if j.body["state"] == json!("done") {
            break;
        }
        assert_eq!(j.body["state"], json!("running"), "{}", j.text);
        assert!(std::time::Instant::now() < deadline, "the job did not finish");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let bad = api.call(
        Method::POST,
        "/api/v1/spaces",
        &auth,
        Some(json!({"spaces": [{"path": "/no/such/folder", "capacity": 8 << 20}]})),
    );
    assert_eq!((bad.status, bad.code()), (StatusCode::UNPROCESSABLE_ENTITY, 200), "{}", bad.text);
    assert_eq!(api.call(Method::GET, "/api/v1/spaces", &auth, None).body["total"], json!(2));

    let log = api.log_contents(&auth);
    for want in [
        "created resource pool \"lobby <b>\"",
        "edited resource pool",
        "deleted resource pool",
        "started initializing storage space",
    ] {
        assert!(log.iter().any(|c| c.contains(want)), "{want} not in {log:?}");
    }
}

#[test]
fn the_log_pages_searches_streams_csv_and_clears() {
    let api = Api::start();
    let auth = api.admin();
    let db = api.ts.server().metadata();
    let limits = pstor_server::meta::logs::LogLimits { max_entries: 1_000_000, max_age_days: 30 };
    for i in 0..2500 {
        let e = pstor_server::meta::logs::NewLog {
            kind: pstor_server::meta::logs::LogKind::Operation,
            level: pstor_server::meta::logs::LogLevel::Info,
            ip: if i % 10 == 0 { "192.0.2.10" } else { "192.0.2.20" },
            user: "admin",
            content: &format!("entry {i}, \"quoted\""),
            result: "ok",
        };
        db.append_log(&e, limits).unwrap();
    }
    let p = api.call(Method::GET, "/api/v1/logs?ip=192.0.2.10&page_size=100&page=3", &auth, None);
    assert_eq!((p.body["total"].clone(), p.body["total_pages"].clone()), (json!(250), json!(3)), "{}", p.text);
    assert_eq!(p.body["items"].as_array().unwrap().len(), 50);
    let q = api.call(Method::GET, "/api/v1/logs?text=entry%20249,&page_size=10", &auth, None);
    assert_eq!(q.body["total"], json!(1), "{}", q.text);
    let from = api.call(Method::GET, "/api/v1/logs?from=2000-01-01T00:00:00Z&to=2001-01-01T00:00:00Z", &auth, None);
    assert_eq!(from.body["total"], json!(0), "{}", from.text);
    assert_eq!(api.call(Method::GET, "/api/v1/logs?from=yesterday", &auth, None).code(), 808);

    let csv = api.call(Method::GET, "/api/v1/logs.csv?ip=192.0.2.20", &auth, None);
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines[0], "id,time,type,level,ip,user,content,result");
    assert_eq!(lines.len(), 1 + 2250);
    assert!(lines[1].contains("\"entry 2499, \"\"quoted\"\"\""), "{}", lines[1]);
    let limited = api.call(Method::GET, "/api/v1/logs.csv?limit=10", &auth, None);
    assert_eq!(limited.text.lines().count(), 11);

    assert_eq!(api.call(Method::DELETE, "/api/v1/logs", &auth, None).code(), 213);
    assert_eq!(api.call(Method::DELETE, "/api/v1/logs?confirm=true", &auth, None).status, StatusCode::NO_CONTENT);
    let after = api.log_contents(&auth);
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(after[0].starts_with("cleared the log ("), "the clearing is logged: {after:?}");
}

#[test]
fn address_restrictions_guard_the_management_and_sdk_ports() {
    let api = Api::start();
    let auth = api.admin();
    let lock_me_out = json!({"management": ["10.0.0.0/8"], "sdk": []});
    let r = api.call(Method::PUT, "/api/v1/settings/access", &auth, Some(lock_me_out));
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, 812), "{}", r.text);
    let bad = api.call(
        Method::PUT,
        "/api/v1/settings/access",
        &auth,
        Some(json!({"management": ["10.0.0.0/40"], "sdk": []})),
    );
    assert_eq!(bad.code(), 808, "{}", bad.text);
    let lists = json!({"management": ["127.0.0.1", "10.1.0.0/16"], "sdk": ["10.1.0.0/16"]});
    assert_eq!(api.call(Method::PUT, "/api/v1/settings/access", &auth, Some(lists)).status, StatusCode::NO_CONTENT);
    let outsider = api.from(IpAddr::from([192, 0, 2, 1]), Method::GET, "/api/v1/health", &Auth::default(), None);
    assert_eq!((outsider.status, outsider.code()), (StatusCode::FORBIDDEN, 805));
    let insider = api.from(IpAddr::from([10, 1, 2, 3]), Method::GET, "/api/v1/health", &Auth::default(), None);
    assert_eq!(insider.status, StatusCode::OK);
    // The SDK ports now close connections from 127.0.0.1 at accept.
    let mut s = common::tcp(api.ts.addr(pstor_proto::Port::Signalling));
    let mut b = [0u8; 16];
    use std::io::Read;
    assert!(matches!(s.read(&mut b), Ok(0) | Err(_)), "closed at once");
    let got = api.call(Method::GET, "/api/v1/settings/access", &auth, None);
    assert_eq!(
        got.body,
        json!({"management": ["127.0.0.1/32", "10.1.0.0/16"], "sdk": ["10.1.0.0/16"], "playback": []})
    );
}

#[test]
fn inspection_and_locks_over_the_api() {
    let api = Api::start();
    let auth = api.admin();
    let e = api.ts.server().engine();
    let pool = api.ts.pool("video");
    let stream = e
        .register_stream(pstor_core::StreamSpec {
            pool,
            camera_id: "gate-cam".into(),
            channel: 1,
            kind: pstor_core::StreamKind::Main,
            codec: "H264".into(),
            codec_config: Vec::new(),
        })
        .unwrap();
    let t0 = common::T0 + 3600 * pstor_core::US_PER_SEC; // 01:00 UTC of 2026-11-23
    for i in 0..100 {
        e.append(stream, t0 + i * 100_000, i % 25 == 0, bytes::Bytes::from(vec![7u8; 1000])).unwrap();
    }
    e.sync(stream).unwrap();
    let list = api.call(Method::GET, "/api/v1/streams?camera=GATE", &auth, None);
    assert_eq!(list.body["total"], json!(1), "{}", list.text);
    let id = list.body["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(id, stream.0.to_string(), "64-bit ids travel as strings");
    let day = api.call(Method::GET, &format!("/api/v1/inspection/day?stream={id}&date=2026-11-23"), &auth, None);
    assert_eq!(day.status, StatusCode::OK, "{}", day.text);
    assert_eq!(day.body["hours"][1]["recorded_secs"], json!(10), "{}", day.text);
    assert_eq!(day.body["hours"][1]["exception"], json!(true));
    let hour =
        api.call(Method::GET, &format!("/api/v1/inspection/hour?stream={id}&date=2026-11-23&hour=1"), &auth, None);
    assert_eq!(hour.body["recorded"][0]["start"], json!(t0), "{}", hour.text);
    let month = api.call(Method::GET, &format!("/api/v1/inspection/month?stream={id}&year=2026&month=11"), &auth, None);
    assert_eq!(month.body["days"].as_array().unwrap().len(), 30, "{}", month.text);
    assert_eq!(api.call(Method::GET, "/api/v1/inspection/day?stream=x", &auth, None).code(), 808);

    let lock = json!({"stream": id, "start": "2026-11-23T01:00:00Z", "end": t0 + 5_000_000});
    let l = api.call(Method::POST, "/api/v1/locks", &auth, Some(lock));
    assert_eq!(l.status, StatusCode::CREATED, "{}", l.text);
    assert_eq!(l.body["start"], json!(t0));
    let lid = l.body["id"].as_str().unwrap().to_string();
    let x = api.call(
        Method::PATCH,
        &format!("/api/v1/locks/{lid}"),
        &auth,
        Some(json!({"expires": "2030-01-01T00:00:00Z"})),
    );
    assert_eq!(x.status, StatusCode::NO_CONTENT, "{}", x.text);
    assert_eq!(
        api.call(Method::GET, "/api/v1/locks", &auth, None).body["items"][0]["expires"],
        json!(1_893_456_000_000_000i64)
    );
    assert_eq!(api.call(Method::DELETE, &format!("/api/v1/locks/{lid}"), &auth, None).status, StatusCode::NO_CONTENT);
    assert_eq!(api.call(Method::DELETE, &format!("/api/v1/locks/{lid}"), &auth, None).code(), 600);
}

#[test]
fn metrics_need_a_token_and_show_the_engine() {
    let token = "scrape-token-0123456789";
    let api = Api::with(|c| c.management.metrics_token = Some(token.into()));
    let r = api.call(Method::GET, "/metrics", &Auth::default(), None);
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, 800));
    let wrong = Auth { bearer: Some("scrape-token-wrong-000".into()), ..Auth::default() };
    assert_eq!(api.call(Method::GET, "/metrics", &wrong, None).status, StatusCode::UNAUTHORIZED);
    // Some SDK traffic first.
    let mut c = api.ts.client(pstor_proto::Port::Data);
    let pool = api.ts.pool("video");
    let e = api.ts.server().engine();
    let stream = e
        .register_stream(pstor_core::StreamSpec {
            pool,
            camera_id: "cam".into(),
            channel: 1,
            kind: pstor_core::StreamKind::Main,
            codec: "H264".into(),
            codec_config: Vec::new(),
        })
        .unwrap();
    let frames = (0..10)
        .map(|i| pstor_core::Frame { ts: common::T0 + i, key: i == 0, data: bytes::Bytes::from(vec![1u8; 500]) })
        .collect();
    c.call(pstor_proto::Request::Append { stream, sync: true, frames }).unwrap();
    let ok = Auth { bearer: Some(token.into()), ..Auth::default() };
    let m = api.call(Method::GET, "/metrics", &ok, None);
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert!(m.headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap().starts_with("application/openmetrics-text"));
    let video = api.ts.server().engine().pool(pool).unwrap();
    let want = format!("pstor_pool_capacity_bytes{{pool=\"{}\",name=\"video\"}} {}", pool.0, video.capacity);
    assert!(m.text.contains(&want), "{want} not in\n{}", m.text);
    assert!(m.text.contains("pstor_ingest_frames_total 10"), "{}", m.text);
    assert!(m.text.contains("pstor_ingest_bytes_total 5000"), "{}", m.text);
    assert!(m.text.contains("pstor_sync_duration_seconds_count 1"), "{}", m.text);
    assert!(m.text.contains("pstor_sdk_connections 1"), "{}", m.text);
    assert!(m.text.contains(",status=\"normal\"} 1"), "{}", m.text);
    assert!(
        m.text.contains("pstor_api_requests_total{route=\"/metrics\",method=\"GET\",status=\"401\"} 2"),
        "{}",
        m.text
    );
    assert!(m.text.trim_end().ends_with("# EOF"));
    // A session scrapes too; an address off loopback without a token does not.
    let auth = api.admin();
    assert_eq!(api.call(Method::GET, "/metrics", &auth, None).status, StatusCode::OK);
}

#[test]
fn after_a_reinstall_the_backup_on_the_spaces_brings_users_settings_and_logs_back() {
    let mut api = Api::start();
    let auth = api.admin();
    let features = json!({"picture_digest": false, "anr": true, "stream_certification": false, "channel_limit": 64});
    assert_eq!(
        api.call(Method::PUT, "/api/v1/settings/features", &auth, Some(features.clone())).status,
        StatusCode::NO_CONTENT
    );
    // A pool's own columns live in the metadata database, by pool id.
    let video = api.ts.pool("video").0;
    let extras = json!({"transcoding": "frame", "original_cycle_days": 3});
    let e = api.call(Method::PATCH, &format!("/api/v1/pools/{video}"), &auth, Some(extras));
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    let b = api.call(Method::POST, "/api/v1/backups", &auth, None);
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
    assert_eq!(b.body["written"].as_array().unwrap().len(), 1);
    assert!(b.body["written"][0].as_str().unwrap().contains("/space1/pstor-meta-backup/meta-"));

    // Reinstall: the data folder is gone; the space, outside it, is found again.
    let cfg = api.ts.cfg.clone();
    api.ts.server.take().unwrap().shutdown().unwrap();
    std::fs::remove_dir_all(&cfg.data_dir).unwrap();
    let server = pstor_server::Server::start(cfg.clone()).unwrap();
    api.router = server.management_router().unwrap();
    api.ts.server = Some(server);
    let (a, fresh) = api.login("admin", &api.initial_password());
    assert_eq!(a.status, StatusCode::OK, "a new one-time password: {}", a.text);
    let second = "Second-Install-9";
    let c = api.call(
        Method::PUT,
        "/api/v1/session/password",
        &fresh,
        Some(json!({"current_password": api.initial_password(), "new_password": second})),
    );
    assert_eq!(c.status, StatusCode::NO_CONTENT);
    let list = api.call(Method::GET, "/api/v1/backups", &fresh, None);
    assert_eq!(list.body["restore_suggested"], json!(true), "{}", list.text);
    let id = list.body["backups"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        api.call(Method::GET, "/api/v1/settings/features", &fresh, None).body["anr"],
        json!(false),
        "a fresh database"
    );

    let no = api.call(Method::POST, "/api/v1/backups/restore", &fresh, Some(json!({"backup": id})));
    assert_eq!(no.code(), 213, "confirmation first");
    let missing = api.call(
        Method::POST,
        "/api/v1/backups/restore",
        &fresh,
        Some(json!({"backup": "1/meta-x.db", "confirm": true})),
    );
    assert_eq!(missing.code(), 807);
    let r = api.call(Method::POST, "/api/v1/backups/restore", &fresh, Some(json!({"backup": id, "confirm": true})));
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(api.call(Method::GET, "/api/v1/pools", &fresh, None).code(), 800, "every session ended");

    assert_eq!(api.login("admin", second).0.code(), 802, "the reinstall's account is gone");
    let (ok, old) = api.login("admin", NEW_PASSWORD);
    assert_eq!(ok.status, StatusCode::OK, "the restored account: {}", ok.text);
    assert_eq!(ok.body["must_change_password"], json!(false));
    assert_eq!(api.call(Method::GET, "/api/v1/settings/features", &old, None).body, features);
    // The pool came back from the space with its id, so its columns match.
    let pool = api.call(Method::GET, &format!("/api/v1/pools/{video}"), &old, None);
    assert_eq!(pool.status, StatusCode::OK, "{}", pool.text);
    assert_eq!((pool.body["name"].clone(), pool.body["transcoding"].clone()), (json!("video"), json!("frame")));
    assert_eq!(pool.body["original_cycle_days"], json!(3));
    let log = api.log_contents(&old);
    assert!(log.iter().any(|c| c.contains("set the features: picture Digest off, ANR on")), "{log:?}");
    assert!(log.iter().any(|c| c.starts_with("restored the metadata backup")), "{log:?}");
    assert_eq!(api.call(Method::GET, "/api/v1/backups", &old, None).body["restore_suggested"], json!(false));
    assert!(!cfg.data_dir.join("initial-admin-password").exists());
}

#[test]
fn a_key_reset_needs_the_password_and_closes_the_old_pairs_connections() {
    let api = Api::with(|c| c.keys.credentials_file = Some(c.data_dir.join("credentials.toml")));
    let auth = api.admin();
    let keys = api.call(Method::GET, "/api/v1/keys", &auth, None);
    let list = keys.body.as_array().unwrap();
    assert_eq!(list.len(), 2, "{}", keys.text);
    assert!(!keys.text.contains(common::SECRET), "no secret in the list");
    let file_key =
        list.iter().find(|k| k["resettable"] == json!(true)).unwrap()["access_key"].as_str().unwrap().to_string();

    let wrong = json!({"access_key": file_key, "password": "not-my-password-1"});
    assert_eq!(api.call(Method::POST, "/api/v1/keys/download", &auth, Some(wrong.clone())).code(), 802);
    assert_eq!(api.call(Method::POST, "/api/v1/keys/reset", &auth, Some(wrong)).code(), 802);
    let d = api.call(
        Method::POST,
        "/api/v1/keys/download",
        &auth,
        Some(json!({"access_key": file_key, "password": NEW_PASSWORD})),
    );
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let secret = d.text.lines().find_map(|l| l.strip_prefix("secret_key=")).unwrap().to_string();
    assert!(d.headers.get(header::CONTENT_DISPOSITION).unwrap().to_str().unwrap().contains("attachment"));

    // A connection of that pair, open during the reset, is closed by it.
    let addr = api.ts.addr(pstor_proto::Port::Signalling);
    let mut old = common::Client::connect(addr, pstor_proto::Port::Signalling, &file_key, &secret).unwrap();
    let config_pair =
        common::Client::connect(addr, pstor_proto::Port::Signalling, common::ACCESS, common::SECRET).unwrap();
    let r = api.call(
        Method::POST,
        "/api/v1/keys/reset",
        &auth,
        Some(json!({"access_key": file_key, "password": NEW_PASSWORD})),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (new_key, new_secret) = (r.body["access_key"].as_str().unwrap(), r.body["secret_key"].as_str().unwrap());
    assert_ne!(new_key, file_key);
    let mut b = [0u8; 64];
    use std::io::Read;
    assert!(matches!(old.stream.read(&mut b), Ok(0) | Err(_)), "the old pair's connection is closed");
    assert!(
        common::Client::connect(addr, pstor_proto::Port::Signalling, &file_key, &secret).is_err(),
        "the old pair is refused"
    );
    common::Client::connect(addr, pstor_proto::Port::Signalling, new_key, new_secret).expect("the new pair works");
    let mut config_pair = config_pair;
    config_pair.stream.set_read_timeout(Some(std::time::Duration::from_millis(300))).unwrap();
    assert!(config_pair.stream.read(&mut b).is_err(), "another pair's connection stays open (read times out)");
    let file = std::fs::read_to_string(api.ts.cfg.data_dir.join("credentials.toml")).unwrap();
    assert!(file.contains(new_key) && !file.contains(&file_key));
    let conf = api.call(
        Method::POST,
        "/api/v1/keys/reset",
        &auth,
        Some(json!({"access_key": common::ACCESS, "password": NEW_PASSWORD})),
    );
    assert_eq!(conf.code(), 812, "{}", conf.text);
    assert!(api.log_contents(&auth).iter().any(|c| c.contains("reset the key pair")));
}

#[test]
fn the_folder_browser_stays_in_its_roots_and_away_from_spaces() {
    let api = Api::with(|c| c.management.browse_roots = vec![c.data_dir.parent().unwrap().to_path_buf()]);
    let auth = api.admin();
    let root = std::fs::canonicalize(api.ts.dir.path()).unwrap();
    let r = root.display().to_string();
    let v = api.call(Method::GET, "/api/v1/volumes", &auth, None);
    assert_eq!(v.body.as_array().unwrap().len(), 1, "{}", v.text);
    assert_eq!(v.body[0]["path"], json!(r));
    assert!(v.body[0]["total"].as_u64().unwrap() >= v.body[0]["free"].as_u64().unwrap());
    assert!(v.body[0]["free"].as_u64().unwrap() > 0);

    let q = |p: &str| format!("/api/v1/folders?path={}", p.replace('/', "%2F"));
    let l = api.call(Method::GET, &q(&r), &auth, None);
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    let child =
        |name: &str| l.body["children"].as_array().unwrap().iter().find(|c| c["name"] == json!(name)).cloned().unwrap();
    let space = child("space1");
    assert_eq!((space["initialized"].clone(), space["selectable"].clone()), (json!(true), json!(false)), "{space}");
    assert!(space["space"].as_u64().is_some());
    assert_eq!(child("data")["selectable"], json!(true));

    let mk = |name: &str| api.call(Method::POST, "/api/v1/folders", &auth, Some(json!({"path": r, "name": name})));
    assert_eq!(mk("cams").status, StatusCode::CREATED);
    assert_eq!(mk("cams").code(), 812, "exists");
    assert_eq!(mk("../escape").code(), 808);
    assert!(root.join("cams").is_dir());
    let in_space =
        api.call(Method::POST, "/api/v1/folders", &auth, Some(json!({"path": root.join("space1"), "name": "x"})));
    assert_eq!(in_space.code(), 812, "{}", in_space.text);
    assert_eq!(api.call(Method::GET, &q("/etc"), &auth, None).code(), 807, "outside the roots");
    std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
    assert_eq!(api.call(Method::GET, &q(&format!("{r}/link")), &auth, None).code(), 807, "no way out by a symlink");

    let ren = api.call(
        Method::PATCH,
        "/api/v1/folders",
        &auth,
        Some(json!({"path": root.join("cams"), "new_name": "cameras"})),
    );
    assert_eq!(ren.status, StatusCode::OK, "{}", ren.text);
    assert!(root.join("cameras").is_dir() && !root.join("cams").exists());
    let ren =
        api.call(Method::PATCH, "/api/v1/folders", &auth, Some(json!({"path": root.join("space1"), "new_name": "s"})));
    assert_eq!(ren.code(), 812);
    std::fs::create_dir(root.join("cameras/inner")).unwrap();
    let del = |p: &Path| api.call(Method::DELETE, &q(&p.display().to_string()), &auth, None);
    assert_eq!(del(&root.join("cameras")).code(), 812, "not empty");
    assert_eq!(del(&root.join("cameras/inner")).status, StatusCode::NO_CONTENT);
    assert_eq!(del(&root.join("cameras")).status, StatusCode::NO_CONTENT);
    assert_eq!(del(&root.join("space1")).code(), 812);
    assert_eq!(del(&root).code(), 812, "a root stays");
    assert!(root.join("space1/space.pst").exists());
}

#[test]
fn hostile_inputs_get_clear_errors_and_change_nothing() {
    let api = Api::start();
    let auth = api.admin();
    let a = |m: Method, p: &str, b: Option<Value>| api.call(m, p, &auth, b);
    let r = a(Method::PUT, "/api/v1/settings/thresholds", Some(json!([10, 20, 30])));
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, 808), "an array is not an object: {}", r.text);
    assert_eq!(api.ts.server().engine().thresholds().overwrite_pct, 10);
    let r = a(Method::GET, "/api/v1/logs?from=2026-12-03T10:00:00%2B0%C3%A900", None);
    assert_eq!(r.code(), 808, "{}", r.text);
    // Two folders, the second with a bad segment size: neither starts.
    let (s2, s3) = (api.ts.dir.path().join("s2"), api.ts.dir.path().join("s3"));
    std::fs::create_dir(&s2).unwrap();
    std::fs::create_dir(&s3).unwrap();
    let body =
        json!({"spaces": [{"path": s2, "capacity": 8 << 20}, {"path": s3, "capacity": 8 << 20, "segment_size": 1000}]});
    let r = a(Method::POST, "/api/v1/spaces", Some(body));
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, 206), "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("s3"), "names the folder: {}", r.text);
    assert_eq!(api.ts.server().engine().spaces().len(), 1, "no job started");
    let twice = json!({"spaces": [{"path": s2, "capacity": 8 << 20}, {"path": s2, "capacity": 8 << 20}]});
    assert_eq!(a(Method::POST, "/api/v1/spaces", Some(twice)).code(), 900);
    assert_eq!(a(Method::POST, "/api/v1/spaces/restore", Some(json!({"path": "space1"}))).code(), 900, "relative");
    let r = a(Method::GET, "/api/v1/inspection/month?stream=12345&year=2030&month=1", None);
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 400), "{}", r.text);
    // Re-entering the password is throttled like logins.
    for _ in 0..5 {
        let r = a(
            Method::POST,
            "/api/v1/keys/download",
            Some(json!({"access_key": common::ACCESS, "password": "guess-1234"})),
        );
        assert_eq!(r.code(), 802);
    }
    let r =
        a(Method::POST, "/api/v1/keys/download", Some(json!({"access_key": common::ACCESS, "password": NEW_PASSWORD})));
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, 803), "{}", r.text);
}

#[test]
fn network_interface_address_mapping_and_ntp() {
    let api = Api::start();
    let auth = api.admin();
    let ifs = api.call(Method::GET, "/api/v1/system/interfaces", &auth, None);
    let lo = ifs.body.as_array().unwrap().iter().find(|i| i["name"] == json!("lo")).cloned().unwrap();
    assert!(lo["addresses"].as_array().unwrap().contains(&json!("127.0.0.1")), "{lo}");
    let set = |b: Value| api.call(Method::PUT, "/api/v1/settings/network", &auth, Some(b));
    assert_eq!(set(json!({"nic": "no-such-nic0"})).code(), 808);
    assert_eq!(set(json!({"nic": "lo", "announce_address": "192.0.2.1"})).code(), 808);
    assert_eq!(set(json!({"nic": "lo", "announce_address": "127.0.0.1"})).status, StatusCode::NO_CONTENT);
    assert_eq!(api.call(Method::GET, "/api/v1/settings/network", &auth, None).body["nic"], json!("lo"));

    let pairs = json!({"pairs": [{"lan": "10.0.0.5:6036", "wan": "203.0.113.7:16036"}, {"lan": "10.0.0.5:6037", "wan": "203.0.113.7:16037"}]});
    assert_eq!(api.call(Method::PUT, "/api/v1/settings/mapping", &auth, Some(pairs)).status, StatusCode::NO_CONTENT);
    let txt = api.call(Method::GET, "/api/v1/settings/mapping.txt", &auth, None);
    assert_eq!(txt.text, "10.0.0.5:6036-203.0.113.7:16036\n10.0.0.5:6037-203.0.113.7:16037\n");
    let dup = json!({"pairs": [{"lan": "10.0.0.5:6036", "wan": "203.0.113.7:1"}, {"lan": "10.0.0.5:6036", "wan": "203.0.113.7:2"}]});
    assert_eq!(api.call(Method::PUT, "/api/v1/settings/mapping", &auth, Some(dup)).code(), 808);
    // What the services are announced at (the NIC choice) and mapped to.
    let sig = api.ts.addr(pstor_proto::Port::Signalling);
    let here = json!({"pairs": [{"lan": format!("127.0.0.1:{}", sig.port()), "wan": "203.0.113.7:16036"}]});
    assert_eq!(api.call(Method::PUT, "/api/v1/settings/mapping", &auth, Some(here)).status, StatusCode::NO_CONTENT);
    let services = api.call(Method::GET, "/api/v1/system/services", &auth, None);
    let signalling = services.body.as_array().unwrap().iter().find(|s| s["name"] == json!("sdk-signalling")).unwrap();
    assert_eq!(signalling["announced"], json!(format!("127.0.0.1:{}", sig.port())), "{}", services.text);
    assert_eq!(signalling["wan"], json!("203.0.113.7:16036"));
    let data = services.body.as_array().unwrap().iter().find(|s| s["name"] == json!("sdk-data")).unwrap();
    assert_eq!(data["wan"], Value::Null, "no mapping for the data port");

    // NTP against a responder on a real UDP socket, 3 s ahead of us.
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let responder = std::thread::spawn(move || {
        let mut b = [0u8; 48];
        let (_, from) = server.recv_from(&mut b).unwrap();
        let now = pstor_server::sntp::ntp_from_us(pstor_server::meta::now_us() + 3_000_000);
        let mut r = [0u8; 48];
        r[0] = 4 << 3 | 4;
        r[1] = 2;
        r[24..32].copy_from_slice(&b[40..48]);
        r[32..40].copy_from_slice(&now.to_be_bytes());
        r[40..48].copy_from_slice(&now.to_be_bytes());
        server.send_to(&r, from).unwrap();
    });
    assert_eq!(api.call(Method::POST, "/api/v1/settings/ntp/sync", &auth, None).code(), 812, "no server yet");
    assert_eq!(api.call(Method::PUT, "/api/v1/settings/ntp", &auth, Some(json!({"enabled": true}))).code(), 808);
    let s = json!({"enabled": false, "server": "127.0.0.1", "port": port, "interval_minutes": 1439});
    assert_eq!(api.call(Method::PUT, "/api/v1/settings/ntp", &auth, Some(s)).status, StatusCode::NO_CONTENT);
    let m = api.call(Method::POST, "/api/v1/settings/ntp/sync", &auth, None);
    responder.join().unwrap();
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    let offset = m.body["offset_us"].as_i64().unwrap();
    assert!((offset - 3_000_000).abs() < 200_000, "{offset}");
    let got = api.call(Method::GET, "/api/v1/settings/ntp", &auth, None);
    assert_eq!(got.body["status"]["measurement"]["stratum"], json!(2), "{}", got.text);
    assert!(got.body["status"]["last_sync"].as_i64().is_some());
    let db = api.ts.server().metadata();
    let f = pstor_server::meta::logs::LogFilter { text: Some("NTP: this clock is".into()), ..Default::default() };
    assert_eq!(db.count_logs(&f).unwrap(), 1, "the measurement is logged");
    // A server that does not answer: a clear error, kept in the status.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let s = json!({"enabled": false, "server": "127.0.0.1", "port": silent.local_addr().unwrap().port(), "interval_minutes": 60});
    api.call(Method::PUT, "/api/v1/settings/ntp", &auth, Some(s));
    let e = api.call(Method::POST, "/api/v1/settings/ntp/sync", &auth, None);
    assert_eq!(e.code(), 812);
    assert!(e.body["error"]["message"].as_str().unwrap().contains("did not answer"), "{}", e.text);
}

#[test]
fn network_shares_are_checked_and_refused_clearly_where_this_machine_cannot_mount_them() {
    let api = Api::start();
    let auth = api.admin();
    let secret = "Share-Pass-9876";
    let nas_dir = api.ts.cfg.data_dir.join("nas");
    for (kind, source, user) in
        [("cifs", "//127.0.0.1/video", Some("recorder")), ("nfs", "127.0.0.1:/export/video", None)]
    {
        let mut body = json!({"kind": kind, "source": source});
        if let Some(u) = user {
            body["username"] = json!(u);
            body["password"] = json!(secret);
        }
        let r = api.call(Method::POST, "/api/v1/nas", &auth, Some(body));
        // This machine has no CIFS/NFS helper or kernel filesystem (814); on
        // one that has them, nothing answers on 127.0.0.1 (816).
        match r.code() {
            814 => {
                let m = r.body["error"]["message"].as_str().unwrap();
                assert!(
                    m.contains(&kind.to_uppercase()) && (m.contains("not installed") || m.contains("kernel")),
                    "{m}"
                );
                assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
            }
            816 => assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE),
            other => panic!("{kind}: {other}: {}", r.text),
        }
        assert!(!r.text.contains(secret));
    }
    // Nothing was kept of the failed adds: no row, no credentials file.
    let l = api.call(Method::GET, "/api/v1/nas", &auth, None);
    assert_eq!((l.status, l.body["total"].clone()), (StatusCode::OK, json!(0)), "{}", l.text);
    let left: Vec<_> = std::fs::read_dir(&nas_dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    // Requests that could smuggle options into mount, or are malformed.
    for body in [
        json!({"kind": "cifs", "source": "//nas/v,credentials=/etc/shadow"}),
        json!({"kind": "cifs", "source": "//nas/v", "options": "vers=3.0,credentials=/etc/shadow"}),
        json!({"kind": "cifs", "source": "//nas/v", "username": "a", "password": "x\nusername=root"}),
        json!({"kind": "nfs", "source": "-oremount:/x"}),
        json!({"kind": "nfs", "source": "nas:/export", "username": "a"}),
        json!({"kind": "smb", "source": "//nas/v"}),
        json!({"kind": "cifs", "source": "//nas/v", "extra": 1}),
    ] {
        assert_eq!(api.call(Method::POST, "/api/v1/nas", &auth, Some(body.clone())).code(), 808, "{body}");
    }
    for (m, p) in
        [(Method::GET, "/api/v1/nas/7"), (Method::DELETE, "/api/v1/nas/7"), (Method::POST, "/api/v1/nas/7/mount")]
    {
        assert_eq!(api.call(m, p, &auth, None).code(), 807, "{p}");
    }
    let all = api.call(Method::GET, "/api/v1/logs?page_size=1000", &auth, None);
    assert!(!all.text.contains(secret), "the share's password is in the log");
}

/// Runs a command; its stdout, or an error with what it said.
fn sh(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new(cmd).args(args).output().map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!("{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// A real ext4 filesystem on a loop device, mounted at `mount_point`;
/// unmounted (lazily) and detached when dropped.
struct LoopVolume {
    device: String,
    mount_point: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl LoopVolume {
    /// None (and why) where this machine cannot: not root, no loop devices.
    fn new(mib: u64) -> Result<LoopVolume, String> {
        if sh("id", &["-u"])? != "0" {
            return Err("not running as root".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let image = dir.path().join("volume.img");
        std::fs::File::create(&image).and_then(|f| f.set_len(mib << 20)).map_err(|e| e.to_string())?;
        let image = image.to_str().unwrap();
        sh("mkfs.ext4", &["-q", "-F", image])?;
        let device = sh("losetup", &["-f", "--show", image])?;
        let mount_point = dir.path().join("vol");
        std::fs::create_dir(&mount_point).map_err(|e| e.to_string())?;
        let v = LoopVolume { device, mount_point, _dir: dir };
        v.mount()?;
        Ok(v)
    }

    /// Mounts the same device again (the same filesystem, not a copy).
    fn mount(&self) -> Result<String, String> {
        sh("mount", &[&self.device, self.mount_point.to_str().unwrap()])
    }

    /// Takes the volume away under the files the engine holds open, as a
    /// pulled disk or a dropped share does (a plain umount would be busy).
    fn vanish(&self) -> Result<String, String> {
        sh("umount", &["-l", self.mount_point.to_str().unwrap()])
    }
}

impl Drop for LoopVolume {
    fn drop(&mut self) {
        while sh("umount", &["-l", self.mount_point.to_str().unwrap()]).is_ok() {}
        let _ = sh("losetup", &["-d", &self.device]);
    }
}

#[test]
fn a_space_on_a_volume_that_vanishes_goes_lost_and_comes_back_with_every_acknowledged_frame() {
    let vol = match LoopVolume::new(160) {
        Ok(v) => v,
        Err(why) => {
            eprintln!("skipped: no loop-mounted filesystem on this machine ({why})");
            return;
        }
    };
    let space_dir = vol.mount_point.join("space1");
    let api = Api::with(|c| c.spaces[0].path = space_dir.clone());
    let auth = api.admin();
    let status = || {
        let s = api.call(Method::GET, "/api/v1/spaces", &auth, None);
        s.body["items"][0]["status"].as_str().unwrap_or_default().to_string()
    };
    let wait_for = |want: &str| {
        for _ in 0..300 {
            if status() == want {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the space did not become {want}: {}", status());
    };
    assert_eq!(status(), "normal");
    let mut sig = api.ts.client(pstor_proto::Port::Signalling);
    let mut data = api.ts.client(pstor_proto::Port::Data);
    let cam = common::register(&mut sig, api.ts.pool("video"), "cam-nas");
    let acked = common::frames(0, 250, 2000);
    for batch in acked.chunks(50) {
        let req = pstor_proto::Request::Append { stream: cam, sync: true, frames: batch.to_vec() };
        data.call(req).unwrap();
    }
    vol.vanish().unwrap();
    wait_for("lost");
    // Nothing is acknowledged while it is away.
    let more = common::frames(250, 25, 2000);
    let r = data.call(pstor_proto::Request::Append { stream: cam, sync: true, frames: more.clone() });
    assert!(r.is_err(), "a write was acknowledged with the only space lost: {r:?}");
    vol.mount().unwrap();
    wait_for("normal");
    let got = data.read_range(cam, common::T0, common::T0 + 3600 * pstor_core::US_PER_SEC).unwrap();
    assert!(
        got.len() >= acked.len() && got[..acked.len()] == acked[..],
        "{} of {} frames back",
        got.len(),
        acked.len()
    );
    // Recording goes on, once the client takes note of the failure.
    data.call(pstor_proto::Request::ResumeStream { stream: cam }).unwrap();
    let later = common::frames(400, 25, 2000);
    data.call(pstor_proto::Request::Append { stream: cam, sync: true, frames: later }).unwrap();
    let system = api.call(Method::GET, "/api/v1/logs?kind=system&page_size=100", &auth, None);
    for word in ["lost", "restor"] {
        assert!(system.text.to_lowercase().contains(word), "no {word:?} in the system log: {}", system.text);
    }
}

#[test]
fn inspection_days_follow_the_time_zone_with_its_daylight_saving_days() {
    let api = Api::start();
    let auth = api.admin();
    let e = api.ts.server().engine();
    let stream = e
        .register_stream(pstor_core::StreamSpec {
            pool: api.ts.pool("video"),
            camera_id: "dst-cam".into(),
            channel: 1,
            kind: pstor_core::StreamKind::Main,
            codec: "H264".into(),
            codec_config: Vec::new(),
        })
        .unwrap();
    let utc = |y: i32, m: u32, d: u32, h: i64| {
        pstor_core::Date { year: y, month: m, day: d }.days_since_epoch() * pstor_core::US_PER_DAY
            + h * 3600 * pstor_core::US_PER_SEC
    };
    // Ten seconds at 00:30 and 01:30 UTC of the spring night (01:30 CET,
    // 03:30 CEST) and of the autumn night (02:30 CEST, 02:30 CET).
    for t in [utc(2026, 3, 29, 0), utc(2026, 3, 29, 1), utc(2026, 10, 25, 0), utc(2026, 10, 25, 1)] {
        let t = t + 1800 * pstor_core::US_PER_SEC;
        for i in 0..100 {
            e.append(stream, t + i * 100_000, i % 25 == 0, bytes::Bytes::from(vec![5u8; 500])).unwrap();
        }
    }
    e.sync(stream).unwrap();
    let put = |zone: Value| api.call(Method::PUT, "/api/v1/settings/time", &auth, Some(json!({"time_zone": zone})));
    assert_eq!(put(json!("Mars/Olympus_Mons")).code(), 808);
    assert_eq!(put(json!("../../etc/passwd")).code(), 808);
    assert_eq!(put(json!("Europe/Berlin")).status, StatusCode::NO_CONTENT);
    let t = api.call(Method::GET, "/api/v1/system/time", &auth, None);
    assert_eq!(t.body["time_zone"], json!("Europe/Berlin"), "{}", t.text);
    let dst = t.body["dst"].as_bool().unwrap();
    assert_eq!(t.body["utc_offset_minutes"], json!(if dst { 120 } else { 60 }));
    assert!(t.body["local"].as_str().unwrap().ends_with(if dst { "+02:00" } else { "+01:00" }), "{}", t.text);

    let day = |date: &str| {
        let d = api.call(Method::GET, &format!("/api/v1/inspection/day?stream={}&date={date}", stream.0), &auth, None);
        assert_eq!(d.status, StatusCode::OK, "{}", d.text);
        d.body
    };
    let labels =
        |d: &Value| d["hours"].as_array().unwrap().iter().map(|h| h["hour"].as_u64().unwrap()).collect::<Vec<_>>();
    let spring = day("2026-03-29");
    assert_eq!((spring["hours_in_day"].clone(), spring["time_zone"].clone()), (json!(23), json!("Europe/Berlin")));
    assert_eq!(&labels(&spring)[..4], &[0, 1, 3, 4], "02:00 is skipped");
    assert_eq!(spring["hours"][1]["recorded_secs"], json!(10), "01:30 CET");
    assert_eq!(spring["hours"][2]["recorded_secs"], json!(10), "03:30 CEST");
    assert_eq!(spring["hours"][2]["utc_offset_minutes"], json!(120));
    assert_eq!(spring["recorded_secs"], json!(20));
    let autumn = day("2026-10-25");
    assert_eq!(autumn["hours_in_day"], json!(25));
    assert_eq!(&labels(&autumn)[..5], &[0, 1, 2, 2, 3], "02:00 twice");
    assert_eq!(autumn["hours"][2]["recorded_secs"], json!(10), "02:30 CEST");
    assert_eq!(autumn["hours"][3]["recorded_secs"], json!(10), "02:30 CET");
    assert_eq!(autumn["hours"][3]["start"], json!(utc(2026, 10, 25, 1)));
    assert_eq!(day("2026-10-26")["hours_in_day"], json!(24));
    let hour =
        |q: &str| api.call(Method::GET, &format!("/api/v1/inspection/hour?stream={}&{q}", stream.0), &auth, None);
    let second = hour("date=2026-10-25&hour=2&repeat=2");
    assert_eq!(second.body["start"], json!(utc(2026, 10, 25, 1)), "{}", second.text);
    assert_eq!(second.body["recorded_secs"], json!(10));
    let skipped = hour("date=2026-03-29&hour=2");
    assert_eq!(skipped.code(), 808);
    assert!(skipped.text.contains("skip"), "{}", skipped.text);
    assert_eq!(hour("date=2026-03-29&hour=3&repeat=2").code(), 808);
    let month =
        api.call(Method::GET, &format!("/api/v1/inspection/month?stream={}&year=2026&month=3", stream.0), &auth, None);
    let days = month.body["days"].as_array().unwrap();
    assert_eq!(days.len(), 31, "{}", month.text);
    assert_eq!(days[28]["recorded_secs"], json!(20), "{}", month.text);

    let zones = api.call(Method::GET, "/api/v1/settings/time/zones", &auth, None);
    assert!(zones.body["zones"].as_array().unwrap().contains(&json!("America/New_York")));
    // Back to the configuration's fixed offset (UTC here): 24 hours, and
    // the spring recording at 00:30 and 01:30.
    assert_eq!(put(Value::Null).status, StatusCode::NO_CONTENT);
    let fixed = day("2026-03-29");
    assert_eq!((fixed["hours_in_day"].clone(), fixed["time_zone"].clone()), (json!(24), json!("UTC+00:00")));
    assert_eq!(
        (fixed["hours"][0]["recorded_secs"].clone(), fixed["hours"][1]["recorded_secs"].clone()),
        (json!(10), json!(10))
    );
    let s = api.call(Method::GET, "/api/v1/settings/time", &auth, None);
    assert_eq!(s.body["settings"]["time_zone"], Value::Null, "{}", s.text);
    assert!(api.log_contents(&auth).iter().any(|c| c == "set the time zone to Europe/Berlin"));
}

#[test]
fn new_spaces_are_at_least_the_configured_minimum() {
    let api = Api::with(|c| c.management.min_space_capacity = pstor_server::ByteSize(16 << 20));
    let auth = api.admin();
    let folder = api.ts.dir.path().join("small");
    std::fs::create_dir(&folder).unwrap();
    let r = api.call(
        Method::POST,
        "/api/v1/spaces",
        &auth,
        Some(json!({"spaces": [{"path": folder, "capacity": 8 << 20}]})),
    );
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, 204), "{}", r.text);
    assert!(r.text.contains("at least 16MiB"), "{}", r.text);
    let ok = api.call(
        Method::POST,
        "/api/v1/spaces",
        &auth,
        Some(json!({"spaces": [{"path": folder, "capacity": 16 << 20}]})),
    );
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.text);
    // The default is the manual's 5 GB.
    assert_eq!(pstor_server::config::ManagementConfig::default().min_space_capacity.0, 5 << 30);
}

#[test]
fn recording_schedules_are_checked_stored_sealed_and_limited() {
    let api = Api::start();
    let auth = api.admin();
    let video = api.ts.pool("video").0;
    let pictures = api.ts.pool("pictures").0;
    // A camera nobody answers for: the schedule is kept, its status says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let secret = "Cam-Secret-4711";
    let body = json!({"camera_id": "lobby-1", "name": "Lobby <img src=x>", "ip": "127.0.0.1", "port": closed,
                      "pool": video, "username": "admin", "password": secret,
                      "plan": [{"day": "mon", "start": "08:00", "end": "18:00"}]});
    let c = api.call(Method::POST, "/api/v1/schedules", &auth, Some(body.clone()));
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    assert!(!c.text.contains(secret), "the password came back");
    assert_eq!(c.body["has_password"], json!(true));
    assert_eq!(c.body["rtsp_url"], json!(format!("rtsp://127.0.0.1:{closed}/Streaming/Channels/101")));
    assert_eq!((c.body["stream"].clone(), c.body["mode"].clone()), (json!("main"), json!("continuous")));
    let id = c.body["id"].as_i64().unwrap();
    // The password is sealed at rest: not in the database file.
    let db_bytes = std::fs::read(api.ts.cfg.data_dir.join("meta.db")).unwrap();
    assert!(!db_bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    let key = api.ts.cfg.data_dir.join("recording.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);

    // The same camera stream twice; bad fields, each named.
    assert_eq!(api.call(Method::POST, "/api/v1/schedules", &auth, Some(body.clone())).code(), 812);
    for (patch, field) in [
        (json!({"channel": 0}), "channel"),
        (json!({"url": "rtsp://admin:pw@{host}/x"}), "url"),
        (json!({"url": "http://{host}/x"}), "url"),
        (json!({"pre_record_secs": 99}), "pre_record_secs"),
        (json!({"plan": [{"day": "mon", "start": "18:00", "end": "08:00"}]}), "plan"),
        (json!({"ip": "a b"}), "ip"),
        (json!({"stream": "third"}), "third"),
        (json!({"password": 5}), "password"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let mut b = body.clone();
        b["camera_id"] = json!("other");
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let r = api.call(Method::POST, "/api/v1/schedules", &auth, Some(b));
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, 817), "{patch}: {}", r.text);
        assert!(r.body["error"]["message"].as_str().unwrap().contains(field), "{patch}: {}", r.text);
    }
    let mut b = body.clone();
    b["camera_id"] = json!("pic");
    b["pool"] = json!(pictures);
    assert_eq!(api.call(Method::POST, "/api/v1/schedules", &auth, Some(b.clone())).code(), 307);
    b["pool"] = json!(999);
    assert_eq!(api.call(Method::POST, "/api/v1/schedules", &auth, Some(b)).code(), 302);

    // Status: outside its plan it is disarmed; always armed it cannot reach
    // the camera.
    let mut always = body.clone();
    always.as_object_mut().unwrap().remove("password");
    always["plan"] = Value::Null;
    let r = api.call(Method::PUT, &format!("/api/v1/schedules/{id}"), &auth, Some(always.clone()));
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["has_password"], json!(true), "a PUT without password keeps it");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        let g = api.call(Method::GET, &format!("/api/v1/schedules/{id}"), &auth, None);
        if g.body["status"]["state"] == json!("streaming_error") {
            break g.body["status"].clone();
        }
        assert!(std::time::Instant::now() < deadline, "{}", g.text);
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(status["reason"].as_str().unwrap().contains("cannot reach"), "{status}");
    // Search by name and IP; the name is data, returned as sent.
    let l = api.call(Method::GET, "/api/v1/schedules?search=LOBBY", &auth, None);
    assert_eq!((l.body["total"].clone(), l.body["items"][0]["name"].clone()), (json!(1), json!("Lobby <img src=x>")));
    assert_eq!(api.call(Method::GET, "/api/v1/schedules?search=10.9.9.9", &auth, None).body["total"], json!(0));
    // Events only for event-mode schedules.
    let ev = api.call(Method::POST, &format!("/api/v1/schedules/{id}/events"), &auth, Some(json!({"state": "start"})));
    assert_eq!(ev.code(), 812, "{}", ev.text);
    // The home page counts it.
    let s = api.call(Method::GET, "/api/v1/system/summary", &auth, None);
    assert_eq!(s.body["recording_schedules"]["live"], json!(1), "{}", s.text);
    assert_eq!(s.body["scheduled_cameras"], json!(1));

    // The channel limit: one on, a limit of 1, a second one refused; a
    // limit below what is on is refused too.
    let f = api.call(Method::PUT, "/api/v1/settings/features", &auth, Some(json!({"channel_limit": 1})));
    assert_eq!(f.status, StatusCode::NO_CONTENT, "{}", f.text);
    let mut second = always.clone();
    second["camera_id"] = json!("gate-2");
    let r = api.call(Method::POST, "/api/v1/schedules", &auth, Some(second.clone()));
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, 818), "{}", r.text);
    second["enabled"] = json!(false);
    let off = api.call(Method::POST, "/api/v1/schedules", &auth, Some(second));
    assert_eq!(off.status, StatusCode::CREATED, "a schedule that is off does not count: {}", off.text);
    assert_eq!(
        api.call(Method::PUT, "/api/v1/settings/features", &auth, Some(json!({"channel_limit": 0}))).code(),
        818
    );
    let off_id = off.body["id"].as_i64().unwrap();
    let s = api.call(Method::GET, &format!("/api/v1/schedules/{off_id}"), &auth, None);
    assert_eq!(s.body["status"]["state"], json!("disarmed"), "{}", s.text);

    // Stream certification: a schedule without credentials says why.
    api.call(Method::PUT, "/api/v1/settings/features", &auth, Some(json!({"stream_certification": true})));
    let mut open = always.clone();
    open["camera_id"] = json!("no-creds");
    open.as_object_mut().unwrap().remove("username");
    let n = api.call(Method::POST, "/api/v1/schedules", &auth, Some(open));
    let nid = n.body["id"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let g = api.call(Method::GET, &format!("/api/v1/schedules/{nid}"), &auth, None);
        if g.body["status"]["reason"].as_str().is_some_and(|r| r.contains("stream certification")) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", g.text);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // Delete; then it is gone.
    assert_eq!(api.call(Method::DELETE, &format!("/api/v1/schedules/{id}"), &auth, None).status, StatusCode::OK);
    assert_eq!(api.call(Method::GET, &format!("/api/v1/schedules/{id}"), &auth, None).code(), 807);
    assert_eq!(api.call(Method::DELETE, &format!("/api/v1/schedules/{id}"), &auth, None).code(), 807);
    let logs = api.log_contents(&auth);
    assert!(logs.iter().any(|l| l.contains("created recording schedule") && l.contains("lobby-1")), "{logs:?}");
    let all = api.call(Method::GET, "/api/v1/logs?page_size=1000", &auth, None);
    assert!(all.text.contains("streaming_error"), "transitions are in the system log");
    assert!(!all.text.contains(secret), "the camera password is in the log");
}
