"""Helpers for the TLS 1.2 tests: config factories, an in-memory driver, ClientHello crafting.

The driver (:class:`Duo`) moves bytes between a tlspipe client and server, optionally
passing each side's output through an ``alter`` function first, and collects each side's
error.  TLS 1.2 handshake messages before ChangeCipherSpec are plaintext, so the alter
functions can rewrite them directly (:func:`rewrite_first_handshake`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import tlspipe
from pki import PKI
from tlspipe.enums import CipherSuite, ContentType, ProtocolVersion
from tlspipe.msgs.extensions import ClientExtensions
from tlspipe.msgs.hello import ClientHello
from tlspipe.msgs.message import decode_handshake, encode_handshake

V12 = ProtocolVersion.TLSv1_2
V13 = ProtocolVersion.TLSv1_3

ECDSA_SUITES = (
    CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
)
RSA_SUITES = (
    CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
)
#: (suite, key kind) for every TLS 1.2 suite and every fitting key type.
SUITE_KEYS = [(s, k) for s in ECDSA_SUITES for k in ("ecdsa-p256", "ecdsa-p384", "ed25519")] + [
    (s, "rsa-2048") for s in RSA_SUITES
]

Alter = Callable[[bytes], bytes]


def client_config(pki: PKI, kind: str = "ecdsa-p256", **kw: Any) -> tlspipe.ClientConfig:
    """A TLS 1.2-only client (unless ``versions`` is given) trusting the test root."""
    kw.setdefault("versions", (V12,))
    kw.setdefault("root_store", tlspipe.RootCertStore.from_pem_file(pki.server(kind).ca_pem))
    return tlspipe.ClientConfig(**kw)


def server_config(pki: PKI, kind: str = "ecdsa-p256", **kw: Any) -> tlspipe.ServerConfig:
    """A TLS 1.2-only server (unless ``versions`` is given) presenting ``pki.server(kind)``."""
    kw.setdefault("versions", (V12,))
    ident = pki.server(kind)
    return tlspipe.ServerConfig.from_pem_files(ident.chain_pem, ident.key_pem, **kw)


@dataclasses.dataclass
class Outcome:
    """Errors raised by each side (None: no error)."""

    client: tlspipe.Error | None
    server: tlspipe.Error | None


class Duo:
    """A client and a server connection wired back to back."""

    def __init__(
        self,
        cc: tlspipe.ClientConfig,
        sc: tlspipe.ServerConfig,
        name: str = "localhost",
        *,
        c_alter: Alter | None = None,
        s_alter: Alter | None = None,
    ) -> None:
        self.client = tlspipe.ClientConnection(cc, name)
        self.server = tlspipe.ServerConnection(sc)
        self.c_alter = c_alter
        self.s_alter = s_alter
        self.client_wire: list[bytes] = []
        self.server_wire: list[bytes] = []

    def _move(self, src: tlspipe.Connection, dst: tlspipe.Connection, alter: Alter | None,
              log: list[bytes]) -> bool:  # fmt: skip
        data = src.write_tls()
        if not data:
            return False
        if alter is not None:
            data = alter(data)
        log.append(data)
        if data:
            dst.read_tls(data)
        dst.process_new_packets()
        return True

    def step(self) -> bool:
        """Move bytes once in each direction; True if anything moved."""
        a = self._move(self.client, self.server, self.c_alter, self.client_wire)
        b = self._move(self.server, self.client, self.s_alter, self.server_wire)
        return a or b

    def handshake(self) -> None:
        """Run until both sides finished the handshake and nothing is left to send.

        Raises:
            tlspipe.Error: either side failed.
        """
        for _ in range(20):
            moved = self.step()
            if not moved and not self.client.is_handshaking and not self.server.is_handshaking:
                return
        raise AssertionError("handshake did not complete")

    def until_error(self) -> Outcome:
        """Run until neither side has anything to send; collect errors (never raises)."""
        out = Outcome(None, None)
        for _ in range(20):
            moved = False
            for src, dst, alter, log, side in (
                (self.client, self.server, self.c_alter, self.client_wire, "server"),
                (self.server, self.client, self.s_alter, self.server_wire, "client"),
            ):
                try:
                    moved |= self._move(src, dst, alter, log)
                except tlspipe.Error as e:
                    if getattr(out, side) is None:
                        setattr(out, side, e)
                    moved = True
            if not moved:
                break
        return out

    def send(self, src: tlspipe.Connection, data: bytes) -> bytes:
        """Write ``data`` on ``src`` and return what the other side reads."""
        dst = self.server if src is self.client else self.client
        src.write(data)
        dst.read_tls(src.write_tls())
        dst.process_new_packets()
        return dst.read()


def record(content_type: int, payload: bytes, version: int = 0x0303) -> bytes:
    """One plaintext record."""
    return (
        bytes((content_type,))
        + version.to_bytes(2, "big")
        + len(payload).to_bytes(2, "big")
        + payload
    )


def client_hello(**kw: Any) -> ClientHello:
    """A plausible TLS 1.2 ClientHello (override any field; ``ext`` overrides extensions)."""
    ext_kw = kw.pop("ext", {})
    ext = ClientExtensions(
        server_name=b"localhost",
        supported_groups=(0x001D, 0x0017),
        ec_point_formats=b"\x00",
        signature_algorithms=(0x0403, 0x0804, 0x0401, 0x0807),
        extended_master_secret=True,
        renegotiation_info=b"",
    )
    ext = dataclasses.replace(ext, **ext_kw)
    fields: dict[str, Any] = {
        "legacy_version": 0x0303,
        "random": bytes(range(32)),
        "legacy_session_id": b"",
        "cipher_suites": tuple(int(s) for s in (*ECDSA_SUITES, *RSA_SUITES)),
        "legacy_compression_methods": b"\x00",
        "extensions": ext,
    }
    fields.update(kw)
    return ClientHello(**fields)


def ch_record(ch: ClientHello) -> bytes:
    """``ch`` as one plaintext handshake record."""
    return record(ContentType.handshake, encode_handshake(ch), 0x0301)


def rewrite_first_handshake(change: Callable[[Any], Any]) -> Alter:
    """An alter function rewriting the body of the first (plaintext) handshake message in
    the first flight it sees; the rest of its record (a coalesced flight's next messages)
    and later flights pass unchanged."""
    done = False

    def alter(data: bytes) -> bytes:
        nonlocal done
        if done:
            return data
        done = True
        n = int.from_bytes(data[3:5], "big")
        payload = data[5 : 5 + n]
        m = 4 + int.from_bytes(payload[1:4], "big")  # the first message, header included
        msg = decode_handshake(payload[:m], tls13=False)
        new = encode_handshake(change(msg.body)) + payload[m:]
        return record(data[0], new, int.from_bytes(data[1:3], "big")) + data[5 + n :]

    return alter


def alert_of(err: tlspipe.Error | None) -> int | None:
    """The alert a failing side sends for ``err``."""
    if err is None:
        return None
    a = tlspipe.errors.alert_for(err)
    return None if a is None else int(a)
