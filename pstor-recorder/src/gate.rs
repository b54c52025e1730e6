//! Which frames of an armed camera go to the engine: all of them in
//! continuous mode; in event mode those from `event start − pre-record`
//! (the pre-record buffer) to `event stop + post-record`, the rest kept in
//! the buffer.

use crate::frame::Frame;
use crate::prerecord::Prerecord;
use crate::schedule::RecordMode;

/// The gate of one camera.
#[derive(Debug)]
pub struct Gate {
    mode: RecordMode,
    post_us: i64,
    prerecord: Prerecord,
    event: bool,
    /// After an event stopped: frames up to this stored time still record.
    record_until: Option<i64>,
    last_ts: Option<i64>,
}

impl Gate {
    /// A gate for `mode` with `pre`/`post` record seconds and a pre-record
    /// byte bound.
    pub fn new(mode: RecordMode, pre_secs: u32, post_secs: u32, prerecord_max_bytes: usize) -> Gate {
        Gate {
            mode,
            post_us: i64::from(post_secs) * 1_000_000,
            prerecord: Prerecord::new(pre_secs, prerecord_max_bytes),
            event: false,
            record_until: None,
            last_ts: None,
        }
    }

    /// Whether frames go to the engine now.
    pub fn recording(&self) -> bool {
        match self.mode {
            RecordMode::Continuous => true,
            RecordMode::Event => self.event || self.record_until.zip(self.last_ts).is_some_and(|(u, t)| t <= u),
        }
    }

    /// Whether an event or its post-record is in progress.
    pub fn event_active(&self) -> bool {
        self.mode == RecordMode::Event && self.recording()
    }

    /// A frame arrived: returns it if it is to be written, else buffers it.
    pub fn frame(&mut self, frame: Frame) -> Option<Frame> {
        self.last_ts = Some(frame.ts);
        if self.recording() {
            return Some(frame);
        }
        self.record_until = None;
        self.prerecord.push(frame);
        None
    }

    /// An event started: the buffered frames to write first, oldest first.
    pub fn event_start(&mut self) -> Vec<Frame> {
        let was_recording = self.recording();
        self.event = true;
        if was_recording {
            Vec::new()
        } else {
            self.prerecord.drain()
        }
    }

    /// The event stopped: recording goes on for the post-record seconds of
    /// stored time.
    pub fn event_stop(&mut self) {
        if self.event {
            self.event = false;
            self.record_until = Some(self.last_ts.unwrap_or(i64::MIN).saturating_add(self.post_us));
        }
    }

    /// A new session: its frames do not continue the buffered ones.
    pub fn new_session(&mut self) {
        self.prerecord.clear();
    }

    /// Bytes in the pre-record buffer.
    pub fn buffered_bytes(&self) -> usize {
        self.prerecord.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn f(i: i64) -> Frame {
        Frame { ts: i * 100_000, key: i % 10 == 0, data: Bytes::from_static(b"x") }
    }

    #[test]
    fn continuous_passes_everything() {
        let mut g = Gate::new(RecordMode::Continuous, 5, 5, 1 << 20);
        assert!((0..30).all(|i| g.frame(f(i)).is_some()));
        assert!(!g.event_active());
    }

    #[test]
    fn an_event_records_pre_and_post_seconds() {
        let mut g = Gate::new(RecordMode::Event, 2, 1, 1 << 20);
        // 10 s idle: buffered.
        assert!((0..100).all(|i| g.frame(f(i)).is_none()));
        let pre = g.event_start();
        // Newest 9.9 s, 2 s back 7.9 s: the GOP from 7.0 s.
        assert_eq!(pre.first().map(|f| f.ts), Some(7_000_000));
        assert_eq!(pre.len(), 30);
        assert!(g.event_active());
        assert!((100..120).all(|i| g.frame(f(i)).is_some()));
        g.event_stop();
        // Post-record: 1 s after the last frame at 11.9 s, so to 12.9 s.
        let written: Vec<i64> = (120..140).filter_map(|i| g.frame(f(i))).map(|f| f.ts).collect();
        assert_eq!(written.first(), Some(&12_000_000));
        assert_eq!(written.last(), Some(&12_900_000));
        assert!(!g.event_active());
        // A second event before the buffer refilled: only what came since.
        let pre = g.event_start();
        assert!(pre.iter().all(|f| f.ts > 12_900_000));
    }

    #[test]
    fn an_event_during_post_record_just_extends_it() {
        let mut g = Gate::new(RecordMode::Event, 2, 10, 1 << 20);
        (0..30).for_each(|i| drop(g.frame(f(i))));
        assert!(!g.event_start().is_empty());
        g.event_stop();
        assert!(g.frame(f(30)).is_some());
        assert!(g.event_start().is_empty(), "still recording: nothing buffered to replay");
        assert!(g.frame(f(31)).is_some());
    }
}
