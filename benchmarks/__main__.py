"""``python -m benchmarks``: tlspipe vs ``ssl`` vs the crypto ceiling, in one run.

Rows (medians of ``--reps`` repetitions, min–max beside; the two stacks alternate within each
repetition, and the crypto-only ceiling is measured in the same repetition):

1. full TLS 1.3 handshakes/s, ECDSA P-256 and RSA-2048 (X25519, TLS13_AES_128_GCM_SHA256,
   the client verifies the chain to the CA and the host name);
2. full TLS 1.2 handshakes/s, ECDHE-ECDSA-AES128-GCM-SHA256;
3. resumed handshakes/s: TLS 1.3 ticket, TLS 1.2 session ID, TLS 1.2 ticket;
4. bulk MB/s client→server after the handshake, 16 KiB writes, per TLS 1.3 AEAD;
5. RSS per established idle connection pair (a child process per stack and repetition).

Rows tlspipe cannot do yet (TLS 1.2 before it lands, resumption) print
"n/a (not implemented)"; the ssl column is still measured.  Ratios: tlspipe/ssl and
tlspipe/ceiling of the medians (for memory, lower is better and there is no ceiling).
"""

from __future__ import annotations

import argparse
import json
import platform
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cryptography

import tlspipe

from . import ceiling, clock, memory
from .pki import Identity, make_identity
from .stacks import BenchError, SslStack, TlspipeStack, tls12_supported, tlspipe_resumes

NA = "n/a (not implemented)"
MiB = 1 << 20


@dataclass
class Row:
    """One line of the table: samples per column."""

    key: str
    title: str
    unit: str
    tlspipe: list[float] = field(default_factory=list)
    ssl: list[float] = field(default_factory=list)
    ceiling: list[float] = field(default_factory=list)
    note: str = ""
    lower_is_better: bool = False

    def stats(self, xs: list[float]) -> dict[str, float] | None:
        if not xs:
            return None
        return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}

    def ratio(self, a: list[float], b: list[float]) -> float | None:
        if not a or not b or statistics.median(b) == 0:
            return None
        return statistics.median(a) / statistics.median(b)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "lower_is_better": self.lower_is_better,
            "tlspipe": self.stats(self.tlspipe),
            "ssl": self.stats(self.ssl),
            "ceiling": self.stats(self.ceiling),
            "tlspipe_over_ssl": self.ratio(self.tlspipe, self.ssl),
            "tlspipe_over_ceiling": self.ratio(self.tlspipe, self.ceiling),
            "note": self.note,
            "samples": {"tlspipe": self.tlspipe, "ssl": self.ssl, "ceiling": self.ceiling},
        }


def _rate(
    fn: Callable[[], object], n: int, resumed: Callable[[object], bool] | None = None
) -> float:
    """Calls per second of ``fn``; results are kept until the clock stops, so neither stack
    pays for freeing connections inside the sample (and OpenSSL, which drops a session from
    its server cache when an SSL object is freed without a shutdown, keeps it).  With
    ``resumed``, every result must be a resumed handshake (checked after the clock stops).

    Raises:
        BenchError: a handshake of a resumption row did not resume.
    """
    keep = []
    t = clock.now()
    for _ in range(n):
        keep.append(fn())
    rate = n / (clock.now() - t)
    if resumed is not None and not all(resumed(r) for r in keep):
        raise BenchError("a handshake in a resumption sample did not resume")
    del keep
    return rate


def _tp_resumed(r: object) -> bool:
    return bool(r[0].handshake_kind_resumed)  # type: ignore[index]


def _ssl_resumed(r: object) -> bool:
    return bool(r[0].session_reused)  # type: ignore[index]


@dataclass
class HandshakeCase:
    """A handshake row: how to build each stack and the ceiling's work."""

    row: Row
    tp: TlspipeStack | None
    ssl: SslStack
    work: Callable[[], None]
    resumed: bool


