"""Server plug-ins: certificate resolvers (by SNI), session stores and ticketers.

A resolver sees a :class:`ClientHelloInfo` and returns the
:class:`~tlspipe.crypto.sign.CertifiedKey` to present, or None to refuse the handshake.

Session storage (stateful resumption: TLS 1.2 session IDs, TLS 1.3 stateful tickets) goes
through :class:`StoresServerSessions`; :class:`ServerSessionMemoryCache` is a bounded,
thread-safe LRU.  Stateless resumption (RFC 5077 tickets, TLS 1.3 tickets) goes through
:class:`ProducesTickets`; :class:`Ticketer` seals session values with an AEAD under a random
key that rotates every ``lifetime`` seconds, keeping the previous key to open older tickets.
Values stored or sealed are the encodings of :mod:`tlspipe.msgs.persist`.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ..crypto.sign import CertifiedKey
from ..errors import ConfigError

__all__ = [
    "AlwaysResolvesCert",
    "ClientHelloInfo",
    "NoServerSessionStorage",
    "ProducesTickets",
    "ResolvesServerCert",
    "ResolvesServerCertUsingSni",
    "ServerSessionMemoryCache",
    "StoresServerSessions",
    "Ticketer",
]


@dataclass(frozen=True, slots=True)
class ClientHelloInfo:
    """What a certificate resolver may look at.

    Attributes:
        server_name: the SNI host name (lower case), or None.
        signature_schemes: the client's signature_algorithms, in its order.
        alpn: the client's ALPN offer, or None.
        cipher_suites: the client's cipher suites (wire codes).
    """

    server_name: str | None
    signature_schemes: tuple[int, ...]
    alpn: tuple[bytes, ...] | None
    cipher_suites: tuple[int, ...]


class ResolvesServerCert(Protocol):
    """Chooses the certificate chain and key for a ClientHello."""

    def resolve(self, hello: ClientHelloInfo) -> CertifiedKey | None:
        """The chain and key to present, or None (handshake_failure)."""
        ...


class AlwaysResolvesCert:
    """Presents one certificate chain to every client."""

    __slots__ = ("_ck",)

    def __init__(self, certified_key: CertifiedKey) -> None:
        certified_key.check_key_matches()
        self._ck = certified_key

    def __repr__(self) -> str:
        return "AlwaysResolvesCert()"

    def resolve(self, hello: ClientHelloInfo) -> CertifiedKey | None:
        """Always the configured chain."""
        return self._ck


class ResolvesServerCertUsingSni:
    """Chooses a chain by the client's SNI host name (exact match, case-insensitive).

    Args:
        default: presented when the client sends no SNI or an unknown name; None refuses
            such clients.
    """

    __slots__ = ("_by_name", "_default")

    def __init__(self, default: CertifiedKey | None = None) -> None:
        self._by_name: dict[str, CertifiedKey] = {}
        if default is not None:
            default.check_key_matches()
        self._default = default

    def __repr__(self) -> str:
        return f"ResolvesServerCertUsingSni(names={sorted(self._by_name)})"

    def add(self, names: str | Sequence[str], certified_key: CertifiedKey) -> None:
        """Present ``certified_key`` for each of ``names``.

        Raises:
            ConfigError: the key does not match the certificate, or an empty name.
        """
        certified_key.check_key_matches()
        for name in [names] if isinstance(names, str) else names:
            key = name.rstrip(".").lower()
            if not key:
                raise ConfigError("empty server name")
            self._by_name[key] = certified_key

    def resolve(self, hello: ClientHelloInfo) -> CertifiedKey | None:
        """The chain registered for the SNI name, else the default."""
        if hello.server_name is not None:
            ck = self._by_name.get(hello.server_name)
            if ck is not None:
                return ck
        return self._default


# -- session storage (stateful resumption) ------------------------------------------------------
#: Key prefixes in a StoresServerSessions: TLS 1.2 session IDs and TLS 1.3 stateful ticket
#: IDs live in separate key spaces, so a value of one version can never be looked up (or
#: taken, i.e. deleted) through the other version's identifier.
TLS12_KEY_PREFIX = b"tls12/"
TLS13_KEY_PREFIX = b"tls13/"


class StoresServerSessions(Protocol):
    """Server-side session storage, keyed by session ID (TLS 1.2) or ticket (TLS 1.3).

    Implementations must be thread-safe if a config is shared between threads and must
    bound their memory.  Values are opaque bytes (encoded session values).
    """

    def put(self, key: bytes, value: bytes) -> bool:
        """Store ``value`` under ``key``; False when it was not stored.

        Raises:
            Nothing.
        """
        ...

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key`` (it stays stored), or None.

        Raises:
            Nothing.
        """
        ...

    def take(self, key: bytes) -> bytes | None:
        """Remove and return the value under ``key`` (single-use sessions), or None.

        Raises:
            Nothing.
        """
        ...

    def can_cache(self) -> bool:
        """Whether :meth:`put` can store anything (if not, no session IDs are issued).

        Raises:
            Nothing.
        """
        ...


