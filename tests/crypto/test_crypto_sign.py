"""Signing keys, schemes, verification, key/certificate loading, CertifiedKey."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID

from tlspipe.crypto.provider import SigningKey, tls13_ok, tls13_schemes
from tlspipe.crypto.sign import (
    SUPPORTED_SIGNATURE_SCHEMES,
    CertifiedKey,
    load_certificate_chain,
    load_private_key,
    signing_key_from_cryptography,
    verify_signature,
)
from tlspipe.enums import AlertDescription
from tlspipe.enums import SignatureScheme as S
from tlspipe.errors import ConfigError, PeerMisbehaved

VECTORS = Path("/work/shared/vectors/rfc8448.json")

ALL = list(S)


@pytest.fixture(scope="module")
def keys() -> dict[str, PrivateKeyTypes]:
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
    }


SCHEME_KEY = {
    S.ecdsa_secp256r1_sha256: "p256",
    S.ecdsa_secp384r1_sha384: "p384",
    S.ed25519: "ed25519",
    S.rsa_pss_rsae_sha256: "rsa",
    S.rsa_pss_rsae_sha384: "rsa",
    S.rsa_pss_rsae_sha512: "rsa",
    S.rsa_pkcs1_sha256: "rsa",
    S.rsa_pkcs1_sha384: "rsa",
    S.rsa_pkcs1_sha512: "rsa",
}


@pytest.mark.parametrize("scheme", list(SCHEME_KEY), ids=lambda s: s.name)
def test_sign_then_verify(scheme: S, keys: dict[str, PrivateKeyTypes]) -> None:
    priv = keys[SCHEME_KEY[scheme]]
    sk = signing_key_from_cryptography(priv)
    signer = sk.choose_scheme([scheme])
    assert signer is not None and signer.scheme == scheme
    msg = b"\x20" * 64 + b"TLS 1.3, server CertificateVerify\x00" + b"h" * 32
    sig = signer.sign(msg)
    pub = sk.public_key()
    verify_signature(pub, scheme, msg, sig)
    if tls13_ok(scheme):
        verify_signature(pub, scheme, msg, sig, tls13=True)
    else:
        with pytest.raises(PeerMisbehaved) as ei:
            verify_signature(pub, scheme, msg, sig, tls13=True)
        assert ei.value.alert == AlertDescription.illegal_parameter
    # altered message / signature -> decrypt_error
    with pytest.raises(PeerMisbehaved) as ei:
        verify_signature(pub, scheme, msg + b"x", sig)
    assert ei.value.alert == AlertDescription.decrypt_error
    with pytest.raises(PeerMisbehaved) as ei:
        verify_signature(pub, scheme, msg, sig[:-1] + bytes([sig[-1] ^ 1]))
    assert ei.value.alert == AlertDescription.decrypt_error
    with pytest.raises(PeerMisbehaved) as ei:
        verify_signature(pub, scheme, msg, b"")
    assert ei.value.alert == AlertDescription.decrypt_error
    # every other key type is refused with illegal_parameter
    for name, other in keys.items():
        if name == SCHEME_KEY[scheme] or (name.startswith("p") and SCHEME_KEY[scheme][0] == "p"):
            continue
        with pytest.raises(PeerMisbehaved) as ei:
            verify_signature(other.public_key(), scheme, msg, sig)  # type: ignore[union-attr]
        assert ei.value.alert == AlertDescription.illegal_parameter


def test_ecdsa_curve_binding(keys: dict[str, PrivateKeyTypes]) -> None:
    p384 = signing_key_from_cryptography(keys["p384"])
    # a P-384 key cannot sign with the P-256 scheme
    assert p384.choose_scheme([S.ecdsa_secp256r1_sha256]) is None
    k = keys["p384"]
    assert isinstance(k, ec.EllipticCurvePrivateKey)
    sig = k.sign(b"m", ec.ECDSA(hashes.SHA256()))
    # TLS 1.3: scheme binds the curve
    with pytest.raises(PeerMisbehaved) as ei:
        verify_signature(k.public_key(), S.ecdsa_secp256r1_sha256, b"m", sig, tls13=True)
    assert ei.value.alert == AlertDescription.illegal_parameter
    # TLS 1.2: the scheme names only the hash
    verify_signature(k.public_key(), S.ecdsa_secp256r1_sha256, b"m", sig)


def test_unsupported_schemes_rejected(keys: dict[str, PrivateKeyTypes]) -> None:
    pub = keys["rsa"].public_key()  # type: ignore[union-attr]
    for scheme in (S.rsa_pss_pss_sha256, S.rsa_pkcs1_sha1, S.ed448, 0x1234):
        with pytest.raises(PeerMisbehaved) as ei:
            verify_signature(pub, scheme, b"m", b"s")
        assert ei.value.alert == AlertDescription.illegal_parameter


def test_choose_scheme_preferences(keys: dict[str, PrivateKeyTypes]) -> None:
    rsa_key = signing_key_from_cryptography(keys["rsa"])
    assert rsa_key.algorithm == "RSA"
    s = rsa_key.choose_scheme(ALL)
    assert s is not None and s.scheme == S.rsa_pss_rsae_sha512
    s = rsa_key.choose_scheme([S.rsa_pkcs1_sha512, S.rsa_pss_rsae_sha256])
    assert s is not None and s.scheme == S.rsa_pss_rsae_sha256
    s = rsa_key.choose_scheme([S.rsa_pkcs1_sha384, S.rsa_pkcs1_sha256])
    assert s is not None and s.scheme == S.rsa_pkcs1_sha384
    assert rsa_key.choose_scheme([S.rsa_pkcs1_sha256], tls13=True) is None
    assert rsa_key.choose_scheme([S.ecdsa_secp256r1_sha256, S.ed25519]) is None
    assert rsa_key.choose_scheme([]) is None

    p256 = signing_key_from_cryptography(keys["p256"])
    assert p256.algorithm == "ECDSA"
    s = p256.choose_scheme(ALL, tls13=True)
    assert s is not None and s.scheme == S.ecdsa_secp256r1_sha256
    assert p256.choose_scheme([S.ecdsa_secp384r1_sha384, S.rsa_pss_rsae_sha256]) is None

    ed = signing_key_from_cryptography(keys["ed25519"])
    assert ed.algorithm == "ED25519"
    s = ed.choose_scheme([0xFFFF, S.ed25519])
    assert s is not None and s.scheme == S.ed25519
    assert ed.choose_scheme([S.ed448]) is None


def test_tls13_helpers() -> None:
    assert not tls13_ok(S.rsa_pkcs1_sha256)
    assert not tls13_ok(S.ecdsa_sha1)
    assert tls13_ok(S.rsa_pss_rsae_sha256)
    assert tls13_schemes(SUPPORTED_SIGNATURE_SCHEMES) == (
        S.ecdsa_secp384r1_sha384,
        S.ecdsa_secp256r1_sha256,
        S.ed25519,
        S.rsa_pss_rsae_sha512,
        S.rsa_pss_rsae_sha384,
        S.rsa_pss_rsae_sha256,
    )


def test_repr_hides_keys(keys: dict[str, PrivateKeyTypes]) -> None:
    for k in keys.values():
        sk = signing_key_from_cryptography(k)
        signer = sk.choose_scheme(ALL)
        assert "key=" not in repr(sk)
        assert "_key" not in repr(signer)


# ------------------------------------------------------------------------------ loading


def _encodings(priv: PrivateKeyTypes) -> dict[str, bytes]:
    E, F, N = serialization.Encoding, serialization.PrivateFormat, serialization.NoEncryption()
    out = {
        "pkcs8-pem": priv.private_bytes(E.PEM, F.PKCS8, N),
        "pkcs8-der": priv.private_bytes(E.DER, F.PKCS8, N),
    }
    if not isinstance(priv, ed25519.Ed25519PrivateKey):
        out["trad-pem"] = priv.private_bytes(E.PEM, F.TraditionalOpenSSL, N)  # PKCS#1 / SEC1
        out["trad-der"] = priv.private_bytes(E.DER, F.TraditionalOpenSSL, N)
    return out


@pytest.mark.parametrize("name", ["rsa", "p256", "p384", "ed25519"])
def test_load_private_key_forms(name: str, keys: dict[str, PrivateKeyTypes]) -> None:
    priv = keys[name]
    want = priv.public_key().public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for form, data in _encodings(priv).items():
        sk = load_private_key(data)
        got = sk.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert got == want, form
    # PEM with surrounding text
    pem = _encodings(priv)["pkcs8-pem"]
    load_private_key(b"junk\n" + pem + b"trailing\n")


def test_load_private_key_rejects(keys: dict[str, PrivateKeyTypes]) -> None:
    priv = keys["p256"]
    E, F = serialization.Encoding, serialization.PrivateFormat
    enc = serialization.BestAvailableEncryption(b"pw")
    for data in (
        priv.private_bytes(E.PEM, F.PKCS8, enc),
        priv.private_bytes(E.DER, F.PKCS8, enc),
        priv.private_bytes(E.PEM, F.TraditionalOpenSSL, enc),
        b"",
        b"not a key",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
    ):
        with pytest.raises(ConfigError):
            load_private_key(data)
    # unsupported key types
    for other in (ed448.Ed448PrivateKey.generate(), ec.generate_private_key(ec.SECP256K1())):
        der = other.private_bytes(E.DER, F.PKCS8, serialization.NoEncryption())
        with pytest.raises(ConfigError):
            load_private_key(der)


def _self_signed(priv: PrivateKeyTypes, cn: str = "test") -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    algo = None if isinstance(priv, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(priv.public_key())  # type: ignore[arg-type,union-attr]
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(priv, algo)  # type: ignore[arg-type]
    )


def test_certified_key(keys: dict[str, PrivateKeyTypes]) -> None:
    E = serialization.Encoding
    leaf = _self_signed(keys["p256"], "leaf")
    ca = _self_signed(keys["rsa"], "ca")
    chain_pem = leaf.public_bytes(E.PEM) + ca.public_bytes(E.PEM)
    key_pem = keys["p256"].private_bytes(
        E.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ck = CertifiedKey.from_pem(chain_pem, key_pem)
    assert ck.cert_chain == (leaf.public_bytes(E.DER), ca.public_bytes(E.DER))
    assert ck.end_entity == leaf.public_bytes(E.DER)
    assert ck.key.algorithm == "ECDSA"
    assert "BEGIN" not in repr(ck) and "key=" not in repr(ck)
    # DER single certificate works too
    assert load_certificate_chain(leaf.public_bytes(E.DER)) == [leaf.public_bytes(E.DER)]
    # mismatching key
    other_pem = keys["p384"].private_bytes(
        E.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ConfigError):
        CertifiedKey.from_pem(chain_pem, other_pem)
    with pytest.raises(ConfigError):
        CertifiedKey.from_pem(b"", key_pem)
    with pytest.raises(ConfigError):
        CertifiedKey.from_pem(b"garbage", key_pem)
    with pytest.raises(ConfigError):
        CertifiedKey((), ck.key).check_key_matches()
    ed = _self_signed(keys["ed25519"])
    ck2 = CertifiedKey.from_pem(
        ed.public_bytes(E.PEM),
        keys["ed25519"].private_bytes(
            E.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        ocsp=b"resp",
    )
    assert ck2.ocsp == b"resp"


# ------------------------------------------------------------------------------ RFC 8448


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(VECTORS.read_text())


def test_rfc8448_rsa_key_loads(doc: dict[str, Any]) -> None:
    rk = doc["server_rsa_key"]
    spki = bytes.fromhex(rk["public_key_spki_der"])
    for form in ("private_key_pkcs1_der", "private_key_pkcs8_der"):
        sk: SigningKey = load_private_key(bytes.fromhex(rk[form]))
        assert sk.algorithm == "RSA"
        got = sk.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert got == spki
        pub = sk.public_key()
        assert isinstance(pub, rsa.RSAPublicKey)
        assert pub.public_numbers().n == int(rk["n"], 16)


@pytest.mark.parametrize("section", ["simple_1rtt", "hello_retry_request"])
def test_rfc8448_certificate_verify(doc: dict[str, Any], section: str) -> None:
    sec = doc[section]
    m = sec["handshake_messages"]
    cert_der = bytes.fromhex(doc["simple_1rtt"]["server_certificate_der"])
    pub = x509.load_der_x509_certificate(cert_der).public_key()
    # transcript up to Certificate: sum of the messages before CertificateVerify
    from tlspipe.keys.transcript import Transcript

    t = Transcript()
    if section == "simple_1rtt":
        names = ["client_hello", "server_hello", "encrypted_extensions", "certificate"]
        for n in names:
            t.add(bytes.fromhex(m[n]))
        t.start_hash("sha256")
        assert t.current_hash().hex() == sec["transcript_hashes"]["client_hello..certificate"]
    else:
        t.add(bytes.fromhex(m["client_hello_1"]))
        t.start_hash("sha256")
        t.rollup_for_hrr()
        for n in (
            "hello_retry_request",
            "client_hello_2",
            "server_hello",
            "encrypted_extensions",
            "certificate",
        ):
            t.add(bytes.fromhex(m[n]))
    cv = bytes.fromhex(m["certificate_verify"])
    assert cv[4:6] == b"\x08\x04"
    sig = cv[8 : 8 + int.from_bytes(cv[6:8], "big")]
    content = b" " * 64 + b"TLS 1.3, server CertificateVerify\x00" + t.current_hash()
    verify_signature(pub, S.rsa_pss_rsae_sha256, content, sig, tls13=True)
    with pytest.raises(PeerMisbehaved):
        verify_signature(pub, S.rsa_pss_rsae_sha384, content, sig, tls13=True)
    # and the chain loads as DER, matching the RFC key
    rk = doc["server_rsa_key"]
    ck = CertifiedKey((cert_der,), load_private_key(bytes.fromhex(rk["private_key_pkcs8_der"])))
    ck.check_key_matches()
    signer = ck.key.choose_scheme([S.rsa_pss_rsae_sha256], tls13=True)
    assert signer is not None
    verify_signature(pub, S.rsa_pss_rsae_sha256, b"x", signer.sign(b"x"), tls13=True)
