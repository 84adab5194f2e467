"""Self-checks for the interop harness (tests/interop/peers.py) and the test PKI (tests/pki.py).

Real peers talk to each other here, with no tlspipe involved, so that a failing interop test
later points at tlspipe and not at the harness:
* ``openssl s_client`` ↔ ``openssl s_server`` for every server identity, TLS 1.3 and 1.2
  (chain sent, verification against the test root, exporter values agree, data flows);
* Python ``ssl`` client ↔ ``s_server`` verifying every name in the certificates (PKI is valid:
  SANs, EKUs, chain), client certificates, SNI;
* Python ``ssl`` rejects each bad identity for the intended reason;
* the Python ``ssl`` server helper, process teardown and output parsers.
"""

from __future__ import annotations

import os
import re
import ssl
import time
from pathlib import Path

import pytest
from peers import (
    PeerError,
    echo_handler,
    interop,
    listening_socket,
    openssl_client,
    openssl_server,
    parse_cipher,
    parse_keymatexport,
    python_ssl_client,
    python_ssl_server,
    start_openssl_client,
)

from pki import CLIENT_KINDS, PKI, SERVER_KINDS, SERVER_NAMES, Identity

VERSIONS = [pytest.param(True, id="tls13"), pytest.param(False, id="tls12")]
LABEL = "EXPERIMENTAL-tlspipe-selfcheck"
KEYMAT = ["-keymatexport", LABEL, "-keymatexportlen", "32"]


def _client_ctx(ca: Path, tls13: bool | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if tls13 is not None:
        v = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
        ctx.minimum_version = ctx.maximum_version = v
    return ctx


def _server_ctx(ident: Identity) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ident.chain_pem, ident.key_pem)
    return ctx


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- openssl ↔ openssl ---------------------------------------------------------------------------


@interop
@pytest.mark.parametrize("tls13", VERSIONS)
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_openssl_client_server(pki: PKI, kind: str, tls13: bool) -> None:
    """s_client verifies each identity via the test root; exporter, cipher, data agree."""
    ident = pki.server(kind)
    with openssl_server(ident, tls13=tls13, args=KEYMAT) as server:
        res = openssl_client(
            server.port,
            tls13=tls13,
            args=[
                "-CAfile",
                str(ident.ca_pem),
                "-verify_return_error",
                "-verify_hostname",
                "localhost",
                "-servername",
                "localhost",
                *KEYMAT,
            ],  # fmt: skip
            stdin_data=b"hello from s_client\n",
        )
        assert res.ok, res.output
        server.wait_for(re.escape("hello from s_client"))
    out = server.output()
    assert "Verification: OK" in res.output
    assert "Verify return code: 0 (ok)" in res.output
    assert f"New, {'TLSv1.3' if tls13 else 'TLSv1.2'}, Cipher is" in res.output
    # -cert/-cert_chain sends leaf + intermediate exactly once each
    assert re.search(r"^ 1 s:.*intermediate CA", res.output, re.M), res.output
    assert not re.search(r"^ 2 s:", res.output, re.M)
    assert parse_cipher(res.output) == parse_cipher(out)
    assert parse_keymatexport(res.output, LABEL) == parse_keymatexport(out, LABEL)
    assert len(parse_keymatexport(out)) == 32
    assert "Shared groups:" in out


@interop
@pytest.mark.parametrize("tls13", VERSIONS)
def test_openssl_interactive_client_www(pki: PKI, tls13: bool) -> None:
    """start_openssl_client + -ign_eof + s_server -www: request/response, then server EOF."""
    ident = pki.server("ecdsa-p256")
    with openssl_server(ident, tls13=tls13, args=["-www"]) as server:
        args = ["-CAfile", str(ident.ca_pem), "-verify_return_error", "-ign_eof"]
        with start_openssl_client(server.port, args=args) as client:
            client.wait_for("Verify return code: 0")
            client.send(b"GET / HTTP/1.0\r\n\r\n")
            client.wait_for("HTTP/1.0 200 ok")
            res = client.wait(5)
    assert res.ok, res.output
    assert ("TLSv1.3" if tls13 else "TLSv1.2") in res.output


# -- Python ssl client → s_server: the PKI is valid ----------------------------------------------


