"""Test support for the audit pipeline: real Redis and real VictoriaLogs on free loopback ports.

Nothing here is a fake: each helper starts the real server in a temp directory, waits until it answers,
and kills it when the test ends.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import redis

REPO = Path(__file__).resolve().parents[3]
VL_VERSION = os.environ.get("SECCTL_VICTORIALOGS_VERSION", "v1.52.1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def victoria_logs_bin() -> str:
    p = os.environ.get("SECCTL_VICTORIALOGS_BIN") or str(REPO / ".cache" / f"victoria-logs-{VL_VERSION}" / "bin" / "victoria-logs")
    if not os.access(p, os.X_OK):
        pytest.fail(f"VictoriaLogs not found at {p}: run scripts/setup.sh (builds it once per machine)")
    return p


def wait_until(pred: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class VictoriaLogs:
    """One real store. ``kill()`` is SIGKILL (no flush), ``start()`` reuses the same data directory."""

    def __init__(self, data: Path, port: int | None = None) -> None:
        self.data = data
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = open(data.parent / f"victoria-logs-{self.port}.log", "ab")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [victoria_logs_bin(), f"-httpListenAddr=127.0.0.1:{self.port}", f"-storageDataPath={self.data}",
             "-inmemoryDataFlushInterval=1s", "-retentionPeriod=30d", "-loggerLevel=WARN", "-memory.allowedPercent=10"],
            stdout=self.log, stderr=self.log)
        wait_until(self._healthy, 20, "VictoriaLogs /health")

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"VictoriaLogs exited with {self.proc.returncode}; see {self.log.name}")
        try:
            return httpx.get(self.url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def query(self, q: str) -> list[dict[str, Any]]:
        httpx.get(self.url + "/internal/force_flush", timeout=10)
        r = httpx.post(self.url + "/select/logsql/query", data={"query": q}, timeout=30)
        r.raise_for_status()
        return [json.loads(ln) for ln in r.text.splitlines() if ln.strip()]

    def dump(self) -> str:
        """Every stored row, raw, as the store returns it."""
        httpx.get(self.url + "/internal/force_flush", timeout=10)
        r = httpx.post(self.url + "/select/logsql/query", data={"query": "*"}, timeout=60)
        r.raise_for_status()
        return r.text

    def loki_url(self) -> str:
        return self.url + "/insert/loki/api/v1/push"

    def bulk_url(self) -> str:
        return self.url + "/insert/elasticsearch/_bulk"


class RedisServer:
    def __init__(self, tmp: Path, *, aclfile: Path | None = None) -> None:
        self.port = free_port()
        self.dir = tmp / f"redis-{self.port}"
        self.dir.mkdir()
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--save", "", "--appendonly", "no"]
        if aclfile is not None:
            args += ["--aclfile", str(aclfile)]
        self.proc = subprocess.Popen(args, stdout=open(self.dir / "redis.log", "wb"), stderr=subprocess.STDOUT)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        wait_until(self._up, 10, "redis-server")

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"redis-server exited: {(self.dir / 'redis.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def client(self, **kw: Any) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def worker_config(path: Path, rds: RedisServer, store: VictoriaLogs, protocol: str, **over: Any) -> Path:
    cfg: dict[str, Any] = {
        "version": 1,
        "redis": {"url": rds.url},
        "sink": {"protocol": protocol, "url": store.loki_url() if protocol == "loki" else store.bulk_url(),
                 "epoch_url": store.url + "/metrics"},
        "streams": ["audit:backend", "audit:ai"],
        "events": ["login", "admin", "waf", "rate-limit", "mtls", "access"],
        "consumer": "w1",
        "ack_delay_seconds": 5,
        "reclaim_idle_seconds": 8,
        "lag_log_interval_seconds": 1,
    }
    for k, v in over.items():
        cfg[k] = v
    path.write_text(json.dumps(cfg))
    return path


class Worker:
    """The audit task as users run it: ``python -m secctl_fastapi.worker.tasks.audit --config FILE``."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log_path = log
        self.proc = subprocess.Popen([sys.executable, "-m", "secctl_fastapi.worker.tasks.audit", "--config", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=open(log, "ab"))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()

    def log_lines(self) -> list[dict[str, Any]]:
        out = []
        for ln in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(ln))
            except ValueError:
                out.append({"raw": ln})
        return out


def unshipped(r: redis.Redis, streams: list[str], group: str = "audit-shippers") -> int:
    n = 0
    for s in streams:
        try:
            groups = r.xinfo_groups(s)
        except redis.exceptions.ResponseError as e:
            if "no such key" in str(e).lower():
                continue
            raise
        for g in groups:
            if g["name"] in (group, group.encode()):
                n += int(g["pending"]) + int(g.get("lag") or 0)
    return n


@pytest.fixture
def audit_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server not installed: run scripts/setup.sh")
    s = RedisServer(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def audit_store(tmp_path: Path) -> Iterator[VictoriaLogs]:
    vl = VictoriaLogs(tmp_path / "vldata")
    vl.start()
    yield vl
    vl.stop()


def logsql_quote(s: str) -> str:
    return json.dumps(s)


__all__ = ["REPO", "free_port", "wait_until", "VictoriaLogs", "RedisServer", "Worker", "worker_config", "unshipped",
           "audit_redis_server", "audit_store", "logsql_quote", "urllib"]
