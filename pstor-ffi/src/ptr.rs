//! Every use of a C pointer. The rest of the crate gets references, slices
//! and strings from here, each already checked for NULL, so unsafe code is
//! confined to this module. What the caller must guarantee is in
//! `pstor-ffi/README.md`: pointers are valid for the lengths given, handles
//! came from this library and were not freed, and outputs are writable.
#![allow(unsafe_code)]

use crate::result::{Failure, FfiResult};
use std::ffi::{c_char, CStr};

/// A shared reference from a non-NULL pointer.
pub fn arg_ref<'a, T>(p: *const T) -> FfiResult<&'a T> {
    // SAFETY: the caller passes a pointer to a live `T` (README, "Handles
    // and pointers"); NULL is rejected by `as_ref`.
    unsafe { p.as_ref() }.ok_or(Failure::NullParameter)
}

/// `len` values from a pointer; NULL is allowed when `len` is 0.
pub fn arg_slice<'a, T>(p: *const T, len: usize) -> FfiResult<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Failure::NullParameter);
    }
    // SAFETY: non-NULL, and the caller guarantees `len` readable, aligned
    // values that stay unchanged for the call.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A UTF-8 string from a NUL-terminated C string.
pub fn arg_str<'a>(p: *const c_char) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(Failure::NullParameter);
    }
    // SAFETY: non-NULL, and the caller guarantees a NUL-terminated string
    // that stays unchanged for the call.
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| Failure::InvalidUtf8)
}

/// Writes an output value; NULL fails before anything is done.
pub struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Checks an output pointer.
    pub fn new(p: *mut T) -> FfiResult<Out<T>> {
        if p.is_null() {
            Err(Failure::NullParameter)
        } else {
            Ok(Out(p))
        }
    }

    /// Writes the value (outputs are written only on success, last).
    pub fn write(self, v: T) {
        // SAFETY: checked non-NULL in `new`; the caller guarantees it is
        // writable and aligned for a `T`.
        unsafe { self.0.write(v) }
    }
}

/// A handle for C: the value boxed, handed out as a pointer.
pub fn into_handle<T>(v: T) -> *mut T {
    Box::into_raw(Box::new(v))
}

/// Takes a handle back to drop it; NULL is a no-op.
pub fn free_handle<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: the caller passes a handle from `into_handle` that was not
        // freed before (README: each handle is freed once, by its function).
        drop(unsafe { Box::from_raw(p) });
    }
}

/// A mutable reference to a handle's value.
pub fn arg_mut<'a, T>(p: *mut T) -> FfiResult<&'a mut T> {
    // SAFETY: the caller passes a live handle that no other thread uses
    // during the call (README: iterators are not shared between threads).
    unsafe { p.as_mut() }.ok_or(Failure::NullParameter)
}

/// Copies `text` and a NUL into a caller's buffer of `len` bytes, cut at a
/// character boundary if it does not fit; returns the bytes written
/// without the NUL.
pub fn copy_text(text: &str, buf: *mut c_char, len: usize) -> FfiResult<usize> {
    if buf.is_null() {
        return Err(Failure::NullParameter);
    }
    if len == 0 {
        return Err(Failure::BufferTooSmall);
    }
    let mut n = text.len().min(len - 1);
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: `buf` is non-NULL and the caller guarantees `len` writable
    // bytes; `n + 1 <= len`.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
        buf.add(n).write(0);
    }
    Ok(n)
}
