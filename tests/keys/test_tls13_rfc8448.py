"""RFC 8448 (sections 3, 4, 5) through tlspipe.keys.tls13 and tlspipe.keys.transcript."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tlspipe.crypto.default import TLS13_AES_128_GCM_SHA256, X25519
from tlspipe.crypto.hashing import hash_of
from tlspipe.keys.tls13 import (
    KeyScheduleEarly,
    compute_binder,
    derive_secret,
    export_keying_material,
    finished_key,
    hkdf_expand_label,
    hkdf_label,
    next_traffic_secret,
    resumption_psk,
    traffic_keys,
)
from tlspipe.keys.transcript import Transcript

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "rfc8448.json"
if not VECTORS.exists():  # repo checked out elsewhere
    VECTORS = Path("/work/shared/vectors/rfc8448.json")

SUITE = TLS13_AES_128_GCM_SHA256


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(VECTORS.read_text())


def b(x: str) -> bytes:
    return bytes.fromhex(x)


class RecordingKeyLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, bytes, bytes]] = []

    def will_log(self, label: str) -> bool:
        return True

    def log(self, label: str, client_random: bytes, secret: bytes) -> None:
        self.lines.append((label, client_random, secret))


def check_keys(sec: dict[str, Any], name: str, secret: bytes) -> None:
    key, iv = traffic_keys(SUITE, secret)
    assert key == b(sec["traffic_keys"][name]["key"])
    assert iv == b(sec["traffic_keys"][name]["iv"])


def test_simple_1rtt(doc: dict[str, Any]) -> None:
    sec = doc["simple_1rtt"]
    m = {k: b(v) for k, v in sec["handshake_messages"].items()}
    ks = {k: b(v) for k, v in sec["key_schedule"].items()}
    th = {k: b(v) for k, v in sec["transcript_hashes"].items()}
    client_random = m["client_hello"][6:38]
    kl = RecordingKeyLog()

    # the (EC)DHE secret from the RFC's x25519 keys, via cryptography directly
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    priv = X25519PrivateKey.from_private_bytes(b(sec["client_x25519_private_key"]))
    shared = priv.exchange(X25519PublicKey.from_public_bytes(b(sec["server_x25519_public_key"])))
    assert shared == b(sec["ecdhe_shared_secret"])
    assert X25519.name == 0x001D

    t = Transcript()
    t.add(m["client_hello"])
    t.start_hash("sha256")
    t.add(m["server_hello"])
    assert t.current_hash() == th["client_hello..server_hello"]

    early = KeyScheduleEarly(SUITE, None, keylog=kl, client_random=client_random)
    assert "33ad0a1c" not in repr(early)
    hs = early.into_handshake(shared)
    c_hs = hs.client_handshake_traffic_secret(t.current_hash())
    s_hs = hs.server_handshake_traffic_secret(t.current_hash())
    assert c_hs == ks["client_handshake_traffic_secret"]
    assert s_hs == ks["server_handshake_traffic_secret"]
    check_keys(sec, "client_handshake", c_hs)
    check_keys(sec, "server_handshake", s_hs)

    for name in ("encrypted_extensions", "certificate"):
        t.add(m[name])
    assert t.current_hash() == th["client_hello..certificate"]
    t.add(m["certificate_verify"])
    fin = sec["finished"]
    assert finished_key("sha256", s_hs) == b(fin["server_finished_key"])
    assert hs.server_finished_verify_data(t.current_hash()) == b(fin["server_verify_data"])
    assert m["server_finished"][4:] == b(fin["server_verify_data"])
    t.add(m["server_finished"])
    assert t.current_hash() == th["client_hello..server_finished"]

    traffic = hs.into_traffic(t.current_hash())
    assert traffic.client_application_traffic_secret_0 == ks["client_application_traffic_secret_0"]
    assert traffic.server_application_traffic_secret_0 == ks["server_application_traffic_secret_0"]
    assert traffic.exporter_master_secret == ks["exporter_master_secret"]
    check_keys(sec, "client_application", traffic.client_application_traffic_secret_0)
    check_keys(sec, "server_application", traffic.server_application_traffic_secret_0)

    assert finished_key("sha256", c_hs) == b(fin["client_finished_key"])
    assert traffic.client_finished_verify_data(t.current_hash()) == b(fin["client_verify_data"])
    assert hs.client_finished_verify_data(t.current_hash()) == b(fin["client_verify_data"])
    t.add(m["client_finished"])
    assert t.current_hash() == th["client_hello..client_finished"]
    rms = traffic.resumption_master_secret(t.current_hash())
    assert rms == ks["resumption_master_secret"]
    psk = resumption_psk("sha256", rms, b(sec["resumption"]["ticket_nonce"]))
    assert psk == b(sec["resumption"]["psk"])
    assert psk == b(doc["resumed_0rtt"]["psk"])

    # HkdfLabel encodings the RFC prints ("key", "iv" are exercised via traffic_keys)
    assert hash_of("sha256", b"") == th["empty"]

    # key log: NSS labels, client random, the secrets
    logged = {label: secret for label, cr, secret in kl.lines if cr == client_random}
    assert logged == {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET": c_hs,
        "SERVER_HANDSHAKE_TRAFFIC_SECRET": s_hs,
        "CLIENT_TRAFFIC_SECRET_0": ks["client_application_traffic_secret_0"],
        "SERVER_TRAFFIC_SECRET_0": ks["server_application_traffic_secret_0"],
        "EXPORTER_SECRET": ks["exporter_master_secret"],
    }

    # KeyUpdate (RFC 8446 §7.2) and the exporter (§7.5): definitional cross-checks
    nxt = traffic.next_client_application_traffic_secret()
    assert nxt == hkdf_expand_label(
        "sha256", ks["client_application_traffic_secret_0"], b"traffic upd", b"", 32
    )
    assert nxt == next_traffic_secret("sha256", ks["client_application_traffic_secret_0"])
    assert traffic.next_client_application_traffic_secret() == next_traffic_secret("sha256", nxt)
    assert traffic.next_server_application_traffic_secret() == next_traffic_secret(
        "sha256", ks["server_application_traffic_secret_0"]
    )
    exp = traffic.export_keying_material(b"EXPERIMENTAL label", b"ctx", 40)
    inner = hkdf_expand_label(
        "sha256", ks["exporter_master_secret"], b"EXPERIMENTAL label", hash_of("sha256", b""), 32
    )
    assert exp == hkdf_expand_label("sha256", inner, b"exporter", hash_of("sha256", b"ctx"), 40)
    assert traffic.export_keying_material(b"x", None, 16) == export_keying_material(
        "sha256", ks["exporter_master_secret"], b"x", b"", 16
    )


def test_resumed_0rtt(doc: dict[str, Any]) -> None:
    sec = doc["resumed_0rtt"]
    m = {k: b(v) for k, v in sec["handshake_messages"].items()}
    ks = {k: b(v) for k, v in sec["key_schedule"].items()}
    th = {k: b(v) for k, v in sec["transcript_hashes"].items()}
    pb = {k: b(v) for k, v in sec["psk_binder"].items()}
    fin = sec["finished"]
    client_random = m["client_hello"][6:38]
    kl = RecordingKeyLog()

    early = KeyScheduleEarly(SUITE, b(sec["psk"]), keylog=kl, client_random=client_random)
    assert early.binder_key(resumption=True) == pb["binder_key"]
    assert finished_key("sha256", early.binder_key()) == pb["binder_finished_key"]

    # binder over the truncated ClientHello, computed from a fresh (unhashed) transcript
    t = Transcript()
    prefix = m["client_hello_prefix_for_binder"]
    assert m["client_hello"].startswith(prefix)
    trunc_hash = t.hash_of_buffer_plus(prefix, "sha256")
    assert trunc_hash == pb["binder_transcript_hash"]
    assert early.compute_binder(trunc_hash) == pb["binder"]
    assert compute_binder("sha256", pb["binder_key"], trunc_hash) == pb["binder"]
    assert pb["binder"] in m["client_hello"]
    # external PSK binder uses another label
    assert early.binder_key(resumption=False) != pb["binder_key"]

    t.add(m["client_hello"])
    t.start_hash("sha256")
    assert t.current_hash() == th["client_hello"]
    c_e = early.client_early_traffic_secret(t.current_hash())
    assert c_e == ks["client_early_traffic_secret"]
    assert (
        early.early_exporter_master_secret(t.current_hash()) == ks["early_exporter_master_secret"]
    )
    check_keys(sec, "client_early", c_e)

    hs = early.into_handshake(b(sec["ecdhe_shared_secret"]))
    t.add(m["server_hello"])
    assert t.current_hash() == th["client_hello..server_hello"]
    c_hs = hs.client_handshake_traffic_secret(t.current_hash())
    s_hs = hs.server_handshake_traffic_secret(t.current_hash())
    assert c_hs == ks["client_handshake_traffic_secret"]
    assert s_hs == ks["server_handshake_traffic_secret"]
    check_keys(sec, "client_handshake", c_hs)
    check_keys(sec, "server_handshake", s_hs)

    t.add(m["encrypted_extensions"])
    assert finished_key("sha256", s_hs) == b(fin["server_finished_key"])
    assert hs.server_finished_verify_data(t.current_hash()) == b(fin["server_verify_data"])
    t.add(m["server_finished"])
    assert t.current_hash() == th["client_hello..server_finished"]
    traffic = hs.into_traffic(t.current_hash())
    assert traffic.client_application_traffic_secret_0 == ks["client_application_traffic_secret_0"]
    assert traffic.server_application_traffic_secret_0 == ks["server_application_traffic_secret_0"]
    assert traffic.exporter_master_secret == ks["exporter_master_secret"]
    check_keys(sec, "client_application", traffic.client_application_traffic_secret_0)
    check_keys(sec, "server_application", traffic.server_application_traffic_secret_0)

    t.add(m["end_of_early_data"])
    assert finished_key("sha256", c_hs) == b(fin["client_finished_key"])
    assert traffic.client_finished_verify_data(t.current_hash()) == b(fin["client_verify_data"])
    t.add(m["client_finished"])
    assert t.current_hash() == th["client_hello..client_finished"]
    assert traffic.resumption_master_secret(t.current_hash()) == ks["resumption_master_secret"]

    labels = [label for label, _, _ in kl.lines]
    assert labels[:2] == ["CLIENT_EARLY_TRAFFIC_SECRET", "EARLY_EXPORTER_SECRET"]


def test_hello_retry_request(doc: dict[str, Any]) -> None:
    sec = doc["hello_retry_request"]
    m = {k: b(v) for k, v in sec["handshake_messages"].items()}
    ks = {k: b(v) for k, v in sec["key_schedule"].items()}
    th = {k: b(v) for k, v in sec["transcript_hashes"].items()}
    fin = sec["finished"]

    t = Transcript()
    t.add(m["client_hello_1"])
    t.start_hash("sha256")
    t.rollup_for_hrr()
    t.add(m["hello_retry_request"])
    t.add(m["client_hello_2"])
    t.add(m["server_hello"])
    h_sh = th["message_hash(client_hello_1)..server_hello"]
    assert t.current_hash() == h_sh
    # the buffer holds the same rolled-up transcript (for TLS 1.2-style consumers)
    assert hash_of("sha256", t.buffer()) == h_sh
    assert t.buffer()[:4] == b"\xfe\x00\x00\x20"

    early = KeyScheduleEarly(SUITE, None)
    hs = early.into_handshake(b(sec["ecdhe_shared_secret"]))
    c_hs = hs.client_handshake_traffic_secret(h_sh)
    s_hs = hs.server_handshake_traffic_secret(h_sh)
    assert c_hs == ks["client_handshake_traffic_secret"]
    assert s_hs == ks["server_handshake_traffic_secret"]
    check_keys(sec, "client_handshake", c_hs)
    check_keys(sec, "server_handshake", s_hs)

    t.add(m["encrypted_extensions"])
    t.add(m["certificate"])
    assert t.current_hash() == th["message_hash(client_hello_1)..certificate"]
    t.add(m["certificate_verify"])
    assert finished_key("sha256", s_hs) == b(fin["server_finished_key"])
    assert hs.server_finished_verify_data(t.current_hash()) == b(fin["server_verify_data"])
    t.add(m["server_finished"])
    assert t.current_hash() == th["message_hash(client_hello_1)..server_finished"]
    traffic = hs.into_traffic(t.current_hash())
    assert traffic.client_application_traffic_secret_0 == ks["client_application_traffic_secret_0"]
    assert traffic.server_application_traffic_secret_0 == ks["server_application_traffic_secret_0"]
    assert traffic.exporter_master_secret == ks["exporter_master_secret"]
    check_keys(sec, "client_application", traffic.client_application_traffic_secret_0)
    check_keys(sec, "server_application", traffic.server_application_traffic_secret_0)
    assert finished_key("sha256", c_hs) == b(fin["client_finished_key"])
    assert traffic.client_finished_verify_data(t.current_hash()) == b(fin["client_verify_data"])
    t.add(m["client_finished"])
    assert t.current_hash() == th["message_hash(client_hello_1)..client_finished"]
    assert traffic.resumption_master_secret(t.current_hash()) == ks["resumption_master_secret"]


def test_hkdf_label_info_matches_rfc(doc: dict[str, Any]) -> None:
    """Every HkdfLabel structure the RFC prints, rebuilt with hkdf_label()."""
    sec = doc["simple_1rtt"]
    th = {k: b(v) for k, v in sec["transcript_hashes"].items()}
    contexts = {
        "derived": th["empty"],
        "c hs traffic": th["client_hello..server_hello"],
        "s hs traffic": th["client_hello..server_hello"],
        "c ap traffic": th["client_hello..server_finished"],
        "s ap traffic": th["client_hello..server_finished"],
        "exp master": th["client_hello..server_finished"],
        "res master": th["client_hello..client_finished"],
        "key": b"",
        "iv": b"",
        "finished": b"",
        "resumption": b(sec["resumption"]["ticket_nonce"]),
    }
    lengths = {"key": 16, "iv": 12}
    info = sec["hkdf_label_info"]
    assert set(info) == set(contexts)
    for label, want in info.items():
        got = hkdf_label(label.encode(), contexts[label], lengths.get(label, 32))
        assert got == b(want), label
    sec4 = doc["resumed_0rtt"]
    h_ch = b(sec4["transcript_hashes"]["client_hello"])
    for label, want in sec4["hkdf_label_info"].items():
        assert hkdf_label(label.encode(), h_ch, 32) == b(want), label


@pytest.mark.parametrize("section", ["simple_1rtt", "resumed_0rtt", "hello_retry_request"])
def test_records_open_and_reseal_with_aead(doc: dict[str, Any], section: str) -> None:
    """Every protected record of the trace opens (and re-seals identically) through
    SUITE.aead with nonce = iv XOR seq and AAD = record header."""
    sec = doc[section]
    n = 0
    for r in sec["records"]:
        if not r["protected"]:
            continue
        keys = sec["traffic_keys"][r["keys"]]
        aead = SUITE.aead.new(b(keys["key"]))
        iv = int.from_bytes(b(keys["iv"]), "big")
        nonce = (iv ^ r["seq"]).to_bytes(12, "big")
        rec = b(r["record"])
        inner = aead.open(nonce, rec[:5], memoryview(rec)[5:])
        assert inner == b(r["plaintext"]) + bytes([r["inner_content_type"]])
        assert rec[:5] + aead.seal(nonce, rec[:5], inner) == rec
        n += 1
    assert n >= 4


def test_handshake_keys_and_finished_from_one_keying(doc: dict[str, Any]) -> None:
    """client/server_handshake_keys() give the RFC's handshake key and IV and keep the
    finished key the Finished computations then use (one keyed HMAC for the three)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    from tlspipe.keys.tls13 import traffic_keys_and_finished_key

    sec = doc["simple_1rtt"]
    m = {k: b(v) for k, v in sec["handshake_messages"].items()}
    fin = sec["finished"]
    priv = X25519PrivateKey.from_private_bytes(b(sec["client_x25519_private_key"]))
    shared = priv.exchange(X25519PublicKey.from_public_bytes(b(sec["server_x25519_public_key"])))
    t = Transcript()
    t.add(m["client_hello"])
    t.start_hash("sha256")
    t.add(m["server_hello"])
    hs = KeyScheduleEarly(SUITE, None).into_handshake(shared)
    c_hs = hs.client_handshake_traffic_secret(t.current_hash())
    s_hs = hs.server_handshake_traffic_secret(t.current_hash())
    for name, keys in (
        ("client_handshake", hs.client_handshake_keys()),
        ("server_handshake", hs.server_handshake_keys()),
    ):
        assert keys == (
            b(sec["traffic_keys"][name]["key"]),
            b(sec["traffic_keys"][name]["iv"]),
        )
    assert traffic_keys_and_finished_key(SUITE, s_hs) == (
        *traffic_keys(SUITE, s_hs),
        b(fin["server_finished_key"]),
    )
    for name in ("encrypted_extensions", "certificate", "certificate_verify"):
        t.add(m[name])
    assert hs.server_finished_verify_data(t.current_hash()) == b(fin["server_verify_data"])
    t.add(m["server_finished"])
    traffic = hs.into_traffic(t.current_hash())
    assert traffic.client_finished_verify_data(t.current_hash()) == b(fin["client_verify_data"])
    assert hs.client_finished_verify_data(t.current_hash()) == b(fin["client_verify_data"])
    assert finished_key("sha256", c_hs) == b(fin["client_finished_key"])


