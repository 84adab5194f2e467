"""Client authentication and OCSP/SCT stapling against real peers (issue 7), TLS 1.3.

Both directions against the openssl CLI: ``s_server -Verify/-verify`` with a tlspipe client
presenting a certificate, ``s_client -cert -key`` against a tlspipe server requiring one,
``s_client -status`` seeing tlspipe's stapled OCSP response, and a tlspipe client receiving
the response ``s_server -status_file`` staples.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from drive import connect, serve_in_thread
from peers import openssl_client, openssl_server

import tlspipe
from pki import PKI, Identity

pytestmark = pytest.mark.interop


def _roots(path: Path) -> tlspipe.RootCertStore:
    return tlspipe.RootCertStore.from_pem_file(path)


def _ocsp_response(pki: PKI, ident: Identity) -> bytes:
    """A good OCSP response for ``ident``'s leaf, signed by its issuer (the intermediate)."""
    issuer = pki.intermediate
    now = dt.datetime.now(dt.UTC)
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=ident.leaf,
            issuer=issuer.cert,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now - dt.timedelta(minutes=5),
            next_update=now + dt.timedelta(days=1),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
    )
    resp = builder.sign(issuer.key, hashes.SHA256())
    return resp.public_bytes(serialization.Encoding.DER)


def _server_config(ident: Identity, **kw: object) -> tlspipe.ServerConfig:
    return tlspipe.ServerConfig.from_pem_files(ident.chain_pem, ident.key_pem, **kw)


@pytest.mark.parametrize("kind", ["ecdsa-p256", "rsa-2048"])
def test_tlspipe_client_cert_to_openssl_server(pki: PKI, kind: str) -> None:
    server = pki.server("ecdsa-p256")
    client = pki.client(kind)
    cfg = tlspipe.ClientConfig(root_store=_roots(server.ca_pem)).with_client_auth_cert(
        client.chain_pem.read_bytes(), client.key_pem.read_bytes()
    )
    args = ["-Verify", "2", "-verify_return_error", "-CAfile", str(client.ca_pem)]
    with openssl_server(server, args=args) as srv:
        d = connect(srv.port, cfg)
        with contextlib.closing(d.sock):
            d.handshake()
            d.write(b"hello from an authenticated client\n")
            srv.wait_for(r"hello from an authenticated client", timeout=10)
            d.close()
        out = srv.output()
    assert "Client certificate" in out
    assert "verify return:1" in out
    assert "verify error" not in out.lower()


def test_openssl_client_cert_to_tlspipe_server(pki: PKI) -> None:
    server = pki.server("ecdsa-p256")
    client = pki.client("ecdsa-p256")
    verifier = tlspipe.AllowAnyAuthenticatedClient(_roots(client.ca_pem))
    cfg = _server_config(server, client_verifier=verifier)

    def body(d: object) -> object:
        from drive import Driver

        assert isinstance(d, Driver)
        d.handshake()
        chain = d.conn.peer_certificates
        d.write(b"ok\n")
        d.close()
        return chain

    with serve_in_thread(cfg, body) as st:
        res = openssl_client(
            st.port,
            args=[
                "-cert",
                str(client.leaf_pem),
                "-cert_chain",
                str(client.intermediates_pem),
                "-key",
                str(client.key_pem),
                "-CAfile",
                str(server.ca_pem),
                "-verify_return_error",
                "-ign_eof",
            ],
            tls13=True,
        )
        chain = st.result()
    assert res.ok, res.output
    assert isinstance(chain, tuple) and chain[0] == client.chain_der[0]


