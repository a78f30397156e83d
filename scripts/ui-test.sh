#!/usr/bin/env bash
# The front end's checks and browser tests: `npm ci` (the lock file pins typescript, eslint and
# playwright-core), `tsc` over the JavaScript (checkJs, strict), eslint, then the end-to-end
# tests in Debian's headless Chromium against target/debug/wiresift (built by `cargo test`).
# Screenshots go to target/ui-shots.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if ! command -v npm >/dev/null; then
    echo "wiresift ui-test: npm is missing (apt-get install nodejs npm, or run scripts/setup.sh --test)" >&2
    exit 1
fi
cargo build -p wiresift --locked
cd crates/web/ui
npm ci --no-audit --no-fund --loglevel=error
npx tsc -p .
npx eslint .
mkdir -p "$root/target/ui-shots"
WIRESIFT_BIN="$root/target/debug/wiresift" WIRESIFT_UI_SHOTS="$root/target/ui-shots" \
    node --test e2e/
