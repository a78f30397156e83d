#!/usr/bin/env bash
# The whole test suite: installs what the tests need (tshark, tcpdump, ...), then fmt, clippy
# and every test. The shared capture corpus (../shared/captures) is used when present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# The shared capture corpus sits beside the repository in CI and on developer machines.
if [ -d ../shared/captures ]; then
    export WIRESIFT_CAPTURES="$(cd ../shared/captures && pwd)"
    export WIRESIFT_SHARED_CAPTURES="$WIRESIFT_CAPTURES"
fi
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --workspace --locked --no-fail-fast 2>&1 | tee /tmp/wiresift-test.log
# The browser UI: type check and lint of the front end, then its end-to-end tests in headless
# Chromium against the binary the tests above built (same profile).
bash scripts/ui-test.sh
