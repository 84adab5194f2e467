"""Real TLS peers for interop tests: the openssl CLI and Python's `ssl`, on 127.0.0.1.

Every helper here drives *one* peer; the tlspipe side of a test talks to it through a plain
socket (`listening_socket` for a tlspipe server, ``socket.create_connection`` for a client).

Guarantees:
* free ports (bind port 0, release, retry when the peer fails to bind);
* bounded waits everywhere (`DEFAULT_TIMEOUT`), never an unbounded ``wait()``/``recv()``;
* subprocesses run in their own process group and are killed by that PID (SIGTERM, then
  SIGKILL) in ``finally`` blocks; Python peers are daemon threads with a bounded lifetime;
* peer output goes to a temp file (no pipe to fill up), read back with ``output()`` while the
  peer runs and kept in memory after teardown.

openssl CLI quirks (3.0.x) worth knowing, all handled or documented here:
* ``s_server`` reads *stdin* and sends it to the client; stdin EOF makes it print ``DONE`` and
  exit, so `openssl_server` keeps a stdin pipe open (`OpenSSLPeer.send` writes to it). Unless
  ``-quiet``, a stdin chunk whose first byte is ``Q`` quits the server, ``q`` closes the
  connection (with close_notify), and the one-letter lines ``r``/``R``/``k``/``K``/``c``
  trigger renegotiation/key updates; stdout is block-buffered into a file, so we run it under
  ``stdbuf -o0 -e0`` when available.
* ``s_server -www`` answers ``GET /`` with an HTML status page and closes: the easiest way to
  get deterministic server→client data plus an EOF. ``-naccept N`` exits after N connections.
* ``s_client`` does the handshake first, then sends stdin; at stdin EOF it sends close_notify
  and exits (possibly *before* the server's reply arrives). ``-ign_eof`` makes it instead stay
  until the server closes; ``-quiet`` implies ``-ign_eof``. Unless ``-ign_eof``/``-nocommands``,
  a stdin chunk starting with ``Q`` quits, ``R`` renegotiates, ``k``/``K`` sends KeyUpdate.
  So: handshake-only → ``stdin_data=b""``; request/response → ``-ign_eof`` and a server
  that closes; otherwise pass ``timeout`` and accept ``timed_out``.
* ``s_client`` does NOT fail on certificate errors by default (it prints
  ``Verify return code: N`` and continues); add ``-verify_return_error`` and
  ``-verify_hostname NAME`` to make it enforce. Same for ``s_server -Verify 1``.
* ``-keymatexport LABEL -keymatexportlen N`` exports *without* a context (RFC 5705
  ``context`` absent; in TLS 1.3 that equals an empty context), printed by both sides as
  ``Keying material: HEX`` (see `parse_keymatexport`).
* Output strings differ per side: the server prints ``CIPHER is X`` and ``Shared groups: ...``,
  the client ``Cipher is X`` (or ``Ciphersuite: X`` with ``-brief``, on stderr).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

__all__ = [
    "DEFAULT_TIMEOUT",
    "interop",
    "OPENSSL",
    "ConnRecord",
    "HasChain",
    "OpenSSLPeer",
    "PeerError",
    "PeerResult",
    "PythonSSLServer",
    "SSLClientResult",
    "echo_handler",
    "free_port",
    "listening_socket",
    "openssl_client",
    "openssl_server",
    "parse_cipher",
    "parse_keymatexport",
    "python_ssl_client",
    "python_ssl_server",
    "start_openssl_client",
]

HOST = "127.0.0.1"
DEFAULT_TIMEOUT = 10.0
OPENSSL = shutil.which("openssl") or "openssl"
_STDBUF = shutil.which("stdbuf")


class PeerError(RuntimeError):
    """A peer failed to start or misbehaved in a way the harness itself detected."""


class HasChain(Protocol):
    """What `openssl_server` needs from an identity (tests/pki.py `Identity` fits)."""

    @property
    def leaf_pem(self) -> Path: ...
    @property
    def intermediates_pem(self) -> Path: ...
    @property
    def key_pem(self) -> Path: ...
    @property
    def ca_pem(self) -> Path: ...


# -- ports ---------------------------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (bind 0, read, release).

    Racy by nature: callers that hand the port to another process must retry on bind failure
    (`openssl_server` does).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def listening_socket(backlog: int = 8, timeout: float = DEFAULT_TIMEOUT) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 with a kernel-chosen port (no race) and a timeout,
    for a tlspipe server driven by the test. Read the port with ``sock.getsockname()[1]``.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((HOST, 0))
    s.listen(backlog)
    return s


def _port_listening(port: int) -> bool:
    """True if /proc/net/tcp shows 127.0.0.1:port in LISTEN (no probe connection needed)."""
    try:
        text = Path("/proc/net/tcp").read_text()
    except OSError:
        return False
    needle = f"0100007F:{port:04X} 00000000:0000 0A"
    return needle in text


# -- subprocess peers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerResult:
    """How a peer process ended: exit code (None if it had to be killed), merged
    stdout+stderr, and whether the timeout expired."""

    argv: tuple[str, ...]
    returncode: int | None
    output: str
    timed_out: bool

    @property
    def ok(self) -> bool:
        """Exited by itself with status 0."""
        return self.returncode == 0 and not self.timed_out


class OpenSSLPeer:
    """A running peer subprocess in its own process group; stdout+stderr go to a temp file.

    Use as a context manager (or call `stop` in ``finally``). ``port``: the port a server
    listens on, or the port a client connects to.
    """

    def __init__(self, argv: Sequence[str], *, port: int = 0) -> None:
        """Start ``argv`` (prefixed with ``stdbuf -o0 -e0`` when available).

        Raises:
            OSError: the program could not be started.
        """
        self.argv = tuple(argv)
        self.port = port
        fd, name = tempfile.mkstemp(prefix="tlspipe-peer-", suffix=".log")
        self._log_path = Path(name)
        self._final_output: str | None = None
        prefix = [_STDBUF, "-o0", "-e0"] if _STDBUF else []
        try:
            self._proc = subprocess.Popen(
                [*prefix, *self.argv],
                stdin=subprocess.PIPE,
                stdout=fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: pgid == pid
                close_fds=True,
            )
        except BaseException:
            os.close(fd)
            self._log_path.unlink(missing_ok=True)
            raise
        os.close(fd)

    @property
    def pid(self) -> int:
        """Process id (also the process-group id)."""
        return self._proc.pid

    def alive(self) -> bool:
        """True while the process has not exited."""
        return self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit status, or None while running."""
        return self._proc.poll()

    def output(self) -> str:
        """Everything the peer printed so far (stdout and stderr interleaved)."""
        if self._final_output is not None:
            return self._final_output
        try:
            return self._log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_for(self, pattern: str, timeout: float = DEFAULT_TIMEOUT) -> re.Match[str]:
        """Wait until ``pattern`` (a regex; use `re.escape` for literals) appears in the output.

        Raises:
            PeerError: timeout, or the peer exited without printing it (message has the output).
        """
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            exited = not self.alive()
            m = rx.search(self.output())
            if m:
                return m
            if exited or time.monotonic() >= deadline:
                why = "exited" if exited else f"timed out after {timeout}s"
                raise PeerError(f"{why} waiting for {pattern!r}:\n{self.output()}")
            time.sleep(0.02)

    def send(self, data: bytes) -> None:
        """Write ``data`` to the peer's stdin (s_server/s_client send it over TLS).

        Raises:
            BrokenPipeError: the peer has exited.
        """
        stdin = self._proc.stdin
        if stdin is None or stdin.closed:
            raise BrokenPipeError("stdin closed")
        stdin.write(data)
        stdin.flush()

    def close_stdin(self) -> None:
        """Close the peer's stdin (EOF: s_client shuts down unless -ign_eof)."""
        stdin = self._proc.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(OSError):
                stdin.close()

    def wait(self, timeout: float = DEFAULT_TIMEOUT) -> PeerResult:
        """Wait up to ``timeout`` for the peer to exit; kill it if it does not.

        Never raises on timeout: the result says ``timed_out=True``.
        """
        timed_out = False
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        self.stop()
        return PeerResult(
            self.argv, None if timed_out else self._proc.returncode, self.output(), timed_out
        )

    def stop(self) -> None:
        """Kill the process group (SIGTERM, then SIGKILL after 2 s), reap it, keep the output.

        Signals only a group whose leader we have not reaped yet (a reaped PID could be
        reused). Idempotent; safe in ``finally``.
        """
        self.close_stdin()
        if self._proc.poll() is None:
            for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self._proc.pid, sig)
                try:
                    self._proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._final_output is None:
            self._final_output = ""
            with contextlib.suppress(OSError):  # the writer is gone: read it all, drop the file
                self._final_output = self._log_path.read_bytes().decode("utf-8", "replace")
            self._log_path.unlink(missing_ok=True)

    def __enter__(self) -> OpenSSLPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _version_args(tls13: bool | None) -> list[str]:
    if tls13 is None:
        return []
    return ["-tls1_3"] if tls13 else ["-tls1_2"]


