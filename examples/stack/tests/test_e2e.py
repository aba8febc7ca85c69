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
