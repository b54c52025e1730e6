//! The event feed (alarms, status changes, recording errors), polled by
//! sequence number: keep the `seq` of the last event seen and ask for the
//! ones after it.
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::engine::{backend_of, pstor_engine};
use crate::listing::{Listing, Texts};
use crate::ptr::{arg_ref, free_handle, into_handle, Out};
use crate::result::{boundary, ResultCode};
use pstor_core::{EventKind, EVENT_RING};
use std::ffi::c_char;
use std::time::Duration;

/// One event. Ids that do not apply to its kind are 0. The strings belong
/// to the list.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_event {
    /// Increases by one per event, from 1.
    pub seq: u64,
    /// When it happened, µs UTC.
    pub at: i64,
    /// Its kind, a stable snake-case name: "space_status", "pool_status",
    /// "low_space", "low_volume_space", "pool_full", "recording_error",
    /// "recycled", "lock_expired", "tail_truncated", "key_index_rebuilt",
    /// "camera_status" (remote mode: a recorded camera's recording state
    /// changed; its schedule, camera and states are in `text`).
    pub kind: *const c_char,
    /// The storage space it concerns.
    pub space: u32,
    /// The pool it concerns.
    pub pool: u32,
    /// The stream it concerns.
    pub stream: u64,
    /// The lock it concerns.
    pub lock: u64,
    /// What happened, in words.
    pub text: *const c_char,
}

/// Events as polled (opaque). Read-only: any number of threads. Freed by
/// [`pstor_event_list_free`] only.
pub struct pstor_event_list(Listing<pstor_event>);

/// Lists the events with `seq > after_seq`, oldest first, into `*out_list`
/// (the engine keeps the last `PSTOR_EVENT_RING` of them; poll with 0 for
/// all it has).
#[no_mangle]
pub extern "C" fn pstor_event_list_new(
    engine: *const pstor_engine,
    after_seq: u64,
    out_list: *mut *mut pstor_event_list,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out_list)?;
        let mut texts = Texts::default();
        let items = e
            .poll_events(after_seq, EVENT_RING, Duration::ZERO)?
            .iter()
            .map(|ev| {
                let (mut space, mut pool, mut stream, mut lock) = (0, 0, 0, 0);
                match &ev.kind {
                    EventKind::SpaceStatus { space: s, .. }
                    | EventKind::LowVolumeSpace { space: s, .. }
                    | EventKind::TailTruncated { space: s, .. } => space = s.0,
                    EventKind::PoolStatus { pool: p, .. }
                    | EventKind::LowSpace { pool: p, .. }
                    | EventKind::PoolFull { pool: p, .. } => pool = p.0,
                    EventKind::RecordingError { stream: s, .. } => stream = s.0,
                    EventKind::Recycled { pool: p, stream: s, .. } => (pool, stream) = (p.0, s.0),
                    EventKind::LockExpired { lock: l } => lock = l.0,
                    EventKind::KeyIndexRebuilt { .. } | EventKind::CameraStatus { .. } => {}
                }
                pstor_event {
                    seq: ev.seq,
                    at: ev.at,
                    kind: texts.add(ev.kind.name()),
                    space,
                    pool,
                    stream,
                    lock,
                    text: texts.add(&ev.kind.to_string()),
                }
            })
            .collect();
        out.write(into_handle(pstor_event_list(Listing::new(items, texts))));
        Ok(())
    })
}

/// How many events the engine keeps for polling.
pub const PSTOR_EVENT_RING: usize = EVENT_RING;

/// The number of events in the list (0 for NULL).
#[no_mangle]
pub extern "C" fn pstor_event_list_len(list: *const pstor_event_list) -> usize {
    arg_ref(list).map_or(0, |l| l.0.len())
}

/// Writes event `index` of the list to `*out_event`; its strings stay
/// valid until the list is freed.
#[no_mangle]
pub extern "C" fn pstor_event_list_at(
    list: *const pstor_event_list,
    index: usize,
    out_event: *mut pstor_event,
) -> ResultCode {
    boundary(|| arg_ref(list)?.0.write_at(index, out_event))
}

/// Frees the list and its strings. NULL is a no-op.
#[no_mangle]
pub extern "C" fn pstor_event_list_free(list: *mut pstor_event_list) {
    let _ = boundary(|| {
        free_handle(list);
        Ok(())
    });
}
