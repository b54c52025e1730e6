//! The event feed: alarms, status changes and recording errors, kept in a
//! bounded ring for polling and fanned out to subscribers, so the server can
//! log them and push them to clients.

use crate::types::*;
use crate::{PoolStatus, SpaceStatus};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A storage space changed status.
    SpaceStatus {
        /// The space.
        space: SpaceId,
        /// The new status.
        status: SpaceStatus,
        /// Why, in words.
        detail: String,
    },
    /// A pool changed status.
    PoolStatus {
        /// The pool.
        pool: PoolId,
        /// The new status.
        status: PoolStatus,
    },
    /// A pool's free space fell below the alarm threshold.
    LowSpace {
        /// The pool.
        pool: PoolId,
        /// Free percentage.
        free_pct: u8,
    },
    /// A volume's free space fell below the volume threshold.
    LowVolumeSpace {
        /// The space on that volume.
        space: SpaceId,
        /// Free percentage of the volume.
        free_pct: u8,
    },
    /// A pool refused writes because it is full.
    PoolFull {
        /// The pool.
        pool: PoolId,
        /// Why.
        reason: crate::FullReason,
    },
    /// Writing a stream failed.
    RecordingError {
        /// The stream.
        stream: StreamId,
        /// The error, in words.
        message: String,
    },
    /// A segment's data was recycled.
    Recycled {
        /// The pool.
        pool: PoolId,
        /// The stream whose data went.
        stream: StreamId,
        /// Newest timestamp that went.
        until: Timestamp,
        /// Overwrite (capacity) or retention (cycle).
        retention: bool,
    },
    /// A lock reached its expiry and was removed.
    LockExpired {
        /// The lock.
        lock: LockId,
    },
    /// Recovery truncated a corrupt or torn tail.
    TailTruncated {
        /// The space.
        space: SpaceId,
        /// The segment.
        segment: u32,
        /// Why.
        detail: String,
    },
    /// The picture key index was unreadable: it was set aside and rebuilt
    /// from the picture segments.
    KeyIndexRebuilt {
        /// What was wrong with it.
        reason: String,
    },
}

impl EventKind {
    /// A stable snake-case name of the kind (`"space_status"`, `"pool_full"`,
    /// ...), for logs, the C API and the SDK protocol.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::SpaceStatus { .. } => "space_status",
            EventKind::PoolStatus { .. } => "pool_status",
            EventKind::LowSpace { .. } => "low_space",
            EventKind::LowVolumeSpace { .. } => "low_volume_space",
            EventKind::PoolFull { .. } => "pool_full",
            EventKind::RecordingError { .. } => "recording_error",
            EventKind::Recycled { .. } => "recycled",
            EventKind::LockExpired { .. } => "lock_expired",
            EventKind::TailTruncated { .. } => "tail_truncated",
            EventKind::KeyIndexRebuilt { .. } => "key_index_rebuilt",
        }
    }
}

/// One line in words, for operators.
impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventKind::SpaceStatus { space, status, detail } => {
                write!(f, "storage space {space} is now {status:?}: {detail}")
            }
            EventKind::PoolStatus { pool, status } => write!(f, "resource pool {pool} is now {status:?}"),
            EventKind::LowSpace { pool, free_pct } => {
                write!(f, "resource pool {pool} is low on space: {free_pct}% free")
            }
            EventKind::LowVolumeSpace { space, free_pct } => {
                write!(f, "the volume of storage space {space} is low on space: {free_pct}% free")
            }
            EventKind::PoolFull { pool, reason } => write!(f, "resource pool {pool} refuses writes: {reason}"),
            EventKind::RecordingError { stream, message } => write!(f, "recording stream {stream} failed: {message}"),
            EventKind::Recycled { pool, stream, until, retention } => write!(
                f,
                "resource pool {pool} recycled stream {stream} up to {until} ({})",
                if *retention { "cycle" } else { "overwrite" }
            ),
            EventKind::LockExpired { lock } => write!(f, "lock {lock} expired"),
            EventKind::TailTruncated { space, segment, detail } => {
                write!(f, "storage space {space} segment {segment}: torn tail truncated: {detail}")
            }
            EventKind::KeyIndexRebuilt { reason } => write!(f, "the picture key index was rebuilt: {reason}"),
        }
    }
}

