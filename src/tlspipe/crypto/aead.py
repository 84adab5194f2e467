"""AEAD algorithms for the record layer: AES-128/256-GCM and ChaCha20-Poly1305 (RFC 5116,
RFC 8439) from ``cryptography``, wrapped in the :class:`~tlspipe.crypto.provider.Aead`
interface.

One ``cryptography`` AEAD object is made per traffic key (``AeadAlgorithm.new``); ``seal`` and
``open`` are the per-record hot path and do nothing but call it.

Usage limits (records per key):

* AES-GCM: confidentiality 2**24 records (RFC 8446 §5.5 allows 2**24.5 full-size records; we
  round down to a power of two), integrity 2**36 forged records (RFC 9147 §4.5.3,
  draft-irtf-cfrg-aead-limits).
* ChaCha20-Poly1305: confidentiality 2**62 (effectively the sequence number space),
  integrity 2**36 (RFC 9147 §4.5.3).

Layering: imports :mod:`tlspipe.errors`, :mod:`tlspipe.crypto.provider` and ``cryptography``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ..errors import DecryptError, InternalError
from .provider import Aead

__all__ = [
    "AES_128_GCM",
    "AES_256_GCM",
    "CHACHA20_POLY1305",
    "AeadCipher",
    "CryptographyAead",
]

_AEAD_GCM_CONFIDENTIALITY = 2**24
_AEAD_GCM_INTEGRITY = 2**36
_CHACHA_CONFIDENTIALITY = 2**62
_CHACHA_INTEGRITY = 2**36


class CryptographyAead:
    """An :class:`Aead` over one keyed ``cryptography`` AEAD object (AESGCM/ChaCha20Poly1305).

    The key lives only inside the ``cryptography`` object; the repr shows nothing secret.

    For the record layer's hot path it also exposes the ``cryptography`` methods themselves,
    with their ``(nonce, data, associated_data)`` argument order: ``raw_seal``, ``raw_open``
    and ``raw_open_error`` (the exception ``raw_open`` raises on a bad tag).  Calling them
    skips one Python frame per record; :mod:`tlspipe.record.layer` uses them when present.
    ``raw_open_into(nonce, data, associated_data, buf)`` is ``decrypt_into`` (``buf`` must
    be exactly the plaintext length; same exception), or ``None`` on a ``cryptography``
    without it.
    """

    __slots__ = ("raw_open", "raw_open_into", "raw_seal")

    raw_open_error: ClassVar[type[Exception]] = InvalidTag
    raw_open_into: Callable[[bytes, bytes | memoryview, bytes, memoryview], int] | None

    def __init__(self, cipher: AESGCM | ChaCha20Poly1305) -> None:
        self.raw_seal = cipher.encrypt
        self.raw_open = cipher.decrypt
        try:  # (a try costs nothing when nothing is raised; getattr with a default does)
            self.raw_open_into = cipher.decrypt_into
        except AttributeError:  # a cryptography without it
            self.raw_open_into = None

    def __repr__(self) -> str:
        return "CryptographyAead(<key hidden>)"

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes | memoryview) -> bytes:
        """Encrypt ``plaintext``; returns ciphertext || 16-byte tag.

        Raises:
            Nothing for valid nonces (12 bytes) and sizes below 2**31.
        """
        return self.raw_seal(nonce, plaintext, aad)

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes | memoryview) -> bytes:
        """Decrypt ciphertext || tag.

        Raises:
            DecryptError: the tag does not verify or the input is shorter than a tag
                (alert ``bad_record_mac``).
        """
        try:
            return self.raw_open(nonce, ciphertext, aad)
        except InvalidTag:
            raise DecryptError("record authentication failed") from None


@dataclass(frozen=True, slots=True)
class AeadCipher:
    """An :class:`~tlspipe.crypto.provider.AeadAlgorithm` backed by ``cryptography``."""

    name: str
    key_len: int
    confidentiality_limit: int
    integrity_limit: int
    _factory: Callable[[bytes], AESGCM | ChaCha20Poly1305] = field(repr=False)
    tag_len: int = 16

    def new(self, key: bytes) -> Aead:
        """A keyed AEAD for one traffic key.

        Raises:
            InternalError: ``key`` is not ``key_len`` bytes (a bug).
        """
        if len(key) != self.key_len:
            raise InternalError(f"{self.name}: wrong key length")
        return CryptographyAead(self._factory(key))

    def raw_sealer(self, key: bytes) -> Callable[[bytes, bytes | memoryview, bytes], bytes]:
        """``new(key).raw_seal`` without the :class:`CryptographyAead` around it (the record
        layer's TLS 1.3 write-key install only needs the function).

        Raises:
            InternalError: ``key`` is not ``key_len`` bytes (a bug).
        """
        if len(key) != self.key_len:
            raise InternalError(f"{self.name}: wrong key length")
        return self._factory(key).encrypt


AES_128_GCM = AeadCipher("AES_128_GCM", 16, _AEAD_GCM_CONFIDENTIALITY, _AEAD_GCM_INTEGRITY, AESGCM)
AES_256_GCM = AeadCipher("AES_256_GCM", 32, _AEAD_GCM_CONFIDENTIALITY, _AEAD_GCM_INTEGRITY, AESGCM)
CHACHA20_POLY1305 = AeadCipher(
    "CHACHA20_POLY1305", 32, _CHACHA_CONFIDENTIALITY, _CHACHA_INTEGRITY, ChaCha20Poly1305
)
