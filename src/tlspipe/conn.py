"""The encrypted pipe: :class:`Connection`, shared by clients and servers.

TLS bytes go in through :meth:`Connection.read_tls` and out through
:meth:`Connection.write_tls` (or :meth:`~Connection.pending_tls` +
:meth:`~Connection.consume_tls` for vectored writes); plaintext comes out through
:meth:`~Connection.read` and goes in through :meth:`~Connection.write`.  Nothing here does
IO or reads a clock other than the one handed in by the configuration.

Rules of this module:

1. It is the only place that turns an :class:`~tlspipe.errors.Error` into an alert, via
   :func:`~tlspipe.errors.alert_for`; after the first fatal error the connection is poisoned
   and every later call raises that same error.
2. Handshake states never see records: they get whole decoded handshake messages (or a
   ChangeCipherSpec in TLS 1.2) through :meth:`State.handle` and act on the
   :class:`CommonState` they are handed.
3. Every buffer is bounded: received TLS (the deframer), handshake messages (the joiner),
   received plaintext (``buffer_limit``), plaintext written before the handshake completes,
   and TLS waiting to be written; also counts of empty records, warning alerts and
   KeyUpdates in a row.

Imports only layers 1–4 (errors, enums, msgs, crypto, record, keys, verify).
"""

from __future__ import annotations

import logging
import struct
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import NamedTuple, Protocol

from .crypto.provider import SupportedCipherSuite, Tls13CipherSuite
from .enums import (
    AlertDescription,
    AlertLevel,
    ContentType,
    HandshakeType,
    KeyUpdateRequest,
    NamedGroup,
    ProtocolVersion,
)
from .errors import (
    AlertReceived,
    BufferFull,
    DecodeError,
    Error,
    HandshakeNotComplete,
    InappropriateMessage,
    InternalError,
    PeerMisbehaved,
    UnexpectedEof,
    alert_for,
)
from .keys import tls13 as ks13
from .msgs.handshake import KeyUpdate
from .msgs.message import (
    CHANGE_CIPHER_SPEC_PAYLOAD,
    HandshakeMessage,
    decode_alert,
    decode_framed_handshake,
    encode_alert,
    encode_handshake,
)
from .record.deframer import MAX_PLAINTEXT, Deframer, HandshakeJoiner, Record
from .record.layer import (
    _APPDATA_BYTE,
    _FULL13_HEADER,
    _FULL13_WIRE,
    RecordLayer,
)
from .record.send import SendQueue, fragment

__all__ = [
    "ChangeCipherSpecMsg",
    "CommonState",
    "Connection",
    "IoState",
    "QuicSink",
    "Side",
    "State",
]

_log = logging.getLogger("tlspipe.conn")

#: Bounds on counts a peer can drive up without progress (DoS protection).
MAX_EMPTY_RECORDS = 32
MAX_WARNING_ALERTS = 4
MAX_KEY_UPDATES_IN_A_ROW = 32
MAX_FRAGMENT_DEFAULT = 2**14
_U32 = struct.Struct("!I")  # a handshake message header: type(1) || length(3)
_CCS_RECORD = bytes((ContentType.change_cipher_spec, 3, 3, 0, 1)) + CHANGE_CIPHER_SPEC_PAYLOAD


class Side(Enum):
    """Which end of the connection this is."""

    CLIENT = "client"
    SERVER = "server"


class IoState(NamedTuple):
    """What :meth:`Connection.process_new_packets` left for the caller to do.

    Attributes:
        tls_bytes_to_write: bytes waiting in :meth:`Connection.write_tls`.
        plaintext_bytes_to_read: bytes waiting in :meth:`Connection.read`.
        peer_has_closed: the peer sent close_notify; no more plaintext will arrive.
    """

    tls_bytes_to_write: int
    plaintext_bytes_to_read: int
    peer_has_closed: bool


class ChangeCipherSpecMsg:
    """A ChangeCipherSpec record, delivered to TLS 1.2 states (TLS 1.3 ignores them)."""

    __slots__ = ()


_new_io_state = tuple.__new__
"""Builds an :class:`IoState` from a 3-tuple without the ``NamedTuple`` ``__new__`` frame."""

CCS = ChangeCipherSpecMsg()

Message = HandshakeMessage | ChangeCipherSpecMsg


class State(Protocol):
    """One handshake state: consumes a message, returns the next state.

    Raises:
        Error: any protocol violation; the connection sends the matching alert.
    """

    def handle(self, cx: CommonState, msg: Message) -> State: ...


class QuicSink(Protocol):
    """QUIC mode (RFC 9001 §4): handshake messages and secrets go to the QUIC stack, not to
    records.  Set on :attr:`CommonState.quic` by :mod:`tlspipe.quic`; states read the
    transport parameters here (``quic_transport_parameters``, RFC 9001 §8.2)."""

    transport_params: bytes
    peer_transport_params: bytes | None

    def send_handshake(self, raw: bytes) -> None: ...
    def set_secret(
        self, suite: Tls13CipherSuite, secret: bytes, *, write: bool, early: bool
    ) -> None: ...
    def set_alert(self, desc: AlertDescription) -> None: ...


