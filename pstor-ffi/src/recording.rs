//! Storage spaces, resource pools and streams: what recording needs.
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::engine::pstor_engine;
use crate::ptr::{arg_ref, arg_slice, arg_str, Out};
use crate::result::{boundary, pstor_result, Failure};
use pstor_core::*;
use std::ffi::c_char;

/// Pool kind: video recordings.
pub const PSTOR_POOL_VIDEO: u32 = 0;
/// Pool kind: pictures.
pub const PSTOR_POOL_PICTURE: u32 = 1;
/// Pool kind: both.
pub const PSTOR_POOL_MIXED: u32 = 2;
/// Overwrite strategy: recycle the oldest unlocked data when full.
pub const PSTOR_OVERWRITE_OLDEST: u32 = 0;
/// Overwrite strategy: refuse writes when full (`PSTOR_POOL_FULL`).
pub const PSTOR_STOP_WHEN_FULL: u32 = 1;
/// Stream kind: main stream.
pub const PSTOR_STREAM_MAIN: u32 = 0;
/// Stream kind: sub stream.
pub const PSTOR_STREAM_SUB: u32 = 1;

fn invalid(what: String) -> Failure {
    Failure::Engine(Error::InvalidArgument(what))
}

/// Initializes folder `path` (which must exist) as a storage space of
/// `capacity` bytes, waits until its segment files are allocated, and
/// writes its id to `*out_space`.
#[no_mangle]
pub extern "C" fn pstor_space_initialize(
    engine: *const pstor_engine,
    path: *const c_char,
    capacity: u64,
    out_space: *mut u32,
) -> pstor_result {
    boundary(|| {
        let e = &arg_ref(engine)?.engine;
        let path = arg_str(path)?;
        let out = Out::new(out_space)?;
        let id = e.initialize_space(SpaceSpec { path: path.into(), capacity, segment_size: None })?.wait()?;
        out.write(id.0);
        Ok(())
    })
}

/// A resource pool to create.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_pool_spec {
    /// Its name (unique; NUL-terminated UTF-8).
    pub name: *const c_char,
    /// `PSTOR_POOL_VIDEO`, `PSTOR_POOL_PICTURE` or `PSTOR_POOL_MIXED`.
    pub kind: u32,
    /// Capacity in bytes, taken from its spaces.
    pub capacity: u64,
    /// Ids of the storage spaces it uses (`n_spaces` of them).
    pub spaces: *const u32,
    /// How many ids `spaces` holds.
    pub n_spaces: usize,
    /// `PSTOR_OVERWRITE_OLDEST` or `PSTOR_STOP_WHEN_FULL`.
    pub strategy: u32,
    /// Cycle (retention) in days; 0 keeps data until overwritten.
    pub cycle_days: u32,
    /// Largest share of the capacity that locks may hold, in percent.
    pub max_lock_pct: u32,
}

/// Creates a resource pool and writes its id to `*out_pool`.
#[no_mangle]
pub extern "C" fn pstor_pool_create(
    engine: *const pstor_engine,
    spec: *const pstor_pool_spec,
    out_pool: *mut u32,
) -> pstor_result {
    boundary(|| {
        let e = &arg_ref(engine)?.engine;
        let s = arg_ref(spec)?;
        let out = Out::new(out_pool)?;
        let kind = match s.kind {
            PSTOR_POOL_VIDEO => PoolKind::Video,
            PSTOR_POOL_PICTURE => PoolKind::Picture,
            PSTOR_POOL_MIXED => PoolKind::Mixed,
            k => return Err(invalid(format!("unknown pool kind {k}"))),
        };
        let strategy = match s.strategy {
            PSTOR_OVERWRITE_OLDEST => OverwriteStrategy::OverwriteOldest,
            PSTOR_STOP_WHEN_FULL => OverwriteStrategy::StopWhenFull,
            k => return Err(invalid(format!("unknown overwrite strategy {k}"))),
        };
        let spaces = arg_slice(s.spaces, s.n_spaces)?.iter().map(|&id| SpaceId(id)).collect();
        let max_lock_pct = u8::try_from(s.max_lock_pct).map_err(|_| invalid("max_lock_pct above 100".into()))?;
        let id = e.create_pool(PoolSpec {
            name: arg_str(s.name)?.to_string(),
            kind,
            capacity: s.capacity,
            spaces,
            strategy,
            cycle_days: s.cycle_days,
            max_lock_pct,
        })?;
        out.write(id.0);
        Ok(())
    })
}

/// Registers a camera's stream in `pool` and writes its id to `*out_stream`.
/// `kind` is `PSTOR_STREAM_MAIN` or `PSTOR_STREAM_SUB`; `codec` names the
/// codec (for example "H264").
#[no_mangle]
pub extern "C" fn pstor_stream_register(
    engine: *const pstor_engine,
    pool: u32,
    camera_id: *const c_char,
    channel: u32,
    kind: u32,
    codec: *const c_char,
    out_stream: *mut u64,
) -> pstor_result {
    boundary(|| {
        let e = &arg_ref(engine)?.engine;
        let out = Out::new(out_stream)?;
        let kind = match kind {
            PSTOR_STREAM_MAIN => StreamKind::Main,
            PSTOR_STREAM_SUB => StreamKind::Sub,
            k => return Err(invalid(format!("unknown stream kind {k}"))),
        };
        let id = e.register_stream(StreamSpec {
            pool: PoolId(pool),
            camera_id: arg_str(camera_id)?.to_string(),
            channel,
            kind,
            codec: arg_str(codec)?.to_string(),
            codec_config: Vec::new(),
        })?;
        out.write(id.0);
        Ok(())
    })
}

/// Appends one frame (timestamp in µs UTC, strictly increasing per stream;
/// `key` for a key frame). The bytes are copied before it returns. Not
/// durable until [`pstor_stream_sync`].
#[no_mangle]
pub extern "C" fn pstor_stream_append(
    engine: *const pstor_engine,
    stream: u64,
    ts: i64,
    key: bool,
    data: *const u8,
    len: usize,
) -> pstor_result {
    boundary(|| {
        let e = &arg_ref(engine)?.engine;
        let data = arg_slice(data, len)?;
        Ok(e.append(StreamId(stream), ts, key, bytes::Bytes::copy_from_slice(data))?)
    })
}

/// Makes every frame appended to the stream so far durable (group commit:
/// one fdatasync serves many streams).
#[no_mangle]
pub extern "C" fn pstor_stream_sync(engine: *const pstor_engine, stream: u64) -> pstor_result {
    boundary(|| Ok(arg_ref(engine)?.engine.sync(StreamId(stream))?))
}
