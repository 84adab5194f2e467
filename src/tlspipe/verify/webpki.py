"""WebPKI certificate verifiers on ``cryptography.x509.verification``.

:class:`WebPkiServerVerifier` checks a server's chain for a DNS name or IP address
(RFC 6125 / RFC 5280 path validation: chain to a root, validity at ``now``, key usage, EKU
serverAuth, basic constraints, name constraints, maximum depth); :class:`WebPkiClientVerifier`
does the same for a client certificate with EKU clientAuth.  Chain building is entirely
``cryptography``'s; this module only prepares inputs and turns failures into
:class:`~tlspipe.errors.InvalidCertificate` with a :class:`~tlspipe.errors.CertificateReason`
and a readable message.

``cryptography`` reports failures as a string only, so the leaf is first checked here for the
common cases (garbage DER, validity window) and the rest is classified from the message, with
``UNKNOWN_ISSUER`` as the default.  OCSP responses and CRLs are not checked (yet).

This room imports only from ``errors``, ``enums`` and ``verify.base``/``verify.roots``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification as xv

from ..enums import AlertDescription, SignatureScheme
from ..errors import CertificateReason, ConfigError, InvalidCertificate, PeerMisbehaved
from .base import (
    _X509_ERRORS,
    DEFAULT_VERIFY_SCHEMES,
    ClientCertVerified,
    HandshakeSignatureValid,
    ServerCertVerified,
    _remembered,
    verify_tls12_signature,
    verify_tls13_signature,
)
from .crl import CrlChecker
from .ct import CtPolicy, verify_scts
from .ocsp import OcspPolicy
from .pinning import PinSet
from .roots import RootCertStore

__all__ = [
    "DEFAULT_MAX_CHAIN_DEPTH",
    "AllowAnyAnonymousOrAuthenticatedClient",
    "AllowAnyAuthenticatedClient",
    "NoClientAuth",
    "ServerCertChecks",
    "WebPkiClientVerifier",
    "WebPkiServerVerifier",
]

_log = logging.getLogger("tlspipe.verify.webpki")

#: Intermediates allowed between the leaf and the root (``cryptography``'s default).
DEFAULT_MAX_CHAIN_DEPTH: Final = 8

_TIME_FMT: Final = "%Y-%m-%d %H:%M:%S"


def _utc(now: dt.datetime) -> dt.datetime:
    """``now`` as an aware UTC datetime (a naive value is taken to be UTC)."""
    if now.tzinfo is None:
        return now.replace(tzinfo=dt.UTC)
    return now.astimezone(dt.UTC)


def _fmt(t: dt.datetime) -> str:
    return f"{t.strftime(_TIME_FMT)} UTC"


def _describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "<empty subject>"


_PARSED: dict[bytes, x509.Certificate] = {}


def _load(der: bytes, what: str) -> x509.Certificate:
    """Parse ``der`` and touch every lazily parsed field we use, so malformed ones fail here."""
    return _remembered(_PARSED, bytes(der), lambda key: _load_uncached(key, what))


def _load_uncached(der: bytes, what: str) -> x509.Certificate:
    try:
        cert = x509.load_der_x509_certificate(bytes(der))
        _ = (cert.subject, cert.issuer, cert.not_valid_before_utc, cert.not_valid_after_utc)
        _ = cert.extensions
    except _X509_ERRORS as e:
        raise InvalidCertificate(CertificateReason.BAD_ENCODING, f"{what} is not valid DER") from e
    return cert


def _parse_chain(
    end_entity: bytes, intermediates: Sequence[bytes]
) -> tuple[x509.Certificate, list[x509.Certificate]]:
    leaf = _load(end_entity, "end-entity certificate")
    chain = [
        _load(der, f"intermediate certificate #{i + 1}") for i, der in enumerate(intermediates)
    ]
    return leaf, chain


def _run(verify: Callable[[], object]) -> xv.VerificationError | None:
    """Run cryptography's verification; its error, or None on success.

    Raises:
        InvalidCertificate: cryptography choked on the encoding or key (``BAD_ENCODING`` /
            ``UNSUPPORTED_KEY``) rather than reporting a verification failure.
    """
    try:
        verify()
    except xv.VerificationError as e:
        return e
    except UnsupportedAlgorithm as e:
        raise InvalidCertificate(
            CertificateReason.UNSUPPORTED_KEY, "certificate uses an unsupported algorithm"
        ) from e
    except _X509_ERRORS as e:
        raise InvalidCertificate(
            CertificateReason.BAD_ENCODING, "certificate chain is not validly encoded"
        ) from e
    return None


def _check_validity(cert: x509.Certificate, now: dt.datetime, what: str) -> None:
    not_after = cert.not_valid_after_utc
    not_before = cert.not_valid_before_utc
    if now > not_after:
        raise InvalidCertificate(CertificateReason.EXPIRED, f"{what} expired on {_fmt(not_after)}")
    if now < not_before:
        raise InvalidCertificate(
            CertificateReason.NOT_VALID_YET, f"{what} not valid before {_fmt(not_before)}"
        )


def _san_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, *_X509_ERRORS):
        return []
    names: list[str] = list(san.get_values_for_type(x509.DNSName))
    names.extend(str(a) for a in san.get_values_for_type(x509.IPAddress))
    return names


_SUBJECTS: dict[str, xv.Subject] = {}


def _server_subject(server_name: str) -> xv.Subject:
    """The verification subject for ``server_name``: an IP literal or a DNS name (kept per
    name, bounded: a client verifies the same few names again and again).

    Raises:
        InvalidCertificate: not a valid DNS name or IP address (never remembered).
    """
    return _remembered(_SUBJECTS, server_name, _server_subject_uncached)


def _server_subject_uncached(server_name: str) -> xv.Subject:
    name = server_name.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    # Only a string with a ":" (IPv6) or of digits and dots alone (IPv4) can parse as an IP
    # address; skip ip_address's two failed parses (and their exceptions) for a DNS name.
    if ":" in name or not name.strip("0123456789."):
        try:
            return x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            pass
    if name.endswith("."):
        name = name[:-1]
    name = name.lower()
    if not name or not name.isascii() or len(name) > 253:
        raise InvalidCertificate(
            CertificateReason.NOT_VALID_FOR_NAME,
            f"server name {server_name!r} is not a valid DNS name or IP address",
        )
    try:
        return x509.DNSName(name)
    except ValueError as e:
        raise InvalidCertificate(
            CertificateReason.NOT_VALID_FOR_NAME,
            f"server name {server_name!r} is not a valid DNS name or IP address",
        ) from e


def _clean(detail: str) -> str:
    """cryptography's message without its boilerplate prefix and the trailing cert repr."""
    detail = detail.removeprefix("validation failed: ")
    cut = detail.find(" (encountered processing <Certificate")
    return detail[:cut] if cut >= 0 else detail


