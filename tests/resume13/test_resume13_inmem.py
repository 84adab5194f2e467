"""TLS 1.3 resumption, 0-RTT and external PSKs, in memory (RFC 8446 §2.2, §2.3, §4.2.10,
§4.2.11, §4.6.1, §8)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

import tlspipe
from helpers import client_config, server_config
from tlspipe.enums import AlertDescription, CipherSuite, ContentType, HandshakeType, NamedGroup
from tlspipe.msgs.message import decode_handshake
from tlspipe.msgs.persist import Tls13ClientSessionValue

NAME = "localhost"
PSK = tlspipe.ExternalPsk(identity=b"client-7", key=bytes(range(32)))


def feed(dst: tlspipe.Connection, data: bytes) -> None:
    off = 0
    while off < len(data):
        n = dst.read_tls(data[off:])
        dst.process_new_packets()
        assert n > 0, "receiver stalled"
        off += n
    dst.process_new_packets()


def pump(c: tlspipe.ClientConnection, s: tlspipe.ServerConnection, rounds: int = 16) -> None:
    for _ in range(rounds):
        a = c.write_tls()
        if a:
            feed(s, a)
        b = s.write_tls()
        if b:
            feed(c, b)
        if not a and not b:
            return
    raise AssertionError("no progress")


def connect(
    cc: tlspipe.ClientConfig, sc: tlspipe.ServerConfig, early: bytes | None = None
) -> tuple[tlspipe.ClientConnection, tlspipe.ServerConnection, int]:
    c = tlspipe.ClientConnection(cc, NAME)
    s = tlspipe.ServerConnection(sc)
    n = c.write_early_data(early) if early is not None else 0
    pump(c, s)
    assert not c.is_handshaking and not s.is_handshaking
    c.write(b"ping")
    pump(c, s)
    assert s.read() == b"ping"
    return c, s, n


def handshake_types(data: bytes) -> list[int]:
    """Types of the plaintext handshake messages in ``data`` (the first flight only)."""
    out = []
    off = 0
    while off + 5 <= len(data):
        typ, ln = data[off], int.from_bytes(data[off + 3 : off + 5], "big")
        if typ == ContentType.handshake:
            out.append(data[off + 5])
        off += 5 + ln
    return out


class RecordingStore:
    """A user-supplied StoresClientSessions (dict based), optionally altering tickets."""

    def __init__(self, alter: Any = None) -> None:
        self.tickets: dict[str, list[Tls13ClientSessionValue]] = {}
        self.takes = 0
        self.alter = alter

    def set_kx_hint(self, server_name: str, group: NamedGroup) -> None:
        pass

    def kx_hint(self, server_name: str) -> NamedGroup | None:
        return None

    def set_tls12_session(self, server_name: str, value: Any) -> None:
        pass

    def tls12_session(self, server_name: str) -> Any:
        return None

    def remove_tls12_session(self, server_name: str) -> None:
        pass

    def insert_tls13_ticket(self, server_name: str, value: Tls13ClientSessionValue) -> None:
        self.tickets.setdefault(server_name, []).append(value)

    def take_tls13_ticket(self, server_name: str) -> Tls13ClientSessionValue | None:
        self.takes += 1
        lst = self.tickets.get(server_name)
        if not lst:
            return None
        v = lst.pop()
        return self.alter(v) if self.alter else v


@pytest.fixture
def cc(pki: Any) -> tlspipe.ClientConfig:
    return client_config(pki)


# -- resumption --------------------------------------------------------------------------------
@pytest.mark.parametrize("stateless", [False, True], ids=["stateful", "stateless"])
def test_resumption_across_connections(pki: Any, cc: tlspipe.ClientConfig, stateless: bool) -> None:
    sc = server_config(pki, ticketer=tlspipe.Ticketer() if stateless else None)
    c1, s1, _ = connect(cc, sc)
    assert not c1.handshake_kind_resumed and not s1.handshake_kind_resumed
    c2, s2, _ = connect(cc, sc)
    assert c2.handshake_kind_resumed and s2.handshake_kind_resumed
    assert c2.peer_certificates == c1.peer_certificates  # kept from the original session
    assert c2.negotiated_key_exchange_group is not None  # psk_dhe_ke: (EC)DHE still ran
    c3, s3, _ = connect(cc, sc)
    assert c3.handshake_kind_resumed and s3.handshake_kind_resumed


def test_resumed_flight_has_no_certificate(pki: Any, cc: tlspipe.ClientConfig) -> None:
    sc = server_config(pki)
    connect(cc, sc)
    c = tlspipe.ClientConnection(cc, NAME)
    s = tlspipe.ServerConnection(sc)
    feed(s, c.write_tls())
    flight = s.write_tls()
    assert s.handshake_kind_resumed
    # The ServerHello is in clear; the rest is protected: count records instead.
    assert handshake_types(flight) == [HandshakeType.server_hello]
    sh = decode_handshake(flight[5 : 5 + int.from_bytes(flight[3:5], "big")], tls13=True)
    assert sh.body.extensions.pre_shared_key == 0  # type: ignore[union-attr]
    protected = []
    off = 0
    while off < len(flight):
        ln = int.from_bytes(flight[off + 3 : off + 5], "big")
        if flight[off] == ContentType.application_data:
            protected.append(ln)
        off += 5 + ln
    # EncryptedExtensions and Finished only, coalesced into one record: too short to hold
    # a Certificate (~500 octets here) or a CertificateVerify (~80) besides them.
    assert len(protected) == 1
    assert protected[0] < 4 + 64 + 4 + 32 + 1 + 16
    feed(c, flight)
    pump(c, s)
    assert c.handshake_kind_resumed


@pytest.mark.parametrize("count", [0, 1, 3])
def test_ticket_count_configurable(pki: Any, count: int) -> None:
    store = RecordingStore()
    cc = client_config(pki, session_store=store)
    connect(cc, server_config(pki, send_tls13_tickets=count))
    assert len(store.tickets.get(NAME, [])) == count
    for t in store.tickets.get(NAME, []):
        assert 0 < t.lifetime <= 604800 and t.server_name == NAME


def test_ticket_age_add_and_nonce_differ(pki: Any) -> None:
    store = RecordingStore()
    connect(client_config(pki, session_store=store), server_config(pki, send_tls13_tickets=4))
    ts = store.tickets[NAME]
    assert len({t.ticket for t in ts}) == 4
    assert len({t.secret for t in ts}) == 4  # distinct nonces → distinct PSKs
    assert len({t.age_add for t in ts}) == 4


def test_client_uses_each_ticket_once(pki: Any) -> None:
    store = RecordingStore()
    cc = client_config(pki, session_store=store)
    sc = server_config(pki, send_tls13_tickets=1)
    connect(cc, sc)
    assert len(store.tickets[NAME]) == 1
    c2, _, _ = connect(cc, sc)
    assert c2.handshake_kind_resumed
    assert len(store.tickets[NAME]) == 1  # the used one is gone, the new one arrived


def test_stateful_ticket_single_use_on_server(pki: Any, cc: tlspipe.ClientConfig) -> None:
    sc = server_config(pki)
    connect(cc, sc)
    c = tlspipe.ClientConnection(cc, NAME)
    hello = c.write_tls()
    s1 = tlspipe.ServerConnection(sc)
    feed(s1, hello)
    assert s1.handshake_kind_resumed
    s2 = tlspipe.ServerConnection(sc)  # the same ClientHello again: the session is gone
    feed(s2, hello)
    assert not s2.handshake_kind_resumed


def test_stateless_ticket_can_resume_twice_on_server(pki: Any, cc: tlspipe.ClientConfig) -> None:
    sc = server_config(pki, ticketer=tlspipe.Ticketer())
    connect(cc, sc)
    c = tlspipe.ClientConnection(cc, NAME)
    hello = c.write_tls()
    for _ in range(2):
        s = tlspipe.ServerConnection(sc)
        feed(s, hello)
        assert s.handshake_kind_resumed


def _flip(v: Tls13ClientSessionValue) -> Tls13ClientSessionValue:
    t = bytearray(v.ticket)
    t[len(t) // 2] ^= 1
    return dataclasses.replace(v, ticket=bytes(t))


@pytest.mark.parametrize("stateless", [False, True], ids=["stateful", "stateless"])
def test_corrupted_ticket_full_handshake(pki: Any, stateless: bool) -> None:
    store = RecordingStore(alter=_flip)
    cc = client_config(pki, session_store=store)
    sc = server_config(pki, ticketer=tlspipe.Ticketer() if stateless else None)
    connect(cc, sc)
    c2, s2, _ = connect(cc, sc)
    assert not c2.handshake_kind_resumed and not s2.handshake_kind_resumed


@pytest.mark.parametrize("stateless", [False, True], ids=["stateful", "stateless"])
def test_foreign_ticket_full_handshake(pki: Any, cc: tlspipe.ClientConfig, stateless: bool) -> None:
    def mk() -> tlspipe.ServerConfig:
        return server_config(pki, ticketer=tlspipe.Ticketer() if stateless else None)

    connect(cc, mk())
    c2, s2, _ = connect(cc, mk())  # another server (own ticket key / own session cache)
    assert not c2.handshake_kind_resumed and not s2.handshake_kind_resumed


def test_garbage_ticket_contents_full_handshake(pki: Any, cc: tlspipe.ClientConfig) -> None:
    """A ticket that opens but does not hold a valid session value is ignored."""

    class Bad:
        def enabled(self) -> bool:
            return True

        def lifetime(self) -> int:
            return 3600

        def encrypt(self, plain: bytes) -> bytes | None:
            return b"\x99" + plain[1:]  # wrong format byte

        def decrypt(self, cipher: bytes) -> bytes | None:
            return cipher

    sc = server_config(pki, ticketer=Bad())
    connect(cc, sc)
    c2, s2, _ = connect(cc, sc)
    assert not c2.handshake_kind_resumed and not s2.handshake_kind_resumed


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_expired_ticket_server_side(pki: Any) -> None:
    clock = Clock()
    cc = client_config(pki)
    sc = server_config(pki, time=clock)
    connect(cc, sc)
    clock.now += dt.timedelta(days=2)  # past the stateful lifetime (24 h)
    c2, s2, _ = connect(cc, sc)
    assert not c2.handshake_kind_resumed and not s2.handshake_kind_resumed


def test_expired_ticket_not_offered(pki: Any) -> None:
    clock = Clock()
    store = RecordingStore()
    cc = client_config(pki, session_store=store, time=clock)
    sc = server_config(pki, ticketer=tlspipe.Ticketer(lifetime=60))
    connect(cc, sc)
    clock.now += dt.timedelta(seconds=61)
    c = tlspipe.ClientConnection(cc, NAME)
    ch = decode_handshake(c.write_tls()[5:], tls13=True)
    assert ch.body.extensions.pre_shared_key is None  # type: ignore[union-attr]


def test_bad_binder_is_decrypt_error(pki: Any) -> None:
    store = RecordingStore(alter=lambda v: dataclasses.replace(v, secret=bytes(len(v.secret))))
    cc = client_config(pki, session_store=store)
    sc = server_config(pki, ticketer=tlspipe.Ticketer())
    connect(cc, sc)
    c = tlspipe.ClientConnection(cc, NAME)
    s = tlspipe.ServerConnection(sc)
    s.read_tls(c.write_tls())
    with pytest.raises(tlspipe.PeerMisbehaved) as ei:
        s.process_new_packets()
    assert ei.value.alert == AlertDescription.decrypt_error
    alert = s.write_tls()
    assert alert[0] == ContentType.alert and alert[-1] == AlertDescription.decrypt_error


def test_server_declines_psk_for_other_sni(pki: Any) -> None:
    """A ticket is only good for the server name it was issued under."""
    store = RecordingStore()
    cc = client_config(pki, session_store=store)
    sc = server_config(pki)
    connect(cc, sc)
    # move the ticket to another name the certificate also covers
    store.tickets["testserver.example"] = [
        dataclasses.replace(t, server_name="testserver.example") for t in store.tickets[NAME]
    ]
    c = tlspipe.ClientConnection(cc, "testserver.example")
    s = tlspipe.ServerConnection(sc)
    pump(c, s)
    assert not c.is_handshaking and not c.handshake_kind_resumed


def test_user_store_resumes(pki: Any) -> None:
    store = RecordingStore()
    cc = client_config(pki, session_store=store)
    sc = server_config(pki)
    connect(cc, sc)
    c2, _, _ = connect(cc, sc)
    assert c2.handshake_kind_resumed and store.takes >= 2


def test_no_store_no_resumption(pki: Any) -> None:
    cc = client_config(pki, session_store=tlspipe.NoClientSessionStorage())
    sc = server_config(pki)
    connect(cc, sc)
    c2, _, _ = connect(cc, sc)
    assert not c2.handshake_kind_resumed


def test_hrr_with_psk(pki: Any) -> None:
    """HelloRetryRequest: binders are recomputed over message_hash + HRR + ClientHello2."""
    cc = client_config(pki, kx_groups=(NamedGroup.x25519, NamedGroup.secp384r1))
    sc = server_config(pki, kx_groups=(NamedGroup.secp384r1,))
    connect(cc, sc)
    c2, s2, _ = connect(cc, sc)
    assert c2.handshake_kind_resumed and s2.handshake_kind_resumed
    assert c2.negotiated_key_exchange_group == NamedGroup.secp384r1


def test_hrr_with_other_hash_drops_psk(pki: Any) -> None:
    """The HRR's suite has another hash than the ticket's: the PSK is left out of CH2."""
    storage = tlspipe.ServerSessionMemoryCache()
    cc = client_config(pki, kx_groups=(NamedGroup.x25519, NamedGroup.secp384r1))
    sc1 = server_config(
        pki, session_storage=storage, cipher_suites=(CipherSuite.TLS13_AES_128_GCM_SHA256,)
    )
    connect(cc, sc1)
    sc2 = server_config(
        pki,
        session_storage=storage,
        cipher_suites=(CipherSuite.TLS13_AES_256_GCM_SHA384,),
        kx_groups=(NamedGroup.secp384r1,),
    )
    c2, s2, _ = connect(cc, sc2)
    assert not c2.handshake_kind_resumed and not s2.handshake_kind_resumed


def test_psk_with_client_auth_keeps_client_chain(pki: Any) -> None:
    ident = pki.client("ecdsa-p256")
    roots = tlspipe.RootCertStore.from_pem_file(ident.ca_pem)
    sc = server_config(pki, client_verifier=tlspipe.AllowAnyAuthenticatedClient(roots))
    cc = client_config(pki).with_client_auth_cert(
        ident.chain_pem.read_bytes(), ident.key_pem.read_bytes()
    )
    _, s1, _ = connect(cc, sc)
    _, s2, _ = connect(cc, sc)
    assert s2.handshake_kind_resumed
    assert s2.peer_certificates == s1.peer_certificates and s2.peer_certificates


# -- 0-RTT -------------------------------------------------------------------------------------
def early_configs(pki: Any, *, stateless: bool = True, **skw: Any) -> Any:
    log_c, log_s = Log(), Log()
    cc = client_config(pki, enable_early_data=True, key_log=log_c)
    sc = server_config(
        pki,
        max_early_data_size=1024,
        ticketer=tlspipe.Ticketer() if stateless else None,
        key_log=log_s,
        **skw,
    )
    return cc, sc, log_c, log_s


class Log:
    def __init__(self) -> None:
        self.labels: list[str] = []

    def will_log(self, label: str) -> bool:
        return True

    def log(self, label: str, client_random: bytes, secret: bytes) -> None:
        self.labels.append(label)


@pytest.mark.parametrize("stateless", [False, True], ids=["stateful", "stateless"])
def test_early_data_accepted(pki: Any, stateless: bool) -> None:
    cc, sc, log_c, log_s = early_configs(pki, stateless=stateless)
    c1, _, n = connect(cc, sc, early=b"too soon")
    assert n == 0 and not c1.early_data_offered  # no ticket yet
    c2, s2, n = connect(cc, sc, early=b"GET / HTTP/1.1\r\n\r\n")
    assert n == 18
    assert c2.early_data_offered and c2.early_data_accepted
    assert s2.early_data_accepted and s2.read_early_data() == b"GET / HTTP/1.1\r\n\r\n"
    assert c2.handshake_kind_resumed
    assert "CLIENT_EARLY_TRAFFIC_SECRET" in log_c.labels
    assert "CLIENT_EARLY_TRAFFIC_SECRET" in log_s.labels
    # the server's answer and more data flow normally afterwards
    s2.write(b"pong")
    pump(c2, s2)
    assert c2.read() == b"pong"


def test_early_data_bounded_by_ticket(pki: Any) -> None:
    cc, sc, _, _ = early_configs(pki)
    connect(cc, sc)
    c = tlspipe.ClientConnection(cc, NAME)
    assert c.write_early_data(b"x" * 5000) == 1024
    assert c.write_early_data(b"y") == 0
    s = tlspipe.ServerConnection(sc)
    pump(c, s)
    assert c.early_data_accepted and s.read_early_data() == b"x" * 1024


def test_early_data_not_writable_after_server_hello(pki: Any) -> None:
    cc, sc, _, _ = early_configs(pki)
    connect(cc, sc)
    c = tlspipe.ClientConnection(cc, NAME)
    s = tlspipe.ServerConnection(sc)
    pump(c, s)
    assert c.write_early_data(b"late") == 0


def test_early_data_rejected_by_config(pki: Any) -> None:
    """The ticket allows 0-RTT but this server does not: data skipped, handshake completes."""
    ticketer = tlspipe.Ticketer()
    cc, sc, _, _ = early_configs(pki)
    sc = dataclasses.replace(sc, ticketer=ticketer)
    connect(cc, sc)
    sc_off = dataclasses.replace(sc, max_early_data_size=0)
    c2, s2, n = connect(cc, sc_off, early=b"hello early")
    assert n == 11 and c2.early_data_offered and not c2.early_data_accepted
    assert not s2.early_data_accepted and s2.read_early_data() == b""
    assert c2.handshake_kind_resumed  # resumption itself still works


def test_early_data_rejected_by_hrr(pki: Any) -> None:
    cc, sc, _, _ = early_configs(pki)
    cc = dataclasses.replace(cc, kx_groups=(NamedGroup.x25519, NamedGroup.secp384r1))
    connect(cc, sc)
    sc2 = dataclasses.replace(sc, kx_groups=(NamedGroup.secp384r1,))
    c2, s2, n = connect(cc, sc2, early=b"0rtt")
    assert n == 4 and c2.early_data_offered and not c2.early_data_accepted
    assert s2.read_early_data() == b""
    assert c2.handshake_kind_resumed


def test_early_data_rejected_on_full_handshake(pki: Any) -> None:
    """The server cannot open the ticket: full handshake, early data skipped."""
    cc, sc, _, _ = early_configs(pki)
    connect(cc, sc)
    _, other, _, _ = early_configs(pki)
    c2, s2, _ = connect(cc, other, early=b"data")
    assert not c2.handshake_kind_resumed and not c2.early_data_accepted
    assert s2.read_early_data() == b""


def test_early_data_alpn_must_match(pki: Any) -> None:
    cc, sc, _, _ = early_configs(pki)
    cc = dataclasses.replace(cc, alpn_protocols=(b"h2", b"http/1.1"))
    connect(cc, dataclasses.replace(sc, alpn_protocols=(b"h2",)))
    sc2 = dataclasses.replace(sc, alpn_protocols=(b"http/1.1",))
    c2, s2, _ = connect(cc, sc2, early=b"req")
    assert c2.handshake_kind_resumed and not c2.early_data_accepted
    assert s2.read_early_data() == b""


def _first_flight_with_early(
    cc: tlspipe.ClientConfig, early: bytes
) -> tuple[tlspipe.ClientConnection, bytes]:
    c = tlspipe.ClientConnection(cc, NAME)
    assert c.write_early_data(early) == len(early)
    return c, c.write_tls()


def test_replayed_early_data_stateless_not_delivered_twice(pki: Any) -> None:
    cc, sc, _, _ = early_configs(pki, stateless=True)
    connect(cc, sc)
    c, flight = _first_flight_with_early(cc, b"transfer 100")
    s1 = tlspipe.ServerConnection(sc)
    feed(s1, flight)
    assert s1.early_data_accepted and s1.read_early_data() == b"transfer 100"
    s2 = tlspipe.ServerConnection(sc)  # the attacker replays the client's first flight
    feed(s2, flight)
    assert s2.handshake_kind_resumed  # the ticket is still good for resumption
    assert not s2.early_data_accepted and s2.read_early_data() == b""
    # the genuine client completes with the first server
    feed(c, s1.write_tls())
    pump(c, s1)
    assert not c.is_handshaking and c.early_data_accepted


def test_replayed_early_data_stateful_not_delivered_twice(pki: Any) -> None:
    cc, sc, _, _ = early_configs(pki, stateless=False)
    connect(cc, sc)
    _, flight = _first_flight_with_early(cc, b"transfer 100")
    s1 = tlspipe.ServerConnection(sc)
    feed(s1, flight)
    assert s1.read_early_data() == b"transfer 100"
    s2 = tlspipe.ServerConnection(sc)
    feed(s2, flight)
    assert not s2.handshake_kind_resumed and s2.read_early_data() == b""


def test_replay_filter_bounded_and_windowed() -> None:
    f = tlspipe.ReplayFilter(max_entries=2, window_ms=1000)
    assert f.check_and_insert(b"a", 0.0)
    assert not f.check_and_insert(b"a", 10.0)
    assert f.check_and_insert(b"b", 10.0)
    assert not f.check_and_insert(b"c", 20.0)  # full of live entries: fail closed
    assert f.check_and_insert(b"c", 1500.0)  # a and b expired
    assert f.check_and_insert(b"a", 1500.0)
    assert len(f) == 2


def test_stale_ticket_age_rejects_early_data(pki: Any) -> None:
    """A ClientHello whose ticket age is far from ours (a late replay) gets no 0-RTT."""
    clock = Clock()
    cc, sc, _, _ = early_configs(pki)
    sc = dataclasses.replace(sc, time=clock)
    connect(cc, sc)
    _, flight = _first_flight_with_early(cc, b"late")
    clock.now += dt.timedelta(seconds=60)
    s = tlspipe.ServerConnection(sc)
    feed(s, flight)
    assert s.handshake_kind_resumed and not s.early_data_accepted
    assert s.read_early_data() == b""


def test_too_much_early_data_is_fatal(pki: Any) -> None:
    """More 0-RTT than max_early_data_size: unexpected_message (RFC 8446 §4.2.10)."""
    cc, sc, _, _ = early_configs(pki)
    connect(cc, sc)
    sc_small = dataclasses.replace(sc, max_early_data_size=8)
    c, flight = _first_flight_with_early(cc, b"0123456789abcdef")
    s = tlspipe.ServerConnection(sc_small)
    with pytest.raises(tlspipe.PeerMisbehaved) as ei:
        feed(s, flight)
    assert ei.value.alert == AlertDescription.unexpected_message
    del c


def test_early_data_disabled_on_client(pki: Any) -> None:
    cc, sc, _, _ = early_configs(pki)
    cc = dataclasses.replace(cc, enable_early_data=False)
    connect(cc, sc)
    c2, _, n = connect(cc, sc, early=b"x")
    assert n == 0 and not c2.early_data_offered and c2.handshake_kind_resumed


# -- external PSKs ---------------------------------------------------------------------------
def test_external_psk_only_server(pki: Any) -> None:
    cc = client_config(pki, external_psk=PSK)
    sc = tlspipe.ServerConfig(external_psks=(PSK,))
    c, s, _ = connect(cc, sc)
    assert c.peer_certificates is None and s.peer_certificates is None
    assert not c.handshake_kind_resumed
    assert c.negotiated_key_exchange_group is not None
    # tickets from a PSK handshake resume too
    c2, s2, _ = connect(cc, sc)
    assert c2.handshake_kind_resumed and s2.handshake_kind_resumed


def test_external_psk_with_certificate_server(pki: Any) -> None:
    cc = client_config(pki, external_psk=PSK, session_store=tlspipe.NoClientSessionStorage())
    sc = server_config(pki, external_psks=(PSK,))
    c, _, _ = connect(cc, sc)
    assert c.peer_certificates is None  # PSK-authenticated: no certificate sent
    # a client without the PSK gets the certificate
    c2, _, _ = connect(client_config(pki), sc)
    assert c2.peer_certificates


def test_external_psk_sha384(pki: Any) -> None:
    psk = tlspipe.ExternalPsk(identity=b"id384", key=b"k" * 48, hash="sha384")
    cc = client_config(pki, external_psk=psk)
    c, _, _ = connect(cc, tlspipe.ServerConfig(external_psks=(psk,)))
    assert c.negotiated_cipher_suite is not None
    assert c.negotiated_cipher_suite.suite == CipherSuite.TLS13_AES_256_GCM_SHA384


def test_external_psk_unknown_identity_falls_back_to_certificate(pki: Any) -> None:
    other = tlspipe.ExternalPsk(identity=b"someone-else", key=b"z" * 32)
    cc = client_config(pki, external_psk=other)
    c, _, _ = connect(cc, server_config(pki, external_psks=(PSK,)))
    assert c.peer_certificates


def test_external_psk_wrong_key_is_decrypt_error(pki: Any) -> None:
    wrong = tlspipe.ExternalPsk(identity=PSK.identity, key=b"w" * 32)
    c = tlspipe.ClientConnection(client_config(pki, external_psk=wrong), NAME)
    s = tlspipe.ServerConnection(tlspipe.ServerConfig(external_psks=(PSK,)))
    s.read_tls(c.write_tls())
    with pytest.raises(tlspipe.PeerMisbehaved) as ei:
        s.process_new_packets()
    assert ei.value.alert == AlertDescription.decrypt_error


def test_psk_only_server_refuses_client_without_psk(pki: Any) -> None:
    c = tlspipe.ClientConnection(client_config(pki), NAME)
    s = tlspipe.ServerConnection(tlspipe.ServerConfig(external_psks=(PSK,)))
    s.read_tls(c.write_tls())
    with pytest.raises(tlspipe.PeerIncompatible):
        s.process_new_packets()


def test_external_psk_validation() -> None:
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.ExternalPsk(identity=b"", key=b"k" * 32)
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.ExternalPsk(identity=b"id", key=b"short")
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.ExternalPsk(identity=b"id", key=b"k" * 32, hash="md5")  # type: ignore[arg-type]
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.ServerConfig(external_psks=(PSK, PSK))
    with pytest.raises(tlspipe.ConfigError):
        tlspipe.ServerConfig()  # neither certificate nor PSK
    assert "key" not in repr(PSK).replace("key=", "") or bytes(range(32)).hex() not in repr(PSK)
    assert repr(bytes(range(32))) not in repr(PSK)


def test_ticket_without_client_cert_not_resumed_when_auth_required(pki: Any) -> None:
    storage = tlspipe.ServerSessionMemoryCache()
    ident = pki.client("ecdsa-p256")
    roots = tlspipe.RootCertStore.from_pem_file(ident.ca_pem)
    cc = client_config(pki).with_client_auth_cert(
        ident.chain_pem.read_bytes(), ident.key_pem.read_bytes()
    )
    connect(cc, server_config(pki, session_storage=storage))  # no client auth: no chain
    strict = server_config(
        pki, session_storage=storage, client_verifier=tlspipe.AllowAnyAuthenticatedClient(roots)
    )
    c2, s2, _ = connect(cc, strict)
    assert not s2.handshake_kind_resumed and s2.peer_certificates  # full handshake, cert asked


def test_external_psk_after_hrr(pki: Any) -> None:
    cc = client_config(
        pki,
        external_psk=PSK,
        kx_groups=(NamedGroup.x25519, NamedGroup.secp384r1),
        session_store=tlspipe.NoClientSessionStorage(),
    )
    sc = tlspipe.ServerConfig(external_psks=(PSK,), kx_groups=(NamedGroup.secp384r1,))
    c, _, _ = connect(cc, sc)
    assert c.negotiated_key_exchange_group == NamedGroup.secp384r1
    assert c.peer_certificates is None


def test_client_hello_binder_matches_independent_computation(pki: Any) -> None:
    """The ClientHello is encoded once and its placeholder binders replaced in the bytes:
    the binder on the wire is RFC 8446 §4.2.11.2's, recomputed here from the ticket's PSK
    with ``cryptography`` alone over the wire bytes minus the binders vector."""
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

    def expand_label(secret: bytes, label: bytes, ctx: bytes) -> bytes:
        full = b"tls13 " + label
        info = (32).to_bytes(2, "big") + bytes((len(full),)) + full + bytes((len(ctx),)) + ctx
        return HKDFExpand(hashes.SHA256(), 32, info).derive(secret)

    store = RecordingStore()
    cc = client_config(
        pki, session_store=store, cipher_suites=(CipherSuite.TLS13_AES_128_GCM_SHA256,)
    )
    sc = server_config(pki)
    connect(cc, sc)
    ticket = store.tickets[NAME][-1]
    c = tlspipe.ClientConnection(cc, NAME)
    wire = c.write_tls()
    raw = wire[5:]
    ch = decode_handshake(raw, tls13=True).body
    offer = ch.extensions.pre_shared_key  # type: ignore[union-attr]
    assert offer is not None and offer.identities[0].identity == ticket.ticket
    truncated = raw[: len(raw) - offer.binders_len()]
    h = hashes.Hash(hashes.SHA256())
    h.update(truncated)
    early = HKDF.extract(hashes.SHA256(), bytes(32), ticket.secret)
    empty = hashes.Hash(hashes.SHA256()).finalize()
    binder_key = expand_label(early, b"res binder", empty)
    mac = hmac.HMAC(expand_label(binder_key, b"finished", b""), hashes.SHA256())
    mac.update(h.finalize())
    assert offer.binders == (mac.finalize(),)
    s = tlspipe.ServerConnection(sc)
    feed(s, wire)
    pump(c, s)
    assert c.handshake_kind_resumed and s.handshake_kind_resumed and not c.is_handshaking


class CountingTicketer:
    """A Ticketer that counts how often tickets are opened."""

    def __init__(self, lifetime: int = 3600) -> None:
        self.inner = tlspipe.Ticketer(lifetime=lifetime)
        self.decrypts = 0

    def enabled(self) -> bool:
        return True

    def lifetime(self) -> int:
        return self.inner.lifetime()

    def encrypt(self, plain: bytes) -> bytes | None:
        return self.inner.encrypt(plain)

    def decrypt(self, cipher: bytes) -> bytes | None:
        self.decrypts += 1
        return self.inner.decrypt(cipher)


def test_stateless_ticket_opened_once_per_resumption(pki: Any, cc: tlspipe.ClientConfig) -> None:
    """Choosing the suite by the PSK's hash and choosing the PSK share one opening."""
    t = CountingTicketer()
    sc = server_config(pki, ticketer=t)
    connect(cc, sc)
    t.decrypts = 0
    c2, s2, _ = connect(cc, sc)
    assert c2.handshake_kind_resumed and s2.handshake_kind_resumed
    assert t.decrypts == 1


