"""The TLS 1.3 key schedule (RFC 8446 §7.1) as a typestate, and its free functions.

::

    KeyScheduleEarly(suite, psk)            early secret = HKDF-Extract(0, PSK or 0^L)
      .binder_key / .compute_binder            §4.2.11.2
      .client_early_traffic_secret(h_ch)       "c e traffic"   (keylog CLIENT_EARLY_TRAFFIC_SECRET)
      .early_exporter_master_secret(h_ch)      "e exp master"  (keylog EARLY_EXPORTER_SECRET)
      .into_handshake(shared_secret)  ->
    KeyScheduleHandshake                    handshake secret
      .client_handshake_traffic_secret(h_sh)   "c hs traffic"  (CLIENT_HANDSHAKE_TRAFFIC_SECRET)
      .server_handshake_traffic_secret(h_sh)   "s hs traffic"  (SERVER_HANDSHAKE_TRAFFIC_SECRET)
      .server_finished_verify_data(h)          §4.4.4 (needs the server secret derived first)
      .client_finished_verify_data(h)          §4.4.4 (needs the client secret derived first)
      .into_traffic(h_server_finished)  ->
    KeyScheduleTraffic                      master secret
      .client_application_traffic_secret_0     "c ap traffic"  (CLIENT_TRAFFIC_SECRET_0)
      .server_application_traffic_secret_0     "s ap traffic"  (SERVER_TRAFFIC_SECRET_0)
      .exporter_master_secret                  "exp master"    (EXPORTER_SECRET)
      .client_finished_verify_data(h)          the client's Finished comes after into_traffic
      .resumption_master_secret(h_client_finished)   "res master"
      .export_keying_material(label, ctx, n)   §7.5
      .next_client/server_application_traffic_secret()   KeyUpdate, §7.2

Transcript hashes are passed in (see :mod:`tlspipe.keys.transcript`); ``h`` arguments are
``Transcript-Hash`` values.  Secrets never appear in reprs.  A :class:`~tlspipe.keylog.KeyLog`
given to :class:`KeyScheduleEarly` is called with the NSS labels named above.

Layering: imports :mod:`tlspipe.errors`, :mod:`tlspipe.keylog`, :mod:`tlspipe.crypto`, and
``cryptography``'s HMAC and HKDF-Extract: the schedules key their HMACs themselves (as
:mod:`tlspipe.keys.tls12` does for the PRF), one Python call less per secret.
"""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..crypto.hashing import (
    hash_algorithm,
    hash_len,
    hash_of,
    hkdf_expand,
    hkdf_extract,
    hmac_sign,
)
from ..crypto.provider import Tls13CipherSuite
from ..errors import ConfigError, InternalError
from ..keylog import KeyLog, NoKeyLog

__all__ = [
    "KeyScheduleEarly",
    "KeyScheduleHandshake",
    "KeyScheduleTraffic",
    "compute_binder",
    "derive_secret",
    "export_keying_material",
    "finished_key",
    "finished_verify_data",
    "hkdf_expand_label",
    "hkdf_label",
    "next_traffic_secret",
    "resumption_psk",
    "traffic_keys",
    "traffic_keys_and_finished_key",
]


# ---------------------------------------------------------------------------------- functions


def hkdf_expand_label(
    hash_name: str, secret: bytes, label: bytes, context: bytes, length: int
) -> bytes:
    """HKDF-Expand-Label(Secret, Label, Context, Length) (RFC 8446 §7.1).

    ``label`` is given without the ``"tls13 "`` prefix (e.g. ``b"key"``).

    Raises:
        InternalError: label or context too long, or length out of range (a bug).
    """
    info = _LABELS.get((label, context, length))
    if info is None:
        info = hkdf_label(label, context, length)
    return hkdf_expand(hash_name, secret, info, length)


