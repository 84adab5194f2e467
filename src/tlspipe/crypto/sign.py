"""Signing keys, signature schemes and key/certificate loading (RFC 8446 §4.2.3, §4.4.3;
RFC 5246 §7.4.1.4.1; RFC 8422 §5.10), all primitives from ``cryptography``.

* :func:`load_private_key` reads PKCS#8, SEC1 (EC) and PKCS#1 (RSA) keys, PEM or DER;
  encrypted keys are refused.  Key types: RSA, ECDSA P-256/P-384/P-521, Ed25519.
* Each key type is a :class:`~tlspipe.crypto.provider.SigningKey`; ``choose_scheme`` picks
  *our* preferred scheme among those the peer offered (ECDSA: the one matching the key's
  curve; RSA: PSS before PKCS#1, larger hashes first).  ``choose_scheme(..., tls13=True)``
  drops the schemes TLS 1.3 forbids (PKCS#1 v1.5, SHA-1).
* :func:`verify_signature` checks one handshake signature; ``tls13=True`` applies the
  TLS 1.3 rules (no PKCS#1, ECDSA curve bound to the scheme), ``tls13=False`` the TLS 1.2
  ones (ECDSA scheme names only the hash).  RSA-PSS salt length = digest length (§4.2.3).
* :class:`CertifiedKey` is a certificate chain (DER) plus its key, checked to match.

Layering: imports :mod:`tlspipe.errors`, :mod:`tlspipe.enums`, :mod:`tlspipe.crypto.provider`
and ``cryptography``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    PrivateKeyTypes,
    PublicKeyTypes,
)

from ..enums import AlertDescription, SignatureScheme
from ..errors import ConfigError, PeerMisbehaved
from .provider import Signer, SigningKey, tls13_ok

__all__ = [
    "SUPPORTED_SIGNATURE_SCHEMES",
    "CertifiedKey",
    "EcdsaSigningKey",
    "Ed25519SigningKey",
    "RsaSigningKey",
    "load_certificate_chain",
    "load_private_key",
    "signing_key_from_cryptography",
    "verify_signature",
]

S = SignatureScheme

#: Schemes :func:`verify_signature` checks, in our preference order (what we offer).
SUPPORTED_SIGNATURE_SCHEMES: tuple[SignatureScheme, ...] = (
    S.ecdsa_secp384r1_sha384,
    S.ecdsa_secp256r1_sha256,
    S.ed25519,
    S.rsa_pss_rsae_sha512,
    S.rsa_pss_rsae_sha384,
    S.rsa_pss_rsae_sha256,
    S.rsa_pkcs1_sha512,
    S.rsa_pkcs1_sha384,
    S.rsa_pkcs1_sha256,
)

_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}

# scheme -> (hash, curve name or None)
_ECDSA: dict[int, tuple[hashes.HashAlgorithm, str]] = {
    S.ecdsa_secp256r1_sha256: (_HASHES["sha256"], "secp256r1"),
    S.ecdsa_secp384r1_sha384: (_HASHES["sha384"], "secp384r1"),
    S.ecdsa_secp521r1_sha512: (_HASHES["sha512"], "secp521r1"),
}
# scheme -> its ec.ECDSA signature algorithm, built once (its constructor checks the hash
# through an ABC isinstance on every call; the object is immutable)
_ECDSA_ALGORITHM = {s: ec.ECDSA(h) for s, (h, _curve) in _ECDSA.items()}
_RSA_PSS: dict[int, hashes.HashAlgorithm] = {
    S.rsa_pss_rsae_sha256: _HASHES["sha256"],
    S.rsa_pss_rsae_sha384: _HASHES["sha384"],
    S.rsa_pss_rsae_sha512: _HASHES["sha512"],
}
_RSA_PKCS1: dict[int, hashes.HashAlgorithm] = {
    S.rsa_pkcs1_sha256: _HASHES["sha256"],
    S.rsa_pkcs1_sha384: _HASHES["sha384"],
    S.rsa_pkcs1_sha512: _HASHES["sha512"],
}
_CURVE_SCHEME = {
    "secp256r1": S.ecdsa_secp256r1_sha256,
    "secp384r1": S.ecdsa_secp384r1_sha384,
    "secp521r1": S.ecdsa_secp521r1_sha512,
}
_RSA_ORDER = (
    S.rsa_pss_rsae_sha512,
    S.rsa_pss_rsae_sha384,
    S.rsa_pss_rsae_sha256,
    S.rsa_pkcs1_sha512,
    S.rsa_pkcs1_sha384,
    S.rsa_pkcs1_sha256,
)


def _pss(h: hashes.HashAlgorithm) -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.DIGEST_LENGTH)


# ---------------------------------------------------------------------------------- signers


@dataclass(frozen=True, slots=True)
class _EcdsaSigner:
    scheme: SignatureScheme
    _key: ec.EllipticCurvePrivateKey = field(repr=False)
    _algorithm: ec.ECDSA = field(repr=False)

    def sign(self, message: bytes) -> bytes:
        """DER-encoded ECDSA signature (RFC 8446 §4.2.3, RFC 3279).

        Raises:
            Nothing.
        """
        return self._key.sign(message, self._algorithm)


@dataclass(frozen=True, slots=True)
class _RsaSigner:
    scheme: SignatureScheme
    _key: rsa.RSAPrivateKey = field(repr=False)

    def sign(self, message: bytes) -> bytes:
        """RSASSA-PSS (salt = digest length) or RSASSA-PKCS1-v1_5 signature.

        Raises:
            Nothing.
        """
        h = _RSA_PSS.get(self.scheme)
        if h is not None:
            return self._key.sign(message, _pss(h), h)
        return self._key.sign(message, padding.PKCS1v15(), _RSA_PKCS1[self.scheme])


@dataclass(frozen=True, slots=True)
class _Ed25519Signer:
    scheme: SignatureScheme
    _key: ed25519.Ed25519PrivateKey = field(repr=False)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature (RFC 8032).

        Raises:
            Nothing.
        """
        return self._key.sign(message)


