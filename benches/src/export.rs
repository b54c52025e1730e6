//! `pstor-bench export`: the playback data port's `view.mp4` (a fast-start
//! MP4 built on the fly from the stored records) downloaded over loopback
//! HTTP from a server started in-process. One camera records M minutes of
//! real H.264 (pstor-media's gop10 vector, each frame padded with a filler
//! NAL unit to the bit rate's size), then:
//!
//! - **raw**: the same stored records read straight from the space's segment
//!   files in 1 MiB positioned reads, as many bytes as the file's `mdat`,
//!   page cache warm and cold: the baseline; and the same reads sent over
//!   a loopback socket by a bare HTTP/1.1 answer (what any server of these
//!   bytes on this socket can reach at best);
//! - **export**: the whole range downloaded by a minimal HTTP/1.1 client,
//!   warm and cold: throughput, its ratio to raw, the time to the first
//!   body byte, and the process's resident memory sampled every 20 ms
//!   during the download (the server runs in this process: its growth must
//!   stay flat whatever the length);
//! - **ffmpeg**: the downloaded file remuxed by `ffmpeg -ss 60 -to END -i
//!   file -c copy` (how file-based recorders export a range; `-ss` is a
//!   tenth of a range under 10 minutes), page cache warm: its output bytes
//!   per second against the export's;
//! - **concurrency**: N other cameras with K minutes each, all downloaded at
//!   once, a thread each: aggregate throughput and the time to first byte
//!   (p50, p99), warm and cold.

use crate::measure::{drop_caches, mib_s, percentile, rss_mib, Report, RssSampler, Stopwatch};
use bytes::Bytes;
use pstor_core::{Clock, Engine, Error, Result, StreamId, StreamKind, StreamSpec, SystemClock, Timestamp};
use pstor_media::{AccessUnit, Codec, DecoderConfig};
use pstor_server::config::{KeyPair, KindName, PoolConfig, SpaceConfig};
use pstor_server::playback::{links, now_secs};
use pstor_server::{ByteSize, RunningServer, Server, ServerConfig};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// The H.264 test vector (96x64, a key frame every 10 frames), Annex B.
const VECTOR: &[u8] = include_bytes!("../../pstor-media/tests/data/h264_gop10_96x64.h264");
/// Frames per second of every camera.
const FPS: u64 = 25;
/// Time between frames, µs.
const FRAME_US: i64 = 1_000_000 / FPS as i64;
/// Frames from one key frame to the next (the vector's GOP).
const GOP: u64 = 10;
/// A key frame's size in other frames' sizes.
const KEY_WEIGHT: u64 = 5;
/// The raw baseline's read size.
const RAW_CHUNK: usize = 1 << 20;
/// Frames between syncs while filling (a minute of video).
const SYNC_EVERY: u64 = 60 * FPS;
/// The SDK key pair links are signed with.
const ACCESS: &str = "PSAKBENCHEXPORT00001";
/// Its secret.
const SECRET: &str = "bench-export-secret-0123456789";

/// Options of `export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Folder to run in (a fresh subfolder is created and removed).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Minutes the one camera records; its whole range is the file
    /// downloaded, compared with raw reads and with ffmpeg.
    #[arg(long, default_value_t = 60)]
    pub minutes: u32,
    /// Bit rate of every camera, Mbit/s.
    #[arg(long, default_value_t = 4.0)]
    pub mbit: f64,
    /// Concurrent clients, each downloading its own camera's range.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Minutes each concurrent client's camera records (and downloads).
    #[arg(long, default_value_t = 2)]
    pub client_minutes: u32,
    /// Segment size of the storage space, MiB.
    #[arg(long, default_value_t = 64)]
    pub segment_mib: u64,
}

fn invalid(m: impl Into<String>) -> Error {
    Error::InvalidArgument(m.into())
}

fn io(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io { context: what.to_string(), source: e }
}

