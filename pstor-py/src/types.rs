//! The value objects handed to Python: frozen classes with read-only
//! attributes, a readable `repr`, `==`, and `to_dict()`. They hold plain
//! values (ids as ints, enums as `pstor` StrEnum members, times as µs ints),
//! nothing tied to an embedded engine, so the remote mode can return them too.

use crate::convert::{self, DateValue, EnumValue};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

/// Generates a frozen value class with getters, `__repr__`, `__eq__` and `to_dict`.
macro_rules! value_class {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[pyclass(frozen, eq, get_all, module = "pstor")]
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $($(#[$fm])* pub $field: $ty,)*
        }

        #[pymethods]
        impl $name {
            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                let parts: Vec<String> = vec![$(
                    format!("{}={}", stringify!($field), self.$field.clone().into_bound_py_any(py)?.repr()?),
                )*];
                Ok(format!("{}({})", stringify!($name), parts.join(", ")))
            }

            /// The attributes as a dict (nested objects stay objects).
            fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                let d = PyDict::new(py);
                $(d.set_item(stringify!($field), self.$field.clone().into_bound_py_any(py)?)?;)*
                Ok(d)
            }
        }
    };
}

value_class! {
    /// A storage space as listed by `Engine.spaces()` / `Engine.space(id)`.
    SpaceInfo {
        /// The space id.
        id: u32,
        /// Its folder (the saving path).
        path: String,
        /// A `SpaceStatus`.
        status: EnumValue,
        /// Progress of initializing / scanning / restoring, percent.
        progress: u8,
        /// Total bytes (segments x segment size).
        capacity: u64,
        /// Bytes in segments holding data.
        used: u64,
        /// Bytes in free segments.
        free: u64,
        /// Bytes reserved by pools.
        reserved: u64,
        /// Segment size in bytes.
        segment_size: u64,
        /// Why it is Lost / Error, if it is.
        detail: Option<String>,
    }
}

impl From<pstor_core::SpaceInfo> for SpaceInfo {
    fn from(s: pstor_core::SpaceInfo) -> Self {
        SpaceInfo {
            id: s.id.0,
            path: s.path.to_string_lossy().into_owned(),
            status: convert::space_status(s.status),
            progress: s.progress,
            capacity: s.capacity,
            used: s.used,
            free: s.free,
            reserved: s.reserved,
            segment_size: s.segment_size,
            detail: s.detail,
        }
    }
}

value_class! {
    /// A resource pool as listed by `Engine.pools()` / `Engine.pool(id)`.
    PoolInfo {
        /// The pool id (a random u32; the VMS links cameras to it).
        id: u32,
        /// Unique display name.
        name: String,
        /// A `PoolKind`.
        kind: EnumValue,
        /// An `OverwriteStrategy`.
        strategy: EnumValue,
        /// Retention in days (0 = no limit).
        cycle_days: u32,
        /// Max share of the capacity that locks may hold, percent.
        max_lock_pct: u8,
        /// The storage spaces its capacity is carved from.
        spaces: Vec<u32>,
        /// A `PoolStatus`.
        status: EnumValue,
        /// Capacity in bytes.
        capacity: u64,
        /// Bytes in segments holding data.
        used: u64,
        /// Capacity minus used.
        free: u64,
        /// Bytes protected by locks.
        locked: u64,
    }
}

impl From<pstor_core::PoolInfo> for PoolInfo {
    fn from(p: pstor_core::PoolInfo) -> Self {
        PoolInfo {
            id: p.config.id.0,
            name: p.config.name,
            kind: convert::pool_kind(p.config.kind),
            strategy: convert::strategy(p.config.strategy),
            cycle_days: p.config.cycle_days,
            max_lock_pct: p.config.max_lock_pct,
            spaces: p.config.quotas.iter().map(|q| q.0 .0).collect(),
            status: convert::pool_status(p.status),
            capacity: p.capacity,
            used: p.used,
            free: p.free,
            locked: p.locked,
        }
    }
}

