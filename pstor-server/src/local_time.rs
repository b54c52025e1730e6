//! The server's local time (manual 3.8.8): an IANA time zone such as
//! `Europe/Berlin` with its daylight-saving rules, or, while none is set,
//! the fixed `[engine] utc_offset_minutes` of the configuration. Video
//! inspection's days and hours follow it: a day of a zone with daylight
//! saving time has 23 or 25 hours.
//!
//! The zones come from jiff's time zone database: the host's
//! `/usr/share/zoneinfo` (kept current by its tzdata package), else the copy
//! built into the binary (a host without tzdata still knows every zone).

use crate::meta::{MetaDb, MetaError};
use jiff::tz::TimeZone;
use pstor_core::{Date, LocalDay, Timestamp, US_PER_DAY, US_PER_SEC};
use serde::{Deserialize, Serialize};

/// The settings section of the time zone.
pub const TIME_SETTING: &str = "time";

/// The stored time zone setting.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSettings {
    /// An IANA zone name; none: the fixed offset of the configuration.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// How local days and hours are reckoned.
#[derive(Debug, Clone)]
pub enum LocalTime {
    /// A fixed offset from UTC, minutes (the configuration's).
    Fixed(i32),
    /// An IANA zone, by name.
    Zone(String, TimeZone),
}

/// Every zone name the database knows, sorted.
pub fn zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
    names.sort();
    names
}

impl LocalTime {
    /// The local time the settings choose: the stored zone, else the
    /// configuration's fixed offset `fixed_minutes` (blocking: reads the
    /// setting).
    pub fn configured(db: &MetaDb, fixed_minutes: i32) -> Result<LocalTime, MetaError> {
        let fixed = LocalTime::Fixed(fixed_minutes);
        let Some(name) = db.setting::<TimeSettings>(TIME_SETTING)?.time_zone else { return Ok(fixed) };
        Ok(LocalTime::zone(&name).unwrap_or_else(|e| {
            // A zone the host's database dropped since it was chosen.
            tracing::warn!(zone = %name, error = %e, "the stored time zone is unknown: using the fixed offset");
            fixed
        }))
    }

    /// The local weekday (Monday 0) and minute of the day at `at`: what
    /// recording schedules' weekly plans are in.
    pub fn week_minute(&self, at: Timestamp) -> (u8, u16) {
        let local = at + i64::from(self.offset_minutes_at(at)) * 60 * US_PER_SEC;
        let days = local.div_euclid(US_PER_DAY);
        // 1970-01-01 was a Thursday (3 counting from Monday 0).
        let weekday = (days + 3).rem_euclid(7) as u8;
        let minute = (local.rem_euclid(US_PER_DAY) / (60 * US_PER_SEC)) as u16;
        (weekday, minute)
    }

    /// The zone called `name`; an error saying so if there is none.
    pub fn zone(name: &str) -> Result<LocalTime, String> {
        // The database also resolves file paths and odd spellings: only
        // plain IANA names are taken.
        let plain = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('/')
            && !name.contains("..")
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
        let tz = plain.then(|| jiff::tz::db().get(name).ok()).flatten().ok_or_else(|| {
            format!("{name:?} is not a time zone of the IANA database (e.g. Europe/Berlin, America/New_York, UTC)")
        })?;
        Ok(LocalTime::Zone(name.to_string(), tz))
    }

    /// The zone's name, or `UTC+hh:mm` for a fixed offset.
    pub fn name(&self) -> String {
        match self {
            LocalTime::Zone(n, _) => n.clone(),
            LocalTime::Fixed(m) => {
                let sign = if *m < 0 { '-' } else { '+' };
                format!("UTC{sign}{:02}:{:02}", m.unsigned_abs() / 60, m.unsigned_abs() % 60)
            }
        }
    }

