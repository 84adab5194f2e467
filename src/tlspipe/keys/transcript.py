"""The handshake transcript (RFC 8446 §4.4.1; RFC 5246 §7.4.8/§7.4.9).

A :class:`Transcript` is created before the cipher suite (hence the hash) is known: it buffers
the raw handshake messages (4-byte header included) until :meth:`Transcript.start_hash`.  It
keeps the raw buffer as well (TLS 1.2 client CertificateVerify signs the whole handshake, with
a hash chosen by the signature scheme) until :meth:`Transcript.drop_buffer`.

HelloRetryRequest: :meth:`Transcript.rollup_for_hrr` replaces ClientHello1 by the synthetic
``message_hash`` message (``fe 00 00 Hash.length || Hash(ClientHello1)``).

Layering: imports :mod:`tlspipe.errors` and :mod:`tlspipe.crypto.hashing`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from ..crypto.hashing import hash_new
from ..enums import HandshakeType
from ..errors import InternalError

__all__ = ["Transcript"]


class Transcript:
    """Running handshake hash plus (optionally) the raw message buffer.

    ``add(raw)`` appends one raw handshake message (header included) and raises nothing.  It
    is an attribute, not a method, set whenever the hash or the buffer changes: the buffer's
    ``extend`` before the hash starts, the hash's own ``update`` once the buffer is dropped
    (most messages: no Python frame per message), or else a function feeding both.
    """

    __slots__ = ("_buffer", "_ctx", "_hash_name", "_keep_buffer", "add")

    add: Callable[[bytes], object]

    def __init__(self) -> None:
        buf = bytearray()
        self._buffer: bytearray | None = buf
        self.add = buf.extend
        self._keep_buffer = True
        self._ctx: hashlib._Hash | None = None
        self._hash_name: str | None = None

    def __repr__(self) -> str:
        return f"Transcript(hash={self._hash_name!r})"

    @property
    def hash_name(self) -> str | None:
        """The hash in use, or None before :meth:`start_hash`."""
        return self._hash_name

    def start_hash(self, hash_name: str) -> None:
        """Choose the hash and feed it everything buffered so far.

        Calling it again with the same hash is a no-op.

        Raises:
            InternalError: a different hash was already started (a bug).
        """
        if self._ctx is not None:
            if hash_name != self._hash_name:
                raise InternalError("transcript hash already started with another hash")
            return
        self._hash_name = hash_name
        ctx = self._ctx = hash_new(hash_name)
        buf = self._buffer
        if buf:
            ctx.update(bytes(buf))
        if not self._keep_buffer or buf is None:
            self._buffer = None
            self.add = ctx.update
        else:
            self.add = _feed_both(ctx.update, buf.extend)

    def current_hash(self) -> bytes:
        """Hash of all messages so far (the transcript stays open).

        Raises:
            InternalError: the hash has not been started.
        """
        if self._ctx is None:
            raise InternalError("transcript hash not started")
        return self._ctx.copy().digest()

    def hash_of_buffer_plus(self, raw: bytes, hash_name: str | None = None) -> bytes:
        """``Hash(messages so far || raw)`` without adding ``raw`` (PSK binders, RFC 8446
        §4.2.11.2: ``raw`` is the truncated ClientHello).

        Before :meth:`start_hash` the buffer is hashed with ``hash_name`` (required then).

        Raises:
            InternalError: no hash known, the buffer was dropped, or ``hash_name`` differs
                from the started hash.
        """
        if self._ctx is not None:
            if hash_name is not None and hash_name != self._hash_name:
                raise InternalError("binder hash differs from the transcript hash")
            ctx = self._ctx.copy()
        else:
            if hash_name is None or self._buffer is None:
                raise InternalError("transcript hash unknown")
            ctx = hash_new(hash_name)
            ctx.update(bytes(self._buffer))
        ctx.update(raw)
        return ctx.digest()

    def rollup_for_hrr(self) -> None:
        """Replace the transcript so far (ClientHello1) with ``message_hash`` (RFC 8446
        §4.4.1).  Call it after :meth:`start_hash` and before adding the HelloRetryRequest.

        Raises:
            InternalError: the hash has not been started.
        """
        if self._ctx is None or self._hash_name is None:
            raise InternalError("transcript hash not started")
        digest = self._ctx.digest()
        synthetic = bytes((HandshakeType.message_hash, 0, 0, len(digest))) + digest
        ctx = self._ctx = hash_new(self._hash_name)
        ctx.update(synthetic)
        if self._buffer is None:
            self.add = ctx.update
        else:
            buf = self._buffer = bytearray(synthetic)
            self.add = _feed_both(ctx.update, buf.extend)

    def buffer(self) -> bytes:
        """All raw messages so far (TLS 1.2 client CertificateVerify, RFC 5246 §7.4.8).

        Raises:
            InternalError: the buffer was dropped.
        """
        if self._buffer is None:
            raise InternalError("transcript buffer was dropped")
        return bytes(self._buffer)

    def drop_buffer(self) -> None:
        """Stop keeping raw messages (once client auth is ruled out); the buffer is kept
        until the hash starts if that has not happened yet.

        Raises:
            Nothing.
        """
        self._keep_buffer = False
        ctx = self._ctx
        if ctx is not None:
            self._buffer = None
            self.add = ctx.update


def _feed_both(
    update: Callable[[bytes], None], extend: Callable[[bytes], None]
) -> Callable[[bytes], None]:
    def add(raw: bytes) -> None:
        update(raw)
        extend(raw)

    return add