/// The bench's folder, removed when dropped (also on an error).
struct Workdir(PathBuf);

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One GOP of frames as stored (4-byte length-prefixed NAL units), each
/// padded with a filler-data NAL unit to the size `mbit` asks for (a key
/// frame [`KEY_WEIGHT`] times the others): (key, data).
fn gop_frames(mbit: f64) -> Result<Vec<(bool, Bytes)>> {
    let gop_bytes = mbit * 1e6 / 8.0 * GOP as f64 / FPS as f64;
    let small = (gop_bytes / (GOP - 1 + KEY_WEIGHT) as f64) as usize;
    let media = |e: pstor_media::MediaError| invalid(format!("the H.264 vector: {e}"));
    let mut out = Vec::new();
    for (i, au) in pstor_media::annexb::access_units(Codec::H264, VECTOR).take(GOP as usize).enumerate() {
        let mut v = Vec::new();
        for nal in au {
            pstor_media::append_length_prefixed(nal, &mut v).map_err(media)?;
        }
        let key = AccessUnit::parse(Codec::H264, &v).map_err(media)?.is_key();
        if key != (i == 0) {
            return Err(invalid(format!(
                "the H.264 vector's frame {i} is {}a key frame",
                if key { "" } else { "not " }
            )));
        }
        let target = if key { small * KEY_WEIGHT as usize } else { small };
        // Filler data (nal_unit_type 12): 0x0c, 0xff..., the stop bit 0x80,
        // after its 4-byte length.
        if target >= v.len() + 6 {
            let mut nal = vec![0xffu8; target - v.len() - 4];
            nal[0] = 0x0c;
            if let Some(last) = nal.last_mut() {
                *last = 0x80;
            }
            pstor_media::append_length_prefixed(&nal, &mut v).map_err(media)?;
        }
        out.push((key, Bytes::from(v)));
    }
    if out.len() != GOP as usize {
        return Err(invalid("the H.264 vector holds less than one GOP"));
    }
    Ok(out)
}

/// Bytes of `frames` frames of one camera.
fn stream_bytes(gop: &[(bool, Bytes)], frames: u64) -> u64 {
    (0..frames).map(|i| gop[(i % GOP) as usize].1.len() as u64).sum()
}

/// Registers camera `name` (its codec configuration from the first key
/// frame).
fn camera(engine: &Engine, pool: pstor_core::PoolId, name: &str, gop: &[(bool, Bytes)]) -> Result<StreamId> {
    let s = engine.register_stream(StreamSpec {
        pool,
        camera_id: name.into(),
        channel: 1,
        kind: StreamKind::Main,
        codec: "H264".into(),
        codec_config: Vec::new(),
    })?;
    let media = |e: pstor_media::MediaError| invalid(format!("the H.264 vector's parameter sets: {e}"));
    let au = AccessUnit::parse(Codec::H264, &gop[0].1).map_err(media)?;
    let record = DecoderConfig::from_access_unit(&au).map_err(media)?.to_record().map_err(media)?;
    engine.set_codec_config(s, "H264", &record)?;
    Ok(s)
}

/// Appends `frames` frames to each of `streams` from `t0` (the cameras
/// interleaved, as they record), synced every minute of video and at the
/// end.
fn fill(engine: &Engine, streams: &[StreamId], gop: &[(bool, Bytes)], t0: Timestamp, frames: u64) -> Result<()> {
    for i in 0..frames {
        let (key, data) = &gop[(i % GOP) as usize];
        for &s in streams {
            engine.append(s, t0 + i as i64 * FRAME_US, *key, data.clone())?;
        }
        if (i + 1) % SYNC_EVERY == 0 {
            engine.sync_streams(streams)?;
        }
    }
    engine.sync_streams(streams)
}

/// The signed path of `stream`'s whole range of `frames` frames from `t0`.
fn view_path(stream: StreamId, t0: Timestamp, frames: u64) -> String {
    let end = t0 + (frames as i64 - 1) * FRAME_US;
    let path = format!("/api/v1/streams/{stream}/view.mp4?start={t0}&end={end}");
    links::signed(&path, ACCESS, SECRET.as_bytes(), now_secs() + 6 * 3600)
}

/// What one download got.
struct Download {
    /// Body bytes (equal to Content-Length).
    bytes: u64,
    /// Request sent to first body byte.
    ttfb: Duration,
    /// Request sent to last body byte.
    wall: Duration,
    /// The `X-Pstor-Frames` header.
    frames: Option<u64>,
}

