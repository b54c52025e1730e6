//! The REST API under `/api/v1` (docs/api.md; docs/openapi.json is its
//! OpenAPI 3 description). Each module holds one area of the manual; this
//! one assembles the routes and holds what they share: the JSON body,
//! query and path extractors (whose failures answer in the API's error
//! shape) and the page envelope of every list.

mod backups;
mod folders;
mod inspection;
mod keys;
mod locks;
mod logs;
mod network;
mod pools;
mod schedules;
mod session;
mod settings;
mod shares;
mod spaces;
mod system;
mod time;

pub use settings::{Features, ACCESS as ACCESS_SETTING, FEATURES as FEATURES_SETTING};
pub use spaces::status_name as spaces_status_name;

use super::error::{ApiCode, ApiError};
use super::State;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::routing::{get, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Routes anyone may call: login, health, the OpenAPI document, the TLS
/// certificate.
pub fn public() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/session", post(session::login))
        .route("/api/v1/health", get(system::health))
        .route("/api/v1/openapi.json", get(system::openapi))
        .route("/api/v1/certificate", get(system::certificate))
}

/// Routes that need a session or a bearer token.
pub fn protected() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/session", get(session::current).delete(session::logout))
        .route("/api/v1/session/password", put(session::change_password))
        .route("/api/v1/tokens", get(session::tokens).post(session::create_token))
        .route("/api/v1/tokens/{id}", axum::routing::delete(session::revoke_token))
        .route("/api/v1/system/about", get(system::about))
        .route("/api/v1/system/time", get(system::time))
        .route("/api/v1/system/services", get(system::services))
        .route("/api/v1/system/summary", get(system::summary))
        .route("/api/v1/system/interfaces", get(network::list_interfaces))
        .route("/api/v1/settings/network", get(network::network).put(network::set_network))
        .route("/api/v1/settings/mapping", get(network::mapping).put(network::set_mapping))
        .route("/api/v1/settings/mapping.txt", get(network::mapping_text))
        .route("/api/v1/settings/ntp", get(network::ntp_settings).put(network::set_ntp))
        .route("/api/v1/settings/ntp/sync", post(network::ntp_sync))
        .route("/api/v1/settings/time", get(time::time_settings).put(time::set_time))
        .route("/api/v1/settings/time/zones", get(time::zones))
        .route("/api/v1/spaces", get(spaces::list).post(spaces::initialize))
        .route("/api/v1/spaces/restore", post(spaces::restore))
        .route("/api/v1/spaces/{id}", get(spaces::one).delete(spaces::delete))
        .route("/api/v1/spaces/{id}/reinitialize", post(spaces::reinitialize))
        .route("/api/v1/jobs/{id}", get(spaces::job))
        .route("/api/v1/nas", get(shares::list).post(shares::add))
        .route("/api/v1/nas/{id}", get(shares::one).delete(shares::delete))
        .route("/api/v1/nas/{id}/mount", post(shares::mount))
        .route("/api/v1/volumes", get(folders::list_volumes))
        .route(
            "/api/v1/folders",
            get(folders::list).post(folders::create).patch(folders::rename).delete(folders::delete),
        )
        .route("/api/v1/pools", get(pools::list).post(pools::create))
        .route("/api/v1/pools/{id}", get(pools::one).patch(pools::edit).delete(pools::delete))
        .route("/api/v1/locks", get(locks::list).post(locks::create))
        .route("/api/v1/locks/{id}", axum::routing::patch(locks::extend).delete(locks::unlock))
        .route("/api/v1/schedules", get(schedules::list).post(schedules::create))
        .route("/api/v1/schedules/{id}", get(schedules::one).put(schedules::replace).delete(schedules::delete))
        .route("/api/v1/schedules/{id}/events", post(schedules::event))
        .route("/api/v1/streams", get(inspection::streams))
        .route("/api/v1/inspection/day", get(inspection::day))
        .route("/api/v1/inspection/month", get(inspection::month))
        .route("/api/v1/inspection/hour", get(inspection::hour))
        .route("/api/v1/logs", get(logs::page).delete(logs::clear))
        .route("/api/v1/logs.csv", get(logs::csv))
        .route("/api/v1/settings/thresholds", get(settings::thresholds).put(settings::set_thresholds))
        .route("/api/v1/settings/access", get(settings::access).put(settings::set_access))
        .route("/api/v1/settings/features", get(settings::features).put(settings::set_features))
        .route("/api/v1/backups", get(backups::list).post(backups::take))
        .route("/api/v1/keys", get(keys::list))
        .route("/api/v1/keys/download", post(keys::download))
        .route("/api/v1/keys/reset", post(keys::reset))
        .route("/api/v1/backups/restore", post(backups::restore))
}

/// A JSON body; a malformed one is a 400, a missing content type a 415,
/// an oversized one a 413, all in the API's error shape.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) if !v.is_object() => {
                Err(ApiError::new(ApiCode::BadRequest, "the body must be a JSON object"))
            }
            Ok(axum::Json(v)) => serde_json::from_value(v)
                .map(Body)
                .map_err(|e| ApiError::new(ApiCode::BadRequest, format!("the body does not fit: {e}"))),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                ApiCode::UnsupportedMediaType,
                "the body must be JSON, sent with Content-Type: application/json",
            )),
            Err(JsonRejection::BytesRejection(e)) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(ApiCode::BodyTooLarge, "the request body is larger than the management port accepts"))
            }
            Err(e) => Err(ApiError::new(ApiCode::BadRequest, e.body_text())),
        }
    }
}

/// Query parameters; malformed ones are a 400.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Params(q.0))
            .map_err(|e: QueryRejection| ApiError::new(ApiCode::BadRequest, e.body_text()))
    }
}

