"""ClientHello, ServerHello and HelloRetryRequest bodies (RFC 8446 §4.1, RFC 5246 §7.4.1).

A HelloRetryRequest travels as a ServerHello whose ``random`` is :data:`HRR_RANDOM`; it is
decoded into its own type (:func:`decode_server_hello` chooses).  The TLS 1.3 downgrade
sentinels (RFC 8446 §4.1.3) are the last 8 octets of a ServerHello random:
:data:`DOWNGRADE_TLS12` and :data:`DOWNGRADE_TLS11`.

Imports only ``errors``, ``enums`` and ``msgs.codec`` / ``msgs.extensions``.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, Self

from ..enums import AlertDescription, ExtensionType, HandshakeType
from ..errors import DecodeError, InternalError
from .codec import Reader, put_u8, put_u16, put_vec8
from .extensions import (
    ClientExtensions,
    HelloRetryExtensions,
    KeyShareEntry,
    OfferedPsks,
    ServerExtensions,
)

__all__ = [
    "DOWNGRADE_TLS11",
    "DOWNGRADE_TLS12",
    "HRR_RANDOM",
    "ClientHello",
    "HelloRetryRequest",
    "ServerHello",
    "decode_server_hello",
    "encode_server_hello",
    "encode_server_hello13",
]

#: RFC 8446 §4.1.3: the ServerHello.random that marks a HelloRetryRequest (SHA-256 of
#: "HelloRetryRequest").
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
#: RFC 8446 §4.1.3: last 8 octets of ServerHello.random of a TLS 1.3 server negotiating TLS 1.2.
DOWNGRADE_TLS12 = b"DOWNGRD\x01"
#: RFC 8446 §4.1.3: the same for TLS 1.1 or below.
DOWNGRADE_TLS11 = b"DOWNGRD\x00"


@dataclass(frozen=True, slots=True)
class ClientHello:
    """RFC 8446 §4.1.2 (RFC 5246 §7.4.1.2 has the same shape)::

        struct {
            ProtocolVersion legacy_version = 0x0303;    /* TLS v1.2 */
            Random random;                               /* opaque[32] */
            opaque legacy_session_id<0..32>;
            CipherSuite cipher_suites<2..2^16-2>;
            opaque legacy_compression_methods<1..2^8-1>;
            Extension extensions<8..2^16-1>;
        } ClientHello;

    A TLS 1.2 ClientHello may omit ``extensions`` altogether (decoded as empty); encoding
    always writes the vector.
    """

    typ: ClassVar[HandshakeType] = HandshakeType.client_hello

    legacy_version: int
    random: bytes
    legacy_session_id: bytes
    cipher_suites: tuple[int, ...]
    legacy_compression_methods: bytes
    extensions: ClientExtensions

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        put_u16(out, self.legacy_version)
        out += self.random
        put_vec8(out, self.legacy_session_id)
        put_u16(out, 2 * len(self.cipher_suites))
        for s in self.cipher_suites:
            put_u16(out, s)
        put_vec8(out, self.legacy_compression_methods)
        self.extensions.encode(out)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read a ClientHello body (the whole of ``r``).

        Raises:
            DecodeError: truncated, out of bounds, trailing bytes, duplicate extension
                (alert decode_error); ``pre_shared_key`` not last (alert illegal_parameter).
        """
        # Fast path: a well-formed prefix is read in place (the checks below, and the same
        # values); anything else takes the checked path, which raises what it always did.
        buf, p, end = r.span()
        if p + 35 <= end:
            legacy_version, random, sid_len = _HELLO_PREFIX(buf, p)
            q = p + 35 + sid_len  # after legacy_session_id
            if sid_len <= 32 and q + 2 <= end:
                n = (buf[q] << 8) | buf[q + 1]
                c = q + 2 + n  # at legacy_compression_methods
                if n >= 2 and not n & 1 and c < end and buf[c] >= 1 and c + 1 + buf[c] <= end:
                    e = c + 1 + buf[c]
                    r.take_window()
                    exts = _client_extensions(buf, e, end, r.what) if e < end else _NO_EXTS
                    return cls(
                        legacy_version,
                        random,
                        buf[p + 35 : q],
                        struct.unpack_from(f"!{n >> 1}H", buf, q + 2),
                        buf[c + 1 : e],
                        exts,
                    )
        legacy_version = r.u16()
        random = r.take(32)
        session_id = r.vec8(0, 32, "legacy_session_id")
        suites = tuple(r.list_u16(2, 2, 0xFFFE, "cipher_suites"))
        compression = r.vec8(1, 0xFF, "legacy_compression_methods")
        exts = ClientExtensions.decode(r) if r.any_left() else ClientExtensions()
        r.expect_empty()
        return cls(legacy_version, random, session_id, suites, compression, exts)

    def binders_suffix_len(self) -> int:
        """Octets at the end of the encoded message taken by the PSK ``binders`` vector
        (its 2-octet length included); dropping them gives the truncated ClientHello that
        binders are computed over (RFC 8446 §4.2.11.2).  0 when no PSK is offered."""
        psk = self.extensions.pre_shared_key
        return 0 if psk is None else psk.binders_len()

    def with_binders(self, binders: tuple[bytes, ...]) -> ClientHello:
        """A copy with the PSK binders replaced (same identities).

        Raises:
            InternalError: this ClientHello offers no PSK.
        """
        psk = self.extensions.pre_shared_key
        if psk is None:
            raise InternalError("with_binders on a ClientHello without pre_shared_key")
        exts = replace(self.extensions, pre_shared_key=OfferedPsks(psk.identities, binders))
        return replace(self, extensions=exts)


