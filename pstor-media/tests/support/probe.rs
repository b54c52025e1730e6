//! What ffprobe and ffmpeg say of an MP4 file, for the tests of every
//! crate that makes one (pstor-media's movies, pstor-server's playback:
//! `#[path]`-included there). The peers are installed by the test command
//! (scripts/install-media-peers.sh).
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Runs a peer; its standard output.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (install ffmpeg: scripts/install-media-peers.sh)"));
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// ffprobe's `-show_entries what` of the video stream, as CSV lines.
pub fn entries(path: &Path, what: &str, extra: &[&str]) -> String {
    entries_as(path, what, extra, "csv=p=0")
}

/// ffprobe's `-show_entries what` of the video stream in output format `of`.
pub fn entries_as(path: &Path, what: &str, extra: &[&str], of: &str) -> String {
    let mut args = vec!["-v", "error", "-select_streams", "v:0"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-show_entries", what, "-of", of, path.to_str().unwrap()]);
    run("ffprobe", &args)
}

/// A packet: dts (s), key flag, SHA-256 of its data (hex).
pub type Packet = (f64, bool, String);

/// What ffprobe says of a file.
pub struct Probe {
    /// `h264`, `hevc`.
    pub codec: String,
    /// Of the first sample description.
    pub width: u32,
    /// Of the first sample description.
    pub height: u32,
    /// The presentation's, seconds.
    pub duration: f64,
    /// Every packet, in order.
    pub packets: Vec<Packet>,
}

/// Probes a file.
pub fn probe(path: &Path) -> Probe {
    let s = entries(path, "stream=codec_name,width,height", &[]);
    let f: Vec<&str> = s.trim().split(',').collect();
    let d =
        run("ffprobe", &["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path.to_str().unwrap()]);
    // JSON: a packet that changes the sample description carries side data.
    let pk = entries_as(path, "packet=dts_time,flags,data_hash", &["-show_data_hash", "sha256"], "json");
    let pk: serde_json::Value = serde_json::from_str(&pk).unwrap();
    let packets = pk["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap_or_else(|| panic!("packet without {k}: {p}")).to_string();
            (
                s("dts_time").parse().unwrap(),
                s("flags").starts_with('K'),
                s("data_hash").trim_start_matches("SHA256:").to_string(),
            )
        })
        .collect();
    Probe {
        codec: f[0].into(),
        width: f[1].parse().unwrap(),
        height: f[2].parse().unwrap(),
        duration: d.trim().parse().unwrap(),
        packets,
    }
}

/// The picture sizes the decoder puts out (`"96,64"`, ...).
pub fn frame_sizes(path: &Path) -> Vec<String> {
    let sizes = entries(path, "frame=width,height", &[]);
    // (frames with side data print extra fields or lines)
    let distinct: BTreeSet<&str> = sizes.lines().map(|l| l.trim_end_matches(',')).filter(|l| !l.is_empty()).collect();
    distinct.into_iter().map(String::from).collect()
}

/// Frames the decoder shows (after the edit list).
pub fn shown_frames(path: &Path) -> u64 {
    entries(path, "stream=nb_read_frames", &["-count_frames"]).trim().parse().unwrap()
}

/// SHA-256, hex.
pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// ffmpeg decodes the whole file without a word.
pub fn decodes_cleanly(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i", path.to_str().unwrap(), "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "ffmpeg decode: {}", String::from_utf8_lossy(&out.stderr));
}

/// Each packet is the frame (time µs, key, bytes) in its place: one packet
/// per frame, same key flags, same bytes, dts relative to `shown_from`
/// (frames before it, which an edit list skips, have negative times).
pub fn same_samples(p: &Probe, frames: &[(i64, bool, &[u8])], shown_from: i64) {
    assert_eq!(p.packets.len(), frames.len(), "one packet per stored frame (±0)");
    for (i, (pk, f)) in p.packets.iter().zip(frames).enumerate() {
        assert_eq!(pk.1, f.1, "packet {i}: key flag");
        assert_eq!(pk.2, sha256_hex(f.2), "packet {i}: bytes");
        assert!((pk.0 - (f.0 - shown_from) as f64 / 1e6).abs() < 1e-4, "packet {i}: dts {} for ts {}", pk.0, f.0);
    }
}
