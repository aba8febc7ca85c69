"""The reference AI service: accepts prompts and enqueues jobs for the worker (Redis list
`jobs:ai:queue`, the only keys its ACL user may touch besides its limiter's)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field

from secctl_fastapi import Principal, SecurityKit, current_principal, current_tenant
from secctl_fastapi.audit import AuditEmitter

from .common import redis_for, settings

QUEUE = "jobs:ai:queue"

app = FastAPI(title="acme ai", docs_url=None, redoc_url=None, openapi_url=None)
r = redis_for("ai")
kit = SecurityKit(settings("ai"), redis=r, audit=AuditEmitter(r, "ai"))
kit.install(app)


class Prompt(BaseModel):
    prompt: str = Field(min_length=1, max_length=4000)


@app.get("/ai/v1/models")
async def models() -> dict[str, Any]:
    return {"models": ["echo-1"]}


@app.post("/ai/v1/tenants/{tenant}/jobs", status_code=202)
async def submit(tenant: str, body: Prompt, p: Principal = Depends(current_principal)) -> dict[str, Any]:
    job = {"job_id": uuid.uuid4().hex, "tenant": current_tenant(), "sub": p.sub, "prompt": body.prompt}
    await r.lpush(QUEUE, json.dumps(job))
    return {"job_id": job["job_id"], "status": "queued"}
