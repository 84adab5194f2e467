"""Smoke test of the benchmark harness: ``python -m benchmarks --quick`` runs and reports every
row, and ``--json`` writes valid JSON.  Nothing here is timed or compared: speed is measured
by ``make bench``, never asserted in tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROWS = {
    "full13_ecdsa",
    "full13_ecdsa_nocache",
    "full13_rsa",
    "full12_ecdsa",
    "resumed13_ticket",
    "resumed12_sessionid",
    "resumed12_ticket",
    "bulk_aes128gcm",
    "bulk_aes256gcm",
    "bulk_chacha20poly1305",
    "memory_idle_pair",
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m ARGS`` in the repository, with it (for ``benchmarks``) and its ``src``
    first on the path; output captured, bounded in time."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )


def test_bench_quick_produces_every_row_and_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = _run(
        "benchmarks",
        "--quick",
        "--reps",
        "1",
        "--handshakes",
        "3",
        "--bulk-mib",
        "1",
        "--pairs",
        "100",
        "--certdir",
        str(tmp_path / "pki"),
        "--json",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert {r["key"] for r in data["rows"]} == ROWS
    for r in data["rows"]:
        assert r["title"] in proc.stdout
        assert r["ssl"] is not None and r["ssl"]["median"] > 0
        if r["tlspipe"] is None:
            assert r["note"].startswith("n/a (not implemented)")
            assert "n/a (not implemented)" in proc.stdout
        else:
            assert r["tlspipe_over_ssl"] is not None
    for key in ("full13_ecdsa", "full13_rsa", "bulk_aes128gcm", "memory_idle_pair"):
        row = next(r for r in data["rows"] if r["key"] == key)
        assert row["tlspipe"] is not None
    assert data["meta"]["quick"] is True


def test_profile_resumed_rows_run() -> None:
    """``python -m benchmarks.profile --resumed ROW`` profiles resumed handshakes of each
    resumption row (it raises if one did not resume) and reports calls per pair."""
    for row in ("tls13-ticket", "tls12-session-id", "tls12-ticket"):
        proc = _run("benchmarks.profile", "--resumed", row, "--handshakes", "5")
        assert proc.returncode == 0, proc.stderr
        assert f"resumed {row}:" in proc.stdout
        assert "function calls per handshake pair" in proc.stdout


def test_nocache_row_verifies_the_chain_every_handshake(tmp_path: Path) -> None:
    """The "chain verified every time" row really validates the chain per handshake (as
    ssl and the ceiling do): its verifier's cache stays empty; the default one fills."""
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.pki import make_identity
        from benchmarks.stacks import TlspipeStack
    finally:
        sys.path.remove(str(ROOT))
    ident = make_identity(tmp_path, "ecdsa")
    for verify_cache, cached in ((False, 0), (True, 1)):
        stack = TlspipeStack(ident, "TLS13_AES_128_GCM_SHA256", verify_cache=verify_cache)
        stack.handshake()
        stack.handshake()
        assert len(stack.client_config.verifier_._cache) == cached


def test_icount_children_run_every_kind_of_row(tmp_path: Path) -> None:
    """``python -m benchmarks.icount`` runs its rows in children under callgrind; the child
    (run here without valgrind) performs a handshake row, a resumption row and a bulk row on
    each stack."""
    for row in ("full13_ecdsa_nocache", "resumed13_ticket", "bulk_aes128gcm"):
        for stack in ("tlspipe", "ssl", "ceiling"):
            proc = _run("benchmarks.icount", "--child", row, stack, "3", str(tmp_path))
            assert proc.returncode == 0, (row, stack, proc.stderr)


def test_opcount_counts_bytecodes_per_pair() -> None:
    """``python -m benchmarks.opcount ROW`` counts the bytecodes of a handshake row, by file."""
    proc = _run("benchmarks.opcount", "full13_ecdsa", "--pairs", "2", "--top", "5")
    assert proc.returncode == 0, proc.stderr
    assert "bytecodes per handshake pair" in proc.stdout
    assert "conn.py" in proc.stdout and "--- functions" in proc.stdout
