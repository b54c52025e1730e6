//! The wire encoding of every pstor-core type that crosses the wire. Fields
//! go in declaration order; docs/sdk-protocol.md §4 lists them.

use super::{Reader, Wire, Writer};
use crate::error::ProtoError;
use bytes::Bytes;
use pstor_core::*;
use std::path::PathBuf;

/// A struct encoded as its fields in order.
macro_rules! wire_struct {
    ($($t:ident { $($f:ident : $ft:ty),* $(,)? })*) => {$(
        impl Wire for $t {
            const MIN_LEN: usize = 0 $(+ <$ft as Wire>::MIN_LEN)*;
            fn put(&self, w: &mut Writer) {
                $( <$ft as Wire>::put(&self.$f, w); )*
            }
            fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
                Ok($t { $( $f: <$ft as Wire>::get(r)? ),* })
            }
        }
    )*};
}

/// A field-less enum encoded as one u8 with explicit numbers.
macro_rules! wire_enum {
    ($($t:ident { $($v:ident = $n:literal),* $(,)? })*) => {$(
        impl Wire for $t {
            const MIN_LEN: usize = 1;
            fn put(&self, w: &mut Writer) {
                w.u8(match self { $( $t::$v => $n, )* });
            }
            fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
                match r.u8()? {
                    $( $n => Ok($t::$v), )*
                    b => Err(ProtoError::malformed(format!(concat!(stringify!($t), " {}"), b))),
                }
            }
        }
    )*};
}

/// An id newtype encoded as its integer.
macro_rules! wire_id {
    ($($t:ident($int:ty)),*) => {$(
        impl Wire for $t {
            const MIN_LEN: usize = std::mem::size_of::<$int>();
            fn put(&self, w: &mut Writer) {
                self.0.put(w);
            }
            fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
                <$int>::get(r).map($t)
            }
        }
    )*};
}

wire_id!(SpaceId(u32), PoolId(u32), StreamId(u64), LockId(u64));

wire_enum! {
    SpaceStatus { Uninitialized = 0, Initializing = 1, Normal = 2, Scanning = 3, Restoring = 4, Lost = 5, Error = 6 }
    PoolStatus { Normal = 0, Degraded = 1, Offline = 2 }
    PoolKind { Video = 1, Picture = 2, Mixed = 3 }
    OverwriteStrategy { OverwriteOldest = 1, StopWhenFull = 2 }
    StreamKind { Main = 1, Sub = 2 }
}

