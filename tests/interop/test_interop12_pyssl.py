"""TLS 1.2 interop with Python's ``ssl`` (OpenSSL underneath), limited to TLS 1.2 on the
Python side, in both directions: every suite, resumption (session reuse seen by ``ssl``'s
``session_reused`` and by tlspipe), and version negotiation against a 1.2+1.3 tlspipe."""

from __future__ import annotations

import contextlib
import socket
import ssl

import pytest
from drive import Driver, client_config, connect, serve_sequentially, server_config
from peers import HOST, python_ssl_client, python_ssl_server

import tlspipe
from pki import PKI

CS = tlspipe.CipherSuite
V12 = (tlspipe.ProtocolVersion.TLSv1_2,)
V13_12 = (tlspipe.ProtocolVersion.TLSv1_3, tlspipe.ProtocolVersion.TLSv1_2)

SUITES = [
    (CS.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", "ecdsa-p256"),
    (CS.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", "ecdsa-p384"),
    (CS.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305",
     "ecdsa-p256"),
    (CS.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", "rsa-2048"),
    (CS.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", "rsa-2048"),
    (CS.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", "rsa-2048"),
]  # fmt: skip


def _server_ctx(pki: PKI, kind: str, cipher: str | None = None) -> ssl.SSLContext:
    ident = pki.server(kind)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(ident.chain_pem, ident.key_pem)
    if cipher:
        ctx.set_ciphers(cipher)
    return ctx


def _client_ctx(pki: PKI, cipher: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(pki.ca_pem)
    if cipher:
        ctx.set_ciphers(cipher)
    return ctx


def _echo(d: Driver) -> object:
    d.handshake()
    data = d.read_until(b"\n")
    d.write(data.upper())
    d.close()
    return d.conn.handshake_kind_resumed


@pytest.mark.interop
@pytest.mark.parametrize(("suite", "name", "kind"), SUITES, ids=[s[1] for s in SUITES])
def test_tlspipe_client_to_ssl_server(pki: PKI, suite: CS, name: str, kind: str) -> None:
    with python_ssl_server(_server_ctx(pki, kind, name)) as srv:
        cc = client_config(
            pki.ca_pem, versions=V13_12, cipher_suites=(suite, CS.TLS13_AES_128_GCM_SHA256)
        )
        d = connect(srv.port, cc)
        with contextlib.closing(d.sock):
            d.handshake()
            d.write(b"hello python\n")
            assert d.read_exact(13) == b"hello python\n"
            assert d.conn.protocol_version == tlspipe.ProtocolVersion.TLSv1_2
            assert d.conn.negotiated_cipher_suite.suite == suite
            d.shutdown()
        recs = srv.wait_for_connections(1)
    assert recs[0].version == "TLSv1.2" and recs[0].cipher[0] == name
    assert recs[0].value == b"hello python\n"


@pytest.mark.interop
def test_tlspipe_client_resumes_with_ssl_server(pki: PKI) -> None:
    cc = client_config(pki.ca_pem, versions=V12)
    resumed = []
    with python_ssl_server(_server_ctx(pki, "ecdsa-p256"), handler=None) as srv:
        for _ in range(2):
            d = connect(srv.port, cc)
            with contextlib.closing(d.sock):
                d.handshake()
                resumed.append(d.conn.handshake_kind_resumed)
                d.close()
        srv.wait_for_connections(2)
    assert resumed == [False, True]


@pytest.mark.interop
@pytest.mark.parametrize(("suite", "name", "kind"), SUITES, ids=[s[1] for s in SUITES])
def test_ssl_client_toserve_sequentially(pki: PKI, suite: CS, name: str, kind: str) -> None:
    ident = pki.server(kind)
    sc = server_config(ident.chain_pem, ident.key_pem, versions=V13_12)
    with serve_sequentially(sc, _echo) as (port, results):
        res = python_ssl_client(port, _client_ctx(pki, name), b"ping\n")
    assert res.version == "TLSv1.2" and res.cipher[0] == name
    assert res.received == b"PING\n"
    assert results == [False]


@pytest.mark.interop
@pytest.mark.parametrize("tickets", [False, True], ids=["session-id", "ticket"])
def test_ssl_client_session_reuse(pki: PKI, tickets: bool) -> None:
    ident = pki.server("rsa-2048")
    sc = server_config(
        ident.chain_pem, ident.key_pem, versions=V13_12,
        ticketer=tlspipe.Ticketer() if tickets else None,
    )  # fmt: skip
    ctx = _client_ctx(pki)
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    reused = []

    def body(d: Driver) -> object:
        d.handshake()
        d.read_until(b"\n")
        d.write(b"ok\n")
        d.close()
        return d.conn.handshake_kind_resumed

    with serve_sequentially(sc, body, n=2) as (port, results):
        session = None
        for _ in range(2):
            with (
                socket.create_connection((HOST, port), timeout=10) as raw,
                ctx.wrap_socket(raw, server_hostname="localhost", session=session) as conn,
            ):
                conn.sendall(b"hi\n")
                assert conn.recv(10) == b"ok\n"
                reused.append(conn.session_reused)
                session = conn.session
    assert reused == [False, True]
    assert results == [False, True]
