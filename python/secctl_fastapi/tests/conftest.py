"""Real servers for the kit's tests: a Redis 7 with the ACL `secctl render` writes for a FastAPI
service, and a JWKS HTTP server whose keys the test controls (rotation, removal, fetch counts)."""

from __future__ import annotations

import copy
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
import redis as redis_sync
from cryptography.hazmat.primitives.asymmetric import rsa

REDIS_PASSWORD = "kit-test-" + uuid.uuid4().hex
# The rules kit.rs renders for a FastAPI service's limiter and audit stream (see src/render/redis/acl.rs).
REDIS_ACL = "on >{pw} resetkeys ~ratelimit:backend:* %W~audit:backend resetchannels -@all +@read +@write +@connection -@dangerous +evalsha +script|load +time"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="kit-redis-")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe, "redis-server not found (scripts/setup.sh installs it)"
        conf = Path(self.dir) / "redis.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir {self.dir}\n"
            f"user default off\nuser backend {REDIS_ACL.format(pw=REDIS_PASSWORD)}\n"
            f"user admin on >admin-{REDIS_PASSWORD} ~* &* +@all\n"
        )
        self.proc = subprocess.Popen([exe, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.admin().ping():
                    return
            except redis_sync.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis did not start")

    def admin(self) -> redis_sync.Redis:
        return redis_sync.Redis(host="127.0.0.1", port=self.port, username="admin", password="admin-" + REDIS_PASSWORD)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    r = RedisServer()
    r.start()
    yield r
    r.stop()
    shutil.rmtree(r.dir, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.admin().flushall()
    return f"redis://backend:{REDIS_PASSWORD}@127.0.0.1:{redis_server.port}/0"


class Keys:
    """RSA signing keys by kid, and the JWKS document the server publishes (a subset, for rotation)."""

    def __init__(self) -> None:
        self.private: dict[str, Any] = {}
        self.published: list[str] = []
        self.fetches = 0
        self.fail = False

    def add(self, kid: str, publish: bool = True) -> None:
        self.private[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid in self.published:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private[kid].public_key()))
            jwk.update(kid=kid, use="sig", alg="RS256")
            out.append(jwk)
        return {"keys": out}


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, Keys]]:
    keys = Keys()
    keys.add("k1")

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            keys.fetches += 1
            if keys.fail:
                self.send_response(500)
                self.end_headers()
                return
            body = json.dumps(keys.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/realms/acme/protocol/openid-connect/certs", keys
    srv.shutdown()
    srv.server_close()


ISSUER = "https://auth.acme.test/realms/acme"

BASE_SETTINGS: dict[str, Any] = {
    "version": 1,
    "service": "backend",
    "policy": "tests",
    "jwt": {
        "issuers": [{"issuer": ISSUER, "jwks_url": "http://placeholder/"}],
        "audiences": ["backend-api"],
        "algorithms": ["RS256"],
        "typ": "Bearer",
        "leeway_seconds": 30,
        "jwks_min_refetch_seconds": 30,
        "jwks_max_age_seconds": 300,
        "jwks_timeout_seconds": 5,
    },
    "tenancy": {"claim": "organization", "header": "X-Tenant-ID", "path_param": "tenant", "tenants": ["tenant-a", "tenant-b"]},
    "cors": {"origins": ["http://localhost:5173"], "methods": ["GET", "POST", "OPTIONS"], "headers": ["Authorization", "Content-Type", "X-Request-ID", "X-Tenant-ID"], "credentials": True, "max_age": 600},
    "routes": [
        {"path": "/api/", "exact": False, "listener": "public", "auth": True, "roles": ["viewer", "analyst", "admin"], "tenant_scoped": True, "ai": False, "admin": False,
         "azp": ["web", "worker"], "callers": [], "rate_limit": {"per_ip": {"rate": 20, "period_seconds": 1, "burst": 40}, "per_user": {"rate": 10, "period_seconds": 60, "burst": 2}, "redis_down": "open"}},
        {"path": "/api/admin/", "exact": False, "listener": "public", "auth": True, "roles": ["admin"], "tenant_scoped": True, "ai": False, "admin": True,
         "azp": ["web"], "callers": [], "rate_limit": {"per_ip": {"rate": 5, "period_seconds": 1, "burst": 10}, "per_user": None, "redis_down": "open"}},
        {"path": "/ai/", "exact": False, "listener": "public", "auth": True, "roles": ["ai-user"], "tenant_scoped": True, "ai": True, "admin": False,
         "azp": ["web"], "callers": [], "rate_limit": {"per_ip": {"rate": 2, "period_seconds": 1, "burst": 50}, "per_user": {"rate": 10, "period_seconds": 60, "burst": 3}, "redis_down": "closed"}},
        {"path": "/healthz", "exact": True, "listener": "public", "auth": False, "roles": [], "tenant_scoped": False, "ai": False, "admin": False,
         "azp": [], "callers": [], "rate_limit": {"per_ip": {"rate": 20, "period_seconds": 1, "burst": 40}, "per_user": None, "redis_down": "open"}},
        {"path": "/internal/", "exact": False, "listener": "internal", "auth": True, "roles": [], "tenant_scoped": False, "ai": False, "admin": False,
         "azp": ["worker"], "callers": ["worker"], "rate_limit": {"per_ip": {"rate": 20, "period_seconds": 1, "burst": 40}, "per_user": None, "redis_down": "open"}},
    ],
    "redis": {"host": "127.0.0.1", "port": 6379, "tls": False, "username": "backend", "key_prefix": "ratelimit:backend:", "timeout_seconds": 1},
    "mtls": None,
    "audit": {"stream": "audit:backend"},
}


@pytest.fixture
def settings_doc(jwks_server: tuple[str, Keys]) -> dict[str, Any]:
    d = copy.deepcopy(BASE_SETTINGS)
    d["jwt"]["issuers"][0]["jwks_url"] = jwks_server[0]
    return d


def make_token(keys: Keys, kid: str = "k1", **over: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER, "aud": "backend-api", "sub": "user-alice", "azp": "web", "typ": "Bearer",
        "iat": now, "exp": now + 300, "realm_access": {"roles": ["analyst", "viewer"]},
        "organization": {"tenant-a": {}}, "jti": uuid.uuid4().hex,
    }
    drop = [k for k, v in over.items() if v is None]
    claims.update({k: v for k, v in over.items() if v is not None})
    for k in drop:
        claims.pop(k, None)
    return jwt.encode(claims, keys.private[kid], algorithm="RS256", headers={"kid": kid})


def write_settings(tmp: Path, doc: dict[str, Any]) -> Path:
    p = tmp / f"{doc.get('service', 'x')}.json"
    p.write_text(json.dumps(doc))
    return p
