"""Review: sessions won under a custom (dangerous) verifier must not resume under the safe one.

``dangerous_with_custom_verifier`` copies the config, and with it the session store object.
Tickets and TLS 1.2 sessions from a server that only the custom verifier accepted would then
be offered — and accepted without any certificate check — by the original, verifying config
(rustls ties each stored session to the verifier that vouched for it, for the same reason).
"""

from __future__ import annotations

import pytest

import tlspipe
import tlspipe.dangerous
from helpers import Pair, client_config
from pki import PKI
from tlspipe.enums import ProtocolVersion
from tlspipe.verify.base import HandshakeSignatureValid, ServerCertVerified
from tlspipe.verify.webpki import DEFAULT_VERIFY_SCHEMES


class AcceptAll:
    """Trusts any server (the dangerous hook's reason to exist)."""

    def verify_server_cert(  # type: ignore[no-untyped-def]
        self, end_entity, intermediates, server_name, ocsp_response, now, *, sct_list=None
    ) -> ServerCertVerified:
        return ServerCertVerified.assertion()

    def verify_tls12_signature(self, message, cert, scheme, signature):  # type: ignore[no-untyped-def]
        return HandshakeSignatureValid.assertion()

    def verify_tls13_signature(self, message, cert, scheme, signature):  # type: ignore[no-untyped-def]
        return HandshakeSignatureValid.assertion()

    def supported_verify_schemes(self):  # type: ignore[no-untyped-def]
        return DEFAULT_VERIFY_SCHEMES


V12 = (ProtocolVersion.TLSv1_2,)
V13 = (ProtocolVersion.TLSv1_3,)


@pytest.mark.parametrize("versions", [V13, V12], ids=["tls13", "tls12"])
def test_session_from_dangerous_config_not_resumed_by_safe_config(
    pki: PKI, versions: tuple[ProtocolVersion, ...]
) -> None:
    bad = pki.bad("untrusted-root")
    sc = tlspipe.ServerConfig.from_pem_files(
        bad.chain_pem, bad.key_pem, versions=versions, ticketer=tlspipe.Ticketer()
    )
    safe = client_config(pki, versions=versions)
    unsafe = tlspipe.dangerous.dangerous_with_custom_verifier(safe, AcceptAll())
    p = Pair(unsafe, sc)
    p.handshake()
    assert p.send(p.server, b"tickets") == b"tickets"
    # the safe config must verify this server (and refuse it), not resume the session
    out = Pair(safe, sc).until_error()
    assert isinstance(out.client_error, tlspipe.InvalidCertificate), out


def test_dangerous_copy_keeps_disabled_session_storage(pki: PKI) -> None:
    safe = client_config(pki, session_store=tlspipe.NoClientSessionStorage())
    unsafe = tlspipe.dangerous.dangerous_with_custom_verifier(safe, AcceptAll())
    assert isinstance(unsafe.session_store, tlspipe.NoClientSessionStorage)
    shared = client_config(pki)
    assert (
        tlspipe.dangerous.dangerous_with_custom_verifier(shared, AcceptAll()).session_store
        is not shared.session_store
    )
