"""ClientHello1 from a cached template (client/hs.py ``_templated_hello``): the bytes sent are
exactly the full build's for the same inputs, for every config shape; PSK, TLS 1.2 session
and QUIC hellos are still built in full; the random and key share are fresh per connection;
the per-config cache is bounded and keyed by what varies (a custom verifier's schemes are
asked per handshake)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import tlspipe
from helpers import Pair, client_config, make_pair, server_config
from tlspipe.client import hs
from tlspipe.client.resume13 import bind_psks
from tlspipe.conn import CommonState, Side
from tlspipe.dangerous import dangerous_with_custom_verifier
from tlspipe.enums import NamedGroup, ProtocolVersion, SignatureScheme
from tlspipe.keys.transcript import Transcript
from tlspipe.msgs.message import encode_handshake

V12, V13 = ProtocolVersion.TLSv1_2, ProtocolVersion.TLSv1_3
X, P256 = NamedGroup.x25519, NamedGroup.secp256r1


def _sent_hello(c: tlspipe.ClientConnection) -> bytes:
    data = c.write_tls()
    assert data[0] == 22
    n = int.from_bytes(data[3:5], "big")
    assert len(data) == 5 + n  # one record
    return data[5:]


def _full_build(c: tlspipe.ClientConnection) -> bytes:
    """The ClientHello1 encoding by the full build, from the connection's own inputs."""
    st = c._state
    assert isinstance(st, hs.ExpectServerHello)
    cx = CommonState(Side.CLIENT, max_fragment_size=None, buffer_limit=1 << 16)
    return encode_handshake(hs._client_hello(st.hello, cx, st.share, None))


CONFIGS: list[dict[str, Any]] = [
    {},
    {"versions": (V13,)},
    {"versions": (V12,)},
    {"versions": (V13, V12), "enable_tickets": False},
    {"kx_groups": (X, P256)},
    {"kx_groups": (P256, X)},
    {"alpn_protocols": (b"h2", b"http/1.1")},
    {"enable_sni": False},
    {"middlebox_compat": False},
    {"middlebox_compat": False, "versions": (V12,)},
    {"session_store": tlspipe.NoClientSessionStorage(), "enable_tickets": False},
]
NAMES = ["localhost", "testserver.example", "127.0.0.1", "[::1]", "LocalHost."]


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: ",".join(map(str, kw)) or "default")
def test_template_bytes_equal_full_build(pki, kw):
    cc = client_config(pki, **kw)
    seen_random, seen_share = set(), set()
    for name in NAMES:
        for _ in range(3):  # miss, then hits
            c = tlspipe.ClientConnection(cc, name)
            st = c._state
            raw = _sent_hello(c)
            assert raw == _full_build(c)
            assert encode_handshake(st.offered_hello(c._cx)) == raw
            seen_random.add(st.hello.random)
            if st.share is not None:
                seen_share.add(st.share.public)
    assert len(seen_random) == 3 * len(NAMES)
    if V13 in cc.versions:
        assert len(seen_share) == 3 * len(NAMES)
    assert 0 < len(cc.hello_templates_) <= hs._TEMPLATES_MAX


def test_template_sets_sni_like_the_full_build(pki):
    cc = client_config(pki)
    for _ in range(2):
        assert tlspipe.ClientConnection(cc, "LocalHost.")._cx.sni == "localhost"
        assert tlspipe.ClientConnection(cc, "127.0.0.1")._cx.sni is None


def test_template_cache_is_bounded_and_holds_no_per_connection_values(pki):
    cc = client_config(pki)
    for i in range(3 * hs._TEMPLATES_MAX):
        c = tlspipe.ClientConnection(cc, f"h{i}.example")
        assert _sent_hello(c) == _full_build(c)
        assert len(cc.hello_templates_) <= hs._TEMPLATES_MAX
        st = c._state
        for fixed, _ in cc.hello_templates_.values():
            blob = b"".join(fixed)
            assert st.hello.random not in blob and st.share.public not in blob


