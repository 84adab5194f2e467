"""``tlspipe server``: an example TLS server (modelled on rustls's tlsserver-mio).

Serves many clients at once, one thread per connection up to :data:`MAX_CONNECTIONS`
(a selector on the listening socket and a signal wake-up pipe runs the accept loop), in one
of two modes:

* ``http`` (default): read a request (up to the blank line), answer with a small
  ``HTTP/1.0 200 OK`` response naming the negotiated parameters, then close_notify;
* ``echo``: send back every plaintext byte received until the client's close_notify.

Prints ``listening on HOST:PORT`` once ready; SIGINT or SIGTERM stops it with exit status 0.
"""

from __future__ import annotations

import argparse
import contextlib
import selectors
import signal
import socket
import sys
import threading
from types import FrameType

from cryptography import x509

from ..crypto.sign import CertifiedKey
from ..errors import ConfigError, Error
from ..server.config import ServerConfig
from ..server.connection import ServerConnection
from ..server.stores import NoServerSessionStorage, ServerSessionMemoryCache, Ticketer
from ..stream import StreamOwned
from ..verify.base import ClientCertVerifier
from ..verify.roots import RootCertStore
from ..verify.webpki import (
    AllowAnyAnonymousOrAuthenticatedClient,
    AllowAnyAuthenticatedClient,
    NoClientAuth,
)
from . import options

__all__ = ["MAX_CONNECTIONS", "add_parser", "run"]

#: Connections served at the same time; more wait in the listen backlog.
MAX_CONNECTIONS = 128
#: A client idle this long (seconds) is dropped.
IDLE_TIMEOUT = 30.0
#: Largest HTTP request head accepted in http mode.
MAX_REQUEST = 16 * 1024


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``server`` subcommand."""
    p = sub.add_parser(
        "server",
        help="run an example TLS server",
        description="Serve TLS on HOST:PORT until SIGINT/SIGTERM (http or echo mode).",
    )
    p.add_argument("--port", type=int, required=True, help="TCP port (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--cert", required=True, metavar="CHAIN.pem", help="certificate chain")
    p.add_argument("--key", required=True, metavar="KEY.pem", help="private key")
    p.add_argument("--mode", choices=("http", "echo"), default="http", help="default: http")
    options.add_common_options(p)
    p.add_argument("--auth", metavar="CA.pem", help="ask for client certificates from this CA")
    p.add_argument("--require-auth", action="store_true", help="with --auth: refuse clients "
                   "without a certificate")  # fmt: skip
    p.add_argument("--resumption", action="store_true",
                   help="stateful resumption (TLS 1.2 session IDs, TLS 1.3 tickets)")  # fmt: skip
    p.add_argument("--tickets", action="store_true", help="stateless session tickets")
    p.add_argument("--ocsp", metavar="FILE.der", help="staple this OCSP response (DER)")
    p.add_argument("--sct", metavar="FILE", help="send this SignedCertificateTimestampList")
    p.add_argument("--max-early-data", type=int, metavar="N",
                   help="accept up to N bytes of 0-RTT data per resumed connection")  # fmt: skip
    p.set_defaults(func=run, parser=p)


def _build_config(p: argparse.ArgumentParser, args: argparse.Namespace) -> ServerConfig:
    options.check_pending_features(p, args)
    if args.require_auth and not args.auth:
        p.error("--require-auth needs --auth CA.pem")
    resumption = args.resumption or args.tickets
    if args.max_early_data is not None and not (0 <= args.max_early_data <= 2**32 - 1):
        p.error(f"--max-early-data {args.max_early_data}: must be 0..2^32-1")
    if args.max_early_data and not resumption:
        p.error("--max-early-data needs --resumption or --tickets (0-RTT rides on a ticket)")
    chain = options.read_file(p, "--cert", args.cert)
    key = options.read_file(p, "--key", args.key)
    ocsp = options.read_file(p, "--ocsp", args.ocsp) if args.ocsp else None
    sct = options.read_file(p, "--sct", args.sct) if args.sct else None
    try:
        verifier: ClientCertVerifier = NoClientAuth()
        if args.auth:
            roots = RootCertStore.from_pem_file(args.auth)
            if args.require_auth:
                verifier = AllowAnyAuthenticatedClient(roots)
            else:
                verifier = AllowAnyAnonymousOrAuthenticatedClient(roots)
        return ServerConfig(
            certified_key=CertifiedKey.from_pem(chain, key, ocsp=ocsp, sct_list=sct),
            client_verifier=verifier,
            session_storage=ServerSessionMemoryCache(1024)
            if args.resumption
            else NoServerSessionStorage(),
            ticketer=Ticketer() if args.tickets else None,
            send_tls13_tickets=2 if resumption else 0,
            max_early_data_size=args.max_early_data or 0,
            alpn_protocols=tuple(a.encode() for a in args.alpn),
            versions=options.versions_for(args),
            cipher_suites=tuple(args.suite) if args.suite else None,
            kx_groups=tuple(args.group) if args.group else None,
            provider=options.provider_for(args),
        )
    except ConfigError as e:
        p.error(str(e))


def _describe(conn: ServerConnection) -> str:
    ver = options.version_name(conn.protocol_version)
    suite = conn.negotiated_cipher_suite
    group = conn.negotiated_key_exchange_group
    alpn = conn.alpn_protocol
    return (
        f"{ver} {options.iana_suite_name(suite.suite) if suite else '?'}"
        f" group={group.name if group else '-'}"
        f" alpn={alpn.decode('ascii', 'replace') if alpn else '-'}"
        f" sni={conn.server_name or '-'}"
        f" client={_subject(conn.peer_certificates)}"
        f" resumed={'yes' if conn.handshake_kind_resumed else 'no'}"
        f" early_data={'accepted' if conn.early_data_accepted else 'no'}"
    )


def _subject(chain: tuple[bytes, ...] | None) -> str:
    """The client certificate's subject (RFC 4514), or ``-``."""
    if not chain:
        return "-"
    try:
        return x509.load_der_x509_certificate(chain[0]).subject.rfc4514_string()
    except ValueError:
        return "?"


