//! The recorder: one camera task per schedule, started, changed and
//! stopped as schedules are; statuses and events by schedule id.

use crate::camera::{self, Control};
use crate::rtsp::SessionSettings;
use crate::schedule::{Credentials, RecordMode, Schedule, WeekMinute};
use crate::status::{CameraStatus, RecordingState};
use crate::timeline::TimelineOptions;
use crate::Shared;
use parking_lot::Mutex;
use pstor_core::Engine;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};

/// A state change of a schedule's recording, for the system log and the
/// event feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The schedule.
    pub schedule_id: u64,
    /// Its camera.
    pub camera_id: String,
    /// The camera's name.
    pub name: String,
    /// The state left.
    pub from: RecordingState,
    /// The state entered.
    pub to: RecordingState,
    /// Why.
    pub reason: Option<String>,
}

/// Where transitions go (called on camera tasks and writer threads: keep
/// it short).
pub type TransitionSink = Arc<dyn Fn(Transition) + Send + Sync>;

/// The server's local time of the week (the weekly plans are in it).
pub type LocalClock = Arc<dyn Fn() -> WeekMinute + Send + Sync>;

/// How the recorder works.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// RTSP steps and stall detection.
    pub session: SessionSettings,
    /// The timestamp rule.
    pub timeline: TimelineOptions,
    /// Frames queued between a camera and its writer; beyond, frames are
    /// dropped up to the next key frame (and counted).
    pub frame_queue: usize,
    /// How often a writer syncs what it wrote.
    pub sync_every: Duration,
    /// Bound of each camera's pre-record buffer.
    pub prerecord_max_bytes: usize,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            session: SessionSettings::default(),
            timeline: TimelineOptions::default(),
            frame_queue: 256,
            sync_every: Duration::from_secs(1),
            prerecord_max_bytes: 32 << 20,
        }
    }
}

/// One schedule as the recorder runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraSpec {
    /// The schedule.
    pub schedule: Schedule,
    /// Its credentials, decrypted (`None`: none configured, or they cannot
    /// be decrypted, then `credentials_error` says why).
    pub credentials: Option<Credentials>,
    /// Why the stored credentials are unusable.
    pub credentials_error: Option<String>,
    /// Stream certification (manual 3.8.3): the camera is reached only
    /// with credentials.
    pub require_credentials: bool,
}

/// What the recorder refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecorderError {
    /// No such schedule.
    #[error("recording schedule {0} does not exist")]
    NotFound(u64),
    /// An event for a schedule that records continuously.
    #[error("recording schedule {0} records continuously: events apply to event-mode schedules")]
    NotEventMode(u64),
}

struct Entry {
    control: watch::Sender<Control>,
    events: mpsc::UnboundedSender<bool>,
    shared: Arc<Shared>,
    mode: RecordMode,
}

pub(crate) struct Context {
    pub engine: Engine,
    pub opts: RecorderOptions,
    pub local: LocalClock,
    pub done: crossbeam_channel::Sender<u64>,
}

/// The recorder.
pub struct Recorder {
    ctx: Arc<Context>,
    runtime: Handle,
    cameras: Mutex<HashMap<u64, Entry>>,
    sink: TransitionSink,
    done: crossbeam_channel::Receiver<u64>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("cameras", &self.cameras.lock().len()).finish()
    }
}

impl Recorder {
    /// A recorder writing into `engine`, its camera tasks on `runtime`.
    pub fn new(
        engine: Engine,
        runtime: Handle,
        opts: RecorderOptions,
        local: LocalClock,
        sink: TransitionSink,
    ) -> Recorder {
        let (done_tx, done) = crossbeam_channel::unbounded();
        Recorder {
            ctx: Arc::new(Context { engine, opts, local, done: done_tx }),
            runtime,
            cameras: Mutex::new(HashMap::new()),
            sink,
            done,
        }
    }

    /// Starts recording schedule `id`, or applies its new version.
    pub fn set(&self, id: u64, spec: CameraSpec) {
        let mut cameras = self.cameras.lock();
        if let Some(e) = cameras.get(&id) {
            if e.shared.camera_id == spec.schedule.camera_id && e.mode == spec.schedule.mode {
                let unchanged = matches!(&*e.control.borrow(), Control::Run(old) if **old == spec);
                if !unchanged {
                    e.control.send_replace(Control::Run(Arc::new(spec)));
                }
                return;
            }
        }
        // A new camera identity or mode: a new task (its own gate, writer).
        if let Some(old) = cameras.remove(&id) {
            old.control.send_replace(Control::Stop);
        }
        let shared =
            Arc::new(Shared::new(id, spec.schedule.camera_id.clone(), spec.schedule.name.clone(), self.sink.clone()));
        let mode = spec.schedule.mode;
        let (control, control_rx) = watch::channel(Control::Run(Arc::new(spec)));
        let (events, events_rx) = mpsc::unbounded_channel();
        self.runtime.spawn(camera::run(id, self.ctx.clone(), shared.clone(), control_rx, events_rx));
        cameras.insert(id, Entry { control, events, shared, mode });
    }

    /// Stops recording schedule `id`. Returns at once: the camera's writer
    /// syncs what it has and ends in the background ([`Recorder::shutdown`]
    /// waits for that).
    pub fn remove(&self, id: u64) {
        if let Some(e) = self.cameras.lock().remove(&id) {
            e.control.send_replace(Control::Stop);
        }
    }

    /// The status of schedule `id`.
    pub fn status(&self, id: u64) -> Option<CameraStatus> {
        self.cameras.lock().get(&id).map(|e| e.shared.snapshot())
    }

    /// The ids of the schedules being run.
    pub fn ids(&self) -> Vec<u64> {
        self.cameras.lock().keys().copied().collect()
    }

    /// An event starts (`true`) or stops on schedule `id`.
    pub fn event(&self, id: u64, start: bool) -> Result<(), RecorderError> {
        let cameras = self.cameras.lock();
        let e = cameras.get(&id).ok_or(RecorderError::NotFound(id))?;
        if e.mode != RecordMode::Event {
            return Err(RecorderError::NotEventMode(id));
        }
        let _ = e.events.send(start);
        Ok(())
    }

    /// Stops every camera and waits (up to `limit`) for their writers to
    /// sync. Call from outside the runtime's threads.
    pub fn shutdown(&self, limit: Duration) {
        let entries: Vec<(u64, Entry)> = self.cameras.lock().drain().collect();
        for (_, e) in &entries {
            e.control.send_replace(Control::Stop);
        }
        let deadline = std::time::Instant::now() + limit;
        let mut left: std::collections::HashSet<u64> = entries.iter().map(|(id, _)| *id).collect();
        while !left.is_empty() {
            match self.done.recv_deadline(deadline) {
                Ok(id) => {
                    left.remove(&id);
                }
                Err(_) => {
                    tracing::warn!("{} camera(s) did not stop within {} s", left.len(), limit.as_secs());
                    return;
                }
            }
        }
    }
}
