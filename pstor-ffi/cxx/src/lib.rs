//! # pstor-cxx: the pstor C++ face
//!
//! A [cxx](https://cxx.rs) bridge over the pstor engine (`pstor-core`) and
//! a thin hand-written C++20 header over it, `include/pstor.hpp`: RAII
//! `pstor::Engine`, `pstor::FrameReader` (a range of frames whose bytes are
//! `std::span<const std::uint8_t>`), `pstor::Picture`, `pstor::SpaceJob`,
//! and `pstor::Error : std::runtime_error` carrying the stable error number
//! of `docs/error-codes.md`. `README.md` beside this crate explains how to
//! build and link, the lifetimes of spans and the threading rules;
//! `examples/cpp/record.cpp` is a complete program.
//!
//! It is a crate of its own, apart from `pstor-ffi`, so that the plain C
//! library does not depend on libstdc++. Link one of the two static
//! libraries into a program, not both (each carries the Rust standard
//! library).
//!
//! How errors cross: each bridge function returns `Result`; cxx turns an
//! `Err` into a C++ `rust::Error` carrying the message. Just before, the Rust
//! side stores the error's number in a thread-local, which the header reads
//! (`pstor::ffi::last_error_code()`) as soon as it catches the `rust::Error`
//! on the same thread, and throws `pstor::Error` with both. A panic inside
//! pstor is caught on the Rust side and becomes `PSTOR_PANIC` (2) instead of
//! aborting the process.
//!
//! Nothing here is a second engine: every call goes to the engine's
//! `pstor_client::Backend`: the embedded `pstor_core::Engine`
//! (`Engine::open`), or a client of a pstor-server (`Engine::connect`)
//! behind the same class.
//! The Rust items are private; the C++ header is the interface.

mod bridge;
mod engine;

#[cfg(test)]
mod tests;
