"""Version negotiation (1.2+1.3 mixes), the downgrade sentinel, TLS_FALLBACK_SCSV,
renegotiation_info, and refusals of obsolete offers with the RFC's alerts."""

from __future__ import annotations

import dataclasses

import pytest
from tls12_util import (
    V12,
    V13,
    Duo,
    ch_record,
    client_config,
    client_hello,
    rewrite_first_handshake,
    server_config,
)

import tlspipe
from tlspipe.enums import AlertDescription as AD
from tlspipe.enums import CipherSuite
from tlspipe.msgs.hello import DOWNGRADE_TLS12, ClientHello
from tlspipe.msgs.message import decode_handshake


def _server_random(d: Duo) -> bytes:
    sh = d.server_wire[0]
    return sh[5 + 4 + 2 : 5 + 4 + 2 + 32]


def test_dual_client_against_tls12_only_server(pki):
    d = Duo(client_config(pki, versions=(V13, V12)), server_config(pki, versions=(V12,)))
    d.handshake()
    assert d.client.protocol_version is d.server.protocol_version is V12
    assert _server_random(d)[-8:] != DOWNGRADE_TLS12  # a 1.2-only server sets no sentinel
    assert d.send(d.client, b"x") == b"x"


def test_tls12_only_client_against_dual_server(pki):
    d = Duo(client_config(pki, versions=(V12,)), server_config(pki, versions=(V13, V12)))
    d.handshake()
    assert d.client.protocol_version is V12
    assert _server_random(d)[-8:] == DOWNGRADE_TLS12  # RFC 8446 §4.1.3


def test_tls13_only_client_against_tls12_only_server(pki):
    out = Duo(
        client_config(pki, versions=(V13,)), server_config(pki, versions=(V12,))
    ).until_error()
    assert isinstance(out.server, tlspipe.PeerIncompatible)
    assert out.server.alert == AD.protocol_version


def test_tls12_only_client_against_tls13_only_server(pki):
    out = Duo(
        client_config(pki, versions=(V12,)), server_config(pki, versions=(V13,))
    ).until_error()
    assert out.server.alert == AD.protocol_version


def _strip_supported_versions(ch):
    return dataclasses.replace(
        ch,
        extensions=dataclasses.replace(
            ch.extensions, supported_versions=None, key_share=None, psk_key_exchange_modes=None
        ),
    )


def test_downgrade_sentinel_detected(pki):
    """An attacker removes TLS 1.3 from the ClientHello: the client sees the sentinel."""
    d = Duo(
        client_config(pki, versions=(V13, V12)),
        server_config(pki, versions=(V13, V12)),
        c_alter=rewrite_first_handshake(_strip_supported_versions),
    )
    out = d.until_error()
    assert isinstance(out.client, tlspipe.PeerMisbehaved)
    assert out.client.alert == AD.illegal_parameter
    assert "downgrade" in str(out.client)


def _server_only(pki, ch, **kw):
    s = tlspipe.ServerConnection(server_config(pki, **kw))
    s.read_tls(ch_record(ch))
    with pytest.raises(tlspipe.Error) as ei:
        s.process_new_packets()
    wire = s.write_tls()
    return ei.value, wire


def _alert_on_wire(wire: bytes) -> int:
    assert wire[0] == 21 and wire[5] == 2, wire.hex()
    return wire[6]


def test_fallback_scsv_refused(pki):
    ch = client_hello(
        cipher_suites=(int(CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), 0x5600)
    )
    err, wire = _server_only(pki, ch, versions=(V13, V12))
    assert err.alert == AD.inappropriate_fallback
    assert _alert_on_wire(wire) == AD.inappropriate_fallback


def test_fallback_scsv_fine_at_our_best_version(pki):
    ch = client_hello(
        cipher_suites=(int(CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), 0x5600)
    )
    s = tlspipe.ServerConnection(server_config(pki, versions=(V12,)))
    s.read_tls(ch_record(ch))
    s.process_new_packets()
    assert s.write_tls()[0] == 22  # ServerHello etc.


