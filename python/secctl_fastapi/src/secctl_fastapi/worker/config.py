"""The audit task's configuration: the JSON file `secctl render` writes (``audit/worker.json``).

Parsed into frozen dataclasses and validated at startup; a bad file stops the task with exit code 2 and a
message naming the key. Secrets are never in the file: only ``*_env`` / ``*_file`` references.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass, field
from typing import Any

_STREAM = re.compile(r"^audit:[a-z0-9][a-z0-9-]{0,62}$")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Secret:
    """A credential by reference: an environment variable or a file (first line, stripped)."""
    env: str | None = None
    file: str | None = None

    def resolve(self) -> str | None:
        if self.env:
            v = os.environ.get(self.env)
            if v is None:
                raise ConfigError(f"environment variable {self.env} (a credential reference) is not set")
            return v
        if self.file:
            try:
                with open(self.file, encoding="utf-8") as f:
                    return f.readline().strip()
            except OSError as e:
                raise ConfigError(f"cannot read credential file {self.file}: {e.strerror}") from e
        return None


@dataclass(frozen=True)
class RedisConf:
    url: str
    username: str | None = None
    password: Secret = field(default_factory=Secret)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


@dataclass(frozen=True)
class SinkConf:
    protocol: str  # "loki" | "elasticsearch"
    url: str  # the push endpoint: .../loki/api/v1/push or .../_bulk
    username: Secret = field(default_factory=Secret)
    password: Secret = field(default_factory=Secret)
    ca_file: str | None = None
    # Where the store's start time is read (`vm_app_start_timestamp`); None: not a VictoriaLogs store.
    epoch_url: str | None = None
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class GatewayConf:
    stream: str = "audit:gateway"
    nginx_access_log: str | None = None
    modsec_audit_log: str | None = None
    cursor_key: str = "audit:cursor:files"


@dataclass(frozen=True)
class KeycloakConf:
    url: str
    realm: str
    client_id: str
    client_secret: Secret
    stream: str = "audit:keycloak"
    interval_seconds: float = 10.0
    ca_file: str | None = None
    cursor_key: str = "audit:cursor:keycloak"


@dataclass(frozen=True)
class Config:
    redis: RedisConf
    sink: SinkConf
    streams: tuple[str, ...]
    events: frozenset[str]
    group: str = "audit-shippers"
    consumer: str = field(default_factory=socket.gethostname)
    dead_letter_stream: str = "audit:dead"
    ack_delay_seconds: float = 5.0
    reclaim_idle_seconds: float = 60.0
    batch_max_events: int = 500
    batch_max_bytes: int = 4 * 1024 * 1024
    max_in_flight_events: int = 100_000
    max_in_flight_bytes: int = 128 * 1024 * 1024
    retention_days: int = 365
    lag_log_interval_seconds: float = 10.0
    gateway: GatewayConf | None = None
    keycloak: KeycloakConf | None = None

    def all_streams(self) -> tuple[str, ...]:
        """Every stream the shipper consumes: the services', the gateway tailer's, Keycloak's."""
        extra = [c.stream for c in (self.gateway, self.keycloak) if c is not None]
        return tuple(dict.fromkeys([*self.streams, *extra]))


def _secret(d: dict[str, Any] | None, where: str) -> Secret:
    if d is None:
        return Secret()
    if not isinstance(d, dict) or set(d) - {"env", "file"} or len(d) != 1:
        raise ConfigError(f"{where}: a credential is {{\"env\": NAME}} or {{\"file\": PATH}}, never a literal")
    return Secret(env=d.get("env"), file=d.get("file"))


def _take(d: dict[str, Any], cls: type, where: str, secrets: tuple[str, ...] = ()) -> Any:
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected an object")
    known = set(cls.__dataclass_fields__)
    unknown = set(d) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    kw = dict(d)
    for s in secrets:
        kw[s] = _secret(d.get(s), f"{where}.{s}")
    try:
        return cls(**kw)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from e


def parse(doc: dict[str, Any]) -> Config:
    if not isinstance(doc, dict):
        raise ConfigError("the audit configuration must be a JSON object")
    if doc.get("version") != 1:
        raise ConfigError(f"version: expected 1, got {doc.get('version')!r} (re-run `secctl render`)")
    d = {k: v for k, v in doc.items() if k not in ("version", "generated_by")}
    for req in ("redis", "sink", "streams"):
        if req not in d:
            raise ConfigError(f"{req}: missing")
    d["redis"] = _take(d["redis"], RedisConf, "redis", ("password",))
    d["sink"] = _take(d["sink"], SinkConf, "sink", ("username", "password"))
    if d["sink"].protocol not in ("loki", "elasticsearch"):
        raise ConfigError(f"sink.protocol: {d['sink'].protocol!r} is not `loki` or `elasticsearch`")
    if not re.match(r"^https?://", d["sink"].url):
        raise ConfigError("sink.url: must be an http(s) URL")
    if d.get("gateway") is not None:
        d["gateway"] = _take(d["gateway"], GatewayConf, "gateway")
    if d.get("keycloak") is not None:
        d["keycloak"] = _take(d["keycloak"], KeycloakConf, "keycloak", ("client_secret",))
    d["streams"] = tuple(d["streams"])
    d["events"] = frozenset(d.get("events", ()))
    if d.get("consumer") is None:
        d.pop("consumer", None)
    try:
        cfg = Config(**d)
    except TypeError as e:
        raise ConfigError(str(e)) from e
    for s in (*cfg.all_streams(), cfg.dead_letter_stream):
        if not _STREAM.match(s):
            raise ConfigError(f"stream {s!r}: must be `audit:<name>` (lowercase, digits, dashes)")
    if cfg.dead_letter_stream in cfg.all_streams():
        raise ConfigError("dead_letter_stream: must not be one of the consumed streams")
    if cfg.ack_delay_seconds < 0 or cfg.reclaim_idle_seconds <= cfg.ack_delay_seconds:
        raise ConfigError("reclaim_idle_seconds must exceed ack_delay_seconds (else a worker reclaims its own unconfirmed entries)")
    if not (1 <= cfg.batch_max_events <= cfg.max_in_flight_events):
        raise ConfigError("batch_max_events must be between 1 and max_in_flight_events")
    return cfg


def load(path: str) -> Config:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}:{e.lineno}:{e.colno}: {e.msg}") from e
    try:
        return parse(doc)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e
