"""What the app's code reads about the current request: the verified principal and the tenant."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException


@dataclass(frozen=True)
class Principal:
    """The verified caller. ``sub`` is None on routes without auth; ``caller`` is the service identity
    the gateway vouched for (internal listener), else None."""

    sub: str | None
    azp: str | None = None
    roles: frozenset[str] = frozenset()
    tenant: str | None = None
    caller: str | None = None
    request_id: str = ""
    claims: dict[str, Any] = field(default_factory=dict)


principal_var: ContextVar[Principal | None] = ContextVar("secctl_principal", default=None)
tenant_var: ContextVar[str | None] = ContextVar("secctl_tenant", default=None)


def current_principal() -> Principal:
    """FastAPI dependency (or plain call): the request's principal. A route reached without the kit's
    middleware having run is a wiring bug, so it fails closed with 500 rather than run unauthenticated."""
    p = principal_var.get()
    if p is None:
        raise HTTPException(status_code=500, detail="secctl kit middleware not installed")
    return p


def current_tenant() -> str:
    """The request's tenant, already checked against the token's claim (tenant-scoped routes only)."""
    t = tenant_var.get()
    if t is None:
        raise HTTPException(status_code=500, detail="no tenant on this route (is it tenant_scoped in the policy?)")
    return t
