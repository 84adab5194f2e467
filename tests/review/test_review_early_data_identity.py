"""Review: 0-RTT accepted with a PSK other than the first (RFC 8446 §4.2.10).

"If the server supplies an "early_data" extension, the client MUST verify that the server's
selected_identity is 0.  If any other value is returned, the client MUST abort the handshake
with an "illegal_parameter" alert."  (unsupported_extension is for a client that offered no
early data at all.)
"""

from __future__ import annotations

import dataclasses

import tlspipe
from helpers import Pair, Rec, client_config, server_config
from pki import PKI
from tlspipe.enums import AlertDescription as AD
from tlspipe.enums import HandshakeType as HT
from tlspipe.msgs.handshake import EncryptedExtensions
from tlspipe.msgs.message import decode_handshake, encode_handshake

PSK = tlspipe.ExternalPsk(identity=b"client-7", key=bytes(range(32)))


def _ee_accepts_early_data(rec: Rec) -> Rec:
    if rec.handshake_type() != HT.encrypted_extensions:
        return rec
    raw = rec.payload
    n = 4 + int.from_bytes(raw[1:4], "big")
    ee = decode_handshake(raw[:n], tls13=True).body
    assert isinstance(ee, EncryptedExtensions) and not ee.extensions.early_data
    ext = dataclasses.replace(ee.extensions, early_data=True)
    return dataclasses.replace(rec, payload=encode_handshake(EncryptedExtensions(ext)) + raw[n:])


def test_early_data_accepted_with_second_identity_is_illegal_parameter(pki: PKI) -> None:
    cc = client_config(pki, enable_early_data=True, external_psk=PSK)
    sc = server_config(
        pki, max_early_data_size=1024, ticketer=tlspipe.Ticketer(), external_psks=(PSK,)
    )
    first = Pair(cc, sc)
    first.handshake()
    assert first.send(first.server, b"ticket") == b"ticket"  # the client holds a ticket now
    # another ticketer: the ticket (identity 0) does not open, the external PSK (1) is chosen
    p = Pair(cc, dataclasses.replace(sc, ticketer=tlspipe.Ticketer()))
    assert p.client.early_data_offered
    p.flow(p.client, p.server)
    p.transfer_altered(p.server, p.client, _ee_accepts_early_data)
    out = p.until_error()
    assert isinstance(out.client_error, tlspipe.PeerMisbehaved)
    assert [d for lvl, d in out.client_alerts if lvl == 2] == [AD.illegal_parameter]
