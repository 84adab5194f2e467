"""The codec fast paths (ClientHello prefix, extension headers read in place, key_share and
pre_shared_key bodies, the TLS 1.3 ServerHello built as bytes) give exactly what the checked
Reader-based code gives: the same values for any input that decodes, and the same
DecodeError message and alert for any that does not.  The reference decoders below are the
checked code as it was before the fast paths."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlspipe.errors import DecodeError, InternalError
from tlspipe.msgs import extensions as ext_mod
from tlspipe.msgs.codec import Reader
from tlspipe.msgs.extensions import (
    ClientExtensions,
    KeyShareEntry,
    OfferedPsks,
    PskIdentity,
    ServerExtensions,
)
from tlspipe.msgs.hello import (
    ClientHello,
    ServerHello,
    encode_server_hello,
    encode_server_hello13,
)
from tlspipe.msgs.message import decode_handshake, encode_handshake

_ILLEGAL = 47  # illegal_parameter


# -- the reference (checked, pre-fast-path) decoders ---------------------------------------------
def _ref_client_shares(r: Reader) -> tuple[KeyShareEntry, ...]:
    lst = r.sub16(0, 0xFFFF, "client_shares")
    shares: list[KeyShareEntry] = []
    while lst.any_left():
        group = lst.u16()
        shares.append(KeyShareEntry(group, lst.vec16(1, 0xFFFF, "key_exchange")))
    return tuple(shares)


def _ref_offered_psks(r: Reader) -> OfferedPsks:
    ids = r.sub16(7, 0xFFFF, "identities")
    identities: list[PskIdentity] = []
    while ids.any_left():
        identity = ids.vec16(1, 0xFFFF, "identity")
        identities.append(PskIdentity(identity, ids.u32()))
    bs = r.sub16(33, 0xFFFF, "binders")
    binders: list[bytes] = []
    while bs.any_left():
        binders.append(bs.vec8(32, 255, "PskBinderEntry"))
    if len(binders) != len(identities):
        raise DecodeError("pre_shared_key: identities and binders differ in number", _ILLEGAL)
    return OfferedPsks(tuple(identities), tuple(binders))


_REF_BODY = {51: _ref_client_shares, 41: _ref_offered_psks}


def _ref_extensions(r: Reader) -> ClientExtensions:
    cls = ClientExtensions
    lst = r.sub16(cls._LIST_LO, cls._LIST_HI, "extensions")
    by_type = {f.typ: f for f in cls._FIELDS}
    values: dict[str, Any] = {}
    unknown: list[tuple[int, bytes]] = []
    seen: set[int] = set()
    while lst.any_left():
        typ, body = lst.extension()
        if cls._LAST is not None and cls._LAST in seen:
            raise DecodeError(f"extension {cls._LAST} is not the last one", _ILLEGAL)
        if typ in seen:
            raise DecodeError(f"duplicate extension {typ}")
        seen.add(typ)
        f = by_type.get(typ)
        if f is None:
            unknown.append((typ, body.rest()))
            continue
        values[f.name] = _REF_BODY.get(typ, f.dec)(body)
        body.expect_empty()
    return cls(**values, unknown=tuple(unknown))


def _ref_client_hello(raw: bytes) -> ClientHello:
    r = Reader(raw[4:], "client_hello")
    legacy_version = r.u16()
    random = r.take(32)
    session_id = r.vec8(0, 32, "legacy_session_id")
    suites = tuple(r.list_u16(2, 2, 0xFFFE, "cipher_suites"))
    compression = r.vec8(1, 0xFF, "legacy_compression_methods")
    exts = _ref_extensions(r) if r.any_left() else ClientExtensions()
    r.expect_empty()
    return ClientHello(legacy_version, random, session_id, suites, compression, exts)


def _outcome(fn: Any, raw: bytes) -> tuple[str, Any, Any]:
    try:
        return ("ok", fn(raw), None)
    except DecodeError as e:
        return ("error", str(e), e.alert)


def _new(raw: bytes) -> ClientHello:
    body = decode_handshake(raw, tls13=True).body
    assert isinstance(body, ClientHello)
    return body


def _fix_header(body: bytes) -> bytes:
    return b"\x01" + len(body).to_bytes(3, "big") + body


def _same(raw: bytes) -> None:
    assert _outcome(_new, raw) == _outcome(_ref_client_hello, raw)


# -- sample ClientHellos ----------------------------------------------------------------------
def _hello(**ext: Any) -> bytes:
    base: dict[str, Any] = {
        "server_name": b"example.com",
        "supported_groups": (29, 23),
        "supported_versions": (0x0304, 0x0303),
        "signature_algorithms": (0x0403, 0x0804),
        "key_share": (KeyShareEntry(29, os.urandom(32)), KeyShareEntry(23, os.urandom(65))),
        "psk_key_exchange_modes": (1,),
    }
    exts = ClientExtensions(**{**base, **ext})
    return encode_handshake(
        ClientHello(0x0303, os.urandom(32), os.urandom(32), (0x1301, 0x1302, 0xC02B), b"\x00", exts)
    )


PSK = OfferedPsks(
    (PskIdentity(os.urandom(100), 12345), PskIdentity(b"ext", 0)),
    (os.urandom(32), os.urandom(48)),
)
SAMPLES = [
    _hello(),
    _hello(key_share=()),
    _hello(pre_shared_key=PSK, early_data=True),
    _hello(status_request=True, alpn=(b"h2", b"http/1.1"), unknown=((0xFAFA, b""),)),
    encode_handshake(
        ClientHello(0x0303, os.urandom(32), b"", (0xC02B,), b"\x01\x00", ClientExtensions())
    ),
]


# Encodable but malformed: each must fail (or not) exactly as the checked code does.
BAD = [
    _hello(key_share=(KeyShareEntry(29, b""),)),
    _hello(key_share=(KeyShareEntry(29, b"k"), KeyShareEntry(23, b""))),
    _hello(pre_shared_key=OfferedPsks((PskIdentity(b"", 1),), (bytes(32),))),
    _hello(pre_shared_key=OfferedPsks((PskIdentity(b"id", 1),), (bytes(31),))),
    _hello(pre_shared_key=OfferedPsks((PskIdentity(b"id", 1),), (bytes(32), bytes(32)))),
    _hello(pre_shared_key=OfferedPsks((PskIdentity(b"id", 1),) * 2, (bytes(32),))),
    _hello(pre_shared_key=OfferedPsks((), ())),
    _hello(pre_shared_key=OfferedPsks((), (bytes(32),))),
    _hello(pre_shared_key=OfferedPsks((PskIdentity(b"", 1), PSK.identities[0]), PSK.binders)),
    _hello(pre_shared_key=OfferedPsks(PSK.identities, (bytes(31), bytes(32)))),
    _hello(pre_shared_key=PSK, unknown=((0x0029, b""),)),
    _hello(unknown=((0x0033, b"\x00\x00"),)),
    _hello(unknown=((0xFAFA, b""), (0xFAFA, b"x"))),  # an unknown type twice
    _hello(unknown=((0xFAFA, b""), (0x0A0A, b"y"), (0x0A0A, b""))),
    _hello(unknown=((0x0000, b""),)),  # a known type (server_name) twice
    _hello(unknown=((0x000D, b"\x00\x02\x04\x03"),)),  # signature_algorithms twice
    *(
        encode_handshake(ClientHello(0x0303, bytes(32), sid, suites, comp, ClientExtensions()))
        for sid, suites, comp in ((bytes(33), (1,), b"\x00"), (b"", (), b"\x00"), (b"", (1,), b""))
    ),
]


@pytest.mark.parametrize("raw", BAD)
def test_malformed_hellos_fail_alike(raw: bytes) -> None:
    _same(raw)
    assert _outcome(_ref_client_hello, raw)[0] == "error"


@pytest.mark.parametrize("raw", SAMPLES)
def test_valid_hellos_decode_as_the_checked_code(raw: bytes) -> None:
    new = _new(raw)
    assert new == _ref_client_hello(raw)
    assert encode_handshake(new) == raw


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SAMPLES + BAD),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=3),
)
def test_mutated_hellos_fail_or_decode_alike(raw: bytes, edits: list[tuple[int, int]]) -> None:
    body = bytearray(raw[4:])
    for pos, val in edits:
        body[pos % len(body)] = val
    _same(_fix_header(bytes(body)))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SAMPLES + BAD), st.integers(0, 10_000), st.binary(max_size=8))
def test_cut_or_grown_hellos_fail_or_decode_alike(raw: bytes, at: int, extra: bytes) -> None:
    body = raw[4:]
    at %= len(body) + 1
    _same(_fix_header(body[:at]))
    _same(_fix_header(body[:at] + extra + body[at:]))


# -- remembered extension blocks (msgs.hello._client_extensions) ---------------------------------
REMEMBERED = [
    *SAMPLES,
    _hello(session_ticket=os.urandom(100)),
    _hello(session_ticket=b"", pre_shared_key=PSK),
]


def _variable_spans(raw: bytes) -> list[tuple[int, int]]:
    """Where the key_share, pre_shared_key and session_ticket bodies of ``raw`` are."""
    p = 4 + 34
    p += 1 + raw[p]
    p += 2 + int.from_bytes(raw[p : p + 2], "big")
    p += 1 + raw[p]
    p += 2
    spans = []
    while p + 4 <= len(raw):
        typ = int.from_bytes(raw[p : p + 2], "big")
        n = int.from_bytes(raw[p + 2 : p + 4], "big")
        if typ in (51, 41, 35):
            spans.append((p + 4, p + 4 + n))
        p += 4 + n
    return spans


@pytest.mark.parametrize("raw", [r for r in REMEMBERED if _variable_spans(r)])
def test_a_remembered_block_decodes_only_the_variable_bodies(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a block decoded twice (it is remembered on its second sighting), a block with
    other bytes in those bodies skips the container's decoder (and decodes as the checked
    code does)."""
    _same(raw)
    _same(raw)
    start, stop = next((a, b) for a, b in _variable_spans(raw) if b > a)
    changed = bytearray(raw)
    changed[stop - 1] ^= 0x55
    monkeypatch.setattr(ClientExtensions, "decode", None)
    _same(bytes(changed))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(REMEMBERED),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=3),
    st.booleans(),
)
def test_remembered_blocks_with_other_bodies_decode_alike(
    raw: bytes, edits: list[tuple[int, int]], anywhere: bool
) -> None:
    """Bodies of key_share / pre_shared_key / session_ticket changed (same length: the
    remembered layout) in a block decoded before: the same values, errors and alerts as the
    checked code; and edits anywhere else (a block not remembered) too."""
    _same(raw)
    _same(raw)  # remembered on the second sighting
    spans = _variable_spans(raw)
    positions = (
        list(range(4, len(raw)))
        if anywhere or not spans
        else [i for a, b in spans for i in range(a, b)]
    )
    if not positions:
        return
    b = bytearray(raw)
    for pos, val in edits:
        b[positions[pos % len(positions)]] = val
    _same(bytes(b))


