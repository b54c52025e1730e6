//! Executing one request against the engine and producing its answer
//! frames. Runs on a connection's executor thread (engine calls block: disk
//! I/O, fsync waits, long polls), never on the async runtime.

use crate::events::EventWatch;
use crate::jobs::Jobs;
use bytes::Bytes;
use pstor_core::*;
use pstor_proto::limits::{MAX_EVENTS_PER_POLL, MAX_EVENT_WAIT_MS, MAX_PAGE};
use pstor_proto::message::{encode_stream_item, FRAME_OVERHEAD};
use pstor_proto::wire::to_body;
use pstor_proto::{op, ErrorReply, ProtoError, Reply, Request, StreamEnd};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What every connection's executor shares.
#[derive(Debug)]
pub struct Context {
    /// The engine.
    pub engine: Engine,
    /// Space jobs started over the SDK.
    pub jobs: Jobs,
    /// The event long poll.
    pub events: EventWatch,
    /// Largest body sent.
    pub max_body: u32,
    /// Size a range read aims for per item.
    pub read_batch: usize,
    /// Set when a graceful shutdown begins: range reads stop.
    pub stopping: AtomicBool,
    /// Requests being executed now, over all connections.
    pub in_progress: AtomicUsize,
    /// Counters for /metrics.
    pub metrics: crate::metrics::ServerMetrics,
    /// The recording schedules and their recorder.
    pub recording: Arc<crate::recording::Recording>,
}

/// What a connection's executor keeps between requests.
#[derive(Debug, Default)]
pub struct Session {
    /// Streams with a failed append on this connection, and the failure:
    /// their appends, flushes and syncs are refused until `resume_stream`.
    /// A client pipelines batches, so those behind a refused one are
    /// already on their way; appending them would leave a hole followed
    /// by later frames (the prefix property, docs/design.md), which the
    /// client could only learn of after the fact.
    refused: HashMap<StreamId, (ErrorCode, String)>,
}

impl Session {
    /// Refuses a request on any of `streams` that has a failed append.
    fn admit(&self, streams: &[StreamId]) -> Result<()> {
        match streams.iter().find_map(|s| self.refused.get(s).map(|r| (s, r))) {
            None => Ok(()),
            Some((s, (code, why))) => Err(remote(
                *code,
                format!(
                    "stream {s}: an earlier append on this connection failed ({why}); \
                     nothing of the stream is taken until the client resumes it"
                ),
            )),
        }
    }

    /// Remembers a failed append of `stream`.
    fn refuse(&mut self, stream: StreamId, e: &Error) {
        self.refused.entry(stream).or_insert_with(|| (e.code(), e.to_string()));
    }
}

/// Where answer frames go; `false` when the connection is gone.
pub type Sink<'a> = &'a mut dyn FnMut(Bytes) -> bool;

/// A request ready for the executor: an append's frames come with their
/// CRCs, computed by [`Prepared::new`] on the thread that received them,
/// while their bytes are in that core's cache (the engine then makes the
/// record's checksum without reading them again).
pub struct Prepared {
    req: Request,
    sums: Vec<Checksummed>,
}

impl Prepared {
    /// Hashes an append's frames; other requests pass as they are.
    pub fn new(req: Request) -> Prepared {
        let sums = match &req {
            Request::Append { frames, .. } => frames.iter().map(|f| Checksummed::new(f.data.clone())).collect(),
            _ => Vec::new(),
        };
        Prepared { req, sums }
    }

    /// Its operation number.
    pub fn op(&self) -> u16 {
        self.req.op()
    }
}

/// Executes one request and sends its answer frames (reply, error, or a
/// range read's items and end). Returns false if the connection is gone.
pub fn execute(ctx: &Context, session: &mut Session, id: u32, req: Prepared, send: Sink<'_>) -> bool {
    ctx.in_progress.fetch_add(1, Ordering::SeqCst);
    let ok = execute_one(ctx, session, id, req, send);
    ctx.in_progress.fetch_sub(1, Ordering::SeqCst);
    ok
}

