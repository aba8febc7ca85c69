"""The request pipeline: one ASGI middleware that every request of the service passes.

Order (each step refuses on its own, and every refusal is one audit event):
mTLS peer -> path normalisation -> policy route -> (internal) gateway-vouched caller -> token ->
`azp` -> roles -> tenant -> rate limits (per IP always, per verified user after auth) -> the app.

A path with no policy route is 404 before the app sees it: the gateway forwards policy routes
only, so anything else reaching the service is a bypass attempt.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable

import redis.exceptions
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Match

from .context import Principal, principal_var, tenant_var
from .jwks import JwksCache, KeysUnavailable
from .ratelimit import Decision, RateLimiter, ip_bucket
from .settings import KitSettings, Limit, Route, load_settings
from .tokens import InvalidToken, TokenValidator

log = logging.getLogger("secctl_fastapi")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_DOT_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)")

Scope = dict[str, Any]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class _Deny(Exception):
    def __init__(self, status: int, event: str, detail: str, headers: dict[str, str] | None = None) -> None:
        self.status, self.event, self.detail, self.headers = status, event, detail, headers or {}


class SecurityKit:
    """Everything a service needs, built from its settings. ``redis`` is a ``redis.asyncio.Redis``
    logged in as the service's ACL user; ``audit`` an ``AuditEmitter`` (or None in unit tests)."""

    def __init__(self, settings: KitSettings, *, redis: Any = None, audit: Any = None, jwks: JwksCache | None = None, jwks_verify: Any = True) -> None:
        self.settings = settings
        self.jwks = jwks or JwksCache(
            {i.issuer: i.jwks_url for i in settings.jwt.issuers},
            min_refetch=settings.jwt.jwks_min_refetch_seconds,
            max_age=settings.jwt.jwks_max_age_seconds,
            timeout=settings.jwt.jwks_timeout_seconds,
            verify=jwks_verify,
        )
        self.tokens = TokenValidator(settings.jwt, self.jwks)
        self.limiter = RateLimiter(redis, settings.redis.key_prefix) if (redis is not None and settings.redis) else None
        self.audit = audit
        self._app: FastAPI | None = None

    @classmethod
    def from_file(cls, path: str | Path, service: str, **kw: Any) -> "SecurityKit":
        return cls(load_settings(path, service=service), **kw)

    def install(self, app: FastAPI) -> None:
        """Adds the kit (and CORS, outermost, from the same settings) to ``app``."""
        self._app = app
        app.add_middleware(_KitMiddleware, kit=self)
        c = self.settings.cors
        if c is not None:
            app.add_middleware(
                CORSMiddleware,
                allow_origins=list(c.origins),
                allow_methods=list(c.methods),
                allow_headers=list(c.headers),
                allow_credentials=c.credentials,
                max_age=c.max_age,
                expose_headers=["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy", "Retry-After", "X-Request-ID"],
            )

    async def aclose(self) -> None:
        await self.jwks.aclose()

    # -- the pipeline -------------------------------------------------------------------------

    def _path_params(self, scope: Scope) -> dict[str, Any]:
        if self._app is None:
            return {}
        for r in self._app.router.routes:
            match, child = r.matches(scope)
            if match == Match.FULL:
                return dict(child.get("path_params", {}))
        return {}

    async def _emit(self, event: str, outcome: str, ctx: dict[str, Any], **extra: Any) -> None:
        if self.audit is None:
            return
        try:
            await self.audit.emit(event, outcome=outcome, **ctx, **extra)
        except Exception:  # noqa: BLE001 - auditing must not turn a deny into an allow, nor crash
            log.exception("audit event %s could not be written", event)

    async def _limit(self, route: Route, items: list[tuple[str, Limit]]) -> Decision | None:
        if not items or self.limiter is None:
            return None
        try:
            d = await self.limiter.hit(items)
        except (redis.exceptions.RedisError, OSError):
            if route.rate_limit.redis_down == "closed":
                raise _Deny(503, "ratelimit.hit", "rate limiter unavailable", {"Retry-After": "1"}) from None
            log.warning("rate limiter unavailable; route %s fails open by policy", route.path)
            return None
        if not d.allowed:
            raise _Deny(429, "ratelimit.hit", "too many requests", d.headers())
        return d

    def _client_ip(self, scope: Scope, headers: dict[str, str], peer: str | None) -> str:
        m = self.settings.mtls
        if m is not None and m.gateway is not None and peer == m.gateway:
            # The gateway overwrites X-Forwarded-For with $remote_addr: the last entry is its view.
            fwd = headers.get("x-forwarded-for", "").split(",")[-1].strip()
            if fwd:
                return fwd
        client = scope.get("client")
        return client[0] if client else "unknown"

    async def handle(self, scope: Scope, receive: Any, send: Send, app: Any) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = headers.get("x-request-id", "")
        if not _REQUEST_ID.match(rid):
            rid = str(uuid.uuid4())
        path: str = scope.get("path", "")
        method: str = scope.get("method", "")
        ctx: dict[str, Any] = {"request_id": rid, "route": None, "action": f"{method} {path}"[:512], "principal": None, "tenant": None, "source_ip": None}
        extra_headers: dict[str, str] = {"X-Request-ID": rid}
        route: Route | None = None
        ip_items: list[tuple[str, Limit]] = []
        try:
            # 1. the TLS peer (uvicorn runs with client certificates required; see mtls.py)
            peer: str | None = None
            m = self.settings.mtls
            if m is not None:
                peer = ((scope.get("extensions") or {}).get("tls") or {}).get("secctl_identity")
                if peer is None or peer not in m.allowed_peers:
                    ctx["source_ip"] = (scope.get("client") or ("unknown",))[0]
                    raise _Deny(403, "mtls.refused", "caller certificate not allowed", {})
            ip = self._client_ip(scope, headers, peer)
            ctx["source_ip"] = ip
            # 2. one spelling per path: `..`/`.` segments and `//` never reach route matching
            if _DOT_SEGMENT.search(path) or "//" in path or "\\" in path:
                raise _Deny(400, "authz.denied", "non-normalised path")
            route = self.settings.route_for(path)
            if route is None:
                raise _Deny(404, "authz.denied", "no policy route for this path")
            ctx["route"] = route.path
            if route.rate_limit.per_ip is not None and self.limiter is not None:
                ip_items = [(self.limiter.key(route.path, "ip", ip_bucket(ip)), route.rate_limit.per_ip)]
            # 3. internal listener: only identities the flows allow, as vouched for by the gateway
            caller = None
            if route.listener == "internal":
                if m is None or peer != m.gateway:
                    raise _Deny(403, "mtls.refused", "internal routes are reached through the gateway only")
                caller = headers.get(m.identity_header.lower()) or None
                if caller not in route.callers:
                    raise _Deny(403, "mtls.refused", "caller identity not allowed on this route")
            principal = Principal(sub=None, caller=caller, request_id=rid)
            items = list(ip_items)
            if route.auth:
                principal = await self._authenticate(route, headers, scope, ctx, caller, rid)
                if route.rate_limit.per_user is not None and self.limiter is not None:
                    ident = f"{principal.tenant or ''}\x00{principal.sub}"
                    items.append((self.limiter.key(route.path, "user", ident), route.rate_limit.per_user))
            decision = await self._limit(route, items)
            ip_items = []  # charged
            if decision is not None:
                extra_headers.update(decision.headers())
        except _Deny as d:
            if ip_items and route is not None and d.status not in (429, 503):
                # A refused request still counts against its address: floods of bad tokens are limited too.
                try:
                    dec = await self._limit(route, ip_items)
                    if dec is not None:
                        extra_headers.update(dec.headers())
                except _Deny as d2:
                    if d2.status == 429:
                        d = d2
            await self._emit(d.event, "deny" if d.status < 500 else "error", ctx, status=d.status, reason=d.detail)
            await _respond(send, d.status, d.detail, {**extra_headers, **d.headers})
            return
        except KeysUnavailable:
            await self._emit("auth.failure", "error", ctx, status=503, reason="identity provider keys unavailable")
            await _respond(send, 503, "identity provider keys unavailable", {**extra_headers, "Retry-After": "5"})
            return

        status_box: list[int] = []

        async def send_wrapper(msg: dict[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                status_box.append(msg["status"])
                hs = list(msg.get("headers", []))
                hs += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers.items()]
                msg = {**msg, "headers": hs}
            await send(msg)

        t1 = principal_var.set(principal)
        t2 = tenant_var.set(principal.tenant)
        scope.setdefault("state", {})["secctl_principal"] = principal
        try:
            await app(scope, receive, send_wrapper)
        finally:
            principal_var.reset(t1)
            tenant_var.reset(t2)
            if route.admin:
                await self._emit("admin.operation", "allow" if status_box and status_box[0] < 400 else "error", ctx, status=status_box[0] if status_box else 500)

    async def _authenticate(self, route: Route, headers: dict[str, str], scope: Scope, ctx: dict[str, Any], caller: str | None, rid: str) -> Principal:
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _Deny(401, "auth.failure", "bearer token required", {"WWW-Authenticate": 'Bearer realm="secctl"'})
        try:
            claims = await self.tokens.validate(token)
        except InvalidToken as e:
            ctx["reason_code"] = e.reason
            raise _Deny(401, "auth.failure", f"invalid token ({e.reason})", {"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
        sub = claims["sub"]
        ctx["principal"] = sub
        azp = claims.get("azp")
        if azp not in route.azp:
            raise _Deny(403, "authz.denied", "client not allowed on this route")
        ra = claims.get("realm_access")
        roles = frozenset(r for r in (ra.get("roles") if isinstance(ra, dict) else None) or [] if isinstance(r, str))
        if route.roles and not roles.intersection(route.roles):
            raise _Deny(403, "authz.denied", "missing role")
        tenant = None
        if route.tenant_scoped:
            tn = self.settings.tenancy
            assert tn is not None  # the settings validator guarantees it
            from_path = self._path_params(scope).get(tn.path_param)
            from_header = headers.get(tn.header.lower())
            if from_path and from_header and from_path != from_header:
                raise _Deny(403, "tenant.denied", "tenant in path and header differ")
            tenant = from_path or from_header
            if not tenant:
                raise _Deny(403, "tenant.denied", f"tenant required (path or {tn.header} header)")
            ctx["tenant"] = tenant[:128]
            if tenant not in tn.tenants or tenant not in token_tenants(claims.get(tn.claim)):
                raise _Deny(403, "tenant.denied", "tenant not allowed")
        return Principal(sub=sub, azp=azp, roles=roles, tenant=tenant, caller=caller, request_id=rid, claims=claims)


def token_tenants(v: Any) -> frozenset[str]:
    """Tenants the claim grants: a string, a list of ids, or a map keyed by id (Keycloak
    Organizations emits the map form with the `organization` scope)."""
    if isinstance(v, str):
        return frozenset([v])
    if isinstance(v, list):
        return frozenset(x for x in v if isinstance(x, str))
    if isinstance(v, dict):
        return frozenset(k for k in v if isinstance(k, str))
    return frozenset()


async def _respond(send: Send, status: int, detail: str, headers: dict[str, str]) -> None:
    body = json.dumps({"detail": detail}).encode()
    hs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    hs += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": hs})
    await send({"type": "http.response.body", "body": body})


class _KitMiddleware:
    def __init__(self, app: Any, kit: SecurityKit) -> None:
        self.app = app
        self.kit = kit

    async def __call__(self, scope: Scope, receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                # No policy for websockets yet: refuse rather than bypass.
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        await self.kit.handle(scope, receive, send, self.app)
