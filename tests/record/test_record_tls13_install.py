"""``RecordLayer.set_tls13_encrypter``/``set_tls13_decrypter`` (the connection's key installs)
behave exactly as ``set_encrypter``/``set_decrypter`` of ``Tls13Encrypter``/``Tls13Decrypter
.from_key``: the same records, sequence numbers, limits, values and errors, on valid,
tampered, padded and cut input; with a ``cryptography`` AEAD and with a protocol-only one."""

from __future__ import annotations

import os
from typing import Any

import pytest

from helpers import ProtocolOnlyAead
from tlspipe.crypto.aead import AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305, AeadCipher
from tlspipe.errors import Error
from tlspipe.record.deframer import Record
from tlspipe.record.layer import RecordLayer, Tls13Decrypter, Tls13Encrypter


class ProtocolOnlyAlg:
    """An AEAD algorithm whose instances have only the seal/open protocol methods."""

    def __init__(self, inner: AeadCipher) -> None:
        self._inner = inner
        self.key_len = inner.key_len
        self.confidentiality_limit = inner.confidentiality_limit
        self.integrity_limit = inner.integrity_limit

    def new(self, key: bytes) -> ProtocolOnlyAead:
        return ProtocolOnlyAead(self._inner.new(key))


ALGS: list[Any] = [AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305, ProtocolOnlyAlg(AES_128_GCM)]


def _outcome(fn: Any, *args: Any) -> tuple[str, Any, Any]:
    try:
        return ("ok", fn(*args), None)
    except Error as e:
        return ("error", (type(e), str(e)), e.alert)
    except ValueError as e:
        return ("value-error", str(e), None)


def _pair(alg: Any, key: bytes, iv: bytes) -> tuple[RecordLayer, RecordLayer]:
    general, inline = RecordLayer(), RecordLayer()
    general.set_encrypter(Tls13Encrypter.from_key(alg, key, iv))
    general.set_decrypter(Tls13Decrypter.from_key(alg, key, iv))
    inline.set_tls13_encrypter(alg, key, iv)
    inline.set_tls13_decrypter(alg, key, iv)
    return general, inline


def _state(layer: RecordLayer) -> tuple[Any, ...]:
    return (
        layer.is_encrypting,
        layer.is_decrypting,
        layer.write_seq,
        layer.read_seq,
        layer.wants_key_update(),
    )


@pytest.mark.parametrize("alg", ALGS)
def test_inline_install_seals_and_opens_as_the_general_one(alg: Any) -> None:
    key, iv = os.urandom(alg.key_len), os.urandom(12)
    general, inline = _pair(alg, key, iv)
    assert _state(general) == _state(inline)
    payloads: list[Any] = [b"", b"x", b"hs" * 100, b"y" * 16384, b"z" * 16385]
    payloads += [memoryview(b"m" * 300), bytearray(b"b" * 20)]
    for typ in (21, 22, 23):
        for p in payloads:
            a = _outcome(general.encrypt, typ, p)
            assert a == _outcome(inline.encrypt, typ, p)
            assert _state(general) == _state(inline)
            if a[0] != "ok":
                continue
            rec = a[1]
            r = Record(rec[0], int.from_bytes(rec[1:3], "big"), rec[5:])
            got = _outcome(general.decrypt, r)
            assert got == _outcome(inline.decrypt, r) == ("ok", (typ, bytes(p)), None)
            assert _state(general) == _state(inline)
            cut = Record(r.content_type, r.version, r.payload[:-1])
            bad = Record(r.content_type, r.version, r.payload[:-1] + bytes((r.payload[-1] ^ 1,)))
            other = Record(22, r.version, r.payload)
            for wrong in (cut, bad, other, Record(23, 0x0303, b""), Record(23, 0x0303, b"\0" * 16)):
                assert _outcome(general.decrypt, wrong) == _outcome(inline.decrypt, wrong)
                assert _state(general) == _state(inline)
    for p in payloads:
        assert _outcome(general.encrypt_appdata, p) == _outcome(inline.encrypt_appdata, p)
        assert _state(general) == _state(inline)


