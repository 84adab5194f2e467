"""The fault table: induced fault → error on each side → alert on the wire.

Each row drives a fresh pair flight by flight and rewrites one flight in flight with
:meth:`Pair.transfer_altered` (protected records are decrypted and re-protected by the
wiretap, so a fault can sit inside an encrypted handshake message).  Then
:meth:`Pair.until_error` reports each side's error and the alerts each side put on the wire
(decrypted where needed).

Flights: 0 = ClientHello (c→s), 1 = server flight (s→c), 2 = client Finished (c→s),
3 = client application data after the handshake (c→s), 4 = server data (s→c).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

import tlspipe
from helpers import AlterResult, Pair, Rec, alert_name, flip_last_byte, make_pair
from tlspipe.enums import AlertDescription as AD
from tlspipe.enums import ContentType as CT
from tlspipe.enums import HandshakeType as HT
from tlspipe.msgs.handshake import EncryptedExtensions
from tlspipe.msgs.hello import ServerHello
from tlspipe.msgs.message import decode_handshake, encode_handshake


def _rewrite(typ: int, tls13: bool, change: Callable[[Any], Any]) -> Callable[[Rec], AlterResult]:
    """Decode the handshake message of ``typ``, apply ``change`` to its body, re-encode."""

    def fn(rec: Rec) -> AlterResult:
        if rec.handshake_type() != typ:
            return rec
        body = decode_handshake(rec.payload, tls13=tls13).body
        return dataclasses.replace(rec, payload=encode_handshake(change(body)))

    return fn


def _on(typ: int, change: Callable[[bytes], bytes]) -> Callable[[Rec], AlterResult]:
    def fn(rec: Rec) -> AlterResult:
        if rec.handshake_type() == typ:
            return dataclasses.replace(rec, payload=change(rec.payload))
        return rec

    return fn


def _first(fn: Callable[[Rec], AlterResult]) -> Callable[[Rec], AlterResult]:
    """Apply ``fn`` to the first record of the flight only."""
    done = [False]

    def g(rec: Rec) -> AlterResult:
        if done[0]:
            return rec
        done[0] = True
        return fn(rec)

    return g


def _raw(f: Callable[[bytes], bytes]) -> Callable[[Rec], AlterResult]:
    """Rewrite the wire bytes of the first record (header included)."""
    return _first(lambda rec: f(rec.raw()))


def _prepend(*extra: Rec | bytes) -> Callable[[Rec], AlterResult]:
    return _first(lambda rec: [*extra, rec])


def _append(*extra: Rec | bytes) -> Callable[[Rec], AlterResult]:
    return _first(lambda rec: [rec, *extra])


def _flip_ciphertext(rec: Rec) -> AlterResult:
    return None  # replaced in _flip_wire


def _cv_flip(payload: bytes) -> bytes:
    return flip_last_byte(payload)


def _bad_ee_alpn(body: EncryptedExtensions) -> EncryptedExtensions:
    return dataclasses.replace(
        body, extensions=dataclasses.replace(body.extensions, alpn=b"not-offered")
    )


def _sh(**kw: Any) -> Callable[[Rec], AlterResult]:
    def change(body: Any) -> Any:
        if not isinstance(body, ServerHello):
            return body
        ext = kw.pop("_ext", None)
        b = dataclasses.replace(body, **{k: v for k, v in kw.items()})
        if ext is not None:
            b = dataclasses.replace(b, extensions=ext(b.extensions))
        return b

    return _rewrite(HT.server_hello, False, change)


def _oversized(rec: Rec) -> AlterResult:
    return [Rec(CT.handshake, bytes((HT.client_hello,)) + (70000).to_bytes(3, "big") + b"\0")]


def _enc(typ: int, payload: bytes) -> Rec:
    return Rec(typ, payload, encrypted=True)


def _truncate_record(rec: Rec) -> AlterResult:
    raw = rec.raw()
    return raw[:5] + raw[5:-10]  # header still claims the full length


def _truncated_message(rec: Rec) -> AlterResult:
    body = rec.payload[4:-10]  # consistent lengths, but the body ends early
    return dataclasses.replace(rec, payload=rec.payload[:1] + len(body).to_bytes(3, "big") + body)


def _then_eof(fn: Callable[[Rec], AlterResult]) -> Callable[[Rec], AlterResult]:
    """Mark a fault as followed by EOF on the receiver's transport."""
    fn.eof = True  # type: ignore[attr-defined]
    return fn


