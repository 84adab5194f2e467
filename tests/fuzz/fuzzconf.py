"""Shared Hypothesis settings and invariant checks for tests/fuzz.

CI runs a reproducible, database-less profile (``derandomize=True``) that keeps the whole
fuzz directory under a minute.  Set ``TLSPIPE_FUZZ_EXAMPLES=N`` to run N examples per test
instead (randomized unless ``TLSPIPE_FUZZ_SEED`` is also set), e.g.::

    TLSPIPE_FUZZ_EXAMPLES=20000 .venv/bin/pytest -q tests/fuzz -p no:cacheprovider
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

import tlspipe
from tlspipe.conn import Connection
from tlspipe.record.deframer import DEFAULT_MAX_BUFFER, DEFAULT_MAX_HANDSHAKE_MESSAGE

_LONG = os.environ.get("TLSPIPE_FUZZ_EXAMPLES")
_SEED = os.environ.get("TLSPIPE_FUZZ_SEED")


def fuzz_settings(ci_examples: int) -> settings:
    """``ci_examples`` deterministic examples in CI; the env var's count when it is set."""
    if _LONG:
        return settings(
            max_examples=int(_LONG),
            deadline=None,
            database=None,
            derandomize=_SEED is not None,
            suppress_health_check=list(HealthCheck),
            print_blob=True,
        )
    return settings(
        max_examples=ci_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )


#: A fatal alert record: 5-byte header + 2 + the larger overhead of TLS 1.3 (inner type,
#: tag) and TLS 1.2 AES-GCM (8-byte explicit nonce, tag).
MAX_ALERT_RECORD = 5 + 2 + max(1 + 16, 8 + 16)


def check_bounded(conn: Connection) -> None:
    """No buffer of ``conn`` grew past its bound."""
    cx = conn._cx
    assert len(cx.deframer) <= DEFAULT_MAX_BUFFER
    assert len(cx.joiner) <= DEFAULT_MAX_HANDSHAKE_MESSAGE + 4 + 2**14
    assert cx.received_len <= cx.buffer_limit + DEFAULT_MAX_BUFFER
    assert cx.sendable_len <= cx.buffer_limit
    assert len(cx.sendq) <= cx.buffer_limit + 2**17
    assert cx.empty_records <= 64 and cx.warning_alerts <= 8 and cx.key_updates_in_a_row <= 64


def check_poisoned(conn: Connection, err: tlspipe.Error) -> None:
    """After ``err`` every call repeats it and nothing more goes on the wire."""
    for call in (
        conn.process_new_packets,
        lambda: conn.read_tls(b"\x16\x03\x03\x00\x01\x01"),
        lambda: conn.write(b"x"),
        lambda: conn.export_keying_material(b"l", None, 8),
        conn.refresh_traffic_keys,
    ):
        try:
            call()
        except tlspipe.Error as again:
            assert again is err, (again, err)
        else:
            raise AssertionError(f"{call} did not raise after {err!r}")
    conn.send_close_notify()  # a no-op after an error
    assert conn.write_tls() == b""
    assert not conn.wants_write()
    assert not conn.wants_read()
