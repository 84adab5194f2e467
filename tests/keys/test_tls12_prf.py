"""TLS 1.2 PRF, master secrets, key block, verify_data and RFC 5705 exporter."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, hmac

from tlspipe.crypto.default import (
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
)
from tlspipe.errors import DecryptError
from tlspipe.keys.tls12 import (
    export_keying_material,
    extended_master_secret,
    key_block,
    key_block_explicit_nonce_seed,
    log_master_secret,
    master_secret,
    prf,
    verify_data,
)

# The widely used TLS 1.2 PRF test vectors (IETF TLS WG list, msg03416).
PRF_SHA256 = (
    "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
    "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
    "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
    "87347b66"
)
PRF_SHA384 = (
    "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b123"
    "3c9146a0e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd"
    "4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a2"
    "6854308d5eaa3be85e0990703d73e56f"
)


def _hmac(alg: hashes.HashAlgorithm, key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, alg)
    h.update(data)
    return h.finalize()


def _reference_prf(alg: hashes.HashAlgorithm, secret: bytes, seed: bytes, n: int) -> bytes:
    """P_hash written out directly from RFC 5246 §5, for cross-checking."""
    out, a = b"", seed
    while len(out) < n:
        a = _hmac(alg, secret, a)
        out += _hmac(alg, secret, a + seed)
    return out[:n]


def test_prf_sha256_known_answer() -> None:
    out = prf(
        "sha256",
        bytes.fromhex("9bbe436ba940f017b17652849a71db35"),
        b"test label",
        bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"),
        100,
    )
    assert out.hex() == PRF_SHA256


def test_prf_sha384_known_answer() -> None:
    out = prf(
        "sha384",
        bytes.fromhex("b80b733d6ceefcdc71566ea48e5567df"),
        b"test label",
        bytes.fromhex("cd665cf6a8447dd6ff8b27555edb7465"),
        148,
    )
    assert out.hex() == PRF_SHA384


def test_prf_matches_reference_for_many_lengths() -> None:
    for n in (0, 1, 31, 32, 33, 48, 64, 100, 200):
        for name, alg in (("sha256", hashes.SHA256()), ("sha384", hashes.SHA384())):
            assert prf(name, b"s" * 20, b"lbl", b"seed", n) == _reference_prf(
                alg, b"s" * 20, b"lblseed", n
            )


def test_master_secrets() -> None:
    pms, cr, sr = bytes(range(48)), b"\x01" * 32, b"\x02" * 32
    ms = master_secret("sha256", pms, cr, sr)
    assert len(ms) == 48
    assert ms == _reference_prf(hashes.SHA256(), pms, b"master secret" + cr + sr, 48)
    session_hash = b"\x03" * 32
    ems = extended_master_secret("sha256", pms, session_hash)
    assert ems == _reference_prf(hashes.SHA256(), pms, b"extended master secret" + session_hash, 48)
    assert ems != ms
    ems384 = extended_master_secret("sha384", pms, b"\x03" * 48)
    assert ems384 == _reference_prf(
        hashes.SHA384(), pms, b"extended master secret" + b"\x03" * 48, 48
    )


def test_key_block_split() -> None:
    ms, cr, sr = b"\x07" * 48, b"\x01" * 32, b"\x02" * 32
    # AES-128-GCM: 16+16+4+4, then 8 seed bytes; seed is server_random + client_random
    ref = _reference_prf(hashes.SHA256(), ms, b"key expansion" + sr + cr, 48)
    ck, sk, civ, siv = key_block(TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ms, cr, sr)
    assert (ck, sk, civ, siv) == (ref[:16], ref[16:32], ref[32:36], ref[36:40])
    assert (
        key_block_explicit_nonce_seed(TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ms, cr, sr)
        == (ref[40:48])
    )
    # AES-256-GCM with SHA-384
    ref = _reference_prf(hashes.SHA384(), ms, b"key expansion" + sr + cr, 80)
    ck, sk, civ, siv = key_block(TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, ms, cr, sr)
    assert (ck, sk, civ, siv) == (ref[:32], ref[32:64], ref[64:68], ref[68:72])
    # ChaCha20-Poly1305: 32+32+12+12
    ref = _reference_prf(hashes.SHA256(), ms, b"key expansion" + sr + cr, 88)
    ck, sk, civ, siv = key_block(TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, ms, cr, sr)
    assert (ck, sk, civ, siv) == (ref[:32], ref[32:64], ref[64:76], ref[76:88])


def test_verify_data() -> None:
    ms, h = b"\x05" * 48, b"\x06" * 32
    vd = verify_data("sha256", ms, b"client finished", h)
    assert len(vd) == 12
    assert vd == _reference_prf(hashes.SHA256(), ms, b"client finished" + h, 12)
    assert vd != verify_data("sha256", ms, b"server finished", h)


def test_exporter_rfc5705() -> None:
    ms, cr, sr = b"\x09" * 48, b"\x01" * 32, b"\x02" * 32
    no_ctx = export_keying_material("sha256", ms, b"EXPORTER-test", cr, sr, None, 40)
    assert no_ctx == _reference_prf(hashes.SHA256(), ms, b"EXPORTER-test" + cr + sr, 40)
    empty_ctx = export_keying_material("sha256", ms, b"EXPORTER-test", cr, sr, b"", 40)
    assert empty_ctx == _reference_prf(
        hashes.SHA256(), ms, b"EXPORTER-test" + cr + sr + b"\x00\x00", 40
    )
    assert empty_ctx != no_ctx
    ctx = export_keying_material("sha256", ms, b"EXPORTER-test", cr, sr, b"abc", 16)
    assert ctx == _reference_prf(
        hashes.SHA256(), ms, b"EXPORTER-test" + cr + sr + b"\x00\x03abc", 16
    )


def test_log_master_secret() -> None:
    got: list[tuple[str, bytes, bytes]] = []

    class KL:
        def will_log(self, label: str) -> bool:
            return True

        def log(self, label: str, client_random: bytes, secret: bytes) -> None:
            got.append((label, client_random, secret))

    log_master_secret(KL(), b"\x01" * 32, b"\x02" * 48)
    assert got == [("CLIENT_RANDOM", b"\x01" * 32, b"\x02" * 48)]


def test_connection_secrets_keyed_once_same_values() -> None:
    """ConnectionSecrets keys the PRF's HMAC once and splits the key block once; every value
    it hands out equals the stand-alone functions', however often and in whatever order it
    is asked (both directions, both Finished values, repeated)."""
    from tlspipe.keys.tls12 import p_hash, prf_key
    from tlspipe.record.deframer import Deframer
    from tlspipe.tls12common import ConnectionSecrets

    ms, cr, sr, h = b"\x07" * 48, b"\x01" * 32, b"\x02" * 32, b"\x06" * 32
    for suite in (
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ):
        keyed = prf_key(suite.hash_name, ms)
        assert p_hash(keyed, b"key expansion" + sr + cr, 40) == prf(
            suite.hash_name, ms, b"key expansion", sr + cr, 40
        )
        assert p_hash(keyed, b"x", 1) == prf(suite.hash_name, ms, b"x", b"", 1)  # unchanged
        assert p_hash(keyed, b"x", 0) == p_hash(keyed, b"x", -5) == b""  # no output, no key
        cs = ConnectionSecrets(suite, ms, cr, sr, True)
        for _ in range(2):
            for client in (True, False):
                label = b"client finished" if client else b"server finished"
                assert cs.verify_data(client, h) == verify_data(suite.hash_name, ms, label, h)
        ck, sk, civ, siv = key_block(suite, ms, cr, sr)
        seed = key_block_explicit_nonce_seed(suite, ms, cr, sr)
        assert cs._keys() == (ck, sk, civ, siv, seed)
        assert cs._keys() is cs._keys()  # split once
        assert "07" * 8 not in repr(cs)
        # a record each direction seals opens with that direction's decrypter, not the other's
        for client in (True, False):
            wire = cs.encrypter(client).encrypt(23, b"hello", 5)
            d = Deframer()
            d.feed(wire)
            rec = d.pop()
            assert rec is not None
            assert cs.decrypter(client).decrypt(rec, 5) == (23, b"hello")
            with pytest.raises(DecryptError):
                cs.decrypter(not client).decrypt(rec, 5)