GOOD = {"client": {"alpn_protocols": (b"h2",)}, "server": {"alpn_protocols": (b"h2",)}}

# name, flight, alter, client error, server error, client alert, server alert
FAULTS: list[tuple[str, int, Any, type | None, type | None, AD | None, AD | None]] = [
    (
        "server Finished flipped",
        1,
        _on(HT.finished, flip_last_byte),
        tlspipe.PeerMisbehaved,
        tlspipe.AlertReceived,
        AD.decrypt_error,
        None,
    ),
    (
        "CertificateVerify signature flipped",
        1,
        _on(HT.certificate_verify, _cv_flip),
        tlspipe.PeerMisbehaved,
        tlspipe.AlertReceived,
        AD.decrypt_error,
        None,
    ),
    (
        "client Finished flipped",
        2,
        _on(HT.finished, flip_last_byte),
        tlspipe.AlertReceived,
        tlspipe.PeerMisbehaved,
        None,
        AD.decrypt_error,
    ),
    (
        "ALPN not offered",
        1,
        _rewrite(HT.encrypted_extensions, True, _bad_ee_alpn),
        tlspipe.PeerMisbehaved,
        tlspipe.AlertReceived,
        AD.illegal_parameter,
        None,
    ),
    (
        "ServerHello unoffered suite",
        1,
        _sh(cipher_suite=0x1399),
        tlspipe.PeerMisbehaved,
        tlspipe.AlertReceived,
        AD.illegal_parameter,
        None,
    ),
    (
        "ServerHello bad session id echo",
        1,
        _sh(legacy_session_id_echo=b"x" * 32),
        tlspipe.PeerMisbehaved,
        tlspipe.AlertReceived,
        AD.illegal_parameter,
        None,
    ),
    (
        "ServerHello key share wrong group",
        1,
        _sh(
            _ext=lambda e: dataclasses.replace(
                e, key_share=dataclasses.replace(e.key_share, group=0x0017)
            )
        ),
        tlspipe.PeerMisbehaved,
        tlspipe.AlertReceived,
        AD.illegal_parameter,
        None,
    ),
    (
        "ServerHello bad key share point",
        1,
        _sh(
            _ext=lambda e: dataclasses.replace(
                e, key_share=dataclasses.replace(e.key_share, key_exchange=bytes(32))
            )
        ),
        tlspipe.PeerMisbehaved,
        tlspipe.AlertReceived,
        AD.illegal_parameter,
        None,
    ),
    (
        "ServerHello TLS 1.2 downgrade",
        1,
        _sh(_ext=lambda e: dataclasses.replace(e, supported_versions=None)),
        tlspipe.PeerMisbehaved,  # a TLS 1.2 ServerHello naming a TLS 1.3 suite
        tlspipe.AlertReceived,
        AD.illegal_parameter,
        None,
    ),
    (
        "truncated ClientHello record, then EOF",
        0,
        _then_eof(_truncate_record),
        None,
        tlspipe.UnexpectedEof,
        None,
        None,
    ),
    (
        "truncated ClientHello message",
        0,
        _truncated_message,
        tlspipe.AlertReceived,
        tlspipe.DecodeError,
        None,
        AD.decode_error,
    ),
    (
        "truncated encrypted record",
        3,
        _raw(lambda b: b[:3] + (len(b) - 6).to_bytes(2, "big") + b[5:-1]),
        tlspipe.AlertReceived,
        tlspipe.DecryptError,
        None,
        AD.bad_record_mac,
    ),
    (
        "ciphertext bit flipped",
        4,
        _raw(lambda b: b[:-1] + bytes((b[-1] ^ 0x80,))),
        tlspipe.DecryptError,
        tlspipe.AlertReceived,
        AD.bad_record_mac,
        None,
    ),
    (
        "bad record version",
        0,
        _raw(lambda b: b[:1] + b"\x02\x03" + b[3:]),
        tlspipe.AlertReceived,
        tlspipe.DecodeError,
        None,
        AD.decode_error,
    ),
    (
        "unknown content type",
        0,
        _prepend(b"\x63\x03\x03\x00\x01\x00"),
        tlspipe.AlertReceived,
        tlspipe.DecodeError,
        None,
        AD.unexpected_message,
    ),
    (
        "application data before handshake",
        0,
        _prepend(Rec(CT.application_data, b"early")),
        tlspipe.AlertReceived,
        tlspipe.InappropriateMessage,
        None,
        AD.unexpected_message,
    ),
    (
        "second ClientHello",
        0,
        lambda rec: [rec, rec],
        tlspipe.AlertReceived,
        tlspipe.Error,
        None,
        AD.unexpected_message,
    ),
    (
        "oversized handshake message",
        0,
        _oversized,
        tlspipe.AlertReceived,
        tlspipe.DecodeError,
        None,
        AD.illegal_parameter,
    ),
    (
        "too many empty records",
        3,
        _prepend(*[_enc(CT.application_data, b"") for _ in range(40)]),
        tlspipe.AlertReceived,
        tlspipe.PeerMisbehaved,
        None,
        AD.unexpected_message,
    ),
    (
        "empty handshake record",
        3,
        _prepend(_enc(CT.handshake, b"")),
        tlspipe.AlertReceived,
        tlspipe.DecodeError,
        None,
        AD.unexpected_message,
    ),
    (
        "warning alert in TLS 1.3",
        4,
        _prepend(_enc(CT.alert, b"\x01\x70")),
        tlspipe.AlertReceived,
        None,
        None,
        None,
    ),
    (
        "fatal alert (forged, so not on the client's list)",
        3,
        _prepend(_enc(CT.alert, b"\x02\x28")),
        None,
        tlspipe.AlertReceived,
        None,
        None,
    ),
    (
        "malformed alert",
        3,
        _prepend(_enc(CT.alert, b"\x02\x28\x00")),
        tlspipe.AlertReceived,
        tlspipe.DecodeError,
        None,
        AD.decode_error,
    ),
    (
        "ChangeCipherSpec after handshake",
        3,
        _prepend(Rec(CT.change_cipher_spec, b"\x01")),
        tlspipe.AlertReceived,
        tlspipe.InappropriateMessage,
        None,
        AD.unexpected_message,
    ),
    (
        "bad ChangeCipherSpec payload",
        1,
        _append(Rec(CT.change_cipher_spec, b"\x02")),
        tlspipe.DecodeError,
        tlspipe.AlertReceived,
        AD.unexpected_message,
        None,
    ),
    (
        "plaintext handshake after keys",
        2,
        _prepend(Rec(CT.handshake, b"\x14\x00\x00\x00")),
        tlspipe.AlertReceived,
        tlspipe.PeerMisbehaved,
        None,
        AD.unexpected_message,
    ),
    (
        "KeyUpdate bad request value",
        3,
        _prepend(_enc(CT.handshake, b"\x18\x00\x00\x01\x05")),
        tlspipe.AlertReceived,
        tlspipe.DecodeError,
        None,
        AD.illegal_parameter,
    ),
    (
        "NewSessionTicket to the server",
        3,
        _prepend(_enc(CT.handshake, b"\x04\x00\x00\x0e" + bytes(9) + b"\x00\x01\x41\x00\x00")),
        tlspipe.AlertReceived,
        tlspipe.InappropriateMessage,
        None,
        AD.unexpected_message,
    ),
    (
        "unknown handshake type",
        4,
        _prepend(_enc(CT.handshake, b"\x63\x00\x00\x00")),
        tlspipe.DecodeError,
        tlspipe.AlertReceived,
        AD.unexpected_message,
        None,
    ),
    (
        "handshake message spanning key change",
        1,
        _first(lambda rec: [Rec(rec.typ, rec.payload + b"\x08\x00")]),
        tlspipe.PeerMisbehaved,
        tlspipe.AlertReceived,
        AD.unexpected_message,
        None,
    ),
    (
        "malformed ServerHello after handshake",
        4,
        _prepend(_enc(CT.handshake, b"\x02\x00\x00\x00")),
        tlspipe.DecodeError,
        tlspipe.AlertReceived,
        AD.decode_error,
        None,
    ),
    (
        "Certificate after handshake",
        4,
        _prepend(_enc(CT.handshake, b"\x0b\x00\x00\x04\x00\x00\x00\x00")),
        tlspipe.InappropriateMessage,
        tlspipe.AlertReceived,
        AD.unexpected_message,
        None,
    ),
]


