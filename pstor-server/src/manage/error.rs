//! Errors of the management API: a JSON body
//! `{"error": {"code": 802, "name": "PSTOR_BAD_CREDENTIALS", "message": "..."}}`
//! with a fitting HTTP status. Engine errors keep their stable numbers
//! (docs/error-codes.md); the API's own failures (authentication, request
//! shape) have the 800 range, listed in [`ApiCode::ALL`] and in the same
//! document.

use crate::meta::MetaError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pstor_core::ErrorCode;

/// The management API's own error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiCode {
    /// No session cookie or bearer token, or an expired or revoked one.
    Unauthenticated,
    /// The session's password is one-time or was reset: change it first.
    PasswordChangeRequired,
    /// Wrong user name or password.
    BadCredentials,
    /// Too many failed logins: wait (Retry-After).
    LockedOut,
    /// A state-changing request without the session's CSRF token.
    Csrf,
    /// The client's address is not in the allowed ranges.
    AddressNotAllowed,
    /// The new password breaks the password rules.
    WeakPassword,
    /// No such endpoint or object.
    NotFound,
    /// The request is malformed (JSON, query, path).
    BadRequest,
    /// The endpoint exists but not with this method.
    MethodNotAllowed,
    /// The request body is larger than allowed.
    BodyTooLarge,
    /// The body is not JSON (`Content-Type: application/json`).
    UnsupportedMediaType,
    /// The request conflicts with the current state.
    Conflict,
    /// The service cannot answer now (metadata database failure, stopping).
    Unavailable,
    /// This machine cannot mount network shares of that kind.
    ShareUnsupported,
    /// The network share refused the user and password.
    ShareAuthFailed,
    /// The network share could not be reached or mounted.
    ShareMountFailed,
    /// A recording schedule's field is wrong (the message names it).
    InvalidSchedule,
    /// Recording another camera would exceed the channel limit.
    ChannelLimitReached,
    /// Nothing playable is recorded in the asked range.
    NoRecording,
    /// The `Range` header asks for bytes the file does not have.
    RangeNotSatisfiable,
    /// The range is longer than one file may cover, or holds a gap a file cannot show.
    ExportTooLong,
    /// The stored frames cannot make an MP4 file (codec, parameter sets).
    Unplayable,
    /// A signed link's signature, key or form is wrong.
    BadLink,
    /// A signed link has expired.
    LinkExpired,
    /// `If-Match` or `If-Unmodified-Since` does not hold.
    PreconditionFailed,
}

impl ApiCode {
    /// Every code, in number order (the reference table's order).
    pub const ALL: [ApiCode; 26] = [
        ApiCode::Unauthenticated,
        ApiCode::PasswordChangeRequired,
        ApiCode::BadCredentials,
        ApiCode::LockedOut,
        ApiCode::Csrf,
        ApiCode::AddressNotAllowed,
        ApiCode::WeakPassword,
        ApiCode::NotFound,
        ApiCode::BadRequest,
        ApiCode::MethodNotAllowed,
        ApiCode::BodyTooLarge,
        ApiCode::UnsupportedMediaType,
        ApiCode::Conflict,
        ApiCode::Unavailable,
        ApiCode::ShareUnsupported,
        ApiCode::ShareAuthFailed,
        ApiCode::ShareMountFailed,
        ApiCode::InvalidSchedule,
        ApiCode::ChannelLimitReached,
        ApiCode::NoRecording,
        ApiCode::RangeNotSatisfiable,
        ApiCode::ExportTooLong,
        ApiCode::Unplayable,
        ApiCode::BadLink,
        ApiCode::LinkExpired,
        ApiCode::PreconditionFailed,
    ];

