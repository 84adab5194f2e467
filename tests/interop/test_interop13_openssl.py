"""TLS 1.3 interop: tlspipe against the openssl CLI (``s_server`` / ``s_client``), both ways.

Every assertion about the negotiation is made on what *openssl* reports (its ``-trace`` of
the messages, ``CIPHER is`` / ``Cipher is``, ``Server Temp Key``, ``Peer signature type``,
``Keying material``, alert lines), besides tlspipe's own view. Application data flows both
ways in every successful test.

Coverage (issue 3, "Real peers"):
* full matrix suite × group × server key with a tlspipe client → ``s_server`` (36 cases);
  ``s_client`` → tlspipe server on an 11-case cover of the same matrix (every suite × group
  pair once, every key at least twice) to keep the run short (each s_client run costs
  ~0.5 s: it lingers 500 ms at shutdown);
* ALPN agreement and no overlap, both ways; SNI choosing between two certificates on a
  tlspipe server, and a tlspipe client's SNI chosen by ``s_server``;
* HelloRetryRequest sent by tlspipe and by openssl, visible in openssl's trace;
* KeyUpdate initiated by either side (openssl ``k``/``K`` commands, tlspipe
  ``refresh_traffic_keys``), data after it;
* exporters equal to openssl's, both ways; close_notify both ways and TCP close without it;
* tlspipe client rejections of bad certificates (alert seen by ``s_server``), and a server
  signing with a key that does not match its certificate.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.x509.oid import NameOID
from drive import (
    GROUPS,
    SUITES13,
    Driver,
    FixedResolver,
    certified_key,
    client_config,
    connect,
    serve_in_thread,
    server_config,
)
from peers import (
    OpenSSLPeer,
    interop,
    listening_socket,
    openssl_server,
    parse_cipher,
    parse_keymatexport,
    start_openssl_client,
)

import tlspipe
from pki import PKI, SERVER_KINDS, Identity
from tlspipe.crypto.sign import load_private_key
from tlspipe.enums import AlertDescription as AD

CS = tlspipe.CipherSuite
NG = tlspipe.NamedGroup
ALL_SUITES = list(SUITES13)
ALL_GROUPS = list(GROUPS)

#: Signature scheme openssl's trace names for each server key kind (what tlspipe signs with).
SIG_TRACE = {
    "ecdsa-p256": r"ecdsa_secp256r1_sha256",
    "ecdsa-p384": r"ecdsa_secp384r1_sha384",
    "ed25519": r"ed25519",
    "rsa-2048": r"rsa_pss_rsae_sha(256|384|512)",
}
#: ``Peer signature type`` printed by s_client for each key kind.
SIG_TYPE = {"ecdsa-p256": "ECDSA", "ecdsa-p384": "ECDSA", "ed25519": "ed25519",
            "rsa-2048": "RSA-PSS"}  # fmt: skip
TLS13 = (tlspipe.ProtocolVersion.TLSv1_3,)
HRR_RANDOM_HEX = "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C"
LABEL = "EXPERIMENTAL-tlspipe-interop13"


def _full_matrix() -> list[object]:
    return [
        pytest.param(s, g, k, id=f"{s.name[6:]}-{g.name}-{k}")
        for s in ALL_SUITES
        for g in ALL_GROUPS
        for k in SERVER_KINDS
    ]


def _cover_matrix() -> list[object]:
    """Every suite × group pair once, keys rotating, plus two extras: each key at least twice."""
    out = []
    for i, (s, g) in enumerate((s, g) for s in ALL_SUITES for g in ALL_GROUPS):
        k = SERVER_KINDS[(i + i // 4) % len(SERVER_KINDS)]
        out.append(pytest.param(s, g, k, id=f"{s.name[6:]}-{g.name}-{k}"))
    out.append(pytest.param(CS.TLS13_AES_128_GCM_SHA256, NG.x25519, "ed25519", id="extra-ed25519"))
    out.append(pytest.param(CS.TLS13_AES_256_GCM_SHA384, NG.secp384r1, "rsa-2048",
                            id="extra-rsa"))  # fmt: skip
    return out


def _trace_server_hello_group(trace: str) -> int:
    """The group in the *last* ServerHello key_share of an openssl ``-trace`` (after an HRR the
    first ServerHello is the HelloRetryRequest)."""
    hellos = re.findall(
        r"ServerHello, Length=\d+.*?extension_type=key_share\(51\), length=\d+\s*\n"
        r"\s*NamedGroup: [^\n]*\((\d+)\)",
        trace,
        re.S,
    )
    assert hellos, "no ServerHello key_share in trace"
    return int(hellos[-1])


def _client_hellos(trace: str) -> int:
    return len(re.findall(r"^\s*ClientHello, Length=", trace, re.M))


@contextlib.contextmanager
def _closing_driver(d: Driver) -> Iterator[Driver]:
    with contextlib.closing(d.sock):
        yield d


@contextlib.contextmanager
def _accept(listener: socket.socket, config: tlspipe.ServerConfig) -> Iterator[Driver]:
    sock, _ = listener.accept()
    sock.settimeout(10)
    with contextlib.closing(sock):
        yield Driver(tlspipe.ServerConnection(config), sock)


@contextlib.contextmanager
def s_client_session(
    cfg: tlspipe.ServerConfig, args: list[str]
) -> Iterator[tuple[OpenSSLPeer, Driver]]:
    """``openssl s_client -tls1_3 ARGS`` connected to a tlspipe server driven in this thread."""
    with (
        listening_socket() as lst,
        start_openssl_client(lst.getsockname()[1], args=args, tls13=True) as client,
        _accept(lst, cfg) as d,
    ):
        yield client, d


@contextlib.contextmanager
def s_server_session(
    ident: Identity,
    *,
    cfg: tlspipe.ClientConfig,
    args: list[str] | None = None,
    name: str = "localhost",
    sni: tuple[str, Identity] | None = None,
    tls13: bool | None = True,
) -> Iterator[tuple[OpenSSLPeer, Driver]]:
    """``openssl s_server -tls1_3 ARGS`` and a tlspipe client connected to it as ``name``."""
    with (
        openssl_server(ident, args=args or [], sni=sni, tls13=tls13) as server,
        _closing_driver(connect(server.port, cfg, name)) as d,
    ):
        yield server, d


def _s_client_args(ca: object, name: str = "localhost", *extra: str) -> list[str]:
    return ["-CAfile", str(ca), "-verify_return_error", "-verify_hostname", name,
            "-servername", name, *extra]  # fmt: skip


def _finish_s_client(d: Driver, client: OpenSSLPeer) -> str:
    """s_client sends close_notify at stdin EOF; tlspipe answers with its own."""
    client.close_stdin()
    assert d.read_until_close() == b""
    d.close()
    res = client.wait(5)
    assert res.ok, res.output
    return res.output


def _finish_s_server(d: Driver, server: OpenSSLPeer) -> None:
    """tlspipe sends close_notify; s_server reports a clean close (``DONE``, no ``ERROR``)
    and answers with its own close_notify."""
    d.close()
    assert d.read_until_close() == b""
    assert d.conn.peer_has_closed
    server.wait_for("CONNECTION CLOSED")
    out = server.output()
    assert "DONE" in out and "ERROR" not in out, out


# -- the matrix ----------------------------------------------------------------------------------


@interop
@pytest.mark.parametrize(("suite", "group", "kind"), _full_matrix())
def test_matrix_tlspipe_client_to_s_server(
    pki: PKI, suite: tlspipe.CipherSuite, group: tlspipe.NamedGroup, kind: str
) -> None:
    """tlspipe client offering exactly one suite and group; s_server's trace shows them."""
    ident = pki.server(kind)
    cfg = client_config(pki.ca_pem, cipher_suites=(suite,), kx_groups=(group,))
    with s_server_session(ident, args=["-trace"], cfg=cfg) as (server, d):
        d.handshake()
        d.write(b"ping from tlspipe\n")
        server.wait_for("ping from tlspipe")
        server.send(b"pong from openssl\n")
        assert d.read_until(b"\n") == b"pong from openssl\n"
        _finish_s_server(d, server)
        out = server.output()
    assert parse_cipher(out) == SUITES13[suite]
    assert _trace_server_hello_group(out) == int(group)
    assert _client_hellos(out) == 1
    cv = rf"CertificateVerify, Length=\d+\s*\n\s*Signature Algorithm: {SIG_TRACE[kind]}"
    assert re.search(cv, out), out
    c = d.conn
    assert c.protocol_version == tlspipe.ProtocolVersion.TLSv1_3
    assert c.negotiated_cipher_suite is not None and c.negotiated_cipher_suite.suite == suite
    assert c.negotiated_key_exchange_group == group
    assert c.peer_certificates == tuple(ident.chain_der)


