#!/usr/bin/env bash
# Tests the management REST API against its OpenAPI document
# (docs/openapi.json, served at /api/v1/openapi.json) with schemathesis:
# every documented operation is called with generated requests, and every
# answer must be no server error (no 5xx), a documented status, of the
# documented content type and match the documented schema.
#
#   scripts/test-api-schema.sh        from the repository root (or anywhere)
#
# Environment:
#   PSTOR_SERVER_BIN       the server (default target/release/pstor-server;
#                          not built here)
#   PSTOR_SCHEMA_VENV      the Python venv holding schemathesis (default
#                          target/schema-venv; created and filled if needed)
#   PSTOR_SCHEMA_EXAMPLES  generated cases per operation and phase (default 50)
#   PSTOR_SCHEMA_SEED      a seed, to replay a run
#   PSTOR_SCHEMA_ARGS      more schemathesis arguments (split at spaces),
#                          e.g. '--exclude-path-regex ^/api/v1/keys'
#   PSTOR_SCHEMA_REPORTS   schemathesis report formats (default junit; e.g.
#                          junit,har), written to <temporary folder>/report
#   PSTOR_SCHEMA_KEEP=1    keep the temporary folder (server log, reports)
#
# The server runs on a temporary data folder: loopback, ports the system
# chooses, HTTPS with the self-signed certificate it generates (verified
# here), a 64 MiB space and a 32 MiB mixed pool, a picture lock (so the
# lists are not empty). The script logs in with the one-time password,
# changes it, creates a bearer token, makes the calls the fuzzing must leave
# out once each (their answers checked against the document), runs
# schemathesis with the token, and stops the server (SIGTERM: exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${PSTOR_SCHEMA_VENV:-target/schema-venv}
bin=${PSTOR_SERVER_BIN:-target/release/pstor-server}
examples=${PSTOR_SCHEMA_EXAMPLES:-50}
spec=$PWD/docs/openapi.json

fail() {
  echo "test-api-schema: FAILED: $*" >&2
  exit 1
}

[ -x "$bin" ] || fail "no server binary at $bin (build it: cargo build --release -p pstor-server, or set PSTOR_SERVER_BIN)"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$spec" || fail "$spec is not valid JSON"

# 1. schemathesis, in its own venv.
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q 'version 4\.'; then
  echo "test-api-schema: installing schemathesis 4 into $venv"
  python3 -m venv "$venv" || fail "could not create the venv $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4.32,<5' ||
    fail "could not install schemathesis into $venv"
fi
venv=$(cd "$venv" && pwd)
st="$venv/bin/schemathesis"
py="$venv/bin/python"
echo "test-api-schema: $("$st" --version)"

# 2. The server, on a temporary data folder.
dir=$(mktemp -d "${TMPDIR:-/tmp}/pstor-api-schema.XXXXXX")
pid=
cleanup() {
  local rc=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [ "$rc" != 0 ] && [ -s "$dir/log" ]; then
    echo "--- server log (last 40 lines) ---" >&2
    tail -n 40 "$dir/log" >&2
  fi
  if [ "${PSTOR_SCHEMA_KEEP:-}" = 1 ]; then
    echo "test-api-schema: kept $dir" >&2
  else
    rm -rf "$dir"
  fi
  exit "$rc"
}
trap cleanup EXIT
data=$dir/data
cat >"$dir/pstor-server.toml" <<EOF
data_dir = "$data"
[listen]
bind = "127.0.0.1"
signalling_port = 0
data_port = 0
[playback]
port = 0
data_port = 0
[management]
port = 0
plain_http = false
min_space_capacity = "1MiB"
[logging]
level = "warn"
[[spaces]]
path = "$dir/space1"
capacity = "64MiB"
[[pools]]
name = "cams"
kind = "mixed"
capacity = "32MiB"
max_lock_pct = 50
[engine]
min_space_capacity = "1MiB"
segment_size = "4MiB"
EOF
# The folder browser (POST/PATCH/DELETE /api/v1/folders creates, renames
# and deletes host folders) is kept inside $dir/browse. A binary built
# before management.browse_roots would refuse the key: it has no folder
# browser either (its name is a string in any binary that has it).
mkdir -p "$dir/browse"
browse=
if grep -aq browse_roots "$bin"; then
  browse=$dir/browse
  sed -i "/^plain_http = false\$/a browse_roots = [\"$browse\"]" "$dir/pstor-server.toml"
  grep -q '^browse_roots' "$dir/pstor-server.toml" || fail "could not write browse_roots into the configuration"