fn execute_one(
    ctx: &Context,
    session: &mut Session,
    id: u32,
    Prepared { req, sums }: Prepared,
    send: Sink<'_>,
) -> bool {
    let op = req.op();
    if let Request::ReadRange { stream, start, end } = req {
        return read_range(ctx, id, stream, start, end, send);
    }
    // The engine never panics on bad input by design; should it, this
    // request fails with PSTOR_PANIC and the connection and server go on.
    let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| answer(ctx, session, req, sums)))
        .unwrap_or_else(|_| Err(remote(ErrorCode::Panic, "internal error: the request panicked (please report it)")));
    let frame = match answer {
        Ok(reply) => match reply.to_frame(id, ctx.max_body) {
            Ok(f) => f,
            Err(e) => ErrorReply::from(e).to_frame(op, id),
        },
        Err(e) => {
            tracing::debug!(op = op::name(op), code = e.code().number(), error = %e, "request failed");
            pstor_proto::error_to_frame(&e, op, id)
        }
    };
    send(frame)
}

fn remote(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::Remote { code, message: message.into() }
}

/// The event long poll. `poll_events` (revision 1.0) answers only the
/// kinds its clients can decode: camera status events (revision 1.2, in
/// `poll_all_events`) are left out, and a poll that met only those waits
/// on for the rest of its time (its client would otherwise ask again at
/// once with the same `after_seq`, in a loop).
fn poll_events(ctx: &Context, after_seq: u64, max: u32, wait_ms: u32, all: bool) -> (Vec<Event>, u64) {
    let deadline = std::time::Instant::now() + Duration::from_millis(wait_ms.min(MAX_EVENT_WAIT_MS) as u64);
    let max = max.clamp(1, MAX_EVENTS_PER_POLL) as usize;
    let mut after = after_seq;
    loop {
        let wait = deadline.saturating_duration_since(std::time::Instant::now());
        let (mut events, latest_seq) = ctx.events.poll(after, max, wait);
        let Some(last) = events.last().map(|e| e.seq) else { return (events, latest_seq) };
        if !all {
            events.retain(|e| !matches!(e.kind, EventKind::CameraStatus { .. }));
        }
        if !events.is_empty() || wait.is_zero() {
            return (events, latest_seq);
        }
        after = last;
    }
}

fn check_year(year: i32) -> Result<()> {
    if !(1..=9999).contains(&year) {
        return Err(Error::InvalidArgument(format!("year {year} is out of range (1..=9999)")));
    }
    Ok(())
}

/// Keeps the items that fit in `budget` bytes of encoding; whether some were
/// left out.
fn fit<T: pstor_proto::wire::Wire>(items: impl Iterator<Item = T>, limit: usize, budget: usize) -> (Vec<T>, bool) {
    let mut out = Vec::new();
    let mut used = 0usize;
    for item in items {
        let len = to_body(&item).len();
        if out.len() >= limit || (used + len > budget && !out.is_empty()) {
            return (out, true);
        }
        used += len;
        out.push(item);
    }
    (out, false)
}

fn page(limit: u32) -> usize {
    limit.clamp(1, MAX_PAGE) as usize
}

