//! What can be wrong with bytes received over the SDK protocol.

use pstor_core::ErrorCode;

/// A protocol violation found while decoding a frame, a body or the
/// handshake. [`ProtoError::code`] gives the stable number that travels in
/// the error frame the server answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The frame does not start with `PS`.
    #[error("bad frame magic {0:02x?} (expected \"PS\")")]
    BadMagic([u8; 2]),
    /// A protocol version this build does not speak.
    #[error("unsupported protocol version {0} (this build speaks {v})", v = crate::PROTOCOL_VERSION)]
    BadVersion(u8),
    /// An unknown frame kind.
    #[error("unknown frame kind {0}")]
    BadKind(u8),
    /// Header flag bits that version 1 does not define (all must be 0).
    #[error("unknown header flags {0:#06x}")]
    BadFlags(u16),
    /// The body is longer than the receiver accepts; found from the header
    /// alone, before any of the body is read.
    #[error("frame body of {len} bytes is larger than the limit of {max} bytes")]
    FrameTooLarge {
        /// Body length announced by the header.
        len: u32,
        /// The receiver's limit.
        max: u32,
    },
    /// The CRC in the header does not match the header and body.
    #[error("frame checksum mismatch (header says {expected:#010x}, bytes give {actual:#010x})")]
    BadCrc {
        /// CRC carried in the header.
        expected: u32,
        /// CRC computed over the bytes received.
        actual: u32,
    },
    /// A body ended before a field did.
    #[error("body truncated: {what} needs {need} bytes, {left} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes it needs.
        need: usize,
        /// Bytes left in the body.
        left: usize,
    },
    /// A body is not well formed (bad enum tag, bad UTF-8, a bool that is not
    /// 0 or 1, bytes left over, a value out of range).
    #[error("malformed body: {0}")]
    Malformed(String),
    /// An operation number this build does not know.
    #[error("unknown operation {0:#06x}")]
    UnknownOp(u16),
    /// A frame of an unexpected kind at this point of the conversation.
    #[error("unexpected {got} frame (expected {expected})")]
    UnexpectedKind {
        /// What was expected.
        expected: &'static str,
        /// What came.
        got: &'static str,
    },
    /// The handshake failed: unknown access key, wrong proof, or a server
    /// whose proof does not match (not the server holding the secret key).
    #[error("authentication failed: {0}")]
    AuthFailed(String),
}

impl ProtoError {
    /// The stable error number this violation is reported with.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtoError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            ProtoError::UnknownOp(_) => ErrorCode::UnknownRequest,
            ProtoError::AuthFailed(_) => ErrorCode::AuthFailed,
            _ => ErrorCode::Protocol,
        }
    }

    /// Whether the connection must be closed after reporting it. Only an
    /// unknown operation leaves the byte stream in step (its whole frame was
    /// read); everything else means the peer cannot be trusted to be.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, ProtoError::UnknownOp(_))
    }

    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        ProtoError::Malformed(what.into())
    }
}

/// A protocol error as an engine error ([`pstor_core::Error::Remote`]), the
/// form the SDKs report every failure in.
impl From<ProtoError> for pstor_core::Error {
    fn from(e: ProtoError) -> Self {
        pstor_core::Error::Remote { code: e.code(), message: e.to_string() }
    }
}