_NO_EXTS = ClientExtensions()
# A hello's legacy_version, random and session ID length (ClientHello, ServerHello), with
# one call.
_HELLO_PREFIX = struct.Struct("!H32sB").unpack_from
# A client sends the same extension block on every handshake but for the bodies of
# key_share, pre_shared_key and (TLS 1.2) session_ticket.  A block that decoded is
# remembered by its layout (its length and where those bodies are) and its bytes with those
# bodies cut out, as the other fields' keyword arguments (public values only, never a key
# share, PSK or ticket; bounded).  A later block with the same length, the same bytes outside
# the same cuts has the same headers at the same places, so everything but the cut bodies
# decodes as before: only those are decoded (with the readers and errors of
# ClientExtensions.decode), instead of walking every extension's codec.
#
# A block is remembered the second time it is seen: clients whose blocks never repeat
# (shuffled extension order, GREASE values, QUIC transport parameters) leave the table alone
# instead of churning it and evicting the blocks that do repeat.
#: Blocks are remembered only up to this many octets (outside the cut bodies), 64 in all
#: (their decoded values can take a few MB at worst).
_CH_KEY_MAX = 2048
_CH_MAX_BLOCKS = 64
_CH_MAX_LAYOUTS = 16
#: (block length, cuts, {bytes outside the cuts: fixed fields}) per layout.  Readers take the
#: current tuple without a lock; a writer builds a new one (or adds to a layout's dict)
#: holding _CH_LOCK.
_CH_TABLE: tuple[tuple[int, tuple[tuple[int, int, int], ...], dict[bytes, dict[str, Any]]], ...]
_CH_TABLE = ()
#: Hashes of blocks seen once (bounded; a collision only remembers a block one sighting early).
_CH_SEEN: set[int] = set()
_CH_SEEN_MAX = 1024
#: Taken by writers only, without waiting: a writer that finds it held skips remembering
#: (so no thread ever blocks on it, nor a child forked while another thread held it).
_CH_LOCK = threading.Lock()
_CH_VARIABLE = {
    f.typ: f
    for f in ClientExtensions._FIELDS  # the container's own field table
    if f.typ
    in (ExtensionType.key_share, ExtensionType.pre_shared_key, ExtensionType.session_ticket)
}
_CH_FIXED_NAMES = tuple(
    f.name
    for f in fields(ClientExtensions)
    if f.name not in {v.name for v in _CH_VARIABLE.values()}
)


