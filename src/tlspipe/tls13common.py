"""TLS 1.3 pieces both handshake sides use (RFC 8446 §4.4.3, §7.5).

Layer 5, beside ``conn``: imports errors, enums, keys, msgs.
"""

from __future__ import annotations

from .enums import AlertDescription, ExtensionType
from .errors import ConfigError, PeerMisbehaved
from .keys.tls13 import KeyScheduleTraffic

__all__ = [
    "CLIENT_CV_CONTEXT",
    "SERVER_CV_CONTEXT",
    "Tls13Exporter",
    "reject_unknown_extensions",
    "signed_content",
]

SERVER_CV_CONTEXT = b"TLS 1.3, server CertificateVerify"
CLIENT_CV_CONTEXT = b"TLS 1.3, client CertificateVerify"


def signed_content(context: bytes, transcript_hash: bytes) -> bytes:
    """The bytes a TLS 1.3 CertificateVerify signs (RFC 8446 §4.4.3)."""
    return b"\x20" * 64 + context + b"\x00" + transcript_hash


class Tls13Exporter:
    """RFC 8446 §7.5 exporter over the exporter master secret."""

    __slots__ = ("_ks",)

    def __init__(self, ks: KeyScheduleTraffic) -> None:
        self._ks = ks

    def __repr__(self) -> str:
        return "Tls13Exporter()"

    def export(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """Derive ``length`` bytes for ``label`` and ``context``.

        Raises:
            ConfigError: ``length`` out of range (1..255 × hash length).
        """
        if not 0 < length <= 255 * self._ks.suite.hash_len:
            raise ConfigError("exporter length out of range")
        return self._ks.export_keying_material(bytes(label), context, length)


def reject_unknown_extensions(unknown: tuple[tuple[int, bytes], ...], where: str) -> None:
    """Unsolicited extensions in a server's message (RFC 8446 §4.2: unsupported_extension).

    Raises:
        PeerMisbehaved: any extension present (alert ``unsupported_extension``).
    """
    if unknown:
        typ = unknown[0][0]
        try:
            name = ExtensionType(typ).name
        except ValueError:
            name = str(typ)
        raise PeerMisbehaved(
            f"unsolicited extension {name} in {where}", AlertDescription.unsupported_extension
        )
