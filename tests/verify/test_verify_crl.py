"""CrlChecker with CRLs built by cryptography's CertificateRevocationListBuilder.

Also holds the regression test for CertificateReason aliasing (errors.py).
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from verify_pki import DAY, NOW, Pki, make_cert, make_pki, p256

from tlspipe.enums import AlertDescription
from tlspipe.errors import CertificateReason, ConfigError, InvalidCertificate, alert_for
from tlspipe.verify.crl import CrlChecker

PrivKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def crl(
    issuer: x509.Certificate,
    key: PrivKey,
    *,
    revoked: tuple[x509.Certificate, ...] = (),
    last: dt.datetime = NOW - DAY,
    next_: dt.datetime = NOW + 7 * DAY,
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise,
) -> x509.CertificateRevocationList:
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(last)
        .next_update(next_)
    )
    for cert in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(NOW - 2 * DAY)
        )
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        b = b.add_revoked_certificate(entry.build())
    for ext, critical in extensions:
        b = b.add_extension(ext, critical)
    return b.sign(key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def chain(p: Pki) -> list[x509.Certificate]:
    return [p.leaf, p.inter, p.root]


def expect(
    ei: pytest.ExceptionInfo[InvalidCertificate], reason: CertificateReason, *words: str
) -> None:
    assert ei.value.reason is reason, str(ei.value)
    for w in words:
        assert w in str(ei.value), str(ei.value)


def test_good_leaf(pki: Pki) -> None:
    c = crl(pki.inter, pki.inter_key, revoked=(pki.inter,))  # lists another serial
    CrlChecker([c]).check(chain(pki), NOW)
    CrlChecker([c], allow_unknown=False).check(chain(pki), NOW)
    CrlChecker([c], allow_unknown=False).check(chain(pki), NOW.replace(tzinfo=None))


def test_revoked_leaf(pki: Pki) -> None:
    c = crl(pki.inter, pki.inter_key, revoked=(pki.leaf,))
    with pytest.raises(InvalidCertificate) as ei:
        CrlChecker([c]).check(chain(pki), NOW)
    expect(ei, CertificateReason.REVOKED, "revoked", "key_compromise")
    assert alert_for(ei.value) is AlertDescription.certificate_revoked


def test_revoked_by_expired_crl_is_still_revoked(pki: Pki) -> None:
    c = crl(pki.inter, pki.inter_key, revoked=(pki.leaf,), last=NOW - 9 * DAY, next_=NOW - DAY)
    with pytest.raises(InvalidCertificate) as ei:
        CrlChecker([c], allow_unknown=True).check(chain(pki), NOW)
    expect(ei, CertificateReason.REVOKED)


def test_expired_and_future_crls_give_unknown(pki: Pki) -> None:
    for c, word in (
        (crl(pki.inter, pki.inter_key, last=NOW - 9 * DAY, next_=NOW - DAY), "expired"),
        (crl(pki.inter, pki.inter_key, last=NOW + DAY, next_=NOW + 9 * DAY), "not valid before"),
    ):
        CrlChecker([c]).check(chain(pki), NOW)  # allow_unknown by default
        with pytest.raises(InvalidCertificate) as ei:
            CrlChecker([c], allow_unknown=False).check(chain(pki), NOW)
        expect(ei, CertificateReason.UNKNOWN_REVOCATION_STATUS, word)
        assert alert_for(ei.value) is AlertDescription.unknown_ca


def test_no_crl_for_issuer(pki: Pki) -> None:
    c = crl(pki.root, pki.root_key)  # the root's CRL says nothing about the leaf
    CrlChecker([c]).check(chain(pki), NOW)
    with pytest.raises(InvalidCertificate) as ei:
        CrlChecker([c], allow_unknown=False).check(chain(pki), NOW)
    expect(ei, CertificateReason.UNKNOWN_REVOCATION_STATUS, "no CRL from its issuer")


def test_forged_crl_cannot_revoke(pki: Pki) -> None:
    forged = crl(pki.inter, p256(), revoked=(pki.leaf,))
    CrlChecker([forged]).check(chain(pki), NOW)
    with pytest.raises(InvalidCertificate) as ei:
        CrlChecker([forged], allow_unknown=False).check(chain(pki), NOW)
    expect(ei, CertificateReason.UNKNOWN_REVOCATION_STATUS, "signature that does not verify")
    # a genuine CRL next to the forged one still decides
    good = crl(pki.inter, pki.inter_key)
    CrlChecker([forged, good], allow_unknown=False).check(chain(pki), NOW)


def test_scope_chain(pki: Pki) -> None:
    leaf_crl = crl(pki.inter, pki.inter_key)
    root_crl = crl(pki.root, pki.root_key, revoked=(pki.inter,))
    CrlChecker([leaf_crl, root_crl]).check(chain(pki), NOW)  # end_entity: inter not checked
    with pytest.raises(InvalidCertificate) as ei:
        CrlChecker([leaf_crl, root_crl], scope="chain").check(chain(pki), NOW)
    expect(ei, CertificateReason.REVOKED, "tlspipe test intermediate")
    ok_root_crl = crl(pki.root, pki.root_key)
    strict = CrlChecker([leaf_crl, ok_root_crl], scope="chain", allow_unknown=False)
    strict.check(chain(pki), NOW)  # the self-signed root at the end is not checked
    with pytest.raises(InvalidCertificate) as ei:
        strict.check([pki.leaf, pki.inter], NOW)  # inter's issuer missing
    expect(ei, CertificateReason.UNKNOWN_REVOCATION_STATUS, "issuer certificate is not in")
    with pytest.raises(InvalidCertificate) as ei:
        CrlChecker([leaf_crl], scope="chain", allow_unknown=False).check(chain(pki), NOW)
    expect(ei, CertificateReason.UNKNOWN_REVOCATION_STATUS, "intermediate")
    assert CrlChecker([leaf_crl], scope="chain").scope == "chain"


def test_empty_chain(pki: Pki) -> None:
    CrlChecker([]).check([], NOW)
    with pytest.raises(InvalidCertificate):
        CrlChecker([], allow_unknown=False).check([], NOW)


def _leaf_with_dp(p: Pki, url: str) -> x509.Certificate:
    key = p256()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dp.example")]))
        .issuer_name(p.inter.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)]
            ),
            critical=False,
        )
        .sign(p.inter_key, hashes.SHA256())
    )


def _idp(**kw: object) -> x509.IssuingDistributionPoint:
    args: dict[str, object] = {
        "full_name": None,
        "relative_name": None,
        "only_contains_user_certs": False,
        "only_contains_ca_certs": False,
        "only_some_reasons": None,
        "indirect_crl": False,
        "only_contains_attribute_certs": False,
    }
    args.update(kw)
    return x509.IssuingDistributionPoint(**args)  # type: ignore[arg-type]


def test_issuing_distribution_point(pki: Pki) -> None:
    url = "http://crl.example/inter.crl"
    leaf = _leaf_with_dp(pki, url)
    chain_ = [leaf, pki.inter, pki.root]

    def status(idp: x509.IssuingDistributionPoint, revoked: bool = True) -> str:
        c = crl(
            pki.inter, pki.inter_key, revoked=(leaf,) if revoked else (), extensions=((idp, True),)
        )
        try:
            CrlChecker([c], allow_unknown=False).check(chain_, NOW)
        except InvalidCertificate as e:
            return e.reason.name
        return "GOOD"

    uri = [x509.UniformResourceIdentifier(url)]
    other = [x509.UniformResourceIdentifier("http://crl.example/other.crl")]
    assert status(_idp(full_name=uri)) == "REVOKED"
    assert status(_idp(full_name=uri), revoked=False) == "GOOD"
    assert status(_idp(full_name=other)) == "UNKNOWN_REVOCATION_STATUS"
    assert status(_idp(only_contains_user_certs=True)) == "REVOKED"
    assert status(_idp(only_contains_ca_certs=True)) == "UNKNOWN_REVOCATION_STATUS"
    assert (
        status(_idp(only_some_reasons=frozenset({x509.ReasonFlags.key_compromise})))
        == "UNKNOWN_REVOCATION_STATUS"
    )
    assert status(_idp(indirect_crl=True)) == "UNKNOWN_REVOCATION_STATUS"
    # the leaf without cRLDistributionPoints is not covered by a CRL for a named point
    c = crl(pki.inter, pki.inter_key, extensions=((_idp(full_name=uri), True),))
    with pytest.raises(InvalidCertificate) as ei:
        CrlChecker([c], allow_unknown=False).check(chain(pki), NOW)
    expect(ei, CertificateReason.UNKNOWN_REVOCATION_STATUS, "another distribution point")


def test_delta_and_unknown_critical_extension(pki: Pki) -> None:
    delta = crl(
        pki.inter,
        pki.inter_key,
        revoked=(pki.leaf,),
        extensions=((x509.DeltaCRLIndicator(1), True),),
    )
    with pytest.raises(InvalidCertificate) as ei:
        CrlChecker([delta], allow_unknown=False).check(chain(pki), NOW)
    expect(ei, CertificateReason.UNKNOWN_REVOCATION_STATUS, "delta")
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    c = crl(pki.inter, pki.inter_key, extensions=((odd, True),))
    with pytest.raises(InvalidCertificate) as ei:
        CrlChecker([c], allow_unknown=False).check(chain(pki), NOW)
    expect(ei, CertificateReason.UNKNOWN_REVOCATION_STATUS, "critical extension")
    c = crl(pki.inter, pki.inter_key, extensions=((odd, False), (x509.CRLNumber(7), False)))
    CrlChecker([c], allow_unknown=False).check(chain(pki), NOW)


def test_issuer_without_crl_sign(pki: Pki) -> None:
    key = p256()
    ku = x509.KeyUsage(True, False, False, False, False, True, False, False, False)
    ca = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no crl sign CA")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no crl sign CA")]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(ku, critical=True)
        .sign(key, hashes.SHA256())
    )
    leaf = make_cert(subject="l", key=p256(), issuer=ca, issuer_key=key)
    c = crl(ca, key, revoked=(leaf,))
    with pytest.raises(InvalidCertificate) as ei:
        CrlChecker([c], allow_unknown=False).check([leaf, ca], NOW)
    expect(ei, CertificateReason.UNKNOWN_REVOCATION_STATUS, "cRLSign")


def test_rsa_issuer_and_input_forms() -> None:
    key = rsa.generate_private_key(65537, 2048)
    ca = make_cert(subject="rsa CA", key=key, ca=True)
    leaf = make_cert(subject="l", key=p256(), issuer=ca, issuer_key=key)
    c = crl(ca, key, revoked=(leaf,), reason=None)
    for form in (
        c,
        c.public_bytes(serialization.Encoding.DER),
        c.public_bytes(serialization.Encoding.PEM),
    ):
        with pytest.raises(InvalidCertificate) as ei:
            CrlChecker([form]).check([leaf, ca], NOW)
        expect(ei, CertificateReason.REVOKED)
    assert "1 CRLs" in repr(CrlChecker([c]))


def test_config_errors(pki: Pki) -> None:
    with pytest.raises(ConfigError):
        CrlChecker([b"not a crl"])
    with pytest.raises(ConfigError):
        CrlChecker([b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"])
    with pytest.raises(ConfigError):
        CrlChecker([], scope="everything")  # type: ignore[arg-type]


def test_certificate_reasons_are_not_aliases() -> None:
    """Enum members with equal values are aliases; CertificateReason must have none."""
    members = CertificateReason.__members__
    assert len(set(members.values())) == len(members)
    for a, b in (
        ("NOT_VALID_YET", "EXPIRED"),
        ("OTHER", "NOT_VALID_FOR_NAME"),
        ("UNSUPPORTED_KEY", "INVALID_PURPOSE"),
    ):
        assert CertificateReason[a] is not CertificateReason[b]
        assert CertificateReason[a].alert is CertificateReason[b].alert
    for reason in CertificateReason:
        assert isinstance(reason.alert, AlertDescription)
        assert InvalidCertificate(reason, "x").alert is reason.alert
    assert CertificateReason.NOT_VALID_YET.alert is AlertDescription.certificate_expired
    assert CertificateReason.REVOKED.alert is AlertDescription.certificate_revoked
    assert CertificateReason.BAD_STATUS_RESPONSE.alert is (
        AlertDescription.bad_certificate_status_response
    )
