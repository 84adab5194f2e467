"""The client-side decoder fast paths give exactly what the checked code gives: the TLS 1.3
ServerHello read in place (:func:`tlspipe.msgs.hello._fast_server_hello13`) against the
Reader-based decoder, and remembered EncryptedExtensions against a fresh decoding — the same
values for any input that decodes, the same DecodeError message and alert for any that does
not, on valid, mutated and cut messages."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlspipe.errors import DecodeError
from tlspipe.msgs import extensions as ext_mod
from tlspipe.msgs.codec import Reader
from tlspipe.msgs.extensions import (
    HelloRetryExtensions,
    KeyShareEntry,
    NewSessionTicketExtensions,
    ServerEncryptedExtensions,
    ServerExtensions,
)
from tlspipe.msgs.handshake import (
    CertificateVerify,
    EncryptedExtensions,
    Finished,
    NewSessionTicket13,
)
from tlspipe.msgs.hello import (
    HRR_RANDOM,
    HelloRetryRequest,
    ServerHello,
    _decode_server_hello_checked,
    _fast_server_hello13,
    decode_server_hello,
    encode_server_hello13,
)
from tlspipe.msgs.message import decode_handshake, encode_handshake


def _outcome(fn: Any, body: bytes, what: str = "server_hello") -> tuple[str, Any, Any]:
    """``fn``'s value on a Reader over ``body`` (all of it read), or its error and alert."""
    r = Reader(body, what)
    try:
        value = fn(r)
        r.expect_empty()
        return ("ok", value, None)
    except DecodeError as e:
        return ("error", str(e), e.alert)


def _same(body: bytes) -> None:
    assert _outcome(decode_server_hello, body) == _outcome(_decode_server_hello_checked, body)
    # the fast path either decodes as the checked code or leaves the reader untouched
    r = Reader(body, "server_hello")
    fast = _fast_server_hello13(r)
    if fast is None:
        assert r.remaining() == len(body)
    else:
        assert _outcome(_decode_server_hello_checked, body) == ("ok", fast, None)


def _sh(sid: bytes, exts: ServerExtensions, *, random: bytes | None = None) -> bytes:
    sh = ServerHello(0x0303, random or os.urandom(32), sid, 0x1301, 0, exts)
    return encode_handshake(sh)[4:]


def _exts(**kw: Any) -> ServerExtensions:
    base: dict[str, Any] = {
        "supported_versions": 0x0304,
        "key_share": KeyShareEntry(29, os.urandom(32)),
    }
    return ServerExtensions(**{**base, **kw})


SAMPLES = [
    encode_server_hello13(os.urandom(32), b"", 0x1301, 29, os.urandom(32), None)[4:],
    encode_server_hello13(os.urandom(32), bytes(range(32)), 0x1302, 29, os.urandom(32), 0)[4:],
    encode_server_hello13(os.urandom(32), b"\x01", 0x1303, 0x11EC, os.urandom(1120), 3)[4:],
    _sh(b"", _exts(pre_shared_key=0xFFFF)),
    _sh(b"", ServerExtensions(key_share=KeyShareEntry(23, b"\x04"))),
    _sh(b"", ServerExtensions(supported_versions=0x0303)),
    _sh(b"", _exts(alpn=b"h2")),  # not allowed in TLS 1.3, decoded all the same
    _sh(b"", _exts(unknown=((0xFFFF, b"x"),))),
    _sh(b"", _exts(extended_master_secret=True, renegotiation_info=b"")),
    _sh(b"", ServerExtensions()),
    encode_handshake(
        HelloRetryRequest(
            0x0303, b"", 0x1301, HelloRetryExtensions(selected_group=23, supported_versions=0x0304)
        )
    )[4:],
    encode_handshake(ServerHello(0x0303, os.urandom(32), b"", 0xC02F, 0, ServerExtensions()))[
        4:-2
    ],  # TLS 1.2, no extensions vector at all
]


