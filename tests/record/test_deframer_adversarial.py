"""Deframer and HandshakeJoiner under adversarial splits, garbage and oversize input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlspipe.enums import AlertDescription
from tlspipe.errors import DecodeError, Error, RecordOverflow
from tlspipe.record.deframer import (
    MAX_CIPHERTEXT_TLS12,
    MAX_CIPHERTEXT_TLS13,
    Deframer,
    HandshakeJoiner,
    Record,
)


def rec(typ: int, payload: bytes, version: int = 0x0303) -> bytes:
    return struct.pack("!BHH", typ, version, len(payload)) + payload


def hs(typ: int, body: bytes) -> bytes:
    return bytes((typ,)) + len(body).to_bytes(3, "big") + body


def drain(d: Deframer) -> list[Record]:
    out = []
    while (r := d.pop()) is not None:
        out.append(r)
    return out


def feed_split(d: Deframer, data: bytes, cuts: list[int]) -> list[Record]:
    out: list[Record] = []
    prev = 0
    for c in [*sorted(cuts), len(data)]:
        chunk = data[prev:c]
        prev = c
        while chunk:
            n = d.feed(chunk)
            chunk = chunk[n:]
            out += drain(d)
    return out


RECORDS = [
    (22, b"\x01" * 300),
    (23, b""),
    (21, b"\x02\x28"),
    (20, b"\x01"),
    (23, bytes(range(256)) * 64),  # 16384: max plaintext
    (23, b"x" * (2**14 + 2048)),  # TLS 1.2 max ciphertext
    (22, b"z"),
]
STREAM = b"".join(rec(t, p) for t, p in RECORDS)


def check(records: list[Record]) -> None:
    assert [(r.content_type, r.version, r.payload) for r in records] == [
        (t, 0x0303, p) for t, p in RECORDS
    ]


def test_one_feed() -> None:
    d = Deframer()
    d.feed(STREAM)
    check(drain(d))
    assert d.is_empty() and len(d) == 0


def test_one_byte_feeds() -> None:
    d = Deframer()
    out = []
    for i in range(len(STREAM)):
        assert d.feed(STREAM[i : i + 1]) == 1
        out += drain(d)
        assert len(d) < 5 + 2**14 + 2048
    check(out)
    assert d.is_empty()


def test_memoryview_and_bytearray_feeds() -> None:
    d = Deframer()
    half = len(STREAM) // 2
    d.feed(memoryview(STREAM)[:half])
    d.feed(bytearray(STREAM[half:]))
    check(drain(d))


def test_many_small_records_per_feed() -> None:
    data = b"".join(rec(23, i.to_bytes(2, "big")) for i in range(5000))
    d = Deframer()
    out = feed_split(d, data, [])
    assert [int.from_bytes(r.payload, "big") for r in out] == list(range(5000))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=40))
def test_random_splits(cuts: list[int]) -> None:
    d = Deframer()
    check(feed_split(d, STREAM, cuts))
    assert d.is_empty()


def test_bounded_buffer_partial_accept() -> None:
    d = Deframer(max_buffer=5 + MAX_CIPHERTEXT_TLS12)
    big = STREAM * 3
    taken = d.feed(big)
    assert taken == 5 + MAX_CIPHERTEXT_TLS12
    assert d.space() == 0
    assert d.feed(b"more") == 0
    out = drain(d)
    assert d.space() > 0
    rest = big[taken:]
    while rest:
        n = d.feed(rest)
        rest = rest[n:]
        out += drain(d)
        assert len(d) <= 5 + MAX_CIPHERTEXT_TLS12
    assert len(out) == 3 * len(RECORDS)
    with pytest.raises(ValueError):
        Deframer(max_buffer=100)


@pytest.mark.parametrize("typ", [0, 19, 24, 25, 0x80, 0xFF])
def test_bad_content_type(typ: int) -> None:
    d = Deframer()
    d.feed(bytes((typ,)))  # detected from the first octet
    with pytest.raises(DecodeError) as ei:
        d.pop()
    assert ei.value.alert == AlertDescription.unexpected_message
    d = Deframer()
    d.feed(rec(typ, b"abc"))
    with pytest.raises(DecodeError):
        d.pop()


@pytest.mark.parametrize("version", [0x0000, 0x0203, 0x0403, 0xFEFD, 0x1603])
def test_bad_version(version: int) -> None:
    d = Deframer()
    d.feed(rec(22, b"abc", version)[:2])  # detected from the first two octets
    with pytest.raises(DecodeError) as ei:
        d.pop()
    assert ei.value.alert == AlertDescription.decode_error
    assert not isinstance(ei.value, RecordOverflow)


@pytest.mark.parametrize("version", [0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x03FF])
def test_legacy_versions_pass(version: int) -> None:
    d = Deframer()
    d.feed(rec(22, b"abc", version))
    r = d.pop()
    assert r is not None and r.version == version


def test_http_request_rejected() -> None:
    d = Deframer()
    d.feed(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(DecodeError):
        d.pop()


def test_overlong_record_detected_from_header() -> None:
    d = Deframer()
    d.feed(struct.pack("!BHH", 23, 0x0303, MAX_CIPHERTEXT_TLS12 + 1))  # header only
    with pytest.raises(RecordOverflow) as ei:
        d.pop()
    assert ei.value.alert == AlertDescription.record_overflow
    d = Deframer()
    d.feed(struct.pack("!BHH", 23, 0x0303, 0xFFFF))
    with pytest.raises(RecordOverflow):
        d.pop()


def test_tls13_bound() -> None:
    d = Deframer()
    d.feed(rec(23, bytes(MAX_CIPHERTEXT_TLS13)) + rec(23, bytes(MAX_CIPHERTEXT_TLS13 + 1)))
    d.set_tls13()
    assert d.max_record_len == MAX_CIPHERTEXT_TLS13
    r = d.pop()
    assert r is not None and len(r.payload) == MAX_CIPHERTEXT_TLS13
    with pytest.raises(RecordOverflow):
        d.pop()
    d2 = Deframer(max_record_len=100)
    d2.feed(rec(22, bytes(101)))
    with pytest.raises(RecordOverflow):
        d2.pop()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_raises_only_tlspipe_errors(data: bytes) -> None:
    d = Deframer()
    j = HandshakeJoiner(max_message_size=1000)
    try:
        d.feed(data)
        while (r := d.pop()) is not None:
            if r.content_type == 22 and r.payload:
                j.push(r.payload)
                while j.pop() is not None:
                    pass
    except Error:
        pass


# -- handshake joiner -------------------------------------------------------------------------
MSGS = [hs(1, b"a" * 500), hs(2, b""), hs(11, bytes(range(256)) * 100), hs(20, b"f" * 32)]
HS_STREAM = b"".join(MSGS)


def join(payloads: list[bytes], max_size: int = 65536) -> list[bytes]:
    j = HandshakeJoiner(max_size)
    out = []
    for p in payloads:
        j.push(p)
        while (m := j.pop()) is not None:
            out.append(m)
    assert j.is_empty() and len(j) == 0
    return out


def test_joiner_all_in_one() -> None:
    assert join([HS_STREAM]) == MSGS


def test_joiner_one_byte_records() -> None:
    assert join([HS_STREAM[i : i + 1] for i in range(len(HS_STREAM))]) == MSGS


def test_joiner_many_records_per_message() -> None:
    big = hs(11, bytes(60000))
    parts = [big[i : i + 1000] for i in range(0, len(big), 1000)]
    assert join(parts) == [big]


def test_joiner_many_messages_per_record() -> None:
    msgs = [hs(4, i.to_bytes(2, "big")) for i in range(1000)]
    assert join([b"".join(msgs)]) == msgs


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, len(HS_STREAM)), max_size=30))
def test_joiner_random_splits(cuts: list[int]) -> None:
    points = sorted({0, *cuts, len(HS_STREAM)})
    parts = [HS_STREAM[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]
    assert join(parts) == MSGS


def test_joiner_partial_not_empty() -> None:
    j = HandshakeJoiner()
    j.push(MSGS[0][:3])
    assert j.pop() is None and not j.is_empty()
    j.push(MSGS[0][3:] + MSGS[1][:2])
    assert j.pop() == MSGS[0]
    assert j.pop() is None and not j.is_empty()


def test_joiner_oversize_rejected_from_header() -> None:
    j = HandshakeJoiner(max_message_size=1000)
    j.push(hs(11, bytes(1000)))
    assert j.pop() == hs(11, bytes(1000))
    j = HandshakeJoiner(max_message_size=1000)
    with pytest.raises(DecodeError) as ei:
        j.push(b"\x0b\x00\x03\xe9")  # header alone announces 1001
    assert ei.value.alert == AlertDescription.illegal_parameter
    j = HandshakeJoiner()
    with pytest.raises(DecodeError):
        j.push(b"\x0b\xff\xff\xff")


def test_joiner_oversize_later_in_same_record() -> None:
    j = HandshakeJoiner(max_message_size=100)
    with pytest.raises(DecodeError):
        j.push(hs(1, b"ok") + b"\x0b\x00\x01\x00")  # second header announces 256
    j = HandshakeJoiner(max_message_size=100)
    j.push(hs(1, b"ok") + b"\x0b\x00")
    with pytest.raises(DecodeError):
        j.push(b"\x01\x00")  # header completes across records


def test_joiner_zero_length_record() -> None:
    j = HandshakeJoiner()
    with pytest.raises(DecodeError) as ei:
        j.push(b"")
    assert ei.value.alert == AlertDescription.unexpected_message
