"""WebPkiServerVerifier / WebPkiClientVerifier against a test PKI made with cryptography."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import warnings

import pytest
from cryptography import x509
from verify_pki import (
    CLIENT_AUTH,
    DAY,
    NOW,
    SERVER_AUTH,
    Pki,
    der,
    dns,
    ip,
    make_cert,
    make_pki,
    p256,
)

from tlspipe.enums import AlertDescription
from tlspipe.errors import (
    CertificateReason,
    ConfigError,
    Error,
    InvalidCertificate,
    alert_for,
)
from tlspipe.verify.base import (
    ClientCertVerified,
    ClientCertVerifier,
    ServerCertVerified,
    verify_tls13_signature,
)
from tlspipe.verify.base import ServerCertVerifier as ServerCertVerifierProto
from tlspipe.verify.roots import RootCertStore
from tlspipe.verify.webpki import WebPkiClientVerifier, WebPkiServerVerifier


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def roots(pki: Pki) -> RootCertStore:
    store = RootCertStore()
    store.add_der(der(pki.root))
    return store


@pytest.fixture(scope="module")
def verifier(roots: RootCertStore) -> WebPkiServerVerifier:
    return WebPkiServerVerifier(roots)


def leaf(pki: Pki, **kw: object) -> x509.Certificate:
    args: dict[str, object] = {
        "subject": "leaf",
        "key": p256(),
        "issuer": pki.inter,
        "issuer_key": pki.inter_key,
        "sans": [dns("example.com")],
        "eku": SERVER_AUTH,
    }
    args.update(kw)
    return make_cert(**args)  # type: ignore[arg-type]


def reject(
    v: WebPkiServerVerifier,
    cert: x509.Certificate,
    inters: list[x509.Certificate],
    name: str = "example.com",
    now: dt.datetime = NOW,
) -> InvalidCertificate:
    with pytest.raises(InvalidCertificate) as ei:
        v.verify_server_cert(der(cert), [der(c) for c in inters], name, b"", now)
    return ei.value


def test_protocols(verifier: WebPkiServerVerifier, roots: RootCertStore) -> None:
    assert isinstance(verifier, ServerCertVerifierProto)
    assert isinstance(WebPkiClientVerifier(roots), ClientCertVerifier)


def test_valid_chain_with_peer_intermediate(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    tok = verifier.verify_server_cert(der(pki.leaf), [der(pki.inter)], "example.com", b"", NOW)
    assert isinstance(tok, ServerCertVerified)


@pytest.mark.parametrize("name", ["a.example.net", "EXAMPLE.com", "example.com."])
def test_valid_names(pki: Pki, verifier: WebPkiServerVerifier, name: str) -> None:
    verifier.verify_server_cert(der(pki.leaf), [der(pki.inter)], name, b"", NOW)


def test_naive_now_is_utc(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    naive = NOW.replace(tzinfo=None)
    verifier.verify_server_cert(der(pki.leaf), [der(pki.inter)], "example.com", b"", naive)


def test_missing_intermediate_is_unknown_issuer(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    e = reject(verifier, pki.leaf, [])
    assert e.reason is CertificateReason.UNKNOWN_ISSUER
    assert e.alert is AlertDescription.unknown_ca
    assert alert_for(e) is AlertDescription.unknown_ca
    assert "not trusted" in str(e)


def test_expired(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    after = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    cert = leaf(pki, not_before=after - 90 * DAY, not_after=after)
    e = reject(verifier, cert, [pki.inter])
    assert e.reason is CertificateReason.EXPIRED
    assert e.alert is AlertDescription.certificate_expired
    assert str(e) == "certificate expired on 2025-01-01 00:00:00 UTC"


def test_not_valid_yet(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    cert = leaf(pki, not_before=NOW + DAY, not_after=NOW + 90 * DAY)
    e = reject(verifier, cert, [pki.inter])
    assert e.reason is CertificateReason.NOT_VALID_YET
    assert e.alert is AlertDescription.certificate_expired
    assert str(e).startswith("certificate not valid before ")


def test_expired_by_clock(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    e = reject(verifier, pki.leaf, [pki.inter], now=NOW + 365 * DAY)
    assert e.reason is CertificateReason.EXPIRED


def test_expired_intermediate(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    old = make_cert(
        subject="tlspipe test intermediate",
        key=pki.inter_key,
        issuer=pki.root,
        issuer_key=pki.root_key,
        ca=True,
        not_before=NOW - 100 * DAY,
        not_after=NOW - 50 * DAY,
    )
    e = reject(verifier, pki.leaf, [old])
    assert e.reason is CertificateReason.EXPIRED
    assert "issuer certificate" in str(e)
    assert "expired on" in str(e)


def test_wrong_name(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    e = reject(verifier, pki.leaf, [pki.inter], name="example.org")
    assert e.reason is CertificateReason.NOT_VALID_FOR_NAME
    assert e.alert is AlertDescription.bad_certificate
    assert str(e).startswith("certificate not valid for 'example.org'")
    assert "example.com" in str(e)


def test_wildcard_does_not_match_two_labels(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    e = reject(verifier, pki.leaf, [pki.inter], name="a.b.example.net")
    assert e.reason is CertificateReason.NOT_VALID_FOR_NAME


def test_wrong_name_leaf(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    cert = leaf(pki, sans=[dns("other.test")])
    e = reject(verifier, cert, [pki.inter])
    assert e.reason is CertificateReason.NOT_VALID_FOR_NAME
    assert "certificate not valid for 'example.com'" in str(e)


def test_leaf_without_san(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    cert = leaf(pki, sans=None)
    e = reject(verifier, cert, [pki.inter])
    assert e.reason is CertificateReason.NOT_VALID_FOR_NAME


def test_invalid_server_name(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    e = reject(verifier, pki.leaf, [pki.inter], name="")
    assert e.reason is CertificateReason.NOT_VALID_FOR_NAME


def test_ip_san(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    cert = leaf(pki, sans=[ip("127.0.0.1"), ip("::1"), dns("localhost")])
    chain = [der(pki.inter)]
    for name in ("127.0.0.1", "::1", "[::1]", "localhost"):
        verifier.verify_server_cert(der(cert), chain, name, b"", NOW)
    e = reject(verifier, cert, [pki.inter], name="127.0.0.2")
    assert e.reason is CertificateReason.NOT_VALID_FOR_NAME
    assert "'127.0.0.2'" in str(e)
    # an IP literal never matches a dNSName of the same spelling
    dns_only = leaf(pki, sans=[dns("127.0.0.1")])
    e = reject(verifier, dns_only, [pki.inter], name="127.0.0.1")
    assert e.reason is CertificateReason.NOT_VALID_FOR_NAME


def test_no_server_auth_eku(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    cert = leaf(pki, eku=CLIENT_AUTH)
    e = reject(verifier, cert, [pki.inter])
    assert e.reason is CertificateReason.INVALID_PURPOSE
    assert e.alert is AlertDescription.unsupported_certificate
    assert "serverAuth" in str(e)


def test_ca_cert_as_leaf(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    cert = leaf(pki, ca=True)
    e = reject(verifier, cert, [pki.inter])
    assert e.reason is CertificateReason.INVALID_PURPOSE
    assert "CA certificate" in str(e)


def test_untrusted_root(verifier: WebPkiServerVerifier) -> None:
    other = make_pki()
    other_root_name = make_cert(subject="some other root", key=other.root_key, ca=True)
    inter = make_cert(
        subject="other inter",
        key=other.inter_key,
        issuer=other_root_name,
        issuer_key=other.root_key,
        ca=True,
    )
    cert = make_cert(
        subject="leaf",
        key=p256(),
        issuer=inter,
        issuer_key=other.inter_key,
        sans=[dns("example.com")],
        eku=SERVER_AUTH,
    )
    e = reject(verifier, cert, [inter, other_root_name])
    assert e.reason is CertificateReason.UNKNOWN_ISSUER
    assert e.alert is AlertDescription.unknown_ca


def test_self_signed_leaf(verifier: WebPkiServerVerifier) -> None:
    k = p256()
    cert = make_cert(subject="example.com", key=k, sans=[dns("example.com")], eku=SERVER_AUTH)
    e = reject(verifier, cert, [])
    assert e.reason is CertificateReason.UNKNOWN_ISSUER


def test_signed_by_different_key(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    cert = leaf(pki, issuer_key=p256())  # names the intermediate, signed by another key
    e = reject(verifier, cert, [pki.inter])
    assert e.reason is CertificateReason.BAD_SIGNATURE
    assert e.alert is AlertDescription.decrypt_error


def test_garbage_der(pki: Pki, verifier: WebPkiServerVerifier) -> None:
    with pytest.raises(InvalidCertificate) as ei:
        verifier.verify_server_cert(b"\x30\x03junk", [], "example.com", b"", NOW)
    assert ei.value.reason is CertificateReason.BAD_ENCODING
    assert ei.value.alert is AlertDescription.decode_error
    with pytest.raises(InvalidCertificate) as ei:
        verifier.verify_server_cert(der(pki.leaf), [b"nope"], "example.com", b"", NOW)
    assert ei.value.reason is CertificateReason.BAD_ENCODING
    assert "intermediate certificate #1" in str(ei.value)


def test_max_chain_depth(pki: Pki, roots: RootCertStore) -> None:
    # root -> inter2 -> inter3 -> leaf with depth limit 1 fails; default passes
    k2, k3 = p256(), p256()
    i2 = make_cert(subject="i2", key=k2, issuer=pki.root, issuer_key=pki.root_key, ca=True)
    i3 = make_cert(subject="i3", key=k3, issuer=i2, issuer_key=k2, ca=True)
    cert = make_cert(
        subject="leaf", key=p256(), issuer=i3, issuer_key=k3, sans=[dns("example.com")]
    )
    chain = [der(i3), der(i2)]
    WebPkiServerVerifier(roots).verify_server_cert(der(cert), chain, "example.com", b"", NOW)
    with pytest.raises(InvalidCertificate) as ei:
        WebPkiServerVerifier(roots, max_chain_depth=1).verify_server_cert(
            der(cert), chain, "example.com", b"", NOW
        )
    assert ei.value.reason is CertificateReason.UNKNOWN_ISSUER


def test_config_errors(roots: RootCertStore) -> None:
    with pytest.raises(ConfigError):
        WebPkiServerVerifier(RootCertStore())
    with pytest.raises(ConfigError):
        WebPkiServerVerifier(roots, max_chain_depth=0)
    with pytest.raises(ConfigError):
        WebPkiClientVerifier(roots, schemes=())


# ----------------------------------------------------------------------------- client auth


def client_leaf(pki: Pki, **kw: object) -> x509.Certificate:
    args: dict[str, object] = {
        "subject": "client",
        "key": p256(),
        "issuer": pki.inter,
        "issuer_key": pki.inter_key,
        "sans": None,
        "eku": CLIENT_AUTH,
    }
    args.update(kw)
    return make_cert(**args)  # type: ignore[arg-type]


def test_client_verifier_ok(pki: Pki, roots: RootCertStore) -> None:
    v = WebPkiClientVerifier(roots)
    assert v.offer_client_auth()
    assert v.client_auth_mandatory()
    assert not WebPkiClientVerifier(roots, mandatory=False).client_auth_mandatory()
    assert v.root_hint_subjects() == (pki.root.subject.public_bytes(),)
    assert WebPkiClientVerifier(roots, root_hints=False).root_hint_subjects() == ()
    tok = v.verify_client_cert(der(client_leaf(pki)), [der(pki.inter)], NOW)
    assert isinstance(tok, ClientCertVerified)
    with_san = client_leaf(pki, sans=[dns("client.example")])
    v.verify_client_cert(der(with_san), [der(pki.inter)], NOW)


def test_client_verifier_rejections(pki: Pki, roots: RootCertStore) -> None:
    v = WebPkiClientVerifier(roots)
    cases = [
        (client_leaf(pki, eku=SERVER_AUTH), [pki.inter], CertificateReason.INVALID_PURPOSE),
        (client_leaf(pki), [], CertificateReason.UNKNOWN_ISSUER),
        (
            client_leaf(pki, not_before=NOW - 9 * DAY, not_after=NOW - DAY),
            [pki.inter],
            CertificateReason.EXPIRED,
        ),
        (client_leaf(pki, issuer_key=p256()), [pki.inter], CertificateReason.BAD_SIGNATURE),
    ]
    for cert, inters, reason in cases:
        with pytest.raises(InvalidCertificate) as ei:
            v.verify_client_cert(der(cert), [der(c) for c in inters], NOW)
        assert ei.value.reason is reason, str(ei.value)
    e = ei.value
    assert "clientAuth" not in str(e)
    with pytest.raises(InvalidCertificate) as ei:
        v.verify_client_cert(der(client_leaf(pki, eku=SERVER_AUTH)), [der(pki.inter)], NOW)
    assert "clientAuth" in str(ei.value)
    with pytest.raises(InvalidCertificate) as ei:
        v.verify_client_cert(b"", [], NOW)
    assert ei.value.reason is CertificateReason.BAD_ENCODING


def test_tokens_cannot_be_forged() -> None:
    with pytest.raises(TypeError):
        ServerCertVerified(object())
    with pytest.raises(TypeError):
        ClientCertVerified(None)
    assert repr(ServerCertVerified.assertion()) == "ServerCertVerified()"


def test_mutated_der_raises_only_tlspipe_errors(pki: Pki, roots: RootCertStore) -> None:
    server = WebPkiServerVerifier(roots)
    client = WebPkiClientVerifier(roots)
    rnd = random.Random(1234)
    leaf_der, inter_der = der(pki.leaf), der(pki.inter)
    sig = b"\x30\x06\x02\x01\x01\x02\x01\x01"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(600):
            b = bytearray(leaf_der if i % 2 else inter_der)
            for _ in range(rnd.randint(1, 4)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
            ee, inters = (bytes(b), [inter_der]) if i % 2 else (leaf_der, [bytes(b)])
            with contextlib.suppress(Error):
                server.verify_server_cert(ee, inters, "example.com", b"", NOW)
            with contextlib.suppress(Error):
                client.verify_client_cert(ee, inters, NOW)
            with contextlib.suppress(Error):
                verify_tls13_signature(b"m", ee, 0x0403, sig)