def _with_ext_list(prefix_len: int, exts: bytes) -> bytes:
    body = SAMPLES[0][:prefix_len]
    return body + len(exts).to_bytes(2, "big") + exts


_PREFIX = 2 + 32 + 1 + 2 + 1
BAD = [
    b"",
    SAMPLES[0][:10],
    SAMPLES[0][:_PREFIX],
    SAMPLES[0][:_PREFIX] + b"\x00",
    SAMPLES[0] + b"\x00",
    SAMPLES[0][:-1],
    _with_ext_list(_PREFIX, b"\x00\x2b\x00\x02\x03\x04\x00\x2b\x00\x02\x03\x04"),  # duplicate
    _with_ext_list(_PREFIX, b"\x00\x2b\x00\x03\x03\x04\x00"),  # long supported_versions
    _with_ext_list(_PREFIX, b"\x00\x2b\x00\x01\x03"),  # short supported_versions
    _with_ext_list(_PREFIX, b"\x00\x29\x00\x01\x00"),  # short pre_shared_key
    _with_ext_list(_PREFIX, b"\x00\x33\x00\x04\x00\x1d\x00\x00"),  # empty key_exchange
    _with_ext_list(_PREFIX, b"\x00\x33\x00\x05\x00\x1d\x00\x02\x01"),  # key_exchange cut
    _with_ext_list(_PREFIX, b"\x00\x33\x00\x06\x00\x1d\x00\x01\x01\x00"),  # trailing octet
    _with_ext_list(_PREFIX, b"\x00\x33\x00\x03\x00\x1d\x00"),
    _with_ext_list(_PREFIX, b"\x00\x2b\x00"),  # extension header cut
    _with_ext_list(_PREFIX, b"\x00\x2b\x00\x09\x03\x04"),  # body past the end
    bytes((3, 3)) + bytes(32) + b"\x21" + bytes(33) + b"\x13\x01\x00\x00\x00",  # sid of 33
    bytes((3, 3)) + HRR_RANDOM + b"\x00\x13\x01\x01" + b"\x00\x06\x00\x2b\x00\x02\x03\x04",
]


@pytest.mark.parametrize("body", SAMPLES)
def test_valid_server_hellos_decode_as_the_checked_code(body: bytes) -> None:
    _same(body)
    ok, value, _ = _outcome(decode_server_hello, body)
    assert ok == "ok"
    if isinstance(value, ServerHello) and value.extensions != ServerExtensions():
        assert encode_handshake(value)[4:] == body


def test_the_usual_server_hello_takes_the_fast_path() -> None:
    for body in SAMPLES[:6]:
        assert _fast_server_hello13(Reader(body)) is not None
    for body in SAMPLES[6:]:
        assert _fast_server_hello13(Reader(body)) is None
    hrr = _outcome(decode_server_hello, SAMPLES[10])[1]
    assert isinstance(hrr, HelloRetryRequest)


@pytest.mark.parametrize("body", BAD)
def test_malformed_server_hellos_fail_alike(body: bytes) -> None:
    _same(body)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SAMPLES + BAD[4:]),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=3),
)
def test_mutated_server_hellos_fail_or_decode_alike(
    body: bytes, edits: list[tuple[int, int]]
) -> None:
    b = bytearray(body)
    for pos, val in edits:
        b[pos % len(b)] = val
    _same(bytes(b))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SAMPLES), st.integers(0, 10_000), st.binary(max_size=8))
def test_cut_or_grown_server_hellos_fail_or_decode_alike(
    body: bytes, at: int, extra: bytes
) -> None:
    at %= len(body) + 1
    _same(body[:at])
    _same(body[:at] + extra + body[at:])


def test_handshake_decoding_uses_the_fast_path_result() -> None:
    body = SAMPLES[1]
    raw = b"\x02" + len(body).to_bytes(3, "big") + body
    assert decode_handshake(raw, tls13=True).body == _decode_server_hello_checked(Reader(body))


