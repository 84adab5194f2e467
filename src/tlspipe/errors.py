"""The error hierarchy and the one table from error to alert (RFC 8446 §6.2).

Everything tlspipe raises on behalf of a peer, a configuration or the caller derives from
:class:`Error`.  Any other exception escaping the library is a bug (this is the fuzzing
invariant).  Only ``conn.py`` turns an error into an alert, through :func:`alert_for`.

Messages never contain secrets: no keys, no MACs, no Finished values, no plaintext.
This module imports only :mod:`tlspipe.enums`.
"""

from __future__ import annotations

from enum import Enum

from .enums import AlertDescription

__all__ = [
    "AlertReceived",
    "BufferFull",
    "CertificateReason",
    "ConfigError",
    "DecodeError",
    "DecryptError",
    "EncryptError",
    "Error",
    "HandshakeNotComplete",
    "InappropriateMessage",
    "InternalError",
    "InvalidCertificate",
    "InvalidMessage",
    "PeerIncompatible",
    "PeerMisbehaved",
    "RecordOverflow",
    "UnexpectedEof",
    "alert_for",
]


class Error(Exception):
    """Base of every exception tlspipe raises."""


class InvalidMessage(Error):
    """A peer's message could not be understood (generic framing problem)."""

    alert = AlertDescription.decode_error


class DecodeError(InvalidMessage):
    """Bytes from the peer do not decode: truncated, out of bounds, trailing data,
    duplicate extension (alert ``decode_error`` unless the RFC names another)."""

    def __init__(
        self, message: str, alert: AlertDescription = AlertDescription.decode_error
    ) -> None:
        self.alert = alert
        super().__init__(message)


