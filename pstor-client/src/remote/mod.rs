//! The remote mode: a [`Backend`] that is a blocking client of a
//! `pstor-server`, speaking the SDK protocol (`docs/sdk-protocol.md`,
//! crate `pstor-proto`) on its signalling port (6036) and data port (6037).
//! Every binding gets remote mode by holding the `Arc<dyn Backend>` that
//! [`connect`] returns instead of the one [`crate::open_local`] returns.
//!
//! ```no_run
//! use pstor_client::{connect, RemoteOptions};
//! # fn main() -> pstor_core::Result<()> {
//! let backend = connect(RemoteOptions::new("nvr-storage.local", "PSAKVMS0000000000001", "the secret key"))?;
//! for pool in backend.pools()? {
//!     println!("{} {}", pool.config.id, pool.config.name);
//! }
//! backend.close()?; // closes this client; the server keeps running
//! # Ok(()) }
//! ```
//!
//! It is plain `std::net`: no async runtime, no threads of its own. A call
//! blocks the calling thread until its answer comes (or its timeout).
//!
//! # Connections
//!
//! [`connect`] opens one connection to each port and completes the
//! handshake on both (mutual HMAC authentication: the server's proof is
//! checked too), so a wrong key, a wrong address or a server that is down
//! fails there, with `AuthFailed`, `Disconnected` or `Timeout` and a message
//! naming the address.
//!
//! Then there are three kinds of connections, each an authenticated
//! `TcpStream` with `TCP_NODELAY` and read/write timeouts of
//! [`RemoteOptions::request_timeout`]:
//!
//! - a **pool per port** of idle connections for request/response calls:
//!   a call takes one (opens one if none is idle), sends its request,
//!   reads until the answer with its request id, and gives the connection
//!   back. The port is the one pstor-proto's operation table names
//!   ([`pstor_proto::Request::port`]): management and inspection on the
//!   signalling port, pictures on the data port. Idle connections are kept
//!   up to 4 (signalling) and [`RemoteOptions::data_connections`] (data);
//!   an idle one is checked (a non-blocking peek) before reuse, so a
//!   connection the server closed (idle timeout, restart) costs a
//!   reconnect rather than a failed call, and one quiet for half the
//!   server's idle timeout is pinged first;
//! - [`RemoteOptions::data_connections`] long-lived **append connections**,
//!   each behind a mutex; a stream's appends, flushes and syncs always go
//!   to the same one (its id hashed), which keeps their order (a
//!   connection's requests are executed in order) while different streams
//!   append in parallel on different connections;
//! - one data connection per **range read**, taken from the data pool for
//!   the read's whole life.
//!
//! Any I/O error, timeout or protocol violation drops the connection (it
//! never goes back to a pool: its byte stream may be out of step) and the
//! call fails with `Disconnected`, `Timeout` or `Protocol`
//! ([`pstor_core::Error::Remote`] with that code); the next call connects
//! again. Nothing is retried behind the caller's back: a request whose
//! answer did not come has an unknown outcome, and only the caller knows
//! whether repeating it is safe. An error the server answers with becomes
//! `Error::Remote { code, message }` with the engine's number
//! (`pstor_proto::error_from_frame`): the same code the embedded backend
//! gives for the same failure.
//!
//! # Appends: pipelined and batched
//!
//! [`Backend::append`] does not wait for the server. The frame (its
//! `Bytes`, not copied) joins its stream's pending batch on the stream's
//! append connection; a batch is sent when it reaches [`BATCH_BYTES`]
//! (256 KiB) or [`BATCH_FRAMES`] (64 frames), without waiting for the
//! answer. Answers are read as they are needed: when the requests in
//! flight on a connection reach the window the server announced in its
//! Hello (`max_in_flight`, 64 by default), the sender reads answers before
//! it sends more. The frame data is copied once, into the request frame
//! (the protocol's encoding with its CRC); there is no per-frame
//! allocation besides the batch vectors.
//!
//! - [`Backend::flush`] sends the pending batch and a flush, and waits for
//!   every answer up to the flush's: the frames are then readable.
//! - [`Backend::sync`] sends the pending batch with the sync flag (or a
//!   sync request if none is pending) and waits for every answer up to it.
//!   **An `Ok` from `sync` means every frame appended to the stream before
//!   it (and not reported as failed) is durable on the server.**
//! - [`Backend::sync_streams`] and [`Backend::sync_all`] send the pending
//!   batches of every append connection concerned and then a sync request
//!   **on each of those connections** (pipelined: all sent, then all
//!   awaited; the server's group commit merges them into one fdatasync per
//!   data file). One sync per connection rather than a single one is what
//!   makes the `Ok` trustworthy: a sync answered on a connection covers the
//!   appends executed before it on that same connection, hence on the same
//!   server process, whereas a single sync on another connection could be
//!   answered by a server restarted in between. `sync_all` also covers
//!   pictures (a sync with an empty list syncs everything on the server).
//!
//! **Failures of pipelined batches are sticky until reported.** The server
//! may refuse a frame of a batch after `append` returned (`OutOfOrder`,
//! `FrameSize`, `PoolFull`, `StreamNotFound`, ...): the frames before it in
//! the batch were appended, none after it. That error is returned by the
//! next `append`, `flush` or `sync` of the stream (an `append` that reports
//! it does not take its own frame), then forgotten: each failure is
//! reported once, by the first call that can. This is the usual contract
//! of a pipelined producer. A consequence: an `append` to a stream that
//! does not exist returns `Ok`, and the `StreamNotFound` comes with the
//! next call on that stream (`flush` and `sync` always ask the server, so
//! they report it at the latest).
//!
//! **A lost connection** (the server stopped or restarted, the network
//! failed, a timeout) makes the next call on every stream that had frames
//! on it (in flight, or sent since the stream's last successful sync) fail
//! with `Disconnected` (or the `Timeout`/`Protocol` that ended it), once;
//! that stream's pending frames are dropped too (they follow frames of
//! unknown outcome). Streams with pending frames only lose nothing. Frames not
//! acknowledged by a successful sync may be lost, or may have been stored:
//! check [`Backend::stream`]'s `last_ts` before appending them again
//! (timestamps must keep increasing). Calls after that connect again.
//!
//! # Reads
//!
//! [`Backend::read`] takes a data connection for itself, sends the read
//! request and waits for the first answer (so a read that cannot start
//! fails in `read`, as embedded). The iterator then yields the frames of
//! each stream item as it arrives, holding one item (about 256 KiB) at a
//! time: TCP's window is the flow control, a slow consumer slows the
//! server's reader of that read only. It ends at the stream end (the
//! connection goes back to the pool), or yields the server's error and
//! ends. Dropping it early drops its connection, which is mid-stream.
//!
//! # Space jobs, events, what is not offered
//!
//! [`Backend::initialize_space`] and [`Backend::restore_space`] return a
//! handle whose `progress()` and `is_finished()` ask the server for the
//! job's status (one round trip each), `cancel()` sends the job cancel, and
//! `wait()` asks every [`JOB_POLL_INTERVAL`] (100 ms) until the job has
//! finished. [`Backend::poll_events`] is the server's long poll (repeated
//! when `wait` is longer than the server's 30 s cap).
//! [`Backend::run_maintenance`] and [`Backend::checkpoint`] fail with
//! `Unsupported`: the server runs both itself and the protocol does not
//! offer them. [`Backend::today`] is the server's `today` operation (its
//! calendar, in its UTC offset; no stream needed). A server older than
//! that operation answers `UnknownRequest`, and then the date is read from
//! the inspection of today of the first registered stream (`Unsupported`
//! while there is none).
//!
//! # Threads
//!
//! The backend is `Send + Sync` and every method may be called from many
//! threads at once: request/response calls each use a connection of their
//! own; appends of streams on different append connections run in
//! parallel, those sharing one take turns (its mutex is held while a batch
//! is written or answers are read); reads each have their own connection.
//!
//! # Closing
//!
//! [`Backend::close`] closes **the client, not the server**: it sends the
//! pending batches, syncs what this client wrote (its streams with frames
//! not yet covered by a sync, on their append connections, and the picture
//! pools it put into since they were last synced), and closes every
//! connection. The server and its engine keep running for other clients.
//! Every call after `close` fails with `Closed`; closing again returns
//! `Ok(())`. A range read in progress keeps its connection until it ends
//! or is dropped.
//!
//! # Server restarts and keep-alive
//!
//! Every Hello carries the server instance id (random, new at every
//! server start) and the server's idle timeout (protocol revision 1.1).
//! Each append connection remembers the instance its unsynced frames went
//! to (`append.rs`), and each picture pool put into the instance that took
//! its first unsynced put. A sync that reaches another instance fails with
//! `ServerRestarted` (708), once, its message naming the restart: what was
//! not synced before the restart may be lost. A connection the server
//! closed while idle is replaced; on the same instance nothing was lost
//! and the reconnect is invisible. A connection quiet for half the idle
//! timeout is pinged before use (`Conn::keep_alive` says why not from a
//! thread), so a request does not race the server's idle timer.
//!
//! # Known limits
//!
//! - Against a server before revision 1.1 (no instance id), a restart is
//!   detected per connection only (hence, still, the syncs per append
//!   connection), an append connection it closed while idle makes its
//!   streams with unsynced frames report `Disconnected` once, and a
//!   restart between a `put_picture` and its `sync_pictures` is not
//!   detected.
//! - A connection lost with requests in flight reports `Disconnected`
//!   (their outcome is unknown), or `ServerRestarted` when the reconnect,
//!   tried once at once, reaches another instance; with the server
//!   unreachable that attempt adds up to `connect_timeout` to the failure.
//!
//! Writes use `send` with `MSG_NOSIGNAL` (what `std::net::TcpStream` does
//! on Linux), so a server that went away gives an error, never `SIGPIPE`,
//! even in a C program that did not ignore the signal.

