"""Review: a ClientHello's key_share list is checked against supported_groups in linear time.

Every KeyShareEntry must name a group of supported_groups (RFC 8446 §4.2.8).  Checked with
``in`` on the decoded tuple, a 64 KiB ClientHello with ~4,500 key shares and ~20,000 groups
cost the server about half a second of CPU before any answer (a quadratic, unauthenticated
amplification); a normal ClientHello costs about a millisecond.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

import tlspipe
from helpers import client_config, server_config
from pki import PKI
from tlspipe.msgs.extensions import KeyShareEntry
from tlspipe.msgs.hello import ClientHello
from tlspipe.msgs.message import decode_handshake, encode_handshake


def _records(msg: bytes) -> bytes:
    return b"".join(
        bytes((22, 3, 3)) + len(msg[i : i + 16384]).to_bytes(2, "big") + msg[i : i + 16384]
        for i in range(0, len(msg), 16384)
    )


def test_many_key_shares_and_groups_cost_linear_time(pki: PKI) -> None:
    c = tlspipe.ClientConnection(client_config(pki), "localhost")
    ch = decode_handshake(c.write_tls()[5:], tls13=False).body
    assert isinstance(ch, ClientHello)
    share_groups = list(range(0x3000, 0x3000 + 4500))  # unknown groups: no key exchange done
    groups = tuple(range(0x8000, 0x8000 + 16000)) + tuple(share_groups)
    ext = dataclasses.replace(
        ch.extensions,
        supported_groups=groups,
        key_share=tuple(KeyShareEntry(g, b"\x01") for g in share_groups),
        psk_key_exchange_modes=None,
        pre_shared_key=None,
    )
    wire = _records(encode_handshake(dataclasses.replace(ch, extensions=ext)))
    s = tlspipe.ServerConnection(server_config(pki))
    s.read_tls(wire)
    start = time.process_time()
    with pytest.raises(tlspipe.PeerIncompatible):  # no group in common
        s.process_new_packets()
    assert time.process_time() - start < 0.15
