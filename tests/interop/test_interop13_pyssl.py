"""TLS 1.3 interop: tlspipe against Python's ``ssl`` module (OpenSSL underneath), both ways.

Python's side always verifies against the test root with ``check_hostname=True``
(``ssl.create_default_context``). Assertions use what Python reports (``version()``,
``cipher()``, ``selected_alpn_protocol()``, the peer certificate, the SSL error reason it
raises for our alerts) as well as tlspipe's view; application data flows both ways.

Coverage and limits:
* suite × group × key: a 6-case diagonal in each direction (every suite, group and key at
  least once); the full matrix runs against openssl (test_interop13_openssl.py);
* ALPN agreement; no overlap refused by a tlspipe server (Python sees the alert). A Python
  *server* does not send no_application_protocol on no overlap: CPython's ALPN callback
  answers "no ALPN" and the handshake goes on, which is what the test asserts;
* SNI both ways (SNI resolver on tlspipe, ``sni_callback`` on Python);
* HelloRetryRequest both ways (seen in tlspipe's debug log: Python cannot show it);
* KeyUpdate initiated by tlspipe (Python's OpenSSL answers it); Python ``ssl`` has no API to
  initiate one, nor (3.11) an exporter API, so those are covered against openssl only;
* close_notify both ways and TCP close without it; certificate rejections both ways.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
from drive import (
    SUITES13,
    Driver,
    certified_key,
    client_config,
    connect,
    serve_in_thread,
    server_config,
)
from peers import HOST, ConnRecord, python_ssl_server

import tlspipe
from pki import PKI, Identity
from tlspipe.enums import AlertDescription as AD

CS = tlspipe.CipherSuite
NG = tlspipe.NamedGroup
TLS13 = (tlspipe.ProtocolVersion.TLSv1_3,)
TIMEOUT = 10.0

#: OpenSSL curve names for ``SSLContext.set_ecdh_curve`` (OpenSSL 3: sets the group list).
PY_CURVE = {NG.x25519: "X25519", NG.secp256r1: "prime256v1", NG.secp384r1: "secp384r1"}

DIAGONAL = [
    pytest.param(CS.TLS13_AES_128_GCM_SHA256, NG.x25519, "ecdsa-p256", id="AES128-x25519-p256"),
    pytest.param(CS.TLS13_AES_256_GCM_SHA384, NG.secp256r1, "ecdsa-p384", id="AES256-p256-p384"),
    pytest.param(CS.TLS13_CHACHA20_POLY1305_SHA256, NG.secp384r1, "ed25519",
                 id="CHACHA-p384-ed25519"),
    pytest.param(CS.TLS13_AES_128_GCM_SHA256, NG.secp384r1, "rsa-2048", id="AES128-p384-rsa"),
    pytest.param(CS.TLS13_AES_256_GCM_SHA384, NG.x25519, "rsa-2048", id="AES256-x25519-rsa"),
    pytest.param(CS.TLS13_CHACHA20_POLY1305_SHA256, NG.secp256r1, "ecdsa-p256",
                 id="CHACHA-p256-p256"),
]  # fmt: skip

pytestmark = pytest.mark.interop


# -- Python contexts -----------------------------------------------------------------------------


def py_client_ctx(ca_pem: object, *, group: tlspipe.NamedGroup | None = None) -> ssl.SSLContext:
    """Python client: TLS 1.3 only, verify against ``ca_pem``, hostname checked."""
    ctx = ssl.create_default_context(cafile=str(ca_pem))
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    if group is not None:
        ctx.set_ecdh_curve(PY_CURVE[group])
    return ctx


def py_server_ctx(ident: Identity, *, group: tlspipe.NamedGroup | None = None) -> ssl.SSLContext:
    """Python server: TLS 1.3 only, presenting ``ident``'s chain."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(ident.chain_pem, ident.key_pem)
    if group is not None:
        ctx.set_ecdh_curve(PY_CURVE[group])
    return ctx


