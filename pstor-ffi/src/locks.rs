//! Locks: protect a stream's time range, or a camera's pictures, from
//! overwrite and retention, within the pool's lock quota.
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::engine::{backend_of, pstor_engine};
use crate::listing::{Listing, Texts};
use crate::ptr::{arg_ref, arg_str, free_handle, into_handle, Out};
use crate::result::{boundary, ResultCode};
use pstor_core::{LockId, LockTarget, PoolId, StreamId, Timestamp};
use std::ffi::c_char;

/// An `expires` value: the lock holds until it is removed.
pub const PSTOR_NEVER: i64 = 0;

fn expiry(expires: i64) -> Option<Timestamp> {
    (expires != PSTOR_NEVER).then_some(expires)
}

/// Locks `[start, end]` (µs UTC, inclusive) of a stream until `expires`
/// (µs UTC, or `PSTOR_NEVER`) and writes the lock id to `*out_lock`. Fails
/// with `PSTOR_LOCK_QUOTA_EXCEEDED` beyond the pool's lock quota.
#[no_mangle]
pub extern "C" fn pstor_lock_stream(
    engine: *const pstor_engine,
    stream: u64,
    start: i64,
    end: i64,
    expires: i64,
    out_lock: *mut u64,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out_lock)?;
        out.write(e.lock(StreamId(stream), start, end, expiry(expires))?.0);
        Ok(())
    })
}

/// Locks the pictures of camera `camera_id` in pool `pool` captured in
/// `[start, end]` (µs UTC) until `expires` (or `PSTOR_NEVER`) and writes the
/// lock id to `*out_lock`.
#[no_mangle]
pub extern "C" fn pstor_lock_pictures(
    engine: *const pstor_engine,
    pool: u32,
    camera_id: *const c_char,
    start: i64,
    end: i64,
    expires: i64,
    out_lock: *mut u64,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let camera = arg_str(camera_id)?;
        let out = Out::new(out_lock)?;
        out.write(e.lock_pictures(PoolId(pool), camera, start, end, expiry(expires))?.0);
        Ok(())
    })
}

/// Changes when a lock lapses (µs UTC, or `PSTOR_NEVER`).
#[no_mangle]
pub extern "C" fn pstor_lock_extend(engine: *const pstor_engine, lock: u64, expires: i64) -> ResultCode {
    boundary(|| Ok(backend_of(engine)?.extend_lock(LockId(lock), expiry(expires))?))
}

/// Removes a lock; its range may be overwritten again.
#[no_mangle]
pub extern "C" fn pstor_unlock(engine: *const pstor_engine, lock: u64) -> ResultCode {
    boundary(|| Ok(backend_of(engine)?.unlock(LockId(lock))?))
}

/// A lock as listed. A stream lock has `stream` set and `camera_id` NULL;
/// a picture lock has `pool` and `camera_id` set and `stream` 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_lock_info {
    /// Its id.
    pub id: u64,
    /// The locked stream (stream locks).
    pub stream: u64,
    /// The pool (picture locks).
    pub pool: u32,
    /// The camera (picture locks; belongs to the list).
    pub camera_id: *const c_char,
    /// Start of the locked range, µs UTC.
    pub start: i64,
    /// End of the locked range, µs UTC.
    pub end: i64,
    /// When it lapses, µs UTC, or `PSTOR_NEVER`.
    pub expires: i64,
}

/// The locks as listed at one moment (opaque). Read-only: any number of
/// threads. Freed by [`pstor_lock_list_free`] only.
pub struct pstor_lock_list(Listing<pstor_lock_info>);

/// Lists the locks in force into `*out_list`.
#[no_mangle]
pub extern "C" fn pstor_lock_list_new(engine: *const pstor_engine, out_list: *mut *mut pstor_lock_list) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out_list)?;
        let mut texts = Texts::default();
        let items = e
            .locks()?
            .iter()
            .map(|l| {
                let (stream, pool, camera_id) = match &l.target {
                    LockTarget::Stream(s) => (s.0, 0, std::ptr::null()),
                    LockTarget::Pictures { pool, camera_id } => (0, pool.0, texts.add(camera_id)),
                };
                pstor_lock_info {
                    id: l.id.0,
                    stream,
                    pool,
                    camera_id,
                    start: l.start,
                    end: l.end,
                    expires: l.expires.unwrap_or(PSTOR_NEVER),
                }
            })
            .collect();
        out.write(into_handle(pstor_lock_list(Listing::new(items, texts))));
        Ok(())
    })
}

/// The number of locks in the list (0 for NULL).
#[no_mangle]
pub extern "C" fn pstor_lock_list_len(list: *const pstor_lock_list) -> usize {
    arg_ref(list).map_or(0, |l| l.0.len())
}

/// Writes lock `index` of the list to `*out_info`; its camera id stays
/// valid until the list is freed.
#[no_mangle]
pub extern "C" fn pstor_lock_list_at(
    list: *const pstor_lock_list,
    index: usize,
    out_info: *mut pstor_lock_info,
) -> ResultCode {
    boundary(|| arg_ref(list)?.0.write_at(index, out_info))
}

/// Frees the list and its strings. NULL is a no-op.
#[no_mangle]
pub extern "C" fn pstor_lock_list_free(list: *mut pstor_lock_list) {
    let _ = boundary(|| {
        free_handle(list);
        Ok(())
    });
}