def _table_sizes() -> tuple[int, int]:
    from tlspipe.msgs import hello

    table = hello._CH_TABLE
    return len(table), sum(len(known) for _, _, known in table)


def test_remembered_blocks_are_bounded() -> None:
    """Peers choose the blocks: at most 64 are kept in at most 16 layouts, none over 2 KiB
    (outside the cut bodies); the blocks seen once are bounded too."""
    from tlspipe.msgs import hello

    for i in range(300):
        for _ in range(2):
            _new(_hello(server_name=b"h%d.example" % i))
            _new(_hello(unknown=((0xFAFA, bytes(i % 7)),)))
        layouts, blocks = _table_sizes()
        assert layouts <= 16 and blocks <= 64
        assert len(hello._CH_SEEN) <= hello._CH_SEEN_MAX
    hello._CH_TABLE = ()
    big = _hello(unknown=((0xFAFA, bytes(3000)),))
    _same(big)
    _same(big)
    assert hello._CH_TABLE == ()


def test_blocks_seen_once_are_not_remembered() -> None:
    """A client whose blocks never repeat (here: a fresh unknown extension body each time, as
    GREASE or QUIC transport parameters make it) leaves the table as it was; a block seen
    twice is remembered and then decoded from it."""
    from tlspipe.msgs import hello

    hello._CH_TABLE = ()
    hello._CH_SEEN.clear()
    for _ in range(200):
        _same(_hello(unknown=((0xFAFA, os.urandom(8)),)))
    assert hello._CH_TABLE == ()
    again = _hello(unknown=((0xFAFA, b"repeated"),))
    _same(again)
    assert hello._CH_TABLE == ()
    _same(again)
    assert _table_sizes() == (1, 1)


