"""Coverage-guided fuzzing of the connection with atheris (not collected by pytest).

Each input is split into a victim selector and a script of records: the harness runs a real
in-memory handshake with tests/helpers.Pair, and at a chosen flight replaces what the
victim's peer sends with records built from the input (content type, optional protection
by the wiretap with the real keys, payload).  Any exception other than ``tlspipe.Error``
is a crash; so is a poisoned connection that does not repeat its error.

Run (atheris needs a clang-built CPython wheel; ``pip install atheris``)::

    cd tests && PYTHONPATH=../src python fuzz/atheris_conn.py -atheris_runs=200000 \
        -max_len=4096 corpus_dir/

Input layout: byte 0 bit 0 = victim (0 client, 1 server), byte 0 bits 1-3 = flight; then
repeated ``type(1) flags(1) len(2) payload``; flags bit 0 = protect with the sender's keys.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import atheris  # noqa: E402

with atheris.instrument_imports():
    from fuzzconf import check_bounded, check_poisoned

    import tlspipe
    from helpers import Pair, Rec, client_config, server_config
    from pki import PKI

_PKI = PKI(pathlib.Path(tempfile.mkdtemp(prefix="tlspipe-atheris-")))
_CC = client_config(_PKI)
_SC = server_config(_PKI)


def _records(data: bytes) -> list[Rec]:
    out = []
    i = 0
    while i + 4 <= len(data) and len(out) < 64:
        typ, flags, n = data[i], data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        payload = data[i + 4 : i + 4 + n]
        out.append(Rec(typ, payload, encrypted=bool(flags & 1)))
        i += 4 + n
    return out


def one_input(data: bytes) -> None:
    if not data:
        return
    victim_is_server = bool(data[0] & 1)
    flight = (data[0] >> 1) & 7
    script = _records(data[1:])
    p = Pair(_CC, _SC)
    c, s = p.client, p.server
    flights = [(c, s), (s, c), (c, s), (s, c), (c, s), (s, c)]
    for i, (src, dst) in enumerate(flights):
        if i == flight and (dst is s) == victim_is_server:
            injected = iter(script)

            def fn(rec: Rec, injected=injected) -> list[Rec]:  # type: ignore[no-untyped-def]
                return [r for r in [next(injected, None)] if r is not None] or [rec]

            sent = p.transfer_altered(src, dst, fn)
        else:
            sent = p.transfer(src, dst)
        try:
            dst.process_new_packets()
            dst.read()
        except tlspipe.Error as e:
            dst.write_tls()  # the alert
            check_poisoned(dst, e)
            return
        finally:
            check_bounded(dst)
        if not sent and not (c.is_handshaking or s.is_handshaking):
            c.write(b"data")
            s.write(b"data")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
