//! Pipelined, batched appends: one long-lived data connection per slot,
//! each stream pinned to a slot by its id. See the module documentation of
//! [`crate::remote`] for the contract; the bookkeeping that keeps it is
//! here:
//!
//! - `pending`: per stream, the frames not sent yet (the caller's `Bytes`,
//!   not copied);
//! - `inflight`: the requests sent and not answered yet, in order (the
//!   server answers a connection's requests in order);
//! - `unsynced`: the streams with frames sent on the current connection
//!   that no sync answered on that connection has covered yet;
//! - `errors`: per stream, the first failure not reported yet (sticky);
//! - `epochs` and `resume`: after a refused append the server refuses the
//!   stream's later requests on the connection (the batches pipelined
//!   behind the refused one would otherwise leave a hole followed by later
//!   frames); once the failure is reported to the caller, the stream's
//!   epoch moves on, the refusals of requests sent before are not reported
//!   a second time, and a `resume_stream` goes ahead of the stream's next
//!   request.
//!
//! When the connection is lost, every stream with frames in flight, or sent
//! and not yet covered by a sync, is marked with the loss (and its pending
//! frames are dropped: they follow frames of unknown outcome), so the next
//! call on it fails and no later sync can report `Ok` for frames that may
//! be gone. A stream with pending frames only loses nothing.

use super::conn::{remote, Conn, Endpoint};
use bytes::Bytes;
use pstor_core::{Error, ErrorCode, Frame, Result, StreamId, Timestamp};
use pstor_proto::message::FRAME_OVERHEAD;
use pstor_proto::{Reply, Request, ServerMessage};
use std::collections::{HashMap, HashSet, VecDeque};

/// A stream's pending batch is sent once its frames' encoding reaches this
/// many bytes (about one engine chunk; big enough that the per-request cost
/// vanishes, small enough that a batch does not wait long for its frames).
pub const BATCH_BYTES: usize = 256 << 10;
/// ...or once it holds this many frames (a few seconds of a sub stream).
pub const BATCH_FRAMES: usize = 64;
/// Bytes of an append body besides its frames: stream id, flags, count.
const APPEND_OVERHEAD: usize = 8 + 1 + 4;

/// What an outstanding request was.
#[derive(Debug)]
enum Sent {
    /// A batch of a stream's frames (with the sync flag or not).
    Append { stream: StreamId, sync: bool },
    /// `flush_stream`.
    Flush { stream: StreamId },
    /// `sync` of these streams (empty: everything).
    Sync { streams: Vec<StreamId> },
    /// `resume_stream`.
    Resume,
}

impl Sent {
    fn stream(&self) -> Option<StreamId> {
        match self {
            Sent::Append { stream, .. } | Sent::Flush { stream } => Some(*stream),
            Sent::Sync { .. } | Sent::Resume => None,
        }
    }
}

/// A request sent and not answered yet.
#[derive(Debug)]
struct InFlight {
    id: u32,
    what: Sent,
    /// Its stream's epoch when it was sent.
    epoch: u32,
}

/// Frames of one stream not sent yet.
#[derive(Debug, Default)]
struct Batch {
    frames: Vec<Frame>,
    /// Their encoded size.
    bytes: usize,
}

/// One append connection and its streams' state.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    conn: Option<Conn>,
    /// The server instance of the last connection opened (what the
    /// unsynced frames went to); `None` before the first connection, or
    /// from a server that does not say.
    instance: Option<u64>,
    pending: HashMap<StreamId, Batch>,
    inflight: VecDeque<InFlight>,
    unsynced: HashSet<StreamId>,
    errors: HashMap<StreamId, Error>,
    /// Per stream, how many failures were reported to the caller.
    epochs: HashMap<StreamId, u32>,
    /// Streams whose reported failure the server has not been told of.
    resume: HashSet<StreamId>,
}

