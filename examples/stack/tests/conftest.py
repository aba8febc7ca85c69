"""End-to-end tests against the running reference stack (scripts/stack.sh up): real Keycloak
tokens, the rendered nginx + ModSecurity gateway, uvicorn with mTLS, Redis with TLS and ACLs.

They refuse to run (error, not skip) when the stack is not up: a run that proves nothing must not pass."""

from __future__ import annotations

import os
import ssl
import subprocess
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
STACK = Path(os.environ.get("SECCTL_STACK_DIR", REPO / ".cache" / "stack"))
GW = "https://localhost:28443"
INTERNAL = "https://localhost:28445"
KC = "http://127.0.0.1:28180/realms/acme/protocol/openid-connect/token"
SPA = "http://localhost:5173"


def _env() -> dict[str, str]:
    out = {}
    for line in (STACK / "stack.env").read_text().splitlines():
        k, _, v = line.removeprefix("export ").partition("=")
        out[k] = v
    return out


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    if not (STACK / "stack.env").exists():
        pytest.fail(f"the reference stack is not up ({STACK}): run scripts/stack.sh up")
    st = subprocess.run(["bash", str(REPO / "scripts/stack.sh"), "status"], capture_output=True, text=True)
    if st.returncode != 0:
        pytest.fail(f"the reference stack is not healthy:\n{st.stdout}{st.stderr}")
    return _env()


def ca() -> str:
    return str(STACK / "pki" / "ca" / "chain.crt")


def tls_as(service: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca())
    if service:
        d = STACK / "pki" / "services" / service
        ctx.load_cert_chain(str(d / "client-fullchain.crt"), str(d / "client.key"))
    return ctx


@pytest.fixture(scope="session")
def gw() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=GW, verify=tls_as(None), timeout=15) as c:
        yield c


class Tokens:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def user(self, name: str) -> str:
        r = httpx.post(KC, data={"grant_type": "password", "client_id": "web", "username": name, "password": self.env["SECCTL_TEST_PASSWORD"], "scope": "openid organization"})
        r.raise_for_status()
        return r.json()["access_token"]

    def service(self, client_id: str, secret_var: str) -> str:
        r = httpx.post(KC, data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": self.env[secret_var]})
        r.raise_for_status()
        return r.json()["access_token"]


@pytest.fixture(scope="session")
def tokens(stack_env: dict[str, str]) -> Tokens:
    return Tokens(stack_env)


def auth(tok: str, tenant: str | None = None, **extra: Any) -> dict[str, str]:
    h = {"Authorization": f"Bearer {tok}", **extra}
    if tenant:
        h["X-Tenant-ID"] = tenant
    return h