@interop
@pytest.mark.parametrize(("suite", "group", "kind"), _cover_matrix())
def test_matrix_s_client_to_tlspipe_server(
    pki: PKI, suite: tlspipe.CipherSuite, group: tlspipe.NamedGroup, kind: str
) -> None:
    """s_client offering one suite and one group, verifying the tlspipe server's chain."""
    ident = pki.server(kind)
    cfg = server_config(ident.chain_pem, ident.key_pem)
    args = _s_client_args(
        pki.ca_pem, "localhost", "-ciphersuites", SUITES13[suite], "-groups", GROUPS[group][0]
    )
    with s_client_session(cfg, args) as (client, d):
        d.handshake()
        client.send(b"ping from openssl\n")
        assert d.read_until(b"\n") == b"ping from openssl\n"
        d.write(b"pong from tlspipe\n")
        client.wait_for("pong from tlspipe")
        out = _finish_s_client(d, client)
    assert "Verification: OK" in out and "Verify return code: 0 (ok)" in out
    assert f"New, TLSv1.3, Cipher is {SUITES13[suite]}" in out
    assert f"Server Temp Key: {GROUPS[group][1]}" in out
    assert f"Peer signature type: {SIG_TYPE[kind]}" in out
    assert d.conn.negotiated_key_exchange_group == group
    assert d.conn.server_name == "localhost"


# -- ALPN ----------------------------------------------------------------------------------------


@interop
def test_alpn_tlspipe_client_s_server(pki: PKI) -> None:
    """s_server picks by its own preference from the tlspipe client's offer."""
    cfg = client_config(pki.ca_pem, alpn_protocols=(b"h2", b"http/1.1"))
    with s_server_session(pki.server(), args=["-alpn", "http/1.1,h2"], cfg=cfg) as (server, d):
        d.handshake()
        d.write(b"data over http/1.1\n")
        server.wait_for("data over http/1.1")
        _finish_s_server(d, server)
    assert d.conn.alpn_protocol == b"http/1.1"
    assert "ALPN protocols advertised by the client: h2, http/1.1" in server.output()
    assert "ALPN protocols selected: http/1.1" in server.output()


@interop
def test_alpn_no_overlap_s_server_refuses(pki: PKI) -> None:
    """No common protocol: s_server sends no_application_protocol; tlspipe reports it."""
    cfg = client_config(pki.ca_pem, alpn_protocols=(b"h2",))
    with s_server_session(pki.server(), args=["-alpn", "spdy/3"], cfg=cfg) as (server, d):
        ei = pytest.raises(tlspipe.AlertReceived, d.handshake)
        server.wait_for("ERROR")
    assert ei.value.description == AD.no_application_protocol
    assert d.conn.alpn_protocol is None


