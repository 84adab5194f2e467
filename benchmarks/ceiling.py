"""The ceiling: the cryptography-only cost of the same work, with ``cryptography`` directly.

Each function performs, once, the cryptographic operations both ends of one connection must
do, with no TLS framing, message encoding or state machine around them, and with every
reusable object (AEAD instance for bulk, trust store, verifier policy) built in advance.
No stack can beat these numbers using the same primitives; ``tlspipe/ceiling`` says how much
of the available speed tlspipe reaches.

Counts per full TLS 1.3 handshake (client + server):

- 2 X25519 key generations, 2 exchanges (+ public key encoding/decoding);
- 1 CertificateVerify signature (server) and its verification (client);
- 1 chain verification (leaf parse + ``cryptography.x509.verification`` path building to the
  CA with the host name check);
- the key schedule on each side: 3 HKDF-Extract, 17 HKDF-Expand (derived ×2, handshake and
  application traffic secrets, exporter and resumption masters, 4 key/IV pairs, 2 finished
  keys), 2 HMAC (Finished), 6 transcript hashes;
- 4 AES-GCM key setups per side and 5 handshake records sealed and opened (EE, Certificate,
  CertificateVerify, 2 × Finished).

TLS 1.2 (ECDHE, RFC 5246 + EMS): the same key exchange, one ServerKeyExchange signature and
verification, chain verification; the PRF as HMAC calls (extended master secret 4, key block
4, Finished 4 per side); 2 AES-GCM key setups per side; 2 Finished records sealed and opened.

Resumption: TLS 1.3 psk_dhe_ke = key exchange + key schedule + binder (1 extract, 2 expand,
1 HMAC per side) + the ticket sealed (issue) and opened (redeem); no signature, no chain.
TLS 1.2 resumption = the PRF (key block + Finished) and Finished records; tickets add the
ticket seal/open.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from cryptography.x509 import verification as xv

from . import clock
from .pki import SERVER_NAME, Identity

_SHA256 = hashes.SHA256()
_NONCE = bytes(12)
_AAD = b"\x17\x03\x03\x40\x11"


def _x25519_both() -> None:
    ck = X25519PrivateKey.generate()
    cpub = ck.public_key().public_bytes_raw()
    sk = X25519PrivateKey.generate()
    spub = sk.public_key().public_bytes_raw()
    sk.exchange(X25519PublicKey.from_public_bytes(cpub))
    ck.exchange(X25519PublicKey.from_public_bytes(spub))


def _hkdf_side(extracts: int, expands: int, hmacs: int, hashes_: int) -> None:
    secret = bytes(32)
    for _ in range(extracts):
        secret = HKDF.extract(_SHA256, secret, secret)
    for _ in range(expands):
        HKDFExpand(_SHA256, 32, b"\x00\x20\x0dtls13 derived\x20" + secret).derive(secret)
    for _ in range(hmacs):
        h = hmac.HMAC(secret, _SHA256)
        h.update(secret)
        h.finalize()
    for _ in range(hashes_):
        hh = hashes.Hash(_SHA256)
        hh.update(secret * 8)
        hh.finalize()


def _records(keys: int, records: int, size: int = 300) -> None:
    plain = bytes(size)
    aeads = [AESGCM(os.urandom(16)) for _ in range(keys)]
    a = aeads[0]
    for _ in range(records):
        a.decrypt(_NONCE, a.encrypt(_NONCE, plain, _AAD), _AAD)


class _Signer:
    def __init__(self, ident: Identity) -> None:
        self.key = ident.key()
        self.pub = self.key.public_key()
        self.msg = bytes(64) * 2 + b"TLS 1.3, server CertificateVerify\x00" + bytes(32)

    def sign_and_verify(self) -> None:
        k, pub = self.key, self.pub
        if isinstance(k, ec.EllipticCurvePrivateKey):
            assert isinstance(pub, ec.EllipticCurvePublicKey)
            sig = k.sign(self.msg, ec.ECDSA(_SHA256))
            pub.verify(sig, self.msg, ec.ECDSA(_SHA256))
        else:
            assert isinstance(k, rsa.RSAPrivateKey) and isinstance(pub, rsa.RSAPublicKey)
            pss = padding.PSS(padding.MGF1(_SHA256), 32)
            sig = k.sign(self.msg, pss, _SHA256)
            pub.verify(sig, self.msg, pss, _SHA256)


class _Chain:
    def __init__(self, ident: Identity) -> None:
        store = xv.Store([x509.load_der_x509_certificate(ident.ca_der())])
        self.verifier = (
            xv.PolicyBuilder()
            .store(store)
            .time(dt.datetime.now(dt.UTC))
            .build_server_verifier(x509.DNSName(SERVER_NAME))
        )
        self.leaf = ident.leaf_der()

    def verify(self) -> None:
        self.verifier.verify(x509.load_der_x509_certificate(self.leaf), [])


def full13_work(ident: Identity) -> Callable[[], None]:
    """One full TLS 1.3 handshake's crypto (both sides)."""
    signer, chain = _Signer(ident), _Chain(ident)

    def work() -> None:
        _x25519_both()
        signer.sign_and_verify()
        chain.verify()
        for _ in range(2):
            _hkdf_side(3, 17, 2, 6)
            _records(4, 0)
        _records(1, 5)

    return work


def full12_work(ident: Identity) -> Callable[[], None]:
    """One full TLS 1.2 ECDHE handshake's crypto (both sides)."""
    signer, chain = _Signer(ident), _Chain(ident)

    def work() -> None:
        _x25519_both()
        signer.sign_and_verify()
        chain.verify()
        for _ in range(2):
            _hkdf_side(0, 0, 12, 4)
            _records(2, 0)
        _records(1, 2)

    return work


def resumed13_work() -> Callable[[], None]:
    """One resumed TLS 1.3 (psk_dhe_ke) handshake's crypto (both sides), ticket included."""

    def work() -> None:
        _x25519_both()
        for _ in range(2):
            _hkdf_side(4, 19, 3, 6)
            _records(4, 0)
        _records(1, 4 + 1)  # EE, 2 × Finished, NewSessionTicket + the ticket itself

    return work


def resumed12_work(tickets: bool) -> Callable[[], None]:
    """One resumed TLS 1.2 handshake's crypto (both sides)."""

    def work() -> None:
        for _ in range(2):
            _hkdf_side(0, 0, 8, 4)
            _records(2, 0)
        _records(1, 2 + (2 if tickets else 0))

    return work


def per_second(work: Callable[[], None], n: int) -> float:
    """Run ``work`` ``n`` times; operations per second."""
    work()
    t = clock.now()
    for _ in range(n):
        work()
    return n / (clock.now() - t)


AEADS: dict[str, tuple[type[AESGCM] | type[ChaCha20Poly1305], int]] = {
    "TLS13_AES_128_GCM_SHA256": (AESGCM, 16),
    "TLS13_AES_256_GCM_SHA384": (AESGCM, 32),
    "TLS13_CHACHA20_POLY1305_SHA256": (ChaCha20Poly1305, 32),
}


def aead_mb_per_s(suite: str, total: int, chunk: int = 16384) -> float:
    """MB/s (10^6) of sealing and opening ``total`` bytes as TLS 1.3 records of ``chunk``."""
    cls, klen = AEADS[suite]
    a = cls(os.urandom(klen))
    enc, dec = a.encrypt, a.decrypt
    inner = bytes(chunk + 1)
    t = clock.now()
    for _ in range(total // chunk):
        dec(_NONCE, enc(_NONCE, inner, _AAD), _AAD)
    return total // chunk * chunk / (clock.now() - t) / 1e6
