#!/usr/bin/env bash
# The Python package's tests (pstor-py): builds the abi3 wheel with maturin in
# a venv of its own (target/py-venv, made here; nothing is installed outside
# it), checks the wheel is tagged abi3 and does not link libpython, installs
# it, runs the pytest suite (pstor-py/tests, with hypothesis; most tests run
# twice, embedded and against a real pstor-server process the tests start,
# built here and passed as $PSTOR_SERVER_BIN), then the capacity-planning
# example: --help (without the package importable), a short real run with
# --json whose output must parse, and runs against a pstor-server (--remote):
# one that creates its pool, one on the embedded default's single pool.
# Needs python3 >= 3.11 with venv/pip and the Rust toolchain; reaches only
# PyPI (the pinned tools) and crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3 python; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY=$cand
      break
    fi
  done
fi
[ -n "$PY" ] || { echo "test-python: needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }

venv=target/py-venv
if [ ! -x "$venv/bin/python" ]; then
  "$PY" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  "maturin==1.16.0" "pytest==9.2.0" "hypothesis==6.170.15"

# Build the wheel (release: the capacity run below measures real speed).
wheels=target/py-wheels
rm -rf "$wheels"
"$venv/bin/maturin" build --release --quiet -m pstor-py/Cargo.toml -o "$wheels" -i "$venv/bin/python"
shopt -s nullglob
built=("$wheels"/pstor-*.whl)
[ ${#built[@]} -eq 1 ] || { echo "test-python: expected one wheel in $wheels, found ${#built[@]}" >&2; exit 1; }
wheel=${built[0]}
echo "wheel: $(basename "$wheel")"

# abi3: one wheel for CPython 3.11 and later, named and built as such.
case "$(basename "$wheel")" in
  pstor-*-cp311-abi3-*.whl) ;;
  *) echo "test-python: the wheel is not tagged cp311-abi3: $(basename "$wheel")" >&2; exit 1 ;;
esac
"$venv/bin/python" - "$wheel" <<'PYEOF'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
sos = [n for n in names if n.startswith("pstor/_pstor") and n.endswith(".so")]
assert sos == ["pstor/_pstor.abi3.so"], f"native module not built for the stable ABI: {sos}"
for f in ("pstor/__init__.py", "pstor/__init__.pyi", "pstor/py.typed", "pstor/_errors.py", "pstor/_enums.py"):
    assert f in names, f"{f} missing from the wheel"
wheel_meta = next(n for n in names if n.endswith(".dist-info/WHEEL"))
tags = [l.split(":", 1)[1].strip() for l in z.read(wheel_meta).decode().splitlines() if l.startswith("Tag:")]
assert tags and all("-abi3-" in t for t in tags), tags
print("abi3:", ", ".join(tags))
PYEOF
# An extension module must not link libpython (maturin builds it so).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$venv/bin/python" -m zipfile -e "$wheel" "$tmp/whl"
if readelf -dW "$tmp/whl/pstor/_pstor.abi3.so" | grep NEEDED | grep -q libpython; then
  echo "test-python: _pstor.abi3.so links libpython" >&2
  exit 1
fi

"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"

# The remote-mode tests start the workspace's pstor-server binary.
cargo build --quiet --release --locked -p pstor-server
PSTOR_SERVER_BIN=$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)/pstor-server
export PSTOR_SERVER_BIN

# The tests import the installed package (not pstor-py/python). -rs lists
# skipped tests; none may be skipped here (the server binary is given).
(cd pstor-py && ../"$venv"/bin/python -m pytest -q -rs -p no:cacheprovider tests) | tee "$tmp/pytest.out"
if grep -q "skipped" "$tmp/pytest.out"; then
  echo "test-python: tests were skipped" >&2
  exit 1
fi

# The capacity-planning example. It is executable, and --help works where
# the pstor package cannot be imported (python -S: no site-packages).
example=examples/python/capacity_test.py
test -x "$example" || { echo "test-python: $example is not executable" >&2; exit 1; }
if "$venv/bin/python" -S -c 'import pstor' 2>/dev/null; then
  echo "test-python: pstor is importable without site-packages" >&2
  exit 1
fi
"$venv/bin/python" -S "$example" --help >"$tmp/help.txt"
grep -q -- "--bitrate-mbit" "$tmp/help.txt"
# Each example on its own lines: no backslash-newline swallowed into a run of spaces.
if sed -n '/^Examples:/,$p' "$tmp/help.txt" | grep -E '[^ ] {5,}[^ ]'; then
  echo "test-python: a garbled example in --help" >&2
  exit 1
