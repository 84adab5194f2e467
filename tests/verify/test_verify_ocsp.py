"""verify_ocsp_response / OcspPolicy with responses built by cryptography and by `openssl ocsp`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import subprocess
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from verify_pki import DAY, NOW, PrivateKey, make_cert, p256, pem

from tlspipe.enums import AlertDescription
from tlspipe.errors import CertificateReason, ConfigError, InvalidCertificate, alert_for
from tlspipe.verify.ocsp import OcspPolicy, OcspStatus, verify_ocsp_response

OCSP_SIGNING = [ExtendedKeyUsageOID.OCSP_SIGNING]
HOUR = dt.timedelta(hours=1)


@dataclasses.dataclass
class Ca:
    ca: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    leaf: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey
    other_leaf: x509.Certificate


def make_ca(now: dt.datetime = NOW) -> Ca:
    ca_key = p256()
    ca = make_cert(
        subject="ocsp test CA",
        key=ca_key,
        ca=True,
        not_before=now - 30 * DAY,
        not_after=now + 365 * DAY,
    )
    leaf_key = p256()
    leaf = make_cert(
        subject="leaf.example",
        key=leaf_key,
        issuer=ca,
        issuer_key=ca_key,
        not_before=now - 10 * DAY,
        not_after=now + 60 * DAY,
    )
    other = make_cert(
        subject="other.example",
        key=p256(),
        issuer=ca,
        issuer_key=ca_key,
        not_before=now - 10 * DAY,
        not_after=now + 60 * DAY,
    )
    return Ca(ca, ca_key, leaf, leaf_key, other)


@pytest.fixture(scope="module")
def ca() -> Ca:
    return make_ca()


def responder(
    ca: Ca,
    *,
    eku: list[x509.ObjectIdentifier] | None = OCSP_SIGNING,
    issuer: x509.Certificate | None = None,
    issuer_key: PrivateKey | None = None,
    not_after: dt.datetime = NOW + 30 * DAY,
    subject: str = "ocsp responder",
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = p256()
    cert = make_cert(
        subject=subject,
        key=key,
        issuer=issuer or ca.ca,
        issuer_key=issuer_key or ca.ca_key,
        eku=eku,
        not_after=not_after,
    )
    return cert, key


def build(
    ca: Ca,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    cert: x509.Certificate | None = None,
    this_update: dt.datetime = NOW - HOUR,
    next_update: dt.datetime | None = NOW + DAY,
    signer: tuple[x509.Certificate, PrivateKey] | None = None,
    include: list[x509.Certificate] | None = None,
    by_key: bool = False,
    cert_id_hash: hashes.HashAlgorithm | None = None,
    sig_hash: hashes.HashAlgorithm | None = None,
) -> bytes:
    signer_cert, signer_key = signer if signer else (ca.ca, ca.ca_key)
    revoked = status is ocsp.OCSPCertStatus.REVOKED
    b = ocsp.OCSPResponseBuilder().add_response(
        cert=cert or ca.leaf,
        issuer=ca.ca,
        algorithm=cert_id_hash or hashes.SHA1(),
        cert_status=status,
        this_update=this_update,
        next_update=next_update,
        revocation_time=NOW - 2 * DAY if revoked else None,
        revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
    )
    enc = ocsp.OCSPResponderEncoding.HASH if by_key else ocsp.OCSPResponderEncoding.NAME
    b = b.responder_id(enc, signer_cert)
    if include is None and signer:
        include = [signer_cert]
    if include:
        b = b.certificates(include)
    algo = (
        None if isinstance(signer_key, ed25519.Ed25519PrivateKey) else (sig_hash or hashes.SHA256())
    )
    return b.sign(signer_key, algo).public_bytes(serialization.Encoding.DER)


def bad(exc: pytest.ExceptionInfo[InvalidCertificate], *words: str) -> None:
    assert exc.value.reason is CertificateReason.BAD_STATUS_RESPONSE, str(exc.value)
    assert exc.value.alert is AlertDescription.bad_certificate_status_response
    assert alert_for(exc.value) is AlertDescription.bad_certificate_status_response
    msg = str(exc.value).lower()
    for w in words:
        assert w in msg, msg


# ---------------------------------------------------------------- cryptography-built responses


def test_good_signed_by_issuer(ca: Ca) -> None:
    assert verify_ocsp_response(build(ca), ca.leaf, ca.ca, NOW) is OcspStatus.GOOD


def test_good_by_key_id_and_sha256_cert_id(ca: Ca) -> None:
    resp = build(ca, by_key=True, cert_id_hash=hashes.SHA256(), sig_hash=hashes.SHA384())
    assert verify_ocsp_response(resp, ca.leaf, ca.ca, NOW) is OcspStatus.GOOD


def test_naive_now_is_utc(ca: Ca) -> None:
    assert verify_ocsp_response(build(ca), ca.leaf, ca.ca, NOW.replace(tzinfo=None)).name == "GOOD"


def test_revoked(ca: Ca) -> None:
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(build(ca, status=ocsp.OCSPCertStatus.REVOKED), ca.leaf, ca.ca, NOW)
    assert ei.value.reason is CertificateReason.REVOKED
    assert alert_for(ei.value) is AlertDescription.certificate_revoked
    assert "revoked" in str(ei.value) and "key_compromise" in str(ei.value)


def test_unknown(ca: Ca) -> None:
    resp = build(ca, status=ocsp.OCSPCertStatus.UNKNOWN)
    assert verify_ocsp_response(resp, ca.leaf, ca.ca, NOW) is OcspStatus.UNKNOWN
    with pytest.raises(InvalidCertificate) as ei:
        OcspPolicy().check(resp, ca.leaf, ca.ca, NOW)
    bad(ei, "does not know")
    assert OcspPolicy(allow_unknown=True).check(resp, ca.leaf, ca.ca, NOW) is OcspStatus.UNKNOWN


def test_expired(ca: Ca) -> None:
    resp = build(ca, this_update=NOW - 3 * DAY, next_update=NOW - DAY)
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(resp, ca.leaf, ca.ca, NOW)
    bad(ei, "stale")
    # within the skew it is still accepted
    resp = build(ca, this_update=NOW - 3 * DAY, next_update=NOW - dt.timedelta(minutes=2))
    assert verify_ocsp_response(resp, ca.leaf, ca.ca, NOW) is OcspStatus.GOOD
    with pytest.raises(InvalidCertificate):
        verify_ocsp_response(resp, ca.leaf, ca.ca, NOW, skew=dt.timedelta(0))


def test_future_this_update(ca: Ca) -> None:
    resp = build(ca, this_update=NOW + HOUR, next_update=NOW + DAY)
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(resp, ca.leaf, ca.ca, NOW)
    bad(ei, "not valid yet")
    resp = build(ca, this_update=NOW + dt.timedelta(minutes=1), next_update=NOW + DAY)
    assert verify_ocsp_response(resp, ca.leaf, ca.ca, NOW) is OcspStatus.GOOD


def test_no_next_update_needs_max_age(ca: Ca) -> None:
    resp = build(ca, next_update=None, this_update=NOW - HOUR)
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(resp, ca.leaf, ca.ca, NOW)
    bad(ei, "nextupdate", "max_age")
    assert verify_ocsp_response(resp, ca.leaf, ca.ca, NOW, max_age=DAY) is OcspStatus.GOOD
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(resp, ca.leaf, ca.ca, NOW, max_age=dt.timedelta(minutes=30))
    bad(ei, "too old")


def test_max_age_bounds_responses_with_next_update(ca: Ca) -> None:
    resp = build(ca, this_update=NOW - 5 * DAY, next_update=NOW + 5 * DAY)
    assert verify_ocsp_response(resp, ca.leaf, ca.ca, NOW) is OcspStatus.GOOD
    with pytest.raises(InvalidCertificate):
        verify_ocsp_response(resp, ca.leaf, ca.ca, NOW, max_age=4 * DAY)


def test_wrong_signer_key(ca: Ca) -> None:
    # names the issuer (same subject) but is signed by another key
    rogue_key = p256()
    rogue = make_cert(subject="ocsp test CA", key=rogue_key, ca=True)
    resp = build(ca, signer=(rogue, rogue_key), include=[])
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(resp, ca.leaf, ca.ca, NOW)
    bad(ei, "signature does not verify", "issuer")
    # same, with the rogue certificate included and a byKey responder ID
    resp = build(ca, signer=(rogue, rogue_key), by_key=True)
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(resp, ca.leaf, ca.ca, NOW)
    bad(ei, "not signed by an authorized responder")


def test_signer_from_another_ca(ca: Ca) -> None:
    other = make_ca()
    rc, rk = responder(other)
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(build(ca, signer=(rc, rk)), ca.leaf, ca.ca, NOW)
    bad(ei, "not signed by an authorized responder")


def test_delegated_responder_with_eku(ca: Ca) -> None:
    rc, rk = responder(ca)
    for by_key in (False, True):
        resp = build(ca, signer=(rc, rk), by_key=by_key)
        assert verify_ocsp_response(resp, ca.leaf, ca.ca, NOW) is OcspStatus.GOOD
    resp = build(ca, signer=(rc, rk), status=ocsp.OCSPCertStatus.REVOKED)
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(resp, ca.leaf, ca.ca, NOW)
    assert ei.value.reason is CertificateReason.REVOKED


def test_delegated_responder_without_eku(ca: Ca) -> None:
    rc, rk = responder(ca, eku=None)
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(build(ca, signer=(rc, rk)), ca.leaf, ca.ca, NOW)
    bad(ei, "ocspsigning")
    rc, rk = responder(ca, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(build(ca, signer=(rc, rk)), ca.leaf, ca.ca, NOW)
    bad(ei, "ocspsigning")


def test_delegated_responder_not_included(ca: Ca) -> None:
    rc, rk = responder(ca)
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(build(ca, signer=(rc, rk), include=[]), ca.leaf, ca.ca, NOW)
    bad(ei, "neither the issuer nor")


def test_delegated_responder_expired(ca: Ca) -> None:
    rc, rk = responder(ca, not_after=NOW - DAY)
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(build(ca, signer=(rc, rk)), ca.leaf, ca.ca, NOW)
    bad(ei, "expired")


def test_delegated_responder_forged_issuer_name(ca: Ca) -> None:
    # claims the CA as issuer (same name) but is signed by another key
    rc, rk = responder(ca, issuer_key=p256())
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(build(ca, signer=(rc, rk)), ca.leaf, ca.ca, NOW)
    bad(ei, "not signed by the certificate's issuer")


def test_delegated_responder_two_levels_down(ca: Ca) -> None:
    # a responder certified by a delegated responder is not authorized (no chaining)
    rc, rk = responder(ca)
    rc2, rk2 = responder(ca, issuer=rc, issuer_key=rk, subject="sub-responder")
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(build(ca, signer=(rc2, rk2), include=[rc2, rc]), ca.leaf, ca.ca, NOW)
    bad(ei, "was not issued by the certificate's issuer")


def test_wrong_cert_id(ca: Ca) -> None:
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(build(ca, cert=ca.other_leaf), ca.leaf, ca.ca, NOW)
    bad(ei, "not about this certificate")
    # right serial, issued by another CA with the same name: issuerKeyHash differs
    other = make_ca()
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(build(ca), ca.leaf, other.ca, NOW)
    bad(ei)


def test_unsuccessful_and_garbage(ca: Ca) -> None:
    resp = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(resp.public_bytes(serialization.Encoding.DER), ca.leaf, ca.ca, NOW)
    bad(ei, "try_later")
    good = build(ca)
    for junk in (b"", b"\x30\x03\x0a\x01\x00", good[:-1], good[:40], b"\x00" * 30):
        with pytest.raises(InvalidCertificate) as ei:
            verify_ocsp_response(junk, ca.leaf, ca.ca, NOW)
        bad(ei)


def test_mutations_only_raise_invalid_certificate(ca: Ca) -> None:
    # cryptography parses parts of a response lazily (responder name, included certificates):
    # every such failure must still come out as InvalidCertificate
    rc, rk = responder(ca)
    samples = [build(ca), build(ca, signer=(rc, rk)), build(ca, by_key=True)]
    rng = random.Random(2026)
    for _ in range(1500):
        original = rng.choice(samples)
        data = bytearray(original)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                status = verify_ocsp_response(bytes(data), ca.leaf, ca.ca, NOW)
        except InvalidCertificate as e:
            assert e.reason is CertificateReason.BAD_STATUS_RESPONSE, str(e)
        else:
            assert status is OcspStatus.GOOD
            assert bytes(data) == original  # only a no-op mutation can pass


def test_rsa_and_ed25519_issuers() -> None:
    for key in (rsa.generate_private_key(65537, 2048), ed25519.Ed25519PrivateKey.generate()):
        cert = make_cert(subject="ca", key=key, ca=True)
        leaf = make_cert(subject="leaf", key=p256(), issuer=cert, issuer_key=key)
        c = Ca(cert, key, leaf, p256(), leaf)  # type: ignore[arg-type]
        assert verify_ocsp_response(build(c), leaf, cert, NOW) is OcspStatus.GOOD


def test_policy(ca: Ca) -> None:
    assert OcspPolicy().check(b"", ca.leaf, ca.ca, NOW) is None
    with pytest.raises(InvalidCertificate) as ei:
        OcspPolicy(require_stapled=True).check(b"", ca.leaf, ca.ca, NOW)
    bad(ei, "required")
    assert OcspPolicy(check_stapled=False).check(b"junk", ca.leaf, ca.ca, NOW) is None
    assert OcspPolicy().check(build(ca), ca.leaf, ca.ca, NOW) is OcspStatus.GOOD
    with pytest.raises(ConfigError):
        OcspPolicy(skew=-HOUR)
    with pytest.raises(ConfigError):
        OcspPolicy(max_age=dt.timedelta(0))


# ---------------------------------------------------------------- responses from `openssl ocsp`


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _index_line(cert: x509.Certificate, *, revoked_at: dt.datetime | None) -> str:
    def t(when: dt.datetime) -> str:
        return when.strftime("%y%m%d%H%M%SZ")

    serial = f"{cert.serial_number:X}"
    if len(serial) % 2:
        serial = "0" + serial
    status, rev = ("R", t(revoked_at) + ",keyCompromise") if revoked_at else ("V", "")
    subject = "/" + cert.subject.rfc4514_string().replace(",", "/")
    return "\t".join((status, t(cert.not_valid_after_utc), rev, serial, "unknown", subject))


@dataclasses.dataclass
class OpensslSetup:
    ca: Ca
    now: dt.datetime
    dir: Path

    def respond(
        self, *, signer: str = "ca", revoked: bool = False, extra: tuple[str, ...] = ("-ndays", "1")
    ) -> bytes:
        d = self.dir
        line = _index_line(self.ca.leaf, revoked_at=self.now - DAY if revoked else None)
        (d / "index.txt").write_text(line + "\n")
        out = d / "resp.der"
        out.unlink(missing_ok=True)
        cmd = [
            "openssl",
            "ocsp",
            "-index",
            str(d / "index.txt"),
            "-rsigner",
            str(d / f"{signer}.pem"),
            "-rkey",
            str(d / f"{signer}.key"),
            "-CA",
            str(d / "ca.pem"),
            "-issuer",
            str(d / "ca.pem"),
            "-cert",
            str(d / "leaf.pem"),
            "-respout",
            str(out),
            *extra,
        ]
        proc = subprocess.run(cmd, capture_output=True, timeout=20, check=False)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        return out.read_bytes()


@pytest.fixture(scope="module")
def ossl(tmp_path_factory: pytest.TempPathFactory) -> OpensslSetup:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    c = make_ca(now)
    d = tmp_path_factory.mktemp("ossl-ocsp")
    (d / "ca.pem").write_bytes(pem(c.ca))
    _write_key(d / "ca.key", c.ca_key)
    (d / "leaf.pem").write_bytes(pem(c.leaf))
    rc, rk = responder(c, not_after=now + 30 * DAY)
    (d / "resp.pem").write_bytes(pem(rc))
    _write_key(d / "resp.key", rk)
    rogue_key = p256()  # self-signed, not the issuer, no relation to the CA
    rogue = make_cert(
        subject="ocsp test CA",
        key=rogue_key,
        ca=True,
        not_before=now - DAY,
        not_after=now + DAY,
    )
    (d / "rogue.pem").write_bytes(pem(rogue))
    _write_key(d / "rogue.key", rogue_key)
    noeku, noeku_key = responder(c, eku=None, not_after=now + 30 * DAY)
    (d / "noeku.pem").write_bytes(pem(noeku))
    _write_key(d / "noeku.key", noeku_key)
    (d / "index.txt.attr").write_text("unique_subject = no\n")
    return OpensslSetup(c, now, d)


@pytest.mark.interop
def test_openssl_good_revoked(ossl: OpensslSetup) -> None:
    c, now = ossl.ca, ossl.now
    assert verify_ocsp_response(ossl.respond(), c.leaf, c.ca, now) is OcspStatus.GOOD
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(ossl.respond(revoked=True), c.leaf, c.ca, now)
    assert ei.value.reason is CertificateReason.REVOKED
    assert alert_for(ei.value) is AlertDescription.certificate_revoked


@pytest.mark.interop
def test_openssl_delegated_responder(ossl: OpensslSetup) -> None:
    c, now = ossl.ca, ossl.now
    for extra in (("-ndays", "1"), ("-ndays", "1", "-resp_key_id")):
        resp = ossl.respond(signer="resp", extra=extra)
        assert verify_ocsp_response(resp, c.leaf, c.ca, now) is OcspStatus.GOOD
    resp = ossl.respond(signer="resp", extra=("-ndays", "1", "-resp_no_certs"))
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(resp, c.leaf, c.ca, now)
    bad(ei, "not signed by an authorized responder")


@pytest.mark.interop
def test_openssl_expired(ossl: OpensslSetup) -> None:
    c, now = ossl.ca, ossl.now
    resp = ossl.respond(extra=("-nmin", "1"))
    assert verify_ocsp_response(resp, c.leaf, c.ca, now) is OcspStatus.GOOD
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(resp, c.leaf, c.ca, now + HOUR)
    bad(ei, "stale")
    # without -ndays/-nmin openssl omits nextUpdate: only accepted with max_age
    resp = ossl.respond(extra=())
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(resp, c.leaf, c.ca, now)
    bad(ei, "nextupdate")
    assert verify_ocsp_response(resp, c.leaf, c.ca, now, max_age=HOUR) is OcspStatus.GOOD


@pytest.mark.interop
def test_openssl_sha1_signature_refused(ossl: OpensslSetup) -> None:
    c, now = ossl.ca, ossl.now
    resp = ossl.respond(extra=("-ndays", "1", "-rmd", "sha1"))
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(resp, c.leaf, c.ca, now)
    bad(ei, "sha1")


@pytest.mark.interop
def test_openssl_wrong_signer(ossl: OpensslSetup) -> None:
    c, now = ossl.ca, ossl.now
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(ossl.respond(signer="rogue"), c.leaf, c.ca, now)
    bad(ei)
    with pytest.raises(InvalidCertificate) as ei:
        verify_ocsp_response(ossl.respond(signer="noeku"), c.leaf, c.ca, now)
    bad(ei, "ocspsigning")
