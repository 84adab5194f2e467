"""RootCertStore: the trust anchors a WebPKI verifier builds chains to.

Certificates are parsed once with ``cryptography`` and deduplicated by DER.  The Mozilla set
comes from ``certifi`` (parsed once per process, then shared; certificates ``cryptography``
refuses to parse are skipped and counted in :attr:`RootCertStore.skipped`).  The store also
gives the DER subject names a server lists in CertificateRequest.certificate_authorities
(RFC 8446 §4.2.4, RFC 5246 §7.4.4).

This room imports only from ``errors`` (and ``cryptography``/``certifi``); it never touches the
network.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import warnings
from collections.abc import Iterator

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.verification import Store

from ..errors import ConfigError
from .base import _X509_ERRORS

__all__ = ["RootCertStore"]

_log = logging.getLogger("tlspipe.verify.roots")

_PEM_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
    re.DOTALL,
)


def _split_pem(data: bytes) -> list[bytes]:
    return _PEM_BLOCK.findall(data)


class RootCertStore:
    """A set of trusted root certificates.

    Create it empty and add certificates, or use :meth:`from_pem_file` / :meth:`mozilla`.
    """

    __slots__ = ("_by_der", "_store", "skipped")

    def __init__(self) -> None:
        """Create an empty store."""
        self._by_der: dict[bytes, x509.Certificate] = {}
        self._store: Store | None = None
        #: Certificates skipped because they could not be parsed (Mozilla bundle only).
        self.skipped = 0

    def __repr__(self) -> str:
        return f"RootCertStore({len(self)} roots)"

    def __len__(self) -> int:
        return len(self._by_der)

    def __iter__(self) -> Iterator[x509.Certificate]:
        return iter(tuple(self._by_der.values()))

    def _add(self, cert: x509.Certificate) -> None:
        der = cert.public_bytes(serialization.Encoding.DER)
        if der not in self._by_der:
            self._by_der[der] = cert
            self._store = None

    def add_der(self, der: bytes) -> None:
        """Add one DER-encoded certificate.

        Raises:
            ConfigError: ``der`` is not a certificate.
        """
        try:
            cert = x509.load_der_x509_certificate(bytes(der))
        except _X509_ERRORS as e:
            raise ConfigError(f"invalid DER certificate: {e}") from e
        self._add(cert)

    def add_pem(self, data: bytes | str) -> int:
        """Add every certificate in a PEM string; returns how many were in it.

        Raises:
            ConfigError: no certificate in ``data``, or one of them does not parse.
        """
        raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
        blocks = _split_pem(raw)
        if not blocks:
            raise ConfigError("no PEM certificate found")
        certs: list[x509.Certificate] = []
        for i, block in enumerate(blocks):
            try:
                certs.append(x509.load_pem_x509_certificate(block))
            except _X509_ERRORS as e:
                raise ConfigError(f"invalid PEM certificate #{i + 1}: {e}") from e
        for cert in certs:
            self._add(cert)
        return len(certs)

    def add_pem_file(self, path: str | os.PathLike[str]) -> int:
        """Add every certificate in the PEM file at ``path``; returns how many were in it.

        Raises:
            ConfigError: the file cannot be read, holds no certificate, or one does not parse.
        """
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ConfigError(f"cannot read {os.fspath(path)!r}: {e.strerror}") from e
        try:
            return self.add_pem(data)
        except ConfigError as e:
            raise ConfigError(f"{os.fspath(path)!r}: {e}") from e

    @classmethod
    def from_pem_file(cls, path: str | os.PathLike[str]) -> RootCertStore:
        """A store holding the certificates of the PEM file at ``path``.

        Raises:
            ConfigError: as :meth:`add_pem_file`.
        """
        store = cls()
        store.add_pem_file(path)
        return store

    @classmethod
    def mozilla(cls) -> RootCertStore:
        """A new store with the Mozilla root program's certificates (from ``certifi``).

        The bundle is parsed once per process; unparsable entries are skipped and counted.

        Raises:
            ConfigError: the ``certifi`` bundle cannot be read.
        """
        certs, skipped = _mozilla_certs()
        store = cls()
        for cert in certs:
            store._add(cert)
        store.skipped = skipped
        return store

    def certificates(self) -> tuple[x509.Certificate, ...]:
        """The trusted certificates, in insertion order."""
        return tuple(self._by_der.values())

    def subjects(self) -> tuple[bytes, ...]:
        """The DER-encoded subject names, for certificate_authorities (RFC 8446 §4.2.4)."""
        return tuple(c.subject.public_bytes() for c in self._by_der.values())

    def to_store(self) -> Store:
        """The roots as a ``cryptography.x509.verification.Store`` (cached until changed).

        Raises:
            ConfigError: the store is empty (nothing could ever verify).
        """
        if self._store is None:
            if not self._by_der:
                raise ConfigError("RootCertStore is empty")
            self._store = Store(list(self._by_der.values()))
        return self._store


@functools.cache
def _mozilla_certs() -> tuple[tuple[x509.Certificate, ...], int]:
    path = certifi.where()
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read the certifi bundle {path!r}: {e.strerror}") from e
    certs: list[x509.Certificate] = []
    skipped = 0
    for block in _split_pem(data):
        try:
            with warnings.catch_warnings():
                # e.g. non-positive serial numbers in old roots: not ours to report
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                certs.append(x509.load_pem_x509_certificate(block))
        except _X509_ERRORS:
            skipped += 1
    if skipped:
        _log.debug("skipped %d unparsable certificates in %s", skipped, path)
    return tuple(certs), skipped