def test_remembered_blocks_under_threads() -> None:
    """Threads decoding hellos of many layouts at once (some adding, some clearing the memory)
    never see anything but their own hello's value."""
    import sys
    import threading

    errors: list[str] = []

    def work(k: int) -> None:
        try:
            for i in range(3000):
                raw = _hello(unknown=((0xFAFA, bytes((i + k) % 40)),))
                assert _new(raw) == _ref_client_hello(raw)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []


def test_length_fields_at_their_bounds() -> None:
    """Every 1- and 2-octet length field of a PSK ClientHello set to values around its
    bounds and the real one."""
    raw = SAMPLES[1]
    body = raw[4:]
    for pos in range(len(body) - 1):
        for val in (0, 1, 2, 6, 7, 31, 32, 33, 34, 254, 255):
            b = bytearray(body)
            b[pos] = val
            _same(_fix_header(bytes(b)))
            b = bytearray(body)
            v = int.from_bytes(body[pos : pos + 2], "big")
            for d in (-2, -1, 1, 2):
                if 0 <= v + d <= 0xFFFF:
                    b[pos : pos + 2] = (v + d).to_bytes(2, "big")
                    _same(_fix_header(bytes(b)))


@pytest.mark.parametrize("sid", [b"", bytes(range(32))])
@pytest.mark.parametrize("kx", [b"\x01" * 32, b"\x04" * 65, b"\x02" * 1216])
@pytest.mark.parametrize("psk", [None, 0, 1, 0xFFFF])
def test_server_hello13_bytes_match_the_encoder(sid: bytes, kx: bytes, psk: int | None) -> None:
    random = os.urandom(32)
    sh = ServerHello(
        0x0303,
        random,
        sid,
        0x1302,
        0,
        ServerExtensions(
            supported_versions=0x0304, key_share=KeyShareEntry(0x11EC, kx), pre_shared_key=psk
        ),
    )
    raw = encode_server_hello13(random, sid, 0x1302, 0x11EC, kx, psk)
    assert raw == encode_handshake(sh)
    assert decode_handshake(raw, tls13=True).body == sh