fi
"$bin" run --config "$dir/pstor-server.toml" >"$dir/stdout" 2>"$dir/log" &
pid=$!
line=
for _ in $(seq 600); do
  line=$(grep -m 1 '^listening ' "$dir/stdout" 2>/dev/null) && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$line" ] || fail "pstor-server did not start (no 'listening' line within 60 s)"
mgmt=$(sed -n 's/.*management=\([^ ]*\).*/\1/p' <<<"$line")
[ -n "$mgmt" ] || fail "no management address in: $line"
port=${mgmt##*:}
base="https://127.0.0.1:$port"
cert=$data/tls/cert.pem
[ -s "$cert" ] || fail "no certificate at $cert"
echo "test-api-schema: server $pid, management on $base"

# 3. Log in with the one-time password, change it, create a bearer token.
# call METHOD PATH [BODY]: the body to $dir/answer, the status to stdout.
jar=$dir/cookies
csrf=
call() {
  local args=(-sS --cacert "$cert" -b "$jar" -c "$jar" -o "$dir/answer" -w '%{http_code}' -X "$1")
  [ -n "$csrf" ] && args+=(-H "X-CSRF-Token: $csrf")
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  curl "${args[@]}" "$base$2"
}
field() { "$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$dir/answer" "$1"; }
expect() {
  [ "$1" = "$2" ] || fail "$3: HTTP $1 (expected $2): $(cat "$dir/answer" 2>/dev/null)"
}
[ -s "$data/initial-admin-password" ] || fail "no one-time password in $data/initial-admin-password"
initial=$(tr -d '\n' <"$data/initial-admin-password")
password="Schema-test-$$-pw"
expect "$(call POST /api/v1/session "{\"user\":\"admin\",\"password\":\"$initial\"}")" 200 "login"
csrf=$(field csrf_token)
[ "$(field must_change_password)" = True ] || fail "the one-time password's session is not must-change"
expect "$(call GET /api/v1/system/about)" 403 "a must-change session reading about"
expect "$(call PUT /api/v1/session/password "{\"current_password\":\"$initial\",\"new_password\":\"$password\"}")" 204 "password change"
[ ! -e "$data/initial-admin-password" ] || fail "the one-time password file is still there after the change"
expect "$(call POST /api/v1/tokens '{"name":"schemathesis"}')" 201 "token creation"
token=$(field token)
# From here on only the bearer token: no cookie, no CSRF token.
rm -f "$jar"
csrf=
auth=(-H "Authorization: Bearer $token")
bearer() {
  local args=(-sS --cacert "$cert" "${auth[@]}" -o "$dir/answer" -w '%{http_code}' -X "$1")
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  curl "${args[@]}" "$base$2"
}
expect "$(bearer GET /api/v1/pools)" 200 "the pool list"
pool=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["items"][0]["id"])' "$dir/answer")
expect "$(bearer POST /api/v1/locks "{\"pool\":$pool,\"camera_id\":\"cam-1\",\"start\":\"2026-01-01T00:00:00Z\",\"end\":1767312000000000}")" 201 "a picture lock"

# Python's requests would verify with a CA bundle of the environment
# (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) instead of the certificate given.
unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE

# Calls that the fuzzing leaves out (see below), made here once each, their
# answers checked against the document.
mkdir -p "$dir/browse/space2"
# (schemathesis and hypothesis keep caches in the current folder: the
# temporary one, not the repository.)
(cd "$dir" && PSTOR_BASE=$base PSTOR_CERT=$cert PSTOR_TOKEN=$token PSTOR_DIR=$dir PSTOR_BROWSE=$browse "$py" - "$spec") <<'EOF' || fail "the explicit calls"
import json, os, sys, time
import requests
import schemathesis

schema = schemathesis.openapi.from_path(sys.argv[1])
base, cert, d = os.environ["PSTOR_BASE"], os.environ["PSTOR_CERT"], os.environ["PSTOR_DIR"]
browse = os.environ["PSTOR_BROWSE"]
space2 = d + "/browse/space2"
s = requests.Session()
s.headers["Authorization"] = "Bearer " + os.environ["PSTOR_TOKEN"]


def check(method, path, template, want, **kw):
    r = s.request(method, base + path, verify=cert, timeout=30, **kw)
    if r.status_code != want:
        sys.exit(f"{method} {path}: HTTP {r.status_code} (expected {want}): {r.text}")
    schema[template][method].validate_response(r)
    return r


started = check("POST", "/api/v1/spaces", "/api/v1/spaces", 202,
                json={"spaces": [{"path": space2, "capacity": 8 << 20}]}).json()
