//! The management port over real sockets, driven by curl (a real HTTP
//! client): TLS with the generated certificate, HTTP/2 by ALPN, HSTS, the
//! cookie flags, the forced password change, and what a plain-HTTP or
//! garbage client gets.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs curl; (HTTP status, headers, body).
fn curl(args: &[&str]) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-D", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl is installed (the test command installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    let (rest, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    if !out.status.success() {
        return (0, String::new(), format!("curl failed: {err}"));
    }
    let (headers, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    (code.trim().parse().unwrap_or(0), headers.to_lowercase(), body.to_string())
}

struct Site {
    ts: TestServer,
    base: String,
    cacert: PathBuf,
    jar: PathBuf,
}

impl Site {
    fn start(plain: bool) -> Site {
        let ts = TestServer::with(|c| c.management.plain_http = plain);
        let addr = ts.server().management_addr().unwrap();
        let scheme = if plain { "http" } else { "https" };
        let cacert = ts.cfg.data_dir.join("tls/cert.pem");
        let jar = ts.dir.path().join("cookies.txt");
        Site { base: format!("{scheme}://{addr}"), cacert, jar, ts }
    }

    fn get(&self, path: &str, extra: &[&str]) -> (u16, String, String) {
        let url = format!("{}{path}", self.base);
        let mut args = vec![
            "--cacert",
            self.cacert.to_str().unwrap(),
            "-b",
            self.jar.to_str().unwrap(),
            "-c",
            self.jar.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.push(&url);
        curl(&args)
    }

    fn send(&self, method: &str, path: &str, body: &Value, csrf: Option<&str>) -> (u16, String, String) {
        let b = body.to_string();
        let h = csrf.map(|c| format!("X-CSRF-Token: {c}"));
        let mut extra = vec!["-X", method, "-H", "Content-Type: application/json", "--data", b.as_str()];
        if let Some(h) = &h {
            extra.extend_from_slice(&["-H", h.as_str()]);
        }
        self.get(path, &extra)
    }
}

fn password(data: &Path) -> String {
    std::fs::read_to_string(data.join("initial-admin-password")).unwrap().trim().to_string()
}

#[test]
fn tls_login_password_change_and_cookie_flags_with_curl() {
    let site = Site::start(false);
    let (code, headers, body) = site.get("/api/v1/health", &[]);
    assert_eq!(code, 200, "{headers}{body}");
    assert!(headers.contains("strict-transport-security: max-age="), "{headers}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["status"], json!("ok"));
    // HTTP/2 by ALPN.
    let v = Command::new("curl")
        .args(["-sS", "--http2", "-o", "/dev/null", "-w", "%{http_version}", "--cacert"])
        .arg(&site.cacert)
        .arg(format!("{}/api/v1/health", site.base))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&v.stdout), "2");
    // The certificate it hands out is the one it serves.
    let (_, _, pem) = site.get("/api/v1/certificate", &[]);
    assert_eq!(pem, std::fs::read_to_string(&site.cacert).unwrap());

    let once = password(&site.ts.cfg.data_dir);
    let (code, headers, body) = site.send("POST", "/api/v1/session", &json!({"user": "admin", "password": once}), None);
    assert_eq!(code, 200, "{body}");
    let cookie = headers.lines().find(|l| l.starts_with("set-cookie:")).unwrap().to_string();
    for flag in ["httponly", "secure", "samesite=strict"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    let jar = std::fs::read_to_string(&site.jar).unwrap();
    assert!(jar.contains("#HttpOnly_") && jar.contains("pstor_session"), "{jar}");
    let csrf = serde_json::from_str::<Value>(&body).unwrap()["csrf_token"].as_str().unwrap().to_string();

    let (code, _, body) = site.get("/api/v1/pools", &[]);
    assert_eq!(code, 403, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], json!(801));
    let change = json!({"current_password": once, "new_password": "Another-Pass-77"});
    let (code, _, body) = site.send("PUT", "/api/v1/session/password", &change, None);
    assert_eq!(code, 403, "no CSRF token: {body}");
    let (code, _, body) = site.send("PUT", "/api/v1/session/password", &change, Some(&csrf));
    assert_eq!(code, 204, "{body}");
    let (code, _, body) = site.get("/api/v1/pools", &[]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["total"], json!(2));
    let (code, _, _) = site.get("/api/v1/system/summary", &[]);
    assert_eq!(code, 200);
}

#[test]
fn plain_http_and_garbage_on_the_tls_port_get_nothing_and_it_keeps_serving() {
    let site = Site::start(false);
    let addr = site.ts.server().management_addr().unwrap();
    let (code, _, _) = curl(&[&format!("http://{addr}/api/v1/health")]);
    assert_ne!(code, 200, "plain HTTP on the TLS port");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(15))).unwrap();
    s.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0, 0, 0, 0]).unwrap();
    let mut b = [0u8; 64];
    let _ = s.read(&mut b); // an alert, or the close
    let (code, _, _) = site.get("/api/v1/health", &[]);
    assert_eq!(code, 200, "still serving");
}

#[test]
fn a_plain_http_port_only_when_configured() {
    let site = Site::start(true);
    let (code, headers, _) = site.get("/api/v1/health", &[]);
    assert_eq!(code, 200);
    assert!(!headers.contains("strict-transport-security"), "no HSTS without TLS: {headers}");
    let (code, _, _) = site.get("/api/v1/certificate", &[]);
    assert_eq!(code, 404);
    let once = password(&site.ts.cfg.data_dir);
    let (code, headers, _) = site.send("POST", "/api/v1/session", &json!({"user": "admin", "password": once}), None);
    assert_eq!(code, 200);
    let cookie = headers.lines().find(|l| l.starts_with("set-cookie:")).unwrap().to_string();
    assert!(cookie.contains("httponly") && !cookie.contains("secure"), "{cookie}");
}
