"""Strict decoding: duplicates, trailing bytes, ordering, bounds and the alerts they carry."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from tlspipe.enums import AlertDescription, ExtensionType
from tlspipe.errors import DecodeError
from tlspipe.msgs.codec import Reader
from tlspipe.msgs.extensions import (
    ClientExtensions,
    HelloRetryExtensions,
    KeyShareEntry,
    NewSessionTicketExtensions,
    OfferedPsks,
    PskIdentity,
    ServerEncryptedExtensions,
    ServerExtensions,
)
from tlspipe.msgs.handshake import (
    CertificateStatus,
    EncryptedExtensions,
    Finished,
    KeyUpdate,
    MessageHash,
    ServerKeyExchangeEcdhe,
)
from tlspipe.msgs.hello import (
    DOWNGRADE_TLS11,
    DOWNGRADE_TLS12,
    HRR_RANDOM,
    ClientHello,
    HelloRetryRequest,
    ServerHello,
)
from tlspipe.msgs.message import (
    ChangeCipherSpec,
    decode_alert,
    decode_change_cipher_spec,
    decode_handshake,
    encode_handshake,
)

ILLEGAL = AlertDescription.illegal_parameter
DECODE = AlertDescription.decode_error
VECTORS = Path("/work/shared/vectors/rfc8448.json")
if not VECTORS.exists():  # pragma: no cover
    VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "rfc8448.json"
V: dict[str, Any] = json.loads(VECTORS.read_text())
CH_RAW = bytes.fromhex(V["simple_1rtt"]["handshake_messages"]["client_hello"])
CH = decode_handshake(CH_RAW, tls13=True).expect(ClientHello)
PSK = OfferedPsks((PskIdentity(b"ticket", 7),), (bytes(32),))


def ch_with(**changes: Any) -> bytes:
    return encode_handshake(
        dataclasses.replace(CH, extensions=dataclasses.replace(CH.extensions, **changes))
    )


def rejects(raw: bytes, alert: AlertDescription = DECODE, *, tls13: bool = True) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_handshake(raw, tls13=tls13)
    assert info.value.alert == alert, info.value
    return info.value


def psk_body() -> bytes:
    out = bytearray()
    PSK.encode(out)
    return bytes(out)


# -- framing -----------------------------------------------------------------------------------
def test_header_length_must_match() -> None:
    rejects(CH_RAW + b"\x00")
    rejects(CH_RAW[:-1])
    rejects(CH_RAW[:3])
    rejects(b"")


def test_trailing_byte_in_body() -> None:
    body = CH_RAW[4:] + b"\x00"
    rejects(CH_RAW[:1] + len(body).to_bytes(3, "big") + body)
    fin = encode_handshake(Finished(bytes(32)))
    assert decode_handshake(fin, tls13=True).body == Finished(bytes(32))
    rejects(fin[:3] + b"\x21" + fin[4:])  # header says one more octet than present
    ku = encode_handshake(KeyUpdate(0))
    rejects(ku[:3] + b"\x02\x00\x00")


@pytest.mark.parametrize("typ", [3, 6, 7, 9, 17, 21, 23, 25, 199, 254, 255])
def test_unknown_or_internal_types(typ: int) -> None:
    rejects(bytes([typ, 0, 0, 1, 0]), AlertDescription.unexpected_message)


def test_empty_bodies() -> None:
    rejects(encode_handshake(Finished(b"")))  # verify_data is at least one octet
    rejects(bytes([14, 0, 0, 1, 0]), tls13=False)  # ServerHelloDone with content
    rejects(bytes([5, 0, 0, 1, 0]))  # EndOfEarlyData with content
    assert MessageHash.decode(Reader(b"")) == MessageHash(b"")


# -- extensions --------------------------------------------------------------------------------
def test_duplicate_known_extension() -> None:
    err = rejects(ch_with(unknown=((ExtensionType.supported_versions, b"\x02\x03\x04"),)))
    assert "duplicate" in str(err)


def test_duplicate_unknown_extension() -> None:
    rejects(ch_with(unknown=((0x1234, b""), (0x1234, b"x"))))


def test_duplicate_in_every_container() -> None:
    ee = EncryptedExtensions(ServerEncryptedExtensions(server_name=True, unknown=((0, b""),)))
    rejects(encode_handshake(ee))
    out = bytearray()
    NewSessionTicketExtensions(unknown=((7, b""), (7, b""))).encode(out)
    with pytest.raises(DecodeError):
        NewSessionTicketExtensions.decode(Reader(bytes(out)))


def test_pre_shared_key_must_be_last() -> None:
    ok = ch_with(pre_shared_key=PSK, unknown=((0x5A5A, b""),))
    m = decode_handshake(ok, tls13=True).expect(ClientHello)
    assert m.extensions.pre_shared_key == PSK  # encoded after the unknown one
    rejects(ch_with(unknown=((ExtensionType.pre_shared_key, psk_body()), (0x5A5A, b""))), ILLEGAL)


def test_psk_identities_and_binders_must_pair() -> None:
    bad = OfferedPsks(PSK.identities, (bytes(32), bytes(32)))
    rejects(ch_with(pre_shared_key=bad), ILLEGAL)
    short_binder = OfferedPsks(PSK.identities, (bytes(31),))
    rejects(ch_with(pre_shared_key=short_binder))


def test_trailing_bytes_in_extension_body() -> None:
    rejects(ch_with(supported_versions=None, unknown=((43, b"\x02\x03\x04\x00"),)))
    rejects(ch_with(record_size_limit=None, unknown=((28, b"\x40\x00\x00"),)))
    rejects(ch_with(server_name=None, unknown=((0, b"\x00\x04\x00\x00\x01a\x00"),)))
    rejects(ch_with(early_data=False, unknown=((42, b"\x00"),)))


def test_flag_extension_with_body_in_server_hello() -> None:
    sh = ServerHello(0x0303, bytes(32), b"", 0x1301, 0, ServerExtensions(unknown=((23, b"x"),)))
    rejects(encode_handshake(sh))


@pytest.mark.parametrize(
    ("typ", "body", "alert"),
    [
        (43, b"\x00", DECODE),  # supported_versions <2..254>
        (43, b"\x03\x03\x04\x03", DECODE),  # odd length
        (10, b"\x00\x00", DECODE),  # supported_groups <2..2^16-1>
        (13, b"\x00\x00", DECODE),  # signature_algorithms <2..2^16-2>
        (16, b"\x00\x00", DECODE),  # protocol_name_list <2..2^16-1>
        (16, b"\x00\x01\x00", DECODE),  # ProtocolName <1..2^8-1>
        (45, b"\x00", DECODE),  # ke_modes <1..255>
        (44, b"\x00\x00", DECODE),  # cookie <1..2^16-1>
        (51, b"\x00\x04\x00\x1d\x00\x00", DECODE),  # key_exchange <1..2^16-1>
        (47, b"\x00\x02\x00\x00", DECODE),  # DistinguishedName <1..2^16-1>
        (11, b"\x00", DECODE),  # ec_point_formats <1..2^8-1>
        (28, b"\x00\x3f", ILLEGAL),  # record_size_limit < 64
        (21, b"\x00\x01", ILLEGAL),  # padding is zeros
        (0, b"\x00\x00", DECODE),  # server_name_list <1..2^16-1>
        (0, b"\x00\x04\x01\x00\x01a", ILLEGAL),  # unknown name type
        (0, b"\x00\x08\x00\x00\x01a\x00\x00\x01b", ILLEGAL),  # two host names
        (0, b"\x00\x05\x00\x00\x02\xc3\xa9", ILLEGAL),  # not ASCII
        (5, b"", DECODE),  # status_request without a type
        (ExtensionType.renegotiation_info, b"", DECODE),
    ],
)
def test_client_extension_bounds(typ: int, body: bytes, alert: AlertDescription) -> None:
    known = {f.typ: f.name for f in ClientExtensions._FIELDS}
    field = known[typ]
    default = ClientExtensions.__dataclass_fields__[field].default
    rejects(ch_with(**{field: default}, unknown=((typ, body),)), alert)


def test_status_request_of_unknown_type_reads_absent() -> None:
    raw = ch_with(unknown=((5, b"\x02whatever"),))
    assert decode_handshake(raw, tls13=True).expect(ClientHello).extensions.status_request is False
    raw = ch_with(unknown=((5, b"\x01\x00\x03\x00\x01x\x00\x00"),))
    assert decode_handshake(raw, tls13=True).expect(ClientHello).extensions.status_request is True


def test_server_alpn_exactly_one() -> None:
    two = b"\x00\x04\x01a\x01b"
    rejects(encode_handshake(EncryptedExtensions(ServerEncryptedExtensions(unknown=((16, two),)))))


def test_extension_list_bounds() -> None:
    # HelloRetryRequest extensions<6..2^16-1>: an empty list is malformed.
    rejects(encode_handshake(HelloRetryRequest(0x0303, b"", 0x1301, HelloRetryExtensions())))
    # TLS 1.2 ServerHello and ClientHello may omit the extensions block entirely.
    sh = ServerHello(0x0303, bytes(32), b"", 0xC02F, 0, ServerExtensions())
    raw = encode_handshake(sh)[:-2]
    raw = raw[:1] + (len(raw) - 4).to_bytes(3, "big") + raw[4:]
    assert decode_handshake(raw, tls13=False).body == sh


# -- hello specifics ---------------------------------------------------------------------------
def test_session_id_bound() -> None:
    rejects(encode_handshake(dataclasses.replace(CH, legacy_session_id=bytes(33))))
    assert decode_handshake(
        encode_handshake(dataclasses.replace(CH, legacy_session_id=bytes(32))), tls13=True
    )


def test_cipher_suites_bounds() -> None:
    rejects(encode_handshake(dataclasses.replace(CH, cipher_suites=())))
    rejects(encode_handshake(dataclasses.replace(CH, legacy_compression_methods=b"")))


def test_hrr_dispatch_and_compression() -> None:
    hrr = HelloRetryRequest(0x0303, b"", 0x1301, HelloRetryExtensions(supported_versions=0x0304))
    raw = encode_handshake(hrr)
    assert raw[6:38] == HRR_RANDOM
    assert decode_handshake(raw, tls13=True).body == hrr
    bad = bytearray(raw)
    bad[4 + 2 + 32 + 1 + 2] = 1  # legacy_compression_method
    rejects(bytes(bad), ILLEGAL)
    with pytest.raises(DecodeError):
        HelloRetryRequest.decode(Reader(encode_handshake(_plain_sh())[4:]))
    assert len(DOWNGRADE_TLS12) == len(DOWNGRADE_TLS11) == 8


def _plain_sh() -> ServerHello:
    return ServerHello(0x0303, bytes(32), b"", 0x1301, 0, ServerExtensions(supported_versions=772))


def test_server_hello_with_key_share() -> None:
    sh = ServerHello(
        0x0303, bytes(32), b"", 0x1301, 0, ServerExtensions(key_share=KeyShareEntry(29, b"k"))
    )
    assert decode_handshake(encode_handshake(sh), tls13=True).body == sh


# -- other bodies ------------------------------------------------------------------------------
def test_key_update_values() -> None:
    rejects(encode_handshake(KeyUpdate(2)), ILLEGAL)


def test_ske_curve_type() -> None:
    ske = ServerKeyExchangeEcdhe(1, 23, b"\x04", 0x0403, b"sig")
    rejects(encode_handshake(ske), ILLEGAL, tls13=False)
    good = dataclasses.replace(ske, curve_type=3)
    assert good.params_bytes() == b"\x03\x00\x17\x01\x04"
    assert decode_handshake(encode_handshake(good), tls13=False).body == good


def test_certificate_status_type() -> None:
    rejects(encode_handshake(CertificateStatus(2, b"r")), ILLEGAL, tls13=False)
    rejects(encode_handshake(CertificateStatus(1, b"")), tls13=False)


def test_version_selects_body() -> None:
    raw = bytes.fromhex(V["simple_1rtt"]["handshake_messages"]["new_session_ticket"])
    with pytest.raises(DecodeError):
        decode_handshake(raw, tls13=False)


def test_alert_and_ccs() -> None:
    assert decode_alert(b"\x02\x28").description == AlertDescription.handshake_failure
    for bad in (b"", b"\x02", b"\x02\x28\x00"):
        with pytest.raises(DecodeError):
            decode_alert(bad)
    assert decode_change_cipher_spec(b"\x01") == ChangeCipherSpec()
    for bad in (b"", b"\x02", b"\x01\x01"):
        with pytest.raises(DecodeError) as info:
            decode_change_cipher_spec(bad)
        assert info.value.alert == AlertDescription.unexpected_message