def _derive(keyed: hmac.HMAC, label: bytes, th: bytes, n: int) -> bytes:
    """Derive-Secret(Secret, Label, Messages) with ``keyed`` the HMAC keyed with Secret
    (never finalized itself), ``th`` = Hash(Messages) and ``n`` the hash
    length.

    An n-octet output is the single block T(1) = HMAC(Secret, HkdfLabel || 0x01) of
    HKDF-Expand (RFC 5869 §2.3, as :func:`~tlspipe.crypto.hashing.hkdf_expand` computes it):
    taken here from a copy of ``keyed``, without a frame per expansion, 9 per handshake pair.
    The ``HkdfLabel`` up to ``th`` is looked up (no cache by transcript hash, which never
    repeats).

    Raises:
        InternalError: ``th`` longer than 255 octets (a bug).
    """
    prefix = _DERIVE_PREFIXES.get((label, n))
    info = prefix + th if prefix is not None and len(th) == n else hkdf_label(label, th, n)
    h = keyed.copy()
    h.update(info + b"\x01")
    return h.finalize()


def hkdf_label(label: bytes, context: bytes, length: int) -> bytes:
    """The encoded ``HkdfLabel`` (RFC 8446 §7.1) used as HKDF-Expand info::

        struct { uint16 length; opaque label<7..255> = "tls13 " + Label;
                 opaque context<0..255>; } HkdfLabel;

    Raises:
        InternalError: label or context too long, or length out of range (a bug).
    """
    key = (label, context, length)
    cached = _LABELS.get(key)
    if cached is not None:
        return cached
    head = _HEADS.get((label, length))
    if head is None:
        full = b"tls13 " + label
        if len(full) > 255 or not 0 < length < 65536:
            raise InternalError("HKDF-Expand-Label argument out of range")
        head = struct.pack("!HB", length, len(full)) + full
        if len(_HEADS) < 256:
            _HEADS[(label, length)] = head
    if len(context) > 255:
        raise InternalError("HKDF-Expand-Label argument out of range")
    out = head + _OCTETS[len(context)] + context
    if (not context or context in _EMPTY_HASHES) and len(_LABELS) < 256:
        _LABELS[key] = out  # fixed labels ("key", "iv", "finished", "derived", ...)
    return out


# Encoded HkdfLabels whose context is empty or Hash(""): the same few every handshake.
_LABELS: dict[tuple[bytes, bytes, int], bytes] = {}
# (label, length) → the HkdfLabel up to its context (uint16 length, the full label).
_HEADS: dict[tuple[bytes, int], bytes] = {}
_OCTETS = tuple(bytes((i,)) for i in range(256))
_EMPTY_HASHES = frozenset(hash_of(h, b"") for h in ("sha256", "sha384"))
_HASH_LEN = {"sha256": 32, "sha384": 48}
# hash name → (early secret, its "derived" secret) for a handshake without a PSK (public).
_NO_PSK: dict[str, tuple[bytes, bytes]] = {}


# The suite hashes (cryptography algorithm objects) of the one-block expansions below.
_ALGS = {h: hash_algorithm(h) for h in _HASH_LEN}
# The HkdfLabels of traffic_keys* (RFC 8446 §7.3, §4.4.4): the AEAD key by key length, the IV,
# the finished key by hash name (module constants: no tuple-keyed lookup per handshake key).
_KEY_INFO = {n: hkdf_label(b"key", b"", n) for n in (16, 32)}
_IV_INFO = hkdf_label(b"iv", b"", 12)
_FINISHED_INFO = {h: hkdf_label(b"finished", b"", n) for h, n in _HASH_LEN.items()}
# The same with HKDF-Expand's block counter 0x01 appended: the HMAC input of T(1).
_KEY_BLOCK = {n: info + b"\x01" for n, info in _KEY_INFO.items()}
_IV_BLOCK = _IV_INFO + b"\x01"
# hash name → the HkdfLabel of "resumption" up to its context's length octet
_RESUMPTION_HEAD = {h: hkdf_label(b"resumption", b"", n)[:-1] for h, n in _HASH_LEN.items()}
_FINISHED_BLOCK = {h: info + b"\x01" for h, info in _FINISHED_INFO.items()}


