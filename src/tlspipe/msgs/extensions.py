"""Hello and handshake extensions: bodies and one container per context (RFC 8446 §4.2).

Each container (:class:`ClientExtensions`, :class:`ServerExtensions`, …) is a frozen dataclass
of optional values: ``None`` (or ``False`` for flag extensions) means absent.  Extensions we do
not know for a context are kept verbatim in ``unknown`` as ``(type, body)`` pairs.

The containers are table-driven: each one lists ``(extension type, field name, body codec)``
once, in the fixed order in which they are encoded (an order that reproduces RFC 8448's traces
byte for byte).  Decoding is strict: the list length and each body's length are checked against
the RFC bounds, each body must be consumed exactly, a type may appear only once, and in a
ClientHello ``pre_shared_key`` must come last (RFC 8446 §4.2.11).

Body formats: RFC 8446 §4.2 (TLS 1.3), RFC 6066 (server_name, status_request), RFC 7301 (ALPN),
RFC 7627 (extended_master_secret), RFC 5077 (session_ticket), RFC 5746 (renegotiation_info),
RFC 6962 (signed_certificate_timestamp), RFC 8449 (record_size_limit), RFC 7685 (padding),
RFC 8422 (ec_point_formats).  Imports only ``errors``, ``enums`` and ``msgs.codec``.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from itertools import repeat
from typing import Any, ClassVar, Generic, Self, TypeVar

from ..enums import AlertDescription, CertificateStatusType, ExtensionType, ServerNameType
from ..errors import DecodeError
from .codec import Reader, length_prefixed, put_u8, put_u16, put_u32, put_vec8, put_vec16

__all__ = [
    "CertificateEntryExtensions",
    "CertificateRequestExtensions",
    "ClientExtensions",
    "HelloRetryExtensions",
    "KeyShareEntry",
    "NewSessionTicketExtensions",
    "OfferedPsks",
    "PskIdentity",
    "ServerEncryptedExtensions",
    "ServerExtensions",
]

T = TypeVar("T")
_U32 = struct.Struct("!I").unpack_from
_ILLEGAL = AlertDescription.illegal_parameter
Unknown = tuple[tuple[int, bytes], ...]


# -- extension bodies with structure of their own ----------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyShareEntry:
    """RFC 8446 §4.2.8::

    struct {
        NamedGroup group;
        opaque key_exchange<1..2^16-1>;
    } KeyShareEntry;
    """

    group: int
    key_exchange: bytes

    def encode(self, out: bytearray) -> None:
        """Append the encoding to ``out``."""
        put_u16(out, self.group)
        put_vec16(out, self.key_exchange)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read one entry.

        Raises:
            DecodeError: truncated or out of bounds (alert decode_error).
        """
        group = r.u16()
        return cls(group, r.vec16(1, 0xFFFF, "key_exchange"))


