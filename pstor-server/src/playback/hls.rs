//! HLS playlists (RFC 8216) on the signalling port, naming fMP4 segments
//! on the data port by signed links, so any HLS player (a `<video>` that
//! plays HLS, hls.js, ffplay, VLC) and pstor's own Media Source page play
//! recordings and follow a camera live.
//!
//! - **Recordings** (`playlist.m3u8?start=&end=`, a VOD playlist): one
//!   segment per GOP, GOPs merged up to [`TARGET_US`], a new segment and
//!   `EXT-X-DISCONTINUITY` with a new `EXT-X-MAP` where the parameter sets
//!   change; times from the range's first frame; `EXT-X-START` at the asked
//!   start; gaps hold the frame before them, as in `.mp4` files.
//! - **Live** (`live.m3u8`): the newest complete slots of a fixed
//!   [`LIVE_SLOT_US`] grid of the wall clock (slot `n` is media sequence
//!   number `n`, so numbers stay put across reloads), a slot without
//!   frames as `EXT-X-GAP`, and blocking reload (`_HLS_msn=`: the answer
//!   waits until that segment exists). Chosen over a WebSocket because
//!   every HLS player follows it and it needs no second protocol; latency
//!   is about two slots (no partial segments).

use super::download::{link_secs, range_of, Target};
use super::plan::plan;
use super::{request_host, State};
use crate::manage::blocking;
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use axum::extract::State as S;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use pstor_core::StreamId;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// A recording playlist's segments last about this long (µs).
pub const TARGET_US: i64 = 2_000_000;
/// The live playlist's slot (µs).
pub const LIVE_SLOT_US: i64 = 2_000_000;
/// Slots the live playlist lists.
const LIVE_WINDOW: i64 = 6;
/// Lifetime of a playlist's links unless asked otherwise (s).
const PLAYLIST_LINK_SECS: i64 = 4 * 3600;

fn secs(us: i64) -> f64 {
    us as f64 / 1e6
}

/// An RFC 3339 UTC time with milliseconds, for `EXT-X-PROGRAM-DATE-TIME`.
fn date_time(us: i64) -> String {
    let (d, h, m, s, ms) = super::utc_fields(us);
    format!("{:04}-{:02}-{:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z", d.year, d.month, d.day)
}

fn playlist(body: String) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.apple.mpegurl"));
    r
}

