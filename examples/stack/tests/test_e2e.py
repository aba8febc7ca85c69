"""Through the gateway with real Keycloak tokens; and the services' own mTLS, directly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from .conftest import GW, INTERNAL, REPO, SPA, STACK, Tokens, auth, ca, tls_as


def test_route_role_tenant_matrix(gw: httpx.Client, tokens: Tokens) -> None:
    alice, bob = tokens.user("alice"), tokens.user("bob")  # alice: analyst @tenant-a; bob: viewer+ai-user @tenant-b
    worker = tokens.service("worker", "SECCTL_WORKER_CLIENT_SECRET")
    cases: list[tuple[str, str, str, dict[str, str], Any, int]] = [
        ("no token", "GET", "/api/tenants/tenant-a/items", {}, None, 401),
        ("garbage token", "GET", "/api/tenants/tenant-a/items", auth("abc.def.ghi"), None, 401),
        ("alice own tenant", "GET", "/api/tenants/tenant-a/items", auth(alice), None, 200),
        ("alice own tenant, header form", "GET", "/api/items", auth(alice, "tenant-a"), None, 200),
        ("alice creates in her tenant", "POST", "/api/tenants/tenant-a/items", auth(alice), {"name": "widget"}, 201),
        ("alice other tenant", "GET", "/api/tenants/tenant-b/items", auth(alice), None, 403),
        ("alice path and header disagree", "GET", "/api/tenants/tenant-a/items", auth(alice, "tenant-b"), None, 403),
        ("alice unknown tenant", "GET", "/api/tenants/tenant-z/items", auth(alice), None, 403),
        ("alice admin route (analyst)", "GET", "/api/admin/tenants/tenant-a/users", auth(alice), None, 403),
        ("alice AI route (no ai-user)", "GET", "/ai/v1/models", auth(alice, "tenant-a"), None, 403),
        ("bob own tenant", "GET", "/api/tenants/tenant-b/items", auth(bob), None, 200),
        ("bob other tenant", "GET", "/api/tenants/tenant-a/items", auth(bob), None, 403),
        ("bob admin route (viewer)", "GET", "/api/admin/tenants/tenant-b/users", auth(bob), None, 403),
        ("bob AI route", "GET", "/ai/v1/models", auth(bob, "tenant-b"), None, 200),
        ("bob AI other tenant", "GET", "/ai/v1/models", auth(bob, "tenant-a"), None, 403),
        ("worker token on the API (no tenant claim)", "GET", "/api/items", auth(worker, "tenant-a"), None, 403),
        ("worker token on AI (azp not allowed)", "GET", "/ai/v1/models", auth(worker, "tenant-a"), None, 403),
        ("healthz anonymous", "GET", "/healthz", {}, None, 200),
        ("unrouted path", "GET", "/nope", auth(alice), None, 404),
    ]
    got = []
    for name, method, path, headers, body, want in cases:
        r = gw.request(method, path, headers=headers, json=body)
        got.append((name, r.status_code, want))
    wrong = [g for g in got if g[1] != g[2]]
    assert not wrong, f"(case, got, want): {wrong}"


def test_cors_preflight_from_the_spa_with_the_tenant_header(gw: httpx.Client) -> None:
    r = gw.options("/api/tenants/tenant-a/items", headers={"Origin": SPA, "Access-Control-Request-Method": "POST",
                                                            "Access-Control-Request-Headers": "authorization, content-type, x-tenant-id"})
    assert r.status_code in (200, 204), r.text
    assert r.headers["access-control-allow-origin"] == SPA
    assert "x-tenant-id" in r.headers["access-control-allow-headers"].lower()
    bad = gw.options("/api/items", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in bad.headers


def test_ai_job_round_trip_through_the_worker(gw: httpx.Client, tokens: Tokens) -> None:
    """bob submits a prompt to the AI service; the worker takes it from Redis and posts the result
    through the gateway's internal mTLS listener with its certificate and service-account token."""
    bob = tokens.user("bob")
    r = gw.post("/ai/v1/tenants/tenant-b/jobs", headers=auth(bob), json={"prompt": "hello"})
    assert r.status_code == 202, r.text
    job = r.json()["job_id"]
    deadline = time.monotonic() + 20
    while True:
        s = gw.get(f"/api/tenants/tenant-b/jobs/{job}", headers=auth(bob))
        assert s.status_code == 200, s.text
        if s.json()["done"]:
            break
        assert time.monotonic() < deadline, "the worker never delivered the result"
        time.sleep(0.2)
    assert s.json()["result"] == "echo: hello"


