#!/usr/bin/env bash
# Runs every test of pstor on a fresh machine: formatting, lints, the Rust
# unit/integration/doc tests (crash, kill -9 and model tests included), the
# criterion benches once each, the C SDK (C, C++ under valgrind), the Python
# package (pytest in its own venv), a smoke run of every fuzz target (beside
# the C, Python and API steps), the recorder against a real RTSP camera
# (GStreamer's gst-rtsp-server playing ffmpeg-made H.264/H.265), and runs
# of the quickstart and picture_load examples and of pstor-bench, and the
# management API against real peers (curl over TLS in the Rust tests,
# schemathesis against the OpenAPI document, Prometheus scraping /metrics),
# playback (curl, ffprobe and ffmpeg on every file and playlist, headless
# Chromium playing them). Installs what it needs by itself (cargo-fuzz,
# cbindgen, valgrind, curl, prometheus, ffmpeg, gst-rtsp-server with
# python3-gi, chromium and playwright-core, the venvs with maturin and
# schemathesis).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step() { printf '\n==> %s   [%dm%02ds]\n' "$*" $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)); }

step "toolchain"
cargo --version
rustup component list --installed 2>/dev/null | grep -E '^(clippy|rustfmt)' || true
for c in clippy rustfmt; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
done

step "system packages the tests drive (curl, prometheus)"
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v prometheus >/dev/null || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

step "media peers of the recorder's tests (ffmpeg, GStreamer's RTSP server), and the test media"
bash scripts/install-media-peers.sh
export PSTOR_TEST_MEDIA=${PSTOR_TEST_MEDIA:-$PWD/target/test-media}
bash scripts/make-test-media.sh "$PSTOR_TEST_MEDIA"

step "browser peers of the playback tests (Debian's Chromium, playwright-core from npm)"
bash scripts/install-browser-peers.sh

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "docs (no broken links)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "rust tests"
cargo test --workspace --locked

step "criterion benches, once each in test mode (figures: benches/RESULTS.md)"
cargo test -p pstor-bench --benches --locked

# The fuzz build (its own workspace and target directory, with
# AddressSanitizer) is the longest compile left; it runs beside the steps
# below, which leave a core idle most of the time (valgrind, the servers the
# API tests start, schemathesis). Its output is shown when it is waited for.
step "fuzz targets, a smoke run of each, in the background (longer runs: fuzz/README.md)"
fuzz_log=$(mktemp)
# In a session of its own, so a failing step stops all of it (cargo too).
setsid bash scripts/fuzz-smoke.sh >"$fuzz_log" 2>&1 &
fuzz=$!
trap 'kill -- -"$fuzz" 2>/dev/null || true' EXIT

step "C SDK: header check, C example built with -Werror, run under valgrind"
bash scripts/test-c-sdk.sh

step "C++ face (cxx): example built with -Werror, run under valgrind"
bash scripts/test-cpp.sh

step "Python package: venv, maturin build, pytest (hypothesis), abi3 wheel, capacity_test"
bash scripts/test-python.sh

step "the main job: pstor-server run on its embedded default, then SIGTERM"
bash scripts/test-main-job.sh

step "management API: schemathesis against docs/openapi.json, and Prometheus scraping /metrics (side by side)"
export PSTOR_SERVER_BIN=${CARGO_TARGET_DIR:-target}/release/pstor-server
logs=$(mktemp -d)
bash scripts/test-api-schema.sh >"$logs/schema" 2>&1 &
schema=$!
bash scripts/test-prometheus.sh >"$logs/prometheus" 2>&1 &
prom=$!
rc_schema=0 rc_prom=0
wait "$schema" || rc_schema=$?
wait "$prom" || rc_prom=$?
tail -25 "$logs/schema"
cat "$logs/prometheus"
rm -rf "$logs"
[ "$rc_schema" = 0 ] || { echo "schemathesis run failed (exit $rc_schema)" >&2; exit 1; }
[ "$rc_prom" = 0 ] || { echo "Prometheus test failed (exit $rc_prom)" >&2; exit 1; }

step "fuzz targets: waiting for the background run"
rc_fuzz=0
wait "$fuzz" || rc_fuzz=$?
cat "$fuzz_log"
rm -f "$fuzz_log"
trap - EXIT
[ "$rc_fuzz" = 0 ] || { echo "fuzz smoke run failed (exit $rc_fuzz)" >&2; exit 1; }

step "quickstart example"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && cargo run --quiet --release --locked --manifest-path "$OLDPWD/Cargo.toml" --bin quickstart -- --cameras 4 --seconds 20 --capacity-mib 512)
# A second run reopens the same data folder and continues.
(cd "$tmp" && cargo run --quiet --release --locked --manifest-path "$OLDPWD/Cargo.toml" --bin quickstart -- --cameras 4 --seconds 20 --capacity-mib 512)

step "picture_load example"
(cd "$tmp" && cargo run --quiet --release --locked --manifest-path "$OLDPWD/Cargo.toml" --bin picture_load -- --writers 4 --seconds 1 --capacity-mib 512)

step "pstor-bench smoke runs (figures: benches/RESULTS.md)"
(cd "$tmp" && cargo run --quiet --release --locked --manifest-path "$OLDPWD/Cargo.toml" -p pstor-bench -- ingest --dir "$tmp" --streams 8 --seconds 5 --segment-mib 4 --json)
# The same workload over the SDK protocol, against a server started in-process.
(cd "$tmp" && cargo run --quiet --release --locked --manifest-path "$OLDPWD/Cargo.toml" -p pstor-bench -- ingest --dir "$tmp" --streams 8 --seconds 5 --segment-mib 4 --remote --json)
(cd "$tmp" && cargo run --quiet --release --locked --manifest-path "$OLDPWD/Cargo.toml" -p pstor-bench -- pictures --dir "$tmp" --writers 4 --seconds 1 --json)
(cd "$tmp" && cargo run --quiet --release --locked --manifest-path "$OLDPWD/Cargo.toml" -p pstor-bench -- recover --dir "$tmp" --segments 400 --streams 20 --json)
(cd "$tmp" && cargo run --quiet --release --locked --manifest-path "$OLDPWD/Cargo.toml" -p pstor-bench -- read --dir "$tmp" --streams 2 --minutes 1 --range-seconds 10 --ranges 8 --json)
(cd "$tmp" && cargo run --quiet --release --locked --manifest-path "$OLDPWD/Cargo.toml" -p pstor-bench -- api --dir "$tmp" --entries 20000 --requests 50 --json)
# Real RTSP cameras (gst-rtsp-server) recorded by pstor and by ffmpeg.
(cd "$tmp" && cargo run --quiet --release --locked --manifest-path "$OLDPWD/Cargo.toml" -p pstor-bench -- record --dir "$tmp" --cameras 4 --seconds 5 --media "$PSTOR_TEST_MEDIA" --json)
# A range as view.mp4 over loopback HTTP, against raw reads of its records, ffmpeg and concurrent clients.
(cd "$tmp" && cargo run --quiet --release --locked --manifest-path "$OLDPWD/Cargo.toml" -p pstor-bench -- export --dir "$tmp" --minutes 1 --clients 4 --client-minutes 1 --json)

step "all tests passed"
