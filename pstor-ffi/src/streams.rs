//! Camera streams: register, find, list, append, flush, sync.
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::engine::{backend_of, pstor_engine};
use crate::listing::{Listing, Texts};
use crate::ptr::{arg_ref, arg_slice, arg_str, free_handle, into_handle, Out};
use crate::result::{boundary, Failure, FfiResult, ResultCode};
use pstor_core::*;
use std::ffi::c_char;

/// Stream kind: main stream.
pub const PSTOR_STREAM_MAIN: u32 = 0;
/// Stream kind: sub stream.
pub const PSTOR_STREAM_SUB: u32 = 1;

fn kind_from_c(k: u32) -> FfiResult<StreamKind> {
    Ok(match k {
        PSTOR_STREAM_MAIN => StreamKind::Main,
        PSTOR_STREAM_SUB => StreamKind::Sub,
        k => return Err(Failure::invalid(format!("unknown stream kind {k}"))),
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
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out_stream)?;
        let kind = kind_from_c(kind)?;
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
///
/// Remote mode: pipelined. The frame joins the stream's pending batch and
/// this returns without waiting for the server; a frame the server refuses
/// (`PSTOR_OUT_OF_ORDER`, `PSTOR_POOL_FULL`, ...) is reported by the
/// stream's next append, flush or sync, once.
#[no_mangle]
pub extern "C" fn pstor_stream_append(
    engine: *const pstor_engine,
    stream: u64,
    ts: i64,
    key: bool,
    data: *const u8,
    len: usize,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let data = arg_slice(data, len)?;
        Ok(e.append(StreamId(stream), ts, key, bytes::Bytes::copy_from_slice(data))?)
    })
}

/// Makes every frame appended to the stream so far durable (group commit:
/// one fdatasync serves many streams). Remote mode: also reports a frame
/// the server refused since the stream's last call.
#[no_mangle]
pub extern "C" fn pstor_stream_sync(engine: *const pstor_engine, stream: u64) -> ResultCode {
    boundary(|| Ok(backend_of(engine)?.sync(StreamId(stream))?))
}

/// Makes every frame appended to the stream so far readable (it is written
/// to the segment, not yet synced).
#[no_mangle]
pub extern "C" fn pstor_stream_flush(engine: *const pstor_engine, stream: u64) -> ResultCode {
    boundary(|| Ok(backend_of(engine)?.flush(StreamId(stream))?))
}

/// Makes every frame appended to every stream, and every picture stored,
/// durable.
#[no_mangle]
pub extern "C" fn pstor_engine_sync_all(engine: *const pstor_engine) -> ResultCode {
    boundary(|| Ok(backend_of(engine)?.sync_all()?))
}

/// Finds the stream registered for a camera's channel and kind and writes
/// its id to `*out_stream`; `PSTOR_STREAM_NOT_FOUND` if there is none.
#[no_mangle]
pub extern "C" fn pstor_stream_find(
    engine: *const pstor_engine,
    camera_id: *const c_char,
    channel: u32,
    kind: u32,
    out_stream: *mut u64,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let camera = arg_str(camera_id)?;
        let out = Out::new(out_stream)?;
        let id = e.find_stream(camera, channel, kind_from_c(kind)?)?.ok_or_else(|| {
            Failure::Coded(
                ErrorCode::StreamNotFound,
                format!("no stream of camera {camera:?} channel {channel} of that kind"),
            )
        })?;
        out.write(id.0);
        Ok(())
    })
}

/// A registered stream as listed. The strings belong to the list.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_stream_info {
    /// Its id.
    pub id: u64,
    /// The pool it records into.
    pub pool: u32,
    /// The VMS camera id.
    pub camera_id: *const c_char,
    /// The channel number.
    pub channel: u32,
    /// `PSTOR_STREAM_MAIN` or `PSTOR_STREAM_SUB`.
    pub kind: u32,
    /// The codec name.
    pub codec: *const c_char,
    /// Whether any frame is recorded (else `first_ts` and `last_ts` are 0).
    pub has_frames: bool,
    /// Oldest recorded frame, µs UTC.
    pub first_ts: i64,
    /// Newest recorded frame, µs UTC.
    pub last_ts: i64,
}

/// The registered streams as listed at one moment (opaque). Read-only: any
/// number of threads. Freed by [`pstor_stream_list_free`] only.
pub struct pstor_stream_list(Listing<pstor_stream_info>);

/// Lists the registered streams into `*out_list`.
#[no_mangle]
pub extern "C" fn pstor_stream_list_new(
    engine: *const pstor_engine,
    out_list: *mut *mut pstor_stream_list,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out_list)?;
        let mut texts = Texts::default();
        let items = e
            .streams()?
            .iter()
            .map(|s| {
                let c = &s.config;
                pstor_stream_info {
                    id: c.id.0,
                    pool: c.pool.0,
                    camera_id: texts.add(&c.camera_id),
                    channel: c.channel,
                    kind: match c.kind {
                        StreamKind::Main => PSTOR_STREAM_MAIN,
                        StreamKind::Sub => PSTOR_STREAM_SUB,
                    },
                    codec: texts.add(&c.codec),
                    has_frames: s.first_ts.is_some(),
                    first_ts: s.first_ts.unwrap_or(0),
                    last_ts: s.last_ts.unwrap_or(0),
                }
            })
            .collect();
        out.write(into_handle(pstor_stream_list(Listing::new(items, texts))));
        Ok(())
    })
}

/// The number of streams in the list (0 for NULL).
#[no_mangle]
pub extern "C" fn pstor_stream_list_len(list: *const pstor_stream_list) -> usize {
    arg_ref(list).map_or(0, |l| l.0.len())
}

/// Writes stream `index` of the list to `*out_info`; its strings stay valid
/// until the list is freed.
#[no_mangle]
pub extern "C" fn pstor_stream_list_at(
    list: *const pstor_stream_list,
    index: usize,
    out_info: *mut pstor_stream_info,
) -> ResultCode {
    boundary(|| arg_ref(list)?.0.write_at(index, out_info))
}

/// Frees the list and its strings. NULL is a no-op.
#[no_mangle]
pub extern "C" fn pstor_stream_list_free(list: *mut pstor_stream_list) {
    let _ = boundary(|| {
        free_handle(list);
        Ok(())
    });
}