mod append;
mod conn;
mod job;
mod pool;
mod read;

pub use append::{BATCH_BYTES, BATCH_FRAMES};
pub use job::JOB_POLL_INTERVAL;

use crate::{Backend, FrameStream, SpaceJobHandle};
use append::Slot;
use bytes::Bytes;
use conn::{remote, Conn, Endpoint, Failure};
use pool::Pool;
use pstor_core::{
    CheckReport, Date, DayInspection, DaySummary, Error, ErrorCode, Event, LockConfig, LockId, Picture, PictureId,
    PictureInfo, PictureKey, PictureMeta, PictureQuery, PoolEdit, PoolId, PoolInfo, PoolSpec, Result, SpaceId,
    SpaceInfo, SpaceSpec, StreamId, StreamInfo, StreamKind, StreamSpec, Thresholds, Timestamp, WipeConfirmation,
};
use pstor_proto::wire::{Wire, Writer};
use pstor_proto::{op, Kind, Port, ProtoError, Reply, Request, ServerMessage, MAX_EVENT_WAIT_MS, MAX_PAGE};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Idle signalling connections kept for reuse.
const SIGNALLING_IDLE: usize = 4;
/// Most data connections a client may ask for (each append connection is a
/// connection and an executor thread on the server, whose default limit is
/// 256 connections over all clients).
pub const MAX_DATA_CONNECTIONS: usize = 256;