class Exporter(Protocol):
    """Keying-material exporter installed when the handshake completes."""

    def export(self, label: bytes, context: bytes | None, length: int) -> bytes: ...


class CommonState:
    """Everything both sides share: records, queues, negotiated values.

    States act on this object; the public :class:`Connection` wraps it.
    """

    __slots__ = (
        "alpn_protocol",
        "buffer_limit",
        "deframer",
        "early_data_accepted",
        "early_data_left",
        "early_data_offered",
        "early_data_rejected",
        "empty_records",
        "exporter",
        "has_decrypted",
        "is_handshaking",
        "joiner",
        "key_updates_in_a_row",
        "kx_group",
        "max_fragment",
        "max_handshake_message",
        "may_receive_application_data",
        "may_send_application_data",
        "peer_certificates",
        "peer_ocsp_response",
        "peer_sct_list",
        "queued_key_update",
        "quic",
        "received_close_notify",
        "received_early_data",
        "received_handshake",
        "received_len",
        "received_plaintext",
        "receiving_early_data",
        "record_layer",
        "resumed",
        "sendable_len",
        "sendable_plaintext",
        "sendq",
        "sent_close_notify",
        "side",
        "sni",
        "suite",
        "traffic",
        "version",
        "warning_alerts",
    )

    def __init__(
        self,
        side: Side,
        *,
        max_fragment_size: int | None,
        buffer_limit: int,
        max_handshake_message: int = 65536,
    ) -> None:
        self.side = side
        self.record_layer = RecordLayer()
        self.deframer = Deframer()
        self.joiner = HandshakeJoiner(max_handshake_message)
        self.max_handshake_message = max_handshake_message
        self.sendq = SendQueue()
        self.max_fragment = max_fragment_size or MAX_FRAGMENT_DEFAULT
        self.buffer_limit = buffer_limit
        # a deque: read(n) takes from the front in O(1) whatever the peer's record sizes
        self.received_plaintext: deque[bytes] = deque()
        self.received_len = 0
        self.sendable_plaintext: list[bytes] = []
        self.sendable_len = 0
        # negotiated values (set by the states)
        self.version: ProtocolVersion | None = None
        self.suite: SupportedCipherSuite | None = None
        self.kx_group: NamedGroup | None = None
        self.alpn_protocol: bytes | None = None
        self.sni: str | None = None
        self.peer_certificates: tuple[bytes, ...] | None = None
        self.peer_ocsp_response: bytes | None = None
        self.peer_sct_list: bytes | None = None
        self.resumed = False
        # progress flags
        self.is_handshaking = True
        self.may_send_application_data = False
        self.may_receive_application_data = False
        self.received_close_notify = False
        self.sent_close_notify = False
        self.exporter: Exporter | None = None
        self.traffic: TrafficSecrets | None = None
        self.empty_records = 0
        self.warning_alerts = 0
        self.key_updates_in_a_row = 0
        self.queued_key_update = False
        self.early_data_rejected = False
        # 0-RTT (RFC 8446 §4.2.10): client — offered, accepted, bytes it may still write now;
        # server — accepted, bytes it may still receive, and what arrived (read_early_data).
        self.early_data_offered = False
        self.early_data_accepted = False
        self.early_data_left = 0
        self.receiving_early_data = False
        self.received_early_data: list[bytes] = []
        # True once a protected record from the peer was opened (plaintext alerts end then)
        self.has_decrypted = False
        # True once any handshake record arrived (a server's CCS is invalid before it)
        self.received_handshake = False
        # QUIC mode (tlspipe.quic): no records; handshake bytes and secrets go to the sink
        self.quic: QuicSink | None = None

    # -- sending ---------------------------------------------------------------------------------
    @property
    def is_tls13(self) -> bool:
        """True once TLS 1.3 has been negotiated."""
        return self.version is ProtocolVersion.TLSv1_3

    def send_raw_record(self, content_type: int, payload: bytes | memoryview) -> None:
        """Fragment ``payload`` and queue it under the current write keys."""
        enc = self.record_layer.encrypt
        if type(payload) is bytes and len(payload) <= self.max_fragment:
            # one record (the usual case): no fragment() views; SendQueue.push inlined
            rec = enc(content_type, payload)
            if type(rec) is bytes:
                sendq = self.sendq
                sendq.chunks.append(rec)
                sendq.nbytes += len(rec)
                return
            self.sendq.push(rec)
            return
        push = self.sendq.push
        if not payload:
            push(enc(content_type, b""))
            return
        for chunk in fragment(payload, self.max_fragment):
            push(enc(content_type, chunk))

    def send_handshake(self, raw: bytes) -> None:
        """Queue one encoded handshake message (the caller adds ``raw`` to its transcript)."""
        if self.quic is not None:
            self.quic.send_handshake(raw)
            return
        self.send_raw_record(ContentType.handshake, raw)

    def send_ccs(self) -> None:
        """Queue a ChangeCipherSpec record (TLS 1.2, or TLS 1.3 middlebox compatibility).

        It is never protected: in TLS 1.3 the write keys may already be installed.  QUIC
        never sends one (RFC 9001 §8.4).
        """
        if self.quic is None:  # SendQueue.push of a constant, non-empty record, inlined
            sendq = self.sendq
            sendq.chunks.append(_CCS_RECORD)
            sendq.nbytes += len(_CCS_RECORD)

    def send_alert(self, level: AlertLevel, desc: AlertDescription) -> None:
        """Queue an alert under the current write keys (QUIC: hand it to the sink)."""
        if self.quic is not None:
            self.quic.set_alert(desc)
            return
        self.send_raw_record(ContentType.alert, encode_alert(level, desc))

    def send_appdata(self, data: bytes | memoryview) -> None:
        """Encrypt and queue application data now (the handshake must be complete)."""
        if self.record_layer.wants_key_update() and self.is_tls13:
            self.send_key_update(KeyUpdateRequest.update_not_requested)
        self.send_raw_record(ContentType.application_data, data)

    def start_traffic(self) -> None:
        """Mark the handshake complete and flush plaintext written during it."""
        self.is_handshaking = False
        self.may_send_application_data = True
        self.may_receive_application_data = True
        for chunk in self.sendable_plaintext:
            self.send_appdata(chunk)
        self.sendable_plaintext.clear()
        self.sendable_len = 0

    # -- TLS 1.3 traffic keys --------------------------------------------------------------------
    def set_tls13_encrypter(
        self,
        suite: Tls13CipherSuite,
        secret: bytes,
        *,
        early: bool = False,
        keys: tuple[bytes, bytes] | None = None,
    ) -> None:
        """Install TLS 1.3 write keys derived from ``secret`` (``early``: 0-RTT keys);
        ``keys``: its (key, iv) when the caller derived them already."""
        if self.quic is not None:
            self.quic.set_secret(suite, secret, write=True, early=early)
            return
        key, iv = keys if keys is not None else ks13.traffic_keys(suite, secret)
        self.record_layer.set_tls13_encrypter(suite.aead, key, iv)

    def set_tls13_decrypter(
        self,
        suite: Tls13CipherSuite,
        secret: bytes,
        *,
        early: bool = False,
        keys: tuple[bytes, bytes] | None = None,
    ) -> None:
        """Install TLS 1.3 read keys derived from ``secret`` (``early``: 0-RTT keys);
        ``keys``: its (key, iv) when the caller derived them already.

        Raises:
            PeerMisbehaved: a handshake message straddles the key change (RFC 8446 §5.1).
        """
        joiner = self.joiner
        if joiner.pending or joiner.held:  # HandshakeJoiner.is_empty() without the call
            raise PeerMisbehaved(
                "handshake message spans a key change", AlertDescription.unexpected_message
            )
        if self.quic is not None:
            self.quic.set_secret(suite, secret, write=False, early=early)
            return
        key, iv = keys if keys is not None else ks13.traffic_keys(suite, secret)
        self.record_layer.set_tls13_decrypter(suite.aead, key, iv)

    def send_key_update(self, request: KeyUpdateRequest) -> None:
        """Send KeyUpdate and move to the next write secret (RFC 8446 §4.6.3)."""
        tr = self.traffic
        if tr is None:
            raise InternalError("KeyUpdate before traffic keys")
        self.send_handshake(encode_handshake(KeyUpdate(request_update=request)))
        tr.update_write(self)
        self.queued_key_update = False

    def handle_key_update(self, msg: HandshakeMessage) -> None:
        """Process a peer's KeyUpdate (RFC 8446 §4.6.3).

        Raises:
            PeerMisbehaved: bad request value (illegal_parameter), a KeyUpdate straddling
                records, or too many KeyUpdates without application data.
        """
        ku = msg.expect(KeyUpdate)
        if self.quic is not None:  # RFC 9001 §6: QUIC has its own key update
            raise InappropriateMessage("KeyUpdate is not allowed in QUIC")
        if ku.request_update not in (0, 1):
            raise PeerMisbehaved("KeyUpdate with invalid request_update")
        tr = self.traffic
        if tr is None:
            raise InternalError("KeyUpdate before traffic keys")
        self.key_updates_in_a_row += 1
        if self.key_updates_in_a_row > MAX_KEY_UPDATES_IN_A_ROW:
            raise PeerMisbehaved(
                "too many KeyUpdates without application data",
                AlertDescription.unexpected_message,
            )
        tr.update_read(self)
        # One answer covers every request received before our next record: while the key
        # our last answer installed is unused, another KeyUpdate would only grow the send
        # queue of a peer that never reads it (rustls and OpenSSL coalesce too).
        answered = self.queued_key_update and self.record_layer.write_seq == 0
        if (
            ku.request_update == KeyUpdateRequest.update_requested
            and not self.sent_close_notify
            and not answered
        ):
            self.send_key_update(KeyUpdateRequest.update_not_requested)
            self.queued_key_update = True

    # -- receiving -------------------------------------------------------------------------------
    def take_early_data(self, data: bytes) -> None:
        """Buffer 0-RTT data received by a server (bounded by max_early_data_size).

        Raises:
            PeerMisbehaved: more early data than we allowed (unexpected_message, §4.2.10).
        """
        if len(data) > self.early_data_left:
            raise PeerMisbehaved(
                "client sent more early data than allowed", AlertDescription.unexpected_message
            )
        self.early_data_left -= len(data)
        self.received_early_data.append(data)

    def take_received_plaintext(self, data: bytes) -> None:
        """Buffer decrypted application data for :meth:`Connection.read`."""
        if data:
            self.received_plaintext.append(data)
            self.received_len += len(data)


