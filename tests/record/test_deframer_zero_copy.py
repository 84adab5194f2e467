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


def _big(typ: int, size: int, fill: int) -> bytes:
    return _rec(
        typ, bytes((fill + i) % 256 for i in range(size)) if size < 64 else bytes([fill]) * size
    )


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(
        st.sampled_from((0, 1, 300, 5000, 16384, 16401, 16401 + 256)), min_size=1, max_size=8
    ),
    cuts=st.lists(st.integers(0, 8 * 16662), max_size=6),
    kinds=st.data(),
)
def test_large_pieces_after_a_cut_record_give_the_same_records(
    sizes: list[int], cuts: list[int], kinds: st.DataObject
) -> None:
    """Pieces of 2^14 octets or more that complete a buffered record (and bring as much
    again) are joined with it into one fed bytes object: the records are the same."""
    recs = [(23, bytes([i]) * n) for i, n in enumerate(sizes)]
    stream = b"".join(_rec(t, p) for t, p in recs)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    d = Deframer(max_record_len=2**14 + 2048)
    got: list[Record] = []
    for a, b in zip(points, points[1:]):
        piece = stream[a:b]
        kind = kinds.draw(st.sampled_from(("bytes", "bytes", "memoryview")))
        data = piece if kind == "bytes" else memoryview(bytearray(piece))
        off = 0
        while off < len(piece):  # offer the rest again after popping, as read_tls callers do
            took = d.feed(data[off:] if off else data)
            off += took
            while (r := d.pop()) is not None:
                got.append(r)
            assert took or d.pop() is None
    assert [(r.content_type, r.payload) for r in got] == recs
    assert d.is_empty() and len(d) == 0


def test_large_piece_completing_a_cut_record_is_joined() -> None:
    one, two, three = _big(23, 16401, 1), _big(23, 16401, 2), _big(23, 16401, 3)
    stream = one + two + three
    d = Deframer()
    assert d.feed(stream[:10000]) == 10000
    assert d.pop() is None and len(d.buf) == 10000  # the cut record went to the buffer
    rest = stream[10000:]
    assert d.feed(rest) == len(rest)
    assert not d.buf and len(d.fed) == len(stream)  # joined: one fed bytes object
    assert [r.payload for r in iter(d.pop, None)] == [
        bytes([1]) * 16401,
        bytes([2]) * 16401,
        bytes([3]) * 16401,
    ]
    assert d.is_empty()


def test_large_piece_not_joined_when_it_brings_too_little() -> None:
    one, two = _big(23, 16401, 1), _big(23, 16401, 2)
    stream = one + two
    d = Deframer()
    d.feed(stream[:2000])
    assert d.pop() is None
    assert d.feed(stream[2000:18000]) == 16000  # under 2^14: appended
    assert d.buf and not d.fed
    d = Deframer()
    d.feed(stream[:10000])
    assert d.pop() is None
    assert d.feed(stream[10000:32000]) == 22000  # 32000 < 2 * 16406 octets: appended
    assert d.buf and not d.fed
    assert d.pop() == Record(23, 0x0303, bytes([1]) * 16401)
    assert d.pop() is None
    assert d.feed(stream[32000:]) == len(stream) - 32000
    assert d.pop() == Record(23, 0x0303, bytes([2]) * 16401)
    assert d.is_empty()


def test_join_respects_the_bound() -> None:
    limit = HEADER_LEN + MAX_CIPHERTEXT_TLS12
    d = Deframer(max_buffer=limit)
    rec = _big(23, 16401, 7)
    d.feed(rec[:100])
    assert d.pop() is None
    big = rec[100:] + bytes(limit)
    took = d.feed(big)
    assert took == limit - 100 and len(d) == limit
    assert d.feed(b"x") == 0
    assert d.pop() == Record(23, 0x0303, bytes([7]) * 16401)
