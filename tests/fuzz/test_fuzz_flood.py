"""Floods: megabytes of random bytes, endless empty records, warning alerts, KeyUpdates,
ChangeCipherSpecs.  The victim fails with a tlspipe.Error after a bounded amount of work
and no buffer grows past its bound."""

from __future__ import annotations

import random

import pytest
from fuzzconf import MAX_ALERT_RECORD, check_bounded, check_poisoned

import tlspipe
from helpers import Pair, Rec, make_pair, split_records
from tlspipe.enums import AlertDescription, ContentType
from tlspipe.errors import alert_for

MB = 2**20


def _pump(
    conn: tlspipe.Connection, chunks, *, read: bool = True
) -> tuple[int, tlspipe.Error | None]:
    """Feed chunks until the connection fails; return (bytes accepted, error)."""
    taken = 0
    for chunk in chunks:
        off = 0
        stalls = 0
        while off < len(chunk):
            try:
                n = conn.read_tls(chunk[off:])
                conn.process_new_packets()
            except tlspipe.Error as e:
                check_bounded(conn)
                assert len(conn.write_tls()) <= MAX_ALERT_RECORD  # at most the alert
                return taken, e
            check_bounded(conn)
            off += n
            taken += n
            if n == 0:
                stalls += 1
                assert stalls < 3, "stalled with nothing to read"
                if read:
                    conn.read()
    return taken, None


def _random_chunks(seed: int, total: int, size: int = 65536):
    rng = random.Random(seed)
    for _ in range(total // size):
        yield rng.randbytes(size)


@pytest.mark.parametrize("seed", range(4))
def test_random_bytes_to_fresh_server(pki, seed):
    p = make_pair(pki)
    taken, err = _pump(p.server, _random_chunks(seed, 4 * MB))
    assert isinstance(err, tlspipe.Error)
    assert taken < 2**17
    check_poisoned(p.server, err)


@pytest.mark.parametrize("seed", range(4))
def test_random_bytes_to_connected_client(pki, seed):
    p = make_pair(pki)
    p.handshake()
    _, err = _pump(p.client, _random_chunks(seed, 4 * MB))
    assert isinstance(err, tlspipe.Error)
    check_poisoned(p.client, err)


@pytest.mark.parametrize("victim", ["client", "server"])
def test_random_records_well_framed(pki, victim):
    """Valid record headers, random ciphertext: fails on the first record (bad_record_mac)."""
    p = make_pair(pki)
    p.handshake()
    conn = p.client if victim == "client" else p.server
    rng = random.Random(7)

    def chunks():
        for _ in range(64):
            yield bytes((23, 3, 3, 0x40, 0x00)) + rng.randbytes(2**14)

    _, err = _pump(conn, chunks())
    assert isinstance(err, tlspipe.DecryptError)
    assert err.alert == AlertDescription.bad_record_mac


@pytest.mark.parametrize("typ", [ContentType.handshake, ContentType.application_data])
def test_plaintext_records_before_handshake(pki, typ):
    p = make_pair(pki)
    rng = random.Random(typ)

    def chunks():
        for _ in range(200):
            yield Rec(typ, rng.randbytes(2**14)).raw()

    taken, err = _pump(p.server, chunks())
    assert isinstance(err, tlspipe.Error)
    assert taken <= 2**17


def test_huge_handshake_message_is_refused_early(pki):
    p = make_pair(pki)
    hdr = bytes((1,)) + (2**24 - 1).to_bytes(3, "big")
    recs = [Rec(ContentType.handshake, hdr + bytes(2**14 - 4)).raw()]
    recs += [Rec(ContentType.handshake, bytes(2**14)).raw() for _ in range(100)]
    taken, err = _pump(p.server, recs)
    assert isinstance(err, tlspipe.DecodeError)
    assert taken < 2**16


def _connected(pki) -> Pair:
    """A pair after the handshake and one data record each way (so the wiretap has
    seen both sides switch to application keys)."""
    p = make_pair(pki)
    p.handshake()
    assert p.send(p.client, b"hi") == b"hi"
    assert p.send(p.server, b"hi") == b"hi"
    return p


def _encrypted_flood(p: Pair, src: tlspipe.Connection, rec: Rec, count: int) -> list[bytes]:
    assert p.tap is not None
    sender = p._name(src)
    suite = p._suite(src)
    return [p.tap.seal(sender, suite, Rec(rec.typ, rec.payload, True)) for _ in range(count)]


@pytest.mark.parametrize("victim", ["client", "server"])
@pytest.mark.parametrize(
    ("what", "payload", "typ", "error", "limit"),
    [
        ("empty records", b"", ContentType.application_data, tlspipe.PeerMisbehaved, 33),
        ("user_canceled warnings", b"\x01\x5a", ContentType.alert, tlspipe.PeerMisbehaved, 5),
        (
            "KeyUpdate update_requested",
            b"\x18\x00\x00\x01\x01",
            ContentType.handshake,
            tlspipe.PeerMisbehaved,
            33,
        ),
        ("other warning alerts", b"\x01\x70", ContentType.alert, tlspipe.AlertReceived, 1),
    ],
)
def test_endless_records(pki, victim, what, payload, typ, error, limit):
    p = _connected(pki)
    conn = p.client if victim == "client" else p.server
    src = p.server if victim == "client" else p.client
    # KeyUpdates change the sender's keys: seal each with the next secret
    wires = []
    d = p.tap.dirs[p._name(src)]
    for _ in range(1000):
        wires += _encrypted_flood(p, src, Rec(typ, payload), 1)
        if typ == ContentType.handshake:
            d.idx += 1
            d.out_seq = 0
    count = 0
    err = None
    for w in wires:
        try:
            conn.read_tls(w)
            conn.process_new_packets()
        except tlspipe.Error as e:
            err = e
            out = conn.write_tls()
            # answers queued before the error may precede it; the alert is last and short
            if alert_for(err) is None:
                assert out == b""
            else:
                assert out and len(split_records(out)[-1].payload) + 5 <= MAX_ALERT_RECORD
            break
        count += 1
        check_bounded(conn)
        # the victim's answers (KeyUpdates) must not pile up without bound either
        assert len(conn._cx.sendq) < 64 * 64
    assert isinstance(err, error), err
    assert count + 1 <= limit
    check_poisoned(conn, err)


def test_empty_records_interleaved_with_data_are_fine(pki):
    p = _connected(pki)
    for i in range(200):
        wire = _encrypted_flood(p, p.client, Rec(ContentType.application_data, b""), 10)
        wire += _encrypted_flood(p, p.client, Rec(ContentType.application_data, b"d%d" % i), 1)
        p.server.read_tls(b"".join(wire))
        p.server.process_new_packets()
    assert p.server.read().startswith(b"d0d1d2")


def test_endless_ccs_during_handshake_is_bounded_work(pki):
    """RFC 8446 §5: CCS between ClientHello and Finished is dropped; each costs its bytes."""
    p = make_pair(pki)
    p.flow(p.client, p.server)
    ccs = Rec(ContentType.change_cipher_spec, b"\x01").raw() * 10000
    _pump(p.server, [ccs])
    check_bounded(p.server)


def test_ccs_before_client_hello_is_rejected(pki):
    """RFC 8446 §5: a change_cipher_spec record before the first ClientHello MUST be
    treated as an unexpected record type."""
    p = make_pair(pki)
    p.server.read_tls(Rec(ContentType.change_cipher_spec, b"\x01").raw())
    with pytest.raises(tlspipe.InappropriateMessage):
        p.server.process_new_packets()
    out = p.until_error()
    assert out.server_alert == AlertDescription.unexpected_message
