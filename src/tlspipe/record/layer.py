"""Record protection: per-direction AEAD state, sequence numbers and usage limits.

- TLS 1.3 (RFC 8446 §5.2-§5.5): ``TLSInnerPlaintext = content || type || zeros``; outer
  type application_data, legacy_record_version 0x0303; nonce = iv XOR seq (seq left-padded
  to the IV length); AAD = the 5-byte record header carrying the ciphertext length.
- TLS 1.2 AES-GCM (RFC 5288 §3, RFC 5246 §6.2.3.3): nonce = fixed_iv(4) || explicit(8),
  the explicit part travels in front of the ciphertext; AAD = seq(8) || type || version ||
  plaintext length.
- TLS 1.2 ChaCha20-Poly1305 (RFC 7905 §2): nonce = iv(12) XOR seq, no explicit nonce; AAD
  as for GCM.

The AEAD itself comes from the crypto provider; this module only needs the structural
:class:`RecordAead` protocol (``seal``/``open``), which ``tlspipe.crypto.provider.Aead``
satisfies.  Imports only ``errors``, ``enums`` and :mod:`.deframer`.

Choices (the spec left them open):

- **Confidentiality limit** (records per key on the sending side): every encrypter takes
  ``confidentiality_limit``; the default is AES-GCM's 2^24.5 records (RFC 8446 §5.5), the
  safe choice when the caller does not pass the suite's own value (ChaCha20-Poly1305 has no
  practical limit: pass ``2**64 - 1``).  The sequence number space itself ends at
  2^64 - 1: a record is never sent with seq ≥ 2^64 - 1 (RFC 8446 §5.3, RFC 5246 §6.1: no
  wrapping).  At the hard limit :meth:`RecordLayer.encrypt` raises
  :class:`~tlspipe.errors.EncryptError`; :meth:`RecordLayer.wants_key_update` turns true
  ``min(2**16, limit // 2)`` records earlier so a TLS 1.3 connection can send KeyUpdate in
  time (a TLS 1.2 connection should close).
- **Integrity limit** (failed decryptions tolerated per key): default 2^36 (RFC 9147
  §4.5.3, the DTLS 1.3 value for all three AEADs).  Over TCP a single failure is fatal, so
  this only bounds trial decryption while skipping rejected 0-RTT data.
- **Skipping rejected 0-RTT** (RFC 8446 §4.2.10): after
  :meth:`RecordLayer.set_skip_early_data`, an application_data record that fails to decrypt
  (or any application_data record while still reading plaintext, the HelloRetryRequest case)
  is dropped: :meth:`RecordLayer.decrypt` returns ``None`` and does not advance the
  sequence number.  Failures count against the decrypter's integrity limit (reaching it
  raises ``DecryptError``).  Dropped bytes are counted as ``max(0, len(ciphertext) - 17)`` (an upper
  bound on the inner content length with a 16-byte tag); exceeding ``max_bytes`` raises
  :class:`~tlspipe.errors.PeerMisbehaved` with alert ``unexpected_message``.  The first
  record that is returned (decrypted, or any non-application_data record) ends skipping.
- A TLS 1.3 protected record whose outer type is not application_data, and an inner type
  other than alert/handshake/application_data, → ``PeerMisbehaved(unexpected_message)``
  (RFC 8446 §5, §5.2; the connection handles the unprotected middlebox change_cipher_spec
  record before decryption).  All-zero inner plaintext → the same (RFC 8446 §5.4).
- Ciphertext longer than the version's bound, or plaintext longer than 2^14 (2^14 + 1 for
  the TLS 1.3 inner plaintext) → :class:`~tlspipe.errors.RecordOverflow`.  Ciphertext too
  short to hold a tag (and, for GCM, the explicit nonce) → :class:`DecryptError`.
- Exhausted *receive* sequence space (2^64 - 1 records from the peer) →
  ``PeerMisbehaved(unexpected_message)``.
- Encrypting more than 2^14 octets of plaintext in one record is a caller bug →
  :class:`~tlspipe.errors.InternalError` (fragment first, see :mod:`.send`).
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from typing import Protocol

from ..crypto.aead import AeadCipher, CryptographyAead
from ..enums import AlertDescription, ContentType
from ..errors import DecryptError, EncryptError, InternalError, PeerMisbehaved, RecordOverflow
from .deframer import (
    HEADER_LEN,
    MAX_CIPHERTEXT_TLS12,
    MAX_CIPHERTEXT_TLS13,
    MAX_PLAINTEXT,
    Deframer,
    Record,
)

__all__ = [
    "AEAD_INTEGRITY_LIMIT",
    "AES_GCM_CONFIDENTIALITY_LIMIT",
    "KEY_UPDATE_MARGIN",
    "PLAINTEXT_DECRYPTER",
    "PLAINTEXT_ENCRYPTER",
    "SEQ_MAX",
    "MessageDecrypter",
    "MessageEncrypter",
    "PlaintextDecrypter",
    "PlaintextEncrypter",
    "RecordAead",
    "RecordAeadAlgorithm",
    "RecordLayer",
    "Tls12ChaChaDecrypter",
    "Tls12ChaChaEncrypter",
    "Tls12GcmDecrypter",
    "Tls12GcmEncrypter",
    "Tls13Decrypter",
    "Tls13Encrypter",
]

SEQ_MAX = 2**64 - 1
"""Records are sent and accepted with seq < SEQ_MAX: sequence numbers never wrap."""
AES_GCM_CONFIDENTIALITY_LIMIT = int(2**24.5)
"""RFC 8446 §5.5: at most 2^24.5 full-size records per AES-GCM key."""
AEAD_INTEGRITY_LIMIT = 2**36
"""RFC 9147 §4.5.3: forged records tolerated per key for AES-GCM and ChaCha20-Poly1305."""
KEY_UPDATE_MARGIN = 2**16
"""How many records before the hard limit :meth:`RecordLayer.wants_key_update` turns true."""
TAG_LEN = 16
"""Tag length of every AEAD TLS uses here (AES-GCM, ChaCha20-Poly1305)."""

_HEADER = struct.Struct("!BHH")
_AAD12 = struct.Struct("!QBHH")
_APPDATA = ContentType.application_data.value
_TLS12 = 0x0303
_HEADER13_PREFIX = bytes((_APPDATA, 0x03, 0x03))
# Inner content types a TLS 1.3 protected record may carry: alert, handshake, app data.
_INNER_OK = frozenset((21, 22, 23))
_TYPE_BYTE = tuple(bytes((i,)) for i in range(256))
_APPDATA_BYTE = _TYPE_BYTE[_APPDATA]
# The TLS 1.3 record header (= AAD) of a full-size record: 2^14 octets + type + tag.
_FULL13_LEN = MAX_PLAINTEXT + 1 + 16
_FULL13_HEADER = _HEADER13_PREFIX + _FULL13_LEN.to_bytes(2, "big")
_FULL13_WIRE = HEADER_LEN + _FULL13_LEN  # the whole record on the wire
_INNER_OVERHEAD13 = 1 + TAG_LEN  # content type octet + tag
_MIN_FAST13 = HEADER_LEN + TAG_LEN  # a record with less after its header is not bulk data
_unpack_header = _HEADER.unpack_from
_NO_VIEW = memoryview(b"")  # RecordLayer._rbuf_content before the buffer is made


class RecordAead(Protocol):
    """What the record layer needs from an AEAD (``tlspipe.crypto.provider.Aead`` fits)."""

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes | memoryview, /) -> bytes:
        """Encrypt and authenticate; returns ciphertext || tag."""
        ...

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes | memoryview, /) -> bytes:
        """Authenticate and decrypt ciphertext || tag.

        Raises:
            DecryptError: the tag does not verify (alert ``bad_record_mac``).
        """
        ...


class RecordAeadAlgorithm(Protocol):
    """What the ``from_key`` constructors need from an AEAD algorithm
    (``tlspipe.crypto.provider.AeadAlgorithm`` fits)."""

    @property
    def confidentiality_limit(self) -> int:
        """Records that may be sealed under one key."""
        ...

    @property
    def integrity_limit(self) -> int:
        """Failed opens tolerated under one key."""
        ...

    def new(self, key: bytes, /) -> RecordAead:
        """An AEAD instance for ``key``."""
        ...


class MessageEncrypter(Protocol):
    """Protects one record for one direction; the caller supplies the sequence number."""

    @property
    def confidentiality_limit(self) -> int:
        """Records this key may protect; :class:`RecordLayer` stops before it."""
        ...

    def encrypt(self, content_type: int, payload: bytes | memoryview, seq: int) -> bytes:
        """The complete record (5-byte header + fragment) carrying ``payload``.

        Raises:
            InternalError: ``payload`` longer than 2^14 (the caller must fragment).
        """
        ...


class MessageDecrypter(Protocol):
    """Removes one record's protection for one direction."""

    @property
    def integrity_limit(self) -> int:
        """Failed decryptions tolerated under this key (trial decryption only)."""
        ...

    def decrypt(self, record: Record, seq: int) -> tuple[int, bytes]:
        """The real content type and plaintext of ``record``.

        Raises:
            DecryptError: authentication failed (alert ``bad_record_mac``).
            RecordOverflow: ciphertext or plaintext too long (alert ``record_overflow``).
            PeerMisbehaved: TLS 1.3 inner plaintext malformed (alert ``unexpected_message``).
        """
        ...