# ---------------------------------------------------------------------------------- keys


def _pick(
    ours: Sequence[SignatureScheme], offered: Sequence[int], tls13: bool
) -> SignatureScheme | None:
    offered_set = set(offered)
    for s in ours:
        if s in offered_set and (not tls13 or tls13_ok(s)):
            return s
    return None


class _HasPublicKey:
    """``public_key()`` for the signing keys below (each holds a ``cryptography`` key)."""

    __slots__ = ()
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    def public_key(self) -> PublicKeyTypes:
        """The matching public key.

        Raises:
            Nothing.
        """
        return self.key.public_key()


@dataclass(frozen=True, slots=True)
class EcdsaSigningKey(_HasPublicKey):
    """An ECDSA private key; signs only with the scheme naming its curve."""

    key: ec.EllipticCurvePrivateKey = field(repr=False)
    algorithm: str = "ECDSA"
    # The only signer this key can give (None: a curve without a TLS scheme), built once:
    # choose_scheme runs on every handshake, and a signer holds no per-use state.
    _signer: _EcdsaSigner | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scheme = _CURVE_SCHEME.get(self.key.curve.name)
        signer = None
        if scheme is not None:
            signer = _EcdsaSigner(scheme, self.key, _ECDSA_ALGORITHM[scheme])
        object.__setattr__(self, "_signer", signer)

    def choose_scheme(self, offered: Sequence[int], *, tls13: bool = False) -> Signer | None:
        """The curve's scheme if offered, else None.

        Raises:
            Nothing.
        """
        signer = self._signer
        if (
            signer is None
            or signer.scheme not in offered
            or (tls13 and not tls13_ok(signer.scheme))
        ):
            return None
        return signer


