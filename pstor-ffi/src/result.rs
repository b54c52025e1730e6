//! Result codes and messages at the C boundary: every exported function
//! returns a [`pstor_result`], runs inside a panic boundary, and leaves a
//! detailed message for [`pstor_result_message`].
//!
//! The numbers are `pstor_core::ErrorCode`'s (docs/error-codes.md); a test
//! checks that this enum lists exactly those, by number and name.
//!
//! The enum names the numbers for C; what the functions return in Rust is
//! [`ResultCode`], a `u32` that C sees as that same `pstor_result` (a
//! `uint32_t`; cbindgen.toml prints it under that name). A remote server of
//! a later version may report a number this build does not list: it is
//! returned as it is, which a Rust enum could not hold.
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::ptr::{copy_text, Out};
use pstor_core::{Error, ErrorCode};
use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The result of every fallible function: `PSTOR_OK` (0) or the stable
/// number of what went wrong. Numbers are never reused (docs/error-codes.md).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pstor_result {
    /// Success.
    PSTOR_OK = 0,
    /// A required pointer argument was NULL.
    PSTOR_NULL_PARAMETER = 1,
    /// A panic was caught (a bug in pstor): in a background job such as a
    /// space initialization, or at a binding's boundary.
    PSTOR_PANIC = 2,
    /// A caller's buffer is too small for the output.
    PSTOR_BUFFER_TOO_SMALL = 3,
    /// A string argument is not valid UTF-8.
    PSTOR_INVALID_UTF8 = 4,
    /// An error this build of the binding has no number for.
    PSTOR_UNKNOWN = 99,
    /// An I/O call failed.
    PSTOR_IO = 100,
    /// Bytes on disk are not what they should be.
    PSTOR_CORRUPT = 101,
    /// The data asked for was recycled while being read.
    PSTOR_OVERWRITTEN = 102,
    /// A storage space path does not exist.
    PSTOR_PATH_NOT_FOUND = 200,
    /// A storage space path is not a directory.
    PSTOR_NOT_A_DIRECTORY = 201,
    /// The folder is already a storage space.
    PSTOR_ALREADY_INITIALIZED = 202,
    /// The folder holds no storage space.
    PSTOR_NOT_A_SPACE = 203,
    /// The capacity is below the minimum.
    PSTOR_CAPACITY_TOO_SMALL = 204,
    /// The volume lacks the free space asked for.
    PSTOR_INSUFFICIENT_VOLUME_SPACE = 205,
    /// A bad segment size.
    PSTOR_BAD_SEGMENT_SIZE = 206,
    /// A space initialization was cancelled.
    PSTOR_CANCELLED = 207,
    /// No such storage space.
    PSTOR_SPACE_NOT_FOUND = 208,
    /// The storage space is already attached.
    PSTOR_SPACE_ALREADY_KNOWN = 209,
    /// The storage space is lost (its folder vanished).
    PSTOR_SPACE_LOST = 210,
    /// The storage space failed (an earlier I/O error).
    PSTOR_SPACE_FAILED = 211,
    /// The storage space's status does not allow this.
    PSTOR_SPACE_STATUS = 212,
    /// A destructive operation needs its explicit confirmation.
    PSTOR_CONFIRMATION_REQUIRED = 213,
    /// The folder is in use by another engine.
    PSTOR_IN_USE = 214,
    /// The data folder is a copy of another engine's.
    PSTOR_ENGINE_COPIED = 215,
    /// The pool limit is reached.
    PSTOR_TOO_MANY_POOLS = 300,
    /// A pool with that name exists.
    PSTOR_DUPLICATE_POOL_NAME = 301,
    /// No such pool.
    PSTOR_POOL_NOT_FOUND = 302,
    /// The pool capacity exceeds the free capacity of its spaces.
    PSTOR_CAPACITY_EXCEEDS_FREE = 303,
    /// A pool cannot shrink below what it uses.
    PSTOR_SHRINK_BELOW_USED = 304,
    /// The pool still has locks.
    PSTOR_POOL_HAS_LOCKS = 305,
    /// The pool refuses the write.
    PSTOR_POOL_FULL = 306,
    /// The pool is of the wrong kind (video vs picture).
    PSTOR_WRONG_POOL_KIND = 307,
    /// No such stream.
    PSTOR_STREAM_NOT_FOUND = 400,
    /// The stream is already registered.
    PSTOR_STREAM_EXISTS = 401,
    /// A frame's timestamp is before the stream's last one.
    PSTOR_OUT_OF_ORDER = 402,
    /// A frame's timestamp equals the stream's last one.
    PSTOR_DUPLICATE_TIMESTAMP = 403,
    /// A frame is empty or too large.
    PSTOR_FRAME_SIZE = 404,
    /// A picture id is not well formed.
    PSTOR_INVALID_PICTURE_ID = 500,
    /// No such picture.
    PSTOR_PICTURE_NOT_FOUND = 501,
    /// No picture under that bucket and key.
    PSTOR_KEY_NOT_FOUND = 502,
    /// A picture is empty or too large.
    PSTOR_PICTURE_SIZE = 503,
    /// The key index failed.
    PSTOR_KEY_INDEX = 504,
    /// No such lock.
    PSTOR_LOCK_NOT_FOUND = 600,
    /// The lock would exceed the pool's lock quota.
    PSTOR_LOCK_QUOTA_EXCEEDED = 601,
    /// The SDK protocol was broken (bad magic, version, checksum or body).
    PSTOR_PROTOCOL = 700,
    /// Authentication failed: unknown access key, or wrong secret key.
    PSTOR_AUTH_FAILED = 701,
    /// The server does not know the request, or does not serve it on this port.
    PSTOR_UNKNOWN_REQUEST = 702,
    /// A protocol frame is larger than the peer accepts.
    PSTOR_FRAME_TOO_LARGE = 703,
    /// The server is at its connection limit or shutting down.
    PSTOR_BUSY = 704,
    /// The peer did not answer in time.
    PSTOR_TIMEOUT = 705,
    /// Not connected, or the connection was lost: the outcome of a request
    /// in flight is unknown (only what a sync acknowledged is durable).
    PSTOR_DISCONNECTED = 706,
    /// The operation is not available in this mode (embedded or remote).
    PSTOR_UNSUPPORTED = 707,
    /// The server restarted since writes that no sync acknowledged were
    /// sent to it: they may be lost (remote mode; reported once).
    PSTOR_SERVER_RESTARTED = 708,
    /// An argument is out of range or malformed.
    PSTOR_INVALID_ARGUMENT = 900,
    /// The engine is closed.
    PSTOR_CLOSED = 901,
}

