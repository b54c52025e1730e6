//! One connection: the handshake, then three parts joined by bounded
//! queues, so the memory a connection holds stays bounded whatever the
//! client does:
//!
//! - the **reader** (a tokio task) decodes frames into a queue of at most
//!   `max_in_flight` requests and `queue_bytes` of bodies; when it is full
//!   the reader stops reading the socket and TCP pushes back on the client;
//! - the **executor** (a dedicated std thread: engine calls block on disk
//!   I/O and fsync, which must not run on the async runtime's few workers)
//!   runs the requests in order and puts their answer frames in a queue of
//!   [`REPLY_QUEUE`] frames, waiting when it is full: a client that does not
//!   read stalls only its own executor;
//! - the **writer** (a tokio task) writes the answers to the socket.
//!
//! Closing: the reader stops (end of input, a fatal error, idle timeout,
//! shutdown) and drops its queue; the executor finishes the requests queued
//! before, sends the last error if there is one and stops; the writer
//! flushes, sends FIN; the socket is drained briefly so the last error frame
//! is not lost to a reset.

use crate::buffers::{BufferPool, POOLED_MIN};
use crate::config::Limits;
use crate::credentials::KeyRing;
use crate::dispatch::{self, Context, Prepared};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use pstor_core::ErrorCode;
use pstor_proto::frame::{decode_frame_from, peek_header};
use pstor_proto::{
    op, ErrorReply, FrameHeader, Kind, Port, ProtoError, RawFrame, Request, ServerHandshake, ServerProcess,
    HANDSHAKE_MAX_BODY, HEADER_LEN,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::timeout;
use tracing::{debug, info, warn, Instrument};

/// Answer frames queued between a connection's executor and its writer.
pub const REPLY_QUEUE: usize = 4;
/// Answers shorter than this that are ready together go out in one write.
const COALESCE_BELOW: usize = 4096;
/// What the reader reads into its buffer after a large frame: a header
/// and the start of the next body (the rest goes to a pooled buffer).
const AFTER_LARGE_READ: usize = 4096;
/// How long a closing connection keeps reading (and discarding) what the
/// client still sends, so that closing does not reset the connection and
/// destroy the last error frame in flight.
const LINGER: Duration = Duration::from_secs(2);
/// At most this much is discarded while lingering.
const LINGER_BYTES: usize = 16 << 20;

/// What every connection shares.
#[derive(Debug)]
pub struct ConnShared {
    /// The engine and its companions.
    pub ctx: Arc<Context>,
    /// Address restrictions (the SDK ports' list is checked at accept).
    pub access: Arc<crate::access::AccessControl>,
    /// Accepted key pairs.
    pub keys: Arc<KeyRing>,
    /// Receive buffers for large bodies.
    pub buffers: Arc<BufferPool>,
    /// Limits.
    pub limits: Limits,
    /// Sent in Hello.
    pub server_version: String,
    /// Sent in Hello: this server process's instance id (drawn at start)
    /// and idle timeout.
    pub process: ServerProcess,
}

/// A request or a ready answer, queued in order for the executor.
enum Job {
    /// Execute it; `budget` is its share of `queue_bytes`.
    Request { id: u32, req: Prepared, _budget: OwnedSemaphorePermit },
    /// Send this frame (an unknown operation's error); carry on.
    Answer(Bytes),
    /// Send this frame (a fatal error), then stop.
    Last(Bytes),
}

/// How a connection ended.
#[derive(Debug)]
enum End {
    /// The client closed it.
    Closed,
    /// The client broke the protocol (an error frame was sent).
    Broken(ProtoError),
    /// Nothing happened for the idle timeout.
    Idle,
    /// The server is shutting down.
    Shutdown,
    /// The answers could not be delivered (the writer or executor stopped).
    Gone,
    /// A socket error.
    Io(std::io::Error),
    /// The handshake failed.
    Handshake(String),
}

/// Serves one accepted connection to its end. `permit` is its place under
/// `max_connections`, held until its executor has stopped too.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    port: Port,
    shared: Arc<ConnShared>,
    permit: OwnedSemaphorePermit,
    shutdown: watch::Receiver<bool>,
) {
    let span = tracing::info_span!("conn", %peer, port = port.name(), key = tracing::field::Empty);
    async move {
        info!("connection opened");
        match run(stream, port, &shared, permit, shutdown).await {
            End::Closed => info!("connection closed by the client"),
            End::Shutdown => info!("connection closed: server shutting down"),
            End::Idle => info!("connection closed: idle timeout"),
            End::Gone => info!("connection closed: the client stopped taking answers"),
            End::Broken(e) => warn!(error = %e, "connection closed: protocol error"),
            End::Io(e) => info!(error = %e, "connection closed: socket error"),
            End::Handshake(why) => warn!(reason = %why, "connection closed: handshake failed"),
        }
    }
    .instrument(span)
    .await
}

