"""The reference backend's `GET /api/tenants/{tenant}/items` without the kit, for bench/gateway_rps.py.

Same handler body (one HGETALL on the same Redis, as the same ACL user over TLS), same uvicorn and
mTLS transport (`python -m secctl_fastapi.serve`); only `SecurityKit.install` is missing, so no JWT,
RBAC, tenant check, limiter or audit runs. Never deploy this: it trusts every caller."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from examples.stack.common import redis_for

app = FastAPI(title="acme backend without the kit (benchmark only)", docs_url=None, redoc_url=None, openapi_url=None)
r = redis_for("backend")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/tenants/{tenant}/items")
async def list_items(tenant: str) -> dict[str, Any]:
    raw = await r.hgetall(f"cache:backend:items:{tenant}")
    return {"tenant": tenant, "items": sorted((json.loads(v) for v in raw.values()), key=lambda i: i["id"])}
