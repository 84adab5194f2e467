"""Server TLS 1.2 handshake, in protocol order (RFC 5246 §7.3, RFC 8422, RFC 7627, RFC 5077,
RFC 5746).

:func:`handle_client_hello` negotiates from a ClientHello that selected TLS 1.2 and either

* resumes (a ticket that opens, or a cached session ID; RFC 5077 §3.1, RFC 5246 §7.3):
  sends ServerHello, [NewSessionTicket], ChangeCipherSpec, Finished → ExpectCcs →
  ExpectFinished → ExpectTraffic; or
* runs a full handshake: ServerHello, Certificate, [CertificateStatus], ServerKeyExchange,
  [CertificateRequest], ServerHelloDone → [ExpectCertificate] → ExpectClientKx →
  [ExpectCertificateVerify] → ExpectCcs → ExpectFinished (then sends [NewSessionTicket],
  ChangeCipherSpec, Finished) → ExpectTraffic.  Client authentication follows the
  config's ``client_verifier`` (RFC 5246 §7.4.4, §7.4.6, §7.4.8): an empty client
  Certificate when it is mandatory is refused with handshake_failure.

Only ECDHE key exchange with AEAD suites exists here: a client offering only RSA key
transport, CBC or non-PFS suites gets handshake_failure.  Sessions are stored (session ID)
or sealed (ticket) only when they used the extended master secret, and a session is only
resumed by a client that offers EMS again (RFC 7627 §5.3).  Renegotiation is refused with
a no_renegotiation warning (RFC 5746 §4.4).

Imports layers 1–5 and :mod:`tlspipe.server.hs`; never :mod:`tlspipe.client`.
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
from ..crypto.provider import ActiveKeyExchange, KxGroup, Signer, Tls12CipherSuite
from ..crypto.sign import CertifiedKey
from ..enums import (
    AlertDescription,
    AlertLevel,
    CipherSuite,
    ECPointFormat,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
)
from ..errors import DecodeError, InternalError, PeerIncompatible, PeerMisbehaved
from ..keys.transcript import Transcript
from ..msgs.extensions import ServerExtensions
from ..msgs.handshake import (
    Certificate12,
    CertificateRequest12,
    CertificateStatus,
    CertificateVerify,
    ClientKeyExchangeEcdhe,
    Finished,
    NewSessionTicket12,
    ServerHelloDone,
    encode_finished,
)
from ..msgs.hello import DOWNGRADE_TLS12, ClientHello, encode_server_hello
from ..msgs.message import HandshakePayload, encode_handshake
from ..msgs.persist import Tls12ServerSessionValue
from ..tls12common import (
    MAX_RENEGOTIATION_REFUSALS,
    ConnectionSecrets,
    Tls12Exporter,
    key_fits_suite,
    scheme_fits_suite,
)
from ..verify.base import ClientCertVerified, HandshakeSignatureValid
from .config import ServerConfig
from .hs import _sni
from .stores import TLS12_KEY_PREFIX, ClientHelloInfo

__all__ = [
    "ExpectCcs",
    "ExpectCertificate",
    "ExpectCertificateVerify",
    "ExpectClientKx",
    "ExpectFinished",
    "ExpectTraffic",
    "handle_client_hello",
]

_log = logging.getLogger("tlspipe.server")

#: How long a cached (session-ID) session may be resumed, in seconds.
SESSION_ID_LIFETIME = 24 * 3600
#: Tolerance for session timestamps from the future (clock steps), in seconds.
_CLOCK_SKEW = 60
_SECP256R1 = NamedGroup.secp256r1
_SERVER_HELLO_DONE = encode_handshake(ServerHelloDone())


class Negotiated(NamedTuple):
    """What the server settled in its ServerHello.

    A NamedTuple: as immutable as a frozen dataclass, built without a ``__setattr__``
    call per field.
    """

    suite: Tls12CipherSuite
    client_random: bytes
    server_random: bytes
    session_id: bytes
    extended_ms: bool
    send_ticket: bool
    sni: str | None


def _now(cfg: ServerConfig) -> int:
    return int(cfg.time().timestamp())


def _send(cx: CommonState, tr: Transcript, body: HandshakePayload) -> None:
    raw = encode_handshake(body)
    tr.add(raw)
    cx.send_handshake(raw)


def _send_raw(cx: CommonState, tr: Transcript, raw: bytes) -> None:
    tr.add(raw)
    cx.send_handshake(raw)


def _choose_group(cfg: ServerConfig, ch: ClientHello) -> KxGroup:
    offered = ch.extensions.supported_groups
    for g in cfg.groups_:
        if not g.usable_in_tls12:
            continue
        # RFC 8422 §4: without supported_groups the server may pick; P-256 is universal.
        if (offered is None and g.name == _SECP256R1) or (
            offered is not None and g.name in offered
        ):
            return g
    raise PeerIncompatible("no ECDHE group in common for TLS 1.2")


def _choose_alpn(cfg: ServerConfig, ch: ClientHello) -> bytes | None:
    offered = ch.extensions.alpn
    if not cfg.alpn_protocols or offered is None:
        return None
    alpn = next((p for p in cfg.alpn_protocols if p in offered), None)
    if alpn is None:
        raise PeerIncompatible(
            "no ALPN protocol in common", AlertDescription.no_application_protocol
        )
    return alpn


class _Resumable(NamedTuple):
    """A session to resume: its value, its encoding (what a re-issued ticket seals again)
    and the offered suite it used."""

    value: Tls12ServerSessionValue
    plain: bytes  # holds the master secret: kept out of the repr below
    suite: Tls12CipherSuite

    def __repr__(self) -> str:
        plain = f"<{len(self.plain)} octets>"
        return f"_Resumable(value={self.value!r}, plain={plain}, suite={self.suite!r})"


def _find_session(
    cfg: ServerConfig,
    ch: ClientHello,
    offered_suites: list[Tls12CipherSuite],
    sni: str | None,
    using_ems: bool,
) -> _Resumable | None:
    """The session the client asks to resume, if it is ours, fresh and compatible."""
    ticket = ch.extensions.session_ticket
    ticketer = cfg.ticketer
    raw: bytes | None = None
    lifetime = SESSION_ID_LIFETIME
    if ticket and ticketer is not None and ticketer.enabled():
        # RFC 5077 §3.4: with a ticket, the session ID only signals acceptance
        raw = ticketer.decrypt(ticket)
        lifetime = ticketer.lifetime()
        if raw is None:
            _log.debug("session ticket did not open; full handshake")
    elif ch.legacy_session_id:
        raw = cfg.session_storage.get(TLS12_KEY_PREFIX + ch.legacy_session_id)
    if raw is None:
        return None
    try:
        value = Tls12ServerSessionValue.decode(raw)
    except DecodeError:
        _log.debug("stored session does not decode; full handshake")
        return None
    now = _now(cfg)
    if not value.created_at - _CLOCK_SKEW <= now < value.created_at + lifetime:
        return None
    if value.sni != sni:
        return None
    for suite in offered_suites:  # a loop, not any(genexpr): no generator per handshake
        if suite.suite == value.suite:
            break
    else:
        return None
    if value.extended_ms and not using_ems:
        # RFC 7627 §5.3: abort rather than resume without EMS.
        raise PeerMisbehaved(
            "client resumes an extended-master-secret session without EMS",
            AlertDescription.handshake_failure,
        )
    if not value.extended_ms:
        return None
    if cfg.client_verifier.client_auth_mandatory() and not value.client_cert_chain:
        return None  # the session predates a client certificate requirement
    return _Resumable(value, raw, suite)


def _server_random(cfg: ServerConfig) -> bytes:
    rnd = cfg.provider.secure_random(32)
    if ProtocolVersion.TLSv1_3 in cfg.versions:
        # RFC 8446 §4.1.3: a TLS 1.3 server negotiating TLS 1.2 says so in its random.
        rnd = rnd[:24] + DOWNGRADE_TLS12
    return rnd


def handle_client_hello(cx: CommonState, cfg: ServerConfig, ch: ClientHello, raw: bytes) -> State:
    """Negotiate TLS 1.2 from ``ch`` (version and null compression already checked) and
    send the server's first flight.

    Raises:
        PeerIncompatible: no ECDHE+AEAD suite, group, signature scheme, certificate or ALPN
            protocol in common (handshake_failure / no_application_protocol /
            unrecognized_name); ``require_ems`` and the client lacks EMS (handshake_failure).
        PeerMisbehaved: a non-empty renegotiation_info (handshake_failure, RFC 5746 §3.6),
            no uncompressed EC point format (illegal_parameter, RFC 8422 §5.1.2), an EMS
            session resumed without EMS (handshake_failure, RFC 7627 §5.3).
    """
    ext = ch.extensions
    if ext.renegotiation_info not in (None, b""):
        raise PeerMisbehaved(
            "non-empty renegotiation_info in an initial handshake",
            AlertDescription.handshake_failure,
        )
    secure_reneg = (
        ext.renegotiation_info is not None
        or CipherSuite.TLS_EMPTY_RENEGOTIATION_INFO_SCSV in ch.cipher_suites
    )
    using_ems = ext.extended_master_secret
    if cfg.require_ems and not using_ems:
        raise PeerIncompatible("client does not support the extended master secret (RFC 7627)")
    if ext.ec_point_formats is not None and ECPointFormat.uncompressed not in ext.ec_point_formats:
        raise PeerMisbehaved("client does not support uncompressed EC points")
    offered = set(ch.cipher_suites)
    candidates = [s for s in cfg.suites_ if isinstance(s, Tls12CipherSuite) and s.suite in offered]
    if not candidates:
        raise PeerIncompatible(
            "no cipher suite in common (TLS 1.2 needs ECDHE with AES-GCM or ChaCha20-Poly1305)"
        )
    sni = _sni(ch)
    alpn = _choose_alpn(cfg, ch)
    tr = Transcript()
    found = _find_session(cfg, ch, candidates, sni, using_ems)
    ticketer = cfg.ticketer
    send_ticket = ext.session_ticket is not None and ticketer is not None and ticketer.enabled()
    cx.version = ProtocolVersion.TLSv1_2
    cx.sni = sni
    cx.alpn_protocol = alpn
    if found is not None:
        neg = Negotiated(
            suite=found.suite,
            client_random=ch.random,
            server_random=_server_random(cfg),
            session_id=ch.legacy_session_id,
            extended_ms=True,
            send_ticket=send_ticket,
            sni=sni,
        )
        return _resume(cx, cfg, ch, raw, tr, neg, found, secure_reneg)

    group = _choose_group(cfg, ch)
    sigalgs = ext.signature_algorithms or ()
    ck = cfg.resolver_.resolve(ClientHelloInfo(sni, sigalgs, ext.alpn, ch.cipher_suites))
    if ck is None:
        raise PeerIncompatible(
            f"no certificate for server name {sni!r}",
            AlertDescription.unrecognized_name if sni else AlertDescription.handshake_failure,
        )
    suite, signer = _choose_suite_and_signer(candidates, ck, sigalgs)
    session_id = cfg.provider.secure_random(32) if cfg.session_storage.can_cache() else b""
    neg = Negotiated(
        suite=suite,
        client_random=ch.random,
        server_random=_server_random(cfg),
        session_id=session_id,
        extended_ms=using_ems,
        send_ticket=send_ticket,
        sni=sni,
    )
    cx.suite = suite
    cx.kx_group = NamedGroup(group.name)
    verifier = cfg.client_verifier
    client_auth = verifier.offer_client_auth()
    tr.start_hash(suite.hash_name)
    if not client_auth:
        tr.drop_buffer()  # else kept: the client's CertificateVerify signs the messages
    tr.add(raw)
    # OCSP stapling (RFC 6066 §8) and SCTs (RFC 6962 §3.3.1) when asked for and configured
    ocsp = ck.ocsp if ext.status_request and ck.ocsp else None
    sct = ck.sct_list if ext.signed_certificate_timestamp and ck.sct_list else None
    sh_ext = _sh_extensions(
        secure_reneg,
        using_ems,
        send_ticket,
        ext.ec_point_formats is not None,
        alpn,
        sni is not None,
        ocsp is not None,
        sct,
    )
    # The whole flight is plaintext: its messages are coalesced into as few records as fit
    # (RFC 5246 §6.2.1) instead of one record per message, and go into the transcript as
    # one piece (nothing reads the transcript in between).
    flight = [
        encode_server_hello(neg.server_random, neg.session_id, int(suite.suite), sh_ext),
        _certificate_message(ck.cert_chain),
    ]
    if ocsp is not None:
        flight.append(encode_handshake(CertificateStatus(status_type=1, ocsp_response=ocsp)))
    kx = group.start()
    # ServerECDHParams (RFC 8422 §5.4): named_curve (3), the group, the public point.
    params = b"\x03" + int(group.name).to_bytes(2, "big") + bytes((len(kx.public),)) + kx.public
    signature = signer.sign(ch.random + neg.server_random + params)
    flight.append(_server_key_exchange(params, int(signer.scheme), signature))
    if client_auth:
        req = CertificateRequest12(
            certificate_types=bytes((1, 64)),  # rsa_sign, ecdsa_sign (RFC 5246, RFC 8422)
            supported_signature_algorithms=tuple(
                int(x) for x in verifier.supported_verify_schemes()
            ),
            certificate_authorities=verifier.root_hint_subjects(),
        )
        flight.append(encode_handshake(req))
    flight.append(_SERVER_HELLO_DONE)
    raw_flight = b"".join(flight)
    tr.add(raw_flight)
    cx.send_handshake(raw_flight)
    if _log.isEnabledFor(logging.DEBUG):  # the arguments cost more than the call
        _log.debug("server sent TLS 1.2 first flight: %s, %s", suite.suite.name, group.name.name)
    if client_auth:
        return ExpectCertificate(config=cfg, neg=neg, transcript=tr, kx=kx)
    return ExpectClientKx(config=cfg, neg=neg, transcript=tr, kx=kx, client_chain=())


def _choose_suite_and_signer(
    candidates: list[Tls12CipherSuite], ck: CertifiedKey, sigalgs: tuple[int, ...]
) -> tuple[Tls12CipherSuite, Signer]:
    signer = ck.key.choose_scheme(sigalgs, tls13=False)
    for suite in candidates:
        if key_fits_suite(ck.key.algorithm, suite):
            if signer is None or not scheme_fits_suite(signer.scheme, suite):
                raise PeerIncompatible("no signature scheme in common with the client")
            return suite, signer
    raise PeerIncompatible("no cipher suite in common for our certificate's key type")


# The ServerHello's extensions as they vary (renegotiation_info, EMS, session_ticket,
# ec_point_formats, ALPN, SNI ack, status_request ack, stapled SCT list) → the encoded
# extensions vector: a handful per server, public data, built once (bounded).
_SH_EXTS: dict[tuple[bool, bool, bool, bool, bytes | None, bool, bool, bytes | None], bytes] = {}
# chain → the encoded Certificate message (public data; bounded).
_CERT_MSGS: dict[tuple[bytes, ...], bytes] = {}
_CACHE_MAX = 64


def _sh_extensions(
    reneg: bool,
    ems: bool,
    ticket: bool,
    points: bool,
    alpn: bytes | None,
    sni: bool,
    status: bool,
    sct: bytes | None,
) -> bytes:
    key = (reneg, ems, ticket, points, alpn, sni, status, sct)
    raw = _SH_EXTS.get(key)
    if raw is None:
        out = bytearray()
        ServerExtensions(
            renegotiation_info=b"" if reneg else None,
            extended_master_secret=ems,
            session_ticket=ticket,
            ec_point_formats=b"\x00" if points else None,
            alpn=alpn,
            server_name=sni,
            status_request=status,
            signed_certificate_timestamp=sct,
        ).encode(out)
        raw = bytes(out)
        if len(_SH_EXTS) >= _CACHE_MAX:
            _SH_EXTS.clear()
        _SH_EXTS[key] = raw
    return raw


def _certificate_message(chain: tuple[bytes, ...]) -> bytes:
    raw = _CERT_MSGS.get(chain)
    if raw is None:
        raw = encode_handshake(Certificate12(certificate_list=chain))
        if len(_CERT_MSGS) >= _CACHE_MAX:
            _CERT_MSGS.clear()
        _CERT_MSGS[chain] = raw
    return raw


def _server_key_exchange(params: bytes, scheme: int, signature: bytes) -> bytes:
    """The encoded ServerKeyExchange: ``params`` (ServerECDHParams) and the signature, as
    ``encode_handshake(ServerKeyExchangeEcdhe(...))`` writes it."""
    n = len(params) + 4 + len(signature)
    if len(signature) > 0xFFFF:
        raise InternalError("ServerKeyExchange signature too long")
    return b"".join(
        (
            (0x0C000000 | n).to_bytes(4, "big"),
            params,
            scheme.to_bytes(2, "big"),
            len(signature).to_bytes(2, "big"),
            signature,
        )
    )


def _resume(
    cx: CommonState,
    cfg: ServerConfig,
    ch: ClientHello,
    raw: bytes,
    tr: Transcript,
    neg: Negotiated,
    found: _Resumable,
    secure_reneg: bool,
) -> State:
    session = found.value
    suite = neg.suite
    cx.suite = suite
    cx.resumed = True
    cx.peer_certificates = session.client_cert_chain or None
    tr.start_hash(suite.hash_name)
    tr.drop_buffer()
    tr.add(raw)
    sh_ext = _sh_extensions(
        secure_reneg, True, neg.send_ticket, False, cx.alpn_protocol, False, False, None
    )
    raw_sh = encode_server_hello(neg.server_random, neg.session_id, int(suite.suite), sh_ext)
    secrets = ConnectionSecrets(
        suite, session.master_secret, neg.client_random, neg.server_random, True
    )
    secrets.log(cfg.key_log)
    if neg.send_ticket:  # re-issued (RFC 5077 §3.1): the session's own encoding, resealed
        raw_sh += _ticket_message(cfg, found.plain)
    tr.add(raw_sh)
    cx.send_handshake(raw_sh)  # ServerHello [+ NewSessionTicket]: one plaintext record
    cx.send_ccs()
    secrets.install_encrypter(cx, client=False)
    _send_raw(cx, tr, encode_finished(secrets.verify_data(False, tr.current_hash())))
    if _log.isEnabledFor(logging.DEBUG):  # the argument costs more than the call
        _log.debug("server resuming TLS 1.2 session (%s)", suite.suite.name)
    return ExpectCcs(
        config=cfg, neg=neg, transcript=tr, secrets=secrets, resuming=True,
        client_chain=session.client_cert_chain,
    )  # fmt: skip


def _ticket_message(cfg: ServerConfig, plain: bytes) -> bytes:
    """The encoded NewSessionTicket sealing ``plain``, an encoded session value (b""
    without a ticketer)."""
    ticketer = cfg.ticketer
    if ticketer is None:
        return b""
    ticket = ticketer.encrypt(plain) or b""
    # An empty ticket says "no ticket this time" (RFC 5077 §3.3).
    return _new_session_ticket(ticketer.lifetime(), ticket)


def _new_session_ticket(hint: int, ticket: bytes) -> bytes:
    """``encode_handshake(NewSessionTicket12(hint, ticket))`` built as bytes (same
    OverflowError for a ticket of 2^16 octets or more)."""
    n = len(ticket).to_bytes(2, "big")
    return b"".join(
        ((0x04000006 + len(ticket)).to_bytes(4, "big"), hint.to_bytes(4, "big"), n, ticket)
    )


def _send_ticket(
    cx: CommonState, cfg: ServerConfig, tr: Transcript, session: Tls12ServerSessionValue
) -> None:
    raw = _ticket_message(cfg, session.encode())
    if raw:
        tr.add(raw)
        cx.send_handshake(raw)


@dataclass(slots=True, kw_only=True)
class ExpectCertificate:
    """Waiting for the client's Certificate (we sent a CertificateRequest)."""

    config: ServerConfig
    neg: Negotiated
    transcript: Transcript
    kx: ActiveKeyExchange

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Take the client's chain (verified with its CertificateVerify).

        Raises:
            PeerMisbehaved: no certificate while client auth is mandatory (handshake_failure,
                RFC 5246 §7.4.6).
        """
        m = expect_handshake(msg, "Certificate")
        cert = m.expect(Certificate12)
        self.transcript.add(m.raw)
        chain = cert.certificate_list
        if not chain:
            if self.config.client_verifier.client_auth_mandatory():
                raise PeerMisbehaved(
                    "client did not send a certificate", AlertDescription.handshake_failure
                )
            self.transcript.drop_buffer()
            _log.debug("client sent no certificate (client auth optional)")
        return ExpectClientKx(
            config=self.config, neg=self.neg, transcript=self.transcript, kx=self.kx,
            client_chain=chain,
        )  # fmt: skip


@dataclass(slots=True, kw_only=True)
class ExpectClientKx:
    """Waiting for ClientKeyExchange."""

    config: ServerConfig
    neg: Negotiated
    transcript: Transcript
    kx: ActiveKeyExchange
    client_chain: tuple[bytes, ...]

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Complete ECDHE and derive the master secret (extended when negotiated).

        Raises:
            PeerMisbehaved: an invalid ECDHE share (illegal_parameter).
        """
        m = expect_handshake(msg, "ClientKeyExchange")
        cke = m.expect(ClientKeyExchangeEcdhe)
        pms = self.kx.complete(cke.public)
        tr = self.transcript
        tr.add(m.raw)
        neg = self.neg
        secrets = ConnectionSecrets.from_key_exchange(
            neg.suite,
            pms,
            neg.client_random,
            neg.server_random,
            tr.current_hash() if neg.extended_ms else None,
        )
        secrets.log(self.config.key_log)
        if self.client_chain:
            return ExpectCertificateVerify(
                config=self.config, neg=neg, transcript=tr, secrets=secrets,
                chain=self.client_chain,
            )  # fmt: skip
        return ExpectCcs(
            config=self.config, neg=neg, transcript=tr, secrets=secrets, resuming=False,
            client_chain=(),
        )  # fmt: skip