@pytest.mark.parametrize(
    ("random", "sid", "kx", "psk"),
    [
        (bytes(31), b"", b"\x01" * 32, None),
        (bytes(33), b"", b"\x01" * 32, None),
        (bytes(32), bytes(33), b"\x01" * 32, None),
        (bytes(32), b"", b"", None),
        (bytes(32), b"", b"\x01" * (0xFFFF - 7), None),
        (bytes(32), b"", b"\x01" * (0xFFFF - 8), None),  # fits alone, not in the vector
        (bytes(32), b"", b"\x01" * 32, -1),
        (bytes(32), b"", b"\x01" * 32, 0x10000),
    ],
)
def test_server_hello13_encoder_refuses_out_of_range(
    random: bytes, sid: bytes, kx: bytes, psk: int | None
) -> None:
    with pytest.raises(InternalError):
        encode_server_hello13(random, sid, 0x1302, 0x11EC, kx, psk)


@pytest.mark.parametrize("sid", [b"", bytes(range(32))])
@pytest.mark.parametrize(
    "exts",
    [
        ServerExtensions(),
        ServerExtensions(renegotiation_info=b"", extended_master_secret=True),
        ServerExtensions(
            renegotiation_info=b"",
            extended_master_secret=True,
            session_ticket=True,
            ec_point_formats=b"\x00",
            alpn=b"h2",
            server_name=True,
            status_request=True,
            signed_certificate_timestamp=b"\x00\x03\x00\x01x",
        ),
    ],
)
def test_server_hello_bytes_match_the_encoder(sid: bytes, exts: ServerExtensions) -> None:
    random = os.urandom(32)
    block = bytearray()
    exts.encode(block)
    sh = ServerHello(0x0303, random, sid, 0xC02B, 0, exts)
    assert encode_server_hello(random, sid, 0xC02B, bytes(block)) == encode_handshake(sh)


