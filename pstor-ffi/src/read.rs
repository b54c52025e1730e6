//! Reading a time range back, frame by frame, through an iterator handle.
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::engine::pstor_engine;
use crate::ptr::{arg_mut, arg_ref, free_handle, into_handle, Out};
use crate::result::{boundary, pstor_result};
use pstor_core::{Frame, FrameIter, StreamId};

/// Frames of a time range being read (opaque). Not to be shared between
/// threads while in use. Freed by [`pstor_frame_iter_free`] only.
pub struct pstor_frame_iter {
    iter: FrameIter,
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
) -> pstor_result {
    boundary(|| {
        let e = &arg_ref(engine)?.engine;
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
) -> pstor_result {
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