# (label, n) → the HkdfLabel of Derive-Secret(., label, th) up to th, for an n-octet th: the
# uint16 length n, the full label and the context's length octet n.
_DERIVE_PREFIXES = {
    (label, n): hkdf_label(label, b"", n)[:-1] + _OCTETS[n]
    for n in _HASH_LEN.values()
    for label in (
        b"c e traffic",
        b"e exp master",
        b"c hs traffic",
        b"s hs traffic",
        b"c ap traffic",
        b"s ap traffic",
        b"exp master",
        b"res master",
        b"res binder",
        b"ext binder",
        b"derived",
    )
}
# hash name → the T(1) input of Derive-Secret(., "derived", ""): the HkdfLabel with context
# Hash("") and the counter 0x01 (the handshake and master secrets' salts; a constant).
_DERIVED_BLOCK = {
    h: _DERIVE_PREFIXES[(b"derived", n)] + hash_of(h, b"") + b"\x01" for h, n in _HASH_LEN.items()
}
# (label, hash name) → the same for the binder keys, Derive-Secret(., "res binder" | "ext
# binder", "") (RFC 8446 §7.1)
_BINDER_BLOCK = {
    (label, h): _DERIVE_PREFIXES[(label, n)] + hash_of(h, b"") + b"\x01"
    for h, n in _HASH_LEN.items()
    for label in (b"res binder", b"ext binder")
}


def derive_secret(hash_name: str, secret: bytes, label: bytes, transcript_hash: bytes) -> bytes:
    """Derive-Secret(Secret, Label, Messages) given ``transcript_hash`` = Hash(Messages)
    (RFC 8446 §7.1).

    Raises:
        InternalError: bad arguments (a bug).
    """
    n = _HASH_LEN.get(hash_name)
    return hkdf_expand_label(
        hash_name, secret, label, transcript_hash, n if n is not None else hash_len(hash_name)
    )


def _hash_len(hash_name: str) -> int:
    n = _HASH_LEN.get(hash_name)
    return n if n is not None else hash_len(hash_name)


_EMPTY_HASH: dict[str, bytes] = {}


def _empty_hash(hash_name: str) -> bytes:
    h = _EMPTY_HASH.get(hash_name)
    if h is None:
        h = _EMPTY_HASH[hash_name] = hash_of(hash_name, b"")
    return h


def finished_key(hash_name: str, base_key: bytes) -> bytes:
    """finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length) (§4.4.4).

    Raises:
        InternalError: bad arguments (a bug).
    """
    info = _FINISHED_INFO.get(hash_name)
    if info is None:
        return hkdf_expand_label(hash_name, base_key, b"finished", b"", _hash_len(hash_name))
    return hkdf_expand(hash_name, base_key, info, _HASH_LEN[hash_name])


def finished_verify_data(hash_name: str, base_key: bytes, transcript_hash: bytes) -> bytes:
    """verify_data = HMAC(finished_key(BaseKey), Transcript-Hash) (RFC 8446 §4.4.4).

    Compare received values with ``hmac.compare_digest``.

    Raises:
        InternalError: bad arguments (a bug).
    """
    return hmac_sign(hash_name, finished_key(hash_name, base_key), transcript_hash)


def compute_binder(hash_name: str, binder_key: bytes, truncated_hash: bytes) -> bytes:
    """A PSK binder: the Finished computation keyed by ``binder_key`` over
    Hash(transcript so far || truncated ClientHello) (RFC 8446 §4.2.11.2).

    Raises:
        InternalError: bad arguments (a bug).
    """
    return finished_verify_data(hash_name, binder_key, truncated_hash)


