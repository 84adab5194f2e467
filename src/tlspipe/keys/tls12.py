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
    "key_block_len",
    "key_block_seed",
    "log_master_secret",
    "master_secret",
    "p_hash",
    "prf",
    "prf_key",
    "split_key_block",
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
    return p_hash(prf_key(hash_name, secret), label + seed, length)


def prf_key(hash_name: str, secret: bytes) -> hmac.HMAC:
    """The HMAC keyed with ``secret`` that :func:`p_hash` copies for every block: several
    PRF outputs under one secret (key block, both Finished values) key it once.

    Raises:
        InternalError: unknown hash name (a bug).
    """
    return hmac.HMAC(secret, hash_algorithm(hash_name))


def p_hash(keyed: hmac.HMAC, full_seed: bytes, length: int) -> bytes:
    """P_hash(secret, ``full_seed``) (RFC 5246 §5) with ``keyed`` = :func:`prf_key` of the
    secret (left unchanged); ``full_seed`` is label + seed.

    Raises:
        Nothing.
    """
    if length <= 0:
        return b""
    # The first block unrolled and ``copy`` bound once: every output a handshake takes
    # (Finished, key block, master secret) is one or two blocks, 6-8 of them per handshake.
    copy = keyed.copy
    h = copy()
    h.update(full_seed)
    a = h.finalize()  # A(1)
    h = copy()
    h.update(a + full_seed)
    out = h.finalize()
    while len(out) < length:
        h = copy()
        h.update(a)
        a = h.finalize()  # A(i)
        h = copy()
        h.update(a + full_seed)
        out += h.finalize()
    return out if len(out) == length else out[:length]


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


def key_block_len(suite: Tls12CipherSuite) -> int:
    """Key block bytes an AEAD suite uses: both keys, both IVs and the 8-byte explicit-nonce
    seed.

    Raises:
        Nothing.
    """
    return 2 * suite.aead.key_len + 2 * suite.fixed_iv_len + _GCM_SEED_LEN


def key_block_seed(client_random: bytes, server_random: bytes) -> bytes:
    """label + seed of the key block PRF: "key expansion" + server_random + client_random
    (RFC 5246 §6.3).

    Raises:
        Nothing.
    """
    return b"key expansion" + server_random + client_random


def split_key_block(
    suite: Tls12CipherSuite, block: bytes
) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """``(client_write_key, server_write_key, client_write_IV, server_write_IV,
    explicit_nonce_seed)`` out of :func:`key_block_len` bytes of key block.

    Raises:
        Nothing.
    """
    k, iv = suite.aead.key_len, suite.fixed_iv_len
    used = 2 * k + 2 * iv
    return (
        block[:k],
        block[k : 2 * k],
        block[2 * k : 2 * k + iv],
        block[2 * k + iv : used],
        block[used : used + _GCM_SEED_LEN],
    )


def _key_block_parts(
    suite: Tls12CipherSuite, ms: bytes, client_random: bytes, server_random: bytes
) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    # key_block = PRF(master_secret, "key expansion", server_random + client_random)
    block = p_hash(
        prf_key(suite.hash_name, ms),
        key_block_seed(client_random, server_random),
        key_block_len(suite),
    )
    return split_key_block(suite, block)


def key_block(
    suite: Tls12CipherSuite, ms: bytes, client_random: bytes, server_random: bytes
) -> tuple[bytes, bytes, bytes, bytes]:
    """Split the key block for an AEAD suite (RFC 5246 §6.3, no MAC keys):
    ``(client_write_key, server_write_key, client_write_IV, server_write_IV)``.

    Raises:
        InternalError: unknown hash name (a bug).
    """
    return _key_block_parts(suite, ms, client_random, server_random)[:4]


def key_block_explicit_nonce_seed(
    suite: Tls12CipherSuite, ms: bytes, client_random: bytes, server_random: bytes
) -> bytes:
    """The 8 key-block bytes after the IVs, for the GCM explicit-nonce seed (the same for
    both directions; the record layer XORs it with the sequence number).  Both peers need
    not agree on it: the explicit nonce is sent on the wire.

    Raises:
        InternalError: unknown hash name (a bug).
    """
    return _key_block_parts(suite, ms, client_random, server_random)[4]


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
