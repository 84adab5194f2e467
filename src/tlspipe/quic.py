"""QUIC support (RFC 9001): the TLS 1.3 handshake without records, and QUIC packet keys.

QUIC carries TLS handshake messages in CRYPTO frames at four encryption levels and protects
packets itself.  :class:`ClientConnection` and :class:`ServerConnection` run the ordinary
tlspipe TLS 1.3 states in *QUIC mode* (:class:`tlspipe.conn.QuicSink`): handshake bytes go to
per-level buffers instead of records, and every traffic secret the key schedule produces is
reported as a :class:`KeyChange` (packet key, IV and header-protection key derived with the
``"quic key"``/``"quic iv"``/``"quic hp"`` labels, RFC 9001 §5.1) instead of protecting
records.  The QUIC stack:

1. sends what :meth:`~ClientConnection.write_hs` returns in CRYPTO frames of the given level;
2. installs the keys :meth:`~ClientConnection.take_key_changes` reports;
3. passes received CRYPTO data to :meth:`~ClientConnection.read_hs` (with its level);
4. on an error, closes with CONNECTION_CLOSE carrying ``0x100 + alert()`` (RFC 9001 §4.8).

QUIC rules enforced (RFC 9001 §8): TLS 1.3 only (configs are narrowed), ALPN required on
both sides (``no_application_protocol`` otherwise), ``quic_transport_parameters`` (0x39) sent
and required from the peer (``missing_extension``), no middlebox-compatibility
ChangeCipherSpec or legacy_session_id, no EndOfEarlyData, no KeyUpdate messages (QUIC key
updates use :meth:`~ClientConnection.next_1rtt_keys`, ``"quic ku"``, RFC 9001 §6), and a
ticket's max_early_data_size is 0 or 0xffffffff (§4.6.1).  0-RTT: a client whose config has
``enable_early_data`` and a ticket allowing it gets :meth:`~ClientConnection.zero_rtt_keys`
right away; a server with ``max_early_data_size=0xffffffff`` that accepts reports them too.
Whether stored transport parameters allow 0-RTT (RFC 9000 §7.4.1) is the QUIC stack's call.

Packet protection helpers: :class:`PacketKey` (AEAD with nonce = IV xor packet number,
§5.3), :class:`HeaderProtectionKey` (AES-ECB or ChaCha20 mask, §5.4), and
:func:`initial_keys` (Initial secrets from the client's Destination Connection ID, §5.2).
Only QUIC version 1 is supported.

Layer 7: imports the connection core, the client and server handshake starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from enum import Enum, IntEnum

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .client.config import ClientConfig
from .client.hs import start_handshake
from .conn import CommonState, Connection, Side
from .crypto.default import TLS13_AES_128_GCM_SHA256
from .crypto.hashing import hkdf_extract
from .crypto.provider import SupportedCipherSuite, Tls13CipherSuite
from .enums import AlertDescription, ProtocolVersion
from .errors import (
    ConfigError,
    DecodeError,
    Error,
    HandshakeNotComplete,
    InternalError,
    PeerMisbehaved,
    alert_for,
)
from .keys.tls13 import hkdf_expand_label
from .server.config import ServerConfig
from .server.hs import ExpectClientHello

__all__ = [
    "CRYPTO_ERROR_BASE",
    "QUIC_MAX_EARLY_DATA",
    "QUIC_V1",
    "ClientConnection",
    "Direction",
    "DirectionalKeys",
    "HeaderProtectionKey",
    "KeyChange",
    "Keys",
    "Level",
    "PacketKey",
    "PacketKeySet",
    "Secrets",
    "ServerConnection",
    "initial_keys",
    "initial_secrets",
]

_log = logging.getLogger("tlspipe.quic")

#: QUIC version 1 (RFC 9000).
QUIC_V1 = 0x00000001
#: RFC 9001 §5.2: the salt for Initial secrets of QUIC version 1.
INITIAL_SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
#: RFC 9001 §4.6.1: the only max_early_data_size allowed in QUIC besides 0.
QUIC_MAX_EARLY_DATA = 0xFFFFFFFF
#: RFC 9001 §4.8: CONNECTION_CLOSE error code = CRYPTO_ERROR_BASE + TLS alert.
CRYPTO_ERROR_BASE = 0x100
_SAMPLE_LEN = 16


class Level(IntEnum):
    """QUIC encryption levels (RFC 9001 §4); values as aioquic's epochs."""

    INITIAL = 0
    ZERO_RTT = 1
    HANDSHAKE = 2
    ONE_RTT = 3