def traffic_keys(suite: Tls13CipherSuite, secret: bytes) -> tuple[bytes, bytes]:
    """(write_key, write_iv) for a traffic secret (RFC 8446 §7.3).

    Raises:
        InternalError: bad arguments (a bug).
    """
    key_len = suite.aead.key_len
    key_block = _KEY_BLOCK.get(key_len)
    alg = _ALGS.get(suite.hash_name)
    if key_block is None or alg is None:  # not an RFC suite's key length or hash
        h = suite.hash_name
        return hkdf_expand_label(h, secret, b"key", b"", key_len), hkdf_expand_label(
            h, secret, b"iv", b"", 12
        )
    # Each output is one HKDF-Expand block T(1) = HMAC(secret, info || 0x01) (RFC 5869 §2.3,
    # as crypto.hashing.hkdf_expand computes it): one keyed HMAC, copied for the key and used
    # itself for the IV, here without a further call per key (8 calls per handshake pair).
    keyed = hmac.HMAC(secret, alg)
    hk = keyed.copy()
    hk.update(key_block)
    keyed.update(_IV_BLOCK)
    return hk.finalize()[:key_len], keyed.finalize()[:12]


def traffic_keys_and_finished_key(
    suite: Tls13CipherSuite, secret: bytes
) -> tuple[bytes, bytes, bytes]:
    """(write_key, write_iv, finished_key) for a handshake traffic secret (RFC 8446 §7.3,
    §4.4.4): the three expansions of one secret from one keyed HMAC.

    Raises:
        InternalError: bad arguments (a bug).
    """
    key_len = suite.aead.key_len
    key_block = _KEY_BLOCK.get(key_len)
    h = suite.hash_name
    alg = _ALGS.get(h)
    if key_block is None or alg is None:  # not an RFC suite's key length or hash
        key, iv = traffic_keys(suite, secret)
        return key, iv, finished_key(h, secret)
    # as traffic_keys, the finished key (HashLen: one whole block) from the keyed HMAC itself
    keyed = hmac.HMAC(secret, alg)
    hk = keyed.copy()
    hk.update(key_block)
    hi = keyed.copy()
    hi.update(_IV_BLOCK)
    keyed.update(_FINISHED_BLOCK[h])
    return hk.finalize()[:key_len], hi.finalize()[:12], keyed.finalize()


def next_traffic_secret(hash_name: str, secret: bytes) -> bytes:
    """application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "",
    Hash.length) (RFC 8446 §7.2, KeyUpdate).

    Raises:
        InternalError: bad arguments (a bug).
    """
    return hkdf_expand_label(hash_name, secret, b"traffic upd", b"", _hash_len(hash_name))


def resumption_psk(hash_name: str, resumption_master_secret: bytes, ticket_nonce: bytes) -> bytes:
    """The PSK of a ticket: HKDF-Expand-Label(resumption_master_secret, "resumption",
    ticket_nonce, Hash.length) (RFC 8446 §4.6.1).

    Raises:
        InternalError: nonce longer than 255 bytes (a bug; the decoder bounds it).
    """
    alg = _ALGS.get(hash_name)
    if alg is None or len(ticket_nonce) > 255:  # not an RFC suite's hash, or a bug
        return hkdf_expand_label(
            hash_name, resumption_master_secret, b"resumption", ticket_nonce, hash_len(hash_name)
        )
    # one HKDF-Expand block T(1) (Hash.length octets), its HkdfLabel built here: the nonce
    # context differs per ticket (one per ticket on both sides)
    mac = hmac.HMAC(resumption_master_secret, alg)
    mac.update(_RESUMPTION_HEAD[hash_name] + _OCTETS[len(ticket_nonce)] + ticket_nonce + b"\x01")
    return mac.finalize()


