"""fragment() and SendQueue: zero-copy slicing, partial consumption, vectored writes."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlspipe.record.send import SendQueue, fragment


def test_fragment_sizes_and_zero_copy() -> None:
    data = bytes(range(256)) * 200  # 51200
    parts = list(fragment(data, 2**14))
    assert [len(p) for p in parts] == [16384, 16384, 16384, 2048]
    assert b"".join(parts) == data
    assert all(p.obj is data for p in parts)
    assert list(fragment(b"", 100)) == []
    assert [bytes(p) for p in fragment(memoryview(b"abcde"), 2)] == [b"ab", b"cd", b"e"]
    for bad in (0, -1, 2**14 + 1):
        with pytest.raises(ValueError):
            list(fragment(data, bad))


def test_fragment_non_byte_memoryview() -> None:
    import array

    a = array.array("I", range(10))
    parts = list(fragment(memoryview(a), 7))
    assert b"".join(parts) == a.tobytes()


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=5000), st.integers(1, 2**14))
def test_fragment_property(data: bytes, size: int) -> None:
    parts = list(fragment(data, size))
    assert b"".join(parts) == data
    assert all(1 <= len(p) <= size for p in parts)


def test_queue_basic() -> None:
    q = SendQueue()
    assert q.is_empty() and len(q) == 0 and q.take_all() == b""
    q.push(b"")
    assert q.is_empty()
    a, b, c = b"a" * 10, b"b" * 20, b"c" * 5
    for x in (a, b, c):
        q.push(x)
    assert len(q) == 35
    assert [bytes(v) for v in q.pending()] == [a, b, c]
    q.consume(15)
    assert len(q) == 20
    assert [bytes(v) for v in q.pending()] == [b"b" * 15, c]
    q.consume(0)
    with pytest.raises(ValueError):
        q.consume(21)
    with pytest.raises(ValueError):
        q.consume(-1)
    assert q.take_all() == b"b" * 15 + c
    assert q.is_empty()


def test_take_all_single_chunk_no_copy() -> None:
    q = SendQueue()
    rec = b"\x17\x03\x03\x00\x01x"
    q.push(rec)
    assert q.take_all() is rec
    q.push(rec)
    q.consume(2)
    assert q.take_all() == rec[2:]


def test_pending_max_chunks() -> None:
    q = SendQueue()
    for i in range(3000):
        q.push(bytes((i & 0xFF,)) * 3)
    assert len(q.pending()) == 1024
    assert len(q.pending(10)) == 10
    assert len(q) == 9000


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=50), max_size=20), st.data())
def test_queue_partial_consumes(chunks: list[bytes], data: st.DataObject) -> None:
    q = SendQueue()
    for c in chunks:
        q.push(c)
    expected = b"".join(chunks)
    got = b""
    while not q.is_empty():
        n = data.draw(st.integers(0, len(q)))
        got += b"".join(q.pending())[:n]
        q.consume(n)
        assert len(q) == len(expected) - len(got)
    assert got == expected


def test_write_to_socketpair() -> None:
    a, b = socket.socketpair()
    try:
        q = SendQueue()
        records = [bytes((i,)) * 1000 for i in range(50)]
        for r in records:
            q.push(r)
        total = 0
        while not q.is_empty():
            total += q.write_to(a.sendmsg)
        assert total == 50_000
        assert q.write_to(a.sendmsg) == 0
        received = b""
        while len(received) < total:
            received += b.recv(65536)
        assert received == b"".join(records)
    finally:
        a.close()
        b.close()
