"""The benchmark clock.

By default samples are timed with the CPU time of this process (``time.process_time``): both
ends run in this one thread, so on an idle machine it equals wall time, and on a shared one
(other test runs on the same cores) it is far less noisy.  ``--clock wall`` switches every
sample to ``time.perf_counter``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_clock: Callable[[], float] = time.process_time
_name = "cpu"


def now() -> float:
    """The current reading of the selected clock, in seconds."""
    return _clock()


def select(name: str) -> None:
    """Use ``"cpu"`` (process CPU time) or ``"wall"`` (``perf_counter``)."""
    global _clock, _name
    if name not in ("cpu", "wall"):
        raise ValueError(f"unknown clock {name!r}")
    _clock = time.process_time if name == "cpu" else time.perf_counter
    _name = name


def name() -> str:
    """The selected clock's name."""
    return _name
