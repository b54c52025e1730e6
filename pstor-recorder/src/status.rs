//! A schedule's status (manual 3.6.1): recording state with its reason,
//! arming, bitrate, frame rate, last frame, reconnects and counters.

use serde::Serialize;
use std::time::Instant;

/// The recording state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    /// Connecting for the first time since armed.
    Starting,
    /// Frames arrive and are stored (or buffered for events).
    Normal,
    /// The camera's stream cannot be reached, authenticated or decoded.
    StreamingError,
    /// The engine refused the frames (pool full, space lost, …).
    RecordingError,
    /// Not armed (recording off, or outside the weekly plan): no session.
    Disarmed,
}

impl RecordingState {
    /// The state's name as in the API (`"streaming_error"`).
    pub fn name(self) -> &'static str {
        match self {
            RecordingState::Starting => "starting",
            RecordingState::Normal => "normal",
            RecordingState::StreamingError => "streaming_error",
            RecordingState::RecordingError => "recording_error",
            RecordingState::Disarmed => "disarmed",
        }
    }
}

/// What the API shows of a schedule's recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CameraStatus {
    /// The state.
    pub state: RecordingState,
    /// Why, for the error states (and what is going on otherwise).
    pub reason: Option<String>,
    /// Armed by its plan and recording switch.
    pub armed: bool,
    /// An event is in progress (or its post-record).
    pub event_active: bool,
    /// Frames go to the engine now (continuous, or an event).
    pub recording: bool,
    /// Received bitrate over the last seconds, bit/s.
    pub bitrate_bps: u64,
    /// Received frame rate over the last seconds.
    pub fps: f64,
    /// Arrival of the last frame, µs UTC.
    pub last_frame_at: Option<i64>,
    /// Stored time of the last frame written, µs UTC.
    pub last_stored_ts: Option<i64>,
    /// Sessions started again after a failure.
    pub reconnects: u64,
    /// Frames written to the engine.
    pub frames_recorded: u64,
    /// Frames not written: queue full, or waiting for a key frame after an
    /// error.
    pub frames_dropped: u64,
    /// Frames refused as malformed (not a valid access unit).
    pub frames_invalid: u64,
    /// Bytes written to the engine.
    pub bytes_recorded: u64,
    /// "H264" or "H265" once known.
    pub codec: Option<String>,
    /// Picture width once known.
    pub width: Option<u32>,
    /// Picture height once known.
    pub height: Option<u32>,
    /// Where stored times come from: "arrival", "sender_report" or
    /// "camera_clock_off".
    pub clock: Option<String>,
    /// The engine stream recorded into, once registered (a string: 64-bit
    /// ids are strings in the API's answers).
    pub stream_id: Option<String>,
    /// When the state was entered, µs UTC.
    pub since: i64,
}

impl CameraStatus {
    /// A fresh status in `state` at `now`.
    pub fn new(state: RecordingState, now: i64) -> CameraStatus {
        CameraStatus {
            state,
            reason: None,
            armed: false,
            event_active: false,
            recording: false,
            bitrate_bps: 0,
            fps: 0.0,
            last_frame_at: None,
            last_stored_ts: None,
            reconnects: 0,
            frames_recorded: 0,
            frames_dropped: 0,
            frames_invalid: 0,
            bytes_recorded: 0,
            codec: None,
            width: None,
            height: None,
            clock: None,
            stream_id: None,
            since: now,
        }
    }
}

/// Bitrate and frame rate over windows of about two seconds.
#[derive(Debug)]
pub struct RateMeter {
    started: Instant,
    bytes: u64,
    frames: u64,
}

impl Default for RateMeter {
    fn default() -> Self {
        RateMeter { started: Instant::now(), bytes: 0, frames: 0 }
    }
}

impl RateMeter {
    /// Counts a frame of `bytes`; every two seconds returns (bit/s, fps).
    pub fn frame(&mut self, bytes: usize, now: Instant) -> Option<(u64, f64)> {
        self.bytes += bytes as u64;
        self.frames += 1;
        let secs = now.duration_since(self.started).as_secs_f64();
        if secs < 2.0 {
            return None;
        }
        let rates = ((self.bytes as f64 * 8.0 / secs) as u64, (self.frames as f64 / secs * 10.0).round() / 10.0);
        *self = RateMeter { started: now, bytes: 0, frames: 0 };
        Some(rates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_meter_reports_rates_per_window() {
        let t0 = Instant::now();
        let mut m = RateMeter { started: t0, bytes: 0, frames: 0 };
        let mut out = None;
        for i in 1..=50u64 {
            out = m.frame(20_000, t0 + Duration::from_millis(i * 40)).or(out);
        }
        let (bps, fps) = out.expect("a window passed");
        assert_eq!(fps, 25.0);
        assert_eq!(bps, 4_000_000);
    }
}
