#!/usr/bin/env bash
# Builds the pstor C SDK in release mode and installs it under PREFIX:
#   PREFIX/include/pstor.h
#   PREFIX/lib/libpstor.a, PREFIX/lib/libpstor.so
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
install -D -m 0755 "$target/release/libpstor.so" "$prefix/lib/libpstor.so"
mkdir -p "$prefix/lib/pkgconfig"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" pstor-ffi/pstor.pc.in >"$prefix/lib/pkgconfig/pstor.pc"
echo "installed the pstor C SDK $version under $prefix"
