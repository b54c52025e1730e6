//! Storage spaces: initialize (blocking, or as a job with progress and
//! cancel), restore, list, status, delete.
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::engine::{backend_of, pstor_engine};
use crate::listing::{Listing, Texts};
use crate::ptr::{arg_mut, arg_ref, arg_str, free_handle, into_handle, Out};
use crate::result::{boundary, Failure, ResultCode};
use pstor_client::SpaceJobHandle;
use pstor_core::{SpaceId, SpaceInfo, SpaceSpec, SpaceStatus};
use std::ffi::c_char;
use std::path::Path;

/// Space status: known, but its folder holds no space (wiped by hand).
pub const PSTOR_SPACE_STATUS_UNINITIALIZED: u32 = 0;
/// Space status: being initialized (see progress).
pub const PSTOR_SPACE_STATUS_INITIALIZING: u32 = 1;
/// Space status: in service.
pub const PSTOR_SPACE_STATUS_NORMAL: u32 = 2;
/// Space status: its segments are being scanned (see progress).
pub const PSTOR_SPACE_STATUS_SCANNING: u32 = 3;
/// Space status: being restored into this engine (see progress).
pub const PSTOR_SPACE_STATUS_RESTORING: u32 = 4;
/// Space status: its folder vanished or became unreadable.
pub const PSTOR_SPACE_STATUS_LOST: u32 = 5;
/// Space status: a fatal I/O error; no more writes go to it.
pub const PSTOR_SPACE_STATUS_ERROR: u32 = 6;

fn status_code(s: SpaceStatus) -> u32 {
    match s {
        SpaceStatus::Uninitialized => PSTOR_SPACE_STATUS_UNINITIALIZED,
        SpaceStatus::Initializing => PSTOR_SPACE_STATUS_INITIALIZING,
        SpaceStatus::Normal => PSTOR_SPACE_STATUS_NORMAL,
        SpaceStatus::Scanning => PSTOR_SPACE_STATUS_SCANNING,
        SpaceStatus::Restoring => PSTOR_SPACE_STATUS_RESTORING,
        SpaceStatus::Lost => PSTOR_SPACE_STATUS_LOST,
        SpaceStatus::Error => PSTOR_SPACE_STATUS_ERROR,
    }
}

/// Initializes folder `path` (which must exist) as a storage space of
/// `capacity` bytes, waits until its segment files are allocated, and
/// writes its id to `*out_space`. For progress and cancel, use
/// [`pstor_space_initialize_start`].
#[no_mangle]
pub extern "C" fn pstor_space_initialize(
    engine: *const pstor_engine,
    path: *const c_char,
    capacity: u64,
    out_space: *mut u32,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let path = arg_str(path)?;
        let out = Out::new(out_space)?;
        let id = e.initialize_space(SpaceSpec { path: path.into(), capacity, segment_size: None })?.wait()?;
        out.write(id.0);
        Ok(())
    })
}

/// A running initialization or restore (opaque). Progress and cancel may be
/// called from any thread; [`pstor_space_job_wait`] from one thread at a
/// time. Freed by [`pstor_space_job_free`] only.
pub struct pstor_space_job {
    space: SpaceId,
    /// Taken by the first wait.
    job: Option<Box<dyn SpaceJobHandle>>,
    /// Whether that wait succeeded.
    succeeded: bool,
}

fn start_job(job: Box<dyn SpaceJobHandle>, out: Out<*mut pstor_space_job>) {
    out.write(into_handle(pstor_space_job { space: job.space(), job: Some(job), succeeded: false }));
}

/// Starts initializing folder `path` (which must exist) as a storage space
/// of `capacity` bytes with segments of `segment_size` bytes (0: the
/// engine's default) and writes the job to `*out_job`. Bad arguments fail
/// here at once; allocation runs on a background thread.
#[no_mangle]
pub extern "C" fn pstor_space_initialize_start(
    engine: *const pstor_engine,
    path: *const c_char,
    capacity: u64,
    segment_size: u64,
    out_job: *mut *mut pstor_space_job,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let path = arg_str(path)?;
        let out = Out::new(out_job)?;
        let segment_size = (segment_size != 0).then_some(segment_size);
        start_job(e.initialize_space(SpaceSpec { path: path.into(), capacity, segment_size })?, out);
        Ok(())
    })
}

/// Starts restoring the storage space in folder `path` (one this or another
/// engine initialized) into this engine: its segments are scanned and its
/// pools and streams come back. Writes the job to `*out_job`.
#[no_mangle]
pub extern "C" fn pstor_space_restore_start(
    engine: *const pstor_engine,
    path: *const c_char,
    out_job: *mut *mut pstor_space_job,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let path = arg_str(path)?;
        let out = Out::new(out_job)?;
        start_job(e.restore_space(Path::new(path))?, out);
        Ok(())
    })
}

/// Writes the id of the space the job works on to `*out_space` (known from
/// the start, before the job is done).
#[no_mangle]
pub extern "C" fn pstor_space_job_space(job: *const pstor_space_job, out_space: *mut u32) -> ResultCode {
    boundary(|| {
        let j = arg_ref(job)?;
        Out::new(out_space)?.write(j.space.0);
        Ok(())
    })
}

