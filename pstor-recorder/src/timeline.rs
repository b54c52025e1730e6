//! The timestamp rule: which wall-clock time (µs UTC) a received frame is
//! stored at. Pure: the RTSP side feeds it RTP times, arrival times and
//! RTCP sender reports; it answers the time to store. `docs/recording.md`
//! states the rule for operators; the tests here are its proof.
//!
//! - A frame's time is its RTP time (elapsed since the session's first
//!   packet, extended across 32-bit wraps by retina) plus an *offset*.
//! - The offset's *target* is the camera's RTCP sender report (NTP time of
//!   an RTP time) when one arrived and it lies within `max_camera_skew` of
//!   the arrival-based estimate; otherwise the arrival-based estimate: the
//!   smallest (arrival − RTP time) over a sliding window, since network
//!   delay only ever adds to it.
//! - The offset starts at the target and moves toward it by at most
//!   `max_slew_per_frame` a frame, so a sender report or a drifting camera
//!   clock never makes a jump in the stored times; a difference beyond
//!   `step_threshold` is stepped at once (forward: the gap is real time
//!   that passed; backward: see the next point).
//! - Stored times only ever increase: a frame never gets a time at or
//!   before the previous one (also across sessions: the floor is the
//!   stream's newest stored frame); if the rule would go back, the frame
//!   gets `previous + nominal frame duration` instead, so a backward clock
//!   jump neither fails with out-of-order nor leaves a silent gap.

use std::collections::VecDeque;

/// Parameters of the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineOptions {
    /// Largest difference between a camera's sender-report clock and the
    /// arrival-based estimate for the sender report to be believed, µs.
    pub max_camera_skew: i64,
    /// Largest change of the offset per frame, µs.
    pub max_slew_per_frame: i64,
    /// A difference between offset and target beyond this is stepped, µs.
    pub step_threshold: i64,
    /// Length of the arrival window, µs of RTP time.
    pub arrival_window: i64,
    /// Step given to a frame whose computed time is not after the previous
    /// one's, µs (one frame at 25 fps).
    pub nominal_frame_duration: i64,
}

impl Default for TimelineOptions {
    fn default() -> Self {
        TimelineOptions {
            max_camera_skew: 10_000_000,
            max_slew_per_frame: 1_000,
            step_threshold: 2_000_000,
            arrival_window: 10_000_000,
            nominal_frame_duration: 40_000,
        }
    }
}

/// Where the offset's target came from, for the camera's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSource {
    /// No frame yet.
    None,
    /// The arrival times of the frames (no usable sender report).
    Arrival,
    /// The camera's RTCP sender reports.
    SenderReport,
    /// Sender reports arrived, but the camera's clock is off by more than
    /// the allowed skew (µs, positive when the camera is ahead): arrival
    /// times are used.
    CameraClockOff(i64),
}

/// One session's timeline.
#[derive(Debug, Clone)]
pub struct Timeline {
    opts: TimelineOptions,
    clock_rate: u32,
    /// The offset in use (stored time − RTP µs).
    offset: Option<i64>,
    /// The newest accepted sender report's offset.
    report_offset: Option<i64>,
    /// (RTP µs, arrival offset) pairs with increasing offsets: the front is
    /// the window's minimum.
    window: VecDeque<(i64, i64)>,
    last: Option<i64>,
    source: ClockSource,
    stepped: u64,
}

impl Timeline {
    /// A timeline for RTP times at `clock_rate` Hz whose stored times stay
    /// after `floor` (the stream's newest stored frame, if any).
    pub fn new(opts: TimelineOptions, clock_rate: u32, floor: Option<i64>) -> Timeline {
        Timeline {
            opts,
            clock_rate: clock_rate.max(1),
            offset: None,
            report_offset: None,
            window: VecDeque::new(),
            last: floor,
            source: ClockSource::None,
            stepped: 0,
        }
    }

    fn rtp_us(&self, elapsed_ticks: i64) -> i64 {
        (i128::from(elapsed_ticks) * 1_000_000 / i128::from(self.clock_rate)) as i64
    }