def export_keying_material(
    hash_name: str, exporter_secret: bytes, label: bytes, context: bytes | None, length: int
) -> bytes:
    """TLS-Exporter(label, context_value, key_length) (RFC 8446 §7.5)::

        HKDF-Expand-Label(Derive-Secret(Secret, label, ""), "exporter", Hash(context), length)

    TLS 1.3 makes no difference between no context and an empty one.

    Raises:
        ConfigError: label longer than 249 bytes or ``length`` not in 1..255*Hash.length.
    """
    if len(label) > 249 or not 0 < length <= 255 * hash_len(hash_name):
        raise ConfigError("exporter label or length out of range")
    secret = derive_secret(hash_name, exporter_secret, label, _empty_hash(hash_name))
    return hkdf_expand_label(
        hash_name, secret, b"exporter", hash_of(hash_name, context or b""), length
    )


# ---------------------------------------------------------------------------------- typestate


class _Base:
    __slots__ = ("_alg", "_client_random", "_keylog", "_n", "suite")

    def __init__(
        self, suite: Tls13CipherSuite, keylog: KeyLog | None, client_random: bytes
    ) -> None:
        self.suite = suite
        # None: nothing is logged (the default NoKeyLog), so callers skip _log altogether
        self._keylog = None if keylog is None or type(keylog) is NoKeyLog else keylog
        self._client_random = client_random
        # the hash, for the HMACs keyed here (no crypto.hashing call per HMAC: ~8 per pair)
        alg = _ALGS.get(suite.hash_name)
        if alg is None:
            alg = hash_algorithm(suite.hash_name)  # raises InternalError: unknown hash
        self._alg = alg
        self._n = alg.digest_size

    def _inherit(self, parent: _Base) -> hashes.HashAlgorithm:
        # A later stage takes the earlier one's settings as they are (two stages per side
        # and handshake: no super() call, key-log check or hash lookup again); returns the hash.
        self.suite = parent.suite
        self._keylog = parent._keylog
        self._client_random = parent._client_random
        self._n = parent._n
        alg = self._alg = parent._alg
        return alg

    def _log(self, label: str, secret: bytes) -> None:
        kl = self._keylog
        if kl is not None and kl.will_log(label):
            kl.log(label, self._client_random, secret)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.suite.suite.name})"


