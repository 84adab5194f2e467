"""TLS 1.2 tlspipe↔tlspipe: every suite × key type, signature schemes, EMS, ALPN/SNI,
exporters, key log, CertificateRequest, renegotiation refused."""

from __future__ import annotations

import dataclasses

import pytest
from tls12_util import (
    SUITE_KEYS,
    V12,
    V13,
    Duo,
    client_config,
    record,
    rewrite_first_handshake,
    server_config,
)

import tlspipe
import tlspipe.dangerous
from tlspipe.enums import (
    AlertDescription,
    AlertLevel,
    ContentType,
    HandshakeType,
    SignatureScheme,
)
from tlspipe.msgs.handshake import CertificateRequest12, HelloRequest
from tlspipe.msgs.hello import ServerHello
from tlspipe.msgs.message import encode_handshake


@pytest.mark.parametrize(("suite", "kind"), SUITE_KEYS, ids=lambda x: getattr(x, "name", x))
def test_suite_and_key(pki, suite, kind):
    cc = client_config(pki, kind, cipher_suites=(suite,))
    sc = server_config(pki, kind)
    d = Duo(cc, sc)
    d.handshake()
    for conn in (d.client, d.server):
        assert conn.protocol_version is V12
        assert conn.negotiated_cipher_suite.suite == suite
        assert not conn.handshake_kind_resumed
    assert d.send(d.client, b"ping" * 5000) == b"ping" * 5000
    assert d.send(d.server, b"pong") == b"pong"
    assert d.client.peer_certificates[0] == pki.server(kind).chain_der[0]
    ekm = d.client.export_keying_material(b"EXPERIMENTAL test", b"ctx", 40)
    assert ekm == d.server.export_keying_material(b"EXPERIMENTAL test", b"ctx", 40)
    assert ekm != d.client.export_keying_material(b"EXPERIMENTAL test", None, 40)


class _Schemes:
    """A verifier wrapper offering only some signature schemes."""

    def __init__(self, inner, schemes):
        self.inner = inner
        self.schemes = tuple(schemes)

    def verify_server_cert(self, *a, **kw):
        return self.inner.verify_server_cert(*a)

    def verify_tls12_signature(self, message, cert, scheme, signature):
        assert scheme in self.schemes
        self.used = scheme
        return self.inner.verify_tls12_signature(message, cert, scheme, signature)

    def verify_tls13_signature(self, *a):
        return self.inner.verify_tls13_signature(*a)

    def supported_verify_schemes(self):
        return self.schemes


@pytest.mark.parametrize(
    "scheme",
    [
        SignatureScheme.rsa_pkcs1_sha256,
        SignatureScheme.rsa_pkcs1_sha512,
        SignatureScheme.rsa_pss_rsae_sha256,
        SignatureScheme.rsa_pss_rsae_sha384,
    ],
    ids=lambda s: s.name,
)
def test_rsa_server_key_exchange_schemes(pki, scheme):
    base = client_config(pki, "rsa-2048")
    v = _Schemes(base.verifier_, [scheme])
    cc = tlspipe.dangerous.dangerous_with_custom_verifier(base, v)
    d = Duo(cc, server_config(pki, "rsa-2048"))
    d.handshake()
    assert v.used == scheme


def test_no_common_signature_scheme(pki):
    base = client_config(pki, "ecdsa-p384")
    cc = tlspipe.dangerous.dangerous_with_custom_verifier(
        base, _Schemes(base.verifier_, [SignatureScheme.ecdsa_secp256r1_sha256])
    )
    out = Duo(cc, server_config(pki, "ecdsa-p384")).until_error()
    assert isinstance(out.server, tlspipe.PeerIncompatible)
    assert out.server.alert == AlertDescription.handshake_failure


def test_server_prefers_its_order_and_key_type(pki):
    # client offers ECDSA suites first, server has an RSA key: an RSA suite is chosen
    d = Duo(client_config(pki, "rsa-2048"), server_config(pki, "rsa-2048"))
    d.handshake()
    assert d.client.negotiated_cipher_suite.sign == "RSA"


