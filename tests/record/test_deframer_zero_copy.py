"""The deframer's zero-copy path (a ``bytes`` object fed into an empty buffer is kept as it is
and records are sliced out of it) behaves exactly like the copying path, for any split of the
stream into ``bytes``/``bytearray``/``memoryview`` pieces, and keeps its bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlspipe.errors import DecodeError, RecordOverflow
from tlspipe.record.deframer import HEADER_LEN, MAX_CIPHERTEXT_TLS12, Deframer, Record


def _rec(typ: int, payload: bytes) -> bytes:
    return Record(typ, 0x0303, payload).encode()


records = st.lists(
    st.tuples(st.sampled_from((20, 21, 22, 23)), st.binary(max_size=300)), min_size=1, max_size=8
)


@settings(max_examples=150, deadline=None)
@given(recs=records, cuts=st.lists(st.integers(0, 3000), max_size=6), kinds=st.data())
def test_any_split_any_buffer_type_gives_the_same_records(
    recs: list[tuple[int, bytes]], cuts: list[int], kinds: st.DataObject
) -> None:
    stream = b"".join(_rec(t, p) for t, p in recs)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    d = Deframer()
    got: list[Record] = []
    for a, b in zip(points, points[1:]):
        piece = stream[a:b]
        kind = kinds.draw(st.sampled_from(("bytes", "bytearray", "memoryview")))
        data: bytes | bytearray | memoryview = (
            piece
            if kind == "bytes"
            else bytearray(piece)
            if kind == "bytearray"
            else memoryview(bytearray(piece))
        )
        assert d.feed(data) == len(piece)
        while (r := d.pop()) is not None:
            got.append(r)
    assert [(r.content_type, r.payload) for r in got] == recs
    assert all(type(r.payload) is bytes for r in got)
    assert d.is_empty() and len(d) == 0


def test_bytes_fed_whole_are_not_copied_until_a_tail_remains() -> None:
    d = Deframer()
    one, two = _rec(23, b"a" * 100), _rec(23, b"b" * 50)
    data = one + two + two[:3]
    assert d.feed(data) == len(data)
    assert len(d) == len(data)
    assert d.pop() == Record(23, 0x0303, b"a" * 100)
    assert len(d) == len(two) + 3
    assert d.pop() == Record(23, 0x0303, b"b" * 50)
    assert d.pop() is None  # the 3-octet tail moved to the buffer
    assert len(d) == 3 and not d.is_empty()
    assert d.feed(two[3:]) == len(two) - 3
    assert d.pop() == Record(23, 0x0303, b"b" * 50)
    assert d.pop() is None and d.is_empty()


def test_later_feed_appends_after_kept_bytes() -> None:
    d = Deframer()
    one, two = _rec(22, b"x" * 10), _rec(21, b"\x01\x00")
    assert d.feed(one[:7]) == 7  # kept
    assert d.feed(one[7:] + two) == len(one) - 7 + len(two)  # spilled, then appended
    assert d.pop() == Record(22, 0x0303, b"x" * 10)
    assert d.pop() == Record(21, 0x0303, b"\x01\x00")
    assert d.pop() is None


def test_bound_counts_kept_bytes() -> None:
    limit = HEADER_LEN + MAX_CIPHERTEXT_TLS12
    d = Deframer(max_buffer=limit)
    first = bytes((23, 3, 3)) + (100).to_bytes(2, "big")
    assert d.feed(first) == 5
    assert d.space() == limit - 5
    big = bytes(limit)
    assert d.feed(big) == limit - 5
    assert d.space() == 0
    assert d.feed(b"more") == 0


def test_bad_header_in_kept_bytes_is_rejected() -> None:
    d = Deframer()
    d.feed(bytes((99, 3, 3, 0, 1, 0)))
    with pytest.raises(DecodeError):
        d.pop()
    d = Deframer()
    d.feed(bytes((23, 3, 3, 0xFF, 0xFF)) + bytes(10))
    with pytest.raises(RecordOverflow):
        d.pop()
    d = Deframer()
    d.feed(bytes((23, 2)))  # partial header, already wrong
    with pytest.raises(DecodeError):
        d.pop()
