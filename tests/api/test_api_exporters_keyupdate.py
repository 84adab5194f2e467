"""Exporters (RFC 8446 §7.5) and KeyUpdate (RFC 8446 §4.6.3) through the public API."""

from __future__ import annotations

import pytest

import tlspipe
from helpers import make_pair
from tlspipe.enums import ContentType, HandshakeType


@pytest.fixture
def pair(pki):
    p = make_pair(pki)
    p.handshake()
    return p


def test_exporter_equal_on_both_sides(pair):
    c, s = pair.client, pair.server
    for ctx in (None, b"", b"context"):
        a = c.export_keying_material(b"EXPERIMENTAL label", ctx, 32)
        b = s.export_keying_material(b"EXPERIMENTAL label", ctx, 32)
        assert a == b and len(a) == 32
    assert c.export_keying_material(b"x", b"", 16) != c.export_keying_material(b"y", b"", 16)
    # RFC 8446 §7.5: no context is the same as an empty context in TLS 1.3
    assert c.export_keying_material(b"x", None, 16) == c.export_keying_material(b"x", b"", 16)


def test_exporter_differs_between_connections(pki):
    a, b = make_pair(pki), make_pair(pki)
    a.handshake()
    b.handshake()
    assert a.client.export_keying_material(b"l", None, 32) != b.client.export_keying_material(
        b"l", None, 32
    )


def test_exporter_before_handshake_complete(pki):
    p = make_pair(pki)
    with pytest.raises(tlspipe.HandshakeNotComplete):
        p.client.export_keying_material(b"label", None, 32)
    p.flow(p.client, p.server)
    with pytest.raises(tlspipe.HandshakeNotComplete):
        p.server.export_keying_material(b"label", None, 32)


@pytest.mark.parametrize("length", [0, -1, "max+1", 10**9])
def test_exporter_bad_length(pair, length):
    if length == "max+1":
        length = 255 * pair.client.negotiated_cipher_suite.hash_len + 1
    with pytest.raises(tlspipe.ConfigError):
        pair.client.export_keying_material(b"label", None, length)
    with pytest.raises(tlspipe.ConfigError):
        pair.server.export_keying_material(b"label", None, length)
    # a caller mistake does not poison the connection
    assert pair.send(pair.client, b"still fine") == b"still fine"


def test_exporter_bad_label(pair):
    with pytest.raises(tlspipe.ConfigError):
        pair.client.export_keying_material(b"l" * 250, None, 16)


def test_exporter_long_output(pair):
    n = 255 * pair.client.negotiated_cipher_suite.hash_len
    out = pair.client.export_keying_material(b"label", b"c", n)
    assert out == pair.server.export_keying_material(b"label", b"c", n)


def test_refresh_traffic_keys_before_handshake(pki):
    p = make_pair(pki)
    with pytest.raises(tlspipe.HandshakeNotComplete):
        p.client.refresh_traffic_keys()


@pytest.mark.parametrize("who", ["client", "server"])
def test_key_update_both_ways(pair, who):
    a = pair.client if who == "client" else pair.server
    b = pair.server if who == "client" else pair.client
    a.refresh_traffic_keys()
    assert pair.send(a, b"after update") == b"after update"
    # b answered the update_requested with its own KeyUpdate
    b_wire = [r for r in pair.records[_name(b)] if r.encrypted]
    assert pair.send(b, b"reply") == b"reply"
    kus = [
        r
        for r in pair.records[_name(b)][len(b_wire) - 1 :]
        if r.typ == ContentType.handshake and r.payload[0] == HandshakeType.key_update
    ]
    assert kus and kus[0].payload[4] == 0  # update_not_requested
    sent = [
        r
        for r in pair.records[_name(a)]
        if r.typ == ContentType.handshake and r.payload[:1] == bytes((HandshakeType.key_update,))
    ]
    assert sent and sent[0].payload[4] == 1  # update_requested
    assert a.export_keying_material(b"l", None, 8) == b.export_keying_material(b"l", None, 8)


def _name(conn):
    return "client" if isinstance(conn, tlspipe.ClientConnection) else "server"


def test_many_key_updates_with_data_between(pair):
    c, s = pair.client, pair.server
    for i in range(50):
        (c if i % 2 else s).refresh_traffic_keys()
        msg = b"m%d" % i
        assert pair.send(c, msg) == msg
        assert pair.send(s, msg) == msg


def test_many_key_updates_in_a_row_are_bounded(pair):
    c, s = pair.client, pair.server
    for _ in range(40):
        c.refresh_traffic_keys()
    pair.transfer(c, s)
    with pytest.raises(tlspipe.PeerMisbehaved):
        s.process_new_packets()
    out = pair.until_error()
    assert out.server_alert == tlspipe.enums.AlertDescription.unexpected_message


def test_key_updates_up_to_the_bound_are_fine(pair):
    c, s = pair.client, pair.server
    for _ in range(10):
        c.refresh_traffic_keys()
    assert pair.send(c, b"ok") == b"ok"
    pair.flow(s, c)
    assert pair.send(s, b"ok too") == b"ok too"


def test_no_key_update_after_close_notify(pair):
    """RFC 8446 §6.1: close_notify is the last record this side sends."""
    c = pair.client
    c.send_close_notify()
    wire = c.write_tls()
    with pytest.raises(tlspipe.Error):
        c.refresh_traffic_keys()
    assert c.write_tls() == b""
    pair.feed(pair.server, wire)
    assert pair.server.process_new_packets().peer_has_closed


def test_key_update_request_after_we_closed_is_not_answered(pair):
    c, s = pair.client, pair.server
    s.send_close_notify()
    pair.transfer(s, c)
    c.refresh_traffic_keys()
    pair.transfer(c, s)
    s.process_new_packets()
    assert s.write_tls() == b""  # no KeyUpdate after the server's close_notify