def test_tlspipe_server_requires_cert_openssl_sends_none(pki: PKI) -> None:
    server = pki.server("ecdsa-p256")
    verifier = tlspipe.AllowAnyAuthenticatedClient(_roots(pki.client("ecdsa-p256").ca_pem))
    cfg = _server_config(server, client_verifier=verifier)

    def body(d: object) -> object:
        from drive import Driver

        assert isinstance(d, Driver)
        d.handshake()
        d.read_exact(1)
        return None

    with serve_in_thread(cfg, body) as st:
        res = openssl_client(
            st.port, args=["-CAfile", str(server.ca_pem), "-ign_eof"], stdin_data=b"x"
        )
        with pytest.raises(tlspipe.PeerMisbehaved) as ei:
            st.result()
    assert ei.value.alert == tlspipe.enums.AlertDescription.certificate_required
    assert "certificate required" in res.output


@pytest.mark.parametrize("tls13", [True, False], ids=["tls13", "tls12"])
def test_openssl_client_sees_stapled_ocsp(pki: PKI, tls13: bool) -> None:
    """TLS 1.3: the leaf's CertificateEntry extension; TLS 1.2: a CertificateStatus message."""
    server = pki.server("ecdsa-p256")
    resp = _ocsp_response(pki, server)
    ck = tlspipe.CertifiedKey.from_pem(
        server.chain_pem.read_bytes(), server.key_pem.read_bytes(), ocsp=resp
    )
    cfg = tlspipe.ServerConfig(certified_key=ck)

    def body(d: object) -> object:
        from drive import Driver

        assert isinstance(d, Driver)
        d.handshake()
        d.close()
        return None

    with serve_in_thread(cfg, body) as st:
        res = openssl_client(
            st.port, args=["-status", "-CAfile", str(server.ca_pem), "-ign_eof"], tls13=tls13
        )
        st.result()
    assert ("TLSv1.3" if tls13 else "TLSv1.2") in res.output
    assert "OCSP Response Status: successful" in res.output
    assert "Cert Status: good" in res.output


@pytest.mark.parametrize("tls13", [True, False], ids=["tls13", "tls12"])
def test_tlspipe_client_receives_openssl_stapled_ocsp(
    pki: PKI, tmp_path: Path, tls13: bool
) -> None:
    server = pki.server("ecdsa-p256")
    resp = _ocsp_response(pki, server)
    status_file = tmp_path / "ocsp.der"
    status_file.write_bytes(resp)
    cfg = tlspipe.ClientConfig(root_store=_roots(server.ca_pem))
    with openssl_server(server, args=["-status_file", str(status_file)], tls13=tls13) as srv:
        d = connect(srv.port, cfg)
        with contextlib.closing(d.sock):
            d.handshake()
            got = d.conn.peer_ocsp_response
            d.close()
    assert got == resp
    parsed = ocsp.load_der_ocsp_response(got)
    assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert parsed.serial_number == x509.load_der_x509_certificate(server.chain_der[0]).serial_number


def test_no_staple_unless_asked(pki: PKI) -> None:
    """Python's ssl client does not send status_request: tlspipe must not staple."""
    import ssl

    from peers import python_ssl_client

    server = pki.server("ecdsa-p256")
    ck = tlspipe.CertifiedKey.from_pem(
        server.chain_pem.read_bytes(), server.key_pem.read_bytes(), ocsp=_ocsp_response(pki, server)
    )
    cfg = tlspipe.ServerConfig(certified_key=ck)

    def body(d: object) -> object:
        from drive import Driver

        assert isinstance(d, Driver)
        d.handshake()
        d.write(b"hi")
        d.close()
        return None

    ctx = ssl.create_default_context(cafile=str(server.ca_pem))
    with serve_in_thread(cfg, body) as st:
        res = python_ssl_client(st.port, ctx, b"", read=2)
        st.result()
    assert res.received == b"hi"


# --- the client checks a stapled response that `openssl ocsp` produced ---------------------


