"""tlspipe QUIC client ↔ tlspipe QUIC server in memory (RFC 9001): levels, keys, transport
parameters, ALPN, HelloRetryRequest, resumption and 0-RTT, and the QUIC-specific failures."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import tlspipe
from helpers import client_config, server_config
from tlspipe import quic
from tlspipe.enums import AlertDescription, HandshakeType, NamedGroup
from tlspipe.errors import ConfigError, Error
from tlspipe.msgs.extensions import NewSessionTicketExtensions
from tlspipe.msgs.handshake import KeyUpdate, NewSessionTicket13
from tlspipe.msgs.message import encode_handshake
from tlspipe.quic import Direction, Level

CTP = b"\x01\x02client-params"
STP = b"\x03\x04server-params"
ALPN = (b"h3",)


def msg_types(data: bytes) -> list[int]:
    out, off = [], 0
    while off < len(data):
        out.append(data[off])
        off += 4 + int.from_bytes(data[off + 1 : off + 4], "big")
    assert off == len(data)
    return out


class Run:
    """A QUIC handshake between two tlspipe endpoints, recording what went where."""

    def __init__(self, c: quic.ClientConnection, s: quic.ServerConnection) -> None:
        self.c, self.s = c, s
        self.sent: dict[str, list[tuple[Level, list[int]]]] = {"c": [], "s": []}
        self.changes: dict[str, list[quic.KeyChange]] = {"c": [], "s": []}

    def pump(self, rounds: int = 8) -> None:
        for _ in range(rounds):
            moved = False
            for name, src, dst in (("c", self.c, self.s), ("s", self.s, self.c)):
                self.changes[name] += src.take_key_changes()
                for level, data in src.write_hs():
                    self.sent[name].append((level, msg_types(data)))
                    dst.read_hs(data, level)
                    moved = True
            if not moved:
                break
        self.changes["c"] += self.c.take_key_changes()
        self.changes["s"] += self.s.take_key_changes()


def configs(pki: Any, ckw: dict[str, Any] | None = None, skw: dict[str, Any] | None = None):
    cc = client_config(pki, alpn_protocols=ALPN, **(ckw or {}))
    sc = server_config(pki, alpn_protocols=(b"h3", b"hq-interop"), **(skw or {}))
    return cc, sc


def connect(cc: tlspipe.ClientConfig, sc: tlspipe.ServerConfig) -> Run:
    run = Run(quic.ClientConnection(cc, "localhost", CTP), quic.ServerConnection(sc, STP))
    run.pump()
    assert not run.c.is_handshaking and not run.s.is_handshaking
    return run


def assert_keys_match(run: Run) -> None:
    for level in (Level.HANDSHAKE, Level.ONE_RTT):
        ck, sk = run.c.keys(level), run.s.keys(level)
        assert ck is not None and sk is not None
        for a, b in ((ck.local, sk.remote), (ck.remote, sk.local)):
            assert a.packet.key == b.packet.key and a.packet.iv == b.packet.iv
            assert a.header.key == b.header.key
        assert ck.local.packet.key != ck.remote.packet.key


def test_handshake_levels_keys_params(pki: Any) -> None:
    run = connect(*configs(pki))
    c, s = run.c, run.s
    assert c.alpn_protocol == s.alpn_protocol == b"h3"
    assert c.quic_transport_parameters() == STP and s.quic_transport_parameters() == CTP
    assert c.read_level == c.write_level == s.read_level == s.write_level == Level.ONE_RTT
    H = HandshakeType
    assert run.sent["c"] == [(Level.INITIAL, [H.client_hello]), (Level.HANDSHAKE, [H.finished])]
    assert run.sent["s"][:2] == [
        (Level.INITIAL, [H.server_hello]),
        (
            Level.HANDSHAKE,
            [H.encrypted_extensions, H.certificate, H.certificate_verify, H.finished],
        ),
    ]
    assert all(
        lv == Level.ONE_RTT and t == [H.new_session_ticket] * len(t) for lv, t in run.sent["s"][2:]
    )
    assert_keys_match(run)
    # key changes: per level and direction, same secrets on both ends
    cw = {(k.level, k.direction): k for k in run.changes["c"]}
    sw = {(k.level, k.direction): k for k in run.changes["s"]}
    assert (
        set(cw)
        == set(sw)
        == {(lv, d) for lv in (Level.HANDSHAKE, Level.ONE_RTT) for d in Direction}
    )
    for lv in (Level.HANDSHAKE, Level.ONE_RTT):
        assert cw[(lv, Direction.WRITE)].secret == sw[(lv, Direction.READ)].secret
        assert cw[(lv, Direction.READ)].secret == sw[(lv, Direction.WRITE)].secret
    for k in run.changes["c"]:  # no secret or key material in reprs
        text = repr(k)
        assert k.secret.hex() not in text and repr(k.secret) not in text
        assert repr(k.keys.packet.key) not in text and repr(k.keys.header.key) not in text
    assert c.export_keying_material(b"EXPORTER-x", b"", 32) == s.export_keying_material(
        b"EXPORTER-x", b"", 32
    )
    assert c.zero_rtt_keys() is None and s.zero_rtt_keys() is None


def test_packets_between_the_ends(pki: Any) -> None:
    run = connect(*configs(pki))
    ck = run.c.keys(Level.ONE_RTT)
    sk = run.s.keys(Level.ONE_RTT)
    assert ck is not None and sk is not None
    header = b"\x41" + bytes(8) + b"\x00\x07"
    packet = bytearray(header + ck.local.packet.seal(7, header, b"hello" * 5))
    ck.local.header.apply(packet, 9)
    n = sk.remote.header.remove(packet, 9)
    assert n == 2 and bytes(packet[:11]) == header
    assert sk.remote.packet.open(7, header, bytes(packet[11:])) == b"hello" * 5


def test_key_update(pki: Any) -> None:
    run = connect(*configs(pki))
    for _ in range(3):
        cn, sn = run.c.next_1rtt_keys(), run.s.next_1rtt_keys()
        assert cn.local.key == sn.remote.key and cn.local.iv == sn.remote.iv
        assert cn.remote.key == sn.local.key
    fresh = quic.ClientConnection(configs(pki)[0], "localhost", CTP)
    with pytest.raises(tlspipe.HandshakeNotComplete):
        fresh.next_1rtt_keys()


def test_hello_retry_request(pki: Any) -> None:
    run = connect(
        *configs(
            pki,
            {"kx_groups": (NamedGroup.x25519, NamedGroup.secp256r1)},
            {"kx_groups": (NamedGroup.secp256r1,)},
        )
    )
    H = HandshakeType
    assert run.sent["c"][0] == (Level.INITIAL, [H.client_hello])
    assert run.sent["c"][1] == (Level.INITIAL, [H.client_hello])
    assert run.sent["s"][0] == (Level.INITIAL, [H.server_hello])  # the HRR
    assert run.c.quic_transport_parameters() == STP and run.s.quic_transport_parameters() == CTP
    assert_keys_match(run)


@pytest.mark.parametrize(
    "suite",
    [
        tlspipe.CipherSuite.TLS13_AES_256_GCM_SHA384,
        tlspipe.CipherSuite.TLS13_CHACHA20_POLY1305_SHA256,
    ],
)
def test_other_suites(pki: Any, suite: tlspipe.CipherSuite) -> None:
    run = connect(*configs(pki, {"cipher_suites": (suite,)}))
    assert run.c.negotiated_cipher_suite is not None
    assert run.c.negotiated_cipher_suite.suite == suite
    assert_keys_match(run)


def test_resumption_and_zero_rtt(pki: Any) -> None:
    cc, sc = configs(
        pki,
        {"enable_early_data": True},
        {"max_early_data_size": 0xFFFFFFFF, "ticketer": tlspipe.Ticketer()},
    )
    first = connect(cc, sc)
    assert not first.c.handshake_kind_resumed and not first.c.early_data_offered
    c = quic.ClientConnection(cc, "localhost", CTP)
    s = quic.ServerConnection(sc, STP)
    assert c.early_data_offered
    zc = c.zero_rtt_keys()
    assert zc is not None
    run = Run(c, s)
    run.pump()
    assert c.handshake_kind_resumed and s.handshake_kind_resumed
    assert c.early_data_accepted and s.early_data_accepted
    zs = s.zero_rtt_keys()
    assert zs is not None and zs.packet.key == zc.packet.key and zs.header.key == zc.header.key
    H = HandshakeType
    # no EndOfEarlyData; PSK handshake without certificates
    assert run.sent["c"] == [(Level.INITIAL, [H.client_hello]), (Level.HANDSHAKE, [H.finished])]
    assert run.sent["s"][1] == (Level.HANDSHAKE, [H.encrypted_extensions, H.finished])
    assert [(k.level, k.direction) for k in run.changes["c"]][0] == (
        Level.ZERO_RTT,
        Direction.WRITE,
    )
    assert (Level.ZERO_RTT, Direction.READ) in [(k.level, k.direction) for k in run.changes["s"]]
    assert_keys_match(run)
    assert c.quic_transport_parameters() == STP and s.quic_transport_parameters() == CTP


def test_resumption_without_zero_rtt(pki: Any) -> None:
    cc, sc = configs(pki, {"enable_early_data": True}, {"ticketer": tlspipe.Ticketer()})
    connect(cc, sc)
    run = connect(cc, sc)
    assert run.c.handshake_kind_resumed and not run.c.early_data_offered
    assert run.c.zero_rtt_keys() is None
    assert_keys_match(run)


def test_config_rules(pki: Any) -> None:
    cc, sc = configs(pki)
    with pytest.raises(ConfigError):
        quic.ClientConnection(dataclasses.replace(cc, alpn_protocols=()), "localhost", CTP)
    with pytest.raises(ConfigError):
        quic.ServerConnection(dataclasses.replace(sc, alpn_protocols=()), STP)
    with pytest.raises(ConfigError):
        quic.ServerConnection(dataclasses.replace(sc, max_early_data_size=1024), STP)
    # configs are narrowed to TLS 1.3: TLS 1.2 suites alone leave nothing
    with pytest.raises(ConfigError):
        quic.ClientConnection(
            dataclasses.replace(
                cc, cipher_suites=(tlspipe.CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,)
            ),
            "localhost",
            CTP,
        )
    c = quic.ClientConnection(cc, "localhost", CTP)
    assert c.config.middlebox_compat is False
    assert c.config.versions == (tlspipe.ProtocolVersion.TLSv1_3,)


def fail(conn: Any, data: bytes, level: Level | None, alert: AlertDescription) -> None:
    with pytest.raises(Error):
        conn.read_hs(data, level)
    assert conn.alert() == alert
    with pytest.raises(Error):  # poisoned
        conn.read_hs(b"", None)


def tls_client_hello(pki: Any, **kw: Any) -> bytes:
    cc = client_config(pki, alpn_protocols=ALPN, versions=(tlspipe.ProtocolVersion.TLSv1_3,), **kw)
    rec = tlspipe.ClientConnection(cc, "localhost").write_tls()
    return rec[5:]


def test_server_requires_transport_params(pki: Any) -> None:
    s = quic.ServerConnection(configs(pki)[1], STP)
    fail(
        s,
        tls_client_hello(pki, middlebox_compat=False),
        Level.INITIAL,
        AlertDescription.missing_extension,
    )


def test_server_refuses_legacy_session_id(pki: Any) -> None:
    s = quic.ServerConnection(configs(pki)[1], STP)
    fail(
        s,
        tls_client_hello(pki, middlebox_compat=True),
        Level.INITIAL,
        AlertDescription.illegal_parameter,
    )


def test_no_alpn_in_common(pki: Any) -> None:
    cc, sc = configs(pki)
    c = quic.ClientConnection(dataclasses.replace(cc, alpn_protocols=(b"other",)), "localhost", CTP)
    s = quic.ServerConnection(sc, STP)
    [(level, data)] = c.write_hs()
    fail(s, data, level, AlertDescription.no_application_protocol)
    assert quic.CRYPTO_ERROR_BASE + s.alert() == 0x178  # type: ignore[operator]


def test_wrong_level(pki: Any) -> None:
    cc, sc = configs(pki)
    c = quic.ClientConnection(cc, "localhost", CTP)
    s = quic.ServerConnection(sc, STP)
    [(_, data)] = c.write_hs()
    fail(s, data, Level.HANDSHAKE, AlertDescription.unexpected_message)


def test_key_update_message_refused(pki: Any) -> None:
    run = connect(*configs(pki))
    ku = encode_handshake(KeyUpdate(request_update=0))
    fail(run.c, ku, Level.ONE_RTT, AlertDescription.unexpected_message)
    fail(run.s, ku, Level.ONE_RTT, AlertDescription.unexpected_message)


def test_ticket_with_other_early_data_size_refused(pki: Any) -> None:
    run = connect(*configs(pki))
    nst = NewSessionTicket13(
        ticket_lifetime=3600,
        ticket_age_add=1,
        ticket_nonce=b"\x00",
        ticket=b"t" * 32,
        extensions=NewSessionTicketExtensions(early_data=1024),
    )
    fail(run.c, encode_handshake(nst), Level.ONE_RTT, AlertDescription.illegal_parameter)


def test_bad_certificate_alert(pki: Any) -> None:
    cc = client_config(pki, alpn_protocols=ALPN)
    sc = tlspipe.ServerConfig.from_pem_files(
        pki.bad("untrusted-root").chain_pem,
        pki.bad("untrusted-root").key_pem,
        alpn_protocols=ALPN,
    )
    run = Run(quic.ClientConnection(cc, "localhost", CTP), quic.ServerConnection(sc, STP))
    with pytest.raises(tlspipe.InvalidCertificate):
        run.pump()
    assert run.c.alert() == AlertDescription.unknown_ca


def test_client_authentication(pki: Any) -> None:
    roots = tlspipe.RootCertStore.from_pem_file(pki.client("ecdsa-p256").ca_pem)
    ident = pki.client("ecdsa-p256")
    cc, sc = configs(pki, skw={"client_verifier": tlspipe.AllowAnyAuthenticatedClient(roots)})
    cc = cc.with_client_auth_cert(ident.chain_pem.read_bytes(), ident.key_pem.read_bytes())
    run = connect(cc, sc)
    H = HandshakeType
    assert run.sent["c"][1] == (
        Level.HANDSHAKE,
        [H.certificate, H.certificate_verify, H.finished],
    )
    assert run.s.peer_certificates is not None and run.s.peer_certificates[0] == ident.chain_der[0]
    assert_keys_match(run)
