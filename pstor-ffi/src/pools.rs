//! Resource pools: create, edit, delete, list.
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::engine::{backend_of, pstor_engine};
use crate::listing::{Listing, Texts};
use crate::ptr::{arg_ref, arg_slice, arg_str, free_handle, into_handle, Out};
use crate::result::{boundary, Failure, FfiResult, ResultCode};
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
/// Pool status: all its spaces are in service.
pub const PSTOR_POOL_STATUS_NORMAL: u32 = 0;
/// Pool status: some of its spaces are lost or failed; writes go to the others.
pub const PSTOR_POOL_STATUS_DEGRADED: u32 = 1;
/// Pool status: none of its spaces is usable.
pub const PSTOR_POOL_STATUS_OFFLINE: u32 = 2;
/// `pstor_pool_changes.fields`: change the name.
pub const PSTOR_POOL_EDIT_NAME: u32 = 1;
/// `pstor_pool_changes.fields`: change the capacity.
pub const PSTOR_POOL_EDIT_CAPACITY: u32 = 2;
/// `pstor_pool_changes.fields`: change the overwrite strategy.
pub const PSTOR_POOL_EDIT_STRATEGY: u32 = 4;
/// `pstor_pool_changes.fields`: change the cycle.
pub const PSTOR_POOL_EDIT_CYCLE_DAYS: u32 = 8;
/// `pstor_pool_changes.fields`: change the lock quota.
pub const PSTOR_POOL_EDIT_MAX_LOCK_PCT: u32 = 16;

fn kind_from_c(k: u32) -> FfiResult<PoolKind> {
    Ok(match k {
        PSTOR_POOL_VIDEO => PoolKind::Video,
        PSTOR_POOL_PICTURE => PoolKind::Picture,
        PSTOR_POOL_MIXED => PoolKind::Mixed,
        k => return Err(Failure::invalid(format!("unknown pool kind {k}"))),
    })
}

fn kind_to_c(k: PoolKind) -> u32 {
    match k {
        PoolKind::Video => PSTOR_POOL_VIDEO,
        PoolKind::Picture => PSTOR_POOL_PICTURE,
        PoolKind::Mixed => PSTOR_POOL_MIXED,
    }
}

fn strategy_from_c(s: u32) -> FfiResult<OverwriteStrategy> {
    Ok(match s {
        PSTOR_OVERWRITE_OLDEST => OverwriteStrategy::OverwriteOldest,
        PSTOR_STOP_WHEN_FULL => OverwriteStrategy::StopWhenFull,
        s => return Err(Failure::invalid(format!("unknown overwrite strategy {s}"))),
    })
}

fn strategy_to_c(s: OverwriteStrategy) -> u32 {
    match s {
        OverwriteStrategy::OverwriteOldest => PSTOR_OVERWRITE_OLDEST,
        OverwriteStrategy::StopWhenFull => PSTOR_STOP_WHEN_FULL,
    }
}

fn lock_pct(p: u32) -> FfiResult<u8> {
    u8::try_from(p).ok().filter(|&p| p <= 100).ok_or_else(|| Failure::invalid(format!("max_lock_pct {p} is above 100")))
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
    /// Ids of the storage spaces it uses (`n_spaces` of them; none: every
    /// space in service).
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
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let s = arg_ref(spec)?;
        let out = Out::new(out_pool)?;
        let spaces = arg_slice(s.spaces, s.n_spaces)?.iter().map(|&id| SpaceId(id)).collect();
        let id = e.create_pool(PoolSpec {
            name: arg_str(s.name)?.to_string(),
            kind: kind_from_c(s.kind)?,
            capacity: s.capacity,
            spaces,
            strategy: strategy_from_c(s.strategy)?,
            cycle_days: s.cycle_days,
            max_lock_pct: lock_pct(s.max_lock_pct)?,
        })?;
        out.write(id.0);
        Ok(())
    })
}

/// Changes to a pool: only the fields whose `PSTOR_POOL_EDIT_*` bit is set
/// in `fields` are changed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_pool_changes {
    /// Which fields to change (`PSTOR_POOL_EDIT_*` bits, or'ed).
    pub fields: u32,
    /// New name (NUL-terminated UTF-8).
    pub name: *const c_char,
    /// New capacity in bytes (it may not shrink below what is used).
    pub capacity: u64,
    /// New overwrite strategy.
    pub strategy: u32,
    /// New cycle in days.
    pub cycle_days: u32,
    /// New lock quota in percent.
    pub max_lock_pct: u32,
}