def _drive(p: Pair, flight: int, fn: Callable[[Rec], AlterResult]) -> None:
    c, s = p.client, p.server
    if flight >= 3:
        p.handshake()
        c.write(b"client data")
        s.write(b"server data")
        if flight == 4:
            p.flow(c, s)
    steps = [(c, s), (s, c), (c, s), (c, s), (s, c)]
    for i, (src, dst) in enumerate(steps[: flight + 1]):
        if i < flight and flight < 3:
            p.flow(src, dst)
        elif i == flight:
            p.transfer_altered(src, dst, fn)
            if getattr(fn, "eof", False):
                dst.read_tls(b"")


@pytest.mark.parametrize(
    ("name", "flight", "fn", "cerr", "serr", "calert", "salert"), FAULTS, ids=[f[0] for f in FAULTS]
)
def test_fault(pki, name, flight, fn, cerr, serr, calert, salert):
    p = make_pair(pki, **GOOD)
    _drive(p, flight, fn)
    out = p.until_error()
    for side, err, want in (("client", out.client_error, cerr), ("server", out.server_error, serr)):
        if want is None:
            assert err is None, f"{side}: unexpected {err!r}"
        else:
            assert isinstance(err, want), f"{side}: {err!r} is not {want.__name__}"
    # the failing side's alert on the wire, and the peer's AlertReceived description
    for alerts, want, peer_err in (
        (out.client_alerts, calert, out.server_error),
        (out.server_alerts, salert, out.client_error),
    ):
        fatal = [d for lvl, d in alerts if lvl == 2]
        if want is None:
            assert not fatal, [alert_name(d) for d in fatal]
        else:
            assert fatal == [want], [alert_name(d) for d in fatal]
            if isinstance(peer_err, tlspipe.AlertReceived):
                assert peer_err.description == want
    # both sides stay failed: every later call repeats the same error
    for conn, err in ((p.client, out.client_error), (p.server, out.server_error)):
        if err is not None:
            with pytest.raises(type(err)) as again:
                conn.process_new_packets()
            assert again.value is err
            assert conn.write_tls() == b""
            with pytest.raises(type(err)):
                conn.write(b"x")


