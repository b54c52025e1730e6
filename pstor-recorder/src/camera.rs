//! A camera task: while its schedule is armed, keeps an RTSP session open
//! (reconnecting with backoff), stamps each frame by the timestamp rule,
//! passes it through the event gate and hands what records to the
//! camera's writer thread.

use crate::backoff::Backoff;
use crate::frame::Frame;
use crate::gate::Gate;
use crate::recorder::{CameraSpec, Context};
use crate::rtsp::{self, SourceEvent, StreamError};
use crate::status::{RateMeter, RecordingState};
use crate::timeline::{ClockSource, Timeline};
use crate::writer::{Target, WriterHandle};
use crate::Shared;
use bytes::Bytes;
use pstor_core::StreamKind;
use pstor_media::{AccessUnit, Codec};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// What the recorder tells a camera task.
#[derive(Debug, Clone)]
pub(crate) enum Control {
    /// Record by this spec.
    Run(Arc<CameraSpec>),
    /// Sync and end.
    Stop,
}

/// How often an armed session re-checks the weekly plan, and how often a
/// disarmed camera does.
const ARMING_CHECK: Duration = Duration::from_secs(1);

struct Session<'a> {
    ctx: &'a Context,
    shared: &'a Shared,
    spec: &'a CameraSpec,
    gate: &'a mut Gate,
    writer: &'a mut WriterHandle,
    events: &'a mut mpsc::UnboundedReceiver<bool>,
    last_ts: &'a mut Option<i64>,
    codec: Option<Codec>,
    timeline: Option<Timeline>,
    meter: RateMeter,
    first_frame: Option<Instant>,
    /// A key frame came in this session: frames before it (a session joins
    /// the camera's stream wherever it is, often mid-GOP) cannot be
    /// decoded, and are neither stored nor counted as dropped.
    keyed: bool,
    last_arming_check: Instant,
}

