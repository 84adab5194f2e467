"""Secrets stay secret: KeyLog gets the right NSS labels, KeyLogFile writes SSLKEYLOGFILE
format, DEBUG logging and reprs never show traffic secrets, keys or plaintext."""

from __future__ import annotations

import logging
import re

import tlspipe
from helpers import Pair, client_config, make_pair, server_config

LABELS13 = {
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "EXPORTER_SECRET",
}


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, bytes, bytes]] = []

    def will_log(self, label: str) -> bool:
        return True

    def log(self, label: str, client_random: bytes, secret: bytes) -> None:
        self.lines.append((label, client_random, secret))


def _client_random(p: Pair) -> bytes:
    return p.records["client"][0].payload[6:38]


def test_keylog_labels_both_sides(pki):
    ck, sk = Recorder(), Recorder()
    p = Pair(client_config(pki, key_log=ck), server_config(pki, key_log=sk))
    p.handshake()
    cr = _client_random(p)
    for rec in (ck, sk):
        assert {label for label, _, _ in rec.lines} == LABELS13
        assert all(r == cr for _, r, _ in rec.lines)
        assert len(rec.lines) == len(LABELS13)  # each once
    hash_len = p.client.negotiated_cipher_suite.hash_len
    assert dict((lb, s) for lb, _, s in ck.lines) == dict((lb, s) for lb, _, s in sk.lines)
    assert all(len(s) == hash_len for _, _, s in ck.lines)


def test_keylog_after_hrr(pki):
    ck = Recorder()
    g = tlspipe.NamedGroup
    p = Pair(
        client_config(pki, key_log=ck, kx_groups=(g.x25519, g.secp256r1)),
        server_config(pki, kx_groups=(g.secp256r1,)),
    )
    p.handshake()
    assert {label for label, _, _ in ck.lines} == LABELS13


def test_keylog_file_format(pki, tmp_path, monkeypatch):
    path = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(path))
    p = Pair(client_config(pki, key_log=tlspipe.KeyLogFile()), server_config(pki))
    p.handshake()
    lines = path.read_text().splitlines()
    assert len(lines) == len(LABELS13)
    cr = _client_random(p).hex()
    hex_len = 2 * p.client.negotiated_cipher_suite.hash_len
    for line in lines:
        m = re.fullmatch(r"([A-Z_0-9]+) ([0-9a-f]{64}) ([0-9a-f]+)", line)
        assert m, line
        assert m.group(1) in LABELS13 and m.group(2) == cr and len(m.group(3)) == hex_len
    assert {ln.split()[0]: ln.split()[2] for ln in lines} == {
        k: v.hex() for k, v in p.secrets.secrets.items() if k in LABELS13
    }


def test_keylog_file_explicit_path_and_unwritable(pki, tmp_path, monkeypatch):
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    assert not tlspipe.KeyLogFile().will_log("X")
    bad = tlspipe.KeyLogFile(tmp_path / "missing-dir" / "k.log")
    p = Pair(client_config(pki, key_log=bad), server_config(pki))
    p.handshake()  # I/O errors are swallowed


def _secret_forms(p: Pair) -> list[str]:
    forms = []
    for s in p.secrets.secrets.values():
        forms += [s.hex(), s.hex().upper(), repr(s)[2:-1], s[:12].hex()]
    return forms


def test_debug_logging_has_no_secrets(pki, caplog):
    caplog.set_level(logging.DEBUG, logger="tlspipe")
    p = make_pair(pki, client={"alpn_protocols": (b"h2",)}, server={"alpn_protocols": (b"h2",)})
    p.handshake()
    plaintext = b"very secret plaintext 0123456789"
    p.send(p.client, plaintext)
    p.client.refresh_traffic_keys()
    p.send(p.client, b"x")
    p.flow(p.server, p.client)
    p.client.send_close_notify()
    p.flow(p.client, p.server)
    # a failing handshake logs too
    bad = make_pair(pki, server_name="wrong.example")
    bad.until_error()
    text = "\n".join(r.getMessage() + repr(r.args) + str(r.exc_info) for r in caplog.records)
    assert caplog.records, "expected some debug logging"
    for form in _secret_forms(p) + _secret_forms(bad):
        assert form not in text
    assert plaintext.decode() not in text
    assert "secret plaintext" not in text


def test_reprs_have_no_secrets(pki):
    p = make_pair(pki)
    p.handshake()
    c, s = p.client, p.server
    objs = [
        c,
        s,
        c._cx,
        s._cx,
        c._state,
        s._state,
        c._cx.traffic,
        s._cx.traffic,
        c._cx.record_layer,
        c._cx.exporter,
        c.config,
        s.config,
        c.config.key_log,
    ]
    text = "".join(repr(o) for o in objs) + "".join(str(o) for o in objs)
    for form in _secret_forms(p):
        assert form not in text
    # the server's private key never shows either
    key_der = pki.server().key_der
    assert key_der.hex()[:32] not in text and repr(key_der)[2:40] not in text


def test_error_messages_have_no_secrets(pki):
    from helpers import alter_handshake, flip_last_byte
    from tlspipe.enums import HandshakeType

    p = make_pair(pki)
    p.transfer(p.client, p.server)
    p.server.process_new_packets()
    p.transfer_altered(p.server, p.client, alter_handshake(HandshakeType.finished, flip_last_byte))
    out = p.until_error()
    text = str(out.client_error) + repr(out.client_error) + str(out.server_error)
    for form in _secret_forms(p):
        assert form not in text
