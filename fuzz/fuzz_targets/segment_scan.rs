//! Whole-space recovery over damaged bytes: a tiny engine records video and
//! pictures (sealed and open segments, footers, a checkpoint), then one file
//! of its space (a data file, the superblock, the checkpoint, a catalog) is
//! overwritten with the input at an offset the input picks, and the engine
//! is reopened in every recovery mode. Whatever opens is read every way a
//! client can (ranges, pictures, listings, keys, check with and without
//! repair). Errors are expected; a panic, a hang or an unbounded
//! allocation is a bug.
//!
//! Input: `[flags][offset: u32 LE][bytes...]`; flags bit 0 = start from a
//! crash image (unsynced tails to scan) instead of a clean close, bits 1..4
//! pick the file.
#![no_main]

use pstor_core::io::MemStorage;
use pstor_core::*;
use pstor_fuzz_common::*;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

struct Base {
    rig: Rig,
    /// The backend after a clean close.
    clean: Arc<MemStorage>,
    /// A live engine with unsynced writes on its backend.
    live: Engine,
    live_storage: Arc<MemStorage>,
    ids: Vec<PictureId>,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let rig = Rig::new();
        let record = |engine: &Engine, rounds: i64, from: i64| {
            for i in from..from + rounds {
                for (n, &s) in rig.streams.iter().enumerate() {
                    let len = if i % 25 == 0 { 3_000 } else { 400 + (i as usize * 37) % 900 };
                    let _ = engine.append(s, T0 + i * 40_000 + n as i64, i % 25 == 0, content(i as u64, len));
                }
            }
        };
        record(&rig.engine, 200, 0);
        let mut ids = Vec::new();
        for n in 0..40u64 {
            let meta = picture_meta(n, n as u8);
            if let Ok(id) = rig.engine.put_picture(rig.pictures, &meta, &content(n, 1_000 + (n as usize * 97) % 5_000))
            {
                ids.push(id);
            }
        }
        rig.engine.sync_all().expect("sync");
        rig.engine.close().expect("close");
        let clean = Arc::new(rig.storage.crash_image(0));
        // A second life with writes past the checkpoint, never synced.
        let live_storage = Arc::new(clean.crash_image(0));
        let live = rig.reopen(live_storage.clone(), RecoveryMode::default()).expect("reopen");
        record(&live, 60, 200);
        live.sync_all().expect("sync");
        record(&live, 20, 260);
        for n in 40..50u64 {
            let _ = live.put_picture(rig.pictures, &picture_meta(n, 1), &content(n, 2_000));
        }
        Base { rig, clean, live, live_storage, ids }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Some((offset, bytes)) = rest.split_first_chunk::<4>() else { return };
    let b = base();
    let image = if flags & 1 == 0 { b.clean.crash_image(0) } else { b.live_storage.crash_image(u64::from(flags)) };
    let files = [
        "/mem/space/seg-00000.dat",
        "/mem/space/seg-00001.dat",
        "/mem/space/seg-00002.dat",
        "/mem/space/seg-00003.dat",
        "/mem/space/seg-00004.dat",
        "/mem/space/seg-00005.dat",
        "/mem/space/space.pst",
        "/mem/space/checkpoint.pst",
        "/mem/space/catalog.pst",
        "/mem/engine/catalog.pst",
    ];
    let file = PathBuf::from(files[usize::from(flags >> 1) % files.len()]);
    let bytes = &bytes[..bytes.len().min(8 << 10)];
    if !overwrite(&image, &file, u64::from(u32::from_le_bytes(*offset)), bytes) {
        return;
    }
    for mode in
        [RecoveryMode::AbsoluteConsistency, RecoveryMode::TolerateCorruptTail, RecoveryMode::TolerateAnyCorruption]
    {
        let copy = Arc::new(image.crash_image(0));
        if let Ok(engine) = b.rig.reopen(copy, mode) {
            exercise(&engine, &b.rig, &b.ids);
            let _ = engine.close();
        }
    }
    let _ = &b.live;
});
