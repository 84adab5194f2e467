"""Client certificates for client authentication (RFC 8446 §4.4.2, RFC 5246 §7.4.6).

A :class:`ResolvesClientCert` chooses the chain and key to answer a CertificateRequest with,
from the server's certificate_authorities hints and signature schemes; None means "send an
empty Certificate".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..crypto.sign import CertifiedKey

__all__ = ["AlwaysResolvesClientCert", "ResolvesClientCert"]


class ResolvesClientCert(Protocol):
    """Chooses a client certificate for a server's CertificateRequest."""

    def resolve(
        self, root_hint_subjects: Sequence[bytes], sigschemes: Sequence[int]
    ) -> CertifiedKey | None:
        """The chain and key to present, or None to send no certificate.

        ``root_hint_subjects`` are DER names from certificate_authorities (may be empty);
        ``sigschemes`` are the schemes the server accepts.
        """
        ...

    def has_certs(self) -> bool:
        """Whether this resolver could ever return a certificate."""
        ...


class AlwaysResolvesClientCert:
    """One client certificate chain for every server that asks (the single-cert config)."""

    __slots__ = ("_ck",)

    def __init__(self, certified_key: CertifiedKey) -> None:
        certified_key.check_key_matches()
        self._ck = certified_key

    def __repr__(self) -> str:
        return "AlwaysResolvesClientCert()"

    def resolve(
        self, root_hint_subjects: Sequence[bytes], sigschemes: Sequence[int]
    ) -> CertifiedKey | None:
        """The configured chain, whatever the hints."""
        return self._ck

    def has_certs(self) -> bool:
        """Always true."""
        return True
