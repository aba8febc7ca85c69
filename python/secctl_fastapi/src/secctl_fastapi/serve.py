"""Runs a kit-protected app under uvicorn with mTLS: client certificates required, the CRL checked,
and the peer's identity in every request's scope.

    python -m secctl_fastapi.serve examples.stack.backend:app --host 127.0.0.1 --port 28001 \\
        --cert pki/backend.crt --key pki/backend.key --ca pki/ca/chain.crt --crl pki/ca/crl.pem \\
        --trust-domain acme.internal

The key file's passphrase, if any, is never taken on argv.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import uvicorn

from .mtls import protocol_for, server_ssl_context


def config(app: Any, *, host: str, port: int, cert: str, key: str, ca: str, crl: str | None, trust_domain: str, crl_check: str = "chain", log_level: str = "warning") -> uvicorn.Config:
    """A uvicorn Config serving ``app`` over mTLS (see :func:`secctl_fastapi.mtls.server_ssl_context`)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_for(trust_domain),
        ssl_context_factory=lambda _cfg, _default: server_ssl_context(cert, key, ca, crl, crl_check=crl_check),
        log_level=log_level,
        server_header=False,
        date_header=False,
        proxy_headers=False,  # the kit decides when forwarded headers are believed (gateway peer only)
        lifespan="on",
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m secctl_fastapi.serve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("app", help="module:attribute of the ASGI app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca", required=True, help="CA chain that issued the callers' certificates")
    p.add_argument("--crl", required=True, help="secctl's ca/crl.pem (one CRL per CA level)")
    p.add_argument("--crl-check", choices=["chain", "leaf"], default="chain")
    p.add_argument("--trust-domain", required=True)
    p.add_argument("--log-level", default="warning")
    a = p.parse_args(argv)
    cfg = config(a.app, host=a.host, port=a.port, cert=a.cert, key=a.key, ca=a.ca, crl=a.crl, trust_domain=a.trust_domain, crl_check=a.crl_check, log_level=a.log_level)
    server = uvicorn.Server(cfg)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