# -- EncryptedExtensions: remembered decodings ------------------------------------------------
def _ee_fresh(body: bytes) -> tuple[str, Any, Any]:
    r = Reader(body, "encrypted_extensions")
    try:
        exts = ServerEncryptedExtensions.decode(r)
        r.expect_empty()
        return ("ok", EncryptedExtensions(exts), None)
    except DecodeError as e:
        return ("error", str(e), e.alert)


def _ee_new(body: bytes) -> tuple[str, Any, Any]:
    try:
        return ("ok", decode_handshake(_ee_raw(body), tls13=True).body, None)
    except DecodeError as e:
        return ("error", str(e), e.alert)


def _ee_raw(body: bytes) -> bytes:
    return b"\x08" + len(body).to_bytes(3, "big") + body


EE_SAMPLES = [
    encode_handshake(EncryptedExtensions(ServerEncryptedExtensions(**kw)))[4:]
    for kw in (
        {},
        {"server_name": True},
        {"alpn": b"h2", "server_name": True},
        {"early_data": True, "alpn": b"http/1.1"},
        {"supported_groups": (29, 23), "record_size_limit": 0x4001},
        {"unknown": ((0x39, b"params"),)},
    )
]


@pytest.mark.parametrize("body", EE_SAMPLES)
def test_encrypted_extensions_remembered_equal_fresh(body: bytes) -> None:
    _whole().clear()
    first = _ee_new(body)
    second = _ee_new(body)  # the container from the cache
    assert first == second == _ee_fresh(body)
    if body[:2] != b"\x00\x00":  # (an empty list is one shared container anyway)
        assert first[1].extensions is second[1].extensions


def _whole() -> dict[bytes, Any]:
    whole = ServerEncryptedExtensions._WHOLE
    assert whole is not None
    return whole


def test_encrypted_extensions_cache_is_bounded() -> None:
    _whole().clear()
    for i in range(100):
        _ee_new(
            encode_handshake(
                EncryptedExtensions(
                    ServerEncryptedExtensions(unknown=((0x39, i.to_bytes(2, "big")),))
                )
            )[4:]
        )
        assert len(_whole()) <= ext_mod._MEMO_MAX


# -- NewSessionTicket (TLS 1.3): a ticket without extensions read in place ---------------------
def _nst_outcome(fn: Any, body: bytes) -> tuple[str, Any, Any]:
    return _outcome(fn, body, "new_session_ticket")


def _nst_same(body: bytes) -> None:
    assert _nst_outcome(NewSessionTicket13.decode, body) == _nst_outcome(
        NewSessionTicket13._decode_checked, body
    )


NST_SAMPLES = [
    encode_handshake(
        NewSessionTicket13(life, add, nonce, ticket, NewSessionTicketExtensions(**kw))
    )[4:]
    for life, add, nonce, ticket, kw in (
        (7200, 0x12345678, b"\x00", os.urandom(120), {}),
        (0, 0, b"", b"t", {}),
        (0xFFFFFFFF, 0xFFFFFFFF, bytes(255), os.urandom(0xFFFF - 300), {}),
        (7200, 1, b"\x01", os.urandom(64), {"early_data": 16384}),
        (7200, 1, b"\x01", os.urandom(64), {"unknown": ((0x7777, b"x"),)}),
    )
]
NST_BAD = [
    b"",
    bytes(8),
    bytes(9),
    bytes(10),
    bytes(11),  # empty ticket
    bytes(9) + b"\x00\x01t",  # no extensions vector
    bytes(9) + b"\x00\x01t\x00",
    bytes(9) + b"\x00\x01t\x00\x00\x00",  # trailing octet
    bytes(9) + b"\x00\x02t\x00\x00",  # ticket cut
    bytes(8) + b"\x05\x00\x00\x01t\x00\x00",  # nonce longer than the body
    bytes(9) + b"\x00\x01t\x00\x02\x00\x00",  # extension list cut
]


@pytest.mark.parametrize("body", NST_SAMPLES + NST_BAD)
def test_tickets_decode_as_the_checked_code(body: bytes) -> None:
    _nst_same(body)