@pytest.mark.parametrize(
    ("desc", "ch", "alert"),
    [
        (
            "CBC and RSA key transport only",
            client_hello(cipher_suites=(0x002F, 0x0035, 0x009C, 0xC013, 0xC014, 0x003C)),
            AD.handshake_failure,
        ),
        ("TLS 1.1 client", client_hello(legacy_version=0x0302), AD.protocol_version),
        ("TLS 1.0 client", client_hello(legacy_version=0x0301), AD.protocol_version),
        ("SSLv3 client", client_hello(legacy_version=0x0300), AD.protocol_version),
        (
            "deflate compression only",
            client_hello(legacy_compression_methods=b"\x01"),
            AD.illegal_parameter,
        ),
        (
            "non-empty renegotiation_info",
            client_hello(ext={"renegotiation_info": b"\x01" * 12}),
            AD.handshake_failure,
        ),
        (
            "no uncompressed points",
            client_hello(ext={"ec_point_formats": b"\x01"}),
            AD.illegal_parameter,
        ),
        (
            "no common group",
            client_hello(ext={"supported_groups": (0x0019,)}),
            AD.handshake_failure,
        ),
        (
            "SHA-1 signatures only",
            client_hello(ext={"signature_algorithms": (0x0201, 0x0203)}),
            AD.handshake_failure,
        ),
        (
            "no ALPN in common",
            client_hello(ext={"alpn": (b"spdy/1",)}),
            AD.no_application_protocol,
        ),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_refusals(pki, desc, ch, alert):
    err, wire = _server_only(pki, ch, versions=(V13, V12), alpn_protocols=(b"h2",))
    assert err.alert == alert, desc
    assert _alert_on_wire(wire) == alert


def test_deflate_with_null_is_fine(pki):
    s = tlspipe.ServerConnection(server_config(pki))
    s.read_tls(ch_record(client_hello(legacy_compression_methods=b"\x01\x00")))
    s.process_new_packets()


def test_renegotiation_scsv_accepted_and_answered(pki):
    ch = client_hello(
        cipher_suites=(int(CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), 0x00FF),
        ext={"renegotiation_info": None},
    )
    s = tlspipe.ServerConnection(server_config(pki))
    s.read_tls(ch_record(ch))
    s.process_new_packets()
    sh = s.write_tls()
    assert b"\xff\x01\x00\x01\x00" in sh  # empty renegotiation_info in the ServerHello


def test_server_renegotiation_info_must_be_empty(pki):
    def bad(sh):
        return dataclasses.replace(
            sh, extensions=dataclasses.replace(sh.extensions, renegotiation_info=b"\x00" * 24)
        )

    out = Duo(
        client_config(pki), server_config(pki), s_alter=rewrite_first_handshake(bad)
    ).until_error()
    assert isinstance(out.client, tlspipe.PeerMisbehaved)
    assert out.client.alert == AD.handshake_failure


@pytest.mark.parametrize(
    ("field", "value", "alert"),
    [
        ("cipher_suite", 0x009C, AD.illegal_parameter),
        ("cipher_suite", 0x1301, AD.illegal_parameter),
        ("legacy_compression_method", 1, AD.illegal_parameter),
        ("legacy_version", 0x0302, AD.protocol_version),
    ],
)
def test_client_rejects_bad_server_hello(pki, field, value, alert):
    def bad(sh):
        return dataclasses.replace(sh, **{field: value})

    out = Duo(
        client_config(pki), server_config(pki), s_alter=rewrite_first_handshake(bad)
    ).until_error()
    assert out.client is not None and out.client.alert == alert


@pytest.mark.parametrize(
    "ext",
    [
        {"alpn": b"h2"},
        {"session_ticket": True},
        {"server_name": True, "_sni": False},
        {"unknown": ((0x7777, b""),)},
    ],
    ids=repr,
)
def test_client_rejects_unsolicited_extensions(pki, ext):
    def bad(sh):
        return dataclasses.replace(sh, extensions=dataclasses.replace(sh.extensions, **ext))

    ext = dict(ext)
    cc = client_config(pki, enable_tickets=False, enable_sni=ext.pop("_sni", True))
    out = Duo(cc, server_config(pki), s_alter=rewrite_first_handshake(bad)).until_error()
    assert out.client is not None
    assert out.client.alert in (AD.unsupported_extension, AD.illegal_parameter)


def test_tls12_only_client_sends_no_key_share(pki):
    """No TLS 1.3 offered: no key_share in the ClientHello, so no key pair made for it."""
    c = tlspipe.ClientConnection(client_config(pki), "localhost")
    data = c.write_tls()
    ch = decode_handshake(data[5:], tls13=False).body
    assert isinstance(ch, ClientHello)
    assert ch.extensions.key_share is None
    assert ch.extensions.supported_versions is None
    d = Duo(client_config(pki), server_config(pki))
    d.handshake()
    assert d.client.protocol_version == V12
