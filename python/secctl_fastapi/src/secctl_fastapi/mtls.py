"""Caller identity by mTLS: the server SSLContext (client certificate required, CRL checked) and a
uvicorn protocol that puts the verified peer's identity into the ASGI scope.

uvicorn does not expose the peer certificate to the app, and its own SSL options cannot load a
CRL. :func:`server_ssl_context` builds the context; :class:`TlsIdentityH11Protocol` (pass it as
uvicorn's ``http=``) adds ``scope["extensions"]["tls"]`` (the ASGI TLS extension) with
``secctl_identity``, the service named by the certificate's ``spiffe://<trust domain>/<service>``
URI SAN, which secctl's CA writes on every client certificate.
"""

from __future__ import annotations

import ssl
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

SPIFFE = "spiffe://"


def server_ssl_context(certfile: str, keyfile: str, cafile: str, crlfile: str | None, *, crl_check: str = "chain") -> ssl.SSLContext:
    """TLS 1.2+, a client certificate required and verified against ``cafile``.

    ``crlfile`` is secctl's ``ca/crl.pem`` (one CRL per CA level). ``crl_check="chain"`` checks every
    level (VERIFY_CRL_CHECK_CHAIN: a level without a CRL fails closed); ``"leaf"`` only the leaf.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    ctx.load_verify_locations(cafile=cafile)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if crlfile:
        ctx.load_verify_locations(cafile=crlfile)  # PEM CRLs load into the same store
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN if crl_check == "chain" else ssl.VERIFY_CRL_CHECK_LEAF
    elif crl_check != "none":
        raise ValueError("a CRL file is required (pass crl_check='none' only for tests without revocation)")
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    return ctx


def identity_from_cert(cert: dict[str, Any] | None, trust_domain: str) -> str | None:
    """The service named by the SPIFFE URI SAN in ``trust_domain`` (``getpeercert()`` form), or None."""
    if not cert:
        return None
    found = None
    for typ, value in cert.get("subjectAltName", ()):
        if typ == "URI" and value.startswith(SPIFFE):
            rest = value[len(SPIFFE):]
            domain, _, svc = rest.partition("/")
            if domain == trust_domain and svc and "/" not in svc:
                if found is not None and found != svc:
                    return None  # two identities: ambiguous, refuse
                found = svc
    return found


class _WithTls:
    def __init__(self, app: Any, tls: dict[str, Any]) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope.setdefault("extensions", {})["tls"] = self.tls
        await self.app(scope, receive, send)


class TlsIdentityH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus the verified peer certificate in every request's scope."""

    trust_domain: str = ""

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        obj = transport.get_extra_info("ssl_object")
        cert = obj.getpeercert() if obj is not None else None
        self.app = _WithTls(self.app, {"client_cert": cert, "secctl_identity": identity_from_cert(cert, self.trust_domain)})


def protocol_for(trust_domain: str) -> type[TlsIdentityH11Protocol]:
    """A protocol class bound to a trust domain (uvicorn instantiates it per connection)."""
    return type("TlsIdentityH11Protocol_" + trust_domain.replace(".", "_").replace("-", "_"), (TlsIdentityH11Protocol,), {"trust_domain": trust_domain})
