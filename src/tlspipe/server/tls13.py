"""Server TLS 1.3 flight and states, in protocol order (RFC 8446 §2, §4.1.3–§4.6).

:func:`emit_first_flight` sends ServerHello, [ChangeCipherSpec], EncryptedExtensions,
Certificate, CertificateVerify and Finished — or, when a PSK was accepted (resumption or an
external PSK, :mod:`tlspipe.server.resume13`), ServerHello with ``pre_shared_key``,
EncryptedExtensions and Finished.  With 0-RTT accepted, :class:`ExpectEndOfEarlyData` reads
early data until EndOfEarlyData; then :class:`ExpectFinished` checks the client's Finished,
sends NewSessionTickets, and :class:`ExpectTraffic` handles KeyUpdate.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field

from ..conn import CommonState, Message, State, TrafficSecrets, expect_handshake, unexpected
from ..crypto.provider import Tls13CipherSuite, tls13_schemes
from ..enums import AlertDescription, ExtensionType, HandshakeType, NamedGroup, ProtocolVersion
from ..errors import PeerIncompatible, PeerMisbehaved
from ..keys.tls13 import KeyScheduleEarly, KeyScheduleTraffic
from ..keys.transcript import Transcript
from ..msgs.extensions import (
    CertificateEntryExtensions,
    CertificateRequestExtensions,
    ServerEncryptedExtensions,
)
from ..msgs.handshake import (
    Certificate13,
    CertificateEntry,
    CertificateRequest13,
    CertificateVerify,
    EncryptedExtensions,
    EndOfEarlyData,
    Finished,
    encode_certificate_verify,
    encode_finished,
)
from ..msgs.hello import ClientHello, encode_server_hello13
from ..msgs.message import HandshakePayload, encode_handshake
from ..tls13common import (
    CLIENT_CV_CONTEXT,
    SERVER_CV_CONTEXT,
    Tls13Exporter,
    reject_unknown_extensions,
    signed_content,
)
from ..verify.base import ClientCertVerified, HandshakeSignatureValid
from .config import ServerConfig
from .hs import Selection
from .resume13 import (
    choose_psk,
    client_offers_psk_dhe,
    early_data_allowed,
    early_data_skip_limit,
    emit_tickets,
)

__all__ = [
    "ExpectCertificate",
    "ExpectCertificateVerify",
    "ExpectEndOfEarlyData",
    "ExpectFinished",
    "ExpectTraffic",
    "emit_first_flight",
]

_log = logging.getLogger("tlspipe.server")


def _queue(flight: list[bytes], tr: Transcript, body: HandshakePayload) -> None:
    """Add ``body`` to the transcript now and to ``flight``, sent later as one write."""
    raw = encode_handshake(body)
    tr.add(raw)
    flight.append(raw)


# (chain, stapled OCSP response, stapled SCT list) → the encoded Certificate message: the
# same few per server, public data, built once instead of per handshake (bounded).
_CERT_MSGS: dict[tuple[tuple[bytes, ...], bytes | None, bytes | None], bytes] = {}
_CERT_MSGS_MAX = 64


def _certificate_message(chain: tuple[bytes, ...], ocsp: bytes | None, sct: bytes | None) -> bytes:
    """The encoded TLS 1.3 Certificate message (empty request context) for ``chain`` with
    ``ocsp`` / ``sct`` in the leaf's extensions (RFC 8446 §4.4.2)."""
    key = (chain, ocsp, sct)
    raw = _CERT_MSGS.get(key)
    if raw is None:
        leaf_ext = CertificateEntryExtensions(status_request=ocsp, signed_certificate_timestamp=sct)
        entries = tuple(
            CertificateEntry(
                cert_data=der, extensions=leaf_ext if i == 0 else CertificateEntryExtensions()
            )
            for i, der in enumerate(chain)
        )
        raw = encode_handshake(
            Certificate13(certificate_request_context=b"", certificate_list=entries)
        )
        if len(_CERT_MSGS) >= _CERT_MSGS_MAX:
            _CERT_MSGS.clear()
        _CERT_MSGS[key] = raw
    return raw


