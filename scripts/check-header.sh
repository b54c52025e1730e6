#!/usr/bin/env bash
# Regenerates pstor-ffi/include/pstor.h with cbindgen and fails if the
# checked-in header differs, or if its version macros do not match
# Cargo.toml. Installs cbindgen if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4
if ! cbindgen --version 2>/dev/null | grep -q "$CBINDGEN_VERSION"; then
  cargo install cbindgen --locked --version "$CBINDGEN_VERSION"
fi
fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT
cbindgen --quiet --config pstor-ffi/cbindgen.toml --crate pstor-ffi --output "$fresh"
if ! diff -u pstor-ffi/include/pstor.h "$fresh"; then
  echo "pstor-ffi/include/pstor.h is stale: regenerate it with" >&2
  echo "  cbindgen --config pstor-ffi/cbindgen.toml --crate pstor-ffi --output pstor-ffi/include/pstor.h" >&2
  exit 1
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
if ! grep -q "#define PSTOR_VERSION \"$version\"" pstor-ffi/include/pstor.h; then
  echo "PSTOR_VERSION in pstor-ffi/cbindgen.toml does not match Cargo.toml ($version)" >&2
  exit 1
fi
IFS=. read -r major minor patch <<<"$version"
for part in "MAJOR $major" "MINOR $minor" "PATCH $patch"; do
  grep -q "#define PSTOR_VERSION_${part% *} ${part#* }\$" pstor-ffi/include/pstor.h || {
    echo "PSTOR_VERSION_${part% *} does not match Cargo.toml ($version)" >&2
    exit 1
  }
done
echo "pstor.h is up to date (version $version)"