@contextlib.contextmanager
def openssl_server(
    identity: HasChain,
    *,
    args: Sequence[str] = (),
    tls13: bool | None = True,
    sni: tuple[str, HasChain] | None = None,
    ready_timeout: float = DEFAULT_TIMEOUT,
    attempts: int = 5,
) -> Iterator[OpenSSLPeer]:
    """Run ``openssl s_server`` on 127.0.0.1:<free port> serving ``identity``.

    ``tls13``: True → ``-tls1_3``, False → ``-tls1_2``, None → both. ``args`` are appended
    (e.g. ``["-keymatexport", "L", "-keymatexportlen", "32"]``, ``["-www"]``,
    ``["-Verify", "1", "-verify_return_error", "-CAfile", ca]``). Sends leaf + intermediates
    (``-cert/-key/-cert_chain``). Yields once the server prints ``ACCEPT`` / its port is in
    LISTEN state (no probe connection, so ``-naccept`` counts stay exact); always killed on exit.

    ``sni=(name, other)`` serves ``other`` to clients whose SNI is ``name``
    (``-servername/-cert2/-key2``). openssl 3.0 quirk: ``-cert_chain`` is not applied to
    ``-cert2`` (and combining it with ``-build_chain`` fails), so in SNI mode the chains are
    built instead (``-build_chain -CAfile <bundle of both identities' intermediates and
    roots>``): both then send leaf + intermediate + root. Do not pass ``-CAfile`` in ``args``
    in SNI mode; use ``-verifyCAfile`` for client-certificate checks.

    Raises:
        PeerError: the server did not come up (message has its output).
    """
    argv_tail = [
        "-cert", str(identity.leaf_pem), "-key", str(identity.key_pem),
        *_version_args(tls13),
    ]  # fmt: skip
    bundle: Path | None = None
    if sni is None:
        argv_tail += ["-cert_chain", str(identity.intermediates_pem)]
    else:
        name, other = sni
        fd, tmp = tempfile.mkstemp(prefix="tlspipe-sni-", suffix=".pem")
        os.close(fd)
        bundle = Path(tmp)
        parts = (identity.intermediates_pem, other.intermediates_pem,
                 identity.ca_pem, other.ca_pem)  # fmt: skip
        bundle.write_bytes(b"".join(p.read_bytes() for p in parts))
        argv_tail += [
            "-servername", name, "-cert2", str(other.leaf_pem), "-key2", str(other.key_pem),
            "-build_chain", "-CAfile", str(bundle),
        ]  # fmt: skip
    argv_tail += list(args)
    last = ""
    try:
        for _ in range(attempts):
            port = free_port()
            argv = [OPENSSL, "s_server", "-accept", f"{HOST}:{port}", *argv_tail]
            peer = OpenSSLPeer(argv, port=port)
            try:
                deadline = time.monotonic() + ready_timeout
                while not (ready := "ACCEPT" in peer.output() or _port_listening(port)):
                    if not peer.alive() or time.monotonic() >= deadline:
                        break
                    time.sleep(0.02)
                if ready and peer.alive():
                    yield peer
                    return
                last = peer.output()
                if "in use" not in last and "bind" not in last.lower():
                    raise PeerError(f"s_server did not start: {argv}\n{last}")
            finally:
                peer.stop()
    finally:
        if bundle is not None:
            bundle.unlink(missing_ok=True)
    raise PeerError(f"s_server could not bind after {attempts} attempts:\n{last}")