/// `playlist.m3u8?start=&end=`: a recording as a VOD playlist.
pub(super) async fn recording(S(state): S<Arc<State>>, Target(id): Target, req: Parts) -> ApiResult<Response> {
    let q = req.uri.query();
    let (start, end) = range_of(q)?;
    let ttl = link_secs(q, PLAYLIST_LINK_SECS)?;
    let host = request_host(&req.headers, &req.uri, state.data_addr);
    let (engine, max) = (state.engine.clone(), state.max_range_us());
    let e = blocking(move || plan(&engine, id, start, end, max).map_err(ApiError::from)).await?;
    // Segments: runs of GOPs up to the target, cut where the description changes.
    let mut segs: Vec<(i64, u32)> = Vec::new();
    for &(ts, entry) in &e.keys {
        match segs.last() {
            Some(&(s0, e0)) if e0 == entry && ts - s0 < TARGET_US => {}
            _ => segs.push((ts, entry)),
        }
    }
    let end_of_all = e.last_ts + e.last_duration_us;
    let bounds: Vec<(i64, i64, u32)> = segs
        .iter()
        .enumerate()
        .map(|(i, &(s0, entry))| (s0, segs.get(i + 1).map_or(end_of_all, |n| n.0), entry))
        .collect();
    let target = bounds.iter().map(|b| secs(b.1 - b.0).round() as i64).max().unwrap_or(1).max(1);
    let base = e.first_ts;
    let mut m = String::new();
    let _ = writeln!(m, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-PLAYLIST-TYPE:VOD");
    let _ = writeln!(m, "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MEDIA-SEQUENCE:1");
    let _ = writeln!(m, "#EXT-X-START:TIME-OFFSET={:.3},PRECISE=YES", secs(e.shown_from - base));
    let mut entry = None;
    for (i, &(s0, s1, en)) in bounds.iter().enumerate() {
        if entry != Some(en) {
            if entry.is_some() {
                m.push_str("#EXT-X-DISCONTINUITY\n");
            }
            let (init, _) = state.link(&host, &format!("/api/v1/streams/{id}/init.mp4?at={s0}"), ttl);
            let _ = writeln!(m, "#EXT-X-MAP:URI=\"{init}\"\n#EXT-X-PROGRAM-DATE-TIME:{}", date_time(s0));
            entry = Some(en);
        }
        // The segment's frames are those before the next segment's start.
        let last = if i + 1 == bounds.len() { e.last_ts } else { s1 - 1 };
        let path = format!("/api/v1/streams/{id}/media.m4s?start={s0}&end={last}&base={base}&seq={}&next={s1}", i + 1);
        let (url, _) = state.link(&host, &path, ttl);
        let _ = writeln!(m, "#EXTINF:{:.6},\n{url}", secs(s1 - s0));
    }
    m.push_str("#EXT-X-ENDLIST\n");
    Ok(playlist(m))
}

/// The newest complete live slot of a stream (`None`: nothing recorded).
fn newest_complete_slot(state: &State, id: StreamId) -> ApiResult<Option<i64>> {
    let info = state.engine.stream(id)?;
    // Slot n is complete once a frame after its end is stored.
    Ok(info.last_ts.map(|t| t.div_euclid(LIVE_SLOT_US) - 1))
}

/// `live.m3u8[?_HLS_msn=]`: the newest slots; a reload naming a media
/// sequence number not there yet waits for it (up to three slots).
pub(super) async fn live(S(state): S<Arc<State>>, Target(id): Target, req: Parts) -> ApiResult<Response> {
    let q = req.uri.query();
    let ttl = link_secs(q, PLAYLIST_LINK_SECS)?;
    let host = request_host(&req.headers, &req.uri, state.data_addr);
    let want = match q.unwrap_or_default().split('&').find_map(|kv| kv.strip_prefix("_HLS_msn=")) {
        None => None,
        Some(v) => Some(v.parse::<i64>().map_err(|_| ApiError::new(ApiCode::BadRequest, "_HLS_msn is a number"))?),
    };
    let mut newest = newest_complete_slot(&state, id)?;
    if let (Some(w), Some(n)) = (want, newest) {
        if w > n + 2 {
            return Err(ApiError::new(
                ApiCode::BadRequest,
                format!("_HLS_msn={w} is too far ahead of the newest segment {n}"),
            ));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_micros(3 * LIVE_SLOT_US as u64);
        while newest.is_some_and(|n| n < w) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            newest = newest_complete_slot(&state, id)?;
        }
    }
    let Some(last) = newest else {
        return Err(ApiError::new(ApiCode::NoRecording, format!("stream {id} has recorded nothing yet")));
    };
    let first = last - LIVE_WINDOW + 1;
    let engine = state.engine.clone();
    let tol = engine.options().gap_tolerance_us.min(LIVE_SLOT_US);
    let recorded: Vec<bool> = blocking(move || {
        (first..=last)
            .map(|n| {
                let (a, b) = (n * LIVE_SLOT_US, (n + 1) * LIVE_SLOT_US - 1);
                Ok(!engine.recorded_ranges(id, a, b, tol)?.is_empty())
            })
            .collect()
    })
    .await?;
    let mut m = String::new();
    let _ = writeln!(m, "#EXTM3U\n#EXT-X-VERSION:8\n#EXT-X-TARGETDURATION:{}", LIVE_SLOT_US / 1_000_000);
    let _ = writeln!(m, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\n#EXT-X-MEDIA-SEQUENCE:{first}");
    let (init, _) = state.link(&host, &format!("/api/v1/streams/{id}/init.mp4?at={}", first * LIVE_SLOT_US), ttl);
    let _ = writeln!(m, "#EXT-X-MAP:URI=\"{init}\"\n#EXT-X-PROGRAM-DATE-TIME:{}", date_time(first * LIVE_SLOT_US));
    for (n, has) in (first..=last).zip(recorded) {
        let (a, b) = (n * LIVE_SLOT_US, (n + 1) * LIVE_SLOT_US - 1);
        if !has {
            m.push_str("#EXT-X-GAP\n");
        }
        let (url, _) =
            state.link(&host, &format!("/api/v1/streams/{id}/media.m4s?start={a}&end={b}&base=0&seq={n}"), ttl);
        let _ = writeln!(m, "#EXTINF:{:.6},\n{url}", secs(LIVE_SLOT_US));
    }
    Ok(playlist(m))
}
