//! Playback and download (6038/6039) against real peers: a server on
//! loopback whose engine holds real H.264 frames (pstor-media's gop10
//! vectors, repeated), fetched with curl, checked with ffprobe and ffmpeg
//! (installed by the test command: scripts/install-media-peers.sh).
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../pstor-media/tests/support/probe.rs"]
mod probe;
#[path = "../../pstor-recorder/tests/common/mod.rs"]
mod rtsp;
#[path = "../../pstor-media/tests/support/vectors.rs"]
mod vectors;

use bytes::Bytes;
use common::{TestServer, ACCESS, SECRET, T0};
use probe::{decodes_cleanly, frame_sizes, probe, same_samples};
use pstor_core::{Engine, StreamId, StreamKind, StreamSpec};
use pstor_media::{AccessUnit, Codec, DecoderConfig};
use pstor_server::playback::links;
use std::path::{Path, PathBuf};
use std::process::Command;

const FRAME_US: i64 = 40_000;

fn vector(name: &str) -> Vec<Vec<u8>> {
    vectors::stored_units(Codec::H264, name)
}

/// A frame as stored.
#[derive(Clone)]
struct Stored {
    ts: i64,
    key: bool,
    data: Vec<u8>,
}

/// A server with plain-HTTP playback and management, and a camera stream.
struct Fixture {
    ts: TestServer,
    stream: StreamId,
    frames: Vec<Stored>,
}

fn register(engine: &Engine, pool: pstor_core::PoolId, camera: &str) -> StreamId {
    engine
        .register_stream(StreamSpec {
            pool,
            camera_id: camera.into(),
            channel: 1,
            kind: StreamKind::Main,
            codec: "H264".into(),
            codec_config: Vec::new(),
        })
        .unwrap()
}

/// Appends `units` (repeated `times`) from `t0`, 25 fps; returns what was stored.
fn append(engine: &Engine, s: StreamId, units: &[Vec<u8>], times: usize, t0: i64) -> Vec<Stored> {
    let mut out = Vec::new();
    for i in 0..units.len() * times {
        let data = &units[i % units.len()];
        let key = AccessUnit::parse(Codec::H264, data).unwrap().is_key();
        if i == 0 {
            let cfg = DecoderConfig::from_access_unit(&AccessUnit::parse(Codec::H264, data).unwrap()).unwrap();
            engine.set_codec_config(s, "H264", &cfg.to_record().unwrap()).unwrap();
        }
        let ts = t0 + i as i64 * FRAME_US;
        engine.append(s, ts, key, Bytes::from(data.clone())).unwrap();
        out.push(Stored { ts, key, data: data.clone() });
    }
    engine.sync(s).unwrap();
    out
}

impl Fixture {
    fn start() -> Fixture {
        Self::with(|_| {})
    }

    fn with(f: impl FnOnce(&mut pstor_server::ServerConfig)) -> Fixture {
        let ts = TestServer::with(|c| {
            c.playback.plain_http = true;
            c.management.plain_http = true;
            f(c);
        });
        let engine = ts.server().engine().clone();
        let stream = register(&engine, ts.pool("video"), "gate <1>");
        let frames = append(&engine, stream, &vector("h264_gop10_96x64.h264"), 5, T0);
        Fixture { ts, stream, frames }
    }

    fn data_port(&self) -> std::net::SocketAddr {
        self.ts.server().playback_addrs().unwrap().1
    }

    fn signalling_port(&self) -> std::net::SocketAddr {
        self.ts.server().playback_addrs().unwrap().0
    }

    /// A data-port URL of `path_and_query`, signed with the SDK key.
    fn link(&self, path_and_query: &str) -> String {
        let exp = pstor_server::playback::now_secs() + 600;
        format!("http://{}{}", self.data_port(), links::signed(path_and_query, ACCESS, SECRET.as_bytes(), exp))
    }

    fn view(&self, start: i64, end: i64) -> String {
        self.link(&format!("/api/v1/streams/{}/view.mp4?start={start}&end={end}", self.stream))
    }

    fn tmp(&self, name: &str) -> PathBuf {
        self.ts.dir.path().join(name)
    }
}

/// What curl got: status, headers (lower-case names), body, exit code.
struct Got {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    exit: i32,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
    fn code(&self) -> u64 {
        self.json()["error"]["code"].as_u64().unwrap()
    }
}