@contextlib.contextmanager
def start_openssl_client(
    port: int,
    *,
    args: Sequence[str] = (),
    tls13: bool | None = None,
    host: str = HOST,
) -> Iterator[OpenSSLPeer]:
    """Start ``openssl s_client -connect host:port`` in the background (stdin stays open).

    For interactive tests: drive the tlspipe server in the test thread, `OpenSSLPeer.send`
    data, `OpenSSLPeer.wait_for` replies, then `OpenSSLPeer.wait` for the result.

    Raises:
        OSError: openssl could not be started.
    """
    argv = [OPENSSL, "s_client", "-connect", f"{host}:{port}", *_version_args(tls13), *args]
    with OpenSSLPeer(argv, port=port) as peer:
        yield peer


def openssl_client(
    port: int,
    *,
    args: Sequence[str] = (),
    stdin_data: bytes = b"",
    tls13: bool | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    host: str = HOST,
) -> PeerResult:
    """Run ``openssl s_client -connect host:port ARGS`` to completion and return its output.

    ``stdin_data`` is written, then stdin is closed: without ``-ign_eof`` s_client handshakes,
    sends the data, sends close_notify and exits; with ``-ign_eof`` it waits until the server
    closes. Blocks: run the tlspipe server in another thread (or use `start_openssl_client`).
    Never raises on timeout (the process is killed; ``timed_out`` is set).

    Raises:
        OSError: openssl could not be started.
    """
    with start_openssl_client(port, args=args, tls13=tls13, host=host) as peer:
        with contextlib.suppress(BrokenPipeError):
            if stdin_data:
                peer.send(stdin_data)
        peer.close_stdin()
        return peer.wait(timeout)


