"""The two TLS stacks under test, driven in memory with both ends in this process.

:class:`TlspipeStack` wires a :class:`tlspipe.ClientConnection` to a
:class:`tlspipe.ServerConnection`; :class:`SslStack` wires two ``ssl.SSLObject`` over
``ssl.MemoryBIO`` pairs.  Both are configured for the same work: TLS version, one cipher
suite, one key exchange group (X25519), the client verifying the chain to the CA and the host
name, no session tickets unless a resumption row asks for them.

Python's ``ssl`` has no ``set_ciphersuites`` (TLS 1.3) before 3.13-ish; when the method is
missing, ``SSL_CTX_set_ciphersuites`` is called through ``ctypes`` on the context's
``SSL_CTX*`` (the first field after the object header).  Every pair checks the negotiated
suite once (:meth:`SslStack.check` / :meth:`TlspipeStack.check`), so a silent mismatch would
stop the run rather than skew it.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import ssl
from typing import Any

import tlspipe
from tlspipe.config import IMPLEMENTED_VERSIONS
from tlspipe.enums import CipherSuite, NamedGroup, ProtocolVersion

from . import clock
from .pki import SERVER_NAME, Identity

CHUNK = 16384

# name → (tlspipe suite, OpenSSL name, TLS 1.3?)
SUITES: dict[str, tuple[CipherSuite, str, bool]] = {
    "TLS13_AES_128_GCM_SHA256": (
        CipherSuite.TLS13_AES_128_GCM_SHA256,
        "TLS_AES_128_GCM_SHA256",
        True,
    ),
    "TLS13_AES_256_GCM_SHA384": (
        CipherSuite.TLS13_AES_256_GCM_SHA384,
        "TLS_AES_256_GCM_SHA384",
        True,
    ),
    "TLS13_CHACHA20_POLY1305_SHA256": (
        CipherSuite.TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_CHACHA20_POLY1305_SHA256",
        True,
    ),
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": (
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        False,
    ),
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": (
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-RSA-AES128-GCM-SHA256",
        False,
    ),
}


class BenchError(RuntimeError):
    """The two stacks did not do the same work (or a transfer lost bytes)."""


def tls12_supported() -> bool:
    """True when this build of tlspipe implements TLS 1.2."""
    return ProtocolVersion.TLSv1_2 in IMPLEMENTED_VERSIONS


# -- tlspipe ------------------------------------------------------------------------------------
def _feed(conn: tlspipe.Connection, data: bytes) -> None:
    mv = memoryview(data)
    while mv:
        n = conn.read_tls(mv)
        conn.process_new_packets()
        if n == 0:
            raise BenchError("tlspipe: read_tls accepted nothing")
        mv = mv[n:]


def tp_pump(c: tlspipe.Connection, s: tlspipe.Connection) -> None:
    """Move bytes both ways until neither side has anything to send."""
    for _ in range(100):
        moved = False
        d = c.write_tls()
        if d:
            _feed(s, d)
            moved = True
        d = s.write_tls()
        if d:
            _feed(c, d)
            moved = True
        if not moved:
            if c.is_handshaking or s.is_handshaking:
                raise BenchError("tlspipe: handshake stalled")
            return
    raise BenchError("tlspipe: handshake did not finish")


@dataclasses.dataclass
class TlspipeStack:
    """Client and server configs for one row; :meth:`pair` makes a handshaken pair."""

    ident: Identity
    suite: str
    resumption: str | None = None  # None | "tickets" | "session-id"
    name: str = "tlspipe"
    #: False: the client verifies the server's chain on every handshake, as ssl and the
    #: ceiling do (its verifier is built with ``cache_size=0``); True: tlspipe's default,
    #: which remembers a successful validation of the same chain and name.
    verify_cache: bool = True

    def __post_init__(self) -> None:
        cs, _, tls13 = SUITES[self.suite]
        ver = ProtocolVersion.TLSv1_3 if tls13 else ProtocolVersion.TLSv1_2
        roots = tlspipe.RootCertStore()
        roots.add_pem_file(self.ident.ca_pem)
        common: dict[str, Any] = {
            "versions": (ver,),
            "cipher_suites": (cs,),
            "kx_groups": (NamedGroup.x25519,),
        }
        ckw, skw = _tp_resumption_kwargs(self.resumption)
        self.client_config = tlspipe.ClientConfig(root_store=roots, **common, **ckw)
        if not self.verify_cache:
            from tlspipe.dangerous import dangerous_with_custom_verifier
            from tlspipe.verify.webpki import WebPkiServerVerifier

            store = self.client_config.session_store
            self.client_config = dataclasses.replace(
                dangerous_with_custom_verifier(
                    self.client_config, WebPkiServerVerifier(roots, cache_size=0)
                ),
                session_store=store,
            )
        skw.update(common)
        self.server_config = tlspipe.ServerConfig.from_pem_files(
            self.ident.chain_pem, self.ident.key_pem, **skw
        )

    def handshake(self) -> tuple[tlspipe.ClientConnection, tlspipe.ServerConnection]:
        """One complete handshake (everything either side queued is delivered)."""
        c = tlspipe.ClientConnection(self.client_config, SERVER_NAME)
        s = tlspipe.ServerConnection(self.server_config)
        tp_pump(c, s)
        return c, s

    def check(self, resumed: bool = False) -> None:
        """Raise unless handshakes negotiate exactly the configured suite, and the second
        one resumes (``resumed``) or is full as well."""
        c, _ = self.handshake()
        if c.handshake_kind_resumed and not resumed:
            raise BenchError("tlspipe: a full handshake resumed")
        c, _ = self.handshake()
        got = c.negotiated_cipher_suite
        want = SUITES[self.suite][0]
        if got is None or int(got.suite) != int(want):
            raise BenchError(f"tlspipe negotiated {got}, wanted {self.suite}")
        if c.handshake_kind_resumed != resumed:
            raise BenchError(f"tlspipe resumed={c.handshake_kind_resumed}, wanted {resumed}")

    def bulk(self, total: int) -> float:
        """Send ``total`` bytes client→server in 16 KiB writes over a fresh connection.

        Returns the seconds the transfer took (the handshake is not timed)."""
        c, s = self.handshake()
        buf = bytes(CHUNK)
        got = 0
        t = clock.now()
        write, write_tls = c.write, c.write_tls
        read_tls, process, read = s.read_tls, s.process_new_packets, s.read
        for _ in range(total // CHUNK):
            write(buf)
            read_tls(write_tls())
            process()
            got += len(read())
        elapsed = clock.now() - t
        if got != total // CHUNK * CHUNK:
            raise BenchError(f"tlspipe bulk: got {got} bytes")
        return elapsed


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.init}


def _tp_resumption_kwargs(variant: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(client, server) config knobs for a row, found by field name so that the benchmark
    runs on any build (resumption landed after the benchmark was written).

    - full handshakes (``None``): no client session store, no tickets, no TLS 1.3 tickets
      sent (ssl: ``num_tickets = 0``, ``OP_NO_TICKET``); the server keeps its default session
      cache, as OpenSSL does;
    - ``"tickets"``: a :class:`tlspipe.Ticketer` (stateless, like OpenSSL's), one TLS 1.3
      ticket per handshake (ssl: ``num_tickets = 1``);
    - ``"session-id"``: TLS 1.2 without tickets on either side (ssl: ``OP_NO_TICKET``).
    """
    cf, sf = _fields(tlspipe.ClientConfig), _fields(tlspipe.ServerConfig)
    ckw: dict[str, Any] = {}
    skw: dict[str, Any] = {}
    no_store = getattr(tlspipe, "NoClientSessionStorage", None)
    ticketer = getattr(tlspipe, "Ticketer", None)
    if variant is None:
        if "session_store" in cf and no_store is not None:
            ckw["session_store"] = no_store()
        if "enable_tickets" in cf:
            ckw["enable_tickets"] = False
        if "send_tls13_tickets" in sf:
            skw["send_tls13_tickets"] = 0
        if "ticketer" in sf:
            skw["ticketer"] = None
    elif variant == "tickets":
        if "ticketer" in sf and ticketer is not None:
            skw["ticketer"] = ticketer()
        if "send_tls13_tickets" in sf:
            skw["send_tls13_tickets"] = 1
    else:
        if "enable_tickets" in cf:
            ckw["enable_tickets"] = False
        if "ticketer" in sf:
            skw["ticketer"] = None
        if "send_tls13_tickets" in sf:
            skw["send_tls13_tickets"] = 0
    return ckw, skw


