//! Requests: one variant per operation (docs/sdk-protocol.md §6 gives each
//! body byte by byte; the fields below are encoded in the order written).

use super::macros::messages;
use super::FRAME_OVERHEAD;
use crate::frame::GatheredFrame;
use crate::op::{Port, Served};
use crate::wire::Writer;
use crate::ProtoError;
use bytes::Bytes;
use pstor_core::{
    Date, Frame, LockId, PictureId, PictureKey, PictureMeta, PictureQuery, PoolEdit, PoolId, PoolSpec, SpaceId,
    SpaceSpec, StreamId, StreamKind, StreamSpec, Thresholds, Timestamp,
};
use std::path::PathBuf;

messages! {
    /// A request, client to server (frame kind request).
    Request {
        /// Answers at once with [`crate::Reply::Ping`].
        Ping = PING {}
        /// Every storage space.
        ListSpaces = LIST_SPACES {}
        /// One storage space.
        GetSpace = GET_SPACE {
            /// The space.
            space: SpaceId,
        }
        /// Starts initializing a folder (on the server) into a storage
        /// space; the reply carries a job id for [`Request::JobStatus`].
        InitializeSpace = INITIALIZE_SPACE {
            /// Folder, capacity, segment size.
            spec: SpaceSpec,
        }
        /// Starts restoring a space found on disk (on the server).
        RestoreSpace = RESTORE_SPACE {
            /// Its folder.
            path: PathBuf,
        }
        /// Deletes a lost or uninitialized space from the engine.
        DeleteSpace = DELETE_SPACE {
            /// The space.
            space: SpaceId,
        }
        /// Re-initializes a space, destroying its data: refused unless
        /// `confirm` is true.
        ReinitializeSpace = REINITIALIZE_SPACE {
            /// The space.
            space: SpaceId,
            /// "Initialization will delete all the data in the selected
            /// saving path": yes.
            confirm: bool,
        }
        /// Progress and result of a space job.
        JobStatus = JOB_STATUS {
            /// The job id from the initialize or restore reply.
            job: u64,
        }
        /// Asks a space job to stop (its status then ends in Cancelled).
        CancelJob = CANCEL_JOB {
            /// The job.
            job: u64,
        }
        /// Every resource pool.
        ListPools = LIST_POOLS {}
        /// One resource pool.
        GetPool = GET_POOL {
            /// The pool.
            pool: PoolId,
        }
        /// Creates a resource pool.
        CreatePool = CREATE_POOL {
            /// Its settings.
            spec: PoolSpec,
        }
        /// Edits a resource pool.
        EditPool = EDIT_POOL {
            /// The pool.
            pool: PoolId,
            /// What changes.
            edit: PoolEdit,
        }
        /// Deletes a resource pool.
        DeletePool = DELETE_POOL {
            /// The pool.
            pool: PoolId,
        }
        /// Registers a stream.
        RegisterStream = REGISTER_STREAM {
            /// Pool, camera, channel, kind, codec.
            spec: StreamSpec,
        }
        /// Finds a stream by camera, channel and kind.
        FindStream = FIND_STREAM {
            /// Camera id.
            camera_id: String,
            /// Channel.
            channel: u32,
            /// Main or sub.
            kind: StreamKind,
        }
        /// Streams in id order, after `after`, at most `limit` (lowered to
        /// [`crate::limits::MAX_PAGE`] and to what fits in one reply).
        ListStreams = LIST_STREAMS {
            /// The last id of the previous page.
            after: Option<StreamId>,
            /// Most entries wanted.
            limit: u32,
        }
        /// One stream.
        GetStream = GET_STREAM {
            /// The stream.
            stream: StreamId,
        }
        /// Recorded ranges of a stream within `[start, end]`, gaps up to
        /// `tolerance_us` merged.
        RecordedRanges = RECORDED_RANGES {
            /// The stream.
            stream: StreamId,
            /// Range start (µs).
            start: Timestamp,
            /// Range end (µs, inclusive).
            end: Timestamp,
            /// Gaps up to this long count as recorded (µs, >= 0).
            tolerance_us: i64,
        }
        /// Locks a stream's time range against overwrite and retention.
        LockStream = LOCK_STREAM {
            /// The stream.
            stream: StreamId,
            /// Start (µs).
            start: Timestamp,
            /// End (µs, inclusive).
            end: Timestamp,
            /// When the lock lapses (µs); none = until unlocked.
            expires: Option<Timestamp>,
        }
        /// Locks one camera's pictures in a pool.
        LockPictures = LOCK_PICTURES {
            /// The picture or mixed pool.
            pool: PoolId,
            /// The camera.
            camera_id: String,
            /// Captured from (µs).
            start: Timestamp,
            /// Captured up to (µs, inclusive).
            end: Timestamp,
            /// When the lock lapses (µs); none = until unlocked.
            expires: Option<Timestamp>,
        }
        /// Locks in force in id order, after `after`, at most `limit`.
        ListLocks = LIST_LOCKS {
            /// The last id of the previous page.
            after: Option<LockId>,
            /// Most entries wanted.
            limit: u32,
        }
        /// Changes a lock's expiry.
        ExtendLock = EXTEND_LOCK {
            /// The lock.
            lock: LockId,
            /// New expiry (µs); none = until unlocked.
            expires: Option<Timestamp>,
        }
        /// Removes a lock.
        Unlock = UNLOCK {
            /// The lock.
            lock: LockId,
        }
        /// Video inspection of one day (years 1..=9999).
        InspectDay = INSPECT_DAY {
            /// The stream.
            stream: StreamId,
            /// The day (server's local time).
            date: Date,
        }
        /// Video inspection of today so far.
        InspectToday = INSPECT_TODAY {
            /// The stream.
            stream: StreamId,
        }
        /// Video inspection of a month, per day (years 1..=9999).
        InspectMonth = INSPECT_MONTH {
            /// The stream.
            stream: StreamId,
            /// Year.
            year: i32,
            /// Month 1..=12.
            month: u32,
        }
        /// The server's date today (in its UTC offset); needs no stream.
        Today = TODAY {}
        /// The storage thresholds.
        GetThresholds = GET_THRESHOLDS {}
        /// Sets the storage thresholds.
        SetThresholds = SET_THRESHOLDS {
            /// The new thresholds (percent).
            thresholds: Thresholds,
        }
        /// Events with a sequence number above `after_seq`, oldest first,
        /// at most `max`. A long poll: if there are none yet, the server
        /// waits up to `wait_ms` for one (lowered to
        /// [`crate::limits::MAX_EVENT_WAIT_MS`]) and answers as soon as one
        /// comes. This is the event subscription: poll again with the last
        /// `seq` received.
        PollEvents = POLL_EVENTS {
            /// The last sequence number already seen (0: from the oldest kept).
            after_seq: u64,
            /// Most events wanted (lowered to [`crate::limits::MAX_EVENTS_PER_POLL`]).
            max: u32,
            /// How long to wait for a first event, in milliseconds (0: do not wait).
            wait_ms: u32,
        }
        /// As [`Request::PollEvents`], with the event kinds of revision
        /// 1.2 (camera status) too.
        PollAllEvents = POLL_ALL_EVENTS {
            /// The last sequence number already seen (0: from the oldest kept).
            after_seq: u64,
            /// Most events wanted (lowered to [`crate::limits::MAX_EVENTS_PER_POLL`]).
            max: u32,
            /// How long to wait for a first event, in milliseconds (0: do not wait).
            wait_ms: u32,
        }
        /// The engine's invariant check.
        Check = CHECK {
            /// Also fix what is safe to fix.
            repair: bool,
        }
        /// Recording schedules whose camera name, camera id or IP address
        /// contains `search` (all when empty), in id order: `limit` of them
        /// (lowered to [`crate::limits::MAX_PAGE`]) from the `offset`th.
        ListSchedules = LIST_SCHEDULES {
            /// Part of a camera name, camera id or IP address; "" for all.
            search: String,
            /// How many matching schedules to skip.
            offset: u32,
            /// Most schedules wanted.
            limit: u32,
        }
        /// One recording schedule.
        GetSchedule = GET_SCHEDULE {
            /// Its id.
            schedule: i64,
        }
        /// Creates a recording schedule from its JSON (the management
        /// API's `NewSchedule`, docs/recording.md).
        CreateSchedule = CREATE_SCHEDULE {
            /// The schedule, a JSON object.
            json: String,
        }
        /// Replaces a recording schedule (a password left out is kept,
        /// `null` removes it).
        ReplaceSchedule = REPLACE_SCHEDULE {
            /// Its id.
            schedule: i64,
            /// The schedule, a JSON object.
            json: String,
        }
        /// Deletes a recording schedule (its recordings stay).
        DeleteSchedule = DELETE_SCHEDULE {
            /// Its id.
            schedule: i64,
        }
        /// Starts (records from now minus the pre-record) or stops
        /// (records the post-record more) an event of an event schedule.
        ScheduleEvent = SCHEDULE_EVENT {
            /// Its id.
            schedule: i64,
            /// Start (true) or stop (false).
            start: bool,
        }
        /// Appends frames to a stream, in order. The reply comes once every
        /// frame is appended (and, with `sync`, durable).
        Append = APPEND {
            /// The stream.
            stream: StreamId,
            /// Flags bit 0: sync the stream after appending (the reply then
            /// acknowledges durability).
            sync: bool,
            /// The frames (timestamps strictly increasing).
            frames: Vec<Frame>,
        }
        /// The client has reported a refused append of this stream to its
        /// caller: the server accepts the stream's appends on this
        /// connection again. After an append of a stream fails, the server
        /// refuses the stream's later appends, flushes and syncs on the
        /// same connection until this request, so that the batches a
        /// client had pipelined behind the refused one leave no hole
        /// followed by later frames (docs/sdk-protocol.md §6.4).
        ResumeStream = RESUME_STREAM {
            /// The stream.
            stream: StreamId,
        }
        /// Makes a stream's buffered frames visible to readers.
        FlushStream = FLUSH_STREAM {
            /// The stream.
            stream: StreamId,
        }
        /// Makes these streams' frames durable; an empty list means every
        /// stream (and picture pool).
        Sync = SYNC {
            /// The streams.
            streams: Vec<StreamId>,
        }
        /// Reads frames of a stream from the last key frame at or before
        /// `start` up to `end`: answered by stream items, then a stream end
        /// (or an error frame).
        ReadRange = READ_RANGE {
            /// The stream.
            stream: StreamId,
            /// Start (µs).
            start: Timestamp,
            /// End (µs, inclusive).
            end: Timestamp,
        }
        /// Stores a picture.
        PutPicture = PUT_PICTURE {
            /// A picture or mixed pool.
            pool: PoolId,
            /// Camera, capture time, content type, optional key.
            meta: PictureMeta,
            /// The picture bytes.
            data: Bytes,
            /// Flags bit 0: sync the pool's pictures before replying.
            sync: bool,
        }
        /// Makes a pool's pictures durable.
        SyncPictures = SYNC_PICTURES {
            /// The pool.
            pool: PoolId,
        }
        /// Reads a picture.
        GetPicture = GET_PICTURE {
            /// Its id.
            id: PictureId,
        }
        /// Reads `len` bytes of a picture from `offset`.
        GetPictureRange = GET_PICTURE_RANGE {
            /// Its id.
            id: PictureId,
            /// First byte.
            offset: u64,
            /// Bytes wanted.
            len: u64,
        }
        /// A picture's metadata.
        HeadPicture = HEAD_PICTURE {
            /// Its id.
            id: PictureId,
        }
        /// Reads the picture stored under a key.
        GetPictureByKey = GET_PICTURE_BY_KEY {
            /// Bucket and key.
            key: PictureKey,
        }
        /// The id of the picture stored under a key.
        PictureIdForKey = PICTURE_ID_FOR_KEY {
            /// Bucket and key.
            key: PictureKey,
        }
        /// Deletes a picture (durable when answered).
        DeletePicture = DELETE_PICTURE {
            /// Its id.
            id: PictureId,
        }
        /// Deletes the picture stored under a key.
        DeletePictureByKey = DELETE_PICTURE_BY_KEY {
            /// Bucket and key.
            key: PictureKey,
        }
        /// Pictures by capture time; the next page starts after the last
        /// result (`query.after`). `limit` is lowered to
        /// [`crate::limits::MAX_PAGE`].
        ListPictures = LIST_PICTURES {
            /// Pool, camera, time range, limit, cursor.
            query: PictureQuery,
        }
        /// Keys of a bucket in order, starting with `prefix`, after `after`.
        ListKeys = LIST_KEYS {
            /// The bucket.
            bucket: String,
            /// Only keys starting with this.
            prefix: String,
            /// The last key of the previous page.
            after: Option<String>,
            /// Most entries wanted (lowered to [`crate::limits::MAX_PAGE`]).
            limit: u32,
        }
    }
}

