//! A camera's writer: a thread of its own between the camera's session
//! (async, on the runtime) and the engine, whose appends can block at a
//! segment boundary and whose syncs wait for the disk. It registers the
//! stream, keeps its codec config current, appends, syncs about every
//! second, and after a refused append waits for the next key frame (a
//! stream resumes only where it can be decoded).

use crate::frame::Frame;
use crate::schedule::StreamChoice;
use crate::status::RecordingState;
use crate::Shared;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use pstor_core::{Engine, PoolId, StreamId, StreamKind, StreamSpec};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the session hands the writer.
#[derive(Debug)]
pub enum WriterMsg {
    /// New codec parameters.
    Config {
        /// "H264" / "H265".
        codec: &'static str,
        /// avcC / hvcC.
        config: Vec<u8>,
    },
    /// A frame to store.
    Frame(Frame),
    /// Sync what was written and stop.
    Stop,
}

/// The stream a writer records into.
#[derive(Debug, Clone)]
pub struct Target {
    /// Camera id.
    pub camera_id: String,
    /// Channel.
    pub channel: u32,
    /// Main or sub.
    pub stream: StreamChoice,
    /// Pool.
    pub pool: u32,
}

/// The sending side, owned by the camera task.
#[derive(Debug)]
pub struct WriterHandle {
    tx: Sender<WriterMsg>,
    thread: Option<JoinHandle<()>>,
    /// Drop frames until a key frame after the queue overflowed.
    resync: bool,
}

impl WriterHandle {
    /// Starts a writer thread with a queue of `queue` messages.
    pub fn start(
        engine: Engine,
        target: Target,
        shared: Arc<Shared>,
        queue: usize,
        sync_every: Duration,
    ) -> WriterHandle {
        let (tx, rx) = crossbeam_channel::bounded(queue.max(1));
        let name = format!("rec-{}", target.camera_id.chars().take(10).collect::<String>());
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                Writer { engine, target, shared, stream: None, config: None, need_key: true, sync_every }.run(rx)
            })
            .ok();
        WriterHandle { tx, thread, resync: false }
    }

    /// Queues a frame; a full queue (the engine slower than the camera)
    /// drops frames up to the next key frame, counted.
    pub fn frame(&mut self, frame: Frame, shared: &Shared) {
        if self.resync && !frame.key {
            shared.update(|s| s.frames_dropped += 1);
            return;
        }
        self.resync = false;
        match self.tx.try_send(WriterMsg::Frame(frame)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.resync = true;
                shared.update(|s| s.frames_dropped += 1);
            }
        }
    }

    /// Queues new codec parameters (waits for room: they must not be lost).
    pub fn config(&self, codec: &'static str, config: Vec<u8>) {
        let _ = self.tx.send(WriterMsg::Config { codec, config });
    }

    /// Syncs and stops the thread, waiting for it.
    pub fn stop(mut self) {
        let _ = self.tx.send(WriterMsg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Writer {
    engine: Engine,
    target: Target,
    shared: Arc<Shared>,
    stream: Option<StreamId>,
    config: Option<(&'static str, Vec<u8>)>,
    need_key: bool,
    sync_every: Duration,
}

impl Writer {
    fn run(mut self, rx: Receiver<WriterMsg>) {
        let mut last_sync = Instant::now();
        let mut unsynced = false;
        loop {
            let wait = self.sync_every.saturating_sub(last_sync.elapsed());
            match rx.recv_timeout(wait) {
                Ok(WriterMsg::Frame(f)) => unsynced |= self.append(f),
                Ok(WriterMsg::Config { codec, config }) => {
                    self.config = Some((codec, config));
                    self.apply_config();
                }
                Ok(WriterMsg::Stop) | Err(RecvTimeoutError::Disconnected) => {
                    if unsynced {
                        self.sync();
                    }
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if last_sync.elapsed() >= self.sync_every {
                if unsynced {
                    self.sync();
                    unsynced = false;
                }
                last_sync = Instant::now();
            }
        }
    }

    fn kind(&self) -> StreamKind {
        match self.target.stream {
            StreamChoice::Main => StreamKind::Main,
            StreamChoice::Sub => StreamKind::Sub,
        }
    }

    /// The engine stream, registered on first use with the codec config
    /// known then.
    fn stream(&mut self) -> Result<StreamId, String> {
        if let Some(s) = self.stream {
            return Ok(s);
        }
        let t = &self.target;
        let id = match self.engine.find_stream(&t.camera_id, t.channel, self.kind()) {
            Some(id) => {
                let info = self.engine.stream(id).map_err(|e| e.to_string())?;
                if info.config.pool.0 != t.pool {
                    return Err(format!(
                        "camera {} channel {} is already recorded into resource pool {}, not {}",
                        t.camera_id, t.channel, info.config.pool, t.pool
                    ));
                }
                id
            }
            None => {
                let (codec, config) = self.config.clone().unwrap_or(("", Vec::new()));
                let spec = StreamSpec {
                    pool: PoolId(t.pool),
                    camera_id: t.camera_id.clone(),
                    channel: t.channel,
                    kind: self.kind(),
                    codec: codec.into(),
                    codec_config: config,
                };
                self.engine.register_stream(spec).map_err(|e| e.to_string())?
            }
        };
        self.stream = Some(id);
        self.shared.update(|s| s.stream_id = Some(id.0.to_string()));
        self.apply_config();
        Ok(id)
    }

    fn apply_config(&mut self) {
        let (Some(stream), Some((codec, config))) = (self.stream, &self.config) else { return };
        if let Err(e) = self.engine.set_codec_config(stream, codec, config) {
            tracing::warn!(camera = %self.target.camera_id, "codec config not saved: {e}");
        }
    }

    /// Appends; true when something was written.
    fn append(&mut self, f: Frame) -> bool {
        if self.need_key && !f.key {
            self.shared.update(|s| s.frames_dropped += 1);
            return false;
        }
        let stream = match self.stream() {
            Ok(s) => s,
            Err(e) => {
                self.failed(e);
                return false;
            }
        };
        let len = f.data.len() as u64;
        match self.engine.append(stream, f.ts, f.key, f.data) {
            Ok(()) => {
                self.need_key = false;
                self.shared.update(|s| {
                    s.frames_recorded += 1;
                    s.bytes_recorded += len;
                    s.last_stored_ts = Some(f.ts);
                });
                self.shared.recovered(RecordingState::RecordingError);
                true
            }
            Err(e) => {
                self.failed(e.to_string());
                false
            }
        }
    }

    fn sync(&mut self) {
        let Some(stream) = self.stream else { return };
        if let Err(e) = self.engine.sync(stream) {
            self.failed(e.to_string());
        }
    }

    fn failed(&mut self, reason: String) {
        self.need_key = true;
        self.shared.update(|s| s.frames_dropped += 1);
        self.shared.set_state(RecordingState::RecordingError, Some(reason));
    }
}
