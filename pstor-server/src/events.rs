//! The event watch: one thread subscribed to the engine's event feed logs
//! every event (to the process log and, as system logs, to the log store of
//! the metadata database) and wakes the connections waiting in an event
//! long poll (`poll_events`). The feed's own ring (4,096 events) is what
//! polls read.

use crate::meta::logs::{LogLevel, LogLimits};
use crate::meta::MetaDb;
use pstor_core::{Engine, Event};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct State {
    latest: u64,
    stopping: bool,
}

/// Shared by the watch thread and the pollers.
#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The watch.
#[derive(Debug)]
pub struct EventWatch {
    engine: Engine,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl EventWatch {
    /// Subscribes to `engine`'s events and starts the thread; each event
    /// is also written to `store` as a system log.
    pub fn start(engine: &Engine, store: Option<(Arc<MetaDb>, LogLimits)>) -> std::io::Result<EventWatch> {
        let rx = engine.events().subscribe();
        let shared = Arc::new(Shared::default());
        shared.lock().latest = engine.events().poll(0).last().map_or(0, |e| e.seq);
        let s = Arc::clone(&shared);
        let mut logged_missed = 0;
        let thread = std::thread::Builder::new().name("pstor-events".into()).spawn(move || loop {
            match rx.recv_timeout(Duration::from_millis(250)) {
                Ok(Some(ev)) => {
                    let missed = rx.missed();
                    if missed > logged_missed {
                        tracing::warn!(
                            events = missed - logged_missed,
                            "events not logged: the log fell behind the engine's event ring"
                        );
                        logged_missed = missed;
                    }
                    let serious = log(&ev);
                    if let Some((db, limits)) = &store {
                        let content = ev.kind.to_string();
                        let level = if serious { LogLevel::Warning } else { LogLevel::Info };
                        db.system_log(level, &content, "ok", *limits);
                    }
                    let mut g = s.lock();
                    g.latest = g.latest.max(ev.seq);
                    s.changed.notify_all();
                }
                Ok(None) => {
                    if s.lock().stopping {
                        return;
                    }
                }
                Err(_) => return, // the engine is gone
            }
        })?;
        Ok(EventWatch { engine: engine.clone(), shared, thread: Mutex::new(Some(thread)) })
    }

    /// Events after `after`, at most `max`; waits up to `wait` for the first
    /// one. Returns them and the newest sequence number issued. Answers at
    /// once when the server is stopping.
    pub fn poll(&self, after: u64, max: usize, wait: Duration) -> (Vec<Event>, u64) {
        let deadline = Instant::now() + wait;
        let mut g = self.shared.lock();
        while g.latest <= after && !g.stopping {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            g = match self.shared.changed.wait_timeout(g, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        let latest = g.latest;
        drop(g);
        let mut events = self.engine.events().poll(after);
        events.truncate(max);
        let latest = latest.max(events.last().map_or(0, |e| e.seq));
        (events, latest)
    }

    /// Wakes every poller and stops the thread.
    pub fn stop(&self) {
        self.shared.lock().stopping = true;
        self.shared.changed.notify_all();
        let t = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = t {
            let _ = t.join();
        }
    }
}

/// Every engine event goes to the log, alarms and failures as warnings
/// (then true).
fn log(ev: &Event) -> bool {
    use pstor_core::EventKind as K;
    let serious = matches!(
        ev.kind,
        K::SpaceStatus { .. }
            | K::PoolStatus { .. }
            | K::LowSpace { .. }
            | K::LowVolumeSpace { .. }
            | K::PoolFull { .. }
            | K::RecordingError { .. }
            | K::TailTruncated { .. }
            | K::KeyIndexRebuilt { .. }
    ) || matches!(&ev.kind, K::CameraStatus { to, .. } if to.ends_with("_error"));
    if serious {
        tracing::warn!(seq = ev.seq, kind = ev.kind.name(), "{}", ev.kind);
    } else {
        tracing::info!(seq = ev.seq, kind = ev.kind.name(), "{}", ev.kind);
    }
    serious
}