@dataclass(frozen=True, slots=True)
class PskIdentity:
    """RFC 8446 §4.2.11::

    struct {
        opaque identity<1..2^16-1>;
        uint32 obfuscated_ticket_age;
    } PskIdentity;
    """

    identity: bytes
    obfuscated_ticket_age: int

    def encode(self, out: bytearray) -> None:
        """Append the encoding to ``out``."""
        put_vec16(out, self.identity)
        put_u32(out, self.obfuscated_ticket_age)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read one identity.

        Raises:
            DecodeError: truncated or out of bounds (alert decode_error).
        """
        identity = r.vec16(1, 0xFFFF, "identity")
        return cls(identity, r.u32())


@dataclass(frozen=True, slots=True)
class OfferedPsks:
    """RFC 8446 §4.2.11 (the ClientHello form of ``pre_shared_key``)::

    opaque PskBinderEntry<32..255>;
    struct {
        PskIdentity identities<7..2^16-1>;
        PskBinderEntry binders<33..2^16-1>;
    } OfferedPsks;
    """

    identities: tuple[PskIdentity, ...]
    binders: tuple[bytes, ...] = field(repr=False)

    def encode(self, out: bytearray) -> None:
        """Append the encoding to ``out``."""
        with length_prefixed(out, 2):
            for ident in self.identities:
                ident.encode(out)
        self.encode_binders(out)

    def encode_binders(self, out: bytearray) -> None:
        """Append only the ``binders`` vector (the tail hashed out of a truncated ClientHello)."""
        with length_prefixed(out, 2):
            for b in self.binders:
                put_vec8(out, b)

    def binders_len(self) -> int:
        """Length of the encoded ``binders`` vector including its 2-octet length."""
        return 2 + sum(1 + len(b) for b in self.binders)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read identities and binders.

        Raises:
            DecodeError: truncated, out of bounds (alert decode_error), or as many binders as
                identities not sent (alert illegal_parameter, RFC 8446 §4.2.11).
        """
        # Fast path: a well-formed body read in place (identities<7..>, binders<33..> filling
        # the body exactly, as many binders of 32..255 octets as identities); anything else
        # takes the checked path below and its errors.
        buf, p, end = r.span()
        if p + 2 <= end:
            i_end = p + 2 + ((buf[p] << 8) | buf[p + 1])
            if i_end - p >= 9 and i_end + 2 <= end:
                b_end = i_end + 2 + ((buf[i_end] << 8) | buf[i_end + 1])
                if b_end - i_end >= 35 and b_end == end:
                    fast_ids: list[PskIdentity] = []
                    q = p + 2
                    while q + 2 <= i_end:
                        k = q + 2 + ((buf[q] << 8) | buf[q + 1])
                        if k == q + 2 or k + 4 > i_end:
                            break
                        fast_ids.append(PskIdentity(buf[q + 2 : k], _U32(buf, k)[0]))
                        q = k + 4
                    fast_binders: list[bytes] = []
                    b = i_end + 2
                    if q == i_end:
                        while b < b_end:
                            k = b + 1 + buf[b]
                            if k - b < 33 or k > b_end:
                                break
                            fast_binders.append(buf[b + 1 : k])
                            b = k
                    if q == i_end and b == b_end and len(fast_ids) == len(fast_binders):
                        r.take_window()
                        return cls(tuple(fast_ids), tuple(fast_binders))
        ids = r.sub16(7, 0xFFFF, "identities")
        identities: list[PskIdentity] = []
        while ids.any_left():
            identities.append(PskIdentity.decode(ids))
        bs = r.sub16(33, 0xFFFF, "binders")
        binders: list[bytes] = []
        while bs.any_left():
            binders.append(bs.vec8(32, 255, "PskBinderEntry"))
        if len(binders) != len(identities):
            raise DecodeError("pre_shared_key: identities and binders differ in number", _ILLEGAL)
        return cls(tuple(identities), tuple(binders))


# -- body codecs: one (encode, decode) pair per wire shape -----------------------------------------
@dataclass(frozen=True, slots=True)
class _Field(Generic[T]):
    """One row of an extension table: wire type, dataclass field name, body codec."""

    typ: int
    name: str
    enc: Callable[[T, bytearray], None]
    dec: Callable[[Reader], T]
    #: Remember whole encoded extensions by value (public values that repeat every
    #: handshake: groups, schemes, versions, names, flags), a few per field.
    memo: bool = False
    typ_bytes: bytes = field(init=False, repr=False, compare=False)
    encoded: dict[Any, bytes] | None = field(init=False, repr=False, compare=False)
    #: ... and decoded values by body (only bodies that decoded without error).
    decoded: dict[bytes, Any] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "typ_bytes", self.typ.to_bytes(2, "big"))
        object.__setattr__(self, "encoded", {} if self.memo else None)
        object.__setattr__(self, "decoded", {} if self.memo else None)


_MEMO_MAX = 16  # encodings remembered per field (cleared when full)


def _flag(typ: int, name: str) -> _Field[bool]:
    """An extension with an empty body; present = ``True``."""

    def enc(_v: bool, _out: bytearray) -> None:
        return None

    def dec(_r: Reader) -> bool:
        return True  # the body must be empty: checked by the container

    return _Field(typ, name, enc, dec, memo=True)


def _opaque(
    typ: int, name: str, prefix: int, lo: int, hi: int, memo: bool = False
) -> _Field[bytes]:
    """``opaque x<lo..hi>`` with a ``prefix``-octet length (prefix 0: the whole body);
    ``memo`` for values that repeat every handshake."""

    def enc(v: bytes, out: bytearray) -> None:
        if prefix:
            out += len(v).to_bytes(prefix, "big")
        out += v

    def dec(r: Reader) -> bytes:
        if prefix == 1:
            return r.vec8(lo, hi, name)
        if prefix == 2:
            return r.vec16(lo, hi, name)
        return r.rest()

    return _Field(typ, name, enc, dec, memo)