class Direction(Enum):
    """Which way a key protects packets, from this endpoint's point of view."""

    READ = "read"
    WRITE = "write"


# -- packet protection ---------------------------------------------------------------------------
class PacketKey:
    """AEAD packet protection for one direction and level (RFC 9001 §5.3).

    The nonce is the IV xor the packet number (left-padded to the IV length); the associated
    data is the unprotected header.
    """

    __slots__ = ("_aead", "_iv", "iv", "key", "suite")

    def __init__(self, suite: Tls13CipherSuite, key: bytes, iv: bytes) -> None:
        self.suite = suite
        self.key = key
        self.iv = iv
        self._aead = suite.aead.new(key)
        self._iv = int.from_bytes(iv, "big")

    def __repr__(self) -> str:
        return f"PacketKey({self.suite.aead.name})"

    @property
    def tag_len(self) -> int:
        """Bytes the AEAD tag adds to each packet."""
        return self.suite.aead.tag_len

    @property
    def confidentiality_limit(self) -> int:
        """Packets one key may protect (RFC 9001 §6.6)."""
        return self.suite.aead.confidentiality_limit

    @property
    def integrity_limit(self) -> int:
        """Failed decryptions tolerated under one key (RFC 9001 §6.6)."""
        return self.suite.aead.integrity_limit

    def _nonce(self, packet_number: int) -> bytes:
        if not 0 <= packet_number < 1 << 62:
            raise InternalError("packet number out of range")
        return (self._iv ^ packet_number).to_bytes(len(self.iv), "big")

    def seal(self, packet_number: int, header: bytes, payload: bytes) -> bytes:
        """Encrypt ``payload``: ciphertext followed by the tag.

        Raises:
            InternalError: a packet number outside 0..2^62-1 (a caller bug).
        """
        return self._aead.seal(self._nonce(packet_number), header, payload)

    def open(self, packet_number: int, header: bytes, ciphertext: bytes) -> bytes:
        """Authenticate and decrypt a packet payload (ciphertext with its tag).

        Raises:
            DecryptError: the packet does not authenticate (drop it, RFC 9001 §5.3).
            InternalError: a packet number outside 0..2^62-1 (a caller bug).
        """
        return self._aead.open(self._nonce(packet_number), header, ciphertext)


class HeaderProtectionKey:
    """Header protection for one direction and level (RFC 9001 §5.4).

    AES suites use AES-ECB over the 16-byte sample (§5.4.3); ChaCha20 suites use ChaCha20
    with the sample's first four bytes as the block counter and the rest as nonce (§5.4.4).
    """

    __slots__ = ("_chacha", "_ecb", "key")

    def __init__(self, suite: Tls13CipherSuite, key: bytes) -> None:
        self.key = key
        self._chacha = "CHACHA20" in suite.aead.name.upper()
        self._ecb = None if self._chacha else Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305

    def __repr__(self) -> str:
        return f"HeaderProtectionKey({'ChaCha20' if self._chacha else 'AES'})"

    @property
    def sample_len(self) -> int:
        """Bytes of ciphertext sampled (16)."""
        return _SAMPLE_LEN

    def mask(self, sample: bytes) -> bytes:
        """The 5-byte mask for a 16-byte ciphertext sample.

        Raises:
            DecodeError: ``sample`` is not 16 bytes (a packet too short to sample).
        """
        if len(sample) != _SAMPLE_LEN:
            raise DecodeError("header protection sample must be 16 bytes")
        if self._ecb is None:
            enc = Cipher(algorithms.ChaCha20(self.key, bytes(sample)), mode=None).encryptor()
            return enc.update(bytes(5))
        return self._ecb.encryptor().update(bytes(sample))[:5]

    def _apply_mask(self, packet: bytearray, pn_offset: int, pn_len: int, mask: bytes) -> None:
        packet[0] ^= mask[0] & (0x0F if packet[0] & 0x80 else 0x1F)
        for i in range(pn_len):
            packet[pn_offset + i] ^= mask[1 + i]

    def _sample(self, packet: bytearray, pn_offset: int) -> bytes:
        start = pn_offset + 4  # the sample assumes a 4-byte packet number (§5.4.2)
        if len(packet) < start + _SAMPLE_LEN:
            raise DecodeError("packet too short for header protection")
        return bytes(packet[start : start + _SAMPLE_LEN])

    def apply(self, packet: bytearray, pn_offset: int) -> None:
        """Protect the header of a sealed packet in place (first byte and packet number).

        ``pn_offset`` is where the packet number starts; its length comes from the first
        byte's low two bits.

        Raises:
            DecodeError: the packet is too short to sample.
        """
        pn_len = (packet[0] & 0x03) + 1
        self._apply_mask(packet, pn_offset, pn_len, self.mask(self._sample(packet, pn_offset)))

    def remove(self, packet: bytearray, pn_offset: int) -> int:
        """Remove header protection in place.

        Returns:
            The packet number length (1..4); the packet number is then readable.

        Raises:
            DecodeError: the packet is too short to sample.
        """
        mask = self.mask(self._sample(packet, pn_offset))
        # the packet number length is protected: unmask the first byte to learn it
        pn_len = ((packet[0] ^ mask[0]) & 0x03) + 1
        self._apply_mask(packet, pn_offset, pn_len, mask)
        return pn_len


