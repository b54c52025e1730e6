#!/usr/bin/env bash
# Runs README's main-job command the way a new user does: `pstor-server run`
# in an empty directory (its embedded default: a data folder, one storage
# space, one pool, a key pair), waits for its "listening" line, checks what
# the first start created, stops it with SIGTERM and expects a clean exit
# (0); a second start reuses everything and creates nothing. Ports are
# chosen by the system so that a server already running does not interfere.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --release --locked -p pstor-server
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/pstor-server")
work=$(mktemp -d)
trap 'kill -9 "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

start() {
  (cd "$work" && exec "$bin" run --signalling-port 0 --data-port 0) >"$work/out" 2>"$work/log" &
  pid=$!
  for _ in $(seq 1 600); do
    grep -q '^listening signalling=' "$work/out" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; echo "main job: the server exited before listening" >&2; exit 1; }
    sleep 0.1
  done
  cat "$work/log" >&2
  echo "main job: no 'listening' line within 60 s" >&2
  exit 1
}

stop() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || { cat "$work/log" >&2; echo "main job: exit code $rc after SIGTERM (want 0)" >&2; exit 1; }
}

start
cat "$work/out"
test -s "$work/pstor-data/credentials.toml"
[ "$(stat -c %a "$work/pstor-data/credentials.toml")" = 600 ] || { echo "main job: credentials.toml is not mode 0600" >&2; exit 1; }
grep -q '^signalling=' "$work/pstor-data/ports"
stop
"$bin" spaces --data "$work/pstor-data" | tee "$work/spaces"
"$bin" pool list --data "$work/pstor-data" | tee "$work/pools"
# Run from another directory: the space must still be found (the catalog
# keeps absolute paths).
grep -q ' Normal ' "$work/spaces" || { echo "main job: the storage space is not Normal" >&2; exit 1; }
grep -q default "$work/pools"
cp "$work/pstor-data/credentials.toml" "$work/credentials.first"

start
stop
cmp -s "$work/credentials.first" "$work/pstor-data/credentials.toml" || { echo "main job: the second start changed the credentials" >&2; exit 1; }
[ "$("$bin" pool list --data "$work/pstor-data" | grep -c default)" = 1 ] || { echo "main job: the second start created another pool" >&2; exit 1; }
echo "main job: ok"