def _classify(
    err: xv.VerificationError,
    *,
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    roots: RootCertStore,
    now: dt.datetime,
    server_name: str | None,
) -> InvalidCertificate:
    """Turn cryptography's string-only error into an InvalidCertificate."""
    detail = str(err)
    lowered = detail.lower()
    short = _clean(detail)
    purpose = "server" if server_name is not None else "client"
    if (
        server_name is not None
        and "subjectaltname" in lowered
        and ("no matching" in lowered or "has no" in lowered or "missing" in lowered)
    ):
        names = _san_names(leaf)
        valid_for = f" (it is valid for {', '.join(names)})" if names else " (it names no hosts)"
        return InvalidCertificate(
            CertificateReason.NOT_VALID_FOR_NAME,
            f"certificate not valid for {server_name!r}{valid_for}",
        )
    if "eku" in lowered or "extended key usage" in lowered:
        return InvalidCertificate(
            CertificateReason.INVALID_PURPOSE,
            f"certificate is not valid for TLS {purpose} authentication "
            f"(extended key usage lacks {purpose}Auth)",
        )
    if "basicconstraints.ca must not be asserted" in lowered:
        return InvalidCertificate(
            CertificateReason.INVALID_PURPOSE,
            "a CA certificate cannot be used as the end-entity certificate",
        )
    if "keyusage" in lowered or "key usage" in lowered:
        return InvalidCertificate(
            CertificateReason.INVALID_PURPOSE, f"certificate key usage is not permitted: {short}"
        )
    if "not valid at validation time" in lowered:
        # The leaf's own window was checked already: blame an issuer.
        issuers = {c.issuer for c in (leaf, *intermediates)}
        candidates = list(intermediates) + [r for r in roots if r.subject in issuers]
        for cert in candidates:
            try:
                _check_validity(cert, now, f"issuer certificate {_describe(cert)!r}")
            except InvalidCertificate as e:
                return e
        return InvalidCertificate(
            CertificateReason.EXPIRED,
            f"a certificate in the chain is not valid at {_fmt(now)}",
        )
    if "signature does not match" in lowered:
        return InvalidCertificate(
            CertificateReason.BAD_SIGNATURE,
            "certificate signature does not verify with its issuer's key",
        )
    if "forbidden public key" in lowered or "key size" in lowered or "rsa key" in lowered:
        return InvalidCertificate(
            CertificateReason.UNSUPPORTED_KEY, f"certificate key is not acceptable: {short}"
        )
    if "forbidden signature algorithm" in lowered:
        return InvalidCertificate(
            CertificateReason.OTHER, f"certificate signature algorithm not allowed: {short}"
        )
    if "name constraint" in lowered:
        return InvalidCertificate(
            CertificateReason.OTHER, f"certificate violates a name constraint: {short}"
        )
    if "candidates exhausted" in lowered or "self-signed" in lowered:
        return InvalidCertificate(
            CertificateReason.UNKNOWN_ISSUER,
            f"certificate issuer {leaf.issuer.rfc4514_string()!r} is not trusted "
            "(no chain to a known root)",
        )
    return InvalidCertificate(CertificateReason.UNKNOWN_ISSUER, f"certificate rejected: {short}")


