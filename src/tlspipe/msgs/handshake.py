"""Every handshake body other than the hellos (RFC 8446 §4.3-§4.6, RFC 5246 §7.4, RFC 5077,
RFC 6066 §8, RFC 8422 §5.4).

Bodies are frozen dataclasses with ``encode(out)`` and ``decode(r)``; ``decode`` reads the whole
of ``r`` (trailing bytes are a :class:`~tlspipe.errors.DecodeError`).  Where TLS 1.2 and 1.3 share
a handshake type with different bodies there are two classes (``Certificate13`` /
``Certificate12`` …); :func:`tlspipe.msgs.message.decode_handshake` picks one.
Imports only ``errors``, ``enums`` and ``msgs.codec`` / ``msgs.extensions``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Self

from ..enums import (
    AlertDescription,
    CertificateStatusType,
    ECCurveType,
    HandshakeType,
    KeyUpdateRequest,
)
from ..errors import DecodeError, InternalError
from .codec import (
    Reader,
    length_prefixed,
    put_u8,
    put_u16,
    put_u32,
    put_vec8,
    put_vec16,
    put_vec24,
)
from .extensions import (
    CertificateEntryExtensions,
    CertificateRequestExtensions,
    NewSessionTicketExtensions,
    ServerEncryptedExtensions,
)

__all__ = [
    "Certificate12",
    "Certificate13",
    "CertificateEntry",
    "CertificateRequest12",
    "CertificateRequest13",
    "CertificateStatus",
    "CertificateVerify",
    "ClientKeyExchangeEcdhe",
    "EncryptedExtensions",
    "EndOfEarlyData",
    "Finished",
    "HelloRequest",
    "KeyUpdate",
    "MessageHash",
    "NewSessionTicket12",
    "NewSessionTicket13",
    "ServerHelloDone",
    "ServerKeyExchangeEcdhe",
    "encode_certificate_verify",
    "encode_finished",
    "encode_new_session_ticket13",
]

_ILLEGAL = AlertDescription.illegal_parameter


@dataclass(frozen=True, slots=True)
class EncryptedExtensions:
    """RFC 8446 §4.3.1::

    struct { Extension extensions<0..2^16-1>; } EncryptedExtensions;
    """

    typ: ClassVar[HandshakeType] = HandshakeType.encrypted_extensions

    extensions: ServerEncryptedExtensions

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        self.extensions.encode(out)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body (a repeated list comes from the container's bounded cache).

        Raises:
            DecodeError: malformed, trailing bytes or duplicate extension (alert decode_error).
        """
        ee = cls(ServerEncryptedExtensions.decode(r))
        r.expect_empty()
        return ee


@dataclass(frozen=True, slots=True)
class CertificateEntry:
    """RFC 8446 §4.4.2 (X.509 form)::

    struct {
        opaque cert_data<1..2^24-1>;
        Extension extensions<0..2^16-1>;
    } CertificateEntry;
    """

    cert_data: bytes
    extensions: CertificateEntryExtensions

    def encode(self, out: bytearray) -> None:
        """Append the entry to ``out``."""
        put_vec24(out, self.cert_data)
        self.extensions.encode(out)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read one entry.

        Raises:
            DecodeError: malformed or duplicate extension (alert decode_error).
        """
        cert_data = r.vec24(1, 0xFFFFFF, "cert_data")
        return cls(cert_data, CertificateEntryExtensions.decode(r))


#: The (shared, frozen) container an entry without extensions decodes to.
_NO_ENTRY_EXTENSIONS = CertificateEntryExtensions.decode(Reader(b"\x00\x00"))


@dataclass(frozen=True, slots=True)
class Certificate13:
    """RFC 8446 §4.4.2::

    struct {
        opaque certificate_request_context<0..2^8-1>;
        CertificateEntry certificate_list<0..2^24-1>;
    } Certificate;
    """

    typ: ClassVar[HandshakeType] = HandshakeType.certificate

    certificate_request_context: bytes
    certificate_list: tuple[CertificateEntry, ...]

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        put_vec8(out, self.certificate_request_context)
        with length_prefixed(out, 3):
            for entry in self.certificate_list:
                entry.encode(out)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body.

        Raises:
            DecodeError: malformed or trailing bytes (alert decode_error).
        """
        # Fast path: entries without extensions (the usual chain) read in place; anything
        # else (extensions, malformed input) takes the checked path and its errors.
        buf, p, end = r.span()
        if p < end:
            q = p + 1 + buf[p]  # after certificate_request_context
            if q + 3 <= end and q + 3 + ((buf[q] << 16) | (buf[q + 1] << 8) | buf[q + 2]) == end:
                fast: list[CertificateEntry] = []
                e = q + 3
                while e + 3 <= end:
                    d = e + 3 + ((buf[e] << 16) | (buf[e + 1] << 8) | buf[e + 2])
                    if d == e + 3 or d + 2 > end or buf[d] or buf[d + 1]:
                        break
                    fast.append(CertificateEntry(buf[e + 3 : d], _NO_ENTRY_EXTENSIONS))
                    e = d + 2
                if e == end:
                    r.take_window()
                    return cls(buf[p + 1 : q], tuple(fast))
        ctx = r.vec8(0, 0xFF, "certificate_request_context")
        lst = r.sub24(0, 0xFFFFFF, "certificate_list")
        entries: list[CertificateEntry] = []
        while lst.any_left():
            entries.append(CertificateEntry.decode(lst))
        r.expect_empty()
        return cls(ctx, tuple(entries))


