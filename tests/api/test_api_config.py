"""Configuration validation (ConfigError) and the dangerous verifier hook."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import tlspipe
import tlspipe.dangerous
from helpers import Pair, client_config, server_config
from tlspipe.enums import AlertDescription, CipherSuite, NamedGroup, ProtocolVersion
from tlspipe.verify.base import HandshakeSignatureValid, ServerCertVerified


@pytest.mark.parametrize(
    "kw",
    [
        {"versions": ()},
        {"versions": (0x0301,)},
        {"versions": (ProtocolVersion.TLSv1_1,)},
        {"versions": (0x7777,)},
        {"cipher_suites": ()},
        {"cipher_suites": (0x1399,)},
        {
            "versions": (ProtocolVersion.TLSv1_2,),
            "cipher_suites": (CipherSuite.TLS13_AES_128_GCM_SHA256,),
        },
        {"kx_groups": ()},
        {"kx_groups": (NamedGroup.x448,)},
        {"kx_groups": (0x9999,)},
        {"buffer_limit": 0},
        {"buffer_limit": 100},
        {"max_fragment_size": 10},
        {"alpn_protocols": (b"",)},
        {"alpn_protocols": (b"x" * 300,)},
        {"alpn_protocols": tuple(b"y" * 255 for _ in range(300))},
    ],
    ids=repr,
)
def test_bad_values_rejected_by_both_configs(pki, kw):
    with pytest.raises(tlspipe.ConfigError):
        client_config(pki, **kw)
    with pytest.raises(tlspipe.ConfigError):
        server_config(pki, **kw)


def test_config_error_is_value_error():
    assert issubclass(tlspipe.ConfigError, ValueError)
    assert issubclass(tlspipe.ConfigError, tlspipe.Error)


def test_empty_root_store_rejected():
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.ClientConfig(root_store=tlspipe.RootCertStore())


def test_server_needs_exactly_one_certificate_source(pki):
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.ServerConfig()
    from helpers import certified_key

    ck = certified_key(pki)
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.ServerConfig(certified_key=ck, cert_resolver=tlspipe.AlwaysResolvesCert(ck))


def test_key_mismatch_rejected(pki):
    bad = pki.bad("key-mismatch")
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.ServerConfig.from_pem_files(bad.chain_pem, bad.key_pem)


def test_missing_files_rejected(tmp_path):
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.ServerConfig.from_pem_files(tmp_path / "nope.pem", tmp_path / "nokey.pem")


def test_configs_are_frozen_and_keyword_only(pki):
    cc = client_config(pki)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cc.enable_sni = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        tlspipe.ClientConfig(None)  # type: ignore[misc]


def test_versions_normalised(pki):
    cc = client_config(pki, versions=(ProtocolVersion.TLSv1_3, ProtocolVersion.TLSv1_3))
    assert cc.versions == (ProtocolVersion.TLSv1_3,)


class AcceptAll:
    """A verifier that trusts anything (the dangerous hook's reason to exist)."""

    def __init__(self) -> None:
        self.calls = 0

    def verify_server_cert(
        self, end_entity, intermediates, server_name, ocsp_response, now, *, sct_list=None
    ):
        self.calls += 1
        return ServerCertVerified.assertion()

    def verify_tls12_signature(self, message, cert, scheme, signature):
        return HandshakeSignatureValid.assertion()

    def verify_tls13_signature(self, message, cert, scheme, signature):
        return HandshakeSignatureValid.assertion()

    def supported_verify_schemes(self):
        from tlspipe.verify.webpki import WebPkiServerVerifier

        roots = tlspipe.RootCertStore.mozilla()
        return WebPkiServerVerifier(roots).supported_verify_schemes()


def test_dangerous_custom_verifier_accepts_untrusted_server(pki):
    bad = pki.bad("untrusted-root")
    sc = tlspipe.ServerConfig.from_pem_files(bad.chain_pem, bad.key_pem)
    # without the hook: rejected
    out = Pair(client_config(pki), sc).until_error()
    assert isinstance(out.client_error, tlspipe.InvalidCertificate)
    assert out.client_alert == AlertDescription.unknown_ca
    v = AcceptAll()
    cc = tlspipe.dangerous.dangerous_with_custom_verifier(client_config(pki), v)
    p = Pair(cc, sc, server_name="anything.example")
    p.handshake()
    assert v.calls == 1
    assert p.send(p.client, b"trusting") == b"trusting"


def test_no_other_way_to_disable_verification():
    fields = {f.name for f in dataclasses.fields(tlspipe.ClientConfig) if f.init}
    public = {f for f in fields if not f.startswith("_")}
    # cert_checks only adds checks (OCSP, CT, CRLs, pins) on top of path validation.
    assert not any(
        "verif" in f or "insecure" in f or "check" in f for f in public - {"cert_checks"}
    )
    params = inspect.signature(tlspipe.ClientConfig).parameters
    assert not any("verif" in p for p in params if not p.startswith("_"))
    names = [n for n in dir(tlspipe.dangerous) if not n.startswith("_") and n != "annotations"]
    assert [
        n
        for n in names
        if callable(getattr(tlspipe.dangerous, n))
        and getattr(tlspipe.dangerous, n).__module__ == "tlspipe.dangerous"
    ] == ["dangerous_with_custom_verifier"]


def test_dangerous_config_repr_hides_verifier(pki):
    cc = tlspipe.dangerous.dangerous_with_custom_verifier(client_config(pki), AcceptAll())
    assert "AcceptAll" not in repr(cc)


@pytest.mark.parametrize("size", [-1, 2**32])
def test_bad_max_early_data_size(pki, size):
    with pytest.raises(tlspipe.ConfigError):
        server_config(pki, max_early_data_size=size)


@pytest.mark.parametrize("kw", [{"alpn_protocols": b"h2"}, {"versions": "TLSv1_3"}], ids=repr)
def test_wrong_container_types_rejected(pki, kw):
    with pytest.raises(tlspipe.ConfigError):
        client_config(pki, **kw)
    with pytest.raises(tlspipe.ConfigError):
        server_config(pki, **kw)
