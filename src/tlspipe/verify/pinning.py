"""Certificate pinning by SubjectPublicKeyInfo SHA-256 (the HPKP pin form, RFC 7469 §2.4).

A :class:`PinSet` is checked *on top of* normal chain verification: it never makes an
untrusted chain acceptable, it only rejects trusted chains whose keys are not pinned.  A pin is
the SHA-256 of a certificate's DER ``SubjectPublicKeyInfo`` (:func:`spki_sha256`), the value
``openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256`` prints.
Pinning a key (not a certificate) survives re-issuance with the same key.

Scopes:

* ``"any-in-chain"`` (default, RFC 7469 §2.6 semantics): at least one certificate of the chain
  matches.  Pass the *verified* chain (leaf, intermediates, trust anchor) so that pinning a
  root or intermediate key works even when the peer does not send that certificate.
* ``"end_entity"``: the leaf's key must match.

Failure raises :class:`~tlspipe.errors.InvalidCertificate` with reason ``PIN_MISMATCH``
(alert ``bad_certificate``): the certificate itself is acceptable to the PKI but not to the
application's pin policy, and ``bad_certificate`` is what a TLS client sends for a server
certificate it refuses (``access_denied`` is about access control on the *sender's* side).

The module also holds the small DER reader used by ``verify/`` to find the exact
SubjectPublicKeyInfo bytes of a certificate (no re-encoding through a key object).
This room imports only from ``errors`` and ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from typing import Final, Literal

from ..errors import CertificateReason, ConfigError, InvalidCertificate

__all__ = ["PinScope", "PinSet", "spki_der", "spki_sha256"]

PinScope = Literal["any-in-chain", "end_entity"]
_SCOPES: Final = ("any-in-chain", "end_entity")

_SEQUENCE: Final = 0x30
_INTEGER: Final = 0x02
_VERSION_TAG: Final = 0xA0  # [0] EXPLICIT Version
_BIT_STRING: Final = 0x03


class _DerError(Exception):
    """Malformed DER (module-private; converted to InvalidCertificate at the edge)."""


def _read_tlv(data: bytes, off: int, end: int) -> tuple[int, int, int]:
    """Read one DER TLV at ``off`` (before ``end``): ``(tag, content_start, content_end)``.

    Only low tag numbers and definite lengths of up to 4 octets are accepted (DER).
    """
    if off + 2 > end:
        raise _DerError("truncated TLV header")
    tag = data[off]
    if tag & 0x1F == 0x1F:
        raise _DerError("high tag numbers are not used here")
    first = data[off + 1]
    pos = off + 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4:
            raise _DerError("indefinite or oversized length")
        if pos + n > end:
            raise _DerError("truncated length")
        length = int.from_bytes(data[pos : pos + n], "big")
        if length < 0x80 or data[pos] == 0:
            raise _DerError("non-minimal length")
        pos += n
    if pos + length > end:
        raise _DerError("content runs past its container")
    return tag, pos, pos + length


def _expect(data: bytes, off: int, end: int, tag: int, what: str) -> tuple[int, int]:
    got, start, stop = _read_tlv(data, off, end)
    if got != tag:
        raise _DerError(f"{what}: expected tag 0x{tag:02x}, got 0x{got:02x}")
    return start, stop


def _spki_span(cert_der: bytes) -> tuple[int, int]:
    """Offsets of the SubjectPublicKeyInfo TLV inside a Certificate (RFC 5280 §4.1)."""
    end = len(cert_der)
    c_start, c_end = _expect(cert_der, 0, end, _SEQUENCE, "Certificate")
    if c_end != end:
        raise _DerError("trailing bytes after Certificate")
    t_start, t_end = _expect(cert_der, c_start, c_end, _SEQUENCE, "TBSCertificate")
    off = t_start
    tag, _, stop = _read_tlv(cert_der, off, t_end)
    if tag == _VERSION_TAG:
        off = stop
    # serialNumber, signature, issuer, validity, subject
    for tag_wanted, what in (
        (_INTEGER, "serialNumber"),
        (_SEQUENCE, "signature"),
        (_SEQUENCE, "issuer"),
        (_SEQUENCE, "validity"),
        (_SEQUENCE, "subject"),
    ):
        _, off = _expect(cert_der, off, t_end, tag_wanted, what)
    _, stop = _expect(cert_der, off, t_end, _SEQUENCE, "subjectPublicKeyInfo")
    return off, stop


def spki_der(cert_der: bytes) -> bytes:
    """The exact DER ``SubjectPublicKeyInfo`` of the DER certificate ``cert_der``.

    Raises:
        InvalidCertificate: ``cert_der`` is not a DER certificate (reason ``BAD_ENCODING``,
            alert ``decode_error``).
    """
    data = bytes(cert_der)
    try:
        start, stop = _spki_span(data)
    except _DerError as e:
        raise InvalidCertificate(
            CertificateReason.BAD_ENCODING, f"certificate is not valid DER: {e}"
        ) from e
    return data[start:stop]


def _subject_public_key_bits(spki: bytes) -> bytes:
    """The subjectPublicKey BIT STRING contents (without the unused-bits octet).

    This is what OCSP's issuerKeyHash and responder byKey hash (RFC 6960 §4.1.1, §4.2.1).

    Raises:
        _DerError: ``spki`` is malformed.
    """
    s_start, s_end = _expect(spki, 0, len(spki), _SEQUENCE, "SubjectPublicKeyInfo")
    _, alg_end = _expect(spki, s_start, s_end, _SEQUENCE, "algorithm")
    b_start, b_end = _expect(spki, alg_end, s_end, _BIT_STRING, "subjectPublicKey")
    if b_end != s_end or b_start == b_end or spki[b_start] != 0:
        raise _DerError("subjectPublicKey must be a whole-octet BIT STRING")
    return spki[b_start + 1 : b_end]


def spki_sha256(cert_der: bytes) -> bytes:
    """The pin of ``cert_der``: SHA-256 of its DER SubjectPublicKeyInfo (32 bytes).

    Raises:
        InvalidCertificate: ``cert_der`` is not a DER certificate (``BAD_ENCODING``).
    """
    return hashlib.sha256(spki_der(cert_der)).digest()


class PinSet:
    """A set of SPKI SHA-256 pins, checked after normal certificate verification.

    ``PinSet([pin1, pin2])`` with 32-byte digests, or :meth:`from_base64` with the
    ``"sha256/…"``/plain base64 strings of HPKP and ``curl --pinnedpubkey``.  Include a backup
    pin (RFC 7469 §4.3) so a key change does not lock clients out.
    """

    __slots__ = ("_pins", "_scope")

    def __init__(self, pins: Iterable[bytes], *, scope: PinScope = "any-in-chain") -> None:
        """Create a pin set.

        Raises:
            ConfigError: no pins, a pin that is not 32 bytes, or an unknown ``scope``.
        """
        collected = frozenset(bytes(p) for p in pins)
        if not collected:
            raise ConfigError("a PinSet needs at least one pin")
        for p in collected:
            if len(p) != 32:
                raise ConfigError(f"an SPKI SHA-256 pin is 32 bytes, got {len(p)}")
        if scope not in _SCOPES:
            raise ConfigError(f"pin scope must be one of {_SCOPES}, got {scope!r}")
        self._pins = collected
        self._scope: PinScope = scope

    @classmethod
    def from_base64(cls, pins: Iterable[str], *, scope: PinScope = "any-in-chain") -> PinSet:
        """Pins as base64 strings, optionally prefixed ``sha256/`` (RFC 7469 pin-sha256 form).

        Raises:
            ConfigError: a string is not base64 of 32 bytes, or as :class:`PinSet`.
        """
        raw: list[bytes] = []
        for text in pins:
            body = text.strip()
            body = body.removeprefix("sha256/")
            try:
                raw.append(base64.b64decode(body, validate=True))
            except (binascii.Error, ValueError) as e:
                raise ConfigError(f"pin {text!r} is not base64") from e
        return cls(raw, scope=scope)

    def __repr__(self) -> str:
        return f"PinSet({len(self._pins)} pins, scope={self._scope!r})"

    def __len__(self) -> int:
        return len(self._pins)

    @property
    def scope(self) -> PinScope:
        """Which certificates may satisfy the pins."""
        return self._scope

    def matches(self, cert_der: bytes) -> bool:
        """Whether ``cert_der``'s SPKI SHA-256 is one of the pins.

        Raises:
            InvalidCertificate: ``cert_der`` is not a DER certificate (``BAD_ENCODING``).
        """
        return spki_sha256(cert_der) in self._pins

    def check(self, chain_der: Sequence[bytes]) -> None:
        """Check a verified chain, leaf first (``[leaf, intermediate…, anchor]``).

        Raises:
            InvalidCertificate: ``PIN_MISMATCH`` (alert ``bad_certificate``) when no
                certificate in scope matches a pin or ``chain_der`` is empty;
                ``BAD_ENCODING`` (``decode_error``) for a certificate that is not DER.
        """
        if not chain_der:
            raise InvalidCertificate(
                CertificateReason.PIN_MISMATCH, "no certificate to check against the pins"
            )
        candidates = chain_der[:1] if self._scope == "end_entity" else chain_der
        for cert in candidates:
            if self.matches(cert):
                return
        what = "no key of the chain is"
        if self._scope == "end_entity":
            what = "the end-entity key is not"
        raise InvalidCertificate(
            CertificateReason.PIN_MISMATCH,
            f"certificate pinning failed: {what} one of the {len(self._pins)} "
            "configured SPKI SHA-256 pins",
        )
