#!/usr/bin/env bash
# The reference stack from policies/local-stack.yaml on 127.0.0.1 high ports:
# Redis (rendered TLS + ACL), Keycloak (secctl keycloak apply), nginx + ModSecurity (rendered),
# uvicorn for the backend and the AI service (mTLS, secctl_fastapi), and the worker.
#
#   scripts/stack.sh up       build, issue certificates, render, start everything, wait until ready
#   scripts/stack.sh status   one line per component (exit 1 when one is down)
#   scripts/stack.sh down     stop what `up` started
#   scripts/stack.sh env      print the stack's environment (sourced by tests; holds secrets: 0600)
#
# State lives in $SECCTL_STACK_DIR (default .cache/stack): the policy copy, pki/, out/, secrets/,
# logs/ and pids/. Secrets are generated once into $SECCTL_STACK_DIR/stack.env (0600) and passed
# through the environment only, never argv. Readiness is probed, never assumed from a sleep.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
STACK="${SECCTL_STACK_DIR:-$REPO/.cache/stack}"
VENV="${SECCTL_TEST_VENV:-$REPO/.venv}"
KC_PORT=28180
KC_MGMT=28190
REDIS_PORT=26379
GW=28443
INTERNAL=28445
SECCTL="$REPO/target/debug/secctl"

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

# wait_until SECONDS WHAT CMD...: polls CMD every 0.2 s; fails naming WHAT and its log.
wait_until() {
  local secs="$1" what="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then die "$what did not become ready in ${secs}s (see $STACK/logs/)"; fi
    sleep 0.2
  done
}

