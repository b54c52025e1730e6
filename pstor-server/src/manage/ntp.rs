//! The NTP setting (manual 3.8): off by default; when on, every
//! `interval_minutes` the server measures its clock's offset against the
//! configured time server by SNTP ([`crate::sntp`]), keeps the last result
//! for the API and writes it to the log (a warning past one second). It
//! never sets the clock.

use super::{blocking, State};
use crate::meta::logs::LogLevel;
use crate::meta::now_us;
use crate::sntp::{self, Measurement};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The settings section.
pub const SECTION: &str = "ntp";

/// Offsets past this are logged as warnings (µs).
const WARN_OFFSET_US: i64 = 1_000_000;

/// The stored setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NtpSettings {
    /// Measure at all (default off).
    pub enabled: bool,
    /// The time server's name or address.
    pub server: String,
    /// Its port (123).
    pub port: u16,
    /// Minutes between measurements (1439, as in the manual).
    pub interval_minutes: u32,
}

impl Default for NtpSettings {
    fn default() -> Self {
        NtpSettings { enabled: false, server: String::new(), port: 123, interval_minutes: 1439 }
    }
}

/// The last measurement, or why it failed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NtpStatus {
    /// When it was tried (µs).
    pub last_attempt: Option<i64>,
    /// When it last succeeded (µs).
    pub last_sync: Option<i64>,
    /// What it measured then.
    pub measurement: Option<Measurement>,
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
}

/// Measures now (blocking), records the result in `state` and the log.
pub fn measure_now(state: &State, s: &NtpSettings) -> Result<Measurement, String> {
    let r = sntp::query(&s.server, s.port, Duration::from_secs(5)).map_err(|e| e.to_string());
    let mut st = state.ntp.lock();
    st.last_attempt = Some(now_us());
    let (level, content) = match &r {
        Ok(m) => {
            st.last_sync = st.last_attempt;
            st.measurement = Some(*m);
            st.error = None;
            let level = if m.offset_us.abs() > WARN_OFFSET_US { LogLevel::Warning } else { LogLevel::Info };
            let ms = |us: i64| us as f64 / 1000.0;
            (level, format!(
                "NTP: this clock is {:+.1} ms off {}:{} (delay {:.1} ms, stratum {}); pstor reports it and does not set the clock",
                -ms(m.offset_us), s.server, s.port, ms(m.delay_us), m.stratum
            ))
        }
        Err(e) => {
            st.error = Some(e.clone());
            (LogLevel::Warning, format!("NTP: measuring against {}:{} failed: {e}", s.server, s.port))
        }
    };
    drop(st);
    let result = if r.is_ok() { "ok" } else { "failed" };
    state.db.system_log(level, &content, result, state.log_limits());
    r
}

/// The schedule: runs until `stop`, re-reading the setting each round.
pub async fn schedule(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    loop {
        let st = Arc::clone(&state);
        let s: NtpSettings = blocking(move || Ok(st.db.setting(SECTION)?)).await.unwrap_or_default();
        let wait = if s.enabled && !s.server.is_empty() {
            let st = Arc::clone(&state);
            let settings = s.clone();
            let _ = blocking(move || Ok(measure_now(&st, &settings))).await;
            Duration::from_secs(u64::from(s.interval_minutes.max(1)) * 60)
        } else {
            Duration::from_secs(60)
        };
        tokio::select! {
            _ = crate::conn::wait_shutdown(&mut stop) => return,
            _ = tokio::time::sleep(wait) => {}
            // A changed setting takes effect at once.
            _ = state.ntp_changed.notified() => {}
        }
    }
}
