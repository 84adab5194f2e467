"""The pipe API: IoState, wants_read/wants_write, pending_tls/consume_tls, buffered and
bounded writes, partial reads, buffer limits, close_notify, EOF and writes after close."""

from __future__ import annotations

import pytest

import tlspipe
from helpers import make_pair, split_records
from tlspipe.enums import AlertDescription, ContentType


@pytest.fixture
def pair(pki):
    p = make_pair(pki)
    p.handshake()
    return p


def test_fresh_client_wants_write_and_read(pki):
    p = make_pair(pki)
    c, s = p.client, p.server
    assert c.wants_write() and c.wants_read() and c.is_handshaking
    assert not s.wants_write() and s.wants_read() and s.is_handshaking
    st = c.io_state()
    assert st.tls_bytes_to_write > 0
    assert st.plaintext_bytes_to_read == 0
    assert not st.peer_has_closed


def test_io_state_tracks_each_step(pki):
    p = make_pair(pki)
    c, s = p.client, p.server
    p.transfer(c, s)
    assert not c.wants_write()
    st = s.process_new_packets()
    assert st.tls_bytes_to_write == len(b"".join(bytes(m) for m in s.pending_tls())) > 0
    assert st.plaintext_bytes_to_read == 0 and not st.peer_has_closed
    p.transfer(s, c)
    st = c.process_new_packets()
    assert not c.is_handshaking
    assert st.tls_bytes_to_write > 0  # Finished
    p.flow(c, s)
    assert not s.is_handshaking
    assert c.write(b"abc") == 3
    p.transfer(c, s)
    st = s.process_new_packets()
    assert st.plaintext_bytes_to_read == 3
    assert s.read() == b"abc"
    assert s.io_state().plaintext_bytes_to_read == 0


def test_handshake_takes_two_flights(pki):
    assert make_pair(pki).handshake() <= 2


def test_pending_tls_and_consume_tls(pki):
    p = make_pair(pki)
    c, s = p.client, p.server
    views = c.pending_tls()
    total = sum(len(v) for v in views)
    assert total == c.io_state().tls_bytes_to_write
    whole = b"".join(bytes(v) for v in views)
    # send in three uneven pieces, as a socket would
    c.consume_tls(7)
    assert c.io_state().tls_bytes_to_write == total - 7
    rest = b"".join(bytes(v) for v in c.pending_tls())
    assert rest == whole[7:]
    c.consume_tls(len(rest))
    assert not c.wants_write() and c.write_tls() == b""
    s.read_tls(whole)
    s.process_new_packets()
    assert s.wants_write()


def test_byte_at_a_time_handshake(pki):
    p = make_pair(pki)
    c, s = p.client, p.server
    for src, dst in ((c, s), (s, c), (c, s)):
        data = src.write_tls()
        for i in range(len(data)):
            assert dst.read_tls(data[i : i + 1]) == 1
            dst.process_new_packets()
    assert not c.is_handshaking and not s.is_handshaking


def test_write_before_handshake_is_buffered_then_sent(pki):
    p = make_pair(pki)
    c, s = p.client, p.server
    assert c.write(b"early ") == 6
    assert c.write(memoryview(b"bird")) == 4
    first = c.write_tls()
    assert all(r.content_type != ContentType.application_data for r in split_records(first))
    s.read_tls(first)
    s.process_new_packets()
    assert s.write(b"from server") == 11
    p.flow(s, c)
    p.flow(c, s)
    assert s.read() == b"early bird"
    p.flow(s, c)  # the server flushes its buffered data once the handshake completes
    assert c.read() == b"from server"


def test_write_before_handshake_is_bounded(pki):
    p = make_pair(pki, client={"buffer_limit": 4096})
    c = p.client
    assert c.write(b"x" * 3000) == 3000
    assert c.write(b"y" * 3000) == 1096
    assert c.write(b"z") == 0
    p.handshake()
    p.transfer(c, p.server)
    p.server.process_new_packets()
    got = p.server.read()
    assert got == b"x" * 3000 + b"y" * 1096


def test_partial_reads(pair):
    c, s = pair.client, pair.server
    for chunk in (b"hello ", b"wide ", b"world"):
        c.write(chunk)
        pair.transfer(c, s)
    s.process_new_packets()
    assert s.read(3) == b"hel"
    assert s.io_state().plaintext_bytes_to_read == 13
    assert s.read(5) == b"lo wi"
    assert s.read(0) == b""
    assert s.read(100) == b"de world"
    assert s.read() == b""
    assert s.read(5) == b""