impl Request {
    /// Which port serves it.
    pub fn served(&self) -> Served {
        crate::op::info(self.op()).map_or(Served::Both, |i| i.served)
    }

    /// Whether `port` serves it.
    pub fn is_served_on(&self, port: Port) -> bool {
        self.served().on(port)
    }

    /// The port to send it to: the one that serves it (signalling for the
    /// operations both ports serve).
    pub fn port(&self) -> Port {
        match self.served() {
            Served::Data => Port::Data,
            Served::Signalling | Served::Both => Port::Signalling,
        }
    }

    /// Its body.
    pub fn encode_body(&self) -> Bytes {
        let mut w = Writer::new();
        self.encode_into(&mut w);
        w.into_body()
    }

    /// The whole frame (kind request) with this request id, ready to write.
    /// Fails with [`ProtoError::FrameTooLarge`] if the body is over
    /// `max_body` (the server's `Hello` says its limit): split the batch.
    pub fn to_frame(&self, request_id: u32, max_body: u32) -> Result<Bytes, ProtoError> {
        let mut w = Writer::for_frame_with_capacity(self.size_hint());
        self.encode_into(&mut w);
        w.into_frame(crate::Kind::Request, self.op(), request_id, max_body)
    }

    /// As [`Request::to_frame`], without copying the frames' or picture's
    /// data: write it with [`GatheredFrame::io_slices`] (the same bytes on
    /// the wire).
    pub fn to_gathered_frame(&self, request_id: u32, max_body: u32) -> Result<GatheredFrame, ProtoError> {
        let small = match self {
            Request::Append { frames, .. } => 16 + frames.len() * (FRAME_OVERHEAD + 4),
            _ => 2048,
        };
        let mut w = Writer::for_gathered_frame(small);
        self.encode_into(&mut w);
        w.into_gathered_frame(crate::Kind::Request, self.op(), request_id, max_body)
    }

    /// Roughly how large its body is (to allocate once).
    fn size_hint(&self) -> usize {
        match self {
            Request::Append { frames, .. } => 16 + frames.iter().map(|f| 13 + f.data.len()).sum::<usize>(),
            Request::PutPicture { data, .. } => 2048 + data.len(),
            _ => 128,
        }
    }
}
