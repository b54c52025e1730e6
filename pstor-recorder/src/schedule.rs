//! Recording schedules (manual 3.6.1): which camera stream to record, into
//! which resource pool, when, and how (continuously, or on events with pre-
//! and post-record). What a VMS or an operator configures; validated here
//! so that every face (REST API, SDK) refuses the same things with the same
//! words.

use serde::{Deserialize, Serialize};
use std::fmt;
use url::Url;

/// The Hikvision URL template, the default: `{channel}0{stream}` with
/// stream 1 for main and 2 for sub (`/Streaming/Channels/101`).
pub const HIKVISION_TEMPLATE: &str = "rtsp://{host}:{port}/Streaming/Channels/{channel}0{stream}";

/// Largest pre-record, seconds: the buffer is held in memory for every
/// armed event-mode camera.
pub const MAX_PRE_RECORD_SECS: u32 = 30;
/// Largest post-record, seconds.
pub const MAX_POST_RECORD_SECS: u32 = 3600;
/// Time periods per weekday in a weekly plan (the manual's eight).
pub const MAX_PERIODS_PER_DAY: usize = 8;

/// Main or sub stream of the camera channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StreamChoice {
    /// The full-resolution stream.
    #[default]
    Main,
    /// The low-resolution stream.
    Sub,
}

impl StreamChoice {
    /// The `{stream}` of URL templates: 1 main, 2 sub.
    pub fn number(self) -> u32 {
        match self {
            StreamChoice::Main => 1,
            StreamChoice::Sub => 2,
        }
    }
}

/// When the schedule records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RecordMode {
    /// Whenever armed.
    #[default]
    Continuous,
    /// From `event start − pre-record` to `event stop + post-record`, while
    /// armed.
    Event,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    /// Monday 0 … Sunday 6.
    pub fn index(self) -> u8 {
        self as u8
    }
}

/// One armed period of a weekday, `[start, end)` in the server's local
/// time, as `"HH:MM"` (end may be `"24:00"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// The weekday.
    pub day: Weekday,
    /// Start, `"HH:MM"`.
    pub start: String,
    /// End (exclusive), `"HH:MM"`, up to `"24:00"`.
    pub end: String,
}

/// A local time of the week: the weekday and the minute of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeekMinute {
    /// Monday 0 … Sunday 6.
    pub weekday: u8,
    /// 0..1440.
    pub minute: u16,
}

/// What a schedule says. Credentials are apart ([`Credentials`]): they
/// are stored encrypted and never returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The VMS's camera id (the engine stream's camera id).
    pub camera_id: String,
    /// The camera's name.
    #[serde(default)]
    pub name: String,
    /// The camera's host name or IP address.
    pub ip: String,
    /// Its RTSP port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Device type, e.g. `"IPC"` or `"NVR"` (informational).
    #[serde(default = "default_device_type")]
    pub device_type: String,
    /// Channel number, from 1.
    #[serde(default = "default_channel")]
    pub channel: u32,
    /// The resource pool to record into.
    pub pool: u32,
    /// Recording on/off.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Main or sub stream.
    #[serde(default)]
    pub stream: StreamChoice,
    /// Seconds kept before an event (event mode).
    #[serde(default)]
    pub pre_record_secs: u32,
    /// Seconds recorded after an event ends (event mode).
    #[serde(default)]
    pub post_record_secs: u32,
    /// The RTSP URL or a template with `{host}`, `{port}`, `{channel}` and
    /// `{stream}`; the Hikvision template when absent. Credentials never go
    /// in it.
    #[serde(default)]
    pub url: Option<String>,
    /// Continuous or event recording.
    #[serde(default)]
    pub mode: RecordMode,
    /// Armed periods; armed always when absent.
    #[serde(default)]
    pub plan: Option<Vec<Period>>,
    /// The RTSP user name (the password is apart).
    #[serde(default)]
    pub username: Option<String>,
}

fn default_port() -> u16 {
    554
}
fn default_device_type() -> String {
    "IPC".into()
}
fn default_channel() -> u32 {
    1
}
fn default_true() -> bool {
    true
}

/// A camera's RTSP credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Never prints the password.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Why a schedule was refused: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ScheduleError {
    /// The field concerned.
    pub field: &'static str,
    /// What is wrong, in words.
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> ScheduleError {
    ScheduleError { field, message: message.into() }
}

