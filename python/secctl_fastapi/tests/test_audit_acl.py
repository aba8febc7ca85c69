"""Audit-stream ACLs against real Redis 7 loaded with the users.acl `secctl render` wrote for the reference policy.

A producer may only XADD to its own stream: it cannot read, trim or delete any audit stream, nor write
another service's. The worker can do its whole job (the shipping test below runs it as the `worker` user).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import redis
import redis.asyncio as aredis

from audit_support import REPO, RedisServer, Worker, audit_store, unshipped, wait_until, worker_config  # noqa: F401
from secctl_fastapi.audit import AuditEmitter


def _secctl() -> str:
    p = os.environ.get("SECCTL_BIN") or str(REPO / "target" / "debug" / "secctl")
    if not os.access(p, os.X_OK):
        pytest.fail(f"secctl binary not found at {p}: run `cargo build` (CI runs cargo test first) or set SECCTL_BIN")
    return p


@pytest.fixture
def acl_redis(tmp_path: Path):
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(REPO / "policies" / "reference.yaml", proj / "secctl.yaml")
    out = subprocess.run([_secctl(), "render", "-p", "secctl.yaml", "--out", "generated"], cwd=proj, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "(%W~audit:backend +xadd)" in (proj / "generated" / "redis" / "users.acl").read_text()
    secrets = proj / "secrets" / "redis"
    srv = RedisServer(tmp_path, aclfile=secrets / "redis_users_acl")
    pw = {u: (secrets / f"redis_{u}_password").read_text().strip() for u in ("backend", "ai", "worker")}
    yield srv, pw, proj
    srv.stop()


def _denied(fn, *args):
    with pytest.raises(redis.exceptions.NoPermissionError) as e:
        fn(*args)
    return str(e.value)


def test_producer_cannot_read_trim_delete_or_write_other_streams(acl_redis):
    srv, pw, _ = acl_redis
    w = srv.client(username="worker", password=pw["worker"])
    w.xgroup_create("audit:ai", "audit-shippers", id="0", mkstream=True)
    b = srv.client(username="backend", password=pw["backend"])
    # The server is up and the producer's own write works: every refusal below is the ACL's.
    assert b.xadd("audit:backend", {"event": "{}"})
    assert w.xadd("audit:ai", {"event": "{}"})
    for cmd in (("XRANGE", "audit:backend", "-", "+"), ("XREAD", "STREAMS", "audit:backend", "0"),
                ("XREADGROUP", "GROUP", "audit-shippers", "b", "STREAMS", "audit:ai", ">"), ("XLEN", "audit:ai"),
                ("XTRIM", "audit:backend", "MAXLEN", "0"), ("XTRIM", "audit:ai", "MAXLEN", "0"),
                ("DEL", "audit:backend"), ("DEL", "audit:ai"), ("XDEL", "audit:ai", "0-1"),
                ("XADD", "audit:ai", "*", "event", "{}"), ("XADD", "audit:ai", "MAXLEN", "0", "*", "event", "x"),
                ("RENAME", "audit:ai", "x"), ("XGROUP", "DESTROY", "audit:ai", "audit-shippers"),
                ("EXPIRE", "audit:backend", "1"), ("UNLINK", "audit:ai"), ("KEYS", "audit:*")):
        msg = _denied(b.execute_command, *cmd)
        assert "no permissions" in msg, (cmd, msg)  # redis-py strips the NOPERM prefix
    # Nothing was lost by the attempts.
    assert w.xlen("audit:backend") == 1 and w.xlen("audit:ai") == 1
    # The worker may not delete streams either.
    assert "no permissions to access one of the keys" in _denied(w.execute_command, "DEL", "audit:backend")
    assert w.xlen("audit:backend") == 1


def test_pipeline_runs_under_the_rendered_acl(tmp_path, acl_redis, audit_store):
    srv, pw, proj = acl_redis
    (tmp_path / "worker_pw").write_text(pw["worker"] + "\n")
    rid = f"req-acl-{uuid.uuid4().hex[:8]}"

    async def emit() -> None:
        r = aredis.Redis(host="127.0.0.1", port=srv.port, username="backend", password=pw["backend"])
        em = AuditEmitter(r, service="backend")
        for _ in range(20):
            await em.emit("tenant.denied", outcome="deny", request_id=rid, principal="alice", tenant="t2")
        await r.aclose()

    asyncio.run(emit())
    cfg = worker_config(tmp_path / "w.json", srv, audit_store, "elasticsearch",
                        redis={"url": srv.url, "username": "worker", "password": {"file": str(tmp_path / "worker_pw")}})
    w = Worker(cfg, tmp_path / "worker.log")
    try:
        wait_until(lambda: len(audit_store.query(f'request_id:"{rid}"')) == 20, 20, "events shipped as the worker user")
        r = srv.client(username="worker", password=pw["worker"])
        wait_until(lambda: unshipped(r, ["audit:backend"]) == 0 and r.xlen("audit:backend") == 0, 20, "acked and trimmed")
        assert "NOPERM" not in (tmp_path / "worker.log").read_text()
    finally:
        assert w.stop() == 0
