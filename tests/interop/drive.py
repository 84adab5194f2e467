"""A small blocking driver for one tlspipe connection over a real socket, for interop tests.

`Driver` owns a connected socket and a tlspipe `Connection` and moves bytes between them:
handshake, write, read (exactly n / until a marker / until the peer closes), close_notify.
Every wait is bounded: each ``recv`` has a socket timeout no longer than what is left of
the driver's deadline, and every loop also has an iteration cap. On a tlspipe error the
queued alert is sent to the peer before the error propagates (best effort), so the peer
sees what tlspipe decided.

`ServerThread` runs a tlspipe server for one accepted connection in a daemon thread (for
peers whose client API blocks, like Python's ``ssl``); `connect` makes a client `Driver`.

Independent of ``tlspipe.Stream`` on purpose: this is the reference loop the interop suite
trusts.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from peers import DEFAULT_TIMEOUT, HOST, listening_socket

import tlspipe

__all__ = [
    "GROUPS",
    "SUITES13",
    "Driver",
    "FixedResolver",
    "ServerThread",
    "certified_key",
    "client_config",
    "connect",
    "serve_in_thread",
    "server_config",
]

MAX_ITERATIONS = 10_000
RECV_SIZE = 65536


class Driver:
    """Drive ``conn`` over ``sock`` with blocking, bounded IO.

    ``timeout`` bounds each public call (handshake, read_*, flush) as a whole. Received
    plaintext is moved out of the connection into `received` as it arrives, so the
    connection's buffer limit never stalls the loop.
    """

    def __init__(
        self, conn: tlspipe.Connection, sock: socket.socket, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.conn = conn
        self.sock = sock
        self.timeout = timeout
        self.received = bytearray()
        self.eof = False  # the transport reached EOF
        self.error: tlspipe.Error | None = None

    # -- low level ---------------------------------------------------------------------------

    def _deadline(self, timeout: float | None) -> float:
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def flush(self) -> None:
        """Send every TLS byte the connection has queued (socket errors propagate)."""
        data = self.conn.write_tls()
        if data:
            self.sock.settimeout(self.timeout)  # not whatever was left of the last recv
            self.sock.sendall(data)

    def _flush_quietly(self) -> None:
        with contextlib.suppress(OSError):
            self.flush()

    def _process(self) -> tlspipe.IoState:
        try:
            io = self.conn.process_new_packets()
        except tlspipe.Error as err:
            self.error = err
            self._flush_quietly()  # the alert tlspipe queued
            raise
        self.received += self.conn.read()
        return io

    def _feed(self, data: bytes) -> None:
        """Give ``data`` to the connection, processing as needed (b"" = EOF)."""
        if not data:
            self.eof = True
            self.conn.read_tls(b"")
            self._process()
            return
        view = memoryview(data)
        for _ in range(MAX_ITERATIONS):
            n = self.conn.read_tls(view)
            view = view[n:]
            self._process()
            if not view:
                return
            if n == 0 and self.conn.peer_has_closed:
                return  # bytes after close_notify are ignored
        raise RuntimeError("read_tls made no progress")

    def pump(self, deadline: float) -> None:
        """One round: flush, receive one chunk (bounded by ``deadline``), feed, flush.

        Raises:
            TimeoutError: nothing arrived before ``deadline``.
            tlspipe.Error: the connection failed (its alert was sent).
        """
        self.flush()
        if self.eof:
            raise RuntimeError("pump after EOF")
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(RECV_SIZE)
        except (ConnectionResetError, BrokenPipeError):
            data = b""  # a reset after the peer's last bytes: treat as EOF
        self._feed(data)
        self.flush()

    def _until(self, done: Callable[[], bool], what: str, timeout: float | None) -> None:
        deadline = self._deadline(timeout)
        for _ in range(MAX_ITERATIONS):
            if done():
                self.flush()
                return
            if self.eof:
                raise EOFError(f"transport closed while waiting for {what}")
            try:
                self.pump(deadline)
            except TimeoutError:
                raise TimeoutError(f"timed out waiting for {what}") from None
        raise RuntimeError(f"too many iterations waiting for {what}")

    # -- public ------------------------------------------------------------------------------

    def handshake(self, timeout: float | None = None) -> None:
        """Run the handshake to completion.

        Raises:
            tlspipe.Error: the handshake failed (the alert was sent to the peer).
            TimeoutError / EOFError: the peer stalled or went away.
        """
        self.flush()
        self._until(lambda: not self.conn.is_handshaking, "the handshake", timeout)

    def write(self, data: bytes, timeout: float | None = None) -> None:
        """Write all of ``data`` (flushing as the connection's buffer fills)."""
        view = memoryview(data)
        deadline = self._deadline(timeout)
        for _ in range(MAX_ITERATIONS):
            n = self.conn.write(view)
            view = view[n:]
            self.flush()
            if not view:
                return
            if time.monotonic() > deadline:
                break
        raise TimeoutError("could not write everything")

    def take(self, n: int = -1) -> bytes:
        """Take up to ``n`` (all if negative) bytes of received plaintext."""
        if n < 0:
            n = len(self.received)
        out = bytes(self.received[:n])
        del self.received[:n]
        return out

    def read_exact(self, n: int, timeout: float | None = None) -> bytes:
        """Receive exactly ``n`` plaintext bytes.

        Raises:
            tlspipe.Error, TimeoutError, EOFError.
        """
        self._until(lambda: len(self.received) >= n, f"{n} bytes", timeout)
        return self.take(n)

    def read_until(self, marker: bytes, timeout: float | None = None) -> bytes:
        """Receive until ``marker`` has arrived; return everything up to and including it.

        Raises:
            tlspipe.Error, TimeoutError, EOFError.
        """
        self._until(lambda: marker in self.received, repr(marker), timeout)
        end = self.received.index(marker) + len(marker)
        return self.take(end)

    def read_until_close(self, timeout: float | None = None) -> bytes:
        """Receive until the peer's close_notify; return all plaintext received.

        Raises:
            tlspipe.UnexpectedEof: TCP closed without close_notify.
            tlspipe.Error, TimeoutError.
        """
        self._until(lambda: self.conn.peer_has_closed, "close_notify", timeout)
        return self.take()

    def close(self) -> None:
        """Send close_notify (socket errors ignored: the peer may be gone already)."""
        self.conn.send_close_notify()
        self._flush_quietly()

    def shutdown(self) -> None:
        """close_notify, then half-close the TCP write side."""
        self.close()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)


