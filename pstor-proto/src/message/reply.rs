//! Replies: one variant per operation, named as the request it answers
//! (frame kind reply, same op and request id). A range read is answered by
//! stream items instead ([`super::stream`]), so it has no variant here.

use super::macros::messages;
use super::ErrorReply;
use crate::wire::{Reader, Wire, Writer};
use crate::ProtoError;
use bytes::Bytes;
use pstor_core::{
    CheckReport, Date, DayInspection, DaySummary, Event, LockConfig, LockId, Picture, PictureId, PictureInfo, PoolId,
    PoolInfo, SpaceId, SpaceInfo, StreamId, StreamInfo, Thresholds, Timestamp,
};

/// Where a space job (initialize or restore) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    /// The job id.
    pub job: u64,
    /// The space it initializes or restores.
    pub space: SpaceId,
    /// Progress in percent.
    pub progress: u8,
    /// Whether it has ended.
    pub finished: bool,
    /// How it failed, if it ended in failure (`finished` and no error:
    /// the space is in service).
    pub error: Option<ErrorReply>,
}

impl Wire for JobStatus {
    const MIN_LEN: usize = 8 + 4 + 1 + 1 + 1;
    fn put(&self, w: &mut Writer) {
        w.u64(self.job);
        self.space.put(w);
        w.u8(self.progress);
        w.bool(self.finished);
        self.error.put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(JobStatus {
            job: r.u64()?,
            space: Wire::get(r)?,
            progress: r.u8()?,
            finished: r.bool()?,
            error: Wire::get(r)?,
        })
    }
}

