"""A test PKI shaped like secctl's: root -> intermediate -> leaves with `spiffe://<domain>/<service>`
URI SANs on client certificates, and one CRL per CA level in a single PEM file."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DOMAIN = "acme.internal"
NOW = dt.datetime.now(dt.timezone.utc)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str, issuer_key: ec.EllipticCurvePrivateKey | None, issuer_name: x509.Name | None, path_len: int):
    key = ec.generate_private_key(ec.SECP256R1())
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer_name or _name(cn)).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(NOW - dt.timedelta(minutes=5)).not_valid_after(NOW + dt.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
         .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer_key is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    else:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
    return key, b.sign(issuer_key or key, hashes.SHA256())


def _crl(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, revoked: list[int]) -> x509.CertificateRevocationList:
    b = (x509.CertificateRevocationListBuilder().issuer_name(cert.subject).last_update(NOW - dt.timedelta(minutes=1))
         .next_update(NOW + dt.timedelta(days=7))
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
         .add_extension(x509.CRLNumber(1), critical=False))
    for s in revoked:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(s).revocation_date(NOW - dt.timedelta(minutes=1)).build())
    return b.sign(key, hashes.SHA256())


def _pem(obj: object) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)  # type: ignore[attr-defined]


def make_pki(d: Path, clients: list[str], revoked: list[str]) -> dict[str, Path]:
    """Writes ca.crt (chain), crl.pem, server.{crt,key} and <client>.{crt,key}; returns the paths."""
    rkey, root = _ca("Acme Root CA", None, None, 1)
    ikey, inter = _ca("Acme Services CA", rkey, root.subject, 0)
    out: dict[str, Path] = {}

    def leaf(name: str, server: bool) -> int:
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        if server:
            san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.DNSName(f"{name}.{DOMAIN}"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            eku = [ExtendedKeyUsageOID.SERVER_AUTH]
        else:
            san = x509.SubjectAlternativeName([x509.DNSName(f"{name}.{DOMAIN}"), x509.UniformResourceIdentifier(f"spiffe://{DOMAIN}/{name}")])
            eku = [ExtendedKeyUsageOID.CLIENT_AUTH]
        cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(inter.subject).public_key(key.public_key())
                .serial_number(serial).not_valid_before(NOW - dt.timedelta(minutes=5)).not_valid_after(NOW + dt.timedelta(days=7))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
                .add_extension(san, critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ikey.public_key()), critical=False)
                .sign(ikey, hashes.SHA256()))
        label = "server" if server else name
        (d / f"{label}.crt").write_bytes(_pem(cert) + _pem(inter))
        (d / f"{label}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (d / f"{label}.key").chmod(0o600)
        out[label + ".crt"], out[label + ".key"] = d / f"{label}.crt", d / f"{label}.key"
        return serial

    leaf("backend", True)
    serials = {c: leaf(c, False) for c in clients}
    (d / "ca.crt").write_bytes(_pem(inter) + _pem(root))
    (d / "crl.pem").write_bytes(_pem(_crl(ikey, inter, [serials[r] for r in revoked])) + _pem(_crl(rkey, root, [])))
    out["ca.crt"], out["crl.pem"] = d / "ca.crt", d / "crl.pem"
    return out
