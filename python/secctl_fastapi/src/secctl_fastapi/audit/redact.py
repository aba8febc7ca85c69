"""Redaction of secrets from audit events and logs, by key and by value pattern.

Applied twice: by the producer before an event enters its Redis stream, and again by the worker before
anything leaves the host (the nginx and ModSecurity logs and Keycloak events only pass the second).
A redacted value becomes ``[REDACTED]``; the key stays so a reader sees that something was there.
"""

from __future__ import annotations

import functools
import re
from typing import Any

REDACTED = "[REDACTED]"

# Keys whose values are secrets wherever they appear (case-insensitive, anywhere in the key):
# headers (Authorization, Cookie, Set-Cookie, Proxy-Authorization), credentials and tokens.
_SECRET_KEY = re.compile(
    r"authorization|cookie|passw(?:or)?d|pwd|secret|token|api[-_]?key|private[-_]?key|credential|otp|session[-_]?id",
    re.IGNORECASE,
)
# Identifiers that merely look like secret names: useful for correlation, never usable as credentials.
SAFE_KEYS = frozenset({"token_type", "token_id", "refresh_token_id", "refresh_token_type", "session_state"})

# Values: an auth scheme followed by its credential, a JWT-shaped string, and secrets in query strings.
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic|Negotiate|Digest|Token)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_QUERY_SECRET = re.compile(
    r"([?&;](?:access_token|refresh_token|id_token|token|code|password|passwd|client_secret|api_key|apikey|secret|session)=)[^&#\s\"']*",
    re.IGNORECASE,
)
# A Cookie header's text inside a larger value (e.g. a ModSecurity message quoting the request).
_COOKIE_PAIR = re.compile(r"\b((?:set-)?cookie\s*[:=]\s*)[^\r\n\"]+", re.IGNORECASE)

MAX_DEPTH = 16

# A superset detector for raw JSON text: if it finds nothing (and the text has no `\u` escapes, which
# could spell a word in a way it cannot see), `redact` of the decoded document changes nothing. Every
# word `redact` looks for is made of characters JSON never escapes otherwise, so a contiguous match in
# the decoded text is contiguous in the raw text too. The worker uses it to skip the slow path.
_SUSPECT_WORDS = (
    "authorization", "cookie", "passw", "pwd", "secret", "token", "api_key", "api-key", "apikey", "private_key",
    "private-key", "privatekey", "credential", "otp", "session", "bearer", "basic", "negotiate", "digest", "eyj", "code=",
)


def _suspect(text: str) -> bool:
    # Plain substring tests on the lowered text: ~50x faster than one case-insensitive alternation.
    low = text.lower()
    return any(w in low for w in _SUSPECT_WORDS)


# Substrings of clean events that merely look suspicious (the `authorization` category).
_BENIGN = ('"category":"authorization"',)


def may_need_redaction(raw_json: str) -> bool:
    """False only when ``redact(json.loads(raw_json))`` is certain to change nothing."""
    if "\\u" in raw_json:
        return True
    for b in _BENIGN:
        raw_json = raw_json.replace(b, ",")  # JSON punctuation surrounds it: no word can form across
    return _suspect(raw_json)


@functools.lru_cache(maxsize=4096)  # keys repeat across events: decide once per distinct key
def secret_key(key: str) -> bool:
    """True when a value stored under ``key`` must never be logged."""
    k = key.lower()
    return k not in SAFE_KEYS and _SECRET_KEY.search(k) is not None


def redact_text(text: str) -> str:
    """Removes credentials embedded in free text: auth headers, JWTs, query-string secrets, cookies."""
    if not _suspect(text):  # none of the patterns below can match
        return text
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    text = _COOKIE_PAIR.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def redact(value: Any, _depth: int = 0) -> Any:
    """Returns a copy of ``value`` (dicts, lists, strings, scalars) with every secret replaced.

    Too-deep structures are replaced whole rather than half-checked.
    """
    if _depth > MAX_DEPTH:
        return REDACTED
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            ks = str(k)
            out[ks] = REDACTED if secret_key(ks) and v not in (None, "") else redact(v, _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    return value


def structlog_processor(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: put it last before the renderer."""
    return redact(event_dict)
