"""Revocation checking with certificate revocation lists the user supplies (RFC 5280 §5, §6.3).

:class:`CrlChecker` holds parsed CRLs (DER or PEM, or ``cryptography`` objects) and checks a
*verified* chain, leaf first, each certificate followed by its issuer (``[leaf, intermediate…,
anchor]``).  Scope ``"end_entity"`` checks the leaf only; ``"chain"`` checks every certificate
except a self-issued trust anchor at the end.

For a certificate, a CRL is *authoritative* when

* its issuer name equals the certificate's issuer name and its signature verifies with the
  issuer certificate's key (which, when it has keyUsage, must allow cRLSign; RFC 5280 §4.2.1.3);
* it is a complete CRL for the certificate: not a delta CRL, no unsupported critical extension,
  and an issuingDistributionPoint (if any) that covers it — not indirect, no onlySomeReasons,
  only-user/only-CA/only-attribute flags that fit, and a fullName that matches one of the
  certificate's cRLDistributionPoints (RFC 5280 §5.2.5, §6.3.3 (b)).

A certificate listed by an authoritative CRL is revoked — even if that CRL is past nextUpdate,
since a revocation is never undone by time — and :class:`~tlspipe.errors.InvalidCertificate`
with reason ``REVOKED`` (alert ``certificate_revoked``) is raised.  An authoritative CRL that does
not list it gives status *good* only while ``thisUpdate <= now <= nextUpdate`` (a CRL without
nextUpdate is never current).  With no such CRL the status is *unknown*: accepted when
``allow_unknown`` (the default — CRLs are an add-on), else reason ``UNKNOWN_REVOCATION_STATUS``
(alert ``unknown_ca``, as OpenSSL and BoringSSL send).

This room imports only from ``errors``, sibling ``verify`` modules and ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtensionOID

from ..errors import CertificateReason, ConfigError, InvalidCertificate
from .base import _X509_ERRORS

__all__ = ["CrlChecker", "CrlScope"]

_log = logging.getLogger("tlspipe.verify.crl")

CrlScope = Literal["end_entity", "chain"]
_SCOPES: Final = ("end_entity", "chain")

#: CRL extensions this checker understands (an unknown *critical* one makes a CRL unusable).
_KNOWN_CRL_EXTENSIONS: Final = frozenset(
    {
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
        ExtensionOID.DELTA_CRL_INDICATOR,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.FRESHEST_CRL,
    }
)


def _fmt(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _describe(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string()!r} (serial {cert.serial_number:x})"


def _load(item: bytes | x509.CertificateRevocationList, i: int) -> x509.CertificateRevocationList:
    if isinstance(item, x509.CertificateRevocationList):
        crl = item
    else:
        data = bytes(item)
        try:
            if data.lstrip().startswith(b"-----BEGIN"):
                crl = x509.load_pem_x509_crl(data)
            else:
                crl = x509.load_der_x509_crl(data)
        except _X509_ERRORS as e:
            raise ConfigError(f"CRL #{i + 1} does not parse: {e}") from e
    try:
        crl.issuer.public_bytes()
        _ = crl.extensions
        _ = crl.last_update_utc, crl.next_update_utc
    except _X509_ERRORS as e:
        raise ConfigError(f"CRL #{i + 1} is malformed: {e}") from e
    return crl


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _dp_names(cert: x509.Certificate) -> set[x509.GeneralName]:
    try:
        dps = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return set()
    return {name for dp in dps if dp.full_name for name in dp.full_name}


def _scope_problem(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> str | None:
    """Why ``crl`` is not a complete CRL for ``cert`` (``None`` when it is)."""
    idp: x509.IssuingDistributionPoint | None = None
    for ext in crl.extensions:
        if ext.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            return "is a delta CRL"
        if ext.critical and ext.oid not in _KNOWN_CRL_EXTENSIONS:
            return f"has an unsupported critical extension {ext.oid.dotted_string}"
        if isinstance(ext.value, x509.IssuingDistributionPoint):
            idp = ext.value
    if idp is None:
        return None
    if idp.indirect_crl:
        return "is an indirect CRL (not supported)"
    if idp.only_some_reasons:
        return "covers only some revocation reasons"
    if idp.only_contains_attribute_certs:
        return "covers only attribute certificates"
    is_ca = _is_ca(cert)
    if idp.only_contains_user_certs and is_ca:
        return "covers only end-entity certificates"
    if idp.only_contains_ca_certs and not is_ca:
        return "covers only CA certificates"
    if idp.relative_name is not None:
        return "names its distribution point relatively (not supported)"
    if idp.full_name and not set(idp.full_name) & _dp_names(cert):
        return "is for another distribution point"
    return None


def _signature_problem(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> str | None:
    try:
        ku = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    if ku is not None and not ku.crl_sign:
        return "is signed by an issuer whose keyUsage does not allow cRLSign"
    key = issuer.public_key()
    if not isinstance(
        key,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | dsa.DSAPublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        return "cannot be checked: the issuer key type is not supported"
    try:
        valid = crl.is_signature_valid(key)
    except _X509_ERRORS as e:
        return f"signature cannot be checked ({e})"
    return None if valid else "has a signature that does not verify with the issuer's key"


class CrlChecker:
    """Checks certificates against user-supplied CRLs (see the module docstring).

    ``CrlChecker(crls, scope="chain", allow_unknown=False)`` makes every certificate of the
    chain need a current CRL from its issuer.
    """

    __slots__ = ("_allow_unknown", "_by_issuer", "_count", "_scope")

    def __init__(
        self,
        crls: Sequence[bytes | x509.CertificateRevocationList],
        *,
        scope: CrlScope = "end_entity",
        allow_unknown: bool = True,
    ) -> None:
        """Parse and index ``crls`` (DER or PEM bytes, or ``cryptography`` CRL objects).

        Raises:
            ConfigError: a CRL does not parse or ``scope`` is unknown.
        """
        if scope not in _SCOPES:
            raise ConfigError(f"CRL scope must be one of {_SCOPES}, got {scope!r}")
        by_issuer: dict[bytes, list[x509.CertificateRevocationList]] = {}
        for i, item in enumerate(crls):
            crl = _load(item, i)
            by_issuer.setdefault(crl.issuer.public_bytes(), []).append(crl)
        self._by_issuer = by_issuer
        self._count = sum(len(v) for v in by_issuer.values())
        self._scope: CrlScope = scope
        self._allow_unknown = allow_unknown

    def __repr__(self) -> str:
        return (
            f"CrlChecker({self._count} CRLs, scope={self._scope!r}, "
            f"allow_unknown={self._allow_unknown})"
        )

    @property
    def scope(self) -> CrlScope:
        """``"end_entity"`` or ``"chain"``."""
        return self._scope

    def check(self, chain: Sequence[x509.Certificate], now: dt.datetime) -> None:
        """Check the verified ``chain`` (leaf first, each certificate then its issuer) at ``now``.

        ``now`` should be aware; a naive datetime is taken as UTC.

        Raises:
            InvalidCertificate: ``REVOKED`` (alert ``certificate_revoked``) when an
                authoritative CRL lists a checked certificate; ``UNKNOWN_REVOCATION_STATUS``
                (alert ``unknown_ca``) when ``allow_unknown`` is false and no current
                authoritative CRL covers a checked certificate (or ``chain`` is empty);
                ``BAD_ENCODING`` when a certificate's extensions do not parse.
        """
        now = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)
        if not chain:
            if self._allow_unknown:
                return
            raise InvalidCertificate(
                CertificateReason.UNKNOWN_REVOCATION_STATUS, "no certificate to check"
            )
        last = len(chain) if self._scope == "chain" else 1
        for i in range(last):
            cert = chain[i]
            issuer = chain[i + 1] if i + 1 < len(chain) else None
            if issuer is None and i > 0 and cert.issuer == cert.subject:
                break  # the self-issued trust anchor ends the chain: nothing to check
            try:
                self._check_one(cert, issuer, now)
            except _X509_ERRORS as e:
                raise InvalidCertificate(
                    CertificateReason.BAD_ENCODING,
                    f"certificate {_describe(cert)} cannot be checked for revocation: {e}",
                ) from e

    def _check_one(
        self, cert: x509.Certificate, issuer: x509.Certificate | None, now: dt.datetime
    ) -> None:
        notes: list[str] = []
        current = False
        if issuer is None:
            notes.append("its issuer certificate is not in the chain")
        else:
            for crl in self._by_issuer.get(cert.issuer.public_bytes(), ()):
                problem = _signature_problem(crl, issuer) or _scope_problem(crl, cert)
                if problem is not None:
                    notes.append(f"a CRL {problem}")
                    continue
                entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                if entry is not None:
                    self._revoked(cert, entry)
                if crl.last_update_utc > now:
                    notes.append(f"a CRL is not valid before {_fmt(crl.last_update_utc)}")
                elif crl.next_update_utc is None:
                    notes.append("a CRL has no nextUpdate")
                elif crl.next_update_utc < now:
                    notes.append(f"a CRL expired at {_fmt(crl.next_update_utc)}")
                else:
                    current = True
        if current:
            _log.debug("CRL: %s is not revoked", _describe(cert))
            return
        if self._allow_unknown:
            _log.debug("CRL: status of %s unknown (allowed)", _describe(cert))
            return
        why = "; ".join(notes) if notes else "no CRL from its issuer was supplied"
        raise InvalidCertificate(
            CertificateReason.UNKNOWN_REVOCATION_STATUS,
            f"revocation status of certificate {_describe(cert)} is unknown: {why}",
        )

    @staticmethod
    def _revoked(cert: x509.Certificate, entry: x509.RevokedCertificate) -> None:
        detail = f" on {_fmt(entry.revocation_date_utc)}"
        try:
            reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
            detail += f" (reason: {reason.name})"
        except x509.ExtensionNotFound:
            pass
        raise InvalidCertificate(
            CertificateReason.REVOKED,
            f"certificate {_describe(cert)} is revoked{detail} per its issuer's CRL",
        )