impl Session<'_> {
    fn on_event(&mut self, ev: SourceEvent) -> ControlFlow<()> {
        match ev {
            SourceEvent::Parameters { codec, config, width, height } => {
                self.codec = Some(codec);
                self.writer.config(codec.name(), config);
                self.shared.update(|s| {
                    s.codec = Some(codec.name().into());
                    s.width = Some(width);
                    s.height = Some(height);
                });
            }
            SourceEvent::SenderReport { elapsed, ntp_us, arrival_us } => {
                if let Some(t) = &mut self.timeline {
                    t.sender_report(elapsed, ntp_us, arrival_us);
                }
            }
            SourceEvent::Frame { elapsed, clock_rate, arrival_us, key: _, data, loss } => {
                return self.frame(elapsed, clock_rate, arrival_us, data, loss);
            }
        }
        ControlFlow::Continue(())
    }

    fn frame(&mut self, elapsed: i64, clock_rate: u32, arrival_us: i64, data: Vec<u8>, loss: u16) -> ControlFlow<()> {
        let now = Instant::now();
        let Some(codec) = self.codec else {
            self.shared.update(|s| s.frames_invalid += 1);
            return ControlFlow::Continue(());
        };
        // Our definition of a key frame (docs/media.md), and the stored
        // form checked before anything is written.
        let key = match AccessUnit::parse(codec, &data) {
            Ok(au) => au.is_key(),
            Err(e) => {
                self.shared.update(|s| s.frames_invalid += 1);
                tracing::debug!(camera = %self.spec.schedule.camera_id, "invalid frame: {e}");
                return ControlFlow::Continue(());
            }
        };
        if !key && !self.keyed {
            return ControlFlow::Continue(());
        }
        self.keyed = true;
        if loss > 0 {
            tracing::debug!(camera = %self.spec.schedule.camera_id, "{loss} RTP packets lost");
        }
        let opts = self.ctx.opts.timeline;
        let floor = *self.last_ts;
        let timeline = self.timeline.get_or_insert_with(|| Timeline::new(opts, clock_rate, floor));
        let ts = timeline.frame(elapsed, arrival_us);
        let clock = match timeline.source() {
            ClockSource::SenderReport => "sender_report",
            ClockSource::CameraClockOff(_) => "camera_clock_off",
            _ => "arrival",
        };
        *self.last_ts = Some(ts);
        if self.first_frame.is_none() {
            self.first_frame = Some(now);
            self.shared.set_state(RecordingState::Normal, None);
        }
        let len = data.len();
        let rates = self.meter.frame(len, now);
        while let Ok(start) = self.events.try_recv() {
            self.event(start);
        }
        if let Some(f) = self.gate.frame(Frame { ts, key, data: Bytes::from(data) }) {
            self.writer.frame(f, self.shared);
        }
        let (recording, event_active) = (self.gate.recording(), self.gate.event_active());
        self.shared.update(|s| {
            s.last_frame_at = Some(arrival_us);
            s.clock = Some(clock.into());
            s.recording = recording;
            s.event_active = event_active;
            if let Some((bps, fps)) = rates {
                s.bitrate_bps = bps;
                s.fps = fps;
            }
        });
        if now.duration_since(self.last_arming_check) >= ARMING_CHECK {
            self.last_arming_check = now;
            if !self.spec.schedule.armed_at((self.ctx.local)()) {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    fn event(&mut self, start: bool) {
        if start {
            for f in self.gate.event_start() {
                self.writer.frame(f, self.shared);
            }
        } else {
            self.gate.event_stop();
        }
    }
}

/// The newest stored time of the camera's stream, the floor of the first
/// session's timeline (after a restart, frames continue after it).
fn stored_floor(ctx: &Context, spec: &CameraSpec) -> Option<i64> {
    let s = &spec.schedule;
    let kind = match s.stream {
        crate::StreamChoice::Main => StreamKind::Main,
        crate::StreamChoice::Sub => StreamKind::Sub,
    };
    let id = ctx.engine.find_stream(&s.camera_id, s.channel, kind)?;
    ctx.engine.stream(id).ok()?.last_ts
}

/// Waits until `d` passed, the control changed (true) or stopped.
async fn pause(control: &mut watch::Receiver<Control>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        r = control.changed() => r.is_ok(),
    }
}

fn current(control: &watch::Receiver<Control>) -> Option<Arc<CameraSpec>> {
    match &*control.borrow() {
        Control::Run(spec) => Some(spec.clone()),
        Control::Stop => None,
    }
}

/// The task of schedule `id`.
pub(crate) async fn run(
    id: u64,
    ctx: Arc<Context>,
    shared: Arc<Shared>,
    mut control: watch::Receiver<Control>,
    mut events: mpsc::UnboundedReceiver<bool>,
) {
    let mut backoff = Backoff::default();
    let mut writer: Option<(Target, WriterHandle)> = None;
    let mut last_ts: Option<i64> = None;
    let mut gate: Option<Gate> = None;
    let mut sessions = 0u64;
    while let Some(spec) = current(&control) {
        control.mark_unchanged();
        let s = &spec.schedule;
        let armed = s.armed_at((ctx.local)());
        shared.update(|st| st.armed = armed);
        if !armed {
            if let Some((_, w)) = writer.take() {
                let _ = tokio::task::spawn_blocking(move || w.stop()).await;
            }
            let why = if s.enabled { "outside the weekly plan" } else { "recording is off" };
            shared.set_state(RecordingState::Disarmed, Some(why.into()));
            sessions = 0;
            while events.try_recv().is_ok() {}
            pause(&mut control, ARMING_CHECK).await;
            continue;
        }
        if shared.snapshot().state == RecordingState::Disarmed {
            shared.set_state(RecordingState::Starting, None);
        }
        let url = match s.rtsp_url() {
            Ok(u) => u,
            Err(e) => {
                shared.set_state(RecordingState::StreamingError, Some(e.to_string()));
                pause(&mut control, Duration::from_secs(3600)).await;
                continue;
            }
        };
        let no_credentials = spec.credentials.is_none();
        if let Some(why) = &spec.credentials_error {
            shared.set_state(RecordingState::StreamingError, Some(why.clone()));
            pause(&mut control, Duration::from_secs(3600)).await;
            continue;
        }
        if spec.require_credentials && no_credentials {
            shared.set_state(
                RecordingState::StreamingError,
                Some("stream certification is on: the camera must be reached with a user name and password".into()),
            );
            pause(&mut control, Duration::from_secs(3600)).await;
            continue;
        }
        let target = Target { camera_id: s.camera_id.clone(), channel: s.channel, stream: s.stream, pool: s.pool };
        if writer
            .as_ref()
            .is_some_and(|(t, _)| t.pool != target.pool || t.stream != target.stream || t.channel != target.channel)
        {
            if let Some((_, w)) = writer.take() {
                let _ = tokio::task::spawn_blocking(move || w.stop()).await;
            }
            last_ts = None;
        }
        if writer.is_none() {
            last_ts = last_ts.max(stored_floor(&ctx, &spec));
            let w = WriterHandle::start(
                ctx.engine.clone(),
                target.clone(),
                shared.clone(),
                ctx.opts.frame_queue,
                ctx.opts.sync_every,
            );
            writer = Some((target, w));
        }
        let gate = gate.get_or_insert_with(|| {
            Gate::new(s.mode, s.pre_record_secs, s.post_record_secs, ctx.opts.prerecord_max_bytes)
        });
        gate.new_session();
        let Some((_, w)) = writer.as_mut() else { continue };
        let mut session = Session {
            ctx: &ctx,
            shared: &shared,
            spec: &spec,
            gate,
            writer: w,
            events: &mut events,
            last_ts: &mut last_ts,
            codec: None,
            timeline: None,
            meter: RateMeter::default(),
            first_frame: None,
            keyed: false,
            last_arming_check: Instant::now(),
        };
        sessions += 1;
        if sessions > 1 {
            shared.update(|st| st.reconnects += 1);
        }
        let result = {
            let run = rtsp::run_session(&url, spec.credentials.as_ref(), &ctx.opts.session, |ev| session.on_event(ev));
            tokio::select! {
                r = run => Some(r),
                _ = control.changed() => None,
            }
        };
        let lasted = session.first_frame.map_or(Duration::ZERO, |t| t.elapsed());
        match result {
            // The control changed (new spec or stop), or the plan disarmed.
            None | Some(Ok(())) => continue,
            Some(Err(e)) => {
                let e: StreamError = e;
                shared.set_state(RecordingState::StreamingError, Some(e.to_string()));
                let delay = backoff.after_failure(lasted, rand::random());
                pause(&mut control, delay).await;
            }
        }
    }
    if let Some((_, w)) = writer.take() {
        let _ = tokio::task::spawn_blocking(move || w.stop()).await;
    }
    let _ = ctx.done.send(id);
}
