"""A throwaway two-level PKI (CA → leaf) for the benchmarks, made with ``cryptography``.

For each key kind ("ecdsa" = P-256, "rsa" = RSA-2048) a self-signed CA of that kind issues a
server leaf for ``SERVER_NAME`` (SAN, EKU serverAuth).  The server sends the leaf only; the
client trusts the CA, so both stacks verify one signature up the chain plus the host name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAME = "bench.example"
KINDS = ("ecdsa", "rsa")

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class Identity:
    """Paths of one server identity and its trust anchor."""

    kind: str
    chain_pem: Path
    key_pem: Path
    ca_pem: Path

    def ca_der(self) -> bytes:
        """The CA certificate, DER."""
        return x509.load_pem_x509_certificate(self.ca_pem.read_bytes()).public_bytes(
            serialization.Encoding.DER
        )

    def leaf_der(self) -> bytes:
        """The leaf certificate, DER."""
        return x509.load_pem_x509_certificate(self.chain_pem.read_bytes()).public_bytes(
            serialization.Encoding.DER
        )

    def key(self) -> Key:
        """The leaf private key."""
        k = serialization.load_pem_private_key(self.key_pem.read_bytes(), None)
        assert isinstance(k, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
        return k


def _new_key(kind: str) -> Key:
    if kind == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(65537, 2048)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_identity(directory: Path, kind: str) -> Identity:
    """Create (or reuse, if already in ``directory``) the CA and leaf of ``kind``."""
    chain, keyp, cap = (directory / f"{kind}-{n}.pem" for n in ("chain", "key", "ca"))
    if chain.exists() and keyp.exists() and cap.exists():
        return Identity(kind, chain, keyp, cap)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    later = now + dt.timedelta(days=30)
    ca_key = _new_key(kind)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"bench {kind} CA"))
        .issuer_name(_name(f"bench {kind} CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = _new_key(kind)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(SERVER_NAME))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain.write_bytes(leaf.public_bytes(pem))
    cap.write_bytes(ca.public_bytes(pem))
    keyp.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Identity(kind, chain, keyp, cap)