@dataclass(frozen=True, slots=True)
class Certificate12:
    """RFC 5246 §7.4.2::

    opaque ASN.1Cert<1..2^24-1>;
    struct { ASN.1Cert certificate_list<0..2^24-1>; } Certificate;
    """

    typ: ClassVar[HandshakeType] = HandshakeType.certificate

    certificate_list: tuple[bytes, ...]

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        with length_prefixed(out, 3):
            for cert in self.certificate_list:
                put_vec24(out, cert)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body.

        Raises:
            DecodeError: malformed or trailing bytes (alert decode_error).
        """
        lst = r.sub24(0, 0xFFFFFF, "certificate_list")
        certs: list[bytes] = []
        while lst.any_left():
            certs.append(lst.vec24(1, 0xFFFFFF, "ASN.1Cert"))
        r.expect_empty()
        return cls(tuple(certs))


@dataclass(frozen=True, slots=True)
class CertificateRequest13:
    """RFC 8446 §4.3.2::

    struct {
        opaque certificate_request_context<0..2^8-1>;
        Extension extensions<2..2^16-1>;
    } CertificateRequest;
    """

    typ: ClassVar[HandshakeType] = HandshakeType.certificate_request

    certificate_request_context: bytes
    extensions: CertificateRequestExtensions

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        put_vec8(out, self.certificate_request_context)
        self.extensions.encode(out)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body.

        Raises:
            DecodeError: malformed, trailing bytes or duplicate extension (alert decode_error).
        """
        ctx = r.vec8(0, 0xFF, "certificate_request_context")
        exts = CertificateRequestExtensions.decode(r)
        r.expect_empty()
        return cls(ctx, exts)


@dataclass(frozen=True, slots=True)
class CertificateRequest12:
    """RFC 5246 §7.4.4 (with RFC 8422's ``ecdsa_sign``)::

    struct {
        ClientCertificateType certificate_types<1..2^8-1>;
        SignatureAndHashAlgorithm supported_signature_algorithms<2..2^16-2>;
        DistinguishedName certificate_authorities<0..2^16-1>;
    } CertificateRequest;
    opaque DistinguishedName<1..2^16-1>;
    """

    typ: ClassVar[HandshakeType] = HandshakeType.certificate_request

    certificate_types: bytes
    supported_signature_algorithms: tuple[int, ...]
    certificate_authorities: tuple[bytes, ...]

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        put_vec8(out, self.certificate_types)
        put_u16(out, 2 * len(self.supported_signature_algorithms))
        for alg in self.supported_signature_algorithms:
            put_u16(out, alg)
        with length_prefixed(out, 2):
            for dn in self.certificate_authorities:
                put_vec16(out, dn)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body.

        Raises:
            DecodeError: malformed or trailing bytes (alert decode_error).
        """
        types = r.vec8(1, 0xFF, "certificate_types")
        algs = tuple(r.list_u16(2, 2, 0xFFFE, "supported_signature_algorithms"))
        lst = r.sub16(0, 0xFFFF, "certificate_authorities")
        cas: list[bytes] = []
        while lst.any_left():
            cas.append(lst.vec16(1, 0xFFFF, "DistinguishedName"))
        r.expect_empty()
        return cls(types, algs, tuple(cas))


@dataclass(frozen=True, slots=True)
class CertificateVerify:
    """RFC 8446 §4.4.3 (and RFC 5246 §4.7 ``digitally-signed`` with TLS 1.2's
    SignatureAndHashAlgorithm, same wire shape)::

    struct {
        SignatureScheme algorithm;
        opaque signature<0..2^16-1>;
    } CertificateVerify;
    """

    typ: ClassVar[HandshakeType] = HandshakeType.certificate_verify

    algorithm: int
    signature: bytes

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        put_u16(out, self.algorithm)
        put_vec16(out, self.signature)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body.

        Raises:
            DecodeError: malformed or trailing bytes (alert decode_error).
        """
        # Fast path: a well-formed body read in place; anything else (a cut or overlong
        # signature, trailing bytes) takes the checked path and its errors.
        buf, p, end = r.span()
        if p + 4 <= end and p + 4 + ((buf[p + 2] << 8) | buf[p + 3]) == end:
            r.take_window()
            return cls((buf[p] << 8) | buf[p + 1], buf[p + 4 : end])
        return cls._decode_checked(r)

    @classmethod
    def _decode_checked(cls, r: Reader) -> Self:
        """:meth:`decode` by the Reader, every field checked (any input)."""
        alg = r.u16()
        sig = r.vec16(0, 0xFFFF, "signature")
        r.expect_empty()
        return cls(alg, sig)


