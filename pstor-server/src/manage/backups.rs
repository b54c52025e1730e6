//! The metadata backup schedule (manual 3.8.9): a snapshot onto every
//! Normal storage space every `management.backup_interval_hours` and
//! before risky operations (re-initializing a space, deleting a pool,
//! clearing the log, restoring), keeping the newest `backup_keep` per
//! space; and what a reinstall needs: the backups found on the spaces, and
//! the restore.
//!
//! A database created at this start (first start or reinstall) is not
//! backed up by the schedule until someone decides: it would push the
//! backups of the installation that came before off the spaces. Taking a
//! backup by hand or restoring one ends that.

use super::{blocking, error::ApiResult, State};
use crate::meta::backup::{list_in, BackupFile};
use crate::meta::logs::LogLevel;
use crate::meta::now_us;
use pstor_core::SpaceStatus;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Every backup on the engine's spaces, newest first.
pub fn list(state: &State) -> Vec<BackupFile> {
    let mut all: Vec<BackupFile> = state
        .ctx
        .engine
        .spaces()
        .into_iter()
        .filter(|s| s.status != SpaceStatus::Lost)
        .flat_map(|s| list_in(s.id.0, &s.path))
        .collect();
    all.sort_by_key(|b| std::cmp::Reverse(b.taken_at));
    all
}

/// Whether the UI should offer a restore: this start created the database
/// and backups taken before it (of an earlier installation) were found.
/// The fresh database's own backups do not count.
pub fn restore_suggested(state: &State) -> bool {
    state.fresh_database.load(Ordering::SeqCst) && list(state).iter().any(|b| b.taken_at < state.started_at)
}

/// Takes a backup now onto every Normal space (blocking). Returns the files
/// written; a space that fails is logged and skipped.
pub fn take(state: &State, why: &str) -> Vec<PathBuf> {
    let at = now_us();
    let mut written = Vec::new();
    for s in state.ctx.engine.spaces().into_iter().filter(|s| s.status == SpaceStatus::Normal) {
        match state.db.backup_to(&s.path, at, state.cfg.backup_keep as usize) {
            Ok(f) => written.push(f),
            Err(e) => {
                tracing::warn!(space = s.id.0, error = %e, "metadata backup onto a storage space failed");
                let what = format!("metadata backup onto storage space {} failed: {e}", s.id);
                state.db.system_log(LogLevel::Warning, &what, "ok", state.log_limits());
            }
        }
    }
    let what = format!("metadata backed up onto {} storage space(s) ({why})", written.len());
    state.db.system_log(LogLevel::Info, &what, "ok", state.log_limits());
    written
}

/// A backup before a risky operation, unless an earlier installation's
/// backups wait for a decision (they must not be pushed off the spaces).
pub fn before(state: &State, what: &str) {
    if !restore_suggested(state) {
        take(state, &format!("before {what}"));
    }
}

/// The schedule: runs until `stop`.
pub async fn schedule(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let hours = state.cfg.backup_interval_hours;
    if hours == 0 {
        return;
    }
    let every_us = i64::try_from(hours.saturating_mul(3_600_000_000)).unwrap_or(i64::MAX);
    loop {
        // Due an interval after the newest backup on the spaces (so a
        // server restarted more often than the interval still takes them),
        // checked at least once a minute.
        let st = Arc::clone(&state);
        let newest = blocking(move || Ok(list(&st).first().map(|b| b.taken_at))).await.ok().flatten();
        let due_in = newest.map_or(0, |t| t.saturating_add(every_us) - now_us());
        let wait = Duration::from_micros(u64::try_from(due_in).unwrap_or(0))
            .clamp(Duration::from_secs(60), Duration::from_secs(3600));
        tokio::select! {
            _ = crate::conn::wait_shutdown(&mut stop) => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let st = Arc::clone(&state);
        let newest = blocking(move || Ok(list(&st).first().map(|b| b.taken_at))).await.ok().flatten();
        if newest.is_some_and(|t| now_us() - t < every_us) {
            continue;
        }
        if restore_suggested(&state) {
            tracing::info!(
                "scheduled metadata backup skipped: a restore of an earlier installation's backup is pending"
            );
            continue;
        }
        let st = Arc::clone(&state);
        let _: ApiResult<()> = blocking(move || {
            take(&st, "scheduled");
            Ok(())
        })
        .await;
    }
}