    /// Its stable number.
    pub fn number(self) -> u32 {
        800 + ApiCode::ALL.iter().position(|&c| c == self).unwrap_or(99) as u32
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            ApiCode::Unauthenticated => "PSTOR_UNAUTHENTICATED",
            ApiCode::PasswordChangeRequired => "PSTOR_PASSWORD_CHANGE_REQUIRED",
            ApiCode::BadCredentials => "PSTOR_BAD_CREDENTIALS",
            ApiCode::LockedOut => "PSTOR_LOCKED_OUT",
            ApiCode::Csrf => "PSTOR_CSRF",
            ApiCode::AddressNotAllowed => "PSTOR_ADDRESS_NOT_ALLOWED",
            ApiCode::WeakPassword => "PSTOR_WEAK_PASSWORD",
            ApiCode::NotFound => "PSTOR_NOT_FOUND",
            ApiCode::BadRequest => "PSTOR_BAD_REQUEST",
            ApiCode::MethodNotAllowed => "PSTOR_METHOD_NOT_ALLOWED",
            ApiCode::BodyTooLarge => "PSTOR_BODY_TOO_LARGE",
            ApiCode::UnsupportedMediaType => "PSTOR_UNSUPPORTED_MEDIA_TYPE",
            ApiCode::Conflict => "PSTOR_CONFLICT",
            ApiCode::Unavailable => "PSTOR_UNAVAILABLE",
            ApiCode::ShareUnsupported => "PSTOR_SHARE_UNSUPPORTED",
            ApiCode::ShareAuthFailed => "PSTOR_SHARE_AUTH_FAILED",
            ApiCode::ShareMountFailed => "PSTOR_SHARE_MOUNT_FAILED",
            ApiCode::InvalidSchedule => "PSTOR_INVALID_SCHEDULE",
            ApiCode::ChannelLimitReached => "PSTOR_CHANNEL_LIMIT_REACHED",
            ApiCode::NoRecording => "PSTOR_NO_RECORDING",
            ApiCode::RangeNotSatisfiable => "PSTOR_RANGE_NOT_SATISFIABLE",
            ApiCode::ExportTooLong => "PSTOR_EXPORT_TOO_LONG",
            ApiCode::Unplayable => "PSTOR_UNPLAYABLE",
            ApiCode::BadLink => "PSTOR_BAD_LINK",
            ApiCode::LinkExpired => "PSTOR_LINK_EXPIRED",
            ApiCode::PreconditionFailed => "PSTOR_PRECONDITION_FAILED",
        }
    }

    /// Its HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            ApiCode::Unauthenticated | ApiCode::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiCode::PasswordChangeRequired | ApiCode::Csrf | ApiCode::AddressNotAllowed => StatusCode::FORBIDDEN,
            ApiCode::LockedOut => StatusCode::TOO_MANY_REQUESTS,
            ApiCode::WeakPassword | ApiCode::ShareUnsupported | ApiCode::ShareAuthFailed | ApiCode::InvalidSchedule => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiCode::NotFound => StatusCode::NOT_FOUND,
            ApiCode::BadRequest => StatusCode::BAD_REQUEST,
            ApiCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiCode::Conflict | ApiCode::ChannelLimitReached => StatusCode::CONFLICT,
            ApiCode::Unavailable | ApiCode::ShareMountFailed => StatusCode::SERVICE_UNAVAILABLE,
            ApiCode::NoRecording => StatusCode::NOT_FOUND,
            ApiCode::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiCode::ExportTooLong | ApiCode::Unplayable => StatusCode::UNPROCESSABLE_ENTITY,
            ApiCode::BadLink | ApiCode::LinkExpired => StatusCode::FORBIDDEN,
            ApiCode::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        }
    }

    /// What it means (the reference table's text).
    pub fn meaning(self) -> &'static str {
        match self {
            ApiCode::Unauthenticated => "no session or bearer token, or an expired or revoked one",
            ApiCode::PasswordChangeRequired => "the password is one-time or was reset: change it before anything else",
            ApiCode::BadCredentials => "wrong user name or password",
            ApiCode::LockedOut => "too many failed logins: try again after the cool-down (Retry-After)",
            ApiCode::Csrf => "a state-changing request without the session's CSRF token",
            ApiCode::AddressNotAllowed => "the client's address is not in the allowed ranges",
            ApiCode::WeakPassword => "the new password breaks the password rules",
            ApiCode::NotFound => "no such endpoint or object",
            ApiCode::BadRequest => "the request is malformed (JSON body, query or path)",
            ApiCode::MethodNotAllowed => "the endpoint does not take this method",
            ApiCode::BodyTooLarge => "the request body is larger than allowed",
            ApiCode::UnsupportedMediaType => "the body must be JSON (Content-Type: application/json)",
            ApiCode::Conflict => "the request conflicts with the current state",
            ApiCode::Unavailable => "the service cannot answer now (metadata database failure, or stopping)",
            ApiCode::ShareUnsupported => {
                "this machine cannot mount network shares of that kind (no mount helper, or a kernel without it)"
            }
            ApiCode::ShareAuthFailed => "the network share refused the user and password",
            ApiCode::ShareMountFailed => "the network share could not be reached or mounted",
            ApiCode::InvalidSchedule => "a recording schedule's field is wrong (the message names the field)",
            ApiCode::ChannelLimitReached => {
                "recording another camera would exceed the channel limit of the license settings"
            }
            ApiCode::NoRecording => "nothing playable is recorded in the asked range (no key frame in it)",
            ApiCode::RangeNotSatisfiable => "the Range header asks for bytes beyond the file (Content-Range says its length)",
            ApiCode::ExportTooLong => "the range is longer than one file may cover (playback.max_range_hours), or holds a gap longer than a file can show: ask in parts",
            ApiCode::Unplayable => "the stored frames cannot make an MP4 file (codec, parameter sets)",
            ApiCode::BadLink => "a signed link's signature, key or form is wrong",
            ApiCode::LinkExpired => "a signed link has expired: ask for a new one",
            ApiCode::PreconditionFailed => "If-Match or If-Unmodified-Since does not hold for the file",
        }
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: u32,
    name: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    /// One of the API's own errors.
    pub fn new(code: ApiCode, message: impl Into<String>) -> Self {
        ApiError {
            status: code.status(),
            code: code.number(),
            name: code.name(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// An error with an engine code (and that code's status).
    pub fn engine(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status: engine_status(code),
            code: code.number(),
            name: code.c_name(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// Adds `Retry-After: secs`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable number.
    pub fn code(&self) -> u32 {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The HTTP status of an engine error.
pub fn engine_status(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::Io | C::Corrupt | C::KeyIndex | C::Closed | C::Busy | C::Timeout | C::Disconnected => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        C::SpaceNotFound
        | C::PoolNotFound
        | C::StreamNotFound
        | C::PictureNotFound
        | C::KeyNotFound
        | C::LockNotFound => StatusCode::NOT_FOUND,
        C::PathNotFound
        | C::NotADirectory
        | C::NotASpace
        | C::CapacityTooSmall
        | C::InsufficientVolumeSpace
        | C::BadSegmentSize
        | C::CapacityExceedsFree
        | C::WrongPoolKind
        | C::OutOfOrder
        | C::DuplicateTimestamp
        | C::FrameSize
        | C::PictureSize => StatusCode::UNPROCESSABLE_ENTITY,
        C::ConfirmationRequired | C::InvalidArgument | C::InvalidPictureId | C::InvalidUtf8 => StatusCode::BAD_REQUEST,
        C::Panic | C::Unknown | C::Other(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::CONFLICT,
    }
}

impl From<pstor_core::Error> for ApiError {
    fn from(e: pstor_core::Error) -> Self {
        ApiError::engine(e.code(), e.to_string())
    }
}

impl From<MetaError> for ApiError {
    fn from(e: MetaError) -> Self {
        tracing::error!(error = %e, "metadata database failed");
        ApiError::new(ApiCode::Unavailable, e.to_string())
    }
}

impl From<crate::shares::ShareError> for ApiError {
    fn from(e: crate::shares::ShareError) -> Self {
        use crate::shares::ShareError as E;
        let code = match &e {
            E::Invalid(_) => ApiCode::BadRequest,
            E::Unsupported(_) => ApiCode::ShareUnsupported,
            E::AuthFailed(_) => ApiCode::ShareAuthFailed,
            E::MountFailed(_) => ApiCode::ShareMountFailed,
            E::InUse(_) | E::Duplicate(_) => ApiCode::Conflict,
            E::NotFound(_) => ApiCode::NotFound,
            E::Local(_) => ApiCode::Unavailable,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<crate::recording::RecordingError> for ApiError {
    fn from(e: crate::recording::RecordingError) -> Self {
        use crate::recording::RecordingError as E;
        use pstor_recorder::RecorderError as R;
        let message = e.to_string();
        let code = match e {
            E::Engine(e) => return e.into(),
            E::Meta(e) => return e.into(),
            E::NotFound(_) | E::Recorder(R::NotFound(_)) => ApiCode::NotFound,
            E::Invalid(_) | E::Body(_) => ApiCode::InvalidSchedule,
            E::Duplicate { .. } | E::Recorder(R::NotEventMode(_)) => ApiCode::Conflict,
            E::ChannelLimit { .. } => ApiCode::ChannelLimitReached,
        };
        ApiError::new(code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "code": self.code, "name": self.name, "message": self.message }
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.extensions_mut().insert(super::Failure(self.message));
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"pstor\""));
        }
        resp
    }
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_table_lists_the_api_codes() {
        let doc = include_str!("../../../docs/error-codes.md");
        let section = doc.split("## The management API's codes").nth(1).expect("the management section");
        let rows: Vec<(u32, String, u16)> = section
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let n = cells.get(1)?.parse().ok()?;
                Some((n, cells.get(2)?.trim_matches('`').to_string(), cells.get(3)?.parse().ok()?))
            })
            .collect();
        let want: Vec<(u32, String, u16)> =
            ApiCode::ALL.iter().map(|c| (c.number(), c.name().to_string(), c.status().as_u16())).collect();
        assert_eq!(rows, want, "docs/error-codes.md is out of step with ApiCode");
    }

    #[test]
    fn engine_errors_keep_their_numbers() {
        let e = ApiError::from(pstor_core::Error::PoolNotFound(pstor_core::PoolId(9)));
        assert_eq!((e.status(), e.code()), (StatusCode::NOT_FOUND, 302));
        assert_eq!(ApiCode::Unavailable.number(), 813);
    }
}
