"""Blocking sockets over the sans-IO core: :class:`Stream` and :class:`StreamOwned`.

A :class:`Stream` pairs a :class:`~tlspipe.Connection` with a connected, blocking
``socket.socket`` and offers ``read`` / ``write`` / ``close`` that drive the handshake and
the socket as needed (the rustls ``Stream`` / ``StreamOwned`` types)::

    sock = socket.create_connection(("example.com", 443))
    with tlspipe.StreamOwned(tlspipe.ClientConnection(config, "example.com"), sock) as s:
        s.write(b"GET / HTTP/1.0\\r\\nHost: example.com\\r\\n\\r\\n")
        page = s.read_all()

Everything the connection queued (a whole handshake flight, or every record of a large
``write``) leaves in **one** ``socket.sendmsg`` call: the records are handed over as the
list :meth:`~tlspipe.Connection.pending_tls` returns, without joining them, and
:meth:`~tlspipe.Connection.consume_tls` drops what the kernel took.

Layer 7: uses the public API only; no threads, no selectors.  Socket timeouts set by the
caller apply to every blocking call (``TimeoutError`` propagates).
"""

from __future__ import annotations

import contextlib
import io
import socket
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self, overload

from .conn import Connection
from .errors import Error

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = ["Stream", "StreamOwned"]

#: Bytes asked of the socket per ``recv`` (a full TLS record plus headroom).
RECV_SIZE = 2**14 + 2048 + 5


