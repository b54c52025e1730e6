//! The checkpoint decoder on arbitrary bytes: an error or a value that survives
//! re-encoding, never a panic (see `pstor_core::internals::fuzz_checkpoint`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = pstor_core::internals::fuzz_checkpoint(data);
});