/// `GET path` over a fresh connection (HTTP/1.1, `Connection: close`); the
/// body is read into `buf` (reused) and counted, and written to `sink` if
/// given. Fails unless the answer is 200 with a Content-Length and the body
/// is that long.
fn download(addr: SocketAddr, path: &str, buf: &mut [u8], mut sink: Option<&mut dyn Write>) -> Result<Download> {
    let http = |e: std::io::Error| invalid(format!("GET view.mp4: {e}"));
    let mut s = TcpStream::connect(addr).map_err(|e| invalid(format!("connecting to {addr}: {e}")))?;
    s.set_nodelay(true).map_err(http)?;
    s.set_read_timeout(Some(Duration::from_secs(300))).map_err(http)?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).map_err(http)?;
    let sent = Instant::now();
    // The head: up to the blank line; what follows in the same read is body.
    let mut head = Vec::new();
    let body_at = loop {
        let n = s.read(buf).map_err(http)?;
        if n == 0 {
            return Err(invalid("GET view.mp4: the server closed the connection before its answer's head"));
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if head.len() > 64 << 10 {
            return Err(invalid("GET view.mp4: an answer head over 64 KiB"));
        }
    };
    let text = String::from_utf8_lossy(&head[..body_at]).into_owned();
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| invalid(format!("GET view.mp4: bad status line {status_line:?}")))?;
    let header = |name: &str| {
        text.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    if status != 200 {
        let shown = String::from_utf8_lossy(&head[body_at..head.len().min(body_at + 2000)]).into_owned();
        return Err(invalid(format!("GET view.mp4: {status_line}: {shown}")));
    }
    let len: u64 = header("content-length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| invalid("GET view.mp4: no Content-Length"))?;
    let frames = header("x-pstor-frames").and_then(|v| v.parse().ok());
    let first = &head[body_at..];
    let mut got = first.len() as u64;
    let mut ttfb = (!first.is_empty()).then(|| sent.elapsed());
    if let Some(w) = sink.as_mut() {
        w.write_all(first).map_err(io("writing the downloaded file"))?;
    }
    while got < len {
        let want = (len - got).min(buf.len() as u64) as usize;
        let n = s.read(&mut buf[..want]).map_err(http)?;
        if n == 0 {
            return Err(invalid(format!("GET view.mp4: the body was cut after {got} of {len} bytes")));
        }
        ttfb.get_or_insert_with(|| sent.elapsed());
        if let Some(w) = sink.as_mut() {
            w.write_all(&buf[..n]).map_err(io("writing the downloaded file"))?;
        }
        got += n as u64;
    }
    let wall = sent.elapsed();
    if got > len {
        return Err(invalid(format!("GET view.mp4: {got} body bytes for a Content-Length of {len}")));
    }
    Ok(Download { bytes: got, ttfb: ttfb.unwrap_or(wall), wall, frames })
}

/// One download of the hour's file, measured.
struct Measured {
    mib_s: f64,
    ttfb_ms: f64,
    rss_peak: f64,
    rss_growth: f64,
    cpu_s_per_gib: f64,
}

/// Downloads `path` with the memory sampled; checks its length and frames.
fn measured_download(addr: SocketAddr, path: &str, buf: &mut [u8], len: u64, frames: u64) -> Result<Measured> {
    let rss = RssSampler::start(Duration::from_millis(20));
    let watch = Stopwatch::start();
    let d = download(addr, path, buf, None)?;
    let phase = watch.stop();
    let (before, peak) = rss.stop();
    check(&d, len, frames)?;
    Ok(Measured {
        mib_s: mib_s(d.bytes, d.wall.as_secs_f64()),
        ttfb_ms: d.ttfb.as_secs_f64() * 1000.0,
        rss_peak: peak,
        rss_growth: peak - before,
        cpu_s_per_gib: crate::measure::cpu_per_gib(phase.cpu, d.bytes),
    })
}

/// Fails unless a download is the file expected: `len` bytes, `frames`
/// frames (none overwritten or missing).
fn check(d: &Download, len: u64, frames: u64) -> Result<()> {
    if d.bytes != len || d.frames != Some(frames) {
        return Err(invalid(format!(
            "a download of {} bytes and {:?} frames, expected {len} and {frames}",
            d.bytes, d.frames
        )));
    }
    Ok(())
}

/// (data file, offset, length) of stored bytes, in the order read.
type Runs = Vec<(PathBuf, u64, u64)>;

/// The payload length of the top-level `mdat` box of an MP4 file.
fn mdat_len(file: &Path) -> Result<u64> {
    let f = std::fs::File::open(file).map_err(io("opening the downloaded file"))?;
    let size = f.metadata().map_err(io("sizing the downloaded file"))?.len();
    let mut at = 0u64;
    while at + 8 <= size {
        let mut h = [0u8; 16];
        let n = if at + 16 <= size { 16 } else { 8 };
        f.read_exact_at(&mut h[..n], at).map_err(io("reading the downloaded file"))?;
        let small = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
        let (len, header) = match small {
            0 => (size - at, 8),
            1 if n == 16 => (u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]), 16),
            _ => (small, 8),
        };
        if len < header {
            return Err(invalid(format!("the downloaded file: a box of {len} bytes at {at}")));
        }
        if &h[4..8] == b"mdat" {
            return Ok(len - header);
        }
        at += len;
    }
    Err(invalid("the downloaded file has no mdat box"))
}