def echo_until_close_notify(conn: ssl.SSLSocket) -> bytes:
    """Python server handler: echo until tlspipe's close_notify, then answer with one."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no delayed-ACK stalls
    got = bytearray()
    while chunk := conn.recv(65536):
        got += chunk
        conn.sendall(chunk)
    conn.unwrap()  # our close_notify (the peer's arrived: recv returned b"")
    return bytes(got)


@contextlib.contextmanager
def py_client(
    port: int, ctx: ssl.SSLContext, server_hostname: str = "localhost", **kw: bool
) -> Iterator[ssl.SSLSocket]:
    """A connected, handshaken Python ssl client socket (closed on exit)."""
    with (
        socket.create_connection((HOST, port), timeout=TIMEOUT) as raw,
        ctx.wrap_socket(raw, server_hostname=server_hostname, **kw) as conn,
    ):
        yield conn


def recv_until(conn: ssl.SSLSocket, marker: bytes) -> bytes:
    """Read from a Python ssl socket until ``marker`` (bounded by the socket timeout)."""
    got = bytearray()
    while marker not in got:
        chunk = conn.recv(65536)
        if not chunk:
            raise EOFError(f"EOF before {marker!r}; got {bytes(got)!r}")
        got += chunk
    return bytes(got)


def _tlspipe_echo_server(d: Driver) -> dict[str, object]:
    """tlspipe server body: handshake, answer one line, then close_notify both ways."""
    d.handshake()
    line = d.read_until(b"\n")
    d.write(b"pong:" + line)
    rest = d.read_until_close()
    d.close()
    c = d.conn
    return {
        "line": line,
        "rest": rest,
        "suite": c.negotiated_cipher_suite.suite if c.negotiated_cipher_suite else None,
        "group": c.negotiated_key_exchange_group,
        "alpn": c.alpn_protocol,
        "sni": c.server_name,
    }


def _closing(d: Driver) -> contextlib.closing[socket.socket]:
    return contextlib.closing(d.sock)


def _one_record(server: object) -> ConnRecord:
    (rec,) = server.wait_for_connections(1)  # type: ignore[attr-defined]
    return rec


# -- the diagonal --------------------------------------------------------------------------------


@pytest.mark.parametrize(("suite", "group", "kind"), DIAGONAL)
def test_diagonal_tlspipe_client_to_python_server(
    pki: PKI, suite: tlspipe.CipherSuite, group: tlspipe.NamedGroup, kind: str
) -> None:
    """tlspipe client (one suite, one group) ↔ Python server; Python reports the cipher."""
    ident = pki.server(kind)
    cfg = client_config(pki.ca_pem, cipher_suites=(suite,), kx_groups=(group,))
    with python_ssl_server(py_server_ctx(ident, group=group), echo_until_close_notify) as server:
        d = connect(server.port, cfg)
        with _closing(d):
            d.handshake()
            d.write(b"hello python\n")
            assert d.read_exact(13) == b"hello python\n"
            d.close()
            assert d.read_until_close() == b""
        rec = _one_record(server)
    assert rec.error is None, rec.error
    assert rec.value == b"hello python\n"
    assert rec.version == "TLSv1.3"
    assert rec.cipher is not None and rec.cipher[0] == SUITES13[suite]
    assert d.conn.negotiated_key_exchange_group == group
    assert d.conn.peer_certificates == tuple(ident.chain_der)


@pytest.mark.parametrize(("suite", "group", "kind"), DIAGONAL)
def test_diagonal_python_client_to_tlspipe_server(
    pki: PKI, suite: tlspipe.CipherSuite, group: tlspipe.NamedGroup, kind: str
) -> None:
    """Python client (one group) ↔ tlspipe server (one suite); Python verifies the chain and
    the name, and reports version and cipher."""
    ident = pki.server(kind)
    cfg = server_config(ident.chain_pem, ident.key_pem, cipher_suites=(suite,))
    with serve_in_thread(cfg, _tlspipe_echo_server) as st:
        with py_client(st.port, py_client_ctx(pki.ca_pem, group=group)) as conn:
            version, cipher = conn.version(), conn.cipher()
            peer_der = conn.getpeercert(binary_form=True)
            conn.sendall(b"ping\n")
            assert recv_until(conn, b"\n") == b"pong:ping\n"
            conn.unwrap()  # close_notify, and wait for tlspipe's
        info = st.result()
    assert version == "TLSv1.3"
    assert cipher is not None and cipher[0] == SUITES13[suite]
    assert peer_der == ident.chain_der[0]
    assert isinstance(info, dict)
    assert info["suite"] == suite and info["group"] == group and info["sni"] == "localhost"
    assert info["rest"] == b""


# -- ALPN ----------------------------------------------------------------------------------------


def _alpn_handler(conn: ssl.SSLSocket) -> object:
    proto = conn.selected_alpn_protocol()
    echo_until_close_notify(conn)
    return proto


def test_alpn_tlspipe_client_python_server(pki: PKI) -> None:
    """Python server picks http/1.1 from the tlspipe client's (h2, http/1.1)."""
    ctx = py_server_ctx(pki.server())
    ctx.set_alpn_protocols(["http/1.1"])
    cfg = client_config(pki.ca_pem, alpn_protocols=(b"h2", b"http/1.1"))
    with python_ssl_server(ctx, _alpn_handler) as server:
        d = connect(server.port, cfg)
        with _closing(d):
            d.handshake()
            d.write(b"x")
            assert d.read_exact(1) == b"x"
            d.close()
            d.read_until_close()
        rec = _one_record(server)
    assert d.conn.alpn_protocol == b"http/1.1"
    assert rec.value == "http/1.1"


