"""Client configuration: :class:`ClientConfig`.

A frozen, keyword-only dataclass validated when built.  With no arguments it verifies
servers against Mozilla's roots (``certifi``), offers TLS 1.3 with every AEAD suite and
X25519/P-256/P-384, and sends SNI.  A custom certificate verifier can only be installed
through :mod:`tlspipe.dangerous`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import DEFAULT_BUFFER_LIMIT, derive_common
from ..crypto.default import default_provider
from ..crypto.provider import CryptoProvider, KxGroup, SupportedCipherSuite
from ..crypto.sign import CertifiedKey
from ..enums import CipherSuite, NamedGroup, ProtocolVersion
from ..errors import ConfigError
from ..keylog import KeyLog, NoKeyLog
from ..psk import ExternalPsk
from ..verify.base import ServerCertVerifier
from ..verify.roots import RootCertStore
from ..verify.webpki import ServerCertChecks, WebPkiServerVerifier
from .certs import AlwaysResolvesClientCert, ResolvesClientCert
from .stores import ClientSessionMemoryCache, StoresClientSessions

__all__ = ["ClientConfig"]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """How a :class:`~tlspipe.ClientConnection` behaves.

    Args:
        root_store: trust anchors for server certificates; default Mozilla's (certifi).
        alpn_protocols: ALPN protocol names to offer, most preferred first (RFC 7301).
        versions: protocol versions to offer (TLS 1.3 and TLS 1.2 only).
        cipher_suites: suites to offer, in preference order; default: the provider's.
        kx_groups: key exchange groups in preference order; the client sends a key share for
            the first one only (a HelloRetryRequest may ask for another).
        enable_sni: send the server_name extension (never for IP addresses).
        max_fragment_size: largest plaintext fragment per record (64..16384); the
            "tunable MTU".
        buffer_limit: bound on received-but-unread plaintext and on plaintext written before
            the handshake completes.
        key_log: where TLS secrets go for debugging (e.g. :class:`~tlspipe.KeyLogFile`).
        provider: the cryptography backend.
        time: the clock used for certificate validity and session lifetimes (aware
            datetimes).
        session_store: where sessions, tickets and key share hints are kept per server
            (default: a :class:`~tlspipe.ClientSessionMemoryCache` of 256 servers).
        enable_tickets: offer RFC 5077 session tickets in TLS 1.2.
        require_ems: refuse TLS 1.2 servers without the extended master secret (RFC 7627).
        middlebox_compat: TLS 1.3 middlebox compatibility mode (RFC 8446 §D.4).
        client_auth_cert_resolver: answers a server's CertificateRequest; e.g.
            :meth:`with_client_auth_cert`.  None sends an empty Certificate.
        cert_checks: optional checks beyond path validation (all off by default): stapled
            OCSP verification, Certificate Transparency, user-supplied CRLs, SPKI pinning.
        enable_early_data: offer TLS 1.3 0-RTT when resuming with a ticket that allows it;
            write it with :meth:`~tlspipe.ClientConnection.write_early_data` before the
            handshake completes (RFC 8446 §2.3; early data can be replayed).
        external_psk: an externally established PSK (RFC 8446 §2.2) offered in every TLS 1.3
            ClientHello; a server that accepts it sends no certificate.  If the server
            declines it the handshake continues with certificate authentication.

    Raises:
        ConfigError: an invalid value (unknown suite, empty list, bad sizes).
    """

    root_store: RootCertStore | None = None
    alpn_protocols: tuple[bytes, ...] = ()
    versions: tuple[ProtocolVersion, ...] = (ProtocolVersion.TLSv1_3, ProtocolVersion.TLSv1_2)
    cipher_suites: tuple[CipherSuite, ...] | None = None
    kx_groups: tuple[NamedGroup, ...] | None = None
    enable_sni: bool = True
    max_fragment_size: int | None = None
    buffer_limit: int = DEFAULT_BUFFER_LIMIT
    key_log: KeyLog = field(default_factory=NoKeyLog)
    provider: CryptoProvider = field(default_factory=default_provider)
    time: Callable[[], dt.datetime] = _utcnow
    middlebox_compat: bool = True
    session_store: StoresClientSessions = field(
        default_factory=lambda: ClientSessionMemoryCache(256)
    )
    enable_tickets: bool = True
    require_ems: bool = False
    client_auth_cert_resolver: ResolvesClientCert | None = None
    cert_checks: ServerCertChecks | None = None
    enable_early_data: bool = False
    external_psk: ExternalPsk | None = None
    _verifier: ServerCertVerifier | None = field(default=None, repr=False)

    # derived (computed in __post_init__)
    suites_: tuple[SupportedCipherSuite, ...] = field(init=False, repr=False, compare=False)
    groups_: tuple[KxGroup, ...] = field(init=False, repr=False, compare=False)
    verifier_: ServerCertVerifier = field(init=False, repr=False, compare=False)
    #: (offers TLS 1.3, offers TLS 1.2, supported_groups, supported_versions, cipher_suites)
    #: as the ClientHello encodes them, computed once.
    hello_lists_: tuple[bool, bool, tuple[int, ...], tuple[int, ...], tuple[int, ...]] = field(
        init=False, repr=False, compare=False
    )

    #: Encoded ClientHello1 templates (client/hs.py), bounded; nothing per connection in
    #: them: the random, session ID, key share, ticket, PSK identities and binders are cut
    #: out and joined in per connection.
    hello_templates_: dict[tuple[object, ...], tuple[tuple[bytes, ...], tuple[int, ...]]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        derive_common(self)
        object.__setattr__(self, "hello_templates_", {})
        object.__setattr__(
            self,
            "hello_lists_",
            (
                ProtocolVersion.TLSv1_3 in self.versions,
                ProtocolVersion.TLSv1_2 in self.versions,
                tuple(int(g.name) for g in self.groups_),
                tuple(int(v) for v in self.versions),
                tuple(int(s.suite) for s in self.suites_),
            ),
        )
        if self._verifier is not None:
            verifier: ServerCertVerifier = self._verifier
        else:
            roots = self.root_store if self.root_store is not None else RootCertStore.mozilla()
            if len(roots) == 0:
                raise ConfigError("root_store is empty: no server could be verified")
            verifier = WebPkiServerVerifier(roots, checks=self.cert_checks)
        object.__setattr__(self, "verifier_", verifier)

    def with_client_auth_cert(self, chain_pem: bytes, key_pem: bytes) -> ClientConfig:
        """A copy that answers CertificateRequests with this chain (leaf first) and key.

        Raises:
            ConfigError: bad PEM/DER, or the key does not match the leaf certificate.
        """
        ck = CertifiedKey.from_pem(chain_pem, key_pem)
        return dataclasses.replace(self, client_auth_cert_resolver=AlwaysResolvesClientCert(ck))