/// Changes the settings of pool `pool` named in `changes`.
#[no_mangle]
pub extern "C" fn pstor_pool_edit(
    engine: *const pstor_engine,
    pool: u32,
    changes: *const pstor_pool_changes,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let d = arg_ref(changes)?;
        let known = PSTOR_POOL_EDIT_NAME
            | PSTOR_POOL_EDIT_CAPACITY
            | PSTOR_POOL_EDIT_STRATEGY
            | PSTOR_POOL_EDIT_CYCLE_DAYS
            | PSTOR_POOL_EDIT_MAX_LOCK_PCT;
        if d.fields & !known != 0 {
            return Err(Failure::invalid(format!("unknown pool edit fields {:#x}", d.fields & !known)));
        }
        let has = |bit: u32| d.fields & bit != 0;
        let edit = PoolEdit {
            name: if has(PSTOR_POOL_EDIT_NAME) { Some(arg_str(d.name)?.to_string()) } else { None },
            capacity: has(PSTOR_POOL_EDIT_CAPACITY).then_some(d.capacity),
            strategy: if has(PSTOR_POOL_EDIT_STRATEGY) { Some(strategy_from_c(d.strategy)?) } else { None },
            cycle_days: has(PSTOR_POOL_EDIT_CYCLE_DAYS).then_some(d.cycle_days),
            max_lock_pct: if has(PSTOR_POOL_EDIT_MAX_LOCK_PCT) { Some(lock_pct(d.max_lock_pct)?) } else { None },
        };
        Ok(e.edit_pool(PoolId(pool), edit)?)
    })
}

/// Deletes pool `pool` with all its recordings and pictures. A pool with
/// locks fails with `PSTOR_POOL_HAS_LOCKS`.
#[no_mangle]
pub extern "C" fn pstor_pool_delete(engine: *const pstor_engine, pool: u32) -> ResultCode {
    boundary(|| Ok(backend_of(engine)?.delete_pool(PoolId(pool))?))
}

/// A resource pool as listed. The name belongs to the list.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_pool_info {
    /// Its id.
    pub id: u32,
    /// Its name.
    pub name: *const c_char,
    /// `PSTOR_POOL_VIDEO`, `PSTOR_POOL_PICTURE` or `PSTOR_POOL_MIXED`.
    pub kind: u32,
    /// `PSTOR_OVERWRITE_OLDEST` or `PSTOR_STOP_WHEN_FULL`.
    pub strategy: u32,
    /// Cycle in days (0: none).
    pub cycle_days: u32,
    /// Lock quota in percent.
    pub max_lock_pct: u32,
    /// `PSTOR_POOL_STATUS_NORMAL`, `PSTOR_POOL_STATUS_DEGRADED` or `PSTOR_POOL_STATUS_OFFLINE`.
    pub status: u32,
    /// Capacity in bytes.
    pub capacity: u64,
    /// Bytes in segments holding data.
    pub used: u64,
    /// Capacity minus used.
    pub free: u64,
    /// Bytes protected by locks.
    pub locked: u64,
    /// How many storage spaces it is striped over.
    pub n_spaces: u32,
}

/// The resource pools as listed at one moment (opaque). Read-only: any
/// number of threads. Freed by [`pstor_pool_list_free`] only.
pub struct pstor_pool_list(Listing<pstor_pool_info>);

fn pool_info(p: &PoolInfo, texts: &mut Texts) -> pstor_pool_info {
    let c = &p.config;
    pstor_pool_info {
        id: c.id.0,
        name: texts.add(&c.name),
        kind: kind_to_c(c.kind),
        strategy: strategy_to_c(c.strategy),
        cycle_days: c.cycle_days,
        max_lock_pct: c.max_lock_pct.into(),
        status: match p.status {
            PoolStatus::Normal => PSTOR_POOL_STATUS_NORMAL,
            PoolStatus::Degraded => PSTOR_POOL_STATUS_DEGRADED,
            PoolStatus::Offline => PSTOR_POOL_STATUS_OFFLINE,
        },
        capacity: p.capacity,
        used: p.used,
        free: p.free,
        locked: p.locked,
        n_spaces: c.quotas.len() as u32,
    }
}

fn write_pools(pools: &[PoolInfo], out: Out<*mut pstor_pool_list>) {
    let mut texts = Texts::default();
    let items = pools.iter().map(|p| pool_info(p, &mut texts)).collect();
    out.write(into_handle(pstor_pool_list(Listing::new(items, texts))));
}

/// Lists the resource pools into `*out_list`.
#[no_mangle]
pub extern "C" fn pstor_pool_list_new(engine: *const pstor_engine, out_list: *mut *mut pstor_pool_list) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out_list)?;
        write_pools(&e.pools()?, out);
        Ok(())
    })
}

/// Lists one pool (a list of one) into `*out_list`.
#[no_mangle]
pub extern "C" fn pstor_pool_status(
    engine: *const pstor_engine,
    pool: u32,
    out_list: *mut *mut pstor_pool_list,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let out = Out::new(out_list)?;
        write_pools(&[e.pool(PoolId(pool))?], out);
        Ok(())
    })
}

/// The number of pools in the list (0 for NULL).
#[no_mangle]
pub extern "C" fn pstor_pool_list_len(list: *const pstor_pool_list) -> usize {
    arg_ref(list).map_or(0, |l| l.0.len())
}

/// Writes pool `index` of the list to `*out_info`; its name stays valid
/// until the list is freed.
#[no_mangle]
pub extern "C" fn pstor_pool_list_at(
    list: *const pstor_pool_list,
    index: usize,
    out_info: *mut pstor_pool_info,
) -> ResultCode {
    boundary(|| arg_ref(list)?.0.write_at(index, out_info))
}

/// Frees the list and its strings. NULL is a no-op.
#[no_mangle]
pub extern "C" fn pstor_pool_list_free(list: *mut pstor_pool_list) {
    let _ = boundary(|| {
        free_handle(list);
        Ok(())
    });
}
