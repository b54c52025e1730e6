//! Python objects over long-running or streaming engine work: a space job
//! (initialize / restore), a frame reader (range reads) and an event
//! subscription. Each waits with the GIL released.

use crate::errors::IntoPyResult;
use crate::types::{Event, Frame};
use parking_lot::Mutex;
use pstor_client::{Backend, FrameStream, SpaceJobHandle};
use pstor_core::ErrorCode;
use pyo3::exceptions::PyTimeoutError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often waits wake to run a progress callback and to let Ctrl-C through.
const POLL: Duration = Duration::from_millis(20);

/// A running space initialization or restore. `progress` (0..=100),
/// `cancel()`, `done`, and `wait()` (which returns the space id or raises,
/// e.g. `Cancelled`). Every method may be called from any thread.
#[pyclass(frozen, module = "pstor")]
pub struct SpaceJob {
    space: u32,
    job: Mutex<Option<Box<dyn SpaceJobHandle>>>,
    /// Progress once the job was joined (100 on success).
    last_progress: AtomicU8,
    outcome: Mutex<Option<PyResult<u32>>>,
}

impl SpaceJob {
    /// Wraps a backend's job.
    pub fn new(job: Box<dyn SpaceJobHandle>) -> Self {
        SpaceJob {
            space: job.space().0,
            job: Mutex::new(Some(job)),
            last_progress: AtomicU8::new(0),
            outcome: Mutex::new(None),
        }
    }

    fn finished(&self) -> bool {
        self.job.lock().as_ref().is_none_or(|j| j.is_finished())
    }
}

#[pymethods]
impl SpaceJob {
    /// The id of the space being initialized or restored.
    #[getter]
    fn space_id(&self) -> u32 {
        self.space
    }

    /// Progress in percent (100 once it finished successfully).
    #[getter]
    fn progress(&self) -> u8 {
        match &*self.job.lock() {
            Some(j) => j.progress(),
            None => self.last_progress.load(Ordering::Relaxed),
        }
    }

    /// Whether the job has finished (successfully or not).
    #[getter]
    fn done(&self) -> bool {
        self.finished()
    }

    /// Asks the job to stop; `wait()` then raises `Cancelled`.
    fn cancel(&self) {
        if let Some(j) = &*self.job.lock() {
            j.cancel();
        }
    }

    /// Waits for the job (GIL released) and returns the space id. Calls
    /// `progress(percent)` about every 20 ms while waiting, if given. Raises
    /// the job's error (e.g. `Cancelled`), or `TimeoutError` after `timeout`
    /// seconds (the job goes on; wait again or cancel it). May be called again.
    #[pyo3(signature = (timeout=None, progress=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>, progress: Option<Bound<'_, PyAny>>) -> PyResult<u32> {
        if let Some(done) = &*self.outcome.lock() {
            return done.as_ref().map(|s| *s).map_err(|e| e.clone_ref(py));
        }
        let deadline = match timeout {
            Some(t) if !t.is_finite() || t < 0.0 => {
                return Err(crate::errors::invalid(py, "timeout must be a finite number of seconds >= 0"))
            }
            Some(t) => Some(Instant::now() + Duration::from_secs_f64(t.min(1e9))),
            None => None,
        };
        let mut last = None;
        loop {
            let pct = self.progress();
            if let Some(cb) = &progress {
                if last != Some(pct) {
                    cb.call1((pct,))?;
                    last = Some(pct);
                }
            }
            if py.detach(|| self.finished()) {
                break;
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(PyTimeoutError::new_err(format!("space job {} still running", self.space)));
            }
            py.detach(|| std::thread::sleep(POLL));
        }
        // Only one caller joins the job thread; others wait for its outcome.
        // No lock is held while the GIL is released or taken back.
        let job = self.job.lock().take();
        if let Some(j) = job {
            self.last_progress.store(j.progress(), Ordering::Relaxed);
            let r = py.detach(|| j.wait()).map(|s| s.0).py_err(py);
            if r.is_ok() {
                self.last_progress.store(100, Ordering::Relaxed);
            }
            *self.outcome.lock() = Some(r);
        }
        let r = loop {
            if let Some(r) = &*self.outcome.lock() {
                break r.as_ref().map(|s| *s).map_err(|e| e.clone_ref(py));
            }
            py.detach(|| std::thread::sleep(Duration::from_millis(1)));
        };
        if let (Some(cb), Ok(_)) = (&progress, &r) {
            if last != Some(100) {
                cb.call1((100u8,))?;
            }
        }
        r
    }

    fn __repr__(&self) -> String {
        format!("SpaceJob(space_id={}, progress={}, done={})", self.space, self.progress(), self.finished())
    }
}

