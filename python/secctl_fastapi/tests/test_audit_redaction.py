"""No secret reaches the store: tokens, passwords and cookies from every source, found by grepping a dump."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import uuid

import redis.asyncio as aredis

from audit_support import Worker, audit_redis_server, audit_store, unshipped, wait_until, worker_config  # noqa: F401
from secctl_fastapi.audit import AuditEmitter, configure_logging, redact

JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsInRlbmFudCI6InQxIn0.c2lnbmF0dXJlLXNlY3JldC0xMjM0"
OPAQUE = "opaque-bearer-Zx81kQ"
PASSWORD = "hunter2-Pw-77a"
COOKIE = "sid-cookie-value-9f3e"
QUERY_TOKEN = "query-token-q55"
SECRETS = (JWT, "eyJhbGciOiJSUzI1NiIs", OPAQUE, PASSWORD, COOKIE, QUERY_TOKEN)


def test_redact_by_key_and_by_value():
    doc = {"headers": {"Authorization": f"Bearer {OPAQUE}", "Cookie": f"sid={COOKIE}", "X-Api-Key": "k"},
           "body": {"username": "alice", "password": PASSWORD, "new_passwd": PASSWORD},
           "note": f"called with {JWT}", "url": f"/cb?code=abc&access_token={QUERY_TOKEN}&page=2",
           "token_id": "tid-1", "nested": [[{"client_secret": "s"}]], "free": f"Authorization: Basic {OPAQUE}"}
    out = json.dumps(redact(doc))
    for s in SECRETS:
        assert s not in out, s
    red = redact(doc)
    assert red["body"]["username"] == "alice" and red["token_id"] == "tid-1"  # identifiers stay
    assert red["url"] == "/cb?code=[REDACTED]&access_token=[REDACTED]&page=2"


def test_structlog_output_is_redacted():
    buf = io.StringIO()
    log = configure_logging("backend", stream=buf)
    log.info("login", authorization=f"Bearer {OPAQUE}", password=PASSWORD, detail=f"jwt={JWT}", cookie=COOKIE)
    line = json.loads(buf.getvalue())
    assert line["event"] == "login" and line["service"] == "backend" and "@timestamp" in line
    for s in SECRETS:
        assert s not in buf.getvalue()


MODSEC = {"transaction": {
    "client_ip": "203.0.113.9", "time_stamp": "Wed Dec  2 12:52:50 2026", "unique_id": "rid-waf-1",
    "request": {"method": "GET", "uri": f"/api/items?id=1%27%20OR%201=1&access_token={QUERY_TOKEN}",
                "headers": {"Authorization": f"Bearer {JWT}", "Cookie": f"session={COOKIE}", "Host": "api.acme.example"}},
    "response": {"http_code": 403},
    "messages": [{"message": "SQL Injection Attack", "details": {"ruleId": "942100", "data": f"Matched Cookie: session={COOKIE}"}},
                 {"message": "Inbound Anomaly Score Exceeded", "details": {"ruleId": "949110", "data": ""}}]}}


def test_no_secret_in_a_full_store_dump(tmp_path, audit_redis_server, audit_store):
    rid = f"req-red-{uuid.uuid4().hex[:8]}"
    access = tmp_path / "nginx-access.json"
    modsec = tmp_path / "modsec-audit.json"
    access.write_text(json.dumps({"time": "2026-12-02T12:52:50+00:00", "msec": f"{time.time():.3f}", "remote_addr": "203.0.113.9",
                                  "request_id": "rid-waf-1", "method": "GET", "uri": "/api/items", "status": 403}) + "\n")
    modsec.write_text(json.dumps(MODSEC) + "\n")

    async def emit() -> None:
        r = aredis.Redis.from_url(audit_redis_server.url)
        em = AuditEmitter(r, service="backend")
        # A sloppy call site that passes raw headers and the body: the emitter must still redact.
        await em.emit("auth.failure", outcome="deny", request_id=rid, route="/login", action="POST /login",
                      principal="alice", source_ip="203.0.113.9",
                      headers={"authorization": f"Bearer {OPAQUE}", "cookie": f"sid={COOKIE}"},
                      request_body={"username": "alice", "password": PASSWORD}, reason=f"bad token {JWT}")
        await r.aclose()

    asyncio.run(emit())
    # Keycloak-shaped and raw producer events bypassing the emitter: the worker redacts again.
    sr = audit_redis_server.client()
    raw = {"event_id": str(uuid.uuid4()), "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
           "service": "ai", "event": "auth.failure", "category": "authentication", "outcome": "deny", "request_id": rid,
           "message": f"Authorization: Bearer {OPAQUE}", "password": PASSWORD, "url": f"/x?token={QUERY_TOKEN}"}
    sr.xadd("audit:ai", {"event": json.dumps(raw)})
    cfg = worker_config(tmp_path / "w.json", audit_redis_server, audit_store, "elasticsearch",
                        gateway={"nginx_access_log": str(access), "modsec_audit_log": str(modsec)})
    w = Worker(cfg, tmp_path / "worker.log")
    try:
        wait_until(lambda: len(audit_store.query(f'request_id:"{rid}"')) == 2, 15, "backend and ai events")
        waf = wait_until(lambda: audit_store.query('request_id:"rid-waf-1"'), 15, "gateway events")
        waf = wait_until(lambda: (lambda q: q if len(q) == 2 else None)(audit_store.query('request_id:"rid-waf-1"')), 15,
                         "the nginx and ModSecurity records of one request")
        by = {r["source"]: r for r in waf}
        assert by["modsecurity"]["event"] == "waf.block" and by["modsecurity"]["waf_rule_ids"] == "942100,949110"
        assert by["nginx"]["event"] == "gateway.denied" and by["nginx"]["outcome"] == "deny"
        wait_until(lambda: unshipped(sr, ["audit:backend", "audit:ai", "audit:gateway"]) == 0, 20, "acked")
        dump = audit_store.dump()
        assert dump.count("\n") >= 4
        for s in SECRETS:
            assert s not in dump, f"secret {s!r} reached the store"
        assert "[REDACTED]" in dump
    finally:
        assert w.stop() == 0
    # The worker's own log carries no secret either.
    text = (tmp_path / "worker.log").read_text()
    for s in SECRETS:
        assert s not in text


def test_fast_path_never_skips_a_document_that_needs_redaction():
    """The worker ships clean events without re-redacting them; its detector must be a superset of redact."""
    import random

    from secctl_fastapi.audit.redact import may_need_redaction

    rng = random.Random(7)
    keys = ["event", "Authorization", "x-api-key", "PassWord", "note", "url", "token_id", "SESSION_ID", "privateKey", "otp_code", "category"]
    vals = ["ok", f"Bearer {OPAQUE}", JWT, f"/a?Access_Token={QUERY_TOKEN}", f"cookie: sid={COOKIE}", "Basic dXNlcjpwdw==",
            "authorization", "plain text", "Token abc123", "digest xyz", "\u0042earer hidden", "/cb?code=zz"]
    checked = 0
    for _ in range(3000):
        doc = {rng.choice(keys): rng.choice(vals) for _ in range(rng.randint(1, 4))}
        if rng.random() < 0.3:
            doc = {"nested": doc, "event": "x"}
        plain = json.dumps(doc)
        for raw in (plain, json.dumps(doc, ensure_ascii=False, separators=(",", ":")), plain.replace("B", "\\u0042")):
            if redact(json.loads(raw)) != json.loads(raw):
                checked += 1
                assert may_need_redaction(raw), raw
    assert checked > 1000
    assert not may_need_redaction('{"category":"authorization","event":"authz.denied","outcome":"deny"}')


def test_a_callers_schema_slip_is_flagged_not_lost():
    em = AuditEmitter(None, service="backend")
    doc = em.build("authz denied!", outcome="denied", request_id="r1", service="spoofed", token="t0ken-value")
    assert doc["event"] == "invalid.event" and doc["outcome"] == "error" and doc["service"] == "backend"
    assert doc["extra_service"] == "spoofed" and doc["token"] == "[REDACTED]"
    assert "outcome 'denied'" in doc["schema_error"] and "event name" in doc["schema_error"]
    ok = em.build("authz.denied", outcome="deny", request_id="r2")
    assert "schema_error" not in ok and ok["category"] == "authorization" and ok["schema"] == "1"