/// Where and how to reach a pstor-server.
#[derive(Clone)]
pub struct RemoteOptions {
    /// The server's host name or address.
    pub host: String,
    /// The SDK signalling port (default 6036).
    pub signalling_port: u16,
    /// The SDK data port (default 6037).
    pub data_port: u16,
    /// The access key (the public half of the key pair).
    pub access_key: String,
    /// The secret key (it keys the handshake's HMAC; it is never sent).
    pub secret_key: String,
    /// How long to wait for a TCP connection and its handshake (default 5 s).
    pub connect_timeout: Duration,
    /// How long to wait for an answer, or for a write to be taken (default
    /// 30 s). An event long poll waits this much longer than its `wait`.
    pub request_timeout: Duration,
    /// Parallel data connections for appends and pictures (default 4,
    /// 1..=[`MAX_DATA_CONNECTIONS`]): the append connections streams are
    /// hashed over, and the idle data connections kept for pictures and
    /// reads.
    pub data_connections: usize,
}

impl RemoteOptions {
    /// Options with the defaults: ports 6036/6037, 5 s connect timeout, 30 s
    /// request timeout, 4 data connections.
    pub fn new(host: impl Into<String>, access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        RemoteOptions {
            host: host.into(),
            signalling_port: Port::Signalling.default_port(),
            data_port: Port::Data.default_port(),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            data_connections: 4,
        }
    }
}

/// The secret key is not printed.
impl std::fmt::Debug for RemoteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteOptions")
            .field("host", &self.host)
            .field("signalling_port", &self.signalling_port)
            .field("data_port", &self.data_port)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<hidden>")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("data_connections", &self.data_connections)
            .finish()
    }
}

/// Connects to a pstor-server: opens a connection to its signalling port
/// and one to its data port, and completes the handshake on both (checking
/// the server's proof: mutual authentication). Fails with `AuthFailed`
/// (wrong or unknown key), `Disconnected` (nothing listening, connection
/// reset, name not resolved), `Timeout` (no answer within
/// `connect_timeout`), `Busy` (the server is at its connection limit),
/// `Protocol` (not a pstor-server) or `InvalidArgument` (an empty host or
/// access key, a port or timeout of 0, `data_connections` outside
/// 1..=[`MAX_DATA_CONNECTIONS`]), the message naming the address. See the
/// [module documentation](self) for how the backend behaves.
pub fn connect(opts: RemoteOptions) -> Result<Arc<dyn Backend>> {
    let bad = |what: &str| Err(Error::InvalidArgument(format!("RemoteOptions: {what}")));
    if opts.host.is_empty() {
        return bad("the server's host is empty");
    }
    if opts.access_key.is_empty() {
        return bad("the access key is empty");
    }
    if opts.signalling_port == 0 || opts.data_port == 0 {
        return bad("the ports must not be 0");
    }
    if opts.connect_timeout.is_zero() || opts.request_timeout.is_zero() {
        return bad("the timeouts must not be 0");
    }
    if !(1..=MAX_DATA_CONNECTIONS).contains(&opts.data_connections) {
        return bad(&format!(
            "data_connections must be within 1..={MAX_DATA_CONNECTIONS}, not {}",
            opts.data_connections
        ));
    }
    let slots = opts.data_connections;
    let endpoint = |port_number: u16, port: Port| Endpoint {
        host: opts.host.clone(),
        port_number,
        port,
        access_key: opts.access_key.clone(),
        secret_key: opts.secret_key.clone(),
        connect_timeout: opts.connect_timeout,
        request_timeout: opts.request_timeout,
    };
    let sig = Pool::new(endpoint(opts.signalling_port, Port::Signalling), SIGNALLING_IDLE);
    let data = Pool::new(endpoint(opts.data_port, Port::Data), slots);
    let s = Conn::open(&sig.ep)?;
    let d = Conn::open(&data.ep)?;
    let max_body = AtomicU32::new(d.max_body());
    sig.put(s);
    data.put(d);
    let inner = Inner {
        closed: AtomicBool::new(false),
        sig: Arc::new(sig),
        data: Arc::new(data),
        slots: (0..slots).map(|_| Mutex::new(Slot::default())).collect(),
        max_body,
        pictures_dirty: Mutex::new(HashMap::new()),
        request_timeout: opts.request_timeout,
        old_event_poll: AtomicBool::new(false),
    };
    Ok(Arc::new(RemoteBackend { inner: Arc::new(inner) }))
}

/// What [`Inner::sync_everything`] syncs.
#[derive(Debug, Clone, Copy)]
enum Scope {
    /// Everything on the server.
    All,
    /// What this client wrote.
    Own,
}

