"""In-memory test harness: a client and a server connection wired back to back.

Modelled on rustls's test helpers (``make_pair``, ``transfer``, ``transfer_altered``,
``do_handshake``): :class:`Pair` holds a :class:`~tlspipe.ClientConnection` and a
:class:`~tlspipe.ServerConnection`, and moves TLS bytes between them.

Every byte that passes between the two goes through a :class:`Wiretap`, which knows the
TLS 1.3 traffic secrets (a :class:`SecretLog` is teed into both configs' ``key_log``) and so
can *decrypt* each record in flight.  That lets tests

* rewrite protected handshake messages (flip a byte in the server's Finished, corrupt a
  CertificateVerify signature) with :meth:`Pair.transfer_altered`: the callback sees the
  plaintext (:class:`Rec`) and whatever it returns is re-protected with the sender's keys;
* see which alert each side put on the wire (:attr:`Pair.alerts`), even when it is
  encrypted; :meth:`Pair.until_error` reports them with both sides' errors.

Config factories (:func:`client_config`, :func:`server_config`, :func:`make_pair`) build
from the session ``pki`` fixture (tests/pki.py).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import tlspipe
from pki import PKI
from tlspipe.crypto.provider import Tls13CipherSuite
from tlspipe.enums import AlertDescription, ContentType, HandshakeType
from tlspipe.keys import tls13 as ks13
from tlspipe.record.deframer import Deframer, Record
from tlspipe.record.layer import Tls13Decrypter, Tls13Encrypter

__all__ = [
    "Outcome",
    "Pair",
    "Rec",
    "SecretLog",
    "Wiretap",
    "alert_name",
    "alter_handshake",
    "certified_key",
    "flip_last_byte",
    "reframe_handshake",
    "client_config",
    "make_pair",
    "server_config",
    "split_records",
]

CLIENT = "client"
SERVER = "server"


# -- config factories ------------------------------------------------------------------------
def client_config(pki: PKI, kind: str = "ecdsa-p256", **kw: Any) -> tlspipe.ClientConfig:
    """A client trusting the test root (``kind`` only picks which identity's ``ca_pem``)."""
    ident = pki.server(kind)
    kw.setdefault("root_store", tlspipe.RootCertStore.from_pem_file(ident.ca_pem))
    return tlspipe.ClientConfig(**kw)


def server_config(pki: PKI, kind: str = "ecdsa-p256", **kw: Any) -> tlspipe.ServerConfig:
    """A server presenting ``pki.server(kind)`` (names localhost, testserver.example, 127.0.0.1)."""
    ident = pki.server(kind)
    return tlspipe.ServerConfig.from_pem_files(ident.chain_pem, ident.key_pem, **kw)


def certified_key(pki: PKI, kind: str = "ecdsa-p256") -> tlspipe.CertifiedKey:
    """``pki.server(kind)`` as a :class:`~tlspipe.CertifiedKey`."""
    ident = pki.server(kind)
    return tlspipe.CertifiedKey.from_pem(ident.chain_pem.read_bytes(), ident.key_pem.read_bytes())


def make_pair(
    pki: PKI,
    kind: str = "ecdsa-p256",
    *,
    server_name: str = "localhost",
    client: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
    tap: bool = True,
) -> Pair:
    """A fresh :class:`Pair` from the factories; ``client``/``server`` are config kwargs."""
    return Pair(
        client_config(pki, kind, **(client or {})),
        server_config(pki, kind, **(server or {})),
        server_name=server_name,
        tap=tap,
    )


# -- secrets ---------------------------------------------------------------------------------
class SecretLog:
    """A :class:`~tlspipe.KeyLog` that remembers every secret (and forwards to ``inner``)."""

    def __init__(self, inner: tlspipe.KeyLog | None = None) -> None:
        self.inner = inner
        self.secrets: dict[str, bytes] = {}
        self.calls: list[tuple[str, bytes, bytes]] = []

    def __repr__(self) -> str:
        return "SecretLog()"

    def will_log(self, label: str) -> bool:
        return True

    def log(self, label: str, client_random: bytes, secret: bytes) -> None:
        self.secrets[label] = secret
        self.calls.append((label, client_random, secret))
        if self.inner is not None and self.inner.will_log(label):
            self.inner.log(label, client_random, secret)


# -- records ---------------------------------------------------------------------------------
@dataclass
class Rec:
    """One record in flight: content type and payload as the *receiver* will see them.

    ``encrypted`` records are re-protected by the wiretap with the sender's current keys;
    others are sent as they are (``version`` is the record header's version).
    """

    typ: int
    payload: bytes
    encrypted: bool = False
    version: int = 0x0303
    #: the record exactly as the sender put it on the wire (set by the wiretap)
    wire: bytes = field(default=b"", repr=False, compare=False)

    def handshake_type(self) -> int | None:
        """The type of the first handshake message in the payload, if a handshake record."""
        if self.typ == ContentType.handshake and self.payload:
            return self.payload[0]
        return None

    def raw(self) -> bytes:
        """Header + payload as a plaintext record."""
        return Record(self.typ, self.version, self.payload).encode()


def split_messages(rec: Rec, *, plaintext: bool = False) -> list[Rec]:
    """A handshake record holding several whole handshake messages (a coalesced flight) as
    one :class:`Rec` per message; any other record as it is.  Records the wiretap could not
    open are split only when ``plaintext`` says they are not protected (before the sender's
    ChangeCipherSpec)."""
    if rec.typ != ContentType.handshake or not (rec.encrypted or plaintext):
        return [rec]
    payload = rec.payload
    cuts = [0]
    while cuts[-1] + 4 <= len(payload):
        cuts.append(cuts[-1] + 4 + int.from_bytes(payload[cuts[-1] + 1 : cuts[-1] + 4], "big"))
    if len(cuts) <= 2 or cuts[-1] != len(payload):
        return [rec]
    return [
        dataclasses.replace(rec, payload=payload[a:b], wire=rec.wire if a == 0 else b"")
        for a, b in itertools.pairwise(cuts)
    ]


def split_records(data: bytes) -> list[Record]:
    """Cut ``data`` into whole records (a trailing partial record is dropped)."""
    d = Deframer(max_buffer=len(data) + 2**17, max_record_len=0xFFFF)
    d.feed(data)
    out: list[Record] = []
    while (rec := d.pop()) is not None:
        out.append(rec)
    return out


_LABELS = {
    CLIENT: ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"),
    SERVER: ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"),
}


@dataclass
class _Direction:
    """Key state of one direction (records sent by ``sender``), mirrored from the outside."""

    sender: str
    secrets: list[bytes] = field(default_factory=list)
    idx: int = -1  # index into secrets of the key in use; -1 = plaintext so far
    in_seq: int = 0
    out_seq: int = 0

    def secret(self, log: SecretLog, suite: Tls13CipherSuite, i: int) -> bytes | None:
        hs_label, app_label = _LABELS[self.sender]
        if not self.secrets:
            if hs_label not in log.secrets:
                return None
            self.secrets.append(log.secrets[hs_label])
        if len(self.secrets) == 1 and i >= 1:
            if app_label not in log.secrets:
                return None
            self.secrets.append(log.secrets[app_label])
        while len(self.secrets) <= i:
            self.secrets.append(ks13.next_traffic_secret(suite.hash_name, self.secrets[-1]))
        return self.secrets[i]


class Wiretap:
    """Decrypts (and re-encrypts) TLS 1.3 records between the two ends of a :class:`Pair`.

    It follows key changes by trial decryption: a record that does not open under the
    current key is tried under the next one (handshake → application → KeyUpdate chain).
    """

    def __init__(self, log: SecretLog) -> None:
        self.log = log
        self.dirs = {CLIENT: _Direction(CLIENT), SERVER: _Direction(SERVER)}

    def open(self, sender: str, suite: Tls13CipherSuite | None, rec: Record) -> Rec:
        """The record as the receiver sees it (plaintext, inner type) when we can decrypt."""
        d = self.dirs[sender]
        if suite is None or rec.content_type != ContentType.application_data:
            return Rec(rec.content_type, rec.payload, False, rec.version, rec.encode())
        for i, seq in ((d.idx, d.in_seq), (d.idx + 1, 0)):
            if i < 0:
                continue
            secret = d.secret(self.log, suite, i)
            if secret is None:
                continue
            key, iv = ks13.traffic_keys(suite, secret)
            try:
                typ, plain = Tls13Decrypter.from_key(suite.aead, key, iv).decrypt(rec, seq)
            except tlspipe.Error:
                continue
            if i != d.idx:
                d.idx, d.out_seq = i, 0
            d.in_seq = seq + 1
            return Rec(typ, plain, True, rec.version, rec.encode())
        return Rec(rec.content_type, rec.payload, False, rec.version, rec.encode())

    def seal(self, sender: str, suite: Tls13CipherSuite | None, rec: Rec) -> bytes:
        """Re-protect ``rec`` under the sender's current key (or frame it in plaintext)."""
        d = self.dirs[sender]
        if not rec.encrypted or suite is None or d.idx < 0:
            return rec.raw()
        secret = d.secret(self.log, suite, d.idx)
        assert secret is not None
        key, iv = ks13.traffic_keys(suite, secret)
        out = Tls13Encrypter.from_key(suite.aead, key, iv).encrypt(rec.typ, rec.payload, d.out_seq)
        d.out_seq += 1
        return out


AlterResult = Rec | bytes | Iterable[Rec | bytes] | None
AlterFn = Callable[[Rec], AlterResult]


def alter_handshake(
    typ: HandshakeType | int, fn: Callable[[bytes], bytes], *, once: bool = True
) -> AlterFn:
    """A :meth:`Pair.transfer_altered` callback rewriting handshake messages of ``typ``.

    ``fn`` gets and returns the whole message (4-byte header included); records carrying
    other messages pass unchanged.
    """
    done = False

    def alter(rec: Rec) -> AlterResult:
        nonlocal done
        if rec.handshake_type() == typ and not (once and done):
            done = True
            return dataclasses.replace(rec, payload=fn(rec.payload))
        return rec

    return alter


def reframe_handshake(body: bytes, typ: int) -> bytes:
    """A handshake message: type, uint24 length, body."""
    return bytes((typ,)) + len(body).to_bytes(3, "big") + body


def flip_last_byte(msg: bytes) -> bytes:
    """Flip the low bit of the last octet (a signature, a Finished MAC)."""
    return msg[:-1] + bytes((msg[-1] ^ 1,))


# -- the pair --------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What :meth:`Pair.until_error` saw: each side's error and the alerts each side sent."""

    client_error: tlspipe.Error | None
    server_error: tlspipe.Error | None
    client_alerts: list[tuple[int, int]]
    server_alerts: list[tuple[int, int]]

    @property
    def client_alert(self) -> int | None:
        """The first alert description the client put on the wire."""
        return self.client_alerts[0][1] if self.client_alerts else None

    @property
    def server_alert(self) -> int | None:
        """The first alert description the server put on the wire."""
        return self.server_alerts[0][1] if self.server_alerts else None


class Stalled(AssertionError):
    """The receiver accepts no more bytes (plaintext buffer full)."""


class Pair:
    """A client and a server connected in memory.

    Args:
        client_config, server_config: the configs (their ``key_log`` is teed into
            :attr:`secrets` so the wiretap can decrypt).
        server_name: what the client connects to.
        tap: pass records through the :class:`Wiretap` (needed for ``transfer_altered``
            on protected records and for :attr:`alerts`); bulk tests may turn it off.
    """

    MAX_ROUNDS = 32

    def __init__(
        self,
        client_config: tlspipe.ClientConfig,
        server_config: tlspipe.ServerConfig,
        *,
        server_name: str = "localhost",
        tap: bool = True,
    ) -> None:
        self.secrets = SecretLog()
        self.client_config = dataclasses.replace(
            client_config, key_log=_Tee(client_config.key_log, self.secrets)
        )
        self.server_config = dataclasses.replace(
            server_config, key_log=_Tee(server_config.key_log, self.secrets)
        )
        self.client = tlspipe.ClientConnection(self.client_config, server_name)
        self.server = tlspipe.ServerConnection(self.server_config)
        self.tap = Wiretap(self.secrets) if tap else None
        self.alerts: dict[str, list[tuple[int, int]]] = {CLIENT: [], SERVER: []}
        self.records: dict[str, list[Rec]] = {CLIENT: [], SERVER: []}
        self.backlog: dict[str, bytes] = {CLIENT: b"", SERVER: b""}
        # senders whose ChangeCipherSpec went by (TLS 1.2: their handshake records are now
        # protected, and opaque to the wiretap)
        self.ccs_seen: set[str] = set()

    def __repr__(self) -> str:
        return f"Pair({self.client!r}, {self.server!r})"

    # -- plumbing --------------------------------------------------------------------------------
    def _name(self, conn: tlspipe.Connection) -> str:
        return CLIENT if conn is self.client else SERVER

    def _peer(self, conn: tlspipe.Connection) -> tlspipe.Connection:
        return self.server if conn is self.client else self.client

    def _suite(self, conn: tlspipe.Connection) -> Tls13CipherSuite | None:
        # a side that failed while installing keys may not report the suite: ask the peer
        s = conn.negotiated_cipher_suite or self._peer(conn).negotiated_cipher_suite
        return s if isinstance(s, Tls13CipherSuite) else None

    def _observe(self, sender: str, rec: Rec) -> None:
        self.records[sender].append(rec)
        if rec.typ == ContentType.alert and len(rec.payload) == 2:
            self.alerts[sender].append((rec.payload[0], rec.payload[1]))

    def _through_tap(
        self, src: tlspipe.Connection, data: bytes, fn: AlterFn | None, *, split: bool = True
    ) -> bytes:
        if self.tap is None:
            if fn is not None:
                raise ValueError("transfer_altered needs tap=True")
            return data
        sender = self._name(src)
        suite = self._suite(src)
        out = bytearray()
        for raw in split_records(data):
            opened = self.tap.open(sender, suite, raw)
            # One Rec per handshake message: a coalesced flight is observed (and, when
            # altered, re-protected) message by message, as if sent one per record
            # (``split=False``: record by record, as on the wire).
            if opened.typ == ContentType.change_cipher_spec:
                self.ccs_seen.add(sender)
            parts = (
                split_messages(opened, plaintext=sender not in self.ccs_seen) if split else [opened]
            )
            for rec in parts:
                self._observe(sender, rec)
            if fn is None:
                out += raw.encode()
                if opened.encrypted:
                    self.tap.dirs[sender].out_seq += 1
                continue
            for rec in parts:
                res = fn(rec)
                items: Iterable[Rec | bytes]
                if res is None:
                    items = ()
                elif isinstance(res, Rec | bytes | bytearray):
                    items = (res,)
                else:
                    items = res
                for item in items:
                    out += (
                        bytes(item)
                        if isinstance(item, bytes | bytearray)
                        else (self.tap.seal(sender, suite, item))
                    )
        return bytes(out)

    def feed(self, dst: tlspipe.Connection, data: bytes) -> int:
        """Offer ``data`` to ``dst`` (processing to make room); keep what does not fit.

        Returns:
            Bytes accepted.  Leftovers wait in :attr:`backlog` for the next transfer.
        """
        name = self._name(dst)
        data = self.backlog[name] + data
        off = 0
        stuck = 0
        while off < len(data):
            n = dst.read_tls(memoryview(data)[off:])
            off += n
            if n == 0:
                stuck += 1
                if stuck > 2:
                    break
                dst.process_new_packets()
            else:
                stuck = 0
        self.backlog[name] = data[off:]
        return off

    # -- public ------------------------------------------------------------------------------
    def transfer(self, src: tlspipe.Connection, dst: tlspipe.Connection) -> int:
        """Move every TLS byte ``src`` has queued into ``dst`` (no processing beyond room).

        Returns:
            The number of bytes moved.
        """
        data = self._through_tap(src, src.write_tls(), None)
        return self.feed(dst, data) if data or self.backlog[self._name(dst)] else 0

    def transfer_altered(
        self, src: tlspipe.Connection, dst: tlspipe.Connection, fn: AlterFn
    ) -> int:
        """Like :meth:`transfer`, but each record passes through ``fn`` first.

        ``fn`` gets a :class:`Rec` (decrypted when protected) and returns a Rec (re-protected
        if ``encrypted``), raw bytes (sent verbatim), a list of those, or None (drop).
        """
        data = self._through_tap(src, src.write_tls(), fn)
        return self.feed(dst, data) if data else 0

    def flow(self, src: tlspipe.Connection, dst: tlspipe.Connection) -> tlspipe.IoState:
        """:meth:`transfer` then ``dst.process_new_packets()``."""
        self.transfer(src, dst)
        return dst.process_new_packets()

    def handshake(self) -> int:
        """Run the handshake to completion; returns the number of round trips.

        Raises:
            tlspipe.Error: whatever either side raised.
            AssertionError: no completion within :attr:`MAX_ROUNDS`.
        """
        c, s = self.client, self.server
        for rounds in range(1, self.MAX_ROUNDS + 1):
            self.flow(c, s)
            self.flow(s, c)
            if not (c.is_handshaking or s.is_handshaking or c.wants_write() or s.wants_write()):
                return rounds
        raise AssertionError("handshake did not complete")

    def send(self, src: tlspipe.Connection, data: bytes) -> bytes:
        """Write ``data`` on ``src`` and return what the peer reads."""
        assert src.write(data) == len(data)
        dst = self._peer(src)
        self.flow(src, dst)
        return dst.read()

    def until_error(self, *, max_rounds: int = 16) -> Outcome:
        """Exchange flights until both sides failed or nothing moves; never raises.

        A side's error is caught; its queued alert is still transferred to the peer.
        """
        errs: dict[str, tlspipe.Error | None] = {CLIENT: None, SERVER: None}
        for conn in (self.server, self.client):  # bytes fed but not yet processed
            try:
                conn.process_new_packets()
            except tlspipe.Error as e:
                errs[self._name(conn)] = e
        for _ in range(max_rounds):
            moved = False
            for src, dst in ((self.client, self.server), (self.server, self.client)):
                data = self._through_tap(src, src.write_tls(), None)
                name = self._name(dst)
                if errs[name] is not None or not (data or self.backlog[name]):
                    continue
                moved = True
                try:
                    self.feed(dst, data)
                    dst.process_new_packets()
                except tlspipe.Error as e:
                    errs[name] = e
            if not moved:
                break
        # flush any final alert onto the wire (observed by the tap)
        for src in (self.client, self.server):
            self._through_tap(src, src.write_tls(), None)
        return Outcome(errs[CLIENT], errs[SERVER], self.alerts[CLIENT], self.alerts[SERVER])


class _Tee:
    """Forwards key log calls to a user's log and the pair's secret log."""

    def __init__(self, user: tlspipe.KeyLog, mine: SecretLog) -> None:
        self.user = user
        self.mine = mine

    def will_log(self, label: str) -> bool:
        return True

    def log(self, label: str, client_random: bytes, secret: bytes) -> None:
        self.mine.log(label, client_random, secret)
        if self.user.will_log(label):
            self.user.log(label, client_random, secret)


def alert_name(desc: int | None) -> str:
    """A readable alert name for assertion messages."""
    if desc is None:
        return "none"
    try:
        return AlertDescription(desc).name
    except ValueError:
        return str(desc)


class ProtocolOnlyAead:
    """An AEAD with only the ``seal``/``open`` protocol methods (no ``raw_*`` entry points):
    for tests that compare the record layer's fast paths with its protocol path."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes | memoryview) -> bytes:
        return bytes(self._inner.seal(nonce, aad, plaintext))

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes | memoryview) -> bytes:
        return bytes(self._inner.open(nonce, aad, ciphertext))
