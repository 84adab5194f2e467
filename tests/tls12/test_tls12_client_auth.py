"""TLS 1.2 client authentication (RFC 5246 §7.4.4, §7.4.6, §7.4.8): CertificateRequest,
the client's Certificate and CertificateVerify, required / optional modes, resumption."""

from __future__ import annotations

import dataclasses

import pytest
from tls12_util import Duo, client_config, server_config

import tlspipe
from tlspipe.enums import AlertDescription as AD


def _roots(pki):
    return tlspipe.RootCertStore.from_pem_file(pki.ca_pem)


def _with_cert(cc, pki, kind):
    ident = pki.client(kind)
    return cc.with_client_auth_cert(ident.chain_pem.read_bytes(), ident.key_pem.read_bytes())


@pytest.mark.parametrize("client_kind", ["ecdsa-p256", "rsa-2048"])
@pytest.mark.parametrize("server_kind", ["ecdsa-p384", "rsa-2048"])
def test_client_auth_required(pki, client_kind, server_kind):
    cc = _with_cert(client_config(pki, server_kind), pki, client_kind)
    sc = server_config(
        pki, server_kind, client_verifier=tlspipe.AllowAnyAuthenticatedClient(_roots(pki))
    )
    d = Duo(cc, sc)
    d.handshake()
    assert d.server.peer_certificates[0] == pki.client(client_kind).chain_der[0]
    assert d.send(d.client, b"hi") == b"hi"


def test_client_auth_required_but_no_cert(pki):
    sc = server_config(pki, client_verifier=tlspipe.AllowAnyAuthenticatedClient(_roots(pki)))
    out = Duo(client_config(pki), sc).until_error()
    assert isinstance(out.server, tlspipe.PeerMisbehaved)
    assert out.server.alert == AD.handshake_failure
    assert isinstance(out.client, tlspipe.AlertReceived)


def test_client_auth_optional(pki):
    sc = server_config(
        pki, client_verifier=tlspipe.AllowAnyAnonymousOrAuthenticatedClient(_roots(pki))
    )
    d = Duo(client_config(pki), sc)
    d.handshake()
    assert d.server.peer_certificates is None
    d = Duo(_with_cert(client_config(pki), pki, "ecdsa-p256"), sc)
    d.handshake()
    assert d.server.peer_certificates is not None


def test_untrusted_client_cert_rejected(pki):
    ident = pki.bad("untrusted-root")
    cc = client_config(pki).with_client_auth_cert(
        ident.chain_pem.read_bytes(), ident.key_pem.read_bytes()
    )
    sc = server_config(pki, client_verifier=tlspipe.AllowAnyAuthenticatedClient(_roots(pki)))
    out = Duo(cc, sc).until_error()
    assert isinstance(out.server, tlspipe.InvalidCertificate)


def test_resumed_session_keeps_client_identity(pki):
    cc = _with_cert(client_config(pki, enable_tickets=False), pki, "ecdsa-p256")
    sc = server_config(pki, client_verifier=tlspipe.AllowAnyAuthenticatedClient(_roots(pki)))
    d1 = Duo(cc, sc)
    d1.handshake()
    d2 = Duo(cc, sc)
    d2.handshake()
    assert d2.server.handshake_kind_resumed
    assert d2.server.peer_certificates == d1.server.peer_certificates


def test_session_without_client_cert_not_resumed_when_now_required(pki):
    storage = tlspipe.ServerSessionMemoryCache()
    cc = client_config(pki, enable_tickets=False)
    Duo(cc, server_config(pki, session_storage=storage)).handshake()
    sc = server_config(
        pki, session_storage=storage,
        client_verifier=tlspipe.AllowAnyAuthenticatedClient(_roots(pki)),
    )  # fmt: skip
    out = Duo(cc, sc).until_error()
    assert isinstance(out.server, tlspipe.PeerMisbehaved)  # full handshake, no certificate


def test_bad_client_signature_rejected(pki):
    """A CertificateVerify signed by a key not matching the certificate."""
    good = pki.client("ecdsa-p256")
    other = pki.client("rsa-2048")
    ck = tlspipe.CertifiedKey(
        cert_chain=tuple(good.chain_der),
        key=tlspipe.CertifiedKey.from_pem(
            other.chain_pem.read_bytes(), other.key_pem.read_bytes()
        ).key,
    )

    class Resolver:
        def resolve(self, hints, schemes):
            return ck

        def has_certs(self):
            return True

    cc = dataclasses.replace(client_config(pki), client_auth_cert_resolver=Resolver())
    sc = server_config(pki, client_verifier=tlspipe.AllowAnyAuthenticatedClient(_roots(pki)))
    out = Duo(cc, sc).until_error()
    assert isinstance(out.server, tlspipe.PeerMisbehaved)
    assert out.server.alert in (AD.decrypt_error, AD.illegal_parameter)
