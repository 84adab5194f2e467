"""TLS 1.2 resumption by session ID and by RFC 5077 ticket; the stores, the Ticketer and
the persisted session values."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tls12_util import (
    ECDSA_SUITES,
    V12,
    Duo,
    client_config,
    rewrite_first_handshake,
    server_config,
)

import tlspipe
from tlspipe.enums import AlertDescription as AD
from tlspipe.enums import NamedGroup
from tlspipe.errors import DecodeError
from tlspipe.msgs.persist import (
    Tls12ClientSessionValue,
    Tls12ServerSessionValue,
    Tls13ClientSessionValue,
    Tls13ServerSessionValue,
)
from tlspipe.server.stores import TLS12_KEY_PREFIX


class Clock:
    def __init__(self) -> None:
        self.t = dt.datetime.now(dt.UTC).timestamp()

    def __call__(self) -> float:
        return self.t

    def dt(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.t, dt.UTC)


def _pair(pki, cc, sc, name="localhost"):
    d = Duo(cc, sc, name)
    d.handshake()
    assert d.send(d.client, b"a") == b"a"
    return d


def test_session_id_resumption(pki):
    cc = client_config(pki, enable_tickets=False)
    sc = server_config(pki)
    d1 = _pair(pki, cc, sc)
    assert not d1.client.handshake_kind_resumed
    d2 = _pair(pki, cc, sc)
    assert d2.client.handshake_kind_resumed and d2.server.handshake_kind_resumed
    assert d2.client.peer_certificates == d1.client.peer_certificates
    assert len(d2.server_wire[0]) < 200  # ServerHello, CCS, Finished only
    e1 = d2.client.export_keying_material(b"EXPERIMENTAL x", None, 16)
    assert e1 == d2.server.export_keying_material(b"EXPERIMENTAL x", None, 16)


def test_ticket_resumption(pki):
    cc = client_config(pki)
    sc = server_config(
        pki, ticketer=tlspipe.Ticketer(), session_storage=tlspipe.NoServerSessionStorage()
    )
    _pair(pki, cc, sc)
    stored = cc.session_store.tls12_session("localhost")
    assert stored is not None and stored.ticket and not stored.session_id
    d2 = _pair(pki, cc, sc)
    assert d2.client.handshake_kind_resumed and d2.server.handshake_kind_resumed
    d3 = _pair(pki, cc, sc)  # the renewed ticket works too
    assert d3.client.handshake_kind_resumed


def test_ticket_from_other_server_falls_back(pki):
    cc = client_config(pki)
    _pair(pki, cc, server_config(pki, ticketer=tlspipe.Ticketer()))
    d = _pair(pki, cc, server_config(pki, ticketer=tlspipe.Ticketer()))
    assert not d.client.handshake_kind_resumed


def test_session_id_other_server_falls_back(pki):
    cc = client_config(pki, enable_tickets=False)
    _pair(pki, cc, server_config(pki))
    d = _pair(pki, cc, server_config(pki))
    assert not d.client.handshake_kind_resumed


def test_tickets_disabled_on_client(pki):
    cc = client_config(pki, enable_tickets=False)
    sc = server_config(pki, ticketer=tlspipe.Ticketer())
    _pair(pki, cc, sc)
    assert cc.session_store.tls12_session("localhost").ticket == b""


def test_no_storage_no_resumption(pki):
    cc = client_config(pki, session_store=tlspipe.NoClientSessionStorage())
    sc = server_config(pki, ticketer=tlspipe.Ticketer())
    _pair(pki, cc, sc)
    assert not _pair(pki, cc, sc).client.handshake_kind_resumed


def test_ticketer_rotation_keeps_previous_key(pki):
    clock = Clock()
    t = tlspipe.Ticketer(100, clock=clock)
    old = t.encrypt(b"session")
    clock.t += 150  # rotated once: the previous key still opens
    assert t.decrypt(old) == b"session"
    new = t.encrypt(b"s2")
    assert new[:16] != old[:16]
    clock.t += 100  # rotated again: the first key is gone
    t.encrypt(b"s3")
    assert t.decrypt(old) is None
    assert t.decrypt(new) == b"s2"
    clock.t += 1000  # long idle: everything old is gone
    assert t.decrypt(new) is None


def test_ticketer_rejects_tampering_and_garbage():
    t = tlspipe.Ticketer(aead="CHACHA20-POLY1305")
    tk = t.encrypt(b"x" * 50)
    assert t.decrypt(tk) == b"x" * 50
    bad = tk[:-1] + bytes([tk[-1] ^ 1])
    assert t.decrypt(bad) is None
    assert t.decrypt(b"") is None
    assert t.decrypt(b"\x00" * 100) is None
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.Ticketer(0)


def test_expired_ticket_not_resumed(pki):
    clock = Clock()
    cc = client_config(pki, time=clock.dt)
    sc = server_config(pki, ticketer=tlspipe.Ticketer(60, clock=clock), time=clock.dt)
    _pair(pki, cc, sc)
    clock.t += 30
    assert _pair(pki, cc, sc).client.handshake_kind_resumed
    clock.t += 200
    assert not _pair(pki, cc, sc).client.handshake_kind_resumed


def test_session_id_lifetime(pki):
    clock = Clock()
    cc = client_config(pki, enable_tickets=False, time=clock.dt)
    sc = server_config(pki, time=clock.dt)
    _pair(pki, cc, sc)
    clock.t += 2 * 24 * 3600
    assert not _pair(pki, cc, sc).client.handshake_kind_resumed


def test_resumption_requires_same_sni(pki):
    cc = client_config(pki, enable_tickets=False)
    sc = server_config(pki)
    d1 = _pair(pki, cc, sc, "localhost")
    # copy the session to another name: the server's session is bound to "localhost"
    cc.session_store.set_tls12_session(
        "testserver.example", cc.session_store.tls12_session("localhost")
    )
    d2 = _pair(pki, cc, sc, "testserver.example")
    assert not d2.client.handshake_kind_resumed
    assert d1.client.peer_certificates


def test_resumption_suite_must_still_be_offered(pki):
    store = tlspipe.ClientSessionMemoryCache()
    sc = server_config(pki)
    cc1 = client_config(pki, session_store=store, cipher_suites=(ECDSA_SUITES[0],))
    _pair(pki, cc1, sc)
    cc2 = client_config(pki, session_store=store, cipher_suites=(ECDSA_SUITES[1],))
    d = _pair(pki, cc2, sc)
    assert not d.client.handshake_kind_resumed


def _strip_ems(ch):
    return dataclasses.replace(
        ch, extensions=dataclasses.replace(ch.extensions, extended_master_secret=False)
    )


def test_ems_session_resumed_without_ems_is_refused(pki):
    """RFC 7627 §5.3: the server aborts an abbreviated handshake without EMS."""
    cc = client_config(pki, enable_tickets=False)
    sc = server_config(pki)
    _pair(pki, cc, sc)
    d = Duo(cc, sc, c_alter=rewrite_first_handshake(_strip_ems))
    out = d.until_error()
    assert isinstance(out.server, tlspipe.PeerMisbehaved)
    assert out.server.alert == AD.handshake_failure


def test_client_refuses_resumption_without_ems(pki):
    cc = client_config(pki, enable_tickets=False)
    sc = server_config(pki)
    _pair(pki, cc, sc)

    def strip(sh):
        return dataclasses.replace(
            sh, extensions=dataclasses.replace(sh.extensions, extended_master_secret=False)
        )

    out = Duo(cc, sc, s_alter=rewrite_first_handshake(strip)).until_error()
    assert isinstance(out.client, tlspipe.PeerMisbehaved)
    assert out.client.alert == AD.handshake_failure


def test_session_without_ems_never_stored(pki):
    cc = client_config(pki, enable_tickets=False)
    sc = server_config(pki)
    d = Duo(cc, sc, c_alter=rewrite_first_handshake(_strip_ems))
    d.until_error()  # transcript mismatch (we altered the ClientHello) fails Finished
    assert cc.session_store.tls12_session("localhost") is None


def test_corrupt_stored_session_falls_back(pki):
    storage = tlspipe.ServerSessionMemoryCache(4)
    cc = client_config(pki, enable_tickets=False)
    sc = server_config(pki, session_storage=storage)
    _pair(pki, cc, sc)
    sid = cc.session_store.tls12_session("localhost").session_id
    storage.put(TLS12_KEY_PREFIX + sid, b"\x21garbage")
    assert not _pair(pki, cc, sc).client.handshake_kind_resumed


def test_tls13_ignores_tls12_store_entries(pki):
    cc = client_config(pki, versions=(tlspipe.ProtocolVersion.TLSv1_3, V12))
    d = _pair(pki, cc, server_config(pki, versions=(V12,)))
    assert d.client.protocol_version is V12
    d = _pair(pki, cc, server_config(pki, versions=(tlspipe.ProtocolVersion.TLSv1_3, V12)))
    assert d.client.protocol_version is tlspipe.ProtocolVersion.TLSv1_3


# -- stores ---------------------------------------------------------------------------------
def _c12(i: int = 0) -> Tls12ClientSessionValue:
    return Tls12ClientSessionValue(
        suite=0xC02B, session_id=bytes([i]) * 32, ticket=b"", master_secret=b"m" * 48,
        extended_ms=True, server_cert_chain=(b"cert",), alpn=None, received_at=1, lifetime=10,
    )  # fmt: skip


def _c13(i: int = 0) -> Tls13ClientSessionValue:
    return Tls13ClientSessionValue(
        suite=0x1301, ticket=bytes([i + 1]), secret=b"s" * 32, age_add=5, lifetime=100,
        received_at=2, max_early_data=0, alpn=b"h2", server_name="a.example",
    )  # fmt: skip


def test_client_cache_lru_and_single_use_tickets():
    c = tlspipe.ClientSessionMemoryCache(max_servers=2, max_tickets_per_server=2)
    c.set_tls12_session("a", _c12(1))
    c.set_kx_hint("b", NamedGroup.x25519)
    assert c.tls12_session("a") == _c12(1)  # touch a: b is now the oldest
    c.set_kx_hint("c", NamedGroup.secp256r1)
    assert c.kx_hint("b") is None and c.kx_hint("c") == NamedGroup.secp256r1
    assert c.tls12_session("a") is not None
    c.remove_tls12_session("a")
    assert c.tls12_session("a") is None
    for i in range(3):
        c.insert_tls13_ticket("c", _c13(i))
    assert c.take_tls13_ticket("c") == _c13(2)
    assert c.take_tls13_ticket("c") == _c13(1)
    assert c.take_tls13_ticket("c") is None  # the oldest was dropped; each used once
    assert len(c) == 2
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.ClientSessionMemoryCache(0)


def test_server_cache_lru():
    s = tlspipe.ServerSessionMemoryCache(2)
    assert s.can_cache()
    s.put(b"1", b"a")
    s.put(b"2", b"b")
    assert s.get(b"1") == b"a"
    s.put(b"3", b"c")
    assert s.get(b"2") is None and s.get(b"1") == b"a"
    assert s.take(b"1") == b"a" and s.get(b"1") is None
    assert len(s) == 1
    n = tlspipe.NoServerSessionStorage()
    assert not n.can_cache() and not n.put(b"1", b"a") and n.get(b"1") is None


# -- persisted values -----------------------------------------------------------------------
VALUES = [
    Tls12ServerSessionValue(0xC02B, b"m" * 48, True, "a.example", b"h2", (b"c1", b"c2"), 7),
    Tls12ServerSessionValue(0xC02F, b"m" * 48, False, None, None, (), 0),
    _c12(3),
    dataclasses.replace(_c12(), session_id=b"", ticket=b"t" * 200, alpn=b"http/1.1"),
    Tls13ServerSessionValue(0x1302, b"p" * 48, None, "x", 1, 2, 3, 4, (b"cc",)),
    _c13(),
    dataclasses.replace(_c13(), server_cert_chain=(b"a", b"b")),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_persist_roundtrip_and_strictness(value):
    enc = value.encode()
    assert type(value).decode(enc) == value
    with pytest.raises(DecodeError):
        type(value).decode(enc + b"\x00")
    with pytest.raises(DecodeError):
        type(value).decode(enc[:-1])
    with pytest.raises(DecodeError):
        type(value).decode(bytes([enc[0] + 1]) + enc[1:])
    assert "mmmm" not in repr(value) and "pppp" not in repr(value) and "ssss" not in repr(value)
    others = [type(v) for v in VALUES if type(v) is not type(value)]
    for cls in others:
        with pytest.raises(DecodeError):
            cls.decode(enc)


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=300), which=st.sampled_from(sorted({type(v) for v in VALUES}, key=str))
)
def test_persist_garbage_only_decode_error(data, which):
    with contextlib.suppress(DecodeError):
        which.decode(data)


@settings(max_examples=100, deadline=None)
@given(idx=st.integers(0, len(VALUES) - 1), pos=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_persist_bitflips_only_decode_error(idx, pos, bit):
    enc = bytearray(VALUES[idx].encode())
    enc[pos % len(enc)] ^= 1 << bit
    with contextlib.suppress(DecodeError):
        type(VALUES[idx]).decode(bytes(enc))


def test_ticket_and_session_id_resume_by_id_without_ticketer(pki):
    storage = tlspipe.ServerSessionMemoryCache()
    cc = client_config(pki)
    _pair(pki, cc, server_config(pki, session_storage=storage, ticketer=tlspipe.Ticketer()))
    stored = cc.session_store.tls12_session("localhost")
    assert stored.ticket and stored.session_id
    d = _pair(pki, cc, server_config(pki, session_storage=storage))
    assert d.client.handshake_kind_resumed and d.server.handshake_kind_resumed


class _RecordingStore:
    """A user StoresServerSessions that records the keys it is asked for."""

    def __init__(self) -> None:
        self.inner = tlspipe.ServerSessionMemoryCache(16)
        self.keys: list[bytes] = []

    def put(self, key: bytes, value: bytes) -> bool:
        self.keys.append(key)
        return self.inner.put(key, value)

    def get(self, key: bytes) -> bytes | None:
        self.keys.append(key)
        return self.inner.get(key)

    def take(self, key: bytes) -> bytes | None:
        self.keys.append(key)
        return self.inner.take(key)

    def can_cache(self) -> bool:
        return True


def test_tls12_and_tls13_sessions_use_separate_key_spaces(pki):
    """A TLS 1.2 session ID can never be looked up (or taken) as a TLS 1.3 ticket, and back."""
    store = _RecordingStore()
    sc = server_config(pki, session_storage=store, versions=(tlspipe.ProtocolVersion.TLSv1_3, V12))
    cc12 = client_config(pki, versions=(V12,), enable_tickets=False)
    assert _pair(pki, cc12, sc).client.protocol_version is V12
    assert _pair(pki, cc12, sc).client.handshake_kind_resumed
    cc13 = client_config(pki, versions=(tlspipe.ProtocolVersion.TLSv1_3,))
    assert _pair(pki, cc13, sc).client.protocol_version is tlspipe.ProtocolVersion.TLSv1_3
    assert _pair(pki, cc13, sc).client.handshake_kind_resumed
    assert store.keys
    assert all(k.startswith((b"tls12/", b"tls13/")) for k in store.keys)
    assert {k[:6] for k in store.keys} == {b"tls12/", b"tls13/"}


def _both(cls, data):
    """(fast decode, Reader-based decode) of ``data``: a value or the DecodeError type."""
    out = []
    for fn in (cls.decode, cls._decode_checked):
        try:
            out.append(fn(data))
        except DecodeError:
            out.append(DecodeError)
    return out


SERVER_VALUES = [
    v for v in VALUES if isinstance(v, (Tls12ServerSessionValue, Tls13ServerSessionValue))
] + [
    Tls12ServerSessionValue(0xC02B, b"m" * 48, True, "a.example", None, (), 2**63),
    Tls13ServerSessionValue(0x1301, b"p" * 32, b"h2", None, 1, 2**32 - 1, 3, 0, ()),
    Tls13ServerSessionValue(0x1301, b"p", b"x" * 255, "y" * 255, 0, 0, 0, 0, (b"c" * 300,) * 3),
]


@pytest.mark.parametrize("value", SERVER_VALUES, ids=lambda v: type(v).__name__)
def test_server_value_fast_decode_agrees(value):
    """The servers' one-pass decoders give what the Reader-based ones give: the value, or
    DecodeError for every truncation and a flip of every bit."""
    cls = type(value)
    enc = value.encode()
    assert _both(cls, enc) == [value, value]
    for cut in range(len(enc)):
        assert _both(cls, enc[:cut]) == [DecodeError, DecodeError]
    for pos in range(len(enc)):
        for bit in range(8):
            flipped = bytearray(enc)
            flipped[pos] ^= 1 << bit
            a, b = _both(cls, bytes(flipped))
            assert a == b
    assert _both(cls, bytearray(enc)) == [value, value]


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=200),
    which=st.sampled_from([Tls12ServerSessionValue, Tls13ServerSessionValue]),
    fmt=st.booleans(),
)
def test_server_value_fast_decode_agrees_on_garbage(data, which, fmt):
    if fmt:  # mostly past the format byte
        data = bytes([0x21 if which is Tls12ServerSessionValue else 0x41]) + data
    a, b = _both(which, data)
    assert a == b
