"""verify_scts / CtLog / CtPolicy with SCTs signed here by fake CT logs (RFC 6962 §3.2).

The test builds the digitally-signed structs and SCTs itself (independently of tlspipe's
encoder), embeds SCTs in a certificate through cryptography's UnrecognizedExtension (then parsed
back by cryptography as PrecertificateSignedCertificateTimestamps), and staples SCT lists in the
exact form tlspipe.msgs keeps them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtensionOID, NameOID
from verify_pki import DAY, NOW, make_cert, p256

from tlspipe.enums import AlertDescription
from tlspipe.errors import (
    CertificateReason,
    ConfigError,
    DecodeError,
    InvalidCertificate,
    alert_for,
)
from tlspipe.msgs.codec import Reader
from tlspipe.msgs.extensions import CertificateEntryExtensions
from tlspipe.verify.ct import (
    CtLog,
    CtPolicy,
    SignedCertificateTimestamp,
    parse_sct_list,
    verify_scts,
)

X509_ENTRY, PRECERT_ENTRY = 0, 1
NOW_MS = int(NOW.timestamp() * 1000)


@dataclasses.dataclass
class FakeLog:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    name: str
    operator: str = ""

    @property
    def log_id(self) -> bytes:
        spki = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(spki).digest()

    def ct_log(self) -> CtLog:
        return CtLog.from_public_key(self.key.public_key(), self.name, self.operator)

    def sct(
        self, entry_type: int, signed_entry: bytes, *, ts: int = NOW_MS - 60_000, ext: bytes = b""
    ) -> bytes:
        """A serialized v1 SCT over ``signed_entry`` (already length-prefixed)."""
        data = (
            b"\x00\x00"  # v1, certificate_timestamp
            + ts.to_bytes(8, "big")
            + entry_type.to_bytes(2, "big")
            + signed_entry
            + len(ext).to_bytes(2, "big")
            + ext
        )
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            sig, alg = self.key.sign(data, ec.ECDSA(hashes.SHA256())), 3
        else:
            sig, alg = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256()), 1
        return (
            b"\x00"
            + self.log_id
            + ts.to_bytes(8, "big")
            + len(ext).to_bytes(2, "big")
            + ext
            + bytes([4, alg])
            + len(sig).to_bytes(2, "big")
            + sig
        )


def u24(b: bytes) -> bytes:
    return len(b).to_bytes(3, "big") + b


def sct_list(*scts: bytes) -> bytes:
    inner = b"".join(len(s).to_bytes(2, "big") + s for s in scts)
    return len(inner).to_bytes(2, "big") + inner


def der_octet_string(b: bytes) -> bytes:
    n = len(b)
    if n < 0x80:
        return b"\x04" + bytes([n]) + b
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\x04" + bytes([0x80 | len(ln)]) + ln + b


@dataclasses.dataclass
class World:
    ca: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    logs: list[FakeLog]

    def builder(self) -> x509.CertificateBuilder:
        key = p256()
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ct.example")]))
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - DAY)
            .not_valid_after(NOW + 30 * DAY)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("ct.example")]), False)
        )

    def leaf(self) -> x509.Certificate:
        return self.builder().sign(self.ca_key, hashes.SHA256())

    def precert_entry(self, tbs: bytes) -> bytes:
        spki = self.ca.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(spki).digest() + u24(tbs)

    def embedded_leaf(self, *signers: FakeLog, ts: int = NOW_MS - 60_000) -> x509.Certificate:
        """A certificate with SCTs from ``signers`` embedded (signed over its precert TBS)."""
        b = self.builder()
        tbs = b.sign(self.ca_key, hashes.SHA256()).tbs_certificate_bytes
        entry = self.precert_entry(tbs)
        lst = sct_list(*(log.sct(PRECERT_ENTRY, entry, ts=ts) for log in signers))
        ext = x509.UnrecognizedExtension(
            ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, der_octet_string(lst)
        )
        cert = b.add_extension(ext, critical=False).sign(self.ca_key, hashes.SHA256())
        assert cert.tbs_precertificate_bytes == tbs
        parsed = cert.extensions.get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps
        ).value
        assert len(parsed) == len(signers)
        return cert

    def policy(self, n: int = 2, **kw: object) -> CtPolicy:
        return CtPolicy([log.ct_log() for log in self.logs], min_valid_scts=n, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def w() -> World:
    ca_key = p256()
    ca = make_cert(subject="ct test CA", key=ca_key, ca=True)
    logs = [
        FakeLog(p256(), "log A", "op 1"),
        FakeLog(p256(), "log B", "op 1"),
        FakeLog(rsa.generate_private_key(65537, 2048), "log C (RSA)", "op 2"),
    ]
    return World(ca, ca_key, logs)


def stapled(w: World, leaf: x509.Certificate, *logs: FakeLog, ts: int = NOW_MS - 60_000) -> bytes:
    entry = u24(leaf.public_bytes(serialization.Encoding.DER))
    return sct_list(*(log.sct(X509_ENTRY, entry, ts=ts) for log in logs))


def policy_error(ei: pytest.ExceptionInfo[InvalidCertificate], *words: str) -> None:
    assert ei.value.reason is CertificateReason.CT_POLICY, str(ei.value)
    assert alert_for(ei.value) is AlertDescription.bad_certificate
    for word in words:
        assert word in str(ei.value), str(ei.value)


def test_stapled_two_logs(w: World) -> None:
    leaf = w.leaf()
    lst = stapled(w, leaf, w.logs[0], w.logs[2])
    assert verify_scts(leaf, w.ca, lst, w.policy(), NOW) == 2
    assert verify_scts(leaf, w.ca, lst, w.policy(), NOW.replace(tzinfo=None)) == 2


def test_stapled_list_in_the_msgs_form(w: World) -> None:
    leaf = w.leaf()
    lst = stapled(w, leaf, w.logs[0], w.logs[1])
    out = bytearray()
    CertificateEntryExtensions(signed_certificate_timestamp=lst).encode(out)
    back = CertificateEntryExtensions.decode(Reader(bytes(out)))
    assert back.signed_certificate_timestamp == lst
    assert verify_scts(leaf, w.ca, back.signed_certificate_timestamp, w.policy(), NOW) == 2


def test_embedded(w: World) -> None:
    leaf = w.embedded_leaf(w.logs[1], w.logs[2])
    assert verify_scts(leaf, w.ca, None, w.policy(), NOW) == 2
    assert verify_scts(leaf, w.ca, b"", w.policy(), NOW) == 2


def test_embedded_with_wrong_issuer_key(w: World) -> None:
    leaf = w.embedded_leaf(w.logs[1], w.logs[2])
    impostor = make_cert(subject="ct test CA", key=p256(), ca=True)
    with pytest.raises(InvalidCertificate) as ei:
        verify_scts(leaf, impostor, None, w.policy(), NOW)
    policy_error(ei, "0 valid SCTs of 2", "2 with a bad signature")


def test_embedded_plus_stapled(w: World) -> None:
    leaf = w.embedded_leaf(w.logs[0])
    lst = stapled(w, leaf, w.logs[2])
    assert verify_scts(leaf, w.ca, lst, w.policy(), NOW) == 2
    with pytest.raises(InvalidCertificate):
        verify_scts(leaf, w.ca, None, w.policy(), NOW)
    assert verify_scts(leaf, w.ca, None, w.policy(1), NOW) == 1


def test_embedded_sct_is_not_valid_as_stapled(w: World) -> None:
    # the precert SCT bytes moved into the TLS list: x509_entry signature does not verify
    leaf = w.embedded_leaf(w.logs[0], w.logs[1])
    ext = leaf.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps)
    raw = ext.value.public_bytes()
    lst = raw[2:] if raw[1] < 0x80 else raw[2 + (raw[1] & 0x7F) :]
    bare = w.leaf()
    with pytest.raises(InvalidCertificate) as ei:
        verify_scts(bare, w.ca, lst, w.policy(), NOW)
    policy_error(ei, "bad signature")


def test_one_valid_sct_is_not_enough(w: World) -> None:
    leaf = w.leaf()
    with pytest.raises(InvalidCertificate) as ei:
        verify_scts(leaf, w.ca, stapled(w, leaf, w.logs[0]), w.policy(), NOW)
    policy_error(ei, "1 valid SCTs of 1", "needs 2 from distinct logs")
    with pytest.raises(InvalidCertificate) as ei:
        verify_scts(leaf, w.ca, None, w.policy(1), NOW)
    policy_error(ei, "0 valid SCTs of 0")


def test_same_log_twice(w: World) -> None:
    leaf = w.leaf()
    lst = stapled(w, leaf, w.logs[0], w.logs[0])
    with pytest.raises(InvalidCertificate) as ei:
        verify_scts(leaf, w.ca, lst, w.policy(), NOW)
    policy_error(ei, "duplicate")
    assert verify_scts(leaf, w.ca, lst, w.policy(distinct_logs=False), NOW) == 2


def test_unknown_log_ignored(w: World) -> None:
    leaf = w.leaf()
    stranger = FakeLog(p256(), "not configured")
    lst = stapled(w, leaf, w.logs[0], stranger)
    with pytest.raises(InvalidCertificate) as ei:
        verify_scts(leaf, w.ca, lst, w.policy(), NOW)
    policy_error(ei, "1 from an unknown log")
    assert verify_scts(leaf, w.ca, lst, w.policy(1), NOW) == 1


def test_bad_signature_and_other_cert(w: World) -> None:
    leaf, other = w.leaf(), w.leaf()
    good = stapled(w, leaf, w.logs[0], w.logs[1])
    tampered = bytearray(good)
    tampered[-5] ^= 1  # inside the last SCT's signature
    with pytest.raises(InvalidCertificate) as ei:
        verify_scts(leaf, w.ca, bytes(tampered), w.policy(), NOW)
    policy_error(ei, "1 with a bad signature")
    with pytest.raises(InvalidCertificate) as ei:
        verify_scts(other, w.ca, good, w.policy(), NOW)
    policy_error(ei, "2 with a bad signature")


def test_extensions_are_signed(w: World) -> None:
    leaf = w.leaf()
    entry = u24(leaf.public_bytes(serialization.Encoding.DER))
    s1 = w.logs[0].sct(X509_ENTRY, entry, ext=b"\x01\x02")
    s2 = w.logs[1].sct(X509_ENTRY, entry, ext=b"\x01\x02")
    assert verify_scts(leaf, w.ca, sct_list(s1, s2), w.policy(), NOW) == 2
    ext_at = 1 + 32 + 8 + 2
    s2_bad = s2[:ext_at] + b"\x01\x03" + s2[ext_at + 2 :]
    with pytest.raises(InvalidCertificate):
        verify_scts(leaf, w.ca, sct_list(s1, s2_bad), w.policy(), NOW)


def test_future_timestamp(w: World) -> None:
    leaf = w.leaf()
    lst = stapled(w, leaf, w.logs[0], w.logs[1], ts=NOW_MS + 1)
    with pytest.raises(InvalidCertificate) as ei:
        verify_scts(leaf, w.ca, lst, w.policy(), NOW)
    policy_error(ei, "2 timestamped in the future")
    at = NOW + dt.timedelta(milliseconds=1)
    assert verify_scts(leaf, w.ca, lst, w.policy(), at) == 2
    emb = w.embedded_leaf(w.logs[0], w.logs[1], ts=NOW_MS + 10_000)
    with pytest.raises(InvalidCertificate):
        verify_scts(emb, w.ca, None, w.policy(), NOW)
    assert verify_scts(emb, w.ca, None, w.policy(), NOW + dt.timedelta(seconds=10)) == 2


def test_operators(w: World) -> None:
    leaf = w.leaf()
    same_op = stapled(w, leaf, w.logs[0], w.logs[1])
    with pytest.raises(InvalidCertificate) as ei:
        verify_scts(leaf, w.ca, same_op, w.policy(min_distinct_operators=2), NOW)
    policy_error(ei, "2 operators")
    two_ops = stapled(w, leaf, w.logs[0], w.logs[2])
    assert verify_scts(leaf, w.ca, two_ops, w.policy(min_distinct_operators=2), NOW) == 2


def test_malformed_lists(w: World) -> None:
    leaf = w.leaf()
    good = stapled(w, leaf, w.logs[0], w.logs[1])
    for junk in (b"\x00", b"\x00\x00", good[:-1], good + b"\x00", b"\x00\x02\x00\x00"):
        with pytest.raises(DecodeError):
            verify_scts(leaf, w.ca, junk, w.policy(), NOW)
    # an SCT of an unknown version (or cut short inside) is skipped, not fatal
    entry = u24(leaf.public_bytes(serialization.Encoding.DER))
    v2 = b"\x01" + w.logs[0].sct(X509_ENTRY, entry)[1:]
    short = w.logs[1].sct(X509_ENTRY, entry)[:20]
    with pytest.raises(InvalidCertificate) as ei:
        verify_scts(
            leaf, w.ca, sct_list(v2, short, w.logs[2].sct(X509_ENTRY, entry)), w.policy(), NOW
        )
    policy_error(ei, "2 malformed or not v1")


def test_parse_and_decode(w: World) -> None:
    leaf = w.leaf()
    lst = stapled(w, leaf, w.logs[0], w.logs[2])
    raw = parse_sct_list(lst)
    assert len(raw) == 2
    sct = SignedCertificateTimestamp.decode(raw[1])
    assert sct.log_id == w.logs[2].log_id
    assert (sct.hash_algorithm, sct.signature_algorithm) == (4, 1)
    assert sct.timestamp == NOW_MS - 60_000


def test_ct_log_config() -> None:
    key = p256().public_key()
    log = CtLog.from_public_key(key, "x")
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert CtLog.from_spki_der(spki, "x") == log
    assert log.log_id == hashlib.sha256(spki).digest()
    with pytest.raises(ConfigError):
        CtLog(b"\x00" * 32, key)
    with pytest.raises(ConfigError):
        CtLog(log.log_id[:31], key)
    with pytest.raises(ConfigError):
        CtLog.from_public_key(ec.generate_private_key(ec.SECP384R1()).public_key())
    with pytest.raises(ConfigError):
        CtLog.from_public_key(rsa.generate_private_key(65537, 1024).public_key())
    with pytest.raises(ConfigError):
        CtLog.from_spki_der(b"garbage")


def test_ct_policy_config(w: World) -> None:
    logs = [log.ct_log() for log in w.logs]
    with pytest.raises(ConfigError):
        CtPolicy([])
    with pytest.raises(ConfigError):
        CtPolicy([logs[0], logs[0]], min_valid_scts=1)
    with pytest.raises(ConfigError):
        CtPolicy(logs, min_valid_scts=0)
    with pytest.raises(ConfigError):
        CtPolicy(logs, min_valid_scts=4)
    assert CtPolicy(logs, min_valid_scts=4, distinct_logs=False).min_valid_scts == 4
    with pytest.raises(ConfigError):
        CtPolicy(logs, min_distinct_operators=3)
    p = CtPolicy(list(logs))  # the sequence is frozen into a tuple
    assert isinstance(p.logs, tuple) and p.log_by_id(logs[1].log_id) == logs[1]
