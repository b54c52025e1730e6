//! Network settings (manual 3.8): the server's interfaces and the one
//! pstor announces to clients (NIC choice), LAN↔WAN address mapping with
//! its `lan:port-wan:port` download, and NTP (measure the clock's offset).

use super::Body;
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::ntp::{self, NtpSettings};
use crate::manage::{audited, blocking, State};
use axum::extract::State as S;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The settings section of the NIC choice.
const NETWORK: &str = "network";
/// The settings section of the address mapping.
const MAPPING: &str = "mapping";

#[derive(Debug, Serialize)]
pub(super) struct InterfaceView {
    name: String,
    addresses: Vec<IpAddr>,
    mac: Option<String>,
    /// `up`, `down`, `unknown` (the kernel's operstate).
    state: String,
    /// Link speed, Mbit/s, when the driver reports one.
    speed_mbps: Option<u64>,
}

fn sysfs(name: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/class/net/{name}/{file}")).ok().map(|s| s.trim().to_string())
}

/// The host's interfaces, by name, with their addresses.
fn interfaces() -> Vec<InterfaceView> {
    let mut by_name: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    if let Ok(names) = std::fs::read_dir("/sys/class/net") {
        for n in names.filter_map(Result::ok) {
            by_name.entry(n.file_name().to_string_lossy().into_owned()).or_default();
        }
    }
    for i in if_addrs::get_if_addrs().unwrap_or_default() {
        by_name.entry(i.name.clone()).or_default().push(i.ip());
    }
    by_name
        .into_iter()
        .map(|(name, addresses)| InterfaceView {
            mac: sysfs(&name, "address").filter(|m| !m.is_empty()),
            state: sysfs(&name, "operstate").unwrap_or_else(|| "unknown".into()),
            speed_mbps: sysfs(&name, "speed").and_then(|s| s.parse::<i64>().ok()).and_then(|s| u64::try_from(s).ok()),
            name,
            addresses,
        })
        .collect()
}

/// `GET /api/v1/system/interfaces`.
pub(super) async fn list_interfaces() -> ApiResult<Json<Vec<InterfaceView>>> {
    blocking(|| Ok(Json(interfaces()))).await
}

/// The NIC choice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSettings {
    /// The interface pstor serves on and announces; `null` = any.
    pub nic: Option<String>,
    /// The address announced to clients (one of the NIC's); `null` = its first.
    pub announce_address: Option<IpAddr>,
}

/// `GET /api/v1/settings/network`.
pub(super) async fn network(S(state): S<Arc<State>>) -> ApiResult<Json<NetworkSettings>> {
    blocking(move || Ok(Json(state.db.setting(NETWORK)?))).await
}

/// `PUT /api/v1/settings/network`: the NIC must exist, the address be one of its.
pub(super) async fn set_network(S(state): S<Arc<State>>, Body(n): Body<NetworkSettings>) -> ApiResult<Response> {
    let what = format!(
        "set the network interface: {} (announced address {})",
        n.nic.as_deref().unwrap_or("any"),
        n.announce_address.map_or("automatic".to_string(), |a| a.to_string())
    );
    blocking(move || {
        let all = interfaces();
        match (&n.nic, n.announce_address) {
            (Some(name), addr) => {
                let nic = all.iter().find(|i| &i.name == name).ok_or_else(|| {
                    ApiError::new(
                        ApiCode::BadRequest,
                        format!("no network interface {name:?} (GET /api/v1/system/interfaces)"),
                    )
                })?;
                if let Some(a) = addr.filter(|a| !nic.addresses.contains(a)) {
                    return Err(ApiError::new(ApiCode::BadRequest, format!("{a} is not an address of {name}")));
                }
            }
            (None, Some(a)) if !all.iter().any(|i| i.addresses.contains(&a)) => {
                return Err(ApiError::new(ApiCode::BadRequest, format!("{a} is not an address of this host")));
            }
            _ => {}
        }
        Ok(state.db.put_setting(NETWORK, &n)?)
    })
    .await?;
    Ok(audited(what, StatusCode::NO_CONTENT))
}

/// The address pstor gives clients for itself (the NIC choice): the
/// configured announce address, else the chosen interface's first address
/// (IPv4 first), else the address the ports are bound to, else the first
/// IPv4 address of an interface that is up and not loopback. Blocking:
/// reads the setting.
pub(super) fn announced_ip(state: &State) -> ApiResult<Option<IpAddr>> {
    let n: NetworkSettings = state.db.setting(NETWORK)?;
    if n.announce_address.is_some() {
        return Ok(n.announce_address);
    }
    let all = interfaces();
    let first = |addrs: &mut dyn Iterator<Item = IpAddr>| {
        let mut v: Vec<IpAddr> = addrs.collect();
        v.sort_by_key(|a| a.is_ipv6());
        v.into_iter().next()
    };
    if let Some(nic) = n.nic.and_then(|name| all.iter().find(|i| i.name == name)) {
        return Ok(first(&mut nic.addresses.iter().copied()));
    }
    let bound = state.ports.signalling.ip();
    if !bound.is_unspecified() {
        return Ok(Some(bound));
    }
    let up = all.iter().filter(|i| i.state == "up" || i.state == "unknown").flat_map(|i| i.addresses.iter().copied());
    Ok(first(&mut up.filter(|a| a.is_ipv4() && !a.is_loopback())))
}