    fn instant(us: Timestamp) -> jiff::Timestamp {
        jiff::Timestamp::from_microsecond(us).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// The offset from UTC at `at` (µs UTC), minutes.
    pub fn offset_minutes_at(&self, at: Timestamp) -> i32 {
        match self {
            LocalTime::Fixed(m) => *m,
            LocalTime::Zone(_, tz) => tz.to_offset(Self::instant(at)).seconds() / 60,
        }
    }

    /// Whether daylight saving time is in force at `at`.
    pub fn is_dst_at(&self, at: Timestamp) -> bool {
        match self {
            LocalTime::Fixed(_) => false,
            LocalTime::Zone(_, tz) => tz.to_offset_info(Self::instant(at)).dst().is_dst(),
        }
    }

    /// `at` as local RFC 3339 time with its offset (`2026-03-29T03:00:00+02:00`).
    pub fn rfc3339(&self, at: Timestamp) -> String {
        let offset = jiff::tz::Offset::from_seconds(self.offset_minutes_at(at) * 60).unwrap_or(jiff::tz::Offset::UTC);
        let dt = offset.to_datetime(Self::instant(at));
        let m = offset.seconds() / 60;
        let sign = if m < 0 { '-' } else { '+' };
        format!("{}{sign}{:02}:{:02}", dt.strftime("%Y-%m-%dT%H:%M:%S"), m.unsigned_abs() / 60, m.unsigned_abs() % 60)
    }

    /// The local date at `at`.
    pub fn date_at(&self, at: Timestamp) -> Date {
        let local = at + i64::from(self.offset_minutes_at(at)) * 60 * US_PER_SEC;
        Date::from_days(local.div_euclid(US_PER_DAY))
    }

    /// The local day `date`, hour by hour: from the instant the day begins
    /// to the instant the next one does, one hour after another, each
    /// labelled with the hour the clock shows at its start (spring forward:
    /// one label missing; fall back: one label twice).
    pub fn day(&self, date: Date) -> Result<LocalDay, String> {
        date.validate().map_err(|e| e.to_string())?;
        let tz = match self {
            LocalTime::Fixed(m) => return Ok(LocalDay::fixed(date, *m)),
            LocalTime::Zone(_, tz) => tz,
        };
        let start_of = |d: jiff::civil::Date| -> Result<i64, String> {
            let z = d.to_zoned_datetime(tz.clone()).and_then(|z| z.start_of_day()).map_err(|e| e.to_string())?;
            Ok(z.timestamp().as_microsecond())
        };
        let civil =
            jiff::civil::Date::new(date.year as i16, date.month as i8, date.day as i8).map_err(|e| e.to_string())?;
        let start = start_of(civil)?;
        let end = start_of(civil.tomorrow().map_err(|e| e.to_string())?)?;
        let hour = 3600 * US_PER_SEC;
        let hours = (0..)
            .map(|i| start + i * hour)
            .take_while(|&t| t < end)
            .map(|t| {
                let local = t + i64::from(self.offset_minutes_at(t)) * 60 * US_PER_SEC;
                ((local.rem_euclid(US_PER_DAY) / hour) as u32, t)
            })
            .collect();
        Ok(LocalDay { date, hours, end })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const H: i64 = 3600 * US_PER_SEC;

    fn utc(y: i32, mo: u32, d: u32, h: i64) -> Timestamp {
        Date { year: y, month: mo, day: d }.days_since_epoch() * US_PER_DAY + h * H
    }

    #[test]
    fn berlin_has_a_23_hour_day_in_march_and_a_25_hour_day_in_october() {
        let berlin = LocalTime::zone("Europe/Berlin").unwrap();
        let spring = berlin.day(Date { year: 2026, month: 3, day: 29 }).unwrap();
        assert_eq!(spring.hours.len(), 23);
        assert_eq!(spring.end - spring.start(), 23 * H);
        assert_eq!(spring.start(), utc(2026, 3, 28, 23), "midnight CET is 23:00 UTC");
        let labels: Vec<u32> = spring.hours.iter().map(|h| h.0).collect();
        assert_eq!(&labels[..4], &[0, 1, 3, 4], "02:00 does not exist");
        let autumn = berlin.day(Date { year: 2026, month: 10, day: 25 }).unwrap();
        assert_eq!(autumn.hours.len(), 25);
        let labels: Vec<u32> = autumn.hours.iter().map(|h| h.0).collect();
        assert_eq!(&labels[..5], &[0, 1, 2, 2, 3], "02:00 twice");
        assert_eq!(autumn.hours[2].1, utc(2026, 10, 25, 0), "02:00 CEST");
        assert_eq!(autumn.hours[3].1, utc(2026, 10, 25, 1), "02:00 CET");
        let plain = berlin.day(Date { year: 2026, month: 12, day: 4 }).unwrap();
        assert_eq!(plain, LocalDay::fixed(Date { year: 2026, month: 12, day: 4 }, 60));
        assert!(berlin.is_dst_at(utc(2026, 7, 1, 12)) && !berlin.is_dst_at(utc(2026, 12, 1, 12)));
        assert_eq!(berlin.offset_minutes_at(utc(2026, 7, 1, 12)), 120);
        assert_eq!(berlin.rfc3339(utc(2026, 3, 29, 1)), "2026-03-29T03:00:00+02:00");
        assert_eq!(berlin.date_at(utc(2026, 3, 28, 23)), Date { year: 2026, month: 3, day: 29 });
    }

    #[test]
    fn week_minutes_follow_the_local_clock() {
        // 2026-12-04 is a Friday; 23:30 UTC is Saturday 00:30 in Berlin.
        let berlin = LocalTime::zone("Europe/Berlin").unwrap();
        let at = utc(2026, 12, 4, 23) + 30 * 60 * US_PER_SEC;
        assert_eq!(LocalTime::Fixed(0).week_minute(at), (4, 23 * 60 + 30));
        assert_eq!(berlin.week_minute(at), (5, 30));
        assert_eq!(LocalTime::Fixed(-600).week_minute(utc(1970, 1, 1, 0)), (2, 14 * 60), "Wednesday before the epoch");
    }

    #[test]
    fn the_southern_hemisphere_and_fixed_offsets() {
        // Sydney leaves daylight saving time in April: 25 hours.
        let sydney = LocalTime::zone("Australia/Sydney").unwrap();
        assert_eq!(sydney.day(Date { year: 2026, month: 4, day: 5 }).unwrap().hours.len(), 25);
        let fixed = LocalTime::Fixed(-330);
        assert_eq!(fixed.name(), "UTC-05:30");
        assert_eq!(fixed.day(Date { year: 2026, month: 3, day: 29 }).unwrap().hours.len(), 24);
        assert_eq!(LocalTime::Fixed(60).name(), "UTC+01:00");
    }

    #[test]
    fn only_plain_iana_names_are_zones() {
        for bad in ["", "Mars/Olympus", "/etc/passwd", "../../etc/localtime", "Europe/../UTC", "Europe Berlin"] {
            let e = LocalTime::zone(bad).unwrap_err();
            assert!(e.contains("IANA"), "{e}");
        }
        assert_eq!(LocalTime::zone("UTC").unwrap().name(), "UTC");
        let names = zone_names();
        assert!(names.len() > 300 && names.iter().any(|n| n == "Europe/Berlin"), "{}", names.len());
    }
}