@dataclass(frozen=True, slots=True)
class ServerKeyExchangeEcdhe:
    """RFC 8422 §5.4 / RFC 5246 §7.4.3 (ECDHE with a named curve only)::

    struct {
        ECCurveType curve_type;      /* named_curve (3) */
        NamedCurve namedcurve;
    } ECParameters;
    struct { opaque point <1..2^8-1>; } ECPoint;
    struct { ECParameters curve_params; ECPoint public; } ServerECDHParams;
    struct {
        ServerECDHParams params;
        digitally-signed struct { ... } signed_params;  /* algorithm, opaque<0..2^16-1> */
    } ServerKeyExchange;
    """

    typ: ClassVar[HandshakeType] = HandshakeType.server_key_exchange

    curve_type: int
    named_curve: int
    public: bytes
    algorithm: int
    signature: bytes

    def params_bytes(self) -> bytes:
        """The encoded ServerECDHParams: the part covered by the signature (after the
        randoms, RFC 8422 §5.4)."""
        out = bytearray()
        put_u8(out, self.curve_type)
        put_u16(out, self.named_curve)
        put_vec8(out, self.public)
        return bytes(out)

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        out += self.params_bytes()
        put_u16(out, self.algorithm)
        put_vec16(out, self.signature)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body.

        Raises:
            DecodeError: malformed or trailing bytes (alert decode_error); a curve type other
                than named_curve (alert illegal_parameter, RFC 8422 §5.4).
        """
        curve_type = r.u8()
        if curve_type != ECCurveType.named_curve:
            raise DecodeError("ServerKeyExchange: curve_type is not named_curve", _ILLEGAL)
        curve = r.u16()
        public = r.vec8(1, 0xFF, "ECPoint")
        alg = r.u16()
        sig = r.vec16(0, 0xFFFF, "signature")
        r.expect_empty()
        return cls(curve_type, curve, public, alg, sig)


@dataclass(frozen=True, slots=True)
class ClientKeyExchangeEcdhe:
    """RFC 8422 §5.7::

    struct { opaque point <1..2^8-1>; } ECPoint;   /* ClientECDiffieHellmanPublic, explicit */
    """

    typ: ClassVar[HandshakeType] = HandshakeType.client_key_exchange

    public: bytes

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        put_vec8(out, self.public)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body.

        Raises:
            DecodeError: malformed or trailing bytes (alert decode_error).
        """
        public = r.vec8(1, 0xFF, "ECPoint")
        r.expect_empty()
        return cls(public)


@dataclass(frozen=True, slots=True)
class _Empty:
    """A body with no content (``struct {}``)."""

    def encode(self, out: bytearray) -> None:
        """Append nothing."""
        return None

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Check the body is empty.

        Raises:
            DecodeError: any content (alert decode_error).
        """
        r.expect_empty()
        return cls()


@dataclass(frozen=True, slots=True)
class ServerHelloDone(_Empty):
    """RFC 5246 §7.4.5: ``struct { } ServerHelloDone;``"""

    typ: ClassVar[HandshakeType] = HandshakeType.server_hello_done


@dataclass(frozen=True, slots=True)
class EndOfEarlyData(_Empty):
    """RFC 8446 §4.5: ``struct {} EndOfEarlyData;``"""

    typ: ClassVar[HandshakeType] = HandshakeType.end_of_early_data


@dataclass(frozen=True, slots=True)
class HelloRequest(_Empty):
    """RFC 5246 §7.4.1.1: ``struct { } HelloRequest;``"""

    typ: ClassVar[HandshakeType] = HandshakeType.hello_request


@dataclass(frozen=True, slots=True)
class Finished:
    """RFC 8446 §4.4.4 / RFC 5246 §7.4.9::

    struct { opaque verify_data[Hash.length]; } Finished;   /* TLS 1.2: [12] */

    The length depends on the negotiated suite, so the whole body (at least 1 octet) is taken;
    the state compares it.  ``verify_data`` is kept out of ``repr``.
    """

    typ: ClassVar[HandshakeType] = HandshakeType.finished

    verify_data: bytes

    def __repr__(self) -> str:
        return f"Finished(<{len(self.verify_data)} octets>)"

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        out += self.verify_data

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body.

        Raises:
            DecodeError: empty body (alert decode_error).
        """
        buf, p, end = r.take_window()  # the whole body, in one call
        if p == end:
            raise DecodeError("Finished: empty verify_data")
        return cls(buf[p:end])


