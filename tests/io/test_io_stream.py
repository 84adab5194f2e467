"""tlspipe.stream: Stream / StreamOwned over real sockets (socketpair and TCP on 127.0.0.1).

Includes the vectored-write proof: a whole handshake flight (several records) and a large
write (many records) each leave in exactly one ``socket.sendmsg`` call, counted by a
``socket.socket`` subclass that records every send-family call.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import tlspipe
from tlspipe.stream import Stream, StreamOwned

TIMEOUT = 10.0


class CountingSocket(socket.socket):
    """A real socket that records each send-family call: ("sendmsg", n_buffers, n_bytes)."""

    calls: list[tuple[str, int, int]]

    def sendmsg(self, buffers: Any, *args: Any) -> int:  # type: ignore[override]
        bufs = list(buffers)
        n = super().sendmsg(bufs, *args)
        self.calls.append(("sendmsg", len(bufs), n))
        return n

    def send(self, data: Any, *args: Any) -> int:  # type: ignore[override]
        self.calls.append(("send", 1, len(data)))
        return super().send(data, *args)

    def sendall(self, data: Any, *args: Any) -> None:  # type: ignore[override]
        self.calls.append(("sendall", 1, len(data)))
        super().sendall(data, *args)


def counting_pair() -> tuple[CountingSocket, CountingSocket]:
    a, b = socket.socketpair()
    out = []
    for s in (a, b):
        c = CountingSocket(s.family, s.type, s.proto, fileno=s.detach())
        c.calls = []
        c.settimeout(TIMEOUT)
        out.append(c)
    return out[0], out[1]


def configs(pki: Any, alpn: tuple[bytes, ...] = ()) -> tuple[tlspipe.ClientConfig, Any]:
    ident = pki.server()
    cc = tlspipe.ClientConfig(
        root_store=tlspipe.RootCertStore.from_pem_file(ident.ca_pem), alpn_protocols=alpn
    )
    sc = tlspipe.ServerConfig.from_pem_files(ident.chain_pem, ident.key_pem, alpn_protocols=alpn)
    return cc, sc


class Thread:
    """Runs ``fn`` in a thread; ``result()`` joins (bounded) and re-raises its exception."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.value: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.value = fn()
            except BaseException as e:
                self.error = e

        self.t = threading.Thread(target=run, daemon=True)
        self.t.start()

    def result(self) -> Any:
        self.t.join(TIMEOUT)
        assert not self.t.is_alive(), "thread did not finish"
        if self.error is not None:
            raise self.error
        return self.value


@pytest.fixture
def pair() -> Iterator[tuple[CountingSocket, CountingSocket]]:
    a, b = counting_pair()
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_stream_handshake_echo_and_clean_close(pki: Any, pair: Any) -> None:
    cc, sc = configs(pki, alpn=(b"h2",))
    a, b = pair

    def server() -> bytes:
        got = b""
        with StreamOwned(tlspipe.ServerConnection(sc), b) as s:
            while data := s.read():
                got += data
                s.write(data.upper())
        return got

    th = Thread(server)
    c = Stream(tlspipe.ClientConnection(cc, "localhost"), a)
    c.do_handshake()
    assert c.conn.alpn_protocol == b"h2"
    assert c.conn.protocol_version is tlspipe.ProtocolVersion.TLSv1_3
    c.write(b"hello")
    assert c.read(5) == b"HELLO"
    c.close()  # close_notify only: the socket stays open (half-close)
    assert c.read_all() == b""  # the server answered our close_notify with its own
    assert c.conn.peer_has_closed
    assert th.result() == b"hello"


def test_one_sendmsg_per_multi_record_flight(pki: Any, pair: Any) -> None:
    """The server's first flight (ServerHello, CCS, then EncryptedExtensions, Certificate,
    CertificateVerify and Finished coalesced: three records) and a 60 kB write (4 records)
    each leave
    in ONE sendmsg call, and nothing is sent through send()/sendall().  (A write larger than
    the connection's buffer_limit, 64 KiB by default, goes out in buffer_limit-sized calls.)"""
    cc, sc = configs(pki)
    a, b = pair
    big = bytes(range(250)) * 240  # 60000 bytes → 4 records of ≤ 16384

    def server() -> None:
        s = Stream(tlspipe.ServerConnection(sc), b)
        s.do_handshake()
        s.write(big)
        s.close()

    th = Thread(server)
    c = Stream(tlspipe.ClientConnection(cc, "localhost"), a)
    got = c.read_all()
    th.result()
    assert got == big
    calls = b.calls
    assert [k for k, _, _ in calls] == ["sendmsg"] * len(calls)
    # flight 1: one call carrying ≥ 3 records (ServerHello, CCS, EE + Certificate + CV +
    # Finished)
    assert calls[0][1] >= 3, calls
    # the 60 kB write: one call carrying 4 records, all bytes accepted
    big_calls = [c for c in calls[1:] if c[2] > len(big)]
    assert len(big_calls) == 1 and big_calls[0][1] == 4, calls
    # handshake flight, (maybe NewSessionTicket), data, close_notify
    assert len(calls) <= 4, calls
    # the client's second flight (CCS + Finished) is one call too
    assert a.calls[1][0] == "sendmsg" and a.calls[1][1] >= 2, a.calls


