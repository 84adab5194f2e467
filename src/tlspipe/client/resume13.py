"""Client side of TLS 1.3 resumption, 0-RTT and external PSKs (RFC 8446 §2.2, §2.3, §4.2.10,
§4.2.11, §4.6.1).

* :func:`prepare_psks` takes one ticket for the server name out of the config's
  :class:`~tlspipe.client.stores.StoresClientSessions` (each ticket is used at most once;
  expired ones and ones for suites we no longer offer are dropped) and adds the config's
  external PSK, if any.  0-RTT is offered with the ticket when the config enables it, the
  ticket allows it and its ALPN protocol is still offered.
* :func:`bind_psks` fills in the binders of a ClientHello: each is the Finished computation
  under the PSK's binder key over Hash(transcript so far + truncated ClientHello) — after a
  HelloRetryRequest the transcript holds message_hash and the HelloRetryRequest.
* :func:`start_early_data` sends the compatibility ChangeCipherSpec and installs the
  client_early_traffic_secret for :meth:`ClientConnection.write_early_data`.
* :func:`accepted_psk` checks the server's ``pre_shared_key`` choice and makes the
  :class:`PskAccepted` token that stands in for certificate verification in a PSK handshake
  (the server's Finished, keyed from the PSK, then proves it knows the PSK).
* :func:`store_ticket` turns a NewSessionTicket into a stored
  :class:`~tlspipe.msgs.persist.Tls13ClientSessionValue`.

Imports layers 1–5 only; never :mod:`tlspipe.server`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..conn import CommonState
from ..crypto.provider import Tls13CipherSuite
from ..enums import AlertDescription
from ..errors import InternalError, PeerMisbehaved
from ..keys.tls13 import KeyScheduleEarly, resumption_psk
from ..msgs.extensions import OfferedPsks, PskIdentity
from ..msgs.handshake import NewSessionTicket13
from ..msgs.hello import ClientHello
from ..msgs.message import encode_handshake
from ..msgs.persist import Tls13ClientSessionValue

if TYPE_CHECKING:
    from .config import ClientConfig
    from .hs import HelloInput

__all__ = [
    "OfferedPsk",
    "PskAccepted",
    "accepted_psk",
    "bind_psks",
    "offered_psks",
    "prepare_psks",
    "psk_binders",
    "start_early_data",
    "store_ticket",
]

_log = logging.getLogger("tlspipe.client")

#: RFC 8446 §4.6.1: a ticket lives at most seven days.
MAX_TICKET_LIFETIME = 604800
#: RFC 9001 §4.6.1: the only max_early_data_size a QUIC ticket may carry.
QUIC_MAX_EARLY_DATA = 0xFFFFFFFF
#: Tickets looked at per handshake before giving up (expired or unusable ones are dropped).
_MAX_TICKETS_TRIED = 16


@dataclass(slots=True, kw_only=True)
class OfferedPsk:
    """One PSK in our ClientHello."""

    identity: bytes = field(repr=False)
    obfuscated_ticket_age: int = field(repr=False)
    psk: bytes = field(repr=False)
    #: The suite whose hash the PSK belongs to (for a ticket: its exact suite).
    suite: Tls13CipherSuite
    #: True for a resumption ticket ("res binder"), False for an external PSK ("ext binder").
    resumption: bool
    ticket: Tls13ClientSessionValue | None
    #: The early key schedule of this PSK (under :attr:`suite`), made by :func:`bind_psks`.
    early: KeyScheduleEarly | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class PskAccepted:
    """Proof token: the server selected one of our PSKs (its Finished, checked later with
    keys derived from that PSK, authenticates it)."""

    psk: OfferedPsk


def prepare_psks(config: ClientConfig, server_name: str) -> tuple[tuple[OfferedPsk, ...], bool]:
    """The PSKs to offer to ``server_name`` and whether to offer 0-RTT with the first.

    Raises:
        Nothing (unusable tickets are dropped).
    """
    out: list[OfferedPsk] = []
    now_ms = 0.0
    store = config.session_store
    for i in range(_MAX_TICKETS_TRIED):
        t = store.take_tls13_ticket(server_name)
        if t is None:
            break
        if i == 0:  # the clock is read only when there is a ticket
            now_ms = config.time().timestamp() * 1000.0
        suite = None
        for s in config.suites_:  # the first suite with the ticket's code, if TLS 1.3
            if s.suite == t.suite:
                suite = s if isinstance(s, Tls13CipherSuite) else None
                break
        age_ms = int(now_ms - t.received_at * 1000)
        if (
            suite is None
            or t.server_name != server_name
            or not 0 <= age_ms < min(t.lifetime, MAX_TICKET_LIFETIME) * 1000
        ):
            continue
        out.append(
            OfferedPsk(
                identity=t.ticket,
                obfuscated_ticket_age=(age_ms + t.age_add) % (1 << 32),
                psk=t.secret,
                suite=suite,
                resumption=True,
                ticket=t,
            )
        )
        break
    ext = config.external_psk
    if ext is not None:
        suite = next(
            (
                s
                for s in config.suites_
                if isinstance(s, Tls13CipherSuite) and s.hash_name == ext.hash
            ),
            None,
        )
        if suite is not None:
            out.append(
                OfferedPsk(
                    identity=ext.identity,
                    obfuscated_ticket_age=0,
                    psk=ext.key,
                    suite=suite,
                    resumption=False,
                    ticket=None,
                )
            )
    early = False
    if out and config.enable_early_data and out[0].ticket is not None:
        t0 = out[0].ticket
        early = t0.max_early_data > 0 and (t0.alpn is None or t0.alpn in config.alpn_protocols)
    return tuple(out), early


def offered_psks(psks: tuple[OfferedPsk, ...]) -> OfferedPsks | None:
    """The ``pre_shared_key`` extension with placeholder (zero) binders of the right sizes.

    Raises:
        Nothing.
    """
    if not psks:
        return None
    return OfferedPsks(
        identities=tuple(PskIdentity(p.identity, p.obfuscated_ticket_age) for p in psks),
        binders=tuple(bytes(p.suite.hash_len) for p in psks),
    )


def bind_psks(h: HelloInput, ch: ClientHello) -> bytes:
    """The encoded ``ch`` with correct PSK binders (RFC 8446 §4.2.11.2); ``ch`` as it is
    without PSKs.

    ``ch`` carries placeholder binders of the right sizes (:func:`offered_psks`): it is
    encoded once, the binders are computed over that encoding minus its binders vector
    (the truncated ClientHello) and the real vector replaces the placeholder one.  Each
    PSK's early key schedule is kept in :attr:`OfferedPsk.early` for the ServerHello.

    Raises:
        InternalError: the transcript cannot be hashed (a bug).
    """
    raw = encode_handshake(ch)
    offer = ch.extensions.pre_shared_key
    if offer is None:
        return raw
    truncated = raw[: len(raw) - offer.binders_len()]
    return truncated + psk_binders(h, truncated)


def psk_binders(h: HelloInput, truncated: bytes) -> bytes:
    """The encoded ``binders`` vector of a ClientHello offering ``h.psks``, computed over
    its ``truncated`` encoding (everything before that vector); each PSK's early key
    schedule is kept in :attr:`OfferedPsk.early`.

    Raises:
        InternalError: the transcript cannot be hashed (a bug).
    """
    # PskBinderEntry binders<33..2^16-1>, each opaque<32..255> (OfferedPsks.encode_binders)
    parts = [b""]
    cfg = h.config
    for p in h.psks:
        th = h.transcript.hash_of_buffer_plus(truncated, p.suite.hash_name)
        sched = KeyScheduleEarly(p.suite, p.psk, keylog=cfg.key_log, client_random=h.random)
        p.early = sched
        binder = sched.compute_binder(th, resumption=p.resumption)
        if len(binder) != p.suite.hash_len:  # pragma: no cover - binders are hash-sized
            raise InternalError("PSK binder length differs from its placeholder's")
        parts.append(_U8[len(binder)])
        parts.append(binder)
    body = b"".join(parts)
    return len(body).to_bytes(2, "big") + body


_U8 = [bytes((i,)) for i in range(256)]


def start_early_data(h: HelloInput, cx: CommonState) -> None:
    """After ClientHello1: [ChangeCipherSpec], then install the early traffic key so that
    0-RTT data can be written (RFC 8446 §2.3, §4.2.10, §D.4).

    Raises:
        Nothing.
    """
    p = h.psks[0]
    t = p.ticket
    if t is None:  # pragma: no cover - prepare_psks offers 0-RTT only with a ticket
        return
    cfg = h.config
    if cfg.middlebox_compat and not h.sent_ccs:
        cx.send_ccs()
        h.sent_ccs = True
    sched = p.early
    if sched is None:  # pragma: no cover - bind_psks made it
        sched = KeyScheduleEarly(p.suite, p.psk, keylog=cfg.key_log, client_random=h.random)
    secret = sched.client_early_traffic_secret(
        h.transcript.hash_of_buffer_plus(b"", p.suite.hash_name)
    )
    cx.set_tls13_encrypter(p.suite, secret, early=True)
    cx.early_data_offered = True
    cx.early_data_left = t.max_early_data
    _log.debug("client offers 0-RTT (up to %d bytes)", t.max_early_data)


def accepted_psk(
    h: HelloInput, selected: int | None, suite: Tls13CipherSuite
) -> PskAccepted | None:
    """Check the server's selected_identity (RFC 8446 §4.2.11).

    Raises:
        PeerMisbehaved: a PSK we did not offer (unsupported_extension), an index out of
            range or a suite whose hash differs from the PSK's (illegal_parameter).
    """
    if selected is None:
        return None
    if not h.psks:
        raise PeerMisbehaved(
            "server selected a PSK we did not offer", AlertDescription.unsupported_extension
        )
    if not 0 <= selected < len(h.psks):
        raise PeerMisbehaved("server selected a PSK identity out of range")
    p = h.psks[selected]
    if p.suite.hash_name != suite.hash_name:
        raise PeerMisbehaved("server selected a cipher suite not matching the PSK's hash")
    return PskAccepted(p)


def store_ticket(
    cx: CommonState,
    h: HelloInput,
    suite: Tls13CipherSuite,
    resumption_master_secret: bytes,
    nst: NewSessionTicket13,
) -> None:
    """Keep a NewSessionTicket in the config's session store (RFC 8446 §4.6.1).

    Raises:
        PeerMisbehaved: a lifetime over seven days (illegal_parameter).
    """
    if nst.ticket_lifetime > MAX_TICKET_LIFETIME:
        raise PeerMisbehaved("NewSessionTicket lifetime over seven days")
    early = nst.extensions.early_data
    if cx.quic is not None and early is not None and early != QUIC_MAX_EARLY_DATA:
        # RFC 9001 §4.6.1: in QUIC, 0-RTT is allowed by 0xffffffff and nothing else
        raise PeerMisbehaved("QUIC NewSessionTicket with max_early_data_size not 0xffffffff")
    if nst.ticket_lifetime == 0:
        return
    cfg = h.config
    value = Tls13ClientSessionValue(
        suite=int(suite.suite),
        ticket=nst.ticket,
        secret=resumption_psk(suite.hash_name, resumption_master_secret, nst.ticket_nonce),
        age_add=nst.ticket_age_add,
        lifetime=nst.ticket_lifetime,
        received_at=int(cfg.time().timestamp()),
        max_early_data=nst.extensions.early_data or 0,
        alpn=cx.alpn_protocol,
        server_name=h.server_name.text,
        server_cert_chain=cx.peer_certificates or (),
    )
    cfg.session_store.insert_tls13_ticket(h.server_name.text, value)
    if _log.isEnabledFor(logging.DEBUG):  # one call, not two, when debug is off
        _log.debug("client stored a session ticket (lifetime %d s)", nst.ticket_lifetime)