# -- output parsing ------------------------------------------------------------------------------

_KEYMAT_RX = re.compile(
    r"Label: '(?P<label>[^'\n]*)'\s*\n\s*Length: (?P<len>\d+)(?: bytes)?\s*\n"
    r"\s*Keying material: (?P<hex>[0-9A-Fa-f]*)"
)


def parse_keymatexport(output: str, label: str | None = None) -> bytes:
    """Extract the exported keying material printed by ``s_server``/``s_client -keymatexport``.

    Takes the first block (with ``label`` if given); checks the printed length.

    Raises:
        ValueError: no (matching) block, or the hex does not match the printed length.
    """
    for m in _KEYMAT_RX.finditer(output):
        if label is not None and m["label"] != label:
            continue
        value = bytes.fromhex(m["hex"])
        if len(value) != int(m["len"]):
            raise ValueError(f"keying material length {len(value)} != {m['len']}")
        return value
    raise ValueError(f"no 'Keying material' block for label {label!r} in output")


_CIPHER_RX = re.compile(r"(?:CIPHER is |Cipher is |Ciphersuite: )(?P<c>[A-Z0-9_-]+)")


def parse_cipher(output: str) -> str:
    """The negotiated cipher as openssl printed it: ``CIPHER is X`` (s_server), ``Cipher is X``
    (s_client) or ``Ciphersuite: X`` (``-brief``). TLS 1.3 names are IANA-style
    (``TLS_AES_128_GCM_SHA256``), TLS 1.2 names OpenSSL-style (``ECDHE-ECDSA-AES128-GCM-SHA256``).

    Raises:
        ValueError: no cipher line (e.g. the handshake failed).
    """
    m = _CIPHER_RX.search(output)
    if m is None or m["c"] == "NONE" or m["c"] == "0000":
        raise ValueError("no negotiated cipher in output")
    return m["c"]


# -- Python ssl peers ----------------------------------------------------------------------------


@dataclass
class ConnRecord:
    """What `python_ssl_server` saw on one connection: the handler's return value or the
    exception raised (handshake or handler), and the negotiated parameters."""

    value: object = None
    error: BaseException | None = None
    version: str | None = None
    cipher: tuple[str, str, int] | None = None
    peer_cert_der: bytes | None = None


def echo_handler(conn: ssl.SSLSocket) -> bytes:
    """Handler for `python_ssl_server`: echo everything back until EOF; return all received."""
    got = bytearray()
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return bytes(got)
        got += chunk
        conn.sendall(chunk)