    /// A sender report: the camera says RTP time `elapsed_ticks` was wall
    /// time `ntp_us`; `arrival_us` is when it reached us.
    pub fn sender_report(&mut self, elapsed_ticks: i64, ntp_us: i64, arrival_us: i64) {
        let rtp = self.rtp_us(elapsed_ticks);
        let offset = ntp_us.saturating_sub(rtp);
        let estimate = self.arrival_estimate().unwrap_or(arrival_us.saturating_sub(rtp));
        let skew = offset.saturating_sub(estimate);
        if skew.abs() <= self.opts.max_camera_skew {
            self.report_offset = Some(offset);
            self.source = ClockSource::SenderReport;
        } else {
            self.report_offset = None;
            self.source = ClockSource::CameraClockOff(skew);
        }
    }

    fn arrival_estimate(&self) -> Option<i64> {
        self.window.front().map(|&(_, o)| o)
    }

    /// The time to store a frame of RTP time `elapsed_ticks` that arrived
    /// at `arrival_us`.
    pub fn frame(&mut self, elapsed_ticks: i64, arrival_us: i64) -> i64 {
        let rtp = self.rtp_us(elapsed_ticks);
        let arrival_offset = arrival_us.saturating_sub(rtp);
        // The sliding-window minimum: drop larger offsets from the back and
        // expired ones from the front.
        while self.window.back().is_some_and(|&(_, o)| o >= arrival_offset) {
            self.window.pop_back();
        }
        self.window.push_back((rtp, arrival_offset));
        while self.window.front().is_some_and(|&(t, _)| t < rtp - self.opts.arrival_window) {
            self.window.pop_front();
        }
        let estimate = self.arrival_estimate().unwrap_or(arrival_offset);
        // A report older than a clock change must not hold the offset away
        // from arrival: re-check the skew against the current estimate.
        let target = match self.report_offset {
            Some(r) if (r - estimate).abs() <= self.opts.max_camera_skew => r,
            _ => {
                if self.source == ClockSource::None || self.source == ClockSource::SenderReport {
                    self.source = ClockSource::Arrival;
                }
                estimate
            }
        };
        let offset = match self.offset {
            None => target,
            Some(o) => {
                let diff = target - o;
                if diff.abs() > self.opts.step_threshold {
                    self.stepped += 1;
                    target
                } else {
                    o + diff.clamp(-self.opts.max_slew_per_frame, self.opts.max_slew_per_frame)
                }
            }
        };
        self.offset = Some(offset);
        let mut ts = rtp.saturating_add(offset);
        if let Some(last) = self.last {
            if ts <= last {
                ts = last + self.opts.nominal_frame_duration.max(1);
                // Keep later frames of this session after this one too:
                // move the offset so the same RTP spacing continues from here.
                self.offset = Some(ts - rtp);
            }
        }
        self.last = Some(ts);
        ts
    }

    /// Where the offset comes from now.
    pub fn source(&self) -> ClockSource {
        self.source
    }

    /// How many times the offset was stepped instead of slewed.
    pub fn steps(&self) -> u64 {
        self.stepped
    }

    /// The newest stored time.
    pub fn last(&self) -> Option<i64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RATE: u32 = 90_000;
    const FRAME_TICKS: i64 = 3_600; // 40 ms at 90 kHz
    const T0: i64 = 1_800_000_000_000_000;

    fn tl() -> Timeline {
        Timeline::new(TimelineOptions::default(), RATE, None)
    }

    #[test]
    fn without_reports_frames_follow_rtp_spacing_from_first_arrival() {
        let mut t = tl();
        let a = t.frame(0, T0);
        let b = t.frame(FRAME_TICKS, T0 + 40_000 + 15_000); // late by network jitter
        let c = t.frame(2 * FRAME_TICKS, T0 + 80_000);
        assert_eq!(a, T0);
        assert_eq!(b, T0 + 40_000);
        assert_eq!(c, T0 + 80_000);
        assert_eq!(t.source(), ClockSource::Arrival);
    }