def _uint(typ: int, name: str, size: int, minimum: int = 0) -> _Field[int]:
    """A single unsigned integer of ``size`` octets, at least ``minimum``
    (a smaller value → alert illegal_parameter)."""

    def enc(v: int, out: bytearray) -> None:
        out += v.to_bytes(size, "big")

    def dec(r: Reader) -> int:
        v = int.from_bytes(r.take(size), "big")
        if v < minimum:
            raise DecodeError(f"{name}: value {v} below {minimum}", _ILLEGAL)
        return v

    return _Field(typ, name, enc, dec, memo=True)


def _u16s(typ: int, name: str, prefix: int, lo: int, hi: int) -> _Field[tuple[int, ...]]:
    """``uint16 x<lo..hi>`` with a ``prefix``-octet length (octets, not items)."""

    def enc(v: tuple[int, ...], out: bytearray) -> None:
        out += (2 * len(v)).to_bytes(prefix, "big")
        for x in v:
            put_u16(out, x)

    def dec(r: Reader) -> tuple[int, ...]:
        return tuple(r.list_u16(prefix, lo, hi, name))

    return _Field(typ, name, enc, dec, memo=True)


def _u8s(typ: int, name: str, lo: int, hi: int) -> _Field[tuple[int, ...]]:
    """``uint8 x<lo..hi>`` with a 1-octet length."""

    def enc(v: tuple[int, ...], out: bytearray) -> None:
        put_vec8(out, bytes(v))

    def dec(r: Reader) -> tuple[int, ...]:
        return tuple(r.list_u8(lo, hi, name))

    return _Field(typ, name, enc, dec, memo=True)


def _opaques(
    typ: int, name: str, prefix: int, lo: int, hi: int, item_lo: int, item_hi: int
) -> _Field[tuple[bytes, ...]]:
    """A vector ``<lo..hi>`` (2-octet length) of ``opaque item<item_lo..item_hi>`` with a
    ``prefix``-octet item length."""

    def enc(v: tuple[bytes, ...], out: bytearray) -> None:
        with length_prefixed(out, 2):
            for item in v:
                out += len(item).to_bytes(prefix, "big")
                out += item

    def dec(r: Reader) -> tuple[bytes, ...]:
        lst = r.sub16(lo, hi, name)
        items: list[bytes] = []
        while lst.any_left():
            if prefix == 1:
                items.append(lst.vec8(item_lo, item_hi, name))
            else:
                items.append(lst.vec16(item_lo, item_hi, name))
        return tuple(items)

    return _Field(typ, name, enc, dec, memo=True)


def _custom(
    typ: int,
    name: str,
    enc: Callable[[T, bytearray], None],
    dec: Callable[[Reader], T],
    memo: bool = False,
) -> _Field[T]:
    return _Field(typ, name, enc, dec, memo)


# server_name, RFC 6066 §3: ServerName server_name_list<1..2^16-1>;
# struct { NameType name_type; select (name_type) { case host_name: HostName; } } ServerName;
# opaque HostName<1..2^16-1>.  Exactly one host_name is accepted.
def _enc_sni(v: bytes, out: bytearray) -> None:
    with length_prefixed(out, 2):
        put_u8(out, ServerNameType.host_name)
        put_vec16(out, v)


def _dec_sni(r: Reader) -> bytes:
    lst = r.sub16(1, 0xFFFF, "server_name_list")
    if lst.u8() != ServerNameType.host_name:
        raise DecodeError("server_name: unsupported name_type", _ILLEGAL)
    name = lst.vec16(1, 0xFFFF, "HostName")
    if lst.any_left():
        raise DecodeError("server_name: more than one name", _ILLEGAL)
    if not name.isascii():
        raise DecodeError("server_name: HostName is not ASCII", _ILLEGAL)
    return name