pid_alive() { [ -f "$STACK/pids/$1.pid" ] && kill -0 "$(cat "$STACK/pids/$1.pid")" 2>/dev/null; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# spawn NAME PORT CMD...: background process with its own log and pid file. A port held by a
# process this stack did not start is an error (another stack, or a test), never a silent reuse.
spawn() {
  local name="$1" port="$2"; shift 2
  if pid_alive "$name"; then log "$name already running"; return 0; fi
  if [ "$port" != - ] && port_busy "$port"; then die "port $port (for $name) is already in use by a process this stack did not start"; fi
  "$@" >"$STACK/logs/$name.log" 2>&1 &
  echo $! >"$STACK/pids/$name.pid"
}

secrets_env() {
  local f="$STACK/stack.env"
  if [ ! -f "$f" ]; then
    umask 077
    local r; r() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
    {
      echo "export KC_BOOTSTRAP_ADMIN_USERNAME=admin"
      echo "export KC_BOOTSTRAP_ADMIN_PASSWORD=$(r)"
      # the realm's password policy: 12+, digits, mixed case, a special character
      echo "export SECCTL_TEST_PASSWORD=Aa1!$(r)"
      echo "export SECCTL_AI_CLIENT_SECRET=$(r)"
      echo "export SECCTL_WORKER_CLIENT_SECRET=$(r)"
    } >"$f"
  fi
  # shellcheck disable=SC1090
  . "$f"
}

policy_copy() {
  local p="$STACK/policy.yaml"
  sed -e "s#/tmp/secctl-modsec-audit.json#$STACK/state/modsec-audit.json#" \
      -e "s#^redis:\$#redis:\n  secrets_dir: $STACK/secrets#" \
      policies/local-stack.yaml >"$p.tmp"
  # (`^redis:$` is the top-level section only: the service entry is indented.)
  cat >>"$p.tmp" <<EOF

deploy:
  config_dir: $STACK/out
  pki_dir: $STACK/pki
  state_dir: $STACK/state
  secrets_dir: $STACK/secrets
EOF
  mv "$p.tmp" "$p"
}

redis_ping() {
  REDISCLI_AUTH="$(cat "$STACK/secrets/redis_backend_password")" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --tls \
    --cacert "$STACK/pki/ca/chain.crt" --cert "$STACK/pki/services/backend/client-fullchain.crt" \
    --key "$STACK/pki/services/backend/client.key" --user backend --no-auth-warning PING | grep -q PONG
}

mtls_get() { # mtls_get SERVICE URL: a request with SERVICE's client certificate; succeeds on 2xx
  curl -fsS -o /dev/null --cacert "$STACK/pki/ca/chain.crt" --cert "$STACK/pki/services/$1/client-fullchain.crt" \
    --key "$STACK/pki/services/$1/client.key" "$2"
}

up() {
  mkdir -p "$STACK"/{logs,pids,state,secrets}
  chmod 700 "$STACK/secrets"
  # nginx workers run as nobody when the master is root: let them reach the state directory.
  chmod 755 "$STACK"; chmod 777 "$STACK/state"
  secrets_env
  log "building secctl"
  cargo build -q --bin secctl
  [ -x "$VENV/bin/python" ] || die "no venv at $VENV: run scripts/setup.sh (or set SECCTL_TEST_VENV)"
  "$VENV/bin/python" -c 'import secctl_fastapi' 2>/dev/null || "$VENV/bin/pip" install -q -e python/secctl_fastapi
  policy_copy
  local P="$STACK/policy.yaml"
  if [ ! -f "$STACK/pki/ca/chain.crt" ]; then
    log "issuing certificates"
    "$SECCTL" certs issue --policy "$P" --pki-dir "$STACK/pki" >/dev/null
  fi
  log "rendering"
  "$SECCTL" render -p "$P" --out "$STACK/out" >/dev/null
  mkdir -p "$STACK/state/redis"
  spawn redis "$REDIS_PORT" redis-server "$STACK/out/redis/redis.conf"
  wait_until 20 redis redis_ping
  log "redis ready on $REDIS_PORT (TLS, ACL)"
  if ! curl -fsS "http://127.0.0.1:$KC_MGMT/health/ready" >/dev/null 2>&1; then
    port_busy "$KC_PORT" && die "port $KC_PORT (keycloak) is in use by something that is not a ready Keycloak"
    log "starting keycloak (first start takes a minute)"
    bash scripts/keycloak.sh start "$KC_PORT" "$KC_MGMT" >"$STACK/logs/keycloak-start.log" 2>&1 || die "keycloak did not start (see $STACK/logs/keycloak-start.log)"
  fi
  "$SECCTL" keycloak apply -p "$P" >"$STACK/logs/keycloak-apply.log" 2>&1 || die "secctl keycloak apply failed (see $STACK/logs/keycloak-apply.log)"
  log "keycloak realm applied"
  local serve=("$VENV/bin/python" -m secctl_fastapi.serve --ca "$STACK/pki/ca/chain.crt" --crl "$STACK/pki/ca/crl.pem" --trust-domain acme.internal)
  export SECCTL_STACK_DIR="$STACK"
  spawn backend 28001 "${serve[@]}" examples.stack.backend:app --port 28001 \
    --cert "$STACK/pki/services/backend/server-fullchain.crt" --key "$STACK/pki/services/backend/server.key"
  spawn ai 28002 "${serve[@]}" examples.stack.ai:app --port 28002 \
    --cert "$STACK/pki/services/ai/server-fullchain.crt" --key "$STACK/pki/services/ai/server.key"
  wait_until 30 backend mtls_get gateway https://localhost:28001/healthz
  spawn gateway "$GW" nginx -p "$STACK/state" -e "$STACK/state/nginx-error.log" -c "$STACK/out/nginx/nginx.conf" -g "daemon off;"
  wait_until 20 gateway curl -fsS -o /dev/null --cacert "$STACK/pki/ca/chain.crt" "https://localhost:$GW/healthz"
  export SECCTL_STACK_REDIS_PORT=$REDIS_PORT
  spawn worker - "$VENV/bin/python" -m examples.stack.worker
  wait_until 20 worker grep -q ready "$STACK/logs/worker.log"
  log "up: https://localhost:$GW (internal https://localhost:$INTERNAL); keycloak http://127.0.0.1:$KC_PORT"
}

status() {
  local bad=0
  for c in redis backend ai gateway worker; do
    if pid_alive "$c"; then printf '%-9s running (pid %s)\n' "$c" "$(cat "$STACK/pids/$c.pid")"; else printf '%-9s down\n' "$c"; bad=1; fi
  done
  if curl -fsS "http://127.0.0.1:$KC_MGMT/health/ready" >/dev/null 2>&1; then echo "keycloak  ready"; else echo "keycloak  down"; bad=1; fi
  if curl -fsS -o /dev/null --cacert "$STACK/pki/ca/chain.crt" "https://localhost:$GW/healthz" 2>/dev/null; then
    echo "probe     https://localhost:$GW/healthz 200"
  else
    echo "probe     https://localhost:$GW/healthz failed"; bad=1
  fi
  return "$bad"
}

down() {
  for c in worker gateway ai backend redis; do
    if pid_alive "$c"; then
      local pid; pid="$(cat "$STACK/pids/$c.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
      log "$c stopped"
    fi
    rm -f "$STACK/pids/$c.pid"
  done
  if [ -f ".cache/keycloak-$KC_PORT.pid" ]; then bash scripts/keycloak.sh stop "$KC_PORT" >/dev/null 2>&1 || true; log "keycloak stopped"; fi
}

case "${1:-}" in
  up) up ;;
  status) status ;;
  down) down ;;
  env) secrets_env; echo "export SECCTL_STACK_DIR=$STACK"; cat "$STACK/stack.env" ;;
  *) echo "usage: scripts/stack.sh up|status|down|env" >&2; exit 2 ;;
esac
