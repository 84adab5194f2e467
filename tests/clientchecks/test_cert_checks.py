"""ClientConfig.cert_checks in real handshakes (tlspipe ↔ tlspipe, in memory): pinning,
CRLs and the require-stapled OCSP policy."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

import tlspipe
from pki import PKI
from tlspipe.verify.crl import CrlChecker
from tlspipe.verify.ocsp import OcspPolicy
from tlspipe.verify.pinning import PinSet, spki_sha256
from tlspipe.verify.webpki import ServerCertChecks


def _handshake(cc: tlspipe.ClientConfig, sc: tlspipe.ServerConfig) -> tlspipe.ClientConnection:
    c = tlspipe.ClientConnection(cc, "localhost")
    s = tlspipe.ServerConnection(sc)
    for _ in range(8):
        if data := c.write_tls():
            s.read_tls(data)
            s.process_new_packets()
        if data := s.write_tls():
            c.read_tls(data)
            c.process_new_packets()
        if not c.is_handshaking and not s.is_handshaking:
            break
    assert not c.is_handshaking
    return c


def _configs(
    pki: PKI, checks: ServerCertChecks
) -> tuple[tlspipe.ClientConfig, tlspipe.ServerConfig]:
    ident = pki.server("ecdsa-p256")
    cc = tlspipe.ClientConfig(
        root_store=tlspipe.RootCertStore.from_pem_file(ident.ca_pem), cert_checks=checks
    )
    return cc, tlspipe.ServerConfig.from_pem_files(ident.chain_pem, ident.key_pem)


def test_pin_on_intermediate_passes(pki: PKI) -> None:
    ident = pki.server("ecdsa-p256")
    pins = PinSet([spki_sha256(ident.chain_der[1])])
    _handshake(*_configs(pki, ServerCertChecks(pins=pins)))


def test_pin_mismatch_fails_with_bad_certificate(pki: PKI) -> None:
    other = pki.other_server()
    pins = PinSet([spki_sha256(other.chain_der[0])], scope="end_entity")
    with pytest.raises(tlspipe.InvalidCertificate) as ei:
        _handshake(*_configs(pki, ServerCertChecks(pins=pins)))
    assert ei.value.reason is tlspipe.CertificateReason.PIN_MISMATCH
    assert ei.value.alert is tlspipe.enums.AlertDescription.bad_certificate


def _crl(pki: PKI, revoked_serials: list[int]) -> x509.CertificateRevocationList:
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.intermediate.cert.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=1))
    )
    for serial in revoked_serials:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - dt.timedelta(hours=1))
            .build()
        )
    return b.sign(pki.intermediate.key, hashes.SHA256())


def test_crl_not_revoked_passes(pki: PKI) -> None:
    _handshake(*_configs(pki, ServerCertChecks(crls=CrlChecker([_crl(pki, [12345])]))))


def test_crl_revoked_fails(pki: PKI) -> None:
    leaf = pki.server("ecdsa-p256").leaf
    checks = ServerCertChecks(crls=CrlChecker([_crl(pki, [leaf.serial_number])]))
    with pytest.raises(tlspipe.InvalidCertificate) as ei:
        _handshake(*_configs(pki, checks))
    assert ei.value.reason is tlspipe.CertificateReason.REVOKED
    assert ei.value.alert is tlspipe.enums.AlertDescription.certificate_revoked


def test_require_stapled_ocsp_without_staple_fails(pki: PKI) -> None:
    with pytest.raises(tlspipe.InvalidCertificate) as ei:
        _handshake(*_configs(pki, ServerCertChecks(ocsp=OcspPolicy(require_stapled=True))))
    assert ei.value.reason is tlspipe.CertificateReason.BAD_STATUS_RESPONSE


def test_checks_off_by_default(pki: PKI) -> None:
    ident = pki.server("ecdsa-p256")
    cc = tlspipe.ClientConfig(root_store=tlspipe.RootCertStore.from_pem_file(ident.ca_pem))
    assert cc.cert_checks is None
    _handshake(cc, tlspipe.ServerConfig.from_pem_files(ident.chain_pem, ident.key_pem))
