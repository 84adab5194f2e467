"""Client TLS 1.3 states after ServerHello, in protocol order (RFC 8446 §2, §4.3–4.6).

ExpectEncryptedExtensions → ExpectCertificate (CertificateRequest handled there too) →
ExpectCertificateVerify → ExpectFinished → ExpectTraffic.  The chain and handshake
signature are checked in ExpectCertificateVerify; ExpectFinished cannot be built without
both proof tokens — or, in a PSK handshake (resumption or external PSK, RFC 8446 §2.2),
without the :class:`~tlspipe.client.resume13.PskAccepted` token, going straight from
EncryptedExtensions to Finished.  With 0-RTT accepted, EndOfEarlyData goes out (under the
early traffic key) before the client's Finished.  NewSessionTickets are stored in
ExpectTraffic.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field

from ..conn import CommonState, Message, State, TrafficSecrets, expect_handshake, unexpected
from ..crypto.provider import Tls13CipherSuite
from ..enums import AlertDescription, ExtensionType, HandshakeType
from ..errors import DecodeError, PeerIncompatible, PeerMisbehaved
from ..keys.tls13 import KeyScheduleHandshake, KeyScheduleTraffic
from ..msgs.extensions import CertificateEntryExtensions
from ..msgs.handshake import (
    Certificate13,
    CertificateEntry,
    CertificateRequest13,
    CertificateVerify,
    EncryptedExtensions,
    EndOfEarlyData,
    Finished,
    NewSessionTicket13,
    encode_finished,
)
from ..msgs.message import encode_handshake
from ..tls13common import (
    CLIENT_CV_CONTEXT,
    SERVER_CV_CONTEXT,
    Tls13Exporter,
    reject_unknown_extensions,
    signed_content,
)
from ..verify.base import HandshakeSignatureValid, ServerCertVerified
from .hs import HelloInput
from .resume13 import PskAccepted, store_ticket

__all__ = [
    "ExpectCertificate",
    "ExpectCertificateVerify",
    "ExpectEncryptedExtensions",
    "ExpectFinished",
    "ExpectTraffic",
]

_log = logging.getLogger("tlspipe.client")

#: What the server's CertificateVerify signs, before the transcript hash (RFC 8446 §4.4.3):
#: ``signed_content(SERVER_CV_CONTEXT, hash)`` is this prefix + hash.
_SERVER_CV_PREFIX = signed_content(SERVER_CV_CONTEXT, b"")


def _take_quic_params(
    cx: CommonState, unknown: tuple[tuple[int, bytes], ...]
) -> tuple[tuple[int, bytes], ...]:
    """Keep the server's quic_transport_parameters (RFC 9001 §8.2); the other extensions.

    Raises:
        PeerMisbehaved: the extension is missing (missing_extension).
    """
    rest = tuple(e for e in unknown if e[0] != ExtensionType.quic_transport_parameters)
    params = [body for typ, body in unknown if typ == ExtensionType.quic_transport_parameters]
    if cx.quic is None or not params:
        raise PeerMisbehaved(
            "server sent no quic_transport_parameters", AlertDescription.missing_extension
        )
    cx.quic.peer_transport_params = params[0]
    return rest


@dataclass(slots=True, kw_only=True)
class ExpectEncryptedExtensions:
    """Waiting for EncryptedExtensions."""

    hello: HelloInput
    suite: Tls13CipherSuite
    schedule: KeyScheduleHandshake
    #: The PSK the server selected, if any (then no certificate follows).
    psk: PskAccepted | None = None
    #: Client handshake traffic secret not yet installed: 0-RTT may have been accepted.
    pending_client_hs: bytes | None = field(default=None, repr=False)

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Check EncryptedExtensions against what we offered (RFC 8446 §4.3.1).

        Raises:
            PeerMisbehaved: an ALPN protocol we did not offer (illegal_parameter), an
                unsolicited extension (unsupported_extension), 0-RTT accepted for another
                suite or ALPN protocol than the ticket's (illegal_parameter).
        """
        m = expect_handshake(msg, "EncryptedExtensions")
        ee = m.expect(EncryptedExtensions).extensions
        cfg = self.hello.config
        unknown = ee.unknown
        if cx.quic is not None:
            unknown = _take_quic_params(cx, unknown)
        if unknown:
            reject_unknown_extensions(unknown, "EncryptedExtensions")
        pending = self.pending_client_hs
        if ee.early_data and pending is None:
            if self.hello.early:  # offered, but the server did not select PSK 0 (§4.2.10)
                raise PeerMisbehaved("server accepted early data with a PSK other than the first")
            raise PeerMisbehaved(
                "server accepted early data we did not offer",
                AlertDescription.unsupported_extension,
            )
        if ee.record_size_limit is not None:  # never offered (RFC 8446 §4.2, RFC 8449)
            raise PeerMisbehaved(
                "server sent record_size_limit we did not offer",
                AlertDescription.unsupported_extension,
            )
        if ee.server_name and cx.sni is None:
            raise PeerMisbehaved(
                "server acknowledged SNI we did not send", AlertDescription.unsupported_extension
            )
        if ee.alpn is not None:
            if ee.alpn not in cfg.alpn_protocols:
                raise PeerMisbehaved(
                    "server selected an ALPN protocol we did not offer",
                    AlertDescription.illegal_parameter
                    if cfg.alpn_protocols
                    else AlertDescription.unsupported_extension,
                )
            cx.alpn_protocol = ee.alpn
        elif cx.quic is not None:  # RFC 9001 §8.1
            raise PeerIncompatible(
                "server selected no ALPN protocol (required by QUIC)",
                AlertDescription.no_application_protocol,
            )
        self.hello.transcript.add(m.raw)
        psk = self.psk
        early_accepted = False
        if pending is not None:
            ticket = psk.psk.ticket if psk is not None else None
            if ee.early_data:
                if ticket is None or ticket.suite != int(self.suite.suite):
                    raise PeerMisbehaved("0-RTT accepted with another cipher suite")
                if ticket.alpn != cx.alpn_protocol:
                    raise PeerMisbehaved("0-RTT accepted with another ALPN protocol")
                early_accepted = True
                cx.early_data_accepted = True
                _log.debug("server accepted our 0-RTT data")
            else:
                cx.set_tls13_encrypter(self.suite, pending)
                pending = None
                cx.early_data_rejected = True
                _log.debug("server rejected our 0-RTT data")
        if psk is not None:
            ticket = psk.psk.ticket
            cx.resumed = ticket is not None
            if ticket is not None and ticket.server_cert_chain:
                cx.peer_certificates = ticket.server_cert_chain
            return ExpectFinished(
                hello=self.hello,
                suite=self.suite,
                schedule=self.schedule,
                cert_request=None,
                auth=psk,
                pending_client_hs=pending if early_accepted else None,
            )
        return ExpectCertificate(
            hello=self.hello, suite=self.suite, schedule=self.schedule, cert_request=None
        )