USER_AI_POLICY = "10;w=60;burst=3"  # routes[/ai/].rate_limit.per_user in local-stack.yaml


def _user_429(r: httpx.Response) -> bool:
    """The kit's per-user 429 (nginx's limit_req 429 has no RateLimit-Policy; the kit's per-IP one
    names the per-IP policy)."""
    return r.status_code == 429 and r.headers.get("ratelimit-policy") == USER_AI_POLICY and int(r.headers["retry-after"]) >= 1


def _exhaust(get: Any) -> None:
    """Sends until the per-user budget answers 429 (10/min, burst 3: at most 4 pass), at 2 r/s so
    no per-IP limit answers first."""
    for _ in range(12):
        r = get()
        if _user_429(r):
            assert r.headers["ratelimit-remaining"] == "0"
            return
        assert r.status_code == 200, (r.status_code, r.headers.get("ratelimit-policy"), r.text)
        time.sleep(0.5)
    raise AssertionError("the per-user budget was never exhausted")


def test_two_tokens_of_one_user_share_one_budget(gw: httpx.Client, tokens: Tokens) -> None:
    """bob exhausts his AI budget with one token; a fresh token from a new login is refused at once
    (the budget refills one request per 6 s, so only sharing explains an immediate 429)."""
    first, second = tokens.user("bob"), tokens.user("bob")
    assert first != second
    _exhaust(lambda: gw.get("/ai/v1/models", headers=auth(first, "tenant-b")))
    r = gw.get("/ai/v1/models", headers=auth(second, "tenant-b"))
    assert _user_429(r), (r.status_code, dict(r.headers))


