"""Exercises the rendered backend/secctl_security.py for real: FastAPI + PyJWT, RS256
tokens minted here with a local key, JWKS served over HTTP on 127.0.0.1:<port>.

Usage: python backend_check.py <dir with secctl_security.py> <jwks port>
Prints one line per case and "<n> passed, <m> failed"; exits 1 on any failure.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

sys.path.insert(0, sys.argv[1])
port = int(sys.argv[2])
import secctl_security as sec  # noqa: E402

assert sec.JWKS_URL == f"http://127.0.0.1:{port}/realms/acme/protocol/openid-connect/certs", sec.JWKS_URL

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
# Keycloak also publishes an encryption key; it must never be used to verify.
enc = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rogue.public_key()))
enc.update({"kid": "enc1", "use": "enc", "alg": "RSA-OAEP"})
JWKS = json.dumps({"keys": [jwk, enc]}).encode()
fetches = []


class Jwks(BaseHTTPRequestHandler):
    def do_GET(self):
        fetches.append(self.path)
        if self.path == "/realms/acme/protocol/openid-connect/certs":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(JWKS)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *a):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Jwks)
threading.Thread(target=server.serve_forever, daemon=True).start()

app = FastAPI(dependencies=[Depends(sec.authorize)])


@app.get("/api/items")
def items(who: sec.Principal = Depends(sec.authorize)):
    return {"tenant": who.tenant, "sub": who.sub}


@app.put("/api/t/{tenant}/items")
def tenant_items(tenant: str, who: sec.Principal = Depends(sec.authorize)):
    return {"tenant": who.tenant}


@app.get("/api/admin/users")
def admin():
    return {}


@app.post("/ai/complete")
def ai():
    return {}


@app.get("/healthz")
def health():
    return {"ok": True}


@app.get("/internal/results")
def internal():
    return {}


@app.get("/debug")
def debug():
    return {}


client = TestClient(app)
now = int(time.time())
PEM_PUB = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def token(drop=(), k=key, kid="k1", alg="RS256", **over):
    c = {
        "iss": sec.ISSUER, "aud": "backend-api", "azp": "web", "typ": "Bearer", "sub": "user-1",
        "exp": now + 300, "iat": now, "realm_access": {"roles": ["viewer"]}, sec.TENANT_CLAIM: ["tenant-a"],
    }
    c.update(over)
    for d in drop:
        c.pop(d)
    return jwt.encode(c, k, algorithm=alg, headers={"kid": kid})


def raw(claims, k=key, alg="RS256", kid="k1"):
    """Signs an arbitrary payload, bypassing PyJWT's claim type checks."""
    return jwt.api_jws.PyJWS().encode(json.dumps(claims).encode(), k, algorithm=alg, headers={"kid": kid})