# status_request (ClientHello), RFC 6066 §8: struct { CertificateStatusType status_type;
# select (status_type) { case ocsp: OCSPStatusRequest; } request; } CertificateStatusRequest;
# struct { ResponderID responder_id_list<0..2^16-1>; Extensions request_extensions; }
# OCSPStatusRequest;  opaque ResponderID<1..2^16-1>;  opaque Extensions<0..2^16-1>.
# We only ever send an empty OCSP request; a request of an unknown type reads as absent.
def _enc_status_request(_v: bool, out: bytearray) -> None:
    out += b"\x01\x00\x00\x00\x00"


def _dec_status_request(r: Reader) -> bool:
    if r.u8() != CertificateStatusType.ocsp:
        r.rest()
        return False
    ids = r.sub16(0, 0xFFFF, "responder_id_list")
    while ids.any_left():
        ids.vec16(1, 0xFFFF, "ResponderID")
    r.vec16(0, 0xFFFF, "request_extensions")
    return True


# status_request (CertificateEntry), RFC 8446 §4.4.2.1 / RFC 6066 §8:
# struct { CertificateStatusType status_type; opaque OCSPResponse<1..2^24-1>; }.
def _enc_ocsp_response(v: bytes, out: bytearray) -> None:
    put_u8(out, CertificateStatusType.ocsp)
    out += len(v).to_bytes(3, "big")
    out += v


def _dec_ocsp_response(r: Reader) -> bytes:
    if r.u8() != CertificateStatusType.ocsp:
        raise DecodeError("status_request: status_type is not ocsp", _ILLEGAL)
    return r.vec24(1, 0xFFFFFF, "OCSPResponse")


# signed_certificate_timestamp, RFC 6962 §3.3: opaque SerializedSCT<1..2^16-1>;
# struct { SerializedSCT sct_list<1..2^16-1>; } SignedCertificateTimestampList;
# Kept as the whole encoded list (its 2-octet length included), checked for shape.
def _enc_raw(v: bytes, out: bytearray) -> None:
    out += v


def _dec_sct_list(r: Reader) -> bytes:
    whole = r.rest()
    inner = Reader(whole, "SignedCertificateTimestampList")
    lst = inner.sub16(1, 0xFFFF, "sct_list")
    inner.expect_empty()
    while lst.any_left():
        lst.vec16(1, 0xFFFF, "SerializedSCT")
    return whole


# ALPN, RFC 7301 §3.1: opaque ProtocolName<1..2^8-1>;
# struct { ProtocolName protocol_name_list<2..2^16-1> } ProtocolNameList;
# The server's list "MUST contain exactly one ProtocolName".
_ALPN_LIST = _opaques(
    ExtensionType.application_layer_protocol_negotiation, "alpn", 1, 2, 0xFFFF, 1, 0xFF
)


def _enc_alpn_one(v: bytes, out: bytearray) -> None:
    _ALPN_LIST.enc((v,), out)


def _dec_alpn_one(r: Reader) -> bytes:
    names = _ALPN_LIST.dec(r)
    if len(names) != 1:
        raise DecodeError("alpn: server must select exactly one protocol")
    return names[0]


# key_share (ClientHello), RFC 8446 §4.2.8: KeyShareEntry client_shares<0..2^16-1>;
def _enc_client_shares(v: tuple[KeyShareEntry, ...], out: bytearray) -> None:
    with length_prefixed(out, 2):
        for e in v:
            e.encode(out)


def _dec_client_shares(r: Reader) -> tuple[KeyShareEntry, ...]:
    # Fast path: a well-formed body (the list, exactly, of entries with non-empty keys) is
    # read in place; anything else takes the checked path below and its errors.
    buf, p, end = r.span()
    if p + 2 <= end and p + 2 + ((buf[p] << 8) | buf[p + 1]) == end:
        q = p + 2
        fast: list[KeyShareEntry] = []
        while q + 4 <= end:
            k = q + 4 + ((buf[q + 2] << 8) | buf[q + 3])
            if k == q + 4 or k > end:
                break
            fast.append(KeyShareEntry((buf[q] << 8) | buf[q + 1], buf[q + 4 : k]))
            q = k
        if q == end:
            r.take_window()
            return tuple(fast)
    lst = r.sub16(0, 0xFFFF, "client_shares")
    shares: list[KeyShareEntry] = []
    while lst.any_left():
        shares.append(KeyShareEntry.decode(lst))
    return tuple(shares)


def _enc_entry(v: KeyShareEntry | OfferedPsks, out: bytearray) -> None:
    v.encode(out)