# -- plaintext (before keys are installed) ----------------------------------------------------
class PlaintextEncrypter:
    """Writes unprotected records (RFC 8446 §5.1) with legacy_record_version 0x0303.

    The initial ClientHello's 0x0301 (RFC 8446 §5.1 "MAY"), if wanted, is for the caller to
    frame itself.
    """

    __slots__ = ()

    @property
    def confidentiality_limit(self) -> int:
        """Unlimited (up to the sequence number space)."""
        return SEQ_MAX

    def encrypt(self, content_type: int, payload: bytes | memoryview, seq: int) -> bytes:
        """Header || payload.

        Raises:
            InternalError: ``payload`` longer than 2^14.
        """
        n = len(payload) if isinstance(payload, bytes) else payload.nbytes
        if n > MAX_PLAINTEXT:
            raise InternalError("record: plaintext fragment exceeds 2^14")
        return _HEADER.pack(content_type, _TLS12, n) + payload


class PlaintextDecrypter:
    """Accepts unprotected records, checking only the 2^14 plaintext bound."""

    __slots__ = ()

    @property
    def integrity_limit(self) -> int:
        """Irrelevant for plaintext; no failures are possible."""
        return SEQ_MAX

    def decrypt(self, record: Record, seq: int) -> tuple[int, bytes]:
        """``(record.content_type, record.payload)``.

        Raises:
            RecordOverflow: payload longer than 2^14 (alert ``record_overflow``).
        """
        if len(record.payload) > MAX_PLAINTEXT:
            raise RecordOverflow(f"record: plaintext length {len(record.payload)} exceeds 2^14")
        return record.content_type, record.payload


PLAINTEXT_ENCRYPTER = PlaintextEncrypter()
PLAINTEXT_DECRYPTER = PlaintextDecrypter()


_Raw = Callable[[bytes, "bytes | memoryview", bytes], bytes]
_RawInto = Callable[[bytes, "bytes | memoryview", bytes, memoryview], int]


def _raw_seal(aead: RecordAead) -> _Raw:
    """``aead``'s sealing function in ``(nonce, plaintext, aad)`` order: its ``raw_seal``
    attribute when it has one (one Python frame less per record), else an adapter."""
    if type(aead) is CryptographyAead:  # the usual AEAD (4 installs per pair): no probing
        return aead.raw_seal
    raw: _Raw | None = getattr(aead, "raw_seal", None)  # no typing.cast: it is a call
    if callable(raw):
        return raw
    seal = aead.seal
    return lambda nonce, data, aad: seal(nonce, aad, data)


def _raw_open(aead: RecordAead) -> tuple[_Raw, type[Exception], _RawInto | None]:
    """``aead``'s opening function in ``(nonce, ciphertext, aad)`` order, the exception it
    raises on a bad tag (``raw_open`` / ``raw_open_error`` when present), and its
    ``raw_open_into(nonce, ciphertext, aad, buf)`` when it has one (opens into ``buf``,
    exactly the plaintext length, raising that exception on a bad tag) or ``None``."""
    if type(aead) is CryptographyAead:  # the usual AEAD (4 installs per pair): no probing
        return aead.raw_open, aead.raw_open_error, aead.raw_open_into
    raw: _Raw | None = getattr(aead, "raw_open", None)
    err = getattr(aead, "raw_open_error", None)
    into: _RawInto | None = getattr(aead, "raw_open_into", None)
    if not callable(into):
        into = None
    if callable(raw) and isinstance(err, type) and issubclass(err, Exception):
        return raw, err, into
    open_ = aead.open
    return (lambda nonce, data, aad: open_(nonce, aad, data)), DecryptError, into


