"""The reference backend: tenant-scoped items, admin endpoints, /healthz and /internal/job-results.

Every request passes the kit first (mTLS peer, JWT, roles, tenant, rate limits, audit); handlers
only read `current_principal()` / `current_tenant()`."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field

from secctl_fastapi import Principal, SecurityKit, current_principal, current_tenant
from secctl_fastapi.audit import AuditEmitter

from .common import redis_for, settings

app = FastAPI(title="acme backend", docs_url=None, redoc_url=None, openapi_url=None)
r = redis_for("backend")
kit = SecurityKit(settings("backend"), redis=r, audit=AuditEmitter(r, "backend"))
kit.install(app)


class NewItem(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class JobResult(BaseModel):
    job_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    result: str = Field(max_length=10_000)


def _items_key(tenant: str) -> str:
    return f"cache:backend:items:{tenant}"


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/tenants/{tenant}/items")
async def list_items(tenant: str) -> dict[str, Any]:
    t = current_tenant()  # already checked against the token's claim
    raw = await r.hgetall(_items_key(t))
    return {"tenant": t, "items": sorted((json.loads(v) for v in raw.values()), key=lambda i: i["id"])}


@app.post("/api/tenants/{tenant}/items", status_code=201)
async def create_item(tenant: str, body: NewItem, p: Principal = Depends(current_principal)) -> dict[str, Any]:
    item = {"id": uuid.uuid4().hex, "name": body.name, "created_by": p.sub}
    await r.hset(_items_key(current_tenant()), item["id"], json.dumps(item))
    return item


@app.get("/api/items")
async def list_items_by_header() -> dict[str, Any]:
    return await list_items(current_tenant())


@app.get("/api/admin/tenants/{tenant}/users")
async def admin_users(tenant: str, p: Principal = Depends(current_principal)) -> dict[str, Any]:
    return {"tenant": current_tenant(), "admin": p.sub, "users": []}


@app.delete("/api/admin/tenants/{tenant}/items")
async def admin_purge(tenant: str) -> dict[str, Any]:
    n = await r.delete(_items_key(current_tenant()))
    return {"tenant": current_tenant(), "purged": n}


@app.post("/internal/job-results", status_code=202)
async def job_results(body: JobResult, p: Principal = Depends(current_principal)) -> dict[str, Any]:
    if p.caller is None:  # the kit only lets the gateway-vouched worker here; belt and braces
        raise HTTPException(status_code=403, detail="no caller identity")
    await r.set(f"jobs:results:{body.job_id}", json.dumps({"result": body.result, "by": p.caller, "sub": p.sub}), ex=3600)
    return {"job_id": body.job_id, "stored": True}


@app.get("/api/tenants/{tenant}/jobs/{job_id}")
async def job_status(tenant: str, job_id: str) -> dict[str, Any]:
    raw = await r.get(f"jobs:results:{job_id}")
    return {"job_id": job_id, "done": raw is not None, "result": json.loads(raw)["result"] if raw else None}