def hs256_confusion():
    """Algorithm confusion: HS256 keyed with the RSA public key PEM (PyJWT refuses to build it, so by hand)."""
    import hashlib
    import hmac

    b64 = lambda b: jwt.utils.base64url_encode(b).decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps({"iss": sec.ISSUER, "aud": "backend-api", "typ": "Bearer", "exp": now + 60, "iat": now, "azp": "web",
                           "realm_access": {"roles": ["admin"]}, sec.TENANT_CLAIM: ["tenant-a"]}).encode())
    sig = b64(hmac.new(PEM_PUB, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def bearer(t, tenant="tenant-a"):
    h = {"Authorization": f"Bearer {t}"}
    if tenant:
        h["X-Tenant-ID"] = tenant
    return h


good = token()
tampered = good.split(".")
tampered[1] = jwt.utils.base64url_encode(json.dumps({**jwt.decode(good, options={"verify_signature": False}), "realm_access": {"roles": ["admin"]}}).encode()).decode()
tampered = ".".join(tampered)

CASES = [
    # name, method, path, headers, expected status
    ("valid viewer token", "GET", "/api/items", bearer(good), 200),
    ("no token", "GET", "/api/items", {"X-Tenant-ID": "tenant-a"}, 401),
    ("basic auth scheme", "GET", "/api/items", {"Authorization": "Basic dXNlcjpwdw==", "X-Tenant-ID": "tenant-a"}, 401),
    ("garbage token", "GET", "/api/items", bearer("not.a.jwt"), 401),
    ("wrong audience", "GET", "/api/items", bearer(token(aud="account")), 401),
    ("missing audience", "GET", "/api/items", bearer(token(drop=["aud"])), 401),
    ("wrong issuer", "GET", "/api/items", bearer(token(iss="http://evil.example/realms/acme")), 401),
    ("issuer as list", "GET", "/api/items", bearer(raw({**jwt.decode(good, options={"verify_signature": False}), "iss": [sec.ISSUER]})), 401),
    ("expired", "GET", "/api/items", bearer(token(exp=now - 120)), 401),
    ("expired within leeway", "GET", "/api/items", bearer(token(exp=now - 10)), 200),
    ("missing exp", "GET", "/api/items", bearer(token(drop=["exp"])), 401),
    ("iat in the future", "GET", "/api/items", bearer(token(iat=now + 3600)), 401),
    ("ID token (typ ID)", "GET", "/api/items", bearer(token(typ="ID")), 401),
    ("refresh token", "GET", "/api/items", bearer(token(typ="Refresh")), 401),
    ("signed by another key", "GET", "/api/items", bearer(token(k=rogue)), 401),
    ("signed with the enc key id", "GET", "/api/items", bearer(token(k=rogue, kid="enc1")), 401),
    ("unknown kid", "GET", "/api/items", bearer(token(kid="nope")), 401),
    ("tampered payload", "GET", "/api/items", bearer(tampered), 401),
    ("alg none", "GET", "/api/items", bearer(jwt.encode({"iss": sec.ISSUER, "aud": "backend-api", "typ": "Bearer", "exp": now + 60, "iat": now, "azp": "web"}, None, algorithm="none")), 401),
    ("HS256 with the public key as secret", "GET", "/api/items",
     bearer(hs256_confusion()), 401),
    ("azp not allowed on /api/", "GET", "/api/items", bearer(token(azp="ai-service")), 403),
    ("worker service account on /api/", "GET", "/api/items", bearer(token(azp="worker")), 200),
    ("missing role on admin route", "GET", "/api/admin/users", bearer(good), 403),
    ("admin role on admin route", "GET", "/api/admin/users", bearer(token(realm_access={"roles": ["admin"]})), 200),
    ("client role is not a realm role", "GET", "/api/admin/users", bearer(token(resource_access={"backend-api": {"roles": ["admin"]}})), 403),
    ("wrong tenant", "GET", "/api/items", bearer(good, tenant="tenant-b"), 403),
    ("no tenant", "GET", "/api/items", bearer(good, tenant=None), 403),
    ("unknown tenant granted by token", "GET", "/api/items", bearer(token(**{sec.TENANT_CLAIM: ["tenant-x"]}), tenant="tenant-x"), 403),
    ("no tenant claim", "GET", "/api/items", bearer(token(drop=[sec.TENANT_CLAIM])), 403),
    ("tenant claim as organization map", "GET", "/api/items", bearer(token(**{sec.TENANT_CLAIM: {"tenant-a": {"id": "1"}}})), 200),
    ("tenant path param matches", "PUT", "/api/t/tenant-a/items", bearer(good, tenant=None), 200),
    ("tenant path param mismatch", "PUT", "/api/t/tenant-b/items", bearer(good, tenant=None), 403),
    ("path and header disagree", "PUT", "/api/t/tenant-a/items", bearer(good, tenant="tenant-b"), 403),
    ("ai route needs ai-user", "POST", "/ai/complete", bearer(good), 403),
    ("ai route with ai-user", "POST", "/ai/complete", bearer(token(realm_access={"roles": ["ai-user"]})), 200),
    ("worker cannot call the ai route", "POST", "/ai/complete", bearer(token(azp="worker", realm_access={"roles": ["ai-user"]})), 403),
    ("anonymous health", "GET", "/healthz", {}, 200),
    ("internal route: browser client refused", "GET", "/internal/results", bearer(good), 403),
    ("internal route: worker", "GET", "/internal/results", bearer(token(azp="worker")), 200),
    ("path with no policy route", "GET", "/debug", bearer(good), 403),
]

passed = failed = 0
for name, method, path, headers, want in CASES:
    got = client.request(method, path, headers=headers).status_code
    ok = got == want
    passed += ok
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {method} {path} -> {got} (want {want})")

# Keys unavailable: a fresh client whose JWKS URL refuses connections must fail closed (503).
server.shutdown()
server.server_close()
sec._jwks_client.cache_clear()
got = client.get("/api/items", headers=bearer(good)).status_code
ok = got == 503
passed += ok
failed += not ok
print(f"{'ok  ' if ok else 'FAIL'} JWKS unreachable fails closed: -> {got} (want 503)")
print(f"JWKS fetches: {len(fetches)}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
