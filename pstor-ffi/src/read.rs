//! Reading a time range back, frame by frame, through an iterator handle;
//! the recorded ranges of a stream.
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::engine::{backend_of, pstor_engine};
use crate::listing::{Listing, Texts};
use crate::ptr::{arg_mut, arg_ref, free_handle, into_handle, Out};
use crate::result::{boundary, ResultCode};
use pstor_client::FrameStream;
use pstor_core::{Frame, StreamId};

/// Frames of a time range being read (opaque). Not to be shared between
/// threads while in use. Freed by [`pstor_frame_iter_free`] only.
pub struct pstor_frame_iter {
    iter: FrameStream,
    /// The frame last returned: its bytes stay valid until the next call.
    current: Option<Frame>,
}

/// One frame. `data` points into memory owned by the iterator, valid until
/// the next [`pstor_frame_iter_next`] or [`pstor_frame_iter_free`] on it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_frame {
    /// Timestamp, µs UTC.
    pub ts: i64,
    /// Whether it is a key frame.
    pub key: bool,
    /// Its bytes (`len` of them).
    pub data: *const u8,
    /// Its length.
    pub len: usize,
}

/// Starts reading `[start, end]` (µs UTC) of a stream, from the last key
/// frame at or before `start`, and writes the iterator to `*out`.
#[no_mangle]
pub extern "C" fn pstor_read_open(
    engine: *const pstor_engine,
    stream: u64,
    start: i64,
    end: i64,
    out: *mut *mut pstor_frame_iter,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out)?;
        let iter = e.read(StreamId(stream), start, end)?;
        out.write(into_handle(pstor_frame_iter { iter, current: None }));
        Ok(())
    })
}

/// Writes the next frame to `*out_frame` and true to `*out_has`, or false to
/// `*out_has` at the end of the range. A damaged or overwritten record
/// fails with `PSTOR_CORRUPT` or `PSTOR_OVERWRITTEN`; the frames before it
/// were returned.
#[no_mangle]
pub extern "C" fn pstor_frame_iter_next(
    iter: *mut pstor_frame_iter,
    out_frame: *mut pstor_frame,
    out_has: *mut bool,
) -> ResultCode {
    boundary(|| {
        let it = arg_mut(iter)?;
        let (out_frame, out_has) = (Out::new(out_frame)?, Out::new(out_has)?);
        it.current = it.iter.next().transpose()?;
        match &it.current {
            Some(f) => {
                out_frame.write(pstor_frame { ts: f.ts, key: f.key, data: f.data.as_ptr(), len: f.data.len() });
                out_has.write(true);
            }
            None => out_has.write(false),
        }
        Ok(())
    })
}

/// Frees the iterator (and the last frame's bytes). NULL is a no-op.
#[no_mangle]
pub extern "C" fn pstor_frame_iter_free(iter: *mut pstor_frame_iter) {
    let _ = boundary(|| {
        free_handle(iter);
        Ok(())
    });
}

/// One recorded time range, µs UTC, both ends included.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_range {
    /// First recorded moment.
    pub start: i64,
    /// Last recorded moment.
    pub end: i64,
}

/// Recorded ranges of a stream (opaque). Read-only: any number of threads.
/// Freed by [`pstor_range_list_free`] only.
pub struct pstor_range_list(Listing<pstor_range>);

/// Lists the recorded ranges of a stream within `[start, end]` (µs UTC)
/// into `*out_list`, merging gaps up to `tolerance_us` (what the VMS
/// timeline shows).
#[no_mangle]
pub extern "C" fn pstor_recorded_ranges(
    engine: *const pstor_engine,
    stream: u64,
    start: i64,
    end: i64,
    tolerance_us: i64,
    out_list: *mut *mut pstor_range_list,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out_list)?;
        let items = e
            .recorded_ranges(StreamId(stream), start, end, tolerance_us)?
            .into_iter()
            .map(|(start, end)| pstor_range { start, end })
            .collect();
        out.write(into_handle(pstor_range_list(Listing::new(items, Texts::default()))));
        Ok(())
    })
}

/// The number of ranges in the list (0 for NULL).
#[no_mangle]
pub extern "C" fn pstor_range_list_len(list: *const pstor_range_list) -> usize {
    arg_ref(list).map_or(0, |l| l.0.len())
}

/// Writes range `index` of the list to `*out_range`.
#[no_mangle]
pub extern "C" fn pstor_range_list_at(
    list: *const pstor_range_list,
    index: usize,
    out_range: *mut pstor_range,
) -> ResultCode {
    boundary(|| arg_ref(list)?.0.write_at(index, out_range))
}

/// Frees the list. NULL is a no-op.
#[no_mangle]
pub extern "C" fn pstor_range_list_free(list: *mut pstor_range_list) {
    let _ = boundary(|| {
        free_handle(list);
        Ok(())
    });
}