def _client_extensions(buf: bytes, e: int, end: int, what: str) -> ClientExtensions:
    """The ClientHello's extension vector at ``buf[e:end]`` (all of the rest of the body):
    the value and errors of ``ClientExtensions.decode`` followed by ``expect_empty``."""
    n = end - e
    for size, cuts, known in _CH_TABLE:
        if size != n:
            continue
        parts: list[bytes] = []
        last = e
        for _typ, start, stop in cuts:
            parts.append(buf[last : e + start])
            last = e + stop
        parts.append(buf[last:end])
        fixed = known.get(b"".join(parts))
        if fixed is not None:
            values: dict[str, Any] = fixed.copy()
            for typ, start, stop in cuts:
                f = _CH_VARIABLE[typ]
                body = Reader.window(buf, e + start, e + stop, f"extension {typ}")
                values[f.name] = f.dec(body)
                body.expect_empty()
            return ClientExtensions._of(values)
    # Not remembered: decode it all, find its layout by its headers (it decoded, so they
    # tile the block exactly), remember it if it was seen before.
    exts = _decode_client_extensions(buf, e, end, what)
    pos = e + 2
    found: list[tuple[int, int, int]] = []
    parts = []
    last = e
    while pos < end:
        typ = (buf[pos] << 8) | buf[pos + 1]
        start = pos + 4
        pos = start + ((buf[pos + 2] << 8) | buf[pos + 3])
        if typ in _CH_VARIABLE:
            found.append((typ, start - e, pos - e))
            parts.append(buf[last:start])
            last = pos
    parts.append(buf[last:end])
    key = b"".join(parts)
    if len(key) <= _CH_KEY_MAX:
        _remember(n, tuple(found), key, exts)
    return exts


def _remember(
    n: int, cuts: tuple[tuple[int, int, int], ...], key: bytes, exts: ClientExtensions
) -> None:
    """Add a decoded block to the table on its second sighting (see above)."""
    global _CH_TABLE
    h = hash(key)
    if h not in _CH_SEEN:
        if len(_CH_SEEN) >= _CH_SEEN_MAX:
            _CH_SEEN.clear()
        _CH_SEEN.add(h)
        return
    if not _CH_LOCK.acquire(blocking=False):
        return
    try:
        fixed = {name: getattr(exts, name) for name in _CH_FIXED_NAMES}
        table = _CH_TABLE
        if len(table) >= _CH_MAX_LAYOUTS or sum(len(k) for _, _, k in table) >= _CH_MAX_BLOCKS:
            table = _CH_TABLE = ()
        for size, c, known in table:
            if size == n and c == cuts:
                known[key] = fixed
                return
        _CH_TABLE = (*table, (n, cuts, {key: fixed}))
    finally:
        _CH_LOCK.release()


def _decode_client_extensions(buf: bytes, e: int, end: int, what: str) -> ClientExtensions:
    rest = Reader.window(buf, e, end, what)
    exts = ClientExtensions.decode(rest)
    rest.expect_empty()
    return exts


def _read_server_hello_prefix(r: Reader) -> tuple[int, bytes, bytes, int, int]:
    legacy_version = r.u16()
    random = r.take(32)
    session_id = r.vec8(0, 32, "legacy_session_id_echo")
    suite = r.u16()
    compression = r.u8()
    return legacy_version, random, session_id, suite, compression


