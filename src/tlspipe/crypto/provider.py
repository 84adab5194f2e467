"""The crypto provider interfaces: what the rest of tlspipe needs from a cryptography backend.

This module holds only interfaces and small value types (no primitives): the ``Aead`` and
``AeadAlgorithm`` protocols, the cipher suite descriptions (RFC 8446 §B.4, RFC 5288, RFC 7905),
the ``KxGroup`` / ``ActiveKeyExchange`` protocols used for (EC)DH and KEM groups alike
(RFC 8446 §4.2.8, draft-ietf-tls-ecdhe-mlkem), the signing protocols (RFC 8446 §4.2.3,
§4.4.3) and the :class:`CryptoProvider` bundle.  ``crypto/default.py`` builds the default
provider on the ``cryptography`` package.

Layering: imports only :mod:`tlspipe.errors` and :mod:`tlspipe.enums` (layer 1) and
``cryptography`` types for annotations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from ..enums import CipherSuite, NamedGroup, SignatureScheme

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

__all__ = [
    "ActiveKeyExchange",
    "Aead",
    "AeadAlgorithm",
    "CryptoProvider",
    "KxGroup",
    "Signer",
    "SigningKey",
    "SupportedCipherSuite",
    "Tls12CipherSuite",
    "Tls13CipherSuite",
    "VerifySignature",
    "tls13_ok",
    "tls13_schemes",
]

HashName = Literal["sha256", "sha384"]

_HASH_LEN = {"sha256": 32, "sha384": 48, "sha512": 64}


class Aead(Protocol):
    """One AEAD instance bound to one key (RFC 5116).  Created once per traffic key.

    ``seal`` returns ciphertext || tag; ``open`` takes ciphertext || tag.
    """

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes | memoryview) -> bytes:
        """Encrypt and authenticate ``plaintext``.

        Raises:
            EncryptError: never in practice (the record layer enforces the limits).
        """
        ...

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes | memoryview) -> bytes:
        """Authenticate and decrypt ``ciphertext`` (with its tag appended).

        Raises:
            DecryptError: the tag does not verify (alert ``bad_record_mac``).
        """
        ...


class AeadAlgorithm(Protocol):
    """An AEAD algorithm: key length, limits, and a factory for keyed :class:`Aead` objects.

    ``confidentiality_limit`` is the number of records one key may encrypt;
    ``integrity_limit`` the number of failed decryptions tolerated under one key
    (RFC 8446 §5.5, RFC 9147 §4.5.3).
    """

    @property
    def name(self) -> str: ...
    @property
    def key_len(self) -> int: ...
    @property
    def tag_len(self) -> int: ...
    @property
    def confidentiality_limit(self) -> int: ...
    @property
    def integrity_limit(self) -> int: ...

    def new(self, key: bytes) -> Aead:
        """A keyed AEAD object.

        Raises:
            InternalError: ``key`` has the wrong length (a bug, never peer input).
        """
        ...


@dataclass(frozen=True, slots=True)
class Tls13CipherSuite:
    """A TLS 1.3 cipher suite (RFC 8446 §B.4): an AEAD plus the HKDF hash."""

    suite: CipherSuite
    hash_name: HashName
    aead: AeadAlgorithm

    @property
    def hash_len(self) -> int:
        """Output length of the suite's hash in bytes."""
        return _HASH_LEN[self.hash_name]

    @property
    def iv_len(self) -> int:
        """Per-record nonce length (always 12, RFC 8446 §5.3)."""
        return 12


@dataclass(frozen=True, slots=True)
class Tls12CipherSuite:
    """A TLS 1.2 ECDHE AEAD cipher suite (RFC 5289 / RFC 5288 GCM, RFC 7905 ChaCha20).

    ``sign`` is the certificate key type the suite requires ("ECDSA" or "RSA");
    ``fixed_iv_len`` is 4 for GCM (salt) and 12 for ChaCha20-Poly1305;
    ``explicit_nonce_len`` is 8 for GCM and 0 for ChaCha20-Poly1305.
    """

    suite: CipherSuite
    hash_name: HashName
    aead: AeadAlgorithm
    sign: Literal["ECDSA", "RSA"]
    fixed_iv_len: int
    explicit_nonce_len: int

    @property
    def hash_len(self) -> int:
        """Output length of the PRF hash in bytes."""
        return _HASH_LEN[self.hash_name]


SupportedCipherSuite = Tls13CipherSuite | Tls12CipherSuite


class ActiveKeyExchange(Protocol):
    """Our half of one key exchange: the share we send and how to finish with the peer's."""

    @property
    def group(self) -> NamedGroup: ...

    @property
    def public(self) -> bytes:
        """Our key share as it goes on the wire (uncompressed point / raw key / KEM key)."""
        ...

    def complete(self, peer: bytes) -> bytes:
        """Combine with the peer's share and return the shared secret.

        Raises:
            PeerMisbehaved: the peer share is malformed, not on the curve, or gives an
                all-zero X25519 result (alert ``illegal_parameter``).
        """
        ...


