"""The bulk application-data paths keep every check of the long way.

``Connection.process_new_packets`` opens TLS 1.3 application_data records straight out of a
``bytes`` object given to ``read_tls`` (``RecordLayer.open_fed_appdata``), with a shorter
branch for full-size records; ``Connection.write`` seals one record per call.  These tests
feed the server records sealed here with the client's traffic keys (so any record can be
built: padded, empty, bad tag, other inner types, a KeyUpdate between data) as one
``bytes`` object, and check that what comes out — plaintext, errors, alerts — is what the
long way (``Deframer.pop`` + ``RecordLayer.decrypt``) gives.
"""

from __future__ import annotations

import pytest

import tlspipe
from helpers import Pair, make_pair
from pki import PKI
from tlspipe.crypto.provider import Tls13CipherSuite
from tlspipe.enums import AlertDescription, AlertLevel, KeyUpdateRequest
from tlspipe.keys import tls13 as ks13
from tlspipe.msgs.handshake import KeyUpdate
from tlspipe.msgs.message import encode_alert, encode_handshake
from tlspipe.record.layer import Tls13Encrypter

FULL = 2**14
APPDATA, HANDSHAKE, ALERT = 23, 22, 21


class Sealer:
    """Seals records as the client would, under its application traffic keys."""

    def __init__(self, secret: bytes, suite: Tls13CipherSuite) -> None:
        self.suite = suite
        self.secret = secret
        self._install()

    def _install(self) -> None:
        key, iv = ks13.traffic_keys(self.suite, self.secret)
        self.enc = Tls13Encrypter.from_key(self.suite.aead, key, iv)
        self.seq = 0

    def record(self, typ: int, payload: bytes, padding: int = 0) -> bytes:
        out = self.enc.encrypt(typ, payload, self.seq, padding=padding)
        self.seq += 1
        return out

    def data(self, payload: bytes, padding: int = 0) -> bytes:
        return self.record(APPDATA, payload, padding)

    def key_update(self) -> bytes:
        msg = KeyUpdate(request_update=KeyUpdateRequest.update_not_requested)
        rec = self.record(HANDSHAKE, encode_handshake(msg))
        self.secret = ks13.next_traffic_secret(self.suite.hash_name, self.secret)
        self._install()
        return rec


def _setup(pki: PKI, suite: tlspipe.CipherSuite | None = None) -> tuple[Pair, Sealer]:
    kw = {"cipher_suites": (suite,)} if suite is not None else {}
    pair = make_pair(pki, tap=False, client=kw)
    pair.handshake()
    neg = pair.client.negotiated_cipher_suite
    assert isinstance(neg, Tls13CipherSuite)
    return pair, Sealer(pair.secrets.secrets["CLIENT_TRAFFIC_SECRET_0"], neg)


def _feed(s: tlspipe.ServerConnection, data: bytes) -> tlspipe.IoState:
    assert type(data) is bytes
    assert s.read_tls(data) == len(data)
    return s.process_new_packets()


def _msg(i: int, n: int) -> bytes:
    return bytes((i + j) % 251 for j in range(n))


def _sent_alert(pair: Pair, s: tlspipe.ServerConnection) -> AlertDescription:
    """The alert the server queued, as the client receives it."""
    c = pair.client
    c.read_tls(s.write_tls())
    with pytest.raises(tlspipe.AlertReceived) as ei:
        c.process_new_packets()
    return AlertDescription(ei.value.description)


@pytest.mark.parametrize(
    "suite",
    [
        None,
        tlspipe.CipherSuite.TLS13_AES_256_GCM_SHA384,
        tlspipe.CipherSuite.TLS13_CHACHA20_POLY1305_SHA256,
    ],
)
def test_many_records_of_every_size_in_one_feed(
    pki: PKI, suite: tlspipe.CipherSuite | None
) -> None:
    pair, sealer = _setup(pki, suite)
    s = pair.server
    sizes = [FULL, 1, FULL, 1000, FULL - 1, FULL, 5, 16, 17, FULL]
    msgs = [_msg(i, n) for i, n in enumerate(sizes)]
    st = _feed(s, b"".join(sealer.data(m) for m in msgs))
    assert st.plaintext_bytes_to_read == sum(sizes)
    assert s.read() == b"".join(msgs)
    # and the sequence numbers went on: more records still open
    _feed(s, sealer.data(b"after") + sealer.data(_msg(9, FULL)))
    assert s.read() == b"after" + _msg(9, FULL)


