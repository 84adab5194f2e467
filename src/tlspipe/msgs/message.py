"""Handshake message framing, alerts and ChangeCipherSpec (RFC 8446 §4, §5, §6; RFC 5246 §7).

:func:`decode_handshake` turns one complete handshake message (4-octet header included) into a
:class:`HandshakeMessage` that keeps its raw bytes for the transcript; :func:`encode_handshake`
does the reverse.  Imports only ``errors``, ``enums`` and the other ``msgs`` modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Self, TypeVar

from ..enums import AlertDescription, AlertLevel, HandshakeType
from ..errors import DecodeError, InappropriateMessage, InternalError
from .codec import Reader, put_u8
from .handshake import (
    Certificate12,
    Certificate13,
    CertificateRequest12,
    CertificateRequest13,
    CertificateStatus,
    CertificateVerify,
    ClientKeyExchangeEcdhe,
    EncryptedExtensions,
    EndOfEarlyData,
    Finished,
    HelloRequest,
    KeyUpdate,
    MessageHash,
    NewSessionTicket12,
    NewSessionTicket13,
    ServerHelloDone,
    ServerKeyExchangeEcdhe,
)
from .hello import ClientHello, HelloRetryRequest, ServerHello, decode_server_hello

__all__ = [
    "CHANGE_CIPHER_SPEC_PAYLOAD",
    "Alert",
    "ChangeCipherSpec",
    "HandshakeMessage",
    "HandshakePayload",
    "decode_alert",
    "decode_change_cipher_spec",
    "decode_handshake",
    "encode_alert",
    "encode_handshake",
]

HandshakePayload = (
    HelloRequest
    | ClientHello
    | ServerHello
    | HelloRetryRequest
    | NewSessionTicket13
    | NewSessionTicket12
    | EndOfEarlyData
    | EncryptedExtensions
    | Certificate13
    | Certificate12
    | ServerKeyExchangeEcdhe
    | CertificateRequest13
    | CertificateRequest12
    | ServerHelloDone
    | CertificateVerify
    | ClientKeyExchangeEcdhe
    | Finished
    | CertificateStatus
    | KeyUpdate
    | MessageHash
)
"""Every handshake body type."""

P = TypeVar("P")

#: RFC 8446 §5 / RFC 5246 §7.1: the only valid ChangeCipherSpec record payload.
CHANGE_CIPHER_SPEC_PAYLOAD = b"\x01"


# Not frozen: one is made per handshake message (~7 per handshake pair) and stays inside its
# connection; a frozen dataclass sets each field through object.__setattr__ (2.3x the bytecodes).
@dataclass(slots=True)
class HandshakeMessage:
    """One decoded handshake message (RFC 8446 §4)::

        struct {
            HandshakeType msg_type;    /* handshake type */
            uint24 length;             /* remaining bytes in message */
            select (Handshake.msg_type) { ... };
        } Handshake;

    ``raw`` is the whole encoding, header included: what the transcript hashes.
    """

    typ: int
    body: HandshakePayload
    raw: bytes

    def expect(self, cls: type[P]) -> P:
        """The body as ``cls``.

        Raises:
            InappropriateMessage: the body is of another type (alert unexpected_message).
        """
        if isinstance(self.body, cls):
            return self.body
        got = type(self.body).__name__
        raise InappropriateMessage(
            f"expected {cls.__name__}, got {got}", expected=cls.__name__, got=got
        )


def encode_handshake(body: HandshakePayload) -> bytes:
    """Encode ``body`` with its 4-octet handshake header (type, uint24 length).

    Raises:
        InternalError: the body is longer than 2^24-1 octets (a local bug).
    """
    out = bytearray()
    put_u8(out, body.typ)
    out += b"\x00\x00\x00"
    body.encode(out)
    n = len(out) - 4
    if n > 0xFFFFFF:
        raise InternalError("handshake message too long to encode")
    out[1:4] = n.to_bytes(3, "big")
    return bytes(out)


_Decoder = Callable[[Reader], HandshakePayload]

_COMMON: dict[int, _Decoder] = {
    HandshakeType.hello_request: HelloRequest.decode,
    HandshakeType.client_hello: ClientHello.decode,
    HandshakeType.server_hello: decode_server_hello,
    HandshakeType.end_of_early_data: EndOfEarlyData.decode,
    HandshakeType.encrypted_extensions: EncryptedExtensions.decode,
    HandshakeType.server_key_exchange: ServerKeyExchangeEcdhe.decode,
    HandshakeType.server_hello_done: ServerHelloDone.decode,
    HandshakeType.certificate_verify: CertificateVerify.decode,
    HandshakeType.client_key_exchange: ClientKeyExchangeEcdhe.decode,
    HandshakeType.finished: Finished.decode,
    HandshakeType.certificate_status: CertificateStatus.decode,
    HandshakeType.key_update: KeyUpdate.decode,
}


def _table(specific: dict[int, _Decoder]) -> dict[int, tuple[_Decoder, str]]:
    """type → (body decoder, the type's name for the body Reader's messages): one lookup per
    message."""
    both: dict[int, _Decoder] = {**_COMMON, **specific}
    return {t: (d, HandshakeType(t).name) for t, d in both.items()}


_TLS13 = _table(
    {
        HandshakeType.certificate: Certificate13.decode,
        HandshakeType.certificate_request: CertificateRequest13.decode,
        HandshakeType.new_session_ticket: NewSessionTicket13.decode,
    }
)
_TLS12 = _table(
    {
        HandshakeType.certificate: Certificate12.decode,
        HandshakeType.certificate_request: CertificateRequest12.decode,
        HandshakeType.new_session_ticket: NewSessionTicket12.decode,
    }
)


def decode_handshake(raw: bytes, *, tls13: bool) -> HandshakeMessage:
    """Decode one complete handshake message (header included).

    ``tls13`` selects the TLS 1.3 or 1.2 body of Certificate, CertificateRequest and
    NewSessionTicket; it does not reject the other version's message types (states do).
    A ``server_hello`` with the HelloRetryRequest random decodes as
    :class:`~tlspipe.msgs.hello.HelloRetryRequest`.

    Raises:
        DecodeError: malformed body, header length not matching ``raw``, trailing bytes or
            duplicate extension (alert decode_error, or illegal_parameter where the RFC says);
            an unknown handshake type or ``message_hash`` (alert unexpected_message).
    """
    if type(raw) is not bytes:
        raw = bytes(raw)
    n = len(raw)
    if n < 4:  # the same errors as reading the header with a Reader
        if n == 0:
            raise DecodeError("handshake: truncated uint8")
        raise DecodeError("handshake: truncated uint24")
    if int.from_bytes(raw[1:4]) != n - 4:  # the uint24 length, big-endian
        length = int.from_bytes(raw[1:4])
        raise DecodeError(f"handshake: length {length} but {n - 4} octets follow")
    return decode_framed_handshake(raw, tls13)


def decode_framed_handshake(raw: bytes, tls13: bool) -> HandshakeMessage:
    """Internal (not in ``__all__``; for the connection only): :func:`decode_handshake` of a
    message whose framing the caller has already checked:
    ``raw`` is ``bytes`` of at least 4 octets whose uint24 length is ``len(raw) - 4`` (the
    connection's handshake joiner and its one-message-per-record path hand out only such
    messages, so it does not check the header a second time per message).

    Raises:
        DecodeError: as :func:`decode_handshake` for the type and the body.
    """
    typ = raw[0]
    entry = (_TLS13 if tls13 else _TLS12).get(typ)
    if entry is None:
        raise DecodeError(
            f"handshake: unexpected message type {typ}", AlertDescription.unexpected_message
        )
    decoder, name = entry
    return HandshakeMessage(typ, decoder(Reader.window(raw, 4, len(raw), name)), raw)


@dataclass(frozen=True, slots=True)
class Alert:
    """RFC 8446 §6::

    struct { AlertLevel level; AlertDescription description; } Alert;
    """

    level: int
    description: int

    def encode(self, out: bytearray) -> None:
        """Append the 2 octets to ``out``."""
        put_u8(out, self.level)
        put_u8(out, self.description)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read an alert: ``r`` must hold exactly 2 octets.

        Raises:
            DecodeError: not exactly 2 octets (alert decode_error).
        """
        if r.remaining() != 2:
            raise DecodeError(f"alert: {r.remaining()} octets, expected 2")
        return cls(r.u8(), r.u8())


