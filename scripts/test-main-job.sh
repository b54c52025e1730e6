#!/usr/bin/env bash
# Runs README's main job the way an operator does: `cargo install --path
# pstor-server --locked` into a fresh --root (reusing this tree's release
# build through CARGO_TARGET_DIR, so nothing is rebuilt when it is current),
# then that installed `pstor-server run` in an unrelated empty folder (its
# embedded default: a data folder, one storage space, one pool, a key pair);
# waits for its "listening" line, checks what the first start created there,
# stops it with SIGTERM and expects a clean exit (0); a second start reuses
# everything and creates nothing. Ports are chosen by the system so that a
# server already running does not interfere.
set -euo pipefail
cd "$(dirname "$0")/.."

# README shows the operators' route; this is it.
grep -qF 'cargo install --path pstor-server --locked' README.md \
  || { echo "main job: README.md no longer shows 'cargo install --path pstor-server --locked'" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill -9 "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
CARGO_TARGET_DIR=$(realpath "${CARGO_TARGET_DIR:-target}") \
  cargo install --quiet --path pstor-server --locked --root "$work/root"
bin=$work/root/bin/pstor-server
site=$work/site # the operator's folder: nothing of the source tree
mkdir "$site"

start() {
  (cd "$site" && exec "$bin" run --signalling-port 0 --data-port 0 --management-port 0 --playback-port 0 --playback-data-port 0) >"$work/out" 2>"$work/log" &
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
# The data folder is where it ran.
test -d "$site/pstor-data/engine" && test -d "$site/pstor-data/space1" \
  || { ls -la "$site" "$site/pstor-data" >&2; echo "main job: no pstor-data/{engine,space1} in the folder it ran in" >&2; exit 1; }
test -s "$site/pstor-data/credentials.toml"
[ "$(stat -c %a "$site/pstor-data/credentials.toml")" = 600 ] || { echo "main job: credentials.toml is not mode 0600" >&2; exit 1; }
grep -q '^signalling=' "$site/pstor-data/ports"
# The management service (6060): HTTPS with the certificate it generated,
# and the administrator's one-time password where the log says.
[ "$(stat -c %a "$site/pstor-data/initial-admin-password")" = 600 ] \
  || { echo "main job: no initial-admin-password of mode 0600" >&2; exit 1; }
grep -q 'initial-admin-password' "$work/log" || { echo "main job: the log does not say where the one-time password is" >&2; exit 1; }
mgmt=$(sed -n 's/.*management=\([^ ]*\).*/\1/p' "$work/out")
curl -sS --fail --cacert "$site/pstor-data/tls/cert.pem" "https://127.0.0.1:${mgmt##*:}/api/v1/health" | grep -q '"ok"' \
  || { echo "main job: the management port does not answer its health probe over TLS" >&2; exit 1; }
stop
"$bin" spaces --data "$site/pstor-data" | tee "$work/spaces"
"$bin" pool list --data "$site/pstor-data" | tee "$work/pools"
# Run from another directory: the space must still be found (the catalog
# keeps absolute paths).
grep -q ' Normal ' "$work/spaces" || { echo "main job: the storage space is not Normal" >&2; exit 1; }
grep -q default "$work/pools"
cp "$site/pstor-data/credentials.toml" "$work/credentials.first"
# The client's keys, the operator's way: the pair the log announced.
eval "$(cd "$site" && "$bin" keys show)"
grep -qF "access_key=$PSTOR_ACCESS_KEY" "$work/log" && [ ${#PSTOR_SECRET_KEY} -ge 16 ] \
  || { cat "$work/log" >&2; echo "main job: keys show does not print the generated pair" >&2; exit 1; }

start
stop
cmp -s "$work/credentials.first" "$site/pstor-data/credentials.toml" || { echo "main job: the second start changed the credentials" >&2; exit 1; }
[ "$("$bin" pool list --data "$site/pstor-data" | grep -c default)" = 1 ] || { echo "main job: the second start created another pool" >&2; exit 1; }
echo "main job: ok"