impl pstor_result {
    /// The constant with this number, if this build lists it.
    pub fn from_number(n: u32) -> Option<pstor_result> {
        Some(match n {
            0 => pstor_result::PSTOR_OK,
            1 => pstor_result::PSTOR_NULL_PARAMETER,
            2 => pstor_result::PSTOR_PANIC,
            3 => pstor_result::PSTOR_BUFFER_TOO_SMALL,
            4 => pstor_result::PSTOR_INVALID_UTF8,
            99 => pstor_result::PSTOR_UNKNOWN,
            100 => pstor_result::PSTOR_IO,
            101 => pstor_result::PSTOR_CORRUPT,
            102 => pstor_result::PSTOR_OVERWRITTEN,
            200 => pstor_result::PSTOR_PATH_NOT_FOUND,
            201 => pstor_result::PSTOR_NOT_A_DIRECTORY,
            202 => pstor_result::PSTOR_ALREADY_INITIALIZED,
            203 => pstor_result::PSTOR_NOT_A_SPACE,
            204 => pstor_result::PSTOR_CAPACITY_TOO_SMALL,
            205 => pstor_result::PSTOR_INSUFFICIENT_VOLUME_SPACE,
            206 => pstor_result::PSTOR_BAD_SEGMENT_SIZE,
            207 => pstor_result::PSTOR_CANCELLED,
            208 => pstor_result::PSTOR_SPACE_NOT_FOUND,
            209 => pstor_result::PSTOR_SPACE_ALREADY_KNOWN,
            210 => pstor_result::PSTOR_SPACE_LOST,
            211 => pstor_result::PSTOR_SPACE_FAILED,
            212 => pstor_result::PSTOR_SPACE_STATUS,
            213 => pstor_result::PSTOR_CONFIRMATION_REQUIRED,
            214 => pstor_result::PSTOR_IN_USE,
            215 => pstor_result::PSTOR_ENGINE_COPIED,
            300 => pstor_result::PSTOR_TOO_MANY_POOLS,
            301 => pstor_result::PSTOR_DUPLICATE_POOL_NAME,
            302 => pstor_result::PSTOR_POOL_NOT_FOUND,
            303 => pstor_result::PSTOR_CAPACITY_EXCEEDS_FREE,
            304 => pstor_result::PSTOR_SHRINK_BELOW_USED,
            305 => pstor_result::PSTOR_POOL_HAS_LOCKS,
            306 => pstor_result::PSTOR_POOL_FULL,
            307 => pstor_result::PSTOR_WRONG_POOL_KIND,
            400 => pstor_result::PSTOR_STREAM_NOT_FOUND,
            401 => pstor_result::PSTOR_STREAM_EXISTS,
            402 => pstor_result::PSTOR_OUT_OF_ORDER,
            403 => pstor_result::PSTOR_DUPLICATE_TIMESTAMP,
            404 => pstor_result::PSTOR_FRAME_SIZE,
            500 => pstor_result::PSTOR_INVALID_PICTURE_ID,
            501 => pstor_result::PSTOR_PICTURE_NOT_FOUND,
            502 => pstor_result::PSTOR_KEY_NOT_FOUND,
            503 => pstor_result::PSTOR_PICTURE_SIZE,
            504 => pstor_result::PSTOR_KEY_INDEX,
            600 => pstor_result::PSTOR_LOCK_NOT_FOUND,
            601 => pstor_result::PSTOR_LOCK_QUOTA_EXCEEDED,
            700 => pstor_result::PSTOR_PROTOCOL,
            701 => pstor_result::PSTOR_AUTH_FAILED,
            702 => pstor_result::PSTOR_UNKNOWN_REQUEST,
            703 => pstor_result::PSTOR_FRAME_TOO_LARGE,
            704 => pstor_result::PSTOR_BUSY,
            705 => pstor_result::PSTOR_TIMEOUT,
            706 => pstor_result::PSTOR_DISCONNECTED,
            707 => pstor_result::PSTOR_UNSUPPORTED,
            708 => pstor_result::PSTOR_SERVER_RESTARTED,
            900 => pstor_result::PSTOR_INVALID_ARGUMENT,
            901 => pstor_result::PSTOR_CLOSED,
            _ => return None,
        })
    }
}

