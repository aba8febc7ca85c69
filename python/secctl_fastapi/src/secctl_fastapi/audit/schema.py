"""The audit event schema (version 1), shared by the FastAPI kit, the worker and docs/audit.md.

Every event is one flat JSON object:

    event_id    uuid4 (or the source's own id, e.g. Keycloak's); duplicates from at-least-once delivery share it
    @timestamp  RFC 3339 UTC with milliseconds, when the event happened
    service     the producing service (``backend``, ``gateway``, ``keycloak``, ...)
    event       dotted name, e.g. ``authz.denied``
    category    authentication | authorization | admin | access | security | waf (derived from ``event``)
    outcome     allow | deny | error
    principal   the verified subject (JWT ``sub``), or null
    tenant      the verified tenant, or null
    route       the route template or path, action: what was attempted (``GET /api/admin/users``)
    request_id  the gateway's ``$request_id`` (X-Request-ID), tying nginx, ModSecurity and backend records
    source_ip   the client address as the gateway saw it
    message     a short human-readable line (the store's message field)
    schema      "1"

Extra keys are allowed (redacted like everything else). Values are capped (``MAX_FIELD_BYTES``) and a
whole event is capped (``MAX_EVENT_BYTES``) well under the store's 256 KiB line limit.
"""

from __future__ import annotations

import datetime as _dt
import json
import uuid
from typing import Any

SCHEMA_VERSION = "1"
OUTCOMES = frozenset({"allow", "deny", "error"})
MAX_FIELD_BYTES = 8 * 1024
MAX_EVENT_BYTES = 64 * 1024

# Event name prefix -> category. Categories are the store's low-cardinality stream field.
CATEGORIES = {
    "auth": "authentication",
    "login": "authentication",
    "authz": "authorization",
    "tenant": "authorization",
    "admin": "admin",
    "ratelimit": "security",
    "mtls": "security",
    "waf": "waf",
    "http": "access",
    "gateway": "access",
}
# The kit's deny events (see audit/__init__.py) plus the worker's gateway and Keycloak events.
KNOWN_EVENTS = frozenset({
    "auth.failure", "auth.success", "authz.denied", "tenant.denied", "ratelimit.hit", "admin.operation",
    "mtls.refused", "http.request", "gateway.denied", "waf.block", "waf.detect", "login.success",
    "login.failure", "admin.change",
})
CORE_FIELDS = ("event_id", "@timestamp", "service", "event", "category", "outcome", "principal", "tenant",
               "route", "action", "request_id", "source_ip", "message", "schema")


class SchemaError(ValueError):
    """The caller passed a value the schema does not allow (a programming error in the caller)."""


def category_of(event: str) -> str:
    return CATEGORIES.get(event.split(".", 1)[0], "security")


def now_rfc3339(ts: float | None = None) -> str:
    t = _dt.datetime.now(_dt.timezone.utc) if ts is None else _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_rfc3339(s: str) -> float:
    """Seconds since the epoch; raises ValueError on anything else."""
    t = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError(f"timestamp without a zone: {s!r}")
    return t.timestamp()


def _cap(v: Any) -> Any:
    if isinstance(v, str) and len(v.encode()) > MAX_FIELD_BYTES:
        return v.encode()[:MAX_FIELD_BYTES].decode("utf-8", "ignore") + "...[truncated]"
    return v


def make_event(service: str, event: str, *, outcome: str, request_id: str | None, route: str | None = None,
               action: str | None = None, principal: str | None = None, tenant: str | None = None,
               source_ip: str | None = None, message: str | None = None, event_id: str | None = None,
               timestamp: str | None = None, strict: bool = True, **extra: Any) -> dict[str, Any]:
    """Builds one schema-conforming event (not yet redacted).

    ``strict=False`` (the emitter's mode) never loses an event to a caller's slip: the bad value is
    replaced, and ``schema_error`` says what was wrong.
    """
    slips: list[str] = []
    if outcome not in OUTCOMES:
        slips.append(f"outcome {outcome!r} is not one of {sorted(OUTCOMES)}")
        outcome = "error"
    if not event or not all(p.replace("_", "").isalnum() for p in event.split(".")):
        slips.append(f"event name {event!r} must be dotted words, e.g. `authz.denied`")
        event = "invalid.event"
    if slips and strict:
        raise SchemaError("; ".join(slips))
    doc: dict[str, Any] = {
        "event_id": event_id or str(uuid.uuid4()),
        "@timestamp": timestamp or now_rfc3339(),
        "service": service,
        "event": event,
        "category": category_of(event),
        "outcome": outcome,
        "principal": principal,
        "tenant": tenant,
        "route": route,
        "action": action,
        "request_id": request_id,
        "source_ip": source_ip,
        "message": message or f"{event} {outcome}" + (f" {action}" if action else ""),
        "schema": SCHEMA_VERSION,
    }
    for k, v in extra.items():
        if k in doc:
            if strict:
                raise SchemaError(f"extra field {k!r} would overwrite a schema field")
            slips.append(f"extra field {k!r} would overwrite a schema field; kept as `extra_{k}`")
            k = f"extra_{k}"
        doc[k] = v
    if slips:
        doc["schema_error"] = "; ".join(slips)
    return {k: _cap(v) for k, v in doc.items()}


def encode(doc: dict[str, Any]) -> str:
    """Compact JSON; an event over MAX_EVENT_BYTES keeps its core fields and says it was cut."""
    s = json.dumps(doc, separators=(",", ":"), sort_keys=True, default=str)
    if len(s.encode()) <= MAX_EVENT_BYTES:
        return s
    core = {k: doc.get(k) for k in CORE_FIELDS if k in doc}
    core["truncated"] = True
    return json.dumps(core, separators=(",", ":"), sort_keys=True, default=str)