/// A path parameter; one that does not parse is a 400.
#[derive(Debug)]
pub struct Id<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Id<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Id(p.0))
            .map_err(|e: PathRejection| ApiError::new(ApiCode::BadRequest, e.body_text()))
    }
}

/// Which page of a list (`page` from 1, `page_size` 1..=1000, default 50).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PageQuery {
    /// Page number, from 1.
    pub page: u64,
    /// Entries per page.
    pub page_size: u32,
}

impl Default for PageQuery {
    fn default() -> Self {
        PageQuery { page: 1, page_size: 50 }
    }
}

/// Largest page.
pub const MAX_PAGE_SIZE: u32 = 1000;

impl PageQuery {
    /// From optional query fields (lists whose query has filters too).
    pub fn from_parts(page: Option<u64>, page_size: Option<u32>) -> Result<PageQuery, ApiError> {
        let d = PageQuery::default();
        PageQuery { page: page.unwrap_or(d.page), page_size: page_size.unwrap_or(d.page_size) }.validate()
    }

    /// Checks the numbers.
    pub fn validate(self) -> Result<PageQuery, ApiError> {
        if self.page == 0 || self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(ApiError::new(
                ApiCode::BadRequest,
                format!("page starts at 1 and page_size is 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        Ok(self)
    }

    /// Entries before the page.
    pub fn offset(self) -> u64 {
        (self.page - 1).saturating_mul(u64::from(self.page_size))
    }

    /// This page of an in-memory list.
    pub fn of<T: Serialize>(self, all: Vec<T>) -> Page<T> {
        let total = all.len() as u64;
        let items = all
            .into_iter()
            .skip(usize::try_from(self.offset()).unwrap_or(usize::MAX))
            .take(self.page_size as usize)
            .collect();
        self.page(items, total)
    }

    /// The envelope of a page whose items were fetched.
    pub fn page<T: Serialize>(self, items: Vec<T>, total: u64) -> Page<T> {
        Page {
            items,
            page: self.page,
            page_size: self.page_size,
            total,
            total_pages: total.div_ceil(u64::from(self.page_size)),
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    /// The entries.
    pub items: Vec<T>,
    /// This page's number (from 1).
    pub page: u64,
    /// Entries per page.
    pub page_size: u32,
    /// Entries in the whole list.
    pub total: u64,
    /// Pages in the whole list.
    pub total_pages: u64,
}

/// An explicit confirmation (`{"confirm": true}`) for destructive calls.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Confirm {
    /// Must be true.
    pub confirm: bool,
}

impl Confirm {
    /// Refuses without the confirmation, saying what it would destroy.
    pub fn require(&self, what: &str) -> Result<(), ApiError> {
        if self.confirm {
            Ok(())
        } else {
            Err(ApiError::engine(
                pstor_core::ErrorCode::ConfirmationRequired,
                format!("{what}: send confirm=true to go ahead"),
            ))
        }
    }
}

/// A time as the API takes it: µs since the epoch (UTC) as a number or a
/// string, or RFC 3339 (`2026-12-03T10:00:00Z`, `...+01:00`, fractions
/// down to µs).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(us) = s.parse::<i64>() {
        return Ok(us);
    }
    let bad = || format!("{s:?} is not a time: give RFC 3339 (2026-12-03T10:00:00Z) or microseconds since 1970");
    if !s.is_ascii() {
        return Err(bad());
    }
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let date = pstor_core::Date { year: y as i32, month: mo as u32, day: d as u32 };
    let day_ok =
        (1..=12).contains(&mo) && d >= 1 && d <= i64::from(pstor_core::Date::days_in_month(y as i32, mo as u32));
    if y < 1 || !day_ok || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    let mut frac_us = 0i64;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let kept: String = f[..digits].chars().chain(std::iter::repeat('0')).take(6).collect();
        frac_us = kept.parse().map_err(|_| bad())?;
        rest = &f[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let (oh, om) = (o[1..3].parse::<i64>().map_err(|_| bad())?, o[4..6].parse::<i64>().map_err(|_| bad())?);
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            (oh * 60 + om) * if o.starts_with('-') { -1 } else { 1 }
        }
        _ => return Err(bad()),
    };
    let secs = date.days_since_epoch() * 86_400 + h * 3600 + mi * 60 + sec.min(59) - offset_min * 60;
    Ok(secs * 1_000_000 + frac_us)
}

/// serde: a time field ([`parse_time`]), as a number or a string.
pub fn de_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(i64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Num(n) => Ok(n),
        Raw::Text(t) => parse_time(&t).map_err(serde::de::Error::custom),
    }
}

/// serde: an optional time field.
pub fn de_opt_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "de_time")] i64);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_microseconds() {
        assert_eq!(parse_time("1700000000123456"), Ok(1_700_000_000_123_456));
        assert_eq!(parse_time("2023-11-14T22:13:20.123456Z"), Ok(1_700_000_000_123_456));
        assert_eq!(parse_time("2023-11-14T23:13:20.1+01:00"), Ok(1_700_000_000_100_000));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        for bad in [
            "2026-12-03T10:00:00+0é00",
            "2023-13-01T00:00:00Z",
            "2023-02-30T00:00:00Z",
            "yesterday",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pages_count_and_cut() {
        let q = PageQuery { page: 2, page_size: 3 }.validate().expect("valid");
        let p = q.of((0..8).collect::<Vec<_>>());
        assert_eq!((p.items, p.total, p.total_pages), (vec![3, 4, 5], 8, 3));
        assert!(PageQuery { page: 0, page_size: 3 }.validate().is_err());
        assert!(PageQuery { page: 1, page_size: 1001 }.validate().is_err());
    }
}
