"""``python -m benchmarks.profile``: cProfile (and pyinstrument, if installed) of tlspipe's
full TLS 1.3 ECDSA handshake and of its bulk AES-128-GCM path, both ends in this process.

Prints the top entries by internal and by cumulative time.  ``--pyinstrument`` adds a
pyinstrument call tree (``pip install pyinstrument``).  ``--resumed ROW`` profiles the
resumed handshakes of a benchmark row instead (``tls13-ticket``, ``tls12-session-id``,
``tls12-ticket``: the configs of ``python -m benchmarks``, every handshake checked to
resume), and prints the function calls per handshake pair.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
from collections.abc import Callable
from pathlib import Path

from .pki import Identity, make_identity
from .stacks import CHUNK, BenchError, TlspipeStack

#: --resumed row → (suite, resumption variant), as in the benchmark's resumed rows.
RESUMED = {
    "tls13-ticket": ("TLS13_AES_128_GCM_SHA256", "tickets"),
    "tls12-session-id": ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "session-id"),
    "tls12-ticket": ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "tickets"),
}


def _stats(prof: cProfile.Profile, n: int, key: str) -> str:
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(n)
    return buf.getvalue()


def main() -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    p.add_argument("--handshakes", type=int, default=500)
    p.add_argument("--bulk-mib", type=int, default=128)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--pyinstrument", action="store_true")
    p.add_argument("--kind", default="ecdsa", choices=("ecdsa", "rsa"))
    p.add_argument(
        "--resumed",
        choices=sorted(RESUMED),
        help="profile this row's resumed handshakes (ECDSA) instead of full ones and bulk",
    )
    args = p.parse_args()
    ident = make_identity(Path(tempfile.mkdtemp(prefix="tlspipe-prof-")), args.kind)
    if args.resumed is not None:
        return _resumed(args, ident)
    stack = TlspipeStack(ident, "TLS13_AES_128_GCM_SHA256")
    stack.check()

    def handshakes() -> None:
        for _ in range(args.handshakes):
            stack.handshake()

    c, s = stack.handshake()
    buf = bytes(CHUNK)

    def bulk() -> None:
        for _ in range(args.bulk_mib * 64):
            c.write(buf)
            s.read_tls(c.write_tls())
            s.process_new_packets()
            s.read()

    for name, fn in (("full handshake", handshakes), ("bulk AES-128-GCM", bulk)):
        _report(name, fn, args)
    return 0


def _resumed(args: argparse.Namespace, ident: Identity) -> int:
    """Profile ``args.handshakes`` resumed handshakes of row ``args.resumed``; like the
    benchmark, every pair is kept until the end (and checked to have resumed)."""
    suite, variant = RESUMED[args.resumed]
    stack = TlspipeStack(ident, suite, variant)
    stack.check(resumed=True)
    keep = []

    def handshakes() -> None:
        for _ in range(args.handshakes):
            keep.append(stack.handshake())

    prof = cProfile.Profile()
    prof.runcall(handshakes)
    if not all(c.handshake_kind_resumed for c, _ in keep):
        raise BenchError("a handshake did not resume")
    calls = pstats.Stats(prof).total_calls  # type: ignore[attr-defined]
    name = f"resumed {args.resumed}"
    print(f"===== {name}: {calls / args.handshakes:.0f} function calls per handshake pair =====")
    _report(name, handshakes, args, prof)
    return 0


def _report(
    name: str,
    fn: Callable[[], None],
    args: argparse.Namespace,
    prof: cProfile.Profile | None = None,
) -> None:
    """Print ``prof`` (a new cProfile run of ``fn`` when None) by tottime and cumtime, then,
    with ``--pyinstrument``, a pyinstrument call tree of another run of ``fn``."""
    if prof is None:
        prof = cProfile.Profile()
        prof.runcall(fn)
    print(f"===== {name}: cProfile, by tottime =====")
    print(_stats(prof, args.top, "tottime"))
    print(f"===== {name}: cProfile, by cumtime =====")
    print(_stats(prof, args.top, "cumulative"))
    if args.pyinstrument:
        try:
            from pyinstrument import Profiler
        except ImportError:
            print("(pyinstrument not installed)")
            return
        pi = Profiler(interval=0.0002)
        pi.start()
        fn()
        pi.stop()
        print(f"===== {name}: pyinstrument =====")
        print(pi.output_text(unicode=True, show_all=False))


if __name__ == "__main__":
    raise SystemExit(main())
