"""Versioned session values for resumption (RFC 5246 §7.4.1.2, RFC 5077, RFC 8446 §4.6.1).

Four value types, each a frozen dataclass with ``encode() -> bytes`` and
``decode(data) -> Self``:

* :class:`Tls12ServerSessionValue` — what a TLS 1.2 server keeps (in its session cache, or
  sealed inside a ticket) to resume a session;
* :class:`Tls12ClientSessionValue` — what a TLS 1.2 client keeps per server;
* :class:`Tls13ServerSessionValue` / :class:`Tls13ClientSessionValue` — the same for TLS 1.3
  tickets (resumption PSK).

The encoding starts with one format byte naming the type and its version
(:data:`TLS12_SERVER_V1` …); :meth:`decode` rejects any other first byte, truncation,
out-of-range lengths and trailing bytes with :class:`~tlspipe.errors.DecodeError`.  These bytes
come back from storage or from a peer (tickets), so states treat a DecodeError as "no session:
full handshake", never as fatal.  Authenticity comes from where the bytes live: the server only
decodes values out of its own store or out of a ticket its :class:`Ticketer` opened (AEAD).

Secrets (master secret, PSK) are never shown in ``repr``.  Timestamps are whole seconds since
the Unix epoch, lifetimes whole seconds.

Imports only ``errors``, ``enums`` and ``msgs.codec``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Self

from ..errors import DecodeError
from .codec import Reader, put_u8, put_u16, put_u32, put_u64, put_vec8, put_vec16, put_vec24

__all__ = [
    "TLS12_CLIENT_V1",
    "TLS12_SERVER_V1",
    "TLS13_CLIENT_V1",
    "TLS13_SERVER_V1",
    "Tls12ClientSessionValue",
    "Tls12ServerSessionValue",
    "Tls13ClientSessionValue",
    "Tls13ServerSessionValue",
]

#: Format bytes: the high nibble names the kind, the low nibble the format version.
TLS12_SERVER_V1 = 0x21
TLS12_CLIENT_V1 = 0x31
TLS13_SERVER_V1 = 0x41
TLS13_CLIENT_V1 = 0x51


def _start(data: bytes | bytearray | memoryview, fmt: int, what: str) -> Reader:
    r = Reader(bytes(data), what)
    got = r.u8()
    if got != fmt:
        raise DecodeError(f"{what}: unknown format byte 0x{got:02x}")
    return r


def _opt8(v: bytes | None) -> bytes:
    """What :func:`_put_opt8` appends."""
    return b"\x00" if v is None else b"\x01" + bytes((len(v),)) + v


def _chain(chain: tuple[bytes, ...]) -> bytes:
    """What :func:`_put_chain` appends."""
    if not chain:
        return b"\x00\x00"
    return len(chain).to_bytes(2, "big") + b"".join(len(d).to_bytes(3, "big") + d for d in chain)


def _put_opt8(out: bytearray, v: bytes | None) -> None:
    if v is None:
        put_u8(out, 0)
    else:
        put_u8(out, 1)
        put_vec8(out, v)


def _get_opt8(r: Reader, lo: int, what: str) -> bytes | None:
    flag = r.u8()
    if flag == 0:
        return None
    if flag != 1:
        raise DecodeError(f"{what}: bad presence flag")
    return r.vec8(lo, 0xFF, what)


def _put_str(out: bytearray, v: str | None) -> None:
    _put_opt8(out, None if v is None else v.encode("ascii"))


def _get_str(r: Reader, what: str) -> str | None:
    raw = _get_opt8(r, 1, what)
    if raw is None:
        return None
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError(f"{what}: not ASCII") from None


def _put_chain(out: bytearray, chain: tuple[bytes, ...]) -> None:
    put_u16(out, len(chain))
    for der in chain:
        put_vec24(out, der)


def _get_chain(r: Reader, what: str) -> tuple[bytes, ...]:
    n = r.u16()
    if n > 64:
        raise DecodeError(f"{what}: certificate chain too long")
    return tuple(r.vec24(1, 0xFFFFFF, what) for _ in range(n))


# -- fast paths for the values a server decodes once per resumption ---------------------------
# They accept exactly what the Reader-based decoders accept and return the same values; on
# anything unusual they give up (``_Slow``, or an IndexError / struct.error / ValueError from
# reading past the end) and the caller runs the Reader-based decoder, which then raises the
# usual DecodeError (tests compare both on garbage and bit flips).
class _Slow(Exception):
    pass


_QIIIH = struct.Struct("!QIIIH")
_HQ = struct.Struct("!HQ")


def _fast_opt8(b: bytes, p: int) -> tuple[bytes | None, int]:
    """``_get_opt8(r, 1, ...)`` at ``p``: (value, next position)."""
    flag = b[p]
    if flag == 0:
        return None, p + 1
    n = b[p + 1]
    end = p + 2 + n
    if flag != 1 or n < 1 or end > len(b):
        raise _Slow
    return b[p + 2 : end], end


def _fast_chain(b: bytes, p: int, n: int) -> tuple[bytes, ...]:
    """``_get_chain``'s entries (``n`` of them, count already read) up to the very end."""
    if n == 0:
        if p != len(b):
            raise _Slow
        return ()
    if n > 64:
        raise _Slow
    out = []
    for _ in range(n):
        ln = int.from_bytes(b[p : p + 3], "big")
        end = p + 3 + ln
        if ln < 1 or end > len(b):
            raise _Slow
        out.append(b[p + 3 : end])
        p = end
    if p != len(b):
        raise _Slow
    return tuple(out)


