"""Key logging in the NSS key log format (``SSLKEYLOGFILE``), for debugging with Wireshark.

A :class:`KeyLog` receives ``(label, client_random, secret)``; the key schedules call it for
CLIENT_RANDOM (TLS 1.2), CLIENT_EARLY_TRAFFIC_SECRET, CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET,
CLIENT/SERVER_TRAFFIC_SECRET_0, EARLY_EXPORTER_SECRET and EXPORTER_SECRET.  Logging secrets
defeats TLS: it only happens when a :class:`KeyLogFile` is configured and ``$SSLKEYLOGFILE``
(or an explicit path) is set.

Layering: imports nothing from tlspipe.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Protocol, runtime_checkable

__all__ = ["KeyLog", "KeyLogFile", "NoKeyLog"]

_log = logging.getLogger("tlspipe.keylog")


@runtime_checkable
class KeyLog(Protocol):
    """Receives session secrets (NSS key log labels)."""

    def will_log(self, label: str) -> bool:
        """Whether ``log`` would do anything for ``label`` (lets callers skip work).

        Raises:
            Nothing.
        """
        ...

    def log(self, label: str, client_random: bytes, secret: bytes) -> None:
        """Record one secret.

        Raises:
            Nothing (implementations must not raise on I/O problems).
        """
        ...


class NoKeyLog:
    """The default: logs nothing."""

    __slots__ = ()

    def will_log(self, label: str) -> bool:
        """Always False.

        Raises:
            Nothing.
        """
        return False

    def log(self, label: str, client_random: bytes, secret: bytes) -> None:
        """Does nothing.

        Raises:
            Nothing.
        """

    def __repr__(self) -> str:
        return "NoKeyLog()"


class KeyLogFile:
    """Appends NSS key log lines (``LABEL <client_random hex> <secret hex>``) to a file.

    The path is ``path`` if given, else ``$SSLKEYLOGFILE`` read at construction; with
    neither, nothing is logged.  Thread-safe: one lock per instance, one line per write, the
    file opened in append mode for each line (so rotation or deletion is harmless).  I/O
    errors are logged once (without secrets) and then ignored.
    """

    __slots__ = ("_failed", "_lock", "path")

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            path = os.environ.get("SSLKEYLOGFILE") or None
        self.path: str | None = os.fspath(path) if path is not None else None
        self._lock = threading.Lock()
        self._failed = False

    def __repr__(self) -> str:
        return f"KeyLogFile(path={self.path!r})"

    def will_log(self, label: str) -> bool:
        """True when a path is configured.

        Raises:
            Nothing.
        """
        return self.path is not None

    def log(self, label: str, client_random: bytes, secret: bytes) -> None:
        """Append one line.

        Raises:
            Nothing: OSError is swallowed (reported once via ``logging``).
        """
        if self.path is None:
            return
        line = f"{label} {client_random.hex()} {secret.hex()}\n"
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode("ascii"))
                finally:
                    os.close(fd)
            except OSError as e:
                if not self._failed:
                    self._failed = True
                    _log.warning("cannot write key log file: %s", e.strerror)