@dataclass(frozen=True, slots=True)
class ServerHello:
    """RFC 8446 §4.1.3 (RFC 5246 §7.4.1.3 has the same shape)::

        struct {
            ProtocolVersion legacy_version = 0x0303;    /* TLS v1.2 */
            Random random;
            opaque legacy_session_id_echo<0..32>;
            CipherSuite cipher_suite;
            uint8 legacy_compression_method = 0;
            Extension extensions<6..2^16-1>;
        } ServerHello;

    A TLS 1.2 ServerHello may omit ``extensions`` (decoded as empty, ``<0..2^16-1>`` accepted).
    """

    typ: ClassVar[HandshakeType] = HandshakeType.server_hello

    legacy_version: int
    random: bytes
    legacy_session_id_echo: bytes
    cipher_suite: int
    legacy_compression_method: int
    extensions: ServerExtensions

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        put_u16(out, self.legacy_version)
        out += self.random
        put_vec8(out, self.legacy_session_id_echo)
        put_u16(out, self.cipher_suite)
        put_u8(out, self.legacy_compression_method)
        self.extensions.encode(out)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read a ServerHello body (the whole of ``r``) without looking at ``random``;
        use :func:`decode_server_hello` to tell a HelloRetryRequest apart.

        Raises:
            DecodeError: truncated, out of bounds, trailing bytes, duplicate extension
                (alert decode_error).
        """
        version, random, session_id, suite, compression = _read_server_hello_prefix(r)
        return cls._rest(r, version, random, session_id, suite, compression)

    @classmethod
    def _rest(
        cls, r: Reader, version: int, random: bytes, session_id: bytes, suite: int, comp: int
    ) -> Self:
        exts = ServerExtensions.decode(r) if r.any_left() else ServerExtensions()
        r.expect_empty()
        return cls(version, random, session_id, suite, comp, exts)


def encode_server_hello(
    random: bytes, session_id_echo: bytes, cipher_suite: int, extensions: bytes
) -> bytes:
    """The encoded ServerHello handshake message (header included) from its fields and
    ``extensions``, the already encoded extensions vector (its 2-octet length included, as
    :meth:`ServerExtensions.encode` writes it): what ``encode_handshake(ServerHello(0x0303,
    random, session_id_echo, cipher_suite, 0, exts))`` gives, built with one join.

    Raises:
        InternalError: a value out of its field's range (a local bug).
    """
    if len(random) != 32 or len(session_id_echo) > 32 or len(extensions) > 0xFFFF:
        raise InternalError("ServerHello field out of range")
    body_len = 38 + len(session_id_echo) + len(extensions)
    return b"".join(
        (
            (0x02000000 | body_len).to_bytes(4, "big"),
            b"\x03\x03",
            random,
            bytes((len(session_id_echo),)),
            session_id_echo,
            cipher_suite.to_bytes(2, "big"),
            b"\x00",
            extensions,
        )
    )


def encode_server_hello13(
    random: bytes,
    session_id_echo: bytes,
    cipher_suite: int,
    group: int,
    key_exchange: bytes,
    psk_index: int | None,
) -> bytes:
    """The encoded TLS 1.3 ServerHello handshake message (header included): what
    ``encode_handshake(ServerHello(0x0303, random, session_id_echo, cipher_suite, 0,
    ServerExtensions(supported_versions=0x0304, key_share=KeyShareEntry(group,
    key_exchange), pre_shared_key=psk_index)))`` gives, built with one join.

    Raises:
        InternalError: a value out of its field's range (a local bug).
    """
    # Built with one join, the fixed-width fields packed by one struct call each (this runs
    # on every TLS 1.3 handshake).
    sid_len = len(session_id_echo)
    kx_len = len(key_exchange)
    if psk_index is None:
        psk = b""
        ext_len = 14 + kx_len
    elif 0 <= psk_index <= 0xFFFF:
        psk = _SH13_PSK(0x00290002, psk_index)
        ext_len = 20 + kx_len
    else:
        raise InternalError("ServerHello field out of range")
    if len(random) != 32 or sid_len > 32 or not 0 < kx_len <= 0xFFFF - 8 or ext_len > 0xFFFD:
        raise InternalError("ServerHello field out of range")
    return b"".join(
        (
            _SH13_HEAD(0x02000000 | (40 + sid_len + ext_len), 0x0303, random, sid_len),
            session_id_echo,
            _SH13_SUITE(cipher_suite, 0, ext_len),
            psk,
            _SH13_SHARE(0x00330000 | (kx_len + 4), group, kx_len),
            key_exchange,
            b"\x00\x2b\x00\x02\x03\x04",  # supported_versions: TLS 1.3
        )
    )


# encode_server_hello13's fixed-width parts: the handshake header, legacy_version, random
# and the session ID's length; cipher_suite, compression 0 and the extensions' length; the
# pre_shared_key extension; the key_share extension's header, group and key length.
_SH13_HEAD = struct.Struct("!IH32sB").pack
_SH13_SUITE = struct.Struct("!HBH").pack
_SH13_PSK = struct.Struct("!IH").pack
_SH13_SHARE = struct.Struct("!IHH").pack


@dataclass(frozen=True, slots=True)
class HelloRetryRequest:
    """RFC 8446 §4.1.4: a ServerHello with ``random`` = :data:`HRR_RANDOM`,
    ``legacy_compression_method`` = 0 and the HelloRetryRequest extensions.

    On decode a non-zero compression method is rejected (alert illegal_parameter).
    """

    typ: ClassVar[HandshakeType] = HandshakeType.server_hello

    legacy_version: int
    legacy_session_id_echo: bytes
    cipher_suite: int
    extensions: HelloRetryExtensions

    def encode(self, out: bytearray) -> None:
        """Append the body to ``out``."""
        put_u16(out, self.legacy_version)
        out += HRR_RANDOM
        put_vec8(out, self.legacy_session_id_echo)
        put_u16(out, self.cipher_suite)
        put_u8(out, 0)
        self.extensions.encode(out)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read a HelloRetryRequest body (the whole of ``r``).

        Raises:
            DecodeError: truncated, out of bounds, trailing bytes, duplicate extension
                (alert decode_error); ``random`` is not :data:`HRR_RANDOM` or the compression
                method is not 0 (alert illegal_parameter).
        """
        version, random, session_id, suite, compression = _read_server_hello_prefix(r)
        if random != HRR_RANDOM:
            raise DecodeError("HelloRetryRequest: wrong random", AlertDescription.illegal_parameter)
        return cls._rest(r, version, session_id, suite, compression)

    @classmethod
    def _rest(cls, r: Reader, version: int, session_id: bytes, suite: int, comp: int) -> Self:
        if comp != 0:
            raise DecodeError(
                "HelloRetryRequest: legacy_compression_method is not 0",
                AlertDescription.illegal_parameter,
            )
        exts = HelloRetryExtensions.decode(r)
        r.expect_empty()
        return cls(version, session_id, suite, exts)


