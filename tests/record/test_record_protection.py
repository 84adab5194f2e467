"""TLS 1.2 GCM / ChaCha20-Poly1305 and TLS 1.3 record protection: round trips, known answers
computed independently from cryptography's AEADs, tampering and bounds."""

from __future__ import annotations

import os
import struct

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from tlspipe.enums import AlertDescription, ContentType
from tlspipe.errors import DecryptError, InternalError, PeerMisbehaved, RecordOverflow
from tlspipe.record.deframer import Deframer, Record
from tlspipe.record.layer import (
    PLAINTEXT_DECRYPTER,
    PLAINTEXT_ENCRYPTER,
    Tls12ChaChaDecrypter,
    Tls12ChaChaEncrypter,
    Tls12GcmDecrypter,
    Tls12GcmEncrypter,
    Tls13Decrypter,
    Tls13Encrypter,
)


class CgAead:
    """Tiny adapter: cryptography AEAD → the record layer's seal/open protocol."""

    def __init__(self, cipher: AESGCM | ChaCha20Poly1305) -> None:
        self._c = cipher

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes | memoryview) -> bytes:
        return self._c.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes | memoryview) -> bytes:
        try:
            return self._c.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise DecryptError("bad record mac") from None


KEY16 = bytes(range(16))
KEY32 = bytes(range(32))
FIXED = bytes.fromhex("a1b2c3d4")
IV12 = bytes.fromhex("000102030405060708090a0b")


def deframe(wire: bytes) -> Record:
    d = Deframer()
    d.feed(wire)
    rec = d.pop()
    assert rec is not None and d.is_empty()
    return rec


def gcm_pair(seed: bytes = bytes(8)) -> tuple[Tls12GcmEncrypter, Tls12GcmDecrypter]:
    return (
        Tls12GcmEncrypter(CgAead(AESGCM(KEY16)), FIXED, seed),
        Tls12GcmDecrypter(CgAead(AESGCM(KEY16)), FIXED),
    )


def chacha_pair() -> tuple[Tls12ChaChaEncrypter, Tls12ChaChaDecrypter]:
    return (
        Tls12ChaChaEncrypter(CgAead(ChaCha20Poly1305(KEY32)), IV12),
        Tls12ChaChaDecrypter(CgAead(ChaCha20Poly1305(KEY32)), IV12),
    )


# -- known answers, computed here straight from cryptography ----------------------------------
@pytest.mark.parametrize("seq", [0, 1, 0x0102030405060708, 2**64 - 2])
def test_gcm_known_answer(seq: int) -> None:
    enc, _ = gcm_pair()
    pt = b"hello, TLS 1.2 GCM" * 3
    wire = enc.encrypt(23, pt, seq)
    explicit = seq.to_bytes(8, "big")
    nonce = FIXED + explicit
    aad = seq.to_bytes(8, "big") + b"\x17\x03\x03" + len(pt).to_bytes(2, "big")
    body = explicit + AESGCM(KEY16).encrypt(nonce, pt, aad)
    assert wire == b"\x17\x03\x03" + len(body).to_bytes(2, "big") + body


def test_gcm_explicit_nonce_seed() -> None:
    seed = bytes.fromhex("0f0e0d0c0b0a0908")
    enc, dec = gcm_pair(seed)
    seq = 5
    wire = enc.encrypt(22, b"\x14\x00\x00\x0c" + bytes(12), seq)
    explicit = (int.from_bytes(seed, "big") ^ seq).to_bytes(8, "big")
    assert wire[5:13] == explicit
    assert dec.decrypt(deframe(wire), seq) == (22, b"\x14\x00\x00\x0c" + bytes(12))


@pytest.mark.parametrize("seq", [0, 7, 2**32 + 1, 2**64 - 2])
def test_chacha_known_answer(seq: int) -> None:
    enc, _ = chacha_pair()
    pt = b"hello, TLS 1.2 ChaCha" * 2
    wire = enc.encrypt(21, pt, seq)
    nonce = (int.from_bytes(IV12, "big") ^ seq).to_bytes(12, "big")
    aad = struct.pack("!QBHH", seq, 21, 0x0303, len(pt))
    body = ChaCha20Poly1305(KEY32).encrypt(nonce, pt, aad)
    assert wire == struct.pack("!BHH", 21, 0x0303, len(body)) + body