@interop
def test_alpn_s_client_tlspipe_server(pki: PKI) -> None:
    """The tlspipe server's preference wins; s_client prints the protocol."""
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem, alpn_protocols=(b"http/1.1", b"h2"))
    args = _s_client_args(pki.ca_pem, "localhost", "-alpn", "h2,http/1.1")
    with s_client_session(cfg, args) as (cl, d):
        d.handshake()
        d.write(b"hi\n")
        cl.wait_for("hi")
        out = _finish_s_client(d, cl)
    assert "ALPN protocol: http/1.1" in out
    assert d.conn.alpn_protocol == b"http/1.1"


@interop
def test_alpn_no_overlap_tlspipe_server_refuses(pki: PKI) -> None:
    """No common protocol: the tlspipe server fails with no_application_protocol (120)."""
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem, alpn_protocols=(b"h2",))
    args = _s_client_args(pki.ca_pem, "localhost", "-alpn", "spdy/3,http/1.1")
    with s_client_session(cfg, args) as (cl, d):
        ei = pytest.raises(tlspipe.PeerIncompatible, d.handshake)
        d.sock.close()
        res = cl.wait(5)
    assert ei.value.alert == AD.no_application_protocol
    assert "no ALPN protocol in common" in str(ei.value)
    assert "alert no application protocol" in res.output and "SSL alert number 120" in res.output


# -- SNI -----------------------------------------------------------------------------------------


def _sni_server_config(pki: PKI, *, default: bool = True) -> tlspipe.ServerConfig:
    main, other = pki.server(), pki.other_server()
    main_ck = certified_key(main.chain_pem, main.key_pem)
    resolver = tlspipe.ResolvesServerCertUsingSni(main_ck if default else None)
    resolver.add(("localhost", "testserver.example"), main_ck)
    resolver.add("other.example", certified_key(other.chain_pem, other.key_pem))
    return tlspipe.ServerConfig(cert_resolver=resolver, versions=TLS13)


@interop
@pytest.mark.parametrize("name", ["other.example", "testserver.example"])
def test_sni_tlspipe_server_chooses_certificate(pki: PKI, name: str) -> None:
    """s_client -servername picks the certificate; its hostname check passes for it."""
    want: Identity = pki.other_server() if name == "other.example" else pki.server()
    cfg = _sni_server_config(pki, default=False)
    args = _s_client_args(pki.ca_pem, name)
    with s_client_session(cfg, args) as (cl, d):
        d.handshake()
        d.write(b"hi\n")
        cl.wait_for("hi")
        out = _finish_s_client(d, cl)
    assert d.conn.server_name == name
    cn = want.leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert f"subject=O = tlspipe tests, CN = {cn!s}" in out
    assert "Verification: OK" in out


@interop
def test_sni_unknown_name_unrecognized_name(pki: PKI) -> None:
    """No certificate for the name and no default: unrecognized_name (112) to s_client."""
    cfg = _sni_server_config(pki, default=False)
    args = ["-CAfile", str(pki.ca_pem), "-servername", "unknown.example"]
    with s_client_session(cfg, args) as (cl, d):
        ei = pytest.raises(tlspipe.PeerIncompatible, d.handshake)
        d.sock.close()
        res = cl.wait(5)
    assert ei.value.alert == AD.unrecognized_name
    assert "unknown.example" in str(ei.value)
    assert "SSL alert number 112" in res.output, res.output


@interop
@pytest.mark.parametrize("name", ["other.example", "localhost", "127.0.0.1"])
def test_sni_tlspipe_client_seen_by_s_server(pki: PKI, name: str) -> None:
    """s_server -servername/-cert2 serves other.example by the tlspipe client's SNI; an IP
    address sends no SNI (and verifies against the IP SAN)."""
    main, other = pki.server(), pki.other_server()
    want = other if name == "other.example" else main
    cfg = client_config(pki.ca_pem)
    with s_server_session(
        main, sni=("other.example", other), args=["-trace"], cfg=cfg, name=name
    ) as (server, d):
        d.handshake()
        d.write(b"marker-1\n")
        server.wait_for("marker-1")
        _finish_s_server(d, server)
        out = server.output()
    assert d.conn.peer_certificates is not None and d.conn.peer_certificates[0] == want.chain_der[0]
    if name == "127.0.0.1":
        assert "extension_type=server_name" not in out
        assert d.conn.server_name is None
    else:
        assert f'Hostname in TLS extension: "{name}"' in out or "extension_type=server_name" in out
        assert d.conn.server_name == name


# -- HelloRetryRequest ---------------------------------------------------------------------------


@interop
def test_hrr_sent_by_tlspipe_server(pki: PKI, caplog: pytest.LogCaptureFixture) -> None:
    """s_client sends an X25519 share; the tlspipe server wants P-384 and asks for it."""
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem, kx_groups=(NG.secp384r1,))
    args = _s_client_args(pki.ca_pem, "localhost", "-groups", "X25519:P-384", "-trace")
    caplog.set_level(logging.DEBUG, logger="tlspipe")
    with s_client_session(cfg, args) as (cl, d):
        d.handshake()
        cl.send(b"after hrr\n")
        assert d.read_until(b"\n") == b"after hrr\n"
        d.write(b"ok\n")
        cl.wait_for("ok")
        out = _finish_s_client(d, cl)
    assert "server sent HelloRetryRequest for secp384r1" in caplog.text
    assert _client_hellos(out) == 2
    assert HRR_RANDOM_HEX in re.sub(r"\s|random_bytes \(len=28\):|gmt_unix_time=0x", "", out)
    assert "Server Temp Key: ECDH, secp384r1, 384 bits" in out
    assert d.conn.negotiated_key_exchange_group == NG.secp384r1


