"""SNI (RFC 6066 §3) with ResolvesServerCertUsingSni, and IP-address server names."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import tlspipe
from helpers import Pair, certified_key, client_config, make_pair
from tlspipe.enums import AlertDescription, ContentType, HandshakeType
from tlspipe.errors import PeerMisbehaved
from tlspipe.msgs.message import decode_handshake
from tlspipe.server import hs


def _sni_server(pki, default=None):
    other = pki.other_server()
    r = tlspipe.ResolvesServerCertUsingSni(default)
    r.add(["localhost", "testserver.example"], certified_key(pki))
    r.add(
        "Other.Example.",
        tlspipe.CertifiedKey.from_pem(other.chain_pem.read_bytes(), other.key_pem.read_bytes()),
    )
    return tlspipe.ServerConfig(cert_resolver=r), other


def _client_hello(p):
    rec = p.records["client"][0]
    assert rec.typ == ContentType.handshake
    return decode_handshake(rec.payload, tls13=False).body


@pytest.mark.parametrize("name", ["localhost", "testserver.example", "other.example"])
def test_sni_selects_certificate(pki, name):
    sc, other = _sni_server(pki)
    p = Pair(client_config(pki), sc, server_name=name)
    p.handshake()
    assert p.server.server_name == name
    expect = other.chain_der[0] if name == "other.example" else pki.server().chain_der[0]
    assert p.client.peer_certificates[0] == expect
    assert _client_hello(p).extensions.server_name == name.encode()


def test_sni_unknown_name_without_default(pki):
    sc, _ = _sni_server(pki)
    p = Pair(client_config(pki), sc, server_name="unknown.example")
    out = p.until_error()
    assert isinstance(out.server_error, tlspipe.PeerIncompatible)
    assert out.server_alert == AlertDescription.unrecognized_name
    assert isinstance(out.client_error, tlspipe.AlertReceived)


def test_sni_unknown_name_uses_default(pki):
    sc, _ = _sni_server(pki, default=certified_key(pki))
    # the default certificate does not name unknown.example: the client rejects it
    p = Pair(client_config(pki), sc, server_name="unknown.example")
    out = p.until_error()
    assert isinstance(out.client_error, tlspipe.InvalidCertificate)
    assert out.client_alert == AlertDescription.bad_certificate
    assert isinstance(out.server_error, tlspipe.AlertReceived)


def test_sni_disabled(pki):
    p = make_pair(pki, client={"enable_sni": False})
    p.handshake()
    assert _client_hello(p).extensions.server_name is None
    assert p.server.server_name is None


@pytest.mark.parametrize("ip", ["127.0.0.1", "[127.0.0.1]"])
def test_ip_address_server_name(pki, ip):
    p = make_pair(pki, server_name=ip)
    p.handshake()
    assert _client_hello(p).extensions.server_name is None
    assert p.server.server_name is None
    assert p.send(p.client, b"ip ok") == b"ip ok"


def test_ip_address_not_in_certificate(pki):
    p = make_pair(pki, server_name="127.0.0.2")
    out = p.until_error()
    assert isinstance(out.client_error, tlspipe.InvalidCertificate)
    assert out.client_alert == AlertDescription.bad_certificate


def test_wrong_name_rejected(pki):
    p = make_pair(pki, server_name="nothere.example")
    out = p.until_error()
    assert isinstance(out.client_error, tlspipe.InvalidCertificate)
    assert out.client_error.reason is tlspipe.CertificateReason.NOT_VALID_FOR_NAME


@pytest.mark.parametrize("bad", ["", "a..b", "-x.example", "x" * 64 + ".example", "a b"])
def test_invalid_server_names(pki, bad):
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.ClientConnection(client_config(pki), bad)


def test_encrypted_extensions_ack_sni(pki):
    p = make_pair(pki)
    p.handshake()
    ee = next(
        r
        for r in p.records["server"]
        if r.encrypted and r.handshake_type() == HandshakeType.encrypted_extensions
    )
    assert decode_handshake(ee.payload, tls13=True).body.extensions.server_name


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (b"bench.example", "bench.example"),
        (b"A-b_c.EXAMPLE.", "a-b_c.example"),
        (b"x" * 63 + b".y", "x" * 63 + ".y"),
        (b"a..b", None),
        (b".", None),
        (b"x" * 64, None),
        (b"a b", None),
        (b"ex\x00", None),
        (b"a\n", None),
    ],
)
def test_server_name_syntax(raw, want):
    from types import SimpleNamespace

    from tlspipe.server.hs import _sni

    ch = SimpleNamespace(extensions=SimpleNamespace(server_name=raw))
    if want is None:
        with pytest.raises(tlspipe.PeerMisbehaved) as ei:
            _sni(ch)
        assert ei.value.alert == AlertDescription.decode_error
    else:
        assert _sni(ch) == want


def test_server_checks_sni_names_once_but_always_alike() -> None:
    """The server remembers checked names (bounded, short names only): a repeat gives the same
    name, an invalid name fails every time, a long valid name is checked and not kept."""

    def ch(raw: bytes) -> Any:
        return SimpleNamespace(extensions=SimpleNamespace(server_name=raw))

    assert hs._sni(ch(b"Example.COM.")) == hs._sni(ch(b"Example.COM.")) == "example.com"
    for _ in range(2):
        with pytest.raises(PeerMisbehaved, match="not a valid host name"):
            hs._sni(ch(b"bad name"))
        with pytest.raises(PeerMisbehaved, match="not ASCII"):
            hs._sni(ch(b"caf\xc3\xa9"))
    long = b".".join([b"a" * 60] * 8)
    assert hs._sni(ch(long)) == long.decode()
    assert long not in hs._SNI_NAMES
    for i in range(600):
        hs._sni(ch(b"h%d.example" % i))
        assert len(hs._SNI_NAMES) <= 256
