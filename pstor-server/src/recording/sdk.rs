//! The recording schedules over the SDK protocol (ops 0x0700–0x0705,
//! docs/sdk-protocol.md §6.6): the same service and the same JSON as the
//! management API's `/api/v1/schedules`, so a VMS that pushes its plans
//! over the SDK and an operator on 6060 see one set of schedules.

use super::{Recording, RecordingError, ScheduleView};
use crate::manage::error::ApiError;
use pstor_core::{Error, ErrorCode};
use pstor_proto::{Reply, Request};

/// A schedule call's failure as an SDK error: engine errors keep their
/// numbers; the others carry the management API's (807 not found, 812
/// conflict, 817 invalid schedule, 818 channel limit), one number per
/// failure on both ports.
fn sdk_error(e: RecordingError) -> Error {
    match e {
        RecordingError::Engine(e) => e,
        other => {
            let api = ApiError::from(other);
            Error::Remote { code: ErrorCode::of(api.code()), message: api.message().to_owned() }
        }
    }
}

fn parse(json: &str) -> Result<serde_json::Value, RecordingError> {
    serde_json::from_str(json).map_err(|e| RecordingError::Body(format!("not JSON: {e}")))
}

fn text(v: &ScheduleView) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Answers one of the schedule requests (the caller matched it).
pub(crate) fn answer(rec: &Recording, req: Request, page_limit: usize, budget: usize) -> Result<Reply, Error> {
    let reply = match req {
        Request::ListSchedules { search, offset, limit } => rec
            .list(Some(search.as_str()).filter(|s| !s.is_empty()))
            .map(|all| list_page(&all, offset as usize, (limit as usize).clamp(1, page_limit), budget)),
        Request::GetSchedule { schedule } => rec.one(schedule).map(|v| Reply::GetSchedule { json: text(&v) }),
        Request::CreateSchedule { json } => {
            parse(&json).and_then(|b| rec.create(b)).map(|v| Reply::CreateSchedule { json: text(&v) })
        }
        Request::ReplaceSchedule { schedule, json } => {
            parse(&json).and_then(|b| rec.update(schedule, b)).map(|v| Reply::ReplaceSchedule { json: text(&v) })
        }
        Request::DeleteSchedule { schedule } => rec.delete(schedule).map(|_| Reply::DeleteSchedule {}),
        Request::ScheduleEvent { schedule, start } => {
            rec.event(schedule, start).map(|v| Reply::ScheduleEvent { json: text(&v) })
        }
        other => {
            return Err(Error::Remote {
                code: ErrorCode::UnknownRequest,
                message: format!("{} is no schedule operation", pstor_proto::op::name(other.op())),
            })
        }
    };
    reply.map_err(sdk_error)
}

/// Up to `wanted` schedules from the `offset`th, as many as fit in
/// `budget` bytes (at least one); the caller goes on from offset + the
/// number received.
fn list_page(all: &[ScheduleView], offset: usize, wanted: usize, budget: usize) -> Reply {
    let mut json = String::from("[");
    for v in all.iter().skip(offset).take(wanted) {
        let one = text(v);
        if json.len() > 1 {
            if json.len() + one.len() + 2 > budget {
                break;
            }
            json.push(',');
        }
        json.push_str(&one);
    }
    json.push(']');
    Reply::ListSchedules { json, total: u32::try_from(all.len()).unwrap_or(u32::MAX) }
}
