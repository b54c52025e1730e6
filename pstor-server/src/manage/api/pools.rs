//! Resource pools (manual 3.5.2): the list with every column, add, edit,
//! delete with confirmation, the detail view.

use super::{Body, Confirm, Id, PageQuery, Params};
use crate::config::{KindName, StrategyName};
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::{audited, blocking, State};
use axum::extract::State as S;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use pstor_core::{OverwriteStrategy, PoolEdit, PoolId, PoolInfo, PoolKind, PoolSpec, PoolStatus, SpaceId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The settings section of what the manual shows per pool beyond the
/// engine's own settings: stored and shown; thinning comes later.
const EXTRAS: &str = "pool_extras";

/// A pool's transcoding type and original-data cycle (3.5.2).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct PoolExtras {
    /// `none` or a thinning mode of a later version.
    pub transcoding: Transcoding,
    /// Days the original (un-thinned) data is kept; 0 = the pool's cycle.
    pub original_cycle_days: u32,
}

/// The transcoding type column.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Transcoding {
    /// Stored as recorded.
    #[default]
    None,
    /// Keep only key frames past the original-data cycle.
    Frame,
}

#[derive(Debug, Serialize)]
pub(super) struct PoolView {
    id: u32,
    name: String,
    kind: &'static str,
    strategy: &'static str,
    cycle_days: u32,
    status: &'static str,
    max_lock_pct: u8,
    capacity: u64,
    used: u64,
    free: u64,
    locked: u64,
    spaces: Vec<PoolSpaceView>,
    transcoding: Transcoding,
    original_cycle_days: u32,
}

#[derive(Debug, Serialize)]
struct PoolSpaceView {
    space: u32,
    segments: u32,
}

fn kind_name(k: PoolKind) -> &'static str {
    match k {
        PoolKind::Video => "video",
        PoolKind::Picture => "picture",
        PoolKind::Mixed => "mixed",
    }
}

fn strategy_name(s: OverwriteStrategy) -> &'static str {
    match s {
        OverwriteStrategy::OverwriteOldest => "overwrite",
        OverwriteStrategy::StopWhenFull => "stop",
    }
}

fn status_name(s: PoolStatus) -> &'static str {
    match s {
        PoolStatus::Normal => "normal",
        PoolStatus::Degraded => "degraded",
        PoolStatus::Offline => "offline",
    }
}

fn view(p: PoolInfo, extras: &BTreeMap<u32, PoolExtras>) -> PoolView {
    let x = extras.get(&p.config.id.0).cloned().unwrap_or_default();
    PoolView {
        id: p.config.id.0,
        name: p.config.name,
        kind: kind_name(p.config.kind),
        strategy: strategy_name(p.config.strategy),
        cycle_days: p.config.cycle_days,
        status: status_name(p.status),
        max_lock_pct: p.config.max_lock_pct,
        capacity: p.capacity,
        used: p.used,
        free: p.free,
        locked: p.locked,
        spaces: p.config.quotas.iter().map(|&(s, n)| PoolSpaceView { space: s.0, segments: n }).collect(),
        transcoding: x.transcoding,
        original_cycle_days: x.original_cycle_days,
    }
}

fn extras(state: &State) -> ApiResult<BTreeMap<u32, PoolExtras>> {
    Ok(state.db.setting(EXTRAS)?)
}

/// `GET /api/v1/pools`.
pub(super) async fn list(
    S(state): S<Arc<State>>,
    Params(q): Params<PageQuery>,
) -> ApiResult<Json<super::Page<PoolView>>> {
    let q = q.validate()?;
    blocking(move || {
        let x = extras(&state)?;
        Ok(Json(q.of(state.ctx.engine.pools().into_iter().map(|p| view(p, &x)).collect())))
    })
    .await
}

/// `GET /api/v1/pools/{id}`: the detail view.
pub(super) async fn one(S(state): S<Arc<State>>, Id(id): Id<u32>) -> ApiResult<Json<PoolView>> {
    blocking(move || Ok(Json(view(state.ctx.engine.pool(PoolId(id))?, &extras(&state)?)))).await
}