class KeyScheduleEarly(_Base):
    """The early secret stage: HKDF-Extract(0, PSK), or with no PSK HKDF-Extract(0, 0^L).

    Args:
        suite: the negotiated (or, for a client offering a PSK, the PSK's) suite.
        psk: the pre-shared key, or None for a full handshake.
        keylog: receives the secrets (NSS labels); default logs nothing.
        client_random: ClientHello.random (the key log's second column).
    """

    __slots__ = ("_derived", "_early_secret")

    def __init__(
        self,
        suite: Tls13CipherSuite,
        psk: bytes | None,
        *,
        keylog: KeyLog | None = None,
        client_random: bytes = b"",
    ) -> None:
        super().__init__(suite, keylog, client_random)
        h = suite.hash_name
        self._derived: bytes | None = None
        if psk is None:
            # Without a PSK the early secret and its "derived" secret are public constants
            # of the hash (HKDF-Extract(0, 0^L)): computed once per hash, not per handshake.
            cached = _NO_PSK.get(h)
            if cached is None:
                early = hkdf_extract(h, None, bytes(suite.hash_len))
                cached = _NO_PSK[h] = (early, derive_secret(h, early, b"derived", _empty_hash(h)))
            self._early_secret, self._derived = cached
        else:
            self._early_secret = hkdf_extract(h, None, psk)

    def binder_key(self, resumption: bool = True) -> bytes:
        """Derive-Secret(early, "res binder" | "ext binder", "") (RFC 8446 §7.1).

        Raises:
            Nothing.
        """
        label = b"res binder" if resumption else b"ext binder"
        h = self.suite.hash_name
        # with a PSK the binder key and "derived" both expand the early secret: it is keyed
        # once here, and "derived" is taken from the same keyed HMAC now
        keyed = hmac.HMAC(self._early_secret, self._alg)
        derived_in = _DERIVED_BLOCK.get(h)
        binder_in = _BINDER_BLOCK.get((label, h))
        if derived_in is None or binder_in is None:  # not an RFC suite's hash
            n = self._n
            if self._derived is None:
                self._derived = _derive(keyed, b"derived", _empty_hash(h), n)
            return _derive(keyed, label, _empty_hash(h), n)
        # both single HKDF-Expand blocks (as _derive computes them), their inputs constants
        if self._derived is None:
            k = keyed.copy()
            k.update(derived_in)
            self._derived = k.finalize()
        keyed.update(binder_in)
        return keyed.finalize()

    def compute_binder(self, truncated_hash: bytes, *, resumption: bool = True) -> bytes:
        """The PSK binder for Hash(transcript || truncated ClientHello) (§4.2.11.2).

        Raises:
            Nothing.
        """
        binder_key = self.binder_key(resumption)
        block = _FINISHED_BLOCK.get(self.suite.hash_name)
        if block is None:  # not an RFC suite's hash
            return compute_binder(self.suite.hash_name, binder_key, truncated_hash)
        # compute_binder's finished key (one HKDF-Expand block) and HMAC, without its frames
        fk = hmac.HMAC(binder_key, self._alg)
        fk.update(block)
        mac = hmac.HMAC(fk.finalize(), self._alg)
        mac.update(truncated_hash)
        return mac.finalize()

    def client_early_traffic_secret(self, hs_hash: bytes) -> bytes:
        """Derive-Secret(early, "c e traffic", ClientHello) (logged as
        CLIENT_EARLY_TRAFFIC_SECRET).

        Raises:
            Nothing.
        """
        s = derive_secret(self.suite.hash_name, self._early_secret, b"c e traffic", hs_hash)
        self._log("CLIENT_EARLY_TRAFFIC_SECRET", s)
        return s

    def early_exporter_master_secret(self, hs_hash: bytes) -> bytes:
        """Derive-Secret(early, "e exp master", ClientHello) (logged as
        EARLY_EXPORTER_SECRET).

        Raises:
            Nothing.
        """
        s = derive_secret(self.suite.hash_name, self._early_secret, b"e exp master", hs_hash)
        self._log("EARLY_EXPORTER_SECRET", s)
        return s

    def into_handshake(self, shared_secret: bytes | None) -> KeyScheduleHandshake:
        """Mix in the (EC)DHE/KEM shared secret (None for psk_ke: 0^L) → handshake secret.

        Raises:
            Nothing.
        """
        h = self.suite.hash_name
        derived = self._derived
        if derived is None:
            derived = derive_secret(h, self._early_secret, b"derived", _empty_hash(h))
        ikm = shared_secret if shared_secret is not None else bytes(self.suite.hash_len)
        return KeyScheduleHandshake(self, HKDF.extract(self._alg, derived, ikm))


