"""Client TLS 1.2 states, in protocol order (RFC 5246 §7.3, RFC 8422, RFC 7627, RFC 5077).

Full handshake::

    ServerHello → ExpectCertificate → ExpectServerKx (CertificateStatus may come first)
    → ExpectServerDone (CertificateRequest may come first) → [send Certificate],
    ClientKeyExchange, [CertificateVerify], ChangeCipherSpec, Finished → [ExpectNewTicket]
    → ExpectCcs → ExpectFinished → ExpectTraffic

A CertificateRequest is answered from the config's ``client_auth_cert_resolver``: its chain
and a CertificateVerify over the handshake messages when the key type and a signature
scheme fit the request, else an empty Certificate.

Abbreviated handshake (the server echoed the session ID we offered, RFC 5246 §7.3 /
RFC 5077 §3.1)::

    ServerHello → [ExpectNewTicket] → ExpectCcs → ExpectFinished → send ChangeCipherSpec,
    Finished → ExpectTraffic

The server's chain and ServerKeyExchange signature are verified in ExpectServerKx;
ExpectServerDone cannot be built without both proof tokens.  Sessions are stored in the
config's ``session_store`` only when they used the extended master secret, so a session
without EMS is never offered again (RFC 7627 §5.3).

Imports layers 1–5 and :mod:`tlspipe.client.hs`; never :mod:`tlspipe.server`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

from ..conn import (
    ChangeCipherSpecMsg,
    CommonState,
    Message,
    State,
    expect_handshake,
    unexpected,
)
from ..crypto.provider import KxGroup, Signer, Tls12CipherSuite
from ..enums import (
    AlertDescription,
    AlertLevel,
    CompressionMethod,
    ECPointFormat,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
)
from ..errors import DecodeError, PeerIncompatible, PeerMisbehaved
from ..msgs.handshake import (
    Certificate12,
    CertificateRequest12,
    CertificateStatus,
    CertificateVerify,
    ClientKeyExchangeEcdhe,
    Finished,
    NewSessionTicket12,
    ServerHelloDone,
    ServerKeyExchangeEcdhe,
    encode_finished,
)
from ..msgs.hello import ServerHello
from ..msgs.message import HandshakePayload, encode_handshake
from ..msgs.persist import Tls12ClientSessionValue
from ..tls12common import (
    MAX_RENEGOTIATION_REFUSALS,
    ConnectionSecrets,
    Tls12Exporter,
    scheme_fits_suite,
)
from ..tls13common import reject_unknown_extensions
from ..verify.base import HandshakeSignatureValid, ServerCertVerified
from .config import ClientConfig
from .hs import HelloInput, OfferedHello

__all__ = [
    "ExpectCcs",
    "ExpectCertificate",
    "ExpectFinished",
    "ExpectNewTicket",
    "ExpectServerDone",
    "ExpectServerKx",
    "ExpectTraffic",
    "handle_server_hello",
    "prepare_resumption",
]

_log = logging.getLogger("tlspipe.client")

#: Lifetime assumed for a session ID, or a ticket whose lifetime hint is 0 (RFC 5077 §3.3).
DEFAULT_SESSION_LIFETIME = 24 * 3600
_MAX_TICKET_LIFETIME = 7 * 24 * 3600


def _now(config: ClientConfig) -> int:
    return int(config.time().timestamp())


def prepare_resumption(
    config: ClientConfig, server_name: str, session_id: bytes
) -> tuple[Tls12ClientSessionValue | None, bytes | None, bytes]:
    """Choose the TLS 1.2 session to offer and the session_ticket extension to send.

    Returns ``(session, ticket_extension, legacy_session_id)``: a stored session that can
    still be used (or None), the session_ticket extension body (``b""`` for an empty offer,
    None when tickets are off or TLS 1.2 is not offered) and the session ID to send (the
    stored one when there is one, also beside a ticket; else a random one when resuming by
    ticket, so that acceptance is visible in the echo, RFC 5077 §3.4).

    Raises:
        Nothing.
    """
    if ProtocolVersion.TLSv1_2 not in config.versions:
        return None, None, session_id
    value = config.session_store.tls12_session(server_name)
    if value is not None and (
        value.expired(_now(config))
        or not value.extended_ms
        or not _offered_suite(config, value.suite)
    ):
        value = None
    ticket_ext: bytes | None = None
    if config.enable_tickets:
        ticket_ext = value.ticket if value is not None and value.ticket else b""
    if value is not None:
        if value.session_id:
            # also with a ticket: a server without tickets can still resume by ID
            session_id = value.session_id
        elif value.ticket and config.enable_tickets:
            if not session_id:
                session_id = config.provider.secure_random(32)
        else:
            value = None
    return value, ticket_ext, session_id


def _offered_suite(config: ClientConfig, code: int) -> Tls12CipherSuite | None:
    """The configured TLS 1.2 suite with wire code ``code``, or None."""
    for s in config.suites_:  # a loop, not next(genexpr): no generator frame per handshake
        if s.suite == code and isinstance(s, Tls12CipherSuite):
            return s
    return None


class Negotiated(NamedTuple):
    """What the TLS 1.2 ServerHello settled (immutable for the rest of the handshake).

    A NamedTuple: as immutable as a frozen dataclass, built without a ``__setattr__``
    call per field.
    """

    suite: Tls12CipherSuite
    server_random: bytes
    session_id: bytes
    extended_ms: bool
    ticket_expected: bool


def _check_server_hello(
    cx: CommonState, h: HelloInput, sh: ServerHello, offered: OfferedHello
) -> Tls12CipherSuite:
    cfg = h.config
    suite = _offered_suite(cfg, sh.cipher_suite)
    if suite is None or sh.cipher_suite not in offered.suites:
        raise PeerMisbehaved("server selected a cipher suite we did not offer")
    if sh.legacy_compression_method != CompressionMethod.null:
        raise PeerMisbehaved("server selected a compression method")
    ext = sh.extensions
    reject_unknown_extensions(ext.unknown, "ServerHello")
    if (
        ext.key_share is not None
        or ext.pre_shared_key is not None
        or ext.record_size_limit is not None
        or (ext.server_name and cx.sni is None)
        or (ext.session_ticket and h.ticket_offer is None)
        or (ext.status_request and not offered.status_request)
        or (ext.signed_certificate_timestamp is not None and not offered.sct)
    ):
        raise PeerMisbehaved(
            "ServerHello carries an extension we did not offer",
            AlertDescription.unsupported_extension,
        )
    # RFC 5746 §3.4: the initial handshake's renegotiation_info must be empty.
    if ext.renegotiation_info not in (None, b""):
        raise PeerMisbehaved(
            "non-empty renegotiation_info in an initial handshake",
            AlertDescription.handshake_failure,
        )
    if ext.ec_point_formats is not None and ECPointFormat.uncompressed not in ext.ec_point_formats:
        raise PeerMisbehaved("server does not support uncompressed EC points")
    if ext.alpn is not None:
        if ext.alpn not in cfg.alpn_protocols:
            raise PeerMisbehaved(
                "server selected an ALPN protocol we did not offer",
                AlertDescription.illegal_parameter
                if cfg.alpn_protocols
                else AlertDescription.unsupported_extension,
            )
        cx.alpn_protocol = ext.alpn
    if cfg.require_ems and not ext.extended_master_secret:
        raise PeerIncompatible("server does not support the extended master secret (RFC 7627)")
    if ext.signed_certificate_timestamp is not None:
        cx.peer_sct_list = ext.signed_certificate_timestamp
    return suite


def handle_server_hello(
    cx: CommonState, h: HelloInput, sh: ServerHello, raw: bytes, offered: OfferedHello
) -> State:
    """Process a ServerHello that selected TLS 1.2 (``legacy_version`` 0x0303 already
    checked, downgrade sentinel already checked by the caller).

    Raises:
        PeerMisbehaved: values we did not offer (illegal_parameter / unsupported_extension),
            a resumption that changes suite or EMS (RFC 7627 §5.3: handshake_failure).
        PeerIncompatible: ``require_ems`` and the server lacks EMS (handshake_failure).
    """
    suite = _check_server_hello(cx, h, sh, offered)
    ext = sh.extensions
    cx.version = ProtocolVersion.TLSv1_2
    cx.suite = suite
    tr = h.transcript
    tr.start_hash(suite.hash_name)
    tr.add(raw)  # the raw buffer is kept until we know whether to sign it (client auth)
    neg = Negotiated(
        suite=suite,
        server_random=sh.random,
        session_id=sh.legacy_session_id_echo,
        extended_ms=ext.extended_master_secret,
        ticket_expected=ext.session_ticket,
    )
    resuming = h.resuming12
    if resuming is not None and h.session_id and sh.legacy_session_id_echo == h.session_id:
        if resuming.suite != suite.suite:
            raise PeerMisbehaved("server resumed a session with a different cipher suite")
        if resuming.extended_ms != ext.extended_master_secret:
            raise PeerMisbehaved(
                "resumed session changes the extended master secret (RFC 7627 §5.3)",
                AlertDescription.handshake_failure,
            )
        tr.drop_buffer()
        secrets = ConnectionSecrets(
            suite, resuming.master_secret, h.random, sh.random, resuming.extended_ms
        )
        secrets.log(h.config.key_log)
        cx.resumed = True
        cx.peer_certificates = resuming.server_cert_chain
        if _log.isEnabledFor(logging.DEBUG):  # the argument costs more than the call
            _log.debug("client resuming TLS 1.2 session (%s)", suite.suite.name)
        if ext.session_ticket:
            return ExpectNewTicket(hello=h, neg=neg, secrets=secrets, resuming=resuming)
        return ExpectCcs(hello=h, neg=neg, secrets=secrets, resuming=resuming, ticket=None)
    if _log.isEnabledFor(logging.DEBUG):
        _log.debug("client negotiated TLS 1.2 %s (full handshake)", suite.suite.name)
    return ExpectCertificate(hello=h, neg=neg, status_expected=ext.status_request)


@dataclass(slots=True, kw_only=True)
class ExpectCertificate:
    """Waiting for the server's Certificate."""

    hello: HelloInput
    neg: Negotiated
    status_expected: bool

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Take the server's certificate chain (verified with ServerKeyExchange).

        Raises:
            DecodeError: an empty certificate list (decode_error).
        """
        m = expect_handshake(msg, "Certificate")
        cert = m.expect(Certificate12)
        if not cert.certificate_list:
            raise DecodeError("server sent an empty certificate list")
        cx.peer_certificates = cert.certificate_list
        self.hello.transcript.add(m.raw)
        return ExpectServerKx(
            hello=self.hello,
            neg=self.neg,
            chain=cert.certificate_list,
            status_expected=self.status_expected,
            ocsp=b"",
        )


def _find_group(config: ClientConfig, code: int) -> KxGroup:
    for g in config.groups_:
        if g.name == code and g.usable_in_tls12:
            return g
    raise PeerMisbehaved("ServerKeyExchange uses a group we did not offer")


@dataclass(slots=True, kw_only=True)
class ExpectServerKx:
    """Waiting for ServerKeyExchange (a CertificateStatus may come first if we asked)."""

    hello: HelloInput
    neg: Negotiated
    chain: tuple[bytes, ...]
    status_expected: bool
    ocsp: bytes

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Verify the chain and the signature over the server's ECDHE parameters
        (RFC 8422 §5.4).

        Raises:
            InvalidCertificate: the chain does not verify for the server name.
            PeerMisbehaved: a group or scheme we did not offer or not fitting the suite
                (illegal_parameter), a bad signature (decrypt_error).
        """
        m = expect_handshake(msg, "ServerKeyExchange")
        h = self.hello
        if m.typ == HandshakeType.certificate_status and self.status_expected:
            st = m.expect(CertificateStatus)
            h.transcript.add(m.raw)
            cx.peer_ocsp_response = st.ocsp_response
            return ExpectServerKx(
                hello=h, neg=self.neg, chain=self.chain, status_expected=False,
                ocsp=st.ocsp_response,
            )  # fmt: skip
        skx = m.expect(ServerKeyExchangeEcdhe)
        group = _find_group(h.config, skx.named_curve)
        if not scheme_fits_suite(skx.algorithm, self.neg.suite):
            raise PeerMisbehaved("ServerKeyExchange signature scheme does not fit the suite")
        verifier = h.config.verifier_
        cert_ok = verifier.verify_server_cert(
            self.chain[0],
            self.chain[1:],
            h.server_name.text,
            self.ocsp,
            h.config.time(),
            sct_list=cx.peer_sct_list,
        )
        signed = h.random + self.neg.server_random + skx.params_bytes()
        sig_ok = verifier.verify_tls12_signature(
            signed, self.chain[0], skx.algorithm, skx.signature
        )
        h.transcript.add(m.raw)
        return ExpectServerDone(
            hello=h,
            neg=self.neg,
            group=group,
            server_public=skx.public,
            cert_verified=cert_ok,
            sig_verified=sig_ok,
            cert_request=None,
        )