value_class! {
    /// A registered stream (one camera channel's main or sub stream).
    StreamInfo {
        /// The stream id.
        id: u64,
        /// The pool it records into.
        pool: u32,
        /// The VMS camera id.
        camera_id: String,
        /// The channel number.
        channel: u32,
        /// A `StreamKind`.
        kind: EnumValue,
        /// Codec name, e.g. "H264".
        codec: String,
        /// Opaque codec configuration (e.g. SPS/PPS).
        codec_config: Vec<u8>,
        /// Oldest recorded (flushed) frame, µs, or None.
        first_ts: Option<i64>,
        /// Newest recorded (flushed) frame, µs, or None.
        last_ts: Option<i64>,
        /// Segments holding its data.
        segments: usize,
    }
}

impl From<pstor_core::StreamInfo> for StreamInfo {
    fn from(s: pstor_core::StreamInfo) -> Self {
        StreamInfo {
            id: s.config.id.0,
            pool: s.config.pool.0,
            camera_id: s.config.camera_id,
            channel: s.config.channel,
            kind: convert::stream_kind(s.config.kind),
            codec: s.config.codec,
            codec_config: s.config.codec_config,
            first_ts: s.first_ts,
            last_ts: s.last_ts,
            segments: s.segments,
        }
    }
}

value_class! {
    /// A lock in force: a stream's time range, or one camera's pictures in a
    /// pool, protected from overwrite and retention.
    LockInfo {
        /// The lock id.
        id: u64,
        /// The locked stream (None for a picture lock).
        stream: Option<u64>,
        /// The pool of a picture lock (None for a stream lock).
        pool: Option<u32>,
        /// The camera of a picture lock (None for a stream lock).
        camera_id: Option<String>,
        /// Start of the locked range, µs (inclusive).
        start: i64,
        /// End of the locked range, µs (inclusive).
        end: i64,
        /// When the lock lapses by itself, µs; None = until unlocked.
        expires: Option<i64>,
    }
}

impl From<pstor_core::LockConfig> for LockInfo {
    fn from(l: pstor_core::LockConfig) -> Self {
        let (stream, pool, camera_id) = match l.target {
            pstor_core::LockTarget::Stream(s) => (Some(s.0), None, None),
            pstor_core::LockTarget::Pictures { pool, camera_id } => (None, Some(pool.0), Some(camera_id)),
        };
        LockInfo { id: l.id.0, stream, pool, camera_id, start: l.start, end: l.end, expires: l.expires }
    }
}

value_class! {
    /// One hour of a day of a stream (video inspection).
    HourInspection {
        /// Hour of the day, 0..=23 (local time per `utc_offset_minutes`).
        hour: u32,
        /// Seconds recorded in this hour.
        recorded_secs: u32,
        /// Gaps longer than the tolerance, clipped to the hour: (start, end) µs.
        gaps: Vec<(i64, i64)>,
        /// An exception hour: it has gaps (or no recording at all).
        exception: bool,
        /// The hour has not fully happened yet (today).
        partial: bool,
    }
}

value_class! {
    /// One day of a stream (video inspection, "check videos by day").
    DayInspection {
        /// The stream id.
        stream: u64,
        /// The day (`datetime.date`).
        date: DateValue,
        /// The hours (hours still in the future are left out of today).
        hours: Vec<HourInspection>,
        /// Seconds recorded in the day.
        recorded_secs: u64,
        /// Hours with gaps.
        exception_hours: usize,
    }
}

impl From<pstor_core::DayInspection> for DayInspection {
    fn from(d: pstor_core::DayInspection) -> Self {
        DayInspection {
            stream: d.stream.0,
            date: DateValue(d.date),
            recorded_secs: d.recorded_secs(),
            exception_hours: d.exception_hours(),
            hours: d
                .hours
                .into_iter()
                .map(|h| HourInspection {
                    hour: h.hour,
                    recorded_secs: h.recorded_secs,
                    gaps: h.gaps,
                    exception: h.exception,
                    partial: h.partial,
                })
                .collect(),
        }
    }
}

value_class! {
    /// One day in a month view ("check videos by month").
    DaySummary {
        /// The day (`datetime.date`).
        date: DateValue,
        /// Seconds recorded.
        recorded_secs: u64,
        /// Hours with gaps.
        exception_hours: u32,
    }
}