@dataclass(frozen=True, slots=True)
class RsaSigningKey(_HasPublicKey):
    """An RSA private key; prefers RSASSA-PSS, then PKCS#1 v1.5; SHA-512 first."""

    key: rsa.RSAPrivateKey = field(repr=False)
    algorithm: str = "RSA"

    def choose_scheme(self, offered: Sequence[int], *, tls13: bool = False) -> Signer | None:
        """Our most preferred RSA scheme the peer offered, or None.

        Raises:
            Nothing.
        """
        scheme = _pick(_RSA_ORDER, offered, tls13)
        return None if scheme is None else _RsaSigner(scheme, self.key)


@dataclass(frozen=True, slots=True)
class Ed25519SigningKey(_HasPublicKey):
    """An Ed25519 private key (RFC 8032); scheme ed25519 only."""

    key: ed25519.Ed25519PrivateKey = field(repr=False)
    algorithm: str = "ED25519"

    def choose_scheme(self, offered: Sequence[int], *, tls13: bool = False) -> Signer | None:
        """ed25519 if offered, else None.

        Raises:
            Nothing.
        """
        if _pick((S.ed25519,), offered, tls13) is None:
            return None
        return _Ed25519Signer(S.ed25519, self.key)


def signing_key_from_cryptography(key: PrivateKeyTypes) -> SigningKey:
    """Wrap a ``cryptography`` private key object as a :class:`SigningKey`.

    Raises:
        ConfigError: unsupported key type or curve.
    """
    if isinstance(key, rsa.RSAPrivateKey):
        return RsaSigningKey(key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in _CURVE_SCHEME:
            raise ConfigError(f"unsupported ECDSA curve {key.curve.name}")
        return EcdsaSigningKey(key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Ed25519SigningKey(key)
    raise ConfigError(f"unsupported private key type {type(key).__name__}")


_PEM_KEY = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----\r?\n.*?-----END \1PRIVATE KEY-----", re.DOTALL
)


def load_private_key(pem_or_der: bytes) -> SigningKey:
    """Load a private key: PKCS#8, SEC1 or PKCS#1, PEM (first key block) or DER.

    Raises:
        ConfigError: no key found, undecodable, encrypted, or an unsupported type.
    """
    data = bytes(pem_or_der)
    try:
        if b"-----BEGIN" in data:
            m = _PEM_KEY.search(data)
            if m is None:
                raise ConfigError("no PRIVATE KEY block in PEM data")
            block = m.group(0)
            if m.group(1).startswith(b"ENCRYPTED") or b"Proc-Type: 4,ENCRYPTED" in block:
                raise ConfigError("encrypted private keys are not supported")
            key = serialization.load_pem_private_key(block, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except TypeError:
        raise ConfigError("encrypted private keys are not supported") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError("could not decode private key") from None
    return signing_key_from_cryptography(key)


def load_certificate_chain(pem_or_der: bytes) -> list[bytes]:
    """Certificates as a DER list, leaf first: every CERTIFICATE block of PEM data, or one DER
    certificate.

    Raises:
        ConfigError: no certificate, or a certificate does not decode.
    """
    data = bytes(pem_or_der)
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
            return [c.public_bytes(serialization.Encoding.DER) for c in certs]
        x509.load_der_x509_certificate(data)
    except ValueError:
        raise ConfigError("could not decode certificate chain") from None
    if not data:
        raise ConfigError("empty certificate chain")
    return [data]


def _spki(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True, slots=True)
class CertifiedKey:
    """A certificate chain (DER, leaf first) with its private key and optional stapled
    OCSP response / SCT list (RFC 6066 §8, RFC 6962 §3.3)."""

    cert_chain: tuple[bytes, ...]
    key: SigningKey = field(repr=False)
    ocsp: bytes | None = None
    sct_list: bytes | None = None

    @property
    def end_entity(self) -> bytes:
        """The leaf certificate (DER).

        Raises:
            ConfigError: the chain is empty.
        """
        if not self.cert_chain:
            raise ConfigError("empty certificate chain")
        return self.cert_chain[0]

    def check_key_matches(self) -> None:
        """Check the private key belongs to the leaf certificate.

        Raises:
            ConfigError: empty chain, undecodable leaf, or key/certificate mismatch.
        """
        try:
            leaf_pub = x509.load_der_x509_certificate(self.end_entity).public_key()
        except (ValueError, UnsupportedAlgorithm):
            raise ConfigError("could not read the leaf certificate's public key") from None
        if _spki(leaf_pub) != _spki(self.key.public_key()):
            raise ConfigError("private key does not match the leaf certificate")

    @classmethod
    def from_pem(
        cls,
        chain_pem: bytes,
        key_pem: bytes,
        *,
        ocsp: bytes | None = None,
        sct_list: bytes | None = None,
    ) -> CertifiedKey:
        """Load a chain and key (PEM or DER) and check they match.

        Raises:
            ConfigError: undecodable input, encrypted key, empty chain, or mismatch.
        """
        ck = cls(
            tuple(load_certificate_chain(chain_pem)), load_private_key(key_pem), ocsp, sct_list
        )
        ck.check_key_matches()
        return ck


# ---------------------------------------------------------------------------------- verify


def _bad_sig() -> PeerMisbehaved:
    return PeerMisbehaved("invalid handshake signature", AlertDescription.decrypt_error)


def _wrong_scheme(msg: str) -> PeerMisbehaved:
    return PeerMisbehaved(msg, AlertDescription.illegal_parameter)


def verify_signature(
    public_key: PublicKeyTypes,
    scheme: int,
    message: bytes,
    signature: bytes,
    *,
    tls13: bool = False,
) -> None:
    """Verify a handshake signature made with ``scheme`` by ``public_key``.

    ``tls13=True``: TLS 1.3 rules (RFC 8446 §4.2.3) — PKCS#1 v1.5 and SHA-1 schemes are
    rejected and an ECDSA scheme must match the key's curve.  ``tls13=False``: TLS 1.2 rules
    (RFC 5246 §7.4.1.4.1) — an ECDSA scheme names only the hash (curve P-256/P-384/P-521).

    Raises:
        PeerMisbehaved: alert ``illegal_parameter`` if the scheme is unsupported, forbidden
            in this version, or does not fit the key type/curve; alert ``decrypt_error`` if
            the signature does not verify.
    """
    if tls13 and not tls13_ok(scheme):
        raise _wrong_scheme("signature scheme not allowed in TLS 1.3")
    try:
        if scheme in _ECDSA:
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                raise _wrong_scheme("ECDSA scheme for a non-EC key")
            curve = public_key.curve.name
            if curve not in _CURVE_SCHEME or (tls13 and curve != _ECDSA[scheme][1]):
                raise _wrong_scheme("ECDSA scheme does not match the key's curve")
            public_key.verify(signature, message, _ECDSA_ALGORITHM[scheme])
        elif scheme in _RSA_PSS:
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise _wrong_scheme("RSA scheme for a non-RSA key")
            h = _RSA_PSS[scheme]
            public_key.verify(signature, message, _pss(h), h)
        elif scheme in _RSA_PKCS1:
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise _wrong_scheme("RSA scheme for a non-RSA key")
            public_key.verify(signature, message, padding.PKCS1v15(), _RSA_PKCS1[scheme])
        elif scheme == S.ed25519:
            if not isinstance(public_key, ed25519.Ed25519PublicKey):
                raise _wrong_scheme("ed25519 scheme for a non-Ed25519 key")
            public_key.verify(signature, message)
        else:
            raise _wrong_scheme("unsupported signature scheme")
    except (InvalidSignature, ValueError):
        raise _bad_sig() from None
