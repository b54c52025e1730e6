//! `pstor-bench api`: the management API's latency over a real loopback
//! socket (HTTP/1.1 keep-alive, a bearer token), against its cheapest
//! request in the same run (the health probe): the home page's summary, a
//! log search (a text match over every entry) and a deep log page over a
//! log of N entries, and the memory and speed of the CSV download of all
//! of them (streamed: the server's resident memory must not grow with N).

use crate::measure::{percentile, Report, RssSampler};
use pstor_core::{Error, Result};
use pstor_server::config::{KeyPair, KindName, PoolConfig, SpaceConfig};
use pstor_server::meta::logs::{LogKind, LogLevel, LogLimits, NewLog};
use pstor_server::{ByteSize, Server, ServerConfig};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Options of `api`.
#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// Folder to run in (a fresh subfolder is created and removed).
    #[arg(long)]
    pub dir: PathBuf,
    /// Log entries to fill the log with.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: usize,
    /// Requests per measured kind (log searches: a tenth of it, at least 5).
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
}

fn invalid(m: impl Into<String>) -> Error {
    Error::InvalidArgument(m.into())
}

/// An answer: status, headers (lowercase names), the body if kept, and its
/// length.
type Answer = (u16, Vec<(String, String)>, Vec<u8>, u64);

/// A keep-alive HTTP/1.1 connection.
struct Http {
    rd: BufReader<TcpStream>,
    wr: TcpStream,
    auth: Vec<(String, String)>,
}

impl Http {
    fn connect(addr: std::net::SocketAddr) -> Result<Http> {
        let s = TcpStream::connect(addr).map_err(|e| invalid(format!("connecting to {addr}: {e}")))?;
        s.set_nodelay(true).ok();
        let wr = s.try_clone().map_err(|e| invalid(e.to_string()))?;
        Ok(Http { rd: BufReader::with_capacity(256 << 10, s), wr, auth: Vec::new() })
    }

    /// Sends a request and reads its answer (the body is counted but not
    /// kept unless `keep`).
    fn request(&mut self, method: &str, path: &str, body: Option<&str>, keep: bool) -> Result<Answer> {
        let io = |e: std::io::Error| invalid(format!("HTTP: {e}"));
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\n");
        for (k, v) in &self.auth {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len()));
        } else {
            req.push_str("\r\n");
        }
        self.wr.write_all(req.as_bytes()).map_err(io)?;
        let mut line = String::new();
        self.rd.read_line(&mut line).map_err(io)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("HTTP: bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.rd.read_line(&mut line).map_err(io)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let mut out = Vec::new();
        let mut total = 0u64;
        if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            let mut b = vec![0u8; len];
            self.rd.read_exact(&mut b).map_err(io)?;
            total = len as u64;
            if keep {
                out = b;
            }
        } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                line.clear();
                self.rd.read_line(&mut line).map_err(io)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| invalid("HTTP: bad chunk size"))?;
                if size == 0 {
                    line.clear();
                    self.rd.read_line(&mut line).map_err(io)?;
                    break;
                }
                let mut left = size;
                while left > 0 {
                    let n = left.min(chunk.len());
                    self.rd.read_exact(&mut chunk[..n]).map_err(io)?;
                    if keep {
                        out.extend_from_slice(&chunk[..n]);
                    }
                    left -= n;
                }
                total += size as u64;
                line.clear();
                self.rd.read_line(&mut line).map_err(io)?;
            }
        }
        Ok((status, headers, out, total))
    }

    /// A GET that must answer 200; its wall time.
    fn timed_get(&mut self, path: &str) -> Result<Duration> {
        let t = Instant::now();
        let (status, _, body, _) = self.request("GET", path, None, true)?;
        if status != 200 {
            return Err(invalid(format!("GET {path}: {status} {}", String::from_utf8_lossy(&body))));
        }
        Ok(t.elapsed())
    }
}

fn json(body: &[u8]) -> Result<serde_json::Value> {
    serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON: {e}")))
}

