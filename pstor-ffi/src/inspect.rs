//! Video inspection (manual: which hours of which camera are missing): a
//! day hour by hour, a month day by day. The results are plain structs of
//! fixed size, so they need no handle and no free.
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::engine::{backend_of, pstor_engine};
use crate::ptr::Out;
use crate::result::{boundary, ResultCode};
use pstor_core::{Date, DayInspection, StreamId};

/// One hour of an inspected day.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pstor_hour_inspection {
    /// Hour of the day, 0..=23 (engine's local time).
    pub hour: u32,
    /// Seconds recorded in the hour, rounded to the nearest second (half up).
    pub recorded_secs: u32,
    /// Gaps longer than the tolerance in the hour (their times:
    /// [`crate::pstor_recorded_ranges`]).
    pub gaps: u32,
    /// An exception hour: it has gaps, or no recording at all.
    pub exception: bool,
    /// The hour is not over yet (today); counted up to now.
    pub partial: bool,
}

/// A stream's day, hour by hour.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_day_inspection {
    /// The stream.
    pub stream: u64,
    /// Year.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u32,
    /// Day, 1..=31.
    pub day: u32,
    /// How many of `hours` are filled (today: the hours begun so far).
    pub n_hours: u32,
    /// The hours, in order.
    pub hours: [pstor_hour_inspection; 24],
    /// Seconds recorded in the day.
    pub recorded_secs: u64,
    /// Hours with gaps.
    pub exception_hours: u32,
}

fn day_to_c(d: &DayInspection) -> pstor_day_inspection {
    let mut hours = [pstor_hour_inspection::default(); 24];
    for (slot, h) in hours.iter_mut().zip(&d.hours) {
        *slot = pstor_hour_inspection {
            hour: h.hour,
            recorded_secs: h.recorded_secs,
            gaps: h.gaps.len() as u32,
            exception: h.exception,
            partial: h.partial,
        };
    }
    pstor_day_inspection {
        stream: d.stream.0,
        year: d.date.year,
        month: d.date.month,
        day: d.date.day,
        n_hours: d.hours.len().min(24) as u32,
        hours,
        recorded_secs: d.recorded_secs(),
        exception_hours: d.exception_hours() as u32,
    }
}

/// Inspects one day (engine's local time) of a stream into `*out`.
#[no_mangle]
pub extern "C" fn pstor_inspect_day(
    engine: *const pstor_engine,
    stream: u64,
    year: i32,
    month: u32,
    day: u32,
    out: *mut pstor_day_inspection,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out)?;
        out.write(day_to_c(&e.inspect_day(StreamId(stream), Date { year, month, day })?));
        Ok(())
    })
}

/// Inspects today (engine's local time) of a stream into `*out`, up to now.
#[no_mangle]
pub extern "C" fn pstor_inspect_today(
    engine: *const pstor_engine,
    stream: u64,
    out: *mut pstor_day_inspection,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out)?;
        out.write(day_to_c(&e.inspect_today(StreamId(stream))?));
        Ok(())
    })
}

/// One day of an inspected month.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pstor_day_summary {
    /// Day of the month, 1..=31.
    pub day: u32,
    /// Seconds recorded.
    pub recorded_secs: u64,
    /// Hours with gaps.
    pub exception_hours: u32,
}

/// A stream's month, day by day.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_month_inspection {
    /// The stream.
    pub stream: u64,
    /// Year.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u32,
    /// How many of `days` are filled.
    pub n_days: u32,
    /// The days, in order.
    pub days: [pstor_day_summary; 31],
}

/// Inspects a month (engine's local time) of a stream into `*out`.
#[no_mangle]
pub extern "C" fn pstor_inspect_month(
    engine: *const pstor_engine,
    stream: u64,
    year: i32,
    month: u32,
    out: *mut pstor_month_inspection,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out)?;
        let summary = e.inspect_month(StreamId(stream), year, month)?;
        let mut days = [pstor_day_summary::default(); 31];
        for (slot, d) in days.iter_mut().zip(&summary) {
            *slot = pstor_day_summary {
                day: d.date.day,
                recorded_secs: d.recorded_secs,
                exception_hours: d.exception_hours,
            };
        }
        out.write(pstor_month_inspection { stream, year, month, n_days: summary.len().min(31) as u32, days });
        Ok(())
    })
}