def test_psk_handshake_secret_with_or_without_binder_key(doc: dict[str, Any]) -> None:
    """binder_key() also takes the "derived" secret from the early secret's keyed HMAC:
    the handshake secrets are the same whether or not it was called first."""
    sec = doc["resumed_0rtt"]
    ks = {k: b(v) for k, v in sec["key_schedule"].items()}
    th = bytes(32)
    shared = b(sec["ecdhe_shared_secret"])
    for call_binder in (False, True):
        early = KeyScheduleEarly(SUITE, b(sec["psk"]))
        if call_binder:
            early.binder_key(resumption=False)
        hs = early.into_handshake(shared)
        assert hs.client_handshake_traffic_secret(th) == derive_secret(
            "sha256", ks["handshake_secret"], b"c hs traffic", th
        )


@pytest.mark.parametrize("hash_name", ["sha256", "sha384"])
@pytest.mark.parametrize("label", [b"c hs traffic", b"res master", b"derived", b"custom label"])
@pytest.mark.parametrize("th_len", [32, 48, 0, 20, 255, 256])
def test_schedule_derive_matches_derive_secret(hash_name: str, label: bytes, th_len: int) -> None:
    """The schedules' Derive-Secret (a copy of the secret's keyed HMAC, the HkdfLabel from a
    table of prefixes) gives derive_secret's value or error for every label and hash length."""
    from cryptography.hazmat.primitives import hmac

    from tlspipe.crypto.hashing import hash_algorithm
    from tlspipe.errors import InternalError
    from tlspipe.keys.tls13 import _derive

    secret = bytes(range(1, 1 + (32 if hash_name == "sha256" else 48)))
    th = bytes(i % 256 for i in range(th_len))
    n = len(secret)

    def outcome(fn: Any, *args: Any) -> object:
        try:
            return fn(*args)
        except InternalError as e:
            return str(e)

    keyed = hmac.HMAC(secret, hash_algorithm(hash_name))
    assert outcome(_derive, keyed, label, th, n) == outcome(
        derive_secret, hash_name, secret, label, th
    )