messages! {
    /// A reply, server to client (frame kind reply).
    Reply {
        /// Pong.
        Ping = PING {}
        /// Every storage space.
        ListSpaces = LIST_SPACES {
            /// The spaces.
            spaces: Vec<SpaceInfo>,
        }
        /// One storage space.
        GetSpace = GET_SPACE {
            /// The space.
            space: SpaceInfo,
        }
        /// The initialization started.
        InitializeSpace = INITIALIZE_SPACE {
            /// Its job id.
            job: u64,
            /// The new space's id.
            space: SpaceId,
        }
        /// The restore started.
        RestoreSpace = RESTORE_SPACE {
            /// Its job id.
            job: u64,
            /// The space's id.
            space: SpaceId,
        }
        /// Done.
        DeleteSpace = DELETE_SPACE {}
        /// Done.
        ReinitializeSpace = REINITIALIZE_SPACE {}
        /// The job's state.
        JobStatus = JOB_STATUS {
            /// Progress and result.
            status: JobStatus,
        }
        /// Cancellation asked.
        CancelJob = CANCEL_JOB {}
        /// Every resource pool.
        ListPools = LIST_POOLS {
            /// The pools.
            pools: Vec<PoolInfo>,
        }
        /// One resource pool.
        GetPool = GET_POOL {
            /// The pool.
            pool: PoolInfo,
        }
        /// The pool was created.
        CreatePool = CREATE_POOL {
            /// Its id.
            pool: PoolId,
        }
        /// Done.
        EditPool = EDIT_POOL {}
        /// Done.
        DeletePool = DELETE_POOL {}
        /// The stream was registered.
        RegisterStream = REGISTER_STREAM {
            /// Its id.
            stream: StreamId,
        }
        /// The stream, if registered.
        FindStream = FIND_STREAM {
            /// Its id.
            stream: Option<StreamId>,
        }
        /// A page of streams.
        ListStreams = LIST_STREAMS {
            /// The streams, in id order.
            streams: Vec<StreamInfo>,
            /// Whether more follow (ask again after the last id).
            more: bool,
        }
        /// One stream.
        GetStream = GET_STREAM {
            /// The stream.
            stream: StreamInfo,
        }
        /// Recorded ranges.
        RecordedRanges = RECORDED_RANGES {
            /// (start, end) pairs in µs, in order.
            ranges: Vec<(Timestamp, Timestamp)>,
        }
        /// The lock was taken.
        LockStream = LOCK_STREAM {
            /// Its id.
            lock: LockId,
        }
        /// The lock was taken.
        LockPictures = LOCK_PICTURES {
            /// Its id.
            lock: LockId,
        }
        /// A page of locks.
        ListLocks = LIST_LOCKS {
            /// The locks in force, in id order.
            locks: Vec<LockConfig>,
            /// Whether more follow.
            more: bool,
        }
        /// Done.
        ExtendLock = EXTEND_LOCK {}
        /// Done.
        Unlock = UNLOCK {}
        /// The day.
        InspectDay = INSPECT_DAY {
            /// Per hour.
            day: DayInspection,
        }
        /// Today so far.
        InspectToday = INSPECT_TODAY {
            /// Per hour.
            day: DayInspection,
        }
        /// The month.
        InspectMonth = INSPECT_MONTH {
            /// Per day (days after today left out).
            days: Vec<DaySummary>,
        }
        /// The server's date.
        Today = TODAY {
            /// Today in the server's calendar.
            date: Date,
        }
        /// The thresholds.
        GetThresholds = GET_THRESHOLDS {
            /// In percent.
            thresholds: Thresholds,
        }
        /// Done.
        SetThresholds = SET_THRESHOLDS {}
        /// Events.
        PollEvents = POLL_EVENTS {
            /// Oldest first; empty if the wait ended first.
            events: Vec<Event>,
            /// The newest sequence number the server has issued. If the
            /// first event's `seq` is above `after_seq + 1`, the events in
            /// between dropped out of the server's ring (4,096 kept).
            latest_seq: u64,
        }
        /// Events of every kind.
        PollAllEvents = POLL_ALL_EVENTS {
            /// Oldest first; empty if the wait ended first.
            events: Vec<Event>,
            /// The newest sequence number the server has issued (as in
            /// [`Reply::PollEvents`]).
            latest_seq: u64,
        }
        /// The check's findings.
        Check = CHECK {
            /// What was examined and found.
            report: CheckReport,
        }
        /// A page of schedules.
        ListSchedules = LIST_SCHEDULES {
            /// A JSON array of schedules with their status (the management
            /// API's `Schedule`; passwords never included).
            json: String,
            /// How many schedules match in all.
            total: u32,
        }
        /// The schedule.
        GetSchedule = GET_SCHEDULE {
            /// A JSON object (the management API's `Schedule`).
            json: String,
        }
        /// The schedule made.
        CreateSchedule = CREATE_SCHEDULE {
            /// A JSON object, with its id.
            json: String,
        }
        /// The schedule as it now is.
        ReplaceSchedule = REPLACE_SCHEDULE {
            /// A JSON object.
            json: String,
        }
        /// Deleted.
        DeleteSchedule = DELETE_SCHEDULE {}
        /// The event is taken; the schedule's status after it.
        ScheduleEvent = SCHEDULE_EVENT {
            /// A JSON object.
            json: String,
        }
        /// The frames were appended (and synced, if asked).
        Append = APPEND {
            /// How many.
            appended: u32,
        }
        /// The stream's appends are accepted again.
        ResumeStream = RESUME_STREAM {}
        /// Done.
        FlushStream = FLUSH_STREAM {}
        /// Durable.
        Sync = SYNC {}
        /// The picture is stored and readable.
        PutPicture = PUT_PICTURE {
            /// Its id.
            id: PictureId,
        }
        /// Durable.
        SyncPictures = SYNC_PICTURES {}
        /// The picture.
        GetPicture = GET_PICTURE {
            /// Metadata and bytes.
            picture: Picture,
        }
        /// Part of the picture.
        GetPictureRange = GET_PICTURE_RANGE {
            /// Metadata and the bytes asked for.
            picture: Picture,
        }
        /// The picture's metadata.
        HeadPicture = HEAD_PICTURE {
            /// Metadata.
            info: PictureInfo,
        }
        /// The picture.
        GetPictureByKey = GET_PICTURE_BY_KEY {
            /// Metadata and bytes.
            picture: Picture,
        }
        /// The id.
        PictureIdForKey = PICTURE_ID_FOR_KEY {
            /// The picture's id.
            id: PictureId,
        }
        /// Deleted (durably).
        DeletePicture = DELETE_PICTURE {}
        /// Deleted (durably).
        DeletePictureByKey = DELETE_PICTURE_BY_KEY {}
        /// A page of pictures.
        ListPictures = LIST_PICTURES {
            /// By capture time, then id.
            pictures: Vec<PictureInfo>,
        }
        /// A page of keys.
        ListKeys = LIST_KEYS {
            /// (key, id) in key order.
            keys: Vec<(String, PictureId)>,
        }
    }
}

impl Reply {
    /// Its body.
    pub fn encode_body(&self) -> Bytes {
        let mut w = Writer::new();
        self.encode_into(&mut w);
        w.into_body()
    }

    /// The whole frame (kind reply) answering `request_id`. Fails with
    /// [`ProtoError::FrameTooLarge`] if the body is over `max_body`.
    pub fn to_frame(&self, request_id: u32, max_body: u32) -> Result<Bytes, ProtoError> {
        let hint = match self {
            Reply::GetPicture { picture } | Reply::GetPictureRange { picture } | Reply::GetPictureByKey { picture } => {
                2048 + picture.data.len()
            }
            _ => 256,
        };
        let mut w = Writer::for_frame_with_capacity(hint);
        self.encode_into(&mut w);
        w.into_frame(crate::Kind::Reply, self.op(), request_id, max_body)
    }
}
