"""Primitive wire codec: a bounds-checked :class:`Reader` and ``put_*`` writers.

RFC 8446 §3 presentation language: big-endian integers, vectors with a length prefix of
1, 2 or 3 octets and ``<lo..hi>`` bounds.  Every failure to decode raises
:class:`~tlspipe.errors.DecodeError` and nothing else.  Imports only ``errors``.
"""

from __future__ import annotations

import struct

from ..errors import DecodeError

__all__ = [
    "Reader",
    "length_prefixed",
    "put_u8",
    "put_u16",
    "put_u24",
    "put_u32",
    "put_u64",
    "put_vec8",
    "put_vec16",
    "put_vec24",
]


_U16 = struct.Struct("!H").unpack_from
_U32 = struct.Struct("!I").unpack_from
_U64 = struct.Struct("!Q").unpack_from


class Reader:
    """Reads from a bytes-like buffer, never past its end.

    ``what`` names the structure being read, for error messages.  The data is held as one
    ``bytes`` object (a non-``bytes`` argument is copied once); sub-readers share it and only
    narrow the window, so nothing is copied until :meth:`take` slices out a result.
    """

    __slots__ = ("_buf", "_end", "_pos", "what")

    def __init__(self, data: bytes | bytearray | memoryview, what: str = "message") -> None:
        if type(data) is not bytes:
            data = memoryview(data).cast("B").tobytes()
        self._buf: bytes = data
        self._pos = 0
        self._end = len(data)
        self.what = what

    @classmethod
    def _window(cls, buf: bytes, pos: int, end: int, what: str) -> Reader:
        """A reader over ``buf[pos:end]`` without copying (for sub-readers)."""
        r = cls.__new__(cls)
        r._buf = buf
        r._pos = pos
        r._end = end
        r.what = what
        return r

    def span(self) -> tuple[bytes, int, int]:
        """``(buffer, start, end)`` with the unread octets at ``buffer[start:end]``, nothing
        consumed (a decoder's fast path reads them in place, then :meth:`take_window`)."""
        return self._buf, self._pos, self._end

    def take_window(self) -> tuple[bytes, int, int]:
        """Consume every remaining octet, returning ``(buffer, start, end)``: the unread
        octets are ``buffer[start:end]`` (for decoders that walk the bytes themselves)."""
        pos = self._pos
        self._pos = end = self._end
        return self._buf, pos, end

    #: Public name of :meth:`_window`: a reader over ``buf[pos:end]`` (``buf`` must be
    #: ``bytes`` and ``0 <= pos <= end <= len(buf)``; nothing is checked or copied).
    window = _window

    # -- state -------------------------------------------------------------------------------
    def remaining(self) -> int:
        """Number of unread octets."""
        return self._end - self._pos

    def any_left(self) -> bool:
        """True when unread octets remain."""
        return self._pos < self._end

    def expect_empty(self) -> None:
        """Raise :class:`DecodeError` if unread octets remain (no trailing data)."""
        if self._pos != self._end:
            raise DecodeError(f"{self.what}: {self._end - self._pos} trailing bytes")

    def rest(self) -> bytes:
        """Take every remaining octet."""
        pos = self._pos
        self._pos = end = self._end
        return self._buf[pos:end]

    def peek_rest(self) -> bytes:
        """Every remaining octet, without consuming them."""
        return self._buf[self._pos : self._end]

    # -- primitives --------------------------------------------------------------------------
    def take(self, n: int) -> bytes:
        """Take exactly ``n`` octets."""
        pos = self._pos
        end = pos + n
        if n < 0 or end > self._end:
            raise DecodeError(f"{self.what}: truncated (wanted {n}, have {self.remaining()})")
        self._pos = end
        return self._buf[pos:end]

    def u8(self) -> int:
        """Read a uint8."""
        pos = self._pos
        if pos >= self._end:
            raise DecodeError(f"{self.what}: truncated uint8")
        self._pos = pos + 1
        return self._buf[pos]

    def _uint(self, n: int) -> int:
        pos = self._pos
        if pos + n > self._end:
            raise DecodeError(f"{self.what}: truncated uint{8 * n}")
        self._pos = pos + n
        return int.from_bytes(self._buf[pos : pos + n], "big")

    def u16(self) -> int:
        """Read a uint16."""
        pos = self._pos
        if pos + 2 > self._end:
            raise DecodeError(f"{self.what}: truncated uint16")
        self._pos = pos + 2
        v: int = _U16(self._buf, pos)[0]
        return v

    def u24(self) -> int:
        """Read a uint24."""
        return self._uint(3)

    def u32(self) -> int:
        """Read a uint32."""
        pos = self._pos
        if pos + 4 > self._end:
            raise DecodeError(f"{self.what}: truncated uint32")
        self._pos = pos + 4
        v: int = _U32(self._buf, pos)[0]
        return v

    def u64(self) -> int:
        """Read a uint64."""
        pos = self._pos
        if pos + 8 > self._end:
            raise DecodeError(f"{self.what}: truncated uint64")
        self._pos = pos + 8
        v: int = _U64(self._buf, pos)[0]
        return v

    # -- vectors -----------------------------------------------------------------------------
    def _length(self, prefix: int, lo: int, hi: int, what: str) -> int:
        pos = self._pos
        if pos + prefix > self._end:
            raise DecodeError(f"{self.what}: truncated uint{8 * prefix}")
        buf = self._buf
        if prefix == 1:
            n = buf[pos]
        elif prefix == 2:
            n = (buf[pos] << 8) | buf[pos + 1]
        else:
            n = int.from_bytes(buf[pos : pos + prefix], "big")
        self._pos = pos + prefix
        if n < lo or n > hi:
            raise DecodeError(f"{self.what}: {what} length {n} outside <{lo}..{hi}>")
        return n

    def vec8(self, lo: int = 0, hi: int = 0xFF, what: str = "vector") -> bytes:
        """Read ``opaque x<lo..hi>`` with a 1-octet length."""
        return self.take(self._length(1, lo, hi, what))

    def vec16(self, lo: int = 0, hi: int = 0xFFFF, what: str = "vector") -> bytes:
        """Read ``opaque x<lo..hi>`` with a 2-octet length."""
        return self.take(self._length(2, lo, hi, what))

    def vec24(self, lo: int = 0, hi: int = 0xFFFFFF, what: str = "vector") -> bytes:
        """Read ``opaque x<lo..hi>`` with a 3-octet length."""
        return self.take(self._length(3, lo, hi, what))

    def sub8(self, lo: int = 0, hi: int = 0xFF, what: str = "vector") -> Reader:
        """A sub-reader over a vector with a 1-octet length."""
        return self._sub(self._length(1, lo, hi, what), what)

    def sub16(self, lo: int = 0, hi: int = 0xFFFF, what: str = "vector") -> Reader:
        """A sub-reader over a vector with a 2-octet length."""
        return self._sub(self._length(2, lo, hi, what), what)

    def sub24(self, lo: int = 0, hi: int = 0xFFFFFF, what: str = "vector") -> Reader:
        """A sub-reader over a vector with a 3-octet length."""
        return self._sub(self._length(3, lo, hi, what), what)

    def _sub(self, n: int, what: str) -> Reader:
        pos = self._pos
        end = pos + n
        if end > self._end:
            raise DecodeError(f"{self.what}: {what} truncated")
        self._pos = end
        return Reader._window(self._buf, pos, end, what)

    def extension(self) -> tuple[int, Reader]:
        """Read one ``struct { uint16 extension_type; opaque extension_data<0..2^16-1>; }``:
        the type and a sub-reader over the data named ``"extension <type>"`` (what
        ``u16()`` then ``sub16(0, 0xFFFF, f"extension {typ}")`` do, in one call)."""
        pos = self._pos
        end = self._end
        buf = self._buf
        if pos + 4 > end:
            if pos + 2 <= end:
                self._pos = pos + 2
            raise DecodeError(f"{self.what}: truncated uint16")
        typ = (buf[pos] << 8) | buf[pos + 1]
        start = pos + 4
        stop = start + ((buf[pos + 2] << 8) | buf[pos + 3])
        if stop > end:
            self._pos = start
            raise DecodeError(f"{self.what}: extension {typ} truncated")
        self._pos = stop
        return typ, Reader._window(buf, start, stop, f"extension {typ}")

    def list_u8(self, r_lo: int, r_hi: int, what: str) -> list[int]:
        """Read ``uint8 x<lo..hi>`` (a vector of single octets)."""
        return list(self.vec8(r_lo, r_hi, what))

    def list_u16(self, prefix: int, lo: int, hi: int, what: str) -> list[int]:
        """Read ``uint16 x<lo..hi>`` with a ``prefix``-octet length; the length must be even."""
        n = self._length(prefix, lo, hi, what)
        if n % 2:
            raise DecodeError(f"{self.what}: {what} length {n} is odd")
        data = self.take(n)
        return list(struct.unpack(f"!{n // 2}H", data)) if n else []


