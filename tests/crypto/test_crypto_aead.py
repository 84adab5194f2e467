"""AEAD wrappers, limits, the default provider and the hashing helpers."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from tlspipe.crypto.aead import AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305, AeadCipher
from tlspipe.crypto.default import (
    ALL_CIPHER_SUITES,
    ALL_KX_GROUPS,
    TLS13_AES_256_GCM_SHA384,
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    default_provider,
)
from tlspipe.crypto.hashing import (
    hash_len,
    hash_of,
    hkdf_expand,
    hkdf_extract,
    hmac_sign,
)
from tlspipe.crypto.provider import Tls12CipherSuite, Tls13CipherSuite
from tlspipe.enums import CipherSuite, NamedGroup
from tlspipe.errors import DecryptError, InternalError

ALGS = [AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305]


@pytest.mark.parametrize("alg", ALGS, ids=lambda a: a.name)
def test_seal_open(alg: AeadCipher) -> None:
    key = bytes(range(alg.key_len))
    aead = alg.new(key)
    nonce, aad = b"\x01" * 12, b"\x17\x03\x03\x00\x20"
    ct = aead.seal(nonce, aad, b"hello world")
    assert len(ct) == 11 + alg.tag_len == 11 + 16
    assert aead.open(nonce, aad, ct) == b"hello world"
    assert aead.open(nonce, aad, memoryview(ct)) == b"hello world"
    assert aead.seal(nonce, aad, memoryview(b"hello world")) == ct
    # same as cryptography directly
    ref = (ChaCha20Poly1305 if alg is CHACHA20_POLY1305 else AESGCM)(key)
    assert ct == ref.encrypt(nonce, b"hello world", aad)
    for bad_ct, bad_aad, bad_nonce in (
        (ct[:-1] + bytes([ct[-1] ^ 1]), aad, nonce),
        (ct, aad + b"x", nonce),
        (ct, aad, b"\x02" * 12),
        (ct[:15], aad, nonce),
        (b"", aad, nonce),
    ):
        with pytest.raises(DecryptError):
            aead.open(bad_nonce, bad_aad, bad_ct)
    assert key.hex() not in repr(aead) and "hidden" in repr(aead)
    with pytest.raises(InternalError):
        alg.new(key[:-1])


def test_limits() -> None:
    assert AES_128_GCM.confidentiality_limit == AES_256_GCM.confidentiality_limit == 2**24
    assert AES_128_GCM.integrity_limit == 2**36
    assert CHACHA20_POLY1305.confidentiality_limit == 2**62
    assert CHACHA20_POLY1305.integrity_limit == 2**36


def test_default_provider() -> None:
    p = default_provider()
    assert {s.suite for s in p.cipher_suites} == {
        CipherSuite.TLS13_AES_128_GCM_SHA256,
        CipherSuite.TLS13_AES_256_GCM_SHA384,
        CipherSuite.TLS13_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    }
    assert p.cipher_suites == ALL_CIPHER_SUITES
    # The hybrid is implemented but opt-in: the default offers X25519 first.
    assert [g.name for g in p.kx_groups] == [
        NamedGroup.x25519,
        NamedGroup.secp256r1,
        NamedGroup.secp384r1,
    ]
    assert NamedGroup.X25519MLKEM768 in {g.name for g in ALL_KX_GROUPS}
    x = p.find_kx_group(0x001D)
    assert x is not None and x.name == NamedGroup.x25519
    assert p.find_kx_group(0x0019) is None
    assert p.find_cipher_suite(0x1302) is TLS13_AES_256_GCM_SHA384
    assert p.find_cipher_suite(0x0000) is None
    assert len(p.secure_random(32)) == 32 and p.secure_random(16) != p.secure_random(16)
    for s in p.cipher_suites:
        if isinstance(s, Tls13CipherSuite):
            assert s.iv_len == 12
            assert s.hash_len == (48 if s.hash_name == "sha384" else 32)
        else:
            assert isinstance(s, Tls12CipherSuite)
            if s.aead is CHACHA20_POLY1305:
                assert (s.fixed_iv_len, s.explicit_nonce_len) == (12, 0)
            else:
                assert (s.fixed_iv_len, s.explicit_nonce_len) == (4, 8)
            assert s.sign in ("ECDSA", "RSA")
    assert TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256.sign == "RSA"


def test_hashing_rfc5869_case1() -> None:
    # RFC 5869 Appendix A.1
    ikm = bytes.fromhex("0b" * 22)
    salt = bytes.fromhex("000102030405060708090a0b0c")
    info = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    prk = hkdf_extract("sha256", salt, ikm)
    assert prk.hex() == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
    okm = hkdf_expand("sha256", prk, info, 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
    # empty salt = HashLen zeros (RFC 5869 §2.2)
    assert hkdf_extract("sha256", b"", ikm) == hmac_sign("sha256", bytes(32), ikm)
    assert hkdf_extract("sha384", None, ikm) == hmac_sign("sha384", bytes(48), ikm)
    assert hash_len("sha384") == 48
    assert hash_of("sha256", b"").hex().startswith("e3b0c442")
    with pytest.raises(InternalError):
        hash_len("md5")
    with pytest.raises(InternalError):
        hkdf_expand("sha256", prk, b"", 255 * 32 + 1)