@interop
def test_hrr_sent_by_s_server(pki: PKI, caplog: pytest.LogCaptureFixture) -> None:
    """The tlspipe client sends an X25519 share; s_server -groups P-256 retries."""
    cfg = client_config(pki.ca_pem, kx_groups=(NG.x25519, NG.secp256r1))
    caplog.set_level(logging.DEBUG, logger="tlspipe")
    with s_server_session(pki.server("rsa-2048"), args=["-groups", "P-256", "-trace"], cfg=cfg) as (
        server,
        d,
    ):
        d.handshake()
        d.write(b"after hrr\n")
        server.wait_for("after hrr")
        server.send(b"ok\n")
        assert d.read_until(b"\n") == b"ok\n"
        _finish_s_server(d, server)
        out = server.output()
    assert "client retried with key share secp256r1" in caplog.text
    assert _client_hellos(out) == 2
    assert HRR_RANDOM_HEX in re.sub(r"\s|random_bytes \(len=28\):|gmt_unix_time=0x", "", out)
    assert _trace_server_hello_group(out) == int(NG.secp256r1)
    assert d.conn.negotiated_key_exchange_group == NG.secp256r1


# -- KeyUpdate -----------------------------------------------------------------------------------


def _key_updates(trace: str, *, sent: bool) -> list[str]:
    """request_update values of KeyUpdate messages openssl sent / received (from -trace)."""
    out = []
    for block in re.split(r"\n(?=Sent Record|Received Record)", trace):
        if block.startswith("Sent Record" if sent else "Received Record"):
            out += re.findall(r"KeyUpdate, Length=1\s*\n\s*(update_\w+)", block)
    return out


@interop
def test_key_update_tlspipe_client_s_server(pki: PKI) -> None:
    """s_server 'K' (update_requested) → tlspipe answers; tlspipe refresh → s_server answers.
    Data flows both ways after each update."""
    cfg = client_config(pki.ca_pem, cipher_suites=(CS.TLS13_CHACHA20_POLY1305_SHA256,))
    with s_server_session(pki.server(), args=["-trace"], cfg=cfg) as (server, d):
        d.handshake()
        d.write(b"before\n")
        server.wait_for("before")
        server.send(b"K\n")
        server.wait_for("KeyUpdate")
        server.send(b"server after K\n")
        assert d.read_until(b"\n") == b"server after K\n"
        d.write(b"client after K\n")
        server.wait_for("client after K")
        d.conn.refresh_traffic_keys()
        d.write(b"client after refresh\n")
        server.wait_for("client after refresh")
        server.send(b"server after refresh\n")
        assert d.read_until(b"\n") == b"server after refresh\n"
        _finish_s_server(d, server)
        out = server.output()
    assert _key_updates(out, sent=True) == ["update_requested", "update_not_requested"], out
    assert _key_updates(out, sent=False) == ["update_not_requested", "update_requested"], out


@interop
def test_key_update_s_client_tlspipe_server(pki: PKI) -> None:
    """s_client 'K' → the tlspipe server answers; tlspipe refresh → s_client answers."""
    ident = pki.server("ecdsa-p384")
    cfg = server_config(ident.chain_pem, ident.key_pem)
    args = _s_client_args(pki.ca_pem, "localhost", "-trace")
    with s_client_session(cfg, args) as (cl, d):
        d.handshake()
        cl.wait_for("Verify return code")
        cl.send(b"K\n")
        cl.wait_for("KEYUPDATE")
        cl.send(b"client after K\n")
        assert d.read_until(b"\n") == b"client after K\n"
        d.write(b"server after K\n")
        cl.wait_for("server after K")
        d.conn.refresh_traffic_keys()
        d.write(b"server after refresh\n")
        cl.wait_for("server after refresh")
        cl.send(b"client after refresh\n")
        assert d.read_until(b"\n") == b"client after refresh\n"
        out = _finish_s_client(d, cl)
    assert _key_updates(out, sent=True) == ["update_requested", "update_not_requested"], out
    assert _key_updates(out, sent=False) == ["update_not_requested", "update_requested"], out


# -- exporters -----------------------------------------------------------------------------------

KEYMAT_LEN = 64  # longer than a SHA-256 output: exercises HKDF-Expand's counter


@interop
@pytest.mark.parametrize("suite", ALL_SUITES, ids=lambda s: s.name[6:])
def test_exporter_tlspipe_client_s_server(pki: PKI, suite: tlspipe.CipherSuite) -> None:
    """conn.export_keying_material(LABEL, None|b"", N) equals s_server -keymatexport."""
    cfg = client_config(pki.ca_pem, cipher_suites=(suite,))
    args = ["-keymatexport", LABEL, "-keymatexportlen", str(KEYMAT_LEN)]
    with s_server_session(pki.server(), args=args, cfg=cfg) as (server, d):
        d.handshake()
        d.write(b"x\n")
        server.wait_for("Keying material: ")
        ours = d.conn.export_keying_material(LABEL.encode(), None, KEYMAT_LEN)
        assert d.conn.export_keying_material(LABEL.encode(), b"", KEYMAT_LEN) == ours
        assert d.conn.export_keying_material(LABEL.encode(), b"ctx", KEYMAT_LEN) != ours
        _finish_s_server(d, server)
    assert parse_keymatexport(server.output(), LABEL) == ours


@interop
@pytest.mark.parametrize("suite", ALL_SUITES, ids=lambda s: s.name[6:])
def test_exporter_s_client_tlspipe_server(pki: PKI, suite: tlspipe.CipherSuite) -> None:
    """The tlspipe server's exporter equals s_client -keymatexport."""
    ident = pki.server("ed25519")
    cfg = server_config(ident.chain_pem, ident.key_pem, cipher_suites=(suite,))
    args = _s_client_args(pki.ca_pem, "localhost", "-keymatexport", LABEL,
                          "-keymatexportlen", str(KEYMAT_LEN))  # fmt: skip
    with s_client_session(cfg, args) as (cl, d):
        d.handshake()
        ours = d.conn.export_keying_material(LABEL.encode(), None, KEYMAT_LEN)
        cl.wait_for("Keying material: ")
        out = _finish_s_client(d, cl)
    assert parse_keymatexport(out, LABEL) == ours
    assert parse_cipher(out) == SUITES13[suite]