def _openssl_ocsp(
    pki: PKI, ident: Identity, d: Path, *, signer: str, revoked: bool, validity: tuple[str, ...]
) -> bytes:
    """Run `openssl ocsp` as a responder for ``ident``'s leaf (issuer: the intermediate)."""
    import subprocess

    now = dt.datetime.now(dt.UTC)
    leaf = ident.leaf
    serial = f"{leaf.serial_number:X}"
    serial = "0" * (len(serial) % 2) + serial
    t = lambda w: w.strftime("%y%m%d%H%M%SZ")  # noqa: E731
    status, rev = ("R", t(now - dt.timedelta(days=1)) + ",keyCompromise") if revoked else ("V", "")
    subject = "/" + leaf.subject.rfc4514_string().replace(",", "/")
    (d / "index.txt").write_text(
        "\t".join((status, t(leaf.not_valid_after_utc), rev, serial, "unknown", subject)) + "\n"
    )
    (d / "index.txt.attr").write_text("unique_subject = no\n")
    issuer_pem = d / "issuer.pem"
    issuer_pem.write_bytes(pki.intermediate.cert.public_bytes(serialization.Encoding.PEM))
    keys = {"issuer": pki.intermediate.key, "rogue": pki.root.key}
    certs = {"issuer": pki.intermediate.cert, "rogue": pki.root.cert}
    (d / "signer.pem").write_bytes(certs[signer].public_bytes(serialization.Encoding.PEM))
    (d / "signer.key").write_bytes(
        keys[signer].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    out = d / "resp.der"
    out.unlink(missing_ok=True)
    cmd = [
        "openssl", "ocsp", "-index", str(d / "index.txt"), "-rsigner", str(d / "signer.pem"),
        "-rkey", str(d / "signer.key"), "-CA", str(issuer_pem), "-issuer", str(issuer_pem),
        "-cert", str(ident.leaf_pem), "-respout", str(out), *validity,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, timeout=20, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return out.read_bytes()


@pytest.mark.parametrize(
    ("case", "signer", "revoked", "validity", "reason"),
    [
        ("good", "issuer", False, ("-ndays", "1"), None),
        ("revoked", "issuer", True, ("-ndays", "1"), "REVOKED"),
        ("expired", "issuer", False, ("-nmin", "1"), "BAD_STATUS_RESPONSE"),
        ("wrong-signer", "rogue", False, ("-ndays", "1"), "BAD_STATUS_RESPONSE"),
    ],
)
@pytest.mark.parametrize("tls13", [True, False], ids=["tls13", "tls12"])
def test_tlspipe_client_checks_openssl_ocsp(
    tls13: bool,
    pki: PKI,
    tmp_path: Path,
    case: str,
    signer: str,
    revoked: bool,
    validity: tuple[str, ...],
    reason: str | None,
) -> None:
    from tlspipe.verify.ocsp import OcspPolicy
    from tlspipe.verify.webpki import ServerCertChecks

    server = pki.server("ecdsa-p256")
    resp = _openssl_ocsp(pki, server, tmp_path, signer=signer, revoked=revoked, validity=validity)
    status_file = tmp_path / "status.der"
    status_file.write_bytes(resp)
    clock = (
        (lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
        if case == "expired"
        else (lambda: dt.datetime.now(dt.UTC))
    )
    cfg = tlspipe.ClientConfig(
        root_store=_roots(server.ca_pem),
        cert_checks=ServerCertChecks(ocsp=OcspPolicy(require_stapled=True)),
        time=clock,
    )
    with openssl_server(server, args=["-status_file", str(status_file)], tls13=tls13) as srv:
        d = connect(srv.port, cfg)
        with contextlib.closing(d.sock):
            if reason is None:
                d.handshake()
                assert d.conn.peer_ocsp_response == resp
                d.close()
                return
            with pytest.raises(tlspipe.InvalidCertificate) as ei:
                d.handshake()
        assert ei.value.reason.name == reason
        srv.wait_for(r"alert", timeout=10)
        out = srv.output()
    expected_alert = {
        "REVOKED": "certificate revoked",
        "BAD_STATUS_RESPONSE": "bad certificate status response",
    }
    assert expected_alert[reason] in out
