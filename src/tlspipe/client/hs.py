"""Client handshake start: the ClientHello, ServerHello, HelloRetryRequest and version dispatch.

States (RFC 8446 §2, §4.1): :class:`ExpectServerHello` (after ClientHello1 or ClientHello2).
A ServerHello selecting TLS 1.3 continues in :mod:`tlspipe.client.tls13`.  TLS 1.2 plugs in
here too: a ServerHello without supported_versions is the TLS 1.2 branch.

Imports layers 1–5 only; never :mod:`tlspipe.server`.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, replace
from typing import NamedTuple

from ..config import IMPLEMENTED_VERSIONS
from ..conn import CommonState, Message, State, expect_handshake
from ..crypto.provider import ActiveKeyExchange, KxGroup, Tls13CipherSuite, tls13_schemes
from ..enums import (
    AlertDescription,
    CompressionMethod,
    ExtensionType,
    NamedGroup,
    ProtocolVersion,
    PskKeyExchangeMode,
)
from ..errors import ConfigError, PeerIncompatible, PeerMisbehaved
from ..keys.tls13 import KeyScheduleEarly
from ..keys.transcript import Transcript
from ..msgs.extensions import ClientExtensions, KeyShareEntry
from ..msgs.hello import (
    DOWNGRADE_TLS11,
    DOWNGRADE_TLS12,
    ClientHello,
    HelloRetryRequest,
    ServerHello,
)
from ..msgs.persist import Tls12ClientSessionValue
from ..record.layer import PLAINTEXT_ENCRYPTER
from ..tls13common import reject_unknown_extensions
from .config import ClientConfig
from .resume13 import (
    OfferedPsk,
    accepted_psk,
    bind_psks,
    offered_psks,
    prepare_psks,
    psk_binders,
    start_early_data,
)

__all__ = ["ExpectServerHello", "OfferedHello", "ServerName", "start_handshake"]

_log = logging.getLogger("tlspipe.client")


@dataclass(frozen=True, slots=True)
class ServerName:
    """The name the client connects to: a DNS name (sent as SNI) or an IP address."""

    text: str
    is_ip: bool

    @classmethod
    def parse(cls, name: str) -> ServerName:
        """Validate ``name`` as a DNS name or an IP address literal.

        Raises:
            ConfigError: not a valid host name or address.
        """
        if not isinstance(name, str) or not name:
            raise ConfigError("server_name must be a non-empty str")
        hit = _PARSED.get(name)
        if hit is not None:
            return hit
        parsed = cls._parse(name)
        if len(_PARSED) >= 256:
            _PARSED.clear()
        _PARSED[name] = parsed
        return parsed

    @classmethod
    def _parse(cls, name: str) -> ServerName:
        candidate = name[1:-1] if name.startswith("[") and name.endswith("]") else name
        # Only a ":" (IPv6) or digits and dots alone (IPv4) can parse as an address: a host
        # name skips ip_address's two failed parses and their exceptions.
        if ":" in candidate or not candidate.strip("0123456789."):
            try:
                ip = ipaddress.ip_address(candidate)
            except ValueError:
                pass
            else:
                return cls(str(ip), True)
        host = name.rstrip(".").lower()
        try:
            host.encode("ascii")
        except UnicodeEncodeError:
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise ConfigError(f"invalid server name {name!r}") from None
        labels = host.split(".")
        if len(host) > 253 or any(
            not 1 <= len(lb) <= 63
            or lb.startswith("-")
            or lb.endswith("-")
            or not all(c.isalnum() or c in "-_*" for c in lb)
            for lb in labels
        ):
            raise ConfigError(f"invalid server name {name!r}")
        return cls(host, False)


# name → its parsed ServerName (immutable; bounded: cleared when full)
_PARSED: dict[str, ServerName] = {}


@dataclass(slots=True, kw_only=True)
class HelloInput:
    """What the client decided for its ClientHello(s); carried to ExpectServerHello."""

    config: ClientConfig
    server_name: ServerName
    random: bytes
    session_id: bytes
    transcript: Transcript
    sent_ccs: bool = False
    #: TLS 1.2 session offered for resumption (by session ID or ticket), if any.
    resuming12: Tls12ClientSessionValue | None = None
    #: RFC 5077 session_ticket extension body to send (b"" = empty offer), None = absent.
    ticket_offer: bytes | None = None
    #: TLS 1.3 PSKs offered: a ticket first, then the external PSK (client/resume13.py).
    psks: tuple[OfferedPsk, ...] = ()
    #: 0-RTT offered with psks[0]; cleared by a HelloRetryRequest.
    early: bool = False


# Always offered (RFC 6066 §8, RFC 6962 §3.3.1): the peer may staple OCSP / SCTs.
_STATUS_REQUEST = True
_SCT = True


class OfferedHello(NamedTuple):
    """What a TLS 1.2 ServerHello is checked against: the ClientHello1's cipher suites and
    whether it offered status_request and signed_certificate_timestamp."""

    suites: tuple[int, ...]
    status_request: bool
    sct: bool


# (verifier's schemes, TLS 1.3 only) → the signature_algorithms we offer (bounded).
_SCHEMES: dict[tuple[tuple[int, ...], bool], tuple[int, ...]] = {}


def _offered_schemes(cfg: ClientConfig, tls13_only: bool) -> tuple[int, ...]:
    # Asked of the verifier every handshake (a custom verifier may change its answer).
    supported = tuple(cfg.verifier_.supported_verify_schemes())
    key = (supported, tls13_only)
    hit = _SCHEMES.get(key)
    if hit is None:
        hit = tuple(int(s) for s in supported)
        if tls13_only:
            hit = tls13_schemes(hit)
        if len(_SCHEMES) >= 32:
            _SCHEMES.clear()
        _SCHEMES[key] = hit
    return hit


def _client_hello(
    h: HelloInput,
    cx: CommonState,
    share: ActiveKeyExchange | None,
    cookie: bytes | None,
    schemes: tuple[int, ...] | None = None,
) -> ClientHello:
    cfg = h.config
    offers13, offers12, groups, versions, suites = cfg.hello_lists_
    if schemes is None:
        schemes = _offered_schemes(cfg, not offers12)
    sni = None
    if cfg.enable_sni and not h.server_name.is_ip:
        sni = h.server_name.text.encode("ascii")
        cx.sni = h.server_name.text
    ext = ClientExtensions(
        server_name=sni,
        supported_groups=groups,
        signature_algorithms=schemes,
        alpn=cfg.alpn_protocols or None,
        supported_versions=versions if offers13 else None,
        key_share=(KeyShareEntry(int(share.group), share.public),)
        if offers13 and share is not None
        else None,
        psk_key_exchange_modes=(PskKeyExchangeMode.psk_dhe_ke,) if offers13 else None,
        cookie=cookie,
        status_request=_STATUS_REQUEST,
        signed_certificate_timestamp=_SCT,
        ec_point_formats=b"\x00" if offers12 else None,
        extended_master_secret=offers12,
        renegotiation_info=b"" if offers12 else None,
        session_ticket=h.ticket_offer if offers12 else None,
        early_data=h.early and offers13,
        pre_shared_key=offered_psks(h.psks) if offers13 else None,
        # RFC 9001 §8.2: QUIC transport parameters ride in the ClientHello.
        unknown=((ExtensionType.quic_transport_parameters, cx.quic.transport_params),)
        if cx.quic is not None
        else (),
    )
    return ClientHello(
        legacy_version=ProtocolVersion.TLSv1_2,
        random=h.random,
        legacy_session_id=h.session_id,
        cipher_suites=suites,
        legacy_compression_methods=bytes((CompressionMethod.null,)),
        extensions=ext,
    )


# ClientHello1 templates: the encoding cut around what differs per connection, per config
# (ClientConfig.hello_templates_) and per what else varies (the key in _templated_hello).
_TEMPLATES_MAX = 64
# what goes into each cut, in _templated_hello's ``values`` order
_RANDOM, _SID, _SHARE, _TICKET, _IDENTITIES = range(5)


def _templated_hello(
    h: HelloInput, cx: CommonState, share: ActiveKeyExchange | None
) -> tuple[bytes, ClientHello | None, tuple[int, ...]]:
    """ClientHello1 (not QUIC): its encoding with the PSK binders computed, the ClientHello
    when it was built (else None: :meth:`ExpectServerHello.offered_hello` builds it when
    needed) and the signature schemes it offers.

    The bytes are exactly :func:`_client_hello`'s encoding (binders computed as by
    :func:`bind_psks`): a template made from that encoding with the random, session ID,
    key share, TLS 1.2 ticket and PSK identities cut out (and the binders left off), joined
    with this connection's values.  Templates hold no secrets and nothing per connection.
    """
    cfg = h.config
    schemes = _offered_schemes(cfg, not cfg.hello_lists_[1])
    name = h.server_name
    sni = name.text if cfg.enable_sni and not name.is_ip else None
    sid = h.session_id
    ticket = h.ticket_offer
    psks = h.psks
    # the PSKs' part of the key and their encoded identities, in one loop (no comprehension)
    psk_shape: tuple[tuple[int, int], ...] = ()
    ids = b""
    for p in psks:
        psk_shape += ((len(p.identity), p.suite.hash_len),)
        ids += (
            len(p.identity).to_bytes(2, "big")
            + p.identity
            + p.obfuscated_ticket_age.to_bytes(4, "big")
        )
    key = (
        sni,
        schemes,
        cfg.alpn_protocols,
        len(sid),
        None if share is None else (share.group, len(share.public)),
        None if ticket is None else len(ticket),
        psk_shape,
        h.early,
    )
    pub = b"" if share is None else share.public
    values = (h.random, sid, pub, ticket or b"", ids)
    templates = cfg.hello_templates_
    tpl = templates.get(key)
    if tpl is None:
        ch = _client_hello(h, cx, share, None, schemes)
        raw = bind_psks(h, ch)
        tpl = _make_template(raw, values, ch.binders_suffix_len())
        if tpl is not None:
            if len(templates) >= _TEMPLATES_MAX:
                templates.clear()
            templates[key] = tpl
        return raw, ch, schemes
    if sni is not None:
        cx.sni = sni
    f, (a, b, c, d, e) = tpl
    raw = b"".join(
        (f[0], values[a], f[1], values[b], f[2], values[c], f[3], values[d], f[4], values[e], f[5])
    )
    if psks:
        raw += psk_binders(h, raw)
    return raw, None, schemes


def _make_template(
    raw: bytes, values: tuple[bytes, ...], binders_len: int
) -> tuple[tuple[bytes, ...], tuple[int, ...]] | None:
    """``raw`` (a ClientHello1 encoding) cut around ``values``: (the six fixed pieces, which
    of the five values goes between each two); None if a value cannot be located exactly
    once.  An empty value gets an empty cut at the end (before the binders)."""
    n = 39 + len(values[_SID])  # header 4, legacy_version 2, random 32, session ID length 1
    end = len(raw) - binders_len
    cuts = [(6, 38, _RANDOM), (39, n, _SID)]
    for slot in (_SHARE, _TICKET):
        v = values[slot]
        if not v:
            cuts.append((end, end, slot))
        else:
            at = raw.find(v, n)
            if at < 0 or raw.find(v, at + 1) >= 0:  # pragma: no cover - 2^-256
                return None
            cuts.append((at, at + len(v), slot))
    ids = values[_IDENTITIES]
    cuts.append((end - len(ids), end, _IDENTITIES))
    for start, stop, slot in cuts:
        if raw[start:stop] != values[slot]:  # pragma: no cover - not where expected
            return None
    cuts.sort()
    fixed = []
    pos = 0
    for start, stop, _ in cuts:
        if start < pos or stop > end:  # pragma: no cover - overlapping values
            return None
        fixed.append(raw[pos:start])
        pos = stop
    fixed.append(raw[pos:end])
    return tuple(fixed), tuple(c[2] for c in cuts)


def start_handshake(config: ClientConfig, server_name: str, cx: CommonState) -> ExpectServerHello:
    """Send ClientHello1 and return the first state.

    Raises:
        ConfigError: an invalid ``server_name``.
    """
    name = ServerName.parse(server_name)
    rand = config.provider.secure_random
    session_id = rand(32) if config.middlebox_compat else b""
    resuming12, ticket_offer, session_id = _tls12.prepare_resumption(config, name.text, session_id)
    h = HelloInput(
        config=config,
        server_name=name,
        random=rand(32),
        session_id=session_id,
        transcript=Transcript(),
        resuming12=resuming12,
        ticket_offer=ticket_offer,
    )
    if ProtocolVersion.TLSv1_3 in config.versions:
        h.psks, h.early = prepare_psks(config, name.text)
    group = config.groups_[0]
    # A key share only when TLS 1.3 is offered (TLS 1.2 makes its own at ClientKeyExchange).
    share = group.start() if config.hello_lists_[0] else None
    ch: ClientHello | None
    if cx.quic is None and type(config.alpn_protocols) is tuple:
        raw, ch, schemes = _templated_hello(h, cx, share)
    else:
        ch = _client_hello(h, cx, share, None)
        schemes = ch.extensions.signature_algorithms or ()
        raw = bind_psks(h, ch)
    h.transcript.add(raw)
    cx.send_handshake(raw)
    if h.early:
        start_early_data(h, cx)
    if _log.isEnabledFor(logging.DEBUG):  # the argument costs more than the call
        _log.debug("client sent ClientHello (key share %s)", group.name.name)
    return ExpectServerHello(hello=h, share=share, offered=ch, schemes=schemes, retry_suite=None)


def _check_common_hello(
    h: HelloInput, echo: bytes, suite_code: int, sv: int | None
) -> Tls13CipherSuite:
    if echo != h.session_id:
        raise PeerMisbehaved("server did not echo our legacy_session_id")
    if sv != ProtocolVersion.TLSv1_3 or ProtocolVersion.TLSv1_3 not in h.config.versions:
        raise PeerMisbehaved("server selected a version we did not offer")
    for s in h.config.suites_:
        if s.suite == suite_code and isinstance(s, Tls13CipherSuite):
            return s
    raise PeerMisbehaved("server selected a cipher suite we did not offer")


@dataclass(slots=True, kw_only=True)
class ExpectServerHello:
    """Waiting for ServerHello (or HelloRetryRequest, once)."""

    hello: HelloInput
    share: ActiveKeyExchange | None  # None: TLS 1.3 not offered
    #: What we offered (its PSK binders, if any, are the zero placeholders); None when
    #: ClientHello1 was sent from a template: :meth:`offered_hello` builds it.
    offered: ClientHello | None
    #: The signature_algorithms offered (what offered_hello rebuilds with).
    schemes: tuple[int, ...]
    retry_suite: Tls13CipherSuite | None

    def offered_hello(self, cx: CommonState) -> ClientHello:
        """What we offered, built now if ClientHello1 came from a template (the same
        inputs: the HelloInput is unchanged until a HelloRetryRequest or a TLS 1.2
        ServerHello, the two callers)."""
        ch = self.offered
        if ch is None:
            ch = _client_hello(self.hello, cx, self.share, None, self.schemes)
            self.offered = ch
        return ch

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Process ServerHello / HelloRetryRequest.

        Raises:
            PeerMisbehaved: illegal_parameter for values we did not offer, a downgrade
                sentinel, or a second HelloRetryRequest (unexpected_message).
            PeerIncompatible: the server chose TLS 1.2, which this client did not enable.
        """
        m = expect_handshake(msg, "ServerHello")
        if isinstance(m.body, HelloRetryRequest):
            if self.retry_suite is not None:
                raise PeerMisbehaved(
                    "second HelloRetryRequest", AlertDescription.unexpected_message
                )
            return self._handle_retry(cx, m.body, m.raw)
        sh = m.expect(ServerHello)
        h = self.hello
        if sh.extensions.supported_versions is None:
            return self._handle_legacy(cx, sh, m.raw)
        if sh.legacy_version != ProtocolVersion.TLSv1_2:
            raise PeerMisbehaved("ServerHello legacy_version must be 0x0303")
        suite = _check_common_hello(
            h, sh.legacy_session_id_echo, sh.cipher_suite, sh.extensions.supported_versions
        )
        if self.retry_suite is not None and suite is not self.retry_suite:
            raise PeerMisbehaved("ServerHello suite differs from the HelloRetryRequest's")
        if sh.legacy_compression_method != CompressionMethod.null:
            raise PeerMisbehaved("server selected a compression method")
        ext = sh.extensions
        if (
            ext.server_name
            or ext.renegotiation_info is not None
            or ext.extended_master_secret
            or ext.session_ticket
            or ext.ec_point_formats is not None
            or ext.alpn is not None
            or ext.status_request
            or ext.signed_certificate_timestamp is not None
            or ext.record_size_limit is not None
        ):
            raise PeerMisbehaved(
                "ServerHello carries an extension not allowed there",
                AlertDescription.unsupported_extension,
            )
        if ext.unknown:
            reject_unknown_extensions(ext.unknown, "ServerHello")
        ks = ext.key_share
        if ks is None:
            raise PeerMisbehaved(
                "ServerHello without key_share", AlertDescription.missing_extension
            )
        share = self.share
        if share is None:  # unreachable: _check_common_hello refused TLS 1.3 already
            raise PeerMisbehaved("server selected a version we did not offer")
        if ks.group != share.group:
            raise PeerMisbehaved("server key share is for a group we did not send")
        psk = None if ext.pre_shared_key is None else accepted_psk(h, ext.pre_shared_key, suite)
        shared = share.complete(ks.key_exchange)
        tr = h.transcript
        tr.start_hash(suite.hash_name)
        tr.drop_buffer()
        tr.add(m.raw)
        cfg = h.config
        # the PSK's early schedule from its binder, when it is for this very suite
        sched = psk.psk.early if psk is not None and psk.psk.suite is suite else None
        if sched is None:
            sched = KeyScheduleEarly(
                suite, psk.psk.psk if psk else None, keylog=cfg.key_log, client_random=h.random
            )
        hs = sched.into_handshake(shared)
        th = tr.current_hash()
        client_hs = hs.client_handshake_traffic_secret(th)
        cx.early_data_left = 0
        # With 0-RTT possibly accepted, keep the early key until EncryptedExtensions tells.
        early_pending = h.early and psk is not None and psk.psk is h.psks[0]
        if not early_pending:
            cx.set_tls13_encrypter(suite, client_hs, keys=hs.client_handshake_keys())
        server_hs = hs.server_handshake_traffic_secret(th)
        cx.set_tls13_decrypter(suite, server_hs, keys=hs.server_handshake_keys())
        cx.version = ProtocolVersion.TLSv1_3
        cx.suite = suite
        group = share.group  # a NamedGroup already, unless a provider gave a plain int
        cx.kx_group = group if type(group) is NamedGroup else NamedGroup(group)
        cx.deframer.set_tls13()
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("client negotiated TLS 1.3 %s with %s", suite.suite.name, cx.kx_group.name)
        return _tls13.ExpectEncryptedExtensions(
            hello=h,
            suite=suite,
            schedule=hs,
            psk=psk,
            pending_client_hs=client_hs if early_pending else None,
        )

    def _handle_legacy(self, cx: CommonState, sh: ServerHello, raw: bytes) -> State:
        h = self.hello
        if self.retry_suite is not None:  # RFC 8446 §4.1.4: the HRR's version is kept
            raise PeerMisbehaved("TLS 1.2 ServerHello after a HelloRetryRequest")
        if h.early:  # no 0-RTT below TLS 1.3: back to plaintext records
            cx.record_layer.set_encrypter(PLAINTEXT_ENCRYPTER)
            cx.early_data_left = 0
            h.early = False
        if ProtocolVersion.TLSv1_3 in h.config.versions and sh.random[-8:] in (
            DOWNGRADE_TLS12,
            DOWNGRADE_TLS11,
        ):
            raise PeerMisbehaved("downgrade from TLS 1.3 detected (RFC 8446 §4.1.3)")
        if (
            sh.legacy_version != ProtocolVersion.TLSv1_2
            or ProtocolVersion.TLSv1_2 not in h.config.versions
            or ProtocolVersion.TLSv1_2 not in IMPLEMENTED_VERSIONS
        ):
            raise PeerIncompatible(
                f"server selected protocol version 0x{sh.legacy_version:04x}, "
                "which this client does not enable",
                AlertDescription.protocol_version,
            )
        ch = self.offered
        offered = (
            OfferedHello(h.config.hello_lists_[4], _STATUS_REQUEST, _SCT)
            if ch is None  # a template's: _client_hello's values
            else OfferedHello(
                ch.cipher_suites,
                bool(ch.extensions.status_request),
                bool(ch.extensions.signed_certificate_timestamp),
            )
        )
        return _tls12.handle_server_hello(cx, h, sh, raw, offered)

    def _handle_retry(self, cx: CommonState, hrr: HelloRetryRequest, raw: bytes) -> State:
        h = self.hello
        offered = self.offered_hello(cx)  # before h changes below
        ext = hrr.extensions
        suite = _check_common_hello(
            h, hrr.legacy_session_id_echo, hrr.cipher_suite, ext.supported_versions
        )
        reject_unknown_extensions(ext.unknown, "HelloRetryRequest")
        if ext.selected_group is None and ext.cookie is None:
            raise PeerMisbehaved("HelloRetryRequest that would not change the ClientHello")
        share = self.share
        if share is None:  # unreachable: _check_common_hello refused TLS 1.3 already
            raise PeerMisbehaved("server selected a version we did not offer")
        if ext.selected_group is not None:
            if ext.selected_group == share.group:
                raise PeerMisbehaved("HelloRetryRequest asks for the group we already sent")
            group: KxGroup | None = next(
                (g for g in h.config.groups_ if g.name == ext.selected_group), None
            )
            if group is None:
                raise PeerMisbehaved("HelloRetryRequest selects a group we did not offer")
            share = group.start()
        tr = h.transcript
        tr.start_hash(suite.hash_name)
        tr.rollup_for_hrr()
        tr.add(raw)
        if h.early:  # a HelloRetryRequest rejects 0-RTT (RFC 8446 §4.2.10)
            cx.record_layer.set_encrypter(PLAINTEXT_ENCRYPTER)
            cx.early_data_left = 0
            h.early = False
        # PSKs whose hash is not the HRR suite's cannot be used (§4.1.4); binders are
        # recomputed over message_hash + HelloRetryRequest + ClientHello2.
        h.psks = tuple(p for p in h.psks if p.suite.hash_name == suite.hash_name)
        ch = _client_hello(h, cx, share, ext.cookie)
        ch2 = replace(ch, cipher_suites=offered.cipher_suites)
        raw2 = bind_psks(h, ch2)
        tr.add(raw2)
        if h.config.middlebox_compat and not h.sent_ccs:
            cx.send_ccs()
            h.sent_ccs = True
        cx.send_handshake(raw2)
        _log.debug("client retried with key share %s", NamedGroup(share.group).name)
        return ExpectServerHello(
            hello=h, share=share, offered=ch2, schemes=self.schemes, retry_suite=suite
        )


# The version branches import this module: imported last (a function-level import costs
# ~0.6 µs per call; these are looked up as module attributes when called).
from . import tls12 as _tls12  # noqa: E402
from . import tls13 as _tls13  # noqa: E402
