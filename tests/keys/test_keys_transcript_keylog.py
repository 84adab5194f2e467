"""Transcript buffering/hashing/HRR rollup and the key log implementations."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from tlspipe.crypto.default import TLS13_AES_256_GCM_SHA384
from tlspipe.errors import ConfigError, InternalError
from tlspipe.keylog import KeyLog, KeyLogFile, NoKeyLog
from tlspipe.keys.tls13 import KeyScheduleEarly, export_keying_material
from tlspipe.keys.transcript import Transcript


def test_transcript_buffers_before_hash() -> None:
    t = Transcript()
    assert t.hash_name is None
    with pytest.raises(InternalError):
        t.current_hash()
    t.add(b"msg1")
    t.add(b"msg2")
    assert t.hash_of_buffer_plus(b"trunc", "sha384") == hashlib.sha384(b"msg1msg2trunc").digest()
    with pytest.raises(InternalError):
        t.hash_of_buffer_plus(b"trunc")
    t.start_hash("sha384")
    t.start_hash("sha384")  # idempotent
    with pytest.raises(InternalError):
        t.start_hash("sha256")
    assert t.current_hash() == hashlib.sha384(b"msg1msg2").digest()
    t.add(b"msg3")
    assert t.current_hash() == hashlib.sha384(b"msg1msg2msg3").digest()
    assert t.current_hash() == hashlib.sha384(b"msg1msg2msg3").digest()  # non-destructive
    assert t.hash_of_buffer_plus(b"x") == hashlib.sha384(b"msg1msg2msg3x").digest()
    with pytest.raises(InternalError):
        t.hash_of_buffer_plus(b"x", "sha256")
    assert t.buffer() == b"msg1msg2msg3"
    t.drop_buffer()
    with pytest.raises(InternalError):
        t.buffer()
    t.add(b"msg4")
    assert t.current_hash() == hashlib.sha384(b"msg1msg2msg3msg4").digest()
    assert "sha384" in repr(t)


def test_drop_buffer_before_hash_keeps_it_until_start() -> None:
    t = Transcript()
    t.add(b"a")
    t.drop_buffer()
    t.start_hash("sha256")
    assert t.current_hash() == hashlib.sha256(b"a").digest()
    with pytest.raises(InternalError):
        t.buffer()


def test_hrr_rollup() -> None:
    t = Transcript()
    with pytest.raises(InternalError):
        t.rollup_for_hrr()
    t.add(b"ch1")
    t.start_hash("sha256")
    t.rollup_for_hrr()
    t.add(b"hrr")
    synth = b"\xfe\x00\x00\x20" + hashlib.sha256(b"ch1").digest()
    assert t.current_hash() == hashlib.sha256(synth + b"hrr").digest()
    assert t.buffer() == synth + b"hrr"


class _Rec:
    def __init__(self) -> None:
        self.got: list[str] = []

    def will_log(self, label: str) -> bool:
        return label.startswith("CLIENT")

    def log(self, label: str, client_random: bytes, secret: bytes) -> None:
        self.got.append(label)


def test_keylog_respects_will_log() -> None:
    rec = _Rec()
    assert isinstance(rec, KeyLog)
    ks = KeyScheduleEarly(TLS13_AES_256_GCM_SHA384, None, keylog=rec, client_random=b"r" * 32)
    hs = ks.into_handshake(b"s" * 32)
    hs.client_handshake_traffic_secret(b"h" * 48)
    hs.server_handshake_traffic_secret(b"h" * 48)
    hs.into_traffic(b"h" * 48)
    assert rec.got == ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"]


def test_schedule_misuse() -> None:
    ks = KeyScheduleEarly(TLS13_AES_256_GCM_SHA384, b"p" * 48)
    hs = ks.into_handshake(None)  # psk_ke
    with pytest.raises(InternalError):
        hs.server_finished_verify_data(b"h" * 48)
    with pytest.raises(InternalError):
        hs.client_finished_verify_data(b"h" * 48)
    with pytest.raises(InternalError):
        hs.into_traffic(b"h" * 48)
    s = hs.client_handshake_traffic_secret(b"h" * 48)
    assert len(s) == 48
    assert s.hex() not in repr(hs)
    tr = hs.into_traffic(b"h" * 48)
    assert tr.client_application_traffic_secret_0.hex() not in repr(tr)
    with pytest.raises(ConfigError):
        tr.export_keying_material(b"x" * 250, None, 16)
    with pytest.raises(ConfigError):
        tr.export_keying_material(b"x", None, 0)
    with pytest.raises(ConfigError):
        export_keying_material("sha384", b"e" * 48, b"x", None, 255 * 48 + 1)
    assert len(tr.export_keying_material(b"x", None, 255 * 48)) == 255 * 48


def test_no_keylog() -> None:
    n = NoKeyLog()
    assert not n.will_log("CLIENT_RANDOM")
    n.log("CLIENT_RANDOM", b"", b"")
    assert isinstance(n, KeyLog)


def test_keylog_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(path))
    kl = KeyLogFile()
    assert kl.will_log("CLIENT_RANDOM")
    kl.log("CLIENT_RANDOM", b"\x01\x02", b"\xaa\xbb")
    kl2 = KeyLogFile(path)
    threads = [
        threading.Thread(
            target=lambda i=i: [kl2.log("X", bytes([i]), b"\x00" * 32) for _ in range(50)]
        )
        for i in range(4)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    lines = path.read_text().splitlines()
    assert lines[0] == "CLIENT_RANDOM 0102 aabb"
    assert len(lines) == 201
    assert all(line.split(" ")[2] == "00" * 32 for line in lines[1:])
    assert str(path) in repr(kl)


def test_keylog_file_unset_and_unwritable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    kl = KeyLogFile()
    assert not kl.will_log("X")
    kl.log("X", b"", b"")  # nothing happens
    monkeypatch.setenv("SSLKEYLOGFILE", "")
    assert not KeyLogFile().will_log("X")
    bad = KeyLogFile(tmp_path / "missing-dir" / "f")
    bad.log("X", b"", b"")  # swallowed
    bad.log("X", b"", b"")


@pytest.mark.parametrize(
    "ops",
    [
        "a s a a d a a",
        "a d a s a a",
        "a s r a a d a",
        "a s d r a a",
        "a s a r d a r a",
        "s a a",
        "d s a r a",
    ],
)
def test_transcript_add_follows_every_state(ops: str) -> None:
    """``add`` is re-pointed at each change (hash started, buffer dropped, HRR rollup): the
    hash and the buffer always equal those of a plain model, for bytes and memoryviews."""
    t = Transcript()
    hashed: bytes | None = None  # what the hash has seen, None before start
    buf: bytes | None = b""
    keep = True
    n = 0
    for op in ops.split():
        if op == "a":
            n += 1
            raw = b"m%d" % n
            t.add(memoryview(raw) if n % 2 else raw)
            hashed = None if hashed is None else hashed + raw
            buf = None if buf is None else buf + raw
        elif op == "s":
            t.start_hash("sha256")
            hashed = buf or b""
            if not keep:
                buf = None
        elif op == "d":
            t.drop_buffer()
            keep = False
            if hashed is not None:
                buf = None
        else:
            t.rollup_for_hrr()
            assert hashed is not None
            hashed = b"\xfe\x00\x00\x20" + hashlib.sha256(hashed).digest()
            buf = None if buf is None else hashed
        if hashed is not None:
            assert t.current_hash() == hashlib.sha256(hashed).digest()
        if buf is None:
            with pytest.raises(InternalError):
                t.buffer()
        else:
            assert t.buffer() == buf
