"""``tlspipe client``: an example TLS client (modelled on rustls's tlsclient-mio).

Connects to HOST:PORT, verifies the server (``--cafile`` or Mozilla's roots) and then either
sends one ``GET / HTTP/1.0`` request and prints the response (``--http``), or copies stdin to
the server and the server's plaintext to stdout until the server closes (stdin EOF sends
close_notify).  The interactive loop is a selector over the socket (non-blocking, vectored
writes) and stdin, so large transfers in both directions cannot deadlock.

Exit status 0 on success; 1 with a one-line reason on stderr on failure (connection refused,
certificate verification, alerts, truncation); 2 on usage errors.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import selectors
import socket
import sys
import time
from typing import BinaryIO

from ..client.config import ClientConfig
from ..client.connection import ClientConnection
from ..errors import (
    AlertReceived,
    ConfigError,
    Error,
    InvalidCertificate,
    UnexpectedEof,
)
from ..stream import Stream
from ..verify.roots import RootCertStore
from . import options

__all__ = ["add_parser", "run"]

#: Seconds allowed to connect and to finish the handshake.
CONNECT_TIMEOUT = 10.0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``client`` subcommand."""
    p = sub.add_parser(
        "client",
        help="run an example TLS client",
        description="Connect to HOST with TLS; copy stdin to the server and its replies to "
        "stdout, or send one HTTP request with --http.",
    )
    p.add_argument("host", metavar="HOST", help="server host name or IP address")
    p.add_argument("--port", type=int, default=443, help="TCP port (443)")
    p.add_argument("--cafile", metavar="CA.pem", help="trusted roots (default: Mozilla's)")
    sni = p.add_mutually_exclusive_group()
    sni.add_argument("--sni", metavar="NAME", help="server name to send and verify (HOST)")
    sni.add_argument("--no-sni", action="store_true", help="do not send server_name")
    p.add_argument("--http", action="store_true", help="send GET / and print the response")
    options.add_common_options(p)
    p.add_argument("--auth-key", metavar="K.pem", help="client private key (with --auth-certs)")
    p.add_argument("--auth-certs", metavar="C.pem", help="client certificate chain, leaf first")
    p.add_argument("--resume", type=int, metavar="N",
                   help="then reconnect N times, resuming the session (reports each)")  # fmt: skip
    p.add_argument("--early-data", action="store_true",
                   help="with --resume and --http: send the request as 0-RTT data")  # fmt: skip
    p.set_defaults(func=run, parser=p)


def _build_config(p: argparse.ArgumentParser, args: argparse.Namespace) -> ClientConfig:
    options.check_pending_features(p, args)
    if (args.auth_key is None) != (args.auth_certs is None):
        p.error("--auth-key and --auth-certs go together")
    try:
        roots = RootCertStore.from_pem_file(args.cafile) if args.cafile else None
        config = ClientConfig(
            root_store=roots,
            alpn_protocols=tuple(a.encode() for a in args.alpn),
            versions=options.versions_for(args),
            cipher_suites=tuple(args.suite) if args.suite else None,
            kx_groups=tuple(args.group) if args.group else None,
            provider=options.provider_for(args),
            enable_sni=not args.no_sni,
            enable_early_data=args.early_data,
        )
        if args.auth_key is not None:
            config = config.with_client_auth_cert(
                options.read_file(p, "--auth-certs", args.auth_certs),
                options.read_file(p, "--auth-key", args.auth_key),
            )
        return config
    except ConfigError as e:
        p.error(str(e))


def reason(err: BaseException) -> str:
    """One line saying why a connection failed."""
    if isinstance(err, InvalidCertificate):
        return f"certificate verification failed: {err}"
    if isinstance(err, AlertReceived):
        return f"server sent alert: {err}"
    if isinstance(err, UnexpectedEof):
        return f"connection closed early: {err}"
    if isinstance(err, Error):
        return f"TLS error ({type(err).__name__}): {err}"
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, OSError):
        return f"connection failed: {err.strerror or err}"
    return str(err)


