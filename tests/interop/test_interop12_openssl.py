"""TLS 1.2 interop: tlspipe against ``openssl s_server`` / ``s_client -tls1_2``, both ways.

Assertions are made on what openssl reports (``CIPHER is`` / ``Cipher is``, ``Peer signature
type``, ``Extended master secret: yes``, ``Reused`` / ``New``, ``Keying material``) besides
tlspipe's own view; application data flows both ways in the basic cases.

Coverage (issue 5, "Real peers"): every TLS 1.2 suite × fitting key type (RSA-2048 for
ECDHE_RSA, ECDSA P-256/P-384 for ECDHE_ECDSA) in both directions; ServerKeyExchange signed
with RSA-PSS and RSA-PKCS#1 as the peer asks; EMS seen by s_client; resumption by session ID
and by ticket (``-sess_out``/``-sess_in``, ``-reconnect``, ``-no_ticket``) asserted on the
peer side and on ours; a 1.2+1.3 tlspipe client against a 1.2-only s_server and a 1.2-only
s_client against a 1.2+1.3 tlspipe server; exporters equal to openssl's.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from drive import Driver, client_config, connect, serve_sequentially, server_config
from peers import (
    interop,
    openssl_server,
    parse_cipher,
    parse_keymatexport,
    start_openssl_client,
)

import tlspipe
from pki import PKI

CS = tlspipe.CipherSuite
V12 = (tlspipe.ProtocolVersion.TLSv1_2,)
V13_12 = (tlspipe.ProtocolVersion.TLSv1_3, tlspipe.ProtocolVersion.TLSv1_2)
LABEL = "EXPERIMENTAL-tlspipe-interop12"

#: tlspipe suite → OpenSSL name
SUITES12: dict[tlspipe.CipherSuite, str] = {
    CS.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: "ECDHE-ECDSA-AES128-GCM-SHA256",
    CS.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: "ECDHE-ECDSA-AES256-GCM-SHA384",
    CS.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
    CS.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: "ECDHE-RSA-AES128-GCM-SHA256",
    CS.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: "ECDHE-RSA-AES256-GCM-SHA384",
    CS.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-RSA-CHACHA20-POLY1305",
}


def _matrix() -> list[object]:
    out = []
    for s in SUITES12:
        kinds = ("rsa-2048",) if "RSA" in s.name else ("ecdsa-p256", "ecdsa-p384")
        out += [pytest.param(s, k, id=f"{s.name[4:]}-{k}") for k in kinds]
    return out


@contextlib.contextmanager
def _closing(d: Driver) -> Iterator[Driver]:
    with contextlib.closing(d.sock):
        yield d


def _handshake_resumed(d: Driver) -> bool:
    d.handshake()
    return d.conn.handshake_kind_resumed


def _echo_once(d: Driver) -> tuple[bool, bytes]:
    d.handshake()
    got = d.read_until(b"\n")
    d.write(b"pong:" + got)
    with contextlib.suppress(tlspipe.Error, EOFError, TimeoutError, OSError):
        d.read_until_close(timeout=5)
    return d.conn.handshake_kind_resumed, got


# -- tlspipe client → s_server ------------------------------------------------------------------


@interop
@pytest.mark.parametrize(("suite", "kind"), _matrix())
def test_client_to_s_server(pki: PKI, suite: tlspipe.CipherSuite, kind: str) -> None:
    ident = pki.server(kind)
    args = ["-cipher", SUITES12[suite], "-keymatexport", LABEL, "-keymatexportlen", "32"]
    with openssl_server(ident, tls13=False, args=args) as peer:
        cc = client_config(
            ident.ca_pem, versions=V13_12, cipher_suites=(suite, CS.TLS13_AES_128_GCM_SHA256)
        )
        with _closing(connect(peer.port, cc)) as d:
            d.handshake()
            assert d.conn.protocol_version == tlspipe.ProtocolVersion.TLSv1_2
            assert d.conn.negotiated_cipher_suite.suite == suite
            d.write(b"ping from tlspipe\n")
            peer.wait_for("ping from tlspipe")
            peer.send(b"pong from openssl\n")
            assert d.read_until(b"\n") == b"pong from openssl\n"
            ours = d.conn.export_keying_material(LABEL.encode(), None, 32)
            d.close()
        out = peer.output()
    assert parse_cipher(out) == SUITES12[suite]
    assert parse_keymatexport(out, LABEL) == ours


@interop
@pytest.mark.parametrize(
    ("sigalgs", "expect"),
    [
        ("RSA+SHA256", "rsa_pkcs1_sha256"),
        ("RSA-PSS+SHA384", "rsa_pss_rsae_sha384"),
        ("RSA+SHA512:RSA-PSS+SHA256", "rsa_pss_rsae_sha256"),
    ],  # fmt: skip
)
def test_client_verifies_rsa_schemes_from_s_server(pki: PKI, sigalgs: str, expect: str) -> None:
    ident = pki.server("rsa-2048")
    with openssl_server(ident, tls13=False, args=["-sigalgs", sigalgs, "-trace"]) as peer:
        with _closing(connect(peer.port, client_config(ident.ca_pem, versions=V12))) as d:
            d.handshake()
            d.close()
        trace = peer.output()
    m = re.search(r"ServerKeyExchange.*?Signature Algorithm: (\w+)", trace, re.S)
    assert m is not None and m[1] == expect, trace[-3000:]


@interop
@pytest.mark.parametrize("tickets", [False, True], ids=["session-id", "ticket"])
def test_client_resumes_with_s_server(pki: PKI, tickets: bool) -> None:
    ident = pki.server("ecdsa-p256")
    args = ["-naccept", "2"] + ([] if tickets else ["-no_ticket"])
    with openssl_server(ident, tls13=False, args=args) as peer:
        cc = client_config(ident.ca_pem, versions=V13_12)
        resumed = []
        for _ in range(2):
            with _closing(connect(peer.port, cc)) as d:
                d.handshake()
                d.write(b"hello\n")
                peer.wait_for("hello")
                resumed.append(d.conn.handshake_kind_resumed)
                d.close()
        res = peer.wait(5)
    assert resumed == [False, True]
    assert res.output.count("Reused session-id") == 1, res.output
    stored = cc.session_store.tls12_session("localhost")
    assert stored is not None and bool(stored.ticket) == tickets


@interop
def test_dual_client_against_tls12_only_s_server(pki: PKI) -> None:
    ident = pki.server("ecdsa-p384")
    with (
        openssl_server(ident, tls13=False) as peer,
        _closing(connect(peer.port, client_config(ident.ca_pem, versions=V13_12))) as d,
    ):
        d.handshake()
        assert d.conn.protocol_version == tlspipe.ProtocolVersion.TLSv1_2
        d.close()


@interop
def test_tls12_client_against_dual_s_server(pki: PKI) -> None:
    """s_server speaks 1.3 and 1.2 and sets the downgrade sentinel for our 1.2-only client,
    which (offering no 1.3) must not treat it as an attack (RFC 8446 §4.1.3)."""
    ident = pki.server("ecdsa-p256")
    with (
        openssl_server(ident, tls13=None) as peer,
        _closing(connect(peer.port, client_config(ident.ca_pem, versions=V12))) as d,
    ):
        d.handshake()  # a 1.2-only client does not check the TLS 1.2 sentinel
        assert d.conn.protocol_version == tlspipe.ProtocolVersion.TLSv1_2
        d.close()


# -- s_client → tlspipe server ------------------------------------------------------------------


def _s_client_args(pki: PKI, *extra: str) -> list[str]:
    return ["-CAfile", str(pki.ca_pem), "-verify_return_error", "-servername", "localhost",
            *extra]  # fmt: skip


@interop
@pytest.mark.parametrize(("suite", "kind"), _matrix())
def test_s_client_to_server(pki: PKI, suite: tlspipe.CipherSuite, kind: str) -> None:
    ident = pki.server(kind)
    sc = server_config(ident.chain_pem, ident.key_pem, versions=V13_12)
    exported: list[bytes] = []

    def body(d: Driver) -> object:
        r = _echo_once(d)
        exported.append(d.conn.export_keying_material(LABEL.encode(), None, 32))
        assert d.conn.negotiated_cipher_suite.suite == suite
        return r

    with serve_sequentially(sc, body) as (port, results):
        args = _s_client_args(pki, "-cipher", SUITES12[suite], "-keymatexport", LABEL,
                              "-keymatexportlen", "32")  # fmt: skip
        with start_openssl_client(port, args=args, tls13=False) as peer:
            peer.wait_for("Verify return code: 0")
            peer.send(b"ping from openssl\n")
            peer.wait_for("pong:ping from openssl")
            peer.close_stdin()
            res = peer.wait(5)
    assert results and results[0] == (False, b"ping from openssl\n"), results
    out = res.output
    assert parse_cipher(out) == SUITES12[suite]
    assert "Extended master secret: yes" in out
    assert parse_keymatexport(out, LABEL) == exported[0]


@interop
@pytest.mark.parametrize(
    ("sigalgs", "sigtype"),
    [("RSA+SHA256", "RSA"), ("RSA-PSS+SHA256", "RSA-PSS"), ("ECDSA+SHA256:RSA+SHA384", "RSA")],
)
def test_server_signs_as_s_client_allows(pki: PKI, sigalgs: str, sigtype: str) -> None:
    ident = pki.server("rsa-2048")
    sc = server_config(ident.chain_pem, ident.key_pem, versions=V12)
    with serve_sequentially(sc, lambda d: d.handshake()) as (port, results):
        res = start_and_wait(port, _s_client_args(pki, "-sigalgs", sigalgs))
    assert f"Peer signature type: {sigtype}\n" in res, res
    assert results == [None]


def start_and_wait(port: int, args: list[str]) -> str:
    with start_openssl_client(port, args=args, tls13=False) as peer:
        peer.wait_for("Verify return code")
        peer.close_stdin()
        return peer.wait(5).output


@interop
@pytest.mark.parametrize("tickets", [False, True], ids=["session-id", "ticket"])
def test_s_client_sess_out_sess_in(pki: PKI, tmp_path: Path, tickets: bool) -> None:
    ident = pki.server("ecdsa-p256")
    sc = server_config(
        ident.chain_pem, ident.key_pem, versions=V13_12,
        ticketer=tlspipe.Ticketer() if tickets else None,
    )  # fmt: skip
    sess = tmp_path / "sess.pem"
    with serve_sequentially(
        sc, lambda d: (d.handshake(), d.conn.handshake_kind_resumed)[1], n=2
    ) as (
        port,
        results,
    ):
        extra = [] if tickets else ["-no_ticket"]
        first = start_and_wait(port, _s_client_args(pki, "-sess_out", str(sess), *extra))
        second = start_and_wait(port, _s_client_args(pki, "-sess_in", str(sess), *extra))
    assert "New, TLSv1.2" in first, first
    assert "Reused, TLSv1.2" in second, second
    assert results == [False, True]
    if tickets:
        assert "TLS session ticket:" in first


@interop
@pytest.mark.parametrize("tickets", [False, True], ids=["session-id", "ticket"])
def test_s_client_reconnect(pki: PKI, tickets: bool) -> None:
    ident = pki.server("rsa-2048")
    sc = server_config(
        ident.chain_pem, ident.key_pem, versions=V12,
        ticketer=tlspipe.Ticketer() if tickets else None,
    )  # fmt: skip
    with serve_sequentially(
        sc, lambda d: (d.handshake(), d.conn.handshake_kind_resumed)[1], n=6
    ) as (
        port,
        results,
    ):
        extra = ["-reconnect"] + ([] if tickets else ["-no_ticket"])
        out = start_and_wait(port, _s_client_args(pki, *extra))
    assert out.count("Reused, TLSv1.2") == 5, out
    assert results == [False, True, True, True, True, True]


@interop
def test_tls12_only_s_client_against_dual_server_sees_sentinel(pki: PKI) -> None:
    ident = pki.server("ecdsa-p256")
    sc = server_config(ident.chain_pem, ident.key_pem, versions=V13_12)
    with serve_sequentially(sc, lambda d: d.handshake()) as (port, results):
        out = start_and_wait(port, _s_client_args(pki, "-msg"))
    assert "Protocol  : TLSv1.2" in out
    # ServerHello random ends with "DOWNGRD\x01" (RFC 8446 §4.1.3); -msg dumps the bytes
    flat = re.sub(r"\s+", "", out.lower())
    assert "444f574e47524401" in flat, out
    assert results == [None]


@interop
def test_s_client_fallback_scsv_refused(pki: PKI) -> None:
    ident = pki.server("ecdsa-p256")
    sc = server_config(ident.chain_pem, ident.key_pem, versions=V13_12)
    with serve_sequentially(sc, lambda d: d.handshake()) as (port, results):
        out = start_and_wait(port, _s_client_args(pki, "-fallback_scsv"))
    assert "inappropriate fallback" in out, out
    assert isinstance(results[0], tlspipe.PeerMisbehaved)


@interop
def test_s_client_renegotiation_refused(pki: PKI) -> None:
    ident = pki.server("ecdsa-p256")
    sc = server_config(ident.chain_pem, ident.key_pem, versions=V12)

    def body(d: Driver) -> object:
        d.handshake()
        with contextlib.suppress(tlspipe.Error, EOFError, TimeoutError, OSError):
            d.read_until_close(timeout=5)
        return d.error

    with (
        serve_sequentially(sc, body) as (port, results),
        start_openssl_client(port, args=_s_client_args(pki), tls13=False) as peer,
    ):
        peer.wait_for("Verify return code")
        peer.send(b"R\n")
        peer.wait_for("RENEGOTIATING")
        res = peer.wait(5)
    assert "Secure Renegotiation IS supported" in res.output
    # tlspipe answered with a no_renegotiation warning; openssl then gives up
    assert "no renegotiation" in res.output.lower(), res.output
    assert results and not isinstance(results[0], tlspipe.PeerMisbehaved), results


@interop
@pytest.mark.parametrize("kind", ["ecdsa-p256", "rsa-2048"])
def test_client_auth_to_s_server(pki: PKI, kind: str) -> None:
    ident = pki.server("ecdsa-p256")
    cid = pki.client(kind)
    args = ["-Verify", "1", "-verify_return_error", "-CAfile", str(pki.ca_bundle_pem)]
    cc = client_config(ident.ca_pem, versions=V12).with_client_auth_cert(
        cid.chain_pem.read_bytes(), cid.key_pem.read_bytes()
    )
    with (
        openssl_server(ident, tls13=False, args=args) as peer,
        _closing(connect(peer.port, cc)) as d,
    ):
        d.handshake()
        d.write(b"authenticated\n")
        peer.wait_for("authenticated")
        d.close()
        out = peer.output()
    assert f"CN = tlspipe test client {kind}\nverify return:1" in out, out
    assert "Client certificate" in out


@interop
@pytest.mark.parametrize("kind", ["ecdsa-p256", "rsa-2048"])
def test_s_client_cert_to_server(pki: PKI, kind: str) -> None:
    ident = pki.server("rsa-2048")
    cid = pki.client(kind)
    roots = tlspipe.RootCertStore.from_pem_file(pki.ca_pem)
    sc = server_config(
        ident.chain_pem, ident.key_pem, versions=V12,
        client_verifier=tlspipe.AllowAnyAuthenticatedClient(roots),
    )  # fmt: skip
    with serve_sequentially(sc, lambda d: (d.handshake(), d.conn.peer_certificates)[1]) as (
        port,
        results,
    ):
        args = _s_client_args(pki, "-cert", str(cid.leaf_pem), "-key", str(cid.key_pem),
                              "-cert_chain", str(cid.intermediates_pem))  # fmt: skip
        out = start_and_wait(port, args)
    assert "Protocol  : TLSv1.2" in out
    assert results == [tuple(cid.chain_der)], (results, out)


@interop
def test_s_client_without_cert_refused(pki: PKI) -> None:
    ident = pki.server("ecdsa-p256")
    roots = tlspipe.RootCertStore.from_pem_file(pki.ca_pem)
    sc = server_config(
        ident.chain_pem, ident.key_pem, versions=V12,
        client_verifier=tlspipe.AllowAnyAuthenticatedClient(roots),
    )  # fmt: skip
    with serve_sequentially(sc, lambda d: d.handshake()) as (port, results):
        out = start_and_wait(port, _s_client_args(pki))
    assert "handshake failure" in out, out
    assert isinstance(results[0], tlspipe.PeerMisbehaved)