class NoServerSessionStorage:
    """Stores nothing: disables stateful resumption."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NoServerSessionStorage()"

    def put(self, key: bytes, value: bytes) -> bool:
        """Never stores."""
        return False

    def get(self, key: bytes) -> bytes | None:
        """Always None."""
        return None

    def take(self, key: bytes) -> bytes | None:
        """Always None."""
        return None

    def can_cache(self) -> bool:
        """False."""
        return False


class ServerSessionMemoryCache:
    """A bounded in-memory LRU session store, safe to share between threads.

    Args:
        max_entries: how many sessions to keep; the least recently used goes first.

    Raises:
        ConfigError: ``max_entries`` < 1.
    """

    __slots__ = ("_data", "_lock", "_max")

    def __init__(self, max_entries: int = 256) -> None:
        if max_entries < 1:
            raise ConfigError("max_entries must be at least 1")
        self._max = max_entries
        self._data: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ServerSessionMemoryCache(max_entries={self._max}, len={len(self)})"

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def put(self, key: bytes, value: bytes) -> bool:
        """Store ``value`` under ``key``, evicting the least recently used entry if full.

        Raises:
            Nothing.
        """
        with self._lock:
            self._data[bytes(key)] = bytes(value)
            self._data.move_to_end(bytes(key))
            while len(self._data) > self._max:
                self._data.popitem(last=False)
        return True

    def get(self, key: bytes) -> bytes | None:
        """The value under ``key`` (marked recently used), or None.

        Raises:
            Nothing.
        """
        with self._lock:
            v = self._data.get(bytes(key))
            if v is not None:
                self._data.move_to_end(bytes(key))
            return v

    def take(self, key: bytes) -> bytes | None:
        """Remove and return the value under ``key``, or None.

        Raises:
            Nothing.
        """
        with self._lock:
            return self._data.pop(bytes(key), None)

    def can_cache(self) -> bool:
        """True."""
        return True


# -- tickets (stateless resumption) -----------------------------------------------------------
class ProducesTickets(Protocol):
    """Seals and opens session tickets (RFC 5077 §4; RFC 8446 §4.6.1).

    ``encrypt``/``decrypt`` must authenticate: a ticket that was altered, made under an
    unknown or retired key, or is garbage must decrypt to None.
    """

    def enabled(self) -> bool:
        """Whether tickets are issued at all.

        Raises:
            Nothing.
        """
        ...

    def lifetime(self) -> int:
        """Ticket lifetime in seconds (announced to clients; at most 7 days for TLS 1.3).

        Raises:
            Nothing.
        """
        ...

    def encrypt(self, plain: bytes) -> bytes | None:
        """Seal ``plain`` into a ticket, or None if that is not possible now.

        Raises:
            Nothing.
        """
        ...

    def decrypt(self, cipher: bytes) -> bytes | None:
        """Open a ticket made by :meth:`encrypt`, or None for anything else.

        Raises:
            Nothing.
        """
        ...


_KEY_NAME_LEN = 16
_NONCE_LEN = 12
_TAG_LEN = 16
_MAX_TICKET = 0xFFFF


class _TicketKey:
    __slots__ = ("aead", "expires_at", "name")

    def __init__(self, name: bytes, aead: AESGCM | ChaCha20Poly1305, expires_at: float) -> None:
        self.name = name
        self.aead = aead
        self.expires_at = expires_at

    def __repr__(self) -> str:
        return "_TicketKey(<secret>)"


class Ticketer:
    """A :class:`ProducesTickets` sealing tickets with AES-256-GCM or ChaCha20-Poly1305.

    A ticket is ``key_name(16) || nonce(12) || AEAD(key, nonce, plain, aad=key_name)``.  A
    fresh random key is made every ``lifetime`` seconds; the previous one is kept (to open
    tickets issued just before the switch) for another ``lifetime``, then forgotten.  Keys
    exist only in memory: a restart invalidates every ticket (clients fall back to a full
    handshake).

    Args:
        lifetime: seconds between key rotations, and the ticket lifetime (1..604800).
        aead: ``"AES-256-GCM"`` or ``"CHACHA20-POLY1305"``.
        clock: seconds since the epoch (injectable for tests).
        random: random byte source for keys and nonces.

    Raises:
        ConfigError: lifetime out of range or unknown AEAD name.
    """

    __slots__ = ("_aead_cls", "_clock", "_current", "_lifetime", "_lock", "_previous", "_random")

    def __init__(
        self,
        lifetime: int = 6 * 3600,
        *,
        aead: Literal["AES-256-GCM", "CHACHA20-POLY1305"] = "AES-256-GCM",
        clock: Callable[[], float] = time.time,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not 1 <= lifetime <= 604800:
            raise ConfigError("ticket lifetime must be 1..604800 seconds")
        if aead == "AES-256-GCM":
            self._aead_cls: type[AESGCM] | type[ChaCha20Poly1305] = AESGCM
        elif aead == "CHACHA20-POLY1305":
            self._aead_cls = ChaCha20Poly1305
        else:
            raise ConfigError(f"unknown ticket AEAD {aead!r}")
        self._lifetime = lifetime
        self._clock = clock
        self._random = random
        self._lock = threading.Lock()
        self._current = self._new_key(clock())
        self._previous: _TicketKey | None = None

    def __repr__(self) -> str:
        return f"Ticketer(lifetime={self._lifetime})"

    def _new_key(self, now: float) -> _TicketKey:
        return _TicketKey(
            self._random(_KEY_NAME_LEN),
            self._aead_cls(self._random(32)),
            now + self._lifetime,
        )

    def _rotate(self) -> tuple[_TicketKey, _TicketKey | None]:
        now = self._clock()
        with self._lock:
            if now >= self._current.expires_at:
                if now >= self._current.expires_at + self._lifetime:
                    self._previous = None  # both keys are too old
                else:
                    self._previous = self._current
                self._current = self._new_key(now)
            prev = self._previous
            if prev is not None and now >= prev.expires_at + self._lifetime:
                self._previous = prev = None
            return self._current, prev

    def enabled(self) -> bool:
        """True."""
        return True

    def lifetime(self) -> int:
        """The configured lifetime in seconds."""
        return self._lifetime

    def encrypt(self, plain: bytes) -> bytes | None:
        """Seal ``plain`` under the current key (rotating first if it is due).

        Raises:
            Nothing.
        """
        cur, _ = self._rotate()
        if len(plain) + _KEY_NAME_LEN + _NONCE_LEN + _TAG_LEN > _MAX_TICKET:
            return None
        nonce = self._random(_NONCE_LEN)
        return cur.name + nonce + cur.aead.encrypt(nonce, bytes(plain), cur.name)

    def decrypt(self, cipher: bytes) -> bytes | None:
        """Open a ticket sealed under the current or the previous key, else None.

        Raises:
            Nothing.
        """
        if len(cipher) < _KEY_NAME_LEN + _NONCE_LEN + _TAG_LEN:
            return None
        cur, prev = self._rotate()
        name = bytes(cipher[:_KEY_NAME_LEN])
        key = cur if name == cur.name else prev if prev is not None and name == prev.name else None
        if key is None:
            return None
        nonce = bytes(cipher[_KEY_NAME_LEN : _KEY_NAME_LEN + _NONCE_LEN])
        try:
            return key.aead.decrypt(nonce, bytes(cipher[_KEY_NAME_LEN + _NONCE_LEN :]), name)
        except InvalidTag:
            return None
