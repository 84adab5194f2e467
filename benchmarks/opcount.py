"""``python -m benchmarks.opcount ROW``: Python bytecodes executed per handshake pair, by file and
by function.

A ``sys.settrace`` opcode counter around ``--pairs`` handshakes of a row of ``python -m
benchmarks`` (after two warm-up handshakes; pairs are kept alive, as the benchmark keeps
them).  Deterministic and quick (seconds), it is the A/B measure for tlspipe's Python: on
this machine time per handshake tracked bytecodes far better than instructions
(``benchmarks.icount``), whose count is mostly the crypto's.  The harness's own frames
(``stacks.py``) are counted too and listed as such.

Rows: ``full13_ecdsa``, ``full13_ecdsa_nocache``, ``full13_rsa``, ``full12_ecdsa``,
``resumed13_ticket``, ``resumed12_sessionid``, ``resumed12_ticket``.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

from .icount import _operation


def count(row: str, pairs: int, certdir: Path) -> collections.Counter[tuple[str, str]]:
    """Bytecodes executed by ``pairs`` handshakes of ``row``, by (file, function)."""
    op = _operation(row, "tlspipe", certdir)
    op(2)
    counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return on_opcode

    def on_opcode(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            code = frame.f_code
            counts[(code.co_filename, code.co_name)] += 1
        return on_opcode

    sys.settrace(on_call)
    try:
        op(pairs)
    finally:
        sys.settrace(None)
    return counts


def _short(filename: str) -> str:
    return filename.split("src/tlspipe/")[-1] if "tlspipe" in filename else Path(filename).name


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.opcount", description=__doc__)
    p.add_argument("row", help="a handshake row key, as in python -m benchmarks --json")
    p.add_argument("--pairs", type=int, default=10, help="handshake pairs counted")
    p.add_argument("--top", type=int, default=40, help="functions listed")
    args = p.parse_args(argv)
    counts = count(args.row, args.pairs, Path(tempfile.mkdtemp(prefix="tlspipe-opcount-")))
    total = sum(counts.values())
    by_file: collections.Counter[str] = collections.Counter()
    for (filename, _), n in counts.items():
        by_file[_short(filename)] += n
    print(f"{args.row}: {total / args.pairs:,.0f} bytecodes per handshake pair")
    for name, n in by_file.most_common():
        print(f"{n / args.pairs:8,.0f}  {100 * n / total:5.1f} %  {name}")
    print("--- functions")
    for (filename, func), n in counts.most_common(args.top):
        print(f"{n / args.pairs:8,.0f}  {_short(filename)}:{func}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
