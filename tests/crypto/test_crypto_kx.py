"""Key exchange groups: both sides agree; invalid peer shares raise PeerMisbehaved."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tlspipe.crypto.default import ALL_KX_GROUPS, SECP256R1, SECP384R1, X25519, X25519MLKEM768
from tlspipe.crypto.provider import KxGroup
from tlspipe.enums import AlertDescription, NamedGroup
from tlspipe.errors import PeerMisbehaved

SHARE_LENS = {
    NamedGroup.x25519: (32, 32, 32),
    NamedGroup.secp256r1: (65, 65, 32),
    NamedGroup.secp384r1: (97, 97, 48),
    NamedGroup.X25519MLKEM768: (1184 + 32, 1088 + 32, 64),
}


@pytest.mark.parametrize("group", ALL_KX_GROUPS, ids=lambda g: g.name.name)
def test_client_server_agree(group: KxGroup) -> None:
    client = group.start()
    assert client.group == group.name
    server_share, server_secret = group.encapsulate(client.public)
    client_secret = client.complete(server_share)
    assert client_secret == server_secret
    c_len, s_len, ss_len = SHARE_LENS[group.name]
    assert (len(client.public), len(server_share), len(client_secret)) == (c_len, s_len, ss_len)
    assert "ActiveKeyExchange" in repr(client)


@pytest.mark.parametrize("group", [X25519, SECP256R1, SECP384R1], ids=lambda g: g.name.name)
def test_dh_start_complete_both_sides(group: KxGroup) -> None:
    # TLS 1.2 server side: start() + complete()
    assert group.usable_in_tls12
    a, b = group.start(), group.start()
    assert a.complete(b.public) == b.complete(a.public)


def test_hybrid_not_for_tls12() -> None:
    assert not X25519MLKEM768.usable_in_tls12


def _expect_bad(fn: object, *args: bytes) -> None:
    assert callable(fn)
    with pytest.raises(PeerMisbehaved) as ei:
        fn(*args)
    assert ei.value.alert == AlertDescription.illegal_parameter


@pytest.mark.parametrize("group", ALL_KX_GROUPS, ids=lambda g: g.name.name)
def test_wrong_lengths_rejected(group: KxGroup) -> None:
    c_len, s_len, _ = SHARE_LENS[group.name]
    for bad in (b"", b"\x04", bytes(c_len - 1), bytes(c_len + 1)):
        _expect_bad(group.encapsulate, bad)
    client = group.start()
    for bad in (b"", bytes(s_len - 1), bytes(s_len + 1)):
        _expect_bad(client.complete, bad)


# small-order X25519 points (RFC 7748 §6.1 / known low-order list) give an all-zero secret
LOW_ORDER_X25519 = [
    bytes(32),
    b"\x01" + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]


@pytest.mark.parametrize("point", LOW_ORDER_X25519, ids=lambda p: p.hex()[:8])
def test_x25519_all_zero_rejected(point: bytes) -> None:
    _expect_bad(X25519.encapsulate, point)
    _expect_bad(X25519.start().complete, point)
    # also inside the hybrid: client share and server share
    ek = X25519MLKEM768.start().public[:1184]
    _expect_bad(X25519MLKEM768.encapsulate, ek + point)
    client = X25519MLKEM768.start()
    ct, _ = X25519MLKEM768.encapsulate(client.public)
    _expect_bad(client.complete, ct[:1088] + point)


@pytest.mark.parametrize(
    ("group", "curve"),
    [(SECP256R1, ec.SECP256R1()), (SECP384R1, ec.SECP384R1())],
    ids=["p256", "p384"],
)
def test_nist_point_validation(group: KxGroup, curve: ec.EllipticCurve) -> None:
    pub = ec.generate_private_key(curve).public_key()
    good = pub.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    compressed = pub.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    group.encapsulate(good)  # fine
    _expect_bad(group.encapsulate, compressed)
    # same length as uncompressed but with a compressed/hybrid prefix
    _expect_bad(group.encapsulate, b"\x02" + good[1:])
    _expect_bad(group.encapsulate, b"\x06" + good[1:])
    # not on the curve: flip a bit of Y
    _expect_bad(group.encapsulate, good[:-1] + bytes([good[-1] ^ 1]))
    # point at infinity / all zeros with the right length
    _expect_bad(group.encapsulate, b"\x04" + bytes(len(good) - 1))
    # coordinates >= p
    _expect_bad(group.encapsulate, b"\x04" + b"\xff" * (len(good) - 1))
    _expect_bad(group.start().complete, good[:-1] + bytes([good[-1] ^ 1]))


def test_hybrid_invalid_encapsulation_key() -> None:
    x_pub = X25519.start().public
    # coefficients >= q fail the FIPS 203 modulus check
    _expect_bad(X25519MLKEM768.encapsulate, b"\xff" * 1184 + x_pub)


def test_hybrid_secret_layout() -> None:
    """The ML-KEM part comes first: the last 32 bytes are the X25519 secret."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    client = X25519MLKEM768.start()
    server_x = X25519PrivateKey.generate()
    # build a server share by hand: real ML-KEM ciphertext + our own X25519 key
    ct_share, _ = X25519MLKEM768.encapsulate(client.public)
    share = ct_share[:1088] + server_x.public_key().public_bytes_raw()
    secret = client.complete(share)
    expected_x = server_x.exchange(X25519PublicKey.from_public_bytes(client.public[1184:]))
    assert secret[32:] == expected_x