/// One event with its sequence number and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Increases by one per event, from 1.
    pub seq: u64,
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub kind: EventKind,
}

/// How many events the ring keeps for polling.
pub const EVENT_RING: usize = 4096;

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    ring: VecDeque<Event>,
    subscribers: Vec<Sender<Event>>,
}

/// The feed.
#[derive(Debug, Default)]
pub struct EventFeed {
    inner: Mutex<Inner>,
    /// Woken by every event, for [`EventFeed::wait_newer`].
    arrived: Condvar,
}

impl EventFeed {
    pub(crate) fn emit(&self, at: Timestamp, kind: EventKind) {
        let mut g = self.inner.lock();
        g.next_seq += 1;
        let ev = Event { seq: g.next_seq, at, kind };
        if g.ring.len() == EVENT_RING {
            g.ring.pop_front();
        }
        g.ring.push_back(ev.clone());
        // A subscriber that does not keep up loses events rather than growing
        // memory or blocking the engine; one that hung up is dropped.
        g.subscribers.retain(|s| !matches!(s.try_send(ev.clone()), Err(TrySendError::Disconnected(_))));
        drop(g);
        self.arrived.notify_all();
    }

    /// Events with `seq > after`, oldest first (at most [`EVENT_RING`] kept).
    pub fn poll(&self, after: u64) -> Vec<Event> {
        self.inner.lock().ring.iter().filter(|e| e.seq > after).cloned().collect()
    }

    /// The sequence number of the newest event so far (0: none yet). Poll
    /// after it for the events from now on.
    pub fn last_seq(&self) -> u64 {
        self.inner.lock().next_seq
    }

    /// Waits until an event with `seq > after` exists, at most `timeout`;
    /// whether one does. Unlike [`EventFeed::subscribe`] it leaves nothing
    /// behind, so a long poll may call it again and again.
    pub fn wait_newer(&self, after: u64, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut g = self.inner.lock();
        while g.next_seq <= after {
            match deadline {
                Some(d) => {
                    if self.arrived.wait_until(&mut g, d).timed_out() {
                        return g.next_seq > after;
                    }
                }
                None => self.arrived.wait(&mut g),
            }
        }
        true
    }

    /// A channel receiving every later event (bounded; a slow reader misses events).
    pub fn subscribe(&self) -> Receiver<Event> {
        let (tx, rx) = crossbeam_channel::bounded(EVENT_RING);
        self.inner.lock().subscribers.push(tx);
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_and_subscribe() {
        let f = EventFeed::default();
        let rx = f.subscribe();
        f.emit(1, EventKind::LockExpired { lock: LockId(1) });
        f.emit(2, EventKind::LockExpired { lock: LockId(2) });
        assert_eq!(f.poll(0).len(), 2);
        assert_eq!(f.poll(1)[0].seq, 2);
        assert_eq!(rx.try_recv().expect("event").seq, 1);
        for i in 0..(EVENT_RING as u64 + 10) {
            f.emit(3, EventKind::LockExpired { lock: LockId(i) });
        }
        assert_eq!(f.poll(0).len(), EVENT_RING);
        assert_eq!(f.last_seq(), EVENT_RING as u64 + 12);
    }

    #[test]
    fn wait_newer_wakes_on_an_event_or_times_out() {
        let f = std::sync::Arc::new(EventFeed::default());
        assert_eq!(f.last_seq(), 0);
        assert!(!f.wait_newer(0, Duration::from_millis(10)));
        let g = std::sync::Arc::clone(&f);
        let t = std::thread::spawn(move || g.wait_newer(0, Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(20));
        f.emit(1, EventKind::LockExpired { lock: LockId(1) });
        assert!(t.join().expect("waiter"));
        assert!(f.wait_newer(0, Duration::ZERO));
        assert!(!f.wait_newer(1, Duration::ZERO));
    }
}
