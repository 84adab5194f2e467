"""ALPN (RFC 7301) between tlspipe peers: match, no overlap, one side only."""

from __future__ import annotations

import pytest

import tlspipe
from helpers import make_pair
from tlspipe.enums import AlertDescription


def test_alpn_match_uses_server_preference(pki):
    p = make_pair(
        pki,
        client={"alpn_protocols": (b"http/1.1", b"h2")},
        server={"alpn_protocols": (b"h2", b"http/1.1")},
    )
    p.handshake()
    assert p.client.alpn_protocol == p.server.alpn_protocol == b"h2"


def test_alpn_no_overlap_fails_on_both_sides(pki):
    p = make_pair(pki, client={"alpn_protocols": (b"h2",)}, server={"alpn_protocols": (b"x",)})
    out = p.until_error()
    assert isinstance(out.server_error, tlspipe.PeerIncompatible)
    assert out.server_alert == AlertDescription.no_application_protocol
    assert isinstance(out.client_error, tlspipe.AlertReceived)
    assert out.client_error.description == AlertDescription.no_application_protocol
    assert out.client_alerts == []


def test_alpn_client_only(pki):
    p = make_pair(pki, client={"alpn_protocols": (b"h2",)})
    p.handshake()
    assert p.client.alpn_protocol is None and p.server.alpn_protocol is None


def test_alpn_server_only(pki):
    p = make_pair(pki, server={"alpn_protocols": (b"h2",)})
    p.handshake()
    assert p.client.alpn_protocol is None and p.server.alpn_protocol is None


def test_alpn_long_names(pki):
    names = tuple(bytes([65 + i]) * 255 for i in range(20))
    p = make_pair(pki, client={"alpn_protocols": names}, server={"alpn_protocols": names[-1:]})
    p.handshake()
    assert p.client.alpn_protocol == names[-1]


@pytest.mark.parametrize("bad", [(b"",), (b"x" * 256,), ("h2",)])
def test_alpn_bad_config(pki, bad):
    from helpers import client_config, server_config

    with pytest.raises(tlspipe.ConfigError):
        client_config(pki, alpn_protocols=bad)
    with pytest.raises(tlspipe.ConfigError):
        server_config(pki, alpn_protocols=bad)