/// Runs curl with `args` and the URL; the body goes to `out` (or a
/// temporary file, read back).
fn curl_to(args: &[&str], url: &str, out: &Path) -> Got {
    let hdr = out.with_extension("headers");
    let o = Command::new("curl")
        .args(["-sS", "-o", out.to_str().unwrap(), "-D", hdr.to_str().unwrap(), "-w", "%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl (the test command installs it)");
    let text = std::fs::read_to_string(&hdr).unwrap_or_default();
    let headers = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Got {
        status: String::from_utf8_lossy(&o.stdout).trim().parse().unwrap_or(0),
        headers,
        body: std::fs::read(out).unwrap_or_default(),
        exit: o.status.code().unwrap_or(-1),
    }
}

fn curl(f: &Fixture, args: &[&str], url: &str) -> Got {
    let out = f.tmp(&format!("curl-{}", rand::random::<u64>()));
    curl_to(args, url, &out)
}

/// Checks a file with ffprobe and ffmpeg against the stored frames it
/// should hold (from a key frame on), its presentation's start and length.
fn check_file(path: &Path, frames: &[Stored], shown_from: i64, shown_secs: f64, size: (u32, u32)) {
    let p = probe(path);
    assert_eq!((p.codec.as_str(), p.width, p.height), ("h264", size.0, size.1));
    assert!((p.duration - shown_secs).abs() < 1e-3, "duration {}, expected {shown_secs}", p.duration);
    let f: Vec<(i64, bool, &[u8])> = frames.iter().map(|f| (f.ts, f.key, f.data.as_slice())).collect();
    same_samples(&p, &f, shown_from);
    decodes_cleanly(path);
}

#[test]
fn an_exported_range_is_the_stored_frames_exactly() {
    let f = Fixture::start();
    // From frame 15 (decoding starts at the key frame 10) to frame 170.
    let (start, end) = (f.frames[15].ts, f.frames[170].ts);
    let file = f.tmp("range.mp4");
    let g = curl_to(&[], &f.view(start, end), &file);
    assert_eq!(g.status, 200, "{}", String::from_utf8_lossy(&g.body));
    assert_eq!(g.header("content-type"), Some("video/mp4"));
    assert_eq!(g.header("accept-ranges"), Some("bytes"));
    assert_eq!(g.header("content-length").unwrap().parse::<usize>().unwrap(), g.body.len());
    assert_eq!(g.header("x-pstor-frames"), Some("161"));
    assert!(g.header("etag").unwrap().starts_with('"'));
    assert!(g.header("last-modified").unwrap().ends_with("GMT"));
    let cd = g.header("content-disposition").unwrap();
    assert!(cd.contains("filename=\"gate__1__ch1_main_20261123T000000Z-20261123T000006Z.mp4\""), "{cd}");
    assert!(cd.contains("filename*=UTF-8''gate%20%3C1%3E_ch1_main_"), "{cd}");
    // Fast start: ftyp, moov, then mdat.
    let moov_at = u32::from_be_bytes(g.body[..4].try_into().unwrap()) as usize;
    assert_eq!(&g.body[moov_at + 4..moov_at + 8], b"moov");
    check_file(&file, &f.frames[10..=170], start, 156.0 * 0.04, (96, 64));
    // The same through the camera form, and the same file twice: same bytes, same ETag.
    let by_camera =
        curl(&f, &[], &f.link(&format!("/api/v1/cameras/gate%20%3C1%3E/1/main/view.mp4?start={start}&end={end}")));
    assert_eq!(by_camera.status, 200);
    assert!(by_camera.body == g.body, "the camera form gives the same file");
    assert_eq!(by_camera.header("etag"), g.header("etag"));
    // RFC 3339 times work as well as µs.
    let rfc = curl(
        &f,
        &[],
        &f.link(&format!(
            "/api/v1/streams/{}/view.mp4?start=2026-11-23T00:00:00.6Z&end=2026-11-23T00:00:06.8Z",
            f.stream
        )),
    );
    assert!(rfc.body == g.body, "RFC 3339 times name the same range");
}

#[test]
fn range_head_etag_and_conditions_with_curl() {
    let f = Fixture::start();
    let url = f.view(f.frames[0].ts, f.frames[299].ts);
    let whole = curl(&f, &[], &url);
    assert_eq!(whole.status, 200);
    let len = whole.body.len();
    let etag = whole.header("etag").unwrap().to_string();
    // HEAD: the same headers, no body.
    let head = curl(&f, &["-I"], &url);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length").unwrap().parse::<usize>().unwrap(), len);
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    // (curl -I writes the headers where the body would go: no video.)
    assert!(head.body.starts_with(b"HTTP/") && !head.body.windows(4).any(|w| w == b"ftyp"));
    // Single ranges: 206 with Content-Range.
    for (ask, first, last) in
        [("0-99", 0, 99), ("1000-", 1000, len - 1), ("-500", len - 500, len - 1), ("100-100", 100, 100)]
    {
        let r = curl(&f, &["-r", ask], &url);
        assert_eq!(r.status, 206, "{ask}");
        assert_eq!(r.header("content-range").unwrap(), format!("bytes {first}-{last}/{len}"), "{ask}");
        assert!(r.body == whole.body[first..=last], "{ask}: the bytes of that range");
    }
    // Beyond the end: 416 with the length.
    let r = curl(&f, &["-r", &format!("{len}-")], &url);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range").unwrap(), format!("bytes */{len}"));
    assert_eq!(r.code(), 820);
    // Several ranges: the whole file.
    let r = curl(&f, &["-r", "0-9,20-29"], &url);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), len);
    // If-None-Match: 304; another tag: 200.
    assert_eq!(curl(&f, &["-H", &format!("If-None-Match: {etag}")], &url).status, 304);
    assert_eq!(curl(&f, &["-H", "If-None-Match: \"other\""], &url).status, 200);
    // If-Modified-Since the file's Last-Modified: 304.
    let lm = whole.header("last-modified").unwrap().to_string();
    assert_eq!(curl(&f, &["-H", &format!("If-Modified-Since: {lm}")], &url).status, 304);
    // If-Range: the range only while the tag matches.
    assert_eq!(curl(&f, &["-r", "0-9", "-H", &format!("If-Range: {etag}")], &url).status, 206);
    let stale = curl(&f, &["-r", "0-9", "-H", "If-Range: \"old\""], &url);
    assert_eq!((stale.status, stale.body.len()), (200, len));
    // If-Match with another tag: 412.
    let r = curl(&f, &["-H", "If-Match: \"other\""], &url);
    assert_eq!((r.status, r.code()), (412, 825));
    // An interrupted download (the client drops the connection after
    // 50,000 bytes) resumed with a range is the whole file.
    let part = f.tmp("resumed.mp4");
    let cut = Command::new("sh")
        .arg("-c")
        .arg(format!("curl -sS '{url}' 2>/dev/null | head -c 50000 > '{}'", part.display()))
        .status()
        .unwrap();
    assert!(cut.success());
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 50_000);
    let resumed = curl_to(&["-C", "-"], &url, &part);
    assert_eq!(resumed.status, 206);
    assert!(std::fs::read(&part).unwrap() == whole.body, "resumed = whole, byte for byte");
}