def test_large_write_is_fragmented_and_reassembled(pair):
    c, s = pair.client, pair.server
    data = bytes(range(256)) * 200  # 51200 bytes
    assert c.write(data) == len(data)
    wire = c.write_tls()
    recs = split_records(wire)
    assert len(recs) == 4
    assert all(len(r.payload) <= 2**14 + 256 for r in recs)
    pair.feed(s, wire)
    s.process_new_packets()
    assert s.read() == data


def test_write_returns_short_count_when_send_queue_full(pair):
    c = pair.client
    limit = c.config.buffer_limit
    n = c.write(b"a" * (limit * 3))
    assert 0 < n < limit * 3
    assert c.write(b"more") == 0
    pair.transfer(c, pair.server)
    assert c.write(b"more") == 4


def test_read_tls_is_bounded_when_plaintext_is_not_read(pki):
    p = make_pair(pki, server={"buffer_limit": 2048})
    p.handshake()
    c, s = p.client, p.server
    wire = b""
    for _ in range(200):
        assert c.write(b"q" * 1000) == 1000
        wire += c.write_tls()
    taken = 0
    for _ in range(500):
        n = s.read_tls(wire[taken:])
        taken += n
        s.process_new_packets()
        if n == 0:
            break
    assert taken < len(wire)
    assert not s.wants_read()
    st = s.io_state()
    # bounded: the plaintext limit plus what the (bounded) deframer held
    assert st.plaintext_bytes_to_read <= 2048 + 2**16 + 2**15
    assert taken <= 2048 + 2**14 + 2**16 + 2**15
    got = s.read()
    # every complete record accepted so far was delivered: nothing is stranded in the
    # deframer waiting for a peer that has nothing more to send
    assert len(got) == 1000 * len(split_records(wire[:taken]))
    assert s.wants_read()
    while taken < len(wire):
        taken += s.read_tls(wire[taken:])
        s.process_new_packets()
        got += s.read()
    assert got == b"q" * 200_000


def test_close_notify_both_ways(pair):
    c, s = pair.client, pair.server
    c.write(b"last words")
    c.send_close_notify()
    c.send_close_notify()  # idempotent
    pair.transfer(c, s)
    st = s.process_new_packets()
    assert st.peer_has_closed and s.peer_has_closed
    assert s.read() == b"last words"
    assert not s.wants_read()
    # EOF after close_notify is clean
    assert s.read_tls(b"") == 0
    s.process_new_packets()
    s.send_close_notify()
    pair.transfer(s, c)
    assert c.process_new_packets().peer_has_closed
    assert pair.alerts["client"][-1] == (1, AlertDescription.close_notify)


def test_eof_without_close_notify_is_unexpected_eof(pair):
    c, s = pair.client, pair.server
    c.write(b"truncated?")
    pair.transfer(c, s)
    s.read_tls(b"")
    with pytest.raises(tlspipe.UnexpectedEof):
        s.process_new_packets()
    # the data that did arrive was not lost, the error repeats, no alert is sent
    assert s.read() == b"truncated?"
    with pytest.raises(tlspipe.UnexpectedEof):
        s.process_new_packets()
    assert s.write_tls() == b""


def test_eof_during_handshake(pki):
    p = make_pair(pki)
    p.transfer(p.client, p.server)
    p.server.process_new_packets()
    p.client.read_tls(b"")
    with pytest.raises(tlspipe.UnexpectedEof):
        p.client.process_new_packets()


def test_eof_mid_record(pair):
    c, s = pair.client, pair.server
    c.write(b"abcdef")
    wire = c.write_tls()
    s.read_tls(wire[:-3])
    s.read_tls(b"")
    with pytest.raises(tlspipe.UnexpectedEof):
        s.process_new_packets()


def test_write_after_close_notify_fails(pair):
    c = pair.client
    c.send_close_notify()
    with pytest.raises(tlspipe.Error):
        c.write(b"too late")


def test_peer_data_after_close_notify_is_not_delivered(pair):
    c, s = pair.client, pair.server
    c.send_close_notify()
    pair.transfer(c, s)
    s.process_new_packets()
    # a forged record after close_notify must not be read as plaintext
    assert s.read() == b""
    assert s.peer_has_closed


def test_repr_of_connections(pair):
    r = repr(pair.client) + repr(pair.server)
    assert "TLSv1_3" in r and "ExpectTraffic" in r


def test_negotiated_values(pair):
    c, s = pair.client, pair.server
    for conn in (c, s):
        assert conn.protocol_version is tlspipe.ProtocolVersion.TLSv1_3
        assert conn.negotiated_cipher_suite is not None
        assert conn.negotiated_key_exchange_group is not None
        assert not conn.handshake_kind_resumed
    assert c.negotiated_cipher_suite is s.negotiated_cipher_suite
    assert c.peer_certificates is not None and len(c.peer_certificates) == 2
    assert s.peer_certificates is None
    assert c.server_name == s.server_name == "localhost"
