"""HelloRetryRequest (RFC 8446 §4.1.4): the server prefers a group the client sent no share for."""

from __future__ import annotations

import pytest

import tlspipe
from helpers import make_pair
from tlspipe.enums import ContentType, NamedGroup
from tlspipe.msgs.hello import HRR_RANDOM, ClientHello, HelloRetryRequest
from tlspipe.msgs.message import decode_handshake

X, P256, P384 = NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1


def _hellos(p, side):
    return [
        decode_handshake(r.payload, tls13=False).body
        for r in p.records[side]
        if r.typ == ContentType.handshake and not r.encrypted
    ]


@pytest.mark.parametrize("cookie", [True, False])
@pytest.mark.parametrize("target", [P256, P384])
def test_hrr_completes_and_reports_group(pki, target, cookie):
    p = make_pair(
        pki,
        client={"kx_groups": (X, P256, P384)},
        server={"kx_groups": (target,), "send_hrr_cookie": cookie},
    )
    assert p.handshake() == 3  # one extra round trip
    assert p.client.negotiated_key_exchange_group == target
    assert p.server.negotiated_key_exchange_group == target
    sh = _hellos(p, "server")
    assert isinstance(sh[0], HelloRetryRequest) and sh[0].extensions.selected_group == target
    assert (sh[0].extensions.cookie is not None) == cookie
    ch1, ch2 = _hellos(p, "client")
    assert isinstance(ch1, ClientHello) and isinstance(ch2, ClientHello)
    assert [e.group for e in ch1.extensions.key_share] == [X]
    assert [e.group for e in ch2.extensions.key_share] == [target]
    assert ch2.random == ch1.random and ch2.legacy_session_id == ch1.legacy_session_id
    assert ch2.extensions.cookie == sh[0].extensions.cookie
    assert p.send(p.client, b"after hrr") == b"after hrr"
    assert p.client.export_keying_material(b"l", None, 16) == p.server.export_keying_material(
        b"l", None, 16
    )


def test_hrr_record_has_magic_random(pki):
    p = make_pair(pki, client={"kx_groups": (X, P256)}, server={"kx_groups": (P256,)})
    p.handshake()
    rec = p.records["server"][0]
    assert rec.payload[6:38] == HRR_RANDOM


def test_no_hrr_when_client_share_acceptable(pki):
    p = make_pair(pki, client={"kx_groups": (X, P256)}, server={"kx_groups": (P256, X)})
    assert p.handshake() == 2
    assert p.server.negotiated_key_exchange_group == X


def test_no_common_group(pki):
    p = make_pair(pki, client={"kx_groups": (X,)}, server={"kx_groups": (P256,)})
    out = p.until_error()
    assert isinstance(out.server_error, tlspipe.PeerIncompatible)
    assert out.server_alert == tlspipe.enums.AlertDescription.handshake_failure
    assert isinstance(out.client_error, tlspipe.AlertReceived)


def test_hrr_without_middlebox_compat(pki):
    p = make_pair(
        pki,
        client={"kx_groups": (X, P256), "middlebox_compat": False},
        server={"kx_groups": (P256,)},
    )
    p.handshake()
    assert not any(r.typ == ContentType.change_cipher_spec for r in p.records["client"])
    assert not any(r.typ == ContentType.change_cipher_spec for r in p.records["server"])
