"""The reference worker: takes jobs from `jobs:ai:queue` and posts results through the gateway's
internal mTLS listener with its client certificate and its service-account token.

Run by scripts/stack.sh; the client secret comes from SECCTL_WORKER_CLIENT_SECRET (env, never argv)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import time

import httpx

from .common import STACK, redis_for

log = logging.getLogger("worker")
QUEUE = "jobs:ai:queue"


class Tokens:
    """Client-credentials tokens for `worker`, refreshed before they expire."""

    def __init__(self, token_url: str, secret: str) -> None:
        self.url, self.secret = token_url, secret
        self.token, self.exp = "", 0.0

    async def get(self, http: httpx.AsyncClient) -> str:
        if time.time() > self.exp - 30:
            r = await http.post(self.url, data={"grant_type": "client_credentials", "client_id": "worker", "client_secret": self.secret})
            r.raise_for_status()
            doc = r.json()
            self.token, self.exp = doc["access_token"], time.time() + float(doc.get("expires_in", 60))
        return self.token


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    kc = os.environ.get("SECCTL_STACK_KEYCLOAK", "http://127.0.0.1:28180")
    internal = os.environ.get("SECCTL_STACK_INTERNAL", "https://localhost:28445")
    tokens = Tokens(f"{kc}/realms/acme/protocol/openid-connect/token", os.environ["SECCTL_WORKER_CLIENT_SECRET"])
    pki = STACK / "pki"
    tls = ssl.create_default_context(cafile=str(pki / "ca" / "chain.crt"))
    tls.load_cert_chain(str(pki / "services" / "worker" / "client-fullchain.crt"), str(pki / "services" / "worker" / "client.key"))
    r = redis_for("worker", port=int(os.environ.get("SECCTL_STACK_REDIS_PORT", "26379")))
    async with httpx.AsyncClient(timeout=10) as kc_http, httpx.AsyncClient(base_url=internal, verify=tls, timeout=10) as gw:
        log.info("ready")
        while True:
            item = await r.brpop([QUEUE], timeout=1)
            if item is None:
                continue
            job = json.loads(item[1])
            result = f"echo: {job['prompt'][:200]}"
            tok = await tokens.get(kc_http)
            resp = await gw.post("/internal/job-results", json={"job_id": job["job_id"], "result": result},
                                 headers={"Authorization": f"Bearer {tok}", "X-Request-ID": f"job-{job['job_id']}"})
            log.info("job %s -> %s", job["job_id"], resp.status_code)


if __name__ == "__main__":
    asyncio.run(main())