/// Where the stored records of `stream`'s range lie, in time order, as
/// (data file, offset, length) runs of adjacent records; and how many
/// records there are.
fn record_runs(engine: &Engine, stream: StreamId, start: Timestamp, end: Timestamp) -> Result<(Runs, usize)> {
    let records = engine.export_records(stream, start, end)?.records;
    let spaces = engine.spaces();
    let mut runs: Runs = Vec::new();
    for r in &records {
        let space = spaces
            .iter()
            .find(|s| s.id == r.space_id())
            .ok_or_else(|| invalid(format!("no space {} for a record", r.space_id())))?;
        // Segment `i` is at (i % per_file) * segment_size of data file
        // i / per_file; the first file holds `per_file` segments (or all).
        let first = space.path.join("seg-00000.dat");
        let file0 = std::fs::metadata(&first).map_err(io("sizing the space's first data file"))?.len();
        let per_file = (file0 / space.segment_size).max(1);
        let seg = u64::from(r.segment());
        let path = space.path.join(format!("seg-{:05}.dat", seg / per_file));
        let at = (seg % per_file) * space.segment_size + u64::from(r.offset());
        let len = u64::from(r.len());
        match runs.last_mut() {
            Some((p, a, l)) if *p == path && *a + *l == at => *l += len,
            _ => runs.push((path, at, len)),
        }
    }
    Ok((runs, records.len()))
}

/// Reads `total` bytes of `runs` in order in [`RAW_CHUNK`]-byte positioned
/// reads, handing each to `sink`.
fn raw_copy(runs: &Runs, total: u64, mut sink: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let files = runs
        .iter()
        .map(|(p, ..)| std::fs::File::open(p).map_err(io("opening a data file of the space")))
        .collect::<Result<Vec<_>>>()?;
    let mut buf = vec![1u8; RAW_CHUNK];
    let mut read = 0u64;
    'runs: for ((_, at, len), f) in runs.iter().zip(&files) {
        let mut off = 0u64;
        while off < *len && read < total {
            let n = (*len - off).min(RAW_CHUNK as u64).min(total - read) as usize;
            f.read_exact_at(&mut buf[..n], at + off).map_err(io("reading a data file of the space"))?;
            sink(&buf[..n])?;
            off += n as u64;
            read += n as u64;
        }
        if read >= total {
            break 'runs;
        }
    }
    if read < total {
        return Err(invalid(format!("the stream's records hold {read} bytes, fewer than the mdat's {total}")));
    }
    Ok(())
}

/// The raw baseline: `total` bytes of `runs` read in order; MiB/s.
fn raw_read(runs: &Runs, total: u64) -> Result<f64> {
    let t = Instant::now();
    raw_copy(runs, total, |_| Ok(()))?;
    Ok(mib_s(total, t.elapsed().as_secs_f64()))
}