/// Writes the job's progress in percent (0..=100) to `*out_percent` and
/// whether it has finished to `*out_finished`. Never blocks.
#[no_mangle]
pub extern "C" fn pstor_space_job_progress(
    job: *const pstor_space_job,
    out_percent: *mut u8,
    out_finished: *mut bool,
) -> ResultCode {
    boundary(|| {
        let j = arg_ref(job)?;
        let (out_percent, out_finished) = (Out::new(out_percent)?, Out::new(out_finished)?);
        let (pct, done) = match &j.job {
            Some(job) => (job.progress(), job.is_finished()),
            None => (100, true),
        };
        out_percent.write(pct);
        out_finished.write(done);
        Ok(())
    })
}

/// Asks the job to stop; [`pstor_space_job_wait`] then fails with
/// `PSTOR_CANCELLED` (unless it had already finished).
#[no_mangle]
pub extern "C" fn pstor_space_job_cancel(job: *const pstor_space_job) -> ResultCode {
    boundary(|| {
        if let Some(job) = &arg_ref(job)?.job {
            job.cancel();
        }
        Ok(())
    })
}

/// Waits until the job has finished and writes the space id to
/// `*out_space`, or fails with the job's error (`PSTOR_CANCELLED` after a
/// cancel). Waiting again after a success gives the id again; after a
/// failure, `PSTOR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn pstor_space_job_wait(job: *mut pstor_space_job, out_space: *mut u32) -> ResultCode {
    boundary(|| {
        let j = arg_mut(job)?;
        let out = Out::new(out_space)?;
        match j.job.take() {
            Some(job) => {
                let id = job.wait()?;
                j.succeeded = true;
                out.write(id.0);
            }
            None if j.succeeded => out.write(j.space.0),
            None => return Err(Failure::invalid("the job failed; its error was returned by the first wait")),
        }
        Ok(())
    })
}

/// Frees the job handle. A job still running goes on in the background
/// (cancel it first to stop it). NULL is a no-op.
#[no_mangle]
pub extern "C" fn pstor_space_job_free(job: *mut pstor_space_job) {
    let _ = boundary(|| {
        free_handle(job);
        Ok(())
    });
}

/// A storage space as listed. The strings belong to the list.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_space_info {
    /// Its id.
    pub id: u32,
    /// Its folder (the saving path).
    pub path: *const c_char,
    /// `PSTOR_SPACE_STATUS_NORMAL`, ... (`PSTOR_SPACE_*`).
    pub status: u32,
    /// Progress of initializing, scanning or restoring, in percent.
    pub progress: u8,
    /// Total bytes (segments times segment size).
    pub capacity: u64,
    /// Bytes in segments holding data.
    pub used: u64,
    /// Bytes in free segments.
    pub free: u64,
    /// Bytes reserved by pools.
    pub reserved: u64,
    /// Segment size in bytes.
    pub segment_size: u64,
    /// Why it is lost or failed; NULL when it is not.
    pub detail: *const c_char,
}

/// The storage spaces as listed at one moment (opaque). Read-only: any
/// number of threads. Freed by [`pstor_space_list_free`] only.
pub struct pstor_space_list(Listing<pstor_space_info>);

fn space_info(s: &SpaceInfo, texts: &mut Texts) -> pstor_space_info {
    pstor_space_info {
        id: s.id.0,
        path: texts.add(&s.path.to_string_lossy()),
        status: status_code(s.status),
        progress: s.progress,
        capacity: s.capacity,
        used: s.used,
        free: s.free,
        reserved: s.reserved,
        segment_size: s.segment_size,
        detail: texts.add_opt(s.detail.as_deref()),
    }
}

/// Lists the storage spaces into `*out_list`.
#[no_mangle]
pub extern "C" fn pstor_space_list_new(
    engine: *const pstor_engine,
    out_list: *mut *mut pstor_space_list,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out_list)?;
        let mut texts = Texts::default();
        let items = e.spaces()?.iter().map(|s| space_info(s, &mut texts)).collect();
        out.write(into_handle(pstor_space_list(Listing::new(items, texts))));
        Ok(())
    })
}

/// Lists one storage space (a list of one) into `*out_list`: its status,
/// progress and figures now.
#[no_mangle]
pub extern "C" fn pstor_space_status(
    engine: *const pstor_engine,
    space: u32,
    out_list: *mut *mut pstor_space_list,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out_list)?;
        let mut texts = Texts::default();
        let item = space_info(&e.space(SpaceId(space))?, &mut texts);
        out.write(into_handle(pstor_space_list(Listing::new(vec![item], texts))));
        Ok(())
    })
}

/// The number of spaces in the list (0 for NULL).
#[no_mangle]
pub extern "C" fn pstor_space_list_len(list: *const pstor_space_list) -> usize {
    arg_ref(list).map_or(0, |l| l.0.len())
}

/// Writes space `index` of the list to `*out_info`; its strings stay valid
/// until the list is freed.
#[no_mangle]
pub extern "C" fn pstor_space_list_at(
    list: *const pstor_space_list,
    index: usize,
    out_info: *mut pstor_space_info,
) -> ResultCode {
    boundary(|| arg_ref(list)?.0.write_at(index, out_info))
}

/// Frees the list and its strings. NULL is a no-op.
#[no_mangle]
pub extern "C" fn pstor_space_list_free(list: *mut pstor_space_list) {
    let _ = boundary(|| {
        free_handle(list);
        Ok(())
    });
}

/// Deletes a storage space from the engine. Only a lost or uninitialized
/// space may be deleted (`PSTOR_SPACE_STATUS` otherwise); its pools lose
/// its capacity.
#[no_mangle]
pub extern "C" fn pstor_space_delete(engine: *const pstor_engine, space: u32) -> ResultCode {
    boundary(|| Ok(backend_of(engine)?.delete_space(SpaceId(space))?))
}