value_class! {
    /// Storage thresholds (manual 3.8.2), in percent.
    Thresholds {
        /// Below this free share, pools with strategy overwrite recycle ahead of time.
        overwrite_pct: u8,
        /// Below this free share, a `low_space` event is raised.
        alarm_pct: u8,
        /// Free share to keep on a volume holding a storage space.
        volume_free_pct: u8,
    }
}

value_class! {
    /// One problem found by `Engine.check()`.
    Problem {
        /// The space concerned, if any.
        space: Option<u32>,
        /// The segment concerned, if any.
        segment: Option<u32>,
        /// What is wrong.
        what: String,
        /// Whether `check(repair=True)` fixed it.
        repaired: bool,
    }
}

value_class! {
    /// What `Engine.check()` found.
    CheckReport {
        /// Segments examined.
        segments: u64,
        /// Records read and verified.
        records: u64,
        /// Problems, fixed or not.
        problems: Vec<Problem>,
        /// True when nothing unfixed is wrong.
        is_clean: bool,
    }
}

impl From<pstor_core::CheckReport> for CheckReport {
    fn from(r: pstor_core::CheckReport) -> Self {
        CheckReport {
            segments: r.segments,
            records: r.records,
            is_clean: r.is_clean(),
            problems: r
                .problems
                .into_iter()
                .map(|p| Problem {
                    space: p.space.map(|s| s.0),
                    segment: p.segment,
                    what: p.what,
                    repaired: p.repaired,
                })
                .collect(),
        }
    }
}

/// The id of a stored picture: where it lives plus a random cookie. Its text
/// form (`str(id)`) is 32 URL-safe characters; `PictureId(text)` parses it.
#[pyclass(frozen, eq, hash, ord, str, module = "pstor")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PictureId(pub pstor_core::PictureId);

impl std::fmt::Display for PictureId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[pymethods]
impl PictureId {
    /// Parses the 32-character text form (raises `InvalidPictureId`).
    #[new]
    fn new(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Self> {
        convert::picture_id(py, text).map(PictureId)
    }

    /// Builds an id from its fields (each an unsigned 32-bit int).
    #[staticmethod]
    fn from_parts(space: u32, segment: u32, generation: u32, offset: u32, length: u32, cookie: u32) -> Self {
        PictureId(pstor_core::PictureId {
            space: pstor_core::SpaceId(space),
            segment,
            generation,
            offset,
            len: length,
            cookie,
        })
    }

    /// Parses the 24-byte binary form (raises `InvalidPictureId`).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let p = convert::payload(data)?;
        pstor_core::PictureId::from_bytes(p.as_slice()).map(PictureId).map_err(|e| crate::errors::to_py(py, e))
    }

    /// The 24-byte binary form.
    #[allow(clippy::wrong_self_convention)] // a Python method: it takes &self
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.to_bytes())
    }

    /// The storage space holding the picture.
    #[getter]
    fn space(&self) -> u32 {
        self.0.space.0
    }
    /// The segment index in the space.
    #[getter]
    fn segment(&self) -> u32 {
        self.0.segment
    }
    /// The segment's generation when the picture was written.
    #[getter]
    fn generation(&self) -> u32 {
        self.0.generation
    }
    /// Offset of the record in the segment.
    #[getter]
    fn offset(&self) -> u32 {
        self.0.offset
    }
    /// Length of the whole record (header, metadata and data).
    #[getter]
    fn length(&self) -> u32 {
        self.0.len
    }
    /// The random cookie (also stored in the record).
    #[getter]
    fn cookie(&self) -> u32 {
        self.0.cookie
    }

    fn __repr__(&self) -> String {
        format!("PictureId('{}')", self.0)
    }
}

value_class! {
    /// A picture's metadata (`head_picture`, listings, `Picture.info`).
    PictureInfo {
        /// Its id.
        id: PictureId,
        /// The camera that took it.
        camera_id: String,
        /// When it was taken, µs UTC.
        captured_at: i64,
        /// MIME type, e.g. "image/jpeg" (may be empty).
        content_type: String,
        /// Bucket of its name, if it was stored under a key.
        bucket: Option<String>,
        /// Key of its name, if it was stored under a key.
        key: Option<String>,
        /// When pstor stored it, µs UTC.
        stored_at: i64,
        /// Size of the picture data in bytes.
        size: u64,
        /// MD5 of the data as 32 lowercase hex digits (the S3 ETag).
        etag: String,
    }
}

