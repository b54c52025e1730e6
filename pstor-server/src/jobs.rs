//! Space jobs (initialize, restore) started over the SDK: kept by id so a
//! client can ask for progress and the outcome, from any connection.

use pstor_core::{Error, SpaceId, SpaceJob};
use pstor_proto::{ErrorReply, JobStatus};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// How many jobs are remembered; past it the oldest finished (else the
/// oldest) is forgotten. A forgotten running job keeps running.
pub const MAX_JOBS: usize = 64;

#[derive(Debug)]
struct Entry {
    space: SpaceId,
    job: Option<SpaceJob>,
    outcome: Option<Option<ErrorReply>>,
}

/// The job table.
#[derive(Debug, Default)]
pub struct Jobs {
    inner: Mutex<(u64, BTreeMap<u64, Entry>)>,
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, BTreeMap<u64, Entry>)> {
        // A panic while holding it left plain data: keep using it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a job; its id.
    pub fn add(&self, job: SpaceJob) -> u64 {
        let mut g = self.lock();
        g.0 += 1;
        let id = g.0;
        if g.1.len() >= MAX_JOBS {
            let victim = g.1.iter().find(|(_, e)| e.outcome.is_some()).map(|(k, _)| *k);
            if let Some(k) = victim.or_else(|| g.1.keys().next().copied()) {
                g.1.remove(&k);
            }
        }
        g.1.insert(id, Entry { space: job.space, job: Some(job), outcome: None });
        id
    }

    /// A job's state.
    pub fn status(&self, id: u64) -> Result<JobStatus, Error> {
        let mut g = self.lock();
        let e = g.1.get_mut(&id).ok_or_else(|| unknown(id))?;
        let mut progress = 100;
        if let Some(job) = &e.job {
            if job.is_finished() {
                let outcome = e.job.take().map(SpaceJob::wait);
                e.outcome = Some(match outcome {
                    Some(Err(err)) => Some(ErrorReply::from_error(&err)),
                    _ => None,
                });
            } else {
                progress = job.progress();
            }
        }
        Ok(JobStatus {
            job: id,
            space: e.space,
            progress,
            finished: e.outcome.is_some(),
            error: e.outcome.clone().flatten(),
        })
    }

    /// Asks a job to stop.
    pub fn cancel(&self, id: u64) -> Result<(), Error> {
        let g = self.lock();
        let e = g.1.get(&id).ok_or_else(|| unknown(id))?;
        if let Some(job) = &e.job {
            job.cancel();
        }
        Ok(())
    }
}

fn unknown(id: u64) -> Error {
    Error::InvalidArgument(format!("no space job {id} (finished jobs are forgotten after {MAX_JOBS} newer ones)"))
}