#[test]
fn links_sessions_and_the_signalling_port() {
    let f = Fixture::start();
    let path = format!("/api/v1/streams/{}/view.mp4?start={}&end={}", f.stream, f.frames[0].ts, f.frames[99].ts);
    let data = f.data_port();
    // Nothing without credentials.
    let r = curl(&f, &[], &format!("http://{data}{path}"));
    assert_eq!((r.status, r.code()), (401, 800));
    // A changed link, another key's, an expired one.
    let good = f.link(&path);
    let changed = good.replace("start=", "start=1");
    assert_eq!(curl(&f, &[], &changed).code(), 823);
    let exp = pstor_server::playback::now_secs() + 60;
    let other = format!("http://{data}{}", links::signed(&path, ACCESS, b"wrong secret", exp));
    assert_eq!(curl(&f, &[], &other).code(), 823);
    let unknown = format!("http://{data}{}", links::signed(&path, "NOSUCHKEY", SECRET.as_bytes(), exp));
    assert_eq!(curl(&f, &[], &unknown).code(), 823);
    let expired = format!("http://{data}{}", links::signed(&path, ACCESS, SECRET.as_bytes(), exp - 120));
    let r = curl(&f, &[], &expired);
    assert_eq!((r.status, r.code()), (403, 824));
    let too_long = format!("http://{data}{}", links::signed(&path, ACCESS, SECRET.as_bytes(), exp + 10 * 86_400));
    assert_eq!(curl(&f, &[], &too_long).code(), 823);
    assert_eq!(curl(&f, &[], &good).status, 200);
    // A session's API token works on both ports.
    let token = admin_token(&f);
    let bearer = format!("Authorization: Bearer {token}");
    let sig = f.signalling_port();
    let r = curl(&f, &["-H", &bearer], &format!("http://{data}{path}"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let list = curl(
        &f,
        &["-H", &bearer],
        &format!(
            "http://{sig}/api/v1/streams/{}/recordings?start={}&end={}",
            f.stream,
            T0 - 10_000_000,
            T0 + 60_000_000
        ),
    );
    assert_eq!(list.status, 200, "{}", String::from_utf8_lossy(&list.body));
    let j = list.json();
    assert_eq!(j["camera_id"], "gate <1>");
    let ranges = j["ranges"].as_array().unwrap();
    assert_eq!(ranges.len(), 1);
    assert_eq!(ranges[0]["start"].as_i64(), Some(f.frames[0].ts));
    assert_eq!(ranges[0]["end"].as_i64(), Some(f.frames[299].ts));
    // Its links play without credentials.
    let part = curl(&f, &[], ranges[0]["mp4"].as_str().unwrap());
    assert_eq!(part.status, 200);
    assert_eq!(part.header("x-pstor-frames"), Some("300"));
    // A link on request.
    let made = curl(
        &f,
        &[
            "-H",
            &bearer,
            "-H",
            "Content-Type: application/json",
            "-d",
            &serde_json::json!({"path": path, "expires_in_secs": 60}).to_string(),
        ],
        &format!("http://{sig}/api/v1/links"),
    );
    assert_eq!(made.status, 201, "{}", String::from_utf8_lossy(&made.body));
    assert_eq!(curl(&f, &[], made.json()["url"].as_str().unwrap()).status, 200);
    let bad = curl(
        &f,
        &["-H", &bearer, "-H", "Content-Type: application/json", "-d", r#"{"path":"/api/v1/keys"}"#],
        &format!("http://{sig}/api/v1/links"),
    );
    assert_eq!((bad.status, bad.code()), (400, 808));
    // A file asked of the signalling port is redirected to the data port.
    let r = curl(&f, &["-H", &bearer], &format!("http://{sig}{path}"));
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location").unwrap(), format!("http://{data}{path}"));
    // (curl sends a token to another port only when told to trust it.)
    let followed = curl(&f, &["--location-trusted", "-H", &bearer], &format!("http://{sig}{path}"));
    assert_eq!(followed.status, 200);
    // A signed link is for GET and HEAD only.
    let post = curl(&f, &["-X", "POST"], &good);
    assert_eq!(post.status, 403);
    // The address restrictions' playback list guards both ports.
    let m = f.ts.server().management_addr().unwrap();
    let lists = r#"{"management":[],"sdk":[],"playback":["192.0.2.0/24"]}"#;
    let put = curl(
        &f,
        &["-X", "PUT", "-H", &bearer, "-H", "Content-Type: application/json", "-d", lists],
        &format!("http://{m}/api/v1/settings/access"),
    );
    assert_eq!(put.status, 204, "{}", String::from_utf8_lossy(&put.body));
    for url in [good.clone(), format!("http://{sig}/api/v1/health")] {
        let r = curl(&f, &[], &url);
        assert_eq!((r.status, r.code()), (403, 805), "{url}");
    }
}

/// The administrator's API token, through the management port.
fn admin_token(f: &Fixture) -> String {
    let m = f.ts.server().management_addr().unwrap();
    let jar = f.tmp("jar.txt");
    let once = std::fs::read_to_string(f.ts.cfg.data_dir.join("initial-admin-password")).unwrap().trim().to_string();
    let c = |args: &[&str], path: &str| {
        let mut all =
            vec!["-b", jar.to_str().unwrap(), "-c", jar.to_str().unwrap(), "-H", "Content-Type: application/json"];
        all.extend_from_slice(args);
        curl(f, &all, &format!("http://{m}{path}"))
    };
    let login = c(&["-d", &serde_json::json!({"user": "admin", "password": once}).to_string()], "/api/v1/session");
    assert_eq!(login.status, 200);
    let csrf = format!("X-CSRF-Token: {}", login.json()["csrf_token"].as_str().unwrap());
    let change = serde_json::json!({"current_password": once, "new_password": "Camera-Vault-2026"}).to_string();
    assert_eq!(c(&["-X", "PUT", "-H", &csrf, "-d", &change], "/api/v1/session/password").status, 204);
    let t = c(&["-H", &csrf, "-d", r#"{"name":"playback test"}"#], "/api/v1/tokens");
    assert_eq!(t.status, 201, "{}", String::from_utf8_lossy(&t.body));
    t.json()["token"].as_str().unwrap().to_string()
}

#[test]
fn a_gap_shows_in_the_timeline_and_a_codec_change_gets_its_own_description() {
    let f = Fixture::start();
    let engine = f.ts.server().engine().clone();
    // 30 s after the first recording ends, the camera comes back at 130x74.
    let t1 = f.frames.last().unwrap().ts + 30_000_000;
    let second = append(&engine, f.stream, &vector("h264_gop10_130x74.h264"), 2, t1);
    let last = second.last().unwrap().ts;
    let file = f.tmp("gap.mp4");
    let g = curl_to(&[], &f.view(f.frames[0].ts, last), &file);
    assert_eq!(g.status, 200);
    let all: Vec<Stored> = f.frames.iter().chain(&second).cloned().collect();
    let span = (last - f.frames[0].ts) as f64 / 1e6 + 0.04;
    check_file(&file, &all, f.frames[0].ts, span, (96, 64));
    assert_eq!(frame_sizes(&file), ["130,74", "96,64"]);
    // A range starting in the gap starts at the first frame after it.
    let g = curl_to(&[], &f.view(t1 - 10_000_000, last), &f.tmp("after.mp4"));
    assert_eq!(g.header("x-pstor-first-frame").unwrap().parse::<i64>().unwrap(), t1);
    check_file(&f.tmp("after.mp4"), &second, t1, (last - t1) as f64 / 1e6 + 0.04, (130, 74));
}

#[test]
fn refusals_say_why() {
    let f = Fixture::with(|c| c.playback.max_range_hours = 1);
    let s = f.stream;
    let at = |q: &str| curl(&f, &[], &f.link(&format!("/api/v1/streams/{s}/view.mp4?{q}")));
    let r = at(&format!("start={T0}&end={}", T0 + 2 * 3_600_000_000));
    assert_eq!((r.status, r.code()), (422, 821));
    let r = at(&format!("start={}&end={}", T0 - 100_000_000, T0 - 50_000_000));
    assert_eq!((r.status, r.code()), (404, 819));
    let r = at(&format!("start={T0}&end={}", T0 - 1));
    assert_eq!((r.status, r.code()), (400, 808));
    let r = at("start=yesterday&end=today");
    assert_eq!((r.status, r.code()), (400, 808));
    let r = at(&format!("start={T0}"));
    assert_eq!((r.status, r.code()), (400, 808));
    let r = curl(&f, &[], &f.link(&format!("/api/v1/streams/12345/view.mp4?start={T0}&end={}", T0 + 1)));
    assert_eq!(r.status, 404);
    let r = curl(&f, &[], &f.link(&format!("/api/v1/cameras/nobody/1/main/view.mp4?start={T0}&end={}", T0 + 1)));
    assert_eq!(r.status, 404);
    let r = curl(&f, &[], &f.link(&format!("/api/v1/cameras/gate/1/side/view.mp4?start={T0}&end={}", T0 + 1)));
    assert_eq!((r.status, r.code()), (400, 808));
    // The server is unaffected.
    assert_eq!(curl(&f, &[], &f.view(T0, T0 + 1_000_000)).status, 200);
}

#[test]
fn the_sha256_sidecar_verifies_the_file_and_later_downloads_carry_it() {
    let f = Fixture::start();
    let (start, end) = (f.frames[0].ts, f.frames[120].ts);
    let dir = f.tmp("evidence");
    std::fs::create_dir_all(&dir).unwrap();
    let g = curl(&f, &[], &f.view(start, end));
    let cd = g.header("content-disposition").unwrap();
    let name = cd.split("filename=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    std::fs::write(dir.join(&name), &g.body).unwrap();
    let side = curl(&f, &[], &f.link(&format!("/api/v1/streams/{}/view.mp4.sha256?start={start}&end={end}", f.stream)));
    assert_eq!(side.status, 200);
    std::fs::write(dir.join(format!("{name}.sha256")), &side.body).unwrap();
    let out = Command::new("sha256sum").current_dir(&dir).args(["-c", &format!("{name}.sha256")]).output().unwrap();
    assert!(out.status.success(), "sha256sum -c: {}", String::from_utf8_lossy(&out.stdout));
    let again = curl(&f, &["-I"], &f.view(start, end));
    let digest = again.header("repr-digest").unwrap();
    use base64::Engine as _;
    let want = base64::engine::general_purpose::STANDARD
        .encode(<[u8; 32]>::from(sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&g.body))));
    assert_eq!(digest, format!("sha-256=:{want}:"));
}

/// Frames of ~48 KiB (a real key frame's parameter sets and slice, then
/// filler data), so that a file is large and overwrite comes quickly.
fn big_frames(n: usize) -> Vec<Vec<u8>> {
    let units = vector("h264_gop10_96x64.h264");
    (0..n)
        .map(|i| {
            let mut v = units[i % 10].clone();
            let filler = vec![0xff; 48 << 10];
            let mut nal = vec![0x0c]; // filler data NAL unit
            nal.extend_from_slice(&filler);
            nal.push(0x80);
            pstor_media::append_length_prefixed(&nal, &mut v).unwrap();
            v
        })
        .collect()
}

/// Starts a slow download of the oldest range, overwrites the pool under
/// it, and returns what curl got and the whole file as it was.
fn download_while_overwriting(lock: bool) -> (Got, Vec<u8>) {
    let f = Fixture::with(|c| {
        // A 64 MiB pool of 1 MiB segments.
        c.spaces[0].capacity = pstor_server::ByteSize(96 << 20);
        c.pools[0].capacity = pstor_server::ByteSize(64 << 20);
        c.pools[1].capacity = pstor_server::ByteSize(8 << 20);
        c.pools[0].max_lock_pct = 90;
    });
    let engine = f.ts.server().engine().clone();
    let t1 = T0 + 3_600_000_000;
    // A file larger than loopback's socket buffers and the server's few
    // steps ahead together hold (about 16 MiB).
    let old = append(&engine, f.stream, &big_frames(1000), 1, t1);
    let (start, end) = (old[0].ts, old.last().unwrap().ts);
    if lock {
        engine.lock(f.stream, start, end, None).unwrap();
    }
    let url = f.view(start, end);
    let whole = curl(&f, &[], &url);
    assert_eq!(whole.status, 200);
    assert!(whole.body.len() > 45 << 20, "a file of {} bytes", whole.body.len());
    let out = f.tmp("slow.mp4");
    let child = {
        let (url, out) = (url.clone(), out.clone());
        std::thread::spawn(move || curl_to(&["--limit-rate", "2M"], &url, &out))
    };
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // Twice the pool's capacity of newer video: the oldest segments go.
    append(&engine, f.stream, &big_frames(2700), 1, t1 + 3_600_000_000);
    let got = child.join().unwrap();
    let left = engine.export_records(f.stream, start, end).map(|r| r.records.len());
    eprintln!(
        "after the overwrite: {left:?} records of the old range; curl got {} of {} bytes",
        got.body.len(),
        whole.body.len()
    );
    (got, whole.body)
}

#[test]
fn a_range_overwritten_during_its_download_is_cut_after_correct_bytes() {
    let (got, whole) = download_while_overwriting(false);
    assert_eq!(got.status, 200);
    assert_eq!(got.exit, 18, "curl: transfer closed with bytes remaining");
    assert!(got.body.len() < whole.len(), "cut short: {} of {}", got.body.len(), whole.len());
    assert!(got.body[..] == whole[..got.body.len()], "every byte sent was the file's");
}

#[test]
fn a_locked_range_downloads_in_full_under_overwrite() {
    let (got, whole) = download_while_overwriting(true);
    assert_eq!((got.status, got.exit), (200, 0));
    assert!(got.body == whole, "the locked range, whole");
}

#[test]
fn the_data_port_speaks_tls() {
    let f = Fixture::with(|c| {
        c.playback.plain_http = false;
        c.management.plain_http = false;
    });
    let url = f.view(f.frames[0].ts, f.frames[49].ts).replace("http://", "https://");
    let r = curl(&f, &["-k", "-I"], &url);
    assert_eq!(r.status, 200);
    assert!(r.header("strict-transport-security").is_some());
    let plain = curl(&f, &[], &url.replace("https://", "http://"));
    assert_ne!(plain.status, 200, "no plain HTTP on a TLS port");
}

/// A camera recording on the wall clock at 25 fps (a key frame every 10),
/// from six seconds ago, until dropped.
struct LiveCamera {
    stream: StreamId,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    feeder: Option<std::thread::JoinHandle<()>>,
}

impl LiveCamera {
    fn start(f: &Fixture) -> LiveCamera {
        let engine = f.ts.server().engine().clone();
        let stream = register(&engine, f.ts.pool("video"), "live cam");
        let units = vector("h264_gop10_96x64.h264");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let feeder = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let now = || pstor_server::playback::now_secs() * 1_000_000;
                let t0 = now() - 6_000_000;
                let cfg = DecoderConfig::from_access_unit(&AccessUnit::parse(Codec::H264, &units[0]).unwrap()).unwrap();
                engine.set_codec_config(stream, "H264", &cfg.to_record().unwrap()).unwrap();
                let mut i = 0usize;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let ts = t0 + i as i64 * FRAME_US;
                    if ts > now() + 999_999 {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                        continue;
                    }
                    engine
                        .append(stream, ts, i.is_multiple_of(10), Bytes::from(units[i % units.len()].clone()))
                        .unwrap();
                    engine.flush(stream).unwrap();
                    i += 1;
                }
            })
        };
        std::thread::sleep(std::time::Duration::from_secs(1));
        LiveCamera { stream, stop, feeder: Some(feeder) }
    }
}