@dataclass(slots=True, kw_only=True)
class ExpectCertificateVerify:
    """Waiting for the client's CertificateVerify; verifies its chain and signature."""

    config: ServerConfig
    neg: Negotiated
    transcript: Transcript
    secrets: ConnectionSecrets
    chain: tuple[bytes, ...]

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Verify the client's chain and its signature over the handshake messages
        (RFC 5246 §7.4.8).

        Raises:
            InvalidCertificate: the chain does not verify (alert by reason).
            PeerMisbehaved: a bad signature (decrypt_error) or scheme (illegal_parameter).
        """
        m = expect_handshake(msg, "CertificateVerify")
        cv = m.expect(CertificateVerify)
        verifier = self.config.client_verifier
        tr = self.transcript
        cert_ok: ClientCertVerified = verifier.verify_client_cert(
            self.chain[0], self.chain[1:], self.config.time()
        )
        sig_ok: HandshakeSignatureValid = verifier.verify_tls12_signature(
            tr.buffer(), self.chain[0], cv.algorithm, cv.signature
        )
        tr.drop_buffer()
        tr.add(m.raw)
        cx.peer_certificates = self.chain
        _log.debug("client certificate verified (%s, %s)", cert_ok, sig_ok)
        return ExpectCcs(
            config=self.config, neg=self.neg, transcript=tr, secrets=self.secrets,
            resuming=False, client_chain=self.chain,
        )  # fmt: skip


@dataclass(slots=True, kw_only=True)
class ExpectCcs:
    """Waiting for the client's ChangeCipherSpec."""

    config: ServerConfig
    neg: Negotiated
    transcript: Transcript
    secrets: ConnectionSecrets
    resuming: bool
    client_chain: tuple[bytes, ...]

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Switch reads to the client's keys.

        Raises:
            InappropriateMessage: anything but ChangeCipherSpec (unexpected_message).
            PeerMisbehaved: a handshake message spans the ChangeCipherSpec.
        """
        if not isinstance(msg, ChangeCipherSpecMsg):
            raise unexpected(msg, "ChangeCipherSpec")
        self.secrets.install_decrypter(cx, client=True)
        return ExpectFinished(
            config=self.config, neg=self.neg, transcript=self.transcript,
            secrets=self.secrets, resuming=self.resuming, client_chain=self.client_chain,
        )  # fmt: skip


@dataclass(slots=True, kw_only=True)
class ExpectFinished:
    """Waiting for the client's Finished."""

    config: ServerConfig
    neg: Negotiated
    transcript: Transcript
    secrets: ConnectionSecrets
    resuming: bool
    client_chain: tuple[bytes, ...]

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Check the client's Finished; after a full handshake store the session and send
        [NewSessionTicket], ChangeCipherSpec, Finished.

        Raises:
            PeerMisbehaved: the Finished value is wrong (decrypt_error).
        """
        m = expect_handshake(msg, "Finished")
        fin = m.expect(Finished)
        tr = self.transcript
        secrets = self.secrets
        secrets.check_finished(True, tr.current_hash(), fin.verify_data)
        cfg = self.config
        neg = self.neg
        if not self.resuming:  # our Finished follows (after a resumption: nothing)
            tr.add(m.raw)
            value = Tls12ServerSessionValue(
                suite=int(neg.suite.suite),
                master_secret=secrets.master_secret,
                extended_ms=neg.extended_ms,
                sni=neg.sni,
                alpn=cx.alpn_protocol,
                client_cert_chain=self.client_chain,
                created_at=_now(cfg),
            )
            if neg.extended_ms and neg.session_id:
                cfg.session_storage.put(TLS12_KEY_PREFIX + neg.session_id, value.encode())
            if neg.send_ticket:
                if neg.extended_ms:
                    _send_ticket(cx, cfg, tr, value)
                else:
                    _send(cx, tr, NewSessionTicket12(ticket_lifetime_hint=0, ticket=b""))
            cx.send_ccs()
            secrets.install_encrypter(cx, client=False)
            # the last handshake message: not added to the transcript
            cx.send_handshake(encode_finished(secrets.verify_data(False, tr.current_hash())))
        cx.exporter = Tls12Exporter(secrets)
        cx.start_traffic()
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("server TLS 1.2 handshake complete (resumed=%s)", self.resuming)
        return ExpectTraffic(suite=neg.suite, refusals=0)


@dataclass(slots=True, kw_only=True)
class ExpectTraffic:
    """The TLS 1.2 handshake is done; renegotiation is refused (RFC 5746 §4.4)."""

    suite: Tls12CipherSuite
    refusals: int

    def handle(self, cx: CommonState, msg: Message) -> State:
        """Answer a ClientHello with a no_renegotiation warning; nothing else may arrive.

        Raises:
            InappropriateMessage: any other message (unexpected_message).
            PeerMisbehaved: too many renegotiation attempts.
        """
        m = expect_handshake(msg, "application data")
        if m.typ != HandshakeType.client_hello:
            raise unexpected(m, "application data")
        if self.refusals >= MAX_RENEGOTIATION_REFUSALS:
            raise PeerMisbehaved(
                "too many renegotiation attempts", AlertDescription.unexpected_message
            )
        _log.debug("server refusing renegotiation")
        cx.send_alert(AlertLevel.warning, AlertDescription.no_renegotiation)
        return ExpectTraffic(suite=self.suite, refusals=self.refusals + 1)
