"""The TLS 1.3 record protection works the same with an AEAD that exposes the raw
``cryptography`` entry points (``raw_seal``/``raw_open``/``raw_open_error``) and with one that
has only the ``seal``/``open`` protocol methods; a bad tag is ``DecryptError`` either way."""

from __future__ import annotations

import os

import pytest

from helpers import ProtocolOnlyAead
from tlspipe.crypto.aead import AES_128_GCM
from tlspipe.errors import DecryptError
from tlspipe.record.deframer import Record
from tlspipe.record.layer import Tls13Decrypter, Tls13Encrypter


@pytest.mark.parametrize("wrap_enc", [False, True])
@pytest.mark.parametrize("wrap_dec", [False, True])
def test_raw_and_protocol_paths_agree(wrap_enc: bool, wrap_dec: bool) -> None:
    key, iv = os.urandom(16), os.urandom(12)
    a = AES_128_GCM.new(key)
    assert hasattr(a, "raw_seal") and hasattr(a, "raw_open")
    enc = Tls13Encrypter(ProtocolOnlyAead(a) if wrap_enc else a, iv)
    dec = Tls13Decrypter(ProtocolOnlyAead(AES_128_GCM.new(key)) if wrap_dec else a, iv)
    for seq, (typ, data) in enumerate([(22, b"hs"), (23, b"x" * 16384), (21, b"\x01\x00")]):
        rec = enc.encrypt(typ, memoryview(data), seq)
        r = Record(rec[0], int.from_bytes(rec[1:3], "big"), rec[5:])
        assert dec.decrypt(r, seq) == (typ, data)
        bad = Record(r.content_type, r.version, r.payload[:-1] + bytes((r.payload[-1] ^ 1,)))
        with pytest.raises(DecryptError):
            dec.decrypt(bad, seq)
        with pytest.raises(DecryptError):
            dec.decrypt(r, seq + 1)