class KeyScheduleHandshake(_Base):
    """The handshake secret stage (made by :meth:`KeyScheduleEarly.into_handshake`).

    :meth:`client_handshake_keys` / :meth:`server_handshake_keys` give a handshake traffic
    secret's record key and IV and keep its finished key, all three from one keyed HMAC;
    the Finished computations then reuse that finished key.
    """

    __slots__ = (
        "_client_fk",
        "_client_hs",
        "_keyed",
        "_server_fk",
        "_server_hs",
    )

    def __init__(self, early: KeyScheduleEarly, handshake_secret: bytes) -> None:
        # keyed once for "c hs traffic", "s hs traffic" and "derived"
        self._keyed = hmac.HMAC(handshake_secret, self._inherit(early))
        self._client_hs: bytes | None = None
        self._server_hs: bytes | None = None
        self._client_fk: bytes | None = None
        self._server_fk: bytes | None = None

    def client_handshake_traffic_secret(self, hs_hash: bytes) -> bytes:
        """Derive-Secret(hs, "c hs traffic", ClientHello...ServerHello); remembered for the
        client Finished; logged as CLIENT_HANDSHAKE_TRAFFIC_SECRET.

        Raises:
            Nothing.
        """
        s = _derive(self._keyed, b"c hs traffic", hs_hash, self._n)
        self._client_hs = s
        if self._keylog is not None:
            self._log("CLIENT_HANDSHAKE_TRAFFIC_SECRET", s)
        return s

    def server_handshake_traffic_secret(self, hs_hash: bytes) -> bytes:
        """Derive-Secret(hs, "s hs traffic", ClientHello...ServerHello); remembered for the
        server Finished; logged as SERVER_HANDSHAKE_TRAFFIC_SECRET.

        Raises:
            Nothing.
        """
        s = _derive(self._keyed, b"s hs traffic", hs_hash, self._n)
        self._server_hs = s
        if self._keylog is not None:
            self._log("SERVER_HANDSHAKE_TRAFFIC_SECRET", s)
        return s

    def client_handshake_keys(self) -> tuple[bytes, bytes]:
        """(key, iv) of the client handshake traffic secret; its finished key is kept.

        Raises:
            InternalError: the client handshake traffic secret was not derived yet (a bug).
        """
        if self._client_hs is None:
            raise InternalError("client handshake traffic secret not derived")
        key, iv, self._client_fk = traffic_keys_and_finished_key(self.suite, self._client_hs)
        return key, iv

    def server_handshake_keys(self) -> tuple[bytes, bytes]:
        """(key, iv) of the server handshake traffic secret; its finished key is kept.

        Raises:
            InternalError: the server handshake traffic secret was not derived yet (a bug).
        """
        if self._server_hs is None:
            raise InternalError("server handshake traffic secret not derived")
        key, iv, self._server_fk = traffic_keys_and_finished_key(self.suite, self._server_hs)
        return key, iv

    def server_finished_verify_data(self, transcript_hash: bytes) -> bytes:
        """Server Finished verify_data over Hash(ClientHello...CertificateVerify) (§4.4.4).

        Raises:
            InternalError: the server handshake traffic secret was not derived yet (a bug).
        """
        h = self.suite.hash_name
        fk = self._server_fk
        if fk is None:
            if self._server_hs is None:
                raise InternalError("server handshake traffic secret not derived")
            fk = self._server_fk = finished_key(h, self._server_hs)
        mac = hmac.HMAC(fk, self._alg)
        mac.update(transcript_hash)
        return mac.finalize()

    def client_finished_verify_data(self, transcript_hash: bytes) -> bytes:
        """Client Finished verify_data (§4.4.4).

        Raises:
            InternalError: the client handshake traffic secret was not derived yet (a bug).
        """
        if self._client_hs is None:
            raise InternalError("client handshake traffic secret not derived")
        mac = hmac.HMAC(self._client_finished_key(), self._alg)
        mac.update(transcript_hash)
        return mac.finalize()

    def _client_finished_key(self) -> bytes:
        fk = self._client_fk
        if fk is None:
            if self._client_hs is None:
                raise InternalError("client handshake traffic secret not derived")
            fk = self._client_fk = finished_key(self.suite.hash_name, self._client_hs)
        return fk

    def into_traffic(self, hs_hash_after_server_finished: bytes) -> KeyScheduleTraffic:
        """Derive the master secret and, from Hash(ClientHello...server Finished), the
        application traffic secrets and the exporter master secret (logged).

        Raises:
            InternalError: the client handshake traffic secret was not derived (a bug).
        """
        if self._client_hs is None:
            raise InternalError("client handshake traffic secret not derived")
        h = self.suite.hash_name
        n = self._n
        block = _DERIVED_BLOCK.get(h)
        if block is None:  # not an RFC suite's hash
            derived = _derive(self._keyed, b"derived", _empty_hash(h), n)
        else:  # the same single HKDF-Expand block as _derive computes, its input a constant
            k = self._keyed.copy()
            k.update(block)
            derived = k.finalize()
        master = HKDF.extract(self._alg, derived, bytes(n))  # HKDF-Extract(derived, 0^n)
        return KeyScheduleTraffic(
            self, master, hs_hash_after_server_finished, self._client_finished_key()
        )


