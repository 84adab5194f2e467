"""tlspipe.verify: certificate verifiers, proof tokens and trust anchors.

``base`` holds the verifier Protocols and proof tokens, ``roots`` the :class:`RootCertStore`,
``webpki`` the WebPKI verifiers built on ``cryptography.x509.verification``.
"""

from __future__ import annotations

from .base import (
    DEFAULT_VERIFY_SCHEMES,
    ClientCertVerified,
    ClientCertVerifier,
    HandshakeSignatureValid,
    ServerCertVerified,
    ServerCertVerifier,
    verify_tls12_signature,
    verify_tls13_signature,
)
from .roots import RootCertStore
from .webpki import DEFAULT_MAX_CHAIN_DEPTH, WebPkiClientVerifier, WebPkiServerVerifier

__all__ = [
    "DEFAULT_MAX_CHAIN_DEPTH",
    "DEFAULT_VERIFY_SCHEMES",
    "ClientCertVerified",
    "ClientCertVerifier",
    "HandshakeSignatureValid",
    "RootCertStore",
    "ServerCertVerified",
    "ServerCertVerifier",
    "WebPkiClientVerifier",
    "WebPkiServerVerifier",
    "verify_tls12_signature",
    "verify_tls13_signature",
]
