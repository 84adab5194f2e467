"""Test PKI for tlspipe, generated on the fly with `cryptography` (nothing is checked in).

One `PKI` per pytest session (see the `pki` fixture in tests/conftest.py), written to a tmp dir:

* ``root`` (ECDSA P-256, self-signed, path length unlimited) → ``intermediate`` (ECDSA P-256,
  pathLen 0). Clients in tests trust ``pki.ca_pem`` (the root only).
* Server leaves issued by the intermediate, SANs ``DNS:localhost``, ``DNS:testserver.example``,
  ``IP:127.0.0.1``, EKU serverAuth: kinds ``SERVER_KINDS`` = ecdsa-p256, ecdsa-p384, ed25519,
  rsa-2048 (`PKI.server`). A second identity for SNI tests: ``DNS:other.example`` only
  (`PKI.other_server`).
* Client leaves with EKU clientAuth (`PKI.client`): ecdsa-p256, rsa-2048.
* Bad server identities for rejection tests (`PKI.bad`), every one otherwise valid (ECDSA P-256,
  good names, issued by the intermediate) so that exactly one thing is wrong:
  ``expired``, ``not-yet-valid``, ``wrong-name`` (only ``DNS:wrong.example``),
  ``untrusted-root`` (chains to a different root; its ``ca_pem`` is still the *trusted* test root),
  ``no-server-eku`` (EKU clientAuth only), ``ca-as-leaf`` (basicConstraints CA:TRUE,
  keyUsage keyCertSign|cRLSign, good names), ``key-mismatch`` (good chain, a different key).

Every `Identity` has ``chain_pem`` (leaf + intermediate), ``leaf_pem``, ``intermediates_pem``,
``key_pem`` (PKCS#8, unencrypted), ``ca_pem`` (trusted root), ``chain_der`` and ``key_obj``.
All RSA keys are 2048 bits and generated once per session (they are the slow part).

The module also holds a few offline self-checks (``test_*``) run by
``pytest tests/pki.py``; peer-based checks live in tests/interop/test_peers_selfcheck.py.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "BAD_KINDS",
    "CLIENT_KINDS",
    "PKI",
    "SERVER_KINDS",
    "SERVER_NAMES",
    "Identity",
    "PrivateKey",
]

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey

SERVER_KINDS: Final = ("ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048")
CLIENT_KINDS: Final = ("ecdsa-p256", "rsa-2048")
BAD_KINDS: Final = (
    "expired",
    "not-yet-valid",
    "wrong-name",
    "untrusted-root",
    "no-server-eku",
    "ca-as-leaf",
    "key-mismatch",
)
#: Names in every good server leaf (DNS names first, then the IP address).
SERVER_NAMES: Final = ("localhost", "testserver.example", "127.0.0.1")
OTHER_NAME: Final = "other.example"

_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Identity:
    """A certificate chain and its private key, as files and as objects.

    ``ca_pem`` is always the root a test client/server should trust (for bad identities too,
    so verifying against it must fail). ``key_obj`` is the private key for ``key_pem``.
    """

    name: str
    chain_pem: Path
    leaf_pem: Path
    intermediates_pem: Path
    key_pem: Path
    ca_pem: Path
    chain_der: list[bytes]
    key_obj: PrivateKey = field(repr=False)
    names: tuple[str, ...] = ()

    @property
    def leaf(self) -> x509.Certificate:
        """The end-entity certificate as a `cryptography` object."""
        return x509.load_der_x509_certificate(self.chain_der[0])

    @property
    def key_der(self) -> bytes:
        """The private key as unencrypted PKCS#8 DER."""
        return self.key_obj.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True)
class _CA:
    cert: x509.Certificate
    key: PrivateKey = field(repr=False)


def _new_key(kind: str) -> PrivateKey:
    if kind == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key kind {kind!r}")


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlspipe tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _san(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    general: list[x509.GeneralName] = []
    for n in names:
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            general.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(general)


def _sign(builder: x509.CertificateBuilder, issuer_key: PrivateKey) -> x509.Certificate:
    algo = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_key, algo)


def _make_ca(cn: str, parent: _CA | None, path_length: int | None) -> _CA:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = _name(cn)
    issuer = parent.cert.subject if parent else subject
    signer = parent.key if parent else key
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + 3650 * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
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
        .add_extension(ski, critical=False)
    )
    aki_key = parent.key.public_key() if parent else key.public_key()
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_key), critical=False)
    return _CA(_sign(b, signer), key)


