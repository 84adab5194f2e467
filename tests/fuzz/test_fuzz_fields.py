"""Structured mutation: decode a handshake message in flight, change one field (recursively,
extensions included), re-encode, re-protect.

Byte-level mutation mostly hits the decoder; this reaches the *semantic* checks of the
handshake states (values not offered, inconsistent extensions, wrong lengths that still
decode).  Same invariants as test_fuzz_records.

Messages differ between runs (randoms, key shares, signature lengths), so the mutation's
choices come from a ``random.Random`` seeded by Hypothesis rather than from ``st.data()``
(Hypothesis requires the same draws when it replays an example).
"""

from __future__ import annotations

import dataclasses
import random
import typing

from fuzzconf import fuzz_settings
from hypothesis import event, given
from hypothesis import strategies as st
from test_fuzz_records import SCENARIOS, _check, _check_alert_out, _Run, scenario_pair

import tlspipe
from helpers import Rec
from tlspipe.enums import ContentType
from tlspipe.msgs.message import decode_handshake, encode_handshake

_HINTS: dict[type, dict[str, object]] = {}


def _hints(cls: type) -> dict[str, object]:
    if cls not in _HINTS:
        import tlspipe.msgs.extensions as ext_mod
        import tlspipe.msgs.handshake as hs_mod
        import tlspipe.msgs.hello as hello_mod

        ns: dict[str, object] = {}
        for mod in (ext_mod, hs_mod, hello_mod):
            ns.update(vars(mod))
        try:
            _HINTS[cls] = typing.get_type_hints(cls, globalns=ns)
        except (NameError, TypeError):
            _HINTS[cls] = {}
    return _HINTS[cls]


def _fresh(tp: object, rng: random.Random) -> object:
    """A random value for type ``tp`` (only simple types; None when unknown)."""
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, __import__("types").UnionType):
        options = [a for a in args if a is not type(None)]
        return _fresh(rng.choice(options), rng) if options else None
    if tp is bool:
        return rng.random() < 0.5
    if tp is int:
        return rng.choice([0, 1, 2, 3, 0x0303, 0x0304, 0x1D, 0x17, 255, 0xFFFF])
    if tp is bytes:
        return rng.randbytes(rng.randint(0, 64))
    if origin is tuple and args and args[-1] is Ellipsis:
        elem = args[0]
        n = rng.randint(0, 3)
        vals = [_fresh(elem, rng) for _ in range(n)]
        return tuple(v for v in vals if v is not None)
    return None


def _mutate(obj: object, rng: random.Random, depth: int = 0) -> object:
    """``obj`` with one (possibly nested) field changed."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = [f.name for f in dataclasses.fields(obj) if f.init]
        if not fields:
            return obj
        name = rng.choice(fields)
        value = getattr(obj, name)
        hint = _hints(type(obj)).get(name)
        choice = rng.randint(0, 2)
        if choice == 0 and hint is not None:
            new = _fresh(hint, rng)  # a fresh value of the declared type (None = absent)
        else:
            new = _mutate(value, rng, depth + 1)
        return dataclasses.replace(obj, **{name: new})
    if isinstance(obj, tuple):
        if not obj:
            return obj
        i = rng.randrange(len(obj))
        op = rng.choice(["drop", "dup", "inner", "reverse", "empty"])
        if op == "drop":
            return obj[:i] + obj[i + 1 :]
        if op == "dup":
            return obj[: i + 1] + obj[i:]
        if op == "reverse":
            return obj[::-1]
        if op == "empty":
            return ()
        return obj[:i] + (_mutate(obj[i], rng, depth + 1),) + obj[i + 1 :]
    if isinstance(obj, bool):
        return not obj
    if isinstance(obj, int):
        return rng.choice([0, obj ^ 1, obj + 1, max(obj - 1, 0), 0xFFFF, 0x0304, 0x1D])
    if isinstance(obj, bytes):
        op = rng.choice(["empty", "flip", "truncate", "random", "extend"])
        if op == "empty" or not obj:
            return b""
        if op == "flip":
            i = rng.randrange(len(obj))
            return obj[:i] + bytes((obj[i] ^ 0x01,)) + obj[i + 1 :]
        if op == "truncate":
            return obj[: rng.randrange(len(obj))]
        if op == "extend":
            return obj + rng.randbytes(rng.randint(1, 16))
        return rng.randbytes(len(obj))
    return obj


#: Handshake messages outside the transcript: changing them need not break the handshake.
NOT_IN_TRANSCRIPT = {"NewSessionTicket13", "KeyUpdate"}


def _field_mutator(rng: random.Random, tls13: bool, nth: int, changed: list[str]):  # type: ignore[no-untyped-def]
    seen = [0]

    def fn(rec: Rec) -> list[Rec | bytes]:
        if rec.typ != ContentType.handshake or not rec.payload:
            return [rec]
        seen[0] += 1
        if seen[0] - 1 != nth:
            return [rec]
        try:
            msg = decode_handshake(rec.payload, tls13=tls13 or rec.encrypted)
        except tlspipe.Error:
            return [rec]
        body = _mutate(msg.body, rng)
        try:
            raw = encode_handshake(body)  # type: ignore[arg-type]
        except (ValueError, OverflowError, TypeError, AttributeError, tlspipe.Error):
            event("unencodable mutation")
            return [rec]
        event(f"mutated {type(msg.body).__name__}")
        if raw != rec.payload:
            changed.append(type(msg.body).__name__)
        return [dataclasses.replace(rec, payload=raw)]

    return fn


@fuzz_settings(1000)
@given(
    scenario=st.sampled_from(sorted(SCENARIOS)),
    step=st.integers(0, 3),
    nth=st.integers(0, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_mutated_fields(pki, scenario, step, nth, seed):
    pair = scenario_pair(pki, scenario)
    run = _Run(pair)
    changed: list[str] = []
    rng = random.Random(seed)
    c_to_s = True
    for i in range(8):
        src_side, dst_side = ("client", "server") if c_to_s else ("server", "client")
        src = run.conn(src_side)
        run.app_step(src_side, i)
        raw = run.take(src_side)
        tls13 = src.protocol_version is tlspipe.ProtocolVersion.TLSv1_3
        fn = _field_mutator(rng, tls13, nth, changed)
        wire = pair._through_tap(src, raw, fn if i == step else None)
        err_before = run.err[dst_side]
        run.deliver(dst_side, wire)
        if err_before is None and run.err[dst_side] is not None:
            _check_alert_out(pair, run, dst_side)
        c_to_s = not c_to_s
    run.keyed.append(True)  # re-sealed with the real keys: plaintext may differ
    _check(run)
    # the transcript protects every handshake message: a changed one must not go unnoticed
    if any(name not in NOT_IN_TRANSCRIPT for name in changed):
        both_done = not (pair.client.is_handshaking or pair.server.is_handshaking)
        assert not (both_done and run.err["client"] is None and run.err["server"] is None), (
            f"handshake completed despite a changed {changed}"
        )