/// The error every affected stream reports after a lost connection.
fn lost(cause: &Error, stream: StreamId) -> Error {
    // A network failure keeps its number (Timeout, Protocol, ...); anything
    // else is reported as the loss it caused.
    let code = match cause.code() {
        c if (700..=707).contains(&c.number()) => c,
        _ => ErrorCode::Disconnected,
    };
    remote(code, format!("{cause}; frames appended to stream {stream} since its last successful sync may be lost"))
}

/// The error every stream with unsynced frames reports when the server
/// restarted (its instance id changed) since they were sent.
fn restarted(ep: &Endpoint, (old, new): (u64, u64), stream: StreamId) -> Error {
    remote(
        ErrorCode::ServerRestarted,
        format!(
            "the server at {} restarted (server instance {old:016x}, now {new:016x}): frames appended to stream \
             {stream} since its last successful sync may be lost",
            ep.describe()
        ),
    )
}

impl Slot {
    /// Takes the stream's unreported failure, if any: the caller reports
    /// it, so the stream starts a new epoch.
    pub fn take_error(&mut self, stream: StreamId) -> Option<Error> {
        let e = self.errors.remove(&stream)?;
        *self.epochs.entry(stream).or_default() += 1;
        self.resume.insert(stream);
        Some(e)
    }

    /// Takes any stream's unreported failure.
    pub fn take_any_error(&mut self) -> Option<Error> {
        let stream = *self.errors.keys().next()?;
        self.take_error(stream)
    }

    fn epoch(&self, stream: StreamId) -> u32 {
        self.epochs.get(&stream).copied().unwrap_or(0)
    }

    /// Whether this slot has anything a sync must cover.
    pub fn is_active(&self) -> bool {
        !self.pending.is_empty() || !self.unsynced.is_empty() || !self.inflight.is_empty()
    }

    /// Streams with pending frames.
    pub fn pending_streams(&self) -> Vec<StreamId> {
        self.pending.keys().copied().collect()
    }

    /// Streams with frames at stake: pending, in flight or unsynced.
    pub fn streams_at_stake(&self) -> Vec<StreamId> {
        let mut all: HashSet<StreamId> = self.unsynced.iter().copied().collect();
        all.extend(self.pending.keys().copied());
        all.extend(self.inflight.iter().filter_map(|f| f.what.stream()));
        all.into_iter().collect()
    }

    /// Closes the connection (after the caller synced what it wanted).
    pub fn close(&mut self) {
        self.conn = None;
        self.pending.clear();
        self.inflight.clear();
        self.unsynced.clear();
        self.resume.clear();
    }

    /// The connection is gone: mark every stream that had frames on it (in
    /// flight, or sent and not covered by a sync), drop their pending
    /// frames (they follow frames of unknown outcome), forget the
    /// connection. Streams with only pending frames lost nothing: those
    /// frames were never sent and go on the next connection. When streams
    /// lost something, one reconnect is tried at once, to say whether the
    /// server restarted (a new instance: `ServerRestarted`) or the
    /// connection alone was lost (`Disconnected`: the outcome of the
    /// requests in flight is unknown); it is kept for the next call.
    fn lose(&mut self, ep: &Endpoint, cause: &Error) {
        let mut affected: HashSet<StreamId> = self.unsynced.drain().collect();
        affected.extend(self.inflight.drain(..).filter_map(|f| f.what.stream()));
        self.conn = None;
        if affected.is_empty() {
            return;
        }
        let change = match Conn::open(ep) {
            Ok(c) => {
                let change = self.instance_change(&c);
                self.instance = c.instance();
                self.conn = Some(c);
                change
            }
            Err(_) => None,
        };
        for s in affected {
            self.pending.remove(&s);
            // The loss outranks an earlier failure: it says more may be gone.
            let e = match change {
                Some(change) => restarted(ep, change, s),
                None => lost(cause, s),
            };
            self.errors.insert(s, e);
        }
    }

    /// `(old, new)` instance ids when `conn` reaches another server
    /// process than the one the slot's unsynced frames went to.
    fn instance_change(&self, conn: &Conn) -> Option<(u64, u64)> {
        match (self.instance, conn.instance()) {
            (Some(old), Some(new)) if old != new => Some((old, new)),
            _ => None,
        }
    }