def _get_bool(r: Reader, what: str) -> bool:
    v = r.u8()
    if v > 1:
        raise DecodeError(f"{what}: bad boolean")
    return v == 1


@dataclass(frozen=True, slots=True)
class Tls12ServerSessionValue:
    """A TLS 1.2 session as the server keeps it (cache entry or ticket contents).

    Attributes:
        suite: the cipher suite (wire code) of the session.
        master_secret: the 48-byte master secret.
        extended_ms: whether the session used the extended master secret (RFC 7627).
        sni: the SNI host name of the original handshake, or None.
        alpn: the ALPN protocol agreed, or None.
        client_cert_chain: the client's certificates (DER), empty without client auth.
        created_at: when the session was established (Unix seconds).
    """

    suite: int
    master_secret: bytes = field(repr=False)
    extended_ms: bool
    sni: str | None
    alpn: bytes | None
    client_cert_chain: tuple[bytes, ...]
    created_at: int

    def encode(self) -> bytes:
        """The versioned encoding (first byte :data:`TLS12_SERVER_V1`)."""
        ms = self.master_secret
        sni = self.sni
        return b"".join(  # one join; the bytes the _put_* helpers would write
            (
                bytes((TLS12_SERVER_V1,)),
                self.suite.to_bytes(2, "big"),
                bytes((len(ms),)),
                ms,
                b"\x01" if self.extended_ms else b"\x00",
                _opt8(None if sni is None else sni.encode("ascii")),
                _opt8(self.alpn),
                _chain(self.client_cert_chain),
                self.created_at.to_bytes(8, "big"),
            )
        )

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> Self:
        """Parse :meth:`encode` output.

        Raises:
            DecodeError: wrong format byte, malformed or trailing bytes.
        """
        b = data if type(data) is bytes else bytes(data)
        try:
            if b[0] != TLS12_SERVER_V1 or b[3] != 48 or b[52] > 1:
                raise _Slow
            suite = (b[1] << 8) | b[2]
            ms = b[4:52]
            sni_raw, p = _fast_opt8(b, 53)
            sni = None if sni_raw is None else sni_raw.decode("ascii")
            alpn, p = _fast_opt8(b, p)
            n = (b[p] << 8) | b[p + 1]
            if n == 0:
                created = _HQ.unpack_from(b, p)[1]
                if p + 10 != len(b):
                    raise _Slow
                chain: tuple[bytes, ...] = ()
            else:  # the chain comes before created_at: let the Reader do it
                raise _Slow
            return cls(suite, ms, b[52] == 1, sni, alpn, chain, created)
        except (_Slow, IndexError, struct.error, ValueError):
            pass
        return cls._decode_checked(b)

    @classmethod
    def _decode_checked(cls, data: bytes | bytearray | memoryview) -> Self:
        w = "Tls12ServerSessionValue"
        r = _start(data, TLS12_SERVER_V1, w)
        suite = r.u16()
        ms = r.vec8(48, 48, w)
        ems = _get_bool(r, w)
        sni = _get_str(r, w)
        alpn = _get_opt8(r, 1, w)
        chain = _get_chain(r, w)
        created = r.u64()
        r.expect_empty()
        return cls(suite, ms, ems, sni, alpn, chain, created)


