//! Video inspection (manual 3.6.3): which hours of which day a stream was
//! recorded, and the gaps. Computed from the record index (footers and open
//! segments' lists), never by reading video.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::*;

const US_PER_HOUR: i64 = 3600 * US_PER_SEC;

/// A calendar date (local time per `EngineOptions::utc_offset_minutes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month 1..=12.
    pub month: u32,
    /// Day 1..=31.
    pub day: u32,
}

impl Date {
    /// Days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
    pub fn days_since_epoch(self) -> i64 {
        let y = self.year as i64 - if self.month <= 2 { 1 } else { 0 };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = self.month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + self.day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146097 + doe - 719468
    }

    /// The date of a day number since the epoch.
    pub fn from_days(z: i64) -> Date {
        let z = z + 719468;
        let era = z.div_euclid(146097);
        let doe = z - era * 146097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + if month <= 2 { 1 } else { 0 }) as i32;
        Date { year, month, day }
    }

    /// Days in the date's month.
    pub fn days_in_month(year: i32, month: u32) -> u32 {
        let next = if month == 12 {
            Date { year: year.saturating_add(1), month: 1, day: 1 }
        } else {
            Date { year, month: month + 1, day: 1 }
        };
        (next.days_since_epoch() - Date { year, month, day: 1 }.days_since_epoch()) as u32
    }

    /// Checks that the date exists (and its year is 1..=9999).
    pub fn validate(self) -> Result<()> {
        // Years beyond these would overflow the microsecond timestamps.
        if !(1..=9999).contains(&self.year) {
            return Err(Error::InvalidArgument(format!("year {} is outside 1..=9999", self.year)));
        }
        if !(1..=12).contains(&self.month) || self.day == 0 || self.day > Date::days_in_month(self.year, self.month) {
            return Err(Error::InvalidArgument(format!(
                "no such date {}-{:02}-{:02}",
                self.year, self.month, self.day
            )));
        }
        Ok(())
    }
}

/// A local day as its clock shows it: where each of its hours begins
/// (UTC µs) with the hour the clock reads then, and where the day ends. A
/// day at a fixed UTC offset ([`LocalDay::fixed`]) has 24 equal hours; a day
/// of a time zone with daylight saving time may have 23 (an hour skipped)
/// or 25 (one shown twice), which a caller with a time zone database builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDay {
    /// The day.
    pub date: Date,
    /// Each hour's local label (0..=23) and start, in order.
    pub hours: Vec<(u32, Timestamp)>,
    /// The end of the day (the start of the next), exclusive.
    pub end: Timestamp,
}

impl LocalDay {
    /// A day at a fixed offset from UTC: 24 hours from local midnight.
    pub fn fixed(date: Date, utc_offset_minutes: i32) -> LocalDay {
        let day0 = date.days_since_epoch() * US_PER_DAY - utc_offset_minutes as i64 * 60 * US_PER_SEC;
        LocalDay {
            date,
            hours: (0..24u32).map(|h| (h, day0 + h as i64 * US_PER_HOUR)).collect(),
            end: day0 + US_PER_DAY,
        }
    }

    /// Where the day begins.
    pub fn start(&self) -> Timestamp {
        self.hours.first().map_or(self.end, |h| h.1)
    }

    fn validate(&self) -> Result<()> {
        self.date.validate()?;
        let ordered = self.hours.windows(2).all(|w| w[0].1 < w[1].1);
        let labels = self.hours.iter().all(|h| h.0 < 24);
        let last = self.hours.last().map(|h| h.1);
        if self.hours.is_empty() || self.hours.len() > 48 || !ordered || !labels || last >= Some(self.end) {
            return Err(Error::InvalidArgument(format!(
                "a local day ({}-{:02}-{:02}) needs 1 to 48 hours labelled 0..=23, starting in order before its end",
                self.date.year, self.date.month, self.date.day
            )));
        }
        Ok(())
    }
}

/// One hour of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourInspection {
    /// Hour of the day, 0..=23 (local; on the day daylight saving time
    /// ends, one hour appears twice: the `n`th hour is the `n`th of the
    /// [`LocalDay`]'s hours).
    pub hour: u32,
    /// Seconds recorded in this hour, rounded to the nearest second (half a
    /// second rounds up: 9.96 s is 10, 9.49 s is 9).
    pub recorded_secs: u32,
    /// Gaps longer than the tolerance, clipped to the hour (start, end in µs).
    pub gaps: Vec<(Timestamp, Timestamp)>,
    /// An exception hour: it has gaps (or no recording at all).
    pub exception: bool,
    /// The hour has not fully happened yet (today); counted up to now.
    pub partial: bool,
}

/// One day of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayInspection {
    /// The stream.
    pub stream: StreamId,
    /// The day.
    pub date: Date,
    /// Its hours: 24, or 23/25 on a daylight-saving day (hours still in
    /// the future are left out of today).
    pub hours: Vec<HourInspection>,
}

impl DayInspection {
    /// Hours with gaps.
    pub fn exception_hours(&self) -> usize {
        self.hours.iter().filter(|h| h.exception).count()
    }
    /// Seconds recorded in the day.
    pub fn recorded_secs(&self) -> u64 {
        self.hours.iter().map(|h| h.recorded_secs as u64).sum()
    }
}

/// Summary of one day in a month view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySummary {
    /// The day.
    pub date: Date,
    /// Seconds recorded.
    pub recorded_secs: u64,
    /// Hours with gaps.
    pub exception_hours: u32,
}

/// Microseconds to whole seconds, rounded to the nearest (half up), so a
/// 9.96 s recording does not report 9.
fn nearest_secs(us: i64) -> i64 {
    (us + US_PER_SEC / 2).div_euclid(US_PER_SEC)
}

