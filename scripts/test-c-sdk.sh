#!/usr/bin/env bash
# The C SDK's tests: the header is current; the SDK installs with its
# pkg-config file; the example (examples/c/record.c) and the error-path tests
# (pstor-ffi/tests/c/errors.c) build with warnings as errors against the
# static library and, through pkg-config, the shared one; all runs are
# clean under valgrind (no invalid accesses, no definite or indirect leaks).
# Installs cbindgen, valgrind and pkg-config if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/check-header.sh
missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v pkg-config >/dev/null || missing+=(pkgconf)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash scripts/install-c-sdk.sh "$work/prefix"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
pkg-config --exists --print-errors pstor
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
test "$(pkg-config --modversion pstor)" = "$version"

# The shared library must not ask for an executable stack.
if readelf -lW "$work/prefix/lib/libpstor.so" | grep GNU_STACK | grep -q RWE; then
  echo "libpstor.so asks for an executable stack" >&2
  exit 1
fi

cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE)
for prog in examples/c/record.c pstor-ffi/tests/c/errors.c; do
  name=$(basename "$prog" .c)
  # Static: the archive itself, plus what pkg-config says it needs.
  # shellcheck disable=SC2046
  cc "${cflags[@]}" $(pkg-config --cflags pstor) "$prog" "$work/prefix/lib/libpstor.a" \
    $(pkg-config --static --libs-only-other --libs-only-l pstor | sed 's/-lpstor//') -o "$work/$name-static"
  # Shared, through pkg-config alone.
  # shellcheck disable=SC2046
  cc "${cflags[@]}" "$prog" $(pkg-config --cflags --libs pstor) -o "$work/$name-shared"
  for kind in static shared; do
    mkdir "$work/data-$name-$kind"
    echo "--- $name ($kind)"
    LD_LIBRARY_PATH="$work/prefix/lib" valgrind --quiet --error-exitcode=3 --leak-check=full \
      --errors-for-leak-kinds=definite,indirect --show-possibly-lost=no \
      "$work/$name-$kind" "$work/data-$name-$kind"
  done
done