class TrafficSecrets:
    """The TLS 1.3 application traffic secrets of both directions, for KeyUpdate."""

    __slots__ = ("_read", "_write", "suite")

    def __init__(self, suite: Tls13CipherSuite, read: bytes, write: bytes) -> None:
        self.suite = suite
        self._read = read
        self._write = write

    def __repr__(self) -> str:
        return f"TrafficSecrets({self.suite.suite.name})"

    def update_write(self, cx: CommonState) -> None:
        """Move to the next write secret and install it."""
        self._write = ks13.next_traffic_secret(self.suite.hash_name, self._write)
        cx.set_tls13_encrypter(self.suite, self._write)

    def update_read(self, cx: CommonState) -> None:
        """Move to the next read secret and install it."""
        self._read = ks13.next_traffic_secret(self.suite.hash_name, self._read)
        cx.set_tls13_decrypter(self.suite, self._read)


class Connection:
    """The sans-IO TLS connection (base of ClientConnection and ServerConnection).

    Feed the peer's bytes to :meth:`read_tls`, call :meth:`process_new_packets`, send what
    :meth:`write_tls` returns, read plaintext with :meth:`read`, write with :meth:`write`.
    """

    def __init__(self, common: CommonState, state: State) -> None:
        self._cx = common
        self._state: State = state
        self._error: Error | None = None
        self._eof = False
        self._bulk_io: IoState = _new_io_state(IoState, (0, 0, False))

    # -- TLS side --------------------------------------------------------------------------------
    def read_tls(self, data: bytes | bytearray | memoryview) -> int:
        """Give the connection TLS bytes received from the peer.

        ``b""`` means the transport reached end of file.  At most a bounded amount is
        buffered: the return value says how many bytes were taken; offer the rest again after
        :meth:`process_new_packets` (and :meth:`read`) made room.

        Returns:
            The number of bytes accepted.

        Raises:
            Error: the connection already failed (the stored error is raised again).
        """
        failed = self._error
        if failed is not None:
            raise failed
        if not data:
            self._eof = True
            return 0
        cx = self._cx
        if cx.received_len >= cx.buffer_limit:
            return 0
        dfr = cx.deframer
        if not dfr.fed and not dfr.buf:
            # Deframer.feed's usual case inlined.  Another buffer type is made bytes first (the
            # one copy buffering it would make anyway): pop() then slices records out of it,
            # its shorter way, and the bulk path applies.
            if type(data) is not bytes:
                size = data.nbytes if isinstance(data, memoryview) else len(data)
                if size > dfr.max_buffer:  # feed takes a prefix (copying all of it would
                    return dfr.feed(data)  # make a caller's loop over a big buffer quadratic)
                data = bytes(data)
            n = len(data)
            if n <= dfr.max_buffer:
                dfr.fed = data  # kept as is (off is 0 while fed is empty)
                return n
        return dfr.feed(data)

    def process_new_packets(self) -> IoState:
        """Decrypt and process every complete record received so far.

        Returns:
            An :class:`IoState` summarising what the caller should do next.

        Raises:
            Error: a fatal protocol error.  The matching alert has been queued for the peer
                (call :meth:`write_tls` to send it); the connection is unusable afterwards.
            UnexpectedEof: the transport closed without close_notify.
        """
        failed = self._error
        if failed is not None:
            raise failed
        cx = self._cx
        try:
            dfr = cx.deframer
            if (
                dfr.fed
                and cx.may_receive_application_data
                and not cx.receiving_early_data
                and not cx.received_close_notify
                and not cx.joiner.pending
            ):  # the bulk path: whole application_data records fed as one bytes object
                got = cx.record_layer.open_fed_appdata(dfr, cx.received_plaintext)
                if got:
                    got += cx.received_len
                    cx.received_len = got
                    cx.empty_records = 0
                    cx.key_updates_in_a_row = 0
                    if not dfr.fed:  # all consumed (buf is empty while fed is in use)
                        if self._eof:
                            raise UnexpectedEof(
                                "peer closed connection without sending close_notify"
                            )
                        nbytes = cx.sendq.nbytes
                        last = self._bulk_io  # the same IoState as last time, if it is equal
                        if last[1] == got and last[0] == nbytes:
                            return last
                        last = self._bulk_io = _new_io_state(IoState, (nbytes, got, False))
                        return last
            drained = False
            # Process every complete record buffered, even past buffer_limit: the deframer is
            # bounded and read_tls refuses input while plaintext is over the limit, so this
            # stays bounded, and no record is stranded once the peer stops sending.
            pop = dfr.pop
            decrypt = cx.record_layer.decrypt
            joiner = cx.joiner
            while not cx.received_close_notify:
                rec = pop()
                if rec is None:
                    drained = True
                    break
                if (
                    rec[0] == 23 and cx.may_receive_application_data and not cx.receiving_early_data
                ):  # fast path: protected application data after the handshake (what
                    # _process_record → _process_opened do for it, minus the checks these
                    # conditions make moot; a skipped 0-RTT record comes back as None)
                    opened = decrypt(rec)
                    if opened is not None:
                        typ, payload = opened
                        if typ == 23 and payload and not joiner.pending:
                            cx.empty_records = 0
                            cx.key_updates_in_a_row = 0
                            cx.received_plaintext.append(payload)
                            cx.received_len += len(payload)
                            if not dfr.fed and not dfr.buf:  # pop() would say None
                                drained = True
                                break
                            continue
                        self._process_opened(typ, payload)
                    continue
                self._process_record(rec)
                if not dfr.fed and not dfr.buf:  # pop() would say None
                    drained = True
                    break
            if self._eof and drained and not cx.received_close_notify:
                raise UnexpectedEof("peer closed connection without sending close_notify")
        except Error as err:
            self._fail(err)
            raise
        return _new_io_state(IoState, (cx.sendq.nbytes, cx.received_len, cx.received_close_notify))

    def process_handshake_bytes(self, data: bytes) -> None:
        """QUIC: handle handshake messages carried outside records (RFC 9001 §4.1.3).

        Raises:
            Error: any protocol violation (the alert goes to :attr:`CommonState.quic`).
        """
        self._check_poisoned()
        try:
            self._process_handshake(data)
        except Error as err:
            self._fail(err)
            raise

    def _fail(self, err: Error) -> None:
        self._error = err
        alert = alert_for(err)
        if alert is not None and not self._cx.sent_close_notify:
            _log.debug("sending fatal alert %s: %s", alert.name, err)
            try:
                self._cx.send_alert(AlertLevel.fatal, alert)
            except Error:  # keys exhausted: nothing more can be sent
                _log.debug("could not send alert %s", alert.name)

    def _check_poisoned(self) -> None:
        if self._error is not None:
            raise self._error

    def _process_record(self, rec: Record) -> None:
        cx = self._cx
        typ = rec[0]  # content type numbers below, not enum members: one lookup less each
        # TLS 1.3 middlebox compatibility: an unprotected CCS of 0x01 is dropped (RFC 8446 §5).
        if typ == 20:  # change_cipher_spec
            if rec[2] != CHANGE_CIPHER_SPEC_PAYLOAD:
                raise DecodeError("invalid ChangeCipherSpec", AlertDescription.unexpected_message)
            if cx.side is Side.SERVER and not cx.received_handshake:
                # RFC 8446 §5: a CCS before the first ClientHello is an unexpected record
                raise InappropriateMessage("ChangeCipherSpec before ClientHello")
            ver = cx.version  # cx.is_tls13 without the property's frame
            if ver is None or ver is ProtocolVersion.TLSv1_3:
                if not cx.is_handshaking:
                    raise InappropriateMessage("ChangeCipherSpec after the handshake")
                return
            self._state = self._state.handle(cx, CCS)
            return
        if (
            typ == 21  # alert
            and cx.version is ProtocolVersion.TLSv1_3
            and not cx.has_decrypted
            and len(rec[2]) <= 2
        ):
            # RFC 8446 §5, §6: a peer that rejects our ServerHello (or ClientHello2) cannot
            # protect its alert yet; accept a plaintext alert until the first protected record.
            self._process_alert(rec.payload)
            return
        layer = cx.record_layer
        opened = layer.decrypt(rec)
        if opened is None:  # rejected 0-RTT record skipped
            return
        typ, payload = opened
        if typ == 22 and payload:  # handshake: _process_opened's branch for it, inline
            if not cx.has_decrypted and layer.is_decrypting:
                cx.has_decrypted = True
            cx.empty_records = 0
            self._process_handshake(payload)
            return
        self._process_opened(typ, payload)

    def _process_opened(self, typ: int, payload: bytes) -> None:
        cx = self._cx
        if cx.record_layer.is_decrypting:
            cx.has_decrypted = True
        if not payload and typ != ContentType.application_data:
            raise DecodeError(
                "empty record of a type that forbids it", AlertDescription.unexpected_message
            )
        if not payload:
            cx.empty_records += 1
            if cx.empty_records > MAX_EMPTY_RECORDS:
                raise PeerMisbehaved("too many empty records", AlertDescription.unexpected_message)
            return
        cx.empty_records = 0
        if typ == ContentType.handshake:
            self._process_handshake(payload)
        elif typ == ContentType.alert:
            self._process_alert(payload)
        elif typ == ContentType.application_data:
            if cx.receiving_early_data:
                cx.take_early_data(payload)
                return
            if not cx.may_receive_application_data:
                raise InappropriateMessage("application data before the handshake completed")
            if not cx.joiner.is_empty():
                raise PeerMisbehaved(
                    "application data interleaved with a handshake message",
                    AlertDescription.unexpected_message,
                )
            cx.key_updates_in_a_row = 0
            cx.take_received_plaintext(payload)
        else:
            raise InappropriateMessage(f"record of content type {typ} not allowed here")

    def _process_handshake(self, payload: bytes) -> None:
        cx = self._cx
        cx.received_handshake = True
        joiner = cx.joiner
        if type(payload) is bytes and not joiner.pending:
            body = len(payload) - 4
            if (
                body >= 0
                and _U32.unpack_from(payload)[0] & 0xFFFFFF == body
                and body <= cx.max_handshake_message
            ):  # the usual record: exactly one whole message, which the joiner would only
                # have copied in and out (same bound, same bytes to decode)
                msg = decode_framed_handshake(payload, cx.version is ProtocolVersion.TLSv1_3)
                if _log.isEnabledFor(logging.DEBUG):
                    _log.debug("%s received %s", cx.side.value, _msg_name(msg.typ))
                self._state = self._state.handle(cx, msg)
                return
            ends = joiner.whole_messages(payload)
            if ends is not None:  # whole messages only (the server's TLS 1.3 flight): sliced
                # out here instead of copied into the joiner and out; joiner.held counts the
                # ones after the current message, as pending would (the key-change check)
                debug = _log.isEnabledFor(logging.DEBUG)
                start = 0
                n = len(payload)
                try:
                    for end in ends:
                        joiner.held = n - end
                        one = payload[start:end]
                        start = end  # handed out (as pop() would have taken it)
                        msg = decode_framed_handshake(one, cx.version is ProtocolVersion.TLSv1_3)
                        if debug:
                            _log.debug("%s received %s", cx.side.value, _msg_name(msg.typ))
                        self._state = self._state.handle(cx, msg)
                finally:  # held is never left set: outside this loop `pending` alone is exact
                    joiner.held = 0
                    if start < n:  # stopped by an exception: the messages not handed out
                        joiner.push(payload[start:])  # stay buffered, as with push/pop
                return
        joiner.push(payload)
        debug = _log.isEnabledFor(logging.DEBUG)  # once per record, not per message
        while True:
            raw = joiner.pop()
            if raw is None:
                return
            msg = decode_framed_handshake(raw, cx.version is ProtocolVersion.TLSv1_3)
            if debug:  # the arguments cost more than the call
                _log.debug("%s received %s", cx.side.value, _msg_name(msg.typ))
            self._state = self._state.handle(cx, msg)

    def _process_alert(self, payload: bytes) -> None:
        cx = self._cx
        alert = decode_alert(payload)
        desc = alert.description
        if desc == AlertDescription.close_notify:
            if not cx.joiner.is_empty():
                raise DecodeError(
                    "close_notify inside a handshake message", AlertDescription.unexpected_message
                )
            _log.debug("%s received close_notify", cx.side.value)
            cx.received_close_notify = True
            return
        if (alert.level == AlertLevel.warning and desc == AlertDescription.user_canceled) or (
            alert.level == AlertLevel.warning and not cx.is_tls13
        ):
            cx.warning_alerts += 1
        else:
            name = AlertDescription(desc) if desc in _ALERT_VALUES else desc
            raise AlertReceived(name)
        if cx.warning_alerts > MAX_WARNING_ALERTS:
            raise PeerMisbehaved("too many warning alerts", AlertDescription.unexpected_message)

    def io_state(self) -> IoState:
        """The current :class:`IoState` (no processing)."""
        cx = self._cx
        return _new_io_state(IoState, (cx.sendq.nbytes, cx.received_len, cx.received_close_notify))

    def write_tls(self) -> bytes:
        """Take every queued TLS byte to send to the peer (possibly ``b""``).

        Raises:
            Nothing: even a failed connection hands out its final alert.
        """
        sendq = self._cx.sendq
        chunks = sendq.chunks
        n = len(chunks)
        if n == 1:  # SendQueue.take_all's usual cases inlined: one record queued,
            out = chunks[0]
            if type(out) is bytes:
                chunks.clear()
                sendq.nbytes = 0
                return out
        elif not n:  # nothing queued,
            return b""
        elif not sendq.head:  # or a flight of records, none sent in part
            out = b"".join(chunks)
            chunks.clear()
            sendq.nbytes = 0
            return out
        return sendq.take_all()

    def pending_tls(self) -> list[memoryview]:
        """Queued TLS records as memoryviews, for one ``socket.sendmsg`` call.

        After sending, call :meth:`consume_tls` with the number of bytes sent.
        """
        return self._cx.sendq.pending()

    def consume_tls(self, n: int) -> None:
        """Drop the first ``n`` queued TLS bytes (they were sent)."""
        self._cx.sendq.consume(n)

    def wants_write(self) -> bool:
        """True when TLS bytes are waiting to be sent."""
        return not self._cx.sendq.is_empty()

    def wants_read(self) -> bool:
        """True when the connection wants more TLS bytes from the peer.

        False once the peer closed, while plaintext is waiting to be read past the buffer
        limit, or after an error.
        """
        cx = self._cx
        if self._error is not None or cx.received_close_notify or self._eof:
            return False
        return cx.received_len < cx.buffer_limit

    # -- plaintext side --------------------------------------------------------------------------
    def read(self, n: int = -1) -> bytes:
        """Take up to ``n`` bytes of received plaintext (all of it when ``n < 0``).

        Returns ``b""`` when nothing is waiting: check :attr:`IoState.peer_has_closed` to tell
        a clean end from "not yet".

        Raises:
            Error: the connection failed earlier (stored error).
        """
        cx = self._cx
        q = cx.received_plaintext
        if not q:
            self._check_poisoned()
            return b""
        if n < 0 or n >= cx.received_len:
            if len(q) == 1:  # the usual case: no join, the record's plaintext as is
                out = q.popleft()
                if type(out) is not bytes:  # a provider's AEAD may hand out other buffers
                    out = bytes(out)
            else:
                out = b"".join(q)
                q.clear()
            cx.received_len = 0
            return out
        parts: list[bytes] = []
        need = n
        while need > 0 and q:
            head = q[0]
            if len(head) <= need:
                parts.append(q.popleft())
                need -= len(head)
            else:
                parts.append(head[:need])
                q[0] = head[need:]
                need = 0
        cx.received_len -= n
        return b"".join(parts)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Send plaintext; before the handshake completes it is buffered (bounded).

        Returns:
            The number of bytes accepted (fewer than ``len(data)`` when buffers are full:
            send :meth:`write_tls` output, then write the rest).

        Raises:
            Error: the connection failed, or close_notify was already sent.
        """
        failed = self._error
        if failed is not None:
            raise failed
        cx = self._cx
        if cx.sent_close_notify:
            raise BufferFull("cannot write after close_notify")
        if type(data) is bytes:
            payload: bytes | memoryview = data
            n = len(data)
            if n == MAX_PLAINTEXT:  # a full-size TLS 1.3 record: seal it here, one frame less
                rl = cx.record_layer
                seal = rl._seal13
                seq = rl._write_seq
                sendq = cx.sendq
                queued = sendq.nbytes
                if (
                    seal is not None
                    and seq < rl._enc_soft  # else a KeyUpdate is due: the long way
                    and cx.may_send_application_data
                    and n <= cx.max_fragment
                    and n <= cx.buffer_limit - queued
                ):  # RecordLayer.encrypt_appdata's full-size case and SendQueue.push inlined
                    sendq.chunks.append(
                        _FULL13_HEADER
                        + seal(
                            (rl._write_iv13 ^ seq).to_bytes(12),
                            data + _APPDATA_BYTE,
                            _FULL13_HEADER,
                        )
                    )
                    rl._write_seq = seq + 1
                    sendq.nbytes = queued + _FULL13_WIRE  # the record's length, a constant
                    return n
        else:
            payload = memoryview(data).cast("B")
            n = len(payload)
        sendq = cx.sendq
        if (
            cx.may_send_application_data
            and 0 < n <= cx.max_fragment
            and n <= cx.buffer_limit - sendq.nbytes
        ):  # fast path: one record, no fragmenting (None: KeyUpdate due, the long way)
            try:
                record = cx.record_layer.encrypt_appdata(payload)
            except Error as err:
                self._fail(err)
                raise
            if record is not None:
                if type(record) is bytes:  # SendQueue.push inlined: never empty, immutable
                    sendq.chunks.append(record)
                    sendq.nbytes += len(record)
                else:
                    sendq.push(record)
                return n
        mv = payload if type(payload) is memoryview else memoryview(payload)
        if not cx.may_send_application_data:
            room = cx.buffer_limit - cx.sendable_len
            take = max(0, min(room, len(mv)))
            if take:
                cx.sendable_plaintext.append(bytes(mv[:take]))
                cx.sendable_len += take
            return take
        room = max(0, cx.buffer_limit - len(cx.sendq))
        take = min(room, len(mv))
        if take:
            try:
                cx.send_appdata(mv[:take])
            except Error as err:
                self._fail(err)
                raise
        return take

    def send_close_notify(self) -> None:
        """Queue a close_notify alert; no more plaintext can be written afterwards."""
        cx = self._cx
        if cx.sent_close_notify or self._error is not None:
            return
        _log.debug("%s sending close_notify", cx.side.value)
        cx.send_alert(AlertLevel.warning, AlertDescription.close_notify)
        cx.sent_close_notify = True

    def refresh_traffic_keys(self) -> None:
        """Send a TLS 1.3 KeyUpdate asking the peer to update too (RFC 8446 §4.6.3).

        Raises:
            HandshakeNotComplete: the handshake is still running or TLS 1.2 was negotiated.
            BufferFull: close_notify was already sent (nothing may follow it, RFC 8446 §6.1).
        """
        self._check_poisoned()
        cx = self._cx
        if cx.is_handshaking or not cx.is_tls13 or cx.traffic is None:
            raise HandshakeNotComplete("KeyUpdate needs a completed TLS 1.3 handshake")
        if cx.sent_close_notify:
            raise BufferFull("cannot send KeyUpdate after close_notify")
        cx.send_key_update(KeyUpdateRequest.update_requested)

    def export_keying_material(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """Derive keying material (RFC 8446 §7.5, RFC 5705).

        Raises:
            HandshakeNotComplete: before the handshake completed.
            ConfigError: reserved label or bad length.
        """
        self._check_poisoned()
        ex = self._cx.exporter
        if ex is None or self._cx.is_handshaking:
            raise HandshakeNotComplete("exporters need a completed handshake")
        return ex.export(label, context, length)

    # -- negotiated values -----------------------------------------------------------------------
    @property
    def is_handshaking(self) -> bool:
        """True until the handshake completes."""
        return self._cx.is_handshaking

    @property
    def protocol_version(self) -> ProtocolVersion | None:
        """The negotiated protocol version, once known."""
        return self._cx.version

    @property
    def negotiated_cipher_suite(self) -> SupportedCipherSuite | None:
        """The negotiated cipher suite, once known."""
        return self._cx.suite

    @property
    def negotiated_key_exchange_group(self) -> NamedGroup | None:
        """The key exchange group used, once known (None for a psk_ke resumption)."""
        return self._cx.kx_group

    @property
    def alpn_protocol(self) -> bytes | None:
        """The ALPN protocol agreed with the peer, or None."""
        return self._cx.alpn_protocol

    @property
    def server_name(self) -> str | None:
        """The SNI host name (sent by the client / received by the server), or None."""
        return self._cx.sni

    @property
    def peer_certificates(self) -> tuple[bytes, ...] | None:
        """The peer's certificate chain (DER, leaf first), once received."""
        return self._cx.peer_certificates

    @property
    def peer_ocsp_response(self) -> bytes | None:
        """The OCSP response the server stapled for its certificate (DER), if any."""
        return self._cx.peer_ocsp_response

    @property
    def peer_sct_list(self) -> bytes | None:
        """The SignedCertificateTimestampList the server stapled (RFC 6962 §3.3), if any."""
        return self._cx.peer_sct_list

    @property
    def handshake_kind_resumed(self) -> bool:
        """True when the handshake resumed an earlier session."""
        return self._cx.resumed

    @property
    def peer_has_closed(self) -> bool:
        """True once the peer sent close_notify."""
        return self._cx.received_close_notify

    def __repr__(self) -> str:
        cx = self._cx
        ver = cx.version.name if cx.version else "?"
        return (
            f"<{type(self).__name__} {cx.side.value} version={ver} "
            f"handshaking={cx.is_handshaking} state={type(self._state).__name__}>"
        )


_ALERT_VALUES = frozenset(int(a) for a in AlertDescription)
_HS_VALUES = frozenset(int(h) for h in HandshakeType)


def _msg_name(typ: int) -> str:
    return HandshakeType(typ).name if typ in _HS_VALUES else f"handshake({typ})"


def unexpected(msg: Message, expected: str) -> InappropriateMessage:
    """The error for a message the current state does not accept."""
    got = "ChangeCipherSpec" if isinstance(msg, ChangeCipherSpecMsg) else _msg_name(msg.typ)
    return InappropriateMessage(f"expected {expected}, got {got}", expected=expected, got=got)


def expect_handshake(msg: Message, expected: str) -> HandshakeMessage:
    """``msg`` as a handshake message, or raise :func:`unexpected`."""
    if isinstance(msg, ChangeCipherSpecMsg):
        raise unexpected(msg, expected)
    return msg


TimeSource = Callable[[], float]
