//! One RTSP session with a camera, through retina: DESCRIBE, SETUP of the
//! first H.264/H.265 video stream over TCP interleaved, PLAY, then frames,
//! parameter changes and sender reports as [`SourceEvent`]s until the
//! session fails, stalls or the caller stops it.

use crate::schedule::Credentials;
use futures::StreamExt;
use pstor_media::Codec;
use retina::client::{PlayOptions, SessionGroup, SessionOptions, SetupOptions, TcpTransportOptions, Transport};
use retina::codec::{CodecItem, FrameFormat, ParametersRef};
use std::num::NonZeroU32;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

/// Why a session ended: what the status shows as a streaming error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The camera refused the credentials (or asked for some and none are
    /// configured).
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// Could not connect or the RTSP exchange failed.
    #[error("cannot reach the stream: {0}")]
    Connect(String),
    /// A step did not answer in time.
    #[error("{0} timed out after {1} s")]
    Timeout(&'static str, u64),
    /// The presentation has no H.264/H.265 video.
    #[error("no H.264/H.265 video in the stream ({0})")]
    NoVideo(String),
    /// No frame for the stall timeout while the connection stayed open.
    #[error("the camera sent no frame for {0} s")]
    Stalled(u64),
    /// The camera ended the session.
    #[error("the camera ended the session")]
    Ended,
    /// The stream broke (RTP/RTCP or depacketizing error, timestamp jump).
    #[error("stream error: {0}")]
    Stream(String),
}

/// What the session delivers.
#[derive(Debug)]
pub enum SourceEvent {
    /// The stream's codec parameters, at the start and whenever they
    /// change.
    Parameters {
        /// The codec.
        codec: Codec,
        /// avcC / hvcC payload.
        config: Vec<u8>,
        /// Picture size.
        width: u32,
        /// Picture size.
        height: u32,
    },
    /// A frame in the stored form.
    Frame {
        /// RTP time elapsed since the session's first packet, in ticks.
        elapsed: i64,
        /// RTP clock rate.
        clock_rate: u32,
        /// When it arrived, µs UTC.
        arrival_us: i64,
        /// Random access point.
        key: bool,
        /// The access unit, 4-byte length-prefixed NALs.
        data: Vec<u8>,
        /// RTP packets lost before it.
        loss: u16,
    },
    /// An RTCP sender report of the video stream.
    SenderReport {
        /// RTP time elapsed at the report, ticks.
        elapsed: i64,
        /// The camera's wall time at it, µs UTC.
        ntp_us: i64,
        /// When it arrived, µs UTC.
        arrival_us: i64,
    },
}

/// How to open sessions.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Time allowed for each of DESCRIBE, SETUP and PLAY.
    pub step_timeout: Duration,
    /// A session without frames for this long is ended as stalled.
    pub stall_timeout: Duration,
    /// Sent as User-Agent.
    pub user_agent: String,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            step_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(10),
            user_agent: concat!("pstor-recorder/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// Now, µs UTC.
pub fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// NTP time (seconds since 1900 in 32.32 fixed point) → µs UTC.
fn ntp_to_us(ntp: u64) -> i64 {
    const UNIX_EPOCH_NTP_SECS: i64 = 2_208_988_800;
    let secs = (ntp >> 32) as i64 - UNIX_EPOCH_NTP_SECS;
    let frac_us = ((ntp & 0xFFFF_FFFF) * 1_000_000) >> 32;
    secs * 1_000_000 + frac_us as i64
}

fn retina_error(e: retina::Error) -> StreamError {
    match e.status_code() {
        Some(401) | Some(403) => StreamError::Authentication(e.to_string()),
        _ => StreamError::Connect(e.to_string()),
    }
}

async fn step<T>(
    what: &'static str,
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, retina::Error>>,
) -> Result<T, StreamError> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r.map_err(retina_error),
        Err(_) => Err(StreamError::Timeout(what, limit.as_secs())),
    }
}

fn parameters(codec: Codec, p: Option<ParametersRef<'_>>) -> Option<SourceEvent> {
    match p {
        Some(ParametersRef::Video(v)) => {
            let (width, height) = v.pixel_dimensions();
            Some(SourceEvent::Parameters { codec, config: v.extra_data().to_vec(), width, height })
        }
        _ => None,
    }
}