# -- close_notify and truncation -----------------------------------------------------------------


@interop
def test_s_server_close_notify_seen_by_tlspipe_client(pki: PKI) -> None:
    """s_server -www answers and closes with close_notify: tlspipe gets all the data, then
    peer_has_closed (no UnexpectedEof although the TCP connection ends too).

    (s_server's interactive ``q`` command does *not* send close_notify in OpenSSL 3.0: it is
    a truncation, and tlspipe rightly reports UnexpectedEof for it.)
    """
    cfg = client_config(pki.ca_pem)
    with s_server_session(pki.server(), args=["-www"], cfg=cfg) as (_server, d):
        d.handshake()
        d.write(b"GET / HTTP/1.0\r\n\r\n")
        page = d.read_until_close()
        assert d.conn.process_new_packets().peer_has_closed
        d.close()  # answering is allowed; the peer may be gone already
    assert page.startswith(b"HTTP/1.0 200 ok\r\n")
    assert page.rstrip().endswith(b"</HTML>")
    assert b"TLS_AES_256_GCM_SHA384" in page  # s_server's status page names the cipher


@interop
def test_s_server_killed_is_unexpected_eof(pki: PKI) -> None:
    """s_server killed mid-connection (TCP FIN, no close_notify) → tlspipe.UnexpectedEof."""
    with s_server_session(pki.server(), cfg=client_config(pki.ca_pem)) as (server, d):
        d.handshake()
        d.write(b"marker-1\n")
        server.wait_for("marker-1")
        os.killpg(server.pid, signal.SIGKILL)  # TCP FIN from the kernel, no close_notify
        with pytest.raises(tlspipe.UnexpectedEof):
            d.read_until_close()
        assert not d.conn.peer_has_closed


@interop
def test_tlspipe_server_close_notify_seen_by_s_client(pki: PKI) -> None:
    """tlspipe server sends data then close_notify: s_client -ign_eof prints it, exits 0."""
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem)
    args = _s_client_args(pki.ca_pem, "localhost", "-ign_eof")
    with s_client_session(cfg, args) as (cl, d):
        d.handshake()
        d.write(b"goodbye\n")
        d.close()
        res = cl.wait(5)
    assert res.ok, res.output
    assert "goodbye" in res.output and "closed" in res.output.split("goodbye", 1)[1]


@interop
def test_tlspipe_server_tcp_close_is_error_for_s_client(pki: PKI) -> None:
    """tlspipe server closes TCP without close_notify: s_client reports an unexpected EOF."""
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem)
    args = _s_client_args(pki.ca_pem, "localhost", "-ign_eof")
    with s_client_session(cfg, args) as (cl, d):
        d.handshake()
        d.write(b"cut\n")
        cl.wait_for("cut")
        d.sock.close()  # TCP FIN, no close_notify
        res = cl.wait(5)
    assert not res.ok
    assert "unexpected eof while reading" in res.output, res.output


@interop
def test_s_client_killed_is_unexpected_eof(pki: PKI) -> None:
    """s_client killed after the handshake → the tlspipe server raises UnexpectedEof."""
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem)
    args = _s_client_args(pki.ca_pem)
    with s_client_session(cfg, args) as (cl, d):
        d.handshake()
        cl.send(b"x\n")
        assert d.read_until(b"\n") == b"x\n"
        os.killpg(cl.pid, signal.SIGKILL)  # no chance to send close_notify
        with pytest.raises(tlspipe.UnexpectedEof):
            d.read_until_close()


# -- rejections by the tlspipe client ------------------------------------------------------------

#: bad kind → (CertificateReason, message fragment, alert number, openssl's alert text)
REJECTIONS = {
    "expired": ("EXPIRED", "expired on", 45, "certificate expired"),
    "not-yet-valid": ("NOT_VALID_YET", "not valid before", 45, "certificate expired"),
    "wrong-name": ("NOT_VALID_FOR_NAME", "not valid for 'localhost'", 42, "bad certificate"),
    "untrusted-root": ("UNKNOWN_ISSUER", "is not trusted", 48, "unknown ca"),
    "no-server-eku": ("INVALID_PURPOSE", "lacks serverAuth", 43, "unsupported certificate"),
    "ca-as-leaf": ("INVALID_PURPOSE", "CA certificate cannot be used as the end-entity", 43,
                   "unsupported certificate"),
}  # fmt: skip


@interop
@pytest.mark.parametrize("kind", sorted(REJECTIONS))
def test_tlspipe_client_rejects_bad_certificate(pki: PKI, kind: str) -> None:
    """InvalidCertificate with the right reason and message; s_server receives the alert."""
    reason, fragment, alert, text = REJECTIONS[kind]
    ident = pki.bad(kind)
    with s_server_session(ident, cfg=client_config(ident.ca_pem)) as (server, d):
        with pytest.raises(tlspipe.InvalidCertificate) as ei:
            d.handshake()
        # the connection is poisoned: the same error again
        with pytest.raises(tlspipe.InvalidCertificate):
            d.conn.process_new_packets()
        server.wait_for(f"SSL alert number {alert}")
    err = ei.value
    assert err.reason is tlspipe.CertificateReason[reason]
    assert int(err.alert) == alert
    assert fragment in str(err)
    assert f"alert {text}" in server.output()


