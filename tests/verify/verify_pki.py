"""Test PKI for tests/verify, built with ``cryptography`` (shared helper, not a test module)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

NOW = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def der(cert: x509.Certificate) -> bytes:
    """DER of ``cert``."""
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert: x509.Certificate) -> bytes:
    """PEM of ``cert``."""
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def p256() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key."""
    return ec.generate_private_key(ec.SECP256R1())


def make_cert(
    *,
    subject: str,
    key: PrivateKey,
    issuer: x509.Certificate | None = None,
    issuer_key: PrivateKey | None = None,
    ca: bool = False,
    path_len: int | None = None,
    sans: list[x509.GeneralName] | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    not_before: dt.datetime = NOW - 30 * DAY,
    not_after: dt.datetime = NOW + 30 * DAY,
) -> x509.Certificate:
    """Issue a certificate (self-signed when ``issuer`` is None)."""
    signer = issuer_key if issuer_key is not None else key
    issuer_name = issuer.subject if issuer is not None else _name(subject)
    pub = key.public_key()
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
    )
    if issuer is not None:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer.public_key()  # type: ignore[arg-type]
            ),
            critical=False,
        )
    else:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pub), critical=False)
    if ca:
        b = b.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        b = b.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    algo = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return b.sign(signer, algo)


@dataclass
class Pki:
    """A root → intermediate → leaf hierarchy plus odd certificates."""

    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    inter: x509.Certificate
    inter_key: ec.EllipticCurvePrivateKey
    leaf: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey


SERVER_AUTH = [ExtendedKeyUsageOID.SERVER_AUTH]
CLIENT_AUTH = [ExtendedKeyUsageOID.CLIENT_AUTH]


def dns(name: str) -> x509.GeneralName:
    """A dNSName SAN."""
    return x509.DNSName(name)


def ip(addr: str) -> x509.GeneralName:
    """An iPAddress SAN."""
    return x509.IPAddress(ipaddress.ip_address(addr))


def make_pki() -> Pki:
    """Build the standard hierarchy (ECDSA P-256 everywhere)."""
    root_key = p256()
    root = make_cert(
        subject="tlspipe test root",
        key=root_key,
        ca=True,
        not_before=NOW - 365 * DAY,
        not_after=NOW + 3650 * DAY,
    )
    inter_key = p256()
    inter = make_cert(
        subject="tlspipe test intermediate",
        key=inter_key,
        issuer=root,
        issuer_key=root_key,
        ca=True,
        path_len=0,
        not_before=NOW - 365 * DAY,
        not_after=NOW + 3650 * DAY,
    )
    leaf_key = p256()
    leaf = make_cert(
        subject="example.com",
        key=leaf_key,
        issuer=inter,
        issuer_key=inter_key,
        sans=[dns("example.com"), dns("*.example.net")],
        eku=SERVER_AUTH,
    )
    return Pki(root, root_key, inter, inter_key, leaf, leaf_key)