/// The reply to every request but range reads (`sums`: an append's
/// frames, checksummed).
fn answer(ctx: &Context, session: &mut Session, req: Request, sums: Vec<Checksummed>) -> Result<Reply> {
    let e = &ctx.engine;
    let budget = ctx.max_body as usize / 2;
    Ok(match req {
        Request::Ping {} => Reply::Ping {},
        Request::ListSpaces {} => {
            e.check_open()?;
            Reply::ListSpaces { spaces: e.spaces() }
        }
        Request::GetSpace { space } => Reply::GetSpace { space: e.space(space)? },
        Request::InitializeSpace { spec } => {
            let job = e.initialize_space(spec)?;
            let space = job.space;
            Reply::InitializeSpace { job: ctx.jobs.add(job), space }
        }
        Request::RestoreSpace { path } => {
            let job = e.restore_space(path)?;
            let space = job.space;
            Reply::RestoreSpace { job: ctx.jobs.add(job), space }
        }
        Request::DeleteSpace { space } => {
            e.delete_space(space)?;
            Reply::DeleteSpace {}
        }
        Request::ReinitializeSpace { space, confirm } => {
            e.reinitialize_space(space, confirm.then_some(WipeConfirmation::DeleteAllDataInSpace))?;
            Reply::ReinitializeSpace {}
        }
        Request::JobStatus { job } => Reply::JobStatus { status: ctx.jobs.status(job)? },
        Request::CancelJob { job } => {
            ctx.jobs.cancel(job)?;
            Reply::CancelJob {}
        }
        Request::ListPools {} => {
            e.check_open()?;
            Reply::ListPools { pools: e.pools() }
        }
        Request::GetPool { pool } => Reply::GetPool { pool: e.pool(pool)? },
        Request::CreatePool { spec } => Reply::CreatePool { pool: e.create_pool(spec)? },
        Request::EditPool { pool, edit } => {
            e.edit_pool(pool, edit)?;
            Reply::EditPool {}
        }
        Request::DeletePool { pool } => {
            e.delete_pool(pool)?;
            Reply::DeletePool {}
        }
        Request::RegisterStream { spec } => Reply::RegisterStream { stream: e.register_stream(spec)? },
        Request::FindStream { camera_id, channel, kind } => {
            e.check_open()?;
            Reply::FindStream { stream: e.find_stream(&camera_id, channel, kind) }
        }
        Request::ListStreams { after, limit } => {
            e.check_open()?;
            let mut all = e.streams();
            all.sort_by_key(|s| s.config.id);
            let rest = all.into_iter().filter(|s| after.is_none_or(|a| s.config.id > a));
            let (streams, more) = fit(rest, page(limit), budget);
            Reply::ListStreams { streams, more }
        }
        Request::GetStream { stream } => {
            e.check_open()?;
            Reply::GetStream { stream: e.stream(stream)? }
        }
        Request::RecordedRanges { stream, start, end, tolerance_us } => {
            Reply::RecordedRanges { ranges: e.recorded_ranges(stream, start, end, tolerance_us)? }
        }
        Request::LockStream { stream, start, end, expires } => {
            Reply::LockStream { lock: e.lock(stream, start, end, expires)? }
        }
        Request::LockPictures { pool, camera_id, start, end, expires } => {
            Reply::LockPictures { lock: e.lock_pictures(pool, &camera_id, start, end, expires)? }
        }
        Request::ListLocks { after, limit } => {
            e.check_open()?;
            let mut all = e.locks();
            all.sort_by_key(|l| l.id);
            let rest = all.into_iter().filter(|l| after.is_none_or(|a| l.id > a));
            let (locks, more) = fit(rest, page(limit), budget);
            Reply::ListLocks { locks, more }
        }
        Request::ExtendLock { lock, expires } => {
            e.extend_lock(lock, expires)?;
            Reply::ExtendLock {}
        }
        Request::Unlock { lock } => {
            e.unlock(lock)?;
            Reply::Unlock {}
        }
        Request::InspectDay { stream, date } => {
            check_year(date.year)?;
            Reply::InspectDay { day: e.inspect_day(stream, date)? }
        }
        Request::InspectToday { stream } => Reply::InspectToday { day: e.inspect_today(stream)? },
        Request::InspectMonth { stream, year, month } => {
            check_year(year)?;
            Reply::InspectMonth { days: e.inspect_month(stream, year, month)? }
        }
        Request::Today {} => {
            e.check_open()?;
            Reply::Today { date: e.today() }
        }
        Request::GetThresholds {} => {
            e.check_open()?;
            Reply::GetThresholds { thresholds: e.thresholds() }
        }
        Request::SetThresholds { thresholds } => {
            e.set_thresholds(thresholds)?;
            Reply::SetThresholds {}
        }
        Request::PollEvents { after_seq, max, wait_ms } => {
            e.check_open()?;
            let (events, latest_seq) = poll_events(ctx, after_seq, max, wait_ms, false);
            Reply::PollEvents { events, latest_seq }
        }
        Request::PollAllEvents { after_seq, max, wait_ms } => {
            e.check_open()?;
            let (events, latest_seq) = poll_events(ctx, after_seq, max, wait_ms, true);
            Reply::PollAllEvents { events, latest_seq }
        }
        Request::Check { repair } => {
            let mut report = e.check(repair)?;
            let n = report.problems.len();
            let (kept, cut) = fit(report.problems.drain(..), usize::MAX, budget.saturating_sub(1024));
            report.problems = kept;
            if cut {
                let left = n - report.problems.len();
                report.problems.push(Problem {
                    space: None,
                    segment: None,
                    what: format!("{left} more problems not listed (run `pstor-server check` on the host)"),
                    repaired: false,
                });
            }
            Reply::Check { report }
        }
        Request::Append { stream, sync, frames } => {
            session.admit(&[stream])?;
            let n = frames.len();
            let bytes: usize = frames.iter().map(|f| f.data.len()).sum();
            let appended = frames.into_iter().zip(sums).enumerate().try_for_each(|(i, (f, sum))| {
                e.append_checksummed(stream, f.ts, f.key, sum).map_err(|err| {
                    let at = f.ts;
                    remote(
                        err.code(),
                        format!("{err} (frame at {at} us refused, after {i} of {n} frames of the batch were appended)"),
                    )
                })
            });
            let started = std::time::Instant::now();
            if let Err(err) = appended.and_then(|()| if sync { e.sync(stream) } else { Ok(()) }) {
                session.refuse(stream, &err);
                return Err(err);
            }
            if sync {
                ctx.metrics.synced(started);
            }
            ctx.metrics.ingest_frames.inc_by(n as u64);
            ctx.metrics.ingest_bytes.inc_by(bytes as u64);
            Reply::Append { appended: u32::try_from(n).unwrap_or(u32::MAX) }
        }
        Request::ResumeStream { stream } => {
            session.refused.remove(&stream);
            Reply::ResumeStream {}
        }
        Request::FlushStream { stream } => {
            session.admit(&[stream])?;
            e.flush(stream)?;
            Reply::FlushStream {}
        }
        Request::Sync { streams } => {
            session.admit(&streams)?;
            let started = std::time::Instant::now();
            if streams.is_empty() {
                e.sync_all()?;
            } else {
                e.sync_streams(&streams)?;
            }
            ctx.metrics.synced(started);
            Reply::Sync {}
        }
        Request::PutPicture { pool, meta, data, sync } => {
            let id = e.put_picture(pool, &meta, &data)?;
            ctx.metrics.pictures.inc();
            ctx.metrics.picture_bytes.inc_by(data.len() as u64);
            if sync {
                e.sync_pictures(pool)?;
            }
            Reply::PutPicture { id }
        }
        Request::SyncPictures { pool } => {
            e.sync_pictures(pool)?;
            Reply::SyncPictures {}
        }
        Request::GetPicture { id } => Reply::GetPicture { picture: e.get_picture(&id)? },
        Request::GetPictureRange { id, offset, len } => {
            Reply::GetPictureRange { picture: e.get_picture_range(&id, offset, len)? }
        }
        Request::HeadPicture { id } => Reply::HeadPicture { info: e.head_picture(&id)? },
        Request::GetPictureByKey { key } => Reply::GetPictureByKey { picture: e.get_picture_by_key(&key)? },
        Request::PictureIdForKey { key } => Reply::PictureIdForKey { id: e.picture_id_for_key(&key)? },
        Request::DeletePicture { id } => {
            e.delete_picture(&id)?;
            Reply::DeletePicture {}
        }
        Request::DeletePictureByKey { key } => {
            e.delete_picture_by_key(&key)?;
            Reply::DeletePictureByKey {}
        }
        Request::ListPictures { mut query } => {
            query.limit = query.limit.clamp(1, MAX_PAGE as usize);
            Reply::ListPictures { pictures: e.list_pictures(&query)? }
        }
        Request::ListKeys { bucket, prefix, after, limit } => {
            Reply::ListKeys { keys: e.list_keys(&bucket, &prefix, after.as_deref(), page(limit))? }
        }
        req @ (Request::ListSchedules { .. }
        | Request::GetSchedule { .. }
        | Request::CreateSchedule { .. }
        | Request::ReplaceSchedule { .. }
        | Request::DeleteSchedule { .. }
        | Request::ScheduleEvent { .. }) => {
            crate::recording::answer_sdk(&ctx.recording, req, MAX_PAGE as usize, budget)?
        }
        // Handled by the caller; an operation added to the protocol but not
        // here yet is answered as unknown.
        other => {
            return Err(remote(
                ErrorCode::UnknownRequest,
                format!("operation {} is not served by this server", op::name(other.op())),
            ))
        }
    })
}