def _mismatch_config(pki: PKI) -> tlspipe.ServerConfig:
    """A tlspipe server whose key does not match its certificate (bypassing the check)."""
    bad = pki.bad("key-mismatch")
    mismatched = tlspipe.CertifiedKey(
        cert_chain=tuple(bad.chain_der), key=load_private_key(bad.key_pem.read_bytes())
    )
    with pytest.raises(tlspipe.ConfigError):
        mismatched.check_key_matches()
    return tlspipe.ServerConfig(cert_resolver=FixedResolver(mismatched), versions=TLS13)


@interop
def test_key_mismatch_s_client_rejects_tlspipe_server(pki: PKI) -> None:
    """A tlspipe server signing with the wrong key: s_client's CertificateVerify check fails
    and it sends decrypt_error (51), which the tlspipe server reports as AlertReceived."""
    cfg = _mismatch_config(pki)
    args = _s_client_args(pki.ca_pem)
    with s_client_session(cfg, args) as (cl, d):
        ei = pytest.raises(tlspipe.AlertReceived, d.handshake)
        d.sock.close()
        res = cl.wait(5)
    assert ei.value.description == AD.decrypt_error
    assert not res.ok
    assert "bad signature" in res.output, res.output


@interop
def test_key_mismatch_tlspipe_client_rejects_tlspipe_server(pki: PKI) -> None:
    """Over a real socket, tlspipe ↔ tlspipe: the client fails CertificateVerify with
    decrypt_error and the server receives exactly that alert."""
    cfg = _mismatch_config(pki)

    def serve(d: Driver) -> object:
        with pytest.raises(tlspipe.AlertReceived) as ei:
            d.handshake()
        return ei.value.description

    with (
        serve_in_thread(cfg, serve) as st,
        _closing_driver(connect(st.port, client_config(pki.ca_pem))) as d,
    ):
        ei = pytest.raises(tlspipe.PeerMisbehaved, d.handshake)
        server_saw = st.result()
    assert ei.value.alert == AD.decrypt_error
    assert "invalid handshake signature" in str(ei.value)
    assert server_saw == AD.decrypt_error


# -- record shapes, fragmentation, version/parameter mismatches ---------------------------------

RECORD_SHAPES = {
    "padding": ["-record_padding", "512"],  # TLS 1.3 inner plaintext padding
    "max-frag-512": ["-max_send_frag", "512"],  # handshake messages split across records
    "split-pipelines": ["-split_send_frag", "64", "-max_pipelines", "4"],
}


@interop
@pytest.mark.parametrize("shape", sorted(RECORD_SHAPES))
def test_record_shapes_from_s_server(pki: PKI, shape: str) -> None:
    """The tlspipe client reassembles/unpads whatever record shapes s_server produces."""
    cfg = client_config(pki.ca_pem)
    with s_server_session(pki.server("rsa-2048"), args=RECORD_SHAPES[shape], cfg=cfg) as (
        server,
        d,
    ):
        d.handshake()
        d.write(b"shape check\n")
        server.wait_for("shape check")
        server.send(b"B" * 3000 + b"\n")
        assert d.read_until(b"\n") == b"B" * 3000 + b"\n"
        _finish_s_server(d, server)


@interop
@pytest.mark.parametrize("shape", [*sorted(RECORD_SHAPES), "no-middlebox"])
def test_record_shapes_from_s_client(pki: PKI, shape: str) -> None:
    """The tlspipe server handles s_client's record shapes (and no middlebox CCS)."""
    ident = pki.server("rsa-2048")
    cfg = server_config(ident.chain_pem, ident.key_pem)
    extra = ["-no_middlebox"] if shape == "no-middlebox" else RECORD_SHAPES[shape]
    with s_client_session(cfg, _s_client_args(pki.ca_pem, "localhost", *extra)) as (cl, d):
        d.handshake()
        cl.send(b"C" * 3000 + b"\n")
        assert d.read_until(b"\n") == b"C" * 3000 + b"\n"
        d.write(b"shape ok\n")
        cl.wait_for("shape ok")
        _finish_s_client(d, cl)


@interop
def test_tiny_fragments_both_roles(pki: PKI) -> None:
    """max_fragment_size=64 on tlspipe: every flight is split into 64-byte records, and
    openssl reassembles them, in both roles."""
    ident = pki.server("rsa-2048")  # the biggest flight
    cfg = client_config(pki.ca_pem, max_fragment_size=64)
    with s_server_session(ident, cfg=cfg) as (server, d):
        d.handshake()
        d.write(b"Z" * 1000 + b"\n")
        server.wait_for("Z" * 1000)
        _finish_s_server(d, server)
    scfg = server_config(ident.chain_pem, ident.key_pem, max_fragment_size=64)
    with s_client_session(scfg, _s_client_args(pki.ca_pem)) as (cl, d):
        d.handshake()
        d.write(b"Y" * 1000 + b"\n")
        cl.wait_for("Y" * 1000)
        _finish_s_client(d, cl)


@interop
@pytest.mark.parametrize("groups", [None, "P-256"], ids=["cookie-only", "cookie-and-group"])
def test_hrr_cookie_from_stateless_s_server(pki: PKI, groups: str | None) -> None:
    """s_server -stateless always sends a HelloRetryRequest with a cookie; the tlspipe client
    echoes it in ClientHello2 (middlebox_compat off: OpenSSL's stateless mode rejects the
    compatibility CCS before ClientHello2 — openssl's own s_client fails the same way)."""
    cfg = client_config(pki.ca_pem, middlebox_compat=False)
    args = ["-stateless", "-trace", *(["-groups", groups] if groups else [])]
    with s_server_session(pki.server(), args=args, cfg=cfg) as (server, d):
        d.handshake()
        d.write(b"stateless ok\n")
        server.wait_for("stateless ok")
        _finish_s_server(d, server)
        out = server.output()
    hellos = re.split(r"\n(?=Received Record|Sent Record)", out)
    client_hellos = [b for b in hellos if "ClientHello, Length=" in b]
    assert len(client_hellos) == 2
    assert "extension_type=cookie" not in client_hellos[0]
    assert "extension_type=cookie" in client_hellos[1]
    want = NG.secp256r1 if groups else NG.x25519
    assert d.conn.negotiated_key_exchange_group == want
    assert _trace_server_hello_group(out) == int(want)