def test_alpn_no_overlap_python_server_continues(pki: PKI) -> None:
    """Python's server callback answers "no ALPN" instead of no_application_protocol: the
    handshake completes with no protocol on both sides (tlspipe accepts an absent ALPN)."""
    ctx = py_server_ctx(pki.server())
    ctx.set_alpn_protocols(["spdy/3"])
    cfg = client_config(pki.ca_pem, alpn_protocols=(b"h2",))
    with python_ssl_server(ctx, _alpn_handler) as server:
        d = connect(server.port, cfg)
        with _closing(d):
            d.handshake()
            d.close()
            d.read_until_close()
        rec = _one_record(server)
    assert rec.error is None and rec.value is None
    assert d.conn.alpn_protocol is None


@pytest.mark.parametrize("overlap", [True, False], ids=["agree", "no-overlap"])
def test_alpn_python_client_tlspipe_server(pki: PKI, overlap: bool) -> None:
    """tlspipe server's preference wins; with no overlap it sends no_application_protocol,
    which Python reports as "tlsv1 alert no application protocol"."""
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem, alpn_protocols=(b"http/1.1", b"h2"))
    ctx = py_client_ctx(pki.ca_pem)
    ctx.set_alpn_protocols(["h2", "http/1.1"] if overlap else ["spdy/3"])
    with serve_in_thread(cfg, _tlspipe_echo_server) as st:
        if overlap:
            with py_client(st.port, ctx) as conn:
                assert conn.selected_alpn_protocol() == "http/1.1"
                conn.sendall(b"a\n")
                assert recv_until(conn, b"\n") == b"pong:a\n"
                conn.unwrap()
            info = st.result()
            assert isinstance(info, dict) and info["alpn"] == b"http/1.1"
            return
        with pytest.raises(ssl.SSLError) as py_err, py_client(st.port, ctx):
            pass
        with pytest.raises(tlspipe.PeerIncompatible) as ei:
            st.result()
    # (Python's table has no mnemonic for alert 120: reason is None, the text names it)
    assert "tlsv1 alert no application protocol" in str(py_err.value), py_err.value
    assert ei.value.alert == AD.no_application_protocol
    assert "no ALPN protocol in common" in str(ei.value)


# -- SNI -----------------------------------------------------------------------------------------


def _sni_config(pki: PKI) -> tlspipe.ServerConfig:
    main, other = pki.server(), pki.other_server()
    resolver = tlspipe.ResolvesServerCertUsingSni()
    resolver.add(("localhost", "testserver.example"), certified_key(main.chain_pem, main.key_pem))
    resolver.add("other.example", certified_key(other.chain_pem, other.key_pem))
    return tlspipe.ServerConfig(cert_resolver=resolver, versions=TLS13)


