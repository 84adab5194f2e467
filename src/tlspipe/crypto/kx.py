"""Key exchange groups: X25519 (RFC 7748), secp256r1 / secp384r1 ECDHE (RFC 8446 §4.2.8.2,
RFC 8422 §5.11) and the X25519MLKEM768 hybrid (draft-ietf-tls-ecdhe-mlkem §3, FIPS 203),
all behind the :class:`~tlspipe.crypto.provider.KxGroup` interface.

Peer shares are validated: NIST points must be uncompressed (0x04 || X || Y) and on the curve;
X25519 keys are exactly 32 bytes and an all-zero shared secret is rejected (RFC 8446 §7.4.2);
ML-KEM encapsulation keys and ciphertexts must have the exact sizes and pass ``cryptography``'s
checks.  Any failure is ``PeerMisbehaved`` with alert ``illegal_parameter``.

Wire formats of the hybrid (client share, server share, shared secret):
``ek(1184) || x25519(32)``, ``ct(1088) || x25519(32)``, ``mlkem_ss(32) || x25519_ss(32)``.

Layering: imports :mod:`tlspipe.errors`, :mod:`tlspipe.enums`, :mod:`tlspipe.crypto.provider`
and ``cryptography``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x25519

from ..enums import AlertDescription, NamedGroup
from ..errors import InternalError, PeerMisbehaved
from .provider import ActiveKeyExchange

__all__ = [
    "SECP256R1",
    "SECP384R1",
    "X25519",
    "X25519MLKEM768",
    "EcdhGroup",
    "HybridMlKemGroup",
    "X25519Group",
]

_X25519_LEN = 32
_MLKEM768_EK_LEN = 1184
_MLKEM768_CT_LEN = 1088


def _bad_share(what: str) -> PeerMisbehaved:
    return PeerMisbehaved(f"invalid {what} key share", AlertDescription.illegal_parameter)


# ---------------------------------------------------------------------------------- X25519


def _x25519_exchange(priv: x25519.X25519PrivateKey, peer: bytes) -> bytes:
    if len(peer) != _X25519_LEN:
        raise _bad_share("x25519")
    try:
        shared = priv.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
    except ValueError:
        # cryptography refuses an all-zero result (small-order peer point)
        raise _bad_share("x25519") from None
    if shared == bytes(_X25519_LEN):  # belt and braces: RFC 7748 §6.1, RFC 8446 §7.4.2
        raise _bad_share("x25519")
    return shared


class _X25519Active:
    """An ephemeral X25519 key pair waiting for the peer's share."""

    __slots__ = ("_priv", "group", "public")

    def __init__(self, group: NamedGroup) -> None:
        self.group = group
        self._priv = x25519.X25519PrivateKey.generate()
        self.public = self._priv.public_key().public_bytes_raw()

    def __repr__(self) -> str:
        return f"ActiveKeyExchange({self.group.name})"

    def complete(self, peer: bytes) -> bytes:
        """X25519(our_private, peer).

        Raises:
            PeerMisbehaved: wrong length or all-zero result (alert ``illegal_parameter``).
        """
        return _x25519_exchange(self._priv, peer)


@dataclass(frozen=True, slots=True)
class X25519Group:
    """The x25519 group (RFC 8446 §4.2.8.2, RFC 7748)."""

    name: NamedGroup = NamedGroup.x25519
    usable_in_tls12: bool = True

    def start(self) -> ActiveKeyExchange:
        """A fresh ephemeral key pair.

        Raises:
            Nothing.
        """
        return _X25519Active(self.name)

    def encapsulate(self, peer_share: bytes) -> tuple[bytes, bytes]:
        """Server side: (our share, shared secret).

        Raises:
            PeerMisbehaved: invalid client share (alert ``illegal_parameter``).
        """
        kx = _X25519Active(self.name)
        return kx.public, kx.complete(peer_share)


# ---------------------------------------------------------------------------------- NIST ECDH


def _ecdh(priv: ec.EllipticCurvePrivateKey, peer: bytes, coord_len: int, name: str) -> bytes:
    # RFC 8446 §4.2.8.2: only the uncompressed form; cryptography checks the point is on
    # the curve and not the point at infinity.
    if len(peer) != 1 + 2 * coord_len or peer[0] != 4:
        raise _bad_share(name)
    try:
        pub = ec.EllipticCurvePublicKey.from_encoded_point(priv.curve, peer)
        return priv.exchange(ec.ECDH(), pub)
    except ValueError:
        raise _bad_share(name) from None


