"""Handshake signature verification (TLS 1.2 and 1.3 rules) through the verifiers."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from verify_pki import PrivateKey, der, make_cert, make_pki

from tlspipe.enums import AlertDescription, SignatureScheme
from tlspipe.errors import CertificateReason, InvalidCertificate, PeerMisbehaved
from tlspipe.verify.base import (
    DEFAULT_VERIFY_SCHEMES,
    HandshakeSignatureValid,
    verify_tls12_signature,
    verify_tls13_signature,
)
from tlspipe.verify.roots import RootCertStore
from tlspipe.verify.webpki import WebPkiClientVerifier, WebPkiServerVerifier

S = SignatureScheme
MSG = b" " * 64 + b"TLS 1.3, server CertificateVerify\x00" + bytes(range(32))


class Keys:
    def __init__(self) -> None:
        self.p256 = ec.generate_private_key(ec.SECP256R1())
        self.p384 = ec.generate_private_key(ec.SECP384R1())
        self.ed25519 = ed25519.Ed25519PrivateKey.generate()
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.certs: dict[str, bytes] = {
            name: der(make_cert(subject=name, key=getattr(self, name)))
            for name in ("p256", "p384", "ed25519", "rsa")
        }


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


_HASH = {
    S.ecdsa_secp256r1_sha256: hashes.SHA256,
    S.ecdsa_secp384r1_sha384: hashes.SHA384,
    S.ecdsa_secp521r1_sha512: hashes.SHA512,
    S.rsa_pss_rsae_sha256: hashes.SHA256,
    S.rsa_pss_rsae_sha384: hashes.SHA384,
    S.rsa_pss_rsae_sha512: hashes.SHA512,
    S.rsa_pkcs1_sha256: hashes.SHA256,
    S.rsa_pkcs1_sha384: hashes.SHA384,
    S.rsa_pkcs1_sha512: hashes.SHA512,
    S.rsa_pkcs1_sha1: hashes.SHA1,
    S.ecdsa_sha1: hashes.SHA1,
}


def sign(key: PrivateKey, scheme: SignatureScheme, msg: bytes = MSG) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(msg)
    h = _HASH[scheme]()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(msg, ec.ECDSA(h))
    if scheme.name.startswith("rsa_pss"):
        pss = padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.DIGEST_LENGTH)
        return key.sign(msg, pss, h)
    return key.sign(msg, padding.PKCS1v15(), h)


BOTH = [
    ("p256", S.ecdsa_secp256r1_sha256),
    ("p384", S.ecdsa_secp384r1_sha384),
    ("ed25519", S.ed25519),
    ("rsa", S.rsa_pss_rsae_sha256),
    ("rsa", S.rsa_pss_rsae_sha384),
    ("rsa", S.rsa_pss_rsae_sha512),
]


@pytest.mark.parametrize(("key", "scheme"), BOTH)
def test_valid_both_versions(keys: Keys, key: str, scheme: SignatureScheme) -> None:
    sig = sign(getattr(keys, key), scheme)
    cert = keys.certs[key]
    assert isinstance(verify_tls13_signature(MSG, cert, scheme, sig), HandshakeSignatureValid)
    assert isinstance(verify_tls12_signature(MSG, cert, scheme, sig), HandshakeSignatureValid)


@pytest.mark.parametrize("scheme", [S.rsa_pkcs1_sha256, S.rsa_pkcs1_sha384, S.rsa_pkcs1_sha512])
def test_pkcs1_tls12_only(keys: Keys, scheme: SignatureScheme) -> None:
    sig = sign(keys.rsa, scheme)
    verify_tls12_signature(MSG, keys.certs["rsa"], scheme, sig)
    with pytest.raises(PeerMisbehaved) as ei:
        verify_tls13_signature(MSG, keys.certs["rsa"], scheme, sig)
    assert ei.value.alert is AlertDescription.illegal_parameter


@pytest.mark.parametrize(("key", "scheme"), [("rsa", S.rsa_pkcs1_sha1), ("p256", S.ecdsa_sha1)])
def test_sha1_refused(keys: Keys, key: str, scheme: SignatureScheme) -> None:
    sig = sign(getattr(keys, key), scheme)
    for fn in (verify_tls12_signature, verify_tls13_signature):
        with pytest.raises(PeerMisbehaved) as ei:
            fn(MSG, keys.certs[key], scheme, sig)
        assert ei.value.alert is AlertDescription.illegal_parameter


def test_ecdsa_curve_binding(keys: Keys) -> None:
    # P-256 key signing with SHA-384 under the P-384 scheme: fine in 1.2, illegal in 1.3.
    sig = sign(keys.p256, S.ecdsa_secp384r1_sha384)
    verify_tls12_signature(MSG, keys.certs["p256"], S.ecdsa_secp384r1_sha384, sig)
    with pytest.raises(PeerMisbehaved) as ei:
        verify_tls13_signature(MSG, keys.certs["p256"], S.ecdsa_secp384r1_sha384, sig)
    assert ei.value.alert is AlertDescription.illegal_parameter


@pytest.mark.parametrize(
    ("key", "scheme"),
    [
        ("p256", S.rsa_pss_rsae_sha256),
        ("rsa", S.ecdsa_secp256r1_sha256),
        ("rsa", S.ed25519),
        ("ed25519", S.ecdsa_secp256r1_sha256),
        ("p256", S.ed25519),
    ],
)
def test_scheme_key_mismatch(keys: Keys, key: str, scheme: SignatureScheme) -> None:
    for fn in (verify_tls12_signature, verify_tls13_signature):
        with pytest.raises(PeerMisbehaved) as ei:
            fn(MSG, keys.certs[key], scheme, b"\x00" * 64)
        assert ei.value.alert is AlertDescription.illegal_parameter


@pytest.mark.parametrize("scheme", [0x0000, 0xFFFF, S.rsa_pss_pss_sha256, S.ed448])
def test_unknown_scheme(keys: Keys, scheme: int) -> None:
    with pytest.raises(PeerMisbehaved) as ei:
        verify_tls13_signature(MSG, keys.certs["rsa"], scheme, b"\x00" * 256)
    assert ei.value.alert is AlertDescription.illegal_parameter


@pytest.mark.parametrize(("key", "scheme"), [*BOTH, ("rsa", S.rsa_pkcs1_sha256)])
def test_bad_signature_is_decrypt_error(keys: Keys, key: str, scheme: SignatureScheme) -> None:
    sig = sign(getattr(keys, key), scheme)
    cert = keys.certs[key]
    fns = [verify_tls12_signature]
    if scheme != S.rsa_pkcs1_sha256:
        fns.append(verify_tls13_signature)
    bad_inputs = [
        (MSG + b"x", sig),  # other message
        (MSG, sig[:-1] + bytes([sig[-1] ^ 1])),  # flipped bit
        (MSG, b""),  # empty
        (MSG, b"\x30\x00"),  # malformed DER for ECDSA
    ]
    for fn in fns:
        for msg, s in bad_inputs:
            with pytest.raises(PeerMisbehaved) as ei:
                fn(msg, cert, scheme, s)
            assert ei.value.alert is AlertDescription.decrypt_error


def test_signature_from_other_key(keys: Keys) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    sig = sign(other, S.ecdsa_secp256r1_sha256)
    with pytest.raises(PeerMisbehaved) as ei:
        verify_tls13_signature(MSG, keys.certs["p256"], S.ecdsa_secp256r1_sha256, sig)
    assert ei.value.alert is AlertDescription.decrypt_error


def test_garbage_cert(keys: Keys) -> None:
    with pytest.raises(InvalidCertificate) as ei:
        verify_tls13_signature(MSG, b"garbage", S.ed25519, b"")
    assert ei.value.reason is CertificateReason.BAD_ENCODING


def test_verifier_methods_and_offered_schemes(keys: Keys) -> None:
    pki = make_pki()
    roots = RootCertStore()
    roots.add_der(der(pki.root))
    sig = sign(keys.p256, S.ecdsa_secp256r1_sha256)
    cert = keys.certs["p256"]
    for v in (WebPkiServerVerifier(roots), WebPkiClientVerifier(roots)):
        assert v.supported_verify_schemes() == DEFAULT_VERIFY_SCHEMES
        v.verify_tls13_signature(MSG, cert, S.ecdsa_secp256r1_sha256, sig)
        v.verify_tls12_signature(MSG, cert, S.ecdsa_secp256r1_sha256, sig)
    only_ed = WebPkiServerVerifier(roots, schemes=[S.ed25519])
    assert only_ed.supported_verify_schemes() == (S.ed25519,)
    with pytest.raises(PeerMisbehaved) as ei:
        only_ed.verify_tls13_signature(MSG, cert, S.ecdsa_secp256r1_sha256, sig)
    assert ei.value.alert is AlertDescription.illegal_parameter


def test_default_schemes_sane() -> None:
    assert S.rsa_pkcs1_sha1 not in DEFAULT_VERIFY_SCHEMES
    assert S.ecdsa_sha1 not in DEFAULT_VERIFY_SCHEMES
    assert S.ed25519 in DEFAULT_VERIFY_SCHEMES
    assert S.rsa_pss_rsae_sha256 in DEFAULT_VERIFY_SCHEMES