    /// Opens a new connection in place of one that is gone (or of none).
    /// The streams with unsynced frames keep them if the new connection
    /// reaches the same server instance (its engine has them; the next
    /// sync covers them); they fail with `ServerRestarted` if it is another
    /// instance, and with `Disconnected` if the server does not say (before
    /// protocol revision 1.1).
    fn reopen(&mut self, ep: &Endpoint) -> Result<()> {
        self.conn = None;
        let conn = Conn::open(ep)?;
        if !self.unsynced.is_empty() {
            let change = self.instance_change(&conn);
            let unknown = self.instance.is_none() || conn.instance().is_none();
            if change.is_some() || unknown {
                let cause =
                    remote(ErrorCode::Disconnected, format!("the server at {} closed the connection", ep.describe()));
                for s in std::mem::take(&mut self.unsynced) {
                    self.pending.remove(&s);
                    let e = match change {
                        Some(change) => restarted(ep, change, s),
                        None => lost(&cause, s),
                    };
                    self.errors.insert(s, e);
                }
            }
        }
        self.instance = conn.instance();
        self.conn = Some(conn);
        Ok(())
    }

    /// The connection, opened (or reopened) if needed. One quiet for half
    /// the server's idle timeout first has its answers read and is pinged;
    /// one the server closed is replaced ([`Slot::reopen`]).
    fn conn(&mut self, ep: &Endpoint) -> Result<&mut Conn> {
        if self.conn.as_ref().is_some_and(Conn::needs_ping) {
            // The answers have long been sent (or the server is slow and
            // they are awaited anyway): read them, so the ping below can go.
            while !self.inflight.is_empty() {
                // An append's or flush's failure is kept for its stream.
                let (_, _kept) = self.read_one(ep)?;
            }
        }
        let alive = match self.conn.as_mut() {
            // With nothing in flight, anything the server sent is its last
            // word (an idle timeout) or the end of the connection.
            Some(c) => !self.inflight.is_empty() || c.keep_alive(),
            None => false,
        };
        if !alive {
            self.reopen(ep)?;
        }
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(remote(ErrorCode::Disconnected, "no connection")),
        }
    }

    /// Sends a request, after reading answers while the window is full,
    /// and ahead of it a `resume_stream` for each of its streams whose
    /// failure the caller has been told of since. `Err`: the request was
    /// not sent (the connection is lost, or the request does not encode).
    fn send(&mut self, ep: &Endpoint, req: &Request, what: Sent) -> Result<u32> {
        if !self.resume.is_empty() {
            let streams: Vec<StreamId> = match &what {
                Sent::Append { stream, .. } | Sent::Flush { stream } => vec![*stream],
                Sent::Sync { streams } => streams.clone(),
                Sent::Resume => Vec::new(),
            };
            for s in streams {
                if self.resume.remove(&s) {
                    // Pipelined ahead of the request; a loss fails both.
                    self.send_one(ep, &Request::ResumeStream { stream: s }, Sent::Resume)?;
                }
            }
        }
        self.send_one(ep, req, what)
    }

    /// Sends one request (see [`Slot::send`]).
    fn send_one(&mut self, ep: &Endpoint, req: &Request, what: Sent) -> Result<u32> {
        let window = self.conn(ep)?.window();
        while self.inflight.len() >= window {
            // An append's or flush's failure is kept for its stream; a sync
            // is in flight only while its caller waits for it, below.
            let (_, _kept) = self.read_one(ep)?;
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(remote(ErrorCode::Disconnected, format!("not connected to {}", ep.describe())));
        };
        let id = conn.next_id();
        match conn.send_as(req, id) {
            Ok(()) => {}
            Err(fail) if fail.is_fatal() => {
                self.lose(ep, &fail.error);
                return Err(fail.error);
            }
            Err(fail) => return Err(fail.error),
        }
        if let Sent::Append { stream, .. } = &what {
            self.unsynced.insert(*stream);
        }
        let epoch = what.stream().map_or(0, |s| self.epoch(s));
        self.inflight.push_back(InFlight { id, what, epoch });
        Ok(id)
    }

    /// Reads the answer to the oldest outstanding request; its id and
    /// outcome. A failure of an append or flush is also kept for its
    /// stream. `Err`: the connection is lost.
    fn read_one(&mut self, ep: &Endpoint) -> Result<(u32, Result<()>)> {
        let (Some(conn), Some(front)) = (self.conn.as_mut(), self.inflight.front()) else {
            return Err(remote(ErrorCode::Disconnected, "no request in flight"));
        };
        let frame = match conn.recv() {
            Ok(f) => f,
            Err(fail) => {
                self.lose(ep, &fail.error);
                return Err(fail.error);
            }
        };
        let id = front.id;
        let outcome = match (conn.answer(&frame, id), &front.what) {
            (Ok(ServerMessage::Reply(Reply::Append { .. })), Sent::Append { .. })
            | (Ok(ServerMessage::Reply(Reply::FlushStream {})), Sent::Flush { .. })
            | (Ok(ServerMessage::Reply(Reply::ResumeStream {})), Sent::Resume)
            | (Ok(ServerMessage::Reply(Reply::Sync {})), Sent::Sync { .. }) => Ok(()),
            (Ok(other), _) => {
                let e = remote(
                    ErrorCode::Protocol,
                    format!("the server at {} answered {:?} with {other:?}", conn.ep.describe(), front.what),
                );
                self.lose(ep, &e);
                return Err(e);
            }
            (Err(fail), what) if fail.is_fatal() => {
                let own = (frame.header.request_id == id).then(|| what.stream()).flatten();
                self.lose(ep, &fail.error);
                if let Some(s) = own {
                    // Its own error says more than "lost".
                    let e = remote(fail.error.code(), fail.error.to_string());
                    self.errors.insert(s, e);
                }
                return Err(fail.error);
            }
            (Err(fail), _) => Err(fail.error),
        };
        let Some(done) = self.inflight.pop_front() else { return Ok((id, outcome)) };
        match (&done.what, &outcome) {
            (Sent::Append { stream, sync: true }, Ok(())) => {
                self.unsynced.remove(stream);
            }
            (Sent::Sync { streams }, Ok(())) if streams.is_empty() => self.unsynced.clear(),
            (Sent::Sync { streams }, Ok(())) => streams.iter().for_each(|s| {
                self.unsynced.remove(s);
            }),
            _ => {}
        }
        if let (Some(s), Err(e)) = (done.what.stream(), &outcome) {
            if done.epoch != self.epoch(s) {
                // Sent before the caller was told of an earlier failure of
                // the stream, and refused for it: reported already.
                return Ok((id, outcome));
            }
            if e.code() == ErrorCode::StreamNotFound {
                // Nothing of a stream the server does not know is at stake:
                // a later sync must not report its absence a second time.
                self.unsynced.remove(&s);
            }
            // The frames not sent yet follow refused ones: appending them
            // would leave a hole before them (the server refuses the
            // stream's requests until the failure is reported, too).
            self.pending.remove(&s);
            // The first failure is the one to report; later ones of the same
            // stream follow from it.
            self.errors.entry(s).or_insert_with(|| remote(e.code(), e.to_string()));
        }
        Ok((id, outcome))
    }

    /// Reads answers up to and including request `id`'s; its outcome.
    fn wait_for(&mut self, ep: &Endpoint, id: u32) -> Result<()> {
        loop {
            let (got, outcome) = self.read_one(ep)?;
            if got == id {
                return outcome;
            }
        }
    }

    /// Queues a frame; sends the stream's batch when it is full. The
    /// stream's unreported failure comes first (and the frame is not
    /// taken).
    pub fn append(
        &mut self,
        ep: &Endpoint,
        max_body: u32,
        stream: StreamId,
        ts: Timestamp,
        key: bool,
        data: Bytes,
    ) -> Result<()> {
        if let Some(e) = self.take_error(stream) {
            return Err(e);
        }
        let len = FRAME_OVERHEAD + data.len();
        let max = (max_body as usize).saturating_sub(APPEND_OVERHEAD);
        if len > max {
            // The same kind of error as the embedded engine's for a frame
            // it cannot take: the frame's size, not the protocol, is wrong.
            return Err(remote(
                ErrorCode::FrameSize,
                format!(
                    "frame of {} bytes refused: the server at {} accepts requests of at most {max_body} bytes",
                    data.len(),
                    ep.describe()
                ),
            ));
        }
        let batch = self.pending.entry(stream).or_default();
        if batch.bytes + len > max {
            self.send_batch(ep, stream, false)?;
        }
        let batch = self.pending.entry(stream).or_default();
        batch.bytes += len;
        batch.frames.push(Frame { ts, key, data });
        if batch.frames.len() >= BATCH_FRAMES || batch.bytes >= BATCH_BYTES {
            self.send_batch(ep, stream, false)?;
        }
        Ok(())
    }

    /// Sends the stream's pending batch, if any (with the sync flag: also
    /// when there is none); the request id when one was sent.
    fn send_batch(&mut self, ep: &Endpoint, stream: StreamId, sync: bool) -> Result<Option<u32>> {
        let frames = self.pending.remove(&stream).map(|b| b.frames).unwrap_or_default();
        if frames.is_empty() && !sync {
            return Ok(None);
        }
        let req = Request::Append { stream, sync, frames };
        match self.send(ep, &req, Sent::Append { stream, sync }) {
            Ok(id) => Ok(Some(id)),
            Err(e) => {
                // Not sent: its frames are gone, which the call's error
                // says (and it reports any earlier failure with them).
                let _ = self.take_error(stream);
                Err(lost(&e, stream))
            }
        }
    }

    /// Sends the stream's pending frames and a flush, and waits for both.
    pub fn flush(&mut self, ep: &Endpoint, stream: StreamId) -> Result<()> {
        let r = self.send_batch(ep, stream, false).and_then(|_| {
            let id = self.send(ep, &Request::FlushStream { stream }, Sent::Flush { stream })?;
            self.wait_for(ep, id)
        });
        self.report(stream, r)
    }

    /// Sends the stream's pending frames with the sync flag (or a sync
    /// request when none are pending) and waits for it.
    pub fn sync(&mut self, ep: &Endpoint, stream: StreamId) -> Result<()> {
        let r = if self.pending.contains_key(&stream) {
            self.send_batch(ep, stream, true).and_then(|id| match id {
                Some(id) => self.wait_for(ep, id),
                None => Ok(()),
            })
        } else {
            self.send(ep, &Request::Sync { streams: vec![stream] }, Sent::Sync { streams: vec![stream] })
                .and_then(|id| self.wait_for(ep, id))
        };
        self.report(stream, r)
    }

    /// The stream's unreported failure first, else the call's outcome.
    fn report(&mut self, stream: StreamId, r: Result<()>) -> Result<()> {
        match self.take_error(stream) {
            Some(e) => Err(e),
            None => r,
        }
    }

    /// First half of a sync of several streams (or all: `streams` empty):
    /// sends their pending frames and a sync request, without waiting; the
    /// request id.
    pub fn start_sync(&mut self, ep: &Endpoint, streams: &[StreamId]) -> Result<u32> {
        let batches: Vec<StreamId> = match streams {
            [] => self.pending_streams(),
            some => some.iter().copied().filter(|s| self.pending.contains_key(s)).collect(),
        };
        for s in batches {
            self.send_batch(ep, s, false)?;
        }
        self.send(ep, &Request::Sync { streams: streams.to_vec() }, Sent::Sync { streams: streams.to_vec() })
    }

    /// Second half: waits for the sync's answer.
    pub fn finish_sync(&mut self, ep: &Endpoint, id: u32) -> Result<()> {
        self.wait_for(ep, id)
    }
}
