"""Hash, HMAC and HKDF helpers (RFC 2104, RFC 5869) built on the ``cryptography`` package.

Hashes are named by string: "sha256", "sha384" (the TLS suite hashes) and "sha512"
(signatures only).  Nothing here is implemented by hand.

Layering: imports only :mod:`tlspipe.errors` and ``cryptography``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from ..errors import InternalError

__all__ = [
    "hash_algorithm",
    "hash_len",
    "hash_new",
    "hash_of",
    "hkdf_expand",
    "hkdf_expand_each",
    "hkdf_expand_three",
    "hkdf_extract",
    "hmac_keyed",
    "hmac_sign",
]

_HASHLIB: dict[str, Callable[[], hashlib._Hash]] = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
_ALGS: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


# (hash, len_a, len_b) → the hash, for hkdf_expand_two/three: a TLS 1.3 AEAD key (16 or 32
# octets) and IV (12) fit one block of either suite hash; one lookup instead of range checks.
_KEY_IV_FITS = {(h, k, 12): _ALGS[h] for h in ("sha256", "sha384") for k in (16, 32)}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """The ``cryptography`` hash algorithm object for ``name``.

    Raises:
        InternalError: unknown hash name (a bug, never peer input).
    """
    try:
        return _ALGS[name]
    except KeyError:
        raise InternalError(f"unknown hash {name!r}") from None


def hash_len(name: str) -> int:
    """Digest length of hash ``name`` in bytes.

    Raises:
        InternalError: unknown hash name.
    """
    return hash_algorithm(name).digest_size


def hash_new(name: str) -> hashlib._Hash:
    """A fresh incremental hash context (``update``, ``copy``, ``digest``) of a TLS hash.

    It is ``hashlib``'s (OpenSSL's, as ``cryptography``'s is): the transcript copies and
    finalizes one ~5 times per handshake side, and ``cryptography``'s ``Hash`` runs a Python
    ``isinstance`` check against an ABC on each ``finalize``.

    Raises:
        InternalError: unknown hash name.
    """
    new = _HASHLIB.get(name)
    if new is None:
        hash_algorithm(name)  # raises for an unknown name
        raise InternalError(f"no incremental hash {name!r}")
    return new()


def hash_of(name: str, data: bytes) -> bytes:
    """``Hash(data)`` in one call.

    Raises:
        InternalError: unknown hash name.
    """
    alg = _ALGS.get(name)
    h = hashes.Hash(alg if alg is not None else hash_algorithm(name))
    h.update(data)
    return h.finalize()


def hmac_sign(name: str, key: bytes, data: bytes) -> bytes:
    """``HMAC-Hash(key, data)`` (RFC 2104).

    Raises:
        InternalError: unknown hash name.
    """
    alg = _ALGS.get(name)
    h = hmac.HMAC(key, alg if alg is not None else hash_algorithm(name))
    h.update(data)
    return h.finalize()


def hmac_keyed(name: str, key: bytes) -> hmac.HMAC:
    """An HMAC-Hash keyed with ``key``, to be copied for each of several MACs under that key
    (``copy`` → ``update`` → ``finalize``; the original is left unused): keying costs more
    than a copy.

    Raises:
        InternalError: unknown hash name.
    """
    alg = _ALGS.get(name)
    return hmac.HMAC(key, alg if alg is not None else hash_algorithm(name))


def hkdf_extract(name: str, salt: bytes | None, ikm: bytes) -> bytes:
    """HKDF-Extract(salt, IKM) (RFC 5869 §2.2); an empty/None salt means HashLen zeros.

    Raises:
        InternalError: unknown hash name.
    """
    alg = _ALGS.get(name)
    if alg is None:
        alg = hash_algorithm(name)
    return HKDF.extract(alg, salt or bytes(alg.digest_size), ikm)


def hkdf_expand(name: str, prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand(PRK, info, L) (RFC 5869 §2.3).

    Every TLS key, IV and secret fits in one hash block: then ``T(1) = HMAC(PRK, info ||
    0x01)`` is the whole output (RFC 5869 §2.3), computed with one HMAC instead of a full
    ``HKDFExpand`` object (the handshake makes ~36 of these calls).

    Raises:
        InternalError: unknown hash name, ``length`` < 1 or ``length`` > 255 * HashLen.
    """
    alg = _ALGS.get(name)
    if alg is not None:
        size = alg.digest_size
        if len(prk) >= size and 0 < length <= size:
            h = hmac.HMAC(prk, alg)
            h.update(info + b"\x01")
            return h.finalize() if length == size else h.finalize()[:length]
    try:
        return HKDFExpand(hash_algorithm(name), length, info).derive(prk)
    except ValueError as e:
        raise InternalError("HKDF-Expand length out of range") from e


