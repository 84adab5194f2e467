"""Server side of TLS 1.3 resumption, 0-RTT and external PSKs (RFC 8446 §2.2, §2.3, §4.2.10,
§4.2.11, §4.6.1, §8).

* :func:`choose_psk` walks the client's ``pre_shared_key`` identities, opens the first one it
  can use (an external PSK by identity, a stateless ticket through the
  :class:`~tlspipe.server.stores.ProducesTickets`, or a stateful ticket taken — single use —
  from the :class:`~tlspipe.server.stores.StoresServerSessions`), and checks its binder.  A
  ticket that does not decrypt, does not decode, is expired, belongs to another hash, SNI or
  (for a mandatory client-auth server) lacks a client certificate is skipped: the handshake
  falls back to a full one.  A wrong binder on the chosen PSK is fatal (``decrypt_error``).
* :func:`early_data_allowed` decides 0-RTT: first identity, a resumption PSK for the very same
  cipher suite and ALPN protocol, ``max_early_data_size`` on both the ticket and the config,
  no HelloRetryRequest, a ticket age within :data:`AGE_TOLERANCE_MS` of what we expect, and —
  for stateless tickets — a first sighting in the :class:`ReplayFilter`.
* :func:`emit_tickets` sends NewSessionTickets after the client's Finished.

Anti-replay (RFC 8446 §8): stateful tickets are removed from the store when used, so any
replay finds nothing.  A stateless ticket can be presented again; the :class:`ReplayFilter`
remembers the hash of every ticket that carried 0-RTT for ``2 × AGE_TOLERANCE_MS`` (the span
in which its age can still look fresh, §8.2–§8.3) and refuses 0-RTT for a ticket seen in that
window.  Later replays fail the age check.  The filter is bounded: when full of live entries
it refuses 0-RTT (fails closed) rather than forget one.  Replayed 0-RTT is never delivered; the
handshake itself may still complete (the replayer cannot finish it without the keys).

Imports layers 1–5 only; never :mod:`tlspipe.client`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..conn import CommonState
from ..crypto.provider import Tls13CipherSuite
from ..enums import AlertDescription, PskKeyExchangeMode
from ..errors import ConfigError, DecodeError, PeerMisbehaved
from ..keys.tls13 import KeyScheduleEarly, resumption_psk
from ..keys.transcript import Transcript
from ..msgs.handshake import encode_new_session_ticket13
from ..msgs.hello import ClientHello
from ..msgs.persist import Tls13ServerSessionValue
from ..psk import ExternalPsk
from .stores import TLS13_KEY_PREFIX

if TYPE_CHECKING:
    from .config import ServerConfig

__all__ = [
    "AGE_TOLERANCE_MS",
    "AcceptedPsk",
    "PskPeek",
    "ReplayFilter",
    "choose_psk",
    "early_data_allowed",
    "emit_tickets",
    "peek_psk",
    "preferred_psk_hash",
]

_log = logging.getLogger("tlspipe.server")

#: How far the client's idea of a ticket's age may be from ours for 0-RTT (RFC 8446 §8.3).
AGE_TOLERANCE_MS = 10_000
#: Lifetime of stateful tickets (stateless ones live as long as the ticketer says).
STATEFUL_TICKET_LIFETIME = 24 * 3600
#: RFC 8446 §4.6.1: tickets live at most seven days.
MAX_TICKET_LIFETIME = 604800
#: How much rejected 0-RTT data we skip at least (a ticket may predate a config change).
MIN_EARLY_DATA_SKIP = 1 << 16


class ReplayFilter:
    """A bounded, thread-safe memory of 0-RTT tickets recently seen (RFC 8446 §8.2).

    Args:
        max_entries: how many tickets to remember; when all are still live, new 0-RTT is
            refused (fail closed).
        window_ms: how long a ticket is remembered (default twice :data:`AGE_TOLERANCE_MS`).

    Raises:
        ConfigError: a bound below 1.
    """

    __slots__ = ("_lock", "_max", "_seen", "_window")

    def __init__(self, max_entries: int = 100_000, window_ms: int = 2 * AGE_TOLERANCE_MS) -> None:
        if max_entries < 1 or window_ms < 1:
            raise ConfigError("ReplayFilter bounds must be at least 1")
        self._max = max_entries
        self._window = window_ms
        self._seen: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ReplayFilter(max_entries={self._max}, len={len(self._seen)})"

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def check_and_insert(self, key: bytes, now_ms: float) -> bool:
        """True the first time ``key`` is seen within the window (then it is recorded);
        False for a replay, or when the filter is full of live entries.

        Raises:
            Nothing.
        """
        digest = hashlib.sha256(key).digest()
        with self._lock:
            seen = self._seen
            while seen:
                oldest, expires = next(iter(seen.items()))
                if expires > now_ms:
                    break
                del seen[oldest]
            if digest in seen:
                return False
            if len(seen) >= self._max:
                return False
            seen[digest] = now_ms + self._window
            return True


@dataclass(slots=True, kw_only=True)
class AcceptedPsk:
    """The PSK the server selected (binder already verified)."""

    index: int
    psk: bytes = field(repr=False)
    #: The ticket contents for a resumption PSK; None for an external PSK.
    session: Tls13ServerSessionValue | None
    stateless: bool
    #: |client's ticket age − ours| in milliseconds (resumption PSKs).
    age_skew_ms: float
    identity: bytes = field(repr=False)
    #: The early key schedule the binder was checked with (reused for the handshake).
    early: KeyScheduleEarly | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class PskPeek:
    """The first offered PSK the server could use, as :func:`peek_psk` found it (nothing
    consumed): its hash picks the cipher suite, and a stateless ticket's opened contents
    are handed on to :func:`choose_psk`, which then need not decrypt and decode it again.
    """

    hash_name: str
    index: int
    identity: bytes = field(repr=False)
    #: The stateless ticket's contents; None for an external or a stateful PSK (those are
    #: looked up again: a stateful ticket must be taken, single use).
    value: Tls13ServerSessionValue | None = field(repr=False)


def _now_ms(cfg: ServerConfig) -> float:
    return cfg.time().timestamp() * 1000.0


def _open_ticket(cfg: ServerConfig, identity: bytes) -> tuple[Tls13ServerSessionValue, bool] | None:
    plain: bytes | None = None
    stateless = False
    ticketer = cfg.ticketer
    if ticketer is not None and ticketer.enabled():
        plain = ticketer.decrypt(identity)
        stateless = plain is not None
    if plain is None and cfg.session_storage.can_cache():
        plain = cfg.session_storage.take(TLS13_KEY_PREFIX + identity)  # single use (§8.1)
    if plain is None:
        return None
    try:
        return Tls13ServerSessionValue.decode(plain), stateless
    except DecodeError:
        _log.debug("server: ticket contents do not decode; full handshake")
        return None


def choose_psk(
    cfg: ServerConfig,
    ch: ClientHello,
    ch_raw: bytes,
    tr: Transcript,
    suite: Tls13CipherSuite,
    sni: str | None,
    peek: PskPeek | None = None,
) -> AcceptedPsk | None:
    """Pick the first usable PSK the client offers and verify its binder (RFC 8446 §4.2.11).

    ``tr`` is the transcript before this ClientHello (empty, or message_hash + HRR).
    ``peek`` is :func:`peek_psk`'s result for this ClientHello, if it was called.

    Returns:
        The accepted PSK, or None for a full handshake.

    Raises:
        PeerMisbehaved: pre_shared_key without psk_key_exchange_modes (missing_extension),
            or a wrong binder for the chosen PSK (decrypt_error).
    """
    ext = ch.extensions
    offer = ext.pre_shared_key
    if offer is None:
        return None
    if ext.psk_key_exchange_modes is None:
        raise PeerMisbehaved(
            "pre_shared_key without psk_key_exchange_modes", AlertDescription.missing_extension
        )
    if PskKeyExchangeMode.psk_dhe_ke not in ext.psk_key_exchange_modes:
        return None  # we only do psk_dhe_ke (forward secrecy)
    now_ms = _now_ms(cfg)
    externals = {p.identity: p for p in cfg.external_psks} if cfg.external_psks else {}
    verifier = cfg.client_verifier
    need_client_cert = verifier.offer_client_auth() and verifier.client_auth_mandatory()
    for index, ident in enumerate(offer.identities):
        ext_psk: ExternalPsk | None = externals.get(ident.identity)
        if ext_psk is not None:
            if ext_psk.hash != suite.hash_name:
                continue
            accepted = AcceptedPsk(
                index=index,
                psk=ext_psk.key,
                session=None,
                stateless=False,
                age_skew_ms=0.0,
                identity=ident.identity,
            )
            _check_binder(cfg, ch, ch_raw, tr, suite, accepted, offer.binders[index], False)
            return accepted
        if (
            peek is not None
            and peek.value is not None
            and peek.index == index
            and peek.identity == ident.identity
        ):
            value, stateless = peek.value, True
        else:
            opened = _open_ticket(cfg, ident.identity)
            if opened is None:
                continue
            value, stateless = opened
        created_ms = value.created_at * 1000.0
        lifetime_ms = min(value.lifetime, MAX_TICKET_LIFETIME) * 1000.0
        client_age = (ident.obfuscated_ticket_age - value.age_add) % (1 << 32)
        if not created_ms - AGE_TOLERANCE_MS <= now_ms < created_ms + lifetime_ms:
            _log.debug("server: ticket expired; full handshake")
            continue
        if client_age > lifetime_ms:
            continue
        orig = cfg.suite_by_code_.get(value.suite)
        if not isinstance(orig, Tls13CipherSuite) or orig.hash_name != suite.hash_name:
            continue
        if value.sni != sni:
            _log.debug("server: ticket issued for another server name; full handshake")
            continue
        if need_client_cert and not value.client_cert_chain:
            continue
        accepted = AcceptedPsk(
            index=index,
            psk=value.secret,
            session=value,
            stateless=stateless,
            age_skew_ms=abs((now_ms - created_ms) - client_age),
            identity=ident.identity,
        )
        _check_binder(cfg, ch, ch_raw, tr, suite, accepted, offer.binders[index], True)
        return accepted
    return None


def preferred_psk_hash(cfg: ServerConfig, ch: ClientHello) -> str | None:
    """The hash of the first offered PSK we could use (see :func:`peek_psk`).

    Raises:
        Nothing.
    """
    peek = peek_psk(cfg, ch)
    return None if peek is None else peek.hash_name


def peek_psk(cfg: ServerConfig, ch: ClientHello) -> PskPeek | None:
    """The first offered PSK we could use, looked at without consuming it, so that the
    cipher suite can be chosen to match its hash (RFC 8446 §4.2.11: the suite's hash must
    be the PSK's); pass it on to :func:`choose_psk`.

    Raises:
        Nothing.
    """
    ext = ch.extensions
    offer = ext.pre_shared_key
    modes = ext.psk_key_exchange_modes
    if offer is None or modes is None or PskKeyExchangeMode.psk_dhe_ke not in modes:
        return None
    externals = {p.identity: p for p in cfg.external_psks} if cfg.external_psks else {}
    ticketer = cfg.ticketer
    storage = cfg.session_storage
    for index, ident in enumerate(offer.identities):
        ext_psk = externals.get(ident.identity)
        if ext_psk is not None:
            return PskPeek(ext_psk.hash, index, ident.identity, None)
        plain = None
        stateless = False
        if ticketer is not None and ticketer.enabled():
            plain = ticketer.decrypt(ident.identity)
            stateless = plain is not None
        if plain is None and storage.can_cache():
            plain = storage.get(TLS13_KEY_PREFIX + ident.identity)
        if plain is None:
            continue
        try:
            value = Tls13ServerSessionValue.decode(plain)
        except DecodeError:
            continue
        orig = cfg.suite_by_code_.get(value.suite)
        if isinstance(orig, Tls13CipherSuite):
            return PskPeek(orig.hash_name, index, ident.identity, value if stateless else None)
    return None


def _check_binder(
    cfg: ServerConfig,
    ch: ClientHello,
    ch_raw: bytes,
    tr: Transcript,
    suite: Tls13CipherSuite,
    accepted: AcceptedPsk,
    binder: bytes,
    resumption: bool,
) -> None:
    truncated = ch_raw[: len(ch_raw) - ch.binders_suffix_len()]
    th = tr.hash_of_buffer_plus(truncated, suite.hash_name)
    early = KeyScheduleEarly(suite, accepted.psk, keylog=cfg.key_log, client_random=ch.random)
    expected = early.compute_binder(th, resumption=resumption)
    if not hmac.compare_digest(expected, binder):
        raise PeerMisbehaved("PSK binder is incorrect", AlertDescription.decrypt_error)
    accepted.early = early


def early_data_allowed(
    cfg: ServerConfig,
    ch: ClientHello,
    accepted: AcceptedPsk | None,
    suite: Tls13CipherSuite,
    alpn: bytes | None,
    retried: bool,
) -> bool:
    """Whether to accept the client's 0-RTT data (RFC 8446 §4.2.10).

    Raises:
        PeerMisbehaved: early_data in the ClientHello after a HelloRetryRequest
            (illegal_parameter).
    """
    if not ch.extensions.early_data:
        return False
    if retried:
        raise PeerMisbehaved("early_data offered after a HelloRetryRequest")
    if accepted is None or accepted.session is None or accepted.index != 0:
        return False
    value = accepted.session
    if (
        cfg.max_early_data_size == 0
        or value.max_early_data == 0
        or value.suite != int(suite.suite)
        or value.alpn != alpn
        or accepted.age_skew_ms > AGE_TOLERANCE_MS
    ):
        return False
    if accepted.stateless and not cfg.replay_filter.check_and_insert(
        accepted.identity, _now_ms(cfg)
    ):
        _log.debug("server: 0-RTT replay (or full filter); early data rejected")
        return False
    return True


def early_data_skip_limit(cfg: ServerConfig) -> int:
    """How many bytes of rejected 0-RTT data we trial-decrypt and drop at most."""
    return max(cfg.max_early_data_size, MIN_EARLY_DATA_SKIP)


def emit_tickets(
    cx: CommonState,
    cfg: ServerConfig,
    suite: Tls13CipherSuite,
    resumption_master_secret: Callable[[], bytes],
) -> int:
    """Send up to ``cfg.send_tls13_tickets`` NewSessionTickets (RFC 8446 §4.6.1).

    Stateless when the config has an enabled ticketer, else stateful through the session
    storage; none when neither can hold a session.  ``resumption_master_secret`` is called
    (once) only when tickets are to be sent: the secret and the transcript hash it needs
    cost work that a server sending no ticket need not do.

    Returns:
        How many tickets were sent.

    Raises:
        Nothing beyond what sending a record raises.
    """
    count = cfg.send_tls13_tickets
    ticketer = cfg.ticketer
    stateless = ticketer is not None and ticketer.enabled()
    storage = cfg.session_storage
    if count <= 0 or (not stateless and not storage.can_cache()):
        return 0
    rms = resumption_master_secret()
    rand = cfg.provider.secure_random
    lifetime = min(
        ticketer.lifetime() if ticketer is not None and stateless else STATEFUL_TICKET_LIFETIME,
        MAX_TICKET_LIFETIME,
    )
    created = int(cfg.time().timestamp())
    max_early = cfg.max_early_data_size or None  # early_data extension: 0-RTT allowed
    out: list[bytes] = []
    for i in range(count):
        nonce = struct.pack("!Q", i)
        age_add = int.from_bytes(rand(4), "big")
        value = Tls13ServerSessionValue(
            suite=int(suite.suite),
            secret=resumption_psk(suite.hash_name, rms, nonce),
            alpn=cx.alpn_protocol,
            sni=cx.sni,
            created_at=created,
            age_add=age_add,
            lifetime=lifetime,
            max_early_data=cfg.max_early_data_size,
            client_cert_chain=cx.peer_certificates or (),
        )
        ticket: bytes | None
        if stateless and ticketer is not None:
            ticket = ticketer.encrypt(value.encode())
        else:
            ticket = rand(32)
            if not storage.put(TLS13_KEY_PREFIX + ticket, value.encode()):
                ticket = None
        if not ticket:
            continue
        out.append(encode_new_session_ticket13(lifetime, age_add, nonce, ticket, max_early))
    sent = len(out)
    if out:
        cx.send_handshake(b"".join(out))  # one record for all (QUIC: one CRYPTO write)
    _log.debug("server sent %d tickets (%s)", sent, "stateless" if stateless else "stateful")
    return sent


def client_offers_psk_dhe(ch: ClientHello) -> bool:
    """Whether tickets are worth sending: the client can use them with psk_dhe_ke."""
    modes = ch.extensions.psk_key_exchange_modes
    return modes is not None and PskKeyExchangeMode.psk_dhe_ke in modes
