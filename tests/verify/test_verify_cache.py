"""The WebPkiServerVerifier's cache of successful path validations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from cryptography import x509
from verify_pki import DAY, NOW, SERVER_AUTH, Pki, der, dns, make_cert, make_pki, p256

from tlspipe.errors import CertificateReason, ConfigError, InvalidCertificate
from tlspipe.verify import webpki
from tlspipe.verify.roots import RootCertStore
from tlspipe.verify.webpki import ServerCertChecks, WebPkiServerVerifier

NAME = "example.com"


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def fresh_roots(pki: Pki) -> RootCertStore:
    store = RootCertStore()
    store.add_der(der(pki.root))
    return store


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts full path validations (each parses the chain first)."""
    count = [0]
    real = webpki._parse_chain

    def counting(
        end_entity: bytes, intermediates: Sequence[bytes]
    ) -> tuple[x509.Certificate, list[x509.Certificate]]:
        count[0] += 1
        return real(end_entity, intermediates)

    monkeypatch.setattr(webpki, "_parse_chain", counting)
    return count


def check(
    v: WebPkiServerVerifier,
    leaf: x509.Certificate,
    inters: list[x509.Certificate],
    name: str = NAME,
    now: dt.datetime = NOW,
) -> None:
    v.verify_server_cert(der(leaf), [der(c) for c in inters], name, b"", now)


def test_repeat_is_cached(pki: Pki, validations: list[int]) -> None:
    v = WebPkiServerVerifier(fresh_roots(pki))
    for _ in range(3):
        check(v, pki.leaf, [pki.inter])
    check(v, pki.leaf, [pki.inter], now=NOW + 10 * DAY)  # inside every window
    assert validations[0] == 1


def test_other_name_chain_or_time_is_reverified(pki: Pki, validations: list[int]) -> None:
    v = WebPkiServerVerifier(fresh_roots(pki))
    check(v, pki.leaf, [pki.inter])
    check(v, pki.leaf, [pki.inter], name="a.example.net")
    assert validations[0] == 2
    with pytest.raises(InvalidCertificate) as ei:
        check(v, pki.leaf, [pki.inter], name="example.org")
    assert ei.value.reason is CertificateReason.NOT_VALID_FOR_NAME
    with pytest.raises(InvalidCertificate) as ei:
        check(v, pki.leaf, [])  # same leaf, no intermediate
    assert ei.value.reason is CertificateReason.UNKNOWN_ISSUER
    with pytest.raises(InvalidCertificate) as ei:
        check(v, pki.leaf, [pki.inter], now=NOW + 365 * DAY)  # the leaf has expired
    assert ei.value.reason is CertificateReason.EXPIRED
    with pytest.raises(InvalidCertificate) as ei:
        check(v, pki.leaf, [pki.inter], now=NOW - 365 * DAY)  # not valid yet
    assert ei.value.reason is CertificateReason.NOT_VALID_YET
    assert validations[0] == 6


def test_window_is_the_whole_paths(pki: Pki, validations: list[int]) -> None:
    # The intermediate expires 10 days from NOW, the leaf 30 days: the entry must not
    # outlive the intermediate.
    inter = make_cert(
        subject="tlspipe test intermediate",
        key=pki.inter_key,
        issuer=pki.root,
        issuer_key=pki.root_key,
        ca=True,
        not_before=NOW - 100 * DAY,
        not_after=NOW + 10 * DAY,
    )
    v = WebPkiServerVerifier(fresh_roots(pki))
    check(v, pki.leaf, [inter])
    check(v, pki.leaf, [inter], now=NOW + 9 * DAY)
    assert validations[0] == 1
    with pytest.raises(InvalidCertificate) as ei:
        check(v, pki.leaf, [inter], now=NOW + 20 * DAY)
    assert ei.value.reason is CertificateReason.EXPIRED
    assert "issuer certificate" in str(ei.value)


def test_failures_are_not_cached(pki: Pki, validations: list[int]) -> None:
    v = WebPkiServerVerifier(fresh_roots(pki))
    for _ in range(2):
        with pytest.raises(InvalidCertificate):
            check(v, pki.leaf, [pki.inter], name="example.org")
    assert validations[0] == 2