def test_tls13_known_answer_with_padding() -> None:
    enc = Tls13Encrypter(CgAead(AESGCM(KEY16)), IV12)
    dec = Tls13Decrypter(CgAead(AESGCM(KEY16)), IV12)
    seq = 3
    wire = enc.encrypt(22, b"abc", seq, padding=10)
    inner = b"abc\x16" + bytes(10)
    header = b"\x17\x03\x03" + (len(inner) + 16).to_bytes(2, "big")
    nonce = (int.from_bytes(IV12, "big") ^ seq).to_bytes(12, "big")
    assert wire == header + AESGCM(KEY16).encrypt(nonce, inner, header)
    assert dec.decrypt(deframe(wire), seq) == (22, b"abc")


# -- round trips ------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["gcm", "chacha", "tls13"]),
    typ=st.sampled_from([21, 22, 23]),
    data=st.binary(max_size=300),
    seq=st.integers(0, 2**64 - 2),
)
def test_roundtrip(kind: str, typ: int, data: bytes, seq: int) -> None:
    if kind == "gcm":
        enc, dec = gcm_pair()
    elif kind == "chacha":
        enc, dec = chacha_pair()  # type: ignore[assignment]
    else:
        enc = Tls13Encrypter(CgAead(ChaCha20Poly1305(KEY32)), IV12)  # type: ignore[assignment]
        dec = Tls13Decrypter(CgAead(ChaCha20Poly1305(KEY32)), IV12)  # type: ignore[assignment]
    wire = enc.encrypt(typ, memoryview(data), seq)
    assert dec.decrypt(deframe(wire), seq) == (typ, data)


@pytest.mark.parametrize("kind", ["gcm", "chacha", "tls13"])
def test_full_size_record(kind: str) -> None:
    data = os.urandom(2**14)
    if kind == "gcm":
        enc, dec = gcm_pair()
    elif kind == "chacha":
        enc, dec = chacha_pair()  # type: ignore[assignment]
    else:
        enc = Tls13Encrypter(CgAead(AESGCM(KEY16)), IV12)  # type: ignore[assignment]
        dec = Tls13Decrypter(CgAead(AESGCM(KEY16)), IV12)  # type: ignore[assignment]
    wire = enc.encrypt(23, data, 9)
    d = Deframer()
    if kind == "tls13":
        d.set_tls13()
    d.feed(wire)
    rec = d.pop()
    assert rec is not None
    assert dec.decrypt(rec, 9) == (23, data)
    with pytest.raises(InternalError):
        enc.encrypt(23, data + b"x", 10)


# -- tampering --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["gcm", "chacha", "tls13"])
def test_tamper_every_position(kind: str) -> None:
    if kind == "gcm":
        enc, dec = gcm_pair()
    elif kind == "chacha":
        enc, dec = chacha_pair()  # type: ignore[assignment]
    else:
        enc = Tls13Encrypter(CgAead(AESGCM(KEY16)), IV12)  # type: ignore[assignment]
        dec = Tls13Decrypter(CgAead(AESGCM(KEY16)), IV12)  # type: ignore[assignment]
    wire = enc.encrypt(23, b"attack at dawn", 4)
    rec = deframe(wire)
    for i in range(len(rec.payload)):
        bad = bytearray(rec.payload)
        bad[i] ^= 0x01
        with pytest.raises(DecryptError):
            dec.decrypt(Record(rec.content_type, rec.version, bytes(bad)), 4)
    with pytest.raises(DecryptError):
        dec.decrypt(rec, 5)  # wrong seq
    if kind != "tls13":
        # TLS 1.2 authenticates the content type and version in the AAD
        with pytest.raises(DecryptError):
            dec.decrypt(Record(22, rec.version, rec.payload), 4)
        with pytest.raises(DecryptError):
            dec.decrypt(Record(23, 0x0302, rec.payload), 4)
    # truncated below the tag (+ explicit nonce)
    for n in range(0, 25):
        with pytest.raises(DecryptError):
            dec.decrypt(Record(23, 0x0303, rec.payload[:n]), 4)


# -- TLS 1.3 inner plaintext rules ------------------------------------------------------------
def _seal13(inner: bytes, seq: int = 0) -> Record:
    header = b"\x17\x03\x03" + (len(inner) + 16).to_bytes(2, "big")
    nonce = (int.from_bytes(IV12, "big") ^ seq).to_bytes(12, "big")
    return deframe(header + AESGCM(KEY16).encrypt(nonce, inner, header))


def _dec13() -> Tls13Decrypter:
    return Tls13Decrypter(CgAead(AESGCM(KEY16)), IV12)