/// Logs in with the one-time password, changes it and makes a bearer token.
fn bearer(http: &mut Http, data: &std::path::Path) -> Result<String> {
    let once = std::fs::read_to_string(data.join("initial-admin-password")).map_err(|e| invalid(e.to_string()))?;
    let once = once.trim();
    let (s, h, b, _) = http.request(
        "POST",
        "/api/v1/session",
        Some(&serde_json::json!({"user": "admin", "password": once}).to_string()),
        true,
    )?;
    if s != 200 {
        return Err(invalid(format!("login: {s}")));
    }
    let cookie = h
        .iter()
        .find(|(k, _)| k == "set-cookie")
        .and_then(|(_, v)| v.split(';').next())
        .ok_or_else(|| invalid("no cookie"))?
        .to_string();
    let csrf = json(&b)?["csrf_token"].as_str().unwrap_or_default().to_string();
    http.auth = vec![("Cookie".into(), cookie), ("X-CSRF-Token".into(), csrf)];
    let change = serde_json::json!({"current_password": once, "new_password": "Bench-Password-1"}).to_string();
    let (s, ..) = http.request("PUT", "/api/v1/session/password", Some(&change), true)?;
    if s != 204 {
        return Err(invalid(format!("password change: {s}")));
    }
    let (s, _, b, _) = http.request("POST", "/api/v1/tokens", Some(r#"{"name":"bench"}"#), true)?;
    if s != 201 {
        return Err(invalid(format!("token: {s}")));
    }
    Ok(json(&b)?["token"].as_str().unwrap_or_default().to_string())
}

fn latencies(http: &mut Http, path: &str, n: usize) -> Result<(f64, f64)> {
    let mut v = (0..n).map(|_| http.timed_get(path)).collect::<Result<Vec<_>>>()?;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok((ms(percentile(&mut v, 0.5)), ms(percentile(&mut v, 0.99))))
}

pub fn run(a: &ApiArgs) -> Result<Report> {
    let root = a.dir.join("pstor-bench-api");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).map_err(|e| invalid(e.to_string()))?;
    let pair = KeyPair { access_key: "PSAKBENCHAPI00000001".into(), secret_key: "bench-api-secret-0123456789".into() };
    let mut cfg = ServerConfig::loopback(root.join("data"), pair);
    cfg.management.plain_http = true;
    cfg.management.log_max_entries = (a.entries as u64 * 2).max(1000);
    cfg.engine.segment_size = ByteSize(4 << 20);
    cfg.spaces = vec![SpaceConfig { path: root.join("space"), capacity: ByteSize(64 << 20), segment_size: None }];
    cfg.pools = vec![PoolConfig::new("video", KindName::Video, ByteSize(32 << 20))];
    let data = cfg.data_dir.clone();
    let server = Server::start(cfg).map_err(|e| invalid(format!("starting the server: {e}")))?;
    let addr = server.management_addr().ok_or_else(|| invalid("no management port"))?;
    let mut http = Http::connect(addr)?;
    let token = bearer(&mut http, &data)?;
    http.auth = vec![("Authorization".into(), format!("Bearer {token}"))];

    // The log: N entries, one transaction.
    let fill = Instant::now();
    let contents: Vec<String> =
        (0..a.entries).map(|i| format!("created resource pool \"camera group {i}\" (id {})", 1000 + i)).collect();
    let limits = LogLimits { max_entries: a.entries as u64 * 2, max_age_days: 365 };
    server
        .metadata()
        .append_log_batch(
            contents.iter().enumerate().map(|(i, c)| NewLog {
                kind: LogKind::Operation,
                level: if i % 50 == 0 { LogLevel::Warning } else { LogLevel::Info },
                ip: "192.0.2.10",
                user: "admin",
                content: c,
                result: "ok",
            }),
            limits,
        )
        .map_err(|e| invalid(e.to_string()))?;
    drop(contents);
    let fill_s = fill.elapsed().as_secs_f64();
    // The server closes a keep-alive connection idle past its header
    // timeout (10 s): a fresh one for the measurements.
    let auth = std::mem::take(&mut http.auth);
    http = Http::connect(addr)?;
    http.auth = auth;

    let n = a.requests.max(10);
    let (health50, health99) = latencies(&mut http, "/api/v1/health", n)?;
    let (sum50, sum99) = latencies(&mut http, "/api/v1/system/summary", n)?;
    // The oldest entry: the search reads every row.
    let (search50, search99) =
        latencies(&mut http, "/api/v1/logs?text=camera%20group%200%22&page_size=50", (n / 10).max(5))?;
    let deep = a.entries / 50 / 2;
    let (page50, page99) =
        latencies(&mut http, &format!("/api/v1/logs?page={}&page_size=50", deep.max(1)), (n / 10).max(5))?;

    // The CSV of everything, with the process's resident memory sampled.
    let sampler = RssSampler::start(Duration::from_millis(5));
    let t = Instant::now();
    let (status, _, _, bytes) = http.request("GET", "/api/v1/logs.csv", None, false)?;
    let csv_s = t.elapsed().as_secs_f64();
    let (rss_before, peak) = sampler.stop();
    if status != 200 {
        return Err(invalid(format!("CSV: {status}")));
    }
    server.shutdown().map_err(|e| invalid(format!("stopping the server: {e}")))?;
    let _ = std::fs::remove_dir_all(&root);

    let mut r = Report::default();
    r.add("log_entries", a.entries, "");
    r.num("log_fill_s", fill_s, 2, "s (one transaction)");
    r.num("health_p50_ms", health50, 3, "ms (baseline)");
    r.num("health_p99_ms", health99, 3, "ms");
    r.num("summary_p50_ms", sum50, 3, "ms");
    r.num("summary_p99_ms", sum99, 3, "ms");
    r.num("summary_p50_ratio", sum50 / health50.max(1e-9), 2, "x health");
    r.num("log_search_p50_ms", search50, 1, "ms (text match over every entry)");
    r.num("log_search_p99_ms", search99, 1, "ms");
    r.num("log_deep_page_p50_ms", page50, 1, "ms (page in the middle)");
    r.num("log_deep_page_p99_ms", page99, 1, "ms");
    r.add("csv_bytes", bytes, "B");
    r.num("csv_s", csv_s, 2, "s");
    r.num("csv_rss_before_mib", rss_before, 1, "MiB");
    r.num("csv_rss_peak_mib", peak, 1, "MiB");
    r.num("csv_rss_growth_mib", peak - rss_before, 1, "MiB (streamed: independent of the entry count)");
    Ok(r)
}