@dataclass(slots=True, kw_only=True)
class ExpectCertificate:
    """Waiting for the server's Certificate (a CertificateRequest may come first)."""

    hello: HelloInput
    suite: Tls13CipherSuite
    schedule: KeyScheduleHandshake
    cert_request: CertificateRequest13 | None

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Record a CertificateRequest, or take the server's certificate chain.

        Raises:
            DecodeError: an empty certificate list (decode_error).
            PeerMisbehaved: a non-empty request context, a second CertificateRequest.
        """
        m = expect_handshake(msg, "Certificate")
        if m.typ == HandshakeType.certificate_request and self.cert_request is None:
            req = m.expect(CertificateRequest13)
            if req.certificate_request_context:
                raise PeerMisbehaved("CertificateRequest context must be empty in the handshake")
            if req.extensions.signature_algorithms is None:
                raise PeerMisbehaved(
                    "CertificateRequest without signature_algorithms",
                    AlertDescription.missing_extension,
                )
            self.hello.transcript.add(m.raw)
            return ExpectCertificate(
                hello=self.hello, suite=self.suite, schedule=self.schedule, cert_request=req
            )
        cert = m.expect(Certificate13)
        if cert.certificate_request_context:
            raise PeerMisbehaved("server Certificate has a request context")
        if not cert.certificate_list:
            raise DecodeError("server sent an empty certificate list")
        for entry in cert.certificate_list:
            if entry.extensions.unknown:
                reject_unknown_extensions(entry.extensions.unknown, "CertificateEntry")
        # We always ask for a stapled OCSP response and SCTs (RFC 8446 §4.4.2.1); only the
        # end-entity's are used.
        leaf_ext = cert.certificate_list[0].extensions
        chain = tuple([e.cert_data for e in cert.certificate_list])
        cx.peer_certificates = chain
        cx.peer_ocsp_response = leaf_ext.status_request
        cx.peer_sct_list = leaf_ext.signed_certificate_timestamp
        self.hello.transcript.add(m.raw)
        return ExpectCertificateVerify(
            hello=self.hello,
            suite=self.suite,
            schedule=self.schedule,
            cert_request=self.cert_request,
            chain=chain,
        )


@dataclass(slots=True, kw_only=True)
class ExpectCertificateVerify:
    """Waiting for CertificateVerify; verifies the chain and the signature."""

    hello: HelloInput
    suite: Tls13CipherSuite
    schedule: KeyScheduleHandshake
    cert_request: CertificateRequest13 | None
    chain: tuple[bytes, ...]

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Verify the server's chain (name, validity, path) and its handshake signature.

        Raises:
            InvalidCertificate: the chain does not verify for the server name.
            PeerMisbehaved: a bad signature (decrypt_error) or a scheme we did not offer
                (illegal_parameter).
        """
        m = expect_handshake(msg, "CertificateVerify")
        cv = m.expect(CertificateVerify)
        h = self.hello
        verifier = h.config.verifier_
        cert_ok: ServerCertVerified = verifier.verify_server_cert(
            self.chain[0],
            self.chain[1:],
            h.server_name.text,
            cx.peer_ocsp_response or b"",
            h.config.time(),
            sct_list=cx.peer_sct_list,
        )
        message = _SERVER_CV_PREFIX + h.transcript.current_hash()  # signed_content()
        sig_ok: HandshakeSignatureValid = verifier.verify_tls13_signature(
            message, self.chain[0], cv.algorithm, cv.signature
        )
        h.transcript.add(m.raw)
        return ExpectFinished(
            hello=h,
            suite=self.suite,
            schedule=self.schedule,
            cert_request=self.cert_request,
            auth=(cert_ok, sig_ok),
        )


