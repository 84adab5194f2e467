"""Review: KeyUpdate requests are answered once until our new key is used (RFC 8446 §4.6.3).

A peer that keeps sending KeyUpdate(update_requested) with a byte of application data in
between (which resets the "KeyUpdates in a row" bound) must not make our queue of TLS bytes
grow without bound while it never reads them: one answer before our next record suffices.
"""

from __future__ import annotations

from helpers import make_pair
from pki import PKI


def test_key_update_requests_coalesce(pki: PKI) -> None:
    pair = make_pair(pki, tap=False)
    pair.handshake()
    c, s = pair.client, pair.server
    for _ in range(200):
        c.refresh_traffic_keys()
        assert c.write(b"x") == 1
        data = c.write_tls()
        assert s.read_tls(data) == len(data)
        s.process_new_packets()
        assert s.read() == b"x"
    queued = s.write_tls()  # the server never wrote data: one KeyUpdate answers them all
    assert len(queued) < 100
    # the pipe still works both ways afterwards
    c.read_tls(queued)
    c.process_new_packets()
    assert pair.send(s, b"ping") == b"ping"
    assert pair.send(c, b"pong") == b"pong"