def test_two_processes_share_one_budget(tokens: Tokens) -> None:
    """A second AI service process: bob exhausts his budget on one process and is refused at once
    by the other, through Redis."""
    port = 28012
    env = {**os.environ, "SECCTL_STACK_DIR": str(STACK)}
    pki = STACK / "pki"
    proc = subprocess.Popen([sys.executable, "-m", "secctl_fastapi.serve", "examples.stack.ai:app", "--port", str(port),
                             "--cert", str(pki / "services/ai/server-fullchain.crt"), "--key", str(pki / "services/ai/server.key"),
                             "--ca", ca(), "--crl", str(pki / "ca/crl.pem"), "--trust-domain", "acme.internal"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    clients = [httpx.Client(base_url=f"https://localhost:{p}", verify=tls_as("gateway"), timeout=10) for p in (28002, port)]
    try:
        deadline = time.monotonic() + 30
        while True:  # readiness: an mTLS request answered by the kit (401: no token), never a sleep
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if clients[1].get("/ai/v1/models").status_code == 401:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "second AI process did not start"
            time.sleep(0.2)
        tok = tokens.user("bob")
        time.sleep(6.5)  # at least one request of budget back after the previous test
        _exhaust(lambda: clients[0].get("/ai/v1/models", headers=auth(tok, "tenant-b")))
        r = clients[1].get("/ai/v1/models", headers=auth(tok, "tenant-b"))
        assert _user_429(r), (r.status_code, dict(r.headers))
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        proc.wait(10)


def test_ipv6_slash64_is_one_budget_when_the_gateway_vouches() -> None:
    """The backend believes X-Forwarded-For only from the gateway's certificate; 150 addresses of
    one IPv6 /64, at once, then share one per-IP budget (/healthz: 20r/s burst 40)."""
    import asyncio

    async def burst() -> tuple[list[httpx.Response], float]:
        async with httpx.AsyncClient(base_url="https://localhost:28001", verify=tls_as("gateway"), timeout=30,
                                     limits=httpx.Limits(max_connections=50)) as c:
            t0 = time.monotonic()
            rs = await asyncio.gather(*(c.get("/healthz", headers={"X-Forwarded-For": f"2001:db8:77:1::{i:x}"}) for i in range(1, 151)))
            return list(rs), time.monotonic() - t0

    rs, elapsed = asyncio.run(burst())
    ok = sum(r.status_code == 200 for r in rs)
    assert ok <= 41 + int(20 * elapsed) + 1, f"{ok} of 150 passed in {elapsed:.2f}s: the /64 was not one budget"
    assert any(r.status_code == 429 and "ratelimit-policy" in r.headers for r in rs)
    with httpx.Client(base_url="https://localhost:28001", verify=tls_as("gateway"), timeout=10) as c:
        assert c.get("/healthz", headers={"X-Forwarded-For": "2001:db8:77:2::1"}).status_code == 200, "another /64 has its own budget"


def test_mtls_at_the_backend_itself() -> None:
    url = "https://localhost:28001/healthz"
    with pytest.raises((httpx.TransportError,)):
        httpx.get(url, verify=tls_as(None), timeout=5)  # no certificate
    r = httpx.get(url, verify=tls_as("ai"), timeout=5)  # AI service: no flow ai -> backend
    assert r.status_code == 403 and "caller certificate" in r.text
    r = httpx.get(url, verify=tls_as("worker"), timeout=5)  # worker reaches the backend via the gateway only
    assert r.status_code == 403
    assert httpx.get(url, verify=tls_as("gateway"), timeout=5).status_code == 200  # up, and it was the identity



def test_revoked_worker_certificate_is_refused_by_the_backend_itself(tmp_path: Any) -> None:
    """The worker's client certificate is revoked (in a copy of the stack's CA, so the running stack
    keeps working) and a backend process started with that CRL refuses it in the TLS handshake,
    while the same certificate reaches the running backend (old CRL) and gets the kit's 403."""
    import shutil

    pki = tmp_path / "pki"
    shutil.copytree(STACK / "pki", pki)
    rv = subprocess.run([str(REPO / "target/debug/secctl"), "certs", "revoke", "worker", "--reason", "key-compromise",
                         "--policy", str(STACK / "policy.yaml"), "--pki-dir", str(pki)], capture_output=True, text=True)
    assert rv.returncode == 0, rv.stderr
    port = 28013
    env = {**os.environ, "SECCTL_STACK_DIR": str(STACK)}
    proc = subprocess.Popen([sys.executable, "-m", "secctl_fastapi.serve", "examples.stack.backend:app", "--port", str(port),
                             "--cert", str(STACK / "pki/services/backend/server-fullchain.crt"), "--key", str(STACK / "pki/services/backend/server.key"),
                             "--ca", ca(), "--crl", str(pki / "ca/crl.pem"), "--trust-domain", "acme.internal"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"https://localhost:{port}/healthz"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(url, verify=tls_as("gateway"), timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "backend with the new CRL did not start"
            time.sleep(0.2)
        with pytest.raises(httpx.TransportError):
            httpx.get(url, verify=tls_as("worker"), timeout=5)
        assert httpx.get("https://localhost:28001/healthz", verify=tls_as("worker"), timeout=5).status_code == 403, "without the revocation the certificate is only refused by identity"
        assert httpx.get(url, verify=tls_as("gateway"), timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)


def test_internal_listener_refuses_other_identities(tokens: Tokens) -> None:
    worker = tokens.service("worker", "SECCTL_WORKER_CLIENT_SECRET")
    body = {"job_id": "0" * 32, "result": "x"}
    with httpx.Client(base_url=INTERNAL, verify=tls_as("ai"), timeout=10) as c:
        assert c.post("/internal/job-results", json=body, headers=auth(worker)).status_code == 403
    with httpx.Client(base_url=INTERNAL, verify=tls_as("worker"), timeout=10) as c:
        assert c.post("/internal/job-results", json=body, headers=auth(worker)).status_code == 202
        # the worker's certificate with someone else's token: azp not allowed on /internal/
        bob = tokens.user("bob")
        assert c.post("/internal/job-results", json=body, headers=auth(bob)).status_code == 403
    assert GW



def _aof() -> bytes:
    """Every byte Redis has persisted (the append-only files): what the audit stream stores on disk."""
    d = STACK / "state" / "redis" / "appendonlydir"
    return b"".join(p.read_bytes() for p in sorted(d.iterdir()))


def test_every_deny_is_one_audit_event_and_no_secret_is_stored(gw: httpx.Client, tokens: Tokens) -> None:
    import re

    alice, bob = tokens.user("alice"), tokens.user("bob")
    cookie = "session=E2E-SECRET-COOKIE-" + os.urandom(8).hex()
    denies = [  # (request, expected status, expected event)
        (lambda: gw.get("/api/tenants/tenant-a/items", headers=auth(alice[:-6] + "AAAAAA", Cookie=cookie)), 401, "auth.failure"),
        (lambda: gw.get("/api/tenants/tenant-b/items", headers=auth(alice, Cookie=cookie)), 403, "tenant.denied"),
        (lambda: gw.get("/api/admin/tenants/tenant-a/users", headers=auth(alice)), 403, "authz.denied"),
        (lambda: gw.get("/ai/v1/models", headers=auth(bob, "tenant-a")), 403, "tenant.denied"),
        (lambda: httpx.get("https://localhost:28001/healthz", verify=tls_as("ai"), timeout=5), 403, "mtls.refused"),
    ]
    ids = []
    for call, status, event in denies:
        r = call()
        assert r.status_code == status, (event, r.status_code, r.text)
        ids.append((r.headers["x-request-id"], event))
    deadline = time.monotonic() + 10  # appendfsync everysec
    while True:
        raw = _aof()
        found = {rid: re.findall(rb'\{[^{}]*"request_id":\s*"' + re.escape(rid.encode()) + rb'"[^{}]*\}', raw) for rid, _ in ids}
        if all(found.values()):
            break
        assert time.monotonic() < deadline, f"audit events not persisted: {[k for k, v in found.items() if not v]}"
        time.sleep(0.5)
    import json as _json

    for rid, event in ids:
        docs = [_json.loads(m) for m in found[rid]]  # RESP bulk strings: the JSON as the kit wrote it
        assert len(docs) == 1, f"{rid}: {len(docs)} events, want exactly one"
        assert docs[0]["event"] == event and docs[0]["outcome"] == "deny", docs[0]
    for secret in (alice, bob):
        for part in secret.split("."):
            assert part.encode() not in raw, "a token part reached Redis' files"
    assert cookie.encode() not in raw and b"E2E-SECRET-COOKIE" not in raw


def test_redis_down_ai_fails_closed_api_stays_up(gw: httpx.Client, tokens: Tokens) -> None:
    """Redis stopped: the AI route answers 503 (fail closed), the API keeps serving reads that do
    not need Redis for data (fail open, the gateway's per-IP floor still holds). Restarted, the
    limiter reloads its script (NOSCRIPT -> SCRIPT LOAD, granted by the ACL) and counts again."""
    bob = tokens.user("bob")
    pidf = STACK / "pids" / "redis.pid"
    pid = int(pidf.read_text())
    os.kill(pid, 15)
    deadline = time.monotonic() + 15
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "redis did not stop"
        time.sleep(0.1)
    try:
        r = gw.get("/ai/v1/models", headers=auth(bob, "tenant-b"))
        assert r.status_code == 503 and r.headers.get("retry-after") == "1", (r.status_code, r.text)
        r = gw.get("/healthz")
        assert r.status_code == 200, "non-AI routes fail open by policy"
    finally:
        up = subprocess.run(["bash", str(REPO / "scripts/stack.sh"), "up"], capture_output=True, text=True, env={**os.environ, "SECCTL_STACK_DIR": str(STACK)})
        assert up.returncode == 0, up.stderr
    deadline = time.monotonic() + 30
    while True:  # the pool reconnects on its own (and bob's budget refills: one request per 6 s)
        r = gw.get("/ai/v1/models", headers=auth(bob, "tenant-b"))
        if r.status_code == 200:
            break
        assert time.monotonic() < deadline, f"AI route did not recover: {r.status_code} {r.text}"
        time.sleep(0.3)
    assert "ratelimit-policy" in r.headers, "the limiter counts again after the restart"


def _admin(env: dict[str, str]) -> httpx.Client:
    r = httpx.post("http://127.0.0.1:28180/realms/master/protocol/openid-connect/token",
                   data={"grant_type": "password", "client_id": "admin-cli", "username": env["KC_BOOTSTRAP_ADMIN_USERNAME"], "password": env["KC_BOOTSTRAP_ADMIN_PASSWORD"]})
    r.raise_for_status()
    return httpx.Client(base_url="http://127.0.0.1:28180/admin/realms/acme", headers={"Authorization": f"Bearer {r.json()['access_token']}"}, timeout=15)


def _kid(tok: str) -> str:
    import jwt

    return jwt.get_unverified_header(tok)["kid"]


def test_keycloak_key_rotation_is_picked_up_and_a_removed_key_refused(gw: httpx.Client, tokens: Tokens, stack_env: dict[str, str]) -> None:
    """Rotation in the real realm: a token signed by the new key is accepted once the kit refetches
    (at most one fetch per 30 s interval); after the old key is deleted, a token it signed is refused
    from the next refetch on."""
    import jwt

    old_tok = tokens.user("bob")
    old_kid = _kid(old_tok)
    assert gw.get("/api/tenants/tenant-b/items", headers=auth(old_tok)).status_code == 200
    with _admin(stack_env) as kc:
        realm_id = kc.get("").json()["id"]
        keys = kc.get("/keys").json()["keys"]
        old_provider = next(k["providerId"] for k in keys if k["kid"] == old_kid)
        r = kc.post("/components", json={"name": "e2e-rotated", "providerId": "rsa-generated", "providerType": "org.keycloak.keys.KeyProvider",
                                          "parentId": realm_id, "config": {"priority": [str(1000 + int(time.time()) % 1_000_000)], "keySize": ["2048"], "active": ["true"], "enabled": ["true"], "algorithm": ["RS256"]}})
        assert r.status_code == 201, r.text
        new_tok = tokens.user("bob")
        assert _kid(new_tok) != old_kid, "Keycloak did not sign with the new key"
        deadline = time.monotonic() + 45
        while True:  # picked up at the next allowed refetch (<= 30 s), never by a fetch per request
            r = gw.get("/api/tenants/tenant-b/items", headers=auth(new_tok))
            if r.status_code == 200:
                break
            assert r.status_code == 401 and "unknown-kid" in r.text, (r.status_code, r.text)
            assert time.monotonic() < deadline, "the new key was never picked up"
            time.sleep(2)
        assert gw.get("/api/tenants/tenant-b/items", headers=auth(old_tok)).status_code == 200, "the old key is still published"
        assert kc.delete(f"/components/{old_provider}").status_code == 204
        # the old token's claims (an allowed issuer) under an unknown kid: the kit must look the kid up
        forged = ".".join([jwt.utils.base64url_encode(b'{"alg":"RS256","kid":"e2e-unknown","typ":"JWT"}').decode(), *old_tok.split(".")[1:]])
        deadline = time.monotonic() + 50
        while True:  # an unknown kid triggers the next refetch; then the removed key is gone
            gw.get("/api/tenants/tenant-b/items", headers=auth(forged))
            r = gw.get("/api/tenants/tenant-b/items", headers=auth(old_tok))
            if r.status_code == 401:
                break
            assert r.status_code == 200, (r.status_code, r.text)
            assert time.monotonic() < deadline, "a token of the removed key was still accepted after the refetch interval"
            time.sleep(2)
        assert "unknown-kid" in r.text
        assert gw.get("/api/tenants/tenant-b/items", headers=auth(new_tok)).status_code == 200