@dataclass(frozen=True, slots=True)
class Tls12ClientSessionValue:
    """A TLS 1.2 session as the client keeps it for one server.

    Attributes:
        suite: the cipher suite (wire code).
        session_id: the server's session ID (may be empty when only a ticket is held).
        ticket: the RFC 5077 ticket (``b""`` when none).
        master_secret: the 48-byte master secret.
        extended_ms: whether the session used the extended master secret (RFC 7627).
        server_cert_chain: the server's certificates (DER, leaf first), verified when the
            session was made.
        alpn: the ALPN protocol agreed, or None.
        received_at: when the session (or ticket) was received (Unix seconds).
        lifetime: how long it may be used, in seconds from ``received_at``.
    """

    suite: int
    session_id: bytes
    ticket: bytes
    master_secret: bytes = field(repr=False)
    extended_ms: bool
    server_cert_chain: tuple[bytes, ...]
    alpn: bytes | None
    received_at: int
    lifetime: int

    def expired(self, now: int) -> bool:
        """True when ``now`` (Unix seconds) is past the lifetime or before ``received_at``.

        Raises:
            Nothing.
        """
        return not self.received_at <= now < self.received_at + self.lifetime

    def encode(self) -> bytes:
        """The versioned encoding (first byte :data:`TLS12_CLIENT_V1`)."""
        out = bytearray((TLS12_CLIENT_V1,))
        put_u16(out, self.suite)
        put_vec8(out, self.session_id)
        put_vec16(out, self.ticket)
        put_vec8(out, self.master_secret)
        put_u8(out, int(self.extended_ms))
        _put_chain(out, self.server_cert_chain)
        _put_opt8(out, self.alpn)
        put_u64(out, self.received_at)
        put_u32(out, self.lifetime)
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> Self:
        """Parse :meth:`encode` output.

        Raises:
            DecodeError: wrong format byte, malformed or trailing bytes.
        """
        w = "Tls12ClientSessionValue"
        r = _start(data, TLS12_CLIENT_V1, w)
        suite = r.u16()
        sid = r.vec8(0, 32, w)
        ticket = r.vec16(0, 0xFFFF, w)
        ms = r.vec8(48, 48, w)
        ems = _get_bool(r, w)
        chain = _get_chain(r, w)
        alpn = _get_opt8(r, 1, w)
        received = r.u64()
        lifetime = r.u32()
        r.expect_empty()
        return cls(suite, sid, ticket, ms, ems, chain, alpn, received, lifetime)


@dataclass(frozen=True, slots=True)
class Tls13ServerSessionValue:
    """A TLS 1.3 resumable session as the server keeps it (stateful) or seals (ticket).

    Attributes:
        suite: the cipher suite (wire code) the PSK belongs to.
        secret: the resumption PSK (RFC 8446 §4.6.1).
        alpn: the ALPN protocol of the original connection, or None.
        sni: the SNI host name of the original connection, or None.
        created_at: when the ticket was issued (Unix seconds).
        age_add: the ticket_age_add value sent with the ticket.
        lifetime: ticket_lifetime in seconds.
        max_early_data: max_early_data_size announced (0: no 0-RTT).
        client_cert_chain: the client's certificates (DER), empty without client auth.
    """

    suite: int
    secret: bytes = field(repr=False)
    alpn: bytes | None
    sni: str | None
    created_at: int
    age_add: int
    lifetime: int
    max_early_data: int
    client_cert_chain: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        """The versioned encoding (first byte :data:`TLS13_SERVER_V1`)."""
        secret = self.secret
        sni = self.sni
        return b"".join(  # one join; the bytes the _put_* helpers would write
            (
                bytes((TLS13_SERVER_V1,)),
                self.suite.to_bytes(2, "big"),
                bytes((len(secret),)),
                secret,
                _opt8(self.alpn),
                _opt8(None if sni is None else sni.encode("ascii")),
                self.created_at.to_bytes(8, "big"),
                self.age_add.to_bytes(4, "big"),
                self.lifetime.to_bytes(4, "big"),
                self.max_early_data.to_bytes(4, "big"),
                _chain(self.client_cert_chain),
            )
        )

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> Self:
        """Parse :meth:`encode` output.

        Raises:
            DecodeError: wrong format byte, malformed or trailing bytes.
        """
        b = data if type(data) is bytes else bytes(data)
        try:
            n = b[3]
            if b[0] != TLS13_SERVER_V1 or n < 1:
                raise _Slow
            suite = (b[1] << 8) | b[2]
            p = 4 + n
            secret = b[4:p]
            if len(secret) != n:
                raise _Slow
            alpn, p = _fast_opt8(b, p)
            sni_raw, p = _fast_opt8(b, p)
            sni = None if sni_raw is None else sni_raw.decode("ascii")
            created, age_add, lifetime, max_early, count = _QIIIH.unpack_from(b, p)
            chain = _fast_chain(b, p + 22, count)
            return cls(suite, secret, alpn, sni, created, age_add, lifetime, max_early, chain)
        except (_Slow, IndexError, struct.error, ValueError):
            pass
        return cls._decode_checked(b)

    @classmethod
    def _decode_checked(cls, data: bytes | bytearray | memoryview) -> Self:
        w = "Tls13ServerSessionValue"
        r = _start(data, TLS13_SERVER_V1, w)
        suite = r.u16()
        secret = r.vec8(1, 0xFF, w)
        alpn = _get_opt8(r, 1, w)
        sni = _get_str(r, w)
        created = r.u64()
        age_add = r.u32()
        lifetime = r.u32()
        max_early = r.u32()
        chain = _get_chain(r, w)
        r.expect_empty()
        return cls(suite, secret, alpn, sni, created, age_add, lifetime, max_early, chain)


