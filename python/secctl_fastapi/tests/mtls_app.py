"""The app the mTLS tests serve in a separate uvicorn process (settings and Redis from the env)."""

import os

import redis.asyncio as aioredis
from fastapi import Depends, FastAPI

from secctl_fastapi import Principal, SecurityKit, current_principal
from secctl_fastapi.audit import AuditEmitter

app = FastAPI()
_r = aioredis.from_url(os.environ["KIT_TEST_REDIS_URL"])
kit = SecurityKit.from_file(os.environ["KIT_TEST_SETTINGS"], "backend", redis=_r, audit=AuditEmitter(_r, "backend"))


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"ok": "yes"}


@app.post("/internal/job-results")
async def results(p: Principal = Depends(current_principal)) -> dict[str, object]:
    return {"caller": p.caller, "sub": p.sub}


kit.install(app)
