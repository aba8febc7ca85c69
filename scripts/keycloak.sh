#!/usr/bin/env bash
# Fetch, start and stop a pinned Keycloak for secctl's integration tests and benchmark.
#
#   scripts/keycloak.sh fetch                 download (Maven Central via mvn, cached in ~/.m2), unpack to .cache/
#                                             and build it once (`kc.sh build`) for `start --optimized`
#   scripts/keycloak.sh home                  print the built Keycloak home
#   scripts/keycloak.sh java-home             print the JAVA_HOME Keycloak runs on
#   scripts/keycloak.sh run PORT MGMT [DATA]  run `start --optimized` in the foreground on 127.0.0.1 (exec: the pid is
#                                             Keycloak's). DATA empty: in-memory H2; else a file H2 under DATA
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
# Build-time options, fixed once: `start --optimized` refuses to run when they differ, and start-dev
# re-ran this augmentation on every start (25 s idle, 60-200 s under load here).
KC_BUILD_OPTS=(--db=dev-file --health-enabled=true)
KC_BUILT="$CACHE/keycloak-$KC_VERSION-built"
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
}

# The distribution after `kc.sh build`: every instance starts from a copy with `--optimized`, so no
# start pays for Quarkus augmentation again. A stamp records the options it was built with.
build() {
  local stamp="$KC_BUILT/.secctl-build" want="${KC_BUILD_OPTS[*]}"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  fetch
  local tmp; tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
  cp -a "$KC_HOME" "$tmp/kc"
  JAVA_HOME="$(pick_java)" "$tmp/kc/bin/kc.sh" build "${KC_BUILD_OPTS[@]}" >"$tmp/build.log" 2>&1 || {
    echo "kc.sh build failed; log: $tmp/build.log" >&2; return 1; }
  echo "$want" >"$tmp/kc/.secctl-build"
  rm -rf "$KC_BUILT"
  mv "$tmp/kc" "$KC_BUILT"
  rm -rf "$tmp"
}

run() {
  local port="$1" mgmt="$2" data="${3:-}"
  build
  # Each instance runs from its own copy of the built distribution (about 1 s), so instances never
  # share Keycloak's data/ and tmp directories.
  local inst
  if [ -n "$data" ]; then inst="$data/keycloak"; else inst="$CACHE/run/keycloak-$port"; rm -rf "$inst"; fi
  if [ ! -f "$inst/.secctl-build" ] || [ "$(cat "$inst/.secctl-build")" != "${KC_BUILD_OPTS[*]}" ]; then
    rm -rf "$inst"; mkdir -p "$(dirname "$inst")"; cp -a "$KC_BUILT" "$inst.tmp.$$"; mv "$inst.tmp.$$" "$inst"
  fi
  # H2 in memory (a fresh realm store per run) or in a file under DATA (survives a restart).
  # NON_KEYWORDS=VALUE: Keycloak's Liquibase changelogs use VALUE as a column name.
  local url="jdbc:h2:mem:kc-$port;DB_CLOSE_DELAY=-1;NON_KEYWORDS=VALUE"
  if [ -n "$data" ]; then mkdir -p "$data"; url="jdbc:h2:file:$data/keycloakdb;NON_KEYWORDS=VALUE"; fi
  export JAVA_HOME; JAVA_HOME="$(pick_java)"
  export JAVA_OPTS_KC_HEAP="${JAVA_OPTS_KC_HEAP:--Xms64m -Xmx768m}"
  # Production mode on plain HTTP, loopback only: the tests and the loopback stack reach it as
  # http://127.0.0.1:PORT, and --hostname pins the token issuer to that URL.
  exec "$inst/bin/kc.sh" start --optimized --http-enabled=true --http-host=127.0.0.1 --http-port="$port" \
    --http-management-port="$mgmt" --hostname="http://127.0.0.1:$port" "--db-url=$url"
}

case "${1:-}" in
  fetch) fetch; build ;;
  home) echo "$KC_BUILT" ;;
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
