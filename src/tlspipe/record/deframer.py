"""Record framing in: TLS bytes → :class:`Record` objects → joined handshake messages.

This room holds the two reassembly buffers of the receive path:

- :class:`Deframer` cuts the peer's byte stream into TLS records (RFC 8446 §5.1, RFC 5246
  §6.2.1).  Records may be split across any number of :meth:`Deframer.feed` calls and many
  records may arrive in one.  The buffer is bounded.
- :class:`HandshakeJoiner` reassembles handshake messages (RFC 8446 §4, §5.1) from the
  payloads of handshake records: one message may span many records and one record may carry
  several messages.  Message size is bounded.

Neither knows about keys: the deframer returns records as they are on the wire (protected
or not); :mod:`tlspipe.record.layer` removes the protection.  Imports only ``errors`` and
``enums`` (layer 1).

Choices (the spec left them open):

- Unknown record content type → ``DecodeError`` with alert ``unexpected_message``
  (RFC 8446 §5: "If a TLS implementation receives an unexpected record type, it MUST
  terminate the connection with an unexpected_message alert").
- Record version whose major octet is not 3 → ``DecodeError`` with alert ``decode_error``
  (the bytes are not TLS framing at all; the minor octet is left to the caller, since
  RFC 8446 §5.1 says legacy_record_version is otherwise ignored).
- Record length above the ciphertext bound → :class:`~tlspipe.errors.RecordOverflow`
  (alert ``record_overflow``).  The bound defaults to 2^14 + 2048 (RFC 5246 §6.2.3, the
  TLS 1.2 bound); :meth:`Deframer.set_tls13` tightens it to 2^14 + 256 (RFC 8446 §5.2).
- Handshake message longer than ``max_message_size`` → ``DecodeError`` with alert
  ``illegal_parameter`` (the RFC names no alert; this is what OpenSSL sends for an
  "excessive message size").  A zero-length handshake record (RFC 8446 §5.1 "MUST NOT
  send zero-length fragments of Handshake types") → ``DecodeError`` with alert
  ``unexpected_message``.
- Headers are checked as soon as their bytes are present, before the payload has arrived,
  so garbage fails fast.

Speed (the bulk receive path): :class:`Record` is a ``NamedTuple`` (immutable, built in a
third of a frozen dataclass's time), and a ``bytes`` object fed while nothing is buffered is
kept as it is instead of being copied into the buffer: records are sliced straight out of it,
and only an incomplete tail is ever copied.  A large ``bytes`` piece (2^14 octets or more)
that completes such a tail and brings as much again is joined with it into a new fed object
rather than appended to the buffer (see ``Deframer._join``), so socket-sized reads cut
anywhere in the stream stay on that path.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from ..enums import AlertDescription
from ..errors import DecodeError, RecordOverflow

__all__ = [
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_MAX_HANDSHAKE_MESSAGE",
    "HEADER_LEN",
    "MAX_CIPHERTEXT_TLS12",
    "MAX_CIPHERTEXT_TLS13",
    "MAX_PLAINTEXT",
    "Deframer",
    "HandshakeJoiner",
    "Record",
]

HEADER_LEN = 5
"""Length of the TLS record header: type(1) || legacy_record_version(2) || length(2)."""
MAX_PLAINTEXT = 2**14
"""RFC 8446 §5.1 / RFC 5246 §6.2.1: TLSPlaintext.length MUST NOT exceed 2^14."""
MAX_CIPHERTEXT_TLS12 = 2**14 + 2048
"""RFC 5246 §6.2.3: TLSCiphertext.length MUST NOT exceed 2^14 + 2048."""
MAX_CIPHERTEXT_TLS13 = 2**14 + 256
"""RFC 8446 §5.2: TLSCiphertext.length MUST NOT exceed 2^14 + 256."""
DEFAULT_MAX_BUFFER = 2**16 + HEADER_LEN + MAX_CIPHERTEXT_TLS12
"""Default deframer bound: one 64 KiB read on top of a buffered, almost complete record."""
DEFAULT_MAX_HANDSHAKE_MESSAGE = 65536
"""Default bound on a handshake message body (the uint24 length field)."""

_HEADER = struct.Struct("!BHH")
_HS_HEADER = struct.Struct("!I")
# Content types a record may carry (RFC 8446 §5.1); index by octet → valid?
_VALID_TYPE = bytes(1 if t in (20, 21, 22, 23) else 0 for t in range(256))


class Record(NamedTuple):
    """One TLS record as it was on the wire (RFC 8446 §5.1)::

        struct {
            ContentType type;
            ProtocolVersion legacy_record_version;
            uint16 length;
            opaque fragment[TLSPlaintext.length];
        } TLSPlaintext;

    ``payload`` is the fragment (ciphertext for protected records).  The header is not kept:
    :meth:`header` rebuilds it (the AEAD additional data needs it).  Immutable (a
    ``NamedTuple``).
    """

    content_type: int
    version: int
    payload: bytes

    def header(self) -> bytes:
        """The 5-byte record header for this record's type, version and payload length."""
        return _HEADER.pack(self.content_type, self.version, len(self.payload))

    def encode(self) -> bytes:
        """The complete record: header || payload."""
        return _HEADER.pack(self.content_type, self.version, len(self.payload)) + self.payload


