"""RootCertStore: loading, deduplication, subjects, errors, the Mozilla bundle."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.verification import Store
from verify_pki import der, make_pki, pem

from tlspipe.errors import ConfigError
from tlspipe.verify.roots import RootCertStore


def test_mozilla_loads() -> None:
    store = RootCertStore.mozilla()
    assert len(store) > 100
    assert isinstance(store.to_store(), Store)
    assert store.skipped >= 0
    again = RootCertStore.mozilla()
    assert len(again) == len(store)
    assert again is not store
    assert "roots" in repr(store)


def test_add_pem_der_dedup_subjects(tmp_path: Path) -> None:
    pki = make_pki()
    store = RootCertStore()
    assert len(store) == 0
    assert store.add_pem(pem(pki.root) + pem(pki.inter)) == 2
    store.add_der(der(pki.root))  # duplicate
    store.add_pem(pem(pki.root).decode())  # str accepted too
    assert len(store) == 2
    subjects = store.subjects()
    assert subjects == (pki.root.subject.public_bytes(), pki.inter.subject.public_bytes())
    assert x509.Name.from_rfc4514_string("CN=tlspipe test root").public_bytes() == subjects[0]
    assert [c.subject for c in store] == [pki.root.subject, pki.inter.subject]
    assert store.certificates()[0] == pki.root

    path = tmp_path / "roots.pem"
    path.write_bytes(b"# comment\n" + pem(pki.root) + b"\ntrailing text\n")
    from_file = RootCertStore.from_pem_file(path)
    assert len(from_file) == 1
    assert from_file.add_pem_file(str(path)) == 1
    assert len(from_file) == 1


def test_store_cache_invalidated() -> None:
    pki = make_pki()
    store = RootCertStore()
    store.add_der(der(pki.root))
    s1 = store.to_store()
    assert store.to_store() is s1
    store.add_der(der(pki.inter))
    assert store.to_store() is not s1


def test_errors(tmp_path: Path) -> None:
    store = RootCertStore()
    with pytest.raises(ConfigError):
        store.to_store()
    with pytest.raises(ConfigError):
        store.add_pem(b"no certificates here")
    with pytest.raises(ConfigError):
        store.add_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError):
        store.add_der(b"\x30\x00")
    with pytest.raises(ConfigError):
        RootCertStore.from_pem_file(tmp_path / "missing.pem")
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"junk")
    with pytest.raises(ConfigError) as ei:
        RootCertStore.from_pem_file(bad)
    assert "bad.pem" in str(ei.value)
    assert len(store) == 0
    # a bad block leaves the store unchanged (all or nothing)
    pki = make_pki()
    mixed = pem(pki.root) + b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(ConfigError):
        store.add_pem(mixed)
    assert len(store) == 0
    assert issubclass(ConfigError, ValueError)
