"""``python -m benchmarks.icount ROW [ROW ...]``: instructions per operation, under callgrind.

Timing on this shared 2-core machine scatters by a few percent from run to run; the number
of instructions a row executes does not (two runs of the same tree agree within ~0.1 %).
That makes it the A/B measure for small changes to tlspipe's Python: run it on two trees
(``PYTHONPATH=tree/src``) and compare.  Instructions are not time — OpenSSL's bignum and AES
code retires several per cycle, Python's interpreter fewer — so the speed figures stay
those of ``python -m benchmarks``.

Each row is run twice under ``valgrind --tool=callgrind`` (set up once, then ``--small`` and
``--large`` operations); the difference divided by the extra operations is the cost of one
operation with the set-up (imports, PKI, configs) cancelled out.  ``--stack`` picks tlspipe,
ssl or the ceiling's cryptography-only work for the same row.

Rows: the handshake rows of ``python -m benchmarks`` (``full13_ecdsa``, ``full13_ecdsa_nocache``,
``full13_rsa``, ``full12_ecdsa``, ``resumed13_ticket``, ``resumed12_sessionid``,
``resumed12_ticket``; one operation = one handshake pair) and ``bulk_aes128gcm``,
``bulk_aes256gcm``, ``bulk_chacha20poly1305`` (one operation = one 16 KiB record written,
moved and read).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import ceiling
from .pki import make_identity
from .stacks import CHUNK, SslStack, TlspipeStack

BULK = {
    "bulk_aes128gcm": "TLS13_AES_128_GCM_SHA256",
    "bulk_aes256gcm": "TLS13_AES_256_GCM_SHA384",
    "bulk_chacha20poly1305": "TLS13_CHACHA20_POLY1305_SHA256",
}
STACKS = ("tlspipe", "ssl", "ceiling")


def _operation(row: str, stack: str, certdir: Path) -> Callable[[int], None]:
    """Set ``row`` up for ``stack``; returns a function that performs ``n`` operations."""
    from .__main__ import _handshake_cases, _setup_resumption

    if row in BULK:
        suite = BULK[row]
        if stack == "ceiling":
            return lambda n: _discard(ceiling.aead_mb_per_s(suite, n * CHUNK))
        ident = make_identity(certdir, "ecdsa")
        st = TlspipeStack(ident, suite) if stack == "tlspipe" else SslStack(ident, suite)
        st.check()
        return lambda n: _discard(st.bulk(n * CHUNK))
    ids = {k: make_identity(certdir, k) for k in ("ecdsa", "rsa")}
    cases = {c.row.key: c for c in _handshake_cases(ids)}
    if row not in cases:
        raise SystemExit(f"unknown row {row!r}; rows: {', '.join([*cases, *BULK])}")
    case = cases[row]
    if stack == "ceiling":
        work = case.work
        return lambda n: _discard([work() for _ in range(n)])
    _setup_resumption(case)
    if stack == "tlspipe":
        if case.tp is None:
            raise SystemExit(f"{row}: tlspipe cannot run this row")
        hs: Callable[[], object] = case.tp.handshake
    else:
        if not case.resumed:
            case.ssl.check()
        hs = case.ssl.handshake
    keep: list[object] = []  # as the benchmark does: nothing is freed inside the sample
    return lambda n: keep.extend(hs() for _ in range(n))


def _discard(_: object) -> None:
    """Drop a result (the operations are what is counted)."""


def _child(row: str, stack: str, n: int, certdir: Path) -> int:
    op = _operation(row, stack, certdir)
    op(2)  # warm caches, templates and lazily imported modules outside the difference
    op(n)
    return 0


_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _count(row: str, stack: str, n: int, certdir: Path) -> int:
    """Instructions of one child process doing ``n`` operations of ``row`` (with the PKI in
    ``certdir`` made beforehand: key generation's prime search would add noise)."""
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "benchmarks.icount",
        "--child",
        row,
        stack,
        str(n),
        str(certdir),
    ]
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
    m = _COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or m is None:
        raise SystemExit(f"callgrind run failed ({row}, {stack}, {n}):\n{proc.stderr[-2000:]}")
    return int(m.group(1))


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.icount", description=__doc__)
    p.add_argument("rows", nargs="+", help="row keys, as in python -m benchmarks --json")
    p.add_argument("--stack", choices=STACKS, action="append", help="default: tlspipe")
    p.add_argument("--small", type=int, default=20, help="operations in the first run")
    p.add_argument("--large", type=int, default=120, help="operations in the second run")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        row, stack, n, certdir = args.rows
        return _child(row, stack, int(n), Path(certdir))
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    if args.large <= args.small:
        raise SystemExit("--large must exceed --small")
    stacks = args.stack or ["tlspipe"]
    certdir = Path(tempfile.mkdtemp(prefix="tlspipe-icount-"))
    for kind in ("ecdsa", "rsa"):
        make_identity(certdir, kind)
    for row in args.rows:
        per = {}
        for stack in stacks:
            a = _count(row, stack, args.small, certdir)
            b = _count(row, stack, args.large, certdir)
            per[stack] = (b - a) / (args.large - args.small)
        cells = "  ".join(f"{s} {v / 1e3:,.0f} k" for s, v in per.items())
        print(f"{row}: instructions per operation: {cells}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