def _check_depth(max_chain_depth: int) -> int:
    if not 0 < max_chain_depth <= 255:
        raise ConfigError(f"max_chain_depth must be in 1..255, got {max_chain_depth}")
    return max_chain_depth


@dataclass(frozen=True, kw_only=True)
class ServerCertChecks:
    """Optional checks a client runs on the verified chain, each off unless given.

    Args:
        ocsp: check a stapled OCSP response (signature, CertID, freshness, status);
            ``OcspPolicy(require_stapled=True)`` also refuses servers that staple nothing.
        ct: require valid SCTs (stapled or embedded) from the listed CT logs.
        crls: user-supplied CRLs, for the end entity or the whole chain.
        pins: SPKI SHA-256 pins; one certificate of the verified chain must match.
    """

    ocsp: OcspPolicy | None = None
    ct: CtPolicy | None = None
    crls: CrlChecker | None = None
    pins: PinSet | None = None

    def run(
        self,
        built: Sequence[x509.Certificate],
        ocsp_response: bytes,
        sct_list: bytes | None,
        now: dt.datetime,
    ) -> None:
        """Run the configured checks on ``built`` (leaf first, trust anchor last).

        Raises:
            InvalidCertificate: ``REVOKED``, ``BAD_STATUS_RESPONSE``, ``CT_POLICY``,
                ``PIN_MISMATCH`` or ``UNKNOWN_REVOCATION_STATUS`` (alert by reason).
        """
        leaf = built[0]
        issuer = built[1] if len(built) > 1 else built[0]
        if self.pins is not None:
            self.pins.check([c.public_bytes(serialization.Encoding.DER) for c in built])
        if self.crls is not None:
            self.crls.check(built, now)
        if self.ocsp is not None:
            self.ocsp.check(ocsp_response, leaf, issuer, now)
        if self.ct is not None:
            verify_scts(leaf, issuer, sct_list, self.ct, now)