_HARD_SOFT: dict[int, tuple[int, int]] = {}
"""Confidentiality limit → :func:`_hard_soft` (a few values: one per AEAD; bounded)."""


def _hard_soft(limit: int) -> tuple[int, int]:
    """The hard record limit of a sending key and the soft one (KeyUpdate due) below it,
    remembered in ``_HARD_SOFT`` (at most 16 values)."""
    hard = min(limit, SEQ_MAX)
    out = hard, hard - min(KEY_UPDATE_MARGIN, hard // 2)
    if len(_HARD_SOFT) < 16:
        _HARD_SOFT[limit] = out
    return out


def _check_iv(iv: bytes, n: int, what: str) -> int:
    if len(iv) != n:
        raise ValueError(f"{what} must be {n} bytes")
    return int.from_bytes(iv, "big")


# -- TLS 1.3 ---------------------------------------------------------------------------------
class Tls13Encrypter:
    """TLS 1.3 record protection, sending side (RFC 8446 §5.2-§5.3).

    Args:
        aead: the AEAD keyed with the traffic key.
        iv: the 12-byte traffic IV (``write_iv``).
        confidentiality_limit: records allowed under this key (default: AES-GCM's).

    Raises:
        ValueError: ``iv`` is not 12 bytes (a programming error).
    """

    __slots__ = ("_aead", "_iv", "_seal", "confidentiality_limit")

    def __init__(
        self,
        aead: RecordAead,
        iv: bytes,
        *,
        confidentiality_limit: int = AES_GCM_CONFIDENTIALITY_LIMIT,
    ) -> None:
        self._aead = aead
        # _raw_seal's usual case inline (8 key installs per handshake pair)
        self._seal = aead.raw_seal if type(aead) is CryptographyAead else _raw_seal(aead)
        if len(iv) != 12:  # _check_iv inline (8 key installs per handshake pair)
            raise ValueError("TLS 1.3 iv must be 12 bytes")
        self._iv = int.from_bytes(iv, "big")
        self.confidentiality_limit = confidentiality_limit

    def __repr__(self) -> str:
        return "Tls13Encrypter(<secret>)"

    @classmethod
    def from_key(cls, alg: RecordAeadAlgorithm, key: bytes, iv: bytes) -> Tls13Encrypter:
        """Build from the suite's AEAD algorithm, taking its confidentiality limit.

        Raises:
            ValueError: ``iv`` is not 12 bytes.
        """
        return cls(alg.new(key), iv, confidentiality_limit=alg.confidentiality_limit)

    def encrypt(
        self, content_type: int, payload: bytes | memoryview, seq: int, *, padding: int = 0
    ) -> bytes:
        """Protect ``payload`` as ``TLSInnerPlaintext`` with ``padding`` zero octets.

        Raises:
            InternalError: payload over 2^14, or payload + padding over 2^14 (RFC 8446 §5.4:
                the inner plaintext may not exceed 2^14 + 1).
        """
        n = payload.nbytes if isinstance(payload, memoryview) else len(payload)
        if padding:
            if n + padding > MAX_PLAINTEXT or padding < 0:
                raise InternalError("record: TLS 1.3 inner plaintext exceeds 2^14 + 1")
            inner = b"".join((payload, _TYPE_BYTE[content_type], bytes(padding)))
            n += padding
        elif n > MAX_PLAINTEXT:
            raise InternalError("record: TLS 1.3 inner plaintext exceeds 2^14 + 1")
        else:
            inner = b"".join((payload, _TYPE_BYTE[content_type]))
        header = _HEADER13_PREFIX + (n + 1 + TAG_LEN).to_bytes(2, "big")
        return header + self._seal((self._iv ^ seq).to_bytes(12, "big"), inner, header)


class Tls13Decrypter:
    """TLS 1.3 record protection, receiving side (RFC 8446 §5.2-§5.4).

    Args:
        aead: the AEAD keyed with the peer's traffic key.
        iv: the peer's 12-byte traffic IV.
        integrity_limit: failed decryptions tolerated (default 2^36).

    Raises:
        ValueError: ``iv`` is not 12 bytes (a programming error).
    """

    __slots__ = ("_aead", "_iv", "_open", "_open_error", "_open_into", "integrity_limit")

    def __init__(
        self, aead: RecordAead, iv: bytes, *, integrity_limit: int = AEAD_INTEGRITY_LIMIT
    ) -> None:
        self._aead = aead
        if type(aead) is CryptographyAead:  # _raw_open's usual case inline (8 installs/pair)
            self._open: _Raw = aead.raw_open
            self._open_error: type[Exception] = aead.raw_open_error
            self._open_into: _RawInto | None = aead.raw_open_into
        else:
            self._open, self._open_error, self._open_into = _raw_open(aead)
        if len(iv) != 12:  # _check_iv inline (8 key installs per handshake pair)
            raise ValueError("TLS 1.3 iv must be 12 bytes")
        self._iv = int.from_bytes(iv, "big")
        self.integrity_limit = integrity_limit

    def __repr__(self) -> str:
        return "Tls13Decrypter(<secret>)"

    @classmethod
    def from_key(cls, alg: RecordAeadAlgorithm, key: bytes, iv: bytes) -> Tls13Decrypter:
        """Build from the suite's AEAD algorithm, taking its integrity limit.

        Raises:
            ValueError: ``iv`` is not 12 bytes.
        """
        return cls(alg.new(key), iv, integrity_limit=alg.integrity_limit)

    def decrypt(self, record: Record, seq: int) -> tuple[int, bytes]:
        """Open ``record``, strip zero padding, return ``(inner type, content)``.

        Raises:
            PeerMisbehaved: outer type not application_data, no non-zero octet in the inner
                plaintext, or an inner type other than alert/handshake/application_data
                (alert ``unexpected_message``).
            RecordOverflow: ciphertext over 2^14 + 256 or inner plaintext over 2^14 + 1.
            DecryptError: shorter than a tag, or the tag does not verify.
        """
        typ, _, payload = record
        if typ != _APPDATA:
            raise PeerMisbehaved(
                f"record: protected TLS 1.3 record with outer type {typ}",
                alert=AlertDescription.unexpected_message,
            )
        n = len(payload)
        if n > MAX_CIPHERTEXT_TLS13:
            raise RecordOverflow(f"record: ciphertext length {n} exceeds 2^14 + 256")
        if n < TAG_LEN:
            raise DecryptError("record: ciphertext shorter than the tag")
        try:
            inner = self._open(
                (self._iv ^ seq).to_bytes(12, "big"),
                payload,
                _HEADER13_PREFIX + n.to_bytes(2, "big"),
            )
        except self._open_error:
            raise DecryptError("record authentication failed") from None
        return _unwrap13(inner)


def _unwrap13(inner: bytes) -> tuple[int, bytes]:
    """``TLSInnerPlaintext`` → ``(type, content)`` (RFC 8446 §5.2, §5.4).

    Raises:
        RecordOverflow: inner plaintext over 2^14 + 1.
        PeerMisbehaved: no non-zero octet, or a type other than alert/handshake/app data.
    """
    m = len(inner)
    if m > MAX_PLAINTEXT + 1:
        raise RecordOverflow("record: TLS 1.3 inner plaintext exceeds 2^14 + 1")
    typ = inner[-1] if m else 0
    if not typ:  # zero padding (RFC 8446 §5.4): find the last non-zero octet
        m = len(inner.rstrip(b"\x00"))
        if not m:
            raise PeerMisbehaved(
                "record: TLS 1.3 inner plaintext has no content type",
                alert=AlertDescription.unexpected_message,
            )
        typ = inner[m - 1]
    if typ not in _INNER_OK:
        raise PeerMisbehaved(
            f"record: TLS 1.3 inner content type {typ} not allowed",
            alert=AlertDescription.unexpected_message,
        )
    return typ, inner[: m - 1]


# -- TLS 1.2 ---------------------------------------------------------------------------------
def _tls12_plain_len_check(n: int) -> None:
    if n > MAX_PLAINTEXT:
        raise InternalError("record: plaintext fragment exceeds 2^14")


class Tls12GcmEncrypter:
    """TLS 1.2 AES-GCM record protection, sending side (RFC 5288 §3).

    The explicit nonce is ``explicit_nonce_seed XOR seq`` (8 bytes).  With the default seed
    of zero it is the sequence number itself, as RFC 5288 §3 suggests; a seed (e.g. 8 extra
    key-block octets) hides the count from observers.  Either way it never repeats under one
    key.

    Args:
        aead: the AEAD keyed with the write key.
        fixed_iv: the 4-byte ``write_IV`` from the key block ("salt").
        explicit_nonce_seed: 8 bytes XORed into the sequence number (default zeros).
        confidentiality_limit: records allowed under this key (default: AES-GCM's).

    Raises:
        ValueError: wrong ``fixed_iv`` or seed length (a programming error).
    """

    __slots__ = ("_aead", "_fixed", "_seed", "confidentiality_limit")

    def __init__(
        self,
        aead: RecordAead,
        fixed_iv: bytes,
        explicit_nonce_seed: bytes = bytes(8),
        *,
        confidentiality_limit: int = AES_GCM_CONFIDENTIALITY_LIMIT,
    ) -> None:
        self._aead = aead
        self._fixed = _check_iv(fixed_iv, 4, "TLS 1.2 GCM fixed_iv") << 64
        self._seed = _check_iv(explicit_nonce_seed, 8, "TLS 1.2 GCM explicit_nonce_seed")
        self.confidentiality_limit = confidentiality_limit

    def __repr__(self) -> str:
        return "Tls12GcmEncrypter(<secret>)"

    @classmethod
    def from_key(
        cls, alg: RecordAeadAlgorithm, key: bytes, fixed_iv: bytes, explicit_nonce_seed: bytes
    ) -> Tls12GcmEncrypter:
        """Build from the suite's AEAD algorithm, taking its confidentiality limit.

        Raises:
            ValueError: wrong ``fixed_iv`` or seed length.
        """
        return cls(
            alg.new(key),
            fixed_iv,
            explicit_nonce_seed,
            confidentiality_limit=alg.confidentiality_limit,
        )

    def encrypt(self, content_type: int, payload: bytes | memoryview, seq: int) -> bytes:
        """``header || explicit_nonce(8) || AEAD(payload)``.

        Raises:
            InternalError: payload over 2^14.
        """
        n = len(payload) if isinstance(payload, bytes) else payload.nbytes
        _tls12_plain_len_check(n)
        explicit = self._seed ^ seq
        nonce = (self._fixed | explicit).to_bytes(12, "big")
        aad = _AAD12.pack(seq, content_type, _TLS12, n)
        header = _HEADER.pack(content_type, _TLS12, 8 + n + TAG_LEN)
        return b"".join((header, nonce[4:], self._aead.seal(nonce, aad, payload)))


class Tls12GcmDecrypter:
    """TLS 1.2 AES-GCM record protection, receiving side (RFC 5288 §3).

    The nonce is ``fixed_iv || explicit`` with the explicit part read from the record,
    whatever the peer chose.

    Args:
        aead: the AEAD keyed with the peer's write key.
        fixed_iv: the peer's 4-byte ``write_IV``.
        integrity_limit: failed decryptions tolerated (default 2^36).

    Raises:
        ValueError: ``fixed_iv`` is not 4 bytes (a programming error).
    """

    __slots__ = ("_aead", "_fixed", "integrity_limit")

    def __init__(
        self, aead: RecordAead, fixed_iv: bytes, *, integrity_limit: int = AEAD_INTEGRITY_LIMIT
    ) -> None:
        self._aead = aead
        if len(fixed_iv) != 4:
            raise ValueError("TLS 1.2 GCM fixed_iv must be 4 bytes")
        self._fixed = bytes(fixed_iv)
        self.integrity_limit = integrity_limit

    def __repr__(self) -> str:
        return "Tls12GcmDecrypter(<secret>)"

    @classmethod
    def from_key(cls, alg: RecordAeadAlgorithm, key: bytes, fixed_iv: bytes) -> Tls12GcmDecrypter:
        """Build from the suite's AEAD algorithm, taking its integrity limit.

        Raises:
            ValueError: ``fixed_iv`` is not 4 bytes.
        """
        return cls(alg.new(key), fixed_iv, integrity_limit=alg.integrity_limit)

    def decrypt(self, record: Record, seq: int) -> tuple[int, bytes]:
        """Open ``record``; returns ``(record.content_type, plaintext)``.

        Raises:
            RecordOverflow: ciphertext over 2^14 + 2048 or plaintext over 2^14.
            DecryptError: shorter than explicit nonce + tag, or the tag does not verify.
        """
        payload = record.payload
        n = len(payload)
        if n > MAX_CIPHERTEXT_TLS12:
            raise RecordOverflow(f"record: ciphertext length {n} exceeds 2^14 + 2048")
        plain_len = n - 8 - TAG_LEN
        if plain_len < 0:
            raise DecryptError("record: ciphertext shorter than explicit nonce and tag")
        if plain_len > MAX_PLAINTEXT:
            raise RecordOverflow(f"record: plaintext length {plain_len} exceeds 2^14")
        mv = memoryview(payload)
        nonce = self._fixed + payload[:8]
        aad = _AAD12.pack(seq, record.content_type, record.version, plain_len)
        return record.content_type, self._aead.open(nonce, aad, mv[8:])


class Tls12ChaChaEncrypter:
    """TLS 1.2 ChaCha20-Poly1305 record protection, sending side (RFC 7905 §2).

    Args:
        aead: the AEAD keyed with the write key.
        iv: the 12-byte ``write_IV`` from the key block.
        confidentiality_limit: records allowed under this key (default: AES-GCM's, which
            is conservative; ChaCha20-Poly1305 allows ``2**64 - 1``).

    Raises:
        ValueError: ``iv`` is not 12 bytes (a programming error).
    """

    __slots__ = ("_aead", "_iv", "confidentiality_limit")

    def __init__(
        self,
        aead: RecordAead,
        iv: bytes,
        *,
        confidentiality_limit: int = AES_GCM_CONFIDENTIALITY_LIMIT,
    ) -> None:
        self._aead = aead
        self._iv = _check_iv(iv, 12, "TLS 1.2 ChaCha20-Poly1305 iv")
        self.confidentiality_limit = confidentiality_limit

    def __repr__(self) -> str:
        return "Tls12ChaChaEncrypter(<secret>)"

    @classmethod
    def from_key(cls, alg: RecordAeadAlgorithm, key: bytes, iv: bytes) -> Tls12ChaChaEncrypter:
        """Build from the suite's AEAD algorithm, taking its confidentiality limit.

        Raises:
            ValueError: ``iv`` is not 12 bytes.
        """
        return cls(alg.new(key), iv, confidentiality_limit=alg.confidentiality_limit)

    def encrypt(self, content_type: int, payload: bytes | memoryview, seq: int) -> bytes:
        """``header || AEAD(payload)``.

        Raises:
            InternalError: payload over 2^14.
        """
        n = len(payload) if isinstance(payload, bytes) else payload.nbytes
        _tls12_plain_len_check(n)
        nonce = (self._iv ^ seq).to_bytes(12, "big")
        aad = _AAD12.pack(seq, content_type, _TLS12, n)
        header = _HEADER.pack(content_type, _TLS12, n + TAG_LEN)
        return header + self._aead.seal(nonce, aad, payload)


class Tls12ChaChaDecrypter:
    """TLS 1.2 ChaCha20-Poly1305 record protection, receiving side (RFC 7905 §2).

    Args:
        aead: the AEAD keyed with the peer's write key.
        iv: the peer's 12-byte ``write_IV``.
        integrity_limit: failed decryptions tolerated (default 2^36).

    Raises:
        ValueError: ``iv`` is not 12 bytes (a programming error).
    """

    __slots__ = ("_aead", "_iv", "integrity_limit")

    def __init__(
        self, aead: RecordAead, iv: bytes, *, integrity_limit: int = AEAD_INTEGRITY_LIMIT
    ) -> None:
        self._aead = aead
        self._iv = _check_iv(iv, 12, "TLS 1.2 ChaCha20-Poly1305 iv")
        self.integrity_limit = integrity_limit

    def __repr__(self) -> str:
        return "Tls12ChaChaDecrypter(<secret>)"

    @classmethod
    def from_key(cls, alg: RecordAeadAlgorithm, key: bytes, iv: bytes) -> Tls12ChaChaDecrypter:
        """Build from the suite's AEAD algorithm, taking its integrity limit.

        Raises:
            ValueError: ``iv`` is not 12 bytes.
        """
        return cls(alg.new(key), iv, integrity_limit=alg.integrity_limit)

    def decrypt(self, record: Record, seq: int) -> tuple[int, bytes]:
        """Open ``record``; returns ``(record.content_type, plaintext)``.

        Raises:
            RecordOverflow: ciphertext over 2^14 + 2048 or plaintext over 2^14.
            DecryptError: shorter than the tag, or the tag does not verify.
        """
        payload = record.payload
        n = len(payload)
        if n > MAX_CIPHERTEXT_TLS12:
            raise RecordOverflow(f"record: ciphertext length {n} exceeds 2^14 + 2048")
        plain_len = n - TAG_LEN
        if plain_len < 0:
            raise DecryptError("record: ciphertext shorter than the tag")
        if plain_len > MAX_PLAINTEXT:
            raise RecordOverflow(f"record: plaintext length {plain_len} exceeds 2^14")
        nonce = (self._iv ^ seq).to_bytes(12, "big")
        aad = _AAD12.pack(seq, record.content_type, record.version, plain_len)
        return record.content_type, self._aead.open(nonce, aad, payload)


class _Inline13Encrypter:
    """``RecordLayer._enc`` after :meth:`RecordLayer.set_tls13_encrypter`: never called
    (the layer seals with ``_seal13`` itself); raises if it ever were."""

    __slots__ = ()

    confidentiality_limit = SEQ_MAX

    def encrypt(
        self, content_type: int, payload: bytes | memoryview, seq: int, *, padding: int = 0
    ) -> bytes:
        """Never called.

        Raises:
            InternalError: always.
        """
        raise InternalError("record: TLS 1.3 keys are sealed by the record layer itself")


_INLINE13_ENCRYPTER = _Inline13Encrypter()


# -- the per-connection record layer -----------------------------------------------------------
class RecordLayer:
    """Both directions of record protection with their sequence numbers (RFC 8446 §5.3).

    Starts in plaintext.  :meth:`set_encrypter` / :meth:`set_decrypter` install new keys and
    reset that direction's sequence number to 0.  See the module docstring for limits and
    0-RTT skipping.

    The connection's bulk send path (``Connection.write``) runs :meth:`encrypt_appdata`'s
    full-size case inline: it reads ``_seal13``, ``_write_iv13`` and ``_enc_soft`` and
    advances ``_write_seq``, exactly as that method does; nothing else touches them.
    """

    __slots__ = (
        "_dec",
        "_dec_failures",
        "_decrypting",
        "_enc",
        "_enc_hard",
        "_enc_soft",
        "_encrypting",
        "_open13",
        "_open13_error",
        "_open13_into",
        "_rbuf",
        "_rbuf_content",
        "_read_iv13",
        "_read_seq",
        "_seal13",
        "_skip_left",
        "_skipped",
        "_write_iv13",
        "_write_seq",
    )

    def __init__(self) -> None:
        self._enc: MessageEncrypter = PLAINTEXT_ENCRYPTER
        self._dec: MessageDecrypter = PLAINTEXT_DECRYPTER
        self._encrypting = False
        self._decrypting = False
        self._write_seq = 0
        self._read_seq = 0
        self._enc_hard = SEQ_MAX
        self._enc_soft = SEQ_MAX
        self._dec_failures = 0
        self._skip_left: int | None = None
        self._skipped = 0
        # The TLS 1.3 AEAD functions and IVs, inlined into encrypt()/decrypt() when the
        # installed encrypter/decrypter is exactly Tls13Encrypter/Tls13Decrypter (the bulk
        # path: one Python frame per record less).  None otherwise.
        self._seal13: _Raw | None = None
        self._write_iv13 = 0
        self._open13: _Raw | None = None
        self._open13_error: type[Exception] = DecryptError
        # The bulk receive path opens a full-size record into a buffer of its own (made on
        # the first such record; 2^14 + 1 octets) when the AEAD can (raw_open_into): no
        # output allocation, and the content is copied out once.  _rbuf_content is its
        # first 2^14 octets.  The buffer is never handed out.
        self._open13_into: _RawInto | None = None
        self._rbuf: memoryview | None = None
        self._rbuf_content = _NO_VIEW
        self._read_iv13 = 0

    def __repr__(self) -> str:
        return (
            f"RecordLayer(encrypting={self._encrypting}, decrypting={self._decrypting}, "
            f"write_seq={self._write_seq}, read_seq={self._read_seq})"
        )

    # -- state ---------------------------------------------------------------------------------
    @property
    def is_encrypting(self) -> bool:
        """True once an encrypter has been installed."""
        return self._encrypting

    @property
    def is_decrypting(self) -> bool:
        """True once a decrypter has been installed."""
        return self._decrypting

    @property
    def write_seq(self) -> int:
        """Sequence number of the next record :meth:`encrypt` will produce."""
        return self._write_seq

    @property
    def read_seq(self) -> int:
        """Sequence number the next record given to :meth:`decrypt` will be opened with."""
        return self._read_seq

    @property
    def is_skipping_early_data(self) -> bool:
        """True while rejected 0-RTT records are being skipped."""
        return self._skip_left is not None

    @property
    def early_data_skipped(self) -> int:
        """Octets counted against the skip bound so far."""
        return self._skipped

    def set_encrypter(self, encrypter: MessageEncrypter) -> None:
        """Install new sending keys; the write sequence number restarts at 0."""
        self._enc = encrypter
        self._write_seq = 0
        if type(encrypter) is Tls13Encrypter:  # the usual install (4 per handshake pair)
            self._encrypting = True
            self._seal13 = encrypter._seal
            self._write_iv13 = encrypter._iv
        else:
            self._encrypting = not isinstance(encrypter, PlaintextEncrypter)
            self._seal13 = None
        limit = encrypter.confidentiality_limit
        hard_soft = _HARD_SOFT.get(limit)  # computed once per limit value
        if hard_soft is None:
            hard_soft = _hard_soft(limit)
        self._enc_hard, self._enc_soft = hard_soft

    def set_decrypter(self, decrypter: MessageDecrypter) -> None:
        """Install new receiving keys; the read sequence number restarts at 0."""
        self._dec = decrypter
        if type(decrypter) is Tls13Decrypter:  # the usual install (4 per handshake pair)
            self._decrypting = True
            self._open13 = decrypter._open
            self._open13_error = decrypter._open_error
            self._open13_into = decrypter._open_into
            self._read_iv13 = decrypter._iv
        else:
            self._decrypting = not isinstance(decrypter, PlaintextDecrypter)
            self._open13 = None
            self._open13_into = None
        self._read_seq = 0
        self._dec_failures = 0

    def set_tls13_encrypter(self, alg: RecordAeadAlgorithm, key: bytes, iv: bytes) -> None:
        """:meth:`set_encrypter` of ``Tls13Encrypter.from_key(alg, key, iv)``, in one call
        (the connection's TLS 1.3 installs, 4 per handshake pair: two frames less each).

        Raises:
            ValueError: ``iv`` is not 12 bytes (a programming error).
        """
        # No Tls13Encrypter is built: with _seal13 set, encrypt() and encrypt_appdata() seal
        # themselves and never call _enc (what Tls13Encrypter.__init__ does, inline).
        if len(iv) != 12:  # checked before anything is installed: all or nothing
            raise ValueError("TLS 1.3 iv must be 12 bytes")
        if type(alg) is AeadCipher:
            seal = alg.raw_sealer(key)
        else:
            aead = alg.new(key)
            seal = aead.raw_seal if type(aead) is CryptographyAead else _raw_seal(aead)
        self._seal13 = seal
        self._write_iv13 = int.from_bytes(iv, "big")
        self._enc = _INLINE13_ENCRYPTER
        self._write_seq = 0
        self._encrypting = True
        limit = alg.confidentiality_limit
        hard_soft = _HARD_SOFT.get(limit)
        if hard_soft is None:
            hard_soft = _hard_soft(limit)
        self._enc_hard, self._enc_soft = hard_soft

    def set_tls13_decrypter(self, alg: RecordAeadAlgorithm, key: bytes, iv: bytes) -> None:
        """:meth:`set_decrypter` of ``Tls13Decrypter.from_key(alg, key, iv)``, in one call
        (as :meth:`set_tls13_encrypter`).

        Raises:
            ValueError: ``iv`` is not 12 bytes (a programming error).
        """
        dec = Tls13Decrypter(alg.new(key), iv, integrity_limit=alg.integrity_limit)
        self._dec = dec
        self._decrypting = True
        self._open13 = dec._open
        self._open13_error = dec._open_error
        self._open13_into = dec._open_into
        self._read_iv13 = dec._iv
        self._read_seq = 0
        self._dec_failures = 0

    def set_skip_early_data(self, max_bytes: int) -> None:
        """Start skipping rejected 0-RTT records, at most ``max_bytes`` of them
        (RFC 8446 §4.2.10; ``max_bytes`` is the max_early_data_size the server offered)."""
        self._skip_left = max_bytes
        self._skipped = 0

    def wants_key_update(self) -> bool:
        """True when the sending key is near its limit: send KeyUpdate (TLS 1.3) or close."""
        return self._write_seq >= self._enc_soft

    # -- records ---------------------------------------------------------------------------------
    def encrypt(self, content_type: int, payload: bytes | memoryview) -> bytes:
        """Protect one fragment with the current keys and the next sequence number.

        Returns:
            The complete record.

        Raises:
            EncryptError: the key's confidentiality limit or the sequence space is used up
                (alert ``internal_error``; the connection should have updated keys).
            InternalError: ``payload`` longer than 2^14.
        """
        seq = self._write_seq
        if seq >= self._enc_hard:
            raise EncryptError("record: sending key exhausted (sequence number/AEAD limit)")
        seal = self._seal13
        if seal is None:
            out = self._enc.encrypt(content_type, payload, seq)
        else:  # Tls13Encrypter.encrypt without padding, inlined
            n = payload.nbytes if isinstance(payload, memoryview) else len(payload)
            if n > MAX_PLAINTEXT:
                raise InternalError("record: TLS 1.3 inner plaintext exceeds 2^14 + 1")
            header = _HEADER13_PREFIX + (n + 1 + TAG_LEN).to_bytes(2, "big")
            out = header + seal(
                (self._write_iv13 ^ seq).to_bytes(12, "big"),
                payload + _TYPE_BYTE[content_type]  # "+" is cheaper than a join
                if type(payload) is bytes
                else b"".join((payload, _TYPE_BYTE[content_type])),
                header,
            )
        self._write_seq = seq + 1
        return out

    def encrypt_appdata(self, payload: bytes | memoryview) -> bytes | None:
        """:meth:`encrypt` of one application_data fragment, unless the sending key is near
        its limit (:meth:`wants_key_update`): then ``None`` and nothing happens, so the
        caller can update keys first.  The connection's bulk path: one call per record.

        Raises:
            InternalError: ``payload`` longer than 2^14.
        """
        seq = self._write_seq
        if seq >= self._enc_soft:
            return None
        seal = self._seal13
        if seal is not None and type(payload) is bytes:  # the usual case, shortest way
            n = len(payload)
            if n == MAX_PLAINTEXT:
                header = _FULL13_HEADER
            elif n < MAX_PLAINTEXT:
                header = _HEADER13_PREFIX + (n + _INNER_OVERHEAD13).to_bytes(2, "big")
            else:
                raise InternalError("record: TLS 1.3 inner plaintext exceeds 2^14 + 1")
            out = header + seal(
                (self._write_iv13 ^ seq).to_bytes(12, "big"), payload + _APPDATA_BYTE, header
            )
        elif seal is None:
            out = self._enc.encrypt(_APPDATA, payload, seq)
        else:  # Tls13Encrypter.encrypt without padding, inlined, for another buffer
            n = payload.nbytes if isinstance(payload, memoryview) else len(payload)
            if n > MAX_PLAINTEXT:
                raise InternalError("record: TLS 1.3 inner plaintext exceeds 2^14 + 1")
            n += 1 + TAG_LEN
            header = _FULL13_HEADER if n == _FULL13_LEN else _HEADER13_PREFIX + n.to_bytes(2, "big")
            out = header + seal(
                (self._write_iv13 ^ seq).to_bytes(12, "big"),
                b"".join((payload, _APPDATA_BYTE)),
                header,
            )
        self._write_seq = seq + 1
        return out

    def decrypt(self, record: Record) -> tuple[int, bytes] | None:
        """Remove the protection of one record with the current keys.

        Returns:
            ``(content type, plaintext)``; ``None`` only while skipping rejected 0-RTT data
            (:meth:`set_skip_early_data`), for a record that was dropped.

        Raises:
            DecryptError: authentication failed (alert ``bad_record_mac``), or too many
                failures while skipping (integrity limit).
            RecordOverflow: ciphertext or plaintext too long (alert ``record_overflow``).
            PeerMisbehaved: malformed TLS 1.3 inner plaintext, receive sequence space
                exhausted, or more skipped 0-RTT data than allowed (alert
                ``unexpected_message``).
        """
        seq = self._read_seq
        open13 = self._open13
        if open13 is not None and self._skip_left is None and seq < SEQ_MAX:
            # Tls13Decrypter.decrypt inlined (the bulk path); unusual input takes the long way
            typ, _, payload = record
            n = len(payload)
            if typ == _APPDATA and TAG_LEN < n <= MAX_CIPHERTEXT_TLS13:
                try:
                    inner = open13(
                        (self._read_iv13 ^ seq).to_bytes(12, "big"),
                        payload,
                        _FULL13_HEADER
                        if n == _FULL13_LEN
                        else _HEADER13_PREFIX + n.to_bytes(2, "big"),
                    )
                except self._open13_error:
                    raise DecryptError("record authentication failed") from None
                m = len(inner)
                last = inner[-1]
                out = (
                    (last, inner[: m - 1])
                    if last in _INNER_OK and m <= MAX_PLAINTEXT + 1
                    else _unwrap13(inner)
                )
                self._read_seq = seq + 1
                return out
        if seq >= SEQ_MAX:
            raise PeerMisbehaved(
                "record: peer exhausted the sequence number space",
                alert=AlertDescription.unexpected_message,
            )
        if self._skip_left is not None and record.content_type == _APPDATA:
            if not self._decrypting:
                self._skip(record)
                return None
            try:
                out = self._dec.decrypt(record, seq)
            except DecryptError:
                self._dec_failures += 1
                if self._dec_failures >= self._dec.integrity_limit:
                    raise
                self._skip(record)
                return None
        else:
            out = self._dec.decrypt(record, seq)
        # Any record that is returned ends skipping (RFC 8446 §4.2.10: it starts the client's
        # second flight).
        self._skip_left = None
        self._read_seq = seq + 1
        return out

    def open_fed_appdata(self, dfr: Deframer, out: deque[bytes]) -> int:
        """The bulk receive path: open the complete TLS 1.3 application_data records at the
        front of ``dfr``'s fed ``bytes`` and append their (non-empty) contents to ``out``.

        Does what ``dfr.pop()`` then :meth:`decrypt` do for each such record, in one call
        with no per-record objects.  It stops before the first record that is not complete,
        whose header or length is not the common case, that does not authenticate, or whose
        inner plaintext is not non-empty application data: that record stays in ``dfr``
        (not consumed, the read sequence number not advanced) for the long way, ``pop()``
        then :meth:`decrypt`, which opens it again and raises or returns exactly as for any
        other record.  The caller makes sure application data is what it expects now.

        A full-size record (header ``17 03 03 40 11``) is recognised by that header; when
        the AEAD has ``raw_open_into`` it is opened into this layer's own 2^14 + 1 octet
        buffer (made on first use, never handed out) and its content copied out as
        ``bytes``.  A feed of exactly one such record (one ``write_tls()`` per
        ``read_tls()``) is handled before the loop.

        Returns:
            The number of octets appended to ``out``.
        """
        open13 = self._open13
        if open13 is None or self._skip_left is not None:
            return 0
        p = dfr.fed
        seq = self._read_seq
        if (
            len(p) == _FULL13_WIRE
            and p[:HEADER_LEN] == _FULL13_HEADER
            and not dfr.off
            and seq < SEQ_MAX
            and dfr.max_record_len >= _FULL13_LEN
        ):  # exactly one full-size record (the bulk case: one write_tls() per read_tls())
            into = self._open13_into
            if into is not None:  # opened into the layer's buffer, the content copied out
                buf = self._rbuf
                if buf is None:
                    buf = self._new_rbuf()
                try:
                    into(
                        (self._read_iv13 ^ seq).to_bytes(12),
                        memoryview(p)[HEADER_LEN:],
                        _FULL13_HEADER,
                        buf,
                    )
                except self._open13_error:
                    return 0  # decrypt() raises DecryptError for it
                if buf[MAX_PLAINTEXT] != _APPDATA:  # padded, or not application data
                    return 0
                out.append(self._rbuf_content.tobytes())
            else:
                try:
                    inner = open13(
                        (self._read_iv13 ^ seq).to_bytes(12), p[HEADER_LEN:], _FULL13_HEADER
                    )
                except self._open13_error:
                    return 0  # decrypt() raises DecryptError for it
                if inner[-1] != _APPDATA:  # padded, or not application data: the long way
                    return 0
                out.append(inner[:MAX_PLAINTEXT])
            self._read_seq = seq + 1
            dfr.fed = b""  # off is already 0
            return MAX_PLAINTEXT
        off = dfr.off
        total = len(p)
        iv = self._read_iv13
        bound = dfr.max_record_len
        got = 0
        while True:
            end = off + _FULL13_WIRE
            if (
                end <= total
                and p[off : off + HEADER_LEN] == _FULL13_HEADER
                and bound >= _FULL13_LEN
                and seq < SEQ_MAX
            ):  # a full-size record, the common case: its header is a constant
                into = self._open13_into
                if into is not None:  # as above
                    buf = self._rbuf
                    if buf is None:
                        buf = self._new_rbuf()
                    try:
                        into(
                            (iv ^ seq).to_bytes(12),
                            memoryview(p)[off + HEADER_LEN : end],
                            _FULL13_HEADER,
                            buf,
                        )
                    except self._open13_error:
                        break
                    if buf[MAX_PLAINTEXT] != _APPDATA:
                        break
                    out.append(self._rbuf_content.tobytes())
                else:
                    try:
                        inner = open13(
                            (iv ^ seq).to_bytes(12), p[off + HEADER_LEN : end], _FULL13_HEADER
                        )
                    except self._open13_error:
                        break  # decrypt() raises DecryptError for it
                    if inner[-1] != _APPDATA:  # padded, or not application data: the long way
                        break
                    out.append(inner[:MAX_PLAINTEXT])
                got += MAX_PLAINTEXT
            else:
                if total - off <= _MIN_FAST13 or seq >= SEQ_MAX:
                    break
                typ, version, length = _unpack_header(p, off)
                start = off + HEADER_LEN
                end = start + length
                if (
                    typ != _APPDATA
                    or version >> 8 != 3
                    or length > bound
                    or length > MAX_CIPHERTEXT_TLS13
                    or length <= TAG_LEN
                    or end > total
                ):
                    break
                try:
                    inner = open13(
                        (iv ^ seq).to_bytes(12, "big"),
                        p[start:end],
                        _HEADER13_PREFIX + length.to_bytes(2, "big"),
                    )
                except self._open13_error:
                    break
                m = len(inner) - 1
                if inner[-1] != _APPDATA or not 0 < m <= MAX_PLAINTEXT:
                    break
                out.append(inner[:m])
                got += m
            seq += 1
            off = end
            if off == total:  # all consumed (what pop() does for the last record)
                self._read_seq = seq
                dfr.fed = b""
                dfr.off = 0
                return got
        self._read_seq = seq
        dfr.off = off
        return got

    def _new_rbuf(self) -> memoryview:
        """The bulk receive buffer (2^14 + 1 octets), made on first use."""
        buf = memoryview(bytearray(MAX_PLAINTEXT + 1))
        self._rbuf = buf
        self._rbuf_content = buf[:MAX_PLAINTEXT]
        return buf

    def _skip(self, record: Record) -> None:
        left = self._skip_left
        if left is None:  # pragma: no cover - callers check
            raise InternalError("record: not skipping early data")
        n = max(0, len(record.payload) - TAG_LEN - 1)
        if n > left:
            raise PeerMisbehaved(
                "record: too much rejected early data",
                alert=AlertDescription.unexpected_message,
            )
        self._skip_left = left - n
        self._skipped += n
