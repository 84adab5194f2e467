"""Interop with a real QUIC TLS engine: aioquic's ``tls.Context``, driven in memory with
per-epoch buffers and its ``update_traffic_key_cb``, in both directions.  Both ends must agree
on every traffic secret, the transport parameters and ALPN; packets protected by one end's
keys open with the other's (aioquic.quic.crypto), also after a 1-RTT key update; resumption
with 0-RTT works both ways."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509

import tlspipe
from helpers import client_config, server_config
from tlspipe import quic
from tlspipe.enums import AlertDescription
from tlspipe.quic import Level

tls = pytest.importorskip("aioquic.tls")
qcrypto = pytest.importorskip("aioquic.quic.crypto")
Buffer = pytest.importorskip("aioquic.buffer").Buffer

CTP = b"\x0f\x08client-tp-bytes"
STP = b"\x0f\x08server-tp-bytes"
TP_EXT = 0x39
EPOCHS = (tls.Epoch.INITIAL, tls.Epoch.HANDSHAKE, tls.Epoch.ONE_RTT)


class Peer:
    """An aioquic TLS context with its output buffers and reported secrets."""

    def __init__(self, ctx: Any, params: bytes | None = STP) -> None:
        self.ctx = ctx
        if params is not None:
            ctx.handshake_extensions = [(TP_EXT, params)]
        self.secrets: dict[tuple[int, str], bytes] = {}
        self.suite: Any = None
        ctx.update_traffic_key_cb = self._key
        self.bufs = {e: Buffer(capacity=65536) for e in EPOCHS}

    def _key(self, direction: Any, epoch: Any, suite: Any, secret: bytes) -> None:
        d = "write" if direction == tls.Direction.ENCRYPT else "read"
        self.secrets[(epoch.value, d)] = secret
        self.suite = suite

    def handle(self, data: bytes) -> None:
        self.ctx.handle_message(data, self.bufs)

    def output(self) -> list[tuple[Level, bytes]]:
        out = []
        for e in EPOCHS:
            b = self.bufs[e]
            if b.tell():
                out.append((Level(e.value), b.data))
                b.seek(0)
        return out

    def peer_params(self) -> bytes | None:
        return dict(self.ctx.received_extensions or []).get(TP_EXT)


def aioquic_server(pki: Any, **kw: Any) -> Peer:
    ident = pki.server("ecdsa-p256")
    ctx = tls.Context(is_client=False, alpn_protocols=["h3"], **kw)
    ctx.certificate = ident.leaf
    ctx.certificate_chain = [x509.load_der_x509_certificate(d) for d in ident.chain_der[1:]]
    ctx.certificate_private_key = ident.key_obj
    return Peer(ctx)


def aioquic_client(pki: Any, params: bytes | None = CTP, **kw: Any) -> Peer:
    ident = pki.server("ecdsa-p256")
    ctx = tls.Context(
        is_client=True,
        alpn_protocols=["h3"],
        cafile=str(ident.ca_pem),
        server_name="localhost",
        **kw,
    )
    return Peer(ctx, params)


def pump(ours: Any, theirs: Peer, ours_first: bool, rounds: int = 8) -> list[quic.KeyChange]:
    changes: list[quic.KeyChange] = []
    if not ours_first:
        theirs.handle(b"")
    for _ in range(rounds):
        moved = False
        changes += ours.take_key_changes()
        for _level, data in ours.write_hs():
            theirs.handle(data)
            moved = True
        for level, data in theirs.output():
            ours.read_hs(data, level)
            moved = True
        if not moved:
            break
    return changes + ours.take_key_changes()


def check_secrets(changes: list[quic.KeyChange], theirs: Peer, zero_rtt: bool = False) -> None:
    mine = {(int(k.level), k.direction.value): k.secret for k in changes}
    flip = {"read": "write", "write": "read"}
    expect = {(lv, d) for lv in (2, 3) for d in ("read", "write")}
    assert expect <= set(mine)
    for (lv, d), secret in mine.items():
        assert theirs.secrets[(lv, flip[d])] == secret, (lv, d)
    assert ((1, "write") in mine or (1, "read") in mine) == zero_rtt


def packets_interoperate(ours: Any, theirs: Peer) -> None:
    """Our 1-RTT write key ↔ aioquic's read context, and back; then after a key update."""
    keys = ours.keys(Level.ONE_RTT)
    suite = theirs.suite
    rx = qcrypto.CryptoContext()
    rx.setup(cipher_suite=suite, secret=theirs.secrets[(3, "read")], version=1)
    tx = qcrypto.CryptoContext()
    tx.setup(cipher_suite=suite, secret=theirs.secrets[(3, "write")], version=1)
    phases = [quic.PacketKeySet(local=keys.local.packet, remote=keys.remote.packet)]
    phases.append(ours.next_1rtt_keys())
    for phase, pkeys in enumerate(phases):
        if phase:  # aioquic's key update (CryptoPair._update_key): new AEAD, same header key
            qcrypto.apply_key_phase(rx, qcrypto.next_key_phase(rx), trigger="test")
            qcrypto.apply_key_phase(tx, qcrypto.next_key_phase(tx), trigger="test")
        header = bytes([0x41 | (phase << 2)]) + bytes(8) + b"\x00\x05"
        packet = bytearray(header + pkeys.local.seal(5, header, b"x" * 40))
        keys.local.header.apply(packet, 9)
        plain_header, payload, pn, _ = rx.decrypt_packet(bytes(packet), 9, 5)
        assert (plain_header, payload, pn) == (header, b"x" * 40, 5)
        back = bytearray(tx.encrypt_packet(header, b"y" * 40, 5))
        assert keys.remote.header.remove(back, 9) == 2
        assert bytes(back[:11]) == header
        assert pkeys.remote.open(5, header, bytes(back[11:])) == b"y" * 40