def test_ems_negotiated_and_keylog(pki):
    lines: list[tuple[str, bytes, bytes]] = []

    class Log:
        def will_log(self, label):
            return True

        def log(self, label, client_random, secret):
            lines.append((label, client_random, secret))

    d = Duo(client_config(pki, key_log=Log()), server_config(pki, key_log=Log()))
    d.handshake()
    assert [x[0] for x in lines] == ["CLIENT_RANDOM", "CLIENT_RANDOM"]
    assert lines[0][1:] == lines[1][1:] and len(lines[0][2]) == 48
    sh = d.server_wire[0]
    assert b"\x00\x17\x00\x00" in sh  # extended_master_secret in the ServerHello


def _strip_ems(ch):
    return dataclasses.replace(
        ch, extensions=dataclasses.replace(ch.extensions, extended_master_secret=False)
    )


def _strip_sh_ems(sh):
    assert isinstance(sh, ServerHello)
    return dataclasses.replace(
        sh, extensions=dataclasses.replace(sh.extensions, extended_master_secret=False)
    )


def test_without_ems_still_works_by_default(pki):
    d = Duo(client_config(pki), server_config(pki), c_alter=rewrite_first_handshake(_strip_ems))
    out = d.until_error()
    # the handshake transcript differs (we altered the ClientHello): Finished fails, but
    # not before both sides accepted a ServerHello without EMS
    assert isinstance(out.server, tlspipe.PeerMisbehaved)
    assert out.server.alert == AlertDescription.decrypt_error


def test_require_ems_server(pki):
    d = Duo(
        client_config(pki),
        server_config(pki, require_ems=True),
        c_alter=rewrite_first_handshake(_strip_ems),
    )
    out = d.until_error()
    assert isinstance(out.server, tlspipe.PeerIncompatible)
    assert out.server.alert == AlertDescription.handshake_failure
    assert isinstance(out.client, tlspipe.AlertReceived)


def test_require_ems_client(pki):
    d = Duo(
        client_config(pki, require_ems=True),
        server_config(pki),
        s_alter=rewrite_first_handshake(_strip_sh_ems),
    )
    out = d.until_error()
    assert isinstance(out.client, tlspipe.PeerIncompatible)
    assert out.client.alert == AlertDescription.handshake_failure


def test_alpn_and_sni(pki):
    d = Duo(
        client_config(pki, alpn_protocols=(b"h2", b"http/1.1")),
        server_config(pki, alpn_protocols=(b"http/1.1",)),
        "testserver.example",
    )
    d.handshake()
    assert d.client.alpn_protocol == d.server.alpn_protocol == b"http/1.1"
    assert d.server.server_name == "testserver.example"


def test_alpn_mismatch(pki):
    d = Duo(
        client_config(pki, alpn_protocols=(b"h2",)),
        server_config(pki, alpn_protocols=(b"http/1.1",)),
    )
    out = d.until_error()
    assert out.server.alert == AlertDescription.no_application_protocol


def test_wrong_name_rejected(pki):
    out = Duo(client_config(pki), server_config(pki), "nothere.example").until_error()
    assert isinstance(out.client, tlspipe.InvalidCertificate)


def test_certificate_request_answered_with_empty_certificate(pki):
    """A server asking for a client certificate gets an empty Certificate (none configured)."""
    req = CertificateRequest12(
        certificate_types=b"\x40", supported_signature_algorithms=(0x0403,),
        certificate_authorities=(),
    )  # fmt: skip
    raw_req = encode_handshake(req)
    done = False

    def inject(data: bytes) -> bytes:
        # insert CertificateRequest before ServerHelloDone (the last 4 octets of the flight,
        # which is one plaintext record)
        nonlocal done
        if done:
            return data
        done = True
        shd = b"\x0e\x00\x00\x00"
        assert data.endswith(shd) and int.from_bytes(data[3:5], "big") == len(data) - 5
        return record(ContentType.handshake, data[5 : -len(shd)] + raw_req + shd)

    d = Duo(client_config(pki), server_config(pki), s_alter=inject)
    out = d.until_error()
    # the client answered (Certificate, ClientKeyExchange, CCS, Finished); the server, whose
    # transcript lacks the injected request, fails on the client's unexpected Certificate
    assert out.client is None or isinstance(out.client, tlspipe.AlertReceived)
    assert d.client_wire[1][5] == HandshakeType.certificate
    assert d.client_wire[1][5:12] == b"\x0b\x00\x00\x03\x00\x00\x00"