#: s_client args → (tlspipe server error, its alert, message fragment)
S_CLIENT_MISMATCHES = {
    "tls12-only": (["-tls1_2"], tlspipe.PeerIncompatible, AD.protocol_version, "0x0303"),
    "ccm-suite": (["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256"], tlspipe.PeerIncompatible,
                  AD.handshake_failure, "no TLS 1.3 cipher suite in common"),
    "x448-only": (["-tls1_3", "-groups", "X448"], tlspipe.PeerIncompatible, AD.handshake_failure,
                  "no key exchange group in common"),
    # ecdsa_secp384r1_sha384 is bound to P-384 in TLS 1.3: a P-256 key cannot use it
    "p384-sig-on-p256": (["-tls1_3", "-sigalgs", "ECDSA+SHA384"], tlspipe.PeerIncompatible,
                         AD.handshake_failure, "no signature scheme in common"),
}  # fmt: skip


@interop
@pytest.mark.parametrize("case", sorted(S_CLIENT_MISMATCHES))
def test_s_client_mismatch_refused(pki: PKI, case: str) -> None:
    """Nothing in common: the tlspipe server raises with the right alert; s_client gets it."""
    extra, exc, alert, fragment = S_CLIENT_MISMATCHES[case]
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem)
    args = ["-CAfile", str(pki.ca_pem), *extra]
    with (
        listening_socket() as lst,
        start_openssl_client(lst.getsockname()[1], args=args, tls13=None) as cl,
        _accept(lst, cfg) as d,
    ):
        ei = pytest.raises(exc, d.handshake)
        d.sock.close()
        res = cl.wait(5)
    assert ei.value.alert == alert  # type: ignore[attr-defined]
    assert fragment in str(ei.value)
    assert f"SSL alert number {int(alert)}" in res.output, res.output


#: (tlspipe client kwargs, s_server args) → the alert s_server sends
S_SERVER_MISMATCHES = {
    "group": ({"kx_groups": (NG.secp384r1,)}, ["-groups", "X25519"], AD.handshake_failure),
    "suite": ({"cipher_suites": (CS.TLS13_AES_128_GCM_SHA256,)},
              ["-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"], AD.handshake_failure),
}  # fmt: skip


@interop
@pytest.mark.parametrize("case", sorted(S_SERVER_MISMATCHES))
def test_s_server_mismatch_refused(pki: PKI, case: str) -> None:
    """s_server finds nothing in common and sends handshake_failure: AlertReceived."""
    kwargs, args, alert = S_SERVER_MISMATCHES[case]
    cfg = client_config(pki.ca_pem, **kwargs)
    with s_server_session(pki.server(), args=args, cfg=cfg) as (server, d):
        ei = pytest.raises(tlspipe.AlertReceived, d.handshake)
        server.wait_for("ERROR")
    assert ei.value.description == alert


@interop
def test_s_server_tls12_only_refuses_tlspipe_13_client(pki: PKI) -> None:
    """A TLS 1.2-only s_server answers the 1.3-only tlspipe client with protocol_version."""
    cfg = client_config(pki.ca_pem)
    with s_server_session(pki.server(), cfg=cfg, tls13=False) as (server, d):
        ei = pytest.raises(tlspipe.AlertReceived, d.handshake)
        server.wait_for("ERROR")
    assert ei.value.description == AD.protocol_version


@interop
def test_peers_offering_tls12_too_get_tls13(pki: PKI) -> None:
    """s_client and s_server without a version pin (1.2 and 1.3 offered/accepted) settle on
    TLS 1.3 with the 1.3-only tlspipe, both ways."""
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem)
    args = ["-CAfile", str(pki.ca_pem), "-verify_return_error"]
    with (
        listening_socket() as lst,
        start_openssl_client(lst.getsockname()[1], args=args, tls13=None) as cl,
        _accept(lst, cfg) as d,
    ):
        d.handshake()
        out = _finish_s_client(d, cl)
    assert "New, TLSv1.3, Cipher is" in out
    with s_server_session(ident, cfg=client_config(pki.ca_pem), tls13=None) as (server, d):
        d.handshake()
        _finish_s_server(d, server)
    assert d.conn.protocol_version == tlspipe.ProtocolVersion.TLSv1_3


@interop
@pytest.mark.parametrize("required", [False, True], ids=["optional", "required"])
def test_certificate_request_without_client_cert(pki: PKI, required: bool) -> None:
    """s_server -verify (optional) / -Verify (required) with a tlspipe client that has no
    certificate: it answers with an empty Certificate; optional → the connection works,
    required → s_server sends certificate_required, reported on the next read."""
    cfg = client_config(pki.ca_pem)
    args = ["-Verify" if required else "-verify", "1", "-CAfile", str(pki.ca_pem)]
    with s_server_session(pki.server(), args=args, cfg=cfg) as (server, d):
        d.handshake()  # the client's flight is sent; the server decides afterwards
        if required:
            with pytest.raises(tlspipe.AlertReceived) as ei:
                d.read_until_close()
            assert ei.value.description == AD.certificate_required
            server.wait_for("peer did not return a certificate")
            return
        d.write(b"no cert needed\n")
        server.wait_for("no cert needed")
        _finish_s_server(d, server)


