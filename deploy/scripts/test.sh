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

# What the tests need beyond a node's own packages: Debian's dockerd for the compatibility tests
# (tests/tests/compat, SHOAL_E2E_ENGINE=dockerd); docker-registry for the pull/push tests, with
# htpasswd (apache2-utils) and openssl for its basic auth, tokens and TLS certificates;
# prometheus, which scrapes --metrics-addr in a test; pip for docker-py.
SHOAL_EXTRA_PACKAGES="${SHOAL_EXTRA_PACKAGES:-} docker-registry apache2-utils openssl prometheus python3-pip" \
  SHOAL_WITH_DOCKERD=1 "$ROOT/deploy/scripts/install.sh" --deps-only
# docker-py 7 drives tests/py/streams.py (tests/tests/sdk/t20_dockerpy.rs) and tests/py/load.py.
if ! python3 -c 'import docker, sys; sys.exit(int(docker.__version__.split(".")[0]) < 7)' 2>/dev/null; then
  python3 -m pip install --quiet 'docker>=7,<8' \
    || python3 -m pip install --quiet --break-system-packages 'docker>=7,<8'
fi
# schemathesis fuzzes every Engine API operation from the API contract
# (tests/tests/system/t50_fuzz.rs).
if ! command -v schemathesis >/dev/null; then
  python3 -m pip install --quiet 'schemathesis>=4,<5' \
    || python3 -m pip install --quiet --break-system-packages 'schemathesis>=4,<5'
fi

cargo fmt --all -- --check
"$ROOT/deploy/scripts/check-layering.sh"
cargo clippy --workspace --all-targets -- -D warnings
# The e2e tests run target/debug/shoal; build it before the tests that spawn it.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast "$@"