/// What every exported function returns: `PSTOR_OK` (0) or the number of
/// what went wrong, one of [`pstor_result`]'s or, from a remote server of
/// a later version, a number this build does not list (kept as is). In C
/// this is `pstor_result` itself: cbindgen prints it under that name.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ResultCode(u32);

impl ResultCode {
    /// The result for an error code, its number as it is.
    pub fn from_code(code: ErrorCode) -> ResultCode {
        ResultCode(code.number())
    }

    /// The number.
    pub fn number(self) -> u32 {
        self.0
    }
}

impl From<pstor_result> for ResultCode {
    fn from(r: pstor_result) -> Self {
        ResultCode(r as u32)
    }
}

impl PartialEq<pstor_result> for ResultCode {
    fn eq(&self, other: &pstor_result) -> bool {
        self.0 == *other as u32
    }
}

/// The C name for a listed number, else the number.
impl std::fmt::Debug for ResultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match pstor_result::from_number(self.0) {
            Some(r) => write!(f, "{r:?}"),
            None => write!(f, "pstor_result({})", self.0),
        }
    }
}

/// Why a call failed: the binding's own checks, or the engine's error.
#[derive(Debug)]
pub enum Failure {
    /// A required pointer was NULL.
    NullParameter,
    /// A string was not UTF-8.
    InvalidUtf8,
    /// An output buffer was too small.
    BufferTooSmall,
    /// The engine refused.
    Engine(Error),
    /// A code with a message of the binding's own (a lookup that found nothing, ...).
    Coded(ErrorCode, String),
}