/// What a client outside reaches `lan` as, by the address mapping.
pub(super) fn wan_of(state: &State, lan: SocketAddr) -> ApiResult<Option<SocketAddr>> {
    let m: MappingSettings = state.db.setting(MAPPING)?;
    Ok(m.pairs.iter().find(|p| p.lan == lan).map(|p| p.wan))
}

/// One LAN↔WAN pair of the address mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The address and port on the LAN.
    pub lan: SocketAddr,
    /// What a client outside reaches it as.
    pub wan: SocketAddr,
}

/// The stored mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingSettings {
    /// The pairs (at most 256).
    pub pairs: Vec<Mapping>,
}

/// `GET /api/v1/settings/mapping`.
pub(super) async fn mapping(S(state): S<Arc<State>>) -> ApiResult<Json<MappingSettings>> {
    blocking(move || Ok(Json(state.db.setting(MAPPING)?))).await
}

/// `PUT /api/v1/settings/mapping`.
pub(super) async fn set_mapping(S(state): S<Arc<State>>, Body(m): Body<MappingSettings>) -> ApiResult<Response> {
    if m.pairs.len() > 256 {
        return Err(ApiError::new(ApiCode::BadRequest, "at most 256 address mappings"));
    }
    let mut lans = std::collections::HashSet::new();
    if let Some(dup) = m.pairs.iter().find(|p| !lans.insert(p.lan)) {
        return Err(ApiError::new(ApiCode::BadRequest, format!("{} is mapped twice", dup.lan)));
    }
    let what = format!("set the address mapping ({} pairs)", m.pairs.len());
    blocking(move || Ok(state.db.put_setting(MAPPING, &m)?)).await?;
    Ok(audited(what, StatusCode::NO_CONTENT))
}

/// `GET /api/v1/settings/mapping.txt`: the list in the manual's form, one
/// `lan:port-wan:port` per line.
pub(super) async fn mapping_text(S(state): S<Arc<State>>) -> ApiResult<Response> {
    let m: MappingSettings = blocking(move || Ok(state.db.setting(MAPPING)?)).await?;
    let text: String = m.pairs.iter().map(|p| format!("{}-{}\n", p.lan, p.wan)).collect();
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"pstor-address-mapping.txt\""),
        ],
        text,
    )
        .into_response())
}

/// `GET /api/v1/settings/ntp`: the setting and the last measurement.
pub(super) async fn ntp_settings(S(state): S<Arc<State>>) -> ApiResult<Json<serde_json::Value>> {
    let st = Arc::clone(&state);
    let s: NtpSettings = blocking(move || Ok(st.db.setting(ntp::SECTION)?)).await?;
    let status = state.ntp.lock().clone();
    Ok(Json(serde_json::json!({ "settings": s, "status": status })))
}

fn check_ntp(s: &NtpSettings) -> ApiResult<()> {
    if s.enabled && s.server.trim().is_empty() {
        return Err(ApiError::new(ApiCode::BadRequest, "name the NTP server to turn NTP on"));
    }
    if s.server.len() > 253 || s.server.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::new(ApiCode::BadRequest, "the NTP server is a host name or address"));
    }
    if s.port == 0 || !(1..=10_080).contains(&s.interval_minutes) {
        return Err(ApiError::new(ApiCode::BadRequest, "the port is 1 to 65535 and the interval 1 to 10080 minutes"));
    }
    Ok(())
}

/// `PUT /api/v1/settings/ntp`.
pub(super) async fn set_ntp(S(state): S<Arc<State>>, Body(s): Body<NtpSettings>) -> ApiResult<Response> {
    check_ntp(&s)?;
    let what = format!(
        "set NTP {} (server {}:{}, every {} min)",
        if s.enabled { "on" } else { "off" },
        s.server,
        s.port,
        s.interval_minutes
    );
    let st = Arc::clone(&state);
    blocking(move || Ok(st.db.put_setting(ntp::SECTION, &s)?)).await?;
    // The last measurement was of the old setting's server.
    *state.ntp.lock() = ntp::NtpStatus::default();
    state.ntp_changed.notify_one();
    Ok(audited(what, StatusCode::NO_CONTENT))
}

/// `POST /api/v1/settings/ntp/sync`: measures now against the configured
/// server (409 when none is set or it does not answer usably).
pub(super) async fn ntp_sync(S(state): S<Arc<State>>) -> ApiResult<Response> {
    let m = blocking(move || {
        let s: NtpSettings = state.db.setting(ntp::SECTION)?;
        if s.server.is_empty() {
            return Err(ApiError::new(ApiCode::Conflict, "no NTP server is configured (PUT /api/v1/settings/ntp)"));
        }
        ntp::measure_now(&state, &s).map_err(|e| ApiError::new(ApiCode::Conflict, e))
    })
    .await?;
    Ok(audited("measured the clock against the NTP server", Json(m)))
}
