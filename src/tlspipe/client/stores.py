"""Client session storage: :class:`StoresClientSessions` and :class:`ClientSessionMemoryCache`.

Per server name the client keeps: the key exchange group that server last chose (a hint for
the next key share), at most one TLS 1.2 session (session ID and/or RFC 5077 ticket), and a
few TLS 1.3 tickets, each handed out at most once (RFC 8446 §C.4).  Values are the types of
:mod:`tlspipe.msgs.persist`; a store that persists them elsewhere uses their
``encode``/``decode``.

Imports layers 1–2 only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Protocol

from ..enums import NamedGroup
from ..errors import ConfigError
from ..msgs.persist import Tls12ClientSessionValue, Tls13ClientSessionValue

__all__ = ["ClientSessionMemoryCache", "NoClientSessionStorage", "StoresClientSessions"]


class StoresClientSessions(Protocol):
    """Where a client keeps what it learned about servers, keyed by server name.

    Implementations must bound their memory and be thread-safe if a config is shared
    between threads.  ``server_name`` is the name given to the connection (DNS name or IP
    address text).
    """

    def set_kx_hint(self, server_name: str, group: NamedGroup) -> None:
        """Remember the key exchange group ``server_name`` chose.

        Raises:
            Nothing.
        """
        ...

    def kx_hint(self, server_name: str) -> NamedGroup | None:
        """The group remembered for ``server_name``, or None.

        Raises:
            Nothing.
        """
        ...

    def set_tls12_session(self, server_name: str, value: Tls12ClientSessionValue) -> None:
        """Keep ``value`` as the TLS 1.2 session for ``server_name`` (replacing any).

        Raises:
            Nothing.
        """
        ...

    def tls12_session(self, server_name: str) -> Tls12ClientSessionValue | None:
        """The TLS 1.2 session for ``server_name`` (it stays stored), or None.

        Raises:
            Nothing.
        """
        ...

    def remove_tls12_session(self, server_name: str) -> None:
        """Forget the TLS 1.2 session for ``server_name``.

        Raises:
            Nothing.
        """
        ...

    def insert_tls13_ticket(self, server_name: str, value: Tls13ClientSessionValue) -> None:
        """Add a TLS 1.3 ticket for ``server_name`` (the oldest goes when full).

        Raises:
            Nothing.
        """
        ...

    def take_tls13_ticket(self, server_name: str) -> Tls13ClientSessionValue | None:
        """Remove and return the newest TLS 1.3 ticket for ``server_name``, or None.

        Raises:
            Nothing.
        """
        ...


class NoClientSessionStorage:
    """Stores nothing: disables client-side resumption and key share hints."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NoClientSessionStorage()"

    def set_kx_hint(self, server_name: str, group: NamedGroup) -> None:
        """Ignored."""

    def kx_hint(self, server_name: str) -> NamedGroup | None:
        """Always None."""
        return None

    def set_tls12_session(self, server_name: str, value: Tls12ClientSessionValue) -> None:
        """Ignored."""

    def tls12_session(self, server_name: str) -> Tls12ClientSessionValue | None:
        """Always None."""
        return None

    def remove_tls12_session(self, server_name: str) -> None:
        """Nothing to remove."""

    def insert_tls13_ticket(self, server_name: str, value: Tls13ClientSessionValue) -> None:
        """Ignored."""

    def take_tls13_ticket(self, server_name: str) -> Tls13ClientSessionValue | None:
        """Always None."""
        return None


@dataclass(slots=True)
class _ServerData:
    kx_hint: NamedGroup | None = None
    tls12: Tls12ClientSessionValue | None = None
    tls13: deque[Tls13ClientSessionValue] = field(default_factory=deque)


class ClientSessionMemoryCache:
    """A bounded in-memory store, LRU over server names, safe to share between threads.

    Args:
        max_servers: how many server names to remember; the least recently used goes first.
        max_tickets_per_server: TLS 1.3 tickets kept per server (oldest dropped first).

    Raises:
        ConfigError: a bound below 1.
    """

    __slots__ = ("_data", "_lock", "_max_servers", "_max_tickets")

    def __init__(self, max_servers: int = 256, max_tickets_per_server: int = 8) -> None:
        if max_servers < 1 or max_tickets_per_server < 1:
            raise ConfigError("ClientSessionMemoryCache bounds must be at least 1")
        self._max_servers = max_servers
        self._max_tickets = max_tickets_per_server
        self._data: OrderedDict[str, _ServerData] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ClientSessionMemoryCache(max_servers={self._max_servers}, len={len(self)})"

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def _entry(self, server_name: str, create: bool) -> _ServerData | None:
        d = self._data.get(server_name)
        if d is None:
            if not create:
                return None
            d = self._data[server_name] = _ServerData()
            while len(self._data) > self._max_servers:
                self._data.popitem(last=False)
        self._data.move_to_end(server_name)
        return d

    def set_kx_hint(self, server_name: str, group: NamedGroup) -> None:
        """Remember ``group`` for ``server_name``."""
        with self._lock:
            d = self._entry(server_name, True)
            if d is not None:
                d.kx_hint = group

    def kx_hint(self, server_name: str) -> NamedGroup | None:
        """The remembered group, or None."""
        with self._lock:
            d = self._entry(server_name, False)
            return None if d is None else d.kx_hint

    def set_tls12_session(self, server_name: str, value: Tls12ClientSessionValue) -> None:
        """Keep ``value`` as the server's TLS 1.2 session."""
        with self._lock:
            d = self._entry(server_name, True)
            if d is not None:
                d.tls12 = value

    def tls12_session(self, server_name: str) -> Tls12ClientSessionValue | None:
        """The server's TLS 1.2 session, or None."""
        with self._lock:
            d = self._entry(server_name, False)
            return None if d is None else d.tls12

    def remove_tls12_session(self, server_name: str) -> None:
        """Forget the server's TLS 1.2 session."""
        with self._lock:
            d = self._data.get(server_name)
            if d is not None:
                d.tls12 = None

    def insert_tls13_ticket(self, server_name: str, value: Tls13ClientSessionValue) -> None:
        """Add a TLS 1.3 ticket (dropping the oldest beyond the per-server bound)."""
        with self._lock:
            # _entry(server_name, True), written out: once per ticket received
            data = self._data
            d = data.get(server_name)
            if d is None:
                d = data[server_name] = _ServerData()
                while len(data) > self._max_servers:
                    data.popitem(last=False)
            data.move_to_end(server_name)
            d.tls13.append(value)
            while len(d.tls13) > self._max_tickets:
                d.tls13.popleft()

    def take_tls13_ticket(self, server_name: str) -> Tls13ClientSessionValue | None:
        """Remove and return the newest TLS 1.3 ticket, or None."""
        with self._lock:
            # _entry(server_name, False), written out: once per handshake
            d = self._data.get(server_name)
            if d is None:
                return None
            self._data.move_to_end(server_name)
            if not d.tls13:
                return None
            return d.tls13.pop()
