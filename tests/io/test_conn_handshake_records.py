"""conn.py's handshake-record path: a record holding exactly one whole message skips the
joiner; every other shape goes through it.  Same messages, bounds, errors and alerts."""

from __future__ import annotations

import pytest

from tlspipe.conn import CommonState, Connection, Message, Side, State
from tlspipe.enums import AlertDescription
from tlspipe.errors import DecodeError, PeerMisbehaved
from tlspipe.msgs.message import HandshakeMessage


class Recorder:
    """A state that keeps every message it is handed."""

    def __init__(self) -> None:
        self.got: list[bytes] = []

    def handle(self, cx: CommonState, msg: Message) -> State:
        assert isinstance(msg, HandshakeMessage)
        self.got.append(msg.raw)
        return self


def _conn(max_msg: int = 65536) -> tuple[Connection, Recorder]:
    cx = CommonState(
        Side.SERVER, max_fragment_size=None, buffer_limit=1 << 16, max_handshake_message=max_msg
    )
    rec = Recorder()
    return Connection(cx, rec), rec


def _msg(n: int) -> bytes:
    return bytes((20,)) + n.to_bytes(3, "big") + bytes((i * 7) & 0xFF for i in range(n))


def _record(payload: bytes) -> bytes:
    return bytes((22, 3, 3)) + len(payload).to_bytes(2, "big") + payload


def test_one_whole_message_per_record() -> None:
    conn, rec = _conn()
    m1, m2 = _msg(32), _msg(48)
    conn.read_tls(_record(m1) + _record(m2))
    conn.process_new_packets()
    assert rec.got == [m1, m2]
    assert not conn._cx.joiner.pending


def test_several_messages_and_split_messages_still_join() -> None:
    conn, rec = _conn()
    m1, m2, m3 = _msg(32), _msg(40), _msg(100)
    conn.read_tls(_record(m1 + m2 + m3[:10]) + _record(m3[10:60]) + _record(m3[60:]))
    conn.process_new_packets()
    assert rec.got == [m1, m2, m3]
    assert not conn._cx.joiner.pending


@pytest.mark.parametrize("whole", [True, False])
def test_oversized_message_same_error_either_way(whole: bool) -> None:
    conn, rec = _conn(max_msg=100)
    m = _msg(101)
    data = _record(m) if whole else _record(m[:50]) + _record(m[50:])
    conn.read_tls(data)
    with pytest.raises(DecodeError) as ei:
        conn.process_new_packets()
    assert ei.value.alert == AlertDescription.illegal_parameter
    assert rec.got == []


def test_message_at_the_bound_is_taken_whole() -> None:
    conn, rec = _conn(max_msg=100)
    m = _msg(100)
    conn.read_tls(_record(m))
    conn.process_new_packets()
    assert rec.got == [m]


def test_header_length_mismatch_goes_through_the_joiner() -> None:
    conn, rec = _conn()
    m = _msg(32)
    conn.read_tls(_record(m[:-1]))  # one octet short: a partial message stays buffered
    conn.process_new_packets()
    assert rec.got == []
    assert conn._cx.joiner.pending
    conn.read_tls(_record(m[-1:]))
    conn.process_new_packets()
    assert rec.got == [m]


def test_key_change_with_a_message_left_in_the_record_is_refused() -> None:
    """RFC 8446 §5.1: set_tls13_decrypter still sees the rest of a multi-message record."""
    from tlspipe.crypto.default import TLS13_AES_128_GCM_SHA256

    class KeyChanger(Recorder):
        def handle(self, cx: CommonState, msg: Message) -> State:
            super().handle(cx, msg)
            cx.set_tls13_decrypter(TLS13_AES_128_GCM_SHA256, bytes(32))
            return self

    cx = CommonState(Side.SERVER, max_fragment_size=None, buffer_limit=1 << 16)
    st = KeyChanger()
    conn = Connection(cx, st)
    conn.read_tls(_record(_msg(32) + _msg(32)))
    with pytest.raises(PeerMisbehaved, match="spans a key change"):
        conn.process_new_packets()


