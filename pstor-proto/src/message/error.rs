//! Error frames: kind error, the op and request id of the request that
//! failed (0 and 0 when the connection itself failed), body = u32 error
//! code (the stable numbers of docs/error-codes.md) + str message.

use crate::frame::{frame_bytes, Kind};
use crate::wire::{Reader, Wire, Writer};
use crate::ProtoError;
use bytes::Bytes;
use pstor_core::ErrorCode;

/// The body of an error frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// The stable error number ([`pstor_core::ErrorCode::number`]).
    pub code: u32,
    /// What was wrong, in words an operator can act on.
    pub message: String,
}

impl ErrorReply {
    /// The reply for an engine error.
    pub fn from_error(e: &pstor_core::Error) -> Self {
        ErrorReply { code: e.code().number(), message: e.to_string() }
    }

    /// The reply for a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorReply { code: code.number(), message: message.into() }
    }

    /// As the error an SDK reports: [`pstor_core::Error::Remote`] with the
    /// code (a number this build does not know becomes
    /// [`ErrorCode::Unknown`], the number kept in the message).
    pub fn into_error(self) -> pstor_core::Error {
        match ErrorCode::from_number(self.code) {
            Some(code) => pstor_core::Error::Remote { code, message: self.message },
            None => pstor_core::Error::Remote {
                code: ErrorCode::Unknown,
                message: format!("error {}: {}", self.code, self.message),
            },
        }
    }

    /// The whole error frame.
    pub fn to_frame(&self, op: u16, request_id: u32) -> Bytes {
        let mut w = Writer::new();
        self.put(&mut w);
        // The message is at most 65,535 bytes: the body always fits.
        frame_bytes(Kind::Error, op, request_id, &w.into_body(), u32::MAX).unwrap_or_default()
    }
}

impl Wire for ErrorReply {
    const MIN_LEN: usize = 4 + 2;
    fn put(&self, w: &mut Writer) {
        w.u32(self.code);
        w.str(&self.message);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(ErrorReply { code: r.u32()?, message: r.str()? })
    }
}

impl From<ProtoError> for ErrorReply {
    fn from(e: ProtoError) -> Self {
        ErrorReply { code: e.code().number(), message: e.to_string() }
    }
}

/// The error frame reporting `err` as the answer to request `request_id`
/// of operation `op`.
pub fn error_to_frame(err: &pstor_core::Error, op: u16, request_id: u32) -> Bytes {
    ErrorReply::from_error(err).to_frame(op, request_id)
}

/// The error an error frame's body reports, as
/// [`pstor_core::Error::Remote`]. A body that does not decode gives a
/// [`ErrorCode::Protocol`] error saying so.
pub fn error_from_frame(body: &[u8]) -> pstor_core::Error {
    match crate::wire::from_body::<ErrorReply>(&Bytes::copy_from_slice(body)) {
        Ok(e) => e.into_error(),
        Err(e) => pstor_core::Error::Remote {
            code: ErrorCode::Protocol,
            message: format!("the server sent an error frame that does not decode: {e}"),
        },
    }
}