def test_other_root_store_is_reverified(pki: Pki, validations: list[int]) -> None:
    roots = fresh_roots(pki)
    v = WebPkiServerVerifier(roots)
    check(v, pki.leaf, [pki.inter])
    other = make_cert(subject="another root", key=p256(), ca=True)
    roots.add_der(der(other))  # a new Store object: the entry no longer applies
    check(v, pki.leaf, [pki.inter])
    assert validations[0] == 2
    # A verifier over other roots has its own cache and rejects the chain.
    untrusting = RootCertStore()
    untrusting.add_der(der(other))
    with pytest.raises(InvalidCertificate) as ei:
        check(WebPkiServerVerifier(untrusting), pki.leaf, [pki.inter])
    assert ei.value.reason is CertificateReason.UNKNOWN_ISSUER


def test_cache_is_bounded_lru(pki: Pki, validations: list[int]) -> None:
    v = WebPkiServerVerifier(fresh_roots(pki), cache_size=2)
    leaves = [
        make_cert(
            subject=f"leaf{i}",
            key=p256(),
            issuer=pki.inter,
            issuer_key=pki.inter_key,
            sans=[dns(NAME)],
            eku=SERVER_AUTH,
        )
        for i in range(3)
    ]
    check(v, leaves[0], [pki.inter])
    check(v, leaves[1], [pki.inter])
    check(v, leaves[0], [pki.inter])  # hit: leaves[0] is now the most recent
    check(v, leaves[2], [pki.inter])  # evicts leaves[1]
    assert validations[0] == 3
    assert len(v._cache) == 2
    check(v, leaves[0], [pki.inter])
    assert validations[0] == 3
    check(v, leaves[1], [pki.inter])
    assert validations[0] == 4
    assert len(v._cache) == 2


def test_cache_size_zero_and_negative(pki: Pki, validations: list[int]) -> None:
    v = WebPkiServerVerifier(fresh_roots(pki), cache_size=0)
    check(v, pki.leaf, [pki.inter])
    check(v, pki.leaf, [pki.inter])
    assert validations[0] == 2
    assert not v._cache
    with pytest.raises(ConfigError):
        WebPkiServerVerifier(fresh_roots(pki), cache_size=-1)


class _CountingChecks(ServerCertChecks):
    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "calls", [])
        object.__setattr__(self, "fail", False)

    def run(
        self,
        built: Sequence[x509.Certificate],
        ocsp_response: bytes,
        sct_list: bytes | None,
        now: dt.datetime,
    ) -> None:
        self.calls.append([c.subject.rfc4514_string() for c in built])  # type: ignore[attr-defined]
        if self.fail:  # type: ignore[attr-defined]
            raise InvalidCertificate(CertificateReason.REVOKED, "revoked")


def test_checks_run_on_every_call(pki: Pki, validations: list[int]) -> None:
    checks = _CountingChecks()
    v = WebPkiServerVerifier(fresh_roots(pki), checks=checks)
    check(v, pki.leaf, [pki.inter])
    check(v, pki.leaf, [pki.inter])
    assert validations[0] == 1
    calls = checks.calls  # type: ignore[attr-defined]
    assert len(calls) == 2
    assert calls[0] == calls[1]
    assert len(calls[0]) == 3  # leaf, intermediate, root
    object.__setattr__(checks, "fail", True)
    with pytest.raises(InvalidCertificate) as ei:
        check(v, pki.leaf, [pki.inter])
    assert ei.value.reason is CertificateReason.REVOKED


def test_failed_checks_are_not_cached(pki: Pki, validations: list[int]) -> None:
    checks = _CountingChecks()
    object.__setattr__(checks, "fail", True)
    v = WebPkiServerVerifier(fresh_roots(pki), checks=checks)
    for _ in range(2):
        with pytest.raises(InvalidCertificate):
            check(v, pki.leaf, [pki.inter])
    assert validations[0] == 2
    assert not v._cache