/// What the backend and its job handles share.
#[derive(Debug)]
pub(crate) struct Inner {
    closed: AtomicBool,
    sig: Arc<Pool>,
    data: Arc<Pool>,
    slots: Vec<Mutex<Slot>>,
    /// The largest body the data port accepts (its Hello).
    max_body: AtomicU32,
    /// Picture pools put into since they were last synced, each with the
    /// server instance that took the first of those puts (`None`: a
    /// server that does not say).
    pictures_dirty: Mutex<HashMap<PoolId, Option<u64>>>,
    request_timeout: Duration,
    /// The server answered `poll_all_events` with `UnknownRequest` (it is
    /// older than revision 1.2): poll with `poll_events`.
    old_event_poll: AtomicBool,
}

/// The error for an answer of the wrong kind.
pub(crate) fn unexpected(reply: &Reply) -> Error {
    remote(ErrorCode::Protocol, format!("unexpected answer from the server: {}", op::name(reply.op())))
}

fn lock_slot(m: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The first of several errors, saying how many more there were.
fn first_of(mut errors: Vec<Error>) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    let more = errors.len() - 1;
    let first = errors.swap_remove(0);
    if more == 0 {
        return Err(first);
    }
    Err(remote(first.code(), format!("{first} (and {more} more failures)")))
}

impl Inner {
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    fn pool(&self, port: Port) -> &Pool {
        match port {
            Port::Signalling => &self.sig,
            Port::Data => &self.data,
        }
    }

    /// One request on the pool of the port that serves it; its reply.
    pub(crate) fn call(&self, req: &Request) -> Result<Reply> {
        self.check_open()?;
        match self.pool(req.port()).call(req)? {
            ServerMessage::Reply(r) => Ok(r),
            other => Err(remote(ErrorCode::Protocol, format!("unexpected answer from the server: {other:?}"))),
        }
    }

    /// The append slot of a stream.
    fn slot_index(&self, stream: StreamId) -> usize {
        // Fibonacci hashing: ids are random, but be even for any.
        let h = stream.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        (h % self.slots.len() as u64) as usize
    }

