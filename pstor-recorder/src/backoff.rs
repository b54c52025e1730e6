//! When to try a camera again after its stream failed: 1 s, doubling to
//! 60 s, each with ±20 % jitter so cameras that failed together (a switch
//! rebooted) do not all come back in the same second; back to 1 s once a
//! session delivered frames for 30 s.

use std::time::Duration;

/// The reconnect delays of one camera.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
    healthy_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60), Duration::from_secs(30))
    }
}

impl Backoff {
    /// Delays from `first` doubling to `max`; a session that lasted
    /// `healthy_after` resets them.
    pub fn new(first: Duration, max: Duration, healthy_after: Duration) -> Backoff {
        Backoff { first, max, next: first, healthy_after }
    }

    /// The delay before the next attempt after a session that delivered
    /// frames for `lasted`, with `jitter` in [0, 1) choosing where in ±20 %.
    pub fn after_failure(&mut self, lasted: Duration, jitter: f64) -> Duration {
        if lasted >= self.healthy_after {
            self.next = self.first;
        }
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        base.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets_after_a_healthy_session() {
        let mut b = Backoff::default();
        let d: Vec<u64> = (0..8).map(|_| b.after_failure(Duration::ZERO, 0.5).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.after_failure(Duration::from_secs(31), 0.5), Duration::from_secs(1));
        assert_eq!(b.after_failure(Duration::from_secs(5), 0.5), Duration::from_secs(2));
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let mut b = Backoff::default();
        assert_eq!(b.after_failure(Duration::ZERO, 0.0), Duration::from_millis(800));
        let mut b = Backoff::default();
        assert_eq!(b.after_failure(Duration::ZERO, 1.0), Duration::from_millis(1200));
    }
}
