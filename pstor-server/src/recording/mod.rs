//! The recording service (manual 3.6.1, 3.8.3, 3.8.4): the recording
//! schedules stored in the metadata database, run by a
//! [`pstor_recorder::Recorder`] on the server's runtime; their statuses,
//! events and transitions (into the system log). The REST face is
//! `manage::api::schedules`; the RTSP work is the recorder crate's.

mod sdk;
pub mod secrets;
pub(crate) use sdk::answer as answer_sdk;

use crate::local_time::LocalTime;
use crate::manage::api::{Features, FEATURES_SETTING};
use crate::meta::schedules::ScheduleRow;
use crate::meta::{MetaDb, MetaError};
use parking_lot::Mutex;
use pstor_core::{Engine, PoolId};
use pstor_recorder::{
    CameraSpec, CameraStatus, Credentials, LocalClock, RecordMode, Recorder, RecorderError, RecorderOptions, Schedule,
    ScheduleError, Transition, TransitionSink, WeekMinute,
};
use secrets::Secrets;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A schedule as the API shows it: never its password.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleView {
    /// Its id.
    pub id: i64,
    /// What it says.
    #[serde(flatten)]
    pub schedule: Schedule,
    /// A camera password is stored (sealed).
    pub has_password: bool,
    /// The RTSP URL recorded from (the template filled in).
    pub rtsp_url: String,
    /// Created, µs UTC.
    pub created_at: i64,
    /// Last changed, µs UTC.
    pub updated_at: i64,
    /// How its recording goes (none while the recorder has not started it).
    pub status: Option<CameraStatus>,
}

/// What a schedule call can refuse.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// No such schedule.
    #[error("recording schedule {0} does not exist")]
    NotFound(i64),
    /// A field is wrong.
    #[error("invalid recording schedule: {0}")]
    Invalid(#[from] ScheduleError),
    /// The body does not describe a schedule.
    #[error("the body does not fit a recording schedule: {0}")]
    Body(String),
    /// The pool does not exist or does not take video.
    #[error(transparent)]
    Engine(#[from] pstor_core::Error),
    /// Another schedule records the same camera stream.
    #[error("recording schedule {other} already records camera {camera_id} channel {channel} ({stream} stream)")]
    Duplicate {
        /// The other schedule.
        other: i64,
        /// Camera.
        camera_id: String,
        /// Channel.
        channel: u32,
        /// main / sub.
        stream: &'static str,
    },
    /// The channel limit of the license settings is reached.
    #[error(
        "the channel limit is {limit} and {enabled} schedules record already: raise the limit (settings/features) or turn a schedule off"
    )]
    ChannelLimit {
        /// The limit.
        limit: u32,
        /// Enabled schedules without this one.
        enabled: u32,
    },
    /// An event for a schedule that does not take one.
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    /// The metadata database failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// The service.
pub struct Recording {
    recorder: Recorder,
    db: Arc<MetaDb>,
    engine: Engine,
    secrets: Secrets,
    /// Create, update and delete one at a time: the channel-limit and
    /// duplicate checks see what the write changes.
    edits: Mutex<()>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording").field("recorder", &self.recorder).finish_non_exhaustive()
    }
}

/// Local time for the weekly plans, re-read from the settings every ten
/// seconds (a time zone change takes effect that soon).
fn local_clock(db: Arc<MetaDb>, fixed_minutes: i32) -> LocalClock {
    let cached: Mutex<Option<(Instant, LocalTime)>> = Mutex::new(None);
    Arc::new(move || {
        let mut c = cached.lock();
        if c.as_ref().is_none_or(|(at, _)| at.elapsed() > Duration::from_secs(10)) {
            let lt = LocalTime::configured(&db, fixed_minutes).unwrap_or(LocalTime::Fixed(fixed_minutes));
            *c = Some((Instant::now(), lt));
        }
        let (weekday, minute) = c.as_ref().map_or((0, 0), |(_, lt)| lt.week_minute(crate::meta::now_us()));
        WeekMinute { weekday, minute }
    })
}

/// Transitions go into the engine's event feed: the event watch writes
/// them to the system log (off the camera tasks: SQLite blocks) and SDK
/// clients poll them (`poll_all_events`).
fn event_sink(engine: Engine) -> TransitionSink {
    Arc::new(move |t: Transition| {
        let camera = if t.name.is_empty() { t.camera_id.clone() } else { format!("{} ({})", t.name, t.camera_id) };
        let reason = t.reason.unwrap_or_default();
        engine.report_camera_status(t.schedule_id, &camera, t.from.name(), t.to.name(), &reason);
    })
}

