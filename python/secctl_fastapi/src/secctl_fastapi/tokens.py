"""Access-token validation with PyJWT: pinned algorithms, issuer allow-list, audience, `typ`,
lifetimes with leeway, and `sub` required. `azp` is checked per route by :mod:`.authz`."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any

import jwt

from .jwks import JwksCache, KeysUnavailable, UnknownKey
from .settings import JwtSettings

__all__ = ["InvalidToken", "KeysUnavailable", "TokenValidator"]

REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
#: Verified tokens remembered (by SHA-256 of the whole token) so a client's repeated requests skip
#: parsing and the RSA check. An entry is used only while the token is unexpired and its key is still
#: in the issuer's current, fresh key set, so a key removed from the realm stops validating its
#: tokens after the next fetch exactly as without the cache.
VERDICT_CACHE_SIZE = 10_000


class InvalidToken(Exception):
    """The token is not acceptable. ``reason`` is a short, secret-free code for logs and audit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenValidator:
    def __init__(self, settings: JwtSettings, jwks: JwksCache) -> None:
        self._s = settings
        self._jwks = jwks
        self._issuers = {i.issuer for i in settings.issuers}
        self._algorithms = list(settings.algorithms)
        self._audiences = list(settings.audiences)
        self._verdicts: OrderedDict[bytes, tuple[str, str, float, dict[str, Any]]] = OrderedDict()

    async def validate(self, token: str) -> dict[str, Any]:
        """The verified claims, or InvalidToken / KeysUnavailable (the caller answers 503)."""
        digest = hashlib.sha256(token.encode()).digest()
        hit = self._verdicts.get(digest)
        if hit is not None:
            iss, kid, exp, claims = hit
            if time.time() < exp + self._s.leeway_seconds and self._jwks.current(iss, kid):
                self._verdicts.move_to_end(digest)
                return dict(claims)  # the app may mutate its copy, never the cached verdict
            del self._verdicts[digest]
        claims = await self._validate(token)
        self._verdicts[digest] = (claims["iss"], jwt.get_unverified_header(token)["kid"], float(claims["exp"]), claims)
        if len(self._verdicts) > VERDICT_CACHE_SIZE:
            self._verdicts.popitem(last=False)
        return dict(claims)

    async def _validate(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed") from None
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise InvalidToken("algorithm-not-allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("no-kid")
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise InvalidToken("malformed") from None
        iss = unverified.get("iss")
        # The key URL comes from the allow-list, never from the token.
        if not isinstance(iss, str) or iss not in self._issuers:
            raise InvalidToken("issuer-not-allowed")
        try:
            key = await self._jwks.get(iss, kid)
        except UnknownKey:
            raise InvalidToken("unknown-kid") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audiences,
                issuer=iss,
                leeway=self._s.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS), "verify_nbf": True, "verify_iat": True},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("not-yet-valid") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("audience") from None
        except jwt.MissingRequiredClaimError as e:
            raise InvalidToken(f"missing-{e.claim}") from None
        except jwt.PyJWTError:
            raise InvalidToken("signature-or-claims") from None
        # ID and refresh tokens are signed by the same keys; only access tokens are accepted.
        if claims.get("typ") != self._s.typ:
            raise InvalidToken("wrong-typ")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidToken("missing-sub")
        return claims