def _fail(msg: str) -> int:
    print(f"tlspipe client: error: {msg}".replace("\n", " "), file=sys.stderr, flush=True)
    return 1


def run(args: argparse.Namespace) -> int:
    """Run the client; returns the exit status.

    Raises:
        SystemExit: usage errors (status 2).
    """
    p: argparse.ArgumentParser = args.parser
    if not 0 < args.port <= 65535:
        p.error(f"--port {args.port}: not a TCP port")
    if args.resume is not None and args.resume < 0:
        p.error(f"--resume {args.resume}: must be 0 or more")
    config = _build_config(p, args)
    options.setup_logging(args.verbose)
    name = args.sni or args.host
    try:
        ClientConnection(config, name)  # validates the name before any network activity
    except ConfigError as e:
        p.error(str(e))
    status = _connect(args, config, name, interactive=not args.http)
    for i in range(1, (args.resume or 0) + 1):
        if status:
            break
        status = _connect(args, config, name, interactive=False, attempt=i)
    return status


def _connect(
    args: argparse.Namespace,
    config: ClientConfig,
    name: str,
    *,
    interactive: bool,
    attempt: int = 0,
) -> int:
    """One connection: handshake, then the HTTP request, stdin/stdout copying, or (for a
    ``--resume`` reconnection without ``--http``) just close_notify.  Returns the status."""
    conn = ClientConnection(config, name)
    try:
        t0 = time.perf_counter()
        sock = socket.create_connection((args.host, args.port), timeout=CONNECT_TIMEOUT)
    except OSError as e:
        return _fail(f"cannot connect to {args.host}:{args.port}: {e.strerror or e}")
    req = f"GET / HTTP/1.0\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode("ascii")
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # records leave whole
        stream = Stream(conn, sock)
        try:
            early = conn.write_early_data(req) if args.http and args.early_data else 0
            stream.do_handshake()
            if args.verbose:
                _print_negotiated(conn, time.perf_counter() - t0)
            if attempt:
                how = "resumed" if conn.handshake_kind_resumed else "full handshake"
                if conn.early_data_offered:
                    ok = "accepted" if conn.early_data_accepted else "rejected"
                    how += f", early data {ok} ({early} bytes)"
                print(f"tlspipe client: reconnection {attempt}: {how}", file=sys.stderr)
            if args.http:
                sock.settimeout(30.0)
                rest = req[early:] if conn.early_data_accepted else req  # rejected: resend
                if rest:
                    stream.write(rest)
                _copy_http_response(stream, sys.stdout.buffer)
                stream.close()
                return 0
            if not interactive:
                stream.close()
                return 0
            sock.settimeout(None)
            return _interactive(conn, sock)
        except (Error, OSError) as e:
            return _fail(reason(e))


_MAX_HEADER = 64 * 1024
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]{1,12})[ \t]*\r\n", re.IGNORECASE)


def _copy_http_response(stream: Stream, out: BinaryIO) -> None:
    """Copy the server's response to ``out``: until the body's Content-Length when the
    header names one (then we close, as HTTP/1.0 allows), else until the server closes."""
    head = b""
    need: int | None = None  # total bytes of header + body, once known
    got = 0
    while data := stream.read():
        out.write(data)
        out.flush()
        got += len(data)
        if need is None and len(head) < _MAX_HEADER:
            head += data[: _MAX_HEADER - len(head)]
            end = head.find(b"\r\n\r\n")
            if end >= 0:
                m = _CONTENT_LENGTH.search(head[: end + 2])
                need = end + 4 + int(m.group(1)) if m else -1
        if need is not None and 0 <= need <= got:
            return


