"""What every service of the reference stack shares: where the stack's files are, and a Redis
client logged in as the service's own ACL user over TLS with its client certificate.

The stack directory (`SECCTL_STACK_DIR`, written by scripts/stack.sh) holds `out/` (the rendered
tree), `pki/` (secctl's CA) and `secrets/` (Redis passwords). No secret is ever on argv."""

from __future__ import annotations

import os
from pathlib import Path

import redis.asyncio as aioredis

from secctl_fastapi import KitSettings, load_settings

STACK = Path(os.environ.get("SECCTL_STACK_DIR", Path(__file__).resolve().parents[2] / ".cache" / "stack"))


def settings(service: str) -> KitSettings:
    return load_settings(STACK / "out" / "kit" / f"{service}.json", service=service)


def redis_for(service: str, host: str = "127.0.0.1", port: int | None = None) -> aioredis.Redis:
    """A pooled TLS connection as Redis user `service` (client cert + password from the secrets dir)."""
    s = settings(service) if port is None else None
    pki = STACK / "pki"
    password = (STACK / "secrets" / f"redis_{service}_password").read_text().strip()
    return aioredis.Redis(
        host=s.redis.host if s and s.redis else host,
        port=s.redis.port if s and s.redis else port,  # type: ignore[arg-type]
        username=service,
        password=password,
        ssl=True,
        ssl_ca_certs=str(pki / "ca" / "chain.crt"),
        ssl_certfile=str(pki / "services" / service / "client-fullchain.crt"),
        ssl_keyfile=str(pki / "services" / service / "client.key"),
        ssl_check_hostname=True,
        socket_timeout=2,
        socket_connect_timeout=2,
    )
