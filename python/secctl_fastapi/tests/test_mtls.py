"""mTLS at the service itself (uvicorn, separate process): no certificate, a revoked certificate
and a certificate whose identity has no flow to this service are all refused."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from .conftest import Keys, RedisServer, free_port, make_token, write_settings
from .pki import make_pki

HERE = Path(__file__).resolve().parent


class Served:
    def __init__(self, port: int, pki: dict[str, Path], keys: Keys, admin: Any) -> None:
        self.port, self.pki, self.keys, self.admin = port, pki, keys, admin

    def client(self, who: str | None) -> httpx.Client:
        ctx = ssl.create_default_context(cafile=str(self.pki["ca.crt"]))
        if who:
            ctx.load_cert_chain(str(self.pki[f"{who}.crt"]), str(self.pki[f"{who}.key"]))
        return httpx.Client(base_url=f"https://localhost:{self.port}", verify=ctx, timeout=5)


@pytest.fixture
def served(tmp_path: Path, settings_doc: dict[str, Any], redis_url: str, jwks_server: tuple[str, Keys], redis_server: RedisServer) -> Iterator[Served]:
    pki = make_pki(tmp_path, ["gateway", "worker", "worker-revoked", "ai"], revoked=["worker-revoked"])
    settings_doc["mtls"] = {"trust_domain": "acme.internal", "gateway": "gateway", "allowed_peers": ["gateway", "worker-revoked", "worker"], "identity_header": "X-Client-Identity"}
    settings_doc["redis"]["port"] = redis_server.port
    path = write_settings(tmp_path, settings_doc)
    port = free_port()
    env = {**os.environ, "KIT_TEST_SETTINGS": str(path), "KIT_TEST_REDIS_URL": redis_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "secctl_fastapi.serve", "tests.mtls_app:app", "--port", str(port), "--cert", str(pki["server.crt"]),
         "--key", str(pki["server.key"]), "--ca", str(pki["ca.crt"]), "--crl", str(pki["crl.pem"]), "--trust-domain", "acme.internal"],
        cwd=HERE.parent, env=env, stderr=subprocess.PIPE,
    )
    s = Served(port, pki, jwks_server[1], redis_server.admin())
    deadline = time.monotonic() + 20
    while True:  # readiness: a real mTLS request, never a blind sleep
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "server exited"
        try:
            with s.client("gateway") as c:
                if c.get("/healthz").status_code == 200:
                    break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "uvicorn did not become ready"
        time.sleep(0.1)
    yield s
    proc.terminate()
    proc.wait(10)


def refused_at_tls(s: Served, who: str | None) -> bool:
    try:
        with s.client(who) as c:
            c.get("/healthz")
    except (httpx.TransportError, ssl.SSLError):
        return True
    return False


def test_gateway_peer_is_served(served: Served) -> None:
    with served.client("gateway") as c:
        assert c.get("/healthz").json() == {"ok": "yes"}


def test_no_certificate_is_refused(served: Served) -> None:
    assert refused_at_tls(served, None)
    with served.client("gateway") as c:  # the server is up, and it was the missing certificate
        assert c.get("/healthz").status_code == 200


def test_revoked_certificate_is_refused_by_the_service_itself(served: Served) -> None:
    # `worker-revoked` is an allowed peer in these settings: only the CRL can refuse it.
    assert refused_at_tls(served, "worker-revoked")
    with served.client("gateway") as c:
        assert c.get("/healthz").status_code == 200


def test_identity_without_a_flow_is_refused_with_an_audit_event(served: Served) -> None:
    with served.client("ai") as c:
        r = c.get("/healthz")
    assert r.status_code == 403 and "caller certificate" in r.text
    events = [json.loads(f[b"event"]) for _, f in served.admin.xrange("audit:backend")]
    assert [e["event"] for e in events] == ["mtls.refused"]
    assert events[0]["source_ip"] == "127.0.0.1"


def test_internal_route_trusts_forwarded_identity_only_from_the_gateway(served: Served) -> None:
    tok = make_token(served.keys, azp="worker", sub="service-account-worker", realm_access={"roles": ["viewer"]})
    h = {"Authorization": f"Bearer {tok}", "X-Client-Identity": "worker", "X-Forwarded-For": "198.51.100.4"}
    with served.client("gateway") as c:
        r = c.post("/internal/job-results", headers=h)
        assert r.status_code == 200, r.text
        assert r.json() == {"caller": "worker", "sub": "service-account-worker"}
        r = c.post("/internal/job-results", headers={**h, "X-Client-Identity": "ai"})
        assert r.status_code == 403
    events = [json.loads(f[b"event"]) for _, f in served.admin.xrange("audit:backend")]
    assert events[-1]["event"] == "mtls.refused" and events[-1]["source_ip"] == "198.51.100.4", "client IP from X-Forwarded-For when the peer is the gateway"
    # another allowed peer (a direct flow) can neither reach internal routes nor set its address
    with served.client("worker") as c:
        r = c.post("/internal/job-results", headers=h)
    assert r.status_code == 403 and "through the gateway" in r.text
    events = [json.loads(f[b"event"]) for _, f in served.admin.xrange("audit:backend")]
    assert events[-1]["source_ip"] == "127.0.0.1", "X-Forwarded-For is ignored unless the TLS peer is the gateway"
