"""Audit events: the schema, redaction, and the per-service Redis stream they are written to.

Contract used by the rest of the kit (the request pipeline calls only this):

    emitter = AuditEmitter(redis_client, service="backend")
    await emitter.emit("authz.denied", outcome="deny", request_id=rid, route="/api/admin/",
                       action="GET /api/admin/users", principal=sub, tenant=tenant, source_ip=ip)

Event names: ``auth.failure``, ``authz.denied``, ``tenant.denied``, ``ratelimit.hit``,
``admin.operation``, ``mtls.refused``. ``outcome`` is ``allow``, ``deny`` or ``error``.
The stream is ``audit:<service>``; a producer only has ``XADD`` on its own stream (trimming is the
worker's job, after delivery), so a producer can neither read nor wipe the audit trail.

``emit`` raises ``AuditUnavailable`` when an ``admin.*`` event cannot be queued (fail closed: answer
503); other events fail open to stderr. Build the client with ``audit_redis`` (retries off).
The schema is documented in ``schema.py`` and docs/audit.md.
"""

from .emitter import AuditEmitter, AuditUnavailable, audit_redis
from .logconfig import configure_logging
from .redact import REDACTED, redact, redact_text
from .schema import SCHEMA_VERSION, make_event

__all__ = ["AuditEmitter", "AuditUnavailable", "audit_redis", "configure_logging", "REDACTED", "redact",
           "redact_text", "SCHEMA_VERSION", "make_event"]