def tlspipe_resumes(stack: TlspipeStack) -> bool:
    """True when a second handshake with the same configs resumes (feature detection)."""
    try:
        stack.check(resumed=True)
    except (tlspipe.Error, BenchError, TypeError, ValueError):
        return False
    return True


# -- ssl ----------------------------------------------------------------------------------------
def _ssl_ctx_ptr(ctx: ssl.SSLContext) -> int:
    ptr = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if not ptr:
        raise BenchError("no SSL_CTX pointer")
    return ptr


def _libssl() -> ctypes.CDLL:
    """The libssl the ``ssl`` module uses: through the ``_ssl`` extension's handle (which
    resolves the symbols of the libssl it links), else the process itself (static builds).

    Raises:
        BenchError: neither exposes libssl's symbols.
    """
    import _ssl  # the extension module links libssl

    for path in (getattr(_ssl, "__file__", None), None):
        try:
            lib = ctypes.CDLL(path)
            lib.SSL_CTX_ctrl  # noqa: B018 - probe the symbol
        except (OSError, AttributeError):
            continue
        return lib
    raise BenchError("cannot reach libssl through ctypes to configure the ssl contexts")


def _set_tls13_suites(ctx: ssl.SSLContext, names: str) -> None:
    meth = getattr(ctx, "set_ciphersuites", None)
    if meth is not None:
        meth(names)
        return
    fn = _libssl().SSL_CTX_set_ciphersuites
    fn.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    fn.restype = ctypes.c_int
    if fn(_ssl_ctx_ptr(ctx), names.encode()) != 1:
        raise BenchError("could not set TLS 1.3 ciphersuites on the ssl context")