def _check_header_prefix(buf: bytearray | bytes, have: int, max_record: int) -> None:
    """Validate whatever part of a record header is present (``have`` octets, ≥ 1).

    Raises:
        DecodeError: unknown content type (alert ``unexpected_message``) or a version whose
            major octet is not 3 (alert ``decode_error``).
        RecordOverflow: length above ``max_record`` (alert ``record_overflow``).
    """
    typ = buf[0]
    if not _VALID_TYPE[typ]:
        raise DecodeError(
            f"record: unknown content type {typ}", alert=AlertDescription.unexpected_message
        )
    if have >= 2 and buf[1] != 3:
        raise DecodeError(f"record: bad version major octet {buf[1]:#04x}")
    if have >= HEADER_LEN:
        length = (buf[3] << 8) | buf[4]
        if length > max_record:
            raise RecordOverflow(f"record: length {length} exceeds {max_record}")


class Deframer:
    """Splits a TLS byte stream into :class:`Record` objects.

    Feed bytes with :meth:`feed`, then call :meth:`pop` until it returns ``None``.  The
    number of buffered bytes never exceeds ``max_buffer``: :meth:`feed` accepts a prefix of
    its argument when the rest would not fit and returns how many octets it took (the
    caller, e.g. ``read_tls``, reports that count and offers the rest again after popping).

    Args:
        max_buffer: bound on buffered, not yet popped octets.  Must hold at least one
            maximal record (header + ``max_record_len``) or the stream could stall.
        max_record_len: bound on the record length field; default 2^14 + 2048 (TLS 1.2).

    Raises:
        ValueError: ``max_buffer`` smaller than one maximal record (a programming error).

    Attributes:
        fed: a ``bytes`` object fed while nothing was buffered, kept without copying (its
            first ``off`` octets are consumed).
        off: how many octets of ``fed`` were consumed (0 whenever ``fed`` is empty).
        buf: the other buffered octets; never modify it.  ``fed`` and ``buf`` are both
            empty exactly when :meth:`is_empty` is true.
        max_buffer: the bound given at construction.
        max_record_len: the current bound on a record's length field.

    All of them are read-only for everyone but the deframer, except that the connection's
    hot paths (``read_tls``, ``process_new_packets``) run :meth:`feed`'s and :meth:`pop`'s
    common cases inline: an empty deframer taking a ``bytes`` object as ``fed``, and a
    complete, valid record sliced out of ``fed`` by advancing ``off``.
    """

    __slots__ = ("buf", "fed", "max_buffer", "max_record_len", "off")

    def __init__(
        self, max_buffer: int = DEFAULT_MAX_BUFFER, *, max_record_len: int = MAX_CIPHERTEXT_TLS12
    ) -> None:
        if max_record_len < 0 or max_record_len > 0xFFFF:
            raise ValueError("max_record_len must be in 0..65535")
        if max_buffer < HEADER_LEN + max_record_len:
            raise ValueError("max_buffer must hold at least one maximal record")
        # Buffered octets, in order: fed[off:] (an immutable bytes object fed while buf
        # was empty, not copied) then buf.  Invariant: buf is empty while fed is in use.
        self.buf = bytearray()
        self.fed = b""
        self.off = 0
        self.max_buffer = max_buffer
        self.max_record_len = max_record_len

    def set_tls13(self) -> None:
        """Tighten the record length bound to TLS 1.3's 2^14 + 256 (RFC 8446 §5.2).

        Applies to every record not yet popped, including ones already buffered.
        """
        self.max_record_len = min(self.max_record_len, MAX_CIPHERTEXT_TLS13)

    def space(self) -> int:
        """How many more octets :meth:`feed` would accept now."""
        return self.max_buffer - len(self)

    def __len__(self) -> int:
        """Number of buffered octets not yet returned as records."""
        return len(self.buf) + len(self.fed) - self.off

    def is_empty(self) -> bool:
        """True when no octets are buffered (no partial record: a clean place for EOF)."""
        return not self.buf and not self.fed

    def _spill(self) -> None:
        """Move the unconsumed part of ``_pend`` into ``_buf`` (which is empty)."""
        if self.fed:
            with memoryview(self.fed) as mv:
                self.buf += mv[self.off :]
            self.fed = b""
            self.off = 0

    def feed(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer TLS bytes from the peer.

        Returns:
            How many octets of ``data`` were taken: ``len(data)`` unless that would exceed
            ``max_buffer``, in which case a prefix is taken (possibly 0).  Pop records and
            offer the remainder again.
        """
        n = len(data) if not isinstance(data, memoryview) else data.nbytes
        buf = self.buf
        if not buf and not self.fed:
            if n <= self.max_buffer and type(data) is bytes:
                if n:
                    self.fed = data  # immutable: kept without copying
                    self.off = 0
                return n
            room = self.max_buffer
        else:
            room = self.max_buffer - len(buf) - len(self.fed) + self.off
        if n <= room:
            if n >= MAX_PLAINTEXT and type(data) is bytes and self._join(data):
                return n
            self._spill()
            self.buf += data
            return n
        if room <= 0:
            return 0
        self._spill()
        mv = data if isinstance(data, memoryview) else memoryview(data)
        self.buf += mv.cast("B")[:room]
        return room

    def _join(self, data: bytes) -> bool:
        """Make the buffered octets and ``data`` one fed ``bytes`` object when that pays.

        It pays when ``data`` (typically a large socket read) completes the record the
        buffered octets start (a tail an earlier read cut off) and brings as much again:
        the records are then sliced (and bulk data opened) where they are, instead of
        going through the buffer.  What is copied is never longer than ``data``, so
        feeding stays linear, as appending is.  Only called for room-fitting ``data`` of at
        least 2^14 octets.

        Returns:
            True when ``data`` was taken this way.
        """
        fed = self.fed
        buf = self.buf
        p, o = (fed, self.off) if fed else (buf, 0)
        buffered = len(p) - o
        if len(data) < buffered:
            return False
        first = HEADER_LEN + ((p[o + 3] << 8) | p[o + 4]) if buffered >= HEADER_LEN else 0
        if buffered + len(data) < 2 * first:
            return False
        if fed:
            self.fed = fed[self.off :] + data
        else:
            self.fed = b"".join((buf, data))
            buf.clear()
        self.off = 0
        return True

    def pop(self) -> Record | None:
        """The next complete record, or ``None`` when more bytes are needed.

        Zero-length records are returned; the connection decides whether their type allows
        them.

        Raises:
            DecodeError: unknown content type (alert ``unexpected_message``); version major
                octet not 3 (alert ``decode_error``).
            RecordOverflow: length field above the bound (alert ``record_overflow``).
        """
        p = self.fed
        if p:
            off = self.off
            total = len(p)
            if total - off >= HEADER_LEN:
                typ, version, length = _HEADER.unpack_from(p, off)
                if not _VALID_TYPE[typ] or (version >> 8) != 3 or length > self.max_record_len:
                    _check_header_prefix(p[off : off + HEADER_LEN], HEADER_LEN, self.max_record_len)
                end = off + HEADER_LEN + length
                if end <= total:
                    if end == total:
                        self.fed = b""
                        self.off = 0
                    else:
                        self.off = end
                    return _new_record(Record, (typ, version, p[off + HEADER_LEN : end]))
            self._spill()  # an incomplete record: continue in the buffer
        buf = self.buf
        have = len(buf)
        if have < HEADER_LEN:
            if have:
                _check_header_prefix(buf, have, self.max_record_len)
            return None
        typ, version, length = _HEADER.unpack_from(buf)
        if not _VALID_TYPE[typ] or (version >> 8) != 3 or length > self.max_record_len:
            _check_header_prefix(buf, HEADER_LEN, self.max_record_len)
        end = HEADER_LEN + length
        if end > have:
            return None
        with memoryview(buf) as mv:
            payload = mv[HEADER_LEN:end].tobytes()
        del buf[:end]
        return _new_record(Record, (typ, version, payload))


_new_record = tuple.__new__
"""Builds a :class:`Record` from a ``(type, version, payload)`` tuple without the
``NamedTuple`` argument handling (the hot path)."""


class HandshakeJoiner:
    """Reassembles handshake messages from handshake record payloads (RFC 8446 §4, §5.1).

    :meth:`push` each handshake record's plaintext, then :meth:`pop` complete messages
    (4-byte header included, as the transcript needs them).  Every message header is
    checked against ``max_message_size`` as soon as it is complete, so the buffer never
    holds more than one bounded message plus one record.

    Args:
        max_message_size: bound on a message body length (the uint24 length field).

    A record that holds whole messages only can be split without copying it in and out:
    :meth:`whole_messages` (the connection's path for a multi-message record while the
    joiner is empty).  While the connection hands those messages to the state one by one,
    it keeps ``held`` at the number of octets of the messages after the current one, so
    that :meth:`is_empty` (the key-change check) says what it would have said had the
    record been pushed and popped.

    Attributes:
        pending: the buffered octets (read it, never modify it; empty exactly when
            :meth:`is_empty` is true, ``held`` aside — the connection's per-record check
            reads it directly).
        held: octets of whole messages split off a record by :meth:`whole_messages` and
            not yet handled (set by the connection while it hands them out, and reset to 0
            when it stops, however it stops: outside that loop, ``pending`` alone is exact,
            which the CCS and application-data checks rely on).
    """

    __slots__ = ("_checked", "_max", "held", "pending")

    def __init__(self, max_message_size: int = DEFAULT_MAX_HANDSHAKE_MESSAGE) -> None:
        self.pending = bytearray()
        self._checked = 0  # offset of the next header not yet bounds-checked
        self._max = max_message_size
        self.held = 0

    def is_empty(self) -> bool:
        """True when no partial or unpopped message is buffered (nor held).

        RFC 8446 §5.1: handshake messages MUST NOT span key changes; the connection checks
        this before changing keys.
        """
        return not self.pending and not self.held

    def whole_messages(self, payload: bytes) -> list[int] | None:
        """Where the messages of one handshake record's plaintext end, when it holds whole
        messages only; ``None`` otherwise (then :meth:`push` it).  For an empty joiner:
        the messages are the ones :meth:`push` then :meth:`pop` would hand out, in order
        (``payload[previous end:end]``).  Every complete header is checked as :meth:`push`
        checks it, before any message is handed out.

        Raises:
            DecodeError: a message body longer than ``max_message_size`` (alert
                ``illegal_parameter``), exactly as :meth:`push` would raise it.
        """
        n = len(payload)
        ends: list[int] = []
        at = 0
        while at + 4 <= n:
            length = _HS_HEADER.unpack_from(payload, at)[0] & 0xFFFFFF
            if length > self._max:
                raise _too_long(length, self._max)
            at += 4 + length
            ends.append(at)
        return ends if at == n and ends else None

    def __len__(self) -> int:
        """Number of buffered octets."""
        return len(self.pending)

    def push(self, payload: bytes | bytearray | memoryview) -> None:
        """Add one handshake record's plaintext.

        Raises:
            DecodeError: zero-length payload (alert ``unexpected_message``, RFC 8446 §5.1);
                a message body longer than ``max_message_size`` (alert
                ``illegal_parameter``).
        """
        if not len(payload):
            raise DecodeError(
                "handshake: zero-length handshake record",
                alert=AlertDescription.unexpected_message,
            )
        buf = self.pending
        buf += payload
        checked = self._checked
        end = len(buf)
        while checked + 4 <= end:
            length = _HS_HEADER.unpack_from(buf, checked)[0] & 0xFFFFFF
            if length > self._max:
                raise _too_long(length, self._max)
            checked += 4 + length
        self._checked = checked

    def pop(self) -> bytes | None:
        """The next complete handshake message (header included), or ``None``."""
        buf = self.pending
        have = len(buf)
        if have < 4:
            return None
        end = 4 + (_HS_HEADER.unpack_from(buf)[0] & 0xFFFFFF)
        if end > have:
            return None
        if end == have:
            msg = bytes(buf)
            buf.clear()
        else:  # a slice copied to bytes: fewer steps than a released memoryview's tobytes()
            msg = bytes(buf[:end])
            del buf[:end]
        self._checked -= end
        return msg


def _too_long(length: int, bound: int) -> DecodeError:
    """The error for a handshake message body longer than the joiner's bound."""
    return DecodeError(
        f"handshake: message length {length} exceeds {bound}",
        alert=AlertDescription.illegal_parameter,
    )