def test_expired_stateless_ticket_server_side(pki: Any) -> None:
    """A ticket that opens (its key is still current) but whose lifetime is over is
    declined, also when its contents come from the suite-choosing peek."""
    clock = Clock()
    t = CountingTicketer(lifetime=60)
    cc = client_config(pki)
    sc = server_config(pki, ticketer=t, time=clock)
    connect(cc, sc)
    clock.now += dt.timedelta(seconds=61)
    c = tlspipe.ClientConnection(cc, NAME)
    hello = c.write_tls()
    s = tlspipe.ServerConnection(sc)
    feed(s, hello)
    offer = decode_handshake(hello[5:], tls13=True).body.extensions.pre_shared_key  # type: ignore[union-attr]
    assert offer is not None  # the client's clock did not move: it offers the ticket
    assert t.inner.decrypt(offer.identities[0].identity) is not None  # and it still opens
    assert not s.handshake_kind_resumed
    pump(c, s)
    assert not c.is_handshaking and not c.handshake_kind_resumed


def test_tickets_share_one_record(pki: Any) -> None:
    """Several NewSessionTickets go out in one record; the client keeps each of them."""
    store = RecordingStore()
    cc = client_config(pki, session_store=store)
    sc = server_config(pki, ticketer=tlspipe.Ticketer(), send_tls13_tickets=3)
    c = tlspipe.ClientConnection(cc, NAME)
    s = tlspipe.ServerConnection(sc)
    feed(s, c.write_tls())  # ClientHello
    feed(c, s.write_tls())  # the server's flight
    feed(s, c.write_tls())  # the client's Finished
    assert not s.is_handshaking
    out = s.write_tls()
    assert out[0] == ContentType.application_data  # protected handshake record
    assert 5 + int.from_bytes(out[3:5], "big") == len(out)  # exactly one record
    feed(c, out)
    assert len(store.tickets[NAME]) == 3
    assert len({t.ticket for t in store.tickets[NAME]}) == 3