@pytest.mark.parametrize("name", ["other.example", "testserver.example"])
def test_sni_python_client_tlspipe_server(pki: PKI, name: str) -> None:
    """Python's server_hostname selects the chain; its hostname check passes for it."""
    want = pki.other_server() if name == "other.example" else pki.server()
    with serve_in_thread(_sni_config(pki), _tlspipe_echo_server) as st:
        with py_client(st.port, py_client_ctx(pki.ca_pem), name) as conn:
            assert conn.getpeercert(binary_form=True) == want.chain_der[0]
            conn.sendall(b"sni\n")
            assert recv_until(conn, b"\n") == b"pong:sni\n"
            conn.unwrap()
        info = st.result()
    assert isinstance(info, dict) and info["sni"] == name


def test_sni_unknown_name_python_client(pki: PKI) -> None:
    """No chain for the name: tlspipe sends unrecognized_name, Python reports it."""
    with serve_in_thread(_sni_config(pki), _tlspipe_echo_server) as st:
        with (
            pytest.raises(ssl.SSLError) as py_err,
            py_client(st.port, py_client_ctx(pki.ca_pem), "unknown.example"),
        ):
            pass
        with pytest.raises(tlspipe.PeerIncompatible) as ei:
            st.result()
    assert py_err.value.reason == "TLSV1_UNRECOGNIZED_NAME", py_err.value
    assert ei.value.alert == AD.unrecognized_name