/// `"HH:MM"` → minute of the day; `"24:00"` only when `end`.
fn minute_of(field: &'static str, s: &str, end: bool) -> Result<u16, ScheduleError> {
    let parsed = s.split_once(':').and_then(|(h, m)| {
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        Some((h.parse::<u16>().ok()?, m.parse::<u16>().ok()?))
    });
    match parsed {
        Some((24, 0)) if end => Ok(1440),
        Some((h, m)) if h < 24 && m < 60 => Ok(h * 60 + m),
        _ => Err(bad(
            field,
            format!("{s:?} is not a time of day \"HH:MM\" (00:00 to {})", if end { "24:00" } else { "23:59" }),
        )),
    }
}

impl Schedule {
    /// Checks every field; the first problem found is the error.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if self.camera_id.is_empty() || self.camera_id.len() > 256 {
            return Err(bad("camera_id", "must be 1 to 256 bytes"));
        }
        if self.name.len() > 128 {
            return Err(bad("name", "at most 128 bytes"));
        }
        if self.device_type.len() > 32 {
            return Err(bad("device_type", "at most 32 bytes"));
        }
        if self.ip.is_empty()
            || self.ip.len() > 253
            || !self.ip.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        {
            return Err(bad("ip", "an IP address or host name"));
        }
        if self.port == 0 {
            return Err(bad("port", "1 to 65535"));
        }
        if self.channel == 0 || self.channel > 9999 {
            return Err(bad("channel", "1 to 9999"));
        }
        if self.pre_record_secs > MAX_PRE_RECORD_SECS {
            return Err(bad("pre_record_secs", format!("at most {MAX_PRE_RECORD_SECS} s")));
        }
        if self.post_record_secs > MAX_POST_RECORD_SECS {
            return Err(bad("post_record_secs", format!("at most {MAX_POST_RECORD_SECS} s")));
        }
        if let Some(u) = &self.username {
            if u.is_empty() || u.len() > 64 || u.contains(':') || u.chars().any(char::is_control) {
                return Err(bad("username", "1 to 64 characters, no ':' or control characters"));
            }
        }
        self.rtsp_url()?;
        if let Some(plan) = &self.plan {
            let mut days: [Vec<(u16, u16)>; 7] = Default::default();
            for p in plan {
                let (s, e) = (minute_of("plan.start", &p.start, false)?, minute_of("plan.end", &p.end, true)?);
                if s >= e {
                    return Err(bad(
                        "plan",
                        format!("{:?} {}–{}: the end must be after the start", p.day, p.start, p.end),
                    ));
                }
                let day = &mut days[usize::from(p.day.index())];
                if day.iter().any(|&(a, b)| s < b && a < e) {
                    return Err(bad(
                        "plan",
                        format!("{:?} {}–{} overlaps another period of that day", p.day, p.start, p.end),
                    ));
                }
                day.push((s, e));
                if day.len() > MAX_PERIODS_PER_DAY {
                    return Err(bad("plan", format!("at most {MAX_PERIODS_PER_DAY} periods per day ({:?})", p.day)));
                }
            }
        }
        Ok(())
    }

    /// The camera's RTSP URL, the template filled in. Refuses other schemes
    /// than `rtsp`, user names or passwords inside the URL (they belong in
    /// the credentials, stored encrypted), and unknown placeholders.
    pub fn rtsp_url(&self) -> Result<Url, ScheduleError> {
        let template = self.url.as_deref().unwrap_or(HIKVISION_TEMPLATE);
        if template.len() > 1024 {
            return Err(bad("url", "at most 1024 bytes"));
        }
        let host =
            if self.ip.contains(':') && !self.ip.starts_with('[') { format!("[{}]", self.ip) } else { self.ip.clone() };
        let filled = template
            .replace("{host}", &host)
            .replace("{port}", &self.port.to_string())
            .replace("{channel}", &self.channel.to_string())
            .replace("{stream}", &self.stream.number().to_string());
        if filled.contains('{') || filled.contains('}') {
            return Err(bad("url", "unknown placeholder: the template may use {host}, {port}, {channel} and {stream}"));
        }
        let url = Url::parse(&filled).map_err(|e| bad("url", format!("{filled:?} is not a URL: {e}")))?;
        if url.scheme() != "rtsp" {
            return Err(bad("url", format!("scheme {:?}: only rtsp:// is supported", url.scheme())));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("url", "no user name or password in the URL: give them as username and password"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("url", "the URL has no host"));
        }
        Ok(url)
    }

    /// Whether the plan arms the schedule at `at` (always without a plan).
    /// Recording off disarms regardless.
    pub fn armed_at(&self, at: WeekMinute) -> bool {
        if !self.enabled {
            return false;
        }
        let Some(plan) = &self.plan else { return true };
        plan.iter().any(|p| {
            let (Ok(s), Ok(e)) = (minute_of("", &p.start, false), minute_of("", &p.end, true)) else { return false };
            p.day.index() == at.weekday && s <= at.minute && at.minute < e
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Schedule {
        serde_json::from_str(r#"{"camera_id":"cam-1","ip":"10.0.0.7","pool":1}"#).expect("minimal schedule")
    }

    #[test]
    fn defaults_are_a_hikvision_main_stream_recorded_continuously() {
        let s = sample();
        s.validate().expect("valid");
        assert_eq!(s.port, 554);
        assert_eq!(s.channel, 1);
        assert!(s.enabled);
        assert_eq!(s.mode, RecordMode::Continuous);
        assert_eq!(s.rtsp_url().expect("url").as_str(), "rtsp://10.0.0.7:554/Streaming/Channels/101");
        let sub = Schedule { stream: StreamChoice::Sub, channel: 3, ..sample() };
        assert_eq!(sub.rtsp_url().expect("url").as_str(), "rtsp://10.0.0.7:554/Streaming/Channels/302");
    }

    #[test]
    fn urls_refuse_credentials_other_schemes_and_unknown_placeholders() {
        for (url, word) in [
            ("rtsp://admin:pw@{host}/x", "no user name"),
            ("http://{host}/x", "only rtsp"),
            ("rtsp://{host}/{camera}", "placeholder"),
            ("not a url", "not a URL"),
        ] {
            let e = Schedule { url: Some(url.into()), ..sample() }.validate().expect_err(url);
            assert_eq!(e.field, "url");
            assert!(e.message.contains(word), "{url}: {e}");
        }
        let v6 = Schedule { ip: "fe80::1".into(), url: Some("rtsp://{host}:{port}/live".into()), ..sample() };
        assert_eq!(v6.rtsp_url().expect("v6").as_str(), "rtsp://[fe80::1]:554/live");
    }

    #[test]
    fn plans_arm_by_weekday_and_minute() {
        let s = Schedule {
            plan: Some(vec![
                Period { day: Weekday::Mon, start: "08:00".into(), end: "18:30".into() },
                Period { day: Weekday::Sun, start: "22:00".into(), end: "24:00".into() },
            ]),
            ..sample()
        };
        s.validate().expect("valid");
        assert!(s.armed_at(WeekMinute { weekday: 0, minute: 8 * 60 }));
        assert!(!s.armed_at(WeekMinute { weekday: 0, minute: 18 * 60 + 30 }));
        assert!(!s.armed_at(WeekMinute { weekday: 1, minute: 9 * 60 }));
        assert!(s.armed_at(WeekMinute { weekday: 6, minute: 1439 }));
        assert!(!Schedule { enabled: false, ..s }.armed_at(WeekMinute { weekday: 0, minute: 9 * 60 }));
    }

    #[test]
    fn plans_refuse_bad_times_overlaps_and_too_many_periods() {
        let p = |start: &str, end: &str| Period { day: Weekday::Tue, start: start.into(), end: end.into() };
        for (plan, word) in [
            (vec![p("8:00", "09:00")], "HH:MM"),
            (vec![p("24:00", "24:00")], "HH:MM"),
            (vec![p("10:00", "09:00")], "after the start"),
            (vec![p("08:00", "10:00"), p("09:00", "11:00")], "overlaps"),
            ((0..9).map(|i| p(&format!("{:02}:00", i * 2), &format!("{:02}:30", i * 2))).collect(), "at most 8"),
        ] {
            let e = Schedule { plan: Some(plan), ..sample() }.validate().expect_err(word);
            assert!(e.message.contains(word), "{e}");
        }
    }

    #[test]
    fn other_fields_are_checked() {
        assert_eq!(Schedule { channel: 0, ..sample() }.validate().expect_err("channel").field, "channel");
        assert_eq!(Schedule { pre_record_secs: 31, ..sample() }.validate().expect_err("pre").field, "pre_record_secs");
        assert_eq!(Schedule { ip: "a b".into(), ..sample() }.validate().expect_err("ip").field, "ip");
        assert_eq!(
            Schedule { username: Some("a:b".into()), ..sample() }.validate().expect_err("user").field,
            "username"
        );
        assert!(serde_json::from_str::<Schedule>(r#"{"camera_id":"c","ip":"h","pool":1,"password":"x"}"#).is_err());
    }

    #[test]
    fn credentials_do_not_print_their_password() {
        let c = Credentials { username: "admin".into(), password: "hunter22".into() };
        assert!(!format!("{c:?}").contains("hunter22"));
    }
}