def _print_negotiated(conn: ClientConnection, seconds: float) -> None:
    ver = options.version_name(conn.protocol_version)
    suite = conn.negotiated_cipher_suite
    group = conn.negotiated_key_exchange_group
    alpn = conn.alpn_protocol
    print(
        f"tlspipe client: {ver} {options.iana_suite_name(suite.suite) if suite else '?'} "
        f"group={group.name if group else '-'} "
        f"alpn={alpn.decode('ascii', 'replace') if alpn else '-'} "
        f"ocsp={len(conn.peer_ocsp_response or b'')}B "
        f"sct={len(conn.peer_sct_list or b'')}B "
        f"handshake {seconds * 1000:.1f} ms",
        file=sys.stderr,
        flush=True,
    )


def _interactive(conn: ClientConnection, sock: socket.socket) -> int:
    """Copy stdin → server and server → stdout until the server closes.

    Never blocks on one direction while the other is stuck: stdin is read only when the
    previous chunk is encrypted and sent.

    Raises:
        Error: a protocol error.
        OSError: a socket error.
    """
    sock.setblocking(False)
    out = sys.stdout.buffer
    stdin_fd = sys.stdin.fileno() if sys.stdin is not None else -1
    stdin_open = stdin_fd >= 0
    pending_in = memoryview(b"")
    sel = selectors.SelectSelector()  # select() also accepts regular files on stdin
    try:
        while True:
            if pending_in:
                pending_in = pending_in[conn.write(pending_in) :]
            want = selectors.EVENT_READ
            if conn.wants_write():
                want |= selectors.EVENT_WRITE
            _set(sel, sock, want)
            if stdin_open and not pending_in and not conn.wants_write():
                _set(sel, stdin_fd, selectors.EVENT_READ)
            else:
                _set(sel, stdin_fd, 0)
            for key, ev in sel.select():
                if key.fileobj is sock:
                    if ev & selectors.EVENT_WRITE:
                        with contextlib.suppress(BlockingIOError):
                            conn.consume_tls(sock.sendmsg(conn.pending_tls()))
                    if ev & selectors.EVENT_READ and _receive(conn, sock, out):
                        conn.send_close_notify()
                        _flush_blocking(conn, sock)
                        return 0
                else:
                    chunk = os.read(stdin_fd, 65536)
                    if chunk:
                        pending_in = memoryview(chunk)
                    else:
                        stdin_open = False
                        conn.send_close_notify()
    finally:
        sel.close()


def _set(sel: selectors.BaseSelector, fileobj: socket.socket | int, events: int) -> None:
    if isinstance(fileobj, int) and fileobj < 0:
        return
    try:
        key = sel.get_key(fileobj)
    except KeyError:
        if events:
            sel.register(fileobj, events)
        return
    if not events:
        sel.unregister(fileobj)
    elif key.events != events:
        sel.modify(fileobj, events)


def _receive(conn: ClientConnection, sock: socket.socket, out: BinaryIO) -> bool:
    """Read from the socket once; True once the server sent close_notify.

    Raises:
        Error: a protocol error (the alert is sent first), or EOF without close_notify.
    """
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        return False
    if not data:
        conn.read_tls(b"")
    view = memoryview(data)
    while True:
        if view:
            view = view[conn.read_tls(view) :]
        try:
            conn.process_new_packets()
        except Error:
            _flush_blocking(conn, sock)
            raise
        plain = conn.read()
        if plain:
            out.write(plain)
            out.flush()
        if not view:
            break
    return conn.peer_has_closed


def _flush_blocking(conn: ClientConnection, sock: socket.socket) -> None:
    sel = selectors.SelectSelector()
    try:
        sel.register(sock, selectors.EVENT_WRITE)
        while conn.wants_write():
            try:
                conn.consume_tls(sock.sendmsg(conn.pending_tls()))
            except BlockingIOError:
                if not sel.select(timeout=CONNECT_TIMEOUT):
                    raise TimeoutError("peer does not read") from None
            except OSError:
                return  # peer gone; nothing more can be delivered
    finally:
        sel.close()