class RecordOverflow(DecodeError):
    """A record or handshake message exceeds its size bound (alert ``record_overflow``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, AlertDescription.record_overflow)


class InappropriateMessage(Error):
    """A message or record arrived that the current state does not accept
    (alert ``unexpected_message``)."""

    alert = AlertDescription.unexpected_message

    def __init__(self, message: str, *, expected: str = "", got: str = "") -> None:
        self.expected = expected
        self.got = got
        super().__init__(message)


class PeerMisbehaved(Error):
    """The peer sent a well-formed message whose content breaks the protocol.

    ``alert`` defaults to ``illegal_parameter``; callers choose a more specific one where
    the RFC names it.
    """

    def __init__(
        self, message: str, alert: AlertDescription = AlertDescription.illegal_parameter
    ) -> None:
        self.alert = alert
        super().__init__(message)


class PeerIncompatible(Error):
    """The peer offers nothing we can agree to (alert ``handshake_failure`` by default)."""

    def __init__(
        self, message: str, alert: AlertDescription = AlertDescription.handshake_failure
    ) -> None:
        self.alert = alert
        super().__init__(message)


class CertificateReason(Enum):
    """Why a certificate was rejected; :attr:`alert` gives the one alert for each reason.

    The values are distinct strings on purpose: members of an ``Enum`` with equal values are
    *aliases* (with alert values, ``NOT_VALID_YET`` would be ``EXPIRED`` and ``OTHER`` would be
    ``NOT_VALID_FOR_NAME``), so the alert lives in a separate table.
    """

    BAD_ENCODING = "bad_encoding"
    EXPIRED = "expired"
    NOT_VALID_YET = "not_valid_yet"
    REVOKED = "revoked"
    UNKNOWN_ISSUER = "unknown_issuer"
    NOT_VALID_FOR_NAME = "not_valid_for_name"
    INVALID_PURPOSE = "invalid_purpose"
    BAD_SIGNATURE = "bad_signature"
    UNSUPPORTED_KEY = "unsupported_key"
    OTHER = "other"
    APPLICATION_VERIFICATION_FAILURE = "application_verification_failure"
    BAD_STATUS_RESPONSE = "bad_status_response"
    UNKNOWN = "unknown"
    #: No usable CRL (or other revocation source) gives the certificate's status.
    UNKNOWN_REVOCATION_STATUS = "unknown_revocation_status"
    #: Not enough valid Signed Certificate Timestamps for the Certificate Transparency policy.
    CT_POLICY = "ct_policy"
    #: No certificate of the chain matches a configured SPKI pin.
    PIN_MISMATCH = "pin_mismatch"

    @property
    def alert(self) -> AlertDescription:
        """The alert sent for this reason (RFC 8446 §6.2)."""
        return _CERTIFICATE_ALERTS[self]


_CERTIFICATE_ALERTS: dict[CertificateReason, AlertDescription] = {
    CertificateReason.BAD_ENCODING: AlertDescription.decode_error,
    CertificateReason.EXPIRED: AlertDescription.certificate_expired,
    CertificateReason.NOT_VALID_YET: AlertDescription.certificate_expired,
    CertificateReason.REVOKED: AlertDescription.certificate_revoked,
    CertificateReason.UNKNOWN_ISSUER: AlertDescription.unknown_ca,
    CertificateReason.NOT_VALID_FOR_NAME: AlertDescription.bad_certificate,
    CertificateReason.INVALID_PURPOSE: AlertDescription.unsupported_certificate,
    CertificateReason.BAD_SIGNATURE: AlertDescription.decrypt_error,
    CertificateReason.UNSUPPORTED_KEY: AlertDescription.unsupported_certificate,
    CertificateReason.OTHER: AlertDescription.bad_certificate,
    CertificateReason.APPLICATION_VERIFICATION_FAILURE: AlertDescription.access_denied,
    CertificateReason.BAD_STATUS_RESPONSE: AlertDescription.bad_certificate_status_response,
    CertificateReason.UNKNOWN: AlertDescription.certificate_unknown,
    # As OpenSSL/BoringSSL (and rustls) do when revocation status cannot be determined.
    CertificateReason.UNKNOWN_REVOCATION_STATUS: AlertDescription.unknown_ca,
    CertificateReason.CT_POLICY: AlertDescription.bad_certificate,
    CertificateReason.PIN_MISMATCH: AlertDescription.bad_certificate,
}


class InvalidCertificate(Error):
    """The peer's certificate (chain, name, validity, signature) was rejected.

    ``reason`` says why; ``alert`` is ``reason.alert``.
    """

    def __init__(self, reason: CertificateReason, message: str) -> None:
        self.reason = reason
        self.alert = reason.alert
        super().__init__(message)


class DecryptError(Error):
    """A record failed authentication (alert ``bad_record_mac``)."""

    alert = AlertDescription.bad_record_mac


class EncryptError(Error):
    """We cannot encrypt any more: the sequence number space or AEAD limit is exhausted."""

    alert = AlertDescription.internal_error


class AlertReceived(Error):
    """The peer sent a fatal alert (or an unexpected warning) and the connection is closed."""

    def __init__(self, description: AlertDescription | int) -> None:
        self.description = description
        if isinstance(description, AlertDescription):
            name = description.name
        else:
            name = f"unknown({description})"
        super().__init__(f"peer sent fatal alert {name}")


class UnexpectedEof(Error):
    """The peer closed the transport without sending close_notify (possible truncation)."""


class HandshakeNotComplete(Error):
    """The operation needs a completed handshake (e.g. exporters before Finished)."""


class ConfigError(Error, ValueError):
    """A configuration value is invalid. Raised when a config is built, never by a peer."""


class BufferFull(Error):
    """More plaintext was written than the connection's buffer limit allows."""


class InternalError(Error):
    """A condition that should be impossible; reported with alert ``internal_error``."""

    alert = AlertDescription.internal_error


def alert_for(err: Error) -> AlertDescription | None:
    """The alert to send the peer for ``err``, or ``None`` when none should be sent.

    This is the one error→alert table of the library (RFC 8446 §6.2).
    """
    if isinstance(err, AlertReceived | UnexpectedEof | ConfigError | HandshakeNotComplete):
        return None
    if isinstance(err, BufferFull):
        return None
    alert = getattr(err, "alert", None)
    if isinstance(alert, AlertDescription):
        return alert
    return AlertDescription.internal_error
