"""Fast paths of record/send.py: one-fragment payloads, queued bytes kept as they are,
mutable buffers copied on push, views made only when handed out."""

from __future__ import annotations

from tlspipe.record.send import SendQueue, fragment


def test_single_fragment_is_the_whole_view() -> None:
    data = b"x" * 100
    parts = list(fragment(data, 2**14))
    assert len(parts) == 1 and parts[0].obj is data and parts[0].nbytes == 100
    parts = list(fragment(data, 100))
    assert [p.nbytes for p in parts] == [100]
    assert [p.nbytes for p in fragment(data, 99)] == [99, 1]


def test_mutable_buffer_is_copied_on_push() -> None:
    q = SendQueue()
    buf = bytearray(b"abc")
    q.push(buf)  # type: ignore[arg-type]  # callers must pass bytes; a bytearray is copied
    buf[0] = ord("z")
    assert q.take_all() == b"abc"


def test_pending_views_and_partial_head() -> None:
    q = SendQueue()
    a, b = b"a" * 10, b"b" * 5
    q.push(a)
    q.push(b)
    views = q.pending()
    assert all(isinstance(v, memoryview) for v in views)
    assert [bytes(v) for v in views] == [a, b]
    q.consume(4)
    assert [bytes(v) for v in q.pending()] == [a[4:], b]
    assert [bytes(v) for v in q.pending(max_chunks=1)] == [a[4:]]
    q.consume(6)
    assert q.take_all() is b  # a whole bytes chunk is handed back without a copy
    assert q.is_empty()
