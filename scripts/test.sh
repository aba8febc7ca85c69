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

# The Python kit (python/secctl_fastapi) against real Redis and JWKS servers, and the audit pipeline
# (test_audit_*.py) against real Redis, VictoriaLogs, nginx + ModSecurity and Keycloak. pytest exits 5 when it
# selects no test: that is a failure here, never a pass.
"$SECCTL_TEST_VENV/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
"$SECCTL_TEST_VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e python/secctl_fastapi
# pytest_run DIR: pytest in DIR; exit 5 (no test selected) is a failure, never a pass.
pytest_run() {
  local rc=0
  (cd "$1" && "$SECCTL_TEST_VENV/bin/python" -m pytest -q -p no:cacheprovider tests) || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest selected no test in $1: failing (a run that proves nothing is not a pass)" >&2
    return 1
  fi
  return "$rc"
}
pytest_run python/secctl_fastapi

# End to end: the reference stack (scripts/stack.sh) with real Keycloak, nginx, Redis and uvicorn.
export SECCTL_STACK_DIR="${SECCTL_STACK_DIR:-$PWD/.cache/stack-ci}"
trap 'bash scripts/stack.sh down || true' EXIT
bash scripts/stack.sh up
PYTHONPATH="$PWD" pytest_run examples/stack
