#!/usr/bin/env bash
# Starts a pstor-server for the SDK test scripts, or stops it.
#
#   start-test-server.sh DIR             start one in DIR (created), in the background
#   start-test-server.sh --default DIR   the same on the embedded default's space and pool
#   start-test-server.sh --stop DIR      SIGTERM it, wait; fails unless it exits 0
#
# The server is the workspace's binary ($PSTOR_SERVER_BIN, else built here
# in release). It listens on loopback ports the system chooses, which it
# announces on its first stdout line ("listening signalling=ADDR data=ADDR",
# also written to DATA/ports); it has a 128 MiB space in 4 MiB segments and
# a 96 MiB video pool "video" (with --default: what `pstor-server run`
# creates on a first start, one space DATA/space1 of 10 % of the volume's
# free space, at least 1 GiB, all of it in one mixed pool "default"); and,
# with no key in its configuration, it generates a key pair into
# DATA/credentials.toml on first start. Once started, DIR holds:
#   pid    the server's process id
#   env    PSTOR_HOST, PSTOR_SIGNALLING_PORT, PSTOR_DATA_PORT,
#          PSTOR_MANAGEMENT_ADDR (the management port, HTTPS with the
#          certificate DATA/tls/cert.pem), and the
#          exports of `pstor-server keys show`: PSTOR_ACCESS_KEY,
#          PSTOR_SECRET_KEY (shell lines: `. DIR/env`)
#   log    its log (stderr); stdout: its stdout; status: its exit status, once it ended
# PSTOR_MANAGEMENT_TOML, if set, is added to the [management] section
# (for example `metrics_token = "..."`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--stop" ]; then
  dir=$2
  pid=$(cat "$dir/pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 600); do
    [ -s "$dir/status" ] && break
    sleep 0.1
  done
  status=$(cat "$dir/status" 2>/dev/null || echo "still running")
  if [ "$status" != 0 ]; then
    cat "$dir/log" >&2
    echo "pstor-server did not stop cleanly: $status" >&2
    exit 1
  fi
  exit 0
fi

embedded_default=
if [ "${1:-}" = "--default" ]; then
  embedded_default=1
  shift
fi
dir=$1
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bin=${PSTOR_SERVER_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet --release --locked -p pstor-server
  bin=${CARGO_TARGET_DIR:-target}/release/pstor-server
fi
cat >"$dir/pstor-server.toml" <<EOF
data_dir = "$dir/data"
[listen]
bind = "127.0.0.1"
signalling_port = 0
data_port = 0
[playback]
port = 0
data_port = 0
[management]
port = 0
${PSTOR_MANAGEMENT_TOML:-}
[logging]
level = "warn"
EOF
# No [[spaces]] and no [[pools]]: the embedded default (docs/server.md §3).
[ -n "$embedded_default" ] || cat >>"$dir/pstor-server.toml" <<EOF
[[spaces]]
path = "$dir/space1"
capacity = "128MiB"
[[pools]]
name = "video"
kind = "video"
capacity = "96MiB"
max_lock_pct = 50
[engine]
min_space_capacity = "1MiB"
segment_size = "4MiB"
EOF
rm -f "$dir/status" "$dir/pid"
# The subshell records the server's exit status for --stop.
(
  "$bin" run --config "$dir/pstor-server.toml" >"$dir/stdout" 2>"$dir/log" &
  echo $! >"$dir/pid"
  status=0
  wait $! || status=$?
  echo "$status" >"$dir/status"
) >/dev/null 2>&1 &
# Bounded wait for the "listening" line (or the server's end).
line=
for _ in $(seq 600); do
  line=$(grep -m 1 '^listening ' "$dir/stdout" 2>/dev/null) && break
  [ -s "$dir/status" ] && break
  sleep 0.1
done
if [ -z "$line" ]; then
  cat "$dir/log" >&2 2>/dev/null || true
  echo "pstor-server did not start (status: $(cat "$dir/status" 2>/dev/null || echo 'running, silent for 60 s'))" >&2
  [ -s "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null
  exit 1
fi
signalling=$(sed -n 's/.*signalling=\([^ ]*\).*/\1/p' <<<"$line")
data=$(sed -n 's/.* data=\([^ ]*\).*/\1/p' <<<"$line")
management=$(sed -n 's/.*management=\([^ ]*\).*/\1/p' <<<"$line")
rm -f "$dir/env" && touch "$dir/env" && chmod 600 "$dir/env"
cat >"$dir/env" <<EOF
PSTOR_HOST=${signalling%:*}
PSTOR_SIGNALLING_PORT=${signalling##*:}
PSTOR_DATA_PORT=${data##*:}
PSTOR_MANAGEMENT_ADDR=$management
EOF
# The key pair it generated, the way the operator's guide gets it.
"$bin" keys show --config "$dir/pstor-server.toml" >>"$dir/env"