# (server_name acknowledged, ALPN protocol, early_data accepted) → the encoded
# EncryptedExtensions (not for QUIC, whose transport parameters vary): a handful per server.
_EE_MSGS: dict[tuple[bool, bytes | None, bool], bytes] = {}


def _encrypted_extensions(sni: bool, alpn: bytes | None, early: bool) -> bytes:
    key = (sni, alpn, early)
    raw = _EE_MSGS.get(key)
    if raw is None:
        raw = encode_handshake(
            EncryptedExtensions(
                extensions=ServerEncryptedExtensions(server_name=sni, alpn=alpn, early_data=early)
            )
        )
        if len(_EE_MSGS) >= 64:
            _EE_MSGS.clear()
        _EE_MSGS[key] = raw
    return raw


def emit_first_flight(
    cx: CommonState,
    cfg: ServerConfig,
    ch: ClientHello,
    ch_raw: bytes,
    sel: Selection,
    tr: Transcript,
    sent_ccs: bool,
) -> State:
    """Send the server's whole first flight and return the next state.

    ``tr`` holds the messages before this ClientHello: nothing, or message_hash and our
    HelloRetryRequest (then its hash is already started).

    Raises:
        PeerMisbehaved: the client's key share is invalid (illegal_parameter), a wrong PSK
            binder (decrypt_error), early_data after a HelloRetryRequest.
        PeerIncompatible: a PSK-only server and no usable PSK (handshake_failure).
    """
    suite = sel.suite
    assert sel.client_share is not None  # _select13 guarantees it; not peer input
    retried = tr.hash_name is not None
    accepted = choose_psk(cfg, ch, ch_raw, tr, suite, sel.sni, sel.psk_peek)
    if accepted is None and (sel.certified_key is None or sel.signer is None):
        raise PeerIncompatible("no certificate and no usable PSK for this client")
    early = early_data_allowed(cfg, ch, accepted, suite, sel.alpn, retried)
    our_share, shared = sel.group.encapsulate(sel.client_share)
    random = cfg.provider.secure_random(32)
    raw_sh = encode_server_hello13(  # the ServerHello, encoded straight into bytes
        random,
        ch.legacy_session_id,
        int(suite.suite),
        int(sel.group.name),
        our_share,
        accepted.index if accepted is not None else None,
    )
    tr.start_hash(suite.hash_name)
    tr.drop_buffer()
    tr.add(ch_raw)
    schedule = accepted.early if accepted is not None else None  # the binder's
    if schedule is None:
        schedule = KeyScheduleEarly(
            suite,
            accepted.psk if accepted is not None else None,
            keylog=cfg.key_log,
            client_random=ch.random,
        )
    early_secret = schedule.client_early_traffic_secret(tr.current_hash()) if early else None
    tr.add(raw_sh)
    cx.send_handshake(raw_sh)
    if ch.legacy_session_id and not sent_ccs:
        cx.send_ccs()
    cx.version = ProtocolVersion.TLSv1_3
    cx.suite = suite
    group_name = sel.group.name
    cx.kx_group = group_name if type(group_name) is NamedGroup else NamedGroup(group_name)
    cx.alpn_protocol = sel.alpn
    cx.sni = sel.sni
    cx.deframer.set_tls13()
    hs = schedule.into_handshake(shared)
    th = tr.current_hash()
    # Each handshake traffic secret's key, IV and finished key come from one keyed HMAC
    # (*_handshake_keys); the Finished computations reuse the finished key.
    cx.set_tls13_encrypter(
        suite, hs.server_handshake_traffic_secret(th), keys=hs.server_handshake_keys()
    )
    client_hs_secret = hs.client_handshake_traffic_secret(th)
    if early_secret is not None and cx.quic is not None:
        # QUIC: 0-RTT packets are the QUIC stack's; no EndOfEarlyData (RFC 9001 §8.3).
        cx.set_tls13_decrypter(suite, early_secret, early=True)
        cx.early_data_accepted = True
        cx.set_tls13_decrypter(suite, client_hs_secret)
    elif early_secret is not None:
        # 0-RTT accepted: read early data until EndOfEarlyData (RFC 8446 §4.2.10).
        cx.set_tls13_decrypter(suite, early_secret, early=True)
        cx.receiving_early_data = True
        cx.early_data_accepted = True
        cx.early_data_left = cfg.max_early_data_size
    else:
        cx.set_tls13_decrypter(suite, client_hs_secret, keys=hs.client_handshake_keys())
        if ch.extensions.early_data:
            cx.record_layer.set_skip_early_data(early_data_skip_limit(cfg))
    cx.early_data_offered = cx.early_data_offered or ch.extensions.early_data
    # The rest of the flight is under the server handshake traffic key.  Its messages are
    # coalesced into as few records as fit (RFC 8446 §5.1 allows it; none spans a key
    # change) instead of one record per message.
    flight: list[bytes] = []
    if cx.quic is None:
        raw_ee = _encrypted_extensions(sel.sni is not None, sel.alpn, early)
        tr.add(raw_ee)
        flight.append(raw_ee)
    else:
        _queue(
            flight,
            tr,
            EncryptedExtensions(
                extensions=ServerEncryptedExtensions(
                    server_name=sel.sni is not None,
                    alpn=sel.alpn,
                    early_data=early,
                    unknown=((ExtensionType.quic_transport_parameters, cx.quic.transport_params),),
                )
            ),
        )
    tickets = client_offers_psk_dhe(ch)
    if accepted is not None:
        # PSK handshake: no CertificateRequest, Certificate or CertificateVerify (§4.2.11).
        cx.resumed = accepted.session is not None
        if accepted.session is not None and accepted.session.client_cert_chain:
            cx.peer_certificates = accepted.session.client_cert_chain
        # EncryptedExtensions and Finished in one record, as in the full flight.
        raw_fin = encode_finished(hs.server_finished_verify_data(tr.current_hash()))
        tr.add(raw_fin)
        flight.append(raw_fin)
        cx.send_handshake(b"".join(flight))
        traffic = hs.into_traffic(tr.current_hash())
        cx.set_tls13_encrypter(suite, traffic.server_application_traffic_secret_0)
        _log.debug(
            "server sent PSK flight (%s, identity %d, 0-RTT %s)",
            "resumption" if cx.resumed else "external PSK",
            accepted.index,
            "accepted" if early else "no",
        )
        if early and cx.quic is None:
            return ExpectEndOfEarlyData(
                config=cfg,
                suite=suite,
                transcript=tr,
                traffic=traffic,
                client_hs_secret=client_hs_secret,
                tickets=tickets,
            )
        return ExpectFinished(
            config=cfg,
            suite=suite,
            transcript=tr,
            traffic=traffic,
            client_auth=None,
            tickets=tickets,
        )
    if sel.certified_key is None or sel.signer is None:  # checked above; not peer input
        raise PeerIncompatible("no certificate for this client")
    verifier = cfg.client_verifier
    if verifier.offer_client_auth():
        hints = verifier.root_hint_subjects()
        _queue(
            flight,
            tr,
            CertificateRequest13(
                certificate_request_context=b"",
                extensions=CertificateRequestExtensions(
                    signature_algorithms=tls13_schemes(verifier.supported_verify_schemes()),
                    certificate_authorities=hints or None,
                ),
            ),
        )
    ck = sel.certified_key
    # Stapling (RFC 8446 §4.4.2.1, RFC 6066 §8, RFC 6962 §3.3): only when the client asked.
    raw = _certificate_message(
        ck.cert_chain,
        ck.ocsp if ch.extensions.status_request else None,
        ck.sct_list if ch.extensions.signed_certificate_timestamp else None,
    )
    tr.add(raw)
    flight.append(raw)
    signature = sel.signer.sign(signed_content(SERVER_CV_CONTEXT, tr.current_hash()))
    raw_cv = encode_certificate_verify(int(sel.signer.scheme), signature)
    tr.add(raw_cv)
    flight.append(raw_cv)
    raw_fin = encode_finished(hs.server_finished_verify_data(tr.current_hash()))
    tr.add(raw_fin)
    flight.append(raw_fin)
    cx.send_handshake(b"".join(flight))
    traffic = hs.into_traffic(tr.current_hash())
    cx.set_tls13_encrypter(suite, traffic.server_application_traffic_secret_0)
    if _log.isEnabledFor(logging.DEBUG):  # the enum names only when they are logged
        _log.debug(
            "server sent first flight: %s, %s, alpn=%r",
            suite.suite.name,
            cx.kx_group.name,
            sel.alpn,
        )
    if verifier.offer_client_auth():
        return ExpectCertificate(
            config=cfg, suite=suite, transcript=tr, traffic=traffic, tickets=tickets
        )
    return ExpectFinished(
        config=cfg, suite=suite, transcript=tr, traffic=traffic, client_auth=None, tickets=tickets
    )