def _send(cx: CommonState, h: HelloInput, body: HandshakePayload) -> None:
    raw = encode_handshake(body)
    h.transcript.add(raw)
    cx.send_handshake(raw)


def _send_ccs_finished(
    cx: CommonState, h: HelloInput, secrets: ConnectionSecrets, last: bool
) -> None:
    """Send ChangeCipherSpec and our Finished; ``last``: no handshake message follows (a
    resumption), so the Finished is not added to the transcript."""
    cx.send_ccs()
    secrets.install_encrypter(cx, client=True)
    tr = h.transcript
    raw = encode_finished(secrets.verify_data(True, tr.current_hash()))
    if not last:
        tr.add(raw)
    cx.send_handshake(raw)


#: RFC 5246 §7.4.4 ClientCertificateType values a key algorithm can answer.
_CERT_TYPES = {"RSA": 1, "ECDSA": 64, "ED25519": 64}


def _send_client_certificate(
    cx: CommonState, h: HelloInput, req: CertificateRequest12
) -> Signer | None:
    """Send our Certificate for a CertificateRequest (RFC 5246 §7.4.6): the configured chain
    when its key type and a signature scheme fit the request, else an empty list."""
    schemes = req.supported_signature_algorithms
    resolver = h.config.client_auth_cert_resolver
    ck = resolver.resolve(req.certificate_authorities, schemes) if resolver else None
    signer = None
    if ck is not None and _CERT_TYPES.get(ck.key.algorithm, 0) in req.certificate_types:
        signer = ck.key.choose_scheme(schemes, tls13=False)
    chain = ck.cert_chain if ck is not None and signer is not None else ()
    _send(cx, h, Certificate12(certificate_list=chain))
    if not chain:
        _log.debug("client sent no certificate")
        return None
    return signer


