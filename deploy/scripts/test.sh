#!/usr/bin/env bash
# Shoal's second command: everything CI checks, in order: formatting, lints, build, and every test
# (unit, integration against real containerd/runc, and end-to-end with the real docker CLI).
#
#   sudo deploy/scripts/test.sh                      # the whole suite
#   sudo deploy/scripts/test.sh -p shoal-tests       # extra arguments go to `cargo test`
#   sudo SHOAL_E2E_ENGINE=dockerd deploy/scripts/test.sh -p shoal-tests   # e2e against dockerd
#
# Needs root: the tests start containerd and run containers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# The compatibility tests (tests/tests/compat) run Debian's dockerd beside Shoal.
SHOAL_WITH_DOCKERD=1 "$ROOT/deploy/scripts/install.sh" --deps-only

cargo fmt --all -- --check
"$ROOT/deploy/scripts/check-layering.sh"
cargo clippy --workspace --all-targets -- -D warnings
# The e2e tests run target/debug/shoal; build it before the tests that spawn it.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast "$@"