def encode_alert(level: AlertLevel | int, desc: AlertDescription | int) -> bytes:
    """The 2-octet alert payload."""
    return bytes((level, desc))


def decode_alert(payload: bytes) -> Alert:
    """Decode an alert record payload (exactly 2 octets).

    Raises:
        DecodeError: not exactly 2 octets (alert decode_error).
    """
    return Alert.decode(Reader(payload, "alert"))


@dataclass(frozen=True, slots=True)
class ChangeCipherSpec:
    """RFC 5246 §7.1 / RFC 8446 §5::

    struct { enum { change_cipher_spec(1), (255) } type; } ChangeCipherSpec;
    """

    def encode(self, out: bytearray) -> None:
        """Append the single octet 0x01."""
        out += CHANGE_CIPHER_SPEC_PAYLOAD

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the payload: exactly ``b"\\x01"``.

        Raises:
            DecodeError: anything else (alert unexpected_message, RFC 8446 §5).
        """
        if r.rest() != CHANGE_CIPHER_SPEC_PAYLOAD:
            raise DecodeError(
                "change_cipher_spec: payload is not 0x01", AlertDescription.unexpected_message
            )
        return cls()


def decode_change_cipher_spec(payload: bytes) -> ChangeCipherSpec:
    """Check a ChangeCipherSpec record payload is exactly ``b"\\x01"``.

    Raises:
        DecodeError: anything else (alert unexpected_message, RFC 8446 §5).
    """
    return ChangeCipherSpec.decode(Reader(payload, "change_cipher_spec"))
