//! The pre-record buffer of an event-mode camera: the newest whole GOPs
//! (each starting at a key frame) covering at least the pre-record seconds,
//! bounded in bytes, written out in order when an event starts.

use crate::frame::Frame;
use std::collections::VecDeque;

/// The buffer.
#[derive(Debug)]
pub struct Prerecord {
    seconds_us: i64,
    max_bytes: usize,
    gops: VecDeque<Vec<Frame>>,
    bytes: usize,
    dropped_gops: u64,
}

impl Prerecord {
    /// Keeps `seconds` of video, at most `max_bytes`.
    pub fn new(seconds: u32, max_bytes: usize) -> Prerecord {
        Prerecord {
            seconds_us: i64::from(seconds) * 1_000_000,
            max_bytes,
            gops: VecDeque::new(),
            bytes: 0,
            dropped_gops: 0,
        }
    }

    /// Adds a frame. Frames before the first key frame cannot start a
    /// recording and are not kept.
    pub fn push(&mut self, frame: Frame) {
        if self.seconds_us == 0 {
            return;
        }
        if frame.key {
            self.gops.push_back(Vec::new());
        }
        let Some(gop) = self.gops.back_mut() else { return };
        self.bytes += frame.data.len();
        let newest = frame.ts;
        gop.push(frame);
        // Drop the oldest GOP while the rest still covers the seconds.
        while self.gops.len() > 1 && self.gops[1][0].ts <= newest - self.seconds_us {
            self.drop_oldest();
        }
        while self.bytes > self.max_bytes && !self.gops.is_empty() {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        if let Some(g) = self.gops.pop_front() {
            self.bytes -= g.iter().map(|f| f.data.len()).sum::<usize>();
            self.dropped_gops += 1;
        }
    }

    /// Takes the buffered frames, oldest first.
    pub fn drain(&mut self) -> Vec<Frame> {
        self.bytes = 0;
        self.gops.drain(..).flatten().collect()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Empties the buffer (a new session: its frames do not continue the
    /// old ones).
    pub fn clear(&mut self) {
        self.gops.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn f(ts: i64, key: bool, len: usize) -> Frame {
        Frame { ts, key, data: Bytes::from(vec![0u8; len]) }
    }

    #[test]
    fn keeps_whole_gops_covering_the_seconds() {
        let mut p = Prerecord::new(2, 1 << 30);
        p.push(f(0, false, 10)); // no key frame yet: not kept
        for i in 0..100 {
            p.push(f(1_000_000 + i * 100_000, i % 10 == 0, 10));
        }
        let frames = p.drain();
        // Newest is 10.9 s; 2 s back is 8.9 s; the GOP starting at 8.0 s
        // covers it, the one at 9.0 s would not.
        assert_eq!(frames[0].ts, 8_000_000);
        assert!(frames[0].key);
        assert_eq!(frames.len(), 30);
        assert!(frames.windows(2).all(|w| w[0].ts < w[1].ts));
    }

    #[test]
    fn the_byte_bound_drops_oldest_gops() {
        let mut p = Prerecord::new(60, 1000);
        for i in 0..40 {
            p.push(f(i * 40_000, i % 10 == 0, 100));
        }
        assert!(p.bytes() <= 1000);
        let frames = p.drain();
        assert!(frames[0].key);
        assert_eq!(frames.last().map(|f| f.ts), Some(39 * 40_000));
    }

    #[test]
    fn zero_seconds_keeps_nothing() {
        let mut p = Prerecord::new(0, 1000);
        p.push(f(0, true, 10));
        assert!(p.drain().is_empty());
    }
}
