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
    /// code and the server's message. A number this build does not know (a
    /// newer server's) is kept as it is: [`ErrorCode::Other`].
    pub fn into_error(self) -> pstor_core::Error {
        pstor_core::Error::Remote { code: ErrorCode::of(self.code), message: self.message }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::decode_frame;

    /// An error frame from a newer server, with a number this build does
    /// not know: the number survives decoding, with the server's message.
    #[test]
    fn an_unknown_error_number_is_kept() {
        let bytes = ErrorReply { code: 950, message: "quota of the newer kind exceeded".into() }.to_frame(0x1000, 9);
        let (frame, _) = decode_frame(&bytes, u32::MAX).expect("decodes").expect("whole");
        assert_eq!((frame.header.kind, frame.header.request_id), (Kind::Error, 9));
        let e = error_from_frame(&frame.body);
        assert_eq!(e.code(), ErrorCode::Other(950));
        assert_eq!(e.code().number(), 950);
        assert!(matches!(&e, pstor_core::Error::Remote { code: ErrorCode::Other(950), .. }), "{e:?}");
        assert_eq!(e.to_string(), "quota of the newer kind exceeded");
        // A known number is still its own code.
        let known = ErrorReply { code: 302, message: "pool 7 not found".into() }.into_error();
        assert_eq!(known.code(), ErrorCode::PoolNotFound);
    }
}
