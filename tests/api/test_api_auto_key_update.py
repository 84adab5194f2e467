"""KeyUpdate is sent automatically before the sending key reaches its AEAD limit
(RFC 8446 §5.5): data keeps flowing and the peer follows the new keys."""

from __future__ import annotations

import tlspipe
from helpers import make_pair


def test_key_update_sent_automatically_near_the_limit(pki: object) -> None:
    pair = make_pair(pki)  # type: ignore[arg-type]
    pair.handshake()
    client, server = pair.client, pair.server
    assert client.protocol_version is tlspipe.ProtocolVersion.TLSv1_3
    rl = client._cx.record_layer
    # Pretend the key is 3 records from its soft limit.
    rl._enc_soft = rl.write_seq + 3
    received = b""
    for i in range(10):
        msg = b"record %d;" % i
        received += pair.send(client, msg)
    assert received == b"".join(b"record %d;" % i for i in range(10))
    # The client moved to a fresh key (sequence numbers restarted) and never exceeded the limit.
    assert rl.write_seq < 10
    # The server still talks to the client on its own, unchanged key.
    assert pair.send(server, b"pong") == b"pong"
