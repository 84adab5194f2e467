"""External pre-shared keys for TLS 1.3 (RFC 8446 §2.2, §4.2.11; RFC 9257 guidance).

An :class:`ExternalPsk` is an identity and a key agreed out of band, bound to one hash
function.  Both configs take them: :attr:`ClientConfig.external_psk` (offered in every
ClientHello) and :attr:`ServerConfig.external_psks` (looked up by identity).  tlspipe only
uses them with ``psk_dhe_ke``: an (EC)DHE/KEM exchange still runs, so the PSK authenticates
the peers and forward secrecy is kept.  A handshake authenticated by an external PSK carries
no certificates (RFC 8446 §4.2.11: the server sends no Certificate/CertificateVerify in a
PSK handshake); a server may hold certificates as well, for clients without a PSK.

Imports only :mod:`tlspipe.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .errors import ConfigError

__all__ = ["ExternalPsk"]

#: Shortest key accepted: a PSK binder lets a passive observer test guesses offline, so the
#: key must be a real key, not a password (RFC 8446 §E.7, RFC 9257 §6).
MIN_PSK_LEN = 16


@dataclass(frozen=True, kw_only=True)
class ExternalPsk:
    """An externally established PSK (RFC 8446 §2.2).

    Args:
        identity: the PSK identity sent in the ClientHello (1..65535 bytes; it travels in
            clear, so it should not name a person).
        key: the secret (at least 16 bytes of high entropy).
        hash: the hash the PSK is used with ("sha256" or "sha384"); only cipher suites
            with this hash can use it.

    Raises:
        ConfigError: an empty or over-long identity, a short key or an unknown hash.
    """

    identity: bytes
    key: bytes = field(repr=False)
    hash: Literal["sha256", "sha384"] = "sha256"

    def __post_init__(self) -> None:
        if not isinstance(self.identity, bytes) or not 1 <= len(self.identity) <= 0xFFFF:
            raise ConfigError("ExternalPsk.identity must be 1..65535 bytes")
        if not isinstance(self.key, bytes) or not MIN_PSK_LEN <= len(self.key) <= 255:
            raise ConfigError(f"ExternalPsk.key must be {MIN_PSK_LEN}..255 bytes")
        if self.hash not in ("sha256", "sha384"):
            raise ConfigError("ExternalPsk.hash must be 'sha256' or 'sha384'")