impl Failure {
    /// An invalid argument, with what was wrong.
    pub fn invalid(what: impl Into<String>) -> Failure {
        Failure::Engine(Error::InvalidArgument(what.into()))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

/// What the crate's functions return before the boundary turns it into a code.
pub type FfiResult<T> = Result<T, Failure>;

impl Failure {
    fn describe(&self) -> (ResultCode, String) {
        let code = match self {
            Failure::NullParameter => ErrorCode::NullParameter,
            Failure::InvalidUtf8 => ErrorCode::InvalidUtf8,
            Failure::BufferTooSmall => ErrorCode::BufferTooSmall,
            Failure::Engine(e) => e.code(),
            Failure::Coded(code, _) => *code,
        };
        let message = match self {
            Failure::Engine(e) => e.to_string(),
            Failure::Coded(_, message) => message.clone(),
            _ => code.description().to_string(),
        };
        (ResultCode::from_code(code), message)
    }
}

thread_local! {
    /// The last failure on this thread: its code and message.
    static LAST: RefCell<Option<(ResultCode, String)>> = const { RefCell::new(None) };
}

/// Runs an exported function's body: a panic becomes `PSTOR_PANIC`, a
/// failure its code; either leaves its message for [`pstor_result_message`].
pub fn boundary(body: impl FnOnce() -> FfiResult<()>) -> ResultCode {
    let (code, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return pstor_result::PSTOR_OK.into(),
        Ok(Err(failure)) => failure.describe(),
        Err(panic) => (
            pstor_result::PSTOR_PANIC.into(),
            format!("internal error (please report it): {}", pstor_core::panic_message(panic.as_ref())),
        ),
    };
    LAST.with(|l| *l.borrow_mut() = Some((code, message)));
    code
}

/// Copies the message for `result` into `buf` (`len` bytes, NUL-terminated,
/// cut to fit) and its length without the NUL into `*out_n`. The message is
/// the detailed one of the last failure on this thread when that failure
/// had this code (which object, and why), else the code's description. A
/// number this build does not list (a newer server's) has the server's
/// message when it is the last failure's.
///
/// Ownership: `buf` is the caller's. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn pstor_result_message(result: u32, buf: *mut c_char, len: usize, out_n: *mut usize) -> ResultCode {
    boundary(|| {
        let out_n = Out::new(out_n)?;
        let last = LAST.with(|l| l.borrow().clone());
        let text = match (last, ErrorCode::from_number(result)) {
            (Some((code, message)), _) if code.number() == result => message,
            (_, Some(code)) => code.description().to_string(),
            (_, None) => format!("unknown result code {result}"),
        };
        out_n.write(copy_text(&text, buf, len)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_code_has_its_c_result() {
        for &code in ErrorCode::ALL {
            let r = ResultCode::from_code(code);
            assert_eq!(r.number(), code.number(), "{code}");
            assert_eq!(format!("{r:?}"), code.c_name());
            assert_eq!(pstor_result::from_number(code.number()).map(|r| r as u32), Some(code.number()));
        }
        assert_eq!(pstor_result::from_number(950), None);
    }

    /// A remote backend reports a server's error as `Error::Remote`: it
    /// crosses as the number it carries, with the server's message.
    #[test]
    fn a_remote_error_crosses_as_its_code() {
        for (code, result) in [
            (ErrorCode::PoolFull, pstor_result::PSTOR_POOL_FULL),
            (ErrorCode::Closed, pstor_result::PSTOR_CLOSED),
            (ErrorCode::Protocol, pstor_result::PSTOR_PROTOCOL),
            (ErrorCode::AuthFailed, pstor_result::PSTOR_AUTH_FAILED),
            (ErrorCode::UnknownRequest, pstor_result::PSTOR_UNKNOWN_REQUEST),
            (ErrorCode::FrameTooLarge, pstor_result::PSTOR_FRAME_TOO_LARGE),
            (ErrorCode::Busy, pstor_result::PSTOR_BUSY),
            (ErrorCode::Timeout, pstor_result::PSTOR_TIMEOUT),
            (ErrorCode::Disconnected, pstor_result::PSTOR_DISCONNECTED),
            (ErrorCode::Unsupported, pstor_result::PSTOR_UNSUPPORTED),
        ] {
            let message = format!("the server says: {}", code.description());
            let got = boundary(|| Err(Error::Remote { code, message: message.clone() }.into()));
            assert_eq!(got, result);
            assert_eq!(got.number(), code.number());
            let mut buf = [0 as c_char; 256];
            let mut n = 0usize;
            assert_eq!(pstor_result_message(got.number(), buf.as_mut_ptr(), buf.len(), &mut n), pstor_result::PSTOR_OK);
            let text: Vec<u8> = buf[..n].iter().map(|&c| c as u8).collect();
            assert_eq!(String::from_utf8(text).expect("utf-8"), message);
        }
    }

    /// A number this build does not know, from a newer server (the remote
    /// backend decodes its error frame into `ErrorCode::Other`, see
    /// pstor-proto), is what the C caller gets back (not `PSTOR_UNKNOWN`),
    /// with the server's message.
    #[test]
    fn an_unknown_remote_number_is_returned_as_it_is() {
        let message = "a newer server's refusal".to_string();
        let got = boundary(|| Err(Error::Remote { code: ErrorCode::of(950), message }.into()));
        assert_eq!(got.number(), 950);
        assert_eq!(format!("{got:?}"), "pstor_result(950)");
        let mut buf = [0 as c_char; 256];
        let mut n = 0usize;
        assert_eq!(pstor_result_message(950, buf.as_mut_ptr(), buf.len(), &mut n), pstor_result::PSTOR_OK);
        let text: Vec<u8> = buf[..n].iter().map(|&c| c as u8).collect();
        assert_eq!(String::from_utf8(text).expect("utf-8"), "a newer server's refusal");
    }
}