def test_tlspipe_client_aioquic_server(pki: Any) -> None:
    theirs = aioquic_server(pki)
    ours = quic.ClientConnection(client_config(pki, alpn_protocols=(b"h3",)), "localhost", CTP)
    changes = pump(ours, theirs, ours_first=True)
    assert not ours.is_handshaking
    assert ours.alpn_protocol == b"h3" and theirs.ctx.alpn_negotiated == "h3"
    assert ours.quic_transport_parameters() == STP and theirs.peer_params() == CTP
    check_secrets(changes, theirs)
    packets_interoperate(ours, theirs)


def test_aioquic_client_tlspipe_server(pki: Any) -> None:
    theirs = aioquic_client(pki)
    ours = quic.ServerConnection(server_config(pki, alpn_protocols=(b"h3",)), STP)
    changes = pump(ours, theirs, ours_first=False)
    assert not ours.is_handshaking
    assert ours.alpn_protocol == b"h3" and theirs.ctx.alpn_negotiated == "h3"
    assert ours.quic_transport_parameters() == CTP and theirs.peer_params() == STP
    check_secrets(changes, theirs)
    packets_interoperate(ours, theirs)


@pytest.mark.parametrize("suite", ["TLS13_AES_256_GCM_SHA384", "TLS13_CHACHA20_POLY1305_SHA256"])
def test_other_suites_both_ways(pki: Any, suite: str) -> None:
    cs = tlspipe.CipherSuite[suite]
    theirs = aioquic_server(pki)
    ours_c = quic.ClientConnection(
        client_config(pki, alpn_protocols=(b"h3",), cipher_suites=(cs,)), "localhost", CTP
    )
    check_secrets(pump(ours_c, theirs, ours_first=True), theirs)
    packets_interoperate(ours_c, theirs)
    theirs = aioquic_client(pki, cipher_suites=[tls.CipherSuite(int(cs))])
    ours_s = quic.ServerConnection(server_config(pki, alpn_protocols=(b"h3",)), STP)
    check_secrets(pump(ours_s, theirs, ours_first=False), theirs)
    assert ours_s.negotiated_cipher_suite is not None
    assert ours_s.negotiated_cipher_suite.suite == cs


def test_resumption_zero_rtt_tlspipe_client(pki: Any) -> None:
    store: dict[bytes, Any] = {}
    cc = client_config(pki, alpn_protocols=(b"h3",), enable_early_data=True)

    def server() -> Peer:
        p = aioquic_server(pki, max_early_data=0xFFFFFFFF)
        p.ctx.new_session_ticket_cb = lambda t: store.__setitem__(t.ticket, t)
        p.ctx.get_session_ticket_cb = store.pop
        return p

    first = server()
    pump(quic.ClientConnection(cc, "localhost", CTP), first, ours_first=True)
    assert store
    theirs = server()
    ours = quic.ClientConnection(cc, "localhost", CTP)
    assert ours.zero_rtt_keys() is not None
    changes = pump(ours, theirs, ours_first=True)
    assert ours.handshake_kind_resumed and ours.early_data_accepted
    assert theirs.ctx.session_resumed and theirs.ctx.early_data_accepted
    check_secrets(changes, theirs, zero_rtt=True)
    assert ours.quic_transport_parameters() == STP and theirs.peer_params() == CTP


def test_resumption_zero_rtt_aioquic_client(pki: Any) -> None:
    tickets: list[Any] = []
    sc = server_config(
        pki, alpn_protocols=(b"h3",), ticketer=tlspipe.Ticketer(), max_early_data_size=0xFFFFFFFF
    )
    first = aioquic_client(pki)
    first.ctx.new_session_ticket_cb = tickets.append
    pump(quic.ServerConnection(sc, STP), first, ours_first=False)
    assert tickets and tickets[0].max_early_data_size == 0xFFFFFFFF
    theirs = aioquic_client(pki)
    theirs.ctx.session_ticket = tickets[0]
    ours = quic.ServerConnection(sc, STP)
    changes = pump(ours, theirs, ours_first=False)
    assert ours.handshake_kind_resumed and ours.early_data_accepted
    assert theirs.ctx.session_resumed and theirs.ctx.early_data_accepted
    check_secrets(changes, theirs, zero_rtt=True)
    z = ours.zero_rtt_keys()
    assert z is not None


def test_aioquic_client_without_transport_params(pki: Any) -> None:
    theirs = aioquic_client(pki, params=None)
    ours = quic.ServerConnection(server_config(pki, alpn_protocols=(b"h3",)), STP)
    with pytest.raises(tlspipe.PeerMisbehaved):
        pump(ours, theirs, ours_first=False)
    assert ours.alert() == AlertDescription.missing_extension


def test_aioquic_server_without_transport_params(pki: Any) -> None:
    theirs = aioquic_server(pki)
    theirs.ctx.handshake_extensions = []
    ours = quic.ClientConnection(client_config(pki, alpn_protocols=(b"h3",)), "localhost", CTP)
    with pytest.raises(tlspipe.PeerMisbehaved):
        pump(ours, theirs, ours_first=True)
    assert ours.alert() == AlertDescription.missing_extension
    # the handshake keys came before EncryptedExtensions showed the missing parameters
    assert [k.level for k in ours.take_key_changes()] == [Level.HANDSHAKE, Level.HANDSHAKE]
