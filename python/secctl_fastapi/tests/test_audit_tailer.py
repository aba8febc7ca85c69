"""The gateway tailer: durable file position, rotation, partial lines, and the emitter's fail modes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time

import pytest
import redis.asyncio as aredis

from audit_support import RedisServer, audit_redis_server, free_port  # noqa: F401
from secctl_fastapi.audit import AuditEmitter, AuditUnavailable, audit_redis
from secctl_fastapi.worker.tailer import GatewayTailer


class _Log:
    def warning(self, *a, **k): pass
    def info(self, *a, **k): pass


def _line(i: int, status: int = 200) -> str:
    return json.dumps({"msec": f"{time.time():.3f}", "request_id": f"r{i}", "method": "GET", "uri": f"/p/{i}",
                       "status": status, "remote_addr": "198.51.100.1"}) + "\n"


def _ids(r) -> list[str]:
    return [json.loads(f[b"event"])["request_id"] for _, f in r.xrange("audit:gateway")]


def test_position_is_durable_and_rotation_loses_nothing(tmp_path, audit_redis_server):
    r = audit_redis_server.client()
    path = tmp_path / "access.json"
    events = frozenset({"access", "rate-limit"})
    path.write_text("".join(_line(i) for i in range(3)) + _line(3)[:20])  # r3 is half-written
    t = GatewayTailer(r, "audit:gateway", "audit:cursor:files", {"nginx": str(path)}, events, _Log())
    assert t.poll() == 3
    with open(path, "a") as f:
        f.write(_line(3)[20:] + _line(4, 429))
    assert t.poll() == 2
    # A restart (new tailer, same Redis) resumes at the stored position: nothing repeated.
    t = GatewayTailer(r, "audit:gateway", "audit:cursor:files", {"nginx": str(path)}, events, _Log())
    assert t.poll() == 0
    # Rotation by rename while running: the tail of the old file is drained, then the new file is read.
    with open(path, "a") as f:
        f.write(_line(5))
    os.rename(path, str(path) + ".1")
    path.write_text(_line(6))
    for _ in range(3):
        t.poll()
    # Rotation while the tailer was down: the old file is found as <path>.1 and drained first.
    with open(path, "a") as f:
        f.write(_line(7))
    os.rename(path, str(path) + ".1")
    path.write_text(_line(8))
    t = GatewayTailer(r, "audit:gateway", "audit:cursor:files", {"nginx": str(path)}, events, _Log())
    for _ in range(3):
        t.poll()
    # copytruncate: the file shrinks in place.
    path.write_text(_line(9))
    for _ in range(3):
        t.poll()
    assert _ids(r) == [f"r{i}" for i in range(10)]
    kinds = [json.loads(f[b"event"])["event"] for _, f in r.xrange("audit:gateway")]
    assert kinds[4] == "ratelimit.hit"


def test_policy_events_filter_the_gateway_lines(tmp_path, audit_redis_server):
    r = audit_redis_server.client()
    path = tmp_path / "access.json"
    path.write_text(_line(0, 200) + _line(1, 429) + _line(2, 403) + "not json\n")
    t = GatewayTailer(r, "audit:gateway", "audit:cursor:files", {"nginx": str(path)}, frozenset({"rate-limit"}), _Log())
    t.poll()
    got = [json.loads(f[b"event"]) for _, f in r.xrange("audit:gateway")]
    assert [g["event"] for g in got] == ["ratelimit.hit", "gateway.unparsable"]


def test_admin_events_fail_closed_and_others_fail_open_when_redis_is_down(tmp_path):
    port = free_port()  # nothing listens here: Redis is down
    err = io.StringIO()

    async def go() -> float:
        r = audit_redis(f"redis://127.0.0.1:{port}/0")
        em = AuditEmitter(r, service="backend", stderr=err)
        t0 = time.monotonic()
        with pytest.raises(AuditUnavailable):
            await em.emit("admin.operation", outcome="allow", request_id="r-admin", action="DELETE /api/admin/users/7")
        doc = await em.emit("authz.denied", outcome="deny", request_id="r-open", password="pw-should-not-leak")
        await r.aclose()
        assert doc["password"] == "[REDACTED]"
        return time.monotonic() - t0

    elapsed = asyncio.run(go())
    assert elapsed < 1.5, f"the audit path stalled {elapsed:.1f}s with Redis down (client retries on?)"
    out = err.getvalue()
    assert out.startswith("AUDIT-UNQUEUED ") and '"request_id":"r-open"' in out and "pw-should-not-leak" not in out
    assert "r-admin" not in out


def test_an_unreadable_log_is_reported_and_retried(tmp_path, audit_redis_server):
    r = audit_redis_server.client()
    path = tmp_path / "access.json"
    path.mkdir()  # not a file (root reads any mode, so a directory stands in for "unreadable")
    log = _Log()
    seen = []
    log.warning = lambda *a, **k: seen.append((a, k))
    t = GatewayTailer(r, "audit:gateway", "audit:cursor:files", {"nginx": str(path)}, frozenset({"access"}), log)
    assert t.poll() == 0
    assert seen and seen[0][0][0] == "cannot read gateway log; retrying"
    path.rmdir()
    path.write_text(_line(0))
    assert t.poll() == 1