impl Engine {
    /// Today's local date.
    pub fn today(&self) -> Date {
        let now = self.inner.clock.now() + self.options().utc_offset_minutes as i64 * 60 * US_PER_SEC;
        Date::from_days(now.div_euclid(US_PER_DAY))
    }

    /// Per hour of `date` (local per `EngineOptions::utc_offset_minutes`):
    /// recorded seconds and gaps (manual "check videos by day").
    pub fn inspect_day(&self, stream: StreamId, date: Date) -> Result<DayInspection> {
        date.validate()?;
        self.inspect_local_day(stream, &LocalDay::fixed(date, self.options().utc_offset_minutes))
    }

    /// Per hour of a local day given hour by hour (a time zone's day with
    /// its daylight-saving hours): recorded seconds and gaps.
    pub fn inspect_local_day(&self, stream: StreamId, day: &LocalDay) -> Result<DayInspection> {
        day.validate()?;
        let now = self.inner.clock.now();
        let tol = self.options().gap_tolerance_us;
        let ranges = self.recorded_ranges(stream, day.start() - tol, day.end + tol, tol)?;
        let mut hours = Vec::with_capacity(day.hours.len());
        for (i, &(hour, h0)) in day.hours.iter().enumerate() {
            if h0 >= now {
                break;
            }
            let full_end = day.hours.get(i + 1).map_or(day.end, |h| h.1);
            let h1 = full_end.min(now);
            let mut covered = 0i64;
            let mut gaps = Vec::new();
            let mut cursor = h0;
            for &(a, b) in &ranges {
                let (a, b) = (a.max(h0), b.min(h1));
                if a > b {
                    continue;
                }
                if a - cursor > tol {
                    gaps.push((cursor, a));
                }
                covered += b - a;
                cursor = cursor.max(b);
            }
            if h1 - cursor > tol {
                gaps.push((cursor, h1));
            }
            hours.push(HourInspection {
                hour,
                recorded_secs: nearest_secs(covered) as u32,
                exception: !gaps.is_empty(),
                gaps,
                partial: h1 < full_end,
            });
        }
        Ok(DayInspection { stream, date: day.date, hours })
    }

    /// Today so far (manual "check today's video").
    pub fn inspect_today(&self, stream: StreamId) -> Result<DayInspection> {
        self.inspect_day(stream, self.today())
    }

    /// Per day of a month: recorded seconds and exception hours (manual
    /// "check videos by month"). Days after today are left out.
    pub fn inspect_month(&self, stream: StreamId, year: i32, month: u32) -> Result<Vec<DaySummary>> {
        Date { year, month, day: 1 }.validate()?;
        let today = self.today();
        let mut out = Vec::new();
        for day in 1..=Date::days_in_month(year, month) {
            let date = Date { year, month, day };
            if date > today {
                break;
            }
            let d = self.inspect_day(stream, date)?;
            out.push(DaySummary {
                date,
                recorded_secs: d.recorded_secs(),
                exception_hours: d.exception_hours() as u32,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(Date { year: 1970, month: 1, day: 1 }.days_since_epoch(), 0);
        assert_eq!(Date { year: 2026, month: 11, day: 23 }.days_since_epoch(), 20780);
        for z in [-1000, 0, 59, 60, 11016, 20780, 40000] {
            assert_eq!(Date::from_days(z).days_since_epoch(), z);
        }
        assert_eq!(Date::days_in_month(2024, 2), 29);
        assert_eq!(Date::days_in_month(2026, 2), 28);
        assert!(Date { year: 2026, month: 2, day: 29 }.validate().is_err());
        // Extreme years are refused, never overflow.
        for year in [i32::MIN, -1, 0, 10_000, i32::MAX] {
            assert!(matches!(Date { year, month: 12, day: 1 }.validate(), Err(Error::InvalidArgument(_))));
        }
        assert_eq!(Date::days_in_month(i32::MAX - 1, 11), 30);
    }

    #[test]
    fn a_fixed_offset_day_has_24_hours_from_local_midnight_and_odd_days_are_refused() {
        let date = Date { year: 2026, month: 3, day: 29 };
        let d = LocalDay::fixed(date, 60);
        let midnight_utc = date.days_since_epoch() * US_PER_DAY;
        assert_eq!(d.hours.len(), 24);
        assert_eq!(d.start(), midnight_utc - US_PER_HOUR);
        assert_eq!(d.end - d.start(), US_PER_DAY);
        assert_eq!(d.hours[23], (23, midnight_utc + 22 * US_PER_HOUR));
        assert!(d.validate().is_ok());
        for broken in [
            LocalDay { hours: vec![], ..d.clone() },
            LocalDay { hours: vec![(0, 10), (1, 10)], end: 20, ..d.clone() },
            LocalDay { hours: vec![(24, 10)], end: 20, ..d.clone() },
            LocalDay { hours: vec![(0, 10)], end: 10, ..d.clone() },
        ] {
            assert!(matches!(broken.validate(), Err(Error::InvalidArgument(_))), "{broken:?}");
        }
    }

    #[test]
    fn seconds_round_to_the_nearest_half_up() {
        let s = US_PER_SEC;
        for (us, secs) in [(0, 0), (s / 2 - 1, 0), (s / 2, 1), (9_490_000, 9), (9_500_000, 10), (9_960_000, 10)] {
            assert_eq!(nearest_secs(us), secs, "{us} µs");
        }
        assert_eq!(nearest_secs(3600 * s), 3600);
        assert_eq!(nearest_secs(3600 * s - 1), 3600);
    }
}