def hkdf_expand_each(name: str, prk: bytes, *parts: tuple[bytes, int]) -> tuple[bytes, ...]:
    """``HKDF-Expand(prk, info, length)`` for each ``(info, length)`` of ``parts``, with the
    HMAC keyed once when every output fits in one block (a TLS 1.3 key, IV and finished
    key); otherwise one :func:`hkdf_expand` call each, with the same outputs and errors.

    Raises:
        InternalError: as :func:`hkdf_expand`.
    """
    alg = _ALGS.get(name)
    if alg is not None:
        size = alg.digest_size
        one_block = len(prk) >= size and bool(parts)
        for _, n in parts:
            if not 0 < n <= size:
                one_block = False
        if one_block:
            keyed = hmac.HMAC(prk, alg)
            out = []
            for info, n in parts[:-1]:
                h = keyed.copy()
                h.update(info + b"\x01")
                out.append(h.finalize()[:n])
            info, n = parts[-1]
            keyed.update(info + b"\x01")  # the last output uses the keyed HMAC itself
            out.append(keyed.finalize()[:n])
            return tuple(out)
    return tuple(hkdf_expand(name, prk, info, n) for info, n in parts)


def hkdf_expand_two(
    name: str, prk: bytes, info_a: bytes, len_a: int, info_b: bytes, len_b: int
) -> tuple[bytes, bytes]:
    """:func:`hkdf_expand_each` of two outputs (a TLS 1.3 traffic key and IV), written out
    (6 calls per handshake pair: no argument tuples, no loop).

    Raises:
        InternalError: as :func:`hkdf_expand`.
    """
    alg = _KEY_IV_FITS.get((name, len_a, len_b))
    if alg is None:
        alg = _ALGS.get(name)
        if alg is None or not (0 < len_a <= alg.digest_size and 0 < len_b <= alg.digest_size):
            alg = None
    if alg is not None and len(prk) >= alg.digest_size:
        keyed = hmac.HMAC(prk, alg)
        h = keyed.copy()
        h.update(info_a + b"\x01")
        keyed.update(info_b + b"\x01")  # the last output uses the keyed HMAC itself
        return h.finalize()[:len_a], keyed.finalize()[:len_b]
    return hkdf_expand(name, prk, info_a, len_a), hkdf_expand(name, prk, info_b, len_b)


def hkdf_expand_three(
    name: str, prk: bytes, info_a: bytes, len_a: int, info_b: bytes, len_b: int, info_c: bytes
) -> tuple[bytes, bytes, bytes]:
    """:func:`hkdf_expand_each` of a key, an IV and a HashLen output (a TLS 1.3 handshake
    traffic key, IV and finished key), written out as :func:`hkdf_expand_two` is.

    Raises:
        InternalError: as :func:`hkdf_expand`.
    """
    alg = _KEY_IV_FITS.get((name, len_a, len_b))
    if alg is None:
        alg = _ALGS.get(name)
        if alg is None or not (0 < len_a <= alg.digest_size and 0 < len_b <= alg.digest_size):
            alg = None
    if alg is not None and len(prk) >= alg.digest_size:
        keyed = hmac.HMAC(prk, alg)
        ha = keyed.copy()
        ha.update(info_a + b"\x01")
        hb = keyed.copy()
        hb.update(info_b + b"\x01")
        keyed.update(info_c + b"\x01")
        return ha.finalize()[:len_a], hb.finalize()[:len_b], keyed.finalize()
    a, b, c = hkdf_expand_each(
        name, prk, (info_a, len_a), (info_b, len_b), (info_c, hash_len(name))
    )
    return a, b, c
