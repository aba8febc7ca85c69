#!/usr/bin/env bash
# The full test suite: installs what the tests need (scripts/setup.sh), then
# runs every unit, CLI and integration test against real nginx, Redis,
# Keycloak, pkilint, sslyze and docker-compose.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SECCTL_TEST_VENV="${SECCTL_TEST_VENV:-$PWD/.venv}"
# 2 cores: keep the test threads bounded so server-backed tests don't starve each other.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-2}"
# lib, bins and the integration binary (there are no doctests), so the runner closes on the
# integration results.
cargo test --locked --lib --bins --tests "$@"
# Audit pipeline (issue 10): real Redis + VictoriaLogs; any non-zero exit fails, including 5 (no test selected).
PYTHONPATH="$PWD/python/secctl_fastapi/src" "$SECCTL_TEST_VENV/bin/python" -m pytest -q -p no:cacheprovider python/secctl_fastapi/tests/test_audit_*.py
