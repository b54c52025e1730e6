#!/usr/bin/env bash
# The C SDK's tests: the header is current; the SDK installs with its
# pkg-config file and a versioned shared library (SONAME libpstor.so.MAJOR);
# the examples (examples/c/record.c embedded, examples/c/remote.c remote) and
# the error-path tests (pstor-ffi/tests/c/errors.c,
# pstor-ffi/tests/c/remote_errors.c) build with pstor-ffi/README.md's exact
# lines plus warnings as errors, against the static library and, through
# pkg-config, the shared one (which they need by its SONAME); all runs are
# clean under valgrind (no invalid accesses, no definite or indirect leaks). The remote ones run against a real
# pstor-server (the workspace's binary) started here on loopback ports the
# system chooses, with the key pair it generates on first start.
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
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
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
# Versioned: the file libpstor.so.VERSION, SONAME libpstor.so.MAJOR, and the
# links libpstor.so.MAJOR and libpstor.so (pstor-ffi/README.md, ABI stability).
soname=libpstor.so.${version%%.*}
test -f "$work/prefix/lib/libpstor.so.$version" && ! test -L "$work/prefix/lib/libpstor.so.$version"
[ "$(readlink "$work/prefix/lib/$soname")" = "libpstor.so.$version" ] || { echo "no link $soname -> libpstor.so.$version" >&2; exit 1; }
[ "$(readlink "$work/prefix/lib/libpstor.so")" = "$soname" ] || { echo "no link libpstor.so -> $soname" >&2; exit 1; }
readelf -dW "$work/prefix/lib/libpstor.so.$version" | grep "(SONAME).*\[$soname\]" >/dev/null \
  || { readelf -dW "$work/prefix/lib/libpstor.so.$version" >&2; echo "libpstor.so has no SONAME $soname" >&2; exit 1; }

# A pstor-server for the remote programs: loopback, ports chosen by the
# system (announced on its first stdout line, also in DATA/ports), a small
# space and a video pool; no key in the configuration, so it generates a
# pair into DATA/credentials.toml on first start (`pstor-server keys show`
# exports it into the env file).
bash scripts/start-test-server.sh "$work/server"
server_pid=$(cat "$work/server/pid")
# shellcheck disable=SC1091
. "$work/server/env"
echo "pstor-server on $PSTOR_HOST: signalling $PSTOR_SIGNALLING_PORT, data $PSTOR_DATA_PORT, access key $PSTOR_ACCESS_KEY"

# Exactly pstor-ffi/README.md's lines (shared and static) plus -Wextra
# -Werror -pedantic: no -D flags, the sources ask for what they use.
readme_shared='cc -std=c11 -Wall app.c $(pkg-config --cflags --libs pstor)'
grep -qF "$readme_shared" pstor-ffi/README.md || { echo "pstor-ffi/README.md no longer shows: $readme_shared" >&2; exit 1; }
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic)
for prog in examples/c/record.c pstor-ffi/tests/c/errors.c examples/c/remote.c pstor-ffi/tests/c/remote_errors.c; do
  name=$(basename "$prog" .c)
  # Static: the archive itself, plus what pkg-config says it needs.
  # shellcheck disable=SC2046
  cc "${cflags[@]}" $(pkg-config --cflags pstor) "$prog" "$work/prefix/lib/libpstor.a" \
    $(pkg-config --static --libs-only-other --libs-only-l pstor | sed 's/-lpstor//') -o "$work/$name-static"
  # Shared, through pkg-config alone.
  # shellcheck disable=SC2046
  cc "${cflags[@]}" "$prog" $(pkg-config --cflags --libs pstor) -o "$work/$name-shared"
  # It needs the SONAME, and loads the installed library.
  readelf -dW "$work/$name-shared" | grep "(NEEDED).*\[$soname\]" >/dev/null \
    || { echo "$name-shared does not need $soname" >&2; exit 1; }
  LD_LIBRARY_PATH="$work/prefix/lib" ldd "$work/$name-shared" | grep -F "$soname => $work/prefix/lib/$soname" >/dev/null \
    || { echo "$name-shared does not load $work/prefix/lib/$soname" >&2; exit 1; }
  for kind in static shared; do
    case "$name" in
      remote)
        args=("$PSTOR_HOST" "$PSTOR_SIGNALLING_PORT" "$PSTOR_ACCESS_KEY" "$PSTOR_SECRET_KEY" "$PSTOR_DATA_PORT") ;;
      remote_errors)
        args=("$PSTOR_HOST" "$PSTOR_SIGNALLING_PORT" "$PSTOR_DATA_PORT" "$PSTOR_ACCESS_KEY" "$PSTOR_SECRET_KEY") ;;
      *) mkdir "$work/data-$name-$kind" && args=("$work/data-$name-$kind") ;;
    esac
    echo "--- $name ($kind)"
    LD_LIBRARY_PATH="$work/prefix/lib" valgrind --quiet --error-exitcode=3 --leak-check=full \
      --errors-for-leak-kinds=definite,indirect --show-possibly-lost=no \
      "$work/$name-$kind" "${args[@]}"
  done
done

# A graceful stop (SIGTERM) must exit 0.
bash scripts/start-test-server.sh --stop "$work/server"
server_pid=
echo "test-c-sdk: ok"
