//! The event feed: alarms, status changes and recording errors, kept in a
//! bounded ring for polling and read by subscribers through cursors into it, so the server can
//! log them and push them to clients.

use crate::types::*;
use crate::{Error, Result};
use crate::{PoolStatus, SpaceStatus};
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
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
    /// A recorded camera's recording state changed (reported by the
    /// server's recorder, [`crate::Engine::report_camera_status`]; SDK protocol
    /// revision 1.2).
    CameraStatus {
        /// The recording schedule.
        schedule: u64,
        /// The camera, with its name when it has one.
        camera: String,
        /// The state left (`starting`, `normal`, `streaming_error`,
        /// `recording_error`, `disarmed`).
        from: String,
        /// The state entered.
        to: String,
        /// Why ("" when there is nothing to say).
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
            EventKind::CameraStatus { .. } => "camera_status",
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
            EventKind::CameraStatus { schedule, camera, from, to, reason } => {
                write!(f, "recording schedule {schedule} camera {camera}: {from} → {to}")?;
                if !reason.is_empty() {
                    write!(f, ": {reason}")?;
                }
                Ok(())
            }
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
        // Subscribers read the ring through their own cursors: one copy of
        // each event, however many subscribers there are.
        g.ring.push_back(ev);
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
    /// whether one does (a long poll's wait, without a subscription).
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

    /// A subscription to every later event. It is a cursor into the ring,
    /// not a queue: subscribing allocates nothing per subscriber and
    /// dropping it leaves nothing behind. A reader more than [`EVENT_RING`]
    /// events behind skips to the oldest one kept ([`Subscription::missed`]).
    pub fn subscribe(self: &Arc<Self>) -> Subscription {
        let next = self.inner.lock().next_seq + 1;
        Subscription { feed: Arc::downgrade(self), next: AtomicU64::new(next), missed: AtomicU64::new(0) }
    }
}

/// How long a waiting [`Subscription`] sleeps at most before it looks again
/// whether the engine is gone.
const GONE_CHECK: Duration = Duration::from_millis(200);

/// The events after the moment of [`EventFeed::subscribe`], in order, each
/// once (also when several threads share the subscription).
#[derive(Debug)]
pub struct Subscription {
    feed: Weak<EventFeed>,
    /// The `seq` of the next event to hand out. Read and written only with
    /// the feed's lock held.
    next: AtomicU64,
    missed: AtomicU64,
}

impl Subscription {
    /// Takes the next event from the ring, if it has arrived.
    fn take(&self, g: &Inner) -> Option<Event> {
        let first = g.ring.front()?.seq;
        let mut next = self.next.load(Ordering::Relaxed);
        if next < first {
            self.missed.fetch_add(first - next, Ordering::Relaxed);
            next = first;
        }
        let ev = g.ring.get(usize::try_from(next - first).ok()?)?.clone();
        self.next.store(next + 1, Ordering::Relaxed);
        Some(ev)
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<Event> {
        let feed = self.feed.upgrade()?;
        let g = feed.inner.lock();
        self.take(&g)
    }

    /// The events waiting now, oldest first.
    pub fn try_iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(|| self.try_recv())
    }

    /// The next event, waiting at most `timeout`: `Ok(None)` if none came in
    /// time, [`Error::Closed`] once the engine is gone.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Event>> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            let feed = self.feed.upgrade().ok_or(Error::Closed)?;
            let mut g = feed.inner.lock();
            if let Some(ev) = self.take(&g) {
                return Ok(Some(ev));
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(None);
            }
            let until = deadline.map_or(now + GONE_CHECK, |d| d.min(now + GONE_CHECK));
            feed.arrived.wait_until(&mut g, until);
        }
    }

    /// Events this subscription skipped because it fell more than
    /// [`EVENT_RING`] events behind.
    pub fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_and_subscribe() {
        let f = Arc::new(EventFeed::default());
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
        // The subscriber fell behind the ring: it skips to the oldest kept
        // and says how many it missed.
        assert_eq!(rx.try_recv().expect("event").seq, 13);
        assert_eq!(rx.missed(), 11);
        assert_eq!(rx.try_iter().count(), EVENT_RING - 1);
        assert_eq!(rx.recv_timeout(Duration::ZERO).expect("open"), None);
    }

    #[test]
    fn a_subscription_waits_and_sees_the_engine_go() {
        let f = Arc::new(EventFeed::default());
        let sub = f.subscribe();
        let g = Arc::clone(&f);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            g.emit(1, EventKind::LockExpired { lock: LockId(7) });
        });
        let ev = sub.recv_timeout(Duration::from_secs(30)).expect("open").expect("event");
        assert_eq!(ev.kind, EventKind::LockExpired { lock: LockId(7) });
        t.join().expect("emitter");
        let waiter = std::thread::spawn(move || sub.recv_timeout(Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(20));
        drop(f);
        assert!(matches!(waiter.join().expect("waiter"), Err(Error::Closed)));
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