fn stream_name(s: &Schedule) -> &'static str {
    match s.stream {
        pstor_recorder::StreamChoice::Main => "main",
        pstor_recorder::StreamChoice::Sub => "sub",
    }
}

impl Recording {
    /// Starts the recorder on `runtime` with every stored schedule.
    pub fn start(
        engine: Engine,
        runtime: tokio::runtime::Handle,
        db: Arc<MetaDb>,
        data_dir: &Path,
        options: RecorderOptions,
    ) -> Result<Arc<Recording>, crate::error::ServerError> {
        let secrets = Secrets::open(data_dir)?;
        let clock = local_clock(Arc::clone(&db), engine.options().utc_offset_minutes);
        let recorder = Recorder::new(engine.clone(), runtime, options, clock, event_sink(engine.clone()));
        let rec = Arc::new(Recording { recorder, db, engine, secrets, edits: Mutex::new(()) });
        rec.apply_all()?;
        Ok(rec)
    }

    fn features(&self) -> Result<Features, MetaError> {
        self.db.setting::<Features>(FEATURES_SETTING)
    }

    /// Hands every stored schedule to the recorder again (after the
    /// features changed: stream certification).
    pub fn apply_all(&self) -> Result<(), MetaError> {
        let features = self.features()?;
        for row in self.db.schedules()? {
            match serde_json::from_str::<Schedule>(&row.spec) {
                Ok(s) => self.apply(&row, s, &features),
                Err(e) => tracing::error!(schedule = row.id, "stored schedule unreadable, not recorded: {e}"),
            }
        }
        Ok(())
    }

    fn apply(&self, row: &ScheduleRow, schedule: Schedule, features: &Features) {
        let (credentials, credentials_error) = match (&schedule.username, &row.secret) {
            (Some(user), Some(sealed)) => match self.secrets.open_sealed(sealed) {
                Ok(password) => (Some(Credentials { username: user.clone(), password }), None),
                Err(e) => (None, Some(e)),
            },
            (Some(user), None) => (Some(Credentials { username: user.clone(), password: String::new() }), None),
            (None, _) => (None, None),
        };
        let spec =
            CameraSpec { schedule, credentials, credentials_error, require_credentials: features.stream_certification };
        self.recorder.set(row.id as u64, spec);
    }

    fn view(&self, row: ScheduleRow) -> Result<ScheduleView, RecordingError> {
        let schedule: Schedule = serde_json::from_str(&row.spec).map_err(|e| RecordingError::Body(e.to_string()))?;
        let rtsp_url = schedule.rtsp_url().map(|u| u.to_string()).unwrap_or_default();
        Ok(ScheduleView {
            id: row.id,
            has_password: row.secret.is_some(),
            rtsp_url,
            created_at: row.created_at,
            updated_at: row.updated_at,
            status: self.recorder.status(row.id as u64),
            schedule,
        })
    }