@pytest.mark.parametrize("cut", [1, 4, 5, 6, 100, FULL + 20, FULL + 21])
def test_record_in_pieces(pki: PKI, cut: int) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    first = sealer.data(_msg(1, FULL))
    second = sealer.data(_msg(2, FULL))
    wire = first + second
    at = len(first) + cut if cut < len(second) else len(first) + len(second) - 1
    _feed(s, wire[:at])
    assert s.read() == _msg(1, FULL)
    _feed(s, wire[at:])
    assert s.read() == _msg(2, FULL)
    _feed(s, sealer.data(b"x"))
    assert s.read() == b"x"


def test_key_update_between_data_in_one_feed(pki: PKI) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    wire = sealer.data(_msg(1, FULL)) + sealer.key_update() + sealer.data(_msg(2, FULL))
    wire += sealer.data(b"tail") + sealer.key_update() + sealer.data(_msg(3, FULL))
    _feed(s, wire)
    assert s.read() == _msg(1, FULL) + _msg(2, FULL) + b"tail" + _msg(3, FULL)
    _feed(s, sealer.data(b"more"))
    assert s.read() == b"more"


@pytest.mark.parametrize("size,padding", [(FULL - 1, 1), (100, 200), (1, FULL - 1)])
def test_padded_records(pki: PKI, size: int, padding: int) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    wire = sealer.data(_msg(1, FULL)) + sealer.data(_msg(2, size), padding=padding)
    wire += sealer.data(_msg(3, FULL))
    _feed(s, wire)
    assert s.read() == _msg(1, FULL) + _msg(2, size) + _msg(3, FULL)


def test_empty_records_are_counted_and_bounded(pki: PKI) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    wire = sealer.data(_msg(1, FULL)) + sealer.data(b"") + sealer.data(b"", padding=FULL)
    _feed(s, wire + sealer.data(b"x"))
    assert s.read() == _msg(1, FULL) + b"x"
    # data in between resets the count; 33 in a row do not pass
    _feed(s, b"".join(sealer.data(b"") for _ in range(32)) + sealer.data(b"y"))
    assert s.read() == b"y"
    with pytest.raises(tlspipe.PeerMisbehaved):
        _feed(s, sealer.data(_msg(2, FULL)) + b"".join(sealer.data(b"") for _ in range(33)))
    assert _sent_alert(pair, s) == AlertDescription.unexpected_message


@pytest.mark.parametrize("size", [FULL, 1000, 1])
@pytest.mark.parametrize("where", ["ciphertext", "tag"])
def test_bad_tag_fails_with_bad_record_mac(pki: PKI, size: int, where: str) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    good = sealer.data(_msg(1, FULL))
    bad = bytearray(sealer.data(_msg(2, size)))
    bad[10 if where == "ciphertext" else -1] ^= 0x01
    with pytest.raises(tlspipe.DecryptError):
        _feed(s, good + bytes(bad) + sealer.data(b"never"))
    assert s.read() == _msg(1, FULL)  # what came before the bad record
    with pytest.raises(tlspipe.DecryptError):
        s.read()
    with pytest.raises(tlspipe.DecryptError):
        s.process_new_packets()
    assert _sent_alert(pair, s) == AlertDescription.bad_record_mac


def test_full_size_header_with_a_key_update_inside(pki: PKI) -> None:
    """A record with the full-size header whose inner plaintext is a padded handshake
    message takes the long way and is processed as one."""
    pair, sealer = _setup(pki)
    s = pair.server
    ku = encode_handshake(KeyUpdate(request_update=KeyUpdateRequest.update_not_requested))
    first = sealer.data(_msg(1, FULL))
    padded = sealer.record(HANDSHAKE, ku, padding=FULL - len(ku))
    assert padded[:5] == first[:5]  # the same (full-size) header
    sealer.secret = ks13.next_traffic_secret(sealer.suite.hash_name, sealer.secret)
    sealer._install()
    _feed(s, first + padded + sealer.data(_msg(2, FULL)))
    assert s.read() == _msg(1, FULL) + _msg(2, FULL)