def test_sni_tlspipe_client_python_server(pki: PKI) -> None:
    """Python's sni_callback sees the tlspipe client's name and switches certificates."""
    main_ctx = py_server_ctx(pki.server())
    other_ctx = py_server_ctx(pki.other_server())
    seen: list[str | None] = []

    def pick(sock: ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
        seen.append(name)
        if name == "other.example":
            sock.context = other_ctx

    main_ctx.sni_callback = pick
    cfg = client_config(pki.ca_pem)
    with python_ssl_server(main_ctx, echo_until_close_notify) as server:
        for name in ("other.example", "localhost", "127.0.0.1"):
            d = connect(server.port, cfg, name)
            with _closing(d):
                d.handshake()
                d.write(name.encode())
                assert d.read_exact(len(name)) == name.encode()
                d.close()
                d.read_until_close()
            want = pki.other_server() if name == "other.example" else pki.server()
            assert d.conn.peer_certificates is not None
            assert d.conn.peer_certificates[0] == want.chain_der[0]
        recs = server.wait_for_connections(3)
    assert [r.error for r in recs] == [None, None, None]
    assert seen == ["other.example", "localhost", None]  # no SNI for an IP address


# -- HelloRetryRequest ---------------------------------------------------------------------------


def test_hrr_tlspipe_server_python_client(pki: PKI, caplog: pytest.LogCaptureFixture) -> None:
    """Python sends an X25519 share; the tlspipe server only does P-384 and retries."""
    caplog.set_level(logging.DEBUG, logger="tlspipe")
    ident = pki.server("ecdsa-p384")
    cfg = server_config(ident.chain_pem, ident.key_pem, kx_groups=(NG.secp384r1,))
    with serve_in_thread(cfg, _tlspipe_echo_server) as st:
        with py_client(st.port, py_client_ctx(pki.ca_pem)) as conn:
            conn.sendall(b"hrr\n")
            assert recv_until(conn, b"\n") == b"pong:hrr\n"
            conn.unwrap()
        info = st.result()
    assert "server sent HelloRetryRequest for secp384r1" in caplog.text
    assert isinstance(info, dict) and info["group"] == NG.secp384r1


def test_hrr_python_server_tlspipe_client(pki: PKI, caplog: pytest.LogCaptureFixture) -> None:
    """The tlspipe client sends X25519 first; a P-256-only Python server asks for P-256."""
    caplog.set_level(logging.DEBUG, logger="tlspipe")
    ctx = py_server_ctx(pki.server("rsa-2048"), group=NG.secp256r1)
    cfg = client_config(pki.ca_pem, kx_groups=(NG.x25519, NG.secp256r1))
    with python_ssl_server(ctx, echo_until_close_notify) as server:
        d = connect(server.port, cfg)
        with _closing(d):
            d.handshake()
            d.write(b"after hrr")
            assert d.read_exact(9) == b"after hrr"
            d.close()
            d.read_until_close()
        rec = _one_record(server)
    assert rec.error is None and rec.value == b"after hrr"
    assert "client retried with key share secp256r1" in caplog.text
    assert d.conn.negotiated_key_exchange_group == NG.secp256r1


# -- KeyUpdate -----------------------------------------------------------------------------------


def test_key_update_tlspipe_client_python_server(
    pki: PKI, caplog: pytest.LogCaptureFixture
) -> None:
    """tlspipe asks for a KeyUpdate (twice); Python answers each and data keeps flowing."""
    caplog.set_level(logging.DEBUG, logger="tlspipe.conn")
    cfg = client_config(pki.ca_pem, cipher_suites=(CS.TLS13_AES_256_GCM_SHA384,))
    with python_ssl_server(py_server_ctx(pki.server()), echo_until_close_notify) as server:
        d = connect(server.port, cfg)
        with _closing(d):
            d.handshake()
            d.write(b"one\n")
            assert d.read_until(b"\n") == b"one\n"
            for i in range(2):
                d.conn.refresh_traffic_keys()
                d.write(b"after update %d\n" % i)
                assert d.read_until(b"\n") == b"after update %d\n" % i
            d.close()
            d.read_until_close()
        rec = _one_record(server)
    assert rec.error is None and rec.value == b"one\nafter update 0\nafter update 1\n"
    assert caplog.text.count("client received key_update") == 2


def test_key_update_tlspipe_server_python_client(
    pki: PKI, caplog: pytest.LogCaptureFixture
) -> None:
    """The tlspipe server asks for a KeyUpdate; Python answers; data both ways after it."""
    caplog.set_level(logging.DEBUG, logger="tlspipe.conn")
    ident = pki.server("ed25519")
    cfg = server_config(ident.chain_pem, ident.key_pem)

    def body(d: Driver) -> bytes:
        d.handshake()
        assert d.read_until(b"\n") == b"before\n"
        d.conn.refresh_traffic_keys()
        d.write(b"server after update\n")
        line = d.read_until(b"\n")
        d.close()
        d.read_until_close()
        return line

    with serve_in_thread(cfg, body) as st:
        with py_client(st.port, py_client_ctx(pki.ca_pem)) as conn:
            conn.sendall(b"before\n")
            assert recv_until(conn, b"\n") == b"server after update\n"
            conn.sendall(b"client after update\n")
            conn.unwrap()
        assert st.result() == b"client after update\n"
    assert caplog.text.count("server received key_update") == 1


# -- close_notify and truncation -----------------------------------------------------------------


def test_python_server_close_notify(pki: PKI) -> None:
    """Python server sends data then close_notify (unwrap): tlspipe reads it all and reports
    peer_has_closed; it can still answer with its own close_notify."""

    def speak_then_close(conn: ssl.SSLSocket) -> None:
        conn.sendall(b"last words")
        conn.unwrap()

    with python_ssl_server(py_server_ctx(pki.server()), speak_then_close) as server:
        d = connect(server.port, client_config(pki.ca_pem))
        with _closing(d):
            d.handshake()
            assert d.read_until_close() == b"last words"
            assert d.conn.peer_has_closed
            d.close()
        rec = _one_record(server)
    assert rec.error is None


def test_python_server_tcp_close_is_unexpected_eof(pki: PKI) -> None:
    """Python server closes the socket without close_notify → tlspipe.UnexpectedEof."""

    def speak_then_drop(conn: ssl.SSLSocket) -> None:
        conn.sendall(b"cut")
        # leaving the handler closes the TCP socket: no close_notify

    with python_ssl_server(py_server_ctx(pki.server()), speak_then_drop) as server:
        d = connect(server.port, client_config(pki.ca_pem))
        with _closing(d):
            d.handshake()
            with pytest.raises(tlspipe.UnexpectedEof):
                d.read_until_close()
            assert d.take() == b"cut"
            assert not d.conn.peer_has_closed


@pytest.mark.parametrize("clean", [True, False], ids=["close_notify", "tcp-close"])
def test_tlspipe_server_close_seen_by_python(pki: PKI, clean: bool) -> None:
    """tlspipe server closes with close_notify → Python's recv returns b""; without it →
    Python (suppress_ragged_eofs=False) raises SSLEOFError."""
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem)

    def body(d: Driver) -> None:
        d.handshake()
        d.write(b"bye")
        if clean:
            d.close()

    with serve_in_thread(cfg, body) as st:
        ctx = py_client_ctx(pki.ca_pem)
        with py_client(st.port, ctx, suppress_ragged_eofs=False) as conn:
            assert recv_until(conn, b"bye") == b"bye"
            st.result()
            if clean:
                assert conn.recv(10) == b""
            else:
                with pytest.raises(ssl.SSLEOFError):
                    conn.recv(10)


