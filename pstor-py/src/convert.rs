//! Arguments from Python (timestamps, dates, payloads, enum names, picture
//! ids) and the enum and date values handed back.

use crate::errors::invalid;
use crate::types::PictureId;
use bytes::Bytes;
use pstor_core::{Date, OverwriteStrategy, PoolKind, PoolStatus, SpaceStatus, StreamKind};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyInt, PyModule, PyString};

static ENUMS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
static TIME: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn module<'py>(
    py: Python<'py>,
    cell: &'py PyOnceLock<Py<PyModule>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyModule>> {
    Ok(cell.get_or_try_init(py, || py.import(name).map(Bound::unbind))?.bind(py))
}

/// A member of one of the `enum.StrEnum`s of `pstor/_enums.py`, e.g.
/// `PoolKind.VIDEO` (whose value is `"video"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnumValue {
    /// The enum class name in `pstor._enums`.
    pub class: &'static str,
    /// The member's value.
    pub value: &'static str,
}

impl<'py> IntoPyObject<'py> for EnumValue {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        module(py, &ENUMS, "pstor._enums")?.getattr(self.class)?.call1((self.value,))
    }
}

/// A calendar date, handed to Python as a `datetime.date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateValue(pub Date);

impl<'py> IntoPyObject<'py> for DateValue {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("datetime")?.getattr("date")?.call1((self.0.year, self.0.month, self.0.day))
    }
}

/// Generates the conversions of one engine enum to and from its StrEnum.
macro_rules! enum_conv {
    ($to:ident, $from:ident, $ty:ty, $class:literal, [$($variant:path => $value:literal),* $(,)?]) => {
        /// The Python enum member for this value.
        pub fn $to(v: $ty) -> EnumValue {
            EnumValue { class: $class, value: match v { $($variant => $value,)* } }
        }
        /// Parses the member's value (or name, any case).
        #[allow(dead_code)]
        pub fn $from(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<$ty> {
            let s = obj.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!(concat!($class, " expected (or its value as a str), got {}"), type_name(obj)))
            })?;
            let s = s.to_str()?.to_ascii_lowercase();
            match s.as_str() {
                $($value => Ok($variant),)*
                _ => Err(invalid(py, format!(concat!("{:?} is not a ", $class, " (one of: {})"), s, [$($value),*].join(", ")))),
            }
        }
    };
}

enum_conv!(pool_kind, parse_pool_kind, PoolKind, "PoolKind", [
    PoolKind::Video => "video", PoolKind::Picture => "picture", PoolKind::Mixed => "mixed",
]);
enum_conv!(strategy, parse_strategy, OverwriteStrategy, "OverwriteStrategy", [
    OverwriteStrategy::OverwriteOldest => "overwrite_oldest", OverwriteStrategy::StopWhenFull => "stop_when_full",
]);
enum_conv!(stream_kind, parse_stream_kind, StreamKind, "StreamKind", [
    StreamKind::Main => "main", StreamKind::Sub => "sub",
]);
enum_conv!(space_status, parse_space_status, SpaceStatus, "SpaceStatus", [
    SpaceStatus::Uninitialized => "uninitialized", SpaceStatus::Initializing => "initializing",
    SpaceStatus::Normal => "normal", SpaceStatus::Scanning => "scanning", SpaceStatus::Restoring => "restoring",
    SpaceStatus::Lost => "lost", SpaceStatus::Error => "error",
]);
enum_conv!(pool_status, parse_pool_status, PoolStatus, "PoolStatus", [
    PoolStatus::Normal => "normal", PoolStatus::Degraded => "degraded", PoolStatus::Offline => "offline",
]);

/// The type name of a Python object, for messages.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

/// A timestamp argument: an `int` of microseconds since the Unix epoch (UTC),
/// or a timezone-aware `datetime.datetime` (converted by `pstor._time`).
pub fn timestamp(obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    if obj.cast::<PyInt>().is_ok() && obj.cast::<PyBool>().is_err() {
        return obj.extract();
    }
    module(obj.py(), &TIME, "pstor._time")?.getattr("to_us")?.call1((obj,))?.extract()
}

/// An optional timestamp argument (`None` = no value).
pub fn opt_timestamp(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => timestamp(o).map(Some),
    }
}

/// A date argument: a `datetime.date` (or anything with `year`, `month`,
/// `day`).
pub fn date(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Date> {
    let field = |name: &str| -> PyResult<i64> {
        obj.getattr(name)
            .map_err(|_| PyTypeError::new_err(format!("datetime.date expected, got {}", type_name(obj))))?
            .extract()
    };
    let (year, month, day) = (field("year")?, field("month")?, field("day")?);
    check_year(py, year)?;
    let m = u32::try_from(month).map_err(|_| invalid(py, format!("no such month {month}")))?;
    let d = u32::try_from(day).map_err(|_| invalid(py, format!("no such day {day}")))?;
    Ok(Date { year: year as i32, month: m, day: d })
}

/// Years a `datetime.date` can hold.
pub fn check_year(py: Python<'_>, year: i64) -> PyResult<()> {
    if !(1..=9999).contains(&year) {
        return Err(invalid(py, format!("year {year} is outside 1..=9999")));
    }
    Ok(())
}

/// A payload: `bytes` is borrowed as is; any other buffer-protocol object
/// (bytearray, memoryview, array, numpy array, mmap) is copied once, with the
/// GIL held, because its contents may change while the GIL is released.
pub enum Payload<'a> {
    /// The bytes of an immutable `bytes` object, kept alive by the caller.
    Borrowed(&'a [u8]),
    /// A copy of a mutable buffer.
    Owned(Vec<u8>),
}

impl Payload<'_> {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Borrowed(b) => b,
            Payload::Owned(v) => v,
        }
    }

    /// An owned buffer for the engine (a copy of borrowed bytes, none of an
    /// owned copy). Call it with the GIL released.
    pub fn into_bytes(self) -> Bytes {
        match self {
            Payload::Borrowed(b) => Bytes::copy_from_slice(b),
            Payload::Owned(v) => Bytes::from(v),
        }
    }
}

/// Reads a payload argument.
pub fn payload<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<Payload<'a>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Payload::Borrowed(b.as_bytes()));
    }
    let py = obj.py();
    let not_bytes = || PyTypeError::new_err(format!("a bytes-like object is required, not {}", type_name(obj)));
    if obj.cast::<PyString>().is_ok() {
        return Err(not_bytes());
    }
    let buf = match PyBuffer::<u8>::get(obj) {
        Ok(b) => b,
        // Buffers of other item types (array('i'), numpy int arrays): their raw bytes.
        Err(_) => {
            let view = py.import("builtins")?.getattr("memoryview")?.call1((obj,)).map_err(|_| not_bytes())?;
            let flat = view.call_method1("cast", ("B",)).map_err(|_| not_bytes())?;
            PyBuffer::<u8>::get(&flat)?
        }
    };
    Ok(Payload::Owned(buf.to_vec(py)?))
}

/// A picture id argument: a `pstor.PictureId` or its 32-character text.
pub fn picture_id(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<pstor_core::PictureId> {
    if let Ok(id) = obj.cast::<PictureId>() {
        return Ok(id.get().0);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s.to_str()?.parse().map_err(|e| crate::errors::to_py(py, e));
    }
    Err(PyTypeError::new_err(format!("a PictureId or its str form is required, not {}", type_name(obj))))
}