job = started[0]["job"]
for _ in range(300):
    j = check("GET", f"/api/v1/jobs/{job}", "/api/v1/jobs/{id}", 200).json()
    if j["state"] != "running":
        break
    time.sleep(0.1)
if j["state"] != "done":
    sys.exit(f"the space job ended {j}")
check("POST", "/api/v1/spaces", "/api/v1/spaces", 409, json={"spaces": [{"path": space2, "capacity": 8 << 20}]})
check("POST", "/api/v1/spaces", "/api/v1/spaces", 422, json={"spaces": [{"path": d + "/nowhere", "capacity": 8 << 20}]})
check("POST", "/api/v1/spaces", "/api/v1/spaces", 400, json={"spaces": []})
check("POST", "/api/v1/spaces", "/api/v1/spaces", 415, data="{}")
check("POST", "/api/v1/spaces/restore", "/api/v1/spaces/restore", 409, json={"path": space2})
check("POST", "/api/v1/spaces/restore", "/api/v1/spaces/restore", 422, json={"path": d})
check("PUT", "/api/v1/settings/access", "/api/v1/settings/access", 409, json={"management": ["192.0.2.0/24"]})
check("PUT", "/api/v1/settings/access", "/api/v1/settings/access", 204, json={"management": ["127.0.0.0/8"], "sdk": []})
check("PUT", "/api/v1/settings/access", "/api/v1/settings/access", 204, json={})
check("DELETE", "/api/v1/logs", "/api/v1/logs", 400)
check("GET", "/api/v1/session", "/api/v1/session", 400)
check("DELETE", "/api/v1/session", "/api/v1/session", 400)
check("GET", "/api/v1/certificate", "/api/v1/certificate", 200)
check("GET", "/api/v1/health", "/api/v1/health", 200)
r = s.get(base + "/api/v1/nowhere", verify=cert, timeout=30)
if r.status_code != 404 or r.json()["error"]["code"] != 807:
    sys.exit(f"an unknown path: HTTP {r.status_code} {r.text}")
r = s.patch(base + "/api/v1/health", verify=cert, timeout=30)
if r.status_code != 405 or r.json()["error"]["code"] != 809:
    sys.exit(f"a wrong method: HTTP {r.status_code} {r.text}")
r = requests.get(base + "/api/v1/system/about", verify=cert, timeout=30)
if r.status_code != 401 or r.json()["error"]["code"] != 800:
    sys.exit(f"no credentials: HTTP {r.status_code} {r.text}")
# Metadata backups (a server built before them has no such path).
if s.get(base + "/api/v1/backups", verify=cert, timeout=30).status_code == 404:
    print("test-api-schema: this server has no /api/v1/backups: backup calls not checked")
else:
    written = check("POST", "/api/v1/backups", "/api/v1/backups", 201).json()["written"]
    listed = check("GET", "/api/v1/backups", "/api/v1/backups", 200).json()["backups"]
    if len(listed) < len(written):
        sys.exit(f"backups written {written}, listed {listed}")
    check("POST", "/api/v1/backups/restore", "/api/v1/backups/restore", 400, json={"backup": listed[0]["id"]})
    check("POST", "/api/v1/backups/restore", "/api/v1/backups/restore", 404, json={"backup": "1/none", "confirm": True})
    check("POST", "/api/v1/backups/restore", "/api/v1/backups/restore", 200, json={"backup": listed[0]["id"], "confirm": True})
    # The backup was taken after the token: the token survives the restore.
    check("GET", "/api/v1/tokens", "/api/v1/tokens", 200)
# The folder browser, confined to $dir/browse (which holds space2).
if not browse:
    print("test-api-schema: this server has no folder browser (management.browse_roots): folder calls not checked")
else:
    vols = check("GET", "/api/v1/volumes", "/api/v1/volumes", 200).json()
    if [v["path"] for v in vols] != [os.path.realpath(browse)]:
        sys.exit(f"the volumes are not the browse root {browse}: {vols}")
    check("POST", "/api/v1/folders", "/api/v1/folders", 201, json={"path": browse, "name": "new"})
    listing = check("GET", "/api/v1/folders", "/api/v1/folders", 200, params={"path": browse}).json()
    kids = {c["name"]: c for c in listing["children"]}
    if not kids.get("new", {}).get("selectable") or kids.get("space2", {}).get("selectable", True):
        sys.exit(f"the listing of {browse}: {listing}")
    check("PATCH", "/api/v1/folders", "/api/v1/folders", 200, json={"path": browse + "/new", "new_name": "renamed"})
    check("PATCH", "/api/v1/folders", "/api/v1/folders", 409, json={"path": space2, "new_name": "moved"})
    check("POST", "/api/v1/folders", "/api/v1/folders", 409, json={"path": space2, "name": "inside"})
    check("POST", "/api/v1/folders", "/api/v1/folders", 400, json={"path": browse, "name": ".."})
    check("GET", "/api/v1/folders", "/api/v1/folders", 404, params={"path": d + "/data"})
    check("DELETE", "/api/v1/folders", "/api/v1/folders", 204, params={"path": browse + "/renamed"})
    check("DELETE", "/api/v1/folders", "/api/v1/folders", 409, params={"path": browse})