class KeyScheduleTraffic(_Base):
    """The master secret stage (made by :meth:`KeyScheduleHandshake.into_traffic`)."""

    __slots__ = (
        "_client_app",
        "_client_app_0",
        "_client_fk",
        "_exporter",
        "_hs_hash",
        "_keyed",
        "_server_app",
        "_server_app_0",
    )

    def __init__(
        self,
        handshake: KeyScheduleHandshake,
        master_secret: bytes,
        hs_hash: bytes,
        client_finished_key: bytes,
    ) -> None:
        # keyed once for the three below and "res master"
        keyed = self._keyed = hmac.HMAC(master_secret, self._inherit(handshake))
        n = self._n
        self._client_fk = client_finished_key
        self._client_app = self._client_app_0 = _derive(keyed, b"c ap traffic", hs_hash, n)
        self._server_app = self._server_app_0 = _derive(keyed, b"s ap traffic", hs_hash, n)
        # the exporter master secret when first used (at once when it is to be logged)
        self._hs_hash = hs_hash
        self._exporter: bytes | None = None
        if self._keylog is not None:
            self._exporter = _derive(keyed, b"exp master", hs_hash, n)
            self._log("CLIENT_TRAFFIC_SECRET_0", self._client_app_0)
            self._log("SERVER_TRAFFIC_SECRET_0", self._server_app_0)
            self._log("EXPORTER_SECRET", self._exporter)

    @property
    def client_application_traffic_secret_0(self) -> bytes:
        """client_application_traffic_secret_0."""
        return self._client_app_0

    @property
    def server_application_traffic_secret_0(self) -> bytes:
        """server_application_traffic_secret_0."""
        return self._server_app_0

    @property
    def exporter_master_secret(self) -> bytes:
        """exporter_master_secret."""
        return self._exporter_secret()

    def _exporter_secret(self) -> bytes:
        s = self._exporter
        if s is None:
            s = self._exporter = _derive(self._keyed, b"exp master", self._hs_hash, self._n)
        return s

    def client_finished_verify_data(self, transcript_hash: bytes) -> bytes:
        """Client Finished verify_data over Hash(ClientHello...server Finished
        [...EndOfEarlyData, client Certificate, CertificateVerify]) (§4.4.4).

        Raises:
            Nothing.
        """
        mac = hmac.HMAC(self._client_fk, self._alg)
        mac.update(transcript_hash)
        return mac.finalize()

    def resumption_master_secret(self, hash_after_client_finished: bytes) -> bytes:
        """Derive-Secret(master, "res master", ClientHello...client Finished).

        Raises:
            Nothing.
        """
        return _derive(self._keyed, b"res master", hash_after_client_finished, self._n)

    def export_keying_material(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """RFC 8446 §7.5 exporter from this connection's exporter_master_secret.

        Raises:
            ConfigError: label or length out of range.
        """
        return export_keying_material(
            self.suite.hash_name, self._exporter_secret(), label, context, length
        )

    def next_client_application_traffic_secret(self) -> bytes:
        """Advance and return the client's application traffic secret (KeyUpdate, §7.2).

        Raises:
            Nothing.
        """
        self._client_app = next_traffic_secret(self.suite.hash_name, self._client_app)
        return self._client_app

    def next_server_application_traffic_secret(self) -> bytes:
        """Advance and return the server's application traffic secret (KeyUpdate, §7.2).

        Raises:
            Nothing.
        """
        self._server_app = next_traffic_secret(self.suite.hash_name, self._server_app)
        return self._server_app
