"""Tails the gateway's nginx JSON access log and ModSecurity JSON audit log into ``audit:gateway``.

The file position is durable: each batch of events is XADDed together with the new ``(inode, offset)``
cursor in one MULTI/EXEC, so a crash neither skips nor repeats a line. Rotation is detected by an inode
change (rename + new file: the old file is drained first through the still-open descriptor, or found again
as ``<path>.1`` after a restart) or by truncation (copytruncate: start over at 0). A partial last line waits
for its newline. Lines are redacted before they leave the tailer (ModSecurity logs bearer tokens, cookies
and query-string tokens).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any, Callable, Iterable

from ..audit.redact import redact
from ..audit.schema import encode, make_event, now_rfc3339

READ_CHUNK = 1 << 20  # bounds memory per poll
MAX_LINE = 256 * 1024


def _ts_from_msec(v: Any) -> str | None:
    try:
        return now_rfc3339(float(v))
    except (TypeError, ValueError):
        return None


def map_nginx(line: dict[str, Any], events: frozenset[str]) -> dict[str, Any] | None:
    """One access-log line -> one event, or None when the policy does not record it."""
    status = int(line.get("status") or 0)
    if status == 429:
        if "rate-limit" not in events:
            return None
        name, outcome = "ratelimit.hit", "deny"
    elif status in (495, 496) or str(line.get("client_verify") or "").startswith("FAILED"):
        # 495/496: nginx's own codes for a bad or missing client certificate; $ssl_client_verify says why.
        if "mtls" not in events:
            return None
        name, outcome = "mtls.refused", "deny"
    elif status in (401, 403):
        if "access" not in events and "waf" not in events:
            return None
        name, outcome = "gateway.denied", "deny"
    else:
        if "access" not in events:
            return None
        name, outcome = "http.request", "error" if status >= 500 else "allow"
    ts = _ts_from_msec(line.get("msec")) or _iso(line.get("time"))
    return make_event("gateway", name, outcome=outcome, request_id=line.get("request_id") or None,
                      route=line.get("uri"), action=f"{line.get('method', '')} {line.get('uri', '')}".strip(),
                      principal=line.get("client_identity") or None, source_ip=line.get("remote_addr"),
                      timestamp=ts, source="nginx", status=status, host=line.get("host"),
                      request_time=line.get("request_time"), upstream_status=line.get("upstream_status"),
                      tls_protocol=line.get("tls_protocol"), user_agent=line.get("user_agent"))


def _iso(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    try:
        t = dt.datetime.fromisoformat(v)
        return now_rfc3339(t.timestamp()) if t.tzinfo else None
    except ValueError:
        return None


def _ctime(v: Any) -> str | None:
    # ModSecurity 3.0.9: "Wed Dec  2 12:52:50 2026", local time without a zone (the gateway runs in UTC).
    try:
        t = dt.datetime.strptime(" ".join(str(v).split()), "%a %b %d %H:%M:%S %Y").replace(tzinfo=dt.timezone.utc)
        return now_rfc3339(t.timestamp())
    except ValueError:
        return None


def map_modsec(doc: dict[str, Any], events: frozenset[str]) -> dict[str, Any] | None:
    if "waf" not in events:
        return None
    tx = doc.get("transaction") or {}
    req = tx.get("request") or {}
    resp = tx.get("response") or {}
    code = int(resp.get("http_code") or 0)
    rules = sorted({str((m.get("details") or {}).get("ruleId")) for m in tx.get("messages") or [] if isinstance(m, dict)} - {"None"})
    blocked = code == 403
    return make_event("gateway", "waf.block" if blocked else "waf.detect", outcome="deny" if blocked else "allow",
                      request_id=tx.get("unique_id"), route=req.get("uri"),
                      action=f"{req.get('method', '')} {req.get('uri', '')}".strip(), source_ip=tx.get("client_ip"),
                      timestamp=_ctime(tx.get("time_stamp")) or now_rfc3339(), source="modsecurity", status=code,
                      waf_rule_ids=",".join(rules),
                      waf_messages=[(m.get("message"), (m.get("details") or {}).get("data")) for m in tx.get("messages") or []
                                    if isinstance(m, dict)][:20])


class FileTail:
    """One followed file; ``read()`` returns complete lines and the cursor after them."""

    SIG = 64  # bytes before the position, to notice a copytruncate that regrew past it

    def __init__(self, path: str, ino: int | None, off: int, sig: bytes = b"") -> None:
        self.path = path
        self.fh: Any = None
        self.ino = ino
        self.off = off
        self.sig = sig
        self.buf = b""

    def _open(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        if self.ino is not None and st.st_ino != self.ino:
            # Rotated while we were not running: the old file, if kept as <path>.1, is drained first.
            old = self.path + ".1"
            try:
                if os.stat(old).st_ino == self.ino:
                    self.fh = open(old, "rb")
                    self.fh.seek(self.off)
                    return True
            except FileNotFoundError:
                pass
            self.ino, self.off, self.sig = None, 0, b""
        self.fh = open(self.path, "rb")
        if self.ino is None:
            self.ino, self.off = st.st_ino, 0
        if self.off > st.st_size or (self.sig and os.pread(self.fh.fileno(), len(self.sig), self.off - len(self.sig)) != self.sig):
            self.off, self.sig = 0, b""  # truncated while we were away
        self.fh.seek(self.off)
        return True

    def read(self) -> tuple[list[bytes], int | None, int]:
        if self.fh is None and not self._open():
            return [], self.ino, self.off
        data = self.fh.read(READ_CHUNK)
        lines: list[bytes] = []
        if data:
            self.buf += data
            *complete, self.buf = self.buf.split(b"\n")
            for ln in complete:
                self.off += len(ln) + 1
                self.sig = (self.sig + ln + b"\n")[-self.SIG:]
                if ln.strip():
                    lines.append(ln[:MAX_LINE])
            if len(self.buf) > MAX_LINE:  # a runaway line: skip it rather than grow without bound
                self.off += len(self.buf)
                self.buf = b""
            return lines, self.ino, self.off
        # At EOF: rotation or truncation?
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return lines, self.ino, self.off
        if st.st_ino != os.fstat(self.fh.fileno()).st_ino:
            self.fh.close()
            self.fh = open(self.path, "rb")
            self.ino, self.off, self.buf, self.sig = st.st_ino, 0, b"", b""
        elif st.st_size < self.off or (self.sig and os.pread(self.fh.fileno(), len(self.sig), self.off - len(self.sig)) != self.sig):
            # Truncated in place (copytruncate), possibly already regrown past our position.
            self.fh.seek(0)
            self.off, self.buf, self.sig = 0, b"", b""
        return lines, self.ino, self.off


class GatewayTailer:
    """Feeds ``audit:gateway`` from the configured files; call ``poll()`` from the worker loop."""

    def __init__(self, redis: Any, stream: str, cursor_key: str, files: dict[str, str], events: frozenset[str], log: Any) -> None:
        self.r = redis
        self.stream = stream
        self.cursor_key = cursor_key
        self.events = events
        self.log = log
        self.tails: dict[str, tuple[FileTail, Callable[[dict[str, Any], frozenset[str]], dict[str, Any] | None]]] = {}
        mappers = {"nginx": map_nginx, "modsec": map_modsec}
        for kind, path in files.items():
            raw = self.r.hget(cursor_key, path)
            cur = json.loads(raw) if raw else {"ino": None, "off": 0, "sig": ""}
            self.tails[path] = (FileTail(path, cur["ino"], cur["off"], bytes.fromhex(cur.get("sig", ""))), mappers[kind])

    def poll(self) -> int:
        n = 0
        for path, (tail, mapper) in self.tails.items():
            try:
                lines, ino, off = tail.read()
            except OSError as e:  # unreadable for now (permissions, a directory, a dying mount): keep going
                tail.fh = None
                self.log.warning("cannot read gateway log; retrying", path=path, error=f"{type(e).__name__}: {e}")
                continue
            if ino is None:
                continue
            docs = list(self._map(lines, mapper, path))
            p = self.r.pipeline(transaction=True)
            for d in docs:
                p.xadd(self.stream, {"event": encode(redact(d))})
            p.hset(self.cursor_key, path, json.dumps({"ino": ino, "off": off, "sig": tail.sig.hex()}))
            p.execute()
            n += len(docs)
        return n

    def _map(self, lines: Iterable[bytes], mapper: Any, path: str) -> Iterable[dict[str, Any]]:
        for ln in lines:
            try:
                d = json.loads(ln)
                ev = mapper(d, self.events) if isinstance(d, dict) else None
            except (ValueError, TypeError, AttributeError) as e:
                self.log.warning("unparsable gateway log line; recorded as such", path=path, error=str(e))
                ev = make_event("gateway", "gateway.unparsable", outcome="error", request_id=None, source="file",
                                path=path, line=redact(ln[:2048].decode("utf-8", "replace")))
            if ev is not None:
                yield ev