print("test-api-schema: explicit calls ok")
EOF

# 4. schemathesis. Left out, because they would end the run's own access or
# act outside the test's folder:
#   DELETE /api/v1/session            ends the session (the bearer token has
#                                     none: 400, checked above)
#   PUT /api/v1/session/password      changes the admin's password and ends
#                                     the admin's sessions
#   PUT /api/v1/settings/access       generated ranges lock 127.0.0.1 out of
#                                     the management port, or the SDK ports
#   DELETE /api/v1/tokens/{id}        revokes the run's bearer token (id 1
#                                     is a boundary value the generator tries)
#   DELETE /api/v1/logs               clears the log (the run reads it)
#   POST /api/v1/spaces               initializes ANY existing folder of the
#                                     host it is given ("/", "/tmp") into a
#                                     storage space: writes there and fills
#                                     the volume (checked above instead)
#   POST /api/v1/backups/restore      replaces the accounts, API tokens and
#                                     settings with a backup's while other
#                                     requests run (checked above instead)
#   POST, PATCH, DELETE /api/v1/folders  only when the server cannot be
#                                     confined to $dir/browse (see above):
#                                     they change the host's folders
# DELETE /api/v1/pools/{id} and POST /api/v1/spaces/{id}/reinitialize stay:
# ids are random 32-bit numbers that generated requests do not hit (if one
# did, the pool or the space's data would go and the lists get shorter: the
# run still works). POST /api/v1/spaces/restore stays: a folder that is not
# a storage space is refused without writing.
# The document the server serves is docs/openapi.json as it was when the
# binary was built; a binary older than the file is tested against the file.
location="$base/api/v1/openapi.json"
expect "$(bearer GET /api/v1/openapi.json)" 200 "the OpenAPI document"
if ! "$py" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$dir/answer" "$spec"; then
  echo "test-api-schema: WARNING: $bin serves another OpenAPI document than $spec (built before it changed?): testing against $spec" >&2
  location=$spec
fi
report=$dir/report
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
args=(
  run "$location" --url "$base"
  --tls-verify "$cert"
  -H "Authorization: Bearer $token"
  --checks "$checks"
  --max-examples "$examples"
  --workers 1
  --request-timeout 30
  --generation-database none
  --no-color
  --report "${PSTOR_SCHEMA_REPORTS:-junit}" --report-dir "$report"
  --exclude-name "DELETE /api/v1/session"
  --exclude-name "PUT /api/v1/session/password"
  --exclude-name "PUT /api/v1/settings/access"
  --exclude-name "DELETE /api/v1/tokens/{id}"
  --exclude-name "DELETE /api/v1/logs"
  --exclude-name "POST /api/v1/spaces"
  --exclude-name "POST /api/v1/backups/restore"
)
if [ -z "$browse" ]; then
  args+=(--exclude-name "POST /api/v1/folders" --exclude-name "PATCH /api/v1/folders" --exclude-name "DELETE /api/v1/folders")
fi
if [ -n "${PSTOR_SCHEMA_ARGS:-}" ]; then
  read -ra extra <<<"$PSTOR_SCHEMA_ARGS"
  args+=("${extra[@]}")
fi
[ -n "${PSTOR_SCHEMA_SEED:-}" ] && args+=(--seed "$PSTOR_SCHEMA_SEED")
echo "test-api-schema: schemathesis ${args[*]/$token/pst_...}"
started=$(date +%s)
st_rc=0
(cd "$dir" && "$st" "${args[@]}") || st_rc=$?
echo "test-api-schema: schemathesis took $(($(date +%s) - started)) s"
# The run must have left the server able to serve its token.
expect "$(bearer GET /api/v1/system/summary)" 200 "the summary after the run"

# 5. Stop the server: SIGTERM, and it must exit 0.
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || fail "pstor-server exited $status after SIGTERM"
[ "$st_rc" = 0 ] || fail "schemathesis found failures (exit $st_rc): see its report above"
echo "test-api-schema: passed"
