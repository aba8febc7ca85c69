"""The audit shipper: Redis streams -> log store, at least once, acknowledged only when durable.

The durability rule (docs/audit.md): a 2xx from VictoriaLogs does not mean the rows are on disk (they sit
in memory for up to ~2-3 s with ``-inmemoryDataFlushInterval=1s``; a worker acking on 2xx lost 389 of
5,984 events across a store kill). So a delivered batch stays *pending* in Redis until
``ack_delay_seconds`` have passed **and** the store's start time is the one read before sending; then it
is XACKed. If the store restarted meanwhile, every unconfirmed batch is sent again. A worker killed at
any point leaves its entries pending: its successor (same consumer name) re-reads them at start, and
any other worker reclaims them after ``reclaim_idle_seconds``. Duplicates are possible and carry the
same ``event_id``.
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..audit.redact import may_need_redaction, redact
from ..audit.schema import MAX_EVENT_BYTES, encode, parse_rfc3339
from .config import Config
from .sink import Result, Sink

FUTURE_LIMIT_S = 2 * 86400  # VictoriaLogs' default -futureRetention: later timestamps are dropped with a 200


@dataclass
class Entry:
    stream: str
    id: str
    line: str  # the encoded (redacted) event

    @property
    def key(self) -> tuple[str, str]:
        return (self.stream, self.id)


@dataclass
class Batch:
    entries: list[Entry]
    sent_at: float
    epoch: float


@dataclass
class Stats:
    shipped: int = 0  # events sent and confirmed (acked)
    sent: int = 0  # events sent (incl. re-sends)
    resent: int = 0
    dead: int = 0
    batches: int = 0
    retries: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _next_id(i: str) -> str:
    ms, seq = i.split("-")
    return f"{ms}-{int(seq) + 1}"


class Shipper:
    def __init__(self, cfg: Config, redis: Any, sink: Sink, log: Any, *, clock: Any = time.time, sleep: Any = time.sleep) -> None:
        self.cfg = cfg
        self.r = redis
        self.sink = sink
        self.log = log
        self.clock = clock
        self.sleep = sleep
        self.streams = cfg.all_streams()
        self.todo: deque[Entry] = deque()  # read, not yet delivered
        self.unconfirmed: list[Batch] = []  # delivered, waiting for the durability window
        self.held: set[tuple[str, str]] = set()  # every entry in todo or unconfirmed
        self.held_bytes = 0
        self.history = {s: "0" for s in self.streams}  # own pending entries left by a predecessor
        self.attempt = 0
        self.retry_at = 0.0
        self.epoch: float | None = None
        self.epoch_read_at = 0.0
        self.next_reclaim = 0.0
        self.next_trim = 0.0
        self.stats = Stats()

    # ---- setup -------------------------------------------------------------------------------
    def ensure_groups(self) -> None:
        for s in self.streams:
            try:
                self.r.xgroup_create(s, self.cfg.group, id="0", mkstream=True)
            except Exception as e:  # noqa: BLE001
                if "BUSYGROUP" not in str(e):
                    raise

    # ---- reading -----------------------------------------------------------------------------
    def room(self) -> int:
        if self.held_bytes >= self.cfg.max_in_flight_bytes:
            return 0
        return max(0, self.cfg.max_in_flight_events - len(self.held))

    def _admit(self, stream: str, eid: str, fields: dict | None) -> None:
        """Parses, re-redacts and checks one stream entry; poison goes to the dead-letter stream."""
        if (stream, eid) in self.held:
            return
        if fields is None:  # deleted while pending: nothing to ship
            self.r.xack(stream, self.cfg.group, eid)
            return
        raw = fields.get(b"event", fields.get("event"))
        reason = None
        doc = None
        if raw is None:
            reason = "no `event` field"
        else:
            try:
                doc = json.loads(raw)
                if not isinstance(doc, dict):
                    raise ValueError("not an object")
                ts = parse_rfc3339(str(doc.get("@timestamp")))
                now = self.clock()
                if ts < now - self.cfg.retention_days * 86400:
                    reason = "timestamp older than the store's retention (it would be dropped with a 200)"
                elif ts > now + FUTURE_LIMIT_S:
                    reason = "timestamp more than 2 days ahead (it would be dropped with a 200)"
                elif not doc.get("event_id"):
                    reason = "no event_id"
            except (ValueError, TypeError) as e:
                reason = f"unparsable event: {e}"
        if reason is None:
            text = _s(raw)
            if len(text) <= MAX_EVENT_BYTES and not may_need_redaction(text):
                line = text  # already a clean JSON object: ship as is (the common case, ~10x faster)
            else:
                line = encode(redact(doc))
            if len(line.encode()) > MAX_EVENT_BYTES + 1024:
                reason = "event too large"
        if reason is not None:
            self.dead_letter(stream, eid, _s(raw) if raw is not None else "", reason)
            return
        e = Entry(stream, eid, line)
        self.todo.append(e)
        self.held.add(e.key)
        self.held_bytes += len(line)

    def _take(self, resp: Any) -> int:
        n = 0
        for stream, entries in resp or []:
            for eid, fields in entries:
                self._admit(_s(stream), _s(eid), fields)
                n += 1
        return n

    def read(self, block_ms: int) -> int:
        room = min(self.room(), self.cfg.batch_max_events)
        if room == 0:
            return 0
        # 1. entries this consumer name left pending (a predecessor killed mid-batch)
        hist = {s: i for s, i in self.history.items() if i is not None}
        if hist:
            resp = self.r.xreadgroup(self.cfg.group, self.cfg.consumer, hist, count=room)
            got = {_s(s): e for s, e in resp or []}
            for s in hist:
                entries = got.get(s, [])
                self.history[s] = _s(entries[-1][0]) if entries else None
            n = self._take(resp)
            if n:
                self.log.info("re-reading entries left pending by this consumer", events=n)
                return n
        # 2. entries other (dead) consumers left pending too long
        now = self.clock()
        if now >= self.next_reclaim:
            self.next_reclaim = now + self.cfg.reclaim_idle_seconds / 2
            n = self.reclaim()
            if n:
                return n
        # 3. new entries
        resp = self.r.xreadgroup(self.cfg.group, self.cfg.consumer, {s: ">" for s in self.streams}, count=room,
                                 block=block_ms or None)
        return self._take(resp)

    def reclaim(self) -> int:
        total = 0
        idle_ms = int(self.cfg.reclaim_idle_seconds * 1000)
        for s in self.streams:
            start = "0-0"
            while self.room() > 0:
                count = min(self.room(), self.cfg.batch_max_events)
                nxt, entries, deleted = self.r.xautoclaim(s, self.cfg.group, self.cfg.consumer, idle_ms, start, count=count)[:3]
                for eid in deleted or []:
                    self.r.xack(s, self.cfg.group, eid)
                for eid, fields in entries:
                    self._admit(s, _s(eid), fields)
                total += len(entries)
                start = _s(nxt)
                # XAUTOCLAIM returns at most COUNT: loop while it has more, else a takeover takes minutes.
                if start == "0-0" or len(entries) < count:
                    break
        if total:
            self.log.info("reclaimed entries left pending by another consumer", events=total)
        return total

    # ---- dead letters ------------------------------------------------------------------------
    def dead_letter(self, stream: str, eid: str, raw: str, reason: str) -> None:
        """Moves a poison event to the dead-letter stream and acks it, atomically."""
        p = self.r.pipeline(transaction=True)
        p.xadd(self.cfg.dead_letter_stream, {"stream": stream, "id": eid, "reason": reason,
                                              "event": encode(redact({"raw": raw[:MAX_EVENT_BYTES // 2]}))})
        p.xack(stream, self.cfg.group, eid)
        p.execute()
        self.stats.dead += 1
        self.log.warning("dead-lettered an audit event", stream=stream, id=eid, reason=reason,
                         dead_letter_stream=self.cfg.dead_letter_stream)

    # ---- shipping ----------------------------------------------------------------------------
    def _store_epoch(self, fresh: bool = False) -> float | None:
        now = self.clock()
        if fresh or self.epoch is None or now - self.epoch_read_at > 1.0:
            e = self.sink.epoch()
            if e is not None:
                self.epoch, self.epoch_read_at = e, now
            return e
        return self.epoch

    def _next_batch(self) -> list[Entry]:
        out: list[Entry] = []
        size = 0
        while self.todo and len(out) < self.cfg.batch_max_events:
            e = self.todo[0]
            if out and size + len(e.line) > self.cfg.batch_max_bytes:
                break
            out.append(self.todo.popleft())
            size += len(e.line)
        return out

    def _backoff(self, detail: str) -> None:
        self.attempt += 1
        self.stats.retries += 1
        cap = min(8.0, 0.25 * 2 ** min(self.attempt, 10))
        delay = random.uniform(0, cap)  # full jitter: many workers never retry in lockstep
        self.retry_at = self.clock() + delay
        self.log.warning("store push failed; backing off", attempt=self.attempt, delay_s=round(delay, 3), detail=detail)

    def ship(self) -> int:
        """Sends batches while there is work and the store accepts. Returns events delivered."""
        n = 0
        while self.todo and self.clock() >= self.retry_at:
            # The epoch is read *before* sending: if the store restarts in between, the batch is
            # recorded against the older start time and re-sent (a duplicate, never a loss).
            epoch = self._store_epoch()
            if epoch is None:
                self._backoff("store metrics unreachable")
                break
            batch = self._next_batch()
            if not self._deliver(batch, epoch):
                break
            n += len(batch)
        return n

    def _deliver(self, batch: list[Entry], epoch: float) -> bool:
        res: Result = self.sink.send([e.line for e in batch])
        if res.ok:
            if self.attempt:
                self.log.info("store reachable again", after_attempts=self.attempt)
            self.attempt = 0
            self.unconfirmed.append(Batch(batch, self.clock(), epoch))
            self.stats.sent += len(batch)
            self.stats.batches += 1
            return True
        if res.poison and res.bad:
            # The store named the refused documents: dead-letter them; the rest is retried.
            for i in res.bad:
                self._drop(batch[i], res.detail)
            keep = [e for i, e in enumerate(batch) if i not in set(res.bad)]
            self.todo.extendleft(reversed(keep))
            return True
        if res.poison:
            if len(batch) == 1:
                self._drop(batch[0], res.detail)
                return True
            # Bisect: the halves go back to the front; a good half may duplicate what the store kept.
            self.log.info("store refused a batch; bisecting", events=len(batch), detail=res.detail)
            self.todo.extendleft(reversed(batch))
            half = len(batch) // 2
            return self._deliver([self.todo.popleft() for _ in range(half)], epoch)
        self.todo.extendleft(reversed(batch))
        self._backoff(res.detail)
        return False

    def _drop(self, e: Entry, detail: str) -> None:
        self.held.discard(e.key)
        self.held_bytes -= len(e.line)
        self.dead_letter(e.stream, e.id, e.line, f"refused by the store: {detail}")

    # ---- durable acknowledgement ---------------------------------------------------------------
    def confirm(self, *, force_wait: bool = False) -> int:
        """Acks batches whose durability window has passed on an unchanged store; re-queues the rest."""
        if not self.unconfirmed:
            return 0
        now = self.clock()
        ripe = [b for b in self.unconfirmed if now - b.sent_at >= self.cfg.ack_delay_seconds]
        if not ripe:
            return 0
        current = self._store_epoch(fresh=True)
        if current is None:
            return 0  # cannot tell whether the store restarted: keep waiting
        stale = [b for b in self.unconfirmed if b.epoch != current]
        if stale:
            events = [e for b in stale for e in b.entries]
            self.log.warning("store restarted: re-sending unconfirmed batches", events=len(events),
                             old_epoch=stale[0].epoch, new_epoch=current)
            self.unconfirmed = [b for b in self.unconfirmed if b.epoch == current]
            self.todo.extendleft(reversed(events))  # coalesced into full batches by _next_batch
            self.stats.resent += len(events)
            ripe = [b for b in ripe if b.epoch == current]
        acked = 0
        by_stream: dict[str, list[str]] = {}
        for b in ripe:
            for e in b.entries:
                by_stream.setdefault(e.stream, []).append(e.id)
        if by_stream:
            p = self.r.pipeline(transaction=False)
            for s, ids in by_stream.items():
                for i in range(0, len(ids), 1000):
                    p.xack(s, self.cfg.group, *ids[i:i + 1000])
            p.execute()
        ripe_ids = {id(b) for b in ripe}
        for b in ripe:
            for e in b.entries:
                self.held.discard(e.key)
                self.held_bytes -= len(e.line)
            acked += len(b.entries)
        self.unconfirmed = [b for b in self.unconfirmed if id(b) not in ripe_ids]
        self.stats.shipped += acked
        return acked

    # ---- trimming and lag ----------------------------------------------------------------------
    def trim(self) -> None:
        """Removes entries every consumer of the group has acknowledged (never anything unshipped)."""
        for s in self.streams:
            groups = self.r.xinfo_groups(s)
            g = next((g for g in groups if _s(g["name"]) == self.cfg.group), None)
            if g is None or len(groups) != 1:
                continue  # another group reads this stream: not ours to trim
            last = _s(g["last-delivered-id"])
            if last == "0-0":
                continue
            if int(g["pending"]):
                minid = _s(self.r.xpending(s, self.cfg.group)["min"])
            else:
                minid = _next_id(last)
            self.r.xtrim(s, minid=minid, approximate=False)

    def lag(self) -> dict[str, Any]:
        out: dict[str, Any] = {"held": len(self.held), "unconfirmed_batches": len(self.unconfirmed), "streams": {}}
        total = 0
        for s in self.streams:
            g = next((g for g in self.r.xinfo_groups(s) if _s(g["name"]) == self.cfg.group), None)
            if g is None:
                continue
            lag = g.get("lag")
            lag = int(lag) if lag is not None else None
            out["streams"][s] = {"lag": lag, "pending": int(g["pending"])}
            total += (lag or 0) + int(g["pending"])
        out["unshipped"] = total
        if self.unconfirmed:
            out["oldest_unconfirmed_s"] = round(self.clock() - self.unconfirmed[0].sent_at, 3)
        return out

    def step(self, block_ms: int = 1000) -> None:
        """One iteration: read (blocking only when idle), ship, confirm, maybe trim."""
        busy = bool(self.todo) or bool(self.unconfirmed)
        got = 0
        for _ in range(4):  # a few batches per round trip of the loop while a backlog drains
            n = self.read(0 if (busy or got) else block_ms)
            got += n
            if n < self.cfg.batch_max_events:
                break
        self.ship()
        self.confirm()
        now = self.clock()
        if now >= self.next_trim:
            self.next_trim = now + 5.0
            self.trim()
        if self.todo and now < self.retry_at:
            self.sleep(min(0.2, self.retry_at - now))
        elif self.unconfirmed and not self.todo and not got:
            self.sleep(0.05)

    def drain_confirmations(self, deadline: float) -> None:
        """On a graceful stop: wait out the durability window for what was sent (what is left stays pending)."""
        while self.unconfirmed and self.clock() < deadline:
            self.confirm()
            self.sleep(0.1)
