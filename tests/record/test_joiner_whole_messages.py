"""HandshakeJoiner.whole_messages (the connection's path for a record of several whole
handshake messages) hands out exactly what push() then pop() would, for valid, mutated and
truncated records: the same messages in the same order, or None where push() would keep a
partial message, and the same DecodeError message and alert where push() raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlspipe.errors import DecodeError
from tlspipe.record.deframer import HandshakeJoiner


def _msg(typ: int, n: int) -> bytes:
    return bytes((typ,)) + n.to_bytes(3, "big") + bytes((i * 13 + typ) & 0xFF for i in range(n))


def _reference(payload: bytes, bound: int) -> tuple[str, object]:
    """push() then pop() until None: ("msgs", (messages, nothing left?)) or
    ("err", (text, alert))."""
    j = HandshakeJoiner(bound)
    try:
        j.push(payload)
    except DecodeError as e:
        return "err", (str(e), e.alert)
    out = []
    while (m := j.pop()) is not None:
        out.append(m)
    return "msgs", (out, not j.pending)


def _fast(payload: bytes, bound: int) -> tuple[str, object] | None:
    j = HandshakeJoiner(bound)
    try:
        ends = j.whole_messages(payload)
    except DecodeError as e:
        return "err", (str(e), e.alert)
    if ends is None:
        return None
    msgs, start = [], 0
    for end in ends:
        msgs.append(payload[start:end])
        start = end
    assert all(type(m) is bytes for m in msgs)
    return "msgs", (msgs, True)


def _check(payload: bytes, bound: int) -> None:
    ref = _reference(payload, bound)
    fast = _fast(payload, bound)
    if fast is None:  # the caller then push()es: only where a partial message stays
        if not payload:  # (or an empty record, which push() refuses)
            assert ref[0] == "err"
        else:
            assert ref[0] == "msgs"
            assert ref[1][1] is False  # type: ignore[index]
    else:
        assert fast == ref


FLIGHT = _msg(8, 2) + _msg(11, 900) + _msg(15, 74) + _msg(20, 32)


@pytest.mark.parametrize("bound", [65536, 900, 899, 74, 0])
def test_valid_flight(bound: int) -> None:
    _check(FLIGHT, bound)


def test_every_truncation_and_extension() -> None:
    for cut in range(len(FLIGHT) + 1):
        _check(FLIGHT[:cut], 65536)
        _check(FLIGHT[:cut], 100)
    _check(FLIGHT + b"\x14", 65536)
    _check(FLIGHT + b"\x14\x00\x00", 65536)


def test_every_length_octet_mutated() -> None:
    offsets, at = [], 0
    while at < len(FLIGHT):
        offsets += [at + 1, at + 2, at + 3]
        at += 4 + int.from_bytes(FLIGHT[at + 1 : at + 4], "big")
    for off in offsets:
        for v in (0, 1, 0x7F, 0xFF):
            mutated = FLIGHT[:off] + bytes((v,)) + FLIGHT[off + 1 :]
            _check(mutated, 65536)
            _check(mutated, 900)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=40))
def test_random_payloads(payload: bytes, bound: int) -> None:
    _check(payload, bound)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 255), st.integers(0, 40)), min_size=1, max_size=6),
    st.integers(0, 40),
)
def test_random_flights(shapes: list[tuple[int, int]], bound: int) -> None:
    _check(b"".join(_msg(t, n) for t, n in shapes), bound)


def test_held_counts_for_is_empty() -> None:
    j = HandshakeJoiner()
    assert j.is_empty()
    j.held = 10
    assert not j.is_empty()
    j.held = 0
    assert j.is_empty()