    /// Every schedule whose camera name, camera id or IP address contains
    /// `search` (ignoring case), by id.
    pub fn list(&self, search: Option<&str>) -> Result<Vec<ScheduleView>, RecordingError> {
        let needle = search.map(str::to_lowercase);
        let mut out = Vec::new();
        for row in self.db.schedules()? {
            let v = self.view(row)?;
            let hit = needle.as_deref().is_none_or(|n| {
                [&v.schedule.name, &v.schedule.camera_id, &v.schedule.ip].iter().any(|f| f.to_lowercase().contains(n))
            });
            if hit {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// One schedule.
    pub fn one(&self, id: i64) -> Result<ScheduleView, RecordingError> {
        let row = self.db.schedule(id)?.ok_or(RecordingError::NotFound(id))?;
        self.view(row)
    }

    /// Splits a request body into the schedule and the password change:
    /// `None` keep, `Some(None)` remove, `Some(Some(p))` set.
    fn parse(body: serde_json::Value) -> Result<(Schedule, Option<Option<String>>), RecordingError> {
        let serde_json::Value::Object(mut map) = body else {
            return Err(RecordingError::Body("the body must be a JSON object".into()));
        };
        let password = match map.remove("password") {
            None => None,
            Some(serde_json::Value::Null) => Some(None),
            Some(serde_json::Value::String(p)) if !p.is_empty() && p.len() <= 128 => Some(Some(p)),
            Some(_) => return Err(RecordingError::Body("password: a string of 1 to 128 characters, or null".into())),
        };
        let schedule: Schedule =
            serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| RecordingError::Body(e.to_string()))?;
        schedule.validate()?;
        Ok((schedule, password))
    }

    /// The checks against the other schedules and the engine.
    fn check(&self, id: Option<i64>, s: &Schedule, features: &Features) -> Result<(), RecordingError> {
        let pool = self.engine.pool(PoolId(s.pool))?;
        if !pool.config.kind.accepts_video() {
            return Err(pstor_core::Error::WrongPoolKind { pool: pool.config.id, kind: pool.config.kind }.into());
        }
        let mut enabled = 0u32;
        for row in self.db.schedules()? {
            if Some(row.id) == id {
                continue;
            }
            let Ok(other) = serde_json::from_str::<Schedule>(&row.spec) else { continue };
            if other.camera_id == s.camera_id && other.channel == s.channel && other.stream == s.stream {
                return Err(RecordingError::Duplicate {
                    other: row.id,
                    camera_id: s.camera_id.clone(),
                    channel: s.channel,
                    stream: stream_name(s),
                });
            }
            enabled += u32::from(other.enabled);
        }
        if let Some(limit) = features.channel_limit {
            if s.enabled && enabled >= limit {
                return Err(RecordingError::ChannelLimit { limit, enabled });
            }
        }
        Ok(())
    }

    /// Stores and starts a new schedule.
    pub fn create(&self, body: serde_json::Value) -> Result<ScheduleView, RecordingError> {
        let (schedule, password) = Self::parse(body)?;
        let _edit = self.edits.lock();
        let features = self.features()?;
        self.check(None, &schedule, &features)?;
        let sealed = password.flatten().map(|p| self.secrets.seal(&p));
        let spec = serde_json::to_string(&schedule).map_err(|e| RecordingError::Body(e.to_string()))?;
        let id = self.db.insert_schedule(&spec, sealed.as_deref())?;
        let row = self.db.schedule(id)?.ok_or(RecordingError::NotFound(id))?;
        self.apply(&row, schedule, &features);
        self.view(row)
    }

    /// Replaces a schedule (the password kept unless the body sets or
    /// clears it) and applies it.
    pub fn update(&self, id: i64, body: serde_json::Value) -> Result<ScheduleView, RecordingError> {
        let (schedule, password) = Self::parse(body)?;
        let _edit = self.edits.lock();
        let old = self.db.schedule(id)?.ok_or(RecordingError::NotFound(id))?;
        let features = self.features()?;
        self.check(Some(id), &schedule, &features)?;
        let sealed = match password {
            None => old.secret,
            Some(None) => None,
            Some(Some(p)) => Some(self.secrets.seal(&p)),
        };
        let spec = serde_json::to_string(&schedule).map_err(|e| RecordingError::Body(e.to_string()))?;
        if !self.db.update_schedule(id, &spec, sealed.as_deref())? {
            return Err(RecordingError::NotFound(id));
        }
        let row = self.db.schedule(id)?.ok_or(RecordingError::NotFound(id))?;
        self.apply(&row, schedule, &features);
        self.view(row)
    }

    /// Stops and forgets a schedule (what it recorded stays); the schedule
    /// it was.
    pub fn delete(&self, id: i64) -> Result<Schedule, RecordingError> {
        let _edit = self.edits.lock();
        let row = self.db.schedule(id)?.ok_or(RecordingError::NotFound(id))?;
        self.db.delete_schedule(id)?;
        self.recorder.remove(id as u64);
        serde_json::from_str(&row.spec).map_err(|e| RecordingError::Body(e.to_string()))
    }

    /// An event starts or stops on an event-mode schedule.
    pub fn event(&self, id: i64, start: bool) -> Result<ScheduleView, RecordingError> {
        let view = self.one(id)?;
        if view.schedule.mode != RecordMode::Event {
            return Err(RecorderError::NotEventMode(id as u64).into());
        }
        self.recorder.event(id as u64, start)?;
        Ok(view)
    }

    /// (schedules, enabled schedules, distinct cameras).
    pub fn counts(&self) -> Result<(usize, usize, usize), RecordingError> {
        let all: Vec<Schedule> =
            self.db.schedules()?.iter().filter_map(|r| serde_json::from_str::<Schedule>(&r.spec).ok()).collect();
        let cameras: std::collections::BTreeSet<&str> = all.iter().map(|s| s.camera_id.as_str()).collect();
        Ok((all.len(), all.iter().filter(|s| s.enabled).count(), cameras.len()))
    }

    /// Enabled schedules (what the channel limit counts).
    pub fn enabled(&self) -> Result<u32, RecordingError> {
        Ok(self.counts()?.1 as u32)
    }

    /// Stops every camera, their writers syncing what they wrote. Call from
    /// outside the runtime.
    pub fn shutdown(&self) {
        self.recorder.shutdown(Duration::from_secs(10));
    }
}