class _Server:
    def __init__(self, config: ServerConfig, mode: str, verbose: bool) -> None:
        self.config = config
        self.mode = mode
        self.verbose = verbose
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def log(self, msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    def handle(self, sock: socket.socket, peer: str) -> None:
        try:
            sock.settimeout(IDLE_TIMEOUT)
            conn = ServerConnection(self.config)
            with StreamOwned(conn, sock) as s:
                s.do_handshake()
                early = conn.read_early_data()
                if self.verbose:
                    self.log(f"{peer}: handshake done: {_describe(conn)}")
                    if conn.early_data_offered:
                        how = "accepted" if conn.early_data_accepted else "rejected"
                        self.log(f"{peer}: early data {how} ({len(early)} bytes)")
                if self.mode == "echo":
                    if early:
                        s.write(early)
                    while data := s.read():
                        s.write(data)
                else:
                    self._http(s, conn, early)
            if self.verbose:
                self.log(f"{peer}: closed")
        except (Error, OSError) as e:
            self.log(f"{peer}: {type(e).__name__}: {e}")
        finally:
            sock.close()
            self.slots.release()

    def _http(self, s: StreamOwned, conn: ServerConnection, early: bytes) -> None:
        head = early
        while b"\r\n\r\n" not in head and b"\n\n" not in head and len(head) < MAX_REQUEST:
            chunk = s.read()
            if not chunk:
                break
            head += chunk
        body = f"Hello from tlspipe: {_describe(conn)}\r\n".encode()
        s.write(
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )

    def serve(self, listener: socket.socket) -> None:
        """Accept until SIGINT/SIGTERM."""
        stop = threading.Event()
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        old_fd = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        sel = selectors.DefaultSelector()
        try:
            listener.setblocking(False)
            sel.register(listener, selectors.EVENT_READ)
            sel.register(wake_r, selectors.EVENT_READ)
            while not stop.is_set():
                for key, _ in sel.select(timeout=1.0):
                    if key.fileobj is wake_r:
                        with contextlib.suppress(OSError):
                            wake_r.recv(64)
                    elif not stop.is_set():
                        self._accept(listener)
        finally:
            signal.set_wakeup_fd(old_fd)
            for sig, h in old.items():
                signal.signal(sig, h)
            sel.close()
            wake_r.close()
            wake_w.close()

    def _accept(self, listener: socket.socket) -> None:
        if not self.slots.acquire(timeout=0.05):
            return  # full: leave it in the backlog until a slot frees
        try:
            sock, addr = listener.accept()
        except (BlockingIOError, InterruptedError):
            self.slots.release()
            return
        except OSError as e:
            self.slots.release()
            self.log(f"accept failed: {e}")
            return
        sock.setblocking(True)
        with contextlib.suppress(OSError):  # not TCP (e.g. a UNIX socket): fine
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = f"{addr[0]}:{addr[1]}"
        t = threading.Thread(target=self.handle, args=(sock, peer), daemon=True)
        t.start()


def run(args: argparse.Namespace) -> int:
    """Run the server until a signal; 0 on a clean stop, 1 if it cannot listen.

    Raises:
        SystemExit: usage errors (status 2).
    """
    p: argparse.ArgumentParser = args.parser
    if not 0 <= args.port <= 65535:
        p.error(f"--port {args.port}: not a TCP port")
    config = _build_config(p, args)
    options.setup_logging(args.verbose)
    try:
        listener = socket.create_server((args.host, args.port), backlog=128)
    except OSError as e:
        print(f"tlspipe server: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    with listener:
        host, port = listener.getsockname()[:2]
        print(f"listening on {host}:{port}", flush=True)
        _Server(config, args.mode, args.verbose).serve(listener)
    if args.verbose:
        print("tlspipe server: stopped", file=sys.stderr, flush=True)
    return 0
