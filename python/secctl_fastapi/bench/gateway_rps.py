"""Requests/s and latency of the reference app through the gateway (nginx + ModSecurity/CRS), with and
without the FastAPI kit on the backend.

    .venv/bin/python python/secctl_fastapi/bench/gateway_rps.py [--requests 10000] [--duration 30]
        [--connections 16] [--rounds 2] [--port-base 39000] [--dir DIR] [--keep]

A benchmark, not a test: it prints figures and asserts nothing about them, but it refuses to print a
figure for a run in which any response was not 200 (that would measure a 401, 403 or 429 path).

It starts its own stack, never the one of scripts/stack.sh (whose ports are fixed and may be a CI run's):
a copy of policies/local-stack.yaml in DIR (default: a fresh temporary directory) with every port moved
to --port-base + (default port % 1000) and the /api/ route's per-IP and per-user limits raised to the
largest rate `secctl check` accepts (10000r/s, burst 100000), so the limiters still run on every request
but never bind; the shipped policy is not changed. Then: `secctl certs issue`, `secctl render`, Redis
(rendered TLS + ACL), Keycloak (scripts/keycloak.sh, in-memory) + `secctl keycloak apply`, nginx
(rendered), and the backend under `python -m secctl_fastapi.serve` (mTLS, CRL), in turn:

  kit    examples.stack.backend:app: the reference backend, kit installed (mTLS peer, JWT, RBAC, tenant,
         GCRA limiter per user and per IP in one EVALSHA; audit only on denies and admin operations)
  plain  bench/plain_backend.py: the same handler and transport, without the kit

Every measured request is `GET /api/tenants/tenant-a/items` as alice (analyst, tenant-a) with a real
Keycloak token, through the gateway's public TLS listener, over keep-alive connections. The load
generator is wrk (Debian; `apt-get install -y wrk`), bounded by --requests and --duration, on 127.0.0.1
only. wrk does not verify the server certificate, so one curl with the stack's CA checks the same URL
before every run. The token reaches wrk through its environment, never argv. Rounds alternate kit and
plain so that a change in the machine's load hits both.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BENCH = Path(__file__).resolve().parent
SECCTL = REPO / "target" / "debug" / "secctl"
VENV_PY = Path(os.environ.get("SECCTL_TEST_VENV", REPO / ".venv")) / "bin" / "python"
# Every port of policies/local-stack.yaml (and Keycloak's management port, which scripts/keycloak.sh adds).
DEFAULT_PORTS = {"gateway": 28443, "internal": 28445, "http": 28080, "backend": 28001, "ai": 28002, "redis": 26379,
                 "keycloak": 28180, "loki": 28100}
KC_MGMT_DEFAULT = 28190
ROUTE = "/api/tenants/tenant-a/items"

WRK_LUA = """
-- Bounds the run in requests as well as time, sends the token from the environment, and measures the
-- real window: wrk divides by its -d even when a thread stopped early, so req/s is computed from this.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
]]
local function now()
  local ts = ffi.new("bench_timespec")
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
local limit = tonumber(os.getenv("BENCH_MAX_PER_THREAD") or "0")
local n = 0
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
function init(args) t0 = now(); t_last = t0 end
function response(status, headers, body)
  n = n + 1
  t_last = now()
  if limit > 0 and n >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local first, last = math.huge, 0
  for _, th in ipairs(threads) do
    first = math.min(first, th:get("t0"))
    last = math.max(last, th:get("t_last"))
  end
  io.write(string.format("BENCH window %.6f s\\n", last - first))
