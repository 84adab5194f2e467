"""Key exchange and HelloRetryRequest details between tlspipe peers: the X25519MLKEM768
hybrid (opt-in by name through ``kx_groups``; no real peer on this machine speaks it, neither
OpenSSL 3.0 nor Python 3.11's ssl; the KEM is cryptography's ML-KEM-768), and the rule that
ClientHello2 repeats ClientHello1.
"""

from __future__ import annotations

import tlspipe
from helpers import make_pair

NG = tlspipe.NamedGroup


def test_hybrid_not_offered_by_default(pki: object) -> None:
    cc = tlspipe.ClientConfig(root_store=tlspipe.RootCertStore.from_pem_file(pki.server().ca_pem))  # type: ignore[attr-defined]
    assert NG.X25519MLKEM768 not in [g.name for g in cc.groups_]


def test_hybrid_by_name_both_sides(pki: object) -> None:
    groups = (NG.X25519MLKEM768, NG.x25519)
    pair = make_pair(pki, client={"kx_groups": groups}, server={"kx_groups": groups})  # type: ignore[arg-type]
    pair.handshake()
    for conn in (pair.client, pair.server):
        assert conn.negotiated_key_exchange_group is NG.X25519MLKEM768
    assert pair.send(pair.client, b"post-quantum hello") == b"post-quantum hello"


def test_server_asks_for_hybrid_with_hrr(pki: object) -> None:
    """The client leads with x25519 but supports the hybrid; a hybrid-only server retries."""
    pair = make_pair(
        pki,  # type: ignore[arg-type]
        client={"kx_groups": (NG.x25519, NG.X25519MLKEM768)},
        server={"kx_groups": (NG.X25519MLKEM768,)},
    )
    assert pair.handshake() >= 2
    assert pair.client.negotiated_key_exchange_group is NG.X25519MLKEM768


def test_second_client_hello_must_repeat_the_first(pki: object) -> None:
    """RFC 8446 §4.1.2: after HRR, a ClientHello2 with a new random is refused."""
    from helpers import alter_handshake
    from tlspipe.enums import AlertDescription, HandshakeType

    pair = make_pair(
        pki,  # type: ignore[arg-type]
        client={"kx_groups": (NG.x25519, NG.secp256r1)},
        server={"kx_groups": (NG.secp256r1,)},
    )
    c, s = pair.client, pair.server
    pair.flow(c, s)  # ClientHello1 → HelloRetryRequest
    pair.flow(s, c)  # → ClientHello2

    def new_random(msg: bytes) -> bytes:  # header(4) + legacy_version(2) + random(32)
        return msg[:6] + bytes(32) + msg[38:]

    pair.transfer_altered(c, s, alter_handshake(HandshakeType.client_hello, new_random))
    try:
        s.process_new_packets()
    except tlspipe.PeerMisbehaved as e:
        assert e.alert is AlertDescription.illegal_parameter
        assert "ClientHello2" in str(e)
    else:
        raise AssertionError("server accepted a ClientHello2 with a new random")
