"""The example programs as real subprocesses: ``python -m tlspipe server|client|demo``.

Peers: ``openssl s_client`` / ``s_server -www``, ``curl --cacert``, tlspipe itself and
in-process Stream clients, all on 127.0.0.1 with kernel-chosen ports.  Every subprocess runs
in its own process group and is stopped by PID in ``finally`` (tests/interop/peers.py's
`OpenSSLPeer` does that for any argv); every wait is bounded.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import tlspipe
from interop.peers import OpenSSLPeer, openssl_client, openssl_server
from tlspipe.cli import main as cli_main
from tlspipe.enums import ProtocolVersion
from tlspipe.stream import Stream

pytestmark = pytest.mark.interop

TLSPIPE = (sys.executable, "-m", "tlspipe")
TIMEOUT = 15.0
CURL = shutil.which("curl")


def run_tlspipe(
    args: Sequence[str], *, input: bytes = b"", timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    """Run ``tlspipe ARGS`` to completion (bounded; killed on timeout by subprocess.run)."""
    return subprocess.run(
        [*TLSPIPE, *args], input=input, capture_output=True, timeout=timeout, check=False
    )


class TlspipeServer:
    """``tlspipe server --port 0 …`` running; ``port`` read from its "listening on" line."""

    def __init__(self, args: Sequence[str]) -> None:
        self.peer = OpenSSLPeer([*TLSPIPE, "server", "--port", "0", *args])
        try:
            m = self.peer.wait_for(r"listening on 127\.0\.0\.1:(\d+)\n", timeout=TIMEOUT)
        except BaseException:
            self.peer.stop()
            raise
        self.port = int(m.group(1))

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> tuple[int | None, str]:
        """Send ``sig`` to the server's PID; its exit status (None if it had to be killed)."""
        if self.peer.alive():
            os.kill(self.peer.pid, sig)
        res = self.peer.wait(timeout)
        return res.returncode, res.output

    def stop(self) -> None:
        self.peer.stop()


def identity_args(ident: Any) -> list[str]:
    return ["--cert", str(ident.chain_pem), "--key", str(ident.key_pem)]


@pytest.fixture(scope="module")
def http_server(pki: Any) -> Iterator[TlspipeServer]:
    srv = TlspipeServer([*identity_args(pki.server()), "--alpn", "http/1.1", "--mode", "http"])
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def echo_server(pki: Any) -> Iterator[TlspipeServer]:
    srv = TlspipeServer([*identity_args(pki.server()), "--mode", "echo"])
    try:
        yield srv
    finally:
        srv.stop()


def verify_args(pki: Any) -> list[str]:
    return ["-servername", "localhost", "-CAfile", str(pki.server().ca_pem),
            "-verify_return_error", "-verify_hostname", "localhost"]  # fmt: skip


# -- openssl s_client → tlspipe server -----------------------------------------------------------


def test_openssl_s_client_against_http_server(pki: Any, http_server: TlspipeServer) -> None:
    res = openssl_client(
        http_server.port,
        args=[*verify_args(pki), "-ign_eof", "-alpn", "http/1.1"],
        stdin_data=b"GET / HTTP/1.0\r\n\r\n",
    )
    assert res.ok, res.output
    assert "HTTP/1.0 200 OK" in res.output
    assert "Verify return code: 0 (ok)" in res.output
    assert "ALPN protocol: http/1.1" in res.output
    assert "Hello from tlspipe: TLS 1.3" in res.output


def test_openssl_s_client_against_echo_server(pki: Any, echo_server: TlspipeServer) -> None:
    with OpenSSLPeer(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{echo_server.port}", *verify_args(pki)]
    ) as peer:
        peer.wait_for(r"Verify return code: 0", timeout=TIMEOUT)
        peer.send(b"hello echo 1\n")
        peer.wait_for(r"(?s)hello echo 1\n.*hello echo 1\n|hello echo 1\n", timeout=TIMEOUT)
        peer.send(b"second line\n")
        peer.wait_for(r"second line", timeout=TIMEOUT)
        peer.close_stdin()  # s_client sends close_notify; the server answers and closes
        res = peer.wait(TIMEOUT)
    assert res.ok, res.output
    assert "second line" in res.output


