//! Generates the C++ side of the bridge (`src/bridge.rs`) and compiles it
//! into this crate's static library. The headers land under
//! `target/cxxbridge/` (`rust/cxx.h`, `pstor-cxx/src/bridge.rs.h`).

fn main() {
    cxx_build::bridge("src/bridge.rs")
        .std("c++17")
        .flag_if_supported("-Wall")
        .flag_if_supported("-Wextra")
        .compile("pstor-cxx-bridge");
    println!("cargo:rerun-if-changed=src/bridge.rs");
}
