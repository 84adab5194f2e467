"""The TLS 1.2 key derivation: PRF (RFC 5246 §5), master secret (§8.1), extended master
secret (RFC 7627 §4), key block for AEAD suites (§6.3; RFC 5288 §3, RFC 7905 §2), Finished
verify_data (§7.4.9) and the exporter (RFC 5705 §4).

Only SHA-256 / SHA-384 PRFs (the suites' hashes) are used; HMAC comes from ``cryptography``.
AEAD suites have no MAC keys: the key block is
``client_write_key || server_write_key || client_write_IV || server_write_IV`` (IV = 4-byte
GCM salt or 12-byte ChaCha20-Poly1305 IV), optionally followed by 8 "extra" bytes used as the
GCM explicit-nonce seed (as rustls does, so explicit nonces are not the bare sequence number).

Layering: imports :mod:`tlspipe.errors`, :mod:`tlspipe.keylog`, :mod:`tlspipe.crypto`.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hmac

from ..crypto.hashing import hash_algorithm
from ..crypto.provider import Tls12CipherSuite
from ..errors import ConfigError
from ..keylog import KeyLog

__all__ = [
    "MASTER_SECRET_LEN",
    "VERIFY_DATA_LEN",
    "export_keying_material",
    "extended_master_secret",
    "key_block",
    "key_block_explicit_nonce_seed",
    "key_block_with_seed",
    "log_master_secret",
    "master_secret",
    "prf",
    "verify_data",
]

MASTER_SECRET_LEN = 48
VERIFY_DATA_LEN = 12
_GCM_SEED_LEN = 8


def prf(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """PRF(secret, label, seed) = P_<hash>(secret, label + seed), ``length`` bytes
    (RFC 5246 §5)::

        A(0) = seed';  A(i) = HMAC(secret, A(i-1))
        P_hash = HMAC(secret, A(1) + seed') || HMAC(secret, A(2) + seed') || ...

    Raises:
        InternalError: unknown hash name (a bug).
    """
    base = hmac.HMAC(secret, hash_algorithm(hash_name))
    full_seed = label + seed
    out = bytearray()
    a = full_seed
    while len(out) < length:
        h = base.copy()
        h.update(a)
        a = h.finalize()
        h = base.copy()
        h.update(a + full_seed)
        out += h.finalize()
    return bytes(out[:length])


def master_secret(
    hash_name: str, pre_master_secret: bytes, client_random: bytes, server_random: bytes
) -> bytes:
    """master_secret = PRF(pms, "master secret", ClientHello.random + ServerHello.random)
    [0..47] (RFC 5246 §8.1).

    Raises:
        InternalError: unknown hash name (a bug).
    """
    return prf(
        hash_name,
        pre_master_secret,
        b"master secret",
        client_random + server_random,
        MASTER_SECRET_LEN,
    )


def extended_master_secret(hash_name: str, pre_master_secret: bytes, session_hash: bytes) -> bytes:
    """master_secret = PRF(pms, "extended master secret", session_hash)[0..47] where
    session_hash = Hash(ClientHello ... ClientKeyExchange) (RFC 7627 §4).

    Raises:
        InternalError: unknown hash name (a bug).
    """
    return prf(
        hash_name, pre_master_secret, b"extended master secret", session_hash, MASTER_SECRET_LEN
    )


def _key_block_bytes(
    suite: Tls12CipherSuite, ms: bytes, client_random: bytes, server_random: bytes
) -> tuple[bytes, int]:
    klen, ivlen = suite.aead.key_len, suite.fixed_iv_len
    used = 2 * klen + 2 * ivlen
    # key_block = PRF(master_secret, "key expansion", server_random + client_random)
    block = prf(
        suite.hash_name, ms, b"key expansion", server_random + client_random, used + _GCM_SEED_LEN
    )
    return block, used


def key_block(
    suite: Tls12CipherSuite, ms: bytes, client_random: bytes, server_random: bytes
) -> tuple[bytes, bytes, bytes, bytes]:
    """Split the key block for an AEAD suite (RFC 5246 §6.3, no MAC keys):
    ``(client_write_key, server_write_key, client_write_IV, server_write_IV)``.

    Raises:
        InternalError: unknown hash name (a bug).
    """
    block, _ = _key_block_bytes(suite, ms, client_random, server_random)
    k, iv = suite.aead.key_len, suite.fixed_iv_len
    return (
        block[:k],
        block[k : 2 * k],
        block[2 * k : 2 * k + iv],
        block[2 * k + iv : 2 * k + 2 * iv],
    )


def key_block_explicit_nonce_seed(
    suite: Tls12CipherSuite, ms: bytes, client_random: bytes, server_random: bytes
) -> bytes:
    """The 8 key-block bytes after the IVs, for the GCM explicit-nonce seed (the same for
    both directions; the record layer XORs it with the sequence number).  Both peers need
    not agree on it: the explicit nonce is sent on the wire.

    Raises:
        InternalError: unknown hash name (a bug).
    """
    block, used = _key_block_bytes(suite, ms, client_random, server_random)
    return block[used : used + _GCM_SEED_LEN]


def key_block_with_seed(
    suite: Tls12CipherSuite, ms: bytes, client_random: bytes, server_random: bytes
) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """:func:`key_block` and :func:`key_block_explicit_nonce_seed` from one PRF run:
    ``(client_write_key, server_write_key, client_write_IV, server_write_IV, seed)``.

    Raises:
        InternalError: unknown hash name (a bug).
    """
    block, used = _key_block_bytes(suite, ms, client_random, server_random)
    k, iv = suite.aead.key_len, suite.fixed_iv_len
    return (
        block[:k],
        block[k : 2 * k],
        block[2 * k : 2 * k + iv],
        block[2 * k + iv : 2 * k + 2 * iv],
        block[used : used + _GCM_SEED_LEN],
    )


def verify_data(hash_name: str, ms: bytes, label: bytes, handshake_hash: bytes) -> bytes:
    """Finished.verify_data = PRF(master_secret, finished_label, Hash(handshake_messages))
    [0..11] (RFC 5246 §7.4.9); ``label`` is ``b"client finished"`` or ``b"server finished"``.
    Compare received values with ``hmac.compare_digest``.

    Raises:
        InternalError: unknown hash name (a bug).
    """
    return prf(hash_name, ms, label, handshake_hash, VERIFY_DATA_LEN)


def export_keying_material(
    hash_name: str,
    ms: bytes,
    label: bytes,
    client_random: bytes,
    server_random: bytes,
    context: bytes | None,
    length: int,
) -> bytes:
    """RFC 5705 §4 exporter: PRF(master_secret, label, client_random + server_random
    [+ uint16(len(context)) + context]).  ``context=None`` (no context) differs from
    ``b""``.

    Raises:
        ConfigError: ``context`` of 2**16 bytes or more, or ``length`` < 1.
    """
    seed = client_random + server_random
    if context is not None:
        if len(context) >= 1 << 16:
            raise ConfigError("exporter context too long")
        seed += len(context).to_bytes(2, "big") + context
    if length < 1:
        raise ConfigError("exporter length must be positive")
    return prf(hash_name, ms, label, seed, length)


def log_master_secret(keylog: KeyLog, client_random: bytes, ms: bytes) -> None:
    """Log a TLS 1.2 master secret with the NSS label CLIENT_RANDOM.

    Raises:
        Nothing.
    """
    if keylog.will_log("CLIENT_RANDOM"):
        keylog.log("CLIENT_RANDOM", client_random, ms)