def test_partial_sendmsg_is_continued(pki: Any) -> None:
    """A socket that accepts only a few bytes per call: flush loops until all is sent."""
    cc, sc = configs(pki)
    a, b = counting_pair()

    class Dribble(CountingSocket):
        def sendmsg(self, buffers: Any, *args: Any) -> int:  # type: ignore[override]
            bufs = [bytes(x) for x in buffers]
            first = bufs[0][:700]
            n = socket.socket.sendmsg(self, [first])
            self.calls.append(("sendmsg", 1, n))
            return n

    d = Dribble(b.family, b.type, b.proto, fileno=b.detach())
    d.calls = []
    d.settimeout(TIMEOUT)
    try:
        th = Thread(lambda: StreamOwned(tlspipe.ServerConnection(sc), d).write(b"x" * 50000))
        with StreamOwned(tlspipe.ClientConnection(cc, "localhost"), a) as c:
            got = b""
            while len(got) < 50000:
                got += c.read()
        th.result()
        assert got == b"x" * 50000
        assert len(d.calls) > 50
    finally:
        a.close()
        d.close()


def test_makefile_text_and_binary(pki: Any, pair: Any) -> None:
    cc, sc = configs(pki)
    a, b = pair

    def server() -> None:
        with StreamOwned(tlspipe.ServerConnection(sc), b) as s:
            f = s.makefile("rb")
            line = f.readline()
            w = s.makefile("w")
            w.write(f"got {line.decode().strip()}\nsecond\n")
            w.flush()

    th = Thread(server)
    with StreamOwned(tlspipe.ClientConnection(cc, "localhost"), a) as c:
        f = c.makefile("rwb")
        f.write(b"ping\n")
        f.flush()
        r = c.makefile("r")
        assert r.readline() == "got ping\n"
        assert r.readline() == "second\n"
        assert r.readline() == ""
    th.result()
    with pytest.raises(ValueError):
        c.makefile("x")


def test_unexpected_eof_is_an_error(pki: Any, pair: Any) -> None:
    cc, sc = configs(pki)
    a, b = pair

    def server() -> None:
        s = Stream(tlspipe.ServerConnection(sc), b)
        s.write(b"partial")
        b.shutdown(socket.SHUT_RDWR)  # TCP close without close_notify

    th = Thread(server)
    c = Stream(tlspipe.ClientConnection(cc, "localhost"), a)
    assert c.read() == b"partial"
    with pytest.raises(tlspipe.UnexpectedEof):
        c.read()
    th.result()


def test_verification_failure_sends_alert(pki: Any, pair: Any) -> None:
    bad = pki.bad("wrong-name")
    cc = tlspipe.ClientConfig(root_store=tlspipe.RootCertStore.from_pem_file(bad.ca_pem))
    sc = tlspipe.ServerConfig.from_pem_files(bad.chain_pem, bad.key_pem)
    a, b = pair

    def server() -> None:
        Stream(tlspipe.ServerConnection(sc), b).do_handshake()

    th = Thread(server)
    with pytest.raises(tlspipe.InvalidCertificate):
        Stream(tlspipe.ClientConnection(cc, "localhost"), a).do_handshake()
    with pytest.raises(tlspipe.AlertReceived) as ei:
        th.result()
    assert ei.value.description == tlspipe.enums.AlertDescription.bad_certificate


def test_tcp_large_transfer_both_ways(pki: Any) -> None:
    """Real TCP on 127.0.0.1: 4 MiB each way at once (reader thread + writer)."""
    cc, sc = configs(pki)
    lsock = socket.create_server(("127.0.0.1", 0))
    lsock.settimeout(TIMEOUT)
    port = lsock.getsockname()[1]
    size = 4 << 20

    def server() -> int:
        sock, _ = lsock.accept()
        sock.settimeout(TIMEOUT)
        with StreamOwned(tlspipe.ServerConnection(sc), sock) as s:
            n = 0
            while data := s.read():
                n += len(data)
            s.write(b"y" * size)
        return n

    th = Thread(server)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            s = Stream(tlspipe.ClientConnection(cc, "127.0.0.1"), sock)
            for _ in range(size // 65536):
                s.write(bytes(65536))
            s.close()
            total = 0
            while data := s.read():
                total += len(data)
        assert th.result() == size
        assert total == size
    finally:
        lsock.close()


def test_stream_owned_closes_socket(pki: Any, pair: Any) -> None:
    cc, sc = configs(pki)
    a, b = pair
    th = Thread(lambda: Stream(tlspipe.ServerConnection(sc), b).read_all())
    with StreamOwned(tlspipe.ClientConnection(cc, "localhost"), a) as c:
        c.write(b"bye")
    assert a.fileno() == -1
    assert th.result() == b"bye"


def test_server_handshake_survives_client_leaving_right_after(pki: Any, pair: Any) -> None:
    """The client completes its handshake and drops the connection at once: the server's
    handshake still completes (post-handshake records it cannot deliver, such as TLS 1.3
    session tickets, are dropped) and reading reports the truncation."""
    cc, sc = configs(pki)
    a, b = pair
    c = Stream(tlspipe.ClientConnection(cc, "localhost"), a)
    th = Thread(lambda: c.do_handshake())
    s = Stream(tlspipe.ServerConnection(sc), b)
    s.flush()  # nothing yet: the server speaks second
    s._read_some()  # ClientHello → first flight queued
    s.flush()
    th.result()  # the client sent Finished
    a.close()
    s.do_handshake()
    assert not s.conn.is_handshaking
    with pytest.raises((tlspipe.UnexpectedEof, ConnectionResetError)):
        s.read()