def test_handshakes_from_templates_complete(pki):
    cc = client_config(pki, session_store=tlspipe.NoClientSessionStorage())
    sc = server_config(pki)
    for _ in range(3):
        p = Pair(cc, sc)
        p.handshake()
        assert p.send(p.client, b"x") == b"x"
    # TLS 1.2 server: the lazily built offered ClientHello checks its ServerHello
    sc12 = server_config(pki, versions=(V12,))
    for _ in range(3):
        p = Pair(cc, sc12)
        p.handshake()
        assert p.client.protocol_version == V12


def test_hrr_after_a_templated_hello(pki):
    for _ in range(3):
        p = make_pair(pki, client={"kx_groups": (X, P256)}, server={"kx_groups": (P256,)})
        assert p.handshake() == 3
        assert p.client.negotiated_key_exchange_group == P256


def _full_build_bound(c: tlspipe.ClientConnection) -> bytes:
    """The full build with binders (bind_psks) over a fresh transcript, as ClientHello1's."""
    st = c._state
    h = dataclasses.replace(st.hello, transcript=Transcript())
    cx = CommonState(Side.CLIENT, max_fragment_size=None, buffer_limit=1 << 16)
    return bind_psks(h, hs._client_hello(h, cx, st.share, None))


PSK = tlspipe.ExternalPsk(identity=b"client1", key=bytes(range(32)))
RESUMING: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"external_psk": PSK}, {"external_psks": (PSK,)}),
    ({"versions": (V13,)}, {"versions": (V13,)}),
    ({}, {}),
    ({"external_psk": PSK}, {"external_psks": (PSK,)} | {"ticketer": None}),
    ({"enable_early_data": True}, {"max_early_data_size": 1024}),
    ({"enable_early_data": True, "kx_groups": (X, P256)}, {"max_early_data_size": 1024}),
    ({"versions": (V12,)}, {"versions": (V12,)}),
    ({"versions": (V12,), "enable_tickets": False}, {"versions": (V12,), "ticketer": None}),
    ({"versions": (V13, V12)}, {"versions": (V12,)}),
]


@pytest.mark.parametrize("ckw,skw", RESUMING, ids=lambda kw: ",".join(map(str, kw)) or "-")
def test_resuming_hellos_equal_full_build(pki, ckw, skw):
    cc = client_config(pki, **ckw)
    sc = server_config(pki, **skw)
    resumed = 0
    for i in range(4):  # miss, then hits (a fresh ticket / session each time)
        c = tlspipe.ClientConnection(cc, "localhost")
        st = c._state
        assert st.offered is None or i < 3  # the 4th is a template hit
        assert bool(st.hello.psks or st.hello.resuming12) == (i > 0 or "external_psk" in ckw)
        data = c.write_tls()
        raw = data[5 : 5 + int.from_bytes(data[3:5], "big")]
        assert raw == _full_build_bound(c)
        cx = CommonState(Side.CLIENT, max_fragment_size=None, buffer_limit=1 << 16)
        assert st.offered_hello(c._cx) == hs._client_hello(st.hello, cx, st.share, None)
        s = tlspipe.ServerConnection(sc)
        for _ in range(8):
            if data:
                s.read_tls(data)
                s.process_new_packets()
            back = s.write_tls()
            if back:
                c.read_tls(back)
                c.process_new_packets()
            data = c.write_tls()
            if not (data or back or c.is_handshaking or s.is_handshaking):
                break
        resumed += c.handshake_kind_resumed
    assert resumed >= 3


class _ChangingSchemes:
    """A verifier delegating to the default one, offering fewer schemes every time."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.asked = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def supported_verify_schemes(self) -> list[SignatureScheme]:
        self.asked += 1
        all_ = list(self.inner.supported_verify_schemes())
        self.last = all_[: 1 + self.asked % len(all_)]
        return self.last


def test_custom_verifier_schemes_asked_per_handshake(pki):
    base = client_config(pki)
    v = _ChangingSchemes(base.verifier_)
    cc = dangerous_with_custom_verifier(base, v)
    for i in range(12):
        c = tlspipe.ClientConnection(cc, "localhost")
        assert v.asked == i + 1
        sent = _sent_hello(c)
        offered = c._state.offered_hello(c._cx)
        assert v.asked == i + 1  # rebuilt with the schemes sent, not asked again
        assert offered.extensions.signature_algorithms == tuple(int(s) for s in v.last)
        assert encode_handshake(offered) == sent