# -- writers ---------------------------------------------------------------------------------
def put_u8(out: bytearray, v: int) -> None:
    """Append a uint8."""
    out.append(v)


def put_u16(out: bytearray, v: int) -> None:
    """Append a uint16."""
    out += v.to_bytes(2, "big")


def put_u24(out: bytearray, v: int) -> None:
    """Append a uint24."""
    out += v.to_bytes(3, "big")


def put_u32(out: bytearray, v: int) -> None:
    """Append a uint32."""
    out += v.to_bytes(4, "big")


def put_u64(out: bytearray, v: int) -> None:
    """Append a uint64."""
    out += v.to_bytes(8, "big")


def put_vec8(out: bytearray, data: bytes | bytearray | memoryview) -> None:
    """Append ``opaque<0..2^8-1>``."""
    out.append(len(data))
    out += data


def put_vec16(out: bytearray, data: bytes | bytearray | memoryview) -> None:
    """Append ``opaque<0..2^16-1>``."""
    out += len(data).to_bytes(2, "big")
    out += data


def put_vec24(out: bytearray, data: bytes | bytearray | memoryview) -> None:
    """Append ``opaque<0..2^24-1>``."""
    out += len(data).to_bytes(3, "big")
    out += data


class length_prefixed:
    """Write a length prefix of ``prefix`` octets, then back-patch it with the body's length.

    Usage::

        with length_prefixed(out, 2):
            put_u16(out, 1)

    A small class rather than a ``contextlib`` generator: it runs tens of times per
    handshake and this costs a third as much.
    """

    __slots__ = ("_at", "_out", "_prefix")

    def __init__(self, out: bytearray, prefix: int) -> None:
        self._out = out
        self._prefix = prefix
        self._at = len(out)

    def __enter__(self) -> bytearray:
        out = self._out
        out += bytes(self._prefix)
        return out

    def __exit__(self, *exc: object) -> None:
        out = self._out
        at = self._at
        prefix = self._prefix
        out[at : at + prefix] = (len(out) - at - prefix).to_bytes(prefix, "big")
