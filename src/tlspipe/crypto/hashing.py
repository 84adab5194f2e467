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
    "hkdf_extract",
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
