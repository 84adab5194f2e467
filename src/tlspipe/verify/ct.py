"""Certificate Transparency: Signed Certificate Timestamp verification (RFC 6962 §3).

A client that wants CT enforcement gives a :class:`CtPolicy` — the CT logs it trusts
(:class:`CtLog`: log ID = SHA-256 of the log key's DER SubjectPublicKeyInfo, RFC 6962 §3.2) and
how many valid SCTs it needs.  :func:`verify_scts` collects the SCTs

* **stapled** in the TLS ``signed_certificate_timestamp`` extension — the
  ``SignedCertificateTimestampList`` (RFC 6962 §3.3) exactly as ``tlspipe.msgs`` keeps it, *with*
  its 2-byte outer length; these are ``x509_entry`` SCTs over the leaf's DER;
* **embedded** in the leaf's precertificate SCT extension (OID 1.3.6.1.4.1.11129.2.4.2, parsed
  by ``cryptography``); these are ``precert_entry`` SCTs over the precertificate TBSCertificate
  (``Certificate.tbs_precertificate_bytes``: the leaf's TBS without the SCT extension) and the
  SHA-256 of the issuer's SubjectPublicKeyInfo,

and verifies each one's signature over the RFC 6962 §3.2 ``digitally-signed`` struct with the
log's key (ECDSA P-256 or RSA PKCS#1 v1.5, both with SHA-256).  An SCT counts when it is v1, from
a configured log, correctly signed and not timestamped in the future.  SCTs that do not count
are skipped (RFC 6962 §5.2: clients ignore SCTs from unknown logs), never fatal on their own; the
policy decides: fewer counted SCTs than ``min_valid_scts`` (by distinct logs by default, and
``min_distinct_operators`` operators) raises ``InvalidCertificate(CT_POLICY)``, alert
``bad_certificate``.  SCTs delivered inside an OCSP response (RFC 6962 §3.3, third method) are not
collected here.

This room imports only from ``errors``, ``msgs.codec``, sibling ``verify`` modules and
``cryptography``; no network, no clock (``now`` is passed in).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import certificate_transparency as xct

from ..errors import CertificateReason, ConfigError, DecodeError, InvalidCertificate
from ..msgs.codec import Reader, put_u8, put_u16, put_u64, put_vec16, put_vec24
from .base import _X509_ERRORS
from .pinning import spki_der

__all__ = ["CtLog", "CtPolicy", "SignedCertificateTimestamp", "parse_sct_list", "verify_scts"]

_log = logging.getLogger("tlspipe.verify.ct")

_V1: Final = 0
_CERTIFICATE_TIMESTAMP: Final = 0  # SignatureType.certificate_timestamp
_X509_ENTRY: Final = 0
_PRECERT_ENTRY: Final = 1
_HASH_SHA256: Final = 4  # HashAlgorithm.sha256 (RFC 5246 §7.4.1.4.1)
_SIG_RSA: Final = 1
_SIG_ECDSA: Final = 3

CtLogKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True, slots=True)
class SignedCertificateTimestamp:
    """One SCT (RFC 6962 §3.2)::

        struct {
            Version sct_version;             /* v1(0) */
            LogID id;                        /* opaque key_id[32] */
            uint64 timestamp;                /* ms since the epoch */
            CtExtensions extensions;         /* opaque <0..2^16-1> */
            digitally-signed struct { ... }; /* hash(1) sig(1) opaque signature<0..2^16-1> */
        } SignedCertificateTimestamp;

    Only v1 SCTs are decoded; the fields after ``sct_version`` of other versions are unknown.
    """

    sct_version: int
    log_id: bytes
    timestamp: int
    extensions: bytes
    hash_algorithm: int
    signature_algorithm: int
    signature: bytes

    @classmethod
    def decode(cls, data: bytes) -> SignedCertificateTimestamp:
        """Decode one serialized SCT.

        Raises:
            DecodeError: truncated, trailing bytes, or a version other than v1.
        """
        r = Reader(data, "SignedCertificateTimestamp")
        version = r.u8()
        if version != _V1:
            raise DecodeError(f"SCT version {version} is not supported")
        log_id = r.take(32)
        timestamp = r.u64()
        extensions = r.vec16(0, 0xFFFF, "CtExtensions")
        hash_algorithm = r.u8()
        signature_algorithm = r.u8()
        signature = r.vec16(0, 0xFFFF, "signature")
        r.expect_empty()
        return cls(
            version, log_id, timestamp, extensions, hash_algorithm, signature_algorithm, signature
        )

    def signed_data(self, entry_type: int, signed_entry: bytes) -> bytes:
        """The ``digitally-signed`` input (RFC 6962 §3.2) for an entry already encoded.

        ``signed_entry`` is ``ASN.1Cert`` (``x509_entry``, with its 3-byte length) or ``PreCert``
        (``precert_entry``: issuer_key_hash[32] then TBSCertificate with its 3-byte length).
        """
        out = bytearray()
        put_u8(out, self.sct_version)
        put_u8(out, _CERTIFICATE_TIMESTAMP)
        put_u64(out, self.timestamp)
        put_u16(out, entry_type)
        out += signed_entry
        put_vec16(out, self.extensions)
        return bytes(out)


def parse_sct_list(data: bytes) -> tuple[bytes, ...]:
    """Split an encoded ``SignedCertificateTimestampList`` into serialized SCTs.

    ``data`` includes the list's 2-byte length (RFC 6962 §3.3), as in the TLS extension.

    Raises:
        DecodeError: wrong outer or inner lengths, an empty list or an empty SCT.
    """
    r = Reader(data, "SignedCertificateTimestampList")
    inner = r.sub16(1, 0xFFFF, "sct_list")
    r.expect_empty()
    out: list[bytes] = []
    while inner.any_left():
        out.append(inner.vec16(1, 0xFFFF, "SerializedSCT"))
    return tuple(out)


def _spki_of_key(key: CtLogKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True, slots=True)
class CtLog:
    """A Certificate Transparency log the client trusts.

    ``log_id`` must be the SHA-256 of the DER SubjectPublicKeyInfo of ``public_key`` (RFC 6962
    §3.2); use :meth:`from_public_key` / :meth:`from_spki_der` to have it computed.
    ``operator`` names the organisation running the log (for ``min_distinct_operators``).
    """

    log_id: bytes
    public_key: CtLogKey = field(compare=False)
    name: str = ""
    operator: str = ""

    def __post_init__(self) -> None:
        """Check the key type and that ``log_id`` is the key's ID.

        Raises:
            ConfigError: ``log_id`` not 32 bytes or not the key's SHA-256, or a key that is
                neither ECDSA P-256 nor RSA of at least 2048 bits (RFC 6962 §2.1.4).
        """
        if isinstance(self.public_key, ec.EllipticCurvePublicKey):
            if not isinstance(self.public_key.curve, ec.SECP256R1):
                raise ConfigError("a CT log ECDSA key must be on P-256 (RFC 6962 §2.1.4)")
        elif isinstance(self.public_key, rsa.RSAPublicKey):
            if self.public_key.key_size < 2048:
                raise ConfigError("a CT log RSA key must have at least 2048 bits")
        else:
            raise ConfigError("a CT log key must be ECDSA P-256 or RSA")
        if len(self.log_id) != 32:
            raise ConfigError(f"a CT log ID is 32 bytes, got {len(self.log_id)}")
        if hashlib.sha256(_spki_of_key(self.public_key)).digest() != self.log_id:
            raise ConfigError(f"CT log {self.name!r}: log_id is not the SHA-256 of its key")

    @classmethod
    def from_public_key(cls, public_key: CtLogKey, name: str = "", operator: str = "") -> CtLog:
        """A log for ``public_key``, its ID computed.

        Raises:
            ConfigError: as :class:`CtLog`.
        """
        log_id = hashlib.sha256(_spki_of_key(public_key)).digest()
        return cls(log_id, public_key, name, operator)

    @classmethod
    def from_spki_der(cls, spki: bytes, name: str = "", operator: str = "") -> CtLog:
        """A log from its DER SubjectPublicKeyInfo (the base64 ``key`` of CT log lists).

        Raises:
            ConfigError: ``spki`` is not a supported public key, or as :class:`CtLog`.
        """
        try:
            key = serialization.load_der_public_key(bytes(spki))
        except (ValueError, UnsupportedAlgorithm) as e:
            raise ConfigError(f"CT log {name!r}: not a DER public key: {e}") from e
        if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise ConfigError(f"CT log {name!r}: the key must be ECDSA P-256 or RSA")
        return cls.from_public_key(key, name, operator)


@dataclass(frozen=True, slots=True)
class CtPolicy:
    """Which SCTs a client requires.

    Attributes:
        logs: the trusted logs (IDs must be unique).
        min_valid_scts: how many valid SCTs are needed (at least 1).
        distinct_logs: count at most one SCT per log.
        min_distinct_operators: valid SCTs must come from at least this many operators
            (logs with an empty ``operator`` each count as their own operator).
    """

    logs: Sequence[CtLog]
    min_valid_scts: int = 2
    distinct_logs: bool = True
    min_distinct_operators: int = 1

    def __post_init__(self) -> None:
        """Validate and freeze the policy.

        Raises:
            ConfigError: no logs, duplicate log IDs, ``min_valid_scts`` < 1, or a policy no
                set of SCTs from these logs could satisfy.
        """
        logs = tuple(self.logs)
        object.__setattr__(self, "logs", logs)
        if not logs:
            raise ConfigError("a CtPolicy needs at least one log")
        if len({log.log_id for log in logs}) != len(logs):
            raise ConfigError("CtPolicy.logs lists a log twice")
        if self.min_valid_scts < 1:
            raise ConfigError("CtPolicy.min_valid_scts must be at least 1")
        if self.distinct_logs and self.min_valid_scts > len(logs):
            raise ConfigError(
                f"CtPolicy needs {self.min_valid_scts} SCTs from distinct logs but knows only "
                f"{len(logs)} logs"
            )
        if self.min_distinct_operators < 1:
            raise ConfigError("CtPolicy.min_distinct_operators must be at least 1")
        if self.min_distinct_operators > len({_operator(log) for log in logs}):
            raise ConfigError("CtPolicy.min_distinct_operators exceeds the operators of its logs")

    def log_by_id(self, log_id: bytes) -> CtLog | None:
        """The configured log with ``log_id``, or ``None``."""
        for log in self.logs:
            if log.log_id == log_id:
                return log
        return None


def _operator(log: CtLog) -> str:
    return log.operator or f"<log {log.log_id.hex()}>"


def _signature_ok(log: CtLog, sct: SignedCertificateTimestamp, data: bytes) -> bool:
    if sct.hash_algorithm != _HASH_SHA256:
        return False
    key = log.public_key
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if sct.signature_algorithm != _SIG_ECDSA:
                return False
            key.verify(sct.signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            if sct.signature_algorithm != _SIG_RSA:
                return False
            key.verify(sct.signature, data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _embedded(leaf: x509.Certificate) -> list[SignedCertificateTimestamp]:
    try:
        ext = leaf.extensions.get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps
        )
    except x509.ExtensionNotFound:
        return []
    except _X509_ERRORS as e:
        raise InvalidCertificate(
            CertificateReason.BAD_ENCODING, f"certificate extensions do not parse: {e}"
        ) from e
    out: list[SignedCertificateTimestamp] = []
    epoch = dt.datetime(1970, 1, 1)
    for s in ext.value:
        try:
            if (
                s.version is not xct.Version.v1
                or s.entry_type is not xct.LogEntryType.PRE_CERTIFICATE
            ):
                continue
            hash_alg = s.signature_hash_algorithm
            hash_code = _HASH_SHA256 if isinstance(hash_alg, hashes.SHA256) else 0xFF
            out.append(
                SignedCertificateTimestamp(
                    _V1,
                    s.log_id,
                    (s.timestamp - epoch) // dt.timedelta(milliseconds=1),
                    s.extension_bytes,
                    hash_code,
                    s.signature_algorithm.value,
                    s.signature,
                )
            )
        except (ValueError, UnsupportedAlgorithm) as e:
            _log.debug("skipping an embedded SCT cryptography cannot read: %s", e)
    return out


def verify_scts(
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    stapled_sct_list: bytes | None,
    policy: CtPolicy,
    now: dt.datetime,
) -> int:
    """Check the leaf's SCTs (stapled and embedded) against ``policy`` at ``now``.

    ``issuer`` is the certificate that issued ``leaf`` (from the verified chain).
    ``stapled_sct_list`` is the TLS extension's SignedCertificateTimestampList with its 2-byte
    length, or ``None``/``b""`` when the server sent none.  ``now`` should be aware; a naive
    datetime is taken as UTC.

    Returns:
        The number of SCTs that counted (one per log when ``policy.distinct_logs``).

    Raises:
        InvalidCertificate: ``CT_POLICY`` (alert ``bad_certificate``) when too few SCTs count;
            ``BAD_ENCODING`` (``decode_error``) when the leaf's extensions do not parse.
        DecodeError: ``stapled_sct_list`` is not a well-formed list (``decode_error``).
    """
    now = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)
    now_ms = (now - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)
    # (sct, entry_type, signed_entry)
    candidates: list[tuple[SignedCertificateTimestamp, int, bytes]] = []
    skipped: dict[str, int] = {}

    def skip(why: str) -> None:
        skipped[why] = skipped.get(why, 0) + 1

    if stapled_sct_list:
        entry = bytearray()
        put_vec24(entry, leaf.public_bytes(serialization.Encoding.DER))
        for raw in parse_sct_list(stapled_sct_list):
            try:
                candidates.append(
                    (SignedCertificateTimestamp.decode(raw), _X509_ENTRY, bytes(entry))
                )
            except DecodeError:
                skip("malformed or not v1")
    embedded = _embedded(leaf)
    if embedded:
        try:
            tbs = leaf.tbs_precertificate_bytes
        except _X509_ERRORS as e:
            raise InvalidCertificate(
                CertificateReason.BAD_ENCODING, f"cannot rebuild the precertificate: {e}"
            ) from e
        pre = bytearray(
            hashlib.sha256(spki_der(issuer.public_bytes(serialization.Encoding.DER))).digest()
        )
        put_vec24(pre, tbs)
        for sct in embedded:
            candidates.append((sct, _PRECERT_ENTRY, bytes(pre)))

    counted: list[CtLog] = []
    for sct, entry_type, signed_entry in candidates:
        log = policy.log_by_id(sct.log_id)
        if log is None:
            skip("from an unknown log")
            continue
        if sct.timestamp > now_ms:
            skip("timestamped in the future")
            continue
        if not _signature_ok(log, sct, sct.signed_data(entry_type, signed_entry)):
            skip("with a bad signature")
            continue
        if policy.distinct_logs and log in counted:
            skip("duplicate for a log")
            continue
        _log.debug("valid SCT from CT log %r", log.name or log.log_id.hex())
        counted.append(log)

    operators = {_operator(log) for log in counted}
    if len(counted) >= policy.min_valid_scts and len(operators) >= policy.min_distinct_operators:
        return len(counted)
    detail = "; skipped " + ", ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
    need = (
        f"{policy.min_valid_scts} from distinct logs"
        if policy.distinct_logs
        else str(policy.min_valid_scts)
    )
    if policy.min_distinct_operators > 1:
        need += f" and {policy.min_distinct_operators} operators"
    raise InvalidCertificate(
        CertificateReason.CT_POLICY,
        f"certificate transparency policy not met: {len(counted)} valid SCTs of "
        f"{len(candidates)} ({len(operators)} operators){detail if skipped else ''}; "
        f"the policy needs {need}",
    )