@interop
@pytest.mark.parametrize("tls13", VERSIONS)
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_python_client_verifies_every_name(pki: PKI, kind: str, tls13: bool) -> None:
    """Python ssl (default context: hostname check, serverAuth purpose) accepts every SAN."""
    ident = pki.server(kind)
    ctx = _client_ctx(ident.ca_pem, tls13)
    with openssl_server(ident, tls13=tls13, args=["-www"]) as server:
        for name in SERVER_NAMES:
            r = python_ssl_client(server.port, ctx, b"GET / HTTP/1.0\r\n\r\n", server_hostname=name)
            assert r.received.startswith(b"HTTP/1.0 200 ok"), r.received[:200]
            assert r.version == ("TLSv1.3" if tls13 else "TLSv1.2")
            assert r.peer_cert_der == ident.chain_der[0]


@interop
@pytest.mark.parametrize("tls13", VERSIONS)
@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_client_certificates(pki: PKI, kind: str, tls13: bool) -> None:
    """s_server -Verify accepts the clientAuth identities; rejects a serverAuth-only one."""
    server_id = pki.server("ecdsa-p256")
    client_id = pki.client(kind)
    args = ["-Verify", "1", "-verify_return_error", "-CAfile", str(pki.ca_pem), "-www"]
    with openssl_server(server_id, tls13=tls13, args=args) as server:
        ctx = _client_ctx(pki.ca_pem, tls13)
        ctx.load_cert_chain(client_id.chain_pem, client_id.key_pem)
        r = python_ssl_client(server.port, ctx, b"GET / HTTP/1.0\r\n\r\n")
        assert r.received.startswith(b"HTTP/1.0 200 ok")
        server.wait_for(re.escape(f"CN = tlspipe test client {kind}"))

        wrong = _client_ctx(pki.ca_pem, tls13)
        wrong.load_cert_chain(server_id.chain_pem, server_id.key_pem)  # no clientAuth EKU
        with pytest.raises((ssl.SSLError, ConnectionError)):
            python_ssl_client(server.port, wrong, b"GET / HTTP/1.0\r\n\r\n")
        server.wait_for("verify error:num=26:")  # X509_V_ERR_INVALID_PURPOSE


@interop
def test_sni_second_identity(pki: PKI) -> None:
    """s_server -servername/-cert2 picks other.example by SNI; the PKI names match."""
    default, other = pki.server("ecdsa-p256"), pki.other_server()
    with openssl_server(default, sni=("other.example", other), args=["-www"]) as server:
        ctx = _client_ctx(pki.ca_pem)
        r = python_ssl_client(
            server.port, ctx, b"GET / HTTP/1.0\r\n\r\n", server_hostname="other.example"
        )
        assert r.peer_cert_der == other.chain_der[0]
        r = python_ssl_client(server.port, ctx, b"GET / HTTP/1.0\r\n\r\n")
        assert r.peer_cert_der == default.chain_der[0]
        r = python_ssl_client(server.port, ctx, server_hostname="testserver.example", read=0)
        assert r.peer_cert_der == default.chain_der[0]


# -- the bad PKI is bad in the intended way ------------------------------------------------------

BAD_EXPECTED = {
    "expired": (10, "certificate has expired"),
    "not-yet-valid": (9, "certificate is not yet valid"),
    "wrong-name": (62, "Hostname mismatch"),
    "untrusted-root": (20, "unable to get local issuer certificate"),
    "no-server-eku": (26, "unsuitable certificate purpose"),
    # (OpenSSL 3.0 spells X509_V_ERR_INVALID_PURPOSE "unsuitable certificate purpose".)
    # OpenSSL does not reject CA:TRUE leaves as such; the keyUsage (keyCertSign|cRLSign,
    # no digitalSignature) fails the TLS-server purpose. cryptography's verifier reports
    # "basicConstraints.cA must not be asserted in an EE certificate" (see tests/pki.py).
    "ca-as-leaf": (26, "unsuitable certificate purpose"),
}


@interop
@pytest.mark.parametrize("kind", sorted(BAD_EXPECTED))
def test_python_client_rejects_bad_cert(pki: PKI, kind: str) -> None:
    """Python ssl rejects each bad server identity with the expected verify error."""
    ident = pki.bad(kind)
    code, message = BAD_EXPECTED[kind]
    with python_ssl_server(_server_ctx(ident), None) as server:
        with pytest.raises(ssl.SSLCertVerificationError) as ei:
            python_ssl_client(server.port, _client_ctx(ident.ca_pem), b"x", read=0)
        (rec,) = server.wait_for_connections(1)
    assert ei.value.verify_code == code, ei.value
    assert message in ei.value.verify_message
    assert isinstance(rec.error, ssl.SSLError)  # the server saw the client's alert
    # with verification off the same server works: only the intended defect is wrong
    lax = _client_ctx(ident.ca_pem)
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE
    with python_ssl_server(_server_ctx(ident)) as server:
        assert python_ssl_client(server.port, lax, b"ping", read=4).received == b"ping"


