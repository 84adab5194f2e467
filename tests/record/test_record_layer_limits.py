"""RecordLayer: sequence numbers, key changes, AEAD usage limits, skipping rejected 0-RTT."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from tlspipe.enums import AlertDescription
from tlspipe.errors import DecryptError, EncryptError, PeerMisbehaved, alert_for
from tlspipe.record.deframer import Deframer, Record
from tlspipe.record.layer import (
    AES_GCM_CONFIDENTIALITY_LIMIT,
    KEY_UPDATE_MARGIN,
    SEQ_MAX,
    RecordLayer,
    Tls12ChaChaDecrypter,
    Tls12ChaChaEncrypter,
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


class Alg:
    """A stand-in AeadAlgorithm (structural) for the from_key constructors."""

    def __init__(self, conf: int, integ: int) -> None:
        self.confidentiality_limit = conf
        self.integrity_limit = integ

    def new(self, key: bytes) -> CgAead:
        return CgAead(AESGCM(key))


K1, K2 = bytes(16), bytes(range(16))
IV = bytes(range(12))


def enc13(key: bytes = K1, **kw: int) -> Tls13Encrypter:
    return Tls13Encrypter(CgAead(AESGCM(key)), IV, **kw)


def dec13(key: bytes = K1, **kw: int) -> Tls13Decrypter:
    return Tls13Decrypter(CgAead(AESGCM(key)), IV, **kw)


def parse(wire: bytes) -> Record:
    d = Deframer()
    d.feed(wire)
    r = d.pop()
    assert r is not None
    return r


def test_plaintext_then_encrypted_and_seq_reset() -> None:
    tx, rx = RecordLayer(), RecordLayer()
    assert not tx.is_encrypting and not rx.is_decrypting
    wire = tx.encrypt(22, b"\x01\x00\x00\x00")
    assert wire == b"\x16\x03\x03\x00\x04\x01\x00\x00\x00"
    assert rx.decrypt(parse(wire)) == (22, b"\x01\x00\x00\x00")
    assert tx.write_seq == 1 and rx.read_seq == 1
    tx.set_encrypter(enc13())
    rx.set_decrypter(dec13())
    assert tx.is_encrypting and rx.is_decrypting
    assert tx.write_seq == 0 and rx.read_seq == 0
    for i in range(5):
        assert rx.decrypt(parse(tx.encrypt(23, b"m%d" % i))) == (23, b"m%d" % i)
    assert tx.write_seq == rx.read_seq == 5
    # key update: both sides reset to 0
    tx.set_encrypter(enc13(K2))
    rx.set_decrypter(dec13(K2))
    assert tx.write_seq == rx.read_seq == 0
    assert rx.decrypt(parse(tx.encrypt(23, b"after"))) == (23, b"after")


def test_out_of_order_fails() -> None:
    tx, rx = RecordLayer(), RecordLayer()
    tx.set_encrypter(enc13())
    rx.set_decrypter(dec13())
    a, b = tx.encrypt(23, b"a"), tx.encrypt(23, b"b")
    with pytest.raises(DecryptError) as ei:
        rx.decrypt(parse(b))
    assert alert_for(ei.value) == AlertDescription.bad_record_mac
    assert rx.read_seq == 0
    assert rx.decrypt(parse(a)) == (23, b"a")


def test_confidentiality_limit_soft_and_hard() -> None:
    tx = RecordLayer()
    tx.set_encrypter(enc13(confidentiality_limit=10))
    seen = []
    for _ in range(10):
        seen.append(tx.wants_key_update())
        tx.encrypt(23, b"x")
    # soft limit = 10 - min(2^16, 10 // 2) = 5
    assert seen == [False] * 5 + [True] * 5
    with pytest.raises(EncryptError) as ei:
        tx.encrypt(23, b"x")
    assert alert_for(ei.value) == AlertDescription.internal_error
    assert tx.write_seq == 10
    tx.set_encrypter(enc13(K2, confidentiality_limit=10))
    assert not tx.wants_key_update()
    tx.encrypt(23, b"x")


def test_default_limits() -> None:
    tx = RecordLayer()
    assert not tx.wants_key_update()
    tx.set_encrypter(enc13())
    tx._write_seq = AES_GCM_CONFIDENTIALITY_LIMIT - KEY_UPDATE_MARGIN - 1  # fast-forward
    assert not tx.wants_key_update()
    tx.encrypt(23, b"x")
    assert tx.wants_key_update()
    tx._write_seq = AES_GCM_CONFIDENTIALITY_LIMIT
    with pytest.raises(EncryptError):
        tx.encrypt(23, b"x")
    assert AES_GCM_CONFIDENTIALITY_LIMIT == 23726566  # 2^24.5


def test_sequence_space_end() -> None:
    key = bytes(32)
    tx, rx = RecordLayer(), RecordLayer()
    tx.set_encrypter(
        Tls12ChaChaEncrypter(CgAead(ChaCha20Poly1305(key)), IV, confidentiality_limit=2**70)
    )
    rx.set_decrypter(Tls12ChaChaDecrypter(CgAead(ChaCha20Poly1305(key)), IV))
    tx._write_seq = rx._read_seq = SEQ_MAX - 1
    assert rx.decrypt(parse(tx.encrypt(23, b"last"))) == (23, b"last")
    assert tx.wants_key_update()
    with pytest.raises(EncryptError):
        tx.encrypt(23, b"wraps")
    with pytest.raises(PeerMisbehaved):
        rx.decrypt(Record(23, 0x0303, bytes(20)))


def test_from_key_takes_limits() -> None:
    alg = Alg(conf=4, integ=2)
    tx, rx = RecordLayer(), RecordLayer()
    tx.set_encrypter(Tls13Encrypter.from_key(alg, K1, IV))
    rx.set_decrypter(Tls13Decrypter.from_key(alg, K1, IV))
    for _ in range(4):
        rx.decrypt(parse(tx.encrypt(23, b"x")))
    with pytest.raises(EncryptError):
        tx.encrypt(23, b"x")


# -- skipping rejected 0-RTT (RFC 8446 §4.2.10) -----------------------------------------------
def early_records(n: int, size: int = 100) -> list[Record]:
    early = RecordLayer()
    early.set_encrypter(enc13(K2))  # client_early keys the server rejected
    return [parse(early.encrypt(23, bytes(size))) for _ in range(n)]


def test_skip_early_data_then_handshake() -> None:
    client, server = RecordLayer(), RecordLayer()
    client.set_encrypter(enc13())
    server.set_decrypter(dec13())
    server.set_skip_early_data(1000)
    assert server.is_skipping_early_data
    for r in early_records(5):
        assert server.decrypt(r) is None
    assert server.early_data_skipped == 5 * 100
    assert server.read_seq == 0
    fin = parse(client.encrypt(22, b"\x14\x00\x00\x01f"))
    assert server.decrypt(fin) == (22, b"\x14\x00\x00\x01f")
    assert not server.is_skipping_early_data
    # after the first good record a bad one is fatal again
    with pytest.raises(DecryptError):
        server.decrypt(early_records(1)[0])


def test_skip_early_data_bound() -> None:
    server = RecordLayer()
    server.set_decrypter(dec13())
    server.set_skip_early_data(250)
    recs = early_records(3)
    assert server.decrypt(recs[0]) is None
    assert server.decrypt(recs[1]) is None
    with pytest.raises(PeerMisbehaved) as ei:
        server.decrypt(recs[2])
    assert ei.value.alert == AlertDescription.unexpected_message


def test_skip_early_data_exact_bound() -> None:
    server = RecordLayer()
    server.set_decrypter(dec13())
    server.set_skip_early_data(300)
    for r in early_records(3):
        assert server.decrypt(r) is None
    with pytest.raises(PeerMisbehaved):
        server.decrypt(early_records(1, size=1)[0])


def test_skip_early_data_integrity_limit() -> None:
    server = RecordLayer()
    server.set_decrypter(dec13(integrity_limit=3))
    server.set_skip_early_data(10**6)
    recs = early_records(3, size=1)
    assert server.decrypt(recs[0]) is None
    assert server.decrypt(recs[1]) is None
    with pytest.raises(DecryptError):
        server.decrypt(recs[2])


def test_skip_early_data_in_plaintext_after_hrr() -> None:
    """After HelloRetryRequest the server still reads plaintext: app-data records are skipped,
    the second ClientHello (a handshake record) ends skipping."""
    server = RecordLayer()
    server.set_skip_early_data(500)
    for r in early_records(2):
        assert server.decrypt(r) is None
    ch2 = Record(22, 0x0303, b"\x01\x00\x00\x00")
    assert server.decrypt(ch2) == (22, b"\x01\x00\x00\x00")
    assert not server.is_skipping_early_data
    assert server.decrypt(Record(23, 0x0303, b"plain")) == (23, b"plain")


def test_no_skipping_by_default() -> None:
    server = RecordLayer()
    server.set_decrypter(dec13())
    with pytest.raises(DecryptError):
        server.decrypt(early_records(1)[0])


def test_repr_has_no_secrets() -> None:
    rl = RecordLayer()
    rl.set_encrypter(enc13(K2))
    assert K2.hex() not in repr(rl)
    assert "write_seq=0" in repr(rl)