@dataclass(slots=True, kw_only=True)
class ExpectEndOfEarlyData:
    """0-RTT accepted: early data arrives (read with ``read_early_data``) until
    EndOfEarlyData, which switches to the client's handshake traffic key (RFC 8446 §4.5)."""

    config: ServerConfig
    suite: Tls13CipherSuite
    transcript: Transcript
    traffic: KeyScheduleTraffic
    client_hs_secret: bytes = field(repr=False)
    tickets: bool

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Take EndOfEarlyData and install the client handshake traffic key.

        Raises:
            InappropriateMessage: any other handshake message (unexpected_message).
            DecodeError: a non-empty EndOfEarlyData.
        """
        m = expect_handshake(msg, "EndOfEarlyData")
        m.expect(EndOfEarlyData)
        self.transcript.add(m.raw)
        cx.receiving_early_data = False
        cx.set_tls13_decrypter(self.suite, self.client_hs_secret)
        return ExpectFinished(
            config=self.config,
            suite=self.suite,
            transcript=self.transcript,
            traffic=self.traffic,
            client_auth=None,
            tickets=self.tickets,
        )


@dataclass(slots=True, kw_only=True)
class ExpectCertificate:
    """Waiting for the client's Certificate (we sent a CertificateRequest)."""

    config: ServerConfig
    suite: Tls13CipherSuite
    transcript: Transcript
    traffic: KeyScheduleTraffic
    tickets: bool

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Take the client's chain, or its empty Certificate when client auth is optional.

        Raises:
            PeerMisbehaved: a request context we did not send (illegal_parameter), or no
                certificate when one is required (certificate_required).
        """
        m = expect_handshake(msg, "Certificate")
        cert = m.expect(Certificate13)
        if cert.certificate_request_context:
            raise PeerMisbehaved("client Certificate has a request context we did not send")
        for entry in cert.certificate_list:
            reject_unknown_extensions(entry.extensions.unknown, "client CertificateEntry")
            if (
                entry.extensions.status_request is not None
                or entry.extensions.signed_certificate_timestamp is not None
            ):
                raise PeerMisbehaved(
                    "unsolicited status/SCT in client certificate",
                    AlertDescription.unsupported_extension,
                )
        self.transcript.add(m.raw)
        if not cert.certificate_list:
            if self.config.client_verifier.client_auth_mandatory():
                raise PeerMisbehaved(
                    "client did not send a certificate", AlertDescription.certificate_required
                )
            _log.debug("client sent no certificate (client auth optional)")
            return ExpectFinished(
                config=self.config,
                suite=self.suite,
                transcript=self.transcript,
                traffic=self.traffic,
                client_auth=None,
                tickets=self.tickets,
            )
        chain = tuple(e.cert_data for e in cert.certificate_list)
        return ExpectCertificateVerify(
            config=self.config,
            suite=self.suite,
            transcript=self.transcript,
            traffic=self.traffic,
            chain=chain,
            tickets=self.tickets,
        )


@dataclass(slots=True, kw_only=True)
class ExpectCertificateVerify:
    """Waiting for the client's CertificateVerify; verifies chain and signature."""

    config: ServerConfig
    suite: Tls13CipherSuite
    transcript: Transcript
    traffic: KeyScheduleTraffic
    chain: tuple[bytes, ...]
    tickets: bool

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Verify the client's chain and its handshake signature.

        Raises:
            InvalidCertificate: the chain does not verify (alert by reason).
            PeerMisbehaved: a bad signature (decrypt_error) or scheme (illegal_parameter).
        """
        m = expect_handshake(msg, "CertificateVerify")
        cv = m.expect(CertificateVerify)
        verifier = self.config.client_verifier
        cert_ok = verifier.verify_client_cert(self.chain[0], self.chain[1:], self.config.time())
        message = signed_content(CLIENT_CV_CONTEXT, self.transcript.current_hash())
        sig_ok = verifier.verify_tls13_signature(message, self.chain[0], cv.algorithm, cv.signature)
        self.transcript.add(m.raw)
        cx.peer_certificates = self.chain
        return ExpectFinished(
            config=self.config,
            suite=self.suite,
            transcript=self.transcript,
            traffic=self.traffic,
            client_auth=(cert_ok, sig_ok),
            tickets=self.tickets,
        )


@dataclass(slots=True, kw_only=True)
class ExpectFinished:
    """Waiting for the client's Finished."""

    config: ServerConfig
    suite: Tls13CipherSuite
    transcript: Transcript
    traffic: KeyScheduleTraffic
    client_auth: tuple[ClientCertVerified, HandshakeSignatureValid] | None
    #: Send NewSessionTickets after the client's Finished (the client offered psk_dhe_ke).
    tickets: bool

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Check the client's Finished and start application traffic.

        Raises:
            PeerMisbehaved: the Finished value is wrong (decrypt_error).
        """
        m = expect_handshake(msg, "Finished")
        fin = m.expect(Finished)
        tr = self.transcript
        expected = self.traffic.client_finished_verify_data(tr.current_hash())
        if not hmac.compare_digest(expected, fin.verify_data):
            raise PeerMisbehaved("client Finished is incorrect", AlertDescription.decrypt_error)
        t = self.traffic
        cx.set_tls13_decrypter(self.suite, t.client_application_traffic_secret_0)
        cx.traffic = TrafficSecrets(
            self.suite,
            read=t.client_application_traffic_secret_0,
            write=t.server_application_traffic_secret_0,
        )
        cx.exporter = Tls13Exporter(t)
        if self.tickets:
            # The client's Finished goes into the transcript only for the resumption master
            # secret, which only tickets need (nothing reads the transcript after it).
            def rms() -> bytes:
                tr.add(m.raw)
                return t.resumption_master_secret(tr.current_hash())

            emit_tickets(cx, self.config, self.suite, rms)
        cx.start_traffic()
        _log.debug("server handshake complete")
        return ExpectTraffic(suite=self.suite)


@dataclass(slots=True, kw_only=True)
class ExpectTraffic:
    """The handshake is done: only KeyUpdate may arrive."""

    suite: Tls13CipherSuite

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Handle post-handshake messages (RFC 8446 §4.6).

        Raises:
            InappropriateMessage: anything but KeyUpdate (unexpected_message).
        """
        m = expect_handshake(msg, "KeyUpdate")
        if m.typ == HandshakeType.key_update:
            cx.handle_key_update(m)
            return self
        raise unexpected(m, "KeyUpdate")
