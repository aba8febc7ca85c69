"""Rate limits in Redis: GCRA in one Lua script, run with EVALSHA on ``ratelimit:<service>:*`` keys.

Why a script rather than the ``limits`` library: ``limits`` can key on any string (so on the
verified ``sub``), but a hit plus the figures the ``RateLimit-*`` and ``Retry-After`` headers need
take two round trips there, and its async Redis backend pulls in ``coredis``. This script checks
every key of a request (per IP, per user) and commits them all or none in one EVALSHA: one round
trip, atomic across processes, with Redis' clock (two backends with skewed clocks share one budget).

GCRA: each key stores the theoretical arrival time (TAT, microseconds). A request is allowed when
``TAT + T - now <= (burst + 1) * T`` where ``T = period / rate``; nginx's ``burst`` with ``nodelay``
behaves the same, so a policy limit means the same at the gateway and here.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from typing import Any, Sequence

from .settings import Limit

# KEYS: the limited keys. ARGV: per key, the emission interval T and the tolerance (burst+1)*T, in
# microseconds. Returns {allowed, index of the tightest key, remaining, reset_us, retry_after_us}.
GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local tats = {}
local best, best_rem, best_reset = 1, math.huge, 0
local deny, deny_retry = 0, 0
for i = 1, n do
  local T = tonumber(ARGV[2 * i - 1])
  local tol = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + T
  local diff = new_tat - now
  if diff > tol then
    local retry = diff - tol
    if retry > deny_retry then deny, deny_retry, best_reset = i, retry, tat - now end
  else
    tats[i] = new_tat
    local rem = math.floor((tol - diff) / T)
    if rem < best_rem then best, best_rem, best_reset = i, rem, diff end
  end
end
if deny > 0 then
  return {0, deny, 0, best_reset, deny_retry}
end
for i = 1, n do
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.floor((tats[i] - now) / 1000) + 1)
end
return {1, best, best_rem, best_reset, 0}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: Which of the keys decided (the denying one, or the one with the least headroom).
    index: int
    limit: Limit
    remaining: int
    reset_seconds: int
    retry_after_seconds: int

    def headers(self) -> dict[str, str]:
        """``RateLimit-*`` (IETF draft, the fields separately) and ``Retry-After`` on a deny."""
        h = {
            "RateLimit-Limit": str(self.limit.rate),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit.rate};w={self.limit.period_seconds};burst={self.limit.burst}",
        }
        if not self.allowed:
            h["Retry-After"] = str(max(1, self.retry_after_seconds))
        return h


class RateLimiter:
    """Checks a request's keys atomically. ``redis`` is a ``redis.asyncio.Redis``."""

    def __init__(self, redis: Any, key_prefix: str) -> None:
        self._redis = redis
        self._prefix = key_prefix
        # register_script runs EVALSHA and loads the script once on NOSCRIPT.
        self._script = redis.register_script(GCRA_LUA)

    def key(self, route: str, kind: str, ident: str) -> str:
        """``ratelimit:<service>:<route digest>:<kind>:<ident digest>``: identities are hashed so a
        key never carries a user id or address in clear and has a fixed shape."""
        r = hashlib.blake2b(route.encode(), digest_size=6).hexdigest()
        i = hashlib.blake2b(ident.encode(), digest_size=16).hexdigest()
        return f"{self._prefix}{r}:{kind}:{i}"

    async def hit(self, items: Sequence[tuple[str, Limit]]) -> Decision:
        """Counts one request against every ``(key, limit)``: all are charged, or none when one denies.
        Raises ``redis.exceptions.RedisError`` when Redis cannot answer (the caller applies `redis_down`)."""
        keys = [k for k, _ in items]
        argv: list[int] = []
        for _, lim in items:
            t = max(1, (lim.period_seconds * 1_000_000) // lim.rate)
            argv += [t, t * (lim.burst + 1)]
        allowed, idx, rem, reset_us, retry_us = await self._script(keys=keys, args=argv)
        lim = items[int(idx) - 1][1]
        return Decision(
            allowed=bool(int(allowed)),
            index=int(idx) - 1,
            limit=lim,
            remaining=max(0, int(rem)),
            reset_seconds=math.ceil(int(reset_us) / 1_000_000),
            retry_after_seconds=math.ceil(int(retry_us) / 1_000_000),
        )


def ip_bucket(addr: str) -> str:
    """The per-IP identity: an IPv4 address (/32), or the /64 of an IPv6 address (one host owns a /64,
    so counting per /128 lets it rotate through 2^64 addresses). IPv4-mapped IPv6 counts as IPv4."""
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return f"invalid:{addr[:64]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