/// Refuses a connection over the limit: a `PSTOR_BUSY` error frame instead
/// of Hello, then close.
pub async fn refuse(mut stream: TcpStream, max: u32) {
    let frame =
        ErrorReply::new(ErrorCode::Busy, format!("the server is at its limit of {max} connections")).to_frame(0, 0);
    let _ = timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(&frame).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

pub(crate) async fn wait_shutdown(rx: &mut watch::Receiver<bool>) {
    // A dropped sender means the server is gone: treat as shutdown.
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn run(
    stream: TcpStream,
    port: Port,
    shared: &Arc<ConnShared>,
    permit: OwnedSemaphorePermit,
    mut shutdown: watch::Receiver<bool>,
) -> End {
    let limits = &shared.limits;
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = BytesMut::with_capacity(8 << 10);
    let hs = ServerHandshake::new(port, &shared.server_version, limits.max_body(), limits.max_in_flight)
        .with_process(shared.process);
    let key = tokio::select! {
        r = timeout(limits.handshake_timeout(), handshake(&mut rd, &mut wr, &mut buf, &hs, &shared.keys)) => match r {
            Ok(Ok(key)) => key,
            Ok(Err(end)) => {
                linger(&mut rd).await;
                return end;
            }
            Err(_) => {
                let why = format!("no authentication within {} s", limits.handshake_timeout_secs);
                let frame = ErrorReply::new(ErrorCode::Timeout, why.clone()).to_frame(op::AUTH, 0);
                let _ = timeout(Duration::from_secs(1), wr.write_all(&frame)).await;
                let _ = wr.shutdown().await;
                linger(&mut rd).await;
                return End::Handshake(why);
            }
        },
        _ = wait_shutdown(&mut shutdown) => return End::Shutdown,
    };
    tracing::Span::current().record("key", key.as_str());
    info!("authenticated");
    let mut shutdown = close_on_revocation(shared, key, shutdown);

    let permit = Arc::new(permit);
    let (tx, rx) = mpsc::channel::<Job>(limits.max_in_flight.max(1) as usize);
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(REPLY_QUEUE);
    let busy = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn(write_loop(wr, out_rx, limits.idle_timeout()).in_current_span());
    let span = tracing::Span::current();
    let spawned = {
        let (ctx, busy, permit) = (Arc::clone(&shared.ctx), Arc::clone(&busy), Arc::clone(&permit));
        std::thread::Builder::new().name("pstor-conn".into()).spawn(move || {
            let _entered = span.enter();
            execute_loop(&ctx, rx, out_tx, &busy);
            drop(permit);
        })
    };
    if let Err(e) = spawned {
        warn!(error = %e, "cannot start the connection's executor thread");
        return End::Io(e);
    }
    let reader = Reader {
        port,
        tx: &tx,
        buffers: &shared.buffers,
        budget: Arc::new(Semaphore::new(limits.queue_bytes() as usize)),
        queue_bytes: limits.queue_bytes(),
        max_body: limits.max_body(),
        busy: &busy,
        idle: limits.idle_timeout(),
    };
    let end = reader.run(&mut rd, buf, &mut shutdown).await;
    drop(tx);
    let end = match writer.await {
        Ok(Err(e)) if matches!(end, End::Closed | End::Shutdown) => End::Io(e),
        _ => end,
    };
    if matches!(end, End::Broken(_) | End::Idle) {
        linger(&mut rd).await;
    }
    end
}

/// A stop signal for one connection: the server's shutdown, or the reset
/// of the key pair it authenticated with (manual 3.8.5: resetting the keys
/// disconnects those using the old pair).
fn close_on_revocation(
    shared: &Arc<ConnShared>,
    key: String,
    mut server: watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    let keys = Arc::clone(&shared.keys);
    let secret = keys.secret(&key);
    let mut changes = keys.watch();
    tokio::spawn(
        async move {
            loop {
                tokio::select! {
                    _ = wait_shutdown(&mut server) => break,
                    _ = tx.closed() => return,
                    r = changes.changed() => {
                        if r.is_err() {
                            break;
                        }
                        if keys.secret(&key) != secret {
                            info!("the key pair was reset: closing the connection");
                            break;
                        }
                    }
                }
            }
            let _ = tx.send(true);
        }
        .in_current_span(),
    );
    rx
}

/// Reads frames until one is complete (or the peer closes).
async fn read_frame(rd: &mut OwnedReadHalf, buf: &mut BytesMut, max_body: u32) -> Result<RawFrame, End> {
    loop {
        match decode_frame_from(buf, max_body) {
            Ok(Some(f)) => return Ok(f),
            Ok(None) => {}
            Err(e) => return Err(End::Broken(e)),
        }
        buf.reserve(4096);
        match rd.read_buf(buf).await {
            Ok(0) => return Err(End::Closed),
            Ok(_) => {}
            Err(e) => return Err(End::Io(e)),
        }
    }
}

/// Hello, Auth, AuthOk (or an error frame). Bytes the client sent after its
/// Auth stay in `buf` for the reader.
async fn handshake(
    rd: &mut OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    buf: &mut BytesMut,
    hs: &ServerHandshake,
    keys: &KeyRing,
) -> Result<String, End> {
    wr.write_all(&hs.hello_frame()).await.map_err(End::Io)?;
    let frame = match read_frame(rd, buf, HANDSHAKE_MAX_BODY).await {
        Ok(f) => f,
        Err(End::Broken(e)) => {
            let _ = wr.write_all(&ErrorReply::from(e.clone()).to_frame(op::AUTH, 0)).await;
            let _ = wr.shutdown().await;
            return Err(End::Handshake(e.to_string()));
        }
        Err(end) => return Err(end),
    };
    match hs.verify_frame(&frame, |k| keys.secret(k)) {
        Ok((key, ok)) => {
            wr.write_all(&ok).await.map_err(End::Io)?;
            Ok(key)
        }
        Err(e) => {
            let reply = match e {
                ProtoError::AuthFailed(_) => pstor_proto::auth::auth_failed_frame(&e),
                _ => ErrorReply::from(e.clone()).to_frame(op::AUTH, frame.header.request_id),
            };
            let _ = wr.write_all(&reply).await;
            let _ = wr.shutdown().await;
            Err(End::Handshake(e.to_string()))
        }
    }
}

/// Why the reader stops taking frames.
enum Stop {
    /// The client sent a bad frame: answer with an error frame, then close.
    Bad(ProtoError),
    /// The connection ends this way.
    End(End),
}

/// The reading side of an authenticated connection.
struct Reader<'a> {
    port: Port,
    tx: &'a mpsc::Sender<Job>,
    buffers: &'a Arc<BufferPool>,
    budget: Arc<Semaphore>,
    queue_bytes: u32,
    max_body: u32,
    busy: &'a AtomicUsize,
    idle: Duration,
}

impl Reader<'_> {
    async fn run(&self, rd: &mut OwnedReadHalf, mut buf: BytesMut, shutdown: &mut watch::Receiver<bool>) -> End {
        // After a large frame another one is likely: read little into `buf`
        // (its header), so its body is not read there and moved after.
        let mut after_large = false;
        loop {
            // Every frame that can be completed first.
            loop {
                match self.next_frame(rd, &mut buf, shutdown).await {
                    Ok(Some(frame)) => {
                        after_large = frame.body.len() >= POOLED_MIN;
                        if let Some(end) = self.queue(frame).await {
                            return end;
                        }
                    }
                    Ok(None) => break,
                    Err(Stop::End(end)) => return end,
                    Err(Stop::Bad(e)) => {
                        let frame = ErrorReply::from(e.clone()).to_frame(0, 0);
                        return match self.push(Job::Last(frame)).await {
                            true => End::Broken(e),
                            false => End::Gone,
                        };
                    }
                }
            }
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(64 << 10);
            }
            let limit = if after_large { AFTER_LARGE_READ } else { usize::MAX };
            if let Err(end) = self.read_some(rd, &mut (&mut buf).limit(limit), shutdown).await {
                if matches!(end, End::Closed) && !buf.is_empty() {
                    debug!(bytes = buf.len(), "the client closed in the middle of a frame");
                }
                return end;
            }
        }
    }

    /// The next frame: split off `buf` when it is there whole; a large body
    /// (a batch of video, a picture) is read on into a pooled buffer of its
    /// own. `None`: `buf` holds no whole frame and no large frame's header.
    async fn next_frame(
        &self,
        rd: &mut OwnedReadHalf,
        buf: &mut BytesMut,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Option<RawFrame>, Stop> {
        match peek_header(buf, self.max_body).map_err(Stop::Bad)? {
            Some(h) if h.body_len as usize >= POOLED_MIN && buf.len() < HEADER_LEN + h.body_len as usize => {
                self.read_large(rd, buf, h, shutdown).await.map(Some)
            }
            _ => decode_frame_from(buf, self.max_body).map_err(Stop::Bad),
        }
    }

    /// Reads the body of the frame whose header starts `buf` into a pooled
    /// buffer (what `buf` already holds of it is moved there first).
    async fn read_large(
        &self,
        rd: &mut OwnedReadHalf,
        buf: &mut BytesMut,
        header: FrameHeader,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<RawFrame, Stop> {
        let len = header.body_len as usize;
        let mut head = [0u8; HEADER_LEN];
        head.copy_from_slice(&buf[..HEADER_LEN]);
        buf.advance(HEADER_LEN);
        let mut body = self.buffers.take(len);
        let have = buf.len().min(len);
        body.extend_from_slice(&buf[..have]);
        buf.advance(have);
        while body.len() < len {
            let want = len - body.len();
            if let Err(end) = self.read_some(rd, &mut (&mut body).limit(want), shutdown).await {
                if matches!(end, End::Closed) {
                    debug!(bytes = HEADER_LEN + body.len(), "the client closed in the middle of a frame");
                }
                return Err(Stop::End(end));
            }
        }
        header.verify(&head, &body).map_err(Stop::Bad)?;
        Ok(RawFrame { header, body: self.buffers.share(body) })
    }

    /// Reads what the socket has into `dst` (at least one byte), or says
    /// how the connection ends: closed, shut down, idle (an error frame is
    /// queued), or its executor gone.
    async fn read_some<B: BufMut>(
        &self,
        rd: &mut OwnedReadHalf,
        dst: &mut B,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), End> {
        loop {
            tokio::select! {
                _ = wait_shutdown(shutdown) => return Err(End::Shutdown),
                _ = self.tx.closed() => return Err(End::Gone),
                r = timeout(self.idle, rd.read_buf(dst)) => match r {
                    Ok(Ok(0)) => return Err(End::Closed),
                    Ok(Ok(_)) => return Ok(()),
                    Ok(Err(e)) => return Err(End::Io(e)),
                    Err(_) if self.busy.load(Ordering::SeqCst) > 0 => {} // working, not idle
                    Err(_) => {
                        let why = format!("idle for {} s: closing", self.idle.as_secs());
                        let frame = ErrorReply::new(ErrorCode::Timeout, why).to_frame(0, 0);
                        self.push(Job::Last(frame)).await;
                        return Err(End::Idle);
                    }
                },
            }
        }
    }

    /// Queues a job for the executor; false if it is gone.
    async fn push(&self, job: Job) -> bool {
        self.busy.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(job).await.is_err() {
            self.busy.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Classifies one frame and queues what it asks; `Some` ends the
    /// connection.
    async fn queue(&self, frame: RawFrame) -> Option<End> {
        let h = frame.header;
        let fatal = |e: ProtoError, op: u16, id: u32| (Job::Last(ErrorReply::from(e.clone()).to_frame(op, id)), e);
        let job = if h.kind != Kind::Request {
            Err(fatal(ProtoError::UnexpectedKind { expected: "request", got: h.kind.name() }, h.op, h.request_id))
        } else if h.op == op::AUTH || h.op == op::HELLO {
            Err(fatal(ProtoError::Malformed("handshake frame after the handshake".into()), h.op, h.request_id))
        } else {
            match op::info(h.op) {
                None => Ok(Job::Answer(
                    ErrorReply::new(ErrorCode::UnknownRequest, format!("unknown operation {:#06x}", h.op))
                        .to_frame(h.op, h.request_id),
                )),
                Some(info) if !info.served.on(self.port) => Ok(Job::Answer(
                    ErrorReply::new(
                        ErrorCode::UnknownRequest,
                        format!(
                            "operation {} is not served on the {} port (see docs/sdk-protocol.md §5)",
                            info.name,
                            self.port.name()
                        ),
                    )
                    .to_frame(h.op, h.request_id),
                )),
                Some(_) => match Request::decode(h.op, &frame.body) {
                    Ok(req) => {
                        // Hashed now, while the body is in this core's cache.
                        let req = Prepared::new(req);
                        let n = h.body_len.clamp(1, self.queue_bytes);
                        // Waits while the queued bodies are over budget: backpressure.
                        let Ok(budget) = Arc::clone(&self.budget).acquire_many_owned(n).await else {
                            return Some(End::Gone);
                        };
                        Ok(Job::Request { id: h.request_id, req, _budget: budget })
                    }
                    Err(e) => Err(fatal(e, h.op, h.request_id)),
                },
            }
        };
        match job {
            Ok(job) => (!self.push(job).await).then_some(End::Gone),
            Err((last, e)) => Some(if self.push(last).await { End::Broken(e) } else { End::Gone }),
        }
    }
}

/// The executor: requests in order, answers into the bounded queue.
fn execute_loop(ctx: &Context, mut rx: mpsc::Receiver<Job>, out: mpsc::Sender<Bytes>, busy: &AtomicUsize) {
    let mut session = dispatch::Session::default();
    while let Some(job) = rx.blocking_recv() {
        let go_on = match job {
            Job::Request { id, req, _budget } => {
                let op = req.op();
                debug!(op = op::name(op), id, "request");
                let mut send = |frame: Bytes| out.blocking_send(frame).is_ok();
                dispatch::execute(ctx, &mut session, id, req, &mut send)
            }
            Job::Answer(frame) => out.blocking_send(frame).is_ok(),
            Job::Last(frame) => {
                let _ = out.blocking_send(frame);
                false
            }
        };
        busy.fetch_sub(1, Ordering::SeqCst);
        if !go_on {
            break;
        }
    }
}

/// The writer: answers to the socket, the small ones that are ready
/// together in one write; a client that does not take an answer's bytes
/// for the idle timeout is dropped.
async fn write_loop(mut wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Bytes>, stall: Duration) -> std::io::Result<()> {
    let mut small = BytesMut::new();
    while let Some(frame) = rx.recv().await {
        if frame.len() >= COALESCE_BELOW {
            write_within(&mut wr, &frame, stall).await?;
            continue;
        }
        small.clear();
        small.extend_from_slice(&frame);
        let mut big = None;
        while small.len() < COALESCE_BELOW {
            match rx.try_recv() {
                Ok(next) if next.len() < COALESCE_BELOW => small.extend_from_slice(&next),
                Ok(next) => {
                    big = Some(next);
                    break;
                }
                Err(_) => break,
            }
        }
        write_within(&mut wr, &small, stall).await?;
        if let Some(big) = big {
            write_within(&mut wr, &big, stall).await?;
        }
    }
    wr.shutdown().await
}

/// Writes `bytes`, or fails if the client takes none of them for `stall`.
async fn write_within(wr: &mut OwnedWriteHalf, bytes: &[u8], stall: Duration) -> std::io::Result<()> {
    match timeout(stall, wr.write_all(bytes)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the client took no answer bytes for {} s", stall.as_secs()),
        )),
    }
}

/// Reads and discards what the client still sends, until it closes, for
/// at most [`LINGER`] and [`LINGER_BYTES`].
async fn linger(rd: &mut OwnedReadHalf) {
    let _ = timeout(LINGER, async {
        let mut scratch = vec![0u8; 16 << 10];
        let mut total = 0usize;
        while total < LINGER_BYTES {
            match rd.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
}