/// Runs one session on `url` until it fails or `on_event` breaks (then
/// `Ok`). The TEARDOWN of a dropped session is left to retina's session
/// group (sent in the background).
pub async fn run_session(
    url: &Url,
    creds: Option<&Credentials>,
    settings: &SessionSettings,
    mut on_event: impl FnMut(SourceEvent) -> ControlFlow<()>,
) -> Result<(), StreamError> {
    let group = Arc::new(SessionGroup::default());
    let options = SessionOptions::default()
        .creds(
            creds.map(|c| retina::client::Credentials { username: c.username.clone(), password: c.password.clone() }),
        )
        .session_group(group)
        .user_agent(settings.user_agent.clone());
    let mut session =
        step("DESCRIBE", settings.step_timeout, retina::client::Session::describe(url.clone(), options)).await?;
    let found = session.streams().iter().enumerate().find_map(|(i, s)| {
        (s.media() == "video").then(|| Codec::from_rtp_encoding(s.encoding_name())).flatten().map(|c| (i, c))
    });
    let Some((index, codec)) = found else {
        let offered: Vec<String> =
            session.streams().iter().map(|s| format!("{} {}", s.media(), s.encoding_name())).collect();
        return Err(StreamError::NoVideo(if offered.is_empty() { "no streams".into() } else { offered.join(", ") }));
    };
    let clock_rate = session.streams()[index].clock_rate_hz();
    let format = FrameFormat {
        h26x_framing: retina::codec::h26x::Framing::FourByteLength,
        parameter_set_insertion: retina::codec::ParameterSetInsertion::EachKeyFrame,
        ..FrameFormat::MP4
    };
    step(
        "SETUP",
        settings.step_timeout,
        session.setup(
            index,
            SetupOptions::default().transport(Transport::Tcp(TcpTransportOptions::default())).frame_format(format),
        ),
    )
    .await?;
    if let Some(p) = parameters(codec, session.streams()[index].parameters()) {
        if on_event(p).is_break() {
            return Ok(());
        }
    }
    let max_jump = NonZeroU32::new(10).expect("10 is not zero");
    let playing = step(
        "PLAY",
        settings.step_timeout,
        session.play(PlayOptions::default().enforce_timestamps_with_max_jump_secs(max_jump)),
    )
    .await?;
    let mut demuxed = playing.demuxed().map_err(|e| StreamError::Stream(e.to_string()))?;
    loop {
        let item = match tokio::time::timeout(settings.stall_timeout, demuxed.next()).await {
            Err(_) => return Err(StreamError::Stalled(settings.stall_timeout.as_secs())),
            Ok(None) => return Err(StreamError::Ended),
            Ok(Some(Err(e))) => return Err(StreamError::Stream(e.to_string())),
            Ok(Some(Ok(item))) => item,
        };
        let flow = match item {
            CodecItem::VideoFrame(frame) if frame.stream_id() == index => {
                if frame.has_new_parameters() {
                    if let Some(p) = parameters(codec, demuxed.streams()[index].parameters()) {
                        if on_event(p).is_break() {
                            return Ok(());
                        }
                    }
                }
                let elapsed = frame.timestamp().elapsed();
                let (key, loss) = (frame.is_random_access_point(), frame.loss());
                on_event(SourceEvent::Frame {
                    elapsed,
                    clock_rate,
                    arrival_us: now_us(),
                    key,
                    data: frame.into_data(),
                    loss,
                })
            }
            CodecItem::Rtcp(rtcp) if rtcp.stream_id() == index => {
                let sr = rtcp.pkts().find_map(|p| p.as_sender_report().ok().flatten().map(|sr| sr.ntp_timestamp()));
                match (rtcp.rtp_timestamp(), sr) {
                    (Some(t), Some(ntp)) => on_event(SourceEvent::SenderReport {
                        elapsed: t.elapsed(),
                        ntp_us: ntp_to_us(ntp.0),
                        arrival_us: now_us(),
                    }),
                    _ => ControlFlow::Continue(()),
                }
            }
            _ => ControlFlow::Continue(()),
        };
        if flow.is_break() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_times_convert_to_unix_microseconds() {
        // 2026-01-01T00:00:00Z is 1767225600 s after 1970.
        let ntp = ((1_767_225_600u64 + 2_208_988_800) << 32) | (1u64 << 31);
        assert_eq!(ntp_to_us(ntp), 1_767_225_600_000_000 + 500_000);
    }
}