def test_renegotiation_refused_both_ways(pki):
    d = Duo(client_config(pki), server_config(pki))
    d.handshake()
    # server asks to renegotiate: the client answers no_renegotiation (warning) and goes on
    d.server._cx.send_handshake(encode_handshake(HelloRequest()))
    d.client.read_tls(d.server.write_tls())
    d.client.process_new_packets()
    warn = d.client.write_tls()
    d.server.read_tls(warn)
    d.server.process_new_packets()  # a warning: counted, not fatal
    assert d.send(d.client, b"still here") == b"still here"
    # client tries to renegotiate: the server refuses with a warning too
    d.client._cx.send_handshake(d.client_wire[0][5:])  # replay our ClientHello, encrypted
    d.server.read_tls(d.client.write_tls())
    d.server.process_new_packets()
    warn = d.server.write_tls()
    assert warn  # the no_renegotiation warning
    d.client.read_tls(warn)
    d.client.process_new_packets()
    assert d.send(d.server, b"ok") == b"ok"


def test_too_many_renegotiation_requests(pki):
    d = Duo(client_config(pki), server_config(pki))
    d.handshake()
    for _ in range(9):
        d.server._cx.send_handshake(encode_handshake(HelloRequest()))
    d.client.read_tls(d.server.write_tls())
    with pytest.raises(tlspipe.PeerMisbehaved):
        d.client.process_new_packets()


def test_warning_alerts_bounded(pki):
    d = Duo(client_config(pki), server_config(pki))
    d.handshake()
    for _ in range(5):
        d.client._cx.send_alert(AlertLevel.warning, AlertDescription.no_renegotiation)
    d.server.read_tls(d.client.write_tls())
    with pytest.raises(tlspipe.PeerMisbehaved):
        d.server.process_new_packets()


def test_close_notify(pki):
    d = Duo(client_config(pki), server_config(pki))
    d.handshake()
    d.client.send_close_notify()
    d.server.read_tls(d.client.write_tls())
    assert d.server.process_new_packets().peer_has_closed


def test_default_configs_negotiate_tls13(pki):
    d = Duo(client_config(pki, versions=(V13, V12)), server_config(pki, versions=(V13, V12)))
    d.handshake()
    assert d.client.protocol_version is V13


def test_ocsp_and_sct_stapled(pki):
    ident = pki.server("ecdsa-p256")
    ck = tlspipe.CertifiedKey.from_pem(
        ident.chain_pem.read_bytes(), ident.key_pem.read_bytes(),
        ocsp=b"fake ocsp response", sct_list=b"\x00\x05\x00\x03sct",
    )  # fmt: skip
    seen = []
    base = client_config(pki)

    class Recorder(_Schemes):
        def verify_server_cert(self, end_entity, intermediates, name, ocsp, now, **kw):
            seen.append((ocsp, kw.get("sct_list")))
            return self.inner.verify_server_cert(end_entity, intermediates, name, b"", now)

    v = Recorder(base.verifier_, base.verifier_.supported_verify_schemes())
    cc = tlspipe.dangerous.dangerous_with_custom_verifier(base, v)
    d = Duo(cc, tlspipe.ServerConfig(certified_key=ck, versions=(V12,)))
    d.handshake()
    assert [x[0] for x in seen] == [b"fake ocsp response"]
    assert d.client.peer_ocsp_response == b"fake ocsp response"
    assert d.client.peer_sct_list == b"\x00\x05\x00\x03sct"
    # not asked for: not sent
    d2 = Duo(client_config(pki), tlspipe.ServerConfig(certified_key=ck, versions=(V12,)))
    d2.handshake()
