"""Verifier Protocols, proof tokens and handshake-signature checks.

A certificate verifier either returns a proof token (:class:`ServerCertVerified`,
:class:`ClientCertVerified`, :class:`HandshakeSignatureValid`) or raises; the handshake states
cannot advance without the token ("verification by construction").  Tokens cannot be made by
calling the class: only :meth:`ServerCertVerified.assertion` (and its siblings) mint them,
which is what verifiers — ours and plug-ins — call after a successful check.

Handshake signatures (RFC 8446 §4.4.3 CertificateVerify, RFC 5246 §7.4.3 ServerKeyExchange /
§7.4.8 CertificateVerify) are checked here with the leaf's public key and the peer's
SignatureScheme (RFC 8446 §4.2.3).  TLS 1.3 forbids ``rsa_pkcs1_*`` and SHA-1 schemes and binds
each ECDSA scheme to its curve; TLS 1.2 pairs the ECDSA hash only.  SHA-1 is refused in both.
The primitive check is :func:`tlspipe.crypto.sign.verify_signature`; this module adds the
certificate parsing around it.

This room imports only from ``errors``, ``enums`` and ``crypto`` (layers above it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Final, Protocol, Self, TypeVar, runtime_checkable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from ..crypto.sign import SUPPORTED_SIGNATURE_SCHEMES, verify_signature
from ..enums import SignatureScheme
from ..errors import CertificateReason, InvalidCertificate

__all__ = [
    "DEFAULT_VERIFY_SCHEMES",
    "ClientCertVerified",
    "ClientCertVerifier",
    "HandshakeSignatureValid",
    "ServerCertVerified",
    "ServerCertVerifier",
    "verify_tls12_signature",
    "verify_tls13_signature",
]

#: What ``cryptography`` raises on malformed certificates (package-private to verify/).
_X509_ERRORS: Final = (
    ValueError,
    TypeError,  # e.g. Name attributes with an impossible string type
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)

# Module-private sentinel: the token classes refuse to be constructed without it.
_MINT: Final = object()


class _Token:
    """Common base of the proof tokens: no public constructor, no state."""

    __slots__ = ()

    def __init__(self, _mint: object) -> None:
        if _mint is not _MINT:
            raise TypeError(
                f"{type(self).__name__} is a proof token; only verifiers create it "
                f"(via {type(self).__name__}.assertion())"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @classmethod
    def assertion(cls) -> Self:
        """Mint the token.  Only a verifier should call this, after its check succeeded.

        Raises:
            Nothing.
        """
        return cls(_MINT)


class ServerCertVerified(_Token):
    """Proof that a server's certificate chain was verified for the server name."""

    __slots__ = ()


class ClientCertVerified(_Token):
    """Proof that a client's certificate chain was verified."""

    __slots__ = ()


class HandshakeSignatureValid(_Token):
    """Proof that a handshake signature (CertificateVerify, ServerKeyExchange) verified."""

    __slots__ = ()


@runtime_checkable
class ServerCertVerifier(Protocol):
    """Verifies the server's certificate chain and handshake signatures (client side)."""

    def verify_server_cert(
        self,
        end_entity: bytes,
        intermediates: Sequence[bytes],
        server_name: str,
        ocsp_response: bytes,
        now: dt.datetime,
        *,
        sct_list: bytes | None = None,
    ) -> ServerCertVerified:
        """Verify ``end_entity`` (DER) for ``server_name`` (DNS name or IP literal) at ``now``.

        ``intermediates`` are the other DER certificates the peer sent, in its order;
        ``ocsp_response`` is the stapled response (``b""`` when none); ``sct_list`` the
        stapled SignedCertificateTimestampList (RFC 6962 §3.3), if any.

        Raises:
            InvalidCertificate: the chain, name, validity or purpose is wrong (alert by reason).
        """
        ...

    def verify_tls12_signature(
        self, message: bytes, cert: bytes, scheme: int, signature: bytes
    ) -> HandshakeSignatureValid:
        """Verify a TLS 1.2 handshake signature made with ``cert``'s key.

        Raises:
            PeerMisbehaved: bad signature (``decrypt_error``) or unusable scheme
                (``illegal_parameter``).
            InvalidCertificate: ``cert`` does not parse (``decode_error``).
        """
        ...

    def verify_tls13_signature(
        self, message: bytes, cert: bytes, scheme: int, signature: bytes
    ) -> HandshakeSignatureValid:
        """Verify a TLS 1.3 CertificateVerify signature made with ``cert``'s key.

        Raises:
            PeerMisbehaved: bad signature (``decrypt_error``) or a scheme TLS 1.3 forbids or
                that does not match the key (``illegal_parameter``).
            InvalidCertificate: ``cert`` does not parse (``decode_error``).
        """
        ...

    def supported_verify_schemes(self) -> tuple[SignatureScheme, ...]:
        """The schemes this verifier accepts, in preference order (signature_algorithms)."""
        ...