@pytest.mark.parametrize(
    ("hash_name", "key_len"),
    [
        ("sha256", 16),
        ("sha256", 32),
        ("sha384", 32),
        ("sha384", 16),
        ("sha256", 24),
        ("sha384", 40),
        ("sha256", 33),
    ],
)
@pytest.mark.parametrize("secret_len", [32, 48, 8])
def test_traffic_keys_match_expand_label(hash_name: str, key_len: int, secret_len: int) -> None:
    """traffic_keys / traffic_keys_and_finished_key (one keyed HMAC, RFC key lengths) give
    HKDF-Expand-Label's key, IV and finished key for RFC and other key lengths and secrets."""
    from dataclasses import dataclass

    from tlspipe.crypto.provider import Tls13CipherSuite
    from tlspipe.keys.tls13 import traffic_keys_and_finished_key

    @dataclass(frozen=True)
    class _Aead:
        key_len: int

    suite = Tls13CipherSuite(SUITE.suite, hash_name, _Aead(key_len))  # type: ignore[arg-type]
    secret = bytes(range(7, 7 + secret_len))
    n = 32 if hash_name == "sha256" else 48
    key = hkdf_expand_label(hash_name, secret, b"key", b"", key_len)
    iv = hkdf_expand_label(hash_name, secret, b"iv", b"", 12)
    assert traffic_keys(suite, secret) == (key, iv)
    fk = hkdf_expand_label(hash_name, secret, b"finished", b"", n)
    assert traffic_keys_and_finished_key(suite, secret) == (key, iv, fk)
