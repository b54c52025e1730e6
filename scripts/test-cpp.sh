#!/usr/bin/env bash
# The C++ face's tests: builds pstor-cxx (the cxx bridge) in release,
# compiles examples/cpp/record.cpp (embedded) and examples/cpp/remote.cpp
# (remote mode) against pstor-ffi/cxx/include/pstor.hpp and the
# cxx-generated headers with pstor-ffi/cxx/README.md's line (warnings as
# errors), runs each, then again under valgrind (no invalid accesses, no
# definite or indirect leaks).
# remote.cpp runs against a real pstor-server (scripts/start-test-server.sh:
# the workspace's binary on loopback, with the key pair it generates). The
# examples check their own results and exit non-zero on any unexpected
# outcome. Installs valgrind if it is missing.
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
server_started=
cleanup() {
  if [ -n "$server_started" ]; then kill "$(cat "$work/server/pid")" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# Exactly the line of pstor-ffi/cxx/README.md (app.cpp and the target
# folder aside). -Wl,-z,noexecstack: the MD5 assembly in the static library
# has no GNU-stack note (see pstor-ffi/README.md).
for part in 'g++ -std=c++20 -Wall -Wextra -Werror -pedantic \' '-Ipstor-ffi/cxx/include -Itarget/cxxbridge app.cpp \' \
  'target/release/libpstor_cxx.a -Wl,-z,noexecstack -pthread -ldl -lm'; do
  grep -qF -- "$part" pstor-ffi/cxx/README.md || { echo "pstor-ffi/cxx/README.md no longer shows: $part" >&2; exit 1; }
done
for name in record remote; do
  "$CXX" -std=c++20 -Wall -Wextra -Werror -pedantic \
    -Ipstor-ffi/cxx/include -I"$target/cxxbridge" "examples/cpp/$name.cpp" \
    "$target/release/libpstor_cxx.a" -Wl,-z,noexecstack -pthread -ldl -lm -o "$work/$name"
done

mkdir "$work/data"
"$work/record" "$work/data"

mkdir "$work/data-valgrind"
valgrind --quiet --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-possibly-lost=no "$work/record" "$work/data-valgrind" >"$work/valgrind.out"
tail -n 1 "$work/valgrind.out"

# Remote mode, against a real pstor-server.
bash scripts/start-test-server.sh "$work/server"
server_started=1
# shellcheck disable=SC1091
. "$work/server/env"
remote_args=("$PSTOR_HOST" "$PSTOR_SIGNALLING_PORT" "$PSTOR_ACCESS_KEY" "$PSTOR_SECRET_KEY" "$PSTOR_DATA_PORT")
"$work/remote" "${remote_args[@]}"
valgrind --quiet --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-possibly-lost=no "$work/remote" "${remote_args[@]}" >"$work/valgrind-remote.out"
tail -n 1 "$work/valgrind-remote.out"
bash scripts/start-test-server.sh --stop "$work/server"
server_started=
