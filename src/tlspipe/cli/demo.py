"""``tlspipe demo``: a self-contained tour that needs nothing but 127.0.0.1.

Makes a throwaway CA and a server certificate for ``localhost`` in memory (``cryptography``,
ECDSA P-256; nothing is written to disk), runs a tlspipe server in a thread and a tlspipe
client against it over a real TCP socket, and prints the negotiated version / suite / group /
ALPN, the handshake time and a bulk-transfer throughput figure.  Takes a second or two.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import socket
import statistics
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..client.config import ClientConfig
from ..client.connection import ClientConnection
from ..crypto.sign import CertifiedKey
from ..errors import Error
from ..server.config import ServerConfig
from ..server.connection import ServerConnection
from ..stream import Stream, StreamOwned
from ..verify.roots import RootCertStore
from . import options

__all__ = ["add_parser", "make_test_pki", "run"]

#: Plaintext sent from client to server for the throughput figure.
TRANSFER_BYTES = 64 * 1024 * 1024
#: Extra handshakes timed after the first (cold) one.
HANDSHAKES = 20
HOST = "127.0.0.1"
TIMEOUT = 20.0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``demo`` subcommand (no options)."""
    p = sub.add_parser(
        "demo",
        help="run a server and a client on 127.0.0.1 with a throwaway CA",
        description="Handshake and bulk transfer between a tlspipe server and client on "
        "127.0.0.1, with a CA and certificate made in memory.",
    )
    p.set_defaults(func=run, parser=p)


def _ku(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_test_pki(name: str = "localhost") -> tuple[bytes, bytes, bytes]:
    """A throwaway CA and a server certificate for ``name`` and 127.0.0.1.

    Returns:
        ``(ca_pem, chain_pem, key_pem)``: the CA certificate, the server chain (leaf only)
        and the server's PKCS#8 private key, all PEM.

    Raises:
        Nothing.
    """
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tlspipe demo CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ku(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_ku(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), leaf.public_bytes(pem), key_pem


def _serve(
    listener: socket.socket, config: ServerConfig, count: int, errors: list[BaseException]
) -> None:
    """Serve ``count`` clients in turn: count the bytes each sends, answer with the count."""
    buf = bytearray(256 * 1024)
    try:
        for _ in range(count):
            sock, _ = listener.accept()
            sock.settimeout(TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with StreamOwned(ServerConnection(config), sock) as s:
                total = 0
                while n := s.readinto(buf):
                    total += n
                s.write(f"{total}\n".encode())
    except (Error, OSError) as e:
        errors.append(e)


def _handshake(config: ClientConfig, port: int) -> tuple[Stream, float]:
    t0 = time.perf_counter()
    sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay on small records
    s = Stream(ClientConnection(config, "localhost"), sock)
    s.do_handshake()
    return s, time.perf_counter() - t0


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 on success, 1 (with a reason) if anything failed.

    Raises:
        Nothing.
    """
    out = sys.stdout
    t_start = time.perf_counter()
    ca_pem, chain_pem, key_pem = make_test_pki()
    roots = RootCertStore()
    roots.add_pem(ca_pem)
    alpn = (b"h2", b"http/1.1")
    server_config = ServerConfig(
        certified_key=CertifiedKey.from_pem(chain_pem, key_pem), alpn_protocols=alpn
    )
    client_config = ClientConfig(root_store=roots, alpn_protocols=alpn)
    print("tlspipe demo: throwaway CA and server certificate for 'localhost' (in memory)", file=out)

    errors: list[BaseException] = []
    with socket.create_server((HOST, 0)) as listener:
        listener.settimeout(TIMEOUT)
        port = listener.getsockname()[1]
        print(f"server:      listening on {HOST}:{port}", file=out)
        th = threading.Thread(
            target=_serve, args=(listener, server_config, 1 + HANDSHAKES, errors), daemon=True
        )
        th.start()
        try:
            s, hs = _handshake(client_config, port)
            with s.sock:
                conn = s.conn
                suite = conn.negotiated_cipher_suite
                group = conn.negotiated_key_exchange_group
                alpn_got = conn.alpn_protocol.decode() if conn.alpn_protocol else "-"
                print(f"client:      connected to localhost ({HOST}:{port}), certificate verified",
                      file=out)  # fmt: skip
                print(f"version:     {options.version_name(conn.protocol_version)}", file=out)
                print(f"suite:       {options.iana_suite_name(suite.suite) if suite else '?'}",
                      file=out)  # fmt: skip
                print(f"group:       {group.name if group else '-'}", file=out)
                print(f"ALPN:        {alpn_got}", file=out)
                chunk = bytes(256 * 1024)
                t1 = time.perf_counter()
                for _ in range(TRANSFER_BYTES // len(chunk)):
                    s.write(chunk)
                s.close()  # close_notify: the server sees end of stream and replies
                reply = s.read_all()
                secs = time.perf_counter() - t1
            if reply.strip() != str(TRANSFER_BYTES).encode():
                raise OSError(f"server reported {reply!r}")
            times = []
            for _ in range(HANDSHAKES):
                s2, t = _handshake(client_config, port)
                times.append(t)
                with s2.sock:
                    s2.close()
                    s2.read_all()
            th.join(TIMEOUT)
            if errors:
                raise errors[0]
            median = statistics.median(times)
            print(f"handshake:   {hs * 1000:.1f} ms first; median {median * 1000:.1f} ms over "
                  f"{HANDSHAKES} more (TCP connect + full TLS handshake)", file=out)  # fmt: skip
            mib = TRANSFER_BYTES / 2**20
            rate = f"{mib / secs:.0f} MiB/s"
            print(f"throughput:  {mib:.0f} MiB client→server in {secs:.2f} s = {rate}", file=out)
            print(f"done in {time.perf_counter() - t_start:.2f} s", file=out)
            return 0
        except (Error, OSError) as e:
            print(f"tlspipe demo: error: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
