"""TLS 1.3 resumption, 0-RTT and external PSKs against the openssl CLI, both directions.

Assertions are made on openssl's own report besides tlspipe's view:
* ``s_client -sess_out F`` then ``-sess_in F`` → a tlspipe server: s_client prints
  ``Reused, TLSv1.3`` (and ``New, TLSv1.3`` when the ticket is refused);
* ``s_client -sess_in F -early_data FILE``: s_client prints ``Early data was accepted`` (or
  ``... rejected``), tlspipe's ``read_early_data`` returns the file's bytes;
* tlspipe client → ``s_server -www``: the status page s_server sends says ``Reused,
  TLSv1.3``; → ``s_server -early_data``: s_server prints ``Early data received:`` followed by
  our data and ``Reused session-id``;
* external PSKs: ``s_server -nocert -psk HEX -psk_identity ID`` and ``s_client -psk ...``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from drive import Driver, client_config, connect, serve_in_thread, server_config
from peers import interop, openssl_client, openssl_server

import tlspipe
from pki import PKI

F = TypeVar("F", bound=Callable[..., object])


PSK_KEY = bytes(range(1, 33))
PSK_ID = b"tlspipe-client"


def _s_client_args(pki: PKI, *extra: str) -> list[str]:
    return [
        "-servername", "localhost", "-CAfile", str(pki.server().ca_pem),
        "-verify_return_error", "-ign_eof", *extra,
    ]  # fmt: skip


def _serve_and_reply(d: Driver) -> tuple[bool, bytes, bool]:
    d.handshake()
    early = d.conn.read_early_data()  # type: ignore[attr-defined]
    d.write(b"hello from tlspipe\n")
    d.close()
    return d.conn.handshake_kind_resumed, early, d.conn.early_data_accepted  # type: ignore[attr-defined]


def _s_client_once(pki: PKI, sc: tlspipe.ServerConfig, *extra: str) -> tuple[Any, str]:
    with serve_in_thread(sc, _serve_and_reply) as st:
        r = openssl_client(st.port, args=_s_client_args(pki, *extra), tls13=True)
        value = st.result()
    assert "hello from tlspipe" in r.output, r.output
    return value, r.output


@interop
@pytest.mark.parametrize("stateless", [False, True], ids=["stateful", "stateless"])
def test_s_client_resumes_with_tlspipe_server(pki: PKI, tmp_path: Path, stateless: bool) -> None:
    ident = pki.server()
    sc = server_config(
        ident.chain_pem, ident.key_pem, ticketer=tlspipe.Ticketer() if stateless else None
    )
    sess = tmp_path / "sess.pem"
    (resumed, _, _), out = _s_client_once(pki, sc, "-sess_out", str(sess))
    assert not resumed and "New, TLSv1.3" in out
    assert sess.exists()
    (resumed, _, _), out = _s_client_once(pki, sc, "-sess_in", str(sess))
    assert resumed and "Reused, TLSv1.3" in out, out
    if not stateless:  # the same ticket again: single use → a full handshake
        (resumed, _, _), out = _s_client_once(pki, sc, "-sess_in", str(sess))
        assert not resumed and "New, TLSv1.3" in out


@interop
def test_s_client_early_data_accepted_by_tlspipe(pki: PKI, tmp_path: Path) -> None:
    ident = pki.server()
    sc = server_config(
        ident.chain_pem, ident.key_pem, ticketer=tlspipe.Ticketer(), max_early_data_size=16384
    )
    sess = tmp_path / "sess.pem"
    _s_client_once(pki, sc, "-sess_out", str(sess))
    early_file = tmp_path / "early.txt"
    early_file.write_bytes(b"GET /early HTTP/1.0\r\n\r\n")
    (resumed, early, accepted), out = _s_client_once(
        pki, sc, "-sess_in", str(sess), "-early_data", str(early_file)
    )
    assert resumed and accepted and early == b"GET /early HTTP/1.0\r\n\r\n"
    assert "Early data was accepted" in out and "Reused, TLSv1.3" in out, out


@interop
def test_s_client_early_data_rejected_by_tlspipe(pki: PKI, tmp_path: Path) -> None:
    ident = pki.server()
    ticketer = tlspipe.Ticketer()
    sc = server_config(ident.chain_pem, ident.key_pem, ticketer=ticketer, max_early_data_size=16384)
    sess = tmp_path / "sess.pem"
    _s_client_once(pki, sc, "-sess_out", str(sess))
    early_file = tmp_path / "early.txt"
    early_file.write_bytes(b"not now\n")
    off = server_config(ident.chain_pem, ident.key_pem, ticketer=ticketer)  # 0-RTT off
    (resumed, early, accepted), out = _s_client_once(
        pki, off, "-sess_in", str(sess), "-early_data", str(early_file)
    )
    assert resumed and not accepted and early == b""
    assert "Early data was rejected" in out, out


@interop
def test_tlspipe_client_resumes_with_s_server(pki: PKI) -> None:
    ident = pki.server()
    cc = client_config(ident.ca_pem)
    pages = []
    with openssl_server(ident, args=["-www"]) as srv:
        for _ in range(2):
            d = connect(srv.port, cc)
            with contextlib.closing(d.sock):
                d.handshake()
                d.write(b"GET / HTTP/1.0\r\n\r\n")
                pages.append((d.conn.handshake_kind_resumed, d.read_until_close().decode()))
    (r1, p1), (r2, p2) = pages
    assert not r1 and "New, TLSv1.3" in p1
    assert r2 and "Reused, TLSv1.3" in p2, p2


@interop
def test_tlspipe_client_early_data_to_s_server(pki: PKI) -> None:
    ident = pki.server()
    cc = client_config(ident.ca_pem, enable_early_data=True)
    with openssl_server(ident, args=["-early_data"]) as srv:
        for i in range(2):
            d = connect(srv.port, cc)
            with contextlib.closing(d.sock):
                n = d.conn.write_early_data(b"EARLY-%d\n" % i)  # type: ignore[attr-defined]
                d.handshake()
                srv.send(b"from-s_server-%d\n" % i)  # also gets us the tickets
                d.read_until(b"from-s_server-%d\n" % i)
                d.write(b"after-%d\n" % i)
                srv.wait_for(f"after-{i}")
                d.close()
            if i == 0:
                assert n == 0  # no ticket yet
            else:
                assert n == 8
                assert d.conn.handshake_kind_resumed
                assert d.conn.early_data_accepted  # type: ignore[attr-defined]
        out = srv.wait_for(r"Early data received:\s*\nEARLY-1\n")
        assert out
        assert "Reused session-id" in srv.output()
        assert "EARLY-0" not in srv.output()


@interop
def test_tlspipe_client_early_data_rejected_by_s_server(pki: PKI) -> None:
    """Another s_server cannot open our ticket: the 0-RTT is refused; the app resends it."""
    ident = pki.server()
    cc = client_config(ident.ca_pem, enable_early_data=True)
    with openssl_server(ident, args=["-early_data"]) as srv:
        d = connect(srv.port, cc)
        with contextlib.closing(d.sock):
            d.handshake()
            srv.send(b"tickets\n")
            d.read_until(b"tickets\n")
            d.close()
    with openssl_server(ident, args=[]) as srv:  # another server: cannot open the ticket
        d = connect(srv.port, cc)
        with contextlib.closing(d.sock):
            d.conn.write_early_data(b"EARLY\n")  # type: ignore[attr-defined]
            d.handshake()
            assert d.conn.early_data_offered and not d.conn.early_data_accepted  # type: ignore[attr-defined]
            d.write(b"EARLY-again\n")
            srv.wait_for("EARLY-again")
            d.close()
        assert "EARLY\n" not in srv.output().replace("EARLY-again\n", "")


@interop
def test_external_psk_tlspipe_client_to_s_server(pki: PKI) -> None:
    ident = pki.server()
    psk = tlspipe.ExternalPsk(identity=PSK_ID, key=PSK_KEY)
    cc = client_config(ident.ca_pem, external_psk=psk)
    args = ["-nocert", "-psk", PSK_KEY.hex(), "-psk_identity", PSK_ID.decode()]
    with openssl_server(ident, args=args) as srv:
        d = connect(srv.port, cc)
        with contextlib.closing(d.sock):
            d.handshake()
            assert d.conn.peer_certificates is None
            d.write(b"psk-hello\n")
            srv.wait_for("psk-hello")
            srv.send(b"psk-reply\n")
            d.read_until(b"psk-reply\n")
            d.close()
    # -nocert: s_server can only have completed a PSK handshake (it reports it as a reuse)
    assert "CIPHER is TLS_AES_128_GCM_SHA256" in srv.output()
    assert "Reused session-id" in srv.output()


@interop
def test_external_psk_s_client_to_tlspipe_server(pki: PKI) -> None:
    psk = tlspipe.ExternalPsk(identity=PSK_ID, key=PSK_KEY)
    sc = tlspipe.ServerConfig(external_psks=(psk,), versions=(tlspipe.ProtocolVersion.TLSv1_3,))
    with serve_in_thread(sc, _serve_and_reply) as st:
        r = openssl_client(
            st.port,
            args=["-psk", PSK_KEY.hex(), "-psk_identity", PSK_ID.decode(), "-ign_eof"],
            tls13=True,
        )
        resumed, _, _ = st.result()  # type: ignore[misc]
    assert not resumed
    assert "hello from tlspipe" in r.output, r.output
    assert "Cipher is TLS_AES_128_GCM_SHA256" in r.output
    assert "Server certificate" not in r.output  # no certificate in a PSK handshake


@interop
def test_external_psk_wrong_key_s_client(pki: PKI) -> None:
    psk = tlspipe.ExternalPsk(identity=PSK_ID, key=PSK_KEY)
    sc = tlspipe.ServerConfig(external_psks=(psk,), versions=(tlspipe.ProtocolVersion.TLSv1_3,))
    with serve_in_thread(sc, _serve_and_reply) as st:
        r = openssl_client(
            st.port,
            args=["-psk", bytes(32).hex(), "-psk_identity", PSK_ID.decode()],
            tls13=True,
        )
        with pytest.raises(tlspipe.PeerMisbehaved):
            st.result()
    assert "decrypt error" in r.output, r.output