@pytest.mark.parametrize("size", [FULL + 1, 100])
def test_all_zero_inner_plaintext(pki: PKI, size: int) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    first = sealer.data(_msg(1, FULL))
    zeros = sealer.record(0, bytes(size - 1))  # "content type" 0 after zeros
    with pytest.raises(tlspipe.PeerMisbehaved):
        _feed(s, first + zeros)
    assert s.read() == _msg(1, FULL)
    assert _sent_alert(pair, s) == AlertDescription.unexpected_message


@pytest.mark.parametrize("typ", [0x18, 0x14, 0xFF])
def test_inner_type_not_allowed(pki: PKI, typ: int) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    with pytest.raises(tlspipe.PeerMisbehaved):
        _feed(s, sealer.data(_msg(1, FULL)) + sealer.record(typ, _msg(2, FULL)))
    assert s.read() == _msg(1, FULL)
    assert _sent_alert(pair, s) == AlertDescription.unexpected_message


def test_close_notify_after_data_in_one_feed(pki: PKI) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    first = sealer.data(_msg(1, FULL))
    close = sealer.record(ALERT, encode_alert(AlertLevel.warning, AlertDescription.close_notify))
    st = _feed(s, first + close + sealer.data(b"not delivered"))
    assert st.peer_has_closed
    assert s.read() == _msg(1, FULL)
    assert s.read() == b""


def test_fatal_alert_after_data(pki: PKI) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    first = sealer.data(_msg(1, FULL))
    alert = sealer.record(ALERT, encode_alert(AlertLevel.fatal, AlertDescription.internal_error))
    with pytest.raises(tlspipe.AlertReceived):
        _feed(s, first + alert)
    assert s.read() == _msg(1, FULL)


def test_oversized_record_after_data(pki: PKI) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    big = b"\x17\x03\x03" + (2**14 + 257).to_bytes(2, "big") + bytes(2**14 + 257)
    with pytest.raises(tlspipe.RecordOverflow):
        _feed(s, sealer.data(_msg(1, FULL)) + big)
    assert s.read() == _msg(1, FULL)
    assert _sent_alert(pair, s) == AlertDescription.record_overflow


def test_eof_after_whole_records_is_unexpected(pki: PKI) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    s.read_tls(sealer.data(_msg(1, FULL)))
    s.read_tls(b"")
    with pytest.raises(tlspipe.UnexpectedEof):
        s.process_new_packets()


def test_wrong_key_after_data(pki: PKI) -> None:
    """A record sealed under the next key before any KeyUpdate does not open."""
    pair, sealer = _setup(pki)
    s = pair.server
    wire = sealer.data(_msg(1, FULL))
    sealer.key_update()  # not sent
    with pytest.raises(tlspipe.DecryptError):
        _feed(s, wire + sealer.data(_msg(2, FULL)))
    assert s.read() == _msg(1, FULL)


def test_receive_sequence_space_end(pki: PKI) -> None:
    """The last sequence number is 2^64 - 2: a record after it is refused, not wrapped."""
    pair, sealer = _setup(pki)
    s = pair.server
    s._cx.record_layer._read_seq = sealer.seq = 2**64 - 2
    with pytest.raises(tlspipe.PeerMisbehaved):
        _feed(s, sealer.data(_msg(1, FULL)) + sealer.data(_msg(2, FULL)))
    assert s.read() == _msg(1, FULL)
    assert _sent_alert(pair, s) == AlertDescription.unexpected_message


def test_one_full_size_record_per_feed_with_odd_contents(pki: PKI) -> None:
    """A feed of exactly one record with the full-size header (the shortest branch):
    padded data, a padded KeyUpdate, then a bad tag — each handled as the long way does."""
    pair, sealer = _setup(pki)
    s = pair.server
    _feed(s, sealer.data(_msg(1, FULL)))
    _feed(s, sealer.data(_msg(2, FULL - 1), padding=1))
    assert s.read() == _msg(1, FULL) + _msg(2, FULL - 1)
    ku = encode_handshake(KeyUpdate(request_update=KeyUpdateRequest.update_not_requested))
    _feed(s, sealer.record(HANDSHAKE, ku, padding=FULL - len(ku)))
    sealer.secret = ks13.next_traffic_secret(sealer.suite.hash_name, sealer.secret)
    sealer._install()
    _feed(s, sealer.data(_msg(3, FULL)))
    assert s.read() == _msg(3, FULL)
    bad = bytearray(sealer.data(_msg(4, FULL)))
    bad[-1] ^= 0x80
    with pytest.raises(tlspipe.DecryptError):
        _feed(s, bytes(bad))
    assert _sent_alert(pair, s) == AlertDescription.bad_record_mac