# padding, RFC 7685 §3: the body is zero octets only; kept as their number.
def _enc_padding(v: int, out: bytearray) -> None:
    out += bytes(v)


def _dec_padding(r: Reader) -> int:
    body = r.rest()
    if body.count(0) != len(body):
        raise DecodeError("padding: non-zero octets", _ILLEGAL)
    return len(body)


# -- rows shared by several containers -----------------------------------------------------------
E = ExtensionType
_SNI_FLAG = _flag(E.server_name, "server_name")
_EMS = _flag(E.extended_master_secret, "extended_master_secret")
_RENEG = _opaque(E.renegotiation_info, "renegotiation_info", 1, 0, 0xFF, memo=True)
_GROUPS = _u16s(E.supported_groups, "supported_groups", 2, 2, 0xFFFF)
_POINTS = _opaque(E.ec_point_formats, "ec_point_formats", 1, 1, 0xFF, memo=True)
_SIGALGS = _u16s(E.signature_algorithms, "signature_algorithms", 2, 2, 0xFFFE)
_SIGALGS_CERT = _u16s(E.signature_algorithms_cert, "signature_algorithms_cert", 2, 2, 0xFFFE)
_ALPN_ONE = _custom(
    E.application_layer_protocol_negotiation, "alpn", _enc_alpn_one, _dec_alpn_one, True
)
_STATUS_FLAG = _flag(E.status_request, "status_request")
_SCT_FLAG = _flag(E.signed_certificate_timestamp, "signed_certificate_timestamp")
_SCT_LIST = _custom(
    E.signed_certificate_timestamp, "signed_certificate_timestamp", _enc_raw, _dec_sct_list
)
_EARLY_FLAG = _flag(E.early_data, "early_data")
# RFC 8446 §4.2.4: DistinguishedName authorities<3..2^16-1>; opaque DistinguishedName<1..2^16-1>
_CAS = _opaques(E.certificate_authorities, "certificate_authorities", 2, 3, 0xFFFF, 1, 0xFFFF)
# RFC 8449 §4: uint16 RecordSizeLimit; a value below 64 → illegal_parameter.
_RSL = _uint(E.record_size_limit, "record_size_limit", 2, minimum=64)
_COOKIE = _opaque(E.cookie, "cookie", 2, 1, 0xFFFF)  # opaque cookie<1..2^16-1>


# -- the container machinery -------------------------------------------------------------------
_BY_TYPE: dict[type, dict[int, _Field[Any]]] = {}
"""Container class → its table keyed by extension type (built on first decode)."""
_EMPTY: dict[type, Any] = {}
"""Container class → its instance with no extension (decoded from an empty list)."""
_EXT_HEAD = struct.Struct("!HH").unpack_from  # extension type, body length


# _Extensions._of: a new instance without __init__, the generated __init__'s field setter
# (which bypasses the frozen __setattr__) and a C-level loop that runs a map to its end.
_NEW = object.__new__
_SETATTR = object.__setattr__
_CONSUME = deque