@dataclass(frozen=True, slots=True)
class Tls13ClientSessionValue:
    """A TLS 1.3 ticket as the client keeps it (RFC 8446 §4.6.1); each is used once.

    Attributes:
        suite: the cipher suite (wire code) the PSK belongs to.
        ticket: the opaque ticket (the PSK identity).
        secret: the resumption PSK.
        age_add: ticket_age_add from the NewSessionTicket.
        lifetime: ticket_lifetime in seconds.
        received_at: when the ticket arrived (Unix seconds; the age is counted from here).
        max_early_data: max_early_data_size the server allows (0: no 0-RTT).
        alpn: the ALPN protocol of the original connection, or None.
        server_name: the name the client connected to.
        server_cert_chain: the server's certificates of the original connection (DER).
    """

    suite: int
    ticket: bytes
    secret: bytes = field(repr=False)
    age_add: int
    lifetime: int
    received_at: int
    max_early_data: int
    alpn: bytes | None
    server_name: str
    server_cert_chain: tuple[bytes, ...] = ()

    def expired(self, now: int) -> bool:
        """True when ``now`` (Unix seconds) is past the lifetime or before ``received_at``.

        Raises:
            Nothing.
        """
        return not self.received_at <= now < self.received_at + self.lifetime

    def encode(self) -> bytes:
        """The versioned encoding (first byte :data:`TLS13_CLIENT_V1`)."""
        out = bytearray((TLS13_CLIENT_V1,))
        put_u16(out, self.suite)
        put_vec16(out, self.ticket)
        put_vec8(out, self.secret)
        put_u32(out, self.age_add)
        put_u32(out, self.lifetime)
        put_u64(out, self.received_at)
        put_u32(out, self.max_early_data)
        _put_opt8(out, self.alpn)
        put_vec8(out, self.server_name.encode("ascii"))
        _put_chain(out, self.server_cert_chain)
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> Self:
        """Parse :meth:`encode` output.

        Raises:
            DecodeError: wrong format byte, malformed or trailing bytes.
        """
        w = "Tls13ClientSessionValue"
        r = _start(data, TLS13_CLIENT_V1, w)
        suite = r.u16()
        ticket = r.vec16(1, 0xFFFF, w)
        secret = r.vec8(1, 0xFF, w)
        age_add = r.u32()
        lifetime = r.u32()
        received = r.u64()
        max_early = r.u32()
        alpn = _get_opt8(r, 1, w)
        try:
            name = r.vec8(1, 0xFF, w).decode("ascii")
        except UnicodeDecodeError:
            raise DecodeError(f"{w}: server name not ASCII") from None
        chain = _get_chain(r, w)
        r.expect_empty()
        return cls(suite, ticket, secret, age_add, lifetime, received, max_early, alpn, name, chain)
