"""TLS 1.2 messages and values the handshake builds without the general encoders are
byte-for-byte what those encoders give."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlspipe.errors import DecodeError
from tlspipe.msgs.handshake import NewSessionTicket12
from tlspipe.msgs.message import encode_handshake
from tlspipe.msgs.persist import Tls12ServerSessionValue
from tlspipe.server import tls12


@pytest.mark.parametrize("hint", [0, 1, 7200, 604800, 0xFFFFFFFF])
@pytest.mark.parametrize("ticket", [b"", b"t", os.urandom(190), os.urandom(0xFFFF)])
def test_new_session_ticket12_bytes_match_the_encoder(hint: int, ticket: bytes) -> None:
    want = encode_handshake(NewSessionTicket12(ticket_lifetime_hint=hint, ticket=ticket))
    assert tls12._new_session_ticket(hint, ticket) == want


def test_new_session_ticket12_too_long_fails_like_the_encoder() -> None:
    ticket = bytes(0x10000)
    with pytest.raises(OverflowError):
        encode_handshake(NewSessionTicket12(ticket_lifetime_hint=1, ticket=ticket))
    with pytest.raises(OverflowError):
        tls12._new_session_ticket(1, ticket)


_VALUES = [
    Tls12ServerSessionValue(0xC02B, b"m" * 48, True, "a.example", b"h2", (b"c1", b"c2"), 7),
    Tls12ServerSessionValue(0xC02F, b"m" * 48, False, None, None, (), 0),
    Tls12ServerSessionValue(0xC02B, b"m" * 48, True, "a.example", None, (), 2**63),
]


@pytest.mark.parametrize("value", _VALUES)
def test_server_value_encoding_is_canonical(value: Tls12ServerSessionValue) -> None:
    """A resumed session's ticket is resealed from the bytes it was opened from: whatever
    decodes re-encodes to exactly those bytes (here every bit flip of a valid value)."""
    enc = value.encode()
    assert Tls12ServerSessionValue.decode(enc).encode() == enc
    for pos in range(len(enc)):
        for bit in range(8):
            flipped = bytearray(enc)
            flipped[pos] ^= 1 << bit
            with contextlib.suppress(DecodeError):
                got = Tls12ServerSessionValue.decode(bytes(flipped))
                assert got.encode() == bytes(flipped)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_server_value_encoding_is_canonical_on_garbage(data: bytes) -> None:
    data = b"\x21" + data
    with contextlib.suppress(DecodeError):
        assert Tls12ServerSessionValue.decode(data).encode() == data


def test_resumable_session_repr_hides_its_encoding() -> None:
    """The server's session-to-resume carries the encoded session (master secret inside): its
    repr names the length only."""
    from tlspipe.server.tls12 import _Resumable

    plain = b"SECRET" * 8
    text = repr(_Resumable(None, plain, None))  # type: ignore[arg-type]
    assert "SECRET" not in text and "48 octets" in text
