"""Golden bytes: RFC 8448's handshake messages decode and re-encode byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tlspipe.enums import CipherSuite, HandshakeType, NamedGroup, SignatureScheme
from tlspipe.errors import InappropriateMessage, InternalError
from tlspipe.msgs.handshake import (
    Certificate13,
    CertificateVerify,
    EncryptedExtensions,
    EndOfEarlyData,
    Finished,
    NewSessionTicket13,
)
from tlspipe.msgs.hello import HRR_RANDOM, ClientHello, HelloRetryRequest, ServerHello
from tlspipe.msgs.message import decode_handshake, encode_handshake

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "rfc8448.json"
if not VECTORS.exists():  # pragma: no cover - layout fallback
    VECTORS = Path("/work/shared/vectors/rfc8448.json")

SECTIONS = ("simple_1rtt", "resumed_0rtt", "hello_retry_request")


def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text())
    return data


V = _load()
GOLDEN = [
    (sec, name, bytes.fromhex(hexed))
    for sec in SECTIONS
    for name, hexed in V[sec]["handshake_messages"].items()
    if name != "client_hello_prefix_for_binder"
]


def msg(sec: str, name: str) -> bytes:
    return bytes.fromhex(V[sec]["handshake_messages"][name])


@pytest.mark.parametrize(("sec", "name", "raw"), GOLDEN, ids=[f"{s}/{n}" for s, n, _ in GOLDEN])
def test_golden_roundtrip(sec: str, name: str, raw: bytes) -> None:
    m = decode_handshake(raw, tls13=True)
    assert m.raw == raw
    assert m.typ == raw[0] == m.body.typ
    assert encode_handshake(m.body) == raw
    exts = getattr(m.body, "extensions", None)
    assert exts is None or exts.unknown == ()  # every RFC 8448 extension is a known one


def test_simple_client_hello_fields() -> None:
    s = V["simple_1rtt"]
    ch = decode_handshake(msg("simple_1rtt", "client_hello"), tls13=True).expect(ClientHello)
    assert ch.legacy_version == 0x0303
    assert ch.legacy_session_id == b""
    assert ch.cipher_suites == (
        CipherSuite.TLS13_AES_128_GCM_SHA256,
        CipherSuite.TLS13_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS13_AES_256_GCM_SHA384,
    )
    assert ch.legacy_compression_methods == b"\x00"
    e = ch.extensions
    assert e.server_name == b"server"
    assert e.renegotiation_info == b""
    assert e.session_ticket == b""
    assert e.supported_versions == (0x0304,)
    assert e.key_share is not None and len(e.key_share) == 1
    assert e.key_share[0].group == NamedGroup.x25519
    assert e.key_share[0].key_exchange.hex() == s["client_x25519_public_key"]
    assert e.psk_key_exchange_modes == (1,)
    assert e.record_size_limit == 0x4001
    assert e.signature_algorithms is not None
    assert SignatureScheme.rsa_pss_rsae_sha256 in e.signature_algorithms
    assert e.pre_shared_key is None
    assert ch.binders_suffix_len() == 0
    with pytest.raises(InternalError):
        ch.with_binders((b"\x00" * 32,))


def test_simple_server_messages_fields() -> None:
    s = V["simple_1rtt"]
    sh = decode_handshake(msg("simple_1rtt", "server_hello"), tls13=True).expect(ServerHello)
    assert sh.cipher_suite == CipherSuite.TLS13_AES_128_GCM_SHA256
    assert sh.extensions.supported_versions == 0x0304
    assert sh.extensions.key_share is not None
    assert sh.extensions.key_share.key_exchange.hex() == s["server_x25519_public_key"]
    ee = decode_handshake(msg("simple_1rtt", "encrypted_extensions"), tls13=True)
    eex = ee.expect(EncryptedExtensions).extensions
    assert eex.server_name is True
    assert eex.record_size_limit == 0x4001
    assert eex.early_data is False
    cert = decode_handshake(msg("simple_1rtt", "certificate"), tls13=True).expect(Certificate13)
    assert cert.certificate_request_context == b""
    assert [c.cert_data.hex() for c in cert.certificate_list] == [s["server_certificate_der"]]
    cv = decode_handshake(msg("simple_1rtt", "certificate_verify"), tls13=True)
    assert cv.expect(CertificateVerify).algorithm == SignatureScheme.rsa_pss_rsae_sha256
    fin = decode_handshake(msg("simple_1rtt", "server_finished"), tls13=True).expect(Finished)
    assert fin.verify_data.hex() == s["finished"]["server_verify_data"]
    assert s["finished"]["server_verify_data"] not in repr(fin)
    nst = decode_handshake(msg("simple_1rtt", "new_session_ticket"), tls13=True)
    t = nst.expect(NewSessionTicket13)
    f = s["new_session_ticket_fields"]
    assert t.ticket_lifetime == f["ticket_lifetime"]
    assert t.ticket_age_add == int(f["ticket_age_add"], 16)
    assert t.ticket_nonce.hex() == f["ticket_nonce"]
    assert t.ticket.hex() == f["ticket"]
    assert t.extensions.early_data == f["max_early_data_size"]


def test_resumed_client_hello_binders() -> None:
    s = V["resumed_0rtt"]
    raw = msg("resumed_0rtt", "client_hello")
    ch = decode_handshake(raw, tls13=True).expect(ClientHello)
    psk = ch.extensions.pre_shared_key
    assert psk is not None
    assert psk.binders == (bytes.fromhex(s["psk_binder"]["binder"]),)
    assert (
        psk.identities[0].identity.hex() == V["simple_1rtt"]["new_session_ticket_fields"]["ticket"]
    )
    assert ch.extensions.early_data is True
    assert ch.extensions.padding is not None
    n = ch.binders_suffix_len()
    assert n == 2 + 1 + 32
    assert raw[:-n] == msg("resumed_0rtt", "client_hello_prefix_for_binder")
    # with_binders: a placeholder keeps the length; putting the real binder back restores raw.
    blank = ch.with_binders((bytes(32),))
    enc = encode_handshake(blank)
    assert len(enc) == len(raw) and enc[:-n] == raw[:-n] and enc != raw
    assert encode_handshake(blank.with_binders(psk.binders)) == raw
    sh = decode_handshake(msg("resumed_0rtt", "server_hello"), tls13=True).expect(ServerHello)
    assert sh.extensions.pre_shared_key == 0
    ee = decode_handshake(msg("resumed_0rtt", "encrypted_extensions"), tls13=True)
    assert ee.expect(EncryptedExtensions).extensions.early_data is True
    eoed = decode_handshake(msg("resumed_0rtt", "end_of_early_data"), tls13=True)
    assert isinstance(eoed.body, EndOfEarlyData)


def test_hello_retry_request() -> None:
    raw = msg("hello_retry_request", "hello_retry_request")
    assert raw[6:38] == HRR_RANDOM
    m = decode_handshake(raw, tls13=True)
    assert m.typ == HandshakeType.server_hello
    hrr = m.expect(HelloRetryRequest)
    assert hrr.extensions.selected_group == NamedGroup.secp256r1
    assert hrr.extensions.supported_versions == 0x0304
    assert hrr.extensions.cookie is not None and len(hrr.extensions.cookie) == 114
    with pytest.raises(InappropriateMessage):
        m.expect(ServerHello)
    ch2 = decode_handshake(msg("hello_retry_request", "client_hello_2"), tls13=True)
    e2 = ch2.expect(ClientHello).extensions
    assert e2.cookie == hrr.extensions.cookie
    assert e2.key_share is not None and e2.key_share[0].group == NamedGroup.secp256r1
    assert e2.padding == 175