fn default_cycle() -> u32 {
    30
}
fn default_lock() -> u8 {
    10
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewPool {
    name: String,
    kind: KindName,
    capacity: u64,
    #[serde(default)]
    spaces: Vec<u32>,
    #[serde(default = "default_strategy")]
    strategy: StrategyName,
    #[serde(default = "default_cycle")]
    cycle_days: u32,
    #[serde(default = "default_lock")]
    max_lock_pct: u8,
    #[serde(default)]
    transcoding: Transcoding,
    #[serde(default)]
    original_cycle_days: u32,
}

fn default_strategy() -> StrategyName {
    StrategyName::Overwrite
}

fn check_name(name: &str) -> ApiResult<()> {
    if name.trim().is_empty() || name.len() > 64 {
        return Err(ApiError::new(ApiCode::BadRequest, "a pool's name is 1 to 64 bytes (UTF-8), not only spaces"));
    }
    Ok(())
}

fn save_extras(state: &State, id: u32, x: Option<PoolExtras>) -> ApiResult<()> {
    let mut all = extras(state)?;
    match x {
        Some(x) if x != PoolExtras::default() => all.insert(id, x),
        _ => all.remove(&id),
    };
    Ok(state.db.put_setting(EXTRAS, &all)?)
}

/// `POST /api/v1/pools`: adds a pool.
pub(super) async fn create(S(state): S<Arc<State>>, Body(p): Body<NewPool>) -> ApiResult<Response> {
    check_name(&p.name)?;
    let name = p.name.clone();
    let pool = blocking(move || {
        let id = state.ctx.engine.create_pool(PoolSpec {
            name: p.name,
            kind: p.kind.into(),
            capacity: p.capacity,
            spaces: p.spaces.into_iter().map(SpaceId).collect(),
            strategy: p.strategy.into(),
            cycle_days: p.cycle_days,
            max_lock_pct: p.max_lock_pct,
        })?;
        let x = PoolExtras { transcoding: p.transcoding, original_cycle_days: p.original_cycle_days };
        save_extras(&state, id.0, Some(x))?;
        Ok(view(state.ctx.engine.pool(id)?, &extras(&state)?))
    })
    .await?;
    let what = format!("created resource pool {name:?} (id {})", pool.id);
    Ok(audited(what, (StatusCode::CREATED, Json(pool))))
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct EditPool {
    name: Option<String>,
    capacity: Option<u64>,
    strategy: Option<StrategyName>,
    cycle_days: Option<u32>,
    max_lock_pct: Option<u8>,
    transcoding: Option<Transcoding>,
    original_cycle_days: Option<u32>,
}

/// `PATCH /api/v1/pools/{id}`: changes the fields given.
pub(super) async fn edit(S(state): S<Arc<State>>, Id(id): Id<u32>, Body(e): Body<EditPool>) -> ApiResult<Response> {
    if let Some(n) = &e.name {
        check_name(n)?;
    }
    let pool = blocking(move || {
        let engine = &state.ctx.engine;
        engine.pool(PoolId(id))?;
        engine.edit_pool(
            PoolId(id),
            PoolEdit {
                name: e.name,
                capacity: e.capacity,
                strategy: e.strategy.map(Into::into),
                cycle_days: e.cycle_days,
                max_lock_pct: e.max_lock_pct,
            },
        )?;
        if e.transcoding.is_some() || e.original_cycle_days.is_some() {
            let mut x = extras(&state)?.remove(&id).unwrap_or_default();
            x.transcoding = e.transcoding.unwrap_or(x.transcoding);
            x.original_cycle_days = e.original_cycle_days.unwrap_or(x.original_cycle_days);
            save_extras(&state, id, Some(x))?;
        }
        Ok(view(engine.pool(PoolId(id))?, &extras(&state)?))
    })
    .await?;
    let what = format!("edited resource pool {:?} (id {id})", pool.name);
    Ok(audited(what, Json(pool)))
}

/// `DELETE /api/v1/pools/{id}?confirm=true`.
pub(super) async fn delete(
    S(state): S<Arc<State>>,
    Id(id): Id<u32>,
    Params(c): Params<Confirm>,
) -> ApiResult<Response> {
    c.require("deleting a resource pool deletes its recordings")?;
    let name = blocking(move || {
        let name = state.ctx.engine.pool(PoolId(id))?.config.name;
        crate::manage::backups::before(&state, &format!("deleting resource pool {name:?}"));
        state.ctx.engine.delete_pool(PoolId(id))?;
        save_extras(&state, id, None)?;
        Ok(name)
    })
    .await?;
    Ok(audited(format!("deleted resource pool {name:?} (id {id})"), StatusCode::NO_CONTENT))
}
