//! Space jobs (initialize, restore) running on the server, followed by
//! polling their status.

use super::Inner;
use crate::SpaceJobHandle;
use pstor_core::{Result, SpaceId};
use pstor_proto::{JobStatus, Reply, Request};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often [`SpaceJobHandle::wait`] asks the server.
pub const JOB_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A space job on the server.
#[derive(Debug)]
pub(crate) struct RemoteJob {
    inner: Arc<Inner>,
    job: u64,
    space: SpaceId,
    /// The last progress seen (reported when the server cannot be asked).
    last: Mutex<u8>,
}

impl RemoteJob {
    pub fn new(inner: Arc<Inner>, job: u64, space: SpaceId) -> RemoteJob {
        RemoteJob { inner, job, space, last: Mutex::new(0) }
    }

    fn status(&self) -> Result<JobStatus> {
        match self.inner.call(&Request::JobStatus { job: self.job })? {
            Reply::JobStatus { status } => {
                *self.last.lock().unwrap_or_else(|p| p.into_inner()) = status.progress;
                Ok(status)
            }
            other => Err(super::unexpected(&other)),
        }
    }
}

impl SpaceJobHandle for RemoteJob {
    fn space(&self) -> SpaceId {
        self.space
    }

    /// Asks the server (one round trip); the last progress seen if it
    /// cannot be asked.
    fn progress(&self) -> u8 {
        match self.status() {
            Ok(s) => s.progress,
            Err(_) => *self.last.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Asks the server to stop the job (errors are ignored: `wait` reports
    /// the outcome).
    fn cancel(&self) {
        let _ = self.inner.call(&Request::CancelJob { job: self.job });
    }

    /// Asks the server (one round trip). `true` also when the server cannot
    /// be asked, so that a polling loop ends and `wait` reports why.
    fn is_finished(&self) -> bool {
        self.status().map_or(true, |s| s.finished)
    }

    fn wait(self: Box<Self>) -> Result<SpaceId> {
        loop {
            let s = self.status()?;
            if s.finished {
                return match s.error {
                    Some(e) => Err(e.into_error()),
                    None => Ok(self.space),
                };
            }
            std::thread::sleep(JOB_POLL_INTERVAL);
        }
    }
}
