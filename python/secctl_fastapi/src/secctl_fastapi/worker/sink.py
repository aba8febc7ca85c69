"""Shipping batches to the log store: the Loki push API or Elasticsearch ``_bulk``.

Both are served by VictoriaLogs (the store the tests run); the same code talks to Loki or Elasticsearch.
Traps handled here (each silently lost data in the prototype):
- a missing Content-Type gets a 200 with nothing stored, so it is always sent;
- ``_bulk`` can answer 200 with ``"items": []``: success requires one item per document sent;
- a rejected ``_bulk`` has stored the documents before the bad one: the caller bisects and
  de-duplicates by ``event_id``.
VictoriaLogs-specific settings travel as ``VL-*`` headers, which Loki and Elasticsearch ignore.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Sequence

import httpx

from ..audit.schema import parse_rfc3339
from .config import ConfigError, SinkConf

STREAM_FIELDS = "service,category"  # low cardinality only: never principal, IP or tenant


@dataclass
class Result:
    """``ok``: every document stored. ``retry``: transient, try again later. ``poison``: the batch
    contains documents the store refuses; ``bad`` lists their indexes when the store says which."""
    ok: bool
    retry: bool = False
    poison: bool = False
    bad: tuple[int, ...] = ()
    retry_idx: tuple[int, ...] = ()
    detail: str = ""


class Sink:
    def __init__(self, conf: SinkConf) -> None:
        self.conf = conf
        auth = None
        user = conf.username.resolve()
        if user:
            auth = httpx.BasicAuth(user, conf.password.resolve() or "")
        if conf.ca_file and not os.path.isfile(conf.ca_file):
            raise ConfigError(f"sink.ca_file {conf.ca_file}: no such file")
        verify: bool | str = conf.ca_file or True  # TLS verification always on
        headers = {"VL-Msg-Field": "message", "VL-Time-Field": "@timestamp"}
        if conf.protocol == "elasticsearch":
            # Loki labels already are the stream: VictoriaLogs v1.52.1 *panics* (the whole server exits)
            # when VL-Stream-Fields repeats them on a Loki push, so the header goes on `_bulk` only.
            headers["VL-Stream-Fields"] = STREAM_FIELDS
        self._http = httpx.Client(auth=auth, verify=verify, timeout=conf.timeout_seconds, headers=headers)

    def close(self) -> None:
        self._http.close()

    def send(self, lines: Sequence[str]) -> Result:
        """Sends encoded events (JSON objects, one per element)."""
        try:
            if self.conf.protocol == "loki":
                return self._loki(lines)
            return self._bulk(lines)
        except httpx.HTTPError as e:
            return Result(False, retry=True, detail=f"{type(e).__name__}: {e}")

    def _classify(self, r: httpx.Response) -> Result:
        s = r.status_code
        body = r.text[:300]
        if s in (408, 429) or s >= 500:
            return Result(False, retry=True, detail=f"HTTP {s}: {body}")
        if s in (401, 403, 404):
            # A configuration problem (credentials, URL), not a bad event: keep everything and retry.
            return Result(False, retry=True, detail=f"HTTP {s} (check sink url and credentials): {body}")
        return Result(False, poison=True, detail=f"HTTP {s}: {body}")

    def _bulk(self, lines: Sequence[str]) -> Result:
        action = '{"create":{"_index":"audit"}}\n'
        body = "".join(action + ln + "\n" for ln in lines).encode()
        r = self._http.post(self.conf.url, content=body, headers={"Content-Type": "application/x-ndjson"})
        if r.status_code != 200:
            return self._classify(r)
        try:
            items = r.json().get("items")
        except (json.JSONDecodeError, AttributeError):
            return Result(False, retry=True, detail=f"_bulk answered 200 with no JSON: {r.text[:200]}")
        if not isinstance(items, list) or len(items) != len(lines):
            got = len(items) if isinstance(items, list) else None
            return Result(False, retry=True, detail=f"_bulk stored {got} of {len(lines)} documents")
        bad, again = [], []
        for i, it in enumerate(items):
            st = next(iter(it.values()), {}).get("status", 0) if isinstance(it, dict) and it else 0
            if 200 <= st < 300:
                continue
            (again if st in (408, 429) or st >= 500 else bad).append(i)
        if bad or again:
            return Result(False, retry=bool(again) and not bad, poison=bool(bad), bad=tuple(bad), retry_idx=tuple(again),
                          detail=f"_bulk item errors: {len(bad)} refused, {len(again)} transient")
        return Result(True)

    def _loki(self, lines: Sequence[str]) -> Result:
        streams: dict[tuple[str, str], list[list[str]]] = {}
        for ln in lines:
            doc = json.loads(ln)
            ns = int(parse_rfc3339(doc["@timestamp"]) * 1e9)
            key = (str(doc.get("service")), str(doc.get("category")))
            streams.setdefault(key, []).append([str(ns), ln])
        payload = {"streams": [{"stream": {"service": s, "category": c}, "values": v} for (s, c), v in streams.items()]}
        r = self._http.post(self.conf.url, content=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
        if r.status_code in (200, 204):
            return Result(True)
        return self._classify(r)

    def epoch(self) -> float | None:
        """The store's start time, or None when unreachable. 0.0 when the store does not expose one."""
        if not self.conf.epoch_url:
            return 0.0
        try:
            r = self._http.get(self.conf.epoch_url)
        except httpx.HTTPError:
            return None
        if r.status_code != 200:
            return None
        m = re.search(r"^vm_app_start_timestamp(?:\{[^}]*\})? (\S+)$", r.text, re.MULTILINE)
        return float(m.group(1)) if m else None
