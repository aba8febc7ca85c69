"""Writes audit events to the service's own Redis stream ``audit:<service>``.

Why one stream per service, and no MAXLEN: Redis ACLs cannot restrict arguments, so a write-only user
could wipe a *shared* stream with ``XADD ... MAXLEN 0``; with one stream each, a compromised service can
only drop its own unshipped events (which it could forge anyway). Trimming is the worker's job, after
durable delivery.

When Redis is down: events of a fail-closed category (``admin`` by default) raise ``AuditUnavailable``
so the operation is refused (the kit answers 503); the rest fail open, written to stderr as one
``AUDIT-UNQUEUED <json>`` line each, and the request goes on.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, TextIO

from .redact import redact
from .schema import category_of, encode, make_event

DEFAULT_FAIL_CLOSED = frozenset({"admin"})


class AuditUnavailable(RuntimeError):
    """An event of a fail-closed category could not be queued: refuse the operation (503)."""


class AuditEmitter:
    """Appends one redacted, schema-conforming JSON event per call to ``audit:<service>`` with ``XADD``."""

    def __init__(self, redis: Any, service: str, *, stream: str | None = None,
                 fail_closed: Iterable[str] = DEFAULT_FAIL_CLOSED, stderr: TextIO | None = None) -> None:
        self._redis = redis
        self.service = service
        self.stream = stream or f"audit:{service}"
        self.fail_closed = frozenset(fail_closed)
        self._stderr = stderr

    def build(self, event: str, *, outcome: str, request_id: str | None, route: str | None = None,
              action: str | None = None, principal: str | None = None, tenant: str | None = None,
              source_ip: str | None = None, **extra: Any) -> dict[str, Any]:
        """The event as it will be stored: schema fields, then extras, all redacted."""
        # Not strict: a caller's slip is flagged in `schema_error`, never a lost audit event or a 500.
        clash = [k for k in ("service", "strict") if k in extra]  # the producer's identity is not the caller's to set
        for k in clash:
            extra[f"extra_{k}"] = extra.pop(k)
        doc = make_event(self.service, event, outcome=outcome, request_id=request_id, route=route, action=action,
                         principal=principal, tenant=tenant, source_ip=source_ip, strict=False, **extra)
        if clash:
            note = "; ".join(f"extra field {k!r} would overwrite a schema field; kept as `extra_{k}`" for k in clash)
            doc["schema_error"] = f"{doc['schema_error']}; {note}" if "schema_error" in doc else note
        return redact(doc)

    async def emit(self, event: str, *, fail_closed: bool | None = None, **fields: Any) -> dict[str, Any]:
        """Queues one event; returns the stored document.

        ``fail_closed`` overrides the category default for this one event.
        """
        doc = self.build(event, **fields)
        line = encode(doc)
        try:
            # No MAXLEN, no MINID: see the module doc.
            await self._redis.xadd(self.stream, {"event": line})
        except Exception as exc:  # noqa: BLE001 - any failure to queue is an audit outage
            closed = fail_closed if fail_closed is not None else category_of(event) in self.fail_closed
            if closed:
                raise AuditUnavailable(f"audit log unavailable ({type(exc).__name__}); operation refused") from exc
            out = self._stderr or sys.stderr
            print(f"AUDIT-UNQUEUED {line}", file=out, flush=True)
        return doc


def audit_redis(url: str, *, username: str | None = None, password: str | None = None, ssl_ca_certs: str | None = None,
                ssl_certfile: str | None = None, ssl_keyfile: str | None = None, asyncio: bool = True) -> Any:
    """A Redis client for the audit path: fails in milliseconds when Redis is down.

    redis-py's default retries (3, with back-off) stalled every request ~4 s with Redis down; the audit
    path must answer fast (fail closed or open), so retries are off and the timeouts short.
    """
    from redis.backoff import NoBackoff
    if asyncio:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
    else:
        from redis import Redis  # type: ignore[assignment]
        from redis.retry import Retry  # type: ignore[assignment]
    kw: dict[str, Any] = dict(username=username, password=password, socket_connect_timeout=0.5, socket_timeout=1.0,
                              retry=Retry(NoBackoff(), 0), retry_on_error=[], decode_responses=False)
    if url.startswith("rediss://"):
        kw.update(ssl_ca_certs=ssl_ca_certs, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile, ssl_cert_reqs="required")
    return Redis.from_url(url, **kw)