# -- client authentication faults (RFC 8446 §4.4.2.4, §4.4.3) --------------------------------
def _auth_pair(pki, *, with_cert: bool) -> Pair:
    ident = pki.client("ecdsa-p256")
    roots = tlspipe.RootCertStore.from_pem_file(ident.ca_pem)
    from helpers import client_config, server_config

    cc = client_config(pki)
    if with_cert:
        cc = cc.with_client_auth_cert(ident.chain_pem.read_bytes(), ident.key_pem.read_bytes())
    sc = server_config(pki, client_verifier=tlspipe.AllowAnyAuthenticatedClient(roots))
    return Pair(cc, sc)


def test_client_auth_required_but_no_certificate(pki):
    p = _auth_pair(pki, with_cert=False)
    out = p.until_error()
    assert isinstance(out.server_error, tlspipe.Error)
    assert out.server_alert == AD.certificate_required
    assert isinstance(out.client_error, tlspipe.AlertReceived)
    assert out.client_error.description == AD.certificate_required


@pytest.mark.parametrize("typ", [HT.certificate_verify, HT.finished])
def test_client_auth_flipped_client_signature_or_finished(pki, typ):
    p = _auth_pair(pki, with_cert=True)
    p.flow(p.client, p.server)
    p.flow(p.server, p.client)
    p.transfer_altered(p.client, p.server, _on(typ, flip_last_byte))
    out = p.until_error()
    assert isinstance(out.server_error, tlspipe.PeerMisbehaved)
    assert out.server_alert == AD.decrypt_error
    assert isinstance(out.client_error, tlspipe.AlertReceived)


def test_client_auth_works(pki):
    p = _auth_pair(pki, with_cert=True)
    p.handshake()
    assert p.server.peer_certificates == tuple(pki.client("ecdsa-p256").chain_der)
    assert p.send(p.client, b"authenticated") == b"authenticated"
