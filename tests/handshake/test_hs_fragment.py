"""max_fragment_size (the tunable MTU) is honoured on the wire, in both directions."""

from __future__ import annotations

import pytest

import tlspipe
from helpers import make_pair
from tlspipe.enums import ContentType

TAG = 16


@pytest.mark.parametrize("size", [64, 100, 1000, 4096, 2**14])
def test_records_never_exceed_max_fragment_size(pki, size):
    p = make_pair(
        pki,
        "rsa-2048",  # a big certificate makes the server flight span many records
        client={"max_fragment_size": size},
        server={"max_fragment_size": size},
    )
    p.handshake()
    data = bytes(range(256)) * 100
    assert p.send(p.client, data) == data
    assert p.send(p.server, data) == data
    for side in ("client", "server"):
        for rec in p.records[side]:
            if rec.typ == ContentType.change_cipher_spec:
                continue
            assert len(rec.payload) <= size, (side, rec.typ)
    # application data is cut into full fragments
    app = [r for r in p.records["client"] if r.typ == ContentType.application_data]
    assert len(app) == -(-len(data) // size)


def test_wire_record_lengths_include_only_overhead(pki):
    p = make_pair(pki, client={"max_fragment_size": 512})
    p.handshake()
    p.client.write(b"z" * 5000)
    from helpers import split_records

    wire = split_records(p.client.write_tls())
    assert all(len(r.payload) <= 512 + 1 + TAG for r in wire)
    assert len(wire) == 10


@pytest.mark.parametrize("bad", [0, 63, 2**14 + 1, -5])
def test_bad_fragment_size(pki, bad):
    from helpers import client_config, server_config

    with pytest.raises(tlspipe.ConfigError):
        client_config(pki, max_fragment_size=bad)
    with pytest.raises(tlspipe.ConfigError):
        server_config(pki, max_fragment_size=bad)


@pytest.mark.parametrize(("size", "records"), [(2**14, 1), (256, None)])
def test_server_flight_is_coalesced(pki, size, records):
    """A full TLS 1.3 server flight: EncryptedExtensions … Finished share records (as many
    as max_fragment_size needs), not one record per message."""
    from helpers import split_records

    p = make_pair(pki, server={"max_fragment_size": size})
    c, s = p.client, p.server
    s.read_tls(c.write_tls())
    s.process_new_packets()
    data = s.write_tls()
    wire = split_records(data)
    protected = [r for r in wire if r.content_type == ContentType.application_data]
    flight = sum(len(r.payload) - 1 - TAG for r in protected)
    assert len(protected) == (records if records is not None else -(-flight // size))
    c.read_tls(data)  # and the client takes it
    c.process_new_packets()
    p.handshake()
    assert not c.is_handshaking and not s.is_handshaking