@dataclass
class PythonSSLServer:
    """Handle on a running `python_ssl_server`."""

    port: int
    records: list[ConnRecord] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def wait_for_connections(
        self, n: int = 1, timeout: float = DEFAULT_TIMEOUT
    ) -> list[ConnRecord]:
        """Wait until ``n`` connections have been fully handled; return their records.

        Raises:
            PeerError: fewer than ``n`` within ``timeout``.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.records) >= n, timeout):
                raise PeerError(f"only {len(self.records)}/{n} connections in {timeout}s")
            return list(self.records)

    def _add(self, rec: ConnRecord) -> None:
        with self._cond:
            self.records.append(rec)
            self._cond.notify_all()


def _serve_one(
    raw: socket.socket,
    context: ssl.SSLContext,
    handler: Callable[[ssl.SSLSocket], object] | None,
    conn_timeout: float,
) -> ConnRecord:
    rec = ConnRecord()
    raw.settimeout(conn_timeout)
    try:
        with context.wrap_socket(raw, server_side=True) as conn:
            rec.version = conn.version()
            rec.cipher = conn.cipher()
            rec.peer_cert_der = conn.getpeercert(binary_form=True)
            if handler is not None:
                rec.value = handler(conn)
    except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
        rec.error = e
    finally:
        raw.close()
    return rec


@contextlib.contextmanager
def python_ssl_server(
    context: ssl.SSLContext,
    handler: Callable[[ssl.SSLSocket], object] | None = echo_handler,
    *,
    lifetime: float = 30.0,
    conn_timeout: float = 5.0,
    max_connections: int | None = None,
) -> Iterator[PythonSSLServer]:
    """A Python ``ssl`` server on 127.0.0.1:<kernel-chosen port>, in a daemon thread.

    Each accepted connection does the handshake (bounded by ``conn_timeout``), then
    ``handler(conn)``; a `ConnRecord` (value or error) is appended to ``server.records``.
    Connections are served one at a time. The thread stops after ``lifetime`` seconds,
    ``max_connections`` connections, or when the context exits. Handler exceptions other
    than OSError/ValueError propagate out of the ``with`` block on exit.

    Raises:
        PeerError: the server thread did not stop within ``conn_timeout`` + 2 s of exit.
    """
    listener = listening_socket(timeout=0.05)
    server = PythonSSLServer(port=listener.getsockname()[1])
    stop = threading.Event()
    crashed: list[BaseException] = []

    def run() -> None:
        deadline = time.monotonic() + lifetime
        served = 0
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                if max_connections is not None and served >= max_connections:
                    return
                try:
                    raw, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return  # listener closed
                served += 1
                server._add(_serve_one(raw, context, handler, conn_timeout))
        except BaseException as e:
            crashed.append(e)

    thread = threading.Thread(target=run, name=f"python_ssl_server:{server.port}", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(conn_timeout + 2.0)
        listener.close()
        if thread.is_alive():
            raise PeerError("python_ssl_server thread did not stop")
        if crashed:
            raise crashed[0]


@dataclass(frozen=True)
class SSLClientResult:
    """What `python_ssl_client` got: the bytes read, version, cipher and server chain leaf."""

    received: bytes
    version: str | None
    cipher: tuple[str, str, int] | None
    peer_cert_der: bytes | None


def python_ssl_client(
    port: int,
    context: ssl.SSLContext,
    data: bytes = b"",
    *,
    server_hostname: str | None = "localhost",
    read: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    host: str = HOST,
) -> SSLClientResult:
    """Connect with Python ``ssl``, handshake, send ``data``, then read.

    ``read=None`` reads until the server closes (EOF or close_notify); ``read=n`` stops after
    ``n`` bytes; ``read=0`` reads nothing. Every socket operation is bounded by ``timeout``.

    Raises:
        ssl.SSLCertVerificationError: the server certificate was rejected (see
            ``.verify_code`` / ``.verify_message``).
        ssl.SSLError: other handshake failure.
        TimeoutError: the peer stalled.
        OSError: connection failure.
    """
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as conn,
    ):
        if data:
            conn.sendall(data)
        got = bytearray()
        while read is None or len(got) < read:
            chunk = conn.recv(65536 if read is None else read - len(got))
            if not chunk:
                break
            got += chunk
        return SSLClientResult(
            bytes(got), conn.version(), conn.cipher(), conn.getpeercert(binary_form=True)
        )


_F = TypeVar("_F", bound=Callable[..., object])


def interop(f: _F) -> _F:
    """Mark a test as interop (real peers on 127.0.0.1).

    There is deliberately no skip when the openssl CLI is missing: ``make test`` installs it,
    and a missing peer must fail the run rather than pass it silently.
    """
    marked: _F = pytest.mark.interop(f)
    return marked
