"""The pipeline as an attacker meets it: tokens, roles, tenants, limits and audit, against real
Redis (ACL as rendered) and a real JWKS HTTP server."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator

import httpx
import jwt
import pytest
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI

from secctl_fastapi import Principal, SecurityKit, current_principal, current_tenant
from secctl_fastapi.audit import AuditEmitter
from secctl_fastapi.settings import parse_settings

from .conftest import ISSUER, Keys, RedisServer, make_token


def build_app(kit: SecurityKit) -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/api/tenants/{tenant}/items")
    async def items(tenant: str, p: Principal = Depends(current_principal)) -> dict[str, Any]:
        return {"tenant": current_tenant(), "sub": p.sub}

    @app.get("/api/items")
    def items_header(p: Principal = Depends(current_principal)) -> dict[str, Any]:
        # sync endpoint: runs in a thread; the contextvars must follow
        return {"tenant": current_tenant(), "sub": p.sub}

    @app.post("/api/admin/users")
    async def admin_users() -> dict[str, str]:
        return {"created": "yes"}

    @app.post("/ai/complete")
    async def ai() -> dict[str, str]:
        return {"job": "queued"}

    @app.post("/internal/job-results")
    async def results(p: Principal = Depends(current_principal)) -> dict[str, Any]:
        return {"caller": p.caller}

    @app.get("/unrouted")
    async def unrouted() -> dict[str, str]:
        return {"leak": "yes"}

    kit.install(app)
    return app


class Env:
    def __init__(self, kit: SecurityKit, client: httpx.AsyncClient, keys: Keys, admin: Any) -> None:
        self.kit, self.client, self.keys, self.admin = kit, client, keys, admin

    def audit(self) -> list[dict[str, Any]]:
        return [json.loads(f[b"event"]) for _, f in self.admin.xrange("audit:backend")]


async def make_env(settings_doc: dict[str, Any], redis_url: str, keys: Keys, admin: Any, client_ip: str = "203.0.113.7") -> AsyncIterator[Env]:
    r = aioredis.from_url(redis_url, socket_timeout=1)
    kit = SecurityKit(parse_settings(settings_doc, source="test", service="backend"), redis=r, audit=AuditEmitter(r, "backend"))
    app = build_app(kit)
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://backend") as c:
        yield Env(kit, c, keys, admin)
    await kit.aclose()
    await r.aclose()


@pytest.fixture
async def env(settings_doc: dict[str, Any], redis_url: str, jwks_server: tuple[str, Keys], redis_server: RedisServer) -> AsyncIterator[Env]:
    async for e in make_env(settings_doc, redis_url, jwks_server[1], redis_server.admin()):
        yield e


def bearer(t: str, tenant: str | None = "tenant-a") -> dict[str, str]:
    h = {"Authorization": f"Bearer {t}"}
    if tenant:
        h["X-Tenant-ID"] = tenant
    return h


async def test_valid_token_reaches_the_app_with_tenant_context(env: Env) -> None:
    t = make_token(env.keys)
    r = await env.client.get("/api/tenants/tenant-a/items", headers=bearer(t, None))
    assert r.status_code == 200, r.text
    assert r.json() == {"tenant": "tenant-a", "sub": "user-alice"}
    r = await env.client.get("/api/items", headers=bearer(t))
    assert r.status_code == 200 and r.json()["tenant"] == "tenant-a", "sync endpoints see the contextvar too"
    assert r.headers["RateLimit-Limit"] == "10" and "RateLimit-Remaining" in r.headers


async def test_unrouted_path_never_reaches_the_app(env: Env) -> None:
    r = await env.client.get("/unrouted")
    assert r.status_code == 404 and "leak" not in r.text
    r = await env.client.get("/ai/%2e%2e/api/items", headers=bearer(make_token(env.keys)))
    assert r.status_code in (400, 404) and "tenant" not in r.text


@pytest.mark.parametrize(
    "over, reason",
    [
        ({"iss": "https://evil.test/realms/acme"}, "issuer-not-allowed"),
        ({"aud": "other-api"}, "audience"),
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not-yet-valid"),
        ({"typ": "Refresh"}, "wrong-typ"),
        ({"typ": "ID"}, "wrong-typ"),
        ({"sub": None}, "missing-sub"),
        ({"iat": None}, "missing-iat"),
    ],
)
async def test_bad_claims_get_401(env: Env, over: dict[str, Any], reason: str) -> None:
    r = await env.client.get("/api/items", headers=bearer(make_token(env.keys, **over)))
    assert r.status_code == 401, r.text
    assert reason in r.json()["detail"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


async def test_forged_tokens_get_401(env: Env) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "backend-api", "sub": "x", "azp": "web", "typ": "Bearer", "iat": now, "exp": now + 60}
    # HS256 keyed with the public key (algorithm confusion), alg none, a key the realm never published
    pub = env.keys.private["k1"].public_key()
    from cryptography.hazmat.primitives import serialization

    pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = [
        jwt.encode(claims, pem.decode()[:40] * 2, algorithm="HS256", headers={"kid": "k1"}),
        jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"}) if True else "",
    ]
    env.keys.add("rogue", publish=False)
    forged.append(make_token(env.keys, kid="rogue"))
    env.keys.add("enc1")
    env.keys.enc.add("enc1")  # published, but as an encryption key
    forged.append(make_token(env.keys, kid="enc1"))
    good = make_token(env.keys)
    h, p, s = good.split(".")
    forged.append(f"{h}.{p}.{s[:-4]}AAAA")
    forged.append("not-a-jwt")
    for t in forged:
        r = await env.client.get("/api/items", headers=bearer(t))
        assert r.status_code == 401, (t[:20], r.text)
    assert (await env.client.get("/api/items", headers={"X-Tenant-ID": "tenant-a"})).status_code == 401


async def test_rbac_azp_and_tenancy(env: Env) -> None:
    k = env.keys
    # azp: a client not allowed on the route
    assert (await env.client.get("/api/items", headers=bearer(make_token(k, azp="ai-service")))).status_code == 403
    # roles, any of: viewer may read /api/, not /api/admin/
    viewer = make_token(k, realm_access={"roles": ["viewer"]})
    assert (await env.client.get("/api/items", headers=bearer(viewer))).status_code == 200
    assert (await env.client.post("/api/admin/users", headers=bearer(viewer))).status_code == 403
    admin = make_token(k, realm_access={"roles": ["admin"]})
    assert (await env.client.post("/api/admin/users", headers=bearer(admin))).status_code == 200
    # AI role on AI routes only
    assert (await env.client.post("/ai/complete", headers=bearer(viewer))).status_code == 403
    # tenancy: other tenant, unknown tenant, none, path/header disagreement
    assert (await env.client.get("/api/items", headers=bearer(viewer, "tenant-b"))).status_code == 403
    assert (await env.client.get("/api/items", headers=bearer(make_token(k, organization={"tenant-z": {}}), "tenant-z"))).status_code == 403
    assert (await env.client.get("/api/items", headers=bearer(viewer, None))).status_code == 403
    r = await env.client.get("/api/tenants/tenant-a/items", headers=bearer(viewer, "tenant-b"))
    assert r.status_code == 403 and "differ" in r.text
    # list form of the claim
    assert (await env.client.get("/api/items", headers=bearer(make_token(k, organization=["tenant-b"]), "tenant-b"))).status_code == 200


async def test_two_tokens_of_one_user_share_one_budget(env: Env) -> None:
    # /api/ per_user: 10/min, burst 2 -> 3 immediate requests per user and tenant
    codes = []
    for _ in range(3):
        codes.append((await env.client.get("/api/items", headers=bearer(make_token(env.keys)))).status_code)
    fresh = make_token(env.keys)  # a fresh token (a refresh) of the same user
    r = await env.client.get("/api/items", headers=bearer(fresh))
    assert codes == [200, 200, 200]
    assert r.status_code == 429, "a new token must not mean a new budget"
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["RateLimit-Remaining"] == "0" and r.headers["RateLimit-Limit"] == "10"
    # another user still has a budget
    other = make_token(env.keys, sub="user-carol")
    assert (await env.client.get("/api/items", headers=bearer(other))).status_code == 200
    ev = [e for e in env.audit() if e["event"] == "ratelimit.hit"]
    assert len(ev) == 1 and ev[0]["principal"] == "user-alice" and ev[0]["tenant"] == "tenant-a"


async def test_two_kits_share_one_budget_through_redis(settings_doc: dict[str, Any], redis_url: str, jwks_server: tuple[str, Keys], redis_server: RedisServer) -> None:
    keys = jwks_server[1]
    g1, g2 = make_env(settings_doc, redis_url, keys, redis_server.admin()), make_env(settings_doc, redis_url, keys, redis_server.admin(), client_ip="198.51.100.9")
    e1, e2 = await g1.__anext__(), await g2.__anext__()
    try:
        codes = []
        for i in range(4):
            e = e1 if i % 2 == 0 else e2
            codes.append((await e.client.get("/api/items", headers=bearer(make_token(keys)))).status_code)
        assert codes == [200, 200, 200, 429]
    finally:
        for g in (g1, g2):
            with pytest.raises(StopAsyncIteration):
                await g.__anext__()


async def test_unauthenticated_flood_counts_against_the_ip(settings_doc: dict[str, Any], redis_url: str, jwks_server: tuple[str, Keys], redis_server: RedisServer) -> None:
    # a limit that cannot refill during the test: 1/min, burst 9 -> 10 requests, then 429
    settings_doc["routes"][0]["rate_limit"]["per_ip"] = {"rate": 1, "period_seconds": 60, "burst": 9}
    gen = make_env(settings_doc, redis_url, jwks_server[1], redis_server.admin())
    env = await gen.__anext__()
    try:
        codes = [(await env.client.get("/api/items")).status_code for _ in range(10)]
        codes += [(await env.client.get("/api/items", headers=bearer("garbage"))).status_code for _ in range(3)]
        assert codes == [401] * 10 + [429] * 3, "refused requests count against the address too"
        # and a valid token from that address is limited as well: the floor holds for everyone
        assert (await env.client.get("/api/items", headers=bearer(make_token(env.keys)))).status_code == 429
    finally:
        with pytest.raises(StopAsyncIteration):
            await gen.__anext__()


async def test_ipv6_addresses_of_one_slash64_share_a_budget(settings_doc: dict[str, Any], redis_url: str, jwks_server: tuple[str, Keys], redis_server: RedisServer) -> None:
    settings_doc["routes"][3]["rate_limit"]["per_ip"] = {"rate": 1, "period_seconds": 60, "burst": 1}
    gens = [make_env(settings_doc, redis_url, jwks_server[1], redis_server.admin(), client_ip=ip)
            for ip in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1")]
    envs = [await g.__anext__() for g in gens]
    try:
        assert (await envs[0].client.get("/healthz")).status_code == 200
        assert (await envs[1].client.get("/healthz")).status_code == 200
        assert (await envs[1].client.get("/healthz")).status_code == 429, "same /64: one budget"
        assert (await envs[0].client.get("/healthz")).status_code == 429
        assert (await envs[2].client.get("/healthz")).status_code == 200, "another /64: its own budget"
    finally:
        for g in gens:
            with pytest.raises(StopAsyncIteration):
                await g.__anext__()


async def test_redis_down_fails_closed_on_ai_and_open_elsewhere(settings_doc: dict[str, Any], jwks_server: tuple[str, Keys], redis_server: RedisServer) -> None:
    from .conftest import free_port

    dead = f"redis://backend:x@127.0.0.1:{free_port()}/0"
    gen = make_env(settings_doc, dead, jwks_server[1], redis_server.admin())
    env = await gen.__anext__()
    try:
        t = make_token(env.keys, realm_access={"roles": ["ai-user", "viewer"]})
        r = await env.client.post("/ai/complete", headers=bearer(t))
        assert r.status_code == 503 and r.headers["Retry-After"] == "1", "AI routes fail closed"
        r = await env.client.get("/api/items", headers=bearer(t))
        assert r.status_code == 200, "other routes fail open (settings: redis_down=open)"
    finally:
        with pytest.raises(StopAsyncIteration):
            await gen.__anext__()


async def test_every_deny_is_one_audit_event_without_secrets(env: Env) -> None:
    k = env.keys
    secret_token = make_token(k, azp="ai-service")
    await env.client.get("/api/items", headers={**bearer(secret_token), "Cookie": "session=SECRETCOOKIE"})  # 403 azp
    bad = make_token(k, aud="other")
    await env.client.get("/api/items", headers=bearer(bad))  # 401
    await env.client.get("/api/items", headers=bearer(make_token(k), "tenant-b"))  # 403 tenant
    admin = make_token(k, realm_access={"roles": ["admin"]})
    await env.client.post("/api/admin/users", headers={**bearer(admin), "X-Request-ID": "req-42"})  # 200, audited
    events = env.audit()
    assert [e["event"] for e in events] == ["authz.denied", "auth.failure", "tenant.denied", "admin.operation"]
    assert events[3]["request_id"] == "req-42" and events[3]["outcome"] == "allow"
    assert events[0]["source_ip"] == "203.0.113.7" and events[0]["principal"] == "user-alice"
    raw = b"".join(f[b"event"] for _, f in env.admin.xrange("audit:backend"))
    for secret in (secret_token, bad, admin):
        for part in secret.split("."):
            assert part.encode() not in raw
    assert b"SECRETCOOKIE" not in raw and b"Bearer" not in raw


async def test_cors_preflight_allows_the_tenant_header(env: Env) -> None:
    r = await env.client.options("/api/items", headers={
        "Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, x-tenant-id"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "x-tenant-id" in r.headers["access-control-allow-headers"].lower()
    r = await env.client.options("/api/items", headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "GET"})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
