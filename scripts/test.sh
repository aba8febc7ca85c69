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
# The render fuzz target, short and bounded ("check accepted => render succeeds and every value
# lands escaped"); long runs are reported in fuzz/README.md. A crash fails the run.
cargo +nightly fuzz run render_escaped -- -runs=20000 -max_total_time=60 -max_len=512 -timeout=10
