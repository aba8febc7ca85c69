#!/usr/bin/env bash
# Fetch, start and stop a pinned Keycloak for secctl's integration tests and benchmark.
#
#   scripts/keycloak.sh fetch                 download (Maven Central via mvn, cached in ~/.m2) and unpack to .cache/
#   scripts/keycloak.sh home                  print the unpacked Keycloak home
#   scripts/keycloak.sh java-home             print the JAVA_HOME Keycloak runs on
#   scripts/keycloak.sh run PORT MGMT [DATA]  run start-dev in the foreground on 127.0.0.1 (exec: the pid is Keycloak's)
#                                             DATA empty: in-memory DB; else a file DB under DATA
#   scripts/keycloak.sh start PORT MGMT [DATA] run in the background, wait until ready, write .cache/keycloak-PORT.pid
#   scripts/keycloak.sh stop PORT             stop what `start` started
#
# The bootstrap admin comes from KC_BOOTSTRAP_ADMIN_USERNAME / KC_BOOTSTRAP_ADMIN_PASSWORD (env, never argv).
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: the newest 26.x Maven Central serves here. 26.6+ is supported on JDK 25 (Temurin 25 below).
KC_VERSION="${SECCTL_KEYCLOAK_VERSION:-26.7.3}"
CACHE="$PWD/.cache"
KC_HOME="$CACHE/keycloak-$KC_VERSION"
pick_java() {
  for j in "${SECCTL_KEYCLOAK_JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/java-21-openjdk-amd64; do
    if [ -n "$j" ] && [ -x "$j/bin/java" ]; then echo "$j"; return 0; fi
  done
  echo "no JDK 21/25 found for Keycloak $KC_VERSION (install Temurin 25 or set SECCTL_KEYCLOAK_JAVA_HOME)" >&2
  return 1
}

fetch() {
  mkdir -p "$CACHE"
  if [ -x "$KC_HOME/bin/kc.sh" ]; then return 0; fi
  local zip="$CACHE/keycloak-quarkus-dist-$KC_VERSION.zip"
  if [ ! -f "$zip" ]; then
    mvn -q -B dependency:copy "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KC_VERSION:zip" "-DoutputDirectory=$CACHE"
  fi
  local tmp; tmp="$(mktemp -d "$CACHE/unpack.XXXXXX")"
  unzip -q "$zip" -d "$tmp"
  mv "$tmp/keycloak-$KC_VERSION" "$KC_HOME"
  rmdir "$tmp"
  # No `kc.sh build` here: start-dev re-runs Quarkus augmentation on every start (~25 s measured
  # here), so a pre-build would be wasted. Check that a usable JDK exists now rather than later.
  pick_java >/dev/null
}

run() {
  local port="$1" mgmt="$2" data="${3:-}"
  [ -x "$KC_HOME/bin/kc.sh" ] || fetch
  # start-dev re-runs Quarkus augmentation, which rewrites lib/quarkus in the install: two
  # instances sharing one install corrupt each other (ClassNotFoundException at start). So each
  # instance runs from its own copy; the unpacked distribution itself is never run.
  local inst
  if [ -n "$data" ]; then inst="$data/keycloak"; else inst="$CACHE/run/keycloak-$port"; rm -rf "$inst"; fi
  if [ ! -x "$inst/bin/kc.sh" ]; then mkdir -p "$(dirname "$inst")"; cp -a "$KC_HOME" "$inst.tmp.$$"; mv "$inst.tmp.$$" "$inst"; fi
  local db=(--db=dev-mem)
  if [ -n "$data" ]; then mkdir -p "$data"; db=(--db=dev-file "--db-url=jdbc:h2:file:$data/keycloakdb;NON_KEYWORDS=VALUE"); fi
  export JAVA_HOME; JAVA_HOME="$(pick_java)"
  export JAVA_OPTS_KC_HEAP="${JAVA_OPTS_KC_HEAP:--Xms64m -Xmx768m}"
  exec "$inst/bin/kc.sh" start-dev --http-host=127.0.0.1 --http-port="$port" \
    --http-management-port="$mgmt" --health-enabled=true \
    --hostname="http://127.0.0.1:$port" "${db[@]}"
}

case "${1:-}" in
  fetch) fetch ;;
  home) echo "$KC_HOME" ;;
  java-home) pick_java ;;
  run) shift; run "$@" ;;
  start)
    shift; port="$1"; mgmt="$2"
    log="$CACHE/keycloak-$port.log"
    setsid bash "$0" run "$@" >"$log" 2>&1 &
    echo $! >"$CACHE/keycloak-$port.pid"
    for _ in $(seq 1 "${SECCTL_KEYCLOAK_READY_TIMEOUT:-600}"); do
      if curl -fsS "http://127.0.0.1:$mgmt/health/ready" >/dev/null 2>&1; then echo "keycloak ready on http://127.0.0.1:$port"; exit 0; fi
      sleep 1
    done
    echo "keycloak did not become ready in ${SECCTL_KEYCLOAK_READY_TIMEOUT:-600} s; log: $log" >&2; exit 1 ;;
  stop)
    pidf="$CACHE/keycloak-$2.pid"
    if [ -f "$pidf" ]; then kill -- "-$(cat "$pidf")" 2>/dev/null || kill "$(cat "$pidf")" 2>/dev/null || true; rm -f "$pidf"; fi ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
