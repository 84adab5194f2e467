"""RFC 9001 Appendix A test vectors: Initial secrets and keys, header protection, packet
protection (AES-128-GCM Initial packets and the ChaCha20-Poly1305 short header packet)."""

from __future__ import annotations

import pytest

from tlspipe.crypto.default import TLS13_CHACHA20_POLY1305_SHA256
from tlspipe.errors import ConfigError, DecodeError, DecryptError
from tlspipe.keys.tls13 import hkdf_expand_label
from tlspipe.quic import DirectionalKeys, initial_keys, initial_secrets

DCID = bytes.fromhex("8394c8f03e515708")
h = bytes.fromhex


def test_initial_secrets_a1() -> None:
    client, server = initial_secrets(DCID)
    assert client == h("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
    assert server == h("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b")


def test_initial_keys_a1() -> None:
    keys = initial_keys(DCID)
    local, remote = keys.local, keys.remote
    assert local.packet.key == h("1f369613dd76d5467730efcbe3b1a22d")
    assert local.packet.iv == h("fa044b2f42a3fd3b46fb255c")
    assert local.header.key == h("9f50449e04a0e810283a1e9933adedd2")
    assert remote.packet.key == h("cf3a5331653c364c88f0f379b6067e37")
    assert remote.packet.iv == h("0ac1493ca1905853b0bba03e")
    assert remote.header.key == h("c206b8d9b9f0f37644430b490eeaa314")
    server_view = initial_keys(DCID, is_client=False)
    assert server_view.local.packet.key == remote.packet.key
    assert server_view.remote.header.key == local.header.key


def test_client_initial_header_protection_a2() -> None:
    hp = initial_keys(DCID).local.header
    assert hp.mask(h("d1b1c98dd7689fb8ec11d242b123dc9b")) == h("437b9aec36")
    header = h("c300000001088394c8f03e5157080000449e00000002")
    pn_offset = len(header) - 4
    # the sample is taken 4 bytes after the packet number offset
    packet = bytearray(header + h("d1b1c98dd7689fb8ec11d242b123dc9b") + bytes(8))
    hp.apply(packet, pn_offset)
    assert bytes(packet[: len(header)]) == h("c000000001088394c8f03e5157080000449e7b9aec34")
    assert hp.remove(packet, pn_offset) == 4
    assert bytes(packet[: len(header)]) == header


SERVER_PAYLOAD = h(
    "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf73988cfc79825df566dc5430b"
    "9a045a1200130100002e00330024001d00209d3c940d89690b84d08a60993c144eca684d1081287c834d53"
    "11bcf32bb9da1a002b00020304"
)
SERVER_PACKET = h(
    "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a5816b6394100f37a1c6979"
    "7554780bb38cc5a99f5ede4cf73c3ec2493a1839b3dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f"
    "3bded74b562bfb19fb84022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc421"
    "58407dd074ee"
)


def test_server_initial_packet_a3() -> None:
    keys = initial_keys(DCID, is_client=False).local
    header = h("c1000000010008f067a5502a4262b50040750001")
    pn_offset = len(header) - 2
    packet = bytearray(header + keys.packet.seal(1, header, SERVER_PAYLOAD))
    keys.header.apply(packet, pn_offset)
    assert bytes(packet) == SERVER_PACKET
    # and back, as the client does
    client = initial_keys(DCID).remote
    rx = bytearray(SERVER_PACKET)
    pn_len = client.header.remove(rx, pn_offset)
    assert pn_len == 2
    pn = int.from_bytes(rx[pn_offset : pn_offset + pn_len], "big")
    hdr = bytes(rx[: pn_offset + pn_len])
    assert client.packet.open(pn, hdr, bytes(rx[pn_offset + pn_len :])) == SERVER_PAYLOAD
    with pytest.raises(DecryptError):
        client.packet.open(pn + 1, hdr, bytes(rx[pn_offset + pn_len :]))


def test_chacha20_short_header_a5() -> None:
    suite = TLS13_CHACHA20_POLY1305_SHA256
    secret = h("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b")
    keys = DirectionalKeys.from_secret(suite, secret)
    assert keys.packet.key == h("c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8")
    assert keys.packet.iv == h("e0459b3474bdd0e44a41c144")
    assert keys.header.key == h("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4")
    ku = hkdf_expand_label("sha256", secret, b"quic ku", b"", 32)
    assert ku == h("1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9")
    pn = 654360564
    header = h("4200bff4")
    packet = bytearray(header + keys.packet.seal(pn, header, h("01")))
    assert keys.header.mask(bytes(packet[5:21])) == h("aefefe7d03")
    keys.header.apply(packet, 1)
    assert bytes(packet) == h("4cfe4189655e5cd55c41f69080575d7999c25a5bfb")


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError):
        initial_secrets(DCID, version=2)
    with pytest.raises(ConfigError):
        initial_secrets(bytes(21))
    hp = initial_keys(DCID).local.header
    with pytest.raises(DecodeError):
        hp.mask(bytes(15))
    with pytest.raises(DecodeError):
        hp.apply(bytearray(10), 5)
