"""Verification of stapled OCSP responses (RFC 6960, RFC 6066 §8, RFC 8446 §4.4.2.1).

:func:`verify_ocsp_response` checks, in this order, that the response

1. parses and has responseStatus ``successful`` (RFC 6960 §4.2.1);
2. holds a SingleResponse whose CertID matches the leaf: serial number, and issuerNameHash /
   issuerKeyHash computed with the CertID's own hash algorithm over the leaf's issuer name
   and the issuer's subjectPublicKey (RFC 6960 §4.1.1);
3. is signed by the issuer itself, or by a delegated responder named by the ResponderID whose
   certificate is in the response, was issued *directly* by the issuer, carries the
   id-kp-OCSPSigning EKU and is valid now (RFC 6960 §4.2.2.2); the signature is checked with
   ``cryptography`` (ECDSA, RSA PKCS#1 v1.5, Ed25519/Ed448; SHA-1 and RSA-PSS refused);
4. is fresh: ``thisUpdate <= now + skew`` and ``now - skew <= nextUpdate``; a response without
   nextUpdate is only accepted with ``max_age`` (RFC 5019 §2.2.4), and ``max_age`` also bounds
   the age of thisUpdate when given;
5. says ``good`` (returns :attr:`OcspStatus.GOOD`), ``unknown`` (returns
   :attr:`OcspStatus.UNKNOWN`; :class:`OcspPolicy` refuses it by default) or ``revoked``
   (raises ``InvalidCertificate(REVOKED)``, alert ``certificate_revoked``).

Any other failure raises ``InvalidCertificate(BAD_STATUS_RESPONSE)`` (alert
``bad_certificate_status_response``, RFC 6066 §8) with a readable message.
Nonces are not used: stapled responses cannot carry the client's nonce.

This room imports only from ``errors``, sibling ``verify`` modules and ``cryptography``; it never
touches the network or the clock (``now`` is passed in).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from enum import Enum
from typing import Final, NoReturn

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, SignatureAlgorithmOID

from ..errors import CertificateReason, ConfigError, InvalidCertificate
from .base import _X509_ERRORS
from .pinning import _DerError, _subject_public_key_bits, spki_der

__all__ = [
    "DEFAULT_OCSP_SKEW",
    "OcspPolicy",
    "OcspStatus",
    "verify_ocsp_response",
]

_log = logging.getLogger("tlspipe.verify.ocsp")

#: Clock skew tolerated on thisUpdate / nextUpdate and on a delegated responder's validity.
DEFAULT_OCSP_SKEW: Final = dt.timedelta(minutes=5)

_CERT_ID_HASHES: Final = (
    hashes.SHA1,  # the usual CertID hash (RFC 5019 §2.1.1); only a lookup key, not a signature
    hashes.SHA224,
    hashes.SHA256,
    hashes.SHA384,
    hashes.SHA512,
)
_SIGNATURE_HASHES: Final = (hashes.SHA256, hashes.SHA384, hashes.SHA512)


class OcspStatus(Enum):
    """The certificate status of an accepted OCSP response (``revoked`` raises instead)."""

    GOOD = "good"
    UNKNOWN = "unknown"


def _bad(message: str) -> NoReturn:
    raise InvalidCertificate(CertificateReason.BAD_STATUS_RESPONSE, message)


def _utc(now: dt.datetime) -> dt.datetime:
    return now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)


def _fmt(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey bits of ``cert`` (what OCSP key hashes are computed over)."""
    try:
        return _subject_public_key_bits(spki_der(cert.public_bytes(serialization.Encoding.DER)))
    except _DerError as e:
        _bad(f"cannot read the public key of {cert.subject.rfc4514_string()!r}: {e}")


def _verify_signature(key: PublicKeyTypes, response: ocsp.OCSPResponse, signer: str) -> None:
    """Check the response's signature over tbsResponseData with ``key``."""
    oid = response.signature_algorithm_oid
    if oid == SignatureAlgorithmOID.RSASSA_PSS:
        _bad("OCSP response uses RSA-PSS, which is not supported")
    try:
        algorithm = response.signature_hash_algorithm
    except UnsupportedAlgorithm:
        _bad(f"OCSP response signature algorithm {oid.dotted_string} is not supported")
    data = response.tbs_response_bytes
    signature = response.signature
    try:
        if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            if algorithm is not None:
                _bad("OCSP response signature algorithm does not fit the signer's key")
            key.verify(signature, data)
            return
        if not isinstance(algorithm, _SIGNATURE_HASHES):
            name = "none" if algorithm is None else algorithm.name
            _bad(f"OCSP response signature hash {name} is not accepted (SHA-256 or better)")
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        else:
            _bad(f"OCSP signer {signer} has an unsupported key type")
    except InvalidSignature:
        _bad(f"OCSP response signature does not verify with the key of {signer}")
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        _bad(f"OCSP response signature cannot be checked with the key of {signer}: {e}")