def test_bulk_io_state_follows_every_change(pki: PKI) -> None:
    """The bulk branch hands back the previous IoState object when it is equal: each
    returned state still says exactly what is queued and readable."""
    pair, sealer = _setup(pki)
    s = pair.server
    first = _feed(s, sealer.data(_msg(1, FULL)))
    assert first == (0, FULL, False)
    assert _feed(s, sealer.data(_msg(2, FULL))) == (0, 2 * FULL, False)
    assert s.read() == _msg(1, FULL) + _msg(2, FULL)
    assert _feed(s, sealer.data(_msg(3, FULL))) == first
    assert s.read() == _msg(3, FULL)
    s.write(b"x" * 10)
    queued = s.io_state().tls_bytes_to_write
    assert queued > 0
    assert _feed(s, sealer.data(_msg(4, FULL))) == (queued, FULL, False)
    assert s.read() == _msg(4, FULL)
    assert _feed(s, sealer.data(_msg(5, 100))) == (queued, 100, False)
    s.write_tls()
    assert _feed(s, sealer.data(_msg(6, FULL))) == (0, FULL + 100, False)
    assert s.read() == _msg(5, 100) + _msg(6, FULL)
    assert s.process_new_packets() == (0, 0, False)


@pytest.mark.parametrize("typ", [0, 0x14, 0x18])
def test_one_full_size_record_per_feed_with_a_bad_inner_type(pki: PKI, typ: int) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    _feed(s, sealer.data(_msg(1, FULL)))
    with pytest.raises(tlspipe.PeerMisbehaved):
        _feed(s, sealer.record(typ, _msg(2, FULL) if typ else bytes(FULL)))
    assert s.read() == _msg(1, FULL)
    assert _sent_alert(pair, s) == AlertDescription.unexpected_message


def test_one_full_size_record_per_feed_at_the_sequence_space_end(pki: PKI) -> None:
    pair, sealer = _setup(pki)
    s = pair.server
    s._cx.record_layer._read_seq = sealer.seq = 2**64 - 2
    _feed(s, sealer.data(_msg(1, FULL)))
    assert s.read() == _msg(1, FULL)
    with pytest.raises(tlspipe.PeerMisbehaved):
        _feed(s, sealer.data(_msg(2, FULL)))
    assert _sent_alert(pair, s) == AlertDescription.unexpected_message


@pytest.mark.parametrize("into", [True, False])
def test_full_size_records_with_and_without_open_into(pki: PKI, into: bool) -> None:
    """Full-size records are opened into the layer's own buffer when the AEAD offers
    ``raw_open_into``, else by ``raw_open``: the same plaintext either way, never a view of
    that buffer."""
    pair, sealer = _setup(pki)
    s = pair.server
    rl = s._cx.record_layer
    if into:
        assert rl._open13_into is not None
    else:
        rl._open13_into = None
    got = []
    for i in range(3):
        _feed(s, sealer.data(_msg(i, FULL)))
        got.append(s.read())
    _feed(s, b"".join(sealer.data(_msg(i, FULL)) for i in range(3, 6)))
    got.append(s.read())
    assert all(type(g) is bytes for g in got)
    assert b"".join(got) == b"".join(_msg(i, FULL) for i in range(6))
    assert (rl._rbuf is not None) == into
    good = sealer.data(_msg(6, FULL))
    bad = bytearray(sealer.data(_msg(7, FULL)))
    bad[100] ^= 4
    with pytest.raises(tlspipe.DecryptError):
        _feed(s, good + bytes(bad))
    assert s.read() == _msg(6, FULL)


