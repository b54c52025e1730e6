//! Gives the shared library its SONAME: `libpstor.so.MAJOR`, MAJOR being the
//! crate's major version. The major version (and so the SONAME) changes with
//! any incompatible change of the C ABI; additions keep it (pstor-ffi/README.md,
//! "ABI stability"). scripts/install-c-sdk.sh installs the library as
//! `libpstor.so.MAJOR.MINOR.PATCH` with the links `libpstor.so.MAJOR` and
//! `libpstor.so`.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os != "macos" && os != "ios" && os != "windows") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpstor.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