@pytest.mark.parametrize("suite", ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"])
def test_server_suite_option_with_openssl(pki: Any, suite: str) -> None:
    srv = TlspipeServer([*identity_args(pki.server()), "--suite", suite, "--group", "secp384r1"])
    try:
        res = openssl_client(srv.port, args=[*verify_args(pki), "-groups", "P-384:X25519"])
        assert res.ok, res.output
        assert suite in res.output
        assert re.search(r"Server Temp Key: ECDH, (P-384|secp384r1)", res.output), res.output
    finally:
        srv.stop()


# -- curl → tlspipe server ----------------------------------------------------------------------


def test_curl_against_http_server(pki: Any, http_server: TlspipeServer) -> None:
    assert CURL is not None
    port = http_server.port
    res = subprocess.run(
        [CURL, "-sS", "-v", "--max-time", "10", "--cacert", str(pki.server().ca_pem),
         "--resolve", f"localhost:{port}:127.0.0.1", f"https://localhost:{port}/"],
        capture_output=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    err = res.stderr.decode(errors="replace")
    assert res.returncode == 0, err
    assert res.stdout.startswith(b"Hello from tlspipe: TLS 1.3"), res.stdout
    assert "alpn=http/1.1" in res.stdout.decode()
    assert re.search(r"TLSv1\.3", err), err


# -- tlspipe client → openssl s_server ------------------------------------------------------------


def test_client_http_against_openssl_www(pki: Any) -> None:
    ident = pki.server()
    with openssl_server(ident, args=["-www"]) as peer:
        res = run_tlspipe(
            ["client", "localhost", "--port", str(peer.port), "--cafile", str(ident.ca_pem),
             "--http", "--verbose"]
        )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(b"HTTP/1.0 200 ok")
    assert b"TLSv1.3" in res.stdout
    assert b"tlspipe client: TLS 1.3" in res.stderr


def test_client_verification_failure_against_openssl(pki: Any) -> None:
    bad = pki.bad("wrong-name")
    with openssl_server(bad) as peer:
        res = run_tlspipe(
            ["client", "localhost", "--port", str(peer.port), "--cafile", str(bad.ca_pem)]
        )
    assert res.returncode == 1
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("tlspipe client: error: certificate verification failed")
    assert res.stdout == b""


# -- tlspipe client ↔ tlspipe server -------------------------------------------------------------


def test_client_server_echo_stdin_to_stdout(pki: Any, echo_server: TlspipeServer) -> None:
    data = os.urandom(1 << 20)  # 1 MiB through stdin → server → stdout
    res = run_tlspipe(
        ["client", "127.0.0.1", "--port", str(echo_server.port),
         "--cafile", str(pki.server().ca_pem)],
        input=data,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout == data


def test_client_server_http(pki: Any, http_server: TlspipeServer) -> None:
    res = run_tlspipe(
        ["client", "127.0.0.1", "--port", str(http_server.port), "--sni", "localhost",
         "--cafile", str(pki.server().ca_pem), "--http", "--alpn", "http/1.1"]
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"alpn=http/1.1 sni=localhost" in res.stdout


def test_client_server_hybrid_group(pki: Any) -> None:
    srv = TlspipeServer([*identity_args(pki.server()), "--group", "X25519MLKEM768"])
    try:
        res = run_tlspipe(
            ["client", "localhost", "--port", str(srv.port), "--cafile", str(pki.server().ca_pem),
             "--http", "--group", "X25519MLKEM768", "--group", "x25519"]
        )  # fmt: skip
    finally:
        srv.stop()
    assert res.returncode == 0, res.stderr
    assert b"group=X25519MLKEM768" in res.stdout


def test_client_verification_failure_one_line(pki: Any) -> None:
    bad = pki.bad("expired")
    srv = TlspipeServer(identity_args(bad))
    try:
        res = run_tlspipe(
            ["client", "localhost", "--port", str(srv.port), "--cafile", str(bad.ca_pem), "--http"]
        )
    finally:
        srv.stop()
    assert res.returncode == 1
    err = res.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("tlspipe client: error: "), err
    assert "certificate verification failed" in err and "expired" in err


def test_client_connection_refused() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        res = run_tlspipe(["client", "127.0.0.1", "--port", str(port)])
    assert res.returncode == 1
    assert res.stderr.decode().startswith("tlspipe client: error: cannot connect")


def test_server_serves_many_clients_at_once(pki: Any, echo_server: TlspipeServer) -> None:
    """30 connections open at the same time, each handshaken before any sends data: a
    server that handled one client at a time would stall on the second."""
    cc = tlspipe.ClientConfig(root_store=tlspipe.RootCertStore.from_pem_file(pki.server().ca_pem))
    socks: list[socket.socket] = []
    try:
        streams = []
        for _ in range(30):
            s = socket.create_connection(("127.0.0.1", echo_server.port), timeout=TIMEOUT)
            socks.append(s)
            st = Stream(tlspipe.ClientConnection(cc, "localhost"), s)
            st.do_handshake()
            streams.append(st)
        for i, st in enumerate(streams):
            st.write(b"client %d" % i)
        for i, st in enumerate(reversed(streams)):
            want = b"client %d" % (len(streams) - 1 - i)
            got = b""
            while len(got) < len(want):
                got += st.read()
            assert got == want
            st.close()
            assert st.read_all() == b""
    finally:
        for s in socks:
            s.close()


# -- signals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_server_with_status_0(pki: Any, sig: int) -> None:
    srv = TlspipeServer([*identity_args(pki.server()), "--mode", "echo"])
    idle = None
    try:
        # an idle client connection must not keep the server alive
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
        time.sleep(0.1)
        t0 = time.monotonic()
        status, output = srv.terminate(sig, timeout=5.0)
        assert status == 0, output
        assert time.monotonic() - t0 < 5.0
        assert "Traceback" not in output
    finally:
        if idle is not None:
            idle.close()
        srv.stop()


# -- usage errors --------------------------------------------------------------------------------


def usage_error(args: Sequence[str], *, in_process: bool = True) -> str:
    """The last stderr line of ``tlspipe ARGS``, which must exit with status 2.

    In-process (``cli.main``) by default, for speed; ``in_process=False`` runs the program.
    """
    if in_process:
        err_buf = io.StringIO()
        with contextlib.redirect_stderr(err_buf), pytest.raises(SystemExit) as ei:
            cli_main(list(args))
        assert ei.value.code == 2, (args, err_buf.getvalue())
        err = err_buf.getvalue()
    else:
        res = run_tlspipe(args)
        assert res.returncode == 2, (args, res.stderr)
        err = res.stderr.decode()
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_usage_unknown_suite_lists_valid_names(pki: Any) -> None:
    line = usage_error(["server", "--port", "0", *identity_args(pki.server()), "--suite", "RC4"])
    assert line.startswith("tlspipe server: error: argument --suite: unknown cipher suite 'RC4'")
    names = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
    for name in [*names, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]:
        assert name in line


def test_usage_unknown_group_and_protover() -> None:
    line = usage_error(["client", "localhost", "--group", "ffdhe2048"])
    assert "unknown key exchange group 'ffdhe2048'" in line
    assert "x25519" in line and "secp256r1" in line and "X25519MLKEM768" in line
    line = usage_error(["client", "localhost", "--protover", "1.1"])
    assert "unknown protocol version '1.1'" in line and "1.3" in line and "1.2" in line


def test_usage_protover_not_in_this_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """--protover is checked against the build at run time (a build without TLS 1.2)."""
    import tlspipe.config

    monkeypatch.setattr(tlspipe.config, "IMPLEMENTED_VERSIONS", (ProtocolVersion.TLSv1_3,))
    line = usage_error(["client", "localhost", "--protover", "1.2"])
    want = "--protover: TLSv1_2 is not implemented in this version of tlspipe"
    assert line == f"tlspipe client: error: {want}"


def test_usage_pending_feature_mechanism(monkeypatch: pytest.MonkeyPatch, pki: Any) -> None:
    """An option whose feature is not in the build is a one-line usage error (exit 2).
    Every feature issue 4 names exists now, so a pretend-pending one is checked."""
    from tlspipe.cli import options

    monkeypatch.setitem(options.PENDING, "tickets", ("--tickets", "session tickets"))
    line = usage_error(["server", "--port", "0", *identity_args(pki.server()), "--tickets"])
    assert line == (
        "tlspipe server: error: --tickets: session tickets is not implemented in this "
        "version of tlspipe"
    )


def test_usage_early_data_needs_resumption(pki: Any) -> None:
    line = usage_error(
        ["server", "--port", "0", *identity_args(pki.server()), "--max-early-data", "100"]
    )
    assert line.endswith(
        "--max-early-data needs --resumption or --tickets (0-RTT rides on a ticket)"
    )


def test_usage_missing_and_bad_arguments(pki: Any, tmp_path: Path) -> None:
    assert "required" in usage_error(["server", "--port", "0"])
    assert "--sni" in usage_error(["client", "localhost", "--sni", "a", "--no-sni"])
    assert "invalid choice" in usage_error(["server", "--port", "0", "--mode", "ftp",
                                             *identity_args(pki.server())])  # fmt: skip
    missing = tmp_path / "nope.pem"
    line = usage_error(["server", "--port", "0", "--cert", str(missing), "--key", str(missing)])
    assert f"--cert {missing}: No such file or directory" in line
    assert usage_error([], in_process=False).startswith("tlspipe: error:")
    line = usage_error(["client", "localhost", "--suite", "NULL"], in_process=False)
    assert line.startswith("tlspipe client: error: argument --suite: unknown cipher suite")


def test_help_and_version() -> None:
    res = run_tlspipe(["--version"])
    assert res.returncode == 0 and res.stdout.decode().startswith("tlspipe ")
    script = Path(sys.executable).parent / "tlspipe"  # the installed console script
    if script.exists():
        res = subprocess.run([str(script), "--version"], capture_output=True, timeout=TIMEOUT)
        assert res.returncode == 0 and res.stdout.decode().startswith("tlspipe "), res.stderr
    for sub in ("server", "client", "demo"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as ei:
            cli_main([sub, "--help"])
        assert ei.value.code == 0 and f"usage: tlspipe {sub}" in out.getvalue()


def test_usage_auth_option_pairs(pki: Any) -> None:
    line = usage_error(["server", "--port", "0", *identity_args(pki.server()), "--require-auth"])
    assert line.endswith("--require-auth needs --auth CA.pem")
    line = usage_error(["client", "localhost", "--auth-key", "k.pem"])
    assert line.endswith("--auth-key and --auth-certs go together")


# -- TLS 1.2 and resumption -----------------------------------------------------------------------


def test_client_tls12_against_openssl_www_resumes(pki: Any) -> None:
    ident = pki.server()
    with openssl_server(ident, args=["-www"], tls13=False) as peer:
        res = run_tlspipe(
            ["client", "localhost", "--port", str(peer.port), "--cafile", str(ident.ca_pem),
             "--http", "--protover", "1.2", "--resume", "1", "--verbose"]
        )  # fmt: skip
    err = res.stderr.decode()
    assert res.returncode == 0, err
    assert res.stdout.startswith(b"HTTP/1.0 200 ok")
    assert b"TLSv1.2" in res.stdout
    assert "tlspipe client: TLS 1.2 TLS_ECDHE_ECDSA_WITH_" in err
    assert "reconnection 1: resumed" in err


def test_openssl_tls12_client_against_server_suite(pki: Any) -> None:
    suite = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    srv = TlspipeServer([*identity_args(pki.server()), "--protover", "1.2", "--suite", suite])
    try:
        res = openssl_client(srv.port, args=verify_args(pki), tls13=False)
    finally:
        srv.stop()
    assert res.ok, res.output
    assert "ECDHE-ECDSA-CHACHA20-POLY1305" in res.output
    assert "TLSv1.2" in res.output


@pytest.mark.parametrize("flag", ["--resumption", "--tickets"])
def test_tls12_resumption_tlspipe_both_ends(pki: Any, flag: str) -> None:
    ident = pki.server()
    srv = TlspipeServer([*identity_args(ident), flag])
    try:
        res = run_tlspipe(
            ["client", "localhost", "--port", str(srv.port), "--cafile", str(ident.ca_pem),
             "--http", "--protover", "1.2", "--resume", "2"]
        )  # fmt: skip
    finally:
        srv.stop()
    err = res.stderr.decode()
    assert res.returncode == 0, err
    assert "reconnection 1: resumed" in err and "reconnection 2: resumed" in err
    assert res.stdout.count(b"resumed=yes") == 2 and res.stdout.count(b"resumed=no") == 1


def test_tls12_no_resumption_without_flags(pki: Any) -> None:
    ident = pki.server()
    srv = TlspipeServer(identity_args(ident))
    try:
        res = run_tlspipe(
            ["client", "localhost", "--port", str(srv.port), "--cafile", str(ident.ca_pem),
             "--protover", "1.2", "--resume", "1"]
        )  # fmt: skip
    finally:
        srv.stop()
    assert res.returncode == 0, res.stderr
    assert b"reconnection 1: full handshake" in res.stderr


def test_openssl_client_resumes_with_tickets(pki: Any, tmp_path: Path) -> None:
    srv = TlspipeServer([*identity_args(pki.server()), "--tickets"])
    sess = tmp_path / "sess.pem"
    try:
        first = openssl_client(srv.port, args=[*verify_args(pki), "-sess_out", str(sess)],
                               tls13=False)  # fmt: skip
        second = openssl_client(srv.port, args=[*verify_args(pki), "-sess_in", str(sess)],
                                tls13=False)  # fmt: skip
    finally:
        srv.stop()
    assert first.ok and second.ok, first.output + second.output
    assert "New, TLSv1.2" in first.output
    assert "Reused, TLSv1.2" in second.output


# -- TLS 1.3 resumption and 0-RTT ----------------------------------------------------------------


@pytest.mark.parametrize("flags", [["--tickets"], ["--resumption"]])
def test_tls13_resumption_and_early_data_tlspipe_both_ends(pki: Any, flags: list[str]) -> None:
    ident = pki.server()
    srv = TlspipeServer([*identity_args(ident), *flags, "--max-early-data", "16"])
    try:
        res = run_tlspipe(
            ["client", "localhost", "--port", str(srv.port), "--cafile", str(ident.ca_pem),
             "--http", "--resume", "2", "--early-data"]
        )  # fmt: skip
    finally:
        srv.stop()
    err = res.stderr.decode()
    assert res.returncode == 0, err
    # 16 bytes of the request went as 0-RTT, the rest after the handshake
    assert "reconnection 1: resumed, early data accepted (16 bytes)" in err, err
    assert "reconnection 2: resumed, early data accepted (16 bytes)" in err, err
    assert res.stdout.count(b"HTTP/1.0 200 OK") == 3
    assert res.stdout.count(b"TLS 1.3") == 3
    assert res.stdout.count(b"resumed=yes early_data=accepted") == 2


def test_client_resumes_tls13_with_openssl_www(pki: Any) -> None:
    ident = pki.server()
    with openssl_server(ident, args=["-www"]) as peer:
        res = run_tlspipe(
            ["client", "localhost", "--port", str(peer.port), "--cafile", str(ident.ca_pem),
             "--http", "--resume", "1"]
        )  # fmt: skip
    err = res.stderr.decode()
    assert res.returncode == 0, err
    assert "reconnection 1: resumed" in err
    assert res.stdout.count(b"HTTP/1.0 200 ok") == 2


def test_openssl_client_early_data_to_tlspipe_server(pki: Any, tmp_path: Path) -> None:
    srv = TlspipeServer([*identity_args(pki.server()), "--tickets", "--max-early-data", "1024"])
    sess = tmp_path / "sess.pem"
    early = tmp_path / "early.txt"
    early.write_bytes(b"GET / HTTP/1.0\r\n\r\n")
    try:
        first = openssl_client(
            srv.port, args=[*verify_args(pki), "-sess_out", str(sess), "-ign_eof"],
            stdin_data=b"GET / HTTP/1.0\r\n\r\n", tls13=True,
        )  # fmt: skip
        second = openssl_client(
            srv.port,
            args=[*verify_args(pki), "-sess_in", str(sess), "-early_data", str(early), "-ign_eof"],
            tls13=True,
        )  # fmt: skip
    finally:
        srv.stop()
    assert first.ok and second.ok, first.output + second.output
    assert "Reused, TLSv1.3" in second.output
    assert "Early data was accepted" in second.output
    assert "resumed=yes early_data=accepted" in second.output


# -- client authentication and stapling ----------------------------------------------------------


def client_auth_args(pki: Any) -> list[str]:
    c = pki.client()
    return ["--auth-key", str(c.key_pem), "--auth-certs", str(c.chain_pem)]


def test_client_auth_tlspipe_both_ends(pki: Any) -> None:
    ident = pki.server()
    srv = TlspipeServer([*identity_args(ident), "--auth", str(ident.ca_pem), "--require-auth"])
    try:
        base = ["client", "localhost", "--port", str(srv.port), "--cafile", str(ident.ca_pem),
                "--http"]  # fmt: skip
        res = run_tlspipe([*base, *client_auth_args(pki)])
        assert res.returncode == 0, res.stderr
        assert re.search(rb"client=CN=[^,]*,O=tlspipe tests", res.stdout), res.stdout
        res = run_tlspipe(base)  # no certificate: the server refuses
        assert res.returncode == 1
        err = res.stderr.decode()
        assert err.count("\n") == 1 and "certificate_required" in err, err
    finally:
        srv.stop()


def test_openssl_client_cert_to_tlspipe_server(pki: Any) -> None:
    ident, client = pki.server(), pki.client()
    srv = TlspipeServer([*identity_args(ident), "--auth", str(ident.ca_pem), "--require-auth"])
    try:
        res = openssl_client(
            srv.port,
            args=[*verify_args(pki), "-ign_eof", "-cert", str(client.leaf_pem),
                  "-key", str(client.key_pem), "-cert_chain", str(client.intermediates_pem)],
            stdin_data=b"GET / HTTP/1.0\r\n\r\n",
        )  # fmt: skip
    finally:
        srv.stop()
    assert res.ok, res.output
    assert re.search(r"client=CN=[^,]*,O=tlspipe tests", res.output), res.output


def test_client_cert_to_openssl_server(pki: Any) -> None:
    ident = pki.server()
    args = ["-www", "-Verify", "2", "-verify_return_error", "-CAfile", str(ident.ca_pem)]
    with openssl_server(ident, args=args) as peer:
        res = run_tlspipe(
            ["client", "localhost", "--port", str(peer.port), "--cafile", str(ident.ca_pem),
             "--http", *client_auth_args(pki)]
        )  # fmt: skip
        out = peer.output()
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(b"HTTP/1.0 200 ok")
    assert "verify error" not in out.lower()


def _ocsp_response(pki: Any, ident: Any) -> bytes:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    leaf = x509.load_der_x509_certificate(ident.chain_der[0])
    issuer = pki.intermediate
    now = dt.datetime.now(dt.UTC)
    resp = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf, issuer=issuer.cert, algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD, this_update=now - dt.timedelta(hours=1),
            next_update=now + dt.timedelta(days=1), revocation_time=None, revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
        .sign(issuer.key, hashes.SHA256())
    )  # fmt: skip
    return resp.public_bytes(serialization.Encoding.DER)


def test_server_staples_ocsp_and_sct(pki: Any, tmp_path: Path) -> None:
    ident = pki.server()
    ocsp_file = tmp_path / "resp.der"
    ocsp_file.write_bytes(_ocsp_response(pki, ident))
    sct_file = tmp_path / "scts.bin"
    sct_file.write_bytes(b"\x00\x06\x00\x04abcd")  # a SignedCertificateTimestampList
    srv = TlspipeServer([*identity_args(ident), "--ocsp", str(ocsp_file), "--sct", str(sct_file)])
    try:
        res = openssl_client(srv.port, args=[*verify_args(pki), "-status"])
        assert res.ok, res.output
        assert "OCSP Response Status: successful" in res.output
        assert "Cert Status: good" in res.output
        res2 = run_tlspipe(
            ["client", "localhost", "--port", str(srv.port), "--cafile", str(ident.ca_pem),
             "--http", "--verbose"]
        )  # fmt: skip
        assert res2.returncode == 0, res2.stderr
        size = ocsp_file.stat().st_size
        assert f"ocsp={size}B sct=8B".encode() in res2.stderr, res2.stderr
    finally:
        srv.stop()


# -- demo ----------------------------------------------------------------------------------------


def test_demo_runs_in_a_few_seconds() -> None:
    t0 = time.monotonic()
    res = run_tlspipe(["demo"], timeout=30)
    elapsed = time.monotonic() - t0
    out = res.stdout.decode()
    assert res.returncode == 0, res.stderr
    for label in ("version:     TLS 1.3", "suite:       TLS_", "group:       x25519",
                  "ALPN:        h2", "handshake:", "throughput:", "MiB/s"):  # fmt: skip
        assert label in out, out
    assert "127.0.0.1" in out
    assert elapsed < 15, elapsed


def test_client_resume_early_data_against_openssl_s_server(pki: Any) -> None:
    """`tlspipe client --http --resume 1 --early-data` against `openssl s_server -early_data`:
    the second connection resumes and its request arrives as 0-RTT data, as s_server reports.
    s_server answers through its stdin (it refuses -early_data with -www); the response
    carries a Content-Length, so the client closes with close_notify once it has the body."""
    ident = pki.server()
    response = b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n"
    with openssl_server(ident, args=["-early_data"]) as srv:
        client = OpenSSLPeer(
            [*TLSPIPE, "client", "localhost", "--port", str(srv.port),
             "--cafile", str(ident.ca_pem), "--http", "--resume", "1", "--early-data"]
        )  # fmt: skip
        try:
            for n in (1, 2):
                deadline = time.monotonic() + TIMEOUT
                while srv.output().count("GET / HTTP/1.0") < n:
                    assert time.monotonic() < deadline, srv.output()
                    time.sleep(0.02)
                srv.send(response)
            res = client.wait(TIMEOUT)
        finally:
            client.stop()
        out = srv.output()
    assert res.returncode == 0, res.output
    assert "reconnection 1: resumed, early data accepted" in res.output, res.output
    assert res.output.count("hello") == 2
    # s_server saw the second request as early data, and both connections end cleanly
    early = re.search(r"Early data received:\s*\n(GET / HTTP/1\.0\r?\n)", out)
    assert early is not None, out
    assert "Reused session-id" in out
    # our close_notify ends each connection cleanly on s_server's side ("DONE")
    assert out.count("DONE") == 2, out
