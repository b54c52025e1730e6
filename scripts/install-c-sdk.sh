#!/usr/bin/env bash
# Builds the pstor C SDK in release mode and installs it under PREFIX:
#   PREFIX/include/pstor.h
#   PREFIX/lib/libpstor.a
#   PREFIX/lib/libpstor.so.VERSION (the crate's version, e.g. 0.1.0; SONAME
#     libpstor.so.MAJOR, set by pstor-ffi/build.rs) and the links
#     libpstor.so.MAJOR (what programs load) and libpstor.so (what -lpstor finds)
#   PREFIX/lib/pkgconfig/pstor.pc
# Then: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig cc app.c $(pkg-config --cflags --libs pstor)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 1 ]; then
  echo "usage: $0 PREFIX" >&2
  exit 2
fi
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
cargo build --quiet --release --locked -p pstor-ffi
target=${CARGO_TARGET_DIR:-target}
install -D -m 0644 pstor-ffi/include/pstor.h "$prefix/include/pstor.h"
install -D -m 0644 "$target/release/libpstor.a" "$prefix/lib/libpstor.a"
soname=libpstor.so.${version%%.*}
install -D -m 0755 "$target/release/libpstor.so" "$prefix/lib/libpstor.so.$version"
ln -sfn "libpstor.so.$version" "$prefix/lib/$soname"
ln -sfn "$soname" "$prefix/lib/libpstor.so"
mkdir -p "$prefix/lib/pkgconfig"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" pstor-ffi/pstor.pc.in >"$prefix/lib/pkgconfig/pstor.pc"
echo "installed the pstor C SDK $version under $prefix"
