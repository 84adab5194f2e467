"""Review: a TLS 1.2 ServerHello after a HelloRetryRequest (RFC 8446 §4.1.4).

"The value of selected_version in the HelloRetryRequest "supported_versions" extension MUST
be retained in the ServerHello, and a client MUST abort the handshake with an
"illegal_parameter" alert if the value changes."  A server that asked for a retry in TLS 1.3
and then answers ClientHello2 with a TLS 1.2 ServerHello changed the version.
"""

from __future__ import annotations

import pytest

import tlspipe
from helpers import client_config, server_config
from pki import PKI
from tlspipe.enums import AlertDescription as AD
from tlspipe.enums import NamedGroup, ProtocolVersion

V12 = (ProtocolVersion.TLSv1_2,)


@pytest.mark.parametrize("kind", ["ecdsa-p256", "rsa-2048"])
def test_tls12_server_hello_after_hello_retry_request(pki: PKI, kind: str) -> None:
    cc = client_config(pki, kind, kx_groups=(NamedGroup.x25519, NamedGroup.secp256r1))
    c = tlspipe.ClientConnection(cc, "localhost")
    s13 = tlspipe.ServerConnection(server_config(pki, kind, kx_groups=(NamedGroup.secp256r1,)))
    s13.read_tls(c.write_tls())
    s13.process_new_packets()
    c.read_tls(s13.write_tls())  # HelloRetryRequest
    c.process_new_packets()
    # ClientHello2 goes to a TLS 1.2-only server (no downgrade sentinel: it knows no TLS 1.3)
    s12 = tlspipe.ServerConnection(server_config(pki, kind, versions=V12))
    ch2 = c.write_tls()
    if ch2[0] == 20:  # the compatibility ChangeCipherSpec before ClientHello2
        ch2 = ch2[6:]
    s12.read_tls(ch2)
    s12.process_new_packets()
    c.read_tls(s12.write_tls())
    with pytest.raises(tlspipe.PeerMisbehaved):
        c.process_new_packets()
    alert = c.write_tls()
    assert alert[0] == 21 and alert[-1] == AD.illegal_parameter
