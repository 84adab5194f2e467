"""tlspipe.aio: asyncio streams on 127.0.0.1, under the default loop and uvloop (in the test extra).

Many concurrent connections, flow control both ways with large transfers, clean close_notify,
truncation detection, verification failure, and interop with ``openssl s_server``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

import tlspipe
from tlspipe import aio
from tlspipe.enums import AlertDescription

TIMEOUT = 20.0

LOOPS = ["asyncio", "uvloop"]


def run(loop_kind: str, coro: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    factory = uvloop.new_event_loop if loop_kind == "uvloop" else asyncio.new_event_loop

    async def bounded() -> Any:
        async with asyncio.timeout(TIMEOUT):
            return await coro()

    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(bounded())


def configs(pki: Any, alpn: tuple[bytes, ...] = ()) -> tuple[tlspipe.ClientConfig, Any]:
    ident = pki.server()
    cc = tlspipe.ClientConfig(
        root_store=tlspipe.RootCertStore.from_pem_file(ident.ca_pem), alpn_protocols=alpn
    )
    sc = tlspipe.ServerConfig.from_pem_files(ident.chain_pem, ident.key_pem, alpn_protocols=alpn)
    return cc, sc


async def echo(reader: asyncio.StreamReader, writer: aio.TlsStreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


def port_of(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_aio_many_concurrent_connections(pki: Any, loop_kind: str) -> None:
    cc, sc = configs(pki, alpn=(b"echo",))
    n_clients = 50

    async def client(port: int, i: int) -> None:
        reader, writer = await aio.open_connection("127.0.0.1", port, config=cc)
        assert writer.get_extra_info("alpn_protocol") == b"echo"
        assert writer.connection.protocol_version is tlspipe.ProtocolVersion.TLSv1_3
        msg = f"client {i} ".encode() * 1000
        writer.write(msg)
        await writer.drain()
        writer.write_eof()  # close_notify; TLS 1.3 lets the server still answer
        assert await reader.read() == msg
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        server = await aio.start_server(echo, "127.0.0.1", 0, config=sc)
        async with server:
            port = port_of(server)
            await asyncio.gather(*(client(port, i) for i in range(n_clients)))

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_aio_large_transfer_flow_control(pki: Any, loop_kind: str) -> None:
    """A server that does not read: the client's drain() blocks (transport write buffer full)
    and the server's transport is paused (reader buffer full); once the server reads,
    everything (32 MiB) arrives intact and drain() returns."""
    cc, sc = configs(pki)
    chunk = bytes(range(256)) * 256  # 64 KiB
    total = 32 << 20

    async def main() -> None:
        accepted: asyncio.Future[tuple[asyncio.StreamReader, aio.TlsStreamWriter]]
        accepted = asyncio.get_running_loop().create_future()
        release = asyncio.Event()
        done = asyncio.Event()
        received: list[int] = []

        async def slow(reader: asyncio.StreamReader, writer: aio.TlsStreamWriter) -> None:
            accepted.set_result((reader, writer))
            await release.wait()
            n = 0
            while data := await reader.read(1 << 20):
                assert data == chunk * (len(data) // len(chunk)) or len(data) % 256 == 0
                n += len(data)
            received.append(n)
            writer.write(b"%d" % n)
            writer.close()
            done.set()

        server = await aio.start_server(slow, "127.0.0.1", 0, config=sc, limit=2**16)
        async with server:
            reader, writer = await aio.open_connection("127.0.0.1", port_of(server), config=cc)
            sreader, swriter = await accepted
            sent = 0
            blocked = False
            while sent < total:
                writer.write(chunk)
                sent += len(chunk)
                try:
                    await asyncio.wait_for(writer.drain(), 0.3)
                except TimeoutError:
                    blocked = True
                    break
            assert blocked, "drain() never waited although the peer did not read"
            assert sent < total
            # the server side stopped reading from TCP: its plaintext buffer is bounded
            assert not swriter.transport.is_reading()
            release.set()
            while sent < total:
                writer.write(chunk)
                sent += len(chunk)
                await writer.drain()
            writer.write_eof()
            reply = await reader.read()
            await done.wait()
            assert received == [total]
            assert reply == b"%d" % total
            writer.close()
            await writer.wait_closed()

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_aio_download_with_slow_client_reader(pki: Any, loop_kind: str) -> None:
    """Server → client 16 MiB while the client reads slowly: the client's transport pauses."""
    cc, sc = configs(pki)
    total = 16 << 20

    async def send_lots(reader: asyncio.StreamReader, writer: aio.TlsStreamWriter) -> None:
        block = b"z" * (1 << 20)
        for _ in range(total // len(block)):
            writer.write(block)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        server = await aio.start_server(send_lots, "127.0.0.1", 0, config=sc)
        async with server:
            reader, writer = await aio.open_connection(
                "127.0.0.1", port_of(server), config=cc, limit=2**15
            )
            await asyncio.sleep(0.2)
            assert not writer.transport.is_reading()  # paused: 2 * limit exceeded
            n = 0
            while data := await reader.read(1 << 16):
                n += len(data)
            assert n == total
            assert writer.connection.peer_has_closed
            writer.close()
            await writer.wait_closed()

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_aio_close_sends_close_notify(pki: Any, loop_kind: str) -> None:
    cc, sc = configs(pki)

    async def main() -> None:
        result: asyncio.Future[tuple[bytes, bool]] = asyncio.get_running_loop().create_future()

        async def handler(reader: asyncio.StreamReader, writer: aio.TlsStreamWriter) -> None:
            data = await reader.read()  # b"" only after close_notify; truncation raises
            result.set_result((data, writer.connection.peer_has_closed))
            writer.close()

        server = await aio.start_server(handler, "127.0.0.1", 0, config=sc)
        async with server:
            reader, writer = await aio.open_connection("127.0.0.1", port_of(server), config=cc)
            writer.write(b"last words")
            writer.close()
            await writer.wait_closed()
            assert await result == (b"last words", True)

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_aio_truncation_raises_unexpected_eof(pki: Any, loop_kind: str) -> None:
    cc, sc = configs(pki)

    async def rude(reader: asyncio.StreamReader, writer: aio.TlsStreamWriter) -> None:
        writer.write(b"partial")
        await writer.drain()
        writer.transport.close()  # TCP FIN without close_notify

    async def main() -> None:
        server = await aio.start_server(rude, "127.0.0.1", 0, config=sc)
        async with server:
            reader, writer = await aio.open_connection("127.0.0.1", port_of(server), config=cc)
            assert await reader.readexactly(7) == b"partial"
            with pytest.raises(tlspipe.UnexpectedEof):
                await reader.read()
            writer.close()

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_aio_verification_failure(pki: Any, loop_kind: str) -> None:
    bad = pki.bad("expired")
    cc = tlspipe.ClientConfig(root_store=tlspipe.RootCertStore.from_pem_file(bad.ca_pem))
    sc = tlspipe.ServerConfig.from_pem_files(bad.chain_pem, bad.key_pem)
    called: list[bool] = []

    async def handler(reader: asyncio.StreamReader, writer: aio.TlsStreamWriter) -> None:
        called.append(True)

    async def main() -> None:
        server = await aio.start_server(handler, "127.0.0.1", 0, config=sc)
        async with server:
            with pytest.raises(tlspipe.InvalidCertificate) as ei:
                await aio.open_connection("127.0.0.1", port_of(server), config=cc)
            assert ei.value.alert is AlertDescription.certificate_expired
            await asyncio.sleep(0.05)
        assert called == []  # the callback runs only after a completed handshake

    run(loop_kind, main)


def test_aio_handshake_timeout(pki: Any) -> None:
    """A peer that never answers: open_connection gives up after handshake_timeout."""
    cc, _ = configs(pki)

    async def main() -> None:
        async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await asyncio.sleep(5)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        async with server:
            with pytest.raises(TimeoutError):
                await aio.open_connection(
                    "127.0.0.1", port_of(server), config=cc, handshake_timeout=0.2
                )
            for t in asyncio.all_tasks() - {asyncio.current_task()}:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t

    run("asyncio", main)


@pytest.mark.interop
def test_aio_client_against_openssl_www(pki: Any) -> None:
    from interop.peers import openssl_server

    cc, _ = configs(pki)
    with openssl_server(pki.server(), args=["-www"]) as peer:

        async def main() -> bytes:
            reader, writer = await aio.open_connection("127.0.0.1", peer.port, config=cc,
                                                       server_hostname="localhost")  # fmt: skip
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            await writer.drain()
            body = await reader.read()
            writer.close()
            return body

        body = run("asyncio", main)
    assert body.startswith(b"HTTP/1.0 200 ok")
    assert b"TLSv1.3" in body


def test_aio_failing_handler_drops_its_connection(pki: Any, caplog: Any) -> None:
    cc, sc = configs(pki)

    async def broken(reader: asyncio.StreamReader, writer: aio.TlsStreamWriter) -> None:
        raise RuntimeError("handler bug")

    async def main() -> None:
        server = await aio.start_server(broken, "127.0.0.1", 0, config=sc)
        async with server:
            reader, writer = await aio.open_connection("127.0.0.1", port_of(server), config=cc)
            with pytest.raises((tlspipe.UnexpectedEof, ConnectionResetError)):
                await reader.read()
            writer.close()

    run("asyncio", main)
    assert "handler bug" in caplog.text