def test_tls12_server_encodings_match_the_encoders() -> None:
    from tlspipe.msgs.handshake import Certificate12, ServerKeyExchangeEcdhe
    from tlspipe.server import tls12

    pub = os.urandom(65)
    ske = ServerKeyExchangeEcdhe(
        curve_type=3, named_curve=23, public=pub, algorithm=0x0403, signature=os.urandom(71)
    )
    params = b"\x03" + (23).to_bytes(2, "big") + bytes((len(pub),)) + pub
    assert params == ske.params_bytes()
    assert tls12._server_key_exchange(params, 0x0403, ske.signature) == encode_handshake(ske)
    chains = [(os.urandom(300), os.urandom(200)), (os.urandom(300),)]
    for chain in chains * 2:  # the second round comes from the cache
        assert tls12._certificate_message(chain) == encode_handshake(
            Certificate12(certificate_list=chain)
        )
    # The ServerHello extension cache is keyed by every input: each combination gives what
    # the container encodes, in any order of first use.
    combos = [
        (reneg, ems, ticket, points, alpn, sni, status, sct)
        for reneg in (False, True)
        for ems in (False, True)
        for ticket in (False, True)
        for points in (False, True)
        for alpn in (None, b"h2")
        for sni in (False, True)
        for status in (False, True)
        for sct in (None, b"\x00\x03\x00\x01x")
    ]
    for combo in combos + combos[::-1]:
        reneg, ems, ticket, points, alpn, sni, status, sct = combo
        want = bytearray()
        ServerExtensions(
            renegotiation_info=b"" if reneg else None,
            extended_master_secret=ems,
            session_ticket=ticket,
            ec_point_formats=b"\x00" if points else None,
            alpn=alpn,
            server_name=sni,
            status_request=status,
            signed_certificate_timestamp=sct,
        ).encode(want)
        assert tls12._sh_extensions(*combo) == bytes(want)
        assert len(tls12._SH_EXTS) <= tls12._CACHE_MAX


@pytest.mark.parametrize("verify_data", [b"", bytes(12), os.urandom(32), os.urandom(48)])
def test_finished_bytes_match_the_encoder(verify_data: bytes) -> None:
    from tlspipe.msgs.handshake import Finished, encode_finished

    assert encode_finished(verify_data) == encode_handshake(Finished(verify_data=verify_data))


@pytest.mark.parametrize("early", [None, 0, 1, 16384, 0xFFFFFFFF])
@pytest.mark.parametrize("nonce", [b"", bytes(8), bytes(255)])
@pytest.mark.parametrize("ticket", [b"t", os.urandom(180), os.urandom(0xFFFF)])
def test_new_session_ticket13_bytes_match_the_encoder(
    early: int | None, nonce: bytes, ticket: bytes
) -> None:
    from tlspipe.msgs.extensions import NewSessionTicketExtensions
    from tlspipe.msgs.handshake import NewSessionTicket13, encode_new_session_ticket13

    nst = NewSessionTicket13(
        ticket_lifetime=604800,
        ticket_age_add=0xDEADBEEF,
        ticket_nonce=nonce,
        ticket=ticket,
        extensions=NewSessionTicketExtensions(early_data=early),
    )
    raw = encode_new_session_ticket13(604800, 0xDEADBEEF, nonce, ticket, early)
    assert raw == encode_handshake(nst)
    assert decode_handshake(raw, tls13=True).body == nst


@pytest.mark.parametrize("sig", [b"", os.urandom(71), os.urandom(256), os.urandom(0xFFFF)])
@pytest.mark.parametrize("scheme", [0x0403, 0x0804, 0xFFFF])
def test_certificate_verify_bytes_match_the_encoder(sig: bytes, scheme: int) -> None:
    from tlspipe.msgs.handshake import CertificateVerify, encode_certificate_verify

    cv = CertificateVerify(algorithm=scheme, signature=sig)
    assert encode_certificate_verify(scheme, sig) == encode_handshake(cv)


# -- server session values: the one-join encoders give the field-by-field encoding ---------------
def _ref_tls12_server_value(v: Any) -> bytes:
    from tlspipe.msgs import persist as p
    from tlspipe.msgs.codec import put_u8, put_u16, put_u64, put_vec8

    out = bytearray((p.TLS12_SERVER_V1,))
    put_u16(out, v.suite)
    put_vec8(out, v.master_secret)
    put_u8(out, int(v.extended_ms))
    p._put_str(out, v.sni)
    p._put_opt8(out, v.alpn)
    p._put_chain(out, v.client_cert_chain)
    put_u64(out, v.created_at)
    return bytes(out)