def test_the_usual_ticket_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [NewSessionTicket13._decode_checked(Reader(body)) for body in NST_SAMPLES[:3]]

    def checked_is_not_called(r: Reader) -> NewSessionTicket13:
        raise AssertionError("the checked decoder ran")

    monkeypatch.setattr(NewSessionTicket13, "_decode_checked", checked_is_not_called)
    for body, want in zip(NST_SAMPLES[:3], expected):
        r = Reader(body)
        assert NewSessionTicket13.decode(r) == want
        assert not r.any_left()
    monkeypatch.undo()
    assert _nst_outcome(NewSessionTicket13.decode, NST_SAMPLES[3])[1].extensions.early_data


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(NST_SAMPLES[:2] + NST_SAMPLES[3:] + NST_BAD[5:]),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=3),
    st.integers(0, 10_000),
    st.binary(max_size=4),
)
def test_mutated_or_cut_tickets_fail_or_decode_alike(
    body: bytes, edits: list[tuple[int, int]], at: int, extra: bytes
) -> None:
    for variant in _mutants(body, edits, at, extra):
        _nst_same(variant)


def _mutants(body: bytes, edits: list[tuple[int, int]], at: int, extra: bytes) -> list[bytes]:
    """``body`` with ``edits`` applied, cut at ``at``, and with ``extra`` inserted there."""
    b = bytearray(body)
    for pos, val in edits:
        b[pos % len(b)] = val
    at %= len(body) + 1
    return [bytes(b), body[:at], body[:at] + extra + body[at:]]


# -- CertificateVerify: a well-formed body read in place -----------------------------------------
def _cv_same(body: bytes) -> None:
    assert _nst_outcome(CertificateVerify.decode, body) == _nst_outcome(
        CertificateVerify._decode_checked, body
    )


CV_SAMPLES = [
    encode_handshake(CertificateVerify(alg, sig))[4:]
    for alg, sig in ((0x0403, os.urandom(71)), (0x0804, os.urandom(256)), (0, b""))
]
CV_BAD = [b"", b"\x04", b"\x04\x03", b"\x04\x03\x00", b"\x04\x03\x00\x02x", b"\x04\x03\x00\x00x"]


@pytest.mark.parametrize("body", CV_SAMPLES + CV_BAD)
def test_certificate_verify_decodes_as_the_checked_code(body: bytes) -> None:
    _cv_same(body)


def test_a_well_formed_certificate_verify_takes_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = [CertificateVerify._decode_checked(Reader(body)) for body in CV_SAMPLES]

    def checked_is_not_called(r: Reader) -> CertificateVerify:
        raise AssertionError("the checked decoder ran")

    monkeypatch.setattr(CertificateVerify, "_decode_checked", checked_is_not_called)
    for body, want in zip(CV_SAMPLES, expected):
        r = Reader(body)
        assert CertificateVerify.decode(r) == want
        assert not r.any_left()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(CV_SAMPLES),
    st.lists(st.tuples(st.integers(0, 1_000), st.integers(0, 255)), min_size=1, max_size=3),
    st.integers(0, 1_000),
    st.binary(max_size=4),
)
def test_mutated_or_cut_certificate_verify_alike(
    body: bytes, edits: list[tuple[int, int]], at: int, extra: bytes
) -> None:
    for variant in _mutants(body, edits, at, extra):
        _cv_same(variant)


@pytest.mark.parametrize("body", [b"", b"\x00", os.urandom(12), os.urandom(48)])
def test_finished_decodes_the_whole_body(body: bytes) -> None:
    raw = b"\x14" + len(body).to_bytes(3, "big") + body
    if not body:
        with pytest.raises(DecodeError, match="^Finished: empty verify_data$") as e:
            decode_handshake(raw, tls13=True)
        assert e.value.alert == 50  # decode_error
    else:
        assert decode_handshake(raw, tls13=True).body == Finished(body)