@interop
def test_key_mismatch_rejected(pki: PKI) -> None:
    """The key-mismatch identity fails to load in Python ssl and in s_server."""
    ident = pki.bad("key-mismatch")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ssl.SSLError, match="KEY_VALUES_MISMATCH"):
        ctx.load_cert_chain(ident.chain_pem, ident.key_pem)
    with pytest.raises(PeerError, match="(?i)key values mismatch"), openssl_server(ident):
        pass


# -- Python ssl server helper, s_client against it -----------------------------------------------


@interop
@pytest.mark.parametrize("tls13", VERSIONS)
def test_python_server_with_both_clients(pki: PKI, tls13: bool) -> None:
    """python_ssl_server echoes to python_ssl_client and to s_client (-ign_eof)."""
    ident = pki.server("rsa-2048")
    sctx = _server_ctx(ident)

    def line_then_close(conn: ssl.SSLSocket) -> bytes:
        got = conn.recv(100)
        conn.sendall(b"pong:" + got)
        conn.unwrap()  # close_notify: without it s_client reports "unexpected eof", exits 1
        return got

    with python_ssl_server(sctx, echo_handler) as server:
        r = python_ssl_client(server.port, _client_ctx(ident.ca_pem, tls13), b"abc", read=3)
        assert r.received == b"abc"
    with python_ssl_server(sctx, line_then_close) as server:
        res = openssl_client(
            server.port,
            tls13=tls13,
            args=["-CAfile", str(ident.ca_pem), "-verify_return_error", "-ign_eof"],
            stdin_data=b"ping\n",
        )
        (rec,) = server.wait_for_connections(1)
    assert res.ok, res.output
    assert "pong:ping" in res.output
    assert rec.value == b"ping\n"
    assert rec.version == ("TLSv1.3" if tls13 else "TLSv1.2")


# -- teardown and robustness ---------------------------------------------------------------------


@interop
def test_openssl_server_torn_down_on_error(pki: PKI) -> None:
    """The s_server process group is killed even when the test body raises."""
    pid = 0
    with pytest.raises(RuntimeError, match="boom"), openssl_server(pki.server()) as server:
        pid = server.pid
        assert not _gone(pid)
        raise RuntimeError("boom")
    assert _gone(pid)
    assert "ACCEPT" in server.output()  # output survives teardown


@interop
def test_openssl_client_timeout_is_bounded() -> None:
    """A server that never answers: s_client is killed at the timeout, output returned."""
    with listening_socket() as silent:  # the kernel completes TCP; nobody speaks TLS
        t0 = time.monotonic()
        res = openssl_client(silent.getsockname()[1], stdin_data=b"x", timeout=1.0)
    assert res.timed_out and res.returncode is None
    assert time.monotonic() - t0 < 5
    assert "CONNECTED" in res.output


@interop
def test_python_server_lifetime_is_bounded(pki: PKI) -> None:
    """max_connections stops the accept loop; wait_for_connections times out cleanly."""
    ctx = _server_ctx(pki.server())
    with python_ssl_server(ctx, None, max_connections=0) as server, pytest.raises(PeerError):
        server.wait_for_connections(1, timeout=0.2)


# -- parsers (no peers) --------------------------------------------------------------------------


def test_parse_keymatexport() -> None:
    """Parses both sides' formats ('Length: 20 bytes' on s_client, s_server alike)."""
    out = (
        "Keying material exporter:\n    Label: 'A'\n    Length: 2 bytes\n"
        "    Keying material: 0A0b\n"
        "Keying material exporter:\n    Label: 'B'\n    Length: 1\n    Keying material: FF\n"
    )
    assert parse_keymatexport(out) == b"\x0a\x0b"
    assert parse_keymatexport(out, "B") == b"\xff"
    with pytest.raises(ValueError):
        parse_keymatexport(out, "C")
    with pytest.raises(ValueError):
        parse_keymatexport(out.replace("Length: 1", "Length: 3"), "B")


def test_parse_cipher() -> None:
    """Server, client and -brief spellings."""
    assert parse_cipher("CIPHER is TLS_AES_128_GCM_SHA256\n") == "TLS_AES_128_GCM_SHA256"
    assert parse_cipher("New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256\n") == (
        "ECDHE-RSA-AES128-GCM-SHA256"
    )
    assert parse_cipher("Ciphersuite: TLS_CHACHA20_POLY1305_SHA256\n").startswith("TLS_CHACHA")
    with pytest.raises(ValueError):
        parse_cipher("New, (NONE), Cipher is (NONE)\n")