impl Drop for LiveCamera {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(f) = self.feeder.take() {
            let _ = f.join();
        }
    }
}

/// A signed link of the signalling port (playlists).
fn signalling_link(f: &Fixture, path_and_query: &str) -> String {
    let exp = pstor_server::playback::now_secs() + 600;
    format!("http://{}{}", f.signalling_port(), links::signed(path_and_query, ACCESS, SECRET.as_bytes(), exp))
}

#[test]
fn an_hls_playlist_of_a_recording_plays_in_ffmpeg_with_every_frame() {
    let f = Fixture::start();
    let engine = f.ts.server().engine().clone();
    let t1 = f.frames.last().unwrap().ts + 5_000_000;
    let second = append(&engine, f.stream, &vector("h264_gop10_130x74.h264"), 1, t1);
    let (start, end) = (f.frames[15].ts, second.last().unwrap().ts);
    let url = signalling_link(&f, &format!("/api/v1/streams/{}/playlist.m3u8?start={start}&end={end}", f.stream));
    let pl = curl(&f, &[], &url);
    assert_eq!(pl.status, 200, "{}", String::from_utf8_lossy(&pl.body));
    assert_eq!(pl.header("content-type"), Some("application/vnd.apple.mpegurl"));
    let text = String::from_utf8(pl.body.clone()).unwrap();
    assert!(text.starts_with("#EXTM3U\n"), "{text}");
    assert_eq!(text.matches("#EXT-X-MAP:").count(), 2, "a new map at the codec change: {text}");
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY").count(), 1);
    assert!(text.contains("#EXT-X-START:TIME-OFFSET=0.200,PRECISE=YES"), "{text}");
    assert!(text.trim_end().ends_with("#EXT-X-ENDLIST"));
    // Each segment lasts up to the next; together the whole span.
    let total: f64 = text
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|d| d.trim_end_matches(',').parse::<f64>().unwrap())
        .sum();
    let span = (end - f.frames[10].ts) as f64 / 1e6 + 0.04;
    assert!((total - span).abs() < 1e-3, "EXTINF sum {total}, span {span}");
    // ffmpeg reads the playlist, its init and media segments: every frame
    // from the key frame before the start, in order, decoded cleanly.
    let file = f.tmp("hls.mp4");
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-protocol_whitelist", "http,tcp,file", "-i", &url, "-c", "copy", "-y"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg over HLS: {}", String::from_utf8_lossy(&out.stderr));
    let p = probe(&file);
    let want: Vec<Stored> = f.frames[10..].iter().chain(&second).cloned().collect();
    assert_eq!(p.packets.len(), want.len(), "every frame, once");
    for (i, (pk, w)) in p.packets.iter().zip(&want).enumerate() {
        assert_eq!(pk.2, probe::sha256_hex(&w.data), "packet {i}");
    }
    decodes_cleanly(&file);
    // A segment and an init segment fetched alone.
    let seg = text.lines().find(|l| l.contains("media.m4s")).unwrap();
    let s = curl(&f, &[], seg);
    assert_eq!((s.status, s.header("content-type")), (200, Some("video/mp4")));
    assert_eq!(&s.body[4..8], b"moof");
    let init = text.lines().find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\"")).unwrap().trim_end_matches('"');
    let i = curl(&f, &[], init);
    assert_eq!(i.header("x-pstor-codecs"), Some("avc1.4D400A"));
    assert_eq!(&i.body[4..8], b"ftyp");
}