def test_python_client_tcp_close_is_unexpected_eof(pki: PKI) -> None:
    """Python client closes without close_notify → the tlspipe server raises UnexpectedEof;
    with close_notify (unwrap) → peer_has_closed."""
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem)

    def body(d: Driver) -> bytes:
        d.handshake()
        data = d.read_until_close()
        d.close()  # Python's unwrap() waits for our close_notify
        return data

    for clean in (True, False):
        with serve_in_thread(cfg, body) as st:
            with py_client(st.port, py_client_ctx(pki.ca_pem)) as conn:
                conn.sendall(b"data")
                if clean:
                    conn.unwrap()
            if clean:
                assert st.result() == b"data"
            else:
                with pytest.raises(tlspipe.UnexpectedEof):
                    st.result()
                assert st.driver is not None and st.driver.take() == b"data"


# -- certificate rejections ----------------------------------------------------------------------

#: bad kind → (CertificateReason, alert, reason Python's server reports for our alert)
REJECTIONS = {
    "expired": ("EXPIRED", AD.certificate_expired, "SSLV3_ALERT_CERTIFICATE_EXPIRED"),
    "not-yet-valid": ("NOT_VALID_YET", AD.certificate_expired, "SSLV3_ALERT_CERTIFICATE_EXPIRED"),
    "wrong-name": ("NOT_VALID_FOR_NAME", AD.bad_certificate, "SSLV3_ALERT_BAD_CERTIFICATE"),
    "untrusted-root": ("UNKNOWN_ISSUER", AD.unknown_ca, "TLSV1_ALERT_UNKNOWN_CA"),
    "no-server-eku": ("INVALID_PURPOSE", AD.unsupported_certificate,
                      "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE"),
    "ca-as-leaf": ("INVALID_PURPOSE", AD.unsupported_certificate,
                   "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE"),
}  # fmt: skip
MESSAGES = {
    "expired": "expired on",
    "not-yet-valid": "not valid before",
    "wrong-name": "not valid for 'localhost' (it is valid for wrong.example)",
    "untrusted-root": "is not trusted (no chain to a known root)",
    "no-server-eku": "extended key usage lacks serverAuth",
    "ca-as-leaf": "a CA certificate cannot be used as the end-entity certificate",
}


@pytest.mark.parametrize("kind", sorted(REJECTIONS))
def test_tlspipe_client_rejects_python_server(pki: PKI, kind: str) -> None:
    """InvalidCertificate(reason) on tlspipe; the Python server fails with our alert."""
    reason, alert, py_reason = REJECTIONS[kind]
    ident = pki.bad(kind)
    with python_ssl_server(py_server_ctx(ident), echo_until_close_notify) as server:
        d = connect(server.port, client_config(ident.ca_pem))
        with _closing(d), pytest.raises(tlspipe.InvalidCertificate) as ei:
            d.handshake()
        rec = _one_record(server)
    assert ei.value.reason is tlspipe.CertificateReason[reason]
    assert ei.value.alert == alert
    assert MESSAGES[kind] in str(ei.value)
    assert isinstance(rec.error, ssl.SSLError) and rec.error.reason == py_reason, rec.error