@dataclass(frozen=True, slots=True)
class DirectionalKeys:
    """Packet and header protection keys for one direction of one level."""

    packet: PacketKey
    header: HeaderProtectionKey

    @classmethod
    def from_secret(cls, suite: Tls13CipherSuite, secret: bytes) -> DirectionalKeys:
        """Keys from a traffic secret with the QUIC labels (RFC 9001 §5.1).

        Raises:
            InternalError: bad arguments (a bug).
        """
        h = suite.hash_name
        key_len = suite.aead.key_len
        return cls(
            PacketKey(
                suite,
                hkdf_expand_label(h, secret, b"quic key", b"", key_len),
                hkdf_expand_label(h, secret, b"quic iv", b"", 12),
            ),
            HeaderProtectionKey(suite, hkdf_expand_label(h, secret, b"quic hp", b"", key_len)),
        )


@dataclass(frozen=True, slots=True)
class Keys:
    """Both directions of one level: ``local`` protects what we send, ``remote`` what we
    receive."""

    local: DirectionalKeys
    remote: DirectionalKeys


@dataclass(frozen=True, slots=True)
class PacketKeySet:
    """Packet keys of one 1-RTT key phase (header protection keys never change, §6)."""

    local: PacketKey
    remote: PacketKey


def _next_secret(suite: Tls13CipherSuite, secret: bytes) -> bytes:
    return hkdf_expand_label(suite.hash_name, secret, b"quic ku", b"", suite.hash_len)


class Secrets:
    """The 1-RTT secrets of both directions, for QUIC key updates (RFC 9001 §6)."""

    __slots__ = ("_client", "_server", "is_client", "suite")

    def __init__(
        self, suite: Tls13CipherSuite, client: bytes, server: bytes, is_client: bool
    ) -> None:
        self.suite = suite
        self._client = client
        self._server = server
        self.is_client = is_client

    def __repr__(self) -> str:
        return f"Secrets({self.suite.suite.name})"

    def next_packet_keys(self) -> PacketKeySet:
        """Move both secrets one generation on ("quic ku") and return the new packet keys.

        Raises:
            InternalError: bad arguments (a bug).
        """
        s = self.suite
        self._client = _next_secret(s, self._client)
        self._server = _next_secret(s, self._server)
        client = DirectionalKeys.from_secret(s, self._client).packet
        server = DirectionalKeys.from_secret(s, self._server).packet
        if self.is_client:
            return PacketKeySet(local=client, remote=server)
        return PacketKeySet(local=server, remote=client)


