"""Per-request overhead of the kit (mTLS peer check, JWT, RBAC, tenancy, GCRA limiter via EVALSHA on
real Redis), measured at the ASGI boundary so HTTP parsing and sockets are not counted.

    .venv/bin/python python/secctl_fastapi/bench/overhead.py [--requests 5000]

Starts its own Redis (ACL as rendered) and JWKS server on loopback, warms the JWKS cache, then
times N requests through the kit and N through the bare app, and prints p50/p90/p99 of both and of
the difference. A benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import redis.asyncio as aioredis  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from secctl_fastapi import SecurityKit  # noqa: E402
from secctl_fastapi.settings import parse_settings  # noqa: E402
from tests.conftest import BASE_SETTINGS, REDIS_PASSWORD, Keys, RedisServer, make_token  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


async def drive(app: Any, headers: list[list[tuple[bytes, bytes]]], n: int) -> list[float]:
    out: list[float] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    status: list[int] = []

    async def send(msg: dict[str, Any]) -> None:
        if msg["type"] == "http.response.start":
            status.append(msg["status"])

    for i in range(n):
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "https",
                 "path": "/api/items", "raw_path": b"/api/items", "query_string": b"", "root_path": "",
                 "headers": headers[i % len(headers)], "client": ("203.0.113.7", 50000), "server": ("127.0.0.1", 443), "state": {}}
        t = time.perf_counter_ns()
        await app(scope, receive, send)
        out.append((time.perf_counter_ns() - t) / 1e6)
    bad = [s for s in status if s != 200]
    if bad:
        raise SystemExit(f"benchmark requests were refused ({len(bad)} x {bad[0]}): fix the setup")
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--fresh-tokens", action="store_true", help="a distinct token per request (no verdict cache hit: full RS256 check each time)")
    a = ap.parse_args()

    import threading
    from http.server import ThreadingHTTPServer

    from tests import conftest

    keys = Keys()
    keys.add("k1")
    gen = conftest.jwks_server.__wrapped__() if hasattr(conftest.jwks_server, "__wrapped__") else None
    # A JWKS server without pytest: reuse the fixture's handler shape.
    import json
    from http.server import BaseHTTPRequestHandler

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps(keys.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *x: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    del gen
    rs = RedisServer()
    rs.start()
    try:
        doc = copy.deepcopy(BASE_SETTINGS)
        doc["jwt"]["issuers"][0]["jwks_url"] = f"http://127.0.0.1:{srv.server_address[1]}/certs"
        # a budget the benchmark cannot exhaust: the limiter still runs its script on every request
        doc["routes"][0]["rate_limit"]["per_ip"] = {"rate": 1_000_000, "period_seconds": 1, "burst": 1_000_000}
        doc["routes"][0]["rate_limit"]["per_user"] = {"rate": 1_000_000, "period_seconds": 1, "burst": 1_000_000}
        r = aioredis.from_url(f"redis://backend:{REDIS_PASSWORD}@127.0.0.1:{rs.port}/0")
        kit = SecurityKit(parse_settings(doc, source="bench", service="backend"), redis=r)
        app = FastAPI()

        @app.get("/api/items")
        async def items() -> dict[str, str]:
            return {"ok": "yes"}

        bare = FastAPI()
        bare.get("/api/items")(items)
        kit.install(app)
        app.middleware_stack = app.build_middleware_stack()
        n_tok = a.requests if a.fresh_tokens else 1
        h = [[(b"authorization", f"Bearer {make_token(keys, exp=int(time.time()) + 3600)}".encode()), (b"x-tenant-id", b"tenant-a")] for _ in range(n_tok)]
        warm = [[(b"authorization", f"Bearer {make_token(keys, exp=int(time.time()) + 3600)}".encode()), (b"x-tenant-id", b"tenant-a")]]
        await drive(app, warm, 200)  # warm-up: JWKS fetched, script loaded, pools open
        await drive(bare, warm, 200)
        with_kit = await drive(app, h, a.requests)
        without = await drive(bare, h, a.requests)
        print(f"requests: {a.requests} each; {'a fresh token per request' if a.fresh_tokens else 'one token (verdict cache)'}; Redis 7 on 127.0.0.1 (ACL user, EVALSHA); Python {sys.version.split()[0]}")
        print(f"{'':18}{'p50':>9}{'p90':>9}{'p99':>9}   (ms)")
        for name, xs in (("app + kit", with_kit), ("bare app", without)):
            print(f"{name:18}{pct(xs, 50):9.3f}{pct(xs, 90):9.3f}{pct(xs, 99):9.3f}")
        print(f"{'kit overhead':18}{pct(with_kit, 50) - pct(without, 50):9.3f}{pct(with_kit, 90) - pct(without, 90):9.3f}{pct(with_kit, 99) - pct(without, 99):9.3f}")
        print(f"mean overhead {statistics.mean(with_kit) - statistics.mean(without):.3f} ms")
        await kit.aclose()
        await r.aclose()
    finally:
        rs.stop()
        srv.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