@pytest.mark.parametrize("alg", ALGS[:1])
def test_padded_and_oddly_typed_inner_plaintexts_open_alike(alg: Any) -> None:
    key, iv = os.urandom(16), os.urandom(12)
    general, inline = _pair(alg, key, iv)
    enc = Tls13Encrypter.from_key(alg, key, iv)
    for seq, (typ, payload, padding) in enumerate(
        [(22, b"hs", 30), (23, b"", 5), (23, b"x", 16383), (21, b"\x01\x00", 0), (24, b"q", 0)]
    ):
        rec = enc.encrypt(typ, payload, seq, padding=padding)
        r = Record(rec[0], int.from_bytes(rec[1:3], "big"), rec[5:])
        assert _outcome(general.decrypt, r) == _outcome(inline.decrypt, r)
        assert _state(general) == _state(inline)


def _general_enc(key: bytes, iv: bytes) -> None:
    RecordLayer().set_encrypter(Tls13Encrypter.from_key(AES_128_GCM, key, iv))


def _inline_enc(key: bytes, iv: bytes) -> None:
    RecordLayer().set_tls13_encrypter(AES_128_GCM, key, iv)


def _general_dec(key: bytes, iv: bytes) -> None:
    RecordLayer().set_decrypter(Tls13Decrypter.from_key(AES_128_GCM, key, iv))


def _inline_dec(key: bytes, iv: bytes) -> None:
    RecordLayer().set_tls13_decrypter(AES_128_GCM, key, iv)


def test_bad_iv_and_key_fail_alike() -> None:
    for key, iv in ((os.urandom(16), os.urandom(11)), (os.urandom(15), os.urandom(12))):
        for general, inline in ((_general_enc, _inline_enc), (_general_dec, _inline_dec)):
            assert _outcome(general, key, iv) == _outcome(inline, key, iv)
            assert _outcome(inline, key, iv)[0] != "ok"


def test_sending_key_limits_alike() -> None:
    key, iv = os.urandom(16), os.urandom(12)
    general, inline = _pair(AES_128_GCM, key, iv)
    for layer in (general, inline):
        layer._write_seq = layer._enc_soft - 1
    for _ in range(3):
        assert _outcome(general.encrypt_appdata, b"a") == _outcome(inline.encrypt_appdata, b"a")
        assert _state(general) == _state(inline)
    for layer in (general, inline):
        layer._write_seq = layer._enc_hard
    assert _outcome(general.encrypt, 23, b"a") == _outcome(inline.encrypt, 23, b"a")
    assert _outcome(general.encrypt, 23, b"a")[0] == "error"


@pytest.mark.parametrize("alg", ALGS[:3])
def test_raw_sealer_seals_as_the_wrapped_aead(alg: AeadCipher) -> None:
    key, nonce = os.urandom(alg.key_len), os.urandom(12)
    for data in (b"", b"p" * 100, memoryview(b"v" * 30)):
        assert alg.raw_sealer(key)(nonce, data, b"aad") == alg.new(key).seal(nonce, b"aad", data)
    for bad in (key[:-1], key + b"k"):
        assert _outcome(alg.raw_sealer, bad) == _outcome(alg.new, bad)
        assert _outcome(alg.raw_sealer, bad)[0] == "error"


def test_a_failed_install_changes_nothing() -> None:
    """A write install that fails (a bad IV) leaves the keys in use as they were: records
    are sealed as before it, with the same sequence numbers."""
    key, iv = os.urandom(16), os.urandom(12)
    ref, layer = RecordLayer(), RecordLayer()
    ref.set_tls13_encrypter(AES_128_GCM, key, iv)
    layer.set_tls13_encrypter(AES_128_GCM, key, iv)
    assert layer.encrypt(23, b"one") == ref.encrypt(23, b"one")
    with pytest.raises(ValueError):
        layer.set_tls13_encrypter(AES_128_GCM, os.urandom(16), bytes(11))
    assert layer.encrypt(23, b"two") == ref.encrypt(23, b"two")
    plain = RecordLayer()
    with pytest.raises(ValueError):
        plain.set_tls13_encrypter(AES_128_GCM, key, bytes(11))
    assert not plain.is_encrypting