end
"""


def die(msg: str, code: int = 3) -> None:
    print(f"gateway_rps: error: {msg}", file=sys.stderr)
    raise SystemExit(code)


def port_busy(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(secs: float, what: str, fn, logs: Path) -> None:
    deadline = time.monotonic() + secs
    while True:
        try:
            if fn():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            die(f"{what} did not become ready in {secs:.0f}s (see {logs})")
        time.sleep(0.2)


def policy_variant(d: Path, ports: dict[str, int]) -> Path:
    """A copy of the shipped local-stack policy: own ports, own state paths, /api/ limits that never bind."""
    text = (REPO / "policies" / "local-stack.yaml").read_text()
    for name, old in DEFAULT_PORTS.items():
        text, n = re.subn(rf"\b{old}\b", str(ports[name]), text)
        if name in ("gateway", "backend", "redis", "keycloak") and n == 0:
            die(f"policies/local-stack.yaml no longer uses port {old} for {name}: update this benchmark")
    api_limits = ("      per_ip: { rate: 20r/s, burst: 40 }\n      per_user: { rate: 10r/s, burst: 20 }\n")
    if api_limits not in text:
        die("the /api/ rate limits of policies/local-stack.yaml changed: update this benchmark's policy variant")
    text = text.replace(api_limits, "      per_ip: { rate: 10000r/s, burst: 100000 }\n      per_user: { rate: 10000r/s, burst: 100000 }\n")
    text = text.replace("/tmp/secctl-modsec-audit.json", str(d / "state" / "modsec-audit.json"))
    text = text.replace("/tmp/secctl-audit.log", str(d / "state" / "audit.log"))
    text = re.sub(r"^redis:$", f"redis:\n  secrets_dir: {d / 'secrets'}", text, flags=re.M)
    text += (f"\ndeploy:\n  config_dir: {d / 'out'}\n  pki_dir: {d / 'pki'}\n  state_dir: {d / 'state'}\n"
             f"  secrets_dir: {d / 'secrets'}\n")
    p = d / "policy.yaml"
    p.write_text(text)
    return p


def parse_wrk(out: str) -> dict[str, float]:
    def dur(v: str) -> float:  # wrk prints 812.00us, 1.20ms, 2.00s
        m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v)
        if not m:
            raise ValueError(v)
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]

    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        die(f"{m.group(1)} responses were not 2xx: the run measured a refusal path, not the route\n{out}")
    if m := re.search(r"Socket errors: .*", out):
        die(f"socket errors during the run ({m.group(0)})\n{out}")
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, flags=re.M))
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    window = re.search(r"BENCH window ([\d.]+) s", out)
    if not (pct.get("50") and pct.get("99") and total and window and float(window.group(1)) > 0):
        die(f"could not read wrk's output:\n{out}")
    n, secs = int(total.group(1)), float(window.group(1))
    return {"rps": n / secs, "p50": dur(pct["50"]), "p99": dur(pct["99"]), "n": n, "secs": secs}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Stack:
    def __init__(self, d: Path, ports: dict[str, int], kc_mgmt: int) -> None:
        self.d, self.ports, self.kc_mgmt = d, ports, kc_mgmt
        self.procs: dict[str, subprocess.Popen] = {}
        self.keycloak = False
        self.env = dict(os.environ, SECCTL_STACK_DIR=str(d), NO_COLOR="1",
                        KC_BOOTSTRAP_ADMIN_USERNAME="admin", KC_BOOTSTRAP_ADMIN_PASSWORD=secrets.token_hex(16),
                        SECCTL_TEST_PASSWORD="Aa1!" + secrets.token_hex(16),
                        SECCTL_AI_CLIENT_SECRET=secrets.token_hex(24), SECCTL_WORKER_CLIENT_SECRET=secrets.token_hex(24),
                        PYTHONPATH=os.pathsep.join([str(REPO), str(BENCH)]))
        self.env.pop("SECCTL_POLICY", None)
        self.policy = d / "policy.yaml"
        self.ca = d / "pki" / "ca" / "chain.crt"

    def run(self, *cmd: str, log: str) -> str:
        r = subprocess.run(cmd, env=self.env, cwd=REPO, capture_output=True, text=True)
        (self.d / "logs" / f"{log}.log").write_text(r.stdout + r.stderr)
        if r.returncode != 0:
            die(f"{' '.join(cmd[:3])} failed (exit {r.returncode}); see {self.d / 'logs' / (log + '.log')}")
        return r.stdout

    def spawn(self, name: str, *cmd: str) -> None:
        log = open(self.d / "logs" / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen(cmd, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, name: str) -> None:
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def curl(self, url: str, *extra: str, client: str | None = None) -> int:
        cmd = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(self.ca), *extra, url]
        if client:
            svc = self.d / "pki" / "services" / client
            cmd[1:1] = ["--cert", str(svc / "client-fullchain.crt"), "--key", str(svc / "client.key")]
        r = subprocess.run(cmd, capture_output=True, text=True, env=self.env)
        return int(r.stdout or 0)

    def up(self) -> None:
        d, P = self.d, str(self.policy)
        print(f"stack: {d} (gateway https://localhost:{self.ports['gateway']})", file=sys.stderr)
        self.run(str(SECCTL), "certs", "issue", "--policy", P, "--pki-dir", str(d / "pki"), log="certs")
        self.run(str(SECCTL), "render", "-p", P, "--out", str(d / "out"), log="render")
        (d / "state" / "redis").mkdir(parents=True, exist_ok=True)
        self.spawn("redis", "redis-server", str(d / "out" / "redis" / "redis.conf"))
        svc = d / "pki" / "services" / "backend"

        def redis_ok() -> bool:
            r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.ports["redis"]), "--tls", "--cacert", str(self.ca),
                                "--cert", str(svc / "client-fullchain.crt"), "--key", str(svc / "client.key"), "--user", "backend",
                                "--no-auth-warning", "PING"], capture_output=True, text=True,
                               env=dict(self.env, REDISCLI_AUTH=(d / "secrets" / "redis_backend_password").read_text().strip()))
            return "PONG" in r.stdout
        wait_until(20, "redis", redis_ok, d / "logs")
        print("stack: redis ready; starting keycloak (a minute or more on a busy machine)", file=sys.stderr)
        self.keycloak = True
        self.run("bash", "scripts/keycloak.sh", "start", str(self.ports["keycloak"]), str(self.kc_mgmt), log="keycloak-start")
        self.run(str(SECCTL), "keycloak", "apply", "-p", P, log="keycloak-apply")
        self.spawn("gateway", "nginx", "-p", str(d / "state"), "-e", str(d / "state" / "nginx-error.log"),
                   "-c", str(d / "out" / "nginx" / "nginx.conf"), "-g", "daemon off;")
        wait_until(20, "gateway", lambda: port_busy(self.ports["gateway"]), d / "logs")

    def backend(self, app: str) -> None:
        pki = self.d / "pki"
        self.spawn("backend", str(VENV_PY), "-m", "secctl_fastapi.serve", app, "--port", str(self.ports["backend"]),
                   "--ca", str(pki / "ca" / "chain.crt"), "--crl", str(pki / "ca" / "crl.pem"), "--trust-domain", "acme.internal",
                   "--cert", str(pki / "services" / "backend" / "server-fullchain.crt"),
                   "--key", str(pki / "services" / "backend" / "server.key"))
        wait_until(30, f"backend ({app})", lambda: self.curl(f"https://localhost:{self.ports['backend']}/healthz", client="gateway") == 200, self.d / "logs")

    def token(self) -> str:
        return self.run(str(SECCTL), "keycloak", "token", "-q", "-p", str(self.policy), "--user", "alice", log="token").strip()

    def down(self) -> None:
        for name in ("backend", "gateway", "redis"):
            self.stop(name)
        if self.keycloak:
            subprocess.run(["bash", "scripts/keycloak.sh", "stop", str(self.ports["keycloak"])], cwd=REPO, env=self.env, capture_output=True)
            deadline = time.monotonic() + 30  # `stop` signals and returns: leave only once the ports are free
            while time.monotonic() < deadline and (port_busy(self.ports["keycloak"]) or port_busy(self.kc_mgmt)):
                time.sleep(0.2)


def measure(st: Stack, label: str, a: argparse.Namespace, lua: Path) -> dict[str, float]:
    url = f"https://localhost:{st.ports['gateway']}{ROUTE}"
    tok = st.token()
    # The same request once with certificate verification (wrk does not verify), and it must be a 200.
    code = _curl_with_token(st, url, tok)
    if code != 200:
        die(f"{label}: {ROUTE} through the gateway answered {code}, not 200 (see {st.d / 'logs'})")
    env = dict(os.environ, BENCH_TOKEN=tok, BENCH_MAX_PER_THREAD=str(max(1, a.requests // a.threads)))
    base = ["wrk", "-t", str(a.threads), "-c", str(a.connections), "--timeout", "5s", "--latency", "-s", str(lua)]
    subprocess.run([*base, "-d", f"{a.warmup}s", url], env=dict(env, BENCH_MAX_PER_THREAD="0"), capture_output=True, text=True, timeout=a.warmup + 30)
    before = loadavg()
    r = subprocess.run([*base, "-d", f"{a.duration}s", url], env=env, capture_output=True, text=True, timeout=a.duration + 60)
    if r.returncode != 0:
        die(f"wrk failed: {r.stderr}")
    res = parse_wrk(r.stdout)
    res["load_before"], res["load_after"] = before, loadavg()  # type: ignore[assignment]
    (st.d / "logs" / f"wrk-{label}.txt").write_text(r.stdout)
    return res


def _curl_with_token(st: Stack, url: str, tok: str) -> int:
    # The header through a 0600 config file on stdin, not argv.
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(st.ca), "-K", "-", url],
                       input=f'header = "Authorization: Bearer {tok}"\n', capture_output=True, text=True)
    return int(r.stdout or 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=10000, help="upper bound per measured run (default 10000)")
    ap.add_argument("--duration", type=int, default=30, help="upper bound in seconds per measured run (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load before each run")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: the machine has 2 cores)")
    ap.add_argument("--rounds", type=int, default=2, help="kit/plain pairs, alternating")
    ap.add_argument("--port-base", type=int, default=39000, help="ports are BASE + (default port %% 1000)")
    ap.add_argument("--dir", type=Path, help="state directory (default: a new temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the state directory (logs, wrk output)")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops what this started
    for tool in ("wrk", "nginx", "redis-server", "redis-cli", "curl"):
        if not shutil.which(tool):
            die(f"{tool} not found (apt-get install -y {tool if tool != 'redis-cli' else 'redis-tools'})")
    if not SECCTL.exists():
        die(f"{SECCTL} not found: run `cargo build --bin secctl`")
    if not (1 <= a.connections <= 100):
        die("--connections must be 1..100 (the gateway's limit_conn per IP is 100)", 2)
    ports = {k: a.port_base + v % 1000 for k, v in DEFAULT_PORTS.items()}
    kc_mgmt = a.port_base + KC_MGMT_DEFAULT % 1000
    if busy := [p for p in [*ports.values(), kc_mgmt] if port_busy(p)]:
        die(f"ports in use on 127.0.0.1: {busy}; pick another --port-base")
    d = a.dir or Path(tempfile.mkdtemp(prefix="secctl-bench-gw-"))
    for sub in ("logs", "state", "secrets"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    d.chmod(0o755)  # nginx workers run as nobody when the master is root
    (d / "state").chmod(0o777)
    (d / "secrets").chmod(0o700)
    policy_variant(d, ports)
    lua = d / "bench.lua"
    lua.write_text(WRK_LUA)
    st = Stack(d, ports, kc_mgmt)
    results: list[tuple[str, dict]] = []
    try:
        st.up()
        for rnd in range(a.rounds):
            for label, app in (("kit", "examples.stack.backend:app"), ("plain", "plain_backend:app")):
                st.backend(app)
                try:
                    res = measure(st, f"{label}-{rnd}", a, lua)
                finally:
                    st.stop("backend")
                results.append((label, res))
                print(f"  round {rnd + 1} {label:5} {res['rps']:8.0f} req/s  p50 {res['p50']:7.2f} ms  p99 {res['p99']:7.2f} ms"
                      f"  ({res['n']} requests in {res['secs']:.1f}s; load {res['load_before']} -> {res['load_after']})", file=sys.stderr)
    finally:
        st.down()
        if not a.keep and not a.dir:
            shutil.rmtree(d, ignore_errors=True)
    print(f"GET {ROUTE} through nginx + ModSecurity/CRS (TLS, keep-alive), alice's Keycloak token; wrk -t{a.threads} "
          f"-c{a.connections}, each run at most {a.requests} requests or {a.duration}s; {os.cpu_count()} cores")
    print(f"{'':22}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}   load average (1/5/15 min) before -> after")
    names = {"kit": "backend + kit", "plain": "backend, no kit"}
    for label, res in results:
        print(f"{names[label]:22}{res['rps']:8.0f}{res['p50']:9.2f}{res['p99']:9.2f}   {res['load_before']} -> {res['load_after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
