"""The default crypto provider on the ``cryptography`` package: the cipher suites
(RFC 8446 §B.4; RFC 5289/5288 ECDHE-GCM; RFC 7905 ChaCha20-Poly1305), the key exchange groups
and the signature schemes tlspipe supports, in preference order.

Layering: imports :mod:`tlspipe.crypto.provider`, ``aead``, ``kx``, ``sign``.
"""

from __future__ import annotations

import os

from ..enums import CipherSuite
from .aead import AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305
from .kx import SECP256R1, SECP384R1, X25519, X25519MLKEM768
from .provider import (
    CryptoProvider,
    KxGroup,
    SupportedCipherSuite,
    Tls12CipherSuite,
    Tls13CipherSuite,
)
from .sign import SUPPORTED_SIGNATURE_SCHEMES, load_private_key, verify_signature

__all__ = [
    "ALL_CIPHER_SUITES",
    "ALL_KX_GROUPS",
    "DEFAULT_KX_GROUPS",
    "SECP256R1",
    "SECP384R1",
    "TLS12_SUITES",
    "TLS13_AES_128_GCM_SHA256",
    "TLS13_AES_256_GCM_SHA384",
    "TLS13_CHACHA20_POLY1305_SHA256",
    "TLS13_SUITES",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "X25519",
    "X25519MLKEM768",
    "default_provider",
    "secure_random",
]

C = CipherSuite

TLS13_AES_128_GCM_SHA256 = Tls13CipherSuite(C.TLS13_AES_128_GCM_SHA256, "sha256", AES_128_GCM)
TLS13_AES_256_GCM_SHA384 = Tls13CipherSuite(C.TLS13_AES_256_GCM_SHA384, "sha384", AES_256_GCM)
TLS13_CHACHA20_POLY1305_SHA256 = Tls13CipherSuite(
    C.TLS13_CHACHA20_POLY1305_SHA256, "sha256", CHACHA20_POLY1305
)

TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = Tls12CipherSuite(
    C.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "sha256", AES_128_GCM, "ECDSA", 4, 8
)
TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = Tls12CipherSuite(
    C.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "sha384", AES_256_GCM, "ECDSA", 4, 8
)
TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = Tls12CipherSuite(
    C.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "sha256", CHACHA20_POLY1305, "ECDSA", 12, 0
)
TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = Tls12CipherSuite(
    C.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "sha256", AES_128_GCM, "RSA", 4, 8
)
TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 = Tls12CipherSuite(
    C.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "sha384", AES_256_GCM, "RSA", 4, 8
)
TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = Tls12CipherSuite(
    C.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "sha256", CHACHA20_POLY1305, "RSA", 12, 0
)

TLS13_SUITES: tuple[Tls13CipherSuite, ...] = (
    TLS13_AES_256_GCM_SHA384,
    TLS13_AES_128_GCM_SHA256,
    TLS13_CHACHA20_POLY1305_SHA256,
)
TLS12_SUITES: tuple[Tls12CipherSuite, ...] = (
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
)
#: Every suite, TLS 1.3 first, in default preference order.
ALL_CIPHER_SUITES: tuple[SupportedCipherSuite, ...] = (*TLS13_SUITES, *TLS12_SUITES)

#: Every group, in default preference order (the hybrid first, as rustls does).
ALL_KX_GROUPS: tuple[KxGroup, ...] = (X25519MLKEM768, X25519, SECP256R1, SECP384R1)
#: Default groups: X25519 first (one key share, understood by every peer), then the NIST
#: curves.  The X25519MLKEM768 hybrid is opt-in (``kx_groups=``) until peers commonly speak it:
#: offering it first would cost most peers a HelloRetryRequest round trip.
DEFAULT_KX_GROUPS: tuple[KxGroup, ...] = (X25519, SECP256R1, SECP384R1)


def secure_random(n: int) -> bytes:
    """``n`` bytes from the OS CSPRNG.

    Raises:
        Nothing.
    """
    return os.urandom(n)


def default_provider() -> CryptoProvider:
    """The provider with every suite, group and scheme tlspipe implements.

    Raises:
        Nothing.
    """
    return CryptoProvider(
        cipher_suites=ALL_CIPHER_SUITES,
        kx_groups=DEFAULT_KX_GROUPS,
        signature_schemes=SUPPORTED_SIGNATURE_SCHEMES,
        secure_random=secure_random,
        load_private_key=load_private_key,
        verify_signature=verify_signature,
        extra_kx_groups=tuple(g for g in ALL_KX_GROUPS if g not in DEFAULT_KX_GROUPS),
    )