/// A u8 tag; `HeldOpen` (4) is followed by its two counts.
impl Wire for FullReason {
    const MIN_LEN: usize = 1;
    fn put(&self, w: &mut Writer) {
        match self {
            FullReason::StopWhenFull => w.u8(1),
            FullReason::OnlyLockedData => w.u8(2),
            FullReason::NoUsableSpace => w.u8(3),
            FullReason::HeldOpen { writers, segments } => {
                w.u8(4);
                writers.put(w);
                segments.put(w);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        match r.u8()? {
            1 => Ok(FullReason::StopWhenFull),
            2 => Ok(FullReason::OnlyLockedData),
            3 => Ok(FullReason::NoUsableSpace),
            4 => Ok(FullReason::HeldOpen { writers: r.u32()?, segments: r.u32()? }),
            b => Err(ProtoError::malformed(format!("FullReason {b}"))),
        }
    }
}

/// `usize` travels as u64; a value this machine cannot hold is refused.
impl Wire for usize {
    const MIN_LEN: usize = 8;
    fn put(&self, w: &mut Writer) {
        w.u64(*self as u64);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let v = r.u64()?;
        usize::try_from(v).map_err(|_| ProtoError::malformed(format!("{v} does not fit this machine's usize")))
    }
}

/// A path travels as a string (a path that is not UTF-8 is sent lossily).
impl Wire for PathBuf {
    const MIN_LEN: usize = 2;
    fn put(&self, w: &mut Writer) {
        w.str(&self.to_string_lossy());
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        r.str().map(PathBuf::from)
    }
}

/// A picture id travels as its 24-byte binary form.
impl Wire for PictureId {
    const MIN_LEN: usize = PICTURE_ID_BYTES;
    fn put(&self, w: &mut Writer) {
        w.raw(&self.to_bytes());
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let b: [u8; PICTURE_ID_BYTES] = r.array()?;
        PictureId::from_bytes(&b).map_err(|e| ProtoError::malformed(e.to_string()))
    }
}

wire_struct! {
    SpaceSpec { path: PathBuf, capacity: u64, segment_size: Option<u64> }
    SpaceInfo {
        id: SpaceId, path: PathBuf, status: SpaceStatus, progress: u8, capacity: u64, used: u64, free: u64,
        reserved: u64, segment_size: u64, detail: Option<String>,
    }
    PoolConfig {
        id: PoolId, name: String, kind: PoolKind, strategy: OverwriteStrategy, cycle_days: u32, max_lock_pct: u8,
        quotas: Vec<(SpaceId, u32)>,
    }
    PoolInfo { config: PoolConfig, status: PoolStatus, capacity: u64, used: u64, free: u64, locked: u64 }
    PoolSpec {
        name: String, kind: PoolKind, capacity: u64, spaces: Vec<SpaceId>, strategy: OverwriteStrategy,
        cycle_days: u32, max_lock_pct: u8,
    }
    PoolEdit {
        name: Option<String>, capacity: Option<u64>, strategy: Option<OverwriteStrategy>, cycle_days: Option<u32>,
        max_lock_pct: Option<u8>,
    }
    StreamSpec { pool: PoolId, camera_id: String, channel: u32, kind: StreamKind, codec: String, codec_config: Vec<u8> }
    StreamConfig {
        id: StreamId, pool: PoolId, camera_id: String, channel: u32, kind: StreamKind, codec: String,
        codec_config: Vec<u8>,
    }
    StreamInfo { config: StreamConfig, first_ts: Option<i64>, last_ts: Option<i64>, segments: usize }
    LockConfig { id: LockId, target: LockTarget, start: i64, end: i64, expires: Option<i64> }
    Date { year: i32, month: u32, day: u32 }
    HourInspection { hour: u32, recorded_secs: u32, gaps: Vec<(i64, i64)>, exception: bool, partial: bool }
    DayInspection { stream: StreamId, date: Date, hours: Vec<HourInspection> }
    DaySummary { date: Date, recorded_secs: u64, exception_hours: u32 }
    Thresholds { overwrite_pct: u8, alarm_pct: u8, volume_free_pct: u8 }
    Problem { space: Option<SpaceId>, segment: Option<u32>, what: String, repaired: bool }
    CheckReport { segments: u64, records: u64, problems: Vec<Problem> }
    Event { seq: u64, at: i64, kind: EventKind }
    PictureKey { bucket: String, key: String }
    PictureMeta { camera_id: String, captured_at: i64, content_type: String, key: Option<PictureKey> }
    PictureInfo { id: PictureId, meta: PictureMeta, stored_at: i64, size: u64, md5: [u8; 16] }
    Picture { info: PictureInfo, data: Bytes }
    PictureQuery {
        pool: PoolId, camera_id: Option<String>, start: i64, end: i64, limit: usize,
        after: Option<(i64, PictureId)>,
    }
    Frame { ts: i64, key: bool, data: Bytes }
}

// `Vec<u8>` fields (codec configuration) go through the generic list
// impl: u32 count + count bytes, byte for byte the `bytes` encoding.

/// Lock target: u8 tag 1 = stream (u64 id), 2 = pictures (u32 pool, str camera).
impl Wire for LockTarget {
    const MIN_LEN: usize = 1 + 6;
    fn put(&self, w: &mut Writer) {
        match self {
            LockTarget::Stream(s) => {
                w.u8(1);
                s.put(w);
            }
            LockTarget::Pictures { pool, camera_id } => {
                w.u8(2);
                pool.put(w);
                w.str(camera_id);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        match r.u8()? {
            1 => Ok(LockTarget::Stream(StreamId::get(r)?)),
            2 => Ok(LockTarget::Pictures { pool: PoolId::get(r)?, camera_id: r.str()? }),
            t => Err(ProtoError::malformed(format!("lock target {t}"))),
        }
    }
}

/// Event kind: u8 tag (docs/sdk-protocol.md §4.3) + its fields in order.
impl Wire for EventKind {
    const MIN_LEN: usize = 1;
    fn put(&self, w: &mut Writer) {
        match self {
            EventKind::SpaceStatus { space, status, detail } => {
                w.u8(1);
                space.put(w);
                status.put(w);
                w.str(detail);
            }
            EventKind::PoolStatus { pool, status } => {
                w.u8(2);
                pool.put(w);
                status.put(w);
            }
            EventKind::LowSpace { pool, free_pct } => {
                w.u8(3);
                pool.put(w);
                w.u8(*free_pct);
            }
            EventKind::LowVolumeSpace { space, free_pct } => {
                w.u8(4);
                space.put(w);
                w.u8(*free_pct);
            }
            EventKind::PoolFull { pool, reason } => {
                w.u8(5);
                pool.put(w);
                reason.put(w);
            }
            EventKind::RecordingError { stream, message } => {
                w.u8(6);
                stream.put(w);
                w.str(message);
            }
            EventKind::Recycled { pool, stream, until, retention } => {
                w.u8(7);
                pool.put(w);
                stream.put(w);
                w.i64(*until);
                w.bool(*retention);
            }
            EventKind::LockExpired { lock } => {
                w.u8(8);
                lock.put(w);
            }
            EventKind::TailTruncated { space, segment, detail } => {
                w.u8(9);
                space.put(w);
                w.u32(*segment);
                w.str(detail);
            }
            EventKind::KeyIndexRebuilt { reason } => {
                w.u8(10);
                w.str(reason);
            }
            EventKind::CameraStatus { schedule, camera, from, to, reason } => {
                w.u8(11);
                w.u64(*schedule);
                for s in [camera, from, to, reason] {
                    w.str(s);
                }
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(match r.u8()? {
            1 => EventKind::SpaceStatus { space: Wire::get(r)?, status: Wire::get(r)?, detail: r.str()? },
            2 => EventKind::PoolStatus { pool: Wire::get(r)?, status: Wire::get(r)? },
            3 => EventKind::LowSpace { pool: Wire::get(r)?, free_pct: r.u8()? },
            4 => EventKind::LowVolumeSpace { space: Wire::get(r)?, free_pct: r.u8()? },
            5 => EventKind::PoolFull { pool: Wire::get(r)?, reason: Wire::get(r)? },
            6 => EventKind::RecordingError { stream: Wire::get(r)?, message: r.str()? },
            7 => EventKind::Recycled {
                pool: Wire::get(r)?,
                stream: Wire::get(r)?,
                until: r.i64()?,
                retention: r.bool()?,
            },
            8 => EventKind::LockExpired { lock: Wire::get(r)? },
            9 => EventKind::TailTruncated { space: Wire::get(r)?, segment: r.u32()?, detail: r.str()? },
            10 => EventKind::KeyIndexRebuilt { reason: r.str()? },
            11 => EventKind::CameraStatus {
                schedule: r.u64()?,
                camera: r.str()?,
                from: r.str()?,
                to: r.str()?,
                reason: r.str()?,
            },
            t => return Err(ProtoError::malformed(format!("event kind {t}"))),
        })
    }
}
