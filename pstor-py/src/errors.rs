//! Engine errors as Python exceptions.
//!
//! The exception classes are defined in Python (`pstor/_errors.py`), one per
//! stable error number of [`pstor_core::ErrorCode`], grouped under a few
//! bases (`NotFound`, `InvalidArgument`, ...). This module raises them: it
//! looks the class up by number (`pstor._errors._class_for_code`) and builds
//! it with the message, the number and the C name. Errors are mapped by
//! their number only ([`pstor_core::Error::code`]), so a remote backend's
//! `Error::Remote { code, .. }` raises the class of `code`, the same class
//! the embedded engine's error would have raised; a number this build does
//! not know (`ErrorCode::Other`, a newer server's) raises `pstor.Error`
//! with that number.

use pstor_core::ErrorCode;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyTuple};

static CLASS_FOR_CODE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Builds the Python exception for an error number and message.
pub fn raise(py: Python<'_>, code: ErrorCode, message: String) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let lookup = CLASS_FOR_CODE.import(py, "pstor._errors", "_class_for_code")?;
        let cls = lookup.call1((code.number(),))?;
        let exc = cls.call1((message.clone(), code.number(), code.c_name()))?;
        Ok(PyErr::from_value(exc))
    };
    // Only a broken installation (pstor._errors missing) gets here.
    build()
        .unwrap_or_else(|e| PyRuntimeError::new_err(format!("{} ({}): {message} [{e}]", code.c_name(), code.number())))
}

/// Converts an engine error.
pub fn to_py(py: Python<'_>, e: pstor_core::Error) -> PyErr {
    raise(py, e.code(), e.to_string())
}

/// An `InvalidArgument` raised by the binding itself (before the engine).
pub fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    let m: String = message.into();
    raise(py, ErrorCode::InvalidArgument, format!("invalid argument: {m}"))
}

/// Extension: `.py_err(py)` on engine results.
pub trait IntoPyResult<T> {
    /// Maps the error to its Python exception.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for pstor_core::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

/// `error_codes()`: every stable error number known to this build, as
/// `(number, c_name, description)` tuples in number order.
#[pyfunction]
pub fn error_codes(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let rows = ErrorCode::ALL
        .iter()
        .map(|c| {
            PyTuple::new(
                py,
                [
                    c.number().into_pyobject(py)?.into_any(),
                    c.c_name().into_pyobject(py)?.into_any(),
                    c.description().into_pyobject(py)?.into_any(),
                ],
            )
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, rows)
}