class _Extensions:
    """Shared encode/decode for the extension containers (``Extension extensions<lo..hi>``)::

    struct {
        ExtensionType extension_type;
        opaque extension_data<0..2^16-1>;
    } Extension;
    """

    __slots__ = ()
    _FIELDS: ClassVar[tuple[_Field[Any], ...]]
    _LIST_LO: ClassVar[int] = 0
    _LIST_HI: ClassVar[int] = 0xFFFF
    _LAST: ClassVar[int | None] = None  # a type that must be the last one in the list
    #: Whole decoded containers by list bytes, for a container whose lists repeat every
    #: handshake and hold only public values (EncryptedExtensions); None: not kept.
    _WHOLE: ClassVar[dict[bytes, Any] | None] = None
    #: Every field's default (set below, after the dataclass decorator), for :meth:`_of`.
    _DEFAULTS: ClassVar[dict[str, Any]]

    @classmethod
    def _of(cls, values: dict[str, Any]) -> Self:
        """``cls(**values)`` (``values``: field name → value, the other fields default) built
        on the hot decoding paths without the generated ``__init__``: that one is one
        ``object.__setattr__`` per field in bytecode (22 in a ClientExtensions); here the same
        calls run in one C-level loop (tests/msgs/test_msgs_fastpaths.py checks equality)."""
        obj = _NEW(cls)
        d = {**cls._DEFAULTS, **values}
        _CONSUME(map(_SETATTR, repeat(obj), d.keys(), d.values()), 0)
        return obj

    def encode(self, out: bytearray) -> None:
        """Append the extensions vector: known ones in table order, then ``unknown``, then the
        one that must be last (``pre_shared_key`` in a ClientHello)."""
        last: list[_Field[Any]] = []
        at = len(out)
        out += b"\x00\x00"  # the list length, patched below
        lt = self._LAST
        for f in self._FIELDS:
            value = getattr(self, f.name)
            if value is None or value is False:  # absent: no call (most fields, usually)
                continue
            if f.typ == lt:
                last.append(f)
                continue
            memo = f.encoded
            if memo is not None:
                hit = memo.get(value)
                if hit is not None:
                    out += hit
                    continue
            self._encode_field(f, out)
        unknown: Unknown = getattr(self, "unknown")  # noqa: B009 - declared by subclasses
        for typ, body in unknown:
            put_u16(out, typ)
            put_vec16(out, body)
        for f in last:
            self._encode_field(f, out)
        out[at : at + 2] = (len(out) - at - 2).to_bytes(2, "big")

    def _encode_field(self, f: _Field[Any], out: bytearray) -> None:
        value = getattr(self, f.name)
        if value is None or value is False:
            return
        start = len(out)
        out += f.typ_bytes
        at = start + 2
        out += b"\x00\x00"  # the body length, patched below
        f.enc(value, out)
        out[at : at + 2] = (len(out) - at - 2).to_bytes(2, "big")
        memo = f.encoded
        if memo is not None:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            memo[value] = bytes(out[start:])

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read an extensions vector.

        Raises:
            DecodeError: truncated, out of bounds, trailing bytes in a body, duplicate type
                (alert decode_error), or an extension after the one that must be last (alert
                illegal_parameter).
        """
        lst = r.sub16(cls._LIST_LO, cls._LIST_HI, "extensions")
        buf, pos, end = lst.take_window()
        if pos == end:  # no extensions: one shared (frozen) empty container
            empty = _EMPTY.get(cls)
            if empty is None:
                factory0: Callable[..., Self] = cls
                empty = _EMPTY[cls] = factory0()
            return empty
        whole = cls._WHOLE
        if whole is not None:  # decoding is a function of the bytes; containers are frozen
            listed = buf[pos:end]
            hit = whole.get(listed)
            if hit is not None:
                done: Self = hit
                return done
        by_type = _BY_TYPE.get(cls)
        if by_type is None:
            by_type = _BY_TYPE[cls] = {f.typ: f for f in cls._FIELDS}
        values: dict[str, Any] = {}
        unknown: list[tuple[int, bytes]] | None = None
        unknown_seen: set[int] = set()
        last = cls._LAST
        last_seen = False
        window = Reader.window
        # Each extension's header is read here, in place (the same checks and errors as
        # Reader.extension() on the list); a body is given a Reader only when it is decoded.
        # A known type was seen before exactly when its field is in ``values`` (one field per
        # type), so only unknown types need a set.
        while pos < end:
            if pos + 4 > end:
                raise DecodeError("extensions: truncated uint16")
            typ, n = _EXT_HEAD(buf, pos)
            start = pos + 4
            pos = start + n
            if pos > end:
                raise DecodeError(f"extensions: extension {typ} truncated")
            if last_seen:
                raise DecodeError(f"extension {last} is not the last one", _ILLEGAL)
            f = by_type.get(typ)
            if f is None:
                if unknown is None:
                    unknown = []
                elif typ in unknown_seen:
                    raise DecodeError(f"duplicate extension {typ}")
                unknown_seen.add(typ)
                if typ == last:
                    last_seen = True
                unknown.append((typ, buf[start:pos]))
                continue
            if f.name in values:
                raise DecodeError(f"duplicate extension {typ}")
            if typ == last:
                last_seen = True
            memo = f.decoded
            if memo is None:
                body = window(buf, start, pos, f"extension {typ}")
                values[f.name] = f.dec(body)
                body.expect_empty()
                continue
            raw = buf[start:pos]
            value = memo.get(raw)
            if value is None:
                body = window(buf, start, pos, f"extension {typ}")
                value = f.dec(body)
                body.expect_empty()
                if len(memo) >= _MEMO_MAX:
                    memo.clear()
                memo[raw] = value
            values[f.name] = value
        if unknown is not None:
            values["unknown"] = tuple(unknown)
        out = cls._of(values)
        if whole is not None:
            if len(whole) >= _MEMO_MAX:
                whole.clear()
            whole[listed] = out
        return out

    @classmethod
    def known_types(cls) -> frozenset[int]:
        """The extension types this container decodes into fields."""
        return frozenset(f.typ for f in cls._FIELDS)


# -- the containers ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ClientExtensions(_Extensions):
    """Extensions of a ClientHello (RFC 8446 §4.1.2 ``Extension extensions<8..2^16-1>``;
    TLS 1.2's ``<0..2^16-1>`` is accepted).  ``pre_shared_key`` is always encoded last and must
    be last on decode (RFC 8446 §4.2.11)."""

    server_name: bytes | None = None
    extended_master_secret: bool = False
    renegotiation_info: bytes | None = None
    supported_groups: tuple[int, ...] | None = None
    ec_point_formats: bytes | None = None
    session_ticket: bytes | None = None
    alpn: tuple[bytes, ...] | None = None
    status_request: bool = False
    signed_certificate_timestamp: bool = False
    key_share: tuple[KeyShareEntry, ...] | None = None
    early_data: bool = False
    supported_versions: tuple[int, ...] | None = None
    signature_algorithms: tuple[int, ...] | None = None
    signature_algorithms_cert: tuple[int, ...] | None = None
    cookie: bytes | None = None
    psk_key_exchange_modes: tuple[int, ...] | None = None
    certificate_authorities: tuple[bytes, ...] | None = None
    post_handshake_auth: bool = False
    record_size_limit: int | None = None
    padding: int | None = None
    pre_shared_key: OfferedPsks | None = None
    unknown: Unknown = ()

    _LAST: ClassVar[int | None] = E.pre_shared_key
    _FIELDS: ClassVar[tuple[_Field[Any], ...]] = (
        _custom(E.server_name, "server_name", _enc_sni, _dec_sni, True),
        _EMS,
        _RENEG,
        _GROUPS,
        _POINTS,
        _opaque(E.session_ticket, "session_ticket", 0, 0, 0xFFFF),
        _opaques(E.application_layer_protocol_negotiation, "alpn", 1, 2, 0xFFFF, 1, 0xFF),
        _custom(E.status_request, "status_request", _enc_status_request, _dec_status_request, True),
        _SCT_FLAG,
        _custom(E.key_share, "key_share", _enc_client_shares, _dec_client_shares),
        _EARLY_FLAG,
        _u16s(E.supported_versions, "supported_versions", 1, 2, 254),
        _SIGALGS,
        _SIGALGS_CERT,
        _COOKIE,
        _u8s(E.psk_key_exchange_modes, "psk_key_exchange_modes", 1, 255),
        _CAS,
        _flag(E.post_handshake_auth, "post_handshake_auth"),
        _RSL,
        _custom(E.padding, "padding", _enc_padding, _dec_padding),
        _custom(E.pre_shared_key, "pre_shared_key", _enc_entry, OfferedPsks.decode),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerExtensions(_Extensions):
    """Extensions of a ServerHello, TLS 1.3 and 1.2 (RFC 8446 §4.1.3, RFC 5246 §7.4.1.4).

    ``pre_shared_key`` is the ``uint16 selected_identity``; ``alpn`` the one selected protocol;
    ``signed_certificate_timestamp`` the encoded SignedCertificateTimestampList (TLS 1.2).
    """

    pre_shared_key: int | None = None
    key_share: KeyShareEntry | None = None
    supported_versions: int | None = None
    server_name: bool = False
    renegotiation_info: bytes | None = None
    extended_master_secret: bool = False
    session_ticket: bool = False
    ec_point_formats: bytes | None = None
    alpn: bytes | None = None
    status_request: bool = False
    signed_certificate_timestamp: bytes | None = None
    record_size_limit: int | None = None
    unknown: Unknown = ()

    _FIELDS: ClassVar[tuple[_Field[Any], ...]] = (
        _uint(E.pre_shared_key, "pre_shared_key", 2),
        _custom(E.key_share, "key_share", _enc_entry, KeyShareEntry.decode),
        _uint(E.supported_versions, "supported_versions", 2),
        _SNI_FLAG,
        _RENEG,
        _EMS,
        _flag(E.session_ticket, "session_ticket"),
        _POINTS,
        _ALPN_ONE,
        _STATUS_FLAG,
        _SCT_LIST,
        _RSL,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class HelloRetryExtensions(_Extensions):
    """Extensions of a HelloRetryRequest (RFC 8446 §4.1.4); ``selected_group`` is the
    ``key_share`` body ``struct { NamedGroup selected_group; } KeyShareHelloRetryRequest``.
    The list is ``<6..2^16-1>`` (RFC 8446 §4.1.3)."""

    selected_group: int | None = None
    cookie: bytes | None = None
    supported_versions: int | None = None
    unknown: Unknown = ()

    _LIST_LO: ClassVar[int] = 6
    _FIELDS: ClassVar[tuple[_Field[Any], ...]] = (
        _uint(E.key_share, "selected_group", 2),
        _COOKIE,
        _uint(E.supported_versions, "supported_versions", 2),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerEncryptedExtensions(_Extensions):
    """Extensions of EncryptedExtensions (RFC 8446 §4.3.1, ``<0..2^16-1>``)."""

    supported_groups: tuple[int, ...] | None = None
    record_size_limit: int | None = None
    server_name: bool = False
    early_data: bool = False
    alpn: bytes | None = None
    unknown: Unknown = ()

    _FIELDS: ClassVar[tuple[_Field[Any], ...]] = (
        _GROUPS,
        _RSL,
        _SNI_FLAG,
        _EARLY_FLAG,
        _ALPN_ONE,
    )
    _WHOLE: ClassVar[dict[bytes, Any] | None] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateEntryExtensions(_Extensions):
    """Extensions of a TLS 1.3 CertificateEntry (RFC 8446 §4.4.2, ``<0..2^16-1>``):
    ``status_request`` holds the OCSP response bytes, ``signed_certificate_timestamp`` the
    encoded SignedCertificateTimestampList."""

    status_request: bytes | None = None
    signed_certificate_timestamp: bytes | None = None
    unknown: Unknown = ()

    _FIELDS: ClassVar[tuple[_Field[Any], ...]] = (
        _custom(E.status_request, "status_request", _enc_ocsp_response, _dec_ocsp_response),
        _SCT_LIST,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateRequestExtensions(_Extensions):
    """Extensions of a TLS 1.3 CertificateRequest (RFC 8446 §4.3.2, ``<2..2^16-1>``)."""

    signature_algorithms: tuple[int, ...] | None = None
    signature_algorithms_cert: tuple[int, ...] | None = None
    certificate_authorities: tuple[bytes, ...] | None = None
    status_request: bool = False
    signed_certificate_timestamp: bool = False
    unknown: Unknown = ()

    _LIST_LO: ClassVar[int] = 2
    _FIELDS: ClassVar[tuple[_Field[Any], ...]] = (
        _SIGALGS,
        _SIGALGS_CERT,
        _CAS,
        _STATUS_FLAG,
        _SCT_FLAG,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSessionTicketExtensions(_Extensions):
    """Extensions of a TLS 1.3 NewSessionTicket (RFC 8446 §4.6.1, ``<0..2^16-2>``);
    ``early_data`` is ``uint32 max_early_data_size``."""

    early_data: int | None = None
    unknown: Unknown = ()

    _LIST_HI: ClassVar[int] = 0xFFFE
    _FIELDS: ClassVar[tuple[_Field[Any], ...]] = (_uint(E.early_data, "early_data", 4),)


for _c in (
    ClientExtensions,
    ServerExtensions,
    HelloRetryExtensions,
    ServerEncryptedExtensions,
    CertificateEntryExtensions,
    CertificateRequestExtensions,
    NewSessionTicketExtensions,
):
    # _of fills omitted fields from these: every field must be an init field with a plain
    # default (a default_factory or init=False field would need _of to change).
    if any(not f.init or f.default is MISSING for f in fields(_c)):
        raise AssertionError(f"{_c.__name__}: a field without a plain default breaks _of")
    _c._DEFAULTS = {f.name: f.default for f in fields(_c)}
del _c