    fn slot(&self, stream: StreamId) -> MutexGuard<'_, Slot> {
        let i = self.slot_index(stream);
        // The index is in range by construction.
        lock_slot(&self.slots[i])
    }

    fn max_body(&self) -> u32 {
        self.max_body.load(Ordering::Relaxed)
    }

    /// Syncs every append connection with something to sync (pending
    /// batches, frames in flight or unsynced): all sent, then all awaited.
    /// `All` ([`Backend::sync_all`]): each sends a sync of everything on
    /// the server, pictures included, and one goes through the data pool
    /// when no append connection is active. `Own` ([`Backend::close`]):
    /// each syncs its own streams, and the picture pools this client put
    /// into are synced. Then reports the streams' unreported failures.
    fn sync_everything(&self, scope: Scope) -> Result<()> {
        let ep = &self.data.ep;
        let mut guards: Vec<MutexGuard<'_, Slot>> = self.slots.iter().map(lock_slot).collect();
        if let Scope::All = scope {
            // Under the locks, as in `append` (close syncs with `Own`).
            self.check_open()?;
        }
        let mut errors = Vec::new();
        let mut started = Vec::new();
        for (i, g) in guards.iter_mut().enumerate() {
            if g.is_active() {
                let streams = match scope {
                    Scope::All => Vec::new(),
                    Scope::Own => g.streams_at_stake(),
                };
                match g.start_sync(ep, &streams) {
                    Ok(id) => started.push((i, id)),
                    Err(e) => errors.push(e),
                }
            }
        }
        let any = !started.is_empty();
        for (i, id) in started {
            if let Some(g) = guards.get_mut(i) {
                if let Err(e) = g.finish_sync(ep, id) {
                    errors.push(e);
                }
            }
        }
        let pools: Vec<(PoolId, Option<u64>)> = std::mem::take(&mut *self.dirty_pictures()).into_iter().collect();
        if let (Scope::All, false) = (scope, any) {
            match self.data.call(&Request::Sync { streams: Vec::new() }) {
                Ok(ServerMessage::Reply(Reply::Sync {})) => {}
                Ok(other) => errors.push(remote(ErrorCode::Protocol, format!("unexpected answer: {other:?}"))),
                Err(e) => errors.push(e),
            }
        }
        // Each pool put into is synced on its own, which also tells whether
        // the server that took its puts is still the one answering.
        for (pool, put_on) in pools {
            if let Err(e) = self.sync_pool_pictures(pool, Some(put_on)) {
                errors.push(e);
            }
        }
        let mut sticky: Vec<Error> = Vec::new();
        for g in guards.iter_mut() {
            while let Some(e) = g.take_any_error() {
                sticky.push(e);
            }
        }
        // A stream's own failure says more than the sync's consequence.
        sticky.extend(errors);
        first_of(sticky)
    }

    fn dirty_pictures(&self) -> MutexGuard<'_, HashMap<PoolId, Option<u64>>> {
        self.pictures_dirty.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Syncs a pool's pictures. `dirty`: whether this client put pictures
    /// into it since its last sync, and then the server instance that took
    /// the first of them. If the server answering the sync is another
    /// instance, the server restarted in between and pictures put before
    /// the restart may be lost: `ServerRestarted` (the sync itself was
    /// made, so the pool is clean again). A failed sync leaves a dirty pool
    /// dirty.
    fn sync_pool_pictures(&self, pool: PoolId, dirty: Option<Option<u64>>) -> Result<()> {
        let req = Request::SyncPictures { pool };
        let answer = match self.data.with(|c| c.call(&req).map(|m| (m, c.instance()))) {
            Ok((ServerMessage::Reply(Reply::SyncPictures {}), now)) => Ok(now),
            Ok((other, _)) => Err(remote(ErrorCode::Protocol, format!("unexpected answer: {other:?}"))),
            Err(e) => Err(e),
        };
        let now = match answer {
            Ok(now) => now,
            Err(e) => {
                if let Some(put_on) = dirty {
                    self.dirty_pictures().entry(pool).or_insert(put_on);
                }
                return Err(e);
            }
        };
        match (dirty.flatten(), now) {
            (Some(old), Some(new)) if old != new => Err(remote(
                ErrorCode::ServerRestarted,
                format!(
                    "the server at {} restarted (server instance {old:016x}, now {new:016x}): pictures put into pool \
                     {pool} since its last sync_pictures may be lost",
                    self.data.ep.describe()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Pages through a listing.
    fn pages<T, K: Copy>(
        &self,
        mut page: impl FnMut(Option<K>) -> Result<(Vec<T>, bool)>,
        key: impl Fn(&T) -> K,
    ) -> Result<Vec<T>> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let (items, more) = page(after)?;
            after = items.last().map(&key).or(after);
            let empty = items.is_empty();
            all.extend(items);
            if !more || empty {
                return Ok(all);
            }
        }
    }
}

/// The remote backend.
#[derive(Debug)]
struct RemoteBackend {
    inner: Arc<Inner>,
}

/// `match` on a request's reply: the value, or a `Protocol` error for any
/// other answer.
macro_rules! call {
    ($self:ident, $req:expr, $pat:pat => $out:expr) => {
        match $self.inner.call(&$req)? {
            $pat => Ok($out),
            other => Err(unexpected(&other)),
        }
    };
}

impl RemoteBackend {
    /// Encodes a picture put straight from the caller's slice (one copy,
    /// into the frame) and sends it on a data connection; the picture's id
    /// and the server instance that stored it.
    fn put(&self, pool: PoolId, meta: &PictureMeta, data: &[u8], sync: bool) -> Result<(PictureId, Option<u64>)> {
        self.inner.check_open()?;
        let (reply, instance) = self.inner.data.with(|c| {
            let id = c.next_id();
            let frame = put_picture_frame(id, pool, meta, data, sync, c.max_body())
                .map_err(|e| Failure { error: e, fatal: false })?;
            c.call_frame(&frame, id).map(|m| (m, c.instance()))
        })?;
        match reply {
            ServerMessage::Reply(Reply::PutPicture { id }) => Ok((id, instance)),
            ServerMessage::Reply(other) => Err(unexpected(&other)),
            other => Err(remote(ErrorCode::Protocol, format!("unexpected answer: {other:?}"))),
        }
    }

    fn poll_once(&self, after: u64, max: u32, wait: Duration) -> Result<(Vec<Event>, u64)> {
        self.inner.check_open()?;
        let wait_ms = u32::try_from(wait.as_millis()).unwrap_or(u32::MAX).min(MAX_EVENT_WAIT_MS);
        let old = self.inner.old_event_poll.load(Ordering::Relaxed);
        let req = if old {
            Request::PollEvents { after_seq: after, max, wait_ms }
        } else {
            Request::PollAllEvents { after_seq: after, max, wait_ms }
        };
        let timeout = self.inner.request_timeout;
        let reply = self.inner.sig.with(|c| {
            c.set_read_timeout(timeout + Duration::from_millis(u64::from(wait_ms)))?;
            let r = c.call(&req);
            // Back to the usual timeout before the connection is reused.
            c.set_read_timeout(timeout)?;
            r
        });
        let reply = match reply {
            Err(e) if !old && e.code() == ErrorCode::UnknownRequest => {
                // A server before revision 1.2: its events, without camera status.
                self.inner.old_event_poll.store(true, Ordering::Relaxed);
                return self.poll_once(after, max, wait);
            }
            r => r?,
        };
        match reply {
            ServerMessage::Reply(
                Reply::PollEvents { events, latest_seq } | Reply::PollAllEvents { events, latest_seq },
            ) => Ok((events, latest_seq)),
            ServerMessage::Reply(other) => Err(unexpected(&other)),
            other => Err(remote(ErrorCode::Protocol, format!("unexpected answer: {other:?}"))),
        }
    }
}

/// The frame of a `put_picture` request, encoded from a borrowed slice
/// (the body is `Request::PutPicture`'s, field for field; a test checks
/// they are the same bytes).
fn put_picture_frame(
    id: u32,
    pool: PoolId,
    meta: &PictureMeta,
    data: &[u8],
    sync: bool,
    max_body: u32,
) -> Result<Bytes> {
    let mut w = Writer::for_frame_with_capacity(2048 + data.len());
    pool.put(&mut w);
    meta.put(&mut w);
    w.bytes(data);
    w.bool(sync);
    w.into_frame(Kind::Request, op::PUT_PICTURE, id, max_body).map_err(|e| match e {
        // The picture's size is what is wrong, as the embedded engine says.
        ProtoError::FrameTooLarge { .. } => remote(
            ErrorCode::PictureSize,
            format!("picture of {} bytes refused: the server accepts requests of at most {max_body} bytes", data.len()),
        ),
        e => e.into(),
    })
}

/// `Unsupported`, saying what and why.
fn unsupported(what: &str, why: &str) -> Error {
    remote(ErrorCode::Unsupported, format!("{what} is not available in remote mode: {why}"))
}

impl Backend for RemoteBackend {
    fn initialize_space(&self, spec: SpaceSpec) -> Result<Box<dyn SpaceJobHandle>> {
        let (job, space) =
            call!(self, Request::InitializeSpace { spec }, Reply::InitializeSpace { job, space } => (job, space))?;
        Ok(Box::new(job::RemoteJob::new(Arc::clone(&self.inner), job, space)))
    }
    fn restore_space(&self, path: &Path) -> Result<Box<dyn SpaceJobHandle>> {
        let req = Request::RestoreSpace { path: path.to_path_buf() };
        let (job, space) = call!(self, req, Reply::RestoreSpace { job, space } => (job, space))?;
        Ok(Box::new(job::RemoteJob::new(Arc::clone(&self.inner), job, space)))
    }
    fn spaces(&self) -> Result<Vec<SpaceInfo>> {
        call!(self, Request::ListSpaces {}, Reply::ListSpaces { spaces } => spaces)
    }
    fn space(&self, id: SpaceId) -> Result<SpaceInfo> {
        call!(self, Request::GetSpace { space: id }, Reply::GetSpace { space } => space)
    }
    fn delete_space(&self, id: SpaceId) -> Result<()> {
        call!(self, Request::DeleteSpace { space: id }, Reply::DeleteSpace {} => ())
    }
    fn reinitialize_space(&self, id: SpaceId, confirm: Option<WipeConfirmation>) -> Result<()> {
        let req = Request::ReinitializeSpace { space: id, confirm: confirm.is_some() };
        call!(self, req, Reply::ReinitializeSpace {} => ())
    }

    fn create_pool(&self, spec: PoolSpec) -> Result<PoolId> {
        call!(self, Request::CreatePool { spec }, Reply::CreatePool { pool } => pool)
    }
    fn edit_pool(&self, id: PoolId, edit: PoolEdit) -> Result<()> {
        call!(self, Request::EditPool { pool: id, edit }, Reply::EditPool {} => ())
    }
    fn delete_pool(&self, id: PoolId) -> Result<()> {
        call!(self, Request::DeletePool { pool: id }, Reply::DeletePool {} => ())
    }
    fn pools(&self) -> Result<Vec<PoolInfo>> {
        call!(self, Request::ListPools {}, Reply::ListPools { pools } => pools)
    }
    fn pool(&self, id: PoolId) -> Result<PoolInfo> {
        call!(self, Request::GetPool { pool: id }, Reply::GetPool { pool } => pool)
    }
    fn thresholds(&self) -> Result<Thresholds> {
        call!(self, Request::GetThresholds {}, Reply::GetThresholds { thresholds } => thresholds)
    }
    fn set_thresholds(&self, t: Thresholds) -> Result<()> {
        call!(self, Request::SetThresholds { thresholds: t }, Reply::SetThresholds {} => ())
    }

    fn register_stream(&self, spec: StreamSpec) -> Result<StreamId> {
        call!(self, Request::RegisterStream { spec }, Reply::RegisterStream { stream } => stream)
    }
    fn find_stream(&self, camera_id: &str, channel: u32, kind: StreamKind) -> Result<Option<StreamId>> {
        let req = Request::FindStream { camera_id: camera_id.to_owned(), channel, kind };
        call!(self, req, Reply::FindStream { stream } => stream)
    }
    fn streams(&self) -> Result<Vec<StreamInfo>> {
        self.inner.pages(
            |after| call!(self, Request::ListStreams { after, limit: MAX_PAGE }, Reply::ListStreams { streams, more } => (streams, more)),
            |s: &StreamInfo| s.config.id,
        )
    }
    fn stream(&self, id: StreamId) -> Result<StreamInfo> {
        call!(self, Request::GetStream { stream: id }, Reply::GetStream { stream } => stream)
    }
    // The `Closed` check is made under the slot's lock: `close` sets the
    // flag and then takes every slot's lock, so a call either comes before
    // (and `close` syncs its frames) or fails.
    fn append(&self, stream: StreamId, ts: Timestamp, key: bool, data: Bytes) -> Result<()> {
        let max_body = self.inner.max_body();
        let mut slot = self.inner.slot(stream);
        self.inner.check_open()?;
        slot.append(&self.inner.data.ep, max_body, stream, ts, key, data)
    }
    fn flush(&self, stream: StreamId) -> Result<()> {
        let mut slot = self.inner.slot(stream);
        self.inner.check_open()?;
        slot.flush(&self.inner.data.ep, stream)
    }
    fn sync(&self, stream: StreamId) -> Result<()> {
        let mut slot = self.inner.slot(stream);
        self.inner.check_open()?;
        slot.sync(&self.inner.data.ep, stream)
    }
    fn sync_streams(&self, streams: &[StreamId]) -> Result<()> {
        self.inner.check_open()?;
        if streams.is_empty() {
            return Ok(());
        }
        let n = self.inner.slots.len();
        let mut by_slot: Vec<Vec<StreamId>> = vec![Vec::new(); n];
        for &s in streams {
            if let Some(v) = by_slot.get_mut(self.inner.slot_index(s)) {
                if !v.contains(&s) {
                    v.push(s);
                }
            }
        }
        let ep = &self.inner.data.ep;
        // Locked in index order (as everywhere): no deadlock.
        let mut guards: Vec<(MutexGuard<'_, Slot>, Vec<StreamId>)> = self
            .inner
            .slots
            .iter()
            .zip(by_slot)
            .filter(|(_, v)| !v.is_empty())
            .map(|(m, v)| (lock_slot(m), v))
            .collect();
        self.inner.check_open()?;
        let mut errors = Vec::new();
        let mut started = Vec::new();
        for (i, (g, v)) in guards.iter_mut().enumerate() {
            match g.start_sync(ep, v) {
                Ok(id) => started.push((i, id)),
                Err(e) => errors.push(e),
            }
        }
        for (i, id) in started {
            if let Some((g, _)) = guards.get_mut(i) {
                if let Err(e) = g.finish_sync(ep, id) {
                    errors.push(e);
                }
            }
        }
        let mut sticky: Vec<Error> = guards
            .iter_mut()
            .flat_map(|(g, v)| v.iter().filter_map(|s| g.take_error(*s)).collect::<Vec<_>>())
            .collect();
        sticky.extend(errors);
        first_of(sticky)
    }
    fn sync_all(&self) -> Result<()> {
        self.inner.sync_everything(Scope::All)
    }
    fn read(&self, stream: StreamId, start: Timestamp, end: Timestamp) -> Result<FrameStream> {
        self.inner.check_open()?;
        Ok(Box::new(read::RemoteFrames::start(Arc::clone(&self.inner.data), stream, start, end)?))
    }
    fn recorded_ranges(
        &self,
        stream: StreamId,
        start: Timestamp,
        end: Timestamp,
        tolerance_us: i64,
    ) -> Result<Vec<(Timestamp, Timestamp)>> {
        let req = Request::RecordedRanges { stream, start, end, tolerance_us };
        call!(self, req, Reply::RecordedRanges { ranges } => ranges)
    }

    fn lock(&self, stream: StreamId, start: Timestamp, end: Timestamp, expires: Option<Timestamp>) -> Result<LockId> {
        call!(self, Request::LockStream { stream, start, end, expires }, Reply::LockStream { lock } => lock)
    }
    fn lock_pictures(
        &self,
        pool: PoolId,
        camera_id: &str,
        start: Timestamp,
        end: Timestamp,
        expires: Option<Timestamp>,
    ) -> Result<LockId> {
        let req = Request::LockPictures { pool, camera_id: camera_id.to_owned(), start, end, expires };
        call!(self, req, Reply::LockPictures { lock } => lock)
    }
    fn locks(&self) -> Result<Vec<LockConfig>> {
        self.inner.pages(
            |after| call!(self, Request::ListLocks { after, limit: MAX_PAGE }, Reply::ListLocks { locks, more } => (locks, more)),
            |l: &LockConfig| l.id,
        )
    }
    fn extend_lock(&self, id: LockId, expires: Option<Timestamp>) -> Result<()> {
        call!(self, Request::ExtendLock { lock: id, expires }, Reply::ExtendLock {} => ())
    }
    fn unlock(&self, id: LockId) -> Result<()> {
        call!(self, Request::Unlock { lock: id }, Reply::Unlock {} => ())
    }

    fn today(&self) -> Result<Date> {
        match call!(self, Request::Today {}, Reply::Today { date } => date) {
            Err(e) if e.code() == ErrorCode::UnknownRequest => {} // a server before `today`: below
            r => return r,
        }
        let first =
            call!(self, Request::ListStreams { after: None, limit: 1 }, Reply::ListStreams { streams, .. } => streams)?;
        match first.first() {
            Some(s) => Ok(self.inspect_today(s.config.id)?.date),
            None => Err(unsupported(
                "today()",
                "this server has no `today` operation (it is older than this client); the date is read from the \
                 inspection of a stream, and none is registered",
            )),
        }
    }
    fn inspect_day(&self, stream: StreamId, date: Date) -> Result<DayInspection> {
        call!(self, Request::InspectDay { stream, date }, Reply::InspectDay { day } => day)
    }
    fn inspect_today(&self, stream: StreamId) -> Result<DayInspection> {
        call!(self, Request::InspectToday { stream }, Reply::InspectToday { day } => day)
    }
    fn inspect_month(&self, stream: StreamId, year: i32, month: u32) -> Result<Vec<DaySummary>> {
        call!(self, Request::InspectMonth { stream, year, month }, Reply::InspectMonth { days } => days)
    }

    fn put_picture(&self, pool: PoolId, meta: &PictureMeta, data: &[u8]) -> Result<PictureId> {
        let (id, instance) = self.put(pool, meta, data, false)?;
        self.inner.dirty_pictures().entry(pool).or_insert(instance);
        Ok(id)
    }
    fn sync_pictures(&self, pool: PoolId) -> Result<()> {
        self.inner.check_open()?;
        let dirty = self.inner.dirty_pictures().remove(&pool);
        self.inner.sync_pool_pictures(pool, dirty)
    }
    fn get_picture(&self, id: &PictureId) -> Result<Picture> {
        call!(self, Request::GetPicture { id: *id }, Reply::GetPicture { picture } => picture)
    }
    fn get_picture_range(&self, id: &PictureId, offset: u64, len: u64) -> Result<Picture> {
        call!(self, Request::GetPictureRange { id: *id, offset, len }, Reply::GetPictureRange { picture } => picture)
    }
    fn head_picture(&self, id: &PictureId) -> Result<PictureInfo> {
        call!(self, Request::HeadPicture { id: *id }, Reply::HeadPicture { info } => info)
    }
    fn delete_picture(&self, id: &PictureId) -> Result<()> {
        call!(self, Request::DeletePicture { id: *id }, Reply::DeletePicture {} => ())
    }
    fn picture_id_for_key(&self, key: &PictureKey) -> Result<PictureId> {
        call!(self, Request::PictureIdForKey { key: key.clone() }, Reply::PictureIdForKey { id } => id)
    }
    fn get_picture_by_key(&self, key: &PictureKey) -> Result<Picture> {
        call!(self, Request::GetPictureByKey { key: key.clone() }, Reply::GetPictureByKey { picture } => picture)
    }
    fn delete_picture_by_key(&self, key: &PictureKey) -> Result<()> {
        call!(self, Request::DeletePictureByKey { key: key.clone() }, Reply::DeletePictureByKey {} => ())
    }
    fn list_keys(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, PictureId)>> {
        // The server answers at most MAX_PAGE per request: page until
        // `limit` is reached or a page comes back short.
        let mut out: Vec<(String, PictureId)> = Vec::new();
        let mut cursor = after.map(str::to_owned);
        loop {
            let want = limit.saturating_sub(out.len()).clamp(1, MAX_PAGE as usize);
            let req = Request::ListKeys {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                after: cursor.clone(),
                limit: want as u32,
            };
            let keys = call!(self, req, Reply::ListKeys { keys } => keys)?;
            let short = keys.len() < want;
            cursor = keys.last().map(|(k, _)| k.clone()).or(cursor);
            out.extend(keys);
            if short || out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
        }
    }
    fn list_pictures(&self, q: &PictureQuery) -> Result<Vec<PictureInfo>> {
        let mut out: Vec<PictureInfo> = Vec::new();
        let mut query = q.clone();
        loop {
            let want = q.limit.saturating_sub(out.len()).clamp(1, MAX_PAGE as usize);
            query.limit = want;
            let page = call!(self, Request::ListPictures { query: query.clone() }, Reply::ListPictures { pictures } => pictures)?;
            let short = page.len() < want;
            if let Some(last) = page.last() {
                query.after = Some((last.meta.captured_at, last.id));
            }
            out.extend(page);
            if short || out.len() >= q.limit {
                out.truncate(q.limit);
                return Ok(out);
            }
        }
    }

    fn poll_events(&self, after: u64, max: usize, wait: Duration) -> Result<Vec<Event>> {
        let deadline = Instant::now() + wait;
        let max32 = u32::try_from(max).unwrap_or(u32::MAX).max(1);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (mut events, _) = self.poll_once(after, max32, left)?;
            if !events.is_empty() || left.is_zero() || Instant::now() >= deadline {
                events.truncate(max);
                return Ok(events);
            }
        }
    }
    fn last_event_seq(&self) -> Result<u64> {
        Ok(self.poll_once(u64::MAX, 1, Duration::ZERO)?.1)
    }

    fn check(&self, repair: bool) -> Result<CheckReport> {
        call!(self, Request::Check { repair }, Reply::Check { report } => report)
    }

    fn list_schedules(&self, search: &str, offset: u32, limit: u32) -> Result<(String, u32)> {
        let req = Request::ListSchedules { search: search.to_owned(), offset, limit };
        call!(self, req, Reply::ListSchedules { json, total } => (json, total))
    }
    fn get_schedule(&self, id: i64) -> Result<String> {
        call!(self, Request::GetSchedule { schedule: id }, Reply::GetSchedule { json } => json)
    }
    fn create_schedule(&self, json: &str) -> Result<String> {
        call!(self, Request::CreateSchedule { json: json.to_owned() }, Reply::CreateSchedule { json } => json)
    }
    fn replace_schedule(&self, id: i64, json: &str) -> Result<String> {
        let req = Request::ReplaceSchedule { schedule: id, json: json.to_owned() };
        call!(self, req, Reply::ReplaceSchedule { json } => json)
    }
    fn delete_schedule(&self, id: i64) -> Result<()> {
        call!(self, Request::DeleteSchedule { schedule: id }, Reply::DeleteSchedule {} => ())
    }
    fn schedule_event(&self, id: i64, start: bool) -> Result<String> {
        call!(self, Request::ScheduleEvent { schedule: id, start }, Reply::ScheduleEvent { json } => json)
    }
    fn run_maintenance(&self) -> Result<()> {
        self.inner.check_open()?;
        Err(unsupported(
            "run_maintenance()",
            "the server runs maintenance itself and the SDK protocol does not offer it",
        ))
    }
    fn checkpoint(&self) -> Result<()> {
        self.inner.check_open()?;
        Err(unsupported("checkpoint()", "the server writes checkpoints itself and the SDK protocol does not offer it"))
    }
    fn check_open(&self) -> Result<()> {
        self.inner.check_open()
    }
    fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let synced = self.inner.sync_everything(Scope::Own);
        for m in &self.inner.slots {
            lock_slot(m).close();
        }
        self.inner.sig.clear();
        self.inner.data.clear();
        synced
    }
}

#[cfg(test)]
mod tests;