class _HandshakeSignatures:
    """The handshake-signature half of a verifier, shared by the server and client
    verifiers: the peer must use a scheme we offered (RFC 8446 §4.4.3), then the leaf's key
    must verify the signature."""

    __slots__ = ()
    _schemes: tuple[SignatureScheme, ...]

    def verify_tls12_signature(
        self, message: bytes, cert: bytes, scheme: int, signature: bytes
    ) -> HandshakeSignatureValid:
        """Verify a TLS 1.2 ServerKeyExchange or client CertificateVerify signature.

        Raises:
            PeerMisbehaved: bad signature (``decrypt_error``) or scheme not offered / not
                fitting the key (``illegal_parameter``).
            InvalidCertificate: ``cert`` does not parse.
        """
        _check_offered(scheme, self._schemes)
        return verify_tls12_signature(message, cert, scheme, signature)

    def verify_tls13_signature(
        self, message: bytes, cert: bytes, scheme: int, signature: bytes
    ) -> HandshakeSignatureValid:
        """Verify a TLS 1.3 CertificateVerify signature.

        Raises:
            PeerMisbehaved: bad signature (``decrypt_error``) or scheme not offered, not
                allowed in TLS 1.3 or not fitting the key (``illegal_parameter``).
            InvalidCertificate: ``cert`` does not parse.
        """
        if scheme not in self._schemes:
            _check_offered(scheme, self._schemes)  # raises
        return verify_tls13_signature(message, cert, scheme, signature)

    def supported_verify_schemes(self) -> tuple[SignatureScheme, ...]:
        """The signature schemes we accept, most preferred first."""
        return self._schemes


class _Validated(NamedTuple):
    """A successful server path validation, reusable while ``store`` is the root store's
    current ``Store`` and the time lies within [``not_before``, ``not_after``] (the
    intersection of the validity windows of every certificate in ``built``)."""

    store: xv.Store
    not_before: dt.datetime
    not_after: dt.datetime
    built: tuple[x509.Certificate, ...]


