"""Every TLS 1.3 suite × key exchange group × server key type between tlspipe peers."""

from __future__ import annotations

import dataclasses

import pytest

from helpers import make_pair
from pki import SERVER_KINDS
from tlspipe.crypto.default import ALL_KX_GROUPS, default_provider
from tlspipe.enums import CipherSuite, NamedGroup

# X25519MLKEM768 is not in the default provider's groups: opt in through the provider
PROVIDER = dataclasses.replace(default_provider(), kx_groups=ALL_KX_GROUPS)

SUITES13 = [
    CipherSuite.TLS13_AES_128_GCM_SHA256,
    CipherSuite.TLS13_AES_256_GCM_SHA384,
    CipherSuite.TLS13_CHACHA20_POLY1305_SHA256,
]
GROUPS = [
    NamedGroup.x25519,
    NamedGroup.secp256r1,
    NamedGroup.secp384r1,
    NamedGroup.X25519MLKEM768,
]


@pytest.mark.parametrize("kind", SERVER_KINDS)
@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
@pytest.mark.parametrize("suite", SUITES13, ids=lambda s: s.name)
def test_suite_group_key(pki, suite, group, kind):
    p = make_pair(
        pki,
        kind,
        client={"cipher_suites": (suite,), "kx_groups": (group,), "provider": PROVIDER},
        server={"kx_groups": (group,), "provider": PROVIDER},
    )
    p.handshake()
    for conn in (p.client, p.server):
        assert conn.negotiated_cipher_suite.suite == suite
        assert conn.negotiated_key_exchange_group == group
    assert p.send(p.client, b"ping " * 100) == b"ping " * 100
    assert p.send(p.server, b"pong") == b"pong"
    p.client.refresh_traffic_keys()
    assert p.send(p.client, b"updated") == b"updated"
    p.client.send_close_notify()
    p.transfer(p.client, p.server)
    assert p.server.process_new_packets().peer_has_closed


@pytest.mark.parametrize("suite", SUITES13, ids=lambda s: s.name)
def test_server_suite_preference_wins(pki, suite):
    others = [s for s in SUITES13 if s != suite]
    p = make_pair(
        pki,
        client={"cipher_suites": (*others, suite)},
        server={"cipher_suites": (suite, *others)},
    )
    p.handshake()
    assert p.client.negotiated_cipher_suite.suite == suite


def test_no_common_suite(pki):
    import tlspipe

    p = make_pair(
        pki,
        client={"cipher_suites": (CipherSuite.TLS13_AES_128_GCM_SHA256,)},
        server={"cipher_suites": (CipherSuite.TLS13_CHACHA20_POLY1305_SHA256,)},
    )
    out = p.until_error()
    assert isinstance(out.server_error, tlspipe.PeerIncompatible)
    assert out.server_alert == tlspipe.enums.AlertDescription.handshake_failure