def _handshake_cases(ids: dict[str, Identity]) -> list[HandshakeCase]:
    e, r = ids["ecdsa"], ids["rsa"]
    s13, s12 = "TLS13_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    cases: list[HandshakeCase] = []

    def add(
        key: str,
        title: str,
        ident: Identity,
        suite: str,
        res: str | None,
        work: Callable[[], None],
        tp_ok: bool,
        verify_cache: bool = True,
    ) -> None:
        note = "" if tp_ok else NA
        tp = TlspipeStack(ident, suite, res, verify_cache=verify_cache) if tp_ok else None
        if tp is not None and res is not None and not tlspipe_resumes(tp):
            tp, note = None, NA
        elif tp is not None and res is None:
            try:
                tp.check()
            except (tlspipe.Error, BenchError) as err:  # a version still being written
                tp, note = None, f"{NA}: {type(err).__name__}: {err}"
        row = Row(key, title, "handshakes/s", note=note)
        sslst = SslStack(ident, suite, res)
        cases.append(HandshakeCase(row, tp, sslst, work, res is not None))

    t12 = tls12_supported()
    add(
        "full13_ecdsa",
        "TLS 1.3 full handshake, ECDSA P-256",
        e,
        s13,
        None,
        ceiling.full13_work(e),
        True,
    )
    add(
        "full13_ecdsa_nocache",
        "TLS 1.3 full, ECDSA, chain verified every time",
        e,
        s13,
        None,
        ceiling.full13_work(e),
        True,
        verify_cache=False,
    )
    add(
        "full13_rsa", "TLS 1.3 full handshake, RSA-2048", r, s13, None, ceiling.full13_work(r), True
    )
    add(
        "full12_ecdsa",
        "TLS 1.2 full handshake, ECDHE-ECDSA-AES128-GCM",
        e,
        s12,
        None,
        ceiling.full12_work(e),
        t12,
    )
    add(
        "resumed13_ticket",
        "TLS 1.3 resumed handshake (ticket)",
        e,
        s13,
        "tickets",
        ceiling.resumed13_work(),
        True,
    )
    add(
        "resumed12_sessionid",
        "TLS 1.2 resumed handshake (session ID)",
        e,
        s12,
        "session-id",
        ceiling.resumed12_work(False),
        t12,
    )
    add(
        "resumed12_ticket",
        "TLS 1.2 resumed handshake (ticket)",
        e,
        s12,
        "tickets",
        ceiling.resumed12_work(True),
        t12,
    )
    return cases


def _setup_resumption(case: HandshakeCase) -> None:
    if not case.resumed:
        return
    case.ssl.remember_session()
    case.ssl.check(resumed=True)
    if case.tp is not None:
        case.tp.check(resumed=True)


def run(args: argparse.Namespace) -> list[Row]:
    """Measure every row; returns the rows with their samples."""
    quick = args.quick
    reps = args.reps or (1 if quick else 5)
    n_hs = args.handshakes or (8 if quick else 300)
    bulk = (args.bulk_mib or (2 if quick else 256)) * MiB
    pairs = args.pairs or (300 if quick else 2000)
    certdir = Path(args.certdir or tempfile.mkdtemp(prefix="tlspipe-bench-"))
    certdir.mkdir(parents=True, exist_ok=True)
    ids = {k: make_identity(certdir, k) for k in ("ecdsa", "rsa")}

    def log(*a: object) -> None:
        if args.verbose:
            print(*a, file=sys.stderr, flush=True)

    only = args.only

    def wanted(key: str) -> bool:
        return only is None or any(o in key for o in only.split(","))

    cases = [c for c in _handshake_cases(ids) if wanted(c.row.key)]
    for c in cases:
        if not c.resumed:
            c.ssl.check()
        else:
            _setup_resumption(c)
    bulk_rows: list[tuple[Row, TlspipeStack, SslStack, str]] = []
    for suite, label in (
        ("TLS13_AES_128_GCM_SHA256", "AES-128-GCM"),
        ("TLS13_AES_256_GCM_SHA384", "AES-256-GCM"),
        ("TLS13_CHACHA20_POLY1305_SHA256", "ChaCha20-Poly1305"),
    ):
        tp, sl = TlspipeStack(ids["ecdsa"], suite), SslStack(ids["ecdsa"], suite)
        tp.check()
        sl.check()
        key = "bulk_" + label.lower().replace("-", "")
        if wanted(key):
            bulk_rows.append(
                (Row(key, f"bulk client→server, TLS 1.3 {label}", "MB/s"), tp, sl, suite)
            )
    use_memory = not args.no_memory and wanted("memory_idle_pair")
    mem_row = Row(
        "memory_idle_pair",
        "memory per idle connection pair (TLS 1.3)",
        "KiB",
        lower_is_better=True,
        note=f"RSS growth over {pairs} pairs",
    )
    mem_row.ceiling = []

    for rep in range(reps):
        order = ("tlspipe", "ssl") if rep % 2 == 0 else ("ssl", "tlspipe")
        for c in cases:
            for who in order:
                if who == "ssl":
                    if c.resumed:  # a fresh session: freed SSL objects evict it from the cache
                        c.ssl.remember_session()
                    c.row.ssl.append(
                        _rate(c.ssl.handshake, n_hs, _ssl_resumed if c.resumed else None)
                    )
                elif c.tp is not None:
                    c.row.tlspipe.append(
                        _rate(c.tp.handshake, n_hs, _tp_resumed if c.resumed else None)
                    )
            c.row.ceiling.append(ceiling.per_second(c.work, n_hs))
            log(rep, c.row.key, c.row.tlspipe[-1:], c.row.ssl[-1:], c.row.ceiling[-1:])
        for row, tp, sl, suite in bulk_rows:
            for who in order:
                if who == "ssl":
                    row.ssl.append(bulk / sl.bulk(bulk) / 1e6)
                else:
                    row.tlspipe.append(bulk / tp.bulk(bulk) / 1e6)
            row.ceiling.append(ceiling.aead_mb_per_s(suite, bulk))
            log(rep, row.key, row.tlspipe[-1], row.ssl[-1], row.ceiling[-1])
        if use_memory:
            for who in order:
                kib = memory.run_child(who, "ecdsa", pairs, certdir) / 1024
                (mem_row.tlspipe if who == "tlspipe" else mem_row.ssl).append(kib)
            log(rep, "memory", mem_row.tlspipe[-1], mem_row.ssl[-1])
    rows = [c.row for c in cases] + [r for r, *_ in bulk_rows]
    if use_memory:
        rows.append(mem_row)
    return rows


