"""A JWKS cache per issuer with a minimum refetch interval, fetched asynchronously.

Why not ``jwt.PyJWKClient``: it fetches with blocking ``urllib`` (it would stall the event loop),
it refetches on every unknown ``kid`` (an unauthenticated caller can make the service hammer the
identity provider), and a key it once resolved stays trusted for the life of the process.

Here:
* an unknown ``kid`` causes at most one fetch per issuer per ``min_refetch`` seconds; concurrent
  misses share that one fetch (single flight under a lock);
* the key set is replaced wholesale on every fetch, and refetched once it is older than
  ``max_age``, so a key removed from the realm stops validating after the next fetch;
* a failed fetch keeps the last good set (until it is replaced) and reports
  :class:`KeysUnavailable` only when there is no set at all: the caller answers 503, never 200.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from typing import Callable

import httpx
import jwt


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched and none are cached: the token cannot be evaluated."""


class UnknownKey(Exception):
    """The token's ``kid`` is not in the issuer's current key set."""


@dataclass
class _IssuerState:
    url: str
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float | None = None
    last_attempt: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    fetches: int = 0


class JwksCache:
    """Signing keys per allowed issuer. ``issuers`` maps issuer -> JWKS URL (from the settings only)."""

    def __init__(
        self,
        issuers: dict[str, str],
        *,
        min_refetch: float,
        max_age: float,
        timeout: float,
        verify: ssl.SSLContext | bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._state = {iss: _IssuerState(url=url) for iss, url in issuers.items()}
        self._min_refetch = min_refetch
        self._max_age = max_age
        self._clock = clock
        # One pooled client; TLS verification always on (a CA bundle may be given as an SSLContext).
        self._http = httpx.AsyncClient(timeout=timeout, verify=verify, follow_redirects=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    def current(self, issuer: str, kid: str) -> bool:
        """Whether ``kid`` is in the issuer's current set, without fetching (for cached verdicts)."""
        st = self._state[issuer]
        fresh = st.fetched_at is not None and self._clock() - st.fetched_at < self._max_age
        return fresh and kid in st.keys

    def fetch_count(self, issuer: str) -> int:
        """How many JWKS fetches were attempted for ``issuer`` (for tests and metrics)."""
        return self._state[issuer].fetches

    async def get(self, issuer: str, kid: str) -> jwt.PyJWK:
        """The key ``kid`` of ``issuer``; raises UnknownKey or KeysUnavailable."""
        st = self._state[issuer]
        now = self._clock()
        stale = st.fetched_at is None or now - st.fetched_at >= self._max_age
        if stale or kid not in st.keys:
            await self._maybe_refetch(st)
        key = st.keys.get(kid)
        if key is not None:
            return key
        if not st.keys:
            raise KeysUnavailable(f"no signing keys available for issuer {issuer}")
        raise UnknownKey(kid)

    async def _maybe_refetch(self, st: _IssuerState) -> None:
        async with st.lock:
            now = self._clock()
            # Re-check under the lock: a concurrent miss may have just fetched.
            if st.last_attempt is not None and now - st.last_attempt < self._min_refetch:
                return
            st.last_attempt = now
            st.fetches += 1
            try:
                resp = await self._http.get(st.url, headers={"Accept": "application/json"})
                resp.raise_for_status()
                keys = _parse(resp.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWTError):
                # Keep the last good set; an empty cache makes get() raise KeysUnavailable.
                return
            st.keys = keys
            st.fetched_at = now


def _parse(doc: object) -> dict[str, jwt.PyJWK]:
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError("JWKS document without a `keys` array")
    out: dict[str, jwt.PyJWK] = {}
    for k in doc["keys"]:
        if not isinstance(k, dict) or not isinstance(k.get("kid"), str):
            continue
        if k.get("use", "sig") != "sig":
            continue  # Keycloak publishes an `enc` key too; it must never verify a signature.
        try:
            out[k["kid"]] = jwt.PyJWK(k)
        except jwt.PyJWTError:
            continue  # an algorithm this PyJWT build cannot use
    return out
