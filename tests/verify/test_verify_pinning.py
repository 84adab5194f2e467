"""spki_sha256 / spki_der / PinSet: pins pass and fail, DER robustness, openssl cross-check."""

from __future__ import annotations

import base64
import hashlib
import random
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from verify_pki import Pki, der, make_cert, make_pki, p256, pem

from tlspipe.enums import AlertDescription
from tlspipe.errors import CertificateReason, ConfigError, InvalidCertificate, alert_for
from tlspipe.verify.pinning import PinSet, spki_der, spki_sha256


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def chain(p: Pki) -> list[bytes]:
    return [der(p.leaf), der(p.inter), der(p.root)]


def test_spki_matches_cryptography_encoding() -> None:
    for key in (
        p256(),
        rsa.generate_private_key(65537, 2048),
        ed25519.Ed25519PrivateKey.generate(),
    ):
        cert = make_cert(subject="k", key=key)
        expected = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert spki_der(der(cert)) == expected
        assert spki_sha256(der(cert)) == hashlib.sha256(expected).digest()


def test_spki_matches_openssl(pki: Pki) -> None:
    pub = subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout"],
        input=pem(pki.leaf),
        capture_output=True,
        check=True,
        timeout=20,
    ).stdout
    spki = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"],
        input=pub,
        capture_output=True,
        check=True,
        timeout=20,
    ).stdout
    assert spki_sha256(der(pki.leaf)) == hashlib.sha256(spki).digest()


def test_pin_leaf(pki: Pki) -> None:
    pins = PinSet([spki_sha256(der(pki.leaf))])
    pins.check(chain(pki))
    PinSet([spki_sha256(der(pki.leaf))], scope="end_entity").check(chain(pki))
    assert pins.matches(der(pki.leaf)) and not pins.matches(der(pki.root))


def test_pin_intermediate_or_root(pki: Pki) -> None:
    for cert in (pki.inter, pki.root):
        pins = PinSet([b"\x00" * 32, spki_sha256(der(cert))])
        pins.check(chain(pki))
        with pytest.raises(InvalidCertificate) as ei:
            PinSet([spki_sha256(der(cert))], scope="end_entity").check(chain(pki))
        assert ei.value.reason is CertificateReason.PIN_MISMATCH
        assert "end-entity key is not one of the 1" in str(ei.value)


def test_pin_mismatch(pki: Pki) -> None:
    other = make_pki()
    pins = PinSet([spki_sha256(der(other.leaf)), spki_sha256(der(other.root))])
    with pytest.raises(InvalidCertificate) as ei:
        pins.check(chain(pki))
    assert ei.value.reason is CertificateReason.PIN_MISMATCH
    assert alert_for(ei.value) is AlertDescription.bad_certificate
    assert "no key of the chain is one of the 2" in str(ei.value)
    # same subject names, different keys: pins are about keys
    with pytest.raises(InvalidCertificate):
        PinSet([spki_sha256(der(pki.leaf))]).check([der(other.leaf)])
    with pytest.raises(InvalidCertificate) as ei:
        pins.check([])
    assert ei.value.reason is CertificateReason.PIN_MISMATCH


def test_same_key_reissued_still_matches(pki: Pki) -> None:
    again = make_cert(
        subject="example.com", key=pki.leaf_key, issuer=pki.inter, issuer_key=pki.inter_key
    )
    assert der(again) != der(pki.leaf)
    PinSet([spki_sha256(der(pki.leaf))], scope="end_entity").check([der(again)])


def test_from_base64(pki: Pki) -> None:
    b64 = base64.b64encode(spki_sha256(der(pki.inter))).decode()
    PinSet.from_base64([f"sha256/{b64}"]).check(chain(pki))
    PinSet.from_base64([b64, " " + b64 + " "]).check(chain(pki))
    with pytest.raises(ConfigError):
        PinSet.from_base64(["not base64!"])
    with pytest.raises(ConfigError):
        PinSet.from_base64([base64.b64encode(b"short").decode()])


def test_config_errors() -> None:
    with pytest.raises(ConfigError):
        PinSet([])
    with pytest.raises(ConfigError):
        PinSet([b"\x01" * 31])
    with pytest.raises(ConfigError):
        PinSet([b"\x01" * 32], scope="leaf")  # type: ignore[arg-type]
    p = PinSet([b"\x01" * 32, b"\x01" * 32, b"\x02" * 32], scope="end_entity")
    assert len(p) == 2 and p.scope == "end_entity"
    assert repr(p) == "PinSet(2 pins, scope='end_entity')"


def test_malformed_der_raises_bad_encoding(pki: Pki) -> None:
    good = der(pki.leaf)
    cases = [
        b"",
        b"\x30",
        b"\x30\x80\x00\x00",  # indefinite length
        b"\x30\x81\x05" + b"\x00" * 5,  # non-minimal length
        b"\x31\x00",
        good[:-1],
        good + b"\x00",
        b"\x30\x03\x30\x01\x00",
    ]
    for data in cases:
        with pytest.raises(InvalidCertificate) as ei:
            spki_sha256(data)
        assert ei.value.reason is CertificateReason.BAD_ENCODING
        assert alert_for(ei.value) is AlertDescription.decode_error
        with pytest.raises(InvalidCertificate):
            PinSet([b"\x00" * 32]).check([data])


def test_mutations_only_raise_invalid_certificate(pki: Pki) -> None:
    good = der(pki.leaf)
    rng = random.Random(1234)
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        try:
            spki = spki_der(bytes(data))
        except InvalidCertificate as e:
            assert e.reason is CertificateReason.BAD_ENCODING
        else:
            assert spki in bytes(data)
