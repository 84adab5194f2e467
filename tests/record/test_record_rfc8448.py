"""RFC 8448 protected records: decrypt with Tls13Decrypter, re-encrypt bit-exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tlspipe.errors import DecryptError
from tlspipe.record.deframer import Deframer, Record
from tlspipe.record.layer import RecordLayer, Tls13Decrypter, Tls13Encrypter

VECTORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "vectors" / "rfc8448.json"
if not VECTORS.exists():
    VECTORS = Path("/work/shared/vectors/rfc8448.json")
DATA = json.loads(VECTORS.read_text())
SECTIONS = ("simple_1rtt", "resumed_0rtt", "hello_retry_request")


class CgAead:
    """Tiny adapter: cryptography AEAD → the record layer's seal/open protocol."""

    def __init__(self, cipher: AESGCM) -> None:
        self._c = cipher

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes | memoryview) -> bytes:
        return self._c.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes | memoryview) -> bytes:
        try:
            return self._c.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise DecryptError("bad record mac") from None


def protected() -> list[tuple[str, dict[str, object], dict[str, object]]]:
    out = []
    for sec in SECTIONS:
        for rec in DATA[sec]["records"]:
            if rec["protected"]:
                out.append((sec, rec, DATA[sec]["traffic_keys"][rec["keys"]]))
    return out


CASES = protected()


def parse(record_hex: str) -> Record:
    d = Deframer()
    d.feed(bytes.fromhex(record_hex))
    rec = d.pop()
    assert rec is not None and d.pop() is None and d.is_empty()
    return rec


def test_case_count() -> None:
    # 7 + 8 + 4 protected records across the three sections
    assert len(CASES) == sum(1 for s in SECTIONS for r in DATA[s]["records"] if r["protected"])
    assert len(CASES) >= 15


@pytest.mark.parametrize(
    ("sec", "rec", "keys"), CASES, ids=[f"{s}/{r['name']}" for s, r, _ in CASES]
)
def test_decrypt_and_reencrypt(sec: str, rec: dict, keys: dict) -> None:
    key, iv = bytes.fromhex(keys["key"]), bytes.fromhex(keys["iv"])
    wire = bytes.fromhex(rec["record"])
    plaintext = bytes.fromhex(rec["plaintext"])
    record = parse(rec["record"])
    dec = Tls13Decrypter(CgAead(AESGCM(key)), iv)
    typ, pt = dec.decrypt(record, rec["seq"])
    assert typ == rec["inner_content_type"]
    assert pt == plaintext
    enc = Tls13Encrypter(CgAead(AESGCM(key)), iv)
    assert enc.encrypt(typ, plaintext, rec["seq"]) == wire
    assert enc.encrypt(typ, memoryview(plaintext), rec["seq"]) == wire
    # Wrong sequence number → bad tag
    with pytest.raises(DecryptError):
        dec.decrypt(record, rec["seq"] + 1)


def test_record_layer_sequences_server_application() -> None:
    """Drive RecordLayer through the server application records of section 3 in order."""
    sec = DATA["simple_1rtt"]
    keys = sec["traffic_keys"]["server_application"]
    key, iv = bytes.fromhex(keys["key"]), bytes.fromhex(keys["iv"])
    recs = sorted(
        (r for r in sec["records"] if r.get("keys") == "server_application"),
        key=lambda r: r["seq"],
    )
    assert [r["seq"] for r in recs] == list(range(len(recs)))
    tx = RecordLayer()
    rx = RecordLayer()
    tx.set_encrypter(Tls13Encrypter(CgAead(AESGCM(key)), iv))
    rx.set_decrypter(Tls13Decrypter(CgAead(AESGCM(key)), iv))
    stream = b""
    for r in recs:
        out = tx.encrypt(r["inner_content_type"], bytes.fromhex(r["plaintext"]))
        assert out == bytes.fromhex(r["record"])
        stream += out
    d = Deframer()
    d.set_tls13()
    got = []
    for i in range(len(stream)):  # one byte at a time
        d.feed(stream[i : i + 1])
        while (rec := d.pop()) is not None:
            res = rx.decrypt(rec)
            assert res is not None
            got.append(res)
    assert got == [(r["inner_content_type"], bytes.fromhex(r["plaintext"])) for r in recs]
    assert rx.read_seq == tx.write_seq == len(recs)


def test_plaintext_records_deframe() -> None:
    for sec in SECTIONS:
        stream = b"".join(
            bytes.fromhex(r["record"]) for r in DATA[sec]["records"] if not r["protected"]
        )
        d = Deframer()
        d.feed(stream)
        plain = [r for r in DATA[sec]["records"] if not r["protected"]]
        for r in plain:
            rec = d.pop()
            assert rec is not None
            assert rec.content_type == r["content_type"]
            assert rec.payload == bytes.fromhex(r["plaintext"])
            assert rec.encode() == bytes.fromhex(r["record"])
        assert d.pop() is None
