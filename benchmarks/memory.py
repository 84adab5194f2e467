"""Memory per established idle connection pair, measured in a child process per stack.

``python -m benchmarks.memory STACK KIND PAIRS CERTDIR`` builds the configs, warms up with a
few pairs, then keeps ``PAIRS`` handshaken pairs alive and prints the resident set growth per
pair (bytes) as JSON.  RSS is read from ``/proc/self/statm`` (Linux) after ``gc.collect()``.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss() -> int:
    """Resident set size of this process in bytes."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:  # not Linux: peak RSS is the best we have
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(stack_name: str, kind: str, pairs: int, certdir: Path) -> float:
    """Bytes of RSS per idle handshaken pair (in this process)."""
    from .pki import make_identity
    from .stacks import SslStack, TlspipeStack

    ident = make_identity(certdir, kind)
    cls = TlspipeStack if stack_name == "tlspipe" else SslStack
    stack = cls(ident, "TLS13_AES_128_GCM_SHA256")
    # Warm up (imports, caches, allocator pools) and keep the warm-up pairs alive, so that the
    # measured pairs cannot reuse memory freed by them.
    warm = [stack.handshake() for _ in range(50)]
    gc.collect()
    before = rss()
    keep: list[Any] = [stack.handshake() for _ in range(pairs)]
    gc.collect()
    after = rss()
    if len(keep) != pairs or len(warm) != 50:
        raise RuntimeError("lost pairs")
    return (after - before) / pairs


def run_child(stack_name: str, kind: str, pairs: int, certdir: Path) -> float:
    """Run :func:`measure` in a fresh interpreter; bytes per pair."""
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(root), str(root / "src"), env.get("PYTHONPATH", "")) if p
    )
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", stack_name, kind, str(pairs), str(certdir)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["bytes_per_pair"])


if __name__ == "__main__":
    name, k, n, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    print(json.dumps({"bytes_per_pair": measure(name, k, n, d)}))