/// The frames of a time range, read lazily: iterate it (each step that reads
/// the disk releases the GIL). Yields `Frame` objects.
#[pyclass(frozen, module = "pstor")]
pub struct FrameReader {
    iter: Mutex<FrameStream>,
}

impl FrameReader {
    /// Wraps a backend's frame stream.
    pub fn new(iter: FrameStream) -> Self {
        FrameReader { iter: Mutex::new(iter) }
    }
}

#[pymethods]
impl FrameReader {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Frame>> {
        match py.detach(|| self.iter.lock().next()) {
            None => Ok(None),
            Some(Err(e)) => Err(crate::errors::to_py(py, e)),
            Some(Ok(f)) => Ok(Some(Frame { ts: f.ts, key: f.key, data: PyBytes::new(py, &f.data).unbind() })),
        }
    }
}

/// A subscription to the engine's events from now on: iterate it (blocks
/// until the next event, GIL released), or call `get(timeout)`. It polls the
/// backend by sequence number (a long poll in remote mode); a reader that
/// falls more than the engine's ring (4096 events) behind loses the oldest
/// (the engine never waits for it). It does not keep the engine alive: once
/// the engine is closed or gone, it ends.
#[pyclass(frozen, module = "pstor")]
pub struct EventSubscription {
    backend: Weak<dyn Backend>,
    state: Mutex<Subscribed>,
}

/// What a subscription has fetched and not handed out yet.
struct Subscribed {
    /// The `seq` of the last event fetched.
    after: u64,
    queue: VecDeque<pstor_core::Event>,
}

/// Events fetched per poll.
const EVENT_BATCH: usize = 256;

impl EventSubscription {
    /// Subscribes to the events with `seq > after` (the newest when subscribing).
    pub fn new(backend: &Arc<dyn Backend>, after: u64) -> Self {
        EventSubscription {
            backend: Arc::downgrade(backend),
            state: Mutex::new(Subscribed { after, queue: VecDeque::new() }),
        }
    }

    fn next_within(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<Option<Event>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(ev) = self.state.lock().queue.pop_front() {
                return Event::new(py, ev).map(Some);
            }
            let Some(backend) = self.backend.upgrade() else { return Ok(None) };
            let step = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()).min(POLL * 5),
                None => POLL * 5,
            };
            let after = self.state.lock().after;
            // No lock is held while the GIL is released: another thread may
            // poll the same subscription meanwhile; `after` drops repeats.
            match py.detach(|| backend.poll_events(after, EVENT_BATCH, step)) {
                Ok(events) => {
                    let mut st = self.state.lock();
                    for ev in events {
                        if ev.seq > st.after {
                            st.after = ev.seq;
                            st.queue.push_back(ev);
                        }
                    }
                    if !st.queue.is_empty() {
                        continue;
                    }
                }
                Err(e) if e.code() == ErrorCode::Closed => return Ok(None),
                Err(e) => return Err(crate::errors::to_py(py, e)),
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }
}

#[pymethods]
impl EventSubscription {
    /// The next event, waiting at most `timeout` seconds (None: until one
    /// comes); None if none came in time or the engine is closed or gone.
    #[pyo3(signature = (timeout=None))]
    fn get(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Event>> {
        let t = match timeout {
            Some(t) if !t.is_finite() || t < 0.0 => {
                return Err(crate::errors::invalid(py, "timeout must be a finite number of seconds >= 0"))
            }
            Some(t) => Some(Duration::from_secs_f64(t.min(1e9))),
            None => None,
        };
        self.next_within(py, t)
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Event>> {
        self.next_within(py, None)
    }
}