def _fmt(stats: dict[str, float] | None, unit: str) -> str:
    if stats is None:
        return "—"
    d = 1 if unit != "handshakes/s" else 0
    return f"{stats['median']:.{d}f} ({stats['min']:.{d}f}–{stats['max']:.{d}f})"


def _fmt_ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def table(rows: list[Row]) -> str:
    """The human-readable table."""
    head = (
        "row",
        "unit",
        "tlspipe (min–max)",
        "ssl (min–max)",
        "ceiling (min–max)",
        "tlspipe/ssl",
        "tlspipe/ceiling",
    )
    lines = [head]
    for r in rows:
        j = r.as_json()
        tp = NA if r.note.startswith(NA) else _fmt(j["tlspipe"], r.unit)
        lines.append(
            (
                r.title,
                r.unit,
                tp,
                _fmt(j["ssl"], r.unit),
                _fmt(j["ceiling"], r.unit),
                _fmt_ratio(j["tlspipe_over_ssl"]),
                _fmt_ratio(j["tlspipe_over_ceiling"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def meta(args: argparse.Namespace) -> dict[str, Any]:
    """Where and how the numbers were taken."""
    return {
        "python": sys.version.split()[0],
        "openssl": ssl.OPENSSL_VERSION,
        "cryptography": cryptography.__version__,
        "tlspipe": getattr(tlspipe, "__version__", "?"),
        "machine": platform.platform(),
        "quick": bool(args.quick),
        "clock": clock.name(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not data")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--reps", type=int, help="repetitions per row (default 5, quick 1)")
    p.add_argument("--handshakes", type=int, help="handshakes per sample (default 300)")
    p.add_argument("--bulk-mib", type=int, help="MiB per bulk sample (default 256)")
    p.add_argument("--pairs", type=int, help="idle pairs for the memory row (default 2000)")
    p.add_argument("--only", help="comma-separated substrings of row keys to run (e.g. bulk)")
    p.add_argument("--no-memory", action="store_true", help="skip the memory row")
    p.add_argument("--certdir", help="where to write the benchmark PKI (default: a temp dir)")
    p.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="time samples by this process's CPU time (default; robust on a shared machine) "
        "or by wall time",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log each sample to stderr")
    args = p.parse_args(argv)
    clock.select(args.clock)
    t0 = time.perf_counter()
    rows = run(args)
    print(table(rows))
    for r in rows:
        if r.note.startswith(NA + ":"):
            print(f"note: {r.title}: {r.note}")
    print(
        f"\n{meta(args)['time_utc']}  {time.perf_counter() - t0:.0f} s  "
        f"{ssl.OPENSSL_VERSION}, cryptography {cryptography.__version__}, Python "
        f"{sys.version.split()[0]}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"meta": meta(args), "rows": [r.as_json() for r in rows]}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
