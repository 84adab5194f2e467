"""Primitive wire codec: a bounds-checked :class:`Reader` and ``put_*`` writers.

RFC 8446 §3 presentation language: big-endian integers, vectors with a length prefix of
1, 2 or 3 octets and ``<lo..hi>`` bounds.  Every failure to decode raises
:class:`~tlspipe.errors.DecodeError` and nothing else.  Imports only ``errors``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


class Reader:
    """Reads from a bytes-like buffer, never past its end.

    ``what`` names the structure being read, for error messages.
    """

    __slots__ = ("_buf", "_end", "_pos", "what")

    def __init__(self, data: bytes | bytearray | memoryview, what: str = "message") -> None:
        self._buf = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        self._pos = 0
        self._end = len(self._buf)
        self.what = what

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
        return self.take(self.remaining())

    # -- primitives --------------------------------------------------------------------------
    def take(self, n: int) -> bytes:
        """Take exactly ``n`` octets."""
        if n < 0 or self._pos + n > self._end:
            raise DecodeError(f"{self.what}: truncated (wanted {n}, have {self.remaining()})")
        out = bytes(self._buf[self._pos : self._pos + n])
        self._pos += n
        return out

    def u8(self) -> int:
        """Read a uint8."""
        if self._pos + 1 > self._end:
            raise DecodeError(f"{self.what}: truncated uint8")
        v = self._buf[self._pos]
        self._pos += 1
        return v

    def _uint(self, n: int) -> int:
        if self._pos + n > self._end:
            raise DecodeError(f"{self.what}: truncated uint{8 * n}")
        v = int.from_bytes(self._buf[self._pos : self._pos + n], "big")
        self._pos += n
        return v

    def u16(self) -> int:
        """Read a uint16."""
        return self._uint(2)

    def u24(self) -> int:
        """Read a uint24."""
        return self._uint(3)

    def u32(self) -> int:
        """Read a uint32."""
        return self._uint(4)

    def u64(self) -> int:
        """Read a uint64."""
        return self._uint(8)

    # -- vectors -----------------------------------------------------------------------------
    def _length(self, prefix: int, lo: int, hi: int, what: str) -> int:
        n = self._uint(prefix)
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
        if self._pos + n > self._end:
            raise DecodeError(f"{self.what}: {what} truncated")
        r = Reader(self._buf[self._pos : self._pos + n], what)
        self._pos += n
        return r

    def list_u8(self, r_lo: int, r_hi: int, what: str) -> list[int]:
        """Read ``uint8 x<lo..hi>`` (a vector of single octets)."""
        return list(self.vec8(r_lo, r_hi, what))

    def list_u16(self, prefix: int, lo: int, hi: int, what: str) -> list[int]:
        """Read ``uint16 x<lo..hi>`` with a ``prefix``-octet length; the length must be even."""
        n = self._length(prefix, lo, hi, what)
        if n % 2:
            raise DecodeError(f"{self.what}: {what} length {n} is odd")
        data = self.take(n)
        return [int.from_bytes(data[i : i + 2], "big") for i in range(0, n, 2)]


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


@contextmanager
def length_prefixed(out: bytearray, prefix: int) -> Iterator[bytearray]:
    """Write a length prefix of ``prefix`` octets, then back-patch it with the body's length.

    Usage::

        with length_prefixed(out, 2):
            put_u16(out, 1)
    """
    at = len(out)
    out += bytes(prefix)
    yield out
    n = len(out) - at - prefix
    out[at : at + prefix] = n.to_bytes(prefix, "big")