@interop
def test_many_key_updates_from_s_client(pki: PKI) -> None:
    """40 KeyUpdates from s_client, each followed by data: more than the tlspipe bound on
    KeyUpdates *in a row* (application data resets it), all processed."""
    ident = pki.server()
    cfg = server_config(ident.chain_pem, ident.key_pem)
    with s_client_session(cfg, _s_client_args(pki.ca_pem)) as (cl, d):
        d.handshake()
        cl.wait_for("Verify return code")
        for i in range(40):
            cl.send(b"k\n")
            deadline = time.monotonic() + 5
            while cl.output().count("KEYUPDATE") <= i:  # one stdin chunk per command
                assert time.monotonic() < deadline, cl.output()[-500:]
                time.sleep(0.005)
            cl.send(b"data %d\n" % i)
            assert d.read_until(b"\n") == b"data %d\n" % i
        d.write(b"still talking\n")
        cl.wait_for("still talking")
        out = _finish_s_client(d, cl)
    assert out.count("KEYUPDATE") == 40


@interop
def test_simultaneous_key_updates(pki: PKI) -> None:
    """tlspipe and s_server both request a KeyUpdate at the same moment; each answers the
    other and data flows afterwards."""
    cfg = client_config(pki.ca_pem)
    with s_server_session(pki.server("ecdsa-p384"), args=["-trace"], cfg=cfg) as (server, d):
        d.handshake()
        d.write(b"before\n")
        server.wait_for("before")
        d.conn.refresh_traffic_keys()
        server.send(b"K\n")
        d.flush()
        deadline = time.monotonic() + 5
        while not _key_updates(server.output(), sent=True):
            assert time.monotonic() < deadline, "s_server sent no KeyUpdate"
            time.sleep(0.01)
        d.write(b"client after both\n")
        server.wait_for("client after both")
        server.send(b"server after both\n")
        assert d.read_until(b"\n") == b"server after both\n"
        _finish_s_server(d, server)
        out = server.output()
    sent, received = _key_updates(out, sent=True), _key_updates(out, sent=False)
    assert sent[0] == "update_requested" and received[0] == "update_requested", (sent, received)


@interop
def test_foreign_psk_and_early_data_rejected(pki: PKI, tmp_path: Path) -> None:
    """s_client resumes a session from *another* server (an s_server) with 0-RTT data: the
    tlspipe server cannot use that PSK, so it does a full handshake, skips the early data
    records it cannot decrypt (RFC 8446 §4.2.10) and the connection works."""
    sess, early = tmp_path / "sess.pem", tmp_path / "early.txt"
    early.write_bytes(b"EARLY DATA LINE\n")
    ident = pki.server()
    with (
        openssl_server(ident, args=["-early_data"]) as other,
        start_openssl_client(
            other.port, args=["-CAfile", str(pki.ca_pem), "-sess_out", str(sess)], tls13=True
        ) as first,
    ):
        first.wait_for("Max Early Data: 16384")  # a ticket allowing 0-RTT arrived
        deadline = time.monotonic() + 5  # s_client prints the ticket, then writes the file
        while b"END SSL SESSION PARAMETERS" not in (sess.read_bytes() if sess.exists() else b""):
            assert time.monotonic() < deadline, "s_client did not save the session"
            time.sleep(0.01)
    cfg = server_config(ident.chain_pem, ident.key_pem)
    args = _s_client_args(pki.ca_pem, "localhost", "-sess_in", str(sess), "-early_data", str(early))
    with s_client_session(cfg, args) as (cl, d):
        d.handshake()
        cl.send(b"after early data\n")
        assert d.read_until(b"\n") == b"after early data\n"  # the early line never surfaces
        out = _finish_s_client(d, cl)
    assert not d.conn.handshake_kind_resumed
    assert "Early data was rejected" in out
    assert "New, TLSv1.3" in out  # a new session, not "Reused"


# -- key log -------------------------------------------------------------------------------------


def _keylog_lines(path: Path) -> set[tuple[str, str, str]]:
    out = set()
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            label, random, secret = line.split()
            out.add((label, random.lower(), secret.lower()))
    return out


KEYLOG_LABELS = {
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "EXPORTER_SECRET",
}


@interop
@pytest.mark.parametrize("side", ["tlspipe-client", "tlspipe-server"])
def test_keylog_matches_openssl(pki: PKI, tmp_path: Path, side: str) -> None:
    """tlspipe's SSLKEYLOGFILE lines equal openssl's -keylogfile lines (every TLS 1.3 secret,
    after a HelloRetryRequest and with a SHA-384 suite)."""
    ours, theirs = tmp_path / "tlspipe.keys", tmp_path / "openssl.keys"
    klog = tlspipe.KeyLogFile(ours)
    suite = CS.TLS13_AES_256_GCM_SHA384
    if side == "tlspipe-client":
        cfg = client_config(pki.ca_pem, key_log=klog, cipher_suites=(suite,),
                            kx_groups=(NG.x25519, NG.secp384r1))  # fmt: skip
        args = ["-keylogfile", str(theirs), "-groups", "P-384"]
        with s_server_session(pki.server(), args=args, cfg=cfg) as (server, d):
            d.handshake()
            d.write(b"logged\n")
            server.wait_for("logged")
            _finish_s_server(d, server)
    else:
        ident = pki.server()
        scfg = server_config(ident.chain_pem, ident.key_pem, key_log=klog,
                             kx_groups=(NG.secp384r1,))  # fmt: skip
        args = _s_client_args(pki.ca_pem, "localhost", "-keylogfile", str(theirs),
                              "-ciphersuites", SUITES13[suite])  # fmt: skip
        with s_client_session(scfg, args) as (cl, d):
            d.handshake()
            _finish_s_client(d, cl)
    assert d.conn.negotiated_key_exchange_group == NG.secp384r1  # after an HRR
    mine, openssl = _keylog_lines(ours), _keylog_lines(theirs)
    assert {label for label, _, _ in mine} == KEYLOG_LABELS
    assert all(len(secret) == 96 for _, _, secret in mine)  # SHA-384 secrets
    assert mine == {line for line in openssl if line[0] in KEYLOG_LABELS}
