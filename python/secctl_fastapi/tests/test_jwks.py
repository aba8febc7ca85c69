"""JWKS cache: the unknown-kid storm is bounded, rotation is picked up, a removed key is refused."""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator

import pytest

from .conftest import Keys, RedisServer, make_token
from .test_kit import Env, bearer, make_env

MIN_REFETCH = 0.5
MAX_AGE = 1.5


STORM_REFETCH = 2.0


@pytest.fixture
async def fast_env(request: pytest.FixtureRequest, settings_doc: dict[str, Any], redis_url: str, jwks_server: tuple[str, Keys], redis_server: RedisServer) -> AsyncIterator[Env]:
    interval = getattr(request, "param", MIN_REFETCH)
    settings_doc["jwt"].update(jwks_min_refetch_seconds=interval, jwks_max_age_seconds=max(MAX_AGE, interval * 3))
    settings_doc["routes"][0]["rate_limit"]["per_ip"] = {"rate": 1000, "period_seconds": 1, "burst": 1000}
    settings_doc["routes"][0]["rate_limit"]["per_user"] = None
    async for e in make_env(settings_doc, redis_url, jwks_server[1], redis_server.admin()):
        yield e


@pytest.mark.parametrize("fast_env", [STORM_REFETCH], indirect=True)
async def test_unknown_kid_storm_is_one_fetch_per_interval(fast_env: Env) -> None:
    k = fast_env.keys
    assert (await fast_env.client.get("/api/items", headers=bearer(make_token(k)))).status_code == 200
    t0 = time.monotonic()
    assert k.fetches == 1
    for i in range(5):
        k.add(f"storm{i}", publish=False)
    tokens = [make_token(k, kid=f"storm{i % 5}") for i in range(100)]
    for _ in range(2):
        rs = await asyncio.gather(*(fast_env.client.get("/api/items", headers=bearer(t)) for t in tokens))
        assert {r.status_code for r in rs} == {401}
        # the property: at most one fetch per interval, however many unknown kids arrive
        bound = 1 + int((time.monotonic() - t0) / STORM_REFETCH)
        assert k.fetches <= bound, f"{k.fetches} JWKS fetches in {time.monotonic() - t0:.2f}s (interval {STORM_REFETCH}s) for 200 unknown kids"
        await asyncio.sleep(STORM_REFETCH + 0.1)
    assert k.fetches >= 2, "an unknown kid after the interval does refetch (rotation must be picked up)"
    assert fast_env.kit.jwks.fetch_count(fast_env.kit.settings.jwt.issuers[0].issuer) == k.fetches


async def test_rotation_is_picked_up_and_a_removed_key_is_refused(fast_env: Env) -> None:
    k = fast_env.keys
    old = make_token(k, kid="k1")
    assert (await fast_env.client.get("/api/items", headers=bearer(old))).status_code == 200
    # the realm rotates: k2 published next to k1
    k.add("k2")
    await asyncio.sleep(MIN_REFETCH + 0.1)
    assert (await fast_env.client.get("/api/items", headers=bearer(make_token(k, kid="k2")))).status_code == 200
    # k1 removed from the realm: refused once the set is refetched (at the latest after max_age)
    k.published.remove("k1")
    await asyncio.sleep(MAX_AGE + 0.1)
    r = await fast_env.client.get("/api/items", headers=bearer(old))
    assert r.status_code == 401 and "unknown-kid" in r.text
    assert (await fast_env.client.get("/api/items", headers=bearer(make_token(k, kid="k2")))).status_code == 200


async def test_jwks_down_without_keys_is_503_never_200(fast_env: Env) -> None:
    fast_env.keys.fail = True
    r = await fast_env.client.get("/api/items", headers=bearer(make_token(fast_env.keys)))
    assert r.status_code == 503
    assert [e["event"] for e in fast_env.audit()] == ["auth.failure"]


async def test_a_cached_verdict_dies_with_its_key(fast_env: Env) -> None:
    """The same token, accepted many times (verdict cache), is refused once its key is removed."""
    k = fast_env.keys
    k.add("k2")
    tok = make_token(k, kid="k2")
    for _ in range(5):
        assert (await fast_env.client.get("/api/items", headers=bearer(tok))).status_code == 200
    k.published.remove("k2")
    await asyncio.sleep(MAX_AGE + 0.1)
    r = await fast_env.client.get("/api/items", headers=bearer(tok))
    assert r.status_code == 401 and "unknown-kid" in r.text