/// The raw reads served over loopback TCP: a thread answers one request
/// with a bare HTTP/1.1 head and the bytes of [`raw_read`], written as read;
/// the same client as the export's downloads them. The ceiling of any
/// server of these bytes on this socket. MiB/s.
fn raw_tcp(runs: &Runs, total: u64, buf: &mut [u8]) -> Result<f64> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("binding the raw TCP baseline"))?;
    let addr = listener.local_addr().map_err(io("the raw TCP baseline's address"))?;
    let runs = runs.to_vec();
    let server = std::thread::spawn(move || -> Result<()> {
        let (mut s, _) = listener.accept().map_err(io("accepting the raw TCP baseline's client"))?;
        s.set_nodelay(true).map_err(io("the raw TCP baseline's socket"))?;
        let mut head = Vec::new();
        let mut b = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut b).map_err(io("reading the raw TCP baseline's request"))?;
            if n == 0 {
                return Err(invalid("the raw TCP baseline's client went away"));
            }
            head.extend_from_slice(&b[..n]);
        }
        let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n");
        s.write_all(answer.as_bytes()).map_err(io("answering the raw TCP baseline"))?;
        raw_copy(&runs, total, |chunk| s.write_all(chunk).map_err(io("sending the raw TCP baseline")))
    });
    let got = download(addr, "/raw", buf, None);
    if got.is_err() {
        // Unblocks an accept still waiting (the thread then fails).
        let _ = TcpStream::connect(addr);
    }
    server.join().map_err(|_| Error::Panic("the raw TCP baseline's thread panicked".into()))??;
    let d = got?;
    if d.bytes != total {
        return Err(invalid(format!("the raw TCP baseline sent {} of {total} bytes", d.bytes)));
    }
    Ok(mib_s(d.bytes, d.wall.as_secs_f64()))
}

/// The concurrent downloads' figures.
struct Concurrent {
    mib_s: f64,
    ttfb_p50_ms: f64,
    ttfb_p99_ms: f64,
    rss_growth: f64,
}