@pytest.mark.parametrize("inner", [b"", b"\x00", bytes(100)])
def test_tls13_all_zero_inner(inner: bytes) -> None:
    with pytest.raises(PeerMisbehaved) as ei:
        _dec13().decrypt(_seal13(inner), 0)
    assert ei.value.alert == AlertDescription.unexpected_message


def test_tls13_padding_stripped() -> None:
    assert _dec13().decrypt(_seal13(b"\x00\x01\x00\x17" + bytes(500)), 0) == (23, b"\x00\x01\x00")
    assert _dec13().decrypt(_seal13(b"\x15"), 0) == (21, b"")


@pytest.mark.parametrize("typ", [0, 20, 24, 255])
def test_tls13_bad_inner_type(typ: int) -> None:
    with pytest.raises(PeerMisbehaved) as ei:
        _dec13().decrypt(_seal13(b"data" + bytes((typ,))), 0)
    assert ei.value.alert == AlertDescription.unexpected_message


def test_tls13_outer_type_must_be_application_data() -> None:
    rec = _seal13(b"x\x16")
    with pytest.raises(PeerMisbehaved) as ei:
        _dec13().decrypt(Record(22, rec.version, rec.payload), 0)
    assert ei.value.alert == AlertDescription.unexpected_message


def test_tls13_inner_plaintext_overflow() -> None:
    ok = _seal13(bytes(2**14) + b"\x17")  # 2^14 + 1: the maximum
    assert _dec13().decrypt(ok, 0) == (23, bytes(2**14))
    padded = _seal13(b"a\x17" + bytes(2**14 - 1))  # 2^14 + 1 with padding: allowed
    assert _dec13().decrypt(padded, 0) == (23, b"a")
    with pytest.raises(RecordOverflow):
        _dec13().decrypt(_seal13(bytes(2**14) + b"\x17\x00"), 0)
    with pytest.raises(RecordOverflow):
        _dec13().decrypt(Record(23, 0x0303, bytes(2**14 + 257)), 0)


def test_tls13_encrypt_padding_bound() -> None:
    enc = Tls13Encrypter(CgAead(AESGCM(KEY16)), IV12)
    enc.encrypt(23, bytes(100), 0, padding=2**14 - 100)
    with pytest.raises(InternalError):
        enc.encrypt(23, bytes(100), 0, padding=2**14 - 99)
    with pytest.raises(InternalError):
        enc.encrypt(23, b"", 0, padding=-1)


def test_tls12_overflow_bounds() -> None:
    _, gdec = gcm_pair()
    _, cdec = chacha_pair()
    with pytest.raises(RecordOverflow):
        gdec.decrypt(Record(23, 0x0303, bytes(2**14 + 2049)), 0)
    with pytest.raises(RecordOverflow):
        gdec.decrypt(Record(23, 0x0303, bytes(2**14 + 8 + 16 + 1)), 0)
    with pytest.raises(RecordOverflow):
        cdec.decrypt(Record(23, 0x0303, bytes(2**14 + 16 + 1)), 0)
    with pytest.raises(DecryptError):
        cdec.decrypt(Record(23, 0x0303, bytes(2**14 + 16)), 0)


def test_plaintext_passthrough() -> None:
    wire = PLAINTEXT_ENCRYPTER.encrypt(ContentType.handshake, b"\x01\x00\x00\x00", 0)
    assert wire == b"\x16\x03\x03\x00\x04\x01\x00\x00\x00"
    assert PLAINTEXT_DECRYPTER.decrypt(deframe(wire), 0) == (22, b"\x01\x00\x00\x00")
    with pytest.raises(RecordOverflow):
        PLAINTEXT_DECRYPTER.decrypt(Record(22, 0x0303, bytes(2**14 + 1)), 0)
    with pytest.raises(InternalError):
        PLAINTEXT_ENCRYPTER.encrypt(23, bytes(2**14 + 1), 0)


def test_bad_iv_lengths() -> None:
    a = CgAead(AESGCM(KEY16))
    with pytest.raises(ValueError):
        Tls13Encrypter(a, bytes(8))
    with pytest.raises(ValueError):
        Tls12GcmEncrypter(a, bytes(12))
    with pytest.raises(ValueError):
        Tls12GcmDecrypter(a, bytes(12))
    with pytest.raises(ValueError):
        Tls12ChaChaDecrypter(a, bytes(4))


def test_reprs_hide_secrets() -> None:
    enc, dec = gcm_pair()
    for obj in (enc, dec, *chacha_pair(), Tls13Encrypter(CgAead(AESGCM(KEY16)), IV12)):
        assert FIXED.hex() not in repr(obj) and "secret" in repr(obj)
