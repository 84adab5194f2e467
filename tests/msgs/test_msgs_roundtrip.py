"""Hypothesis: every message and extension container round-trips encode → decode, and
decoding garbage (random bytes, truncations, bit flips of valid messages) raises only
DecodeError."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlspipe.errors import DecodeError
from tlspipe.msgs.codec import Reader
from tlspipe.msgs.extensions import (
    CertificateEntryExtensions,
    CertificateRequestExtensions,
    ClientExtensions,
    HelloRetryExtensions,
    KeyShareEntry,
    NewSessionTicketExtensions,
    OfferedPsks,
    PskIdentity,
    ServerEncryptedExtensions,
    ServerExtensions,
)
from tlspipe.msgs.handshake import (
    Certificate12,
    Certificate13,
    CertificateEntry,
    CertificateRequest12,
    CertificateRequest13,
    CertificateStatus,
    CertificateVerify,
    ClientKeyExchangeEcdhe,
    EncryptedExtensions,
    EndOfEarlyData,
    Finished,
    HelloRequest,
    KeyUpdate,
    MessageHash,
    NewSessionTicket12,
    NewSessionTicket13,
    ServerHelloDone,
    ServerKeyExchangeEcdhe,
)
from tlspipe.msgs.hello import HRR_RANDOM, ClientHello, HelloRetryRequest, ServerHello
from tlspipe.msgs.message import (
    Alert,
    decode_alert,
    decode_framed_handshake,
    decode_handshake,
    encode_alert,
    encode_handshake,
)

T = TypeVar("T")
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


def opaque(lo: int, hi: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=lo, max_size=hi)


def opt(s: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | s


def tup(s: st.SearchStrategy[T], lo: int, hi: int) -> st.SearchStrategy[tuple[T, ...]]:
    return st.lists(s, min_size=lo, max_size=hi).map(tuple)


def unknown_for(known: frozenset[int]) -> st.SearchStrategy[tuple[tuple[int, bytes], ...]]:
    return st.lists(
        st.tuples(u16.filter(lambda t: t not in known), opaque(0, 12)),
        max_size=3,
        unique_by=lambda e: e[0],
    ).map(tuple)


def sct_list() -> st.SearchStrategy[bytes]:
    def enc(scts: list[bytes]) -> bytes:
        inner = b"".join(len(s).to_bytes(2, "big") + s for s in scts)
        return len(inner).to_bytes(2, "big") + inner

    return st.lists(opaque(1, 20), min_size=1, max_size=3).map(enc)


hostname = st.text("abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=30).map(
    str.encode
)
u16s = tup(u16, 1, 8)
key_share = st.builds(KeyShareEntry, u16, opaque(1, 40))
dns = tup(opaque(1, 20), 1, 3)


@st.composite
def offered_psks(draw: st.DrawFn) -> OfferedPsks:
    n = draw(st.integers(1, 3))
    ids = draw(tup(st.builds(PskIdentity, opaque(1, 20), u32), n, n))
    binders = draw(tup(opaque(32, 48), n, n))
    return OfferedPsks(ids, binders)


client_exts = st.builds(
    ClientExtensions,
    server_name=opt(hostname),
    extended_master_secret=st.booleans(),
    renegotiation_info=opt(opaque(0, 32)),
    supported_groups=opt(u16s),
    ec_point_formats=opt(opaque(1, 4)),
    session_ticket=opt(opaque(0, 40)),
    alpn=opt(tup(opaque(1, 10), 1, 4)),
    status_request=st.booleans(),
    signed_certificate_timestamp=st.booleans(),
    key_share=opt(tup(key_share, 0, 3)),
    early_data=st.booleans(),
    supported_versions=opt(u16s),
    signature_algorithms=opt(u16s),
    signature_algorithms_cert=opt(u16s),
    cookie=opt(opaque(1, 40)),
    psk_key_exchange_modes=opt(tup(u8, 1, 3)),
    certificate_authorities=opt(dns),
    post_handshake_auth=st.booleans(),
    record_size_limit=opt(st.integers(64, 0xFFFF)),
    padding=opt(st.integers(0, 64)),
    pre_shared_key=opt(offered_psks()),
    unknown=unknown_for(ClientExtensions.known_types()),
)
server_exts = st.builds(
    ServerExtensions,
    pre_shared_key=opt(u16),
    key_share=opt(key_share),
    supported_versions=opt(u16),
    server_name=st.booleans(),
    renegotiation_info=opt(opaque(0, 64)),
    extended_master_secret=st.booleans(),
    session_ticket=st.booleans(),
    ec_point_formats=opt(opaque(1, 4)),
    alpn=opt(opaque(1, 10)),
    status_request=st.booleans(),
    signed_certificate_timestamp=opt(sct_list()),
    record_size_limit=opt(st.integers(64, 0xFFFF)),
    unknown=unknown_for(ServerExtensions.known_types()),
)
hrr_exts = st.builds(
    HelloRetryExtensions,
    selected_group=opt(u16),
    cookie=opt(opaque(1, 40)),
    supported_versions=u16,  # the list is <6..2^16-1>: at least one extension
    unknown=unknown_for(HelloRetryExtensions.known_types()),
)
ee_exts = st.builds(
    ServerEncryptedExtensions,
    supported_groups=opt(u16s),
    record_size_limit=opt(st.integers(64, 0xFFFF)),
    server_name=st.booleans(),
    early_data=st.booleans(),
    alpn=opt(opaque(1, 10)),
    unknown=unknown_for(ServerEncryptedExtensions.known_types()),
)
cert_entry_exts = st.builds(
    CertificateEntryExtensions,
    status_request=opt(opaque(1, 40)),
    signed_certificate_timestamp=opt(sct_list()),
    unknown=unknown_for(CertificateEntryExtensions.known_types()),
)
cert_req_exts = st.builds(
    CertificateRequestExtensions,
    signature_algorithms=u16s,  # the list is <2..2^16-1>: at least one extension
    signature_algorithms_cert=opt(u16s),
    certificate_authorities=opt(dns),
    status_request=st.booleans(),
    signed_certificate_timestamp=st.booleans(),
    unknown=unknown_for(CertificateRequestExtensions.known_types()),
)
nst_exts = st.builds(
    NewSessionTicketExtensions,
    early_data=opt(u32),
    unknown=unknown_for(NewSessionTicketExtensions.known_types()),
)
CONTAINERS: list[tuple[type[Any], st.SearchStrategy[Any]]] = [
    (ClientExtensions, client_exts),
    (ServerExtensions, server_exts),
    (HelloRetryExtensions, hrr_exts),
    (ServerEncryptedExtensions, ee_exts),
    (CertificateEntryExtensions, cert_entry_exts),
    (CertificateRequestExtensions, cert_req_exts),
    (NewSessionTicketExtensions, nst_exts),
]

random32 = opaque(32, 32)
sid = opaque(0, 32)
client_hello = st.builds(
    ClientHello, u16, random32, sid, tup(u16, 1, 10), opaque(1, 3), client_exts
)
server_hello = st.builds(
    ServerHello, u16, random32.filter(lambda r: r != HRR_RANDOM), sid, u16, u8, server_exts
)
hrr = st.builds(HelloRetryRequest, u16, sid, u16, hrr_exts)
tls13_bodies = st.one_of(
    client_hello,
    server_hello,
    hrr,
    st.builds(EncryptedExtensions, ee_exts),
    st.builds(
        Certificate13,
        opaque(0, 8),
        tup(st.builds(CertificateEntry, opaque(1, 60), cert_entry_exts), 0, 3),
    ),
    st.builds(CertificateRequest13, opaque(0, 8), cert_req_exts),
    st.builds(CertificateVerify, u16, opaque(0, 80)),
    st.builds(Finished, opaque(1, 48)),
    st.builds(EndOfEarlyData),
    st.builds(KeyUpdate, st.integers(0, 1)),
    st.builds(NewSessionTicket13, u32, u32, opaque(0, 8), opaque(1, 60), nst_exts),
)
tls12_bodies = st.one_of(
    client_hello,
    server_hello,
    st.builds(Certificate12, tup(opaque(1, 60), 0, 3)),
    st.builds(CertificateRequest12, opaque(1, 3), u16s, tup(opaque(1, 20), 0, 3)),
    st.builds(ServerKeyExchangeEcdhe, st.just(3), u16, opaque(1, 65), u16, opaque(0, 72)),
    st.builds(ClientKeyExchangeEcdhe, opaque(1, 65)),
    st.builds(ServerHelloDone),
    st.builds(HelloRequest),
    st.builds(CertificateVerify, u16, opaque(0, 80)),
    st.builds(CertificateStatus, st.just(1), opaque(1, 60)),
    st.builds(NewSessionTicket12, u32, opaque(0, 60)),
    st.builds(Finished, opaque(12, 12)),
)
any_message = st.one_of(
    st.tuples(tls13_bodies, st.just(True)), st.tuples(tls12_bodies, st.just(False))
)


def encode(obj: Any) -> bytes:
    out = bytearray()
    obj.encode(out)
    return bytes(out)


# -- round trips ---------------------------------------------------------------------------------
def test_tables_cover_every_field() -> None:
    for cls, _ in CONTAINERS:
        names = [f.name for f in dataclasses.fields(cls) if f.name != "unknown"]
        table = [f.name for f in cls._FIELDS]
        assert sorted(names) == sorted(table), cls
        assert len(cls.known_types()) == len(table), cls


@FAST
@given(st.data())
def test_extension_containers_roundtrip(data: st.DataObject) -> None:
    for cls, strategy in CONTAINERS:
        value = data.draw(strategy)
        raw = encode(value)
        r = Reader(raw)
        assert cls.decode(r) == value
        r.expect_empty()


@FAST
@given(any_message)
def test_handshake_roundtrip(msg: tuple[Any, bool]) -> None:
    body, tls13 = msg
    raw = encode_handshake(body)
    m = decode_handshake(raw, tls13=tls13)
    f = decode_framed_handshake(raw, tls13)
    assert (f.typ, f.body, f.raw) == (m.typ, m.body, m.raw)
    assert m.body == body
    assert m.typ == body.typ
    assert m.raw == raw
    assert encode_handshake(m.body) == raw


@FAST
@given(client_hello)
def test_client_hello_binders_suffix(ch: ClientHello) -> None:
    raw = encode_handshake(ch)
    n = ch.binders_suffix_len()
    psk = ch.extensions.pre_shared_key
    if psk is None:
        assert n == 0
        return
    tail = bytearray()
    psk.encode_binders(tail)
    assert raw[len(raw) - n :] == tail
    fresh = tuple(bytes([i]) * len(b) for i, b in enumerate(psk.binders))
    again = encode_handshake(ch.with_binders(fresh))
    assert again[: len(raw) - n] == raw[: len(raw) - n]
    assert decode_handshake(again, tls13=True).expect(ClientHello).extensions.pre_shared_key == (
        OfferedPsks(psk.identities, fresh)
    )


@FAST
@given(opaque(0, 48))
def test_message_hash_roundtrip(h: bytes) -> None:
    raw = encode_handshake(MessageHash(h))
    assert raw[0] == 254 and int.from_bytes(raw[1:4], "big") == len(h)
    assert MessageHash.decode(Reader(raw[4:])) == MessageHash(h)


@FAST
@given(u8, u8)
def test_alert_roundtrip(level: int, desc: int) -> None:
    raw = encode_alert(level, desc)
    assert raw == encode(Alert(level, desc))
    assert decode_alert(raw) == Alert(level, desc)


# -- garbage in, DecodeError out ------------------------------------------------------------------
def _outcome(fn: Any, raw: bytes, tls13: bool) -> tuple[str, Any, Any]:
    try:
        m = fn(raw, tls13)
    except DecodeError as e:
        return ("error", str(e), e.alert)
    return ("ok", (m.typ, m.body, m.raw), None)


def _decode_only_decode_error(raw: bytes, tls13: bool) -> None:
    with contextlib.suppress(DecodeError):
        decode_handshake(raw, tls13=tls13)
    if len(raw) >= 4 and int.from_bytes(raw[1:4], "big") == len(raw) - 4:
        # framing already checked (the connection's case): the same value or error
        assert _outcome(decode_framed_handshake, raw, tls13) == _outcome(
            lambda r, t: decode_handshake(r, tls13=t), raw, tls13
        )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_arbitrary_bytes(raw: bytes, tls13: bool) -> None:
    _decode_only_decode_error(raw, tls13)


@settings(max_examples=300, deadline=None)
@given(u8, st.binary(max_size=200), st.booleans())
def test_arbitrary_body_with_valid_header(typ: int, body: bytes, tls13: bool) -> None:
    raw = bytes([typ]) + len(body).to_bytes(3, "big") + body
    _decode_only_decode_error(raw, tls13)


@FAST
@given(any_message, st.data())
def test_truncations_and_bit_flips(msg: tuple[Any, bool], data: st.DataObject) -> None:
    body, tls13 = msg
    raw = encode_handshake(body)
    cut = data.draw(st.integers(0, len(raw) - 1))
    _decode_only_decode_error(raw[:cut], tls13)
    # truncated body with the header fixed up, so the decoder runs into the end of the body
    short = raw[4:cut] if cut > 4 else b""
    _decode_only_decode_error(raw[:1] + len(short).to_bytes(3, "big") + short, tls13)
    for _ in range(4):
        bit = data.draw(st.integers(0, 8 * len(raw) - 1))
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        _decode_only_decode_error(bytes(flipped), tls13)
        raw = bytes(flipped)