def decode_server_hello(r: Reader) -> ServerHello | HelloRetryRequest:
    """Read a ``server_hello`` body: a HelloRetryRequest when its random is
    :data:`HRR_RANDOM`, else a ServerHello.

    Raises:
        DecodeError: as :meth:`ServerHello.decode` / :meth:`HelloRetryRequest.decode`.
    """
    fast = _fast_server_hello13(r)
    if fast is not None:
        return fast
    return _decode_server_hello_checked(r)


# The fixed-width fields read with one call each (after _HELLO_PREFIX): cipher_suite,
# compression and the extensions' length; an extension's type and length (or a key share's
# group and key length).
_SH_SUITE = struct.Struct("!HBH").unpack_from
_TYPE_LEN = struct.Struct("!HH").unpack_from


def _fast_server_hello13(r: Reader) -> ServerHello | None:
    """The ServerHello in ``r`` (consumed) when it is the usual TLS 1.3 shape: not a
    HelloRetryRequest, a session ID of at most 32 octets and a non-empty extension list of
    only pre_shared_key, key_share and supported_versions (RFC 8446 §4.1.3), each once and
    well formed.  Anything else (other extensions, any malformed or cut input) gives None
    with ``r`` untouched, for the checked decoder and its errors.  Called once per
    handshake: read in place, without a Reader per field (the same values as the checked
    code), each extension tested by its type in plain locals."""
    buf, p, end = r.span()
    if p + 35 > end:
        return None
    legacy_version, random, sid_len = _HELLO_PREFIX(buf, p)
    q = p + 35 + sid_len  # at cipher_suite
    x = q + 5  # after cipher_suite, compression and the extensions' length
    if sid_len > 32 or x > end or random == HRR_RANDOM:
        return None
    suite, compression, ext_len = _SH_SUITE(buf, q)
    if x + ext_len != end or x == end:
        return None
    psk = share = version = None
    while x < end:
        if x + 4 > end:
            return None
        typ, n = _TYPE_LEN(buf, x)
        x += 4
        if x + n > end:
            return None
        if typ == 0x0033 and share is None:  # key_share: KeyShareEntry, nothing after it
            if n < 5:
                return None
            group, k = _TYPE_LEN(buf, x)  # the group and the key's length
            if k != n - 4:
                return None
            share = KeyShareEntry(group, buf[x + 4 : x + n])
        elif typ == 0x002B and version is None and n == 2:  # supported_versions
            version = (buf[x] << 8) | buf[x + 1]
        elif typ == 0x0029 and psk is None and n == 2:  # pre_shared_key: selected_identity
            psk = (buf[x] << 8) | buf[x + 1]
        else:
            return None
        x += n
    r.take_window()
    return ServerHello(
        legacy_version,
        random,
        buf[p + 35 : q],
        suite,
        compression,
        ServerExtensions._of(
            {"pre_shared_key": psk, "key_share": share, "supported_versions": version}
        ),
    )


def _decode_server_hello_checked(r: Reader) -> ServerHello | HelloRetryRequest:
    """:func:`decode_server_hello` by the Reader, every field checked (any input)."""
    version, random, session_id, suite, compression = _read_server_hello_prefix(r)
    if random == HRR_RANDOM:
        return HelloRetryRequest._rest(r, version, session_id, suite, compression)
    return ServerHello._rest(r, version, random, session_id, suite, compression)
