//! Video inspection (manual 3.6.3): the streams to inspect (filtered by
//! camera and channel), a day's hour cells with exception hours, a month,
//! and one hour's recorded intervals and gaps. Today is inspected like any
//! day but only up to now (its hours still to come are left out). Days and
//! hours are those of the time zone setting ([`super::time`]): 23 or 25
//! hours on a daylight-saving day.

use super::time::local_time;
use super::{PageQuery, Params};
use crate::local_time::LocalTime;
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::{blocking, State};
use axum::extract::State as S;
use axum::Json;
use pstor_core::{Date, DayInspection, LocalDay, StreamId, StreamInfo, StreamKind};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Serialize)]
pub(super) struct StreamView {
    id: String,
    pool: u32,
    camera_id: String,
    channel: u32,
    kind: &'static str,
    codec: String,
    first: Option<i64>,
    last: Option<i64>,
    segments: usize,
}

fn kind_name(k: StreamKind) -> &'static str {
    match k {
        StreamKind::Main => "main",
        StreamKind::Sub => "sub",
    }
}

fn view(s: StreamInfo) -> StreamView {
    StreamView {
        id: s.config.id.0.to_string(),
        pool: s.config.pool.0,
        camera_id: s.config.camera_id,
        channel: s.config.channel,
        kind: kind_name(s.config.kind),
        codec: s.config.codec,
        first: s.first_ts,
        last: s.last_ts,
        segments: s.segments,
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct StreamFilter {
    page: Option<u64>,
    page_size: Option<u32>,
    /// Camera ids containing this (case-insensitive).
    camera: Option<String>,
    channel: Option<u32>,
}

/// `GET /api/v1/streams`: the recorded streams, by camera and channel.
pub(super) async fn streams(
    S(state): S<Arc<State>>,
    Params(f): Params<StreamFilter>,
) -> ApiResult<Json<super::Page<StreamView>>> {
    let q = PageQuery::from_parts(f.page, f.page_size)?;
    blocking(move || {
        let needle = f.camera.map(|c| c.to_lowercase());
        let mut all: Vec<StreamInfo> = state
            .ctx
            .engine
            .streams()
            .into_iter()
            .filter(|s| needle.as_deref().is_none_or(|n| s.config.camera_id.to_lowercase().contains(n)))
            .filter(|s| f.channel.is_none_or(|c| s.config.channel == c))
            .collect();
        all.sort_by(|a, b| {
            (&a.config.camera_id, a.config.channel, a.config.kind).cmp(&(
                &b.config.camera_id,
                b.config.channel,
                b.config.kind,
            ))
        });
        Ok(Json(q.of(all.into_iter().map(view).collect())))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DayQuery {
    stream: String,
    /// `YYYY-MM-DD` (local); default today.
    date: Option<String>,
    /// Only for `/inspection/hour`: 0..=23.
    hour: Option<u32>,
    /// Only for `/inspection/hour`: 2 for the second of an hour the clock
    /// shows twice (the night daylight saving time ends); default 1.
    repeat: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MonthQuery {
    stream: String,
    year: i32,
    month: u32,
}

fn stream_id(s: &str) -> ApiResult<StreamId> {
    s.trim().parse().map(StreamId).map_err(|_| ApiError::new(ApiCode::BadRequest, format!("{s:?} is not a stream id")))
}

fn parse_date(s: &str) -> ApiResult<Date> {
    let bad = || ApiError::new(ApiCode::BadRequest, format!("{s:?} is not a date (YYYY-MM-DD)"));
    let mut p = s.splitn(3, '-');
    let (y, m, d) = (p.next().ok_or_else(bad)?, p.next().ok_or_else(bad)?, p.next().ok_or_else(bad)?);
    Ok(Date {
        year: y.parse().map_err(|_| bad())?,
        month: m.parse().map_err(|_| bad())?,
        day: d.parse().map_err(|_| bad())?,
    })
}

fn date_text(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// Where the `i`th hour of the day begins and ends (inclusive), µs UTC.
fn hour_bounds(day: &LocalDay, i: usize) -> (i64, i64) {
    let start = day.hours.get(i).map_or(day.end, |h| h.1);
    (start, day.hours.get(i + 1).map_or(day.end, |h| h.1) - 1)
}

fn day_json(d: &DayInspection, lt: &LocalTime, day: &LocalDay) -> serde_json::Value {
    let hours: Vec<_> = d
        .hours
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let (start, end) = hour_bounds(day, i);
            serde_json::json!({
                "hour": h.hour,
                "start": start,
                "end": end,
                "utc_offset_minutes": lt.offset_minutes_at(start),
                "recorded_secs": h.recorded_secs,
                "exception": h.exception,
                "partial": h.partial,
                "gaps": h.gaps.iter().map(|&(s, e)| serde_json::json!({ "start": s, "end": e })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "stream": d.stream.0.to_string(),
        "date": date_text(d.date),
        "recorded_secs": d.recorded_secs(),
        "exception_hours": d.exception_hours(),
        "time_zone": lt.name(),
        "hours_in_day": day.hours.len(),
        "hours": hours,
    })
}

/// The local day `date` (default today) as the time zone setting has it.
fn local_day(lt: &LocalTime, date: Option<Date>) -> ApiResult<LocalDay> {
    let date = date.unwrap_or_else(|| lt.date_at(crate::meta::now_us()));
    lt.day(date).map_err(|e| ApiError::new(ApiCode::BadRequest, e))
}

/// `GET /api/v1/inspection/day?stream=&date=`: 24 hour cells (today: up
/// to now).
pub(super) async fn day(S(state): S<Arc<State>>, Params(q): Params<DayQuery>) -> ApiResult<Json<serde_json::Value>> {
    let stream = stream_id(&q.stream)?;
    let date = q.date.as_deref().map(parse_date).transpose()?;
    blocking(move || {
        let e = &state.ctx.engine;
        e.stream(stream)?;
        let lt = local_time(&state)?;
        let day = local_day(&lt, date)?;
        let d = e.inspect_local_day(stream, &day)?;
        Ok(Json(day_json(&d, &lt, &day)))
    })
    .await
}

/// `GET /api/v1/inspection/month?stream=&year=&month=`.
pub(super) async fn month(
    S(state): S<Arc<State>>,
    Params(q): Params<MonthQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let stream = stream_id(&q.stream)?;
    blocking(move || {
        let e = &state.ctx.engine;
        e.stream(stream)?;
        let first = Date { year: q.year, month: q.month, day: 1 };
        first.validate()?;
        let lt = local_time(&state)?;
        let today = lt.date_at(crate::meta::now_us());
        let mut days = Vec::new();
        for day in (1..=Date::days_in_month(q.year, q.month)).map(|day| Date { day, ..first }) {
            if day > today {
                break;
            }
            let d = e.inspect_local_day(stream, &local_day(&lt, Some(day))?)?;
            days.push(serde_json::json!({
                "date": date_text(day),
                "recorded_secs": d.recorded_secs(),
                "exception_hours": d.exception_hours(),
            }));
        }
        Ok(Json(serde_json::json!({ "stream": stream.0.to_string(), "year": q.year, "month": q.month, "days": days })))
    })
    .await
}

/// `GET /api/v1/inspection/hour?stream=&date=&hour=`: the hour's recorded
/// intervals and its gaps.
pub(super) async fn hour(S(state): S<Arc<State>>, Params(q): Params<DayQuery>) -> ApiResult<Json<serde_json::Value>> {
    let stream = stream_id(&q.stream)?;
    let hour = q.hour.filter(|h| *h < 24).ok_or_else(|| ApiError::new(ApiCode::BadRequest, "hour is 0 to 23"))?;
    let repeat = q.repeat.unwrap_or(1);
    if !(1..=2).contains(&repeat) {
        return Err(ApiError::new(ApiCode::BadRequest, "repeat is 1, or 2 for the second of an hour shown twice"));
    }
    let date = q.date.as_deref().map(parse_date).transpose()?;
    blocking(move || {
        let e = &state.ctx.engine;
        e.stream(stream)?;
        let lt = local_time(&state)?;
        let day = local_day(&lt, date)?;
        let date = day.date;
        let nth = repeat as usize - 1;
        let Some(i) = day.hours.iter().enumerate().filter(|(_, h)| h.0 == hour).map(|(i, _)| i).nth(nth) else {
            let why = if nth == 0 { "the clocks skip it" } else { "the clock shows it once" };
            return Err(ApiError::new(
                ApiCode::BadRequest,
                format!("{date} has no hour {hour:02} (repeat {repeat}) in {}: {why}", lt.name(), date = date_text(date)),
            ));
        };
        let (start, end) = hour_bounds(&day, i);
        let d = e.inspect_local_day(stream, &day)?;
        let cell = d.hours.get(i);
        let tol = e.options().gap_tolerance_us;
        let recorded = e.recorded_ranges(stream, start, end, tol)?;
        Ok(Json(serde_json::json!({
            "stream": stream.0.to_string(),
            "date": date_text(date),
            "hour": hour,
            "repeat": repeat,
            "time_zone": lt.name(),
            "start": start,
            "end": end,
            "recorded_secs": cell.map_or(0, |c| c.recorded_secs),
            "exception": cell.is_none_or(|c| c.exception),
            "recorded": recorded.iter().map(|&(s, e)| serde_json::json!({ "start": s, "end": e })).collect::<Vec<_>>(),
            "gaps": cell.map(|c| c.gaps.iter().map(|&(s, e)| serde_json::json!({ "start": s, "end": e })).collect::<Vec<_>>()).unwrap_or_default(),
        })))
    })
    .await
}
