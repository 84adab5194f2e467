"""Validation shared by :class:`~tlspipe.ClientConfig` and :class:`~tlspipe.ServerConfig`.

Layer 5 (beside ``conn``): imports errors, enums and the crypto provider only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .crypto.provider import CryptoProvider, KxGroup, SupportedCipherSuite, Tls13CipherSuite
from .enums import CipherSuite, NamedGroup, ProtocolVersion
from .errors import ConfigError

__all__ = [
    "DEFAULT_BUFFER_LIMIT",
    "IMPLEMENTED_VERSIONS",
    "CommonSettings",
    "check_alpn",
    "check_fragment_size",
    "select_groups",
    "select_suites",
    "select_versions",
    "versions_with_suites",
]

#: Default bound on buffered plaintext in each direction.
DEFAULT_BUFFER_LIMIT = 64 * 1024

#: The protocol versions this build implements, best first.
IMPLEMENTED_VERSIONS: tuple[ProtocolVersion, ...] = (
    ProtocolVersion.TLSv1_3,
    ProtocolVersion.TLSv1_2,
)


def select_versions(versions: Sequence[ProtocolVersion]) -> tuple[ProtocolVersion, ...]:
    """Validate and order the enabled versions (best first).

    Raises:
        ConfigError: empty, duplicate, obsolete (SSLv3–TLS 1.1) or not implemented.
    """
    if not versions:
        raise ConfigError("versions must name at least one protocol version")
    out: list[ProtocolVersion] = []
    for v in versions:
        try:
            pv = ProtocolVersion(v)
        except ValueError:
            raise ConfigError(f"unknown protocol version {v!r}") from None
        if pv < ProtocolVersion.TLSv1_2:
            raise ConfigError(f"{pv.name} is obsolete and never supported; use TLS 1.2 or 1.3")
        if pv not in IMPLEMENTED_VERSIONS:
            raise ConfigError(f"{pv.name} is not implemented in this version of tlspipe")
        if pv not in out:
            out.append(pv)
    return tuple(sorted(out, reverse=True))


def select_suites(
    provider: CryptoProvider,
    names: Sequence[CipherSuite] | None,
    versions: Sequence[ProtocolVersion],
) -> tuple[SupportedCipherSuite, ...]:
    """The provider's suites named by ``names`` (all when None), usable with ``versions``.

    Raises:
        ConfigError: an unknown suite name, or no suite left for an enabled version.
    """
    if names is None:
        chosen = list(provider.cipher_suites)
    else:
        chosen = []
        for n in names:
            s = provider.find_cipher_suite(int(n))
            if s is None:
                raise ConfigError(f"cipher suite {n!r} is not supported by the provider")
            if s not in chosen:
                chosen.append(s)
    usable = tuple(
        s
        for s in chosen
        if (isinstance(s, Tls13CipherSuite) and ProtocolVersion.TLSv1_3 in versions)
        or (not isinstance(s, Tls13CipherSuite) and ProtocolVersion.TLSv1_2 in versions)
    )
    if not usable:
        raise ConfigError("no cipher suite enabled for the configured versions")
    if names is None:
        for v in versions:
            want13 = v is ProtocolVersion.TLSv1_3
            if not any(isinstance(s, Tls13CipherSuite) == want13 for s in usable):
                raise ConfigError(f"no cipher suite enabled for {v.name}")
    return usable


def versions_with_suites(
    versions: Sequence[ProtocolVersion], suites: Sequence[SupportedCipherSuite]
) -> tuple[ProtocolVersion, ...]:
    """``versions`` narrowed to those some of ``suites`` can serve (explicit suite lists
    for one version leave the other version off, e.g. only TLS 1.3 suites → TLS 1.3 only).

    Raises:
        Nothing.
    """
    return tuple(
        v
        for v in versions
        if any(isinstance(s, Tls13CipherSuite) == (v is ProtocolVersion.TLSv1_3) for s in suites)
    )


def select_groups(
    provider: CryptoProvider, names: Sequence[NamedGroup] | None
) -> tuple[KxGroup, ...]:
    """The provider's key exchange groups named by ``names`` (provider default when None).

    Raises:
        ConfigError: unknown group or empty list.
    """
    if names is None:
        groups = provider.kx_groups
    else:
        found: list[KxGroup] = []
        for n in names:
            g = provider.find_kx_group(int(n))
            if g is None:
                raise ConfigError(f"key exchange group {n!r} is not supported by the provider")
            if g not in found:
                found.append(g)
        groups = tuple(found)
    if not groups:
        raise ConfigError("at least one key exchange group is required")
    return tuple(groups)


def check_alpn(protocols: Sequence[bytes]) -> None:
    """RFC 7301 §3.1: each name 1..255 bytes; the list fits 2^16-1.

    Raises:
        ConfigError: an empty or too long protocol name, or a str instead of bytes.
    """
    total = 0
    for p in protocols:
        if not isinstance(p, bytes):
            raise ConfigError("ALPN protocol names must be bytes, e.g. b'h2'")
        if not 1 <= len(p) <= 255:
            raise ConfigError("ALPN protocol names must be 1..255 bytes")
        total += 1 + len(p)
    if total > 0xFFFF:
        raise ConfigError("ALPN protocol list too long")


def check_fragment_size(size: int | None) -> None:
    """The tunable maximum plaintext fragment: 64..16384 bytes.

    Raises:
        ConfigError: out of range.
    """
    if size is not None and not 64 <= size <= 2**14:
        raise ConfigError("max_fragment_size must be between 64 and 16384")


class CommonSettings(Protocol):
    """The fields ClientConfig and ServerConfig share (validated by :func:`derive_common`)."""

    @property
    def provider(self) -> CryptoProvider: ...
    @property
    def versions(self) -> tuple[ProtocolVersion, ...]: ...
    @property
    def cipher_suites(self) -> tuple[CipherSuite, ...] | None: ...
    @property
    def kx_groups(self) -> tuple[NamedGroup, ...] | None: ...
    @property
    def alpn_protocols(self) -> tuple[bytes, ...]: ...
    @property
    def max_fragment_size(self) -> int | None: ...
    @property
    def buffer_limit(self) -> int: ...


def derive_common(cfg: CommonSettings) -> None:
    """Validate the shared fields of a frozen config and set its derived ``versions``,
    ``suites_`` and ``groups_`` (called from ``__post_init__``).

    Raises:
        ConfigError: any invalid shared value.
    """
    versions = select_versions(cfg.versions)
    suites = select_suites(cfg.provider, cfg.cipher_suites, versions)
    object.__setattr__(cfg, "versions", versions_with_suites(versions, suites))
    object.__setattr__(cfg, "suites_", suites)
    object.__setattr__(cfg, "groups_", select_groups(cfg.provider, cfg.kx_groups))
    check_alpn(cfg.alpn_protocols)
    check_fragment_size(cfg.max_fragment_size)
    if cfg.buffer_limit < 1024:
        raise ConfigError("buffer_limit must be at least 1024 bytes")
