"""Hypothesis mutation of every record and message a peer sends, in every reachable state.

A live client/server pair runs a scripted conversation (handshake, optional HRR, data both
ways, KeyUpdate, close_notify).  At step ``k`` one record of the flight in transit is
mutated — dropped, duplicated, truncated, split, bit-flipped (in the plaintext, which the
wiretap re-encrypts, or in the ciphertext), retyped, replaced by random bytes, or a random
handshake message body re-framed in a valid (and, after ServerHello, validly encrypted)
record — or a random record is inserted.  The receiving side is the victim.

Invariants (the library's fuzzing contract, DESIGN.md "Errors"):

* every exception that escapes either connection is a :class:`tlspipe.Error`;
* after an error, every later call raises that same error object, and ``write_tls()`` gave
  at most the fatal alert (one short record, the last one) and nothing after;
* plaintext that was delivered is exactly a prefix of what the peer wrote;
* every loop is bounded and no buffer grows past its bound.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from fuzzconf import MAX_ALERT_RECORD, check_bounded, check_poisoned, fuzz_settings
from hypothesis import event, given
from hypothesis import strategies as st

import tlspipe
from helpers import (
    Pair,
    Rec,
    client_config,
    reframe_handshake,
    server_config,
    split_records,
)
from tlspipe.enums import ContentType, HandshakeType, NamedGroup
from tlspipe.errors import alert_for

V12, V13 = tlspipe.ProtocolVersion.TLSv1_2, tlspipe.ProtocolVersion.TLSv1_3

SCENARIOS: dict[str, dict] = {
    "plain": {},
    "hrr": {
        "client": {"kx_groups": (NamedGroup.x25519, NamedGroup.secp256r1)},
        "server": {"kx_groups": (NamedGroup.secp256r1,)},
    },
    "alpn-small-records": {
        "client": {"alpn_protocols": (b"h2", b"http/1.1"), "max_fragment_size": 64},
        "server": {"alpn_protocols": (b"http/1.1",), "max_fragment_size": 256},
    },
    "tls12": {"client": {"versions": (V12,)}, "server": {"versions": (V12, V13)}},
    "client-auth": {"client_auth": True},
    "resumed": {"prime": True},
    "early-data": {
        "prime": True,
        "early": b"early data!",
        "client": {"enable_early_data": True},
        "server": {"max_early_data_size": 1024},
    },
}


def scenario_pair(pki, name: str) -> Pair:  # type: ignore[no-untyped-def]
    """A fresh pair for ``name``; "prime" scenarios first run one full handshake with the
    same configs so the client holds a ticket (resumption, 0-RTT)."""
    sc_kw = dict(SCENARIOS[name])
    ckw = dict(sc_kw.get("client", {}))
    skw = dict(sc_kw.get("server", {}))
    if sc_kw.get("client_auth"):
        ident = pki.client("ecdsa-p256")
        skw["client_verifier"] = tlspipe.AllowAnyAuthenticatedClient(
            tlspipe.RootCertStore.from_pem_file(ident.ca_pem)
        )
    cc = client_config(pki, **ckw)
    if sc_kw.get("client_auth"):
        cc = cc.with_client_auth_cert(ident.chain_pem.read_bytes(), ident.key_pem.read_bytes())
    sc = server_config(pki, **skw)
    if sc_kw.get("prime"):
        first = Pair(cc, sc)
        first.handshake()
    pair = Pair(cc, sc)
    if sc_kw.get("early"):
        pair.client.write_early_data(sc_kw["early"])
    return pair


HS_TYPES = [int(t) for t in HandshakeType] + [99, 255]
CONTENT_TYPES = [20, 21, 22, 23]


@dataclass
class Mutation:
    """One change to one record of one flight."""

    op: str
    index: int
    data: bytes = b""
    n: int = 0
    typ: int = 22
    encrypted: bool = True


mutations = st.builds(
    Mutation,
    op=st.sampled_from(
        [
            "drop",
            "dup",
            "truncate",
            "extend",
            "split",
            "flip_plain",
            "flip_wire",
            "random_payload",
            "random_body",
            "retype",
            "insert",
            "reversion",
            "swap",
        ]
    ),
    index=st.integers(0, 15),
    data=st.binary(max_size=300),
    n=st.integers(0, 2**16),
    typ=st.sampled_from(CONTENT_TYPES + [0, 24, 255]),
    encrypted=st.booleans(),
)


def _apply(m: Mutation, recs: list[Rec], i: int) -> list[Rec | bytes]:
    """The records to send instead of ``recs[i]`` (others pass unchanged)."""
    r = recs[i]
    p = r.payload
    if m.op == "drop":
        return []
    if m.op == "dup":
        return [r, dataclasses.replace(r)]
    if m.op == "truncate":
        return [dataclasses.replace(r, payload=p[: m.n % (len(p) + 1)])]
    if m.op == "extend":
        return [dataclasses.replace(r, payload=p + m.data)]
    if m.op == "split":
        k = m.n % (len(p) + 1)
        return [dataclasses.replace(r, payload=p[:k]), dataclasses.replace(r, payload=p[k:])]
    if m.op == "flip_plain":
        if not p:
            return [r]
        bit = m.n % (8 * len(p))
        q = bytearray(p)
        q[bit // 8] ^= 1 << (bit % 8)
        return [dataclasses.replace(r, payload=bytes(q))]
    if m.op == "random_payload":
        return [dataclasses.replace(r, payload=m.data)]
    if m.op == "random_body":
        typ = HS_TYPES[m.n % len(HS_TYPES)] if m.typ != 22 else (p[0] if p else 1)
        return [
            dataclasses.replace(
                r, typ=ContentType.handshake, payload=reframe_handshake(m.data, typ)
            )
        ]
    if m.op == "retype":
        return [dataclasses.replace(r, typ=m.typ)]
    if m.op == "insert":
        extra = Rec(m.typ, m.data, encrypted=m.encrypted and r.encrypted)
        return [extra, r] if m.n % 2 else [r, extra]
    if m.op == "reversion":
        return [dataclasses.replace(r, version=m.n & 0xFFFF)]
    raise AssertionError(m.op)


#: Mutations that, on a protected record, work on the ciphertext (an attacker without keys).
KEYLESS = {"drop", "dup", "swap", "flip_wire", "retype", "reversion", "truncate"}


def _wire_mutation(m: Mutation, wire: bytes) -> list[bytes]:
    """``m`` applied to the wire bytes of a protected record (no keys needed)."""
    if m.op == "drop":
        return []
    if m.op == "dup":
        return [wire, wire]
    if m.op == "flip_wire":
        bit = m.n % (8 * len(wire))
        b = bytearray(wire)
        b[bit // 8] ^= 1 << (bit % 8)
        return [bytes(b)]
    if m.op == "retype":
        return [bytes((m.typ & 0xFF,)) + wire[1:]]
    if m.op == "reversion":
        return [wire[:1] + (m.n & 0xFFFF).to_bytes(2, "big") + wire[3:]]
    if m.op == "truncate":
        body = wire[5 : 5 + m.n % (len(wire) - 4)]
        return [wire[:3] + len(body).to_bytes(2, "big") + body]
    raise AssertionError(m.op)


def _mutated_transfer(
    pair: Pair, src: tlspipe.Connection, data: bytes, m: Mutation, keyed: list[bool]
) -> bytes:
    """Take src's flight through the wiretap, mutating one record.

    Unchanged records keep their original wire bytes.  ``keyed`` gets True when the mutated
    record was re-protected with the real keys (the wiretap then acts as an attacker holding
    the keys, so delivered plaintext may legitimately differ from what was written).
    """
    n = len(split_records(data))
    if n == 0:
        return Rec(m.typ, m.data).raw() if m.op == "insert" else b""
    target = m.index % n
    sender = pair._name(src)
    tap = pair.tap
    assert tap is not None
    d = tap.dirs[sender]
    k = -1
    held: list[bytes] = []

    def passthrough(rec: Rec) -> bytes:
        if rec.encrypted:
            d.out_seq += 1  # keep the wiretap's sealing sequence in step with the sender
        return rec.wire

    def fn(rec: Rec) -> list[Rec | bytes]:
        nonlocal k
        k += 1
        if k != target:
            out: list[Rec | bytes] = [passthrough(rec)]
            if k == target + 1 and held:
                out += held
            return out
        if m.op == "swap":
            held.append(passthrough(rec))
            return [] if target < n - 1 else held
        if rec.encrypted and m.op in KEYLESS:
            d.out_seq += 1
            return list(_wire_mutation(m, rec.wire))
        if m.op in ("flip_wire", "dup", "drop"):
            return list(_wire_mutation(m, rec.wire))
        keyed.append(rec.encrypted or (m.op == "insert" and m.encrypted))
        return _apply(m, [rec], 0)

    return pair._through_tap(src, data, fn, split=False)


class _Run:
    """Drive the scripted conversation; record what each side wrote and read."""

    def __init__(self, pair: Pair) -> None:
        self.p = pair
        self.sent = {"client": b"", "server": b""}
        self.got = {"client": b"", "server": b""}
        self.err: dict[str, tlspipe.Error | None] = {"client": None, "server": None}
        self.outbox: dict[str, bytes] = {"client": b"", "server": b""}
        self.keyed: list[bool] = []

    def call(self, side: str, fn, *args):  # type: ignore[no-untyped-def]
        """Call ``fn`` on a side; an Error poisons that side (anything else fails the test)."""
        if self.err[side] is not None:
            return None
        try:
            return fn(*args)
        except tlspipe.Error as e:
            self.err[side] = e
            return None

    def conn(self, side: str) -> tlspipe.Connection:
        return self.p.client if side == "client" else self.p.server

    def app_step(self, side: str, step: int) -> None:
        c = self.conn(side)
        if self.err[side] is not None or c.is_handshaking:
            return
        msg = b"%s-%d;" % (side.encode(), step)
        if step < 7:
            n = self.call(side, c.write, msg)
            if n:
                self.sent[side] += msg[:n]
        if step == 4 and c.protocol_version is V13:
            self.call(side, c.refresh_traffic_keys)
        if step == 7:
            self.call(side, c.send_close_notify)

    def deliver(self, dst_side: str, wire: bytes) -> None:
        dst = self.conn(dst_side)
        if self.err[dst_side] is not None or not wire:
            return
        off = 0
        for _ in range(64):  # bounded: each pass either takes bytes or processes
            n = self.call(dst_side, dst.read_tls, wire[off:])
            if n is None:
                return
            off += n
            self.process(dst_side)
            if self.err[dst_side] is not None or off >= len(wire):
                break
            if n == 0:
                self.read_plain(dst_side)
        self.read_plain(dst_side)

    def process(self, side: str) -> None:
        c = self.conn(side)
        if self.err[side] is None:
            # keep what was queued before this call: it goes to the peer later
            self.outbox[side] += c.write_tls()
        self.call(side, c.process_new_packets)

    def take(self, side: str) -> bytes:
        """Everything ``side`` has queued for the peer."""
        out = self.outbox[side] + self.conn(side).write_tls()
        self.outbox[side] = b""
        return out

    def read_plain(self, side: str) -> None:
        c = self.conn(side)
        data = self.call(side, c.read)
        if data:
            self.got[side] += data


def _run(pair: Pair, plan: dict[int, Mutation], eof: bool) -> _Run:
    """Run the conversation, applying ``plan[step]`` to the flight sent at ``step``."""
    run = _Run(pair)
    c_to_s = True
    for step in range(10):
        src_side, dst_side = ("client", "server") if c_to_s else ("server", "client")
        src = run.conn(src_side)
        run.app_step(src_side, step)
        # a side that failed still hands out its final alert (and whatever preceded it)
        raw = run.take(src_side)
        if step in plan and run.err[src_side] is None:
            wire = _mutated_transfer(pair, src, raw, plan[step], run.keyed)
        else:
            wire = pair._through_tap(src, raw, None)
        err_before = run.err[dst_side]
        run.deliver(dst_side, wire)
        if err_before is None and run.err[dst_side] is not None:
            _check_alert_out(pair, run, dst_side)
        c_to_s = not c_to_s
    if eof:
        for side in ("client", "server"):
            c = run.conn(side)
            if run.err[side] is None:
                run.call(side, c.read_tls, b"")
                run.call(side, c.process_new_packets)
                run.read_plain(side)
    return run


def _check_alert_out(pair: Pair, run: _Run, side: str) -> None:
    """Right after ``side`` failed: its output is at most one fatal alert record."""
    conn = run.conn(side)
    err = run.err[side]
    assert err is not None
    out = conn.write_tls()
    legit = run.outbox[side]  # produced before the failing call
    run.outbox[side] = b""
    want = alert_for(err)
    if conn._cx.sent_close_notify:
        want = None
    if not out:
        assert want is None, (err, "no alert was queued")
        return
    # The failing call may have queued records before the error (the HelloRetryRequest for
    # the ClientHello that preceded the bad record, a KeyUpdate answer, data flushed when
    # the handshake completed); those still go out.  The alert, if any, is the last record,
    # short, and names the error's alert; no other alert is in the output.
    recs = split_records(out)
    assert recs and sum(len(r.payload) + 5 for r in recs) == len(out), (err, out)
    tap = pair.tap
    assert tap is not None
    for r in split_records(legit):
        pair._observe(side, tap.open(side, pair._suite(conn), r))
    opened = [tap.open(side, pair._suite(conn), r) for r in recs]
    for r in opened[:-1] if want is not None else opened:
        assert r.typ != ContentType.alert or not (r.encrypted or len(r.payload) == 2), (
            err,
            opened,
        )
    if want is not None:
        last = opened[-1]
        assert len(recs[-1].payload) + 5 <= MAX_ALERT_RECORD, (err, out)
        # readable when plaintext or decrypted by the wiretap (TLS 1.3); TLS 1.2 stays opaque
        if last.encrypted or (last.typ == ContentType.alert and len(last.payload) == 2):
            assert last.typ == ContentType.alert and last.payload == bytes((2, want)), (err, last)
    # hand the alert to the peer: it fails with AlertReceived (or was already failed) --
    # or, when a dropped record left it out of step with the sender's sequence numbers, it
    # cannot open the alert and fails on that: then its own alert is checked the same way.
    peer_side = "server" if side == "client" else "client"
    peer_err_before = run.err[peer_side]
    run.deliver(peer_side, legit + out)
    if peer_err_before is None and run.err[peer_side] is not None:
        _check_alert_out(pair, run, peer_side)


def _check(run: _Run) -> None:
    for side in ("client", "server"):
        e = run.err[side]
        event(f"{side}: {type(e).__name__ if e else 'ok'}")
        conn = run.conn(side)
        check_bounded(conn)
        peer = "server" if side == "client" else "client"
        if not any(run.keyed):
            assert run.got[side] == run.sent[peer][: len(run.got[side])]
        err = run.err[side]
        if err is not None:
            check_poisoned(conn, err)


@fuzz_settings(3000)
@given(
    scenario=st.sampled_from(sorted(SCENARIOS)),
    step=st.integers(0, 9),
    m=mutations,
    second=st.none() | st.tuples(st.integers(0, 9), mutations),
    eof=st.booleans(),
)
def test_mutated_flight(pki, scenario, step, m, second, eof):
    """One mutated flight (sometimes two, to reach states past a tolerated change)."""
    pair = scenario_pair(pki, scenario)
    plan = {step: m}
    if second is not None:
        plan.setdefault(second[0], second[1])
    run = _run(pair, plan, eof)
    _check(run)


def _nth_handshake(body: bytes, typ: int, nth: int) -> Callable[[Rec], list[Rec]]:
    """Replace the ``nth`` handshake record's payload (wrapping around) with a re-framed
    random message; protected records stay protected (re-sealed by the wiretap)."""
    seen = [0]

    def once(rec: Rec) -> list[Rec]:
        if rec.typ == ContentType.handshake:
            seen[0] += 1
            if seen[0] - 1 == nth:
                return [dataclasses.replace(rec, payload=reframe_handshake(body, typ))]
        return [rec]

    return once


@fuzz_settings(1200)
@given(
    body=st.binary(max_size=600),
    typ=st.sampled_from(HS_TYPES),
    stage=st.integers(0, 2),
    nth=st.integers(0, 3),
    scenario=st.sampled_from(sorted(SCENARIOS)),
)
def test_random_handshake_bodies(pki, body, typ, stage, nth, scenario):
    """Random message bodies of every handshake type, framed in valid records at each
    handshake stage (plaintext before ServerHello, protected after)."""
    pair = scenario_pair(pki, scenario)
    run = _Run(pair)
    # stage 0: server gets it instead of ClientHello; 1: client instead of ServerHello /
    # inside the server's protected flight; 2: server after the client's Finished
    seq = [("client", "server"), ("server", "client"), ("client", "server")]
    for i, (src_side, dst_side) in enumerate(seq):
        src = run.conn(src_side)
        if i == stage:
            wire = pair._through_tap(src, run.take(src_side), _nth_handshake(body, typ, nth))
        else:
            wire = pair._through_tap(src, run.take(src_side), None)
        err_before = run.err[dst_side]
        run.deliver(dst_side, wire)
        if err_before is None and run.err[dst_side] is not None:
            _check_alert_out(pair, run, dst_side)
    _check(run)