fi
if "$venv/bin/python" "$example" --data "$tmp/bad" --cameras 0 2>/dev/null; then
  echo "test-python: capacity_test.py accepted --cameras 0" >&2
  exit 1
fi
"$venv/bin/python" "$example" --data "$tmp/cap" --capacity-gib 0.25 --cameras 8 --bitrate-mbit 4 \
  --pictures-per-sec 20 --picture-kib 50 --seconds 3 --json >"$tmp/cap.json"
"$venv/bin/python" - "$tmp/cap.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["frames"] == 8 * 25 * 3, r["frames"]
assert r["sustained_mib_s"] > 0 and r["append_latency"]["p99_ms"] is not None
assert r["sync_latency"]["count"] > 0 and r["pictures"] > 0
assert r["retention_days"] > 0 and r["pool"]["capacity"] > 0
print(f"capacity_test: {r['sustained_mib_s']} MiB/s, sync p99 {r['sync_latency']['p99_ms']} ms, "
      f"{r['pictures_per_s']} pictures/s, retention {r['retention_days']} days")
PYEOF
# A second run reuses the space and pool.
"$venv/bin/python" "$example" --data "$tmp/cap" --cameras 8 --seconds 1 --quiet --json >/dev/null
if "$venv/bin/python" "$example" --data "$tmp/cap" --remote localhost --cameras 1 2>/dev/null; then
  echo "test-python: capacity_test.py accepted both --data and --remote" >&2
  exit 1
fi

# Remote: the same tool against a real pstor-server (scripts/start-test-server.sh).
server_started=
server_dir=$tmp/server
trap 'if [ -n "$server_started" ]; then kill "$(cat "$server_dir/pid")" 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT
bash scripts/start-test-server.sh "$tmp/server"
server_started=1
(
  # shellcheck disable=SC1091
  . "$tmp/server/env"
  PSTOR_SECRET_KEY=$PSTOR_SECRET_KEY "$venv/bin/python" "$example" \
    --remote "$PSTOR_HOST:$PSTOR_SIGNALLING_PORT" --data-port "$PSTOR_DATA_PORT" --access-key "$PSTOR_ACCESS_KEY" \
    --capacity-gib 0.0625 --cameras 4 --bitrate-mbit 4 --seconds 3 --quiet --json >"$tmp/cap-remote.json"
)
"$venv/bin/python" - "$tmp/cap-remote.json" <<'PYEOF2'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["config"]["remote"] and r["config"]["data"] is None, r["config"]
assert r["frames"] == 4 * 25 * 3, r["frames"]
assert r["sustained_mib_s"] > 0 and r["sync_latency"]["count"] > 0 and r["retention_days"] > 0
print(f"capacity_test --remote: {r['sustained_mib_s']} MiB/s, sync p99 {r['sync_latency']['p99_ms']} ms, "
      f"kept up: {r['kept_up']}, pool {r['pool']['name']} of {r['pool']['capacity'] >> 20} MiB")
PYEOF2
bash scripts/start-test-server.sh --stop "$tmp/server"
server_started=

# Against a server on the embedded default (all its space in the mixed pool
# "default"), with the keys from the environment (`pstor-server keys show`'s
# exports): no room for a pool of its own, so it records into "default"...
server_dir=$tmp/default-server
bash scripts/start-test-server.sh --default "$server_dir"
server_started=1
(
  # shellcheck disable=SC1091
  . "$server_dir/env"
  "$venv/bin/python" "$example" --remote "$PSTOR_HOST:$PSTOR_SIGNALLING_PORT" --data-port "$PSTOR_DATA_PORT" \
    --cameras 2 --seconds 1 --quiet --json >"$tmp/cap-default.json"
  # ...unless told to use a pool that does not exist.
  if "$venv/bin/python" "$example" --remote "$PSTOR_HOST:$PSTOR_SIGNALLING_PORT" --data-port "$PSTOR_DATA_PORT" \
    --pool capacity-test --cameras 1 --seconds 1 --quiet 2>"$tmp/cap-nopool.err"; then
    echo "test-python: capacity_test.py created a pool on a full server" >&2
    exit 1
  fi
  grep -q "no room left" "$tmp/cap-nopool.err"
)
"$venv/bin/python" - "$tmp/cap-default.json" <<'PYEOF3'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["pool"]["name"] == "default", r["pool"]
assert r["frames"] == 2 * 25 * 1, r["frames"]
print(f"capacity_test --remote on the embedded default: pool {r['pool']['name']}, {r['sustained_mib_s']} MiB/s")
PYEOF3
bash scripts/start-test-server.sh --stop "$server_dir"
server_started=
echo "test-python: ok"