impl From<pstor_core::PictureInfo> for PictureInfo {
    fn from(i: pstor_core::PictureInfo) -> Self {
        let etag = i.etag();
        let (bucket, key) = match i.meta.key {
            Some(k) => (Some(k.bucket), Some(k.key)),
            None => (None, None),
        };
        PictureInfo {
            id: PictureId(i.id),
            camera_id: i.meta.camera_id,
            captured_at: i.meta.captured_at,
            content_type: i.meta.content_type,
            bucket,
            key,
            stored_at: i.stored_at,
            size: i.size,
            etag,
        }
    }
}

/// A picture as read back: `info` (a `PictureInfo`) and `data` (bytes).
#[pyclass(frozen, module = "pstor")]
pub struct Picture {
    /// What is known about it.
    #[pyo3(get)]
    pub info: Py<PictureInfo>,
    /// The picture bytes (of a ranged get: the range).
    #[pyo3(get)]
    pub data: Py<PyBytes>,
}

impl Picture {
    /// Converts an engine picture (one copy of the data into a `bytes`).
    pub fn new(py: Python<'_>, p: pstor_core::Picture) -> PyResult<Self> {
        Ok(Picture { info: Py::new(py, PictureInfo::from(p.info))?, data: PyBytes::new(py, &p.data).unbind() })
    }
}

#[pymethods]
impl Picture {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let info = self.info.bind(py).repr()?;
        Ok(format!("Picture(info={info}, data=<{} bytes>)", self.data.bind(py).as_bytes().len()))
    }
}

/// One video frame: `ts` (µs UTC), `key` (a key frame?) and `data` (bytes).
/// Unpacks as a tuple: `ts, key, data = frame`.
#[pyclass(frozen, sequence, module = "pstor")]
pub struct Frame {
    /// Timestamp, µs UTC.
    #[pyo3(get)]
    pub ts: i64,
    /// Whether it is a key frame.
    #[pyo3(get)]
    pub key: bool,
    /// The frame bytes.
    #[pyo3(get)]
    pub data: Py<PyBytes>,
}

#[pymethods]
impl Frame {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Frame(ts={}, key={}, data=<{} bytes>)",
            self.ts,
            if self.key { "True" } else { "False" },
            self.data.bind(py).as_bytes().len()
        )
    }

    fn __len__(&self) -> usize {
        3
    }

    fn __getitem__<'py>(&self, py: Python<'py>, i: isize) -> PyResult<Bound<'py, PyAny>> {
        let t = self.as_tuple(py)?;
        let i = if i < 0 { i + 3 } else { i };
        if !(0..3).contains(&i) {
            return Err(pyo3::exceptions::PyIndexError::new_err("Frame index out of range"));
        }
        t.get_item(i as usize)
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        match other.cast::<Frame>() {
            Ok(o) => {
                let o = o.get();
                Ok(self.ts == o.ts && self.key == o.key && self.data.bind(py).as_bytes() == o.data.bind(py).as_bytes())
            }
            Err(_) => Ok(false),
        }
    }

    /// `(ts, key, data)`.
    fn as_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            [
                self.ts.into_pyobject(py)?.into_any(),
                pyo3::types::PyBool::new(py, self.key).to_owned().into_any(),
                self.data.bind(py).clone().into_any(),
            ],
        )
    }
}

/// Something that happened in the engine (alarm, status change, recording
/// error, recycling, ...). `kind` is an `EventKind`; `details` holds the
/// kind's fields (ids, statuses, percentages) and `message` says it in words.
#[pyclass(frozen, get_all, module = "pstor")]
pub struct Event {
    /// Increases by one per event, from 1 (pass the last one to `poll_events`).
    pub seq: u64,
    /// When it happened, µs UTC.
    pub at: i64,
    /// An `EventKind`.
    pub kind: EnumValue,
    /// The kind's fields, e.g. `{"pool": 7, "free_pct": 3}`.
    pub details: Py<PyDict>,
    /// The event in words, for operators.
    pub message: String,
}

