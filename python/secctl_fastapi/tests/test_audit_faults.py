"""Faults, as they happen in production: the store hard-killed under load, the worker SIGKILLed mid-batch.

Verdict for both: every event produced (``XINFO STREAM entries-added``) is in the store, counted by unique
``event_id``; duplicates are bounded and are exact copies of their original.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict

import redis

from audit_support import Worker, audit_redis_server, audit_store, unshipped, wait_until, worker_config  # noqa: F401
from secctl_fastapi.audit import AuditEmitter
from secctl_fastapi.audit.schema import encode


class Load(threading.Thread):
    """Produces events at ~``rate``/s through the emitter's schema into ``audit:backend`` and ``audit:ai``."""

    def __init__(self, url: str, run_id: str, rate: int) -> None:
        super().__init__(daemon=True)
        self.r = redis.Redis.from_url(url)
        self.run_id = run_id
        self.rate = rate
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        em = {s: AuditEmitter(None, service=s) for s in ("backend", "ai")}
        t0 = time.monotonic()
        while not self.stop.is_set():
            svc = "backend" if self.sent % 3 else "ai"
            doc = em[svc].build("authz.denied", outcome="deny", request_id=f"{self.run_id}-{self.sent}",
                                principal="alice", tenant="t1", route="/api/x", action="GET /api/x", run=self.run_id)
            self.r.xadd(f"audit:{svc}", {"event": encode(doc)})
            self.sent += 1
            ahead = self.sent / self.rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)


def _verdict(store, r, run_id: str) -> tuple[int, int, int]:
    produced = sum(int(r.xinfo_stream(s)["entries-added"]) for s in ("audit:backend", "audit:ai"))
    rows = store.query(f'run:"{run_id}"')
    copies: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        copies[row["event_id"]].append({k: v for k, v in row.items() if k not in ("_stream_id",)})
    for eid, cs in copies.items():
        assert all(c == cs[0] for c in cs), f"duplicates of {eid} differ: {cs}"
    return produced, len(copies), len(rows) - len(copies)


def test_store_hard_killed_under_load_loses_nothing(tmp_path, audit_redis_server, audit_store):
    run_id = f"kill-store-{uuid.uuid4().hex[:8]}"
    r = audit_redis_server.client()
    w = Worker(worker_config(tmp_path / "w.json", audit_redis_server, audit_store, "elasticsearch"), tmp_path / "worker.log")
    load = Load(audit_redis_server.url, run_id, rate=300)
    load.start()
    try:
        time.sleep(4)
        # The kill must land while rows are acknowledged by the store but not yet durable.
        shipped_before = len(audit_store.query(f'run:"{run_id}"'))
        pending_before = r.xpending("audit:backend", "audit-shippers")["pending"]
        assert shipped_before > 0 and pending_before > 0, (shipped_before, pending_before)
        audit_store.kill()
        time.sleep(4)
        audit_store.start()
        time.sleep(4)
        load.stop.set()
        load.join()
        wait_until(lambda: unshipped(r, ["audit:backend", "audit:ai"]) == 0, 60, "worker caught up and acked")
        produced, unique, dups = _verdict(audit_store, r, run_id)
        assert produced == load.sent
        assert unique == produced, f"lost {produced - unique} of {produced}"
        assert dups <= produced, f"{dups} duplicates for {produced} events"
        logs = w.log_lines()
        assert any(l.get("event") == "store restarted: re-sending unconfirmed batches" for l in logs)
        print(f"store kill: produced={produced} unique={unique} duplicates={dups}")
    finally:
        load.stop.set()
        assert w.stop() == 0


def test_worker_sigkilled_mid_batch_loses_nothing(tmp_path, audit_redis_server, audit_store):
    run_id = f"kill-worker-{uuid.uuid4().hex[:8]}"
    r = audit_redis_server.client()
    cfg = worker_config(tmp_path / "w.json", audit_redis_server, audit_store, "loki")
    w = Worker(cfg, tmp_path / "worker-a.log")
    load = Load(audit_redis_server.url, run_id, rate=300)
    load.start()
    b = None
    try:
        time.sleep(4)
        # Mid-batch: events the worker delivered to the store are still unacknowledged in Redis.
        in_store = {row["event_id"] for row in audit_store.query(f'run:"{run_id}"')}
        pending = r.xpending_range("audit:backend", "audit-shippers", "-", "+", 100000, consumername="w1")
        pending_ids = {p["message_id"] for p in pending}
        pending_events = {json.loads(f[b"event"])["event_id"] for i, f in r.xrange("audit:backend") if i in pending_ids}
        assert pending_events & in_store, "the kill would not land mid-batch: nothing delivered-but-unacked"
        w.kill()
        assert not w.alive()
        # A successor under a *new* consumer name must reclaim the dead worker's entries.
        b = Worker(worker_config(tmp_path / "w2.json", audit_redis_server, audit_store, "loki", consumer="w2"),
                   tmp_path / "worker-b.log")
        time.sleep(4)
        load.stop.set()
        load.join()
        wait_until(lambda: unshipped(r, ["audit:backend", "audit:ai"]) == 0, 60, "successor caught up")
        produced, unique, dups = _verdict(audit_store, r, run_id)
        assert unique == produced == load.sent, f"lost {produced - unique} of {produced}"
        assert dups <= produced
        assert any(l.get("event") == "reclaimed entries left pending by another consumer" for l in b.log_lines())
        print(f"worker kill: produced={produced} unique={unique} duplicates={dups}")
    finally:
        load.stop.set()
        if b is not None:
            assert b.stop() == 0