@runtime_checkable
class ClientCertVerifier(Protocol):
    """Verifies client certificates and their handshake signatures (server side)."""

    def offer_client_auth(self) -> bool:
        """Whether the server sends a CertificateRequest at all."""
        ...

    def client_auth_mandatory(self) -> bool:
        """Whether an empty client Certificate aborts the handshake (certificate_required)."""
        ...

    def root_hint_subjects(self) -> tuple[bytes, ...]:
        """DER-encoded distinguished names for certificate_authorities (may be empty)."""
        ...

    def verify_client_cert(
        self, end_entity: bytes, intermediates: Sequence[bytes], now: dt.datetime
    ) -> ClientCertVerified:
        """Verify a client's ``end_entity`` (DER) with its ``intermediates`` at ``now``.

        Raises:
            InvalidCertificate: the chain, validity or purpose is wrong (alert by reason).
        """
        ...

    def verify_tls12_signature(
        self, message: bytes, cert: bytes, scheme: int, signature: bytes
    ) -> HandshakeSignatureValid:
        """Verify a TLS 1.2 client CertificateVerify signature.

        Raises:
            PeerMisbehaved: bad signature (``decrypt_error``) or unusable scheme
                (``illegal_parameter``).
            InvalidCertificate: ``cert`` does not parse (``decode_error``).
        """
        ...

    def verify_tls13_signature(
        self, message: bytes, cert: bytes, scheme: int, signature: bytes
    ) -> HandshakeSignatureValid:
        """Verify a TLS 1.3 client CertificateVerify signature.

        Raises:
            PeerMisbehaved: bad signature (``decrypt_error``) or a scheme TLS 1.3 forbids or
                that does not match the key (``illegal_parameter``).
            InvalidCertificate: ``cert`` does not parse (``decode_error``).
        """
        ...

    def supported_verify_schemes(self) -> tuple[SignatureScheme, ...]:
        """The schemes this verifier accepts, in preference order."""
        ...


_K = TypeVar("_K")
_V = TypeVar("_V")

#: The schemes the built-in verifiers accept, most preferred first (the crypto provider's
#: verifiable set: no SHA-1, no rsa_pss_pss_*).
DEFAULT_VERIFY_SCHEMES: Final[tuple[SignatureScheme, ...]] = SUPPORTED_SIGNATURE_SCHEMES


def _remembered(memo: dict[_K, _V], key: _K, make: Callable[[_K], _V], bound: int = 256) -> _V:
    """``memo[key]``, made by ``make(key)`` the first time (a value that raised is never
    kept); ``memo`` is emptied when it reaches ``bound`` entries.  For the verifiers'
    per-certificate and per-name memos: public values that repeat across handshakes."""
    hit = memo.get(key)
    if hit is None:
        hit = make(key)
        if len(memo) >= bound:
            memo.clear()
        memo[key] = hit
    return hit


_KEYS: dict[bytes, PublicKeyTypes] = {}


def _leaf_public_key(cert: bytes) -> PublicKeyTypes:
    return _remembered(_KEYS, bytes(cert), _leaf_public_key_uncached)


def _leaf_public_key_uncached(cert: bytes) -> PublicKeyTypes:
    try:
        parsed = x509.load_der_x509_certificate(bytes(cert))
    except _X509_ERRORS as e:
        raise InvalidCertificate(
            CertificateReason.BAD_ENCODING, "certificate is not valid DER"
        ) from e
    try:
        return parsed.public_key()
    except _X509_ERRORS as e:
        raise InvalidCertificate(
            CertificateReason.UNSUPPORTED_KEY, "certificate public key is not supported"
        ) from e


def verify_tls12_signature(
    message: bytes, cert: bytes, scheme: int, signature: bytes
) -> HandshakeSignatureValid:
    """Verify a TLS 1.2 handshake signature over ``message`` by the key in ``cert`` (DER).

    Raises:
        PeerMisbehaved: the signature is wrong (``decrypt_error``); the scheme is unknown,
            SHA-1 based or does not fit the key type (``illegal_parameter``).
        InvalidCertificate: ``cert`` does not parse (``decode_error``) or has an unsupported
            key (``unsupported_certificate``).
    """
    verify_signature(_leaf_public_key(cert), scheme, message, signature, tls13=False)
    return HandshakeSignatureValid.assertion()


def verify_tls13_signature(
    message: bytes, cert: bytes, scheme: int, signature: bytes
) -> HandshakeSignatureValid:
    """Verify a TLS 1.3 CertificateVerify signature over ``message`` by ``cert``'s key.

    ``message`` is the full signed content (64 spaces, context string, 0x00, transcript hash;
    RFC 8446 §4.4.3) — the caller builds it.

    Raises:
        PeerMisbehaved: the signature is wrong (``decrypt_error``); the scheme is unknown,
            ``rsa_pkcs1_*``/SHA-1, or an ECDSA scheme for another curve or key type
            (``illegal_parameter``).
        InvalidCertificate: ``cert`` does not parse (``decode_error``) or has an unsupported
            key (``unsupported_certificate``).
    """
    verify_signature(_leaf_public_key(cert), scheme, message, signature, tls13=True)
    return HandshakeSignatureValid.assertion()