@dataclass(frozen=True, slots=True)
class KeyUpdate:
    """RFC 8446 §4.6.3::

    enum { update_not_requested(0), update_requested(1), (255) } KeyUpdateRequest;
    struct { KeyUpdateRequest request_update; } KeyUpdate;
    """

    typ: ClassVar[HandshakeType] = HandshakeType.key_update

    request_update: int

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        put_u8(out, self.request_update)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body.

        Raises:
            DecodeError: malformed or trailing bytes (alert decode_error); a value other than
                0 or 1 (alert illegal_parameter, RFC 8446 §4.6.3).
        """
        v = r.u8()
        r.expect_empty()
        if v not in (KeyUpdateRequest.update_not_requested, KeyUpdateRequest.update_requested):
            raise DecodeError(f"KeyUpdate: request_update {v}", _ILLEGAL)
        return cls(v)


@dataclass(frozen=True, slots=True)
class NewSessionTicket13:
    """RFC 8446 §4.6.1::

    struct {
        uint32 ticket_lifetime;
        uint32 ticket_age_add;
        opaque ticket_nonce<0..255>;
        opaque ticket<1..2^16-1>;
        Extension extensions<0..2^16-2>;
    } NewSessionTicket;
    """

    typ: ClassVar[HandshakeType] = HandshakeType.new_session_ticket

    ticket_lifetime: int
    ticket_age_add: int
    ticket_nonce: bytes
    ticket: bytes
    extensions: NewSessionTicketExtensions

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        put_u32(out, self.ticket_lifetime)
        put_u32(out, self.ticket_age_add)
        put_vec8(out, self.ticket_nonce)
        put_vec16(out, self.ticket)
        self.extensions.encode(out)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body.

        Raises:
            DecodeError: malformed, trailing bytes or duplicate extension (alert decode_error).
        """
        # Fast path: a ticket without extensions (the usual one) read in place; anything
        # else (extensions, malformed or cut input) takes the checked path and its errors.
        buf, p, end = r.span()
        if p + 11 <= end:
            q = p + 9 + buf[p + 8]  # after lifetime, age_add and ticket_nonce
            if q + 2 <= end:
                t = q + 2 + ((buf[q] << 8) | buf[q + 1])  # after ticket
                if t > q + 2 and t + 2 == end and not buf[t] and not buf[t + 1]:
                    r.take_window()
                    return cls(
                        _U32(buf, p)[0],
                        _U32(buf, p + 4)[0],
                        buf[p + 9 : q],
                        buf[q + 2 : t],
                        _NO_NST_EXTENSIONS,
                    )
        return cls._decode_checked(r)

    @classmethod
    def _decode_checked(cls, r: Reader) -> Self:
        """:meth:`decode` by the Reader, every field checked (any input)."""
        lifetime = r.u32()
        age_add = r.u32()
        nonce = r.vec8(0, 0xFF, "ticket_nonce")
        ticket = r.vec16(1, 0xFFFF, "ticket")
        exts = NewSessionTicketExtensions.decode(r)
        r.expect_empty()
        return cls(lifetime, age_add, nonce, ticket, exts)


#: The (shared, frozen) container a ticket without extensions decodes to.
_NO_NST_EXTENSIONS = NewSessionTicketExtensions.decode(Reader(b"\x00\x00"))
_U32 = struct.Struct("!I").unpack_from


