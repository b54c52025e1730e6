#!/usr/bin/env bash
# Builds every fuzz target (fuzz/, its own workspace) with AddressSanitizer
# and debug assertions, and runs each for FUZZ_SECONDS (default 5) on a
# scratch copy of its committed seeds (fuzz/seeds/<target>). Fails if any
# target crashes; the input that did it lands in fuzz/artifacts/<target>/.
# Installs cargo-fuzz if it is missing. Longer runs: see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-5}
CARGO_FUZZ_VERSION=0.13.2

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# Sanitizers need nightly's -Z flags: use the nightly toolchain if the
# machine has one, else let the stable compiler accept them.
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo "${toolchain[@]}" fuzz build --debug-assertions

max_len() {
  case "$1" in
    segment_scan) echo 16384 ;;
    ops) echo 4096 ;;
    *) echo 65536 ;;
  esac
}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The seed generator still works and every seed it cuts still decodes.
cargo run --quiet -p pstor-fuzz-common --bin make_seeds -- "$scratch/seeds"
for target in $(cargo "${toolchain[@]}" fuzz list); do
  corpus="$scratch/$target"
  mkdir -p "$corpus"
  cp seeds/"$target"/* "$corpus"/
  echo "==> fuzz $target for ${seconds}s"
  log="$scratch/$target.log"
  status=0
  cargo "${toolchain[@]}" fuzz run --debug-assertions "$target" "$corpus" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len="$(max_len "$target")" \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzz target $target failed (exit $status); the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
echo "all fuzz targets ran clean"
