"""Polls Keycloak's login and admin events (admin REST API) into ``audit:keycloak``.

- The poller's client (``audit-poller``) needs only ``realm-management/view-events``.
- Every client-credentials grant is itself a login event (CLIENT_LOGIN), so the token is cached until
  shortly before it expires.
- Keycloak returns events newest first; the cursor is ``(last millisecond, ids seen in it)`` so events
  sharing the boundary millisecond are neither lost nor repeated. Events are queued oldest first, with the
  cursor advanced in the same MULTI/EXEC. Keycloak's own ``id`` is the ``event_id``, so re-reads are
  idempotent downstream.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from ..audit.redact import redact
from ..audit.schema import encode, make_event, now_rfc3339
from .config import KeycloakConf

PAGE = 100
MAX_PER_POLL = 10_000  # bounds memory; the rest comes on the next poll


class KeycloakPoller:
    def __init__(self, conf: KeycloakConf, redis: Any, log: Any, *, clock: Any = time.time) -> None:
        self.conf = conf
        self.r = redis
        self.log = log
        self.clock = clock
        self._http = httpx.Client(base_url=conf.url.rstrip("/"), verify=conf.ca_file or True, timeout=10.0)
        self._token: str | None = None
        self._token_exp = 0.0
        self.next_poll = 0.0
        self.token_fetches = 0

    def _bearer(self, refresh: bool = False) -> str:
        if refresh or self._token is None or self.clock() >= self._token_exp:
            r = self._http.post(f"/realms/{self.conf.realm}/protocol/openid-connect/token",
                                data={"grant_type": "client_credentials", "client_id": self.conf.client_id,
                                      "client_secret": self.conf.client_secret.resolve() or ""})
            r.raise_for_status()
            body = r.json()
            self._token = body["access_token"]
            self._token_exp = self.clock() + max(5.0, float(body.get("expires_in", 60)) - 30.0)
            self.token_fetches += 1
        return self._token  # type: ignore[return-value]

    def _get(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        for attempt in (0, 1):
            r = self._http.get(f"/admin/realms/{self.conf.realm}/{path}", params=params,
                               headers={"Authorization": f"Bearer {self._bearer(refresh=attempt == 1)}"})
            if r.status_code == 401 and attempt == 0:
                continue
            r.raise_for_status()
            return r.json()
        return []

    def _fetch(self, path: str, cursor: dict[str, Any]) -> list[dict[str, Any]]:
        ms, seen = int(cursor.get("ms", 0)), set(cursor.get("ids", []))
        out: list[dict[str, Any]] = []
        first = 0
        while len(out) < MAX_PER_POLL:
            params: dict[str, Any] = {"first": first, "max": PAGE}
            if ms:
                params["dateFrom"] = ms
            page = self._get(path, params)
            out.extend(e for e in page if int(e.get("time", 0)) > ms or (int(e.get("time", 0)) == ms and e.get("id") not in seen))
            if len(page) < PAGE:
                break
            first += PAGE
        out.sort(key=lambda e: int(e.get("time", 0)))
        return out

    def poll(self) -> int:
        if self.clock() < self.next_poll:
            return 0
        self.next_poll = self.clock() + self.conf.interval_seconds
        n = 0
        for path, mapper in (("events", self._map_login), ("admin-events", self._map_admin)):
            raw = self.r.hget(self.conf.cursor_key, path)
            cursor = json.loads(raw) if raw else {"ms": 0, "ids": []}
            try:
                events = self._fetch(path, cursor)
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as e:  # never kill the shipper
                self.log.warning("keycloak events poll failed; retrying next interval", kind=path, error=str(e))
                continue
            if not events:
                continue
            last = int(events[-1]["time"])
            ids = [e["id"] for e in events if int(e["time"]) == last]
            if last == int(cursor.get("ms", 0)):
                ids = list(cursor.get("ids", [])) + ids
            p = self.r.pipeline(transaction=True)
            for e in events:
                p.xadd(self.conf.stream, {"event": encode(redact(mapper(e)))})
            p.hset(self.conf.cursor_key, path, json.dumps({"ms": last, "ids": ids}))
            p.execute()
            n += len(events)
        return n

    def _map_login(self, e: dict[str, Any]) -> dict[str, Any]:
        t = str(e.get("type", "UNKNOWN"))
        failed = t.endswith("_ERROR")
        name = {"LOGIN": "login.success", "LOGIN_ERROR": "login.failure"}.get(t, "login." + t.lower())
        d = e.get("details") or {}
        return make_event("keycloak", name, outcome="deny" if failed else "allow", request_id=None,
                          action=t, principal=e.get("userId") or d.get("username"), source_ip=e.get("ipAddress"),
                          event_id=e.get("id"), timestamp=now_rfc3339(int(e.get("time", 0)) / 1000),
                          source="keycloak", realm=self.conf.realm, client_id=e.get("clientId"), error=e.get("error"),
                          username=d.get("username"), keycloak_type=t)

    def _map_admin(self, e: dict[str, Any]) -> dict[str, Any]:
        a = e.get("authDetails") or {}
        op, res = e.get("operationType"), e.get("resourceType")
        return make_event("keycloak", "admin.change", outcome="error" if e.get("error") else "allow", request_id=None,
                          action=f"{op} {res}", route=e.get("resourcePath"), principal=a.get("userId"),
                          source_ip=a.get("ipAddress"), event_id=e.get("id"),
                          timestamp=now_rfc3339(int(e.get("time", 0)) / 1000), source="keycloak", realm=self.conf.realm,
                          admin_client=a.get("clientId"), error=e.get("error"))
