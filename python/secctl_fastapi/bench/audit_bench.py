"""Audit pipeline benchmark: prints figures, asserts nothing.

    PYTHONPATH=python/secctl_fastapi/src:python/secctl_fastapi/tests .venv/bin/python \
        python/secctl_fastapi/bench/audit_bench.py [--events 100000] [--batch 500] [--protocol elasticsearch]

1. Throughput: a backlog of N events is written to two service streams, then the real worker task
   (subprocess, as deployed) drains it into a real VictoriaLogs; events/s = N / time until the store
   holds all N (and separately, until all are durably acknowledged, which adds the ack delay).
2. Latency: events emitted one by one at a steady rate through the emitter (XADD), timed until each is
   returned by a LogsQL query; p50/p99 of "emit -> queryable". It includes the store's ~1 s flush
   into searchable parts, so it is the latency a person querying the store sees.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import redis

from audit_support import RedisServer, VictoriaLogs, Worker, unshipped, worker_config  # type: ignore[import-not-found]
from secctl_fastapi.audit import AuditEmitter
from secctl_fastapi.audit.schema import encode


def count(store: VictoriaLogs, run: str) -> int:
    r = httpx.post(store.url + "/select/logsql/query", data={"query": f'run:"{run}" | stats count() as n'}, timeout=30)
    lines = [json.loads(x) for x in r.text.splitlines() if x.strip()]
    return int(lines[0]["n"]) if lines else 0


def throughput(tmp: Path, n: int, batch: int, protocol: str) -> None:
    rds = RedisServer(tmp)
    store = VictoriaLogs(tmp / "vl-tp")
    store.start()
    r = rds.client()
    run = f"tp-{uuid.uuid4().hex[:8]}"
    em = {s: AuditEmitter(None, service=s) for s in ("backend", "ai")}
    t0 = time.perf_counter()
    p = r.pipeline(transaction=False)
    for i in range(n):
        s = "backend" if i % 2 else "ai"
        p.xadd(f"audit:{s}", {"event": encode(em[s].build("authz.denied", outcome="deny", request_id=f"{run}-{i}", principal="alice",
                                                     tenant="t1", route="/api/items", action="GET /api/items", run=run))})
        if i % 1000 == 999:
            p.execute()
    p.execute()
    fill = time.perf_counter() - t0
    print(f"backlog: {n} events written in {fill:.2f} s ({n / fill:,.0f} events/s, pipelined XADD)")
    w = Worker(worker_config(tmp / "tp.json", rds, store, protocol, batch_max_events=batch, max_in_flight_events=max(200_000, batch),
                             lag_log_interval_seconds=5), tmp / "tp-worker.log")
    t0 = time.perf_counter()
    stored = 0
    while stored < n:
        time.sleep(0.25)
        httpx.get(store.url + "/internal/force_flush", timeout=10)
        stored = count(store, run)
        if time.perf_counter() - t0 > 600:
            break
    t_store = time.perf_counter() - t0
    while unshipped(r, ["audit:backend", "audit:ai"]) and time.perf_counter() - t0 < 600:
        time.sleep(0.1)
    t_ack = time.perf_counter() - t0
    w.stop()
    print(f"throughput ({protocol}, batch {batch}): {n} events in the store after {t_store:.2f} s = {n / t_store:,.0f} events/s; "
          f"all durably acked after {t_ack:.2f} s (includes the {5} s ack delay)")
    store.stop()
    rds.stop()


def latency(tmp: Path, n: int, rate: float, protocol: str) -> None:
    rds = RedisServer(tmp)
    store = VictoriaLogs(tmp / "vl-lat")
    store.start()
    run = f"lat-{uuid.uuid4().hex[:8]}"
    w = Worker(worker_config(tmp / "lat.json", rds, store, protocol), tmp / "lat-worker.log")
    time.sleep(1.0)
    r = rds.client()
    em = AuditEmitter(None, service="backend")
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            resp = httpx.post(store.url + "/select/logsql/query", data={"query": f'run:"{run}" | fields request_id'}, timeout=30)
            now = time.perf_counter()
            for ln in resp.text.splitlines():
                if ln.strip():
                    seen.setdefault(json.loads(ln)["request_id"], now)
            time.sleep(0.02)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    for i in range(n):
        rid = f"{run}-{i}"
        doc = em.build("auth.failure", outcome="deny", request_id=rid, run=run)
        sent[rid] = time.perf_counter()
        r.xadd("audit:backend", {"event": encode(doc)})
        time.sleep(1.0 / rate)
    deadline = time.perf_counter() + 30
    while len(seen) < n and time.perf_counter() < deadline:
        time.sleep(0.1)
    stop.set()
    th.join()
    w.stop()
    lat = sorted(seen[k] - sent[k] for k in sent if k in seen)
    q = statistics.quantiles(lat, n=100)
    print(f"latency emit -> queryable ({protocol}, {len(lat)}/{n} events at {rate:.0f}/s, query poll every ~20 ms): "
          f"p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms")
    store.stop()
    rds.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--protocol", default="elasticsearch", choices=["elasticsearch", "loki"])
    ap.add_argument("--latency-events", type=int, default=300)
    ap.add_argument("--rate", type=float, default=50)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        throughput(Path(d), a.events, a.batch, a.protocol)
        latency(Path(d), a.latency_events, a.rate, a.protocol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