class _EcdhActive:
    """An ephemeral NIST-curve key pair waiting for the peer's share."""

    __slots__ = ("_coord_len", "_priv", "group", "public")

    def __init__(self, group: NamedGroup, curve: ec.EllipticCurve, coord_len: int) -> None:
        self.group = group
        self._coord_len = coord_len
        self._priv = ec.generate_private_key(curve)
        self.public = self._priv.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def __repr__(self) -> str:
        return f"ActiveKeyExchange({self.group.name})"

    def complete(self, peer: bytes) -> bytes:
        """ECDH(our_private, peer): the X coordinate, fixed length (RFC 8446 §7.4.2).

        Raises:
            PeerMisbehaved: not an uncompressed point on the curve (``illegal_parameter``).
        """
        return _ecdh(self._priv, peer, self._coord_len, self.group.name)


@dataclass(frozen=True, slots=True)
class EcdhGroup:
    """A NIST prime curve ECDHE group (secp256r1, secp384r1)."""

    name: NamedGroup
    curve: ec.EllipticCurve
    coord_len: int
    usable_in_tls12: bool = True

    def start(self) -> ActiveKeyExchange:
        """A fresh ephemeral key pair.

        Raises:
            Nothing.
        """
        return _EcdhActive(self.name, self.curve, self.coord_len)

    def encapsulate(self, peer_share: bytes) -> tuple[bytes, bytes]:
        """Server side: (our share, shared secret).

        Raises:
            PeerMisbehaved: invalid client share (alert ``illegal_parameter``).
        """
        kx = _EcdhActive(self.name, self.curve, self.coord_len)
        return kx.public, kx.complete(peer_share)


# ---------------------------------------------------------------------------------- hybrid


class _HybridActive:
    """Client half of X25519MLKEM768: an ML-KEM-768 decapsulation key and an X25519 key."""

    __slots__ = ("_kem", "_x", "group", "public")

    def __init__(self, group: NamedGroup) -> None:
        self.group = group
        self._kem = mlkem.MLKEM768PrivateKey.generate()
        self._x = x25519.X25519PrivateKey.generate()
        self.public = (
            self._kem.public_key().public_bytes_raw() + self._x.public_key().public_bytes_raw()
        )

    def __repr__(self) -> str:
        return f"ActiveKeyExchange({self.group.name})"

    def complete(self, peer: bytes) -> bytes:
        """Decapsulate the server's ciphertext and finish X25519.

        Raises:
            PeerMisbehaved: wrong length, invalid ciphertext or X25519 share
                (alert ``illegal_parameter``).
        """
        if len(peer) != _MLKEM768_CT_LEN + _X25519_LEN:
            raise _bad_share("X25519MLKEM768")
        try:
            kem_ss = self._kem.decapsulate(peer[:_MLKEM768_CT_LEN])
        except ValueError:
            raise _bad_share("X25519MLKEM768") from None
        return kem_ss + _x25519_exchange(self._x, peer[_MLKEM768_CT_LEN:])


@dataclass(frozen=True, slots=True)
class HybridMlKemGroup:
    """X25519MLKEM768 (0x11EC), draft-ietf-tls-ecdhe-mlkem: TLS 1.3 only.

    The ML-KEM part comes first in every share and in the shared secret.
    """

    name: NamedGroup = NamedGroup.X25519MLKEM768
    usable_in_tls12: bool = False

    def start(self) -> ActiveKeyExchange:
        """Client side: fresh ML-KEM-768 and X25519 key pairs.

        Raises:
            Nothing.
        """
        return _HybridActive(self.name)

    def encapsulate(self, peer_share: bytes) -> tuple[bytes, bytes]:
        """Server side: encapsulate to the client's ML-KEM key and do X25519.

        Returns ``(ciphertext || x25519_pub, mlkem_ss || x25519_ss)``.

        Raises:
            PeerMisbehaved: wrong length or an invalid encapsulation key / X25519 share
                (alert ``illegal_parameter``).
        """
        if len(peer_share) != _MLKEM768_EK_LEN + _X25519_LEN:
            raise _bad_share("X25519MLKEM768")
        try:
            ek = mlkem.MLKEM768PublicKey.from_public_bytes(peer_share[:_MLKEM768_EK_LEN])
            kem_ss, ct = ek.encapsulate()
        except ValueError:
            raise _bad_share("X25519MLKEM768") from None
        x = x25519.X25519PrivateKey.generate()
        x_ss = _x25519_exchange(x, peer_share[_MLKEM768_EK_LEN:])
        if len(ct) != _MLKEM768_CT_LEN:  # pragma: no cover - backend contract
            raise InternalError("unexpected ML-KEM ciphertext length")
        return ct + x.public_key().public_bytes_raw(), kem_ss + x_ss


X25519 = X25519Group()
SECP256R1 = EcdhGroup(NamedGroup.secp256r1, ec.SECP256R1(), 32)
SECP384R1 = EcdhGroup(NamedGroup.secp384r1, ec.SECP384R1(), 48)
X25519MLKEM768 = HybridMlKemGroup()
