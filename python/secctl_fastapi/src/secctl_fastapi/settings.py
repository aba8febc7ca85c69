"""The settings file `secctl render` writes per service (`kit/<service>.json`), validated at startup.

The file is data only: everything the kit enforces comes from the policy through it. A file with a
version this kit does not speak, another service's name, an unknown key or an inconsistent value is
refused with :class:`SettingsError`, which names the file, the JSON path and what to do.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

#: The settings format this kit reads. `secctl render` writes the same number.
SETTINGS_VERSION = 1

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class SettingsError(ValueError):
    """The settings file is missing, malformed or does not belong to this service."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Issuer(_Strict):
    """One trusted token issuer and where its keys are fetched (never derived from a token)."""

    issuer: str = Field(min_length=1)
    jwks_url: str = Field(pattern=r"^https?://")


class JwtSettings(_Strict):
    issuers: tuple[Issuer, ...] = Field(min_length=1)
    audiences: tuple[str, ...] = Field(min_length=1)
    algorithms: tuple[Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"], ...] = Field(min_length=1)
    typ: str = "Bearer"
    leeway_seconds: int = Field(ge=0, le=300)
    #: An unknown `kid` triggers at most one JWKS fetch per issuer per this interval.
    jwks_min_refetch_seconds: float = Field(gt=0, le=3600)
    #: Keys are refetched after this age even without an unknown `kid` (removed keys stop validating).
    jwks_max_age_seconds: float = Field(gt=0, le=86400)
    jwks_timeout_seconds: float = Field(gt=0, le=60)

    @model_validator(mode="after")
    def _ages(self) -> "JwtSettings":
        if self.jwks_max_age_seconds < self.jwks_min_refetch_seconds:
            raise ValueError("jwks_max_age_seconds must be >= jwks_min_refetch_seconds")
        return self


class Limit(_Strict):
    """GCRA parameters: `rate` requests per `period_seconds`, `burst` extra requests at once."""

    rate: int = Field(ge=1, le=1_000_000)
    period_seconds: int = Field(ge=1, le=86400)
    burst: int = Field(ge=0, le=1_000_000)


class RateLimits(_Strict):
    per_ip: Limit | None = None
    per_user: Limit | None = None
    #: What a request gets when Redis cannot be reached: `open` lets it through (logged),
    #: `closed` answers 503. The default is closed for AI routes, open otherwise.
    redis_down: Literal["open", "closed"]


class Route(_Strict):
    path: str = Field(pattern=r"^/[^\s]*$")
    exact: bool
    listener: Literal["public", "internal"]
    auth: bool
    roles: tuple[str, ...] = ()
    tenant_scoped: bool
    ai: bool
    #: Admin operations (paths under an `/admin/` segment): every allowed request is audited too.
    admin: bool
    #: Allowed `azp` (the OAuth client the token was issued to).
    azp: tuple[str, ...] = ()
    #: Certificate identities the gateway may vouch for on this route (internal listener).
    callers: tuple[str, ...] = ()
    rate_limit: RateLimits

    @model_validator(mode="after")
    def _shape(self) -> "Route":
        if self.exact == self.path.endswith("/") and self.path != "/":
            raise ValueError(f"route {self.path!r}: `exact` must be true exactly when the path does not end with `/`")
        if self.auth and not self.azp:
            raise ValueError(f"route {self.path!r} requires a token but allows no `azp`: no client could call it")
        return self


class Tenancy(_Strict):
    claim: str = Field(min_length=1)
    header: str = Field(pattern=_HEADER.pattern)
    path_param: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    tenants: tuple[str, ...]


class Cors(_Strict):
    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...]
    credentials: bool
    max_age: int = Field(ge=0, le=86400)

    @field_validator("origins")
    @classmethod
    def _no_wildcard(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for o in v:
            if o in ("*", "null") or not re.match(r"^https?://[^/\s]+$", o):
                raise ValueError(f"origin {o!r} must be an exact scheme://host[:port]")
        return v


class RedisSettings(_Strict):
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    tls: bool
    username: str = Field(pattern=_NAME.pattern)
    #: Every limiter key starts with this (the ACL grants exactly this pattern).
    key_prefix: str = Field(pattern=r"^ratelimit:[a-z0-9-]+:$")
    timeout_seconds: float = Field(gt=0, le=10)


class Mtls(_Strict):
    trust_domain: str = Field(min_length=1)
    #: The gateway's service name: the only TLS peer whose forwarded headers are believed.
    gateway: str | None
    #: Services that may open TLS connections to this service (direct flows).
    allowed_peers: tuple[str, ...]
    identity_header: str = Field(pattern=_HEADER.pattern)


class Audit(_Strict):
    stream: str = Field(pattern=r"^audit:[a-z0-9-]+$")


class KitSettings(_Strict):
    """The whole settings file. Build it with :func:`load_settings`."""

    version: int
    #: secctl's "Generated by ... Do not edit" marker.
    generated_by: str = Field(pattern=r"^Generated by secctl ")
    service: str = Field(pattern=_NAME.pattern)
    policy: str
    jwt: JwtSettings
    tenancy: Tenancy | None
    cors: Cors | None
    routes: tuple[Route, ...]
    redis: RedisSettings | None
    mtls: Mtls | None
    audit: Audit

    @model_validator(mode="after")
    def _consistent(self) -> "KitSettings":
        if self.version != SETTINGS_VERSION:
            raise ValueError(f"settings version {self.version} is not supported by this kit (it reads {SETTINGS_VERSION})")
        if any(r.tenant_scoped for r in self.routes) and self.tenancy is None:
            raise ValueError("a route is tenant_scoped but `tenancy` is null")
        if any(r.rate_limit.per_user or r.rate_limit.per_ip for r in self.routes) and self.redis is None:
            raise ValueError("routes have rate limits but `redis` is null")
        seen = set()
        for r in self.routes:
            if r.path in seen:
                raise ValueError(f"route {r.path!r} appears twice")
            seen.add(r.path)
        if self.redis and self.redis.key_prefix != f"ratelimit:{self.service}:":
            raise ValueError(f"redis.key_prefix must be `ratelimit:{self.service}:`")
        return self

    def route_for(self, path: str) -> Route | None:
        """The longest matching route (exact paths match only themselves), as the gateway picks it."""
        best: Route | None = None
        for r in self.routes:
            hit = path == r.path if r.exact else path.startswith(r.path)
            if hit and (best is None or len(r.path) > len(best.path)):
                best = r
        return best


def parse_settings(data: object, *, source: str, service: str | None = None) -> KitSettings:
    """Validates an already-decoded settings document; see :func:`load_settings`."""
    if isinstance(data, dict) and data.get("version") not in (None, SETTINGS_VERSION):
        raise SettingsError(
            f"{source}: settings version {data.get('version')!r} is not supported by this kit (it reads "
            f"{SETTINGS_VERSION}); render with a matching secctl, or upgrade secctl-fastapi"
        )
    try:
        # JSON mode keeps strict typing (no "8000" -> 8000) while reading arrays as tuples.
        s = KitSettings.model_validate_json(json.dumps(data))
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(document)"
            lines.append(f"  at `{loc}`: {err['msg']}")
        raise SettingsError(f"{source}: invalid secctl kit settings; re-run `secctl render`:\n" + "\n".join(lines)) from None
    if service is not None and s.service != service:
        raise SettingsError(
            f"{source}: these settings are for service `{s.service}`, not `{service}`; point the service at "
            f"kit/{service}.json"
        )
    return s


def load_settings(path: str | Path, *, service: str | None = None) -> KitSettings:
    """Reads and validates `path`; refuses loudly (SettingsError) on any problem.

    `service`, when given, must equal the file's `service` (a backend started with the AI
    service's file would enforce the wrong routes).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise SettingsError(f"{p}: cannot read the kit settings ({e.strerror}); run `secctl render` and check the path") from None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SettingsError(f"{p}: not valid JSON ({e}); re-run `secctl render`") from None
    return parse_settings(data, source=str(p), service=service)
