//! `GET /metrics`: the Prometheus text format (OpenMetrics, by
//! prometheus-client). Each scrape reads the engine's spaces and pools
//! (capacity, used, free, reserved or locked bytes, status) and the log
//! store's size, beside the server's counters ([`crate::metrics`]).
//!
//! Who may scrape: a bearer token equal to `management.metrics_token`, any
//! API token or session, or — when `management.metrics_open_on_loopback` —
//! anyone on this host.

use super::error::{ApiCode, ApiError};
use super::{auth, blocking, State};
use crate::manage::api::spaces_status_name;
use axum::extract::{Request, State as S};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;

type Labels = Vec<(&'static str, String)>;

/// Every status a space can have, so each gets its 0/1 series.
const SPACE_STATUSES: [pstor_core::SpaceStatus; 7] = [
    pstor_core::SpaceStatus::Uninitialized,
    pstor_core::SpaceStatus::Initializing,
    pstor_core::SpaceStatus::Normal,
    pstor_core::SpaceStatus::Scanning,
    pstor_core::SpaceStatus::Restoring,
    pstor_core::SpaceStatus::Lost,
    pstor_core::SpaceStatus::Error,
];

fn gauge_family(r: &mut Registry, name: &str, help: &str) -> Family<Labels, Gauge> {
    let f = Family::<Labels, Gauge>::default();
    r.register(name, help, f.clone());
    f
}

fn set(f: &Family<Labels, Gauge>, labels: Labels, v: u64) {
    f.get_or_create(&labels).set(i64::try_from(v).unwrap_or(i64::MAX));
}

/// The scrape's text.
pub fn render(state: &State) -> Result<String, std::fmt::Error> {
    let mut r = Registry::default();
    state.ctx.metrics.register(&mut r);
    let e = &state.ctx.engine;

    let cap = gauge_family(&mut r, "pstor_space_capacity_bytes", "A storage space's capacity");
    let used = gauge_family(&mut r, "pstor_space_used_bytes", "Bytes of a storage space holding data");
    let free = gauge_family(&mut r, "pstor_space_free_bytes", "Bytes of a storage space in free segments");
    let reserved = gauge_family(&mut r, "pstor_space_reserved_bytes", "Bytes of a storage space reserved by pools");
    let status = gauge_family(&mut r, "pstor_space_status", "1 for a storage space's current status, 0 for the others");
    for s in e.spaces() {
        let l = |extra: Option<(&'static str, String)>| {
            let mut v: Labels = vec![("space", s.id.0.to_string()), ("path", s.path.display().to_string())];
            v.extend(extra);
            v
        };
        set(&cap, l(None), s.capacity);
        set(&used, l(None), s.used);
        set(&free, l(None), s.free);
        set(&reserved, l(None), s.reserved);
        for st in SPACE_STATUSES {
            set(&status, l(Some(("status", spaces_status_name(st).to_string()))), u64::from(st == s.status));
        }
    }

    let cap = gauge_family(&mut r, "pstor_pool_capacity_bytes", "A resource pool's capacity");
    let used = gauge_family(&mut r, "pstor_pool_used_bytes", "Bytes of a resource pool holding data");
    let free = gauge_family(&mut r, "pstor_pool_free_bytes", "A resource pool's capacity minus what it uses");
    let locked = gauge_family(&mut r, "pstor_pool_locked_bytes", "Bytes of a resource pool protected by locks");
    let status = gauge_family(&mut r, "pstor_pool_status", "1 for a resource pool's current status, 0 for the others");
    for p in e.pools() {
        let l = |extra: Option<(&'static str, String)>| {
            let mut v: Labels = vec![("pool", p.config.id.0.to_string()), ("name", p.config.name.clone())];
            v.extend(extra);
            v
        };
        set(&cap, l(None), p.capacity);
        set(&used, l(None), p.used);
        set(&free, l(None), p.free);
        set(&locked, l(None), p.locked);
        for (name, st) in [
            ("normal", pstor_core::PoolStatus::Normal),
            ("degraded", pstor_core::PoolStatus::Degraded),
            ("offline", pstor_core::PoolStatus::Offline),
        ] {
            set(&status, l(Some(("status", name.to_string()))), u64::from(st == p.status));
        }
    }
    let streams = Gauge::<i64>::default();
    streams.set(i64::try_from(e.streams().len()).unwrap_or(i64::MAX));
    r.register("pstor_streams", "Registered video streams", streams);
    let log = Gauge::<i64>::default();
    log.set(i64::try_from(state.db.size_on_disk()).unwrap_or(i64::MAX));
    r.register("pstor_metadata_bytes", "Bytes the metadata database (log store included) takes on disk", log);

    let mut out = String::new();
    encode(&mut out, &r)?;
    Ok(out)
}

/// `GET /metrics`.
pub async fn scrape(S(state): S<Arc<State>>, req: Request) -> Result<Response, ApiError> {
    let ip = auth::peer_ip(&req);
    let by_token = match (&state.cfg.metrics_token, auth::bearer_token(req.headers())) {
        (Some(want), Some(got)) => auth::same(want.as_bytes(), got.as_bytes()),
        _ => false,
    };
    let open = state.cfg.metrics_open_on_loopback && auth::is_loopback(ip);
    if !by_token && !open {
        auth::authenticate(&state, ip, req.headers(), req.method(), req.uri().path()).await?;
    }
    let st = Arc::clone(&state);
    let text = blocking(move || {
        render(&st).map_err(|e| ApiError::new(ApiCode::Unavailable, format!("encoding the metrics failed: {e}")))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}