@pytest.mark.parametrize("bound", [65536, 48, 47, 0])
def test_several_whole_messages_same_as_through_the_joiner(bound: int) -> None:
    """A record of whole messages only is split without the joiner: same messages, same
    error and alert as the joiner path (a second record pushed through the joiner)."""
    m1, m2, m3 = _msg(32), _msg(48), _msg(0)
    results = []
    for data in (_record(m1 + m2 + m3), _record(m1 + m2) + _record(m3)):
        conn, rec = _conn(max_msg=bound)
        conn.read_tls(data)
        try:
            conn.process_new_packets()
            results.append(("ok", rec.got, conn._cx.joiner.is_empty()))
        except DecodeError as e:
            results.append(("err", str(e), e.alert, rec.got))
    if results[0][0] == "ok":
        assert results[0] == ("ok", [m1, m2, m3], True)
        assert results[1] == results[0]
    else:
        assert results[0][1:] == results[1][1:]


def test_key_change_after_the_last_of_several_messages_is_allowed() -> None:
    from tlspipe.crypto.default import TLS13_AES_128_GCM_SHA256

    class KeyChangerOnLast(Recorder):
        def handle(self, cx: CommonState, msg: Message) -> State:
            super().handle(cx, msg)
            if len(self.got) == 3:
                cx.set_tls13_decrypter(TLS13_AES_128_GCM_SHA256, bytes(32))
            return self

    cx = CommonState(Side.SERVER, max_fragment_size=None, buffer_limit=1 << 16)
    st = KeyChangerOnLast()
    conn = Connection(cx, st)
    conn.read_tls(_record(_msg(32) + _msg(16) + _msg(8)))
    conn.process_new_packets()
    assert len(st.got) == 3
    assert cx.record_layer.is_decrypting


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_a_big_buffer_is_taken_in_part_without_copying_it_all(kind: type) -> None:
    """read_tls of a buffer larger than the deframer's bound takes a prefix, copying only
    that prefix (a caller feeding a big receive buffer piece by piece stays linear); the
    records come out the same as from bytes."""
    import tracemalloc

    records = b"".join(_record(_msg(1000)) for _ in range(1000))  # ~1 MB
    conn, rec = _conn()
    data = kind(records) if kind is bytearray else memoryview(bytearray(records))
    tracemalloc.start()
    try:
        n = conn.read_tls(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 0 < n < len(records)
    assert peak < len(records) // 4
    fed = n
    for _ in range(10_000):
        conn.process_new_packets()
        if fed == len(records):
            break
        fed += conn.read_tls(data[fed:])
    conn.process_new_packets()
    assert rec.got == [_msg(1000)] * 1000


@pytest.mark.parametrize("whole", [True, False])
def test_a_state_raising_mid_record_leaves_the_rest_buffered(whole: bool) -> None:
    """A state that raises (here: not a tlspipe.Error, as a plug-in might) on the first of
    several messages in one record: the messages after it stay buffered (held back to 0) and
    are handed out with the next record — the same whether the record held whole messages
    only (split in place) or went through the joiner."""

    class RaisesOnce(Recorder):
        def handle(self, cx: CommonState, msg: Message) -> State:
            if not self.got:
                self.got.append(b"")
                raise RuntimeError("a plug-in failed")
            return super().handle(cx, msg)

    cx = CommonState(
        Side.SERVER, max_fragment_size=None, buffer_limit=1 << 16, max_handshake_message=65536
    )
    rec = RaisesOnce()
    conn = Connection(cx, rec)
    payload = _msg(10) + _msg(20) + _msg(30)
    if not whole:
        payload += _msg(40)[:6]  # a cut message at the end: the joiner path
    conn.read_tls(_record(payload))
    with pytest.raises(RuntimeError):
        conn.process_new_packets()
    assert cx.joiner.held == 0 and not cx.joiner.is_empty()
    conn.read_tls(_record(_msg(40)[6:] * (not whole) + _msg(50)))
    conn.process_new_packets()
    assert rec.got[1:] == [_msg(20), _msg(30)] + [_msg(40)] * (not whole) + [_msg(50)]
