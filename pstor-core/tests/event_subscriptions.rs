//! Event subscriptions cost no memory per subscriber while idle and leave
//! nothing behind when dropped. A counting allocator measures it, so this
//! file holds one test: other tests' threads would allocate meanwhile.

mod common;
use common::*;
use pstor_core::io::{MemStorage, Storage};
use pstor_core::*;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::sync::Arc;

#[global_allocator]
static ALLOC: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not freed, over the whole process.
fn live() -> isize {
    let s = ALLOC.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize + s.bytes_reallocated
}

#[test]
fn subscribers_cost_nothing_up_front_and_leave_nothing_when_dropped() {
    let tmp = tempfile::tempdir().expect("tmp");
    let storage = Arc::new(MemStorage::new(64 << 20));
    let e = open(tmp.path(), storage.clone(), Arc::new(FakeClock::new(T0)));
    const N: isize = 1000;
    let since = e.events().last_seq();
    let before = live();
    let subs: Vec<Subscription> = (0..N).map(|_| e.events().subscribe()).collect();
    let subscribed = live() - before;
    assert!(subscribed / N < 256, "{} bytes per idle subscriber", subscribed / N);
    // Every subscriber sees the events that follow, each once.
    let d = tmp.path().join("s");
    storage.create_dir_all(&d).expect("mkdir");
    e.initialize_space(SpaceSpec { path: d, capacity: 8 * SEG, segment_size: None })
        .expect("init")
        .wait()
        .expect("done");
    let emitted = e.events().poll(since);
    assert!(!emitted.is_empty());
    for s in &subs {
        assert_eq!(s.try_iter().collect::<Vec<_>>(), emitted);
        assert_eq!(s.missed(), 0);
    }
    // Dropping them frees what subscribing took, at once: no later event is
    // needed to clear them. (Slack for the engine's own threads.)
    let held = live();
    drop(subs);
    let freed = held - live();
    assert!(freed + 8192 >= subscribed, "subscribing took {subscribed} bytes, dropping freed {freed}");
    e.close().expect("close");
}