def _make_leaf(
    ca: _CA,
    key: PrivateKey,
    *,
    cn: str,
    names: tuple[str, ...],
    eku: list[x509.ObjectIdentifier],
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    is_ca: bool = False,
) -> x509.Certificate:
    rsa_key = isinstance(key, rsa.RSAPrivateKey)
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not is_ca,
                content_commitment=False,
                key_encipherment=rsa_key and not is_ca,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
        .add_extension(_san(names), critical=False)
    )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return _sign(b, ca.key)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class PKI:
    """The session's test PKI; files live under ``directory``. Identities are built lazily
    (and cached), so a test run pays only for the keys it uses."""

    def __init__(self, directory: Path) -> None:
        """Create the root and intermediate CAs and write ``ca.pem`` into ``directory``."""
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.root = _make_ca("tlspipe test root CA", None, None)
        self.intermediate = _make_ca("tlspipe test intermediate CA", self.root, 0)
        #: The trust anchor for tests (root certificate only).
        self.ca_pem = directory / "ca.pem"
        self.ca_pem.write_bytes(_pem(self.root.cert))
        #: Root + intermediate in one file (for peers that want the whole CA bundle).
        self.ca_bundle_pem = directory / "ca-bundle.pem"
        self.ca_bundle_pem.write_bytes(_pem(self.root.cert) + _pem(self.intermediate.cert))
        self._keys: dict[str, PrivateKey] = {}
        self._ids: dict[str, Identity] = {}
        self._untrusted: tuple[_CA, _CA] | None = None

    # -- keys -----------------------------------------------------------------------------

    def key(self, kind: str, slot: str = "server") -> PrivateKey:
        """A cached private key of ``kind`` (one per (kind, slot); RSA generated once).

        Raises:
            ValueError: unknown kind.
        """
        ident = f"{slot}/{kind}"
        if ident not in self._keys:
            self._keys[ident] = _new_key(kind)
        return self._keys[ident]

    # -- identities -----------------------------------------------------------------------

    def _write(
        self,
        ident: str,
        certs: list[x509.Certificate],
        key: PrivateKey,
        names: tuple[str, ...],
    ) -> Identity:
        stem = ident.replace("/", "-")
        chain_pem = self.directory / f"{stem}.chain.pem"
        leaf_pem = self.directory / f"{stem}.leaf.pem"
        inter_pem = self.directory / f"{stem}.intermediates.pem"
        key_pem = self.directory / f"{stem}.key.pem"
        chain_pem.write_bytes(b"".join(_pem(c) for c in certs))
        leaf_pem.write_bytes(_pem(certs[0]))
        inter_pem.write_bytes(b"".join(_pem(c) for c in certs[1:]))
        key_pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return Identity(
            name=ident,
            chain_pem=chain_pem,
            leaf_pem=leaf_pem,
            intermediates_pem=inter_pem,
            key_pem=key_pem,
            ca_pem=self.ca_pem,
            chain_der=[c.public_bytes(serialization.Encoding.DER) for c in certs],
            key_obj=key,
            names=names,
        )

    def _leaf_identity(
        self,
        ident: str,
        key: PrivateKey,
        *,
        cn: str,
        names: tuple[str, ...],
        eku: list[x509.ObjectIdentifier],
        ca: _CA | None = None,
        extra_chain: tuple[x509.Certificate, ...] = (),
        validity: tuple[datetime.timedelta, datetime.timedelta] = (-_DAY, 30 * _DAY),
        is_ca: bool = False,
        file_key: PrivateKey | None = None,
    ) -> Identity:
        if ident not in self._ids:
            issuer = ca or self.intermediate
            now = datetime.datetime.now(datetime.UTC)
            leaf = _make_leaf(
                issuer,
                key,
                cn=cn,
                names=names,
                eku=eku,
                not_before=now + validity[0],
                not_after=now + validity[1],
                is_ca=is_ca,
            )
            chain = [leaf, issuer.cert, *extra_chain]
            self._ids[ident] = self._write(ident, chain, file_key or key, names)
        return self._ids[ident]

    def server(self, kind: str = "ecdsa-p256") -> Identity:
        """A good server identity (names `SERVER_NAMES`, EKU serverAuth) of key ``kind``.

        Raises:
            ValueError: ``kind`` not in `SERVER_KINDS`.
        """
        if kind not in SERVER_KINDS:
            raise ValueError(f"unknown server kind {kind!r}; one of {SERVER_KINDS}")
        return self._leaf_identity(
            f"server/{kind}",
            self.key(kind),
            cn=f"tlspipe test server {kind}",
            names=SERVER_NAMES,
            eku=[ExtendedKeyUsageOID.SERVER_AUTH],
        )

    def other_server(self) -> Identity:
        """The second server identity for SNI tests: ECDSA P-256, only ``DNS:other.example``."""
        return self._leaf_identity(
            "server/other",
            self.key("ecdsa-p256", "other"),
            cn=OTHER_NAME,
            names=(OTHER_NAME,),
            eku=[ExtendedKeyUsageOID.SERVER_AUTH],
        )

    def client(self, kind: str = "ecdsa-p256") -> Identity:
        """A client identity (EKU clientAuth, ``DNS:client.example``) of key ``kind``.

        Raises:
            ValueError: ``kind`` not in `CLIENT_KINDS`.
        """
        if kind not in CLIENT_KINDS:
            raise ValueError(f"unknown client kind {kind!r}; one of {CLIENT_KINDS}")
        return self._leaf_identity(
            f"client/{kind}",
            self.key(kind, "client"),
            cn=f"tlspipe test client {kind}",
            names=("client.example",),
            eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
        )

    @property
    def untrusted_root_pem(self) -> Path:
        """The root that the ``untrusted-root`` identity chains to (not in ``ca_pem``)."""
        self._untrusted_cas()
        return self.directory / "untrusted-ca.pem"

    def _untrusted_cas(self) -> tuple[_CA, _CA]:
        if self._untrusted is None:
            root = _make_ca("tlspipe UNTRUSTED root CA", None, None)
            inter = _make_ca("tlspipe UNTRUSTED intermediate CA", root, 0)
            (self.directory / "untrusted-ca.pem").write_bytes(_pem(root.cert))
            self._untrusted = (root, inter)
        return self._untrusted

    def bad(self, kind: str) -> Identity:
        """A server identity with exactly one defect (see the module docstring).

        Raises:
            ValueError: ``kind`` not in `BAD_KINDS`.
        """
        if kind not in BAD_KINDS:
            raise ValueError(f"unknown bad kind {kind!r}; one of {BAD_KINDS}")
        ident = f"bad/{kind}"
        key = self.key("ecdsa-p256", ident)
        names: tuple[str, ...] = SERVER_NAMES
        eku = [ExtendedKeyUsageOID.SERVER_AUTH]
        validity = (-_DAY, 30 * _DAY)
        ca: _CA | None = None
        file_key: PrivateKey | None = None
        if kind == "expired":
            validity = (-60 * _DAY, -30 * _DAY)
        elif kind == "not-yet-valid":
            validity = (30 * _DAY, 60 * _DAY)
        elif kind == "wrong-name":
            names = ("wrong.example",)
        elif kind == "no-server-eku":
            eku = [ExtendedKeyUsageOID.CLIENT_AUTH]
        elif kind == "untrusted-root":
            ca = self._untrusted_cas()[1]
        elif kind == "key-mismatch":
            file_key = self.key("ecdsa-p256", "bad/key-mismatch-other")
        return self._leaf_identity(
            ident,
            key,
            cn=f"tlspipe bad server {kind}",
            names=names,
            eku=eku,
            ca=ca,
            validity=validity,
            is_ca=kind == "ca-as-leaf",
            file_key=file_key,
        )


