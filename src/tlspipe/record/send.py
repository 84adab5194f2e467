"""Record framing out: the fragmenter and the queue of protected records awaiting the socket.

- :func:`fragment` cuts plaintext into record-sized pieces (RFC 8446 §5.1: at most 2^14
  octets each, or the negotiated record_size_limit / max_fragment_length) as zero-copy
  ``memoryview`` slices.
- :class:`SendQueue` holds complete records as immutable chunks.  :meth:`SendQueue.pending`
  hands them all to one ``socket.sendmsg`` call (vectored write, no joining);
  :meth:`SendQueue.consume` drops what the socket took, partial records included;
  :meth:`SendQueue.take_all` joins once for callers that want one ``bytes``.

Only immutable ``bytes`` are queued, so the memoryviews handed out never pin a resizable
buffer.  Imports nothing from the rest of the package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

__all__ = ["IOV_MAX", "SendQueue", "fragment"]

IOV_MAX = 1024
"""Default cap on the number of chunks :meth:`SendQueue.pending` returns (Linux IOV_MAX)."""


def fragment(payload: bytes | memoryview, max_fragment: int) -> Iterator[memoryview]:
    """Split ``payload`` into slices of at most ``max_fragment`` octets, without copying.

    An empty payload yields nothing (callers that need an empty record make it themselves).

    Raises:
        ValueError: ``max_fragment`` outside 1..2^14 (a programming error).
    """
    if not 1 <= max_fragment <= 2**14:
        raise ValueError("max_fragment must be in 1..16384")
    mv = payload if isinstance(payload, memoryview) else memoryview(payload)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    n = mv.nbytes
    if n <= max_fragment:  # the common case: one fragment, no generator
        return iter((mv,) if n else ())
    return (mv[start : start + max_fragment] for start in range(0, n, max_fragment))


class SendQueue:
    """Protected records waiting to be written, as a list of chunks with a head index.

    ``len(queue)`` (or the ``nbytes`` attribute, read-only by convention, for hot paths) is
    the number of octets queued.  Chunks are the pushed ``bytes`` objects
    themselves (a partly consumed head becomes a ``memoryview`` slice); views are made only
    when :meth:`pending` hands them out.  A list rather than a ``deque``: an idle connection's
    empty list holds no item array, while a deque always keeps a ~0.5 KiB block.

    ``chunks`` (the list; consumed entries before the head index ``head`` are ``b""``; an
    empty list means an empty queue) and ``head`` are public for the connection's
    per-record paths only, which run :meth:`push` of a non-empty ``bytes`` record and
    :meth:`take_all` of a queue whose head index is 0 inline (``chunks.append`` +
    ``nbytes +=``; a join or the one ``bytes`` chunk, then ``chunks.clear()`` +
    ``nbytes = 0``).  A one-item list always has its head index at 0.
    """

    __slots__ = ("chunks", "head", "nbytes")

    def __init__(self) -> None:
        self.chunks: list[bytes | memoryview] = []
        self.head = 0  # index of the first live chunk; consumed ones are replaced by b""
        self.nbytes = 0

    def __len__(self) -> int:
        """Octets queued."""
        return self.nbytes

    def __repr__(self) -> str:
        return f"SendQueue(chunks={len(self.chunks) - self.head}, bytes={self.nbytes})"

    def is_empty(self) -> bool:
        """True when nothing is queued."""
        return not self.nbytes

    def push(self, record: bytes) -> None:
        """Queue one complete record (or any bytes); empty input is ignored."""
        if record:
            if type(record) is not bytes:  # never queue a mutable buffer
                record = bytes(record)
            self.chunks.append(record)
            self.nbytes += len(record)

    def pending(self, max_chunks: int = IOV_MAX) -> list[memoryview]:
        """The queued chunks in order, at most ``max_chunks`` of them, for ``sendmsg``.

        The views stay valid after :meth:`consume`; they must not be kept past the write.
        """
        head = self.head
        live = self.chunks[head : head + max_chunks]
        return [c if isinstance(c, memoryview) else memoryview(c) for c in live]

    def consume(self, n: int) -> None:
        """Drop the first ``n`` octets (what the socket accepted).

        Raises:
            ValueError: ``n`` negative or more than is queued (a programming error).
        """
        if n < 0 or n > self.nbytes:
            raise ValueError(f"consume({n}) with {self.nbytes} octets queued")
        self.nbytes -= n
        chunks = self.chunks
        head = self.head
        while n:
            first = chunks[head]
            k = len(first)
            if n >= k:
                chunks[head] = b""
                head += 1
                n -= k
            else:
                mv = first if isinstance(first, memoryview) else memoryview(first)
                chunks[head] = mv[n:]
                n = 0
        if head == len(chunks):
            chunks.clear()
            head = 0
        self.head = head

    def take_all(self) -> bytes:
        """Everything queued as one ``bytes`` (one join); the queue is left empty."""
        chunks = self.chunks
        head = self.head
        live = len(chunks) - head
        if live == 1:
            first = chunks[head]
            out = first if isinstance(first, bytes) else first.tobytes()
        elif live == 0:
            out = b""
        else:
            out = b"".join(chunks[head:] if head else chunks)
        chunks.clear()
        self.head = 0
        self.nbytes = 0
        return out

    def write_to(self, sendmsg: Callable[[list[memoryview]], int]) -> int:
        """One vectored write: ``sendmsg(self.pending())``, then consume what it took.

        ``sendmsg`` is typically ``socket.sendmsg``; exceptions it raises (``BlockingIOError``
        …) propagate and leave the queue unchanged.

        Returns:
            Octets written (0 when the queue was empty; ``sendmsg`` is then not called).
        """
        if not self.nbytes:
            return 0
        n = sendmsg(self.pending())
        self.consume(n)
        return n