def _ref_tls13_server_value(v: Any) -> bytes:
    from tlspipe.msgs import persist as p
    from tlspipe.msgs.codec import put_u16, put_u32, put_u64, put_vec8

    out = bytearray((p.TLS13_SERVER_V1,))
    put_u16(out, v.suite)
    put_vec8(out, v.secret)
    p._put_opt8(out, v.alpn)
    p._put_str(out, v.sni)
    put_u64(out, v.created_at)
    put_u32(out, v.age_add)
    put_u32(out, v.lifetime)
    put_u32(out, v.max_early_data)
    p._put_chain(out, v.client_cert_chain)
    return bytes(out)


_names = st.none() | st.text("abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=40)
_opt = st.none() | st.binary(min_size=1, max_size=40)
_chains = st.lists(st.binary(min_size=1, max_size=300), max_size=4).map(tuple)


@settings(max_examples=200)
@given(
    st.integers(0, 0xFFFF), st.binary(min_size=48, max_size=48), st.booleans(), _names, _opt,
    _chains, st.integers(0, 2**64 - 1),
)  # fmt: skip
def test_tls12_server_value_encoding(
    suite: int, ms: bytes, ems: bool, sni: str | None, alpn: bytes | None,
    chain: tuple[bytes, ...], created: int,
) -> None:  # fmt: skip
    from tlspipe.msgs.persist import Tls12ServerSessionValue

    v = Tls12ServerSessionValue(suite, ms, ems, sni, alpn, chain, created)
    assert v.encode() == _ref_tls12_server_value(v)
    assert Tls12ServerSessionValue.decode(v.encode()) == v


@settings(max_examples=200)
@given(
    st.integers(0, 0xFFFF), st.binary(min_size=32, max_size=64), _opt, _names,
    st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1), _chains,
)  # fmt: skip
def test_tls13_server_value_encoding(
    suite: int, secret: bytes, alpn: bytes | None, sni: str | None, created: int,
    age_add: int, lifetime: int, early: int, chain: tuple[bytes, ...],
) -> None:  # fmt: skip
    from tlspipe.msgs.persist import Tls13ServerSessionValue

    v = Tls13ServerSessionValue(suite, secret, alpn, sni, created, age_add, lifetime, early, chain)
    assert v.encode() == _ref_tls13_server_value(v)
    assert Tls13ServerSessionValue.decode(v.encode()) == v


# -- Certificate (TLS 1.3): entries without extensions read in place -----------------------------
def _ref_certificate13(raw: bytes) -> Any:
    from tlspipe.msgs.extensions import CertificateEntryExtensions
    from tlspipe.msgs.handshake import Certificate13, CertificateEntry

    r = Reader(raw[4:], "certificate")
    ctx = r.vec8(0, 0xFF, "certificate_request_context")
    lst = r.sub24(0, 0xFFFFFF, "certificate_list")
    entries = []
    while lst.any_left():
        cert_data = lst.vec24(1, 0xFFFFFF, "cert_data")
        entries.append(CertificateEntry(cert_data, CertificateEntryExtensions.decode(lst)))
    r.expect_empty()
    return Certificate13(ctx, tuple(entries))


def _new_certificate13(raw: bytes) -> Any:
    return decode_handshake(raw, tls13=True).body


def _certificates() -> list[bytes]:
    from tlspipe.msgs.extensions import CertificateEntryExtensions
    from tlspipe.msgs.handshake import Certificate13, CertificateEntry

    none = CertificateEntryExtensions()
    stapled = CertificateEntryExtensions(status_request=b"ocsp")
    chains = [
        (b"", (CertificateEntry(os.urandom(60), none), CertificateEntry(os.urandom(40), none))),
        (b"ctx", (CertificateEntry(os.urandom(50), none),)),
        (b"", ()),
        (b"", (CertificateEntry(os.urandom(50), stapled), CertificateEntry(b"x", none))),
        (b"", (CertificateEntry(b"", none),)),  # empty cert_data: must fail alike
    ]
    return [
        encode_handshake(Certificate13(certificate_request_context=c, certificate_list=e))
        for c, e in chains
    ]


def _odd_certificate() -> bytes:
    """One entry whose extensions vector (6 octets) would read as a further entry without
    extensions if its length were ignored."""
    entry = b"\x00\x00\x02ab" + b"\x00\x06" + b"\x00\x00\x01A\x00\x00"
    body = b"\x00" + len(entry).to_bytes(3, "big") + entry
    return b"\x0b" + len(body).to_bytes(3, "big") + body


CERTS = [*_certificates(), _odd_certificate()]


def _same_cert(raw: bytes) -> None:
    assert _outcome(_new_certificate13, raw) == _outcome(_ref_certificate13, raw)