def connect(
    port: int,
    config: tlspipe.ClientConfig,
    server_name: str = "localhost",
    *,
    timeout: float = DEFAULT_TIMEOUT,
    host: str = HOST,
) -> Driver:
    """A `Driver` for a new tlspipe client connected to ``host:port`` (handshake not run).

    Close its socket when done (``with contextlib.closing(d.sock)``).
    """
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        return Driver(tlspipe.ClientConnection(config, server_name), sock, timeout=timeout)
    except BaseException:
        sock.close()
        raise


@dataclass
class ServerThread:
    """A tlspipe server handling one connection in a daemon thread.

    ``body(driver)`` runs after accept (it usually calls ``driver.handshake()``); its return
    value lands in `value`, any exception in `error`. `port` is where to connect.
    """

    port: int
    value: object = None
    error: BaseException | None = None
    driver: Driver | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def result(self, timeout: float = DEFAULT_TIMEOUT) -> object:
        """Wait for the body to finish and return its value (re-raising its exception).

        Raises:
            TimeoutError: the thread did not finish in time.
        """
        if not self.done.wait(timeout):
            raise TimeoutError("server thread did not finish")
        if self.error is not None:
            raise self.error
        return self.value


@contextlib.contextmanager
def serve_in_thread(
    config: tlspipe.ServerConfig,
    body: Callable[[Driver], object],
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> Iterator[ServerThread]:
    """Accept one connection on a fresh 127.0.0.1 port and run ``body`` on it in a thread.

    Raises:
        RuntimeError: the thread is still running ``timeout`` + 2 s after the block exits.
    """
    listener = listening_socket(timeout=0.05)
    st = ServerThread(port=listener.getsockname()[1])
    stop = threading.Event()

    def accept() -> socket.socket:
        deadline = time.monotonic() + timeout
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        raise TimeoutError("no client connected")

    def run() -> None:
        sock: socket.socket | None = None
        try:
            sock = accept()
            st.driver = Driver(tlspipe.ServerConnection(config), sock, timeout=timeout)
            st.value = body(st.driver)
        except BaseException as e:  # reported through result()
            st.error = e
        finally:
            if sock is not None:
                sock.close()
            st.done.set()

    thread = threading.Thread(target=run, name=f"tlspipe-server:{st.port}", daemon=True)
    thread.start()
    try:
        yield st
    finally:
        stop.set()
        thread.join(timeout + 2.0)
        if thread.is_alive():
            raise RuntimeError("tlspipe server thread did not stop")
        listener.close()


# -- shared tables and configs for the interop13 tests -------------------------------------------

#: TLS 1.3 suites: tlspipe name → IANA/OpenSSL name (what openssl and Python ``ssl`` print).
SUITES13: dict[tlspipe.CipherSuite, str] = {
    tlspipe.CipherSuite.TLS13_AES_128_GCM_SHA256: "TLS_AES_128_GCM_SHA256",
    tlspipe.CipherSuite.TLS13_AES_256_GCM_SHA384: "TLS_AES_256_GCM_SHA384",
    tlspipe.CipherSuite.TLS13_CHACHA20_POLY1305_SHA256: "TLS_CHACHA20_POLY1305_SHA256",
}

#: Key exchange groups: tlspipe name → (openssl ``-groups`` name, ``Server Temp Key`` text).
GROUPS: dict[tlspipe.NamedGroup, tuple[str, str]] = {
    tlspipe.NamedGroup.x25519: ("X25519", "X25519, 253 bits"),
    tlspipe.NamedGroup.secp256r1: ("P-256", "ECDH, prime256v1, 256 bits"),
    tlspipe.NamedGroup.secp384r1: ("P-384", "ECDH, secp384r1, 384 bits"),
}


def client_config(ca_pem: object, **kwargs: object) -> tlspipe.ClientConfig:
    """A TLS 1.3-only tlspipe ClientConfig trusting only the PEM file ``ca_pem``."""
    roots = tlspipe.RootCertStore.from_pem_file(str(ca_pem))
    kwargs.setdefault("versions", (tlspipe.ProtocolVersion.TLSv1_3,))
    return tlspipe.ClientConfig(root_store=roots, **kwargs)  # type: ignore[arg-type]


def server_config(chain_pem: object, key_pem: object, **kwargs: object) -> tlspipe.ServerConfig:
    """A TLS 1.3-only tlspipe ServerConfig for a PEM chain and key file."""
    kwargs.setdefault("versions", (tlspipe.ProtocolVersion.TLSv1_3,))
    return tlspipe.ServerConfig.from_pem_files(str(chain_pem), str(key_pem), **kwargs)


def certified_key(chain_pem: object, key_pem: object) -> tlspipe.CertifiedKey:
    """A checked CertifiedKey from PEM files."""
    return tlspipe.CertifiedKey.from_pem(
        Path(str(chain_pem)).read_bytes(), Path(str(key_pem)).read_bytes()
    )


class FixedResolver:
    """A certificate resolver presenting one CertifiedKey *without* checking that its key
    matches the certificate (to build a server that signs with the wrong key)."""

    def __init__(self, ck: tlspipe.CertifiedKey) -> None:
        self.ck = ck

    def resolve(self, hello: tlspipe.ClientHelloInfo) -> tlspipe.CertifiedKey | None:
        """Always the configured (possibly mismatched) chain and key."""
        return self.ck


@contextlib.contextmanager
def serve_sequentially(
    config: tlspipe.ServerConfig, body: Callable[[Driver], object], n: int = 1
) -> Iterator[tuple[int, list[object]]]:
    """Serve ``n`` connections one after another in a daemon thread (for resumption tests);
    yields ``(port, results)`` where results holds each body's return value or exception.

    Raises:
        AssertionError: the thread is still running 15 s after the block exits.
    """
    listener = listening_socket(timeout=10)
    results: list[object] = []

    def run() -> None:
        for _ in range(n):
            try:
                sock, _ = listener.accept()
            except OSError as e:
                results.append(e)
                return
            sock.settimeout(10)
            with contextlib.closing(sock):
                try:
                    results.append(body(Driver(tlspipe.ServerConnection(config), sock)))
                except (tlspipe.Error, OSError, EOFError, TimeoutError) as e:
                    results.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield listener.getsockname()[1], results
    finally:
        t.join(15)
        listener.close()
        assert not t.is_alive(), "tlspipe server thread did not stop"
