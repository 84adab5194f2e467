"""TLS 1.3 session resumption against Python's ``ssl`` (OpenSSL underneath), both directions.

Python reports resumption with ``SSLSocket.session_reused``; TLS 1.3 tickets arrive after
the handshake, so the client side reads application data (which follows the tickets) before
taking ``SSLSocket.session``.  Python ``ssl`` has no 0-RTT API: early data is covered against
the openssl CLI (test_resume13_openssl.py).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time

import pytest
from drive import Driver, client_config, connect, serve_in_thread, server_config
from peers import HOST, python_ssl_server

import tlspipe
from pki import PKI

TIMEOUT = 10.0


def _py_client_ctx(pki: PKI) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.server().ca_pem))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def _tlspipe_server_body(d: Driver) -> bool:
    d.handshake()
    got = d.read_until(b"\n")
    d.write(b"echo:" + got)
    d.read_until_close()
    d.close()
    return d.conn.handshake_kind_resumed


def _py_client_once(
    port: int, ctx: ssl.SSLContext, session: ssl.SSLSession | None
) -> tuple[ssl.SSLSession | None, bool]:
    with (
        socket.create_connection((HOST, port), timeout=TIMEOUT) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost", session=session) as conn,
    ):
        conn.sendall(b"hi\n")
        got = b""
        while not got.endswith(b"\n"):
            chunk = conn.recv(100)
            assert chunk
            got += chunk
        assert got == b"echo:hi\n"
        reused = conn.session_reused
        new_session = conn.session  # the tickets arrived before the echo
        conn.unwrap()
    return new_session, reused


@pytest.mark.interop
@pytest.mark.parametrize("stateless", [False, True], ids=["stateful", "stateless"])
def test_python_client_resumes_with_tlspipe_server(pki: PKI, stateless: bool) -> None:
    ident = pki.server()
    sc = server_config(
        ident.chain_pem, ident.key_pem, ticketer=tlspipe.Ticketer() if stateless else None
    )
    ctx = _py_client_ctx(pki)
    with serve_in_thread(sc, _tlspipe_server_body) as st:
        session, reused = _py_client_once(st.port, ctx, None)
        assert st.result() is False and not reused
    assert session is not None and session.has_ticket
    with serve_in_thread(sc, _tlspipe_server_body) as st:
        _, reused = _py_client_once(st.port, ctx, session)
        assert reused  # Python's view
        assert st.result() is True  # ours


def _reused_handler(conn: ssl.SSLSocket) -> bool:
    data = conn.recv(100)
    conn.sendall(b"echo:" + data)
    return conn.session_reused


@pytest.mark.interop
def test_tlspipe_client_resumes_with_python_server(pki: PKI) -> None:
    ident = pki.server()
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.minimum_version = ssl.TLSVersion.TLSv1_3
    sctx.load_cert_chain(str(ident.chain_pem), str(ident.key_pem))
    cc = client_config(ident.ca_pem)
    resumed = []
    with python_ssl_server(sctx, _reused_handler, max_connections=2) as srv:
        for _ in range(2):
            d = connect(srv.port, cc)
            with contextlib.closing(d.sock):
                d.handshake()
                d.write(b"ping\n")
                assert d.read_until(b"ping\n") == b"echo:ping\n"  # the tickets came first
                resumed.append(d.conn.handshake_kind_resumed)
                d.close()
            time.sleep(0.05)
        records = srv.wait_for_connections(2)
    assert [r.error for r in records] == [None, None]
    assert [r.value for r in records] == [False, True]  # Python's view: session_reused
    assert resumed == [False, True]
