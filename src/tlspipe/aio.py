"""asyncio streams over the sans-IO core: :func:`open_connection` and :func:`start_server`.

The same shape as :func:`asyncio.open_connection` / :func:`asyncio.start_server`, with a
tlspipe configuration instead of an ``ssl.SSLContext``::

    reader, writer = await tlspipe.aio.open_connection("example.com", 443, config=cfg)
    writer.write(b"GET / HTTP/1.0\\r\\nHost: example.com\\r\\n\\r\\n")
    await writer.drain()
    body = await reader.read()
    writer.close()
    await writer.wait_closed()

The reader is a genuine :class:`asyncio.StreamReader`; the writer is a :class:`TlsStreamWriter`
with the :class:`asyncio.StreamWriter` interface.  Both sit on one :class:`asyncio.Protocol`
(:class:`TlsProtocol`) that feeds the transport's bytes to the connection — no threads, so
any event loop works (uvloop included).

Flow control both ways:

* reading: decrypted plaintext goes into the reader, which pauses the transport
  (``pause_reading``) when more than twice its ``limit`` is buffered and resumes it as the
  application reads — so a slow reader stops the peer through TCP;
* writing: :meth:`TlsStreamWriter.drain` waits while the transport's write buffer is above its
  high-water mark (``pause_writing`` / ``resume_writing``).

Closing the writer sends close_notify before the TCP close; a peer's close_notify is the
reader's EOF, while a TCP close without it raises :class:`~tlspipe.UnexpectedEof` from the
reader (possible truncation).  The handshake completes before :func:`open_connection` returns
and before a server's callback runs; its errors raise from :func:`open_connection` and are
only logged by a server.

Layer 7: public API only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

from .client.config import ClientConfig
from .client.connection import ClientConnection
from .conn import Connection
from .errors import Error, UnexpectedEof
from .server.config import ServerConfig
from .server.connection import ServerConnection

__all__ = ["TlsProtocol", "TlsStreamWriter", "open_connection", "start_server"]

_log = logging.getLogger("tlspipe.aio")

#: Default reader limit (as asyncio's): the transport pauses above twice this much plaintext.
DEFAULT_LIMIT = 2**16

ClientConnectedCallback = Callable[
    [asyncio.StreamReader, "TlsStreamWriter"], Awaitable[None] | None
]


class TlsProtocol(asyncio.Protocol):
    """Drives one :class:`~tlspipe.Connection` from an asyncio transport.

    Args:
        conn: the TLS connection (fresh).
        reader: receives the plaintext (and EOF / errors).
        on_handshake: called once with None when the handshake completes, or with the error
            that ended it.
    """

    def __init__(
        self,
        conn: Connection,
        reader: asyncio.StreamReader,
        on_handshake: Callable[[BaseException | None], None],
    ) -> None:
        self.conn = conn
        self.reader = reader
        self._on_handshake: Callable[[BaseException | None], None] | None = on_handshake
        self.transport: asyncio.Transport | None = None
        self._paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._exc: Exception | None = None

    # -- transport callbacks -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the handshake (a client's ClientHello goes out now)."""
        t = cast(asyncio.Transport, transport)  # stream transports (uvloop's are not subclasses)
        self.transport = t
        self.reader.set_transport(t)
        self.flush()

    def data_received(self, data: bytes) -> None:
        """Feed TLS bytes to the connection; pass plaintext to the reader."""
        conn = self.conn
        # the bytes object itself first (read_tls keeps a whole bytes object without copying
        # and opens bulk records where they are); a view of what it did not take after that
        view: bytes | memoryview = data
        try:
            while True:
                taken = conn.read_tls(view) if view else 0
                if taken:
                    view = memoryview(view)[taken:] if taken < len(view) else b""
                conn.process_new_packets()
                plain = conn.read()
                if plain:
                    self.reader.feed_data(plain)
                if not view:
                    break
                if not taken and not plain:  # the connection makes no progress: a bug
                    raise UnexpectedEof("TLS input not consumed")
        except Error as err:
            self._fail(err)
            return
        self.flush()
        self._check_handshake()
        if conn.peer_has_closed and not self.reader.at_eof():
            self.reader.feed_eof()

    def eof_received(self) -> bool:
        """The peer shut down its side: clean after close_notify, else truncation.

        Returns:
            True (keep the transport open for our close_notify) after a clean close.
        """
        conn = self.conn
        try:
            conn.read_tls(b"")
            conn.process_new_packets()
        except Error as err:
            self._fail(err)
            return False
        if not self.reader.at_eof():
            self.reader.feed_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        """The transport is closed: wake every waiter."""
        if exc is not None and self._exc is None:
            self._exc = exc
            if not self.reader.at_eof():
                self.reader.set_exception(exc)
        elif self._exc is None and not self.reader.at_eof():
            self.reader.feed_eof()
        self._handshake_done(self._exc or ConnectionResetError("connection lost in handshake"))
        for w in self._drain_waiters:
            if not w.done():
                if self._exc is not None:
                    w.set_exception(self._exc)
                else:
                    w.set_result(None)
        self._drain_waiters.clear()
        if not self._closed.done():
            self._closed.set_result(None)
        self.transport = None

    def pause_writing(self) -> None:
        """The transport's write buffer is above its high-water mark."""
        self._paused = True

    def resume_writing(self) -> None:
        """The transport's write buffer drained below its low-water mark."""
        self._paused = False
        for w in self._drain_waiters:
            if not w.done():
                w.set_result(None)
        self._drain_waiters.clear()

    # -- helpers -----------------------------------------------------------------------------
    def flush(self) -> None:
        """Hand every queued TLS byte to the transport."""
        t = self.transport
        if t is not None and self.conn.wants_write() and not t.is_closing():
            t.write(self.conn.write_tls())

    def _fail(self, err: Exception) -> None:
        _log.debug("TLS connection failed: %s", err)
        self._exc = err
        self.flush()  # the alert, if any
        if not self.reader.at_eof():
            self.reader.set_exception(err)
        self._handshake_done(err)
        if self.transport is not None:
            self.transport.close()

    def _check_handshake(self) -> None:
        if self._on_handshake is not None and not self.conn.is_handshaking:
            self._handshake_done(None)

    def _handshake_done(self, exc: BaseException | None) -> None:
        cb, self._on_handshake = self._on_handshake, None
        if cb is not None:
            cb(exc)

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark.

        Raises:
            Error: the connection failed.
            ConnectionResetError: the transport closed.
        """
        if self._exc is not None:
            raise self._exc
        if self.transport is None or self.transport.is_closing():
            await asyncio.sleep(0)  # as asyncio: let connection_lost run
            if self._exc is not None:
                raise self._exc
            if self.transport is None:
                raise ConnectionResetError("connection lost")
        if not self._paused:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._drain_waiters.append(fut)
        await fut

    async def wait_closed(self) -> None:
        """Wait until the transport is closed.

        Raises:
            Nothing.
        """
        await asyncio.shield(self._closed)


class TlsStreamWriter:
    """The writing half, with the :class:`asyncio.StreamWriter` interface.

    ``write`` encrypts at once and hands the records to the transport; ``drain`` applies
    the transport's back-pressure; ``close`` sends close_notify then closes the transport.
    """

    def __init__(self, protocol: TlsProtocol, reader: asyncio.StreamReader) -> None:
        self._protocol = protocol
        self._reader = reader

    def __repr__(self) -> str:
        return f"<TlsStreamWriter {self._protocol.conn!r}>"

    @property
    def connection(self) -> Connection:
        """The TLS connection (negotiated version, suite, ALPN, peer certificates …)."""
        return self._protocol.conn

    @property
    def transport(self) -> asyncio.Transport:
        """The underlying (TCP) transport; write plaintext through this writer, not it.

        Raises:
            ConnectionResetError: the transport is already closed.
        """
        t = self._protocol.transport
        if t is None:
            raise ConnectionResetError("connection lost")
        return t

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt and send ``data`` (call :meth:`drain` to honour back-pressure).

        Raises:
            Error: the connection failed or was closed (close_notify sent).
        """
        p = self._protocol
        if p._exc is not None:
            raise p._exc
        conn = p.conn
        mv = memoryview(data).cast("B")
        while mv:
            n = conn.write(mv)
            mv = mv[n:]
            p.flush()

    def writelines(self, data: Iterable[bytes | bytearray | memoryview]) -> None:
        """Write each item of ``data``.

        Raises:
            Error: as :meth:`write`.
        """
        for d in data:
            self.write(d)

    def can_write_eof(self) -> bool:
        """True: :meth:`write_eof` sends close_notify (TLS 1.3 half-close)."""
        return True

    def write_eof(self) -> None:
        """Send close_notify; the peer sees end of stream and may still answer (TLS 1.3).

        Raises:
            Nothing.
        """
        p = self._protocol
        if p._exc is None:
            p.conn.send_close_notify()
            p.flush()

    def close(self) -> None:
        """Send close_notify and close the transport (after its buffer is flushed).

        Raises:
            Nothing.
        """
        self.write_eof()
        t = self._protocol.transport
        if t is not None:
            t.close()

    def is_closing(self) -> bool:
        """True once :meth:`close` was called or the transport is closed."""
        t = self._protocol.transport
        return t is None or t.is_closing()

    async def wait_closed(self) -> None:
        """Wait until the transport is closed.

        Raises:
            Nothing.
        """
        await self._protocol.wait_closed()

    async def drain(self) -> None:
        """Wait until it is appropriate to write again (transport buffer below high water).

        Raises:
            Error: the connection failed.
            ConnectionResetError: the connection was lost.
        """
        await self._protocol.drain()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport information (``peername``, ``sockname``, ``socket`` …), plus
        ``"tls_connection"``, ``"alpn_protocol"``, ``"cipher_suite"`` and ``"version"``.

        Raises:
            Nothing.
        """
        conn = self._protocol.conn
        if name == "tls_connection":
            return conn
        if name == "alpn_protocol":
            return conn.alpn_protocol
        if name == "cipher_suite":
            return conn.negotiated_cipher_suite
        if name == "version":
            return conn.protocol_version
        t = self._protocol.transport
        return default if t is None else t.get_extra_info(name, default)


def _new_reader(limit: int) -> asyncio.StreamReader:
    return asyncio.StreamReader(limit=limit)


async def open_connection(
    host: str,
    port: int,
    *,
    config: ClientConfig,
    server_hostname: str | None = None,
    limit: int = DEFAULT_LIMIT,
    handshake_timeout: float | None = 60.0,
    **kwargs: Any,
) -> tuple[asyncio.StreamReader, TlsStreamWriter]:
    """Connect, complete the TLS handshake and return ``(reader, writer)``.

    Args:
        host: where to connect.
        port: TCP port.
        config: the client configuration.
        server_hostname: the name to send as SNI and verify (default ``host``).
        limit: the reader's buffer limit (the transport pauses above twice this).
        handshake_timeout: seconds allowed for the handshake (None: no limit).
        **kwargs: passed to :meth:`asyncio.loop.create_connection` (``local_addr`` …).

    Raises:
        Error: the handshake failed (e.g. :class:`~tlspipe.InvalidCertificate`).
        ConfigError: an invalid ``server_hostname``.
        OSError: the connection could not be made.
        TimeoutError: the handshake took longer than ``handshake_timeout``.
    """
    loop = asyncio.get_running_loop()
    conn = ClientConnection(config, server_hostname or host)
    reader = _new_reader(limit)
    done: asyncio.Future[None] = loop.create_future()

    def on_handshake(exc: BaseException | None) -> None:
        if not done.done():
            if exc is None:
                done.set_result(None)
            else:
                done.set_exception(exc)

    transport, protocol = await loop.create_connection(
        lambda: TlsProtocol(conn, reader, on_handshake), host, port, **kwargs
    )
    handshaken = False
    try:
        async with asyncio.timeout(handshake_timeout):
            await done
        handshaken = True
    finally:
        # on failure, timeout or cancellation: drop the transport (a failed handshake
        # already closed it, with its alert queued)
        if not handshaken and not transport.is_closing():
            transport.abort()
    return reader, TlsStreamWriter(protocol, reader)


async def start_server(
    client_connected_cb: ClientConnectedCallback,
    host: str | None = None,
    port: int | None = None,
    *,
    config: ServerConfig,
    limit: int = DEFAULT_LIMIT,
    handshake_timeout: float | None = 60.0,
    **kwargs: Any,
) -> asyncio.Server:
    """Start a TLS server; ``client_connected_cb(reader, writer)`` runs per client once its
    handshake has completed (a coroutine result is scheduled as a task).

    Args:
        client_connected_cb: the per-connection handler.
        host: address(es) to listen on.
        port: TCP port (0: any free port).
        config: the server configuration.
        limit: each reader's buffer limit.
        handshake_timeout: seconds a client has to complete its handshake.
        **kwargs: passed to :meth:`asyncio.loop.create_server` (``backlog``, ``reuse_address`` …).

    Returns:
        The :class:`asyncio.Server` (use ``async with`` / ``serve_forever`` / ``close``).

    Raises:
        OSError: the address could not be bound.
    """
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    def factory() -> TlsProtocol:
        reader = _new_reader(limit)
        holder: list[TlsProtocol] = []
        timer: list[asyncio.TimerHandle] = []

        def on_handshake(exc: BaseException | None) -> None:
            for t in timer:
                t.cancel()
            proto = holder[0]
            if exc is not None:
                _log.debug("server handshake failed: %s", exc)
                return
            writer = TlsStreamWriter(proto, reader)
            res = client_connected_cb(reader, writer)
            if asyncio.iscoroutine(res):
                task = loop.create_task(res)
                tasks.add(task)

                def finished(t: asyncio.Task[None]) -> None:
                    tasks.discard(t)
                    if not t.cancelled() and (exc := t.exception()) is not None:
                        # as asyncio.start_server: a failed handler drops its connection
                        _log.error("client_connected_cb failed: %r", exc)
                        if proto.transport is not None:
                            proto.transport.abort()

                task.add_done_callback(finished)

        proto = TlsProtocol(ServerConnection(config), reader, on_handshake)
        holder.append(proto)
        if handshake_timeout is not None:

            def expire() -> None:
                if proto.conn.is_handshaking and proto.transport is not None:
                    _log.debug("server handshake timed out")
                    proto.transport.abort()

            timer.append(loop.call_later(handshake_timeout, expire))
        return proto

    return await loop.create_server(factory, host, port, **kwargs)