#[pymethods]
impl Event {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Event(seq={}, at={}, kind={}, details={})",
            self.seq,
            self.at,
            self.kind.into_bound_py_any(py)?.repr()?,
            self.details.bind(py).repr()?
        ))
    }
}

impl Event {
    /// Converts an engine event.
    pub fn new(py: Python<'_>, e: pstor_core::Event) -> PyResult<Self> {
        use pstor_core::EventKind as K;
        let d = PyDict::new(py);
        let (kind, message) = match e.kind {
            K::SpaceStatus { space, status, detail } => {
                let msg = format!("storage space {space} is now {status:?}: {detail}");
                d.set_item("space", space.0)?;
                d.set_item("status", convert::space_status(status))?;
                d.set_item("detail", detail)?;
                ("space_status", msg)
            }
            K::PoolStatus { pool, status } => {
                d.set_item("pool", pool.0)?;
                d.set_item("status", convert::pool_status(status))?;
                ("pool_status", format!("resource pool {pool} is now {status:?}"))
            }
            K::LowSpace { pool, free_pct } => {
                d.set_item("pool", pool.0)?;
                d.set_item("free_pct", free_pct)?;
                ("low_space", format!("resource pool {pool} is low on space: {free_pct}% free"))
            }
            K::LowVolumeSpace { space, free_pct } => {
                d.set_item("space", space.0)?;
                d.set_item("free_pct", free_pct)?;
                ("low_volume_space", format!("the volume of storage space {space} has {free_pct}% free"))
            }
            K::PoolFull { pool, reason } => {
                d.set_item("pool", pool.0)?;
                d.set_item("reason", reason.to_string())?;
                ("pool_full", format!("resource pool {pool} refuses writes: {reason}"))
            }
            K::RecordingError { stream, message } => {
                let msg = format!("recording stream {stream} failed: {message}");
                d.set_item("stream", stream.0)?;
                d.set_item("message", message)?;
                ("recording_error", msg)
            }
            K::Recycled { pool, stream, until, retention } => {
                d.set_item("pool", pool.0)?;
                d.set_item("stream", stream.0)?;
                d.set_item("until", until)?;
                d.set_item("retention", retention)?;
                let why = if retention { "cycle" } else { "overwrite" };
                ("recycled", format!("resource pool {pool} recycled stream {stream} up to {until} ({why})"))
            }
            K::LockExpired { lock } => {
                d.set_item("lock", lock.0)?;
                ("lock_expired", format!("lock {lock} expired"))
            }
            K::TailTruncated { space, segment, detail } => {
                let msg = format!("storage space {space} segment {segment}: torn tail truncated: {detail}");
                d.set_item("space", space.0)?;
                d.set_item("segment", segment)?;
                d.set_item("detail", detail)?;
                ("tail_truncated", msg)
            }
            K::KeyIndexRebuilt { reason } => {
                let msg = format!("the picture key index was rebuilt: {reason}");
                d.set_item("reason", reason)?;
                ("key_index_rebuilt", msg)
            }
            kind @ K::CameraStatus { .. } => {
                let msg = kind.to_string();
                let K::CameraStatus { schedule, camera, from, to, reason } = kind else { unreachable!() };
                d.set_item("schedule", schedule)?;
                d.set_item("camera", camera)?;
                d.set_item("from", from)?;
                d.set_item("to", to)?;
                d.set_item("reason", reason)?;
                ("camera_status", msg)
            }
        };
        Ok(Event {
            seq: e.seq,
            at: e.at,
            kind: EnumValue { class: "EventKind", value: kind },
            details: d.unbind(),
            message,
        })
    }
}

/// Builds a `str` for the key of `list_keys` results (kept here for symmetry
/// with the other conversions).
pub fn key_row<'py>(py: Python<'py>, key: String, id: pstor_core::PictureId) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, [PyString::new(py, &key).into_any(), Bound::new(py, PictureId(id))?.into_any()])
}
