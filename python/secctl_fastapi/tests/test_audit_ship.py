"""Shipping over both sink protocols into a real VictoriaLogs, read back with LogsQL."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import redis.asyncio as aredis

from audit_support import Worker, audit_redis_server, audit_store, unshipped, wait_until, worker_config  # noqa: F401
from secctl_fastapi.audit import AuditEmitter


async def _emit(url: str, service: str, rid: str, n: int) -> list[dict]:
    r = aredis.Redis.from_url(url)
    em = AuditEmitter(r, service=service)
    docs = []
    for i in range(n):
        docs.append(await em.emit("authz.denied", outcome="deny", request_id=rid, route="/api/admin/",
                                  action="GET /api/admin/users", principal=f"user-{i}", tenant="tenant-a",
                                  source_ip="203.0.113.7"))
    await r.aclose()
    return docs


@pytest.mark.parametrize("protocol", ["loki", "elasticsearch"])
def test_ships_over_protocol_and_queries_back(protocol, tmp_path, audit_redis_server, audit_store):
    rid = f"req-{protocol}-{uuid.uuid4().hex[:8]}"
    docs = asyncio.run(_emit(audit_redis_server.url, "backend", rid, 25))
    docs += asyncio.run(_emit(audit_redis_server.url, "ai", rid, 5))
    w = Worker(worker_config(tmp_path / "w.json", audit_redis_server, audit_store, protocol), tmp_path / "worker.log")
    try:
        rows = wait_until(lambda: (lambda q: q if len(q) >= 30 else None)(audit_store.query(f'request_id:"{rid}"')),
                          20, "30 events queryable")
        assert {r["event_id"] for r in rows} == {d["event_id"] for d in docs}
        one = next(r for r in rows if r["event_id"] == docs[0]["event_id"])
        # Every schema field arrives as a field (not inside _msg), on the low-cardinality stream.
        for k in ("service", "event", "category", "outcome", "principal", "tenant", "route", "action", "source_ip"):
            assert one[k] == str(docs[0][k]), k
        assert one["_stream"] == '{category="authorization",service="backend"}'
        assert one["_msg"] == docs[0]["message"]
        assert one["_time"].startswith(docs[0]["@timestamp"][:19])
        # Durable ack: after the window the entries are acknowledged, and then trimmed from Redis.
        r = audit_redis_server.client()
        wait_until(lambda: unshipped(r, ["audit:backend", "audit:ai"]) == 0, 20, "all entries acked")
        wait_until(lambda: r.xlen("audit:backend") == 0 and r.xlen("audit:ai") == 0, 20, "acked entries trimmed")
        assert w.alive()
    finally:
        assert w.stop() == 0


def test_acks_wait_for_the_durability_window(tmp_path, audit_redis_server, audit_store):
    """Delivered but not yet durable: the entries must still be pending in Redis."""
    rid = f"req-window-{uuid.uuid4().hex[:8]}"
    asyncio.run(_emit(audit_redis_server.url, "backend", rid, 10))
    w = Worker(worker_config(tmp_path / "w.json", audit_redis_server, audit_store, "elasticsearch", ack_delay_seconds=6,
                             reclaim_idle_seconds=20), tmp_path / "worker.log")
    r = audit_redis_server.client()
    try:
        wait_until(lambda: len(audit_store.query(f'request_id:"{rid}"')) == 10, 10, "events in the store")
        pending = r.xpending("audit:backend", "audit-shippers")["pending"]
        assert pending == 10, "acked before the durability window passed"
        wait_until(lambda: unshipped(r, ["audit:backend"]) == 0, 20, "acked after the window")
    finally:
        assert w.stop() == 0


def test_dead_letters_poison_and_ships_the_rest(tmp_path, audit_redis_server, audit_store):
    r = audit_redis_server.client()
    rid = f"req-dead-{uuid.uuid4().hex[:8]}"
    asyncio.run(_emit(audit_redis_server.url, "backend", rid, 3))
    old = {"event_id": "old-1", "@timestamp": "2020-01-01T00:00:00.000Z", "service": "backend", "event": "auth.failure",
           "category": "authentication", "outcome": "deny", "request_id": rid, "message": "too old"}
    r.xadd("audit:backend", {"event": json.dumps(old)})  # a 200 with nothing stored if shipped: must be dead-lettered
    r.xadd("audit:backend", {"event": "{not json"})
    r.xadd("audit:backend", {"x": "no event field"})
    asyncio.run(_emit(audit_redis_server.url, "backend", rid, 3))
    w = Worker(worker_config(tmp_path / "w.json", audit_redis_server, audit_store, "elasticsearch"), tmp_path / "worker.log")
    try:
        wait_until(lambda: len(audit_store.query(f'request_id:"{rid}"')) == 6, 15, "the good events")
        wait_until(lambda: r.xlen("audit:dead") == 3, 10, "three dead letters")
        reasons = sorted(f[b"reason"].decode()[:20] for _, f in r.xrange("audit:dead"))
        assert any("older than" in x for x in [f[b"reason"].decode() for _, f in r.xrange("audit:dead")])
        assert len(reasons) == 3
        wait_until(lambda: unshipped(r, ["audit:backend"]) == 0, 20, "everything acked")
    finally:
        assert w.stop() == 0


def test_memory_is_bounded_while_the_store_is_down(tmp_path, audit_redis_server, audit_store):
    """With the store down the worker holds at most max_in_flight_events; Redis buffers the rest."""
    audit_store.kill()
    rid = f"req-bound-{uuid.uuid4().hex[:8]}"
    asyncio.run(_emit(audit_redis_server.url, "backend", rid, 400))
    w = Worker(worker_config(tmp_path / "w.json", audit_redis_server, audit_store, "elasticsearch", batch_max_events=20, ack_delay_seconds=1,
                             max_in_flight_events=50), tmp_path / "worker.log")
    r = audit_redis_server.client()
    try:
        wait_until(lambda: sum(1 for l in w.log_lines() if l.get("event") == "audit lag") >= 3, 20, "three lag reports")
        lags = [l for l in w.log_lines() if l.get("event") == "audit lag"]
        assert max(l["held"] for l in lags) <= 50
        assert lags[-1]["unshipped"] == 400 and lags[-1]["streams"]["audit:backend"]["lag"] >= 350
        assert any(l.get("event") == "store push failed; backing off" for l in w.log_lines())
        audit_store.start()
        wait_until(lambda: len(audit_store.query(f'request_id:"{rid}"')) == 400, 60, "all 400 after the store is back")
        wait_until(lambda: unshipped(r, ["audit:backend"]) == 0, 30, "acked")
    finally:
        assert w.stop() == 0


def test_cli_exit_codes(tmp_path, audit_redis_server, audit_store):
    import subprocess
    import sys

    def run(cfg) -> subprocess.CompletedProcess:
        p = tmp_path / "c.json"
        p.write_text(json.dumps(cfg) if not isinstance(cfg, str) else cfg)
        return subprocess.run([sys.executable, "-m", "secctl_fastapi.worker.tasks.audit", "--config", str(p)],
                              capture_output=True, text=True, timeout=30)

    good = json.loads(worker_config(tmp_path / "g.json", audit_redis_server, audit_store, "loki").read_text())
    bad_json = run("{not json")
    assert bad_json.returncode == 2 and "c.json:1:2" in bad_json.stderr
    literal = run({**good, "sink": {**good["sink"], "password": "hunter2"}})
    assert literal.returncode == 2 and "never a literal" in literal.stderr and "hunter2" not in literal.stderr
    no_ca = run({**good, "sink": {**good["sink"], "ca_file": str(tmp_path / "missing.pem")}})
    assert no_ca.returncode == 2 and "missing.pem" in no_ca.stderr
    down = run({**good, "redis": {"url": "redis://127.0.0.1:1/0"}})
    assert down.returncode == 3 and "cannot reach Redis" in down.stderr