def initial_secrets(dcid: bytes, version: int = QUIC_V1) -> tuple[bytes, bytes]:
    """(client_initial_secret, server_initial_secret) for the client's first Destination
    Connection ID (RFC 9001 §5.2).

    Raises:
        ConfigError: a version other than QUIC v1, or a connection ID over 20 bytes.
    """
    if version != QUIC_V1:
        raise ConfigError(f"QUIC version 0x{version:08x} is not supported")
    if len(dcid) > 20:
        raise ConfigError("connection IDs are at most 20 bytes")
    initial = hkdf_extract("sha256", INITIAL_SALT_V1, bytes(dcid))
    return (
        hkdf_expand_label("sha256", initial, b"client in", b"", 32),
        hkdf_expand_label("sha256", initial, b"server in", b"", 32),
    )


def initial_keys(dcid: bytes, version: int = QUIC_V1, *, is_client: bool = True) -> Keys:
    """Initial packet keys (AEAD_AES_128_GCM) from the client's first Destination Connection
    ID (RFC 9001 §5.2), for the client (``local`` = client keys) or the server.

    Raises:
        ConfigError: an unsupported version or a connection ID over 20 bytes.
    """
    client_secret, server_secret = initial_secrets(dcid, version)
    suite = TLS13_AES_128_GCM_SHA256
    client = DirectionalKeys.from_secret(suite, client_secret)
    server = DirectionalKeys.from_secret(suite, server_secret)
    return Keys(local=client, remote=server) if is_client else Keys(local=server, remote=client)


# -- the connection ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyChange:
    """A new key for one level and direction, in the order the handshake produced them.

    Attributes:
        level: the encryption level (ZERO_RTT, HANDSHAKE or ONE_RTT).
        direction: READ (packets from the peer) or WRITE (packets we send).
        keys: packet and header protection keys.
        suite: the negotiated cipher suite.
        secret: the TLS traffic secret the keys come from.
    """

    level: Level
    direction: Direction
    keys: DirectionalKeys
    suite: Tls13CipherSuite
    secret: bytes = field(repr=False)


class _Sink:
    """The :class:`tlspipe.conn.QuicSink` of one connection: per-level output and keys."""

    def __init__(self, side: Side, transport_params: bytes) -> None:
        self.side = side
        self.transport_params = transport_params
        self.peer_transport_params: bytes | None = None
        self.write_level = Level.INITIAL
        self.read_level = Level.INITIAL
        self.output: list[tuple[Level, bytearray]] = []
        self.changes: list[KeyChange] = []
        self.keys: dict[tuple[Level, Direction], KeyChange] = {}
        self.alert: AlertDescription | None = None
        self.secrets: Secrets | None = None

    def send_handshake(self, raw: bytes) -> None:
        if self.output and self.output[-1][0] == self.write_level:
            self.output[-1][1].extend(raw)
        else:
            self.output.append((self.write_level, bytearray(raw)))

    def set_secret(
        self, suite: Tls13CipherSuite, secret: bytes, *, write: bool, early: bool
    ) -> None:
        current = self.write_level if write else self.read_level
        if early:
            level = Level.ZERO_RTT
        elif current is Level.INITIAL:
            level = Level.HANDSHAKE
        elif current is Level.HANDSHAKE:
            level = Level.ONE_RTT
        else:
            raise InternalError("a key change after 1-RTT keys in QUIC")
        if not early:
            if write:
                self.write_level = level
            else:
                self.read_level = level
        direction = Direction.WRITE if write else Direction.READ
        change = KeyChange(
            level, direction, DirectionalKeys.from_secret(suite, secret), suite, secret
        )
        self.changes.append(change)
        self.keys[(level, direction)] = change
        _log.debug("%s %s key for %s", self.side.value, direction.value, level.name)
        if level is Level.ONE_RTT:
            read = self.keys.get((Level.ONE_RTT, Direction.READ))
            wrote = self.keys.get((Level.ONE_RTT, Direction.WRITE))
            if read is not None and wrote is not None:
                local, remote = wrote.secret, read.secret
                is_client = self.side is Side.CLIENT
                client, server = (local, remote) if is_client else (remote, local)
                self.secrets = Secrets(suite, client, server, is_client)

    def set_alert(self, desc: AlertDescription) -> None:
        if self.alert is None:
            self.alert = desc