# -- offline self-checks (run with `pytest tests/pki.py`) ---------------------------------------


def _verify_server(pki: PKI, ident: Identity, name: str) -> None:
    from cryptography.x509 import DNSName, IPAddress
    from cryptography.x509.verification import PolicyBuilder, Store

    store = Store([pki.root.cert])
    try:
        subject: DNSName | IPAddress = IPAddress(ipaddress.ip_address(name))
    except ValueError:
        subject = DNSName(name)
    verifier = PolicyBuilder().store(store).build_server_verifier(subject)
    certs = [x509.load_der_x509_certificate(d) for d in ident.chain_der]
    verifier.verify(certs[0], certs[1:])


def test_pki_good_chains_verify_with_cryptography(tmp_path: Path) -> None:
    """Every good server identity passes `cryptography`'s WebPKI verifier for every name."""
    pki = PKI(tmp_path)
    for kind in SERVER_KINDS:
        ident = pki.server(kind)
        assert ident.chain_pem.read_bytes().count(b"BEGIN CERTIFICATE") == 2
        assert b"BEGIN PRIVATE KEY" in ident.key_pem.read_bytes()  # PKCS#8
        for name in SERVER_NAMES:
            _verify_server(pki, ident, name)
    _verify_server(pki, pki.other_server(), OTHER_NAME)


def test_pki_bad_chains_fail_with_cryptography(tmp_path: Path) -> None:
    """Each bad identity is rejected by `cryptography`'s verifier for the intended reason
    (key-mismatch has a fine chain: its defect is the key file)."""
    from cryptography.x509.verification import VerificationError

    expected = {
        "expired": "not valid at validation time",
        "not-yet-valid": "not valid at validation time",
        "wrong-name": "no matching subjectAltName",
        "untrusted-root": "candidates exhausted",
        "no-server-eku": "required EKU not found",
        "ca-as-leaf": "basicConstraints.cA must not be asserted in an EE",
    }
    pki = PKI(tmp_path)
    for kind in BAD_KINDS:
        ident = pki.bad(kind)
        if kind == "key-mismatch":
            assert ident.leaf.public_key() != ident.key_obj.public_key()
            _verify_server(pki, ident, "localhost")
            continue
        try:
            _verify_server(pki, ident, "localhost")
        except VerificationError as e:
            assert expected[kind] in str(e), (kind, e)
            continue
        raise AssertionError(f"{kind} verified")


def test_pki_client_chains_verify_with_cryptography(tmp_path: Path) -> None:
    """Client identities pass `cryptography`'s client verifier (clientAuth EKU)."""
    from cryptography.x509.verification import PolicyBuilder, Store

    pki = PKI(tmp_path)
    verifier = PolicyBuilder().store(Store([pki.root.cert])).build_client_verifier()
    for kind in CLIENT_KINDS:
        certs = [x509.load_der_x509_certificate(d) for d in pki.client(kind).chain_der]
        verifier.verify(certs[0], certs[1:])