@dataclass(frozen=True, slots=True)
class NewSessionTicket12:
    """RFC 5077 §3.3 (an empty ticket means "no ticket after all")::

    struct {
        uint32 ticket_lifetime_hint;
        opaque ticket<0..2^16-1>;
    } NewSessionTicket;
    """

    typ: ClassVar[HandshakeType] = HandshakeType.new_session_ticket

    ticket_lifetime_hint: int
    ticket: bytes

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        put_u32(out, self.ticket_lifetime_hint)
        put_vec16(out, self.ticket)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body.

        Raises:
            DecodeError: malformed or trailing bytes (alert decode_error).
        """
        hint = r.u32()
        ticket = r.vec16(0, 0xFFFF, "ticket")
        r.expect_empty()
        return cls(hint, ticket)


@dataclass(frozen=True, slots=True)
class CertificateStatus:
    """RFC 6066 §8 (TLS 1.2 CertificateStatus message)::

    struct {
        CertificateStatusType status_type;   /* ocsp (1) */
        select (status_type) { case ocsp: OCSPResponse response; } response;
    } CertificateStatus;
    opaque OCSPResponse<1..2^24-1>;
    """

    typ: ClassVar[HandshakeType] = HandshakeType.certificate_status

    status_type: int
    ocsp_response: bytes

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        put_u8(out, self.status_type)
        put_vec24(out, self.ocsp_response)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body.

        Raises:
            DecodeError: malformed or trailing bytes (alert decode_error); a status type other
                than ocsp (alert illegal_parameter).
        """
        status_type = r.u8()
        if status_type != CertificateStatusType.ocsp:
            raise DecodeError(f"CertificateStatus: status_type {status_type}", _ILLEGAL)
        resp = r.vec24(1, 0xFFFFFF, "OCSPResponse")
        r.expect_empty()
        return cls(status_type, resp)


@dataclass(frozen=True, slots=True)
class MessageHash:
    """RFC 8446 §4.4.1: the synthetic ``message_hash`` message replacing ClientHello1 in the
    transcript after a HelloRetryRequest; its body is ``Hash(ClientHello1)``.  Never sent."""

    typ: ClassVar[HandshakeType] = HandshakeType.message_hash

    hash: bytes

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        out += self.hash

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read the body (all of ``r``).

        Raises:
            DecodeError: never for well-formed input; present for symmetry.
        """
        return cls(r.rest())


# -- messages the server sends every handshake, encoded straight into bytes --------------------
def encode_finished(verify_data: bytes) -> bytes:
    """``encode_handshake(Finished(verify_data))`` with one concatenation.

    Raises:
        InternalError: ``verify_data`` longer than 2^24-1 octets (a local bug).
    """
    n = len(verify_data)
    if n > 0xFFFFFF:
        raise InternalError("Finished too long")
    return (0x14000000 | n).to_bytes(4, "big") + verify_data


def encode_certificate_verify(scheme: int, signature: bytes) -> bytes:
    """``encode_handshake(CertificateVerify(scheme, signature))`` with one join.

    Raises:
        InternalError: a value out of its field's range (a local bug).
    """
    n = len(signature)
    if not 0 <= scheme <= 0xFFFF or n > 0xFFFF:
        raise InternalError("CertificateVerify field out of range")
    return b"".join(
        (
            (0x0F000000 | (n + 4)).to_bytes(4, "big"),
            scheme.to_bytes(2, "big"),
            n.to_bytes(2, "big"),
            signature,
        )
    )


def encode_new_session_ticket13(
    lifetime: int, age_add: int, nonce: bytes, ticket: bytes, max_early_data: int | None
) -> bytes:
    """``encode_handshake(NewSessionTicket13(lifetime, age_add, nonce, ticket,
    NewSessionTicketExtensions(early_data=max_early_data)))`` with one join.

    Raises:
        InternalError: a value out of its field's range (a local bug).
    """
    if (
        not 0 <= lifetime <= 0xFFFFFFFF
        or not 0 <= age_add <= 0xFFFFFFFF
        or len(nonce) > 0xFF
        or len(ticket) > 0xFFFF
        or (max_early_data is not None and not 0 <= max_early_data <= 0xFFFFFFFF)
    ):
        raise InternalError("NewSessionTicket field out of range")
    if max_early_data is None:
        ext = b"\x00\x00"
    else:  # early_data (42): uint32 max_early_data_size
        ext = b"\x00\x08\x00\x2a\x00\x04" + max_early_data.to_bytes(4, "big")
    n = 11 + len(nonce) + len(ticket) + len(ext)
    return b"".join(
        (
            (0x04000000 | n).to_bytes(4, "big"),
            lifetime.to_bytes(4, "big"),
            age_add.to_bytes(4, "big"),
            bytes((len(nonce),)),
            nonce,
            len(ticket).to_bytes(2, "big"),
            ticket,
            ext,
        )
    )
