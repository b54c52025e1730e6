//! System settings (manual 3.8): storage thresholds (3.8.2), address
//! restrictions (3.8.7) and the feature switches other services read
//! (picture Digest authentication 3.8.10, stream certification 3.8.3, ANR
//! 3.8.4, the channel limit of the license page).

use super::Body;
use crate::access::{AccessLists, Service};
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::{audited, auth::Caller, blocking, State};
use axum::extract::State as S;
use axum::response::Response;
use axum::{Extension, Json};
use pstor_core::Thresholds;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The settings section of the address restrictions.
pub const ACCESS: &str = "access";
/// The settings section of the feature switches.
pub const FEATURES: &str = "features";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThresholdsView {
    overwrite_pct: u8,
    alarm_pct: u8,
    volume_free_pct: u8,
}

/// `GET /api/v1/settings/thresholds`.
pub(super) async fn thresholds(S(state): S<Arc<State>>) -> Json<ThresholdsView> {
    let t = state.ctx.engine.thresholds();
    Json(ThresholdsView { overwrite_pct: t.overwrite_pct, alarm_pct: t.alarm_pct, volume_free_pct: t.volume_free_pct })
}

/// `PUT /api/v1/settings/thresholds` (percentages 0..=100).
pub(super) async fn set_thresholds(S(state): S<Arc<State>>, Body(t): Body<ThresholdsView>) -> ApiResult<Response> {
    let what = format!(
        "set the storage thresholds: overwrite {} %, alarm {} %, volume free {} %",
        t.overwrite_pct, t.alarm_pct, t.volume_free_pct
    );
    blocking(move || {
        let new =
            Thresholds { overwrite_pct: t.overwrite_pct, alarm_pct: t.alarm_pct, volume_free_pct: t.volume_free_pct };
        state.ctx.engine.set_thresholds(new)?;
        Ok(())
    })
    .await?;
    Ok(audited(what, axum::http::StatusCode::NO_CONTENT))
}

/// `GET /api/v1/settings/access`.
pub(super) async fn access(S(state): S<Arc<State>>) -> Json<AccessLists> {
    Json(state.access.lists())
}

/// `PUT /api/v1/settings/access`: refuses lists that would shut out the
/// caller's own address from the management port.
pub(super) async fn set_access(
    S(state): S<Arc<State>>,
    Extension(caller): Extension<Caller>,
    Body(lists): Body<AccessLists>,
) -> ApiResult<Response> {
    if lists.management.len() > 256 || lists.sdk.len() > 256 {
        return Err(ApiError::new(ApiCode::BadRequest, "at most 256 ranges per list"));
    }
    let probe = crate::access::AccessControl::new(lists.clone());
    if !probe.allows(Service::Management, caller.ip) {
        return Err(ApiError::new(
            ApiCode::Conflict,
            format!("these ranges would lock your own address {} out of the management port", caller.ip),
        ));
    }
    let what =
        format!("set the allowed address ranges: management [{}], SDK [{}]", join(&lists.management), join(&lists.sdk));
    let st = Arc::clone(&state);
    let saved = lists.clone();
    blocking(move || Ok(st.db.put_setting(ACCESS, &saved)?)).await?;
    state.access.set(lists);
    Ok(audited(what, axum::http::StatusCode::NO_CONTENT))
}

fn join(r: &[crate::access::IpRange]) -> String {
    r.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The feature switches (stored; each is read by the service it is for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Features {
    /// HTTP Digest authentication on the picture download port (3.8.10).
    pub picture_digest: bool,
    /// Automatic network replenishment (3.8.4).
    pub anr: bool,
    /// Stream certification (3.8.3).
    pub stream_certification: bool,
    /// Most cameras recorded at once; `null` = no limit (an open project
    /// ships no trial: this is the operator's own cap).
    pub channel_limit: Option<u32>,
}

impl Default for Features {
    fn default() -> Self {
        Features { picture_digest: true, anr: false, stream_certification: false, channel_limit: None }
    }
}

/// `GET /api/v1/settings/features`.
pub(super) async fn features(S(state): S<Arc<State>>) -> ApiResult<Json<Features>> {
    blocking(move || Ok(Json(state.db.setting::<Features>(FEATURES)?))).await
}

/// `PUT /api/v1/settings/features`.
pub(super) async fn set_features(S(state): S<Arc<State>>, Body(f): Body<Features>) -> ApiResult<Response> {
    let what = format!(
        "set the features: picture Digest {}, ANR {}, stream certification {}, channel limit {}",
        on(f.picture_digest),
        on(f.anr),
        on(f.stream_certification),
        f.channel_limit.map_or("none".to_string(), |n| n.to_string())
    );
    blocking(move || {
        if let Some(limit) = f.channel_limit {
            let enabled = state.ctx.recording.enabled()?;
            if enabled > limit {
                return Err(ApiError::new(
                    ApiCode::ChannelLimitReached,
                    format!("{enabled} recording schedules are on: a channel limit of {limit} is below that; turn schedules off first"),
                ));
            }
        }
        state.db.put_setting(FEATURES, &f)?;
        // Stream certification applies to the cameras at once.
        state.ctx.recording.apply_all()?;
        Ok(())
    })
    .await?;
    Ok(audited(what, axum::http::StatusCode::NO_CONTENT))
}

fn on(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}
