"""Writes audit events to the service's own Redis stream (first cut; the audit work refines it)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

SECRET_KEYS = frozenset({"authorization", "cookie", "set-cookie", "password", "token", "access_token", "refresh_token", "secret"})


class AuditEmitter:
    """Appends one JSON event per call to ``audit:<service>`` with ``XADD`` (no MAXLEN: see module doc)."""

    def __init__(self, redis: Any, service: str, *, stream: str | None = None) -> None:
        self._redis = redis
        self.service = service
        self.stream = stream or f"audit:{service}"

    def build(self, event: str, *, outcome: str, request_id: str, route: str | None = None, action: str | None = None,
              principal: str | None = None, tenant: str | None = None, source_ip: str | None = None, **extra: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "event_id": str(uuid.uuid4()),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z",
            "service": self.service,
            "event": event,
            "outcome": outcome,
            "request_id": request_id,
            "route": route,
            "action": action,
            "principal": principal,
            "tenant": tenant,
            "source_ip": source_ip,
        }
        for k, v in extra.items():
            if k.lower() in SECRET_KEYS:
                continue
            doc[k] = v
        return doc

    async def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        doc = self.build(event, **fields)
        await self._redis.xadd(self.stream, {"event": json.dumps(doc, separators=(",", ":"), sort_keys=True)})
        return doc
