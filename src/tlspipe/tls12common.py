"""TLS 1.2 pieces both handshake sides use: connection secrets, record keys, Finished,
the RFC 5705 exporter, and suite/signature compatibility (RFC 5246, RFC 5288, RFC 7905,
RFC 7627, RFC 8422).

Layer 5, beside ``conn``: imports errors, enums, crypto, keys, record.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives import hmac as hmac_

from .conn import CommonState
from .crypto.provider import Tls12CipherSuite
from .enums import AlertDescription, SignatureScheme
from .errors import ConfigError, PeerMisbehaved
from .keylog import KeyLog, NoKeyLog
from .keys import tls12 as ks12
from .record.layer import (
    MessageDecrypter,
    MessageEncrypter,
    Tls12ChaChaDecrypter,
    Tls12ChaChaEncrypter,
    Tls12GcmDecrypter,
    Tls12GcmEncrypter,
)

__all__ = [
    "MAX_RENEGOTIATION_REFUSALS",
    "ConnectionSecrets",
    "Tls12Exporter",
    "key_fits_suite",
    "scheme_fits_suite",
]

#: How many renegotiation attempts we refuse (with a no_renegotiation warning) before
#: treating the peer as misbehaving.
MAX_RENEGOTIATION_REFUSALS = 8

_ECDSA_SCHEMES = frozenset(
    {
        SignatureScheme.ecdsa_secp256r1_sha256,
        SignatureScheme.ecdsa_secp384r1_sha384,
        SignatureScheme.ecdsa_secp521r1_sha512,
        SignatureScheme.ed25519,
    }
)
_RSA_SCHEMES = frozenset(
    {
        SignatureScheme.rsa_pkcs1_sha256,
        SignatureScheme.rsa_pkcs1_sha384,
        SignatureScheme.rsa_pkcs1_sha512,
        SignatureScheme.rsa_pss_rsae_sha256,
        SignatureScheme.rsa_pss_rsae_sha384,
        SignatureScheme.rsa_pss_rsae_sha512,
        SignatureScheme.rsa_pss_pss_sha256,
        SignatureScheme.rsa_pss_pss_sha384,
        SignatureScheme.rsa_pss_pss_sha512,
    }
)
_RESERVED_LABELS = frozenset(
    {
        b"client finished",
        b"server finished",
        b"master secret",
        b"extended master secret",
        b"key expansion",
    }
)


def scheme_fits_suite(scheme: int, suite: Tls12CipherSuite) -> bool:
    """Whether a ServerKeyExchange signed with ``scheme`` suits ``suite``'s authentication
    (ECDHE_ECDSA: ECDSA or EdDSA, RFC 8422 §5.4; ECDHE_RSA: RSA PKCS#1 or PSS).

    Raises:
        Nothing.
    """
    return scheme in (_ECDSA_SCHEMES if suite.sign == "ECDSA" else _RSA_SCHEMES)


def key_fits_suite(key_algorithm: str, suite: Tls12CipherSuite) -> bool:
    """Whether a certificate key of ``key_algorithm`` ("ECDSA"/"ED25519"/"RSA") can
    authenticate ``suite``.

    Raises:
        Nothing.
    """
    if suite.sign == "ECDSA":
        return key_algorithm in ("ECDSA", "ED25519")
    return key_algorithm == "RSA"


class ConnectionSecrets:
    """The master secret of one TLS 1.2 connection with its randoms and suite.

    Derives the record keys (RFC 5246 §6.3), Finished values (§7.4.9) and logs the master
    secret (NSS ``CLIENT_RANDOM``).
    """

    __slots__ = (
        "_block",
        "_prf",
        "client_random",
        "extended_ms",
        "master_secret",
        "server_random",
        "suite",
    )

    def __init__(
        self,
        suite: Tls12CipherSuite,
        master_secret: bytes,
        client_random: bytes,
        server_random: bytes,
        extended_ms: bool,
    ) -> None:
        self.suite = suite
        self.master_secret = master_secret
        self.client_random = client_random
        self.server_random = server_random
        self.extended_ms = extended_ms
        # The PRF's HMAC keyed with the master secret (key block and both Finished values
        # copy it) and the split key block, each made on first use.
        self._prf: hmac_.HMAC | None = None
        self._block: tuple[bytes, bytes, bytes, bytes, bytes] | None = None

    def __repr__(self) -> str:
        return f"ConnectionSecrets({self.suite.suite.name}, ems={self.extended_ms})"

    @classmethod
    def from_key_exchange(
        cls,
        suite: Tls12CipherSuite,
        pre_master_secret: bytes,
        client_random: bytes,
        server_random: bytes,
        session_hash: bytes | None,
    ) -> ConnectionSecrets:
        """Derive the master secret: extended (RFC 7627 §4) when ``session_hash`` is given
        (the transcript hash through ClientKeyExchange), else classic (RFC 5246 §8.1).

        Raises:
            Nothing.
        """
        if session_hash is not None:
            ms = ks12.extended_master_secret(suite.hash_name, pre_master_secret, session_hash)
        else:
            ms = ks12.master_secret(
                suite.hash_name, pre_master_secret, client_random, server_random
            )
        return cls(suite, ms, client_random, server_random, session_hash is not None)

    def log(self, keylog: KeyLog) -> None:
        """Write the ``CLIENT_RANDOM`` key log line.

        Raises:
            Nothing.
        """
        if type(keylog) is not NoKeyLog:  # the default logs nothing: skip its calls
            ks12.log_master_secret(keylog, self.client_random, self.master_secret)

    def _keyed_prf(self) -> hmac_.HMAC:
        keyed = self._prf
        if keyed is None:
            keyed = self._prf = ks12.prf_key(self.suite.hash_name, self.master_secret)
        return keyed

    def _keys(self) -> tuple[bytes, bytes, bytes, bytes, bytes]:
        """The key block, split (computed once for both directions)."""
        block = self._block
        if block is None:
            suite = self.suite
            raw = ks12.p_hash(
                self._keyed_prf(),
                ks12.key_block_seed(self.client_random, self.server_random),
                ks12.key_block_len(suite),
            )
            block = self._block = ks12.split_key_block(suite, raw)
        return block

    def encrypter(self, client: bool) -> MessageEncrypter:
        """Record protection for data written by the client (``client=True``) or server.

        Raises:
            Nothing.
        """
        ck, sk, civ, siv, seed = self._block or self._keys()
        key, iv = (ck, civ) if client else (sk, siv)
        alg = self.suite.aead
        if self.suite.explicit_nonce_len:
            return Tls12GcmEncrypter.from_key(alg, key, iv, seed)
        return Tls12ChaChaEncrypter.from_key(alg, key, iv)

    def decrypter(self, client: bool) -> MessageDecrypter:
        """Record protection for data written by the client (``client=True``) or server.

        Raises:
            Nothing.
        """
        ck, sk, civ, siv, _ = self._block or self._keys()
        key, iv = (ck, civ) if client else (sk, siv)
        alg = self.suite.aead
        if self.suite.explicit_nonce_len:
            return Tls12GcmDecrypter.from_key(alg, key, iv)
        return Tls12ChaChaDecrypter.from_key(alg, key, iv)

    def verify_data(self, client: bool, handshake_hash: bytes) -> bytes:
        """The Finished verify_data of the client (``client=True``) or server.

        Raises:
            Nothing.
        """
        label = b"client finished" if client else b"server finished"
        # = ks12.verify_data(hash, master_secret, label, handshake_hash), keyed once
        keyed = self._prf or self._keyed_prf()
        return ks12.p_hash(keyed, label + handshake_hash, ks12.VERIFY_DATA_LEN)

    def check_finished(self, client: bool, handshake_hash: bytes, received: bytes) -> None:
        """Compare a received Finished in constant time.

        Raises:
            PeerMisbehaved: the value is wrong (alert ``decrypt_error``).
        """
        if not hmac.compare_digest(self.verify_data(client, handshake_hash), received):
            who = "client" if client else "server"
            raise PeerMisbehaved(f"{who} Finished is incorrect", AlertDescription.decrypt_error)

    def install_encrypter(self, cx: CommonState, client: bool) -> None:
        """Switch our writes to the new keys (right after sending ChangeCipherSpec).

        Raises:
            Nothing.
        """
        cx.record_layer.set_encrypter(self.encrypter(client))

    def install_decrypter(self, cx: CommonState, client: bool) -> None:
        """Switch reads to the peer's new keys (on receiving ChangeCipherSpec).

        Raises:
            PeerMisbehaved: a handshake message straddles the ChangeCipherSpec
                (unexpected_message).
        """
        if cx.joiner.pending:  # = not is_empty(), without the call
            raise PeerMisbehaved(
                "handshake message spans ChangeCipherSpec", AlertDescription.unexpected_message
            )
        cx.record_layer.set_decrypter(self.decrypter(client))


class Tls12Exporter:
    """RFC 5705 keying material exporter over the TLS 1.2 master secret."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: ConnectionSecrets) -> None:
        self._secrets = secrets

    def __repr__(self) -> str:
        return "Tls12Exporter()"

    def export(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """Derive ``length`` bytes for ``label`` and ``context`` (RFC 5705 §4).

        Raises:
            ConfigError: a label reserved by TLS (RFC 5705 §4), ``length`` out of range
                (1..65535) or a context of 2^16 bytes or more.
        """
        label = bytes(label)
        if label in _RESERVED_LABELS:
            raise ConfigError("exporter label is reserved by TLS")
        if not 0 < length <= 0xFFFF:
            raise ConfigError("exporter length out of range")
        s = self._secrets
        return ks12.export_keying_material(
            s.suite.hash_name,
            s.master_secret,
            label,
            s.client_random,
            s.server_random,
            None if context is None else bytes(context),
            length,
        )
