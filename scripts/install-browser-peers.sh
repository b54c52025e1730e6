#!/usr/bin/env bash
# Installs what the browser tests drive: Debian's Chromium, and
# playwright-core from npm into target/browser-tools (playwright-core only
# drives a browser; it never downloads one). Does nothing when both are there.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
tools=target/browser-tools
if [ ! -d "$tools/node_modules/playwright-core" ]; then
  mkdir -p "$tools"
  (cd "$tools" && npm install --no-audit --no-fund --silent playwright-core@1 >/dev/null)
fi
chromium --version 2>/dev/null | head -1