#[test]
fn the_live_playlist_follows_the_newest_frames_and_blocks_for_the_next_segment() {
    let f = Fixture::start();
    let cam = LiveCamera::start(&f);
    let live = cam.stream;
    let url = signalling_link(&f, &format!("/api/v1/streams/{live}/live.m3u8"));
    let pl = curl(&f, &[], &url);
    assert_eq!(pl.status, 200, "{}", String::from_utf8_lossy(&pl.body));
    let text = String::from_utf8(pl.body).unwrap();
    assert!(text.contains("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES"), "{text}");
    assert!(!text.contains("#EXT-X-ENDLIST"));
    let msn: i64 = text.lines().find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:")).unwrap().parse().unwrap();
    let newest = msn + 5;
    // The newest segment plays.
    let seg = text.lines().rfind(|l| l.contains("media.m4s")).unwrap();
    assert_eq!(curl(&f, &[], seg).status, 200);
    // Asking for the next one blocks until it exists.
    let t = std::time::Instant::now();
    let next = curl(&f, &[], &format!("{url}&_HLS_msn={}", newest + 1));
    let waited = t.elapsed();
    let text = String::from_utf8(next.body).unwrap();
    let msn2: i64 = text.lines().find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:")).unwrap().parse().unwrap();
    assert_eq!(msn2 + 5, newest + 1, "the playlist now ends with the asked segment ({waited:?})");
    assert!(waited > std::time::Duration::from_millis(100), "it waited: {waited:?}");
    // ffmpeg follows the live playlist for a few seconds.
    let file = f.tmp("live.mp4");
    let out = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-protocol_whitelist",
            "http,tcp,file",
            "-live_start_index",
            "-3",
            "-i",
            &url,
            "-t",
            "4",
            "-c",
            "copy",
            "-y",
        ])
        .arg(&file)
        .output()
        .unwrap();
    drop(cam);
    assert!(out.status.success(), "ffmpeg live: {}", String::from_utf8_lossy(&out.stderr));
    let p = probe(&file);
    assert!(p.packets.len() >= 50, "{} frames in 4 s of live", p.packets.len());
    decodes_cleanly(&file);
}

