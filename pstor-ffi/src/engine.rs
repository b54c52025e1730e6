//! Opening and closing an engine.
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::ptr::{arg_ref, arg_str, free_handle, into_handle, Out};
use crate::result::{boundary, pstor_result, FfiResult};
use pstor_core::{Engine, EngineOptions};
use std::ffi::c_char;

/// An open engine (opaque). Thread safety: every function taking a
/// `const pstor_engine *` may be called from many threads at once.
/// Freed by [`pstor_engine_free`] only.
pub struct pstor_engine {
    pub(crate) engine: Engine,
}

/// The engine behind a handle, if the handle is not NULL and the engine is
/// not closed: every call after [`pstor_engine_close`] fails with
/// `PSTOR_CLOSED`, whatever it is.
pub(crate) fn open_engine<'a>(engine: *const pstor_engine) -> FfiResult<&'a Engine> {
    let e = &arg_ref(engine)?.engine;
    e.check_open()?;
    Ok(e)
}

/// Engine settings; fill with [`pstor_engine_options_default`], then change.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_engine_options {
    /// Smallest storage space accepted, in bytes (default 5 GiB).
    pub min_space_capacity: u64,
    /// Segment size of new storage spaces, in bytes (default 256 MiB).
    pub segment_size: u64,
}

/// Writes the production defaults into `*out`.
#[no_mangle]
pub extern "C" fn pstor_engine_options_default(out: *mut pstor_engine_options) -> pstor_result {
    boundary(|| {
        let d = EngineOptions::new("");
        Out::new(out)?
            .write(pstor_engine_options { min_space_capacity: d.min_space_capacity, segment_size: d.segment_size });
        Ok(())
    })
}

/// Opens (or creates) the engine whose catalog is in folder `data_dir`,
/// with `options` (NULL: defaults), and writes the handle to `*out`.
///
/// Ownership: the strings are the caller's; the handle is the caller's, to
/// be released with [`pstor_engine_free`].
#[no_mangle]
pub extern "C" fn pstor_engine_open(
    data_dir: *const c_char,
    options: *const pstor_engine_options,
    out: *mut *mut pstor_engine,
) -> pstor_result {
    boundary(|| {
        let dir = arg_str(data_dir)?;
        let out = Out::new(out)?;
        let mut opts = EngineOptions::new(dir);
        if !options.is_null() {
            let o = arg_ref(options)?;
            opts.min_space_capacity = o.min_space_capacity;
            opts.segment_size = o.segment_size;
        }
        let engine = Engine::open(opts)?;
        out.write(into_handle(pstor_engine { engine }));
        Ok(())
    })
}

/// Closes the engine cleanly: flushes and syncs every stream, writes the
/// checkpoint and the clean-shutdown marker. The engine is closed even when
/// this reports an error: for example `PSTOR_POOL_FULL` when frames
/// buffered for a full stop-when-full pool (never acknowledged by a sync)
/// could not be stored. Closing again does nothing. Calls after it fail
/// with `PSTOR_CLOSED`. The handle still needs [`pstor_engine_free`].
#[no_mangle]
pub extern "C" fn pstor_engine_close(engine: *const pstor_engine) -> pstor_result {
    boundary(|| Ok(arg_ref(engine)?.engine.close()?))
}

/// Frees the handle; closes the engine first if it is still open (errors
/// are then lost: call [`pstor_engine_close`] to see them). NULL is a no-op.
#[no_mangle]
pub extern "C" fn pstor_engine_free(engine: *mut pstor_engine) {
    let _ = boundary(|| {
        if let Ok(e) = arg_ref(engine) {
            let _ = e.engine.close();
        }
        free_handle(engine);
        Ok(())
    });
}

/// Checks the engine's invariants (catalog, segment headers, footers, every
/// record's checksum) and writes the number of problems left unfixed to
/// `*out_problems` (0: clean). With `repair`, what can be fixed is fixed
/// first. Reads everything: it takes as long as the data.
#[no_mangle]
pub extern "C" fn pstor_engine_check(
    engine: *const pstor_engine,
    repair: bool,
    out_problems: *mut usize,
) -> pstor_result {
    boundary(|| {
        let e = open_engine(engine)?;
        let out = Out::new(out_problems)?;
        let report = e.check(repair)?;
        out.write(report.problems.iter().filter(|p| !p.repaired).count());
        Ok(())
    })
}
