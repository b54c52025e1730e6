//! The data port's fragmented MP4 for browsers and HLS: the init segment
//! of the parameter sets in force at a time (`init.mp4?at=`), and media
//! segments of the frames in a time range (`media.m4s?start=&end=&base=`),
//! decoded from `base` on the track's 90 kHz clock. A segment's last frame
//! lasts until `next` (the playlist knows it: the next segment's start),
//! else until the next stored frame within two seconds, else as long as
//! the frame before it: a player's timeline has no holes, and a gap in the
//! recording is a frame that holds, as in the `.mp4` files.

use super::download::{query_param, range_of, Target};
use super::State;
use crate::manage::blocking;
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use axum::body::Body;
use axum::extract::State as S;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use pstor_core::{Engine, StreamId};
use pstor_media::mp4::fragment::{durations, init_segment, media_segment, FragmentSample};
use pstor_media::mp4::{key_frame_config, Lead, SampleEntry};
use pstor_media::Codec;
use std::sync::Arc;

/// Longest media segment (µs): bounds its memory.
pub const MAX_SEGMENT_US: i64 = 30_000_000;
/// How far after a segment its last frame's successor is looked for.
const LOOKAHEAD_US: i64 = 2_000_000;

/// The codec of a stream, for MP4.
pub(super) fn codec_of(engine: &Engine, id: StreamId) -> ApiResult<Codec> {
    let info = engine.stream(id)?;
    Codec::from_name(&info.config.codec).ok_or_else(|| {
        ApiError::new(
            ApiCode::Unplayable,
            format!("stream {id} is {:?}: MP4 is made of H.264 and H.265", info.config.codec),
        )
    })
}

/// The sample description of the key frame at or before `at` (or the
/// first one after it, after a gap).
pub(super) fn entry_at(engine: &Engine, id: StreamId, at: i64) -> ApiResult<SampleEntry> {
    let codec = codec_of(engine, id)?;
    for f in engine.read(id, at, at.saturating_add(MAX_SEGMENT_US))? {
        let f = f?;
        if !f.key {
            continue;
        }
        return match key_frame_config(codec, &f.data, true) {
            Ok(Lead::Config(c)) => SampleEntry::new(c).map_err(|e| ApiError::new(ApiCode::Unplayable, e.to_string())),
            Ok(Lead::NeedMore) => {
                Err(ApiError::new(ApiCode::Unplayable, "the key frame ends inside its parameter sets"))
            }
            Err(e) => Err(ApiError::new(ApiCode::Unplayable, format!("the key frame at {}: {e}", f.ts))),
        };
    }
    Err(ApiError::new(ApiCode::NoRecording, format!("stream {id} has no key frame near {at}")))
}

fn video(bytes: Vec<Bytes>, codecs: Option<String>) -> Response {
    let len: usize = bytes.iter().map(Bytes::len).sum();
    let mut r = Response::new(Body::from_stream(tokio_stream::iter(bytes.into_iter().map(Ok::<_, std::io::Error>))));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    if let Some(c) = codecs.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::HeaderName::from_static("x-pstor-codecs"), c);
    }
    r
}

/// `init.mp4?at=`: the init segment, with its codec string in `X-Pstor-Codecs`.
pub(super) async fn init(S(state): S<Arc<State>>, Target(id): Target, req: Parts) -> ApiResult<Response> {
    let at = query_param(req.uri.query(), "at")?
        .ok_or_else(|| ApiError::new(ApiCode::BadRequest, "at is needed (RFC 3339 or µs)"))?;
    let engine = state.engine.clone();
    let (bytes, codecs) = blocking(move || {
        let e = entry_at(&engine, id, at)?;
        let codecs = e.codec_string().ok();
        let b = init_segment(&e).map_err(|e| ApiError::new(ApiCode::Unplayable, e.to_string()))?;
        Ok((b, codecs))
    })
    .await?;
    Ok(video(vec![Bytes::from(bytes)], codecs))
}

/// `media.m4s?start=&end=&base=&seq=&next=`: the frames of `[start, end]`.
pub(super) async fn media(S(state): S<Arc<State>>, Target(id): Target, req: Parts) -> ApiResult<Response> {
    let q = req.uri.query();
    let (start, end) = range_of(q)?;
    if end < start {
        return Err(ApiError::new(ApiCode::BadRequest, "the segment ends before it starts"));
    }
    if end - start > MAX_SEGMENT_US {
        return Err(ApiError::new(
            ApiCode::ExportTooLong,
            format!("a media segment covers at most {} s", MAX_SEGMENT_US / 1_000_000),
        ));
    }
    let base = query_param(q, "base")?.unwrap_or(start);
    let next = query_param(q, "next")?;
    let seq = query_param(q, "seq")?.unwrap_or(1);
    let seq = u32::try_from(seq).map_err(|_| ApiError::new(ApiCode::BadRequest, "seq is a 32-bit sequence number"))?;
    let permit = super::download::export_permit(&state)?;
    let engine = state.engine.clone();
    let bytes = blocking(move || {
        let _permit = permit;
        let mut frames = Vec::new();
        let mut after = None;
        for f in engine.read(id, start, end.saturating_add(LOOKAHEAD_US))? {
            let f = f?;
            if f.ts < start {
                continue;
            }
            if f.ts > end {
                after = Some(f.ts);
                break;
            }
            frames.push(f);
        }
        if frames.is_empty() {
            return Err(ApiError::new(
                ApiCode::NoRecording,
                format!("stream {id} has no frame between {start} and {end}"),
            ));
        }
        let times: Vec<i64> = frames.iter().map(|f| f.ts).collect();
        let d = durations(base, &times, next.or(after))
            .map_err(|e| ApiError::new(ApiCode::ExportTooLong, e.to_string()))?;
        let samples: Vec<FragmentSample> = frames
            .iter()
            .zip(d)
            .map(|(f, duration)| FragmentSample { duration, size: f.data.len() as u32, key: f.key })
            .collect();
        let decode_time = pstor_media::mp4::movie::ticks(base, times[0]);
        media_segment(seq, decode_time, &samples, frames.into_iter().map(|f| f.data).collect())
            .map_err(|e| ApiError::new(ApiCode::Unplayable, e.to_string()))
    })
    .await?;
    Ok(video(bytes, None))
}