@dataclass(slots=True, kw_only=True)
class ExpectServerDone:
    """Waiting for ServerHelloDone (a CertificateRequest may come first)."""

    hello: HelloInput
    neg: Negotiated
    group: KxGroup
    server_public: bytes
    cert_verified: ServerCertVerified
    sig_verified: HandshakeSignatureValid
    cert_request: CertificateRequest12 | None

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Send the client's flight: [Certificate], ClientKeyExchange, [CertificateVerify],
        ChangeCipherSpec, Finished.

        Raises:
            PeerMisbehaved: the server's ECDHE share is invalid (illegal_parameter).
            InappropriateMessage: anything else (unexpected_message).
        """
        m = expect_handshake(msg, "ServerHelloDone")
        h = self.hello
        if m.typ == HandshakeType.certificate_request and self.cert_request is None:
            req = m.expect(CertificateRequest12)
            h.transcript.add(m.raw)
            return ExpectServerDone(
                hello=h, neg=self.neg, group=self.group, server_public=self.server_public,
                cert_verified=self.cert_verified, sig_verified=self.sig_verified,
                cert_request=req,
            )  # fmt: skip
        m.expect(ServerHelloDone)
        h.transcript.add(m.raw)
        signer: Signer | None = None
        if self.cert_request is not None:
            signer = _send_client_certificate(cx, h, self.cert_request)
        if signer is None:
            h.transcript.drop_buffer()
        kx = self.group.start()
        pms = kx.complete(self.server_public)
        cx.kx_group = NamedGroup(self.group.name)
        _send(cx, h, ClientKeyExchangeEcdhe(public=kx.public))
        neg = self.neg
        secrets = ConnectionSecrets.from_key_exchange(
            neg.suite,
            pms,
            h.random,
            neg.server_random,
            h.transcript.current_hash() if neg.extended_ms else None,
        )
        secrets.log(h.config.key_log)
        if signer is not None:
            # RFC 5246 §7.4.8: sign every handshake message so far (after the EMS hash)
            sig = signer.sign(h.transcript.buffer())
            h.transcript.drop_buffer()
            _send(cx, h, CertificateVerify(algorithm=int(signer.scheme), signature=sig))
            _log.debug("client sent its certificate, signed with %s", signer.scheme.name)
        _send_ccs_finished(cx, h, secrets, last=False)
        if neg.ticket_expected:
            return ExpectNewTicket(hello=h, neg=neg, secrets=secrets, resuming=None)
        return ExpectCcs(hello=h, neg=neg, secrets=secrets, resuming=None, ticket=None)


@dataclass(slots=True, kw_only=True)
class ExpectNewTicket:
    """Waiting for NewSessionTicket (the server acknowledged session_ticket, RFC 5077)."""

    hello: HelloInput
    neg: Negotiated
    secrets: ConnectionSecrets
    resuming: Tls12ClientSessionValue | None

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Keep the ticket for this session.

        Raises:
            InappropriateMessage: anything but NewSessionTicket (unexpected_message).
        """
        m = expect_handshake(msg, "NewSessionTicket")
        nst = m.expect(NewSessionTicket12)
        self.hello.transcript.add(m.raw)
        return ExpectCcs(
            hello=self.hello, neg=self.neg, secrets=self.secrets, resuming=self.resuming,
            ticket=nst,
        )  # fmt: skip


