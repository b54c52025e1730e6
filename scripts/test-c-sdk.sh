#!/usr/bin/env bash
# The C SDK's tests: the header is current, and the C example (which also
# drives error paths) builds with warnings as errors and runs clean under
# valgrind (no invalid accesses, no definite or indirect leaks). Installs
# cbindgen and valgrind if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/check-header.sh
if ! command -v valgrind >/dev/null; then
  apt-get update -qq && apt-get install -y -qq valgrind
fi
cargo build --quiet --release --locked -p pstor-ffi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -std=c11 -Wall -Wextra -Werror -pedantic -Ipstor-ffi/include examples/c/record.c \
  target/release/libpstor.a -Wl,-z,noexecstack -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o "$work/record"
mkdir "$work/data"
valgrind --quiet --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-possibly-lost=no "$work/record" "$work/data"
