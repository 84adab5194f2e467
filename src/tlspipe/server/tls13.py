"""Server TLS 1.3 flight and states, in protocol order (RFC 8446 §2, §4.1.3–§4.6).

:func:`emit_first_flight` sends ServerHello, [ChangeCipherSpec], EncryptedExtensions,
Certificate, CertificateVerify and Finished; then :class:`ExpectFinished` checks the
client's Finished and :class:`ExpectTraffic` handles KeyUpdate.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from ..conn import CommonState, Message, State, TrafficSecrets, expect_handshake, unexpected
from ..crypto.provider import Tls13CipherSuite, tls13_schemes
from ..enums import AlertDescription, HandshakeType, NamedGroup, ProtocolVersion
from ..errors import PeerMisbehaved
from ..keys.tls13 import KeyScheduleEarly, KeyScheduleTraffic
from ..keys.transcript import Transcript
from ..msgs.extensions import (
    CertificateEntryExtensions,
    CertificateRequestExtensions,
    KeyShareEntry,
    ServerEncryptedExtensions,
    ServerExtensions,
)
from ..msgs.handshake import (
    Certificate13,
    CertificateEntry,
    CertificateRequest13,
    CertificateVerify,
    EncryptedExtensions,
    Finished,
)
from ..msgs.hello import ClientHello, ServerHello
from ..msgs.message import encode_handshake
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

__all__ = [
    "ExpectCertificate",
    "ExpectCertificateVerify",
    "ExpectFinished",
    "ExpectTraffic",
    "emit_first_flight",
]

_log = logging.getLogger("tlspipe.server")


def _send(cx: CommonState, tr: Transcript, body: object) -> None:
    raw = encode_handshake(body)  # type: ignore[arg-type]
    tr.add(raw)
    cx.send_handshake(raw)


def emit_first_flight(
    cx: CommonState,
    cfg: ServerConfig,
    ch: ClientHello,
    ch_raw: bytes,
    sel: Selection,
    tr: Transcript,
    sent_ccs: bool,
) -> State:
    """Send the server's whole first flight and return :class:`ExpectFinished`.

    Raises:
        PeerMisbehaved: the client's key share is invalid (illegal_parameter).
    """
    suite = sel.suite
    assert sel.client_share is not None  # _select13 guarantees it; not peer input
    our_share, shared = sel.group.encapsulate(sel.client_share)
    random = cfg.provider.secure_random(32)
    sh = ServerHello(
        legacy_version=ProtocolVersion.TLSv1_2,
        random=random,
        legacy_session_id_echo=ch.legacy_session_id,
        cipher_suite=int(suite.suite),
        legacy_compression_method=0,
        extensions=ServerExtensions(
            supported_versions=int(ProtocolVersion.TLSv1_3),
            key_share=KeyShareEntry(int(sel.group.name), our_share),
        ),
    )
    tr.start_hash(suite.hash_name)
    tr.drop_buffer()
    tr.add(ch_raw)
    _send(cx, tr, sh)
    if ch.legacy_session_id and not sent_ccs:
        cx.send_ccs()
    cx.version = ProtocolVersion.TLSv1_3
    cx.suite = suite
    cx.kx_group = NamedGroup(sel.group.name)
    cx.alpn_protocol = sel.alpn
    cx.sni = sel.sni
    cx.deframer.set_tls13()
    hs = KeyScheduleEarly(suite, None, keylog=cfg.key_log, client_random=ch.random).into_handshake(
        shared
    )
    th = tr.current_hash()
    cx.set_tls13_encrypter(suite, hs.server_handshake_traffic_secret(th))
    cx.set_tls13_decrypter(suite, hs.client_handshake_traffic_secret(th))
    _send(
        cx,
        tr,
        EncryptedExtensions(
            extensions=ServerEncryptedExtensions(server_name=sel.sni is not None, alpn=sel.alpn)
        ),
    )
    verifier = cfg.client_verifier
    if verifier.offer_client_auth():
        hints = verifier.root_hint_subjects()
        _send(
            cx,
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
    leaf_ext = CertificateEntryExtensions(
        status_request=ck.ocsp if ch.extensions.status_request else None,
        signed_certificate_timestamp=(
            ck.sct_list if ch.extensions.signed_certificate_timestamp else None
        ),
    )
    entries = tuple(
        CertificateEntry(
            cert_data=der, extensions=leaf_ext if i == 0 else CertificateEntryExtensions()
        )
        for i, der in enumerate(ck.cert_chain)
    )
    _send(cx, tr, Certificate13(certificate_request_context=b"", certificate_list=entries))
    signature = sel.signer.sign(signed_content(SERVER_CV_CONTEXT, tr.current_hash()))
    _send(cx, tr, CertificateVerify(algorithm=int(sel.signer.scheme), signature=signature))
    _send(cx, tr, Finished(verify_data=hs.server_finished_verify_data(tr.current_hash())))
    traffic = hs.into_traffic(tr.current_hash())
    cx.set_tls13_encrypter(suite, traffic.server_application_traffic_secret_0)
    _log.debug(
        "server sent first flight: %s, %s, alpn=%r", suite.suite.name, cx.kx_group.name, sel.alpn
    )
    if verifier.offer_client_auth():
        return ExpectCertificate(config=cfg, suite=suite, transcript=tr, traffic=traffic)
    return ExpectFinished(config=cfg, suite=suite, transcript=tr, traffic=traffic, client_auth=None)


@dataclass(slots=True, kw_only=True)
class ExpectCertificate:
    """Waiting for the client's Certificate (we sent a CertificateRequest)."""

    config: ServerConfig
    suite: Tls13CipherSuite
    transcript: Transcript
    traffic: KeyScheduleTraffic

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
            )
        chain = tuple(e.cert_data for e in cert.certificate_list)
        return ExpectCertificateVerify(
            config=self.config,
            suite=self.suite,
            transcript=self.transcript,
            traffic=self.traffic,
            chain=chain,
        )


@dataclass(slots=True, kw_only=True)
class ExpectCertificateVerify:
    """Waiting for the client's CertificateVerify; verifies chain and signature."""

    config: ServerConfig
    suite: Tls13CipherSuite
    transcript: Transcript
    traffic: KeyScheduleTraffic
    chain: tuple[bytes, ...]

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
        )


@dataclass(slots=True, kw_only=True)
class ExpectFinished:
    """Waiting for the client's Finished."""

    config: ServerConfig
    suite: Tls13CipherSuite
    transcript: Transcript
    traffic: KeyScheduleTraffic
    client_auth: tuple[ClientCertVerified, HandshakeSignatureValid] | None

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
        tr.add(m.raw)
        t = self.traffic
        cx.set_tls13_decrypter(self.suite, t.client_application_traffic_secret_0)
        cx.traffic = TrafficSecrets(
            self.suite,
            read=t.client_application_traffic_secret_0,
            write=t.server_application_traffic_secret_0,
        )
        cx.exporter = Tls13Exporter(t)
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