class _QuicConnection:
    """What QUIC client and server connections share."""

    def __init__(self, cx: CommonState, conn: Connection, sink: _Sink) -> None:
        self._cx = cx
        self._conn = conn
        self._sink = sink
        self._error: Error | None = None

    def __repr__(self) -> str:
        s = self._sink
        return (
            f"<quic.{type(self).__name__} handshaking={self.is_handshaking} "
            f"read={s.read_level.name} write={s.write_level.name}>"
        )

    # -- handshake data ------------------------------------------------------------------------
    def read_hs(self, data: bytes | bytearray | memoryview, level: Level | None = None) -> None:
        """Handle CRYPTO-frame bytes received (in order) at the current read level.

        Pass ``level`` to have it checked against :attr:`read_level`.

        Raises:
            PeerMisbehaved: data at another level than expected (unexpected_message).
            Error: any handshake failure; :meth:`alert` then names the alert to send.
        """
        if self._error is not None:
            raise self._error
        if level is not None and level != self._sink.read_level:
            err: Error = PeerMisbehaved(
                f"CRYPTO data at level {Level(level).name}, expected {self._sink.read_level.name}",
                AlertDescription.unexpected_message,
            )
            self._error = err
            desc = alert_for(err)
            if desc is not None:
                self._sink.set_alert(desc)
            raise err
        try:
            self._conn.process_handshake_bytes(bytes(data))
        except Error as e:
            self._error = e
            raise

    def write_hs(self) -> list[tuple[Level, bytes]]:
        """Take the handshake bytes to send, as (level, bytes) in order (possibly empty).

        Raises:
            Nothing.
        """
        out = [(level, bytes(buf)) for level, buf in self._sink.output]
        self._sink.output.clear()
        return out

    def take_key_changes(self) -> list[KeyChange]:
        """Take the key changes made since the last call, in order.

        Install each before sending or reading data of that level; data of a level
        returned by :meth:`write_hs` always has its key reported first.

        Raises:
            Nothing.
        """
        out = list(self._sink.changes)
        self._sink.changes.clear()
        return out

    def keys(self, level: Level) -> Keys | None:
        """Both directions' keys of a HANDSHAKE or ONE_RTT level, once both are known.

        Raises:
            Nothing.
        """
        local = self._sink.keys.get((level, Direction.WRITE))
        remote = self._sink.keys.get((level, Direction.READ))
        if local is None or remote is None:
            return None
        return Keys(local=local.keys, remote=remote.keys)

    def next_1rtt_keys(self) -> PacketKeySet:
        """Packet keys of the next 1-RTT key phase ("quic ku", RFC 9001 §6); each call moves
        one generation on.

        Raises:
            HandshakeNotComplete: 1-RTT keys are not known yet.
        """
        secrets = self._sink.secrets
        if secrets is None:
            raise HandshakeNotComplete("1-RTT keys are not known yet")
        return secrets.next_packet_keys()

    def zero_rtt_keys(self) -> DirectionalKeys | None:
        """0-RTT keys: the client's write key when it offered 0-RTT, the server's read key
        when it accepted; else None.

        Raises:
            Nothing.
        """
        direction = Direction.WRITE if self._cx.side is Side.CLIENT else Direction.READ
        change = self._sink.keys.get((Level.ZERO_RTT, direction))
        return change.keys if change is not None else None

    @property
    def read_level(self) -> Level:
        """The level at which CRYPTO data is expected next."""
        return self._sink.read_level

    @property
    def write_level(self) -> Level:
        """The level at which our next handshake bytes go."""
        return self._sink.write_level

    def alert(self) -> AlertDescription | None:
        """The TLS alert to close the connection with after an error (CONNECTION_CLOSE with
        error code ``0x100 + alert``, RFC 9001 §4.8), or None.

        Raises:
            Nothing.
        """
        return self._sink.alert

    def quic_transport_parameters(self) -> bytes | None:
        """The peer's encoded transport parameters (RFC 9000 §18), once received.

        Raises:
            Nothing.
        """
        return self._sink.peer_transport_params

    # -- negotiated values -------------------------------------------------------------------
    @property
    def is_handshaking(self) -> bool:
        """True until the handshake completes."""
        return self._conn.is_handshaking

    @property
    def alpn_protocol(self) -> bytes | None:
        """The ALPN protocol agreed with the peer."""
        return self._conn.alpn_protocol

    @property
    def negotiated_cipher_suite(self) -> SupportedCipherSuite | None:
        """The cipher suite, once known."""
        return self._conn.negotiated_cipher_suite

    @property
    def peer_certificates(self) -> tuple[bytes, ...] | None:
        """The peer's certificate chain (DER, leaf first), once received."""
        return self._conn.peer_certificates

    @property
    def handshake_kind_resumed(self) -> bool:
        """True when the handshake resumed an earlier session."""
        return self._conn.handshake_kind_resumed

    @property
    def server_name(self) -> str | None:
        """The SNI host name (sent by the client / received by the server), or None."""
        return self._conn.server_name

    @property
    def early_data_accepted(self) -> bool:
        """True when 0-RTT was accepted (client: known once EncryptedExtensions arrived)."""
        return self._cx.early_data_accepted

    def export_keying_material(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """Derive keying material (RFC 8446 §7.5).

        Raises:
            HandshakeNotComplete: before the handshake completed.
            ConfigError: reserved label or bad length.
        """
        return self._conn.export_keying_material(label, context, length)


def _check_params(transport_params: bytes, alpn: tuple[bytes, ...]) -> bytes:
    if not isinstance(transport_params, bytes | bytearray | memoryview):
        raise ConfigError("transport_params must be bytes")
    if len(transport_params) > 0xFFFF:
        raise ConfigError("transport_params must fit an extension (65535 bytes)")
    if not alpn:
        raise ConfigError("QUIC requires ALPN: set alpn_protocols (RFC 9001 §8.1)")
    return bytes(transport_params)


class ClientConnection(_QuicConnection):
    """A QUIC client's TLS 1.3 handshake (RFC 9001).

    Creating it queues the ClientHello at :attr:`Level.INITIAL` (see :meth:`write_hs`).

    Args:
        config: the client configuration; it is narrowed to TLS 1.3 without middlebox
            compatibility mode, and must offer ALPN protocols.
        server_name: the host name to verify (and send as SNI).
        transport_params: our encoded QUIC transport parameters (RFC 9000 §18).

    Raises:
        ConfigError: no ALPN protocols, no TLS 1.3 suite, or an invalid server name.
    """

    def __init__(self, config: ClientConfig, server_name: str, transport_params: bytes) -> None:
        params = _check_params(transport_params, config.alpn_protocols)
        config = replace(config, versions=(ProtocolVersion.TLSv1_3,), middlebox_compat=False)
        cx = CommonState(Side.CLIENT, max_fragment_size=None, buffer_limit=config.buffer_limit)
        sink = _Sink(Side.CLIENT, params)
        cx.quic = sink
        state = start_handshake(config, server_name, cx)
        super().__init__(cx, Connection(cx, state), sink)
        self.config = config

    @property
    def early_data_offered(self) -> bool:
        """True when the ClientHello offered 0-RTT (:meth:`zero_rtt_keys` is then set)."""
        return self._cx.early_data_offered


class ServerConnection(_QuicConnection):
    """A QUIC server's TLS 1.3 handshake (RFC 9001).

    Args:
        config: the server configuration; narrowed to TLS 1.3; must have ALPN protocols and
            ``max_early_data_size`` 0 (no 0-RTT) or 0xffffffff (0-RTT, RFC 9001 §4.6.1).
        transport_params: our encoded QUIC transport parameters (RFC 9000 §18).

    Raises:
        ConfigError: no ALPN protocols, another max_early_data_size, no TLS 1.3 suite.
    """

    def __init__(self, config: ServerConfig, transport_params: bytes) -> None:
        params = _check_params(transport_params, config.alpn_protocols)
        if config.max_early_data_size not in (0, QUIC_MAX_EARLY_DATA):
            raise ConfigError("QUIC needs max_early_data_size 0 or 0xffffffff (RFC 9001 §4.6.1)")
        config = replace(config, versions=(ProtocolVersion.TLSv1_3,))
        cx = CommonState(Side.SERVER, max_fragment_size=None, buffer_limit=config.buffer_limit)
        sink = _Sink(Side.SERVER, params)
        cx.quic = sink
        super().__init__(cx, Connection(cx, ExpectClientHello(config=config)), sink)
        self.config = config