@pytest.mark.parametrize(
    ("trust", "name", "verify_code", "alert"),
    [
        pytest.param("other-root", "localhost", 20, AD.unknown_ca, id="untrusted"),
        pytest.param(
            "test-root", "nothere.example", 62, AD.bad_certificate, id="hostname-mismatch"
        ),
    ],
)
def test_python_client_rejects_tlspipe_server(
    pki: PKI, trust: str, name: str, verify_code: int, alert: AD
) -> None:
    """Python (check_hostname=True) rejects a tlspipe server it should not trust; tlspipe
    receives Python's alert."""
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem)

    def body(d: Driver) -> object:
        with pytest.raises(tlspipe.AlertReceived) as ei:
            d.handshake()
        return ei.value.description

    ca = pki.untrusted_root_pem if trust == "other-root" else pki.ca_pem
    with serve_in_thread(cfg, body) as st:
        with (
            pytest.raises(ssl.SSLCertVerificationError) as py_err,
            py_client(st.port, py_client_ctx(ca), name),
        ):
            pass
        got = st.result()
    assert py_err.value.verify_code == verify_code, py_err.value
    assert got == alert


# -- bulk data -----------------------------------------------------------------------------------


@pytest.mark.parametrize("frag", [None, 1000], ids=["default-frag", "frag-1000"])
def test_bulk_echo_tlspipe_client_python_server(pki: PKI, frag: int | None) -> None:
    """Hundreds of records each way through Python's echo server, byte-exact."""
    blob = os.urandom(2 * 1024 * 1024 if frag is None else 256 * 1024)
    cfg = client_config(pki.ca_pem, max_fragment_size=frag)
    with python_ssl_server(py_server_ctx(pki.server()), echo_until_close_notify) as server:
        d = connect(server.port, cfg)
        with _closing(d):
            d.handshake()
            back = bytearray()
            for i in range(0, len(blob), 50_000):  # ping-pong: no both-ways socket stall
                piece = blob[i : i + 50_000]
                d.write(piece)
                back += d.read_exact(len(piece))
            d.close()
            assert d.read_until_close() == b""
        rec = _one_record(server)
    assert rec.error is None and rec.value == blob
    assert bytes(back) == blob


def test_bulk_both_ways_at_once_tlspipe_server(pki: PKI) -> None:
    """The tlspipe server (tiny buffer_limit) sends 2 MiB while the Python client sends
    2 MiB concurrently; both arrive intact (bounded buffers do not deadlock the pipe)."""
    blob = os.urandom(2 * 1024 * 1024)
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem, buffer_limit=4096)

    def body(d: Driver) -> bool:
        d.handshake()
        d.write(blob)
        got = d.read_exact(len(blob))
        d.close()
        return got == blob

    with serve_in_thread(cfg, body) as st:
        with py_client(st.port, py_client_ctx(pki.ca_pem)) as conn:
            sender = threading.Thread(target=conn.sendall, args=(blob,), daemon=True)
            sender.start()
            got = bytearray()
            while len(got) < len(blob):
                chunk = conn.recv(65536)
                assert chunk, "EOF before all data"
                got += chunk
            sender.join(TIMEOUT)
            assert not sender.is_alive()
            assert conn.recv(10) == b""  # tlspipe's close_notify
        assert st.result() is True
    assert bytes(got) == blob


def test_half_close_tlspipe_client(pki: PKI) -> None:
    """TLS 1.3 half-close: after tlspipe's close_notify the Python server still answers,
    then closes; tlspipe receives the answer and the peer's close_notify."""

    def answer_after_close(conn: ssl.SSLSocket) -> bytes:
        got = bytearray()
        while chunk := conn.recv(65536):
            got += chunk
        conn.sendall(b"answer after your close_notify")
        conn.unwrap()
        return bytes(got)

    with python_ssl_server(py_server_ctx(pki.server()), answer_after_close) as server:
        d = connect(server.port, client_config(pki.ca_pem))
        with _closing(d):
            d.handshake()
            d.write(b"request")
            d.close()
            assert d.read_until_close() == b"answer after your close_notify"
        rec = _one_record(server)
    assert rec.error is None and rec.value == b"request"
