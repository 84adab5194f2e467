"""Server configuration: :class:`ServerConfig`.

A frozen, keyword-only dataclass validated when built.  It needs a certificate: either one
``certified_key`` (chain + private key) or a ``cert_resolver`` (e.g. by SNI).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ..config import DEFAULT_BUFFER_LIMIT, derive_common
from ..crypto.default import default_provider
from ..crypto.provider import CryptoProvider, KxGroup, SupportedCipherSuite, Tls13CipherSuite
from ..crypto.sign import CertifiedKey
from ..enums import CipherSuite, NamedGroup, ProtocolVersion
from ..errors import ConfigError
from ..keylog import KeyLog, NoKeyLog
from ..psk import ExternalPsk
from ..verify.base import ClientCertVerifier
from ..verify.webpki import NoClientAuth
from .resume13 import ReplayFilter
from .stores import (
    AlwaysResolvesCert,
    ClientHelloInfo,
    ProducesTickets,
    ResolvesServerCert,
    ServerSessionMemoryCache,
    StoresServerSessions,
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


__all__ = ["ServerConfig"]


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """How a :class:`~tlspipe.ServerConnection` behaves.

    Args:
        certified_key: the chain and key presented to every client.
        cert_resolver: chooses a chain per ClientHello (exclusive with ``certified_key``).
        alpn_protocols: ALPN protocols we speak, most preferred first; when the client
            offers ALPN and none match, the handshake fails (no_application_protocol).
        versions: protocol versions to accept.
        cipher_suites: suites, in our preference order (the server's order wins).
        kx_groups: groups, in our preference order; a client share for any of them is used
            before asking for a better one with HelloRetryRequest.
        max_fragment_size: largest plaintext fragment per record (64..16384).
        buffer_limit: bound on buffered plaintext in each direction.
        key_log: where TLS secrets go for debugging.
        provider: the cryptography backend.
        send_hrr_cookie: include a cookie in HelloRetryRequest (RFC 8446 §4.2.2).
        session_storage: stateful session store (TLS 1.2 session IDs); default a
            :class:`~tlspipe.ServerSessionMemoryCache` of 256 entries.
        ticketer: seals session tickets (e.g. :class:`~tlspipe.Ticketer`); None issues none.
        require_ems: refuse TLS 1.2 clients without the extended master secret (RFC 7627).
        client_verifier: client authentication: :class:`~tlspipe.NoClientAuth` (default),
            :func:`~tlspipe.AllowAnyAuthenticatedClient` (required) or
            :func:`~tlspipe.AllowAnyAnonymousOrAuthenticatedClient` (optional).
        time: the clock used for client certificate validity.
        send_tls13_tickets: NewSessionTickets sent after a TLS 1.3 handshake (0: none);
            stateless through ``ticketer`` when set, else stateful (single use) in
            ``session_storage``.
        max_early_data_size: 0-RTT data accepted per resumed connection (0: no 0-RTT);
            announced in tickets (RFC 8446 §4.2.10).  0-RTT data can be replayed by an
            attacker: only enable it for idempotent requests.
        replay_filter: remembers tickets that carried 0-RTT (stateless tickets) so that a
            replayed ClientHello gets its early data rejected (RFC 8446 §8).
        external_psks: externally established PSKs accepted, looked up by identity (RFC 8446
            §2.2).  With at least one, the certificate becomes optional: a server without one
            completes only PSK handshakes.

    Raises:
        ConfigError: no certificate (and no external PSK), both ways of giving one, or an
            invalid value.
    """

    certified_key: CertifiedKey | None = None
    cert_resolver: ResolvesServerCert | None = None
    alpn_protocols: tuple[bytes, ...] = ()
    versions: tuple[ProtocolVersion, ...] = (ProtocolVersion.TLSv1_3, ProtocolVersion.TLSv1_2)
    cipher_suites: tuple[CipherSuite, ...] | None = None
    kx_groups: tuple[NamedGroup, ...] | None = None
    max_fragment_size: int | None = None
    buffer_limit: int = DEFAULT_BUFFER_LIMIT
    key_log: KeyLog = field(default_factory=NoKeyLog)
    provider: CryptoProvider = field(default_factory=default_provider)
    send_hrr_cookie: bool = True
    session_storage: StoresServerSessions = field(
        default_factory=lambda: ServerSessionMemoryCache(256)
    )
    ticketer: ProducesTickets | None = None
    require_ems: bool = False
    client_verifier: ClientCertVerifier = field(default_factory=NoClientAuth)
    time: Callable[[], dt.datetime] = _utcnow
    send_tls13_tickets: int = 2
    max_early_data_size: int = 0
    replay_filter: ReplayFilter = field(default_factory=ReplayFilter, compare=False)
    external_psks: tuple[ExternalPsk, ...] = ()

    suites_: tuple[SupportedCipherSuite, ...] = field(init=False, repr=False, compare=False)
    groups_: tuple[KxGroup, ...] = field(init=False, repr=False, compare=False)
    resolver_: ResolvesServerCert = field(init=False, repr=False, compare=False)
    #: The TLS 1.3 suites of ``suites_`` (in order), and every suite of ``suites_`` by wire
    #: code: looked up on each ClientHello / PSK.
    tls13_suites_: tuple[Tls13CipherSuite, ...] = field(init=False, repr=False, compare=False)
    suite_by_code_: Mapping[int, SupportedCipherSuite] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        derive_common(self)
        object.__setattr__(
            self,
            "tls13_suites_",
            tuple(s for s in self.suites_ if isinstance(s, Tls13CipherSuite)),
        )
        by_code: dict[int, SupportedCipherSuite] = {}
        for s in self.suites_:
            by_code.setdefault(int(s.suite), s)
        object.__setattr__(self, "suite_by_code_", MappingProxyType(by_code))
        self._check_psk_fields()
        no_cert = self.certified_key is None and self.cert_resolver is None
        if no_cert and self.external_psks:
            pass  # PSK-only server
        elif (self.certified_key is None) == (self.cert_resolver is None):
            raise ConfigError("give exactly one of certified_key and cert_resolver")
        resolver: ResolvesServerCert
        if self.certified_key is not None:
            resolver = AlwaysResolvesCert(self.certified_key)
        elif self.cert_resolver is not None:
            resolver = self.cert_resolver
        else:
            resolver = _NoCertificate()
        object.__setattr__(self, "resolver_", resolver)

    def _check_psk_fields(self) -> None:
        # None (as a "turn tickets off" sweep over fields may pass) means 0.
        object.__setattr__(self, "send_tls13_tickets", int(self.send_tls13_tickets or 0))
        if not 0 <= self.send_tls13_tickets <= 16:
            raise ConfigError("send_tls13_tickets must be 0..16")
        if not 0 <= self.max_early_data_size < 2**32:
            raise ConfigError("max_early_data_size must be 0..2^32-1")
        psks = tuple(self.external_psks)
        if not all(isinstance(p, ExternalPsk) for p in psks):
            raise ConfigError("external_psks must hold ExternalPsk values")
        if len({p.identity for p in psks}) != len(psks):
            raise ConfigError("external_psks has duplicate identities")
        object.__setattr__(self, "external_psks", psks)

    @classmethod
    def from_pem_files(
        cls, chain_path: str | Path, key_path: str | Path, **kwargs: object
    ) -> ServerConfig:
        """Build a config from a PEM chain file (leaf first) and a PEM private key file.

        Raises:
            ConfigError: unreadable files, bad PEM, or key/certificate mismatch.
        """
        try:
            chain = Path(chain_path).read_bytes()
            key = Path(key_path).read_bytes()
        except OSError as e:
            raise ConfigError(f"cannot read certificate or key: {e}") from None
        ck = CertifiedKey.from_pem(chain, key)
        # kwargs are checked by the dataclass itself at run time (TypeError / ConfigError)
        return cls(certified_key=ck, **kwargs)  # type: ignore[arg-type]


class _NoCertificate:
    """The resolver of a PSK-only server: never a certificate."""

    __slots__ = ()

    def resolve(self, hello: ClientHelloInfo) -> CertifiedKey | None:
        """Always None."""
        return None
