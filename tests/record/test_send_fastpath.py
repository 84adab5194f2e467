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


def _states(kind: str, max_fragment: int | None) -> tuple[object, object]:
    """Two CommonStates with the same write keys (``kind``: plaintext, tls13, tls12gcm,
    tls12chacha)."""
    from tlspipe.conn import CommonState, Side
    from tlspipe.crypto.default import (
        TLS13_AES_128_GCM_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    )
    from tlspipe.record.layer import Tls12ChaChaEncrypter, Tls12GcmEncrypter

    out = []
    for _ in range(2):
        cx = CommonState(Side.CLIENT, max_fragment_size=max_fragment, buffer_limit=1 << 20)
        if kind == "tls13":
            cx.set_tls13_encrypter(TLS13_AES_128_GCM_SHA256, bytes(range(32)))
        elif kind == "tls12gcm":
            alg = TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256.aead
            cx.record_layer.set_encrypter(
                Tls12GcmEncrypter.from_key(alg, bytes(16), b"abcd", b"01234567")
            )
        elif kind == "tls12chacha":
            alg = TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256.aead
            cx.record_layer.set_encrypter(Tls12ChaChaEncrypter.from_key(alg, bytes(32), bytes(12)))
        out.append(cx)
    return out[0], out[1]


def test_one_record_send_matches_the_fragmenting_path() -> None:
    """``send_raw_record`` of a ``bytes`` payload that fits one record (sealed as it is) gives
    the records the fragmenting path gives for the same payload as a memoryview, under every
    kind of write keys, sizes at and around the fragment bound, and the same errors."""
    import pytest

    from tlspipe.errors import Error

    for kind in ("plaintext", "tls13", "tls12gcm", "tls12chacha"):
        for max_fragment in (None, 512):
            bound = max_fragment or 2**14
            for n in (0, 1, 100, bound - 1, bound, bound + 1, 2 * bound + 3):
                a, b = _states(kind, max_fragment)
                payload = bytes((i * 7) % 256 for i in range(n))
                for typ in (22, 21, 23):
                    a.send_raw_record(typ, payload)  # type: ignore[attr-defined]
                    b.send_raw_record(typ, memoryview(payload))  # type: ignore[attr-defined]
                assert a.sendq.take_all() == b.sendq.take_all(), (kind, max_fragment, n)  # type: ignore[attr-defined]
    # the sending key's limit is enforced on the one-record path too
    a, _ = _states("tls13", None)
    layer = a.record_layer  # type: ignore[attr-defined]
    layer._write_seq = layer._enc_hard
    with pytest.raises(Error):
        a.send_raw_record(22, b"x")  # type: ignore[attr-defined]
