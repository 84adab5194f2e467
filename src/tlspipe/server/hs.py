"""Server handshake start: ExpectClientHello, version/suite/group/certificate selection.

RFC 8446 §4.1.1 (negotiation), §4.1.4 (HelloRetryRequest), §4.2 (extension checks).
A ClientHello offering TLS 1.3 continues in :mod:`tlspipe.server.tls13`; TLS 1.2 plugs
in at :func:`_choose_version`.

Imports layers 1–5 only; never :mod:`tlspipe.client`.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass, replace
from typing import NamedTuple

from ..conn import CommonState, Message, State, expect_handshake
from ..crypto.provider import KxGroup, Signer, Tls13CipherSuite
from ..crypto.sign import CertifiedKey
from ..enums import (
    AlertDescription,
    CipherSuite,
    CompressionMethod,
    ExtensionType,
    ProtocolVersion,
)
from ..errors import PeerIncompatible, PeerMisbehaved
from ..keys.transcript import Transcript
from ..msgs.extensions import HelloRetryExtensions
from ..msgs.hello import ClientHello, HelloRetryRequest
from ..msgs.message import encode_handshake
from .config import ServerConfig
from .resume13 import PskPeek, early_data_skip_limit, peek_psk
from .stores import ClientHelloInfo

__all__ = ["ExpectClientHello", "Retry"]

_log = logging.getLogger("tlspipe.server")


@dataclass(frozen=True, slots=True)
class Retry:
    """What our HelloRetryRequest asked for; ClientHello2 must comply."""

    suite: Tls13CipherSuite
    group: KxGroup
    cookie: bytes | None
    transcript: Transcript
    sent_ccs: bool
    first: ClientHello


def _check_second_hello(first: ClientHello, second: ClientHello) -> None:
    """RFC 8446 §4.1.2: ClientHello2 repeats ClientHello1 except for key_share, cookie,
    early_data (removed), pre_shared_key (ages and binders change) and padding.

    Raises:
        PeerMisbehaved: anything else changed (illegal_parameter).
    """

    def essence(ch: ClientHello) -> ClientHello:
        ext = replace(
            ch.extensions,
            key_share=None,
            cookie=None,
            early_data=False,
            pre_shared_key=None,
            padding=None,
        )
        return replace(ch, extensions=ext)

    if essence(first) != essence(second):
        raise PeerMisbehaved("ClientHello2 differs from ClientHello1 beyond what HRR allows")


class Selection(NamedTuple):
    """The server's choices for a TLS 1.3 handshake (a NamedTuple: built on every
    ClientHello, and cheaper to build than a frozen dataclass)."""

    suite: Tls13CipherSuite
    group: KxGroup
    client_share: bytes | None  # None: HelloRetryRequest needed
    #: None only on a PSK-only server (no certificate) when the client offers a PSK.
    certified_key: CertifiedKey | None
    signer: Signer | None
    alpn: bytes | None
    sni: str | None
    #: The PSK looked at to choose the suite, handed on to resume13.choose_psk.
    psk_peek: PskPeek | None = None


def _choose_version(cfg: ServerConfig, ch: ClientHello) -> ProtocolVersion:
    sv = ch.extensions.supported_versions
    if sv is not None:
        for v in cfg.versions:
            if int(v) in sv:
                return v
        raise PeerIncompatible("no protocol version in common", AlertDescription.protocol_version)
    if ch.legacy_version >= ProtocolVersion.TLSv1_2 and ProtocolVersion.TLSv1_2 in cfg.versions:
        return ProtocolVersion.TLSv1_2
    raise PeerIncompatible(
        f"client offers only protocol version 0x{ch.legacy_version:04x}",
        AlertDescription.protocol_version,
    )


_HOST_NAME = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*")


# Raw server_name → its checked host name: a server sees the same few names again and again
# (bounded: 256 names of at most 255 octets; only names that passed the checks).
_SNI_NAMES: dict[bytes, str] = {}


def _sni(ch: ClientHello) -> str | None:
    raw = ch.extensions.server_name
    if raw is None:
        return None
    name = _SNI_NAMES.get(raw)
    if name is not None:
        return name
    name = _check_sni(raw)
    if len(raw) <= 255:  # (a DNS name's longest; a peer may send longer ones)
        if len(_SNI_NAMES) >= 256:
            _SNI_NAMES.clear()
        _SNI_NAMES[raw] = name
    return name


def _check_sni(raw: bytes) -> str:
    try:
        name = raw.decode("ascii")
    except UnicodeDecodeError:
        raise PeerMisbehaved("server_name is not ASCII", AlertDescription.decode_error) from None
    name = name.rstrip(".").lower()
    if _HOST_NAME.fullmatch(name) is None:  # labels of 1..63 of [a-z0-9_-], dot-separated
        raise PeerMisbehaved("server_name is not a valid host name", AlertDescription.decode_error)
    return name


def _select13(cfg: ServerConfig, ch: ClientHello, retry: Retry | None) -> Selection:
    ext = ch.extensions
    offered = set(ch.cipher_suites)
    for suite in cfg.tls13_suites_:  # our first TLS 1.3 suite the client offers
        if suite.suite in offered:
            break
    else:
        raise PeerIncompatible("no TLS 1.3 cipher suite in common")
    peek = None
    if ext.pre_shared_key is not None:
        # Prefer a suite with the hash of the PSK we would accept (RFC 8446 §4.2.11).
        peek = peek_psk(cfg, ch)
        want = peek.hash_name if peek is not None else None
        if want is not None and suite.hash_name != want:
            suite = next(
                (s for s in cfg.tls13_suites_ if s.suite in offered and s.hash_name == want),
                suite,
            )
    if retry is not None and suite is not retry.suite:
        raise PeerMisbehaved("ClientHello2 changed the cipher suites")
    if ext.supported_groups is None or ext.key_share is None:
        raise PeerMisbehaved(
            "TLS 1.3 ClientHello without supported_groups/key_share",
            AlertDescription.missing_extension,
        )
    if ext.signature_algorithms is None:
        raise PeerMisbehaved(
            "TLS 1.3 ClientHello without signature_algorithms",
            AlertDescription.missing_extension,
        )
    if ext.psk_key_exchange_modes is not None and ext.pre_shared_key is None:
        pass  # fine: modes without a PSK
    supported = frozenset(ext.supported_groups)  # not the tuple: linear, not quadratic
    shares: dict[int, bytes] = {}
    for entry in ext.key_share:
        if entry.group in shares:
            raise PeerMisbehaved("duplicate key share group")
        if entry.group not in supported:
            raise PeerMisbehaved("key share for a group not in supported_groups")
        shares[entry.group] = entry.key_exchange
    if retry is not None:
        if list(shares) != [int(retry.group.name)]:
            raise PeerMisbehaved("ClientHello2 key_share is not the group we asked for")
        if retry.cookie is not None and (
            ext.cookie is None or not hmac.compare_digest(ext.cookie, retry.cookie)
        ):
            raise PeerMisbehaved("ClientHello2 did not echo our cookie")
    group = None
    client_share = None
    for g in cfg.groups_:  # our first group the client sent a share for
        client_share = shares.get(g.name)
        if client_share is not None:
            group = g
            break
    if group is None:
        group = next((g for g in cfg.groups_ if int(g.name) in ext.supported_groups), None)
        if group is None:
            raise PeerIncompatible("no key exchange group in common")
    sni = _sni(ch)
    # A config built with certified_key resolves to it for every client (AlwaysResolvesCert;
    # the config is frozen): no ClientHelloInfo to build for it.
    ck = cfg.certified_key
    if ck is None:
        info = ClientHelloInfo(
            server_name=sni,
            signature_schemes=ext.signature_algorithms,
            alpn=ext.alpn,
            cipher_suites=ch.cipher_suites,
        )
        ck = cfg.resolver_.resolve(info)
    # A PSK-only server (external PSKs, no certificate) defers to the PSK choice
    # (tls13.emit_first_flight), which fails the handshake when no PSK is usable.
    psk_only = ck is None and bool(cfg.external_psks) and ext.pre_shared_key is not None
    if ck is None and not psk_only:
        raise PeerIncompatible(
            f"no certificate for server name {sni!r}",
            AlertDescription.unrecognized_name if sni else AlertDescription.handshake_failure,
        )
    signer = ck.key.choose_scheme(ext.signature_algorithms, tls13=True) if ck else None
    if signer is None and not psk_only:
        raise PeerIncompatible("no signature scheme in common with the client")
    alpn = None
    if cfg.alpn_protocols and ext.alpn is not None:
        alpn = next((p for p in cfg.alpn_protocols if p in ext.alpn), None)
        if alpn is None:
            raise PeerIncompatible(
                "no ALPN protocol in common", AlertDescription.no_application_protocol
            )
    return Selection(suite, group, client_share, ck, signer, alpn, sni, peek)


def _check_quic_hello(cx: CommonState, ch: ClientHello, sel: Selection) -> None:
    """QUIC rules for the ClientHello (RFC 9001 §8.1, §8.2, §8.4); keeps the client's
    transport parameters.

    Raises:
        PeerMisbehaved: a legacy_session_id (illegal_parameter), no
            quic_transport_parameters (missing_extension).
        PeerIncompatible: no ALPN protocol agreed (no_application_protocol).
    """
    if ch.legacy_session_id:
        raise PeerMisbehaved("QUIC ClientHello with a legacy_session_id (compatibility mode)")
    params = [
        body
        for typ, body in ch.extensions.unknown
        if typ == ExtensionType.quic_transport_parameters
    ]
    if not params or cx.quic is None:
        raise PeerMisbehaved(
            "client sent no quic_transport_parameters", AlertDescription.missing_extension
        )
    if sel.alpn is None:
        raise PeerIncompatible(
            "no ALPN protocol agreed (required by QUIC)", AlertDescription.no_application_protocol
        )
    cx.quic.peer_transport_params = params[0]


@dataclass(slots=True, kw_only=True)
class ExpectClientHello:
    """Waiting for ClientHello (``retry`` set after our HelloRetryRequest)."""

    config: ServerConfig
    retry: Retry | None = None

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Negotiate from a ClientHello and send the server's first flight.

        Raises:
            PeerIncompatible: nothing in common (handshake_failure, protocol_version,
                no_application_protocol).
            PeerMisbehaved: malformed offers (illegal_parameter, missing_extension).
        """
        m = expect_handshake(msg, "ClientHello")
        ch = m.expect(ClientHello)
        cfg = self.config
        if CompressionMethod.null not in ch.legacy_compression_methods:
            raise PeerMisbehaved("client does not offer null compression")
        version = _choose_version(cfg, ch)
        # RFC 7507: a fallback retry below our best version means an attack (or a broken
        # client): refuse it.
        if CipherSuite.TLS_FALLBACK_SCSV in ch.cipher_suites and version < cfg.versions[0]:
            raise PeerMisbehaved(
                "TLS_FALLBACK_SCSV with a version below our best",
                AlertDescription.inappropriate_fallback,
            )
        if version is not ProtocolVersion.TLSv1_3:
            if self.retry is not None:
                raise PeerMisbehaved("ClientHello2 after HelloRetryRequest negotiates TLS 1.2")
            return _tls12.handle_client_hello(cx, cfg, ch, m.raw)
        if ch.legacy_compression_methods != b"\x00":
            raise PeerMisbehaved("TLS 1.3 ClientHello must offer only null compression")
        if self.retry is not None:
            _check_second_hello(self.retry.first, ch)
        sel = _select13(cfg, ch, self.retry)
        if cx.quic is not None:
            _check_quic_hello(cx, ch, sel)
        if sel.client_share is None:
            if self.retry is not None:
                raise PeerMisbehaved("ClientHello2 still lacks a usable key share")
            return self._send_retry(cx, ch, m.raw, sel)
        tr = self.retry.transcript if self.retry is not None else Transcript()
        sent_ccs = self.retry.sent_ccs if self.retry is not None else False
        return _tls13.emit_first_flight(cx, cfg, ch, m.raw, sel, tr, sent_ccs)

    def _send_retry(self, cx: CommonState, ch: ClientHello, raw: bytes, sel: Selection) -> State:
        cfg = self.config
        cookie = cfg.provider.secure_random(32) if cfg.send_hrr_cookie else None
        hrr = HelloRetryRequest(
            legacy_version=ProtocolVersion.TLSv1_2,
            legacy_session_id_echo=ch.legacy_session_id,
            cipher_suite=int(sel.suite.suite),
            extensions=HelloRetryExtensions(
                supported_versions=int(ProtocolVersion.TLSv1_3),
                selected_group=int(sel.group.name),
                cookie=cookie,
            ),
        )
        tr = Transcript()
        tr.start_hash(sel.suite.hash_name)
        tr.drop_buffer()
        tr.add(raw)
        tr.rollup_for_hrr()
        raw_hrr = encode_handshake(hrr)
        tr.add(raw_hrr)
        cx.send_handshake(raw_hrr)
        if ch.extensions.early_data:  # 0-RTT is rejected by a HelloRetryRequest (§4.2.10)
            cx.early_data_offered = True
            cx.record_layer.set_skip_early_data(early_data_skip_limit(cfg))
        sent_ccs = bool(ch.legacy_session_id)
        if sent_ccs:
            cx.send_ccs()
        _log.debug("server sent HelloRetryRequest for %s", sel.group.name.name)
        return ExpectClientHello(
            config=cfg, retry=Retry(sel.suite, sel.group, cookie, tr, sent_ccs, ch)
        )


# Both version branches import this module: imported last (a function-level import costs
# ~0.6 µs per ClientHello; each is looked up as a module attribute when called).
from . import tls12 as _tls12  # noqa: E402
from . import tls13 as _tls13  # noqa: E402
