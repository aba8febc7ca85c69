"""The worker's audit task: ``python -m secctl_fastapi.worker.tasks.audit --config audit/worker.json``.

Feeds the gateway's files and Keycloak's events into their streams, ships every ``audit:*`` stream to the
log store (see ``worker/shipper.py`` for the durability rule), dead-letters poison, logs its lag.
Exit codes: 0 stopped by SIGTERM/SIGINT, 2 invalid configuration, 3 could not start (Redis unreachable).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any

from ...audit.emitter import audit_redis
from ...audit.logconfig import configure_logging
from ..config import Config, ConfigError, load
from ..keycloak import KeycloakPoller
from ..shipper import Shipper
from ..sink import Sink
from ..tailer import GatewayTailer


def redis_client(cfg: Config) -> Any:
    rc = cfg.redis
    return audit_redis(rc.url, username=rc.username, password=rc.password.resolve(), ssl_ca_certs=rc.ca_file,
                       ssl_certfile=rc.cert_file, ssl_keyfile=rc.key_file, asyncio=False)


class AuditTask:
    def __init__(self, cfg: Config, log: Any) -> None:
        self.cfg = cfg
        self.log = log
        self.r = redis_client(cfg)
        self.sink = Sink(cfg.sink)
        self.shipper = Shipper(cfg, self.r, self.sink, log)
        self.tailer: GatewayTailer | None = None
        g = cfg.gateway
        if g is not None:
            files = {k: p for k, p in (("nginx", g.nginx_access_log), ("modsec", g.modsec_audit_log)) if p}
            if files:
                self.tailer = GatewayTailer(self.r, g.stream, g.cursor_key, files, cfg.events, log)
        self.keycloak = KeycloakPoller(cfg.keycloak, self.r, log) if cfg.keycloak is not None else None
        self.stopping = False
        self.next_lag = 0.0

    def run(self) -> None:
        self.shipper.ensure_groups()
        self.log.info("audit task started", consumer=self.cfg.consumer, streams=list(self.shipper.streams),
                      sink=self.cfg.sink.protocol, ack_delay_s=self.cfg.ack_delay_seconds)
        while not self.stopping:
            try:
                if self.tailer is not None:
                    self.tailer.poll()
                if self.keycloak is not None:
                    self.keycloak.poll()
                self.shipper.step(block_ms=200)
                now = time.time()
                if now >= self.next_lag:
                    self.next_lag = now + self.cfg.lag_log_interval_seconds
                    st = self.shipper.stats
                    self.log.info("audit lag", **self.shipper.lag(), shipped=st.shipped, sent=st.sent,
                                  resent=st.resent, dead=st.dead)
            except Exception as e:  # noqa: BLE001 - Redis outages must not kill the task
                if type(e).__module__.startswith("redis"):
                    self.log.warning("redis unavailable; retrying", error=f"{type(e).__name__}: {e}")
                    time.sleep(0.5)
                    continue
                raise
        # Graceful stop: wait out the durability window for what was delivered; the rest stays pending.
        self.shipper.drain_confirmations(time.time() + self.cfg.ack_delay_seconds + 2)
        self.log.info("audit task stopped", shipped=self.shipper.stats.shipped,
                      left_pending=len(self.shipper.held))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m secctl_fastapi.worker.tasks.audit", description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="the audit configuration `secctl render` wrote (audit/worker.json)")
    args = ap.parse_args(argv)
    log = configure_logging("worker").bind(task="audit")
    try:
        cfg = load(args.config)
    except ConfigError as e:
        print(f"error: invalid audit configuration: {e}\n  help: re-run `secctl render` or fix the file", file=sys.stderr)
        return 2
    try:
        task = AuditTask(cfg, log)
    except (ConfigError, OSError, ValueError) as e:  # a credential or CA file that cannot be read
        print(f"error: cannot start the audit task: {e}\n  help: check the files and variables {args.config} refers to",
              file=sys.stderr)
        return 2
    try:
        task.r.ping()
    except Exception as e:  # noqa: BLE001 - any failure here means Redis cannot be used
        print(f"error: cannot reach Redis at {cfg.redis.url}: {type(e).__name__}: {e}\n  help: start Redis or fix redis.url",
              file=sys.stderr)
        return 3

    def stop(_sig: int, _frm: Any) -> None:
        task.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    task.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