/// Plays pages in Debian's Chromium (scripts/browser-check.mjs, with
/// playwright-core from scripts/install-browser-peers.sh).
fn browser_plays(pages: serde_json::Value) {
    let script = format!("{}/../scripts/browser-check.mjs", env!("CARGO_MANIFEST_DIR"));
    let out =
        Command::new("node").arg(&script).arg(pages.to_string()).output().expect("node (the test command installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser did not play (install: scripts/install-browser-peers.sh):\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in text.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(r["ok"], true, "{line}");
        assert_eq!((r["width"].as_u64(), r["height"].as_u64()), (Some(96), Some(64)), "{line}");
    }
}

#[test]
fn chromium_plays_an_exported_mp4_a_recording_over_hls_and_a_camera_live() {
    let f = Fixture::start();
    let sig = f.signalling_port();
    let page = |q: String| format!("http://{sig}/player.html?{q}");
    let mp4 = f.view(f.frames[0].ts, f.frames[299].ts);
    let hls = signalling_link(
        &f,
        &format!("/api/v1/streams/{}/playlist.m3u8?start={}&end={}", f.stream, f.frames[0].ts, f.frames[299].ts),
    );
    // The page itself: static, with a policy that lets no inline script run.
    let p = curl(&f, &[], &format!("http://{sig}/player.html"));
    assert_eq!(p.status, 200);
    let csp = p.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    let cam = LiveCamera::start(&f);
    let live = cam.stream;
    let live_url = signalling_link(&f, &format!("/api/v1/streams/{live}/live.m3u8"));
    let enc = |u: &str| links::encode(u);
    browser_plays(serde_json::json!([
        {"name": "exported mp4", "url": page(format!("mp4={}", enc(&mp4))), "seconds": 2.0},
        {"name": "recording over HLS (MSE), scrubbed", "url": page(format!("src={}", enc(&hls))), "seconds": 2.0, "seek": 8.0},
        {"name": "live over HLS (MSE)", "url": page(format!("src={}", enc(&live_url))), "seconds": 3.0},
    ]));
}