class WebPkiServerVerifier(_HandshakeSignatures):
    """Verifies server certificates against :class:`RootCertStore` roots (client side).

    Supports DNS names (wildcards per RFC 6125 as implemented by ``cryptography``) and IP
    addresses: a ``server_name`` that parses as an IPv4/IPv6 literal is matched against iPAddress
    subjectAltNames.  The leaf must carry subjectAltName; EKU, when present, must allow
    serverAuth.  OCSP responses, SCTs, CRLs and pins are checked only when ``checks`` asks.

    Successful path validations are cached (clients reconnect to the same servers): each
    verifier keeps a bounded LRU (:attr:`CACHE_SIZE` entries) keyed by the exact DER bytes of
    the end entity and the peer's intermediates and the exact ``server_name``.  An entry
    remembers the root store's ``Store`` object it was validated against (adding a root
    builds a new one, which misses) and the window in which every certificate of the built
    path is valid; a verification at a time outside that window, or with any other chain,
    name or store, runs the full validation again.  Failures are never cached.  The
    :class:`ServerCertChecks` (OCSP, CT, CRLs, pins) run on every call, on the cached path,
    and the handshake signature (:meth:`verify_tls13_signature` /
    :meth:`verify_tls12_signature`) is always verified.  ``cache_size=0`` disables the cache.
    """

    __slots__ = (
        "_cache",
        "_cache_lock",
        "_cache_size",
        "_checks",
        "_max_chain_depth",
        "_roots",
        "_schemes",
    )

    #: Default bound of the cache of successful validations.
    CACHE_SIZE: Final = 128

    def __init__(
        self,
        roots: RootCertStore,
        *,
        max_chain_depth: int = DEFAULT_MAX_CHAIN_DEPTH,
        schemes: Sequence[SignatureScheme] = DEFAULT_VERIFY_SCHEMES,
        checks: ServerCertChecks | None = None,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        """Create a verifier trusting ``roots``; ``checks`` adds optional revocation, CT and
        pinning checks on top of path validation; ``cache_size`` bounds the cache of
        successful validations (0: no cache).

        Raises:
            ConfigError: ``roots`` is empty, ``max_chain_depth`` or ``cache_size`` out of
                range or ``schemes`` empty.
        """
        roots.to_store()  # fail early on an empty store
        if not schemes:
            raise ConfigError("schemes must not be empty")
        if cache_size < 0:
            raise ConfigError(f"cache_size must be >= 0, got {cache_size}")
        self._roots = roots
        self._max_chain_depth = _check_depth(max_chain_depth)
        self._schemes = tuple(schemes)
        self._checks = checks
        self._cache_size = cache_size
        self._cache: dict[tuple[bytes, tuple[bytes, ...], str], _Validated] = {}
        # A config (and its verifier) may be shared by connections in several threads.
        self._cache_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WebPkiServerVerifier({self._roots!r})"

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
        """Verify ``end_entity`` (DER) and the peer's ``intermediates`` for ``server_name``.

        ``now`` should be aware; a naive datetime is taken as UTC.  ``ocsp_response`` and
        ``sct_list`` are what the server stapled; they are checked only when the verifier
        was built with :class:`ServerCertChecks` asking for it.

        Raises:
            InvalidCertificate: reason ``BAD_ENCODING`` (garbage DER, ``decode_error``),
                ``EXPIRED``/``NOT_VALID_YET`` (``certificate_expired``), ``NOT_VALID_FOR_NAME``
                (``bad_certificate``), ``INVALID_PURPOSE`` (no serverAuth, CA as leaf;
                ``unsupported_certificate``), ``BAD_SIGNATURE`` (``decrypt_error``),
                ``UNKNOWN_ISSUER`` (``unknown_ca``) and the like.
        """
        if now.tzinfo is not dt.UTC:  # config.time() gives UTC already
            now = _utc(now)
        key = (bytes(end_entity), tuple(map(bytes, intermediates)), server_name)
        cache = self._cache
        store = self._roots.to_store()
        with self._cache_lock:
            hit = cache.pop(key, None)
            if hit is not None:
                cache[key] = hit  # most recently used last
        if hit is not None and hit.store is store and hit.not_before <= now <= hit.not_after:
            if self._checks is not None:
                self._checks.run(hit.built, ocsp_response, sct_list, now)
            return ServerCertVerified.assertion()
        leaf, chain = _parse_chain(end_entity, intermediates)
        subject = _server_subject(server_name)
        _check_validity(leaf, now, "certificate")
        verifier = (
            xv.PolicyBuilder()
            .store(store)
            .time(now)
            .max_chain_depth(self._max_chain_depth)
            .build_server_verifier(subject)
        )
        built: list[x509.Certificate] = []
        err = _run(lambda: built.extend(verifier.verify(leaf, chain)))
        if err is not None:
            raise _classify(
                err,
                leaf=leaf,
                intermediates=chain,
                roots=self._roots,
                now=now,
                server_name=server_name,
            ) from err
        if self._checks is not None:
            self._checks.run(built, ocsp_response, sct_list, now)
        if self._cache_size:
            entry = _Validated(
                store,
                max(c.not_valid_before_utc for c in built),
                min(c.not_valid_after_utc for c in built),
                tuple(built),
            )
            with self._cache_lock:
                cache.pop(key, None)
                while len(cache) >= self._cache_size:
                    cache.pop(next(iter(cache)))  # least recently used
                cache[key] = entry
        if _log.isEnabledFor(logging.DEBUG):  # one call, not two, when debug is off
            _log.debug("server certificate verified for %r", server_name)
        return ServerCertVerified.assertion()


class WebPkiClientVerifier(_HandshakeSignatures):
    """Verifies client certificates against :class:`RootCertStore` roots (server side).

    EKU, when present, must allow clientAuth; subjectAltName is optional for clients.
    The root subjects are offered as certificate_authorities hints.
    """

    __slots__ = ("_mandatory", "_max_chain_depth", "_roots", "_schemes", "_subjects")

    def __init__(
        self,
        roots: RootCertStore,
        *,
        mandatory: bool = True,
        max_chain_depth: int = DEFAULT_MAX_CHAIN_DEPTH,
        schemes: Sequence[SignatureScheme] = DEFAULT_VERIFY_SCHEMES,
        root_hints: bool = True,
    ) -> None:
        """Create a verifier trusting ``roots``; ``mandatory=False`` lets clients send none.

        Raises:
            ConfigError: ``roots`` is empty, ``max_chain_depth`` out of range or ``schemes``
                empty.
        """
        roots.to_store()
        if not schemes:
            raise ConfigError("schemes must not be empty")
        self._roots = roots
        self._mandatory = mandatory
        self._max_chain_depth = _check_depth(max_chain_depth)
        self._schemes = tuple(schemes)
        self._subjects = roots.subjects() if root_hints else ()

    def __repr__(self) -> str:
        return f"WebPkiClientVerifier({self._roots!r}, mandatory={self._mandatory})"

    def offer_client_auth(self) -> bool:
        """Always true: the server sends a CertificateRequest."""
        return True

    def client_auth_mandatory(self) -> bool:
        """Whether a client without a certificate is refused (``certificate_required``)."""
        return self._mandatory

    def root_hint_subjects(self) -> tuple[bytes, ...]:
        """DER subject names of the roots (certificate_authorities, RFC 8446 §4.2.4)."""
        return self._subjects

    def verify_client_cert(
        self, end_entity: bytes, intermediates: Sequence[bytes], now: dt.datetime
    ) -> ClientCertVerified:
        """Verify a client's ``end_entity`` (DER) with its ``intermediates`` at ``now``.

        Raises:
            InvalidCertificate: reason ``BAD_ENCODING``, ``EXPIRED``/``NOT_VALID_YET``,
                ``INVALID_PURPOSE`` (no clientAuth, CA as leaf), ``BAD_SIGNATURE``,
                ``UNKNOWN_ISSUER`` and the like (alert by reason).
        """
        now = _utc(now)
        leaf, chain = _parse_chain(end_entity, intermediates)
        _check_validity(leaf, now, "certificate")
        ee_policy = xv.ExtensionPolicy.webpki_defaults_ee().may_be_present(
            x509.SubjectAlternativeName, xv.Criticality.AGNOSTIC, None
        )
        verifier = (
            xv.PolicyBuilder()
            .store(self._roots.to_store())
            .time(now)
            .max_chain_depth(self._max_chain_depth)
            .extension_policies(
                ca_policy=xv.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy
            )
            .build_client_verifier()
        )
        err = _run(lambda: verifier.verify(leaf, chain))
        if err is not None:
            raise _classify(
                err, leaf=leaf, intermediates=chain, roots=self._roots, now=now, server_name=None
            ) from err
        _log.debug("client certificate verified: %s", _describe(leaf))
        return ClientCertVerified.assertion()


def _check_offered(scheme: int, schemes: tuple[SignatureScheme, ...]) -> None:
    """RFC 8446 §4.4.3: the peer must use a scheme we offered (illegal_parameter)."""
    if scheme not in schemes:
        raise PeerMisbehaved(f"peer used signature scheme 0x{scheme:04x} that was not offered")


class NoClientAuth:
    """The server does not ask for client certificates (the default)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NoClientAuth()"

    def offer_client_auth(self) -> bool:
        """Never: no CertificateRequest is sent."""
        return False

    def client_auth_mandatory(self) -> bool:
        """Never mandatory."""
        return False

    def root_hint_subjects(self) -> tuple[bytes, ...]:
        """No hints."""
        return ()

    def verify_client_cert(
        self, end_entity: bytes, intermediates: Sequence[bytes], now: dt.datetime
    ) -> ClientCertVerified:
        """Unreachable: a client cannot send a certificate that was not requested.

        Raises:
            PeerMisbehaved: always (unexpected_message).
        """
        raise PeerMisbehaved(
            "client certificate sent but not requested", AlertDescription.unexpected_message
        )

    def verify_tls12_signature(
        self, message: bytes, cert: bytes, scheme: int, signature: bytes
    ) -> HandshakeSignatureValid:
        """Unreachable, see :meth:`verify_client_cert`.

        Raises:
            PeerMisbehaved: always.
        """
        return self.verify_tls13_signature(message, cert, scheme, signature)

    def verify_tls13_signature(
        self, message: bytes, cert: bytes, scheme: int, signature: bytes
    ) -> HandshakeSignatureValid:
        """Unreachable, see :meth:`verify_client_cert`.

        Raises:
            PeerMisbehaved: always.
        """
        raise PeerMisbehaved(
            "client CertificateVerify sent but not requested",
            AlertDescription.unexpected_message,
        )

    def supported_verify_schemes(self) -> tuple[SignatureScheme, ...]:
        """The schemes a client would have to use (none is ever requested)."""
        return DEFAULT_VERIFY_SCHEMES


def AllowAnyAuthenticatedClient(roots: RootCertStore) -> WebPkiClientVerifier:
    """Client certificates required and verified against ``roots`` (the seed's name).

    Raises:
        ConfigError: ``roots`` is empty.
    """
    return WebPkiClientVerifier(roots, mandatory=True)


def AllowAnyAnonymousOrAuthenticatedClient(
    roots: RootCertStore,
) -> WebPkiClientVerifier:
    """Client certificates optional; when sent, verified against ``roots`` (seed's name).

    Raises:
        ConfigError: ``roots`` is empty.
    """
    return WebPkiClientVerifier(roots, mandatory=False)
