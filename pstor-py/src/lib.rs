//! `pstor._pstor`: the native module of the `pstor` Python package, PyO3
//! bindings over a [`pstor_client::Backend`]: the embedded [`pstor_core`]
//! engine, or a client of a pstor-server (`pstor.connect`). The package (`python/pstor/`) re-exports it
//! and adds the pure-Python parts: the exception classes, the enums and the
//! time helpers. See `pstor-py/README.md`.
//!
//! No `unsafe` here: payloads are borrowed from `bytes` (immutable) or copied
//! from other buffers, never aliased while the GIL is released.

mod convert;
mod engine;
mod errors;
mod jobs;
mod types;

use pyo3::prelude::*;

/// The native part of the `pstor` package (import `pstor`, not this).
#[pymodule]
fn _pstor(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<engine::Engine>()?;
    m.add_class::<jobs::SpaceJob>()?;
    m.add_class::<jobs::FrameReader>()?;
    m.add_class::<jobs::EventSubscription>()?;
    m.add_class::<types::Frame>()?;
    m.add_class::<types::SpaceInfo>()?;
    m.add_class::<types::PoolInfo>()?;
    m.add_class::<types::StreamInfo>()?;
    m.add_class::<types::LockInfo>()?;
    m.add_class::<types::HourInspection>()?;
    m.add_class::<types::DayInspection>()?;
    m.add_class::<types::DaySummary>()?;
    m.add_class::<types::Thresholds>()?;
    m.add_class::<types::Problem>()?;
    m.add_class::<types::CheckReport>()?;
    m.add_class::<types::PictureId>()?;
    m.add_class::<types::PictureInfo>()?;
    m.add_class::<types::Picture>()?;
    m.add_class::<types::Event>()?;
    m.add_function(wrap_pyfunction!(errors::error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(engine::connect, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PICTURE_ID_CHARS", pstor_core::PICTURE_ID_CHARS)?;
    m.add("MAX_POOLS", pstor_core::MAX_POOLS)?;
    m.add("DEFAULT_MIN_SPACE_CAPACITY", pstor_core::DEFAULT_MIN_SPACE_CAPACITY)?;
    Ok(())
}
