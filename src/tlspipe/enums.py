"""Wire enumerations with their RFC names (RFC 8446 §4, §B.3; RFC 5246; IANA registries).

Every type here is an ``IntEnum``.  Values a peer sends that we do not know stay plain ``int``s:
decoders call :func:`maybe` so an unknown code point never raises.  This module imports nothing
from the rest of the package.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TypeVar

E = TypeVar("E", bound=IntEnum)


def maybe(enum: type[E], value: int) -> E | int:
    """Return ``enum(value)`` when known, else the plain int (unknown values are kept)."""
    try:
        return enum(value)
    except ValueError:
        return value


class ContentType(IntEnum):
    """RFC 8446 §5.1 ContentType."""

    change_cipher_spec = 20
    alert = 21
    handshake = 22
    application_data = 23


class ProtocolVersion(IntEnum):
    """TLS protocol versions as they appear on the wire."""

    SSLv3 = 0x0300
    TLSv1_0 = 0x0301
    TLSv1_1 = 0x0302
    TLSv1_2 = 0x0303
    TLSv1_3 = 0x0304


class HandshakeType(IntEnum):
    """RFC 8446 §4 HandshakeType (plus TLS 1.2's ServerKeyExchange etc.)."""

    hello_request = 0
    client_hello = 1
    server_hello = 2
    new_session_ticket = 4
    end_of_early_data = 5
    encrypted_extensions = 8
    certificate = 11
    server_key_exchange = 12
    certificate_request = 13
    server_hello_done = 14
    certificate_verify = 15
    client_key_exchange = 16
    finished = 20
    certificate_status = 22
    key_update = 24
    message_hash = 254


class AlertLevel(IntEnum):
    """RFC 8446 §6 AlertLevel."""

    warning = 1
    fatal = 2


class AlertDescription(IntEnum):
    """RFC 8446 §6 AlertDescription."""

    close_notify = 0
    unexpected_message = 10
    bad_record_mac = 20
    decryption_failed = 21
    record_overflow = 22
    decompression_failure = 30
    handshake_failure = 40
    no_certificate = 41
    bad_certificate = 42
    unsupported_certificate = 43
    certificate_revoked = 44
    certificate_expired = 45
    certificate_unknown = 46
    illegal_parameter = 47
    unknown_ca = 48
    access_denied = 49
    decode_error = 50
    decrypt_error = 51
    export_restriction = 60
    protocol_version = 70
    insufficient_security = 71
    internal_error = 80
    inappropriate_fallback = 86
    user_canceled = 90
    no_renegotiation = 100
    missing_extension = 109
    unsupported_extension = 110
    certificate_unobtainable = 111
    unrecognized_name = 112
    bad_certificate_status_response = 113
    bad_certificate_hash_value = 114
    unknown_psk_identity = 115
    certificate_required = 116
    no_application_protocol = 120


class ExtensionType(IntEnum):
    """IANA TLS ExtensionType values used by tlspipe."""

    server_name = 0
    max_fragment_length = 1
    status_request = 5
    supported_groups = 10
    ec_point_formats = 11
    signature_algorithms = 13
    use_srtp = 14
    heartbeat = 15
    application_layer_protocol_negotiation = 16
    signed_certificate_timestamp = 18
    client_certificate_type = 19
    server_certificate_type = 20
    padding = 21
    encrypt_then_mac = 22
    extended_master_secret = 23
    compress_certificate = 27
    record_size_limit = 28
    session_ticket = 35
    pre_shared_key = 41
    early_data = 42
    supported_versions = 43
    cookie = 44
    psk_key_exchange_modes = 45
    certificate_authorities = 47
    oid_filters = 48
    post_handshake_auth = 49
    signature_algorithms_cert = 50
    key_share = 51
    quic_transport_parameters = 57
    renegotiation_info = 0xFF01


class NamedGroup(IntEnum):
    """RFC 8446 §4.2.7 NamedGroup (and the ML-KEM hybrid)."""

    secp256r1 = 0x0017
    secp384r1 = 0x0018
    secp521r1 = 0x0019
    x25519 = 0x001D
    x448 = 0x001E
    ffdhe2048 = 0x0100
    ffdhe3072 = 0x0101
    X25519MLKEM768 = 0x11EC


class SignatureScheme(IntEnum):
    """RFC 8446 §4.2.3 SignatureScheme."""

    rsa_pkcs1_sha1 = 0x0201
    ecdsa_sha1 = 0x0203
    rsa_pkcs1_sha256 = 0x0401
    rsa_pkcs1_sha384 = 0x0501
    rsa_pkcs1_sha512 = 0x0601
    ecdsa_secp256r1_sha256 = 0x0403
    ecdsa_secp384r1_sha384 = 0x0503
    ecdsa_secp521r1_sha512 = 0x0603
    rsa_pss_rsae_sha256 = 0x0804
    rsa_pss_rsae_sha384 = 0x0805
    rsa_pss_rsae_sha512 = 0x0806
    ed25519 = 0x0807
    ed448 = 0x0808
    rsa_pss_pss_sha256 = 0x0809
    rsa_pss_pss_sha384 = 0x080A
    rsa_pss_pss_sha512 = 0x080B


class CipherSuite(IntEnum):
    """IANA cipher suite values tlspipe knows (it implements only the AEAD/ECDHE ones)."""

    TLS13_AES_128_GCM_SHA256 = 0x1301
    TLS13_AES_256_GCM_SHA384 = 0x1302
    TLS13_CHACHA20_POLY1305_SHA256 = 0x1303
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xC02B
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = 0xC02C
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = 0xC02F
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 = 0xC030
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA8
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA9
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF
    TLS_FALLBACK_SCSV = 0x5600


class ECPointFormat(IntEnum):
    """RFC 8422 §5.1.2 ECPointFormat."""

    uncompressed = 0
    ansiX962_compressed_prime = 1
    ansiX962_compressed_char2 = 2


class ECCurveType(IntEnum):
    """RFC 8422 §5.4 ECCurveType."""

    explicit_prime = 1
    explicit_char2 = 2
    named_curve = 3


class PskKeyExchangeMode(IntEnum):
    """RFC 8446 §4.2.9 PskKeyExchangeMode."""

    psk_ke = 0
    psk_dhe_ke = 1


class KeyUpdateRequest(IntEnum):
    """RFC 8446 §4.6.3 KeyUpdateRequest."""

    update_not_requested = 0
    update_requested = 1


class CertificateStatusType(IntEnum):
    """RFC 6066 §8 CertificateStatusType."""

    ocsp = 1


class ServerNameType(IntEnum):
    """RFC 6066 §3 NameType."""

    host_name = 0


class ClientCertificateType(IntEnum):
    """RFC 5246 §7.4.4 ClientCertificateType (TLS 1.2 CertificateRequest)."""

    rsa_sign = 1
    dss_sign = 2
    ecdsa_sign = 64


class CompressionMethod(IntEnum):
    """RFC 5246 CompressionMethod: only null is ever accepted."""

    null = 0