def _names_signer(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    """Whether the ResponderID (byName or byKey, RFC 6960 §4.2.1) designates ``cert``."""
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    key_hash = response.responder_key_hash
    if key_hash is None:
        return False
    return _digest(hashes.SHA1(), _key_bits(cert)) == key_hash  # noqa: S303 - RFC 6960 KeyHash


def _delegated_ok(
    cand: x509.Certificate, issuer: x509.Certificate, now: dt.datetime, skew: dt.timedelta
) -> str | None:
    """Why ``cand`` cannot be a delegated responder for ``issuer`` (``None`` when it can)."""
    if cand.issuer != issuer.subject:
        return "was not issued by the certificate's issuer"
    try:
        cand.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return "is not signed by the certificate's issuer"
    except _X509_ERRORS as e:
        return f"cannot be checked against the issuer ({e})"
    try:
        eku = cand.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return "has no extendedKeyUsage (id-kp-OCSPSigning is required)"
    except _X509_ERRORS as e:
        return f"has an unreadable extendedKeyUsage ({e})"
    if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
        return "lacks the id-kp-OCSPSigning extended key usage"
    if cand.not_valid_before_utc > now + skew:
        return f"is not valid before {_fmt(cand.not_valid_before_utc)}"
    if cand.not_valid_after_utc < now - skew:
        return f"expired at {_fmt(cand.not_valid_after_utc)}"
    return None


def _check_signer(
    response: ocsp.OCSPResponse,
    issuer: x509.Certificate,
    now: dt.datetime,
    skew: dt.timedelta,
) -> None:
    if _names_signer(response, issuer):
        _verify_signature(issuer.public_key(), response, "the issuer")
        return
    problems: list[str] = []
    try:
        included = response.certificates
    except _X509_ERRORS as e:
        _bad(f"OCSP response holds an unreadable certificate: {e}")
    for cand in included:
        if not _names_signer(response, cand):
            continue
        why = _delegated_ok(cand, issuer, now, skew)
        name = cand.subject.rfc4514_string()
        if why is not None:
            problems.append(f"responder {name!r} {why}")
            continue
        try:
            key = cand.public_key()
        except _X509_ERRORS as e:
            problems.append(f"responder {name!r} has an unsupported key ({e})")
            continue
        _verify_signature(key, response, f"delegated responder {name!r}")
        _log.debug("OCSP response signed by delegated responder %r", name)
        return
    detail = (
        "; ".join(problems)
        if problems
        else "the responder is neither the issuer nor a certificate included in the response"
    )
    _bad(f"OCSP response is not signed by an authorized responder: {detail}")


def _find_single(
    response: ocsp.OCSPResponse, leaf: x509.Certificate, issuer: x509.Certificate
) -> ocsp.OCSPSingleResponse:
    name_der = leaf.issuer.public_bytes()
    key_bits = _key_bits(issuer)
    count = 0
    try:
        singles = list(response.responses)
    except _X509_ERRORS as e:
        _bad(f"OCSP response has unreadable SingleResponses: {e}")
    for single in singles:
        count += 1
        if single.serial_number != leaf.serial_number:
            continue
        try:
            algorithm = single.hash_algorithm
        except UnsupportedAlgorithm:
            continue
        if not isinstance(algorithm, _CERT_ID_HASHES):
            continue
        if single.issuer_name_hash == _digest(
            algorithm, name_der
        ) and single.issuer_key_hash == _digest(algorithm, key_bits):
            return single
    _bad(
        f"OCSP response is not about this certificate: none of its {count} CertIDs matches "
        f"serial {leaf.serial_number:x} issued by {leaf.issuer.rfc4514_string()!r}"
    )


def _check_fresh(
    single: ocsp.OCSPSingleResponse,
    now: dt.datetime,
    max_age: dt.timedelta | None,
    skew: dt.timedelta,
) -> None:
    this_update = single.this_update_utc
    next_update = single.next_update_utc
    if this_update > now + skew:
        _bad(f"OCSP response is not valid yet (thisUpdate {_fmt(this_update)})")
    if next_update is not None and next_update < now - skew:
        _bad(f"OCSP response is stale (nextUpdate {_fmt(next_update)} has passed)")
    if next_update is None and max_age is None:
        _bad("OCSP response has no nextUpdate and no max_age is configured (RFC 5019 §2.2.4)")
    if max_age is not None and now - this_update > max_age:
        _bad(f"OCSP response is too old (thisUpdate {_fmt(this_update)}, max_age {max_age})")


def verify_ocsp_response(
    response_der: bytes,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    now: dt.datetime,
    *,
    max_age: dt.timedelta | None = None,
    skew: dt.timedelta = DEFAULT_OCSP_SKEW,
) -> OcspStatus:
    """Verify a DER OCSP response about ``leaf`` (issued by ``issuer``) at ``now``.

    ``leaf`` and ``issuer`` should come from an already verified chain.  ``now`` should be
    aware; a naive datetime is taken as UTC.  ``max_age`` bounds the age of thisUpdate and is
    needed to accept a response without nextUpdate; ``skew`` is the tolerated clock skew.

    Returns:
        :attr:`OcspStatus.GOOD` or :attr:`OcspStatus.UNKNOWN`.

    Raises:
        InvalidCertificate: reason ``REVOKED`` (alert ``certificate_revoked``) when the
            response says the certificate is revoked; reason ``BAD_STATUS_RESPONSE`` (alert
            ``bad_certificate_status_response``) when the response is malformed, not
            successful, not about ``leaf``, not signed by an authorized responder, or not
            fresh.
    """
    now = _utc(now)
    try:
        response = ocsp.load_der_ocsp_response(bytes(response_der))
        return _verify(response, leaf, issuer, now, max_age, skew)
    except _X509_ERRORS as e:  # cryptography parses parts of the response lazily
        _bad(f"OCSP response is not valid DER: {e}")


def _verify(
    response: ocsp.OCSPResponse,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    now: dt.datetime,
    max_age: dt.timedelta | None,
    skew: dt.timedelta,
) -> OcspStatus:
    status = response.response_status
    if status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        _bad(f"OCSP responder answered {status.name.lower()}, not successful")
    single = _find_single(response, leaf, issuer)
    _check_signer(response, issuer, now, skew)
    _check_fresh(single, now, max_age, skew)
    cert_status = single.certificate_status
    if cert_status is ocsp.OCSPCertStatus.REVOKED:
        when = single.revocation_time_utc
        reason = single.revocation_reason
        detail = f" at {_fmt(when)}" if when is not None else ""
        if reason is not None:
            detail += f" (reason: {reason.name})"
        raise InvalidCertificate(
            CertificateReason.REVOKED,
            f"certificate serial {leaf.serial_number:x} is revoked{detail} per its OCSP response",
        )
    if cert_status is ocsp.OCSPCertStatus.UNKNOWN:
        _log.debug("OCSP response: status unknown for serial %x", leaf.serial_number)
        return OcspStatus.UNKNOWN
    return OcspStatus.GOOD


@dataclass(frozen=True, kw_only=True)
class OcspPolicy:
    """How a client treats the OCSP response the server stapled (RFC 6066 §8).

    Attributes:
        require_stapled: a missing response fails the handshake (must-staple behaviour).
        check_stapled: verify a stapled response with :func:`verify_ocsp_response`.
        allow_unknown: accept a verified response whose status is ``unknown``.
        max_age: bound on the age of thisUpdate; needed for responses without nextUpdate.
        skew: tolerated clock skew.
    """

    require_stapled: bool = False
    check_stapled: bool = True
    allow_unknown: bool = False
    max_age: dt.timedelta | None = None
    skew: dt.timedelta = DEFAULT_OCSP_SKEW

    def __post_init__(self) -> None:
        """Validate the policy.

        Raises:
            ConfigError: ``skew`` negative or ``max_age`` not positive.
        """
        if self.skew < dt.timedelta(0):
            raise ConfigError("OcspPolicy.skew must not be negative")
        if self.max_age is not None and self.max_age <= dt.timedelta(0):
            raise ConfigError("OcspPolicy.max_age must be positive")

    def check(
        self,
        response_der: bytes,
        leaf: x509.Certificate,
        issuer: x509.Certificate,
        now: dt.datetime,
    ) -> OcspStatus | None:
        """Apply the policy to a stapled response (``b""`` when the server sent none).

        Returns:
            The verified status, or ``None`` when nothing was checked.

        Raises:
            InvalidCertificate: ``BAD_STATUS_RESPONSE`` when a required response is missing,
                the response does not verify or its status is ``unknown`` and that is not
                allowed; ``REVOKED`` when it says the certificate is revoked.
        """
        if not response_der:
            if self.require_stapled:
                _bad("the server did not staple an OCSP response, and one is required")
            return None
        if not self.check_stapled:
            return None
        status = verify_ocsp_response(
            response_der, leaf, issuer, now, max_age=self.max_age, skew=self.skew
        )
        if status is OcspStatus.UNKNOWN and not self.allow_unknown:
            _bad(f"OCSP responder does not know certificate serial {leaf.serial_number:x}")
        return status
