"""Review: extensions a server sends without the client asking (RFC 8446 §4.2).

"Implementations MUST NOT send extension responses if the remote endpoint did not send the
corresponding extension requests ... Upon receiving such an extension, an endpoint MUST abort
the handshake with an unsupported_extension alert."  tlspipe's client never offers
record_size_limit (RFC 8449), so an EncryptedExtensions carrying one is unsolicited.
"""

from __future__ import annotations

import dataclasses

import tlspipe
from helpers import Rec, make_pair
from pki import PKI
from tlspipe.enums import AlertDescription as AD
from tlspipe.enums import HandshakeType as HT
from tlspipe.msgs.handshake import EncryptedExtensions
from tlspipe.msgs.message import decode_handshake, encode_handshake


def _ee_with(**changes: object):  # type: ignore[no-untyped-def]
    def fn(rec: Rec) -> Rec:
        if rec.handshake_type() != HT.encrypted_extensions:
            return rec
        raw = rec.payload
        n = 4 + int.from_bytes(raw[1:4], "big")
        ee = decode_handshake(raw[:n], tls13=True).body
        assert isinstance(ee, EncryptedExtensions)
        ext = dataclasses.replace(ee.extensions, **changes)
        body = encode_handshake(EncryptedExtensions(extensions=ext))
        return dataclasses.replace(rec, payload=body + raw[n:])

    return fn


def test_unsolicited_record_size_limit_in_encrypted_extensions(pki: PKI) -> None:
    p = make_pair(pki)
    p.flow(p.client, p.server)
    p.transfer_altered(p.server, p.client, _ee_with(record_size_limit=2**14 + 1))
    out = p.until_error()
    assert isinstance(out.client_error, tlspipe.PeerMisbehaved)
    assert [d for lvl, d in out.client_alerts if lvl == 2] == [AD.unsupported_extension]