class KxGroup(Protocol):
    """A key exchange group, Diffie-Hellman or KEM, as one interface.

    Client side: ``start()`` then ``complete(server_share)``.  Server side: ``encapsulate(
    client_share)`` (for DH groups that is start()+complete()).  TLS 1.2 ECDHE server side uses
    ``start()`` / ``complete()`` and only groups with ``usable_in_tls12``.
    """

    @property
    def name(self) -> NamedGroup: ...

    @property
    def usable_in_tls12(self) -> bool:
        """True for plain ECDHE groups; False for KEM/hybrid groups (TLS 1.3 only)."""
        ...

    def start(self) -> ActiveKeyExchange:
        """Generate a fresh ephemeral key (client side; server side for TLS 1.2, which only
        uses groups with ``usable_in_tls12``).

        Raises:
            Nothing.
        """
        ...

    def encapsulate(self, peer_share: bytes) -> tuple[bytes, bytes]:
        """Server side: return ``(our_share, shared_secret)`` for the client's share.

        Raises:
            PeerMisbehaved: the client share is invalid (alert ``illegal_parameter``).
        """
        ...


class Signer(Protocol):
    """A key bound to one signature scheme, ready to sign one handshake message."""

    @property
    def scheme(self) -> SignatureScheme: ...

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (the scheme decides hash and padding).

        Raises:
            InternalError: the backend failed to sign.
        """
        ...


class SigningKey(Protocol):
    """A private key able to sign with one or more schemes.

    ``algorithm`` is "ECDSA", "RSA" or "ED25519" (used for TLS 1.2 suite selection).
    """

    @property
    def algorithm(self) -> str: ...

    def choose_scheme(self, offered: Sequence[int], *, tls13: bool = False) -> Signer | None:
        """The best scheme the peer offered that this key can use, or None.

        ``tls13=True`` excludes schemes not allowed in TLS 1.3 (pkcs1, sha1), per RFC 8446
        §4.2.3.  Preference is ours, not the peer's: RSA prefers PSS over PKCS#1 and larger
        hashes first.

        Raises:
            Nothing.
        """
        ...

    def public_key(self) -> PublicKeyTypes:
        """The matching ``cryptography`` public key (for certificate/key match checks)."""
        ...


class VerifySignature(Protocol):
    """Signature verification as a provider function (see ``crypto.sign.verify_signature``)."""

    def __call__(
        self,
        public_key: PublicKeyTypes,
        scheme: int,
        message: bytes,
        signature: bytes,
        *,
        tls13: bool = False,
    ) -> None: ...


_NOT_TLS13 = frozenset(
    {
        SignatureScheme.rsa_pkcs1_sha1,
        SignatureScheme.ecdsa_sha1,
        SignatureScheme.rsa_pkcs1_sha256,
        SignatureScheme.rsa_pkcs1_sha384,
        SignatureScheme.rsa_pkcs1_sha512,
    }
)


def tls13_ok(scheme: int) -> bool:
    """Whether ``scheme`` may be used for TLS 1.3 handshake signatures (RFC 8446 §4.2.3:
    no RSASSA-PKCS1-v1_5, no SHA-1).

    Raises:
        Nothing.
    """
    return scheme not in _NOT_TLS13


def tls13_schemes(schemes: Sequence[int]) -> tuple[int, ...]:
    """``schemes`` filtered to those allowed in TLS 1.3 handshake signatures.

    Raises:
        Nothing.
    """
    return tuple(s for s in schemes if s not in _NOT_TLS13)


@dataclass(frozen=True, slots=True)
class CryptoProvider:
    """Everything tlspipe takes from a cryptography backend.

    ``cipher_suites`` and ``kx_groups`` are in preference order; ``kx_groups`` is what a
    config uses by default, ``extra_kx_groups`` what it may name besides (opt-in groups such
    as the X25519MLKEM768 hybrid).  ``signature_schemes`` are those ``verify_signature`` can
    check, in preference order (what we offer in signature_algorithms).
    """

    cipher_suites: tuple[SupportedCipherSuite, ...]
    kx_groups: tuple[KxGroup, ...]
    signature_schemes: tuple[SignatureScheme, ...]
    secure_random: Callable[[int], bytes]
    load_private_key: Callable[[bytes], SigningKey]
    verify_signature: VerifySignature
    extra_kx_groups: tuple[KxGroup, ...] = ()

    def find_kx_group(self, group: int) -> KxGroup | None:
        """The provider's group with wire code ``group`` (default or opt-in), or None.

        Raises:
            Nothing.
        """
        for g in (*self.kx_groups, *self.extra_kx_groups):
            if g.name == group:
                return g
        return None

    def find_cipher_suite(self, suite: int) -> SupportedCipherSuite | None:
        """The provider's cipher suite with wire code ``suite``, or None.

        Raises:
            Nothing.
        """
        for s in self.cipher_suites:
            if s.suite == suite:
                return s
        return None
