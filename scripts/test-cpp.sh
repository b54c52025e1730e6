#!/usr/bin/env bash
# The C++ face's tests: builds pstor-cxx (the cxx bridge) in release,
# compiles examples/cpp/record.cpp against pstor-ffi/cxx/include/pstor.hpp
# and the cxx-generated headers with warnings as errors, runs it, then runs
# it again under valgrind (no invalid accesses, no definite or indirect
# leaks). The example checks its own results and exits non-zero on any
# unexpected outcome. Installs valgrind if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
  apt-get update -qq && apt-get install -y -qq valgrind
fi
CXX=${CXX:-g++}
target=${CARGO_TARGET_DIR:-target}

cargo build --quiet --release --locked -p pstor-cxx
# cxx-build writes the generated headers under $target/cxxbridge:
# rust/cxx.h and pstor-cxx/src/bridge.rs.h.
test -f "$target/cxxbridge/rust/cxx.h"
test -f "$target/cxxbridge/pstor-cxx/src/bridge.rs.h"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# -Wl,-z,noexecstack: the MD5 assembly in the static library has no
# GNU-stack note (see pstor-ffi/README.md).
"$CXX" -std=c++20 -Wall -Wextra -Werror -pedantic -g -O1 \
  -Ipstor-ffi/cxx/include -I"$target/cxxbridge" \
  examples/cpp/record.cpp "$target/release/libpstor_cxx.a" \
  -Wl,-z,noexecstack -pthread -ldl -lm -o "$work/record"

mkdir "$work/data"
"$work/record" "$work/data"

mkdir "$work/data-valgrind"
valgrind --quiet --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-possibly-lost=no "$work/record" "$work/data-valgrind" >"$work/valgrind.out"
tail -n 1 "$work/valgrind.out"