@pytest.mark.parametrize("chunk", [1000, 16000, 40000, 65536])
def test_stream_fed_in_socket_sized_bytes(pki: PKI, chunk: int) -> None:
    """A stream cut anywhere and fed as bytes pieces (a socket's reads): pieces that
    complete a cut record are joined with it and opened on the bulk path; the plaintext,
    a KeyUpdate on the way and a bad tag at the end come out as on the long way."""
    pair, sealer = _setup(pki)
    s = pair.server
    msgs = [_msg(i, FULL if i % 3 else 777) for i in range(12)]
    wire = b"".join(sealer.data(m) for m in msgs[:6]) + sealer.key_update()
    wire += b"".join(sealer.data(m) for m in msgs[6:])
    bad = bytearray(sealer.data(_msg(99, FULL)))
    bad[-3] ^= 0x10
    wire += bytes(bad)
    got = b""
    with pytest.raises(tlspipe.DecryptError):
        for at in range(0, len(wire), chunk):
            piece = wire[at : at + chunk]
            assert s.read_tls(piece) == len(piece)
            s.process_new_packets()
            got += s.read()
    if s.io_state().plaintext_bytes_to_read:  # what the last piece brought before it
        got += s.read()
    assert got == b"".join(msgs)
    assert _sent_alert(pair, s) == AlertDescription.bad_record_mac


# -- sending: Connection.write seals a full-size TLS 1.3 record itself ------------------------
def test_full_size_write_is_the_record_the_record_layer_makes(pki: PKI) -> None:
    pair, sealer = _setup(pki)
    c = pair.client
    for i in range(3):
        assert c.write(_msg(i, FULL)) == FULL
        assert c.write_tls() == sealer.data(_msg(i, FULL))
    assert c.write(_msg(3, 100)) == 100  # and other sizes go on from the same sequence
    assert c.write_tls() == sealer.data(_msg(3, 100))


def test_full_size_writes_through_automatic_key_updates(pki: PKI) -> None:
    pair, _ = _setup(pki)
    c, s = pair.client, pair.server
    rl = c._cx.record_layer
    rl._enc_soft = rl.write_seq + 3  # 3 records before the soft limit
    for i in range(10):
        assert c.write(_msg(i, FULL)) == FULL
        assert c.io_state().tls_bytes_to_write >= FULL
        _feed(s, c.write_tls())
        assert s.read() == _msg(i, FULL)
    assert rl.write_seq < 10  # moved to a fresh key on the way


def test_full_size_write_respects_the_send_buffer_bound(pki: PKI) -> None:
    pair = make_pair(pki, tap=False, client={"buffer_limit": 20000})
    pair.handshake()
    c, s = pair.client, pair.server
    assert c.write(_msg(1, FULL)) == FULL
    queued = c.io_state().tls_bytes_to_write
    took = c.write(_msg(2, FULL))  # only what fits under the bound
    assert took == 20000 - queued
    _feed(s, c.write_tls())
    assert s.read() == _msg(1, FULL) + _msg(2, FULL)[:took]


def test_full_size_write_with_a_smaller_max_fragment(pki: PKI) -> None:
    pair = make_pair(pki, tap=False, client={"max_fragment_size": 4096})
    pair.handshake()
    c, s = pair.client, pair.server
    assert c.write(_msg(1, FULL)) == FULL
    wire = c.write_tls()
    assert wire.count(b"\x17\x03\x03") >= 4 and len(wire) == 4 * (5 + 4096 + 17)
    _feed(s, wire)
    assert s.read() == _msg(1, FULL)


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_full_size_write_of_other_buffers(pki: PKI, kind: type) -> None:
    pair, sealer = _setup(pki)
    c = pair.client
    assert c.write(kind(_msg(1, FULL))) == FULL
    assert c.write_tls() == sealer.data(_msg(1, FULL))


def test_full_size_write_before_the_handshake_is_buffered(pki: PKI) -> None:
    pair = make_pair(pki, tap=False)
    c, s = pair.client, pair.server
    assert c.write(_msg(1, FULL)) == FULL
    pair.handshake()
    assert s.read() == _msg(1, FULL)


def test_full_size_write_after_close_or_failure(pki: PKI) -> None:
    pair, _ = _setup(pki)
    c, s = pair.client, pair.server
    c.send_close_notify()
    with pytest.raises(tlspipe.BufferFull):
        c.write(_msg(1, FULL))
    with pytest.raises(tlspipe.DecryptError):
        _feed(s, b"\x17\x03\x03\x40\x11" + bytes(FULL + 17))
    with pytest.raises(tlspipe.DecryptError):
        s.write(_msg(1, FULL))