    #[test]
    fn a_sender_report_within_skew_is_slewed_to_not_jumped() {
        let mut t = tl();
        t.frame(0, T0);
        // The camera says RTP 0 was 300 ms later than it arrived (clock
        // ahead): the offset moves 1 ms per frame.
        t.sender_report(0, T0 + 300_000, T0 + 1_000);
        assert_eq!(t.source(), ClockSource::SenderReport);
        let mut prev = T0;
        for i in 1..=400 {
            let ts = t.frame(i * FRAME_TICKS, T0 + i * 40_000);
            let step = ts - prev;
            assert!((39_000..=41_000).contains(&step), "frame {i}: step {step}");
            prev = ts;
        }
        // Converged: 400 frames, 300 of them needed.
        assert_eq!(prev, T0 + 400 * 40_000 + 300_000);
    }

    #[test]
    fn a_camera_clock_far_off_is_not_believed() {
        let mut t = tl();
        t.frame(0, T0);
        t.sender_report(0, T0 - 3_600_000_000, T0); // an hour behind
        assert_eq!(t.source(), ClockSource::CameraClockOff(-3_600_000_000));
        assert_eq!(t.frame(FRAME_TICKS, T0 + 40_000), T0 + 40_000);
    }

    #[test]
    fn a_backward_jump_neither_reorders_nor_leaves_a_gap() {
        // A floor from an earlier session 5 s ahead of this session's
        // arrival times (the server clock stepped back).
        let mut t = Timeline::new(TimelineOptions::default(), RATE, Some(T0 + 5_000_000));
        let a = t.frame(0, T0);
        let b = t.frame(FRAME_TICKS, T0 + 40_000);
        assert_eq!(a, T0 + 5_000_000 + 40_000);
        assert_eq!(b, a + 40_000, "the RTP spacing continues after the floor");
    }

    #[test]
    fn a_long_forward_difference_is_stepped() {
        let mut t = tl();
        t.frame(0, T0);
        // The session's RTP clock stalls while real time runs on (a camera
        // that restarted its encoder without a new session): arrival moves
        // 30 s ahead of RTP. Beyond the window the estimate follows.
        let mut ts = 0;
        for i in 1..=300 {
            ts = t.frame(i * FRAME_TICKS, T0 + 30_000_000 + i * 40_000);
        }
        assert!(t.steps() >= 1);
        assert_eq!(ts, T0 + 30_000_000 + 300 * 40_000);
    }

    #[test]
    fn rtp_times_at_other_clock_rates() {
        let mut t = Timeline::new(TimelineOptions::default(), 1_000, None);
        assert_eq!(t.frame(0, T0), T0);
        assert_eq!(t.frame(40, T0 + 40_000), T0 + 40_000);
    }

    proptest! {
        /// Whatever the network, reports and clocks do, stored times
        /// strictly increase and stay after the floor.
        #[test]
        fn stored_times_strictly_increase(
            floor in proptest::option::of(T0 - 10_000_000..T0 + 10_000_000),
            steps in proptest::collection::vec((0i64..20_000, -2_000_000i64..2_000_000, proptest::option::of(-100_000_000i64..100_000_000)), 1..200),
        ) {
            let mut t = Timeline::new(TimelineOptions::default(), RATE, floor);
            let mut rtp = 0i64;
            let mut prev = floor;
            for (dt, jitter, report) in steps {
                rtp += dt;
                let arrival = T0 + rtp * 1_000_000 / i64::from(RATE) + jitter;
                if let Some(r) = report {
                    t.sender_report(rtp, arrival + r, arrival);
                }
                let ts = t.frame(rtp, arrival);
                if let Some(p) = prev { prop_assert!(ts > p, "{ts} after {p}"); }
                prev = Some(ts);
            }
        }

        /// With steady arrivals and no reports, the spacing of stored times
        /// is the RTP spacing exactly.
        #[test]
        fn steady_streams_keep_rtp_spacing(deltas in proptest::collection::vec(1i64..9_000, 1..100)) {
            let mut t = tl();
            let mut rtp = 0;
            let first = t.frame(0, T0);
            for d in deltas {
                rtp += d;
                let ts = t.frame(rtp, T0 + rtp * 1_000_000 / i64::from(RATE));
                prop_assert_eq!(ts - first, rtp * 1_000_000 / i64::from(RATE));
            }
        }
    }
}
