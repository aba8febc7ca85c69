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


def _kit_429(r: httpx.Response) -> bool:
    # the kit's 429 carries RateLimit-Policy; nginx's limit_req 429 does not
    return r.status_code == 429 and "ratelimit-policy" in r.headers and "retry-after" in r.headers


def test_two_tokens_of_one_user_share_one_budget(gw: httpx.Client, tokens: Tokens) -> None:
    # /api/ per user: 10r/s burst 20 (21 at once). Two tokens from two logins, alternating.
    toks = [tokens.user("alice"), tokens.user("alice")]
    assert toks[0] != toks[1]
    t0 = time.monotonic()
    rs = [gw.get("/api/tenants/tenant-a/items", headers=auth(toks[i % 2])) for i in range(40)]
    elapsed = time.monotonic() - t0
    ok = sum(r.status_code == 200 for r in rs)
    assert any(_kit_429(r) for r in rs), [r.status_code for r in rs]
    assert ok <= 21 + int(10 * elapsed) + 1, f"{ok} passed in {elapsed:.2f}s: tokens got separate budgets"
    limited = next(r for r in rs if _kit_429(r))
    assert int(limited.headers["retry-after"]) >= 1 and limited.headers["ratelimit-remaining"] == "0"
    time.sleep(2.2)  # the budget refills at 10/s: later tests start full


def test_two_backend_processes_share_one_budget(tokens: Tokens) -> None:
    """A second backend process on another port: requests alternate between the two (as the gateway
    would across replicas) and the per-user budget is still one."""
    port = 28011
    env = {**os.environ, "SECCTL_STACK_DIR": str(STACK)}
    pki = STACK / "pki"
    proc = subprocess.Popen([sys.executable, "-m", "secctl_fastapi.serve", "examples.stack.backend:app", "--port", str(port),
                             "--cert", str(pki / "services/backend/server-fullchain.crt"), "--key", str(pki / "services/backend/server.key"),
                             "--ca", ca(), "--crl", str(pki / "ca/crl.pem"), "--trust-domain", "acme.internal"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        clients = [httpx.Client(base_url=f"https://localhost:{p}", verify=tls_as("gateway"), timeout=10) for p in (28001, port)]
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if clients[1].get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "second backend did not start"
            time.sleep(0.2)
        tok = tokens.user("alice")
        t0 = time.monotonic()
        rs = [clients[i % 2].get("/api/tenants/tenant-a/items", headers=auth(tok)) for i in range(40)]
        elapsed = time.monotonic() - t0
        ok = sum(r.status_code == 200 for r in rs)
        assert any(_kit_429(r) for r in rs[1::2]) and any(r.status_code == 200 for r in rs[1::2])
        assert ok <= 21 + int(10 * elapsed) + 1, f"{ok} passed across two processes in {elapsed:.2f}s"
        for c in clients:
            c.close()
    finally:
        proc.terminate()
        proc.wait(10)
    time.sleep(2.2)


def test_ipv6_slash64_is_one_budget_when_the_gateway_vouches(tokens: Tokens) -> None:
    """The backend believes X-Forwarded-For only from the gateway's certificate; addresses of one
    IPv6 /64 then share one per-IP budget (/healthz: 20r/s burst 40)."""
    with httpx.Client(base_url="https://localhost:28001", verify=tls_as("gateway"), timeout=10) as c:
        t0 = time.monotonic()
        rs = [c.get("/healthz", headers={"X-Forwarded-For": f"2001:db8:77:1::{i:x}"}) for i in range(1, 80)]
        elapsed = time.monotonic() - t0
        ok = sum(r.status_code == 200 for r in rs)
        assert any(_kit_429(r) for r in rs), "79 addresses of one /64 were never limited"
        assert ok <= 41 + int(20 * elapsed) + 1
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
    deadline = time.monotonic() + 20
    while True:  # the pool reconnects on its own
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
                                          "parentId": realm_id, "config": {"priority": ["1000"], "keySize": ["2048"], "active": ["true"], "enabled": ["true"], "algorithm": ["RS256"]}})
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
