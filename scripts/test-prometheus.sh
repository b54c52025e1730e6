#!/usr/bin/env bash
# Debian's real Prometheus scrapes pstor-server's /metrics over HTTPS (the
# server's generated certificate as its CA, a bearer token from the
# server's configuration): the target must be up and a few series must have
# the values the server's own API reports. Installs prometheus if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v prometheus >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
bin=${PSTOR_SERVER_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet --release --locked -p pstor-server
  bin=${CARGO_TARGET_DIR:-target}/release/pstor-server
fi
bin=$(realpath "$bin")

work=$(mktemp -d)
# The EXIT trap runs under set -e: none of its commands may fail (a kill of
# an already stopped server would turn a pass into exit 1).
cleanup() {
  if [ -n "${prom:-}" ]; then kill -9 "$prom" 2>/dev/null || true; fi
  if [ -s "$work/srv/pid" ]; then kill -9 "$(cat "$work/srv/pid")" 2>/dev/null || true; fi
  rm -rf "$work" || true
}
trap cleanup EXIT
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
# The SDK tests' server (128 MiB space, 96 MiB video pool), with a scrape token.
PSTOR_SERVER_BIN=$bin PSTOR_MANAGEMENT_TOML="metrics_token = \"$token\"" bash scripts/start-test-server.sh "$work/srv"
mgmt=$(sed -n 's/^PSTOR_MANAGEMENT_ADDR=//p' "$work/srv/env")
[ -n "$mgmt" ] || { cat "$work/srv/log" >&2; echo "prometheus test: no management address" >&2; exit 1; }
cert=$work/srv/data/tls/cert.pem

# A free port for Prometheus' own web API.
prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '%s' "$token" >"$work/token"
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: pstor
    scheme: https
    metrics_path: /metrics
    tls_config:
      ca_file: $cert
    authorization:
      type: Bearer
      credentials_file: $work/token
    static_configs:
      - targets: ["$mgmt"]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prom.log" 2>&1 &
prom=$!

query() { # query EXPR -> the first value, or empty
  curl -sS --fail "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}

up=
for _ in $(seq 120); do
  up=$(query 'up{job="pstor"}' 2>/dev/null || true)
  [ "$up" = 1 ] && break
  kill -0 "$prom" 2>/dev/null || { cat "$work/prom.log" >&2; echo "prometheus test: prometheus exited" >&2; exit 1; }
  sleep 0.5
done
if [ "$up" != 1 ]; then
  tail -20 "$work/prom.log" >&2
  curl -sS "http://127.0.0.1:$prom_port/api/v1/targets" >&2 || true
  echo "prometheus test: the pstor target is not up (up=$up)" >&2
  exit 1
fi
check() { # check EXPR WANT
  local got
  got=$(query "$1")
  [ "$got" = "$2" ] || { echo "prometheus test: $1 = '$got', want '$2'" >&2; exit 1; }
  echo "ok: $1 = $got"
}
check 'pstor_pool_capacity_bytes{name="video"}' 100663296
check 'pstor_space_capacity_bytes' 134217728
check 'pstor_space_status{status="normal"}' 1
check 'pstor_space_status{status="lost"}' 0
check 'pstor_pool_status{name="video",status="normal"}' 1
check 'pstor_sdk_connections' 0
# Without the token the same endpoint refuses.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$cert" "https://$mgmt/metrics")
[ "$code" = 401 ] || { echo "prometheus test: /metrics without a token answered $code, want 401" >&2; exit 1; }
bash scripts/start-test-server.sh --stop "$work/srv"
kill -TERM "$prom" && wait "$prom" 2>/dev/null || true
prom=
echo "prometheus test: ok (Prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') scraped /metrics over TLS)"