class Stream:
    """A TLS connection driven over a blocking socket; the caller keeps ownership of both.

    Args:
        conn: a fresh :class:`~tlspipe.ClientConnection` or :class:`~tlspipe.ServerConnection`.
        sock: a connected stream socket (blocking, optionally with a timeout).

    :meth:`close` sends close_notify but leaves the socket open; :class:`StreamOwned` closes
    it too.
    """

    def __init__(self, conn: Connection, sock: socket.socket) -> None:
        self.conn = conn
        self.sock = sock
        self._pending: bytes | memoryview = b""  # received TLS bytes not taken yet
        self._eof = False
        #: ``socket.sendmsg`` calls made so far (each one a vectored write of queued records).
        self.sendmsg_calls = 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.conn!r}>"

    # -- driving the connection ------------------------------------------------------------------
    def flush(self) -> int:
        """Send every queued TLS record, one ``sendmsg`` call per kernel acceptance.

        Returns:
            Bytes sent.

        Raises:
            OSError: the socket failed (``TimeoutError`` on a socket timeout).
        """
        conn = self.conn
        total = 0
        while conn.wants_write():
            n = self.sock.sendmsg(conn.pending_tls())
            self.sendmsg_calls += 1
            conn.consume_tls(n)
            total += n
        return total

    def _read_some(self) -> None:
        """Receive TLS bytes (or EOF) from the socket and process them.

        Raises:
            Error: a protocol error (its alert was sent first).
            OSError: the socket failed.
        """
        conn = self.conn
        if not self._pending:
            if self._eof:
                conn.read_tls(b"")
            else:
                data = self.sock.recv(RECV_SIZE)
                if not data:
                    self._eof = True
                    conn.read_tls(b"")
                else:
                    self._pending = data  # bytes: read_tls may keep it without a copy
        if self._pending:
            taken = conn.read_tls(self._pending)
            if taken:
                rest = len(self._pending) - taken
                self._pending = memoryview(self._pending)[taken:] if rest else b""
        self._process()

    def _process(self) -> None:
        try:
            self.conn.process_new_packets()
        except Error:
            self._flush_quietly()  # deliver the alert, then report the error
            raise

    def _flush_quietly(self) -> None:
        with contextlib.suppress(OSError):
            self.flush()

    def complete_io(self) -> None:
        """Make progress: send what is queued and, while handshaking, read the peer's reply.

        Raises:
            Error: a protocol error (including an unverifiable peer certificate).
            UnexpectedEof: the peer closed the transport during the handshake.
            OSError: the socket failed.
        """
        self.flush()
        while self._handshaking():
            self._read_some()
            if self._handshaking():
                self.flush()
                continue
            try:
                self.flush()
            except (BrokenPipeError, ConnectionResetError):
                # The handshake is done and the peer already closed its end: what is left is
                # post-handshake (TLS 1.3 session tickets) and cannot arrive; drop it and let
                # reading report how the peer ended.
                self.conn.consume_tls(sum(len(b) for b in self.conn.pending_tls()))

    def _handshaking(self) -> bool:
        # a call, not an attribute: mypy must not narrow it across _read_some()
        return self.conn.is_handshaking

    def do_handshake(self) -> None:
        """Run the handshake to completion (a no-op once it is done).

        Raises:
            Error: the handshake failed; the alert was sent to the peer.
            OSError: the socket failed.
        """
        self.complete_io()

    # -- plaintext -------------------------------------------------------------------------------
    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of plaintext (whatever is available when ``n < 0``), blocking
        until at least one byte arrives.

        Returns:
            ``b""`` only at a clean end of stream (the peer sent close_notify).

        Raises:
            UnexpectedEof: the transport closed without close_notify (possible truncation).
            Error: a protocol error.
            OSError: the socket failed.
        """
        if n == 0:
            return b""
        self.complete_io()
        conn = self.conn
        while True:
            data = conn.read(n)
            if data:
                return data
            if conn.peer_has_closed:
                return b""
            self._read_some()
            self.flush()  # e.g. a KeyUpdate answer

    def readinto(self, buf: bytearray | memoryview) -> int:
        """Read plaintext into ``buf``; 0 at a clean end of stream.

        Raises:
            Error: as :meth:`read`.
            OSError: the socket failed.
        """
        mv = memoryview(buf).cast("B")
        data = self.read(len(mv))
        mv[: len(data)] = data
        return len(data)

    def read_all(self) -> bytes:
        """Plaintext until the peer's close_notify.

        Raises:
            UnexpectedEof: the transport closed without close_notify.
            Error: a protocol error.
            OSError: the socket failed.
        """
        parts: list[bytes] = []
        while chunk := self.read():
            parts.append(chunk)
        return b"".join(parts)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Send all of ``data`` (after completing the handshake).

        Returns:
            ``len(data)``.

        Raises:
            Error: the connection failed or close_notify was already sent.
            OSError: the socket failed.
        """
        self.complete_io()
        mv = memoryview(data).cast("B")
        total = len(mv)
        conn = self.conn
        while mv:
            n = conn.write(mv)
            mv = mv[n:]
            self.flush()
        return total

    sendall = write

    def close(self) -> None:
        """Send close_notify (the socket stays open; see :class:`StreamOwned`).

        Raises:
            OSError: the socket failed while sending.
        """
        self.conn.send_close_notify()
        self.flush()

    def shutdown(self) -> None:
        """Send close_notify and shut the socket down for writing (the peer sees EOF).

        Raises:
            OSError: the socket failed.
        """
        self.close()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    # -- file-like helpers -----------------------------------------------------------------------
    @overload
    def makefile(
        self, mode: Literal["rb", "wb", "rwb"] = ..., buffering: int = ...
    ) -> io.BufferedIOBase: ...
    @overload
    def makefile(
        self,
        mode: Literal["r", "w", "rw"],
        buffering: int = ...,
        *,
        encoding: str | None = ...,
        errors: str | None = ...,
        newline: str | None = ...,
    ) -> io.TextIOWrapper: ...
    def makefile(
        self,
        mode: str = "rb",
        buffering: int = io.DEFAULT_BUFFER_SIZE,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> io.BufferedIOBase | io.TextIOWrapper:
        """A file object reading/writing plaintext, like ``socket.makefile``.

        ``mode`` is ``"rb"``, ``"wb"``, ``"rwb"`` (binary) or ``"r"``, ``"w"``, ``"rw"`` (text).
        Closing the file does not close the stream; flush a writer before reading replies.

        Raises:
            ValueError: an unsupported mode.
        """
        if not set(mode) <= {"r", "w", "b"} or not {"r", "w"} & set(mode):
            raise ValueError(f"invalid mode {mode!r}")
        raw = _RawStream(self, readable="r" in mode, writable="w" in mode)
        size = buffering if buffering > 0 else io.DEFAULT_BUFFER_SIZE
        buf: io.BufferedIOBase
        if "r" in mode and "w" in mode:
            buf = io.BufferedRWPair(raw, raw, size)
        elif "r" in mode:
            buf = io.BufferedReader(raw, size)
        else:
            buf = io.BufferedWriter(raw, size)
        if "b" in mode:
            return buf
        return io.TextIOWrapper(
            buf,  # type: ignore[arg-type]  # BufferedIOBase is a valid binary buffer
            encoding=encoding or "utf-8",
            errors=errors,
            newline=newline,
            write_through=True,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        typ: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if typ is None:
            self.close()


class StreamOwned(Stream):
    """A :class:`Stream` that owns its socket: :meth:`close` sends close_notify and closes
    the socket.

    Args:
        conn: the TLS connection.
        sock: a connected stream socket; closed by :meth:`close` and on leaving a ``with``.
    """

    def close(self) -> None:
        """Send close_notify (best effort) and close the socket.

        Raises:
            Nothing: socket errors while sending close_notify are ignored.
        """
        try:
            super().close()
        except (OSError, Error):
            pass
        finally:
            self.sock.close()

    def __exit__(
        self,
        typ: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if typ is None:
            self.close()
        else:
            self._flush_quietly()
            self.sock.close()


class _RawStream(io.RawIOBase):
    """The raw IO object behind :meth:`Stream.makefile`."""

    def __init__(self, stream: Stream, *, readable: bool, writable: bool) -> None:
        super().__init__()
        self._stream = stream
        self._readable = readable
        self._writable = writable

    def readable(self) -> bool:
        return self._readable

    def writable(self) -> bool:
        return self._writable

    def readinto(self, buf: WriteableBuffer, /) -> int:
        return self._stream.readinto(memoryview(buf))

    def write(self, b: ReadableBuffer, /) -> int:
        return self._stream.write(memoryview(b))