/// A range read in progress: the batch being filled and where it goes.
struct Items<'a, 's> {
    ctx: &'a Context,
    id: u32,
    send: Sink<'s>,
    batch: Vec<Frame>,
    bytes: usize,
    total: u64,
}

/// Why a range read stopped early.
enum Stop {
    /// The connection is gone.
    Gone,
    /// Answer with this error frame (it ends the read).
    Fail(Bytes),
}

impl Items<'_, '_> {
    fn error(&self, e: &Error) -> Stop {
        Stop::Fail(pstor_proto::error_to_frame(e, op::READ_RANGE, self.id))
    }

    fn flush(&mut self) -> Result<(), Stop> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let frame = encode_stream_item(op::READ_RANGE, self.id, &self.batch, self.ctx.max_body)
            .map_err(|pe: ProtoError| Stop::Fail(ErrorReply::from(pe).to_frame(op::READ_RANGE, self.id)))?;
        self.batch.clear();
        self.bytes = 0;
        if (self.send)(frame) {
            Ok(())
        } else {
            Err(Stop::Gone)
        }
    }

    fn push(&mut self, f: Frame) -> Result<(), Stop> {
        if self.ctx.stopping.load(Ordering::Relaxed) {
            return Err(self.error(&remote(ErrorCode::Busy, "the server is shutting down: the read was cut short")));
        }
        let len = FRAME_OVERHEAD + f.data.len();
        // An item must fit in a frame (list count + frames).
        if !self.batch.is_empty() && self.bytes + len > (self.ctx.max_body as usize).saturating_sub(4) {
            self.flush()?;
        }
        self.bytes += len;
        self.total += 1;
        self.batch.push(f);
        if self.bytes >= self.ctx.read_batch {
            self.flush()?;
        }
        Ok(())
    }

    fn run(&mut self, stream: StreamId, start: Timestamp, end: Timestamp) -> Result<(), Stop> {
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.ctx.engine.read(stream, start, end)))
            .unwrap_or_else(|_| Err(remote(ErrorCode::Panic, "internal error: the read panicked")));
        let iter = read.map_err(|e| self.error(&e))?;
        for item in iter {
            match item {
                Ok(f) => self.push(f)?,
                Err(e) => {
                    // The frames before a damaged record still go out first.
                    self.flush()?;
                    return Err(self.error(&e));
                }
            }
        }
        self.flush()
    }
}

/// A range read: items of about `read_batch` bytes, each sent only when the
/// connection's answer queue has room (the sink blocks), then the end; or
/// an error frame, after the frames read before the error.
fn read_range(ctx: &Context, id: u32, stream: StreamId, start: Timestamp, end: Timestamp, send: Sink<'_>) -> bool {
    let mut items = Items { ctx, id, send, batch: Vec::new(), bytes: 0, total: 0 };
    match items.run(stream, start, end) {
        Ok(()) => {
            let end = StreamEnd { frames: items.total }.to_frame(op::READ_RANGE, id);
            (items.send)(end)
        }
        Err(Stop::Gone) => false,
        Err(Stop::Fail(frame)) => (items.send)(frame),
    }
}