@pytest.mark.parametrize("raw", CERTS)
def test_certificates_decode_as_the_checked_code(raw: bytes) -> None:
    _same_cert(raw)


def _fix_cert_header(body: bytes) -> bytes:
    return b"\x0b" + len(body).to_bytes(3, "big") + body


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(CERTS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=3),
    st.integers(0, 10_000),
    st.binary(max_size=4),
)
def test_mutated_certificates_fail_or_decode_alike(
    raw: bytes, edits: list[tuple[int, int]], at: int, extra: bytes
) -> None:
    body = bytearray(raw[4:])
    if body:
        for pos, val in edits:
            body[pos % len(body)] = val
    _same_cert(_fix_cert_header(bytes(body)))
    at %= len(body) + 1
    _same_cert(_fix_cert_header(bytes(body[:at]) + extra + bytes(body[at:])))
    _same_cert(_fix_cert_header(bytes(body[:at])))


# -- EncryptedExtensions: whole decoded containers kept by list bytes ---------------------------
def _ee_outcome(raw: bytes) -> tuple[str, Any, Any]:
    from tlspipe.msgs.extensions import ServerEncryptedExtensions

    try:
        r = Reader(raw, "encrypted_extensions")
        got = ServerEncryptedExtensions.decode(r)
        r.expect_empty()
        return ("ok", got, None)
    except DecodeError as e:
        return ("error", str(e), e.alert)


def _ee_lists() -> list[bytes]:
    from tlspipe.msgs.extensions import ServerEncryptedExtensions

    out = []
    for ee in (
        ServerEncryptedExtensions(),
        ServerEncryptedExtensions(server_name=True),
        ServerEncryptedExtensions(alpn=b"h2", early_data=True),
        ServerEncryptedExtensions(supported_groups=(29, 23), record_size_limit=2**14 + 1),
        ServerEncryptedExtensions(server_name=True, unknown=((0xFAFA, b"x"),)),
    ):
        buf = bytearray()
        ee.encode(buf)
        out.append(bytes(buf))
    return out


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_ee_lists()),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=3),
    st.integers(0, 200),
)
def test_encrypted_extensions_kept_whole_decode_as_without(
    raw: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    """A ServerEncryptedExtensions list decodes (twice, the second time from the kept
    container) to what the uncached decode gives, and fails alike, on valid, mutated and cut
    lists."""
    from tlspipe.msgs.extensions import ServerEncryptedExtensions

    body = bytearray(raw)
    for pos, val in edits:
        body[pos % len(body)] = val
    data = bytes(body[: max(cut, 2)]) if cut < len(body) else bytes(body)
    kept = ServerEncryptedExtensions._WHOLE
    try:
        ServerEncryptedExtensions._WHOLE = None
        want = _ee_outcome(data)
    finally:
        ServerEncryptedExtensions._WHOLE = kept
    assert _ee_outcome(data) == want
    again = _ee_outcome(data)
    assert again == want
    if want[0] == "ok":
        assert hash(again[1]) == hash(want[1])


# -- the extension containers built without their generated __init__ (_Extensions._of) -------
_CONTAINERS = [
    ClientExtensions,
    ServerExtensions,
    ext_mod.HelloRetryExtensions,
    ext_mod.ServerEncryptedExtensions,
    ext_mod.CertificateEntryExtensions,
    ext_mod.CertificateRequestExtensions,
    ext_mod.NewSessionTicketExtensions,
]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_containers_built_by_of_equal_the_constructor(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(_CONTAINERS))
    names = [f.name for f in dataclasses.fields(cls)]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True))
    value = st.one_of(st.none(), st.booleans(), st.integers(0, 0xFFFF), st.binary(max_size=8))
    values = {n: data.draw(value) for n in chosen}
    built = cls._of(dict(values))
    expected = cls(**values)
    assert type(built) is cls
    assert built == expected
    assert repr(built) == repr(expected)
    assert hash(built) == hash(expected)
    assert all(getattr(built, n) == getattr(expected, n) for n in names)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.unknown = ()  # type: ignore[misc]


def test_containers_built_by_of_with_nothing_are_the_defaults() -> None:
    for cls in _CONTAINERS:
        assert cls._of({}) == cls()
    with pytest.raises(AttributeError):
        ServerExtensions._of({"no_such_field": 1})
