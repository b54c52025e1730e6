//! pstor's recorder: pulls live H.264/H.265 streams from IP cameras over
//! RTSP (through retina) and records them into the engine according to
//! recording schedules (manual 3.6.1).
//!
//! Each schedule gets a camera task on the server's async runtime (the
//! RTSP session, the timestamp rule of [`timeline`], the event [`gate`]
//! with its pre-record buffer) and a writer thread of its own
//! ([`writer`]: the engine's appends and syncs block). A failing camera
//! only ever changes its own status; the others go on.
//!
//! Media-independent logic lives in pure modules with their own tests
//! (`schedule`, `timeline`, `prerecord`, `gate`, `backoff`, `status`);
//! `rtsp` is the only one that talks to a camera. `docs/recording.md` is
//! the operator's view.

pub mod backoff;
mod camera;
pub mod frame;
pub mod gate;
pub mod prerecord;
mod recorder;
pub mod rtsp;
pub mod schedule;
pub mod status;
pub mod timeline;
pub mod writer;

pub use recorder::{CameraSpec, LocalClock, Recorder, RecorderError, RecorderOptions, Transition, TransitionSink};
pub use schedule::{Credentials, RecordMode, Schedule, ScheduleError, StreamChoice, WeekMinute};
pub use status::{CameraStatus, RecordingState};

use parking_lot::Mutex;

/// What a camera task, its writer and the API share: the status, and where
/// its transitions go.
pub struct Shared {
    schedule_id: u64,
    camera_id: String,
    name: String,
    status: Mutex<CameraStatus>,
    sink: TransitionSink,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("schedule_id", &self.schedule_id).field("status", &*self.status.lock()).finish()
    }
}

impl Shared {
    fn new(schedule_id: u64, camera_id: String, name: String, sink: TransitionSink) -> Shared {
        Shared {
            schedule_id,
            camera_id,
            name,
            status: Mutex::new(CameraStatus::new(RecordingState::Starting, rtsp::now_us())),
            sink,
        }
    }

    /// Changes counters and fields (not the state).
    pub fn update(&self, f: impl FnOnce(&mut CameraStatus)) {
        f(&mut self.status.lock());
    }

    /// A copy of the status.
    pub fn snapshot(&self) -> CameraStatus {
        self.status.lock().clone()
    }

    /// Enters `state` for `reason`; a change of state (or of an error's
    /// reason) is a transition, reported to the sink.
    pub fn set_state(&self, state: RecordingState, reason: Option<String>) {
        let from = {
            let mut s = self.status.lock();
            if s.state == state && s.reason == reason {
                return;
            }
            let from = s.state;
            s.state = state;
            s.reason = reason.clone();
            if from != state {
                s.since = rtsp::now_us();
            }
            from
        };
        (self.sink)(Transition {
            schedule_id: self.schedule_id,
            camera_id: self.camera_id.clone(),
            name: self.name.clone(),
            from,
            to: state,
            reason,
        });
    }

    /// Back to Normal if the state is `from` (the failure it stood for
    /// is over).
    pub fn recovered(&self, from: RecordingState) {
        if self.status.lock().state == from {
            self.set_state(RecordingState::Normal, None);
        }
    }
}