@dataclass(slots=True, kw_only=True)
class ExpectCcs:
    """Waiting for the server's ChangeCipherSpec."""

    hello: HelloInput
    neg: Negotiated
    secrets: ConnectionSecrets
    resuming: Tls12ClientSessionValue | None
    ticket: NewSessionTicket12 | None

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Switch reads to the server's keys.

        Raises:
            InappropriateMessage: anything but ChangeCipherSpec (unexpected_message).
            PeerMisbehaved: a handshake message spans the ChangeCipherSpec.
        """
        if not isinstance(msg, ChangeCipherSpecMsg):
            raise unexpected(msg, "ChangeCipherSpec")
        self.secrets.install_decrypter(cx, client=False)
        return ExpectFinished(
            hello=self.hello, neg=self.neg, secrets=self.secrets, resuming=self.resuming,
            ticket=self.ticket,
        )  # fmt: skip


@dataclass(slots=True, kw_only=True)
class ExpectFinished:
    """Waiting for the server's Finished."""

    hello: HelloInput
    neg: Negotiated
    secrets: ConnectionSecrets
    resuming: Tls12ClientSessionValue | None
    ticket: NewSessionTicket12 | None

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Check the server's Finished; when resuming, send ours; start traffic.

        Raises:
            PeerMisbehaved: the Finished value is wrong (decrypt_error).
        """
        m = expect_handshake(msg, "Finished")
        fin = m.expect(Finished)
        h = self.hello
        tr = h.transcript
        self.secrets.check_finished(False, tr.current_hash(), fin.verify_data)
        if self.resuming is not None:  # our Finished follows (after a full one: nothing)
            tr.add(m.raw)
            _send_ccs_finished(cx, h, self.secrets, last=True)
        self._save_session(cx)
        cx.exporter = Tls12Exporter(self.secrets)
        cx.start_traffic()
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("client TLS 1.2 handshake complete (resumed=%s)", cx.resumed)
        return ExpectTraffic(suite=self.neg.suite, refusals=0)

    def _save_session(self, cx: CommonState) -> None:
        h = self.hello
        cfg = h.config
        name = h.server_name.text
        neg = self.neg
        if not neg.extended_ms:
            return  # RFC 7627 §5.3: never resume a session without EMS
        ticket = b""
        lifetime = DEFAULT_SESSION_LIFETIME
        if self.ticket is not None and self.ticket.ticket:
            ticket = self.ticket.ticket
            hint = self.ticket.ticket_lifetime_hint
            lifetime = min(hint, _MAX_TICKET_LIFETIME) if hint else DEFAULT_SESSION_LIFETIME
        elif self.resuming is not None:
            return  # nothing new learned
        session_id = neg.session_id if self.resuming is None else self.resuming.session_id
        if not session_id and not ticket:
            return
        now = _now(cfg)
        value = Tls12ClientSessionValue(
            suite=int(neg.suite.suite),
            session_id=session_id,
            ticket=ticket,
            master_secret=self.secrets.master_secret,
            extended_ms=True,
            server_cert_chain=cx.peer_certificates or (),
            alpn=cx.alpn_protocol,
            received_at=now,
            lifetime=lifetime,
        )
        cfg.session_store.set_tls12_session(name, value)


@dataclass(slots=True, kw_only=True)
class ExpectTraffic:
    """The TLS 1.2 handshake is done; renegotiation is refused (RFC 5746 §4.2)."""

    suite: Tls12CipherSuite
    refusals: int

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Answer a HelloRequest with a no_renegotiation warning; nothing else may arrive.

        Raises:
            InappropriateMessage: any other message (unexpected_message).
            PeerMisbehaved: too many HelloRequests.
        """
        m = expect_handshake(msg, "application data")
        if m.typ != HandshakeType.hello_request:
            raise unexpected(m, "application data")
        if self.refusals >= MAX_RENEGOTIATION_REFUSALS:
            raise PeerMisbehaved(
                "too many renegotiation requests", AlertDescription.unexpected_message
            )
        _log.debug("client refusing renegotiation")
        cx.send_alert(AlertLevel.warning, AlertDescription.no_renegotiation)
        return ExpectTraffic(suite=self.suite, refusals=self.refusals + 1)