/// Records a real RTSP camera (gst-rtsp-server, the recorder's peer) by
/// a schedule made over the management API, then downloads the recording
/// as `view.mp4`: ffprobe finds exactly the frames stored (±0), each the
/// source's packet, at the source's size; ffmpeg decodes it cleanly.
fn record_then_download(path: &str, source: &str, frames: u64, codec: &str) {
    let f = Fixture::start();
    let peer = rtsp::Peer::start();
    let token = admin_token(&f);
    let m = f.ts.server().management_addr().unwrap();
    let bearer = format!("Authorization: Bearer {token}");
    let body = serde_json::json!({
        "camera_id": "lobby-1", "name": "Lobby", "ip": "127.0.0.1", "port": peer.port,
        "pool": f.ts.pool("video").0, "url": peer.url(path),
    });
    let api = |args: &[&str], p: &str| {
        curl(&f, &[&["-H", &bearer, "-H", "Content-Type: application/json"], args].concat(), &format!("http://{m}{p}"))
    };
    let made = api(&["-d", &body.to_string()], "/api/v1/schedules");
    assert_eq!(made.status, 201, "{}", String::from_utf8_lossy(&made.body));
    let id = made.json()["id"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let s = api(&[], &format!("/api/v1/schedules/{id}")).json();
        if s["status"]["frames_recorded"].as_u64().unwrap_or(0) >= frames {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no {frames} frames recorded: {s}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(api(&["-X", "DELETE"], &format!("/api/v1/schedules/{id}")).status, 200);
    let engine = f.ts.server().engine().clone();
    let stream = engine.find_stream("lobby-1", 1, StreamKind::Main).expect("the camera's stream");
    // The writer syncs and ends on its own after the schedule goes.
    let mut stored: Vec<pstor_core::Frame> = Vec::new();
    for _ in 0..50 {
        engine.sync(stream).unwrap();
        let now: Vec<pstor_core::Frame> = engine.read(stream, 0, i64::MAX / 2).unwrap().map(|r| r.unwrap()).collect();
        if !stored.is_empty() && now.len() == stored.len() {
            break;
        }
        stored = now;
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let manifest = rtsp::manifest(source);
    rtsp::assert_frames_match_source(&stored, &manifest);
    let (first, last) = (stored[0].ts, stored.last().unwrap().ts);
    let file = f.tmp("recorded.mp4");
    let url = f.link(&format!("/api/v1/streams/{}/view.mp4?start={first}&end={last}", stream.0));
    let g = curl_to(&[], &url, &file);
    assert_eq!(g.status, 200, "{}", String::from_utf8_lossy(&g.body));
    let p = probe(&file);
    assert_eq!((p.codec.as_str(), p.width, p.height), (codec, manifest.width, manifest.height));
    let want: Vec<(i64, bool, &[u8])> = stored.iter().map(|f| (f.ts, f.key, &f.data[..])).collect();
    same_samples(&p, &want, first);
    decodes_cleanly(&file);
}

#[test]
fn an_h264_camera_recorded_over_rtsp_downloads_as_the_frames_it_sent() {
    record_then_download("/Streaming/Channels/101", "h264-main", 150, "h264");
}

#[test]
fn an_h265_camera_recorded_over_rtsp_downloads_as_the_frames_it_sent() {
    record_then_download("/Streaming/Channels/201", "h265-main", 100, "hevc");
}