_SSL_CTRL_SET_GROUPS_LIST = 92


def _set_groups(ctx: ssl.SSLContext, groups: str) -> None:
    """``SSL_CTX_set1_groups_list`` (a macro over ``SSL_CTX_ctrl``)."""
    fn = _libssl().SSL_CTX_ctrl
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
    fn.restype = ctypes.c_long
    if fn(_ssl_ctx_ptr(ctx), _SSL_CTRL_SET_GROUPS_LIST, 0, groups.encode()) != 1:
        raise BenchError("could not set groups on the ssl context")


def _ssl_step(obj: ssl.SSLObject) -> bool:
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        return False
    return True


@dataclasses.dataclass
class SslStack:
    """The same row on ``ssl``: MemoryBIO + SSLObject on both ends."""

    ident: Identity
    suite: str
    resumption: str | None = None
    name: str = "ssl"

    def __post_init__(self) -> None:
        _, oname, tls13 = SUITES[self.suite]
        ver = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
        cctx = ssl.create_default_context(cafile=str(self.ident.ca_pem))  # chain + hostname
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(str(self.ident.chain_pem), str(self.ident.key_pem))
        for ctx in (cctx, sctx):
            ctx.minimum_version = ctx.maximum_version = ver
            if tls13:
                ctx.set_ecdh_curve("X25519")
                _set_tls13_suites(ctx, oname)
            else:
                # OpenSSL only picks an ECDSA certificate for TLS 1.2 when its curve is among
                # the client's groups (RFC 8422 §5.1), so P-256 is offered second; X25519 is
                # still what is negotiated.
                _set_groups(ctx, "X25519:P-256")
                ctx.set_ciphers(oname)
        if self.resumption is None:
            sctx.num_tickets = 0
            sctx.options |= ssl.OP_NO_TICKET
        elif self.resumption == "session-id":
            sctx.options |= ssl.OP_NO_TICKET
        else:
            sctx.num_tickets = 1
        self.cctx, self.sctx = cctx, sctx
        self.session: ssl.SSLSession | None = None

    def handshake(self) -> tuple[ssl.SSLObject, ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
        """One complete handshake; returns (client, server, server's incoming BIO, client's
        outgoing BIO)."""
        cin, cout, sin, sout = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
        c = self.cctx.wrap_bio(cin, cout, server_hostname=SERVER_NAME, session=self.session)
        s = self.sctx.wrap_bio(sin, sout, server_side=True)
        cdone = sdone = False
        for _ in range(100):
            if not cdone:
                cdone = _ssl_step(c)
            d = cout.read()
            if d:
                sin.write(d)
            if not sdone:
                sdone = _ssl_step(s)
            d = sout.read()
            if d:
                cin.write(d)
            if cdone and sdone and not cout.pending:
                break
        else:
            raise BenchError("ssl: handshake did not finish")
        return c, s, sin, cout

    def remember_session(self) -> None:
        """Handshake once and keep the session (reading the TLS 1.3 ticket) for resumption."""
        self.session = None
        c, s, _, _ = self.handshake()
        with contextlib.suppress(ssl.SSLWantReadError):
            c.read(1)
        self.session = c.session
        # OpenSSL removes a session from the server cache when its SSL object is freed
        # without a shutdown: keep the first pair alive.
        self._keep = (c, s)

    def check(self, resumed: bool = False) -> None:
        """Raise unless a handshake negotiates exactly the configured suite (and resumes)."""
        c, s, _, _ = self.handshake()
        cipher = c.cipher()
        want = SUITES[self.suite][1]
        if cipher is None or cipher[0] != want:
            raise BenchError(f"ssl negotiated {cipher}, wanted {want}")
        if c.session_reused != resumed:
            raise BenchError(f"ssl resumed={c.session_reused}, wanted {resumed}")
        self._keep_check = (c, s)

    def bulk(self, total: int) -> float:
        """Send ``total`` bytes client→server in 16 KiB writes over a fresh connection.

        Returns the seconds the transfer took (the handshake is not timed)."""
        c, s, sin, cout = self.handshake()
        buf = bytes(CHUNK)
        got = 0
        t = clock.now()
        write, out_read, in_write, read = c.write, cout.read, sin.write, s.read
        for _ in range(total // CHUNK):
            write(buf)
            in_write(out_read())
            got += len(read(CHUNK))
        elapsed = clock.now() - t
        if got != total // CHUNK * CHUNK:
            raise BenchError(f"ssl bulk: got {got} bytes")
        return elapsed
