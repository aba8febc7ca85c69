#!/usr/bin/env bash
# Installs everything the full test suite needs on a fresh Debian 12 machine:
# the real servers (nginx + ModSecurity + CRS, Redis 7), Debian's docker-compose
# (for `config` validation), a Python venv with the independent checkers
# (pkilint, sslyze) and the backend's libraries, and a pinned Keycloak from
# Maven Central. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

apt_packages=(nginx libnginx-mod-http-modsecurity modsecurity-crs redis-server redis-tools docker-compose openssl curl unzip maven python3-venv libxml2-utils)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian packages enable and start system services; tests run their own instances on free ports.
for svc in nginx redis-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then systemctl stop "$svc" || true; fi
done

VENV="${SECCTL_TEST_VENV:-$PWD/.venv}"
if [ ! -x "$VENV/bin/lint_pkix_cert" ] || ! "$VENV/bin/python" -c 'import fastapi, jwt, redis, uvicorn, sslyze, structlog, pytest' 2>/dev/null; then
  log "creating Python venv at $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
fi

# Microsoft's SARIF validator (npm, self-contained; checks `secctl verify --sarif` in tests/it/verify).
SARIF_MT=.cache/sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
if [ ! -x "$SARIF_MT" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  log "installing @microsoft/sarif-multitool into .cache/sarif-multitool"
  npm install --silent --no-audit --no-fund --prefix .cache/sarif-multitool @microsoft/sarif-multitool@5.7.0 >/dev/null
  chmod u+x "$SARIF_MT"
fi

# The audit log store (VictoriaLogs, Apache-2.0; never Loki, which is AGPL). No distribution ships the
# server, so it is built once per machine from the Go module proxy: static and stripped, version stamped.
VL_VERSION="${SECCTL_VICTORIALOGS_VERSION:-v1.52.1}"
VL_BIN="$PWD/.cache/victoria-logs-$VL_VERSION/bin/victoria-logs"
if [ ! -x "$VL_BIN" ]; then
  command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || { echo "setup: Go is needed to build VictoriaLogs (install golang from Debian or go.dev)" >&2; exit 3; }
  GO="$(command -v go || echo /usr/local/go/bin/go)"
  log "building VictoriaLogs $VL_VERSION (once per machine, ~1 min)"
  mkdir -p "$PWD/.cache"
  vl_tmp="$(mktemp -d "$PWD/.cache/victoria-logs-build.XXXXXX")"
  CGO_ENABLED=0 GOBIN="$vl_tmp" "$GO" install -trimpath \
    -ldflags "-s -w -X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=victoria-logs-$VL_VERSION" \
    "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@$VL_VERSION"
  mkdir -p "$(dirname "$VL_BIN")"
  mv "$vl_tmp/victoria-logs" "$VL_BIN"   # same file system: the cached binary appears whole or not at all
  rmdir "$vl_tmp"
fi

if [ -f scripts/keycloak.sh ]; then
  log "fetching Keycloak (cached in ~/.m2 and .cache/)"
  bash scripts/keycloak.sh fetch
fi
# The CI fuzz run (scripts/test.sh): cargo-fuzz on the nightly toolchain, installed once (cached in ~/.cargo/bin).
if ! cargo +nightly --version >/dev/null 2>&1; then
  log "installing the nightly Rust toolchain (cargo fuzz needs it)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
log "setup complete"
