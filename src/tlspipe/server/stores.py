"""Server plug-ins: certificate resolvers (by SNI), later session stores and ticketers.

A resolver sees a :class:`ClientHelloInfo` and returns the
:class:`~tlspipe.crypto.sign.CertifiedKey` to present, or None to refuse the handshake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..crypto.sign import CertifiedKey
from ..errors import ConfigError

__all__ = [
    "AlwaysResolvesCert",
    "ClientHelloInfo",
    "ResolvesServerCert",
    "ResolvesServerCertUsingSni",
]


@dataclass(frozen=True, slots=True)
class ClientHelloInfo:
    """What a certificate resolver may look at.

    Attributes:
        server_name: the SNI host name (lower case), or None.
        signature_schemes: the client's signature_algorithms, in its order.
        alpn: the client's ALPN offer, or None.
        cipher_suites: the client's cipher suites (wire codes).
    """

    server_name: str | None
    signature_schemes: tuple[int, ...]
    alpn: tuple[bytes, ...] | None
    cipher_suites: tuple[int, ...]


class ResolvesServerCert(Protocol):
    """Chooses the certificate chain and key for a ClientHello."""

    def resolve(self, hello: ClientHelloInfo) -> CertifiedKey | None:
        """The chain and key to present, or None (handshake_failure)."""
        ...


class AlwaysResolvesCert:
    """Presents one certificate chain to every client."""

    __slots__ = ("_ck",)

    def __init__(self, certified_key: CertifiedKey) -> None:
        certified_key.check_key_matches()
        self._ck = certified_key

    def __repr__(self) -> str:
        return "AlwaysResolvesCert()"

    def resolve(self, hello: ClientHelloInfo) -> CertifiedKey | None:
        """Always the configured chain."""
        return self._ck


class ResolvesServerCertUsingSni:
    """Chooses a chain by the client's SNI host name (exact match, case-insensitive).

    Args:
        default: presented when the client sends no SNI or an unknown name; None refuses
            such clients.
    """

    __slots__ = ("_by_name", "_default")

    def __init__(self, default: CertifiedKey | None = None) -> None:
        self._by_name: dict[str, CertifiedKey] = {}
        if default is not None:
            default.check_key_matches()
        self._default = default

    def __repr__(self) -> str:
        return f"ResolvesServerCertUsingSni(names={sorted(self._by_name)})"

    def add(self, names: str | Sequence[str], certified_key: CertifiedKey) -> None:
        """Present ``certified_key`` for each of ``names``.

        Raises:
            ConfigError: the key does not match the certificate, or an empty name.
        """
        certified_key.check_key_matches()
        for name in [names] if isinstance(names, str) else names:
            key = name.rstrip(".").lower()
            if not key:
                raise ConfigError("empty server name")
            self._by_name[key] = certified_key

    def resolve(self, hello: ClientHelloInfo) -> CertifiedKey | None:
        """The chain registered for the SNI name, else the default."""
        if hello.server_name is not None:
            ck = self._by_name.get(hello.server_name)
            if ck is not None:
                return ck
        return self._default