/// Every client downloads its path at once (a thread each, started
/// together); each answer must be `frames` frames.
fn concurrent(addr: SocketAddr, paths: &[String], frames: u64) -> Result<Concurrent> {
    let n = paths.len();
    let barrier = Arc::new(Barrier::new(n + 1));
    // Buffers and threads exist (and their pages are resident) before the
    // memory is noted: what grows after is the server's.
    let handles: Vec<_> = paths
        .iter()
        .map(|p| {
            let (path, barrier) = (p.clone(), Arc::clone(&barrier));
            let mut buf = vec![1u8; 256 << 10];
            std::thread::spawn(move || {
                barrier.wait();
                download(addr, &path, &mut buf, None)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let rss = RssSampler::start(Duration::from_millis(20));
    barrier.wait();
    let t = Instant::now();
    let mut bytes = 0;
    let mut ttfbs = Vec::with_capacity(n);
    let mut failed = None;
    for h in handles {
        match h.join() {
            Ok(Ok(d)) => {
                if d.frames != Some(frames) {
                    failed.get_or_insert(invalid(format!("a client got {:?} frames, expected {frames}", d.frames)));
                }
                bytes += d.bytes;
                ttfbs.push(d.ttfb);
            }
            Ok(Err(e)) => {
                failed.get_or_insert(e);
            }
            Err(_) => {
                failed.get_or_insert(Error::Panic("a client thread panicked".into()));
            }
        }
    }
    let wall = t.elapsed().as_secs_f64();
    let (before, peak) = rss.stop();
    if let Some(e) = failed {
        return Err(e);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(Concurrent {
        mib_s: mib_s(bytes, wall),
        ttfb_p50_ms: ms(percentile(&mut ttfbs, 0.5)),
        ttfb_p99_ms: ms(percentile(&mut ttfbs, 0.99)),
        rss_growth: peak - before,
    })
}

/// `ffmpeg -ss SS -to END -i input -c copy -y output`, page cache warm:
/// (output bytes, seconds).
fn ffmpeg_remux(input: &Path, output: &Path, ss: u64, to: f64) -> Result<(u64, f64)> {
    let t = Instant::now();
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-ss", &ss.to_string(), "-to", &format!("{to:.3}"), "-i"])
        .arg(input)
        .args(["-c", "copy", "-y"])
        .arg(output)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(io("starting ffmpeg (scripts/install-media-peers.sh)"))?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(invalid(format!("ffmpeg failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    let bytes = std::fs::metadata(output).map_err(io("sizing ffmpeg's output"))?.len();
    Ok((bytes, secs))
}

/// Writes dirty pages back and lets the writeback finish, keeping the page
/// cache (the warm phases read what was just written).
fn flush() {
    rustix::fs::sync();
    std::thread::sleep(Duration::from_millis(500));
}

/// Starts the server over one space and one video pool of `capacity`
/// bytes in segments of `segment` bytes.
fn start_server(root: &Path, a: &ExportArgs, capacity: u64, segment: u64) -> Result<RunningServer> {
    let pair = KeyPair { access_key: ACCESS.into(), secret_key: SECRET.into() };
    let mut cfg = ServerConfig::loopback(root.join("data"), pair);
    cfg.playback.plain_http = true;
    cfg.management.plain_http = true;
    cfg.playback.max_exports = cfg.playback.max_exports.max(a.clients + 4);
    cfg.engine.segment_size = ByteSize(segment);
    cfg.spaces =
        vec![SpaceConfig { path: root.join("space"), capacity: ByteSize(capacity + 2 * segment), segment_size: None }];
    cfg.pools = vec![PoolConfig { max_lock_pct: 0, ..PoolConfig::new("video", KindName::Video, ByteSize(capacity)) }];
    Server::start(cfg).map_err(|e| invalid(format!("starting the server: {e}")))
}

/// Runs the workload.
pub fn run(a: &ExportArgs) -> Result<Report> {
    if a.minutes == 0 || a.client_minutes == 0 || a.segment_mib == 0 || a.mbit.is_nan() || a.mbit <= 0.0 {
        return Err(invalid("--minutes, --client-minutes, --segment-mib and --mbit must be > 0"));
    }
    let gop = gop_frames(a.mbit)?;
    let frames = u64::from(a.minutes) * 60 * FPS;
    let client_frames = u64::from(a.client_minutes) * 60 * FPS;
    let segment = a.segment_mib << 20;
    // No overwrite during the run: every camera's bytes (and their records'
    // headers and frame tables, a few percent) rounded up to segments, and
    // one more segment each for the one open.
    let segments = |bytes: u64| (bytes + bytes / 16).div_ceil(segment) + 1;
    let capacity =
        (segments(stream_bytes(&gop, frames)) + a.clients as u64 * segments(stream_bytes(&gop, client_frames)) + 2)
            * segment;

    let work = Workdir(a.dir.join(format!("pstor-bench-export-{}", std::process::id())));
    let root = work.0.clone();
    std::fs::create_dir_all(&a.dir).map_err(io("creating --dir"))?;
    // A folder of this run alone (create_dir fails if it is there).
    std::fs::create_dir(&root).map_err(io("creating the bench folder"))?;
    let server = start_server(&root, a, capacity, segment)?;
    let rss_start = rss_mib();
    let engine = server.engine().clone();
    let addr = server.playback_addrs().ok_or_else(|| invalid("the playback ports are off"))?.1;
    let pool = engine
        .pools()
        .into_iter()
        .find(|p| p.config.name == "video")
        .ok_or_else(|| invalid("no video pool"))?
        .config
        .id;

    // The recordings, ending a minute ago.
    let now = SystemClock.now();
    let t0 = now - 60_000_000 - frames as i64 * FRAME_US;
    let hour = camera(&engine, pool, "bench-export-main", &gop)?;
    let fill_watch = Stopwatch::start();
    fill(&engine, &[hour], &gop, t0, frames)?;
    let fill_s = fill_watch.stop().wall;
    let ct0 = now - 60_000_000 - client_frames as i64 * FRAME_US;
    let clients = (0..a.clients)
        .map(|i| camera(&engine, pool, &format!("bench-export-client-{i}"), &gop))
        .collect::<Result<Vec<_>>>()?;
    fill(&engine, &clients, &gop, ct0, client_frames)?;
    flush();

    // The file, saved once (and everything it reads now cached).
    let path = view_path(hour, t0, frames);
    let saved = root.join("export.mp4");
    let mut buf = vec![1u8; 1 << 20];
    let file_len = {
        let f = std::fs::File::create(&saved).map_err(io("creating the downloaded file"))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let d = download(addr, &path, &mut buf, Some(&mut w))?;
        w.flush().map_err(io("writing the downloaded file"))?;
        check(&d, d.bytes, frames)?;
        d.bytes
    };
    let mdat = mdat_len(&saved)?;
    let (runs, records) = record_runs(&engine, hour, t0, t0 + frames as i64 * FRAME_US)?;

    // Warm: raw, export, ffmpeg, the concurrent clients.
    let raw_warm = raw_read(&runs, mdat)?;
    let tcp_warm = raw_tcp(&runs, mdat, &mut buf)?;
    let warm = measured_download(addr, &path, &mut buf, file_len, frames)?;
    let shown_s = frames as f64 / FPS as f64;
    let ss = (shown_s as u64 / 10).min(60);
    let remuxed = root.join("ffmpeg-out.mp4");
    let (ff_bytes, ff_s) = ffmpeg_remux(&saved, &remuxed, ss, shown_s)?;
    let _ = std::fs::remove_file(&remuxed);
    let _ = std::fs::remove_file(&saved);
    let client_paths: Vec<String> = clients.iter().map(|&s| view_path(s, ct0, client_frames)).collect();
    let conc_warm = concurrent(addr, &client_paths, client_frames)?;

    // Cold: the page cache dropped before each.
    let cold = drop_caches();
    let raw_cold = raw_read(&runs, mdat)?;
    drop_caches();
    let tcp_cold = raw_tcp(&runs, mdat, &mut buf)?;
    drop_caches();
    let cold_dl = measured_download(addr, &path, &mut buf, file_len, frames)?;
    drop_caches();
    let conc_cold = concurrent(addr, &client_paths, client_frames)?;

    server.shutdown().map_err(|e| invalid(format!("stopping the server: {e}")))?;
    drop(work);

    let ff_mib_s = mib_s(ff_bytes, ff_s);
    let mut r = Report::default();
    r.add("minutes", a.minutes, "min (one camera)");
    r.num("mbit", a.mbit, 2, "Mbit/s, 25 fps, key frame every 10");
    r.add("frames", frames, "");
    r.add("file_bytes", file_len, "B (view.mp4)");
    r.add("mdat_bytes", mdat, "B");
    r.add("records", records as u64, "(stored records the file is made of)");
    r.num("fill_mib_s", mib_s(stream_bytes(&gop, frames), fill_s), 1, "MiB/s (appending the one camera, not compared)");
    r.add("cold", cold, "(page cache dropped before the cold phases)");
    r.num("raw_mib_s", raw_warm, 1, "MiB/s (1 MiB preads of the stream's records, warm)");
    r.num("export_mib_s", warm.mib_s, 1, "MiB/s (view.mp4 over loopback HTTP, warm)");
    r.num("ratio_raw", warm.mib_s / raw_warm.max(1e-9), 3, "(export / raw, warm; target >= 0.8)");
    r.num("ttfb_ms", warm.ttfb_ms, 1, "ms (request to first body byte, warm)");
    r.num("raw_tcp_mib_s", tcp_warm, 1, "MiB/s (the same preads sent over loopback TCP, warm)");
    r.num("ratio_raw_tcp", warm.mib_s / tcp_warm.max(1e-9), 3, "(export / raw over TCP, warm)");
    r.num("raw_cold_mib_s", raw_cold, 1, "MiB/s");
    r.num("export_cold_mib_s", cold_dl.mib_s, 1, "MiB/s");
    r.num("ratio_raw_cold", cold_dl.mib_s / raw_cold.max(1e-9), 3, "(export / raw, cold)");
    r.num("raw_tcp_cold_mib_s", tcp_cold, 1, "MiB/s");
    r.num("ratio_raw_tcp_cold", cold_dl.mib_s / tcp_cold.max(1e-9), 3, "(export / raw over TCP, cold)");
    r.num("ttfb_cold_ms", cold_dl.ttfb_ms, 1, "ms");
    r.num("rss_start_mib", rss_start, 1, "MiB (process, the server just started)");
    r.num("server_rss_mib", warm.rss_peak, 1, "MiB (process, max during the warm download)");
    r.num(
        "server_rss_growth_mib",
        warm.rss_growth.max(cold_dl.rss_growth),
        1,
        "MiB (max minus just before; warm or cold)",
    );
    r.num(
        "server_rss_cold_mib",
        cold_dl.rss_peak,
        1,
        "MiB (max during the cold download, after the concurrent phase's)",
    );
    r.num("export_cpu_s_per_gib", warm.cpu_s_per_gib, 3, "CPU s/GiB (server and client, warm)");
    r.num("ffmpeg_mib_s", ff_mib_s, 1, "MiB/s (ffmpeg -ss -to -c copy output, warm)");
    r.num("ffmpeg_s", ff_s, 2, "s");
    r.num("ratio_ffmpeg", warm.mib_s / ff_mib_s.max(1e-9), 2, "(export / ffmpeg; > 1: pstor faster)");
    r.add("clients", a.clients, "concurrent, a camera each");
    r.add("client_minutes", a.client_minutes, "min each");
    r.num("concurrent_mib_s", conc_warm.mib_s, 1, "MiB/s (aggregate, warm)");
    r.num("concurrent_ttfb_p50_ms", conc_warm.ttfb_p50_ms, 1, "ms");
    r.num("concurrent_ttfb_p99_ms", conc_warm.ttfb_p99_ms, 1, "ms");
    r.num("concurrent_rss_growth_mib", conc_warm.rss_growth, 1, "MiB");
    r.num("concurrent_cold_mib_s", conc_cold.mib_s, 1, "MiB/s (aggregate, cold)");
    r.num("concurrent_cold_ttfb_p50_ms", conc_cold.ttfb_p50_ms, 1, "ms");
    r.num("concurrent_cold_ttfb_p99_ms", conc_cold.ttfb_p99_ms, 1, "ms");
    r.num("concurrent_cold_rss_growth_mib", conc_cold.rss_growth, 1, "MiB");
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_the_vector_padded_to_the_bit_rate() {
        let gop = gop_frames(4.0).expect("the vector");
        assert_eq!(gop.len(), GOP as usize);
        assert!(gop[0].0 && gop[1..].iter().all(|(k, _)| !k));
        // 4 Mbit/s: 200,000 bytes a GOP of 10 frames, a key frame 5 others.
        let small = 200_000 / 14;
        assert_eq!(gop[0].1.len(), small * 5);
        assert!(gop[1..].iter().all(|(_, d)| d.len() == small));
        // The filler is the last NAL unit: type 12, ending with the stop bit.
        for (_, d) in &gop {
            let au = AccessUnit::parse(Codec::H264, d).expect("an access unit");
            let (_, last) = au.nals().last().expect("NAL units");
            assert_eq!((last[0], last[last.len() - 1]), (0x0c, 0x80));
        }
        assert_eq!(stream_bytes(&gop, 25), (small * 5 * 3 + small * 22) as u64);
    }

    #[test]
    fn mdat_length_of_a_file() {
        let dir = std::env::temp_dir().join(format!("pstor-bench-export-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder");
        let file = dir.join("t.mp4");
        let mut b = Vec::new();
        b.extend_from_slice(&16u32.to_be_bytes());
        b.extend_from_slice(b"ftypisom\0\0\0\0");
        b.extend_from_slice(&12u32.to_be_bytes());
        b.extend_from_slice(b"moov\0\0\0\0");
        // A 64-bit size: header 16 bytes, payload 5.
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(b"mdat");
        b.extend_from_slice(&21u64.to_be_bytes());
        b.extend_from_slice(b"hello");
        std::fs::write(&file, &b).expect("written");
        assert_eq!(mdat_len(&file).expect("parsed"), 5);
        std::fs::write(&file, &b[..28]).expect("written");
        assert!(mdat_len(&file).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
