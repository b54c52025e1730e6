//! TEMPORARY STUB: replaced by the real in-memory backend (helper at work).
#![allow(missing_docs, dead_code)]
use super::*;
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    pub crash_at_sync: Option<u64>,
    pub fail_sync_at: Option<u64>,
    pub enospc_at_write: Option<u64>,
    pub eio_at_read: Option<u64>,
}
#[derive(Debug)]
pub struct MemStorage;