@dataclass(slots=True, kw_only=True)
class ExpectFinished:
    """Waiting for the server's Finished; then sends the client's second flight."""

    hello: HelloInput
    suite: Tls13CipherSuite
    schedule: KeyScheduleHandshake
    cert_request: CertificateRequest13 | None
    #: How the server authenticated: certificate + signature, or a PSK we offered.
    auth: tuple[ServerCertVerified, HandshakeSignatureValid] | PskAccepted
    #: 0-RTT accepted: send EndOfEarlyData, then install this handshake key (§4.5).
    pending_client_hs: bytes | None = field(default=None, repr=False)

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Check the server's Finished, send ours, switch to application traffic keys.

        Raises:
            PeerMisbehaved: the Finished value is wrong (decrypt_error).
        """
        m = expect_handshake(msg, "Finished")
        fin = m.expect(Finished)
        h = self.hello
        tr = h.transcript
        expected = self.schedule.server_finished_verify_data(tr.current_hash())
        if not hmac.compare_digest(expected, fin.verify_data):
            raise PeerMisbehaved("server Finished is incorrect", AlertDescription.decrypt_error)
        tr.add(m.raw)
        th = tr.current_hash()
        traffic = self.schedule.into_traffic(th)
        cx.set_tls13_decrypter(self.suite, traffic.server_application_traffic_secret_0)
        # Second flight (RFC 8446 §4.4): [CCS] [EndOfEarlyData] [Certificate
        # CertificateVerify] Finished.
        if h.config.middlebox_compat and not h.sent_ccs:
            cx.send_ccs()
            h.sent_ccs = True
        if self.pending_client_hs is not None:
            if cx.quic is None:  # QUIC has no EndOfEarlyData (RFC 9001 §8.3)
                raw_eoed = encode_handshake(EndOfEarlyData())
                tr.add(raw_eoed)
                cx.send_handshake(raw_eoed)
                th = b""  # the transcript moved on
            cx.set_tls13_encrypter(self.suite, self.pending_client_hs)
        if self.cert_request is not None:
            emit_client_auth(cx, h, self.cert_request)
            th = b""
        # Hash(ClientHello...server Finished) again when nothing was added since
        verify_data = traffic.client_finished_verify_data(th or tr.current_hash())
        raw_fin = encode_finished(verify_data)  # encode_handshake(Finished(verify_data))
        tr.add(raw_fin)
        cx.send_handshake(raw_fin)
        cx.set_tls13_encrypter(self.suite, traffic.client_application_traffic_secret_0)
        cx.traffic = TrafficSecrets(
            self.suite,
            read=traffic.server_application_traffic_secret_0,
            write=traffic.client_application_traffic_secret_0,
        )
        cx.exporter = Tls13Exporter(traffic)
        cx.start_traffic()
        if _log.isEnabledFor(logging.DEBUG):  # one call, not two, when debug is off
            _log.debug("client handshake complete")
        # the resumption master secret is derived when a ticket arrives (if one does)
        return ExpectTraffic(hello=h, suite=self.suite, traffic=traffic)


def emit_client_auth(cx: CommonState, h: HelloInput, req: CertificateRequest13) -> None:
    """Answer a CertificateRequest: our chain and CertificateVerify, or an empty Certificate
    when we have no certificate or no scheme in common (RFC 8446 §4.4.2, §4.4.3)."""
    tr = h.transcript
    ext = req.extensions
    schemes = ext.signature_algorithms or ()
    resolver = h.config.client_auth_cert_resolver
    ck = resolver.resolve(ext.certificate_authorities or (), schemes) if resolver else None
    signer = ck.key.choose_scheme(schemes, tls13=True) if ck is not None else None
    chain = ck.cert_chain if ck is not None and signer is not None else ()
    raw_cert = encode_handshake(
        Certificate13(
            certificate_request_context=req.certificate_request_context,
            certificate_list=tuple(
                CertificateEntry(cert_data=der, extensions=CertificateEntryExtensions())
                for der in chain
            ),
        )
    )
    tr.add(raw_cert)
    cx.send_handshake(raw_cert)
    if signer is None or not chain:
        _log.debug("client sent no certificate")
        return
    sig = signer.sign(signed_content(CLIENT_CV_CONTEXT, tr.current_hash()))
    raw_cv = encode_handshake(CertificateVerify(algorithm=int(signer.scheme), signature=sig))
    tr.add(raw_cv)
    cx.send_handshake(raw_cv)
    _log.debug("client sent its certificate, signed with %s", signer.scheme.name)


@dataclass(slots=True, kw_only=True)
class ExpectTraffic:
    """The handshake is done: NewSessionTicket and KeyUpdate may arrive."""

    hello: HelloInput
    suite: Tls13CipherSuite
    traffic: KeyScheduleTraffic
    #: Hash(ClientHello...client Finished), the context of the resumption master secret:
    #: taken from the transcript (complete, nothing is added after the client Finished)
    #: when the first ticket arrives.
    res_hash: bytes | None = None

    def __repr__(self) -> str:
        return f"ExpectTraffic({self.suite.suite.name})"

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Handle post-handshake messages (RFC 8446 §4.6).

        Raises:
            InappropriateMessage: any other handshake message (unexpected_message).
        """
        m = expect_handshake(msg, "NewSessionTicket or KeyUpdate")
        if m.typ == HandshakeType.key_update:
            cx.handle_key_update(m)
            return self
        if m.typ == HandshakeType.new_session_ticket:
            nst = m.expect(NewSessionTicket13)
            res_hash = self.res_hash
            if res_hash is None:
                res_hash = self.res_hash = self.hello.transcript.current_hash()
            rms = self.traffic.resumption_master_secret(res_hash)
            store_ticket(cx, self.hello, self.suite, rms, nst)
            return self
        raise unexpected(m, "NewSessionTicket or KeyUpdate")
