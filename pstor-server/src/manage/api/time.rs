//! The time zone setting (manual 3.8.8): an IANA zone whose
//! daylight-saving rules video inspection follows, or none (the
//! configuration's fixed `[engine] utc_offset_minutes`). The reckoning
//! itself is [`crate::local_time`].

use super::Body;
use crate::local_time::{self, LocalTime, TimeSettings, TIME_SETTING as TIME};
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::{audited, blocking, State};
use axum::extract::State as S;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use std::sync::Arc;

/// How this server reckons local time now (blocking: reads the setting).
pub(super) fn local_time(state: &State) -> ApiResult<LocalTime> {
    Ok(LocalTime::configured(&state.db, state.ctx.engine.options().utc_offset_minutes)?)
}

/// The zone as shown: its name, offset and daylight saving now, local time.
pub(super) fn describe(lt: &LocalTime, now: i64) -> serde_json::Value {
    serde_json::json!({
        "time_zone": lt.name(),
        "utc_offset_minutes": lt.offset_minutes_at(now),
        "dst": lt.is_dst_at(now),
        "local": lt.rfc3339(now),
    })
}

/// `GET /api/v1/settings/time`.
pub(super) async fn time_settings(S(state): S<Arc<State>>) -> ApiResult<Json<serde_json::Value>> {
    blocking(move || {
        let stored = state.db.setting::<TimeSettings>(TIME)?;
        let lt = local_time(&state)?;
        let now = crate::meta::now_us();
        Ok(Json(serde_json::json!({ "settings": stored, "effective": describe(&lt, now) })))
    })
    .await
}

/// `PUT /api/v1/settings/time`: `{"time_zone": "Europe/Berlin"}`, or null
/// for the configuration's fixed offset.
pub(super) async fn set_time(S(state): S<Arc<State>>, Body(t): Body<TimeSettings>) -> ApiResult<Response> {
    let what = match &t.time_zone {
        Some(name) => {
            LocalTime::zone(name).map_err(|e| ApiError::new(ApiCode::BadRequest, e))?;
            format!("set the time zone to {name}")
        }
        None => "set the time zone to the configuration's fixed offset".to_string(),
    };
    blocking(move || Ok(state.db.put_setting(TIME, &t)?)).await?;
    Ok(audited(what, StatusCode::NO_CONTENT))
}

/// `GET /api/v1/settings/time/zones`: every zone name, sorted.
pub(super) async fn zones() -> ApiResult<Json<serde_json::Value>> {
    blocking(move || Ok(Json(serde_json::json!({ "zones": local_time::zone_names() })))).await
}
