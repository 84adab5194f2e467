"""The public :class:`ClientConnection`."""

from __future__ import annotations

from ..conn import CommonState, Connection, Side
from .config import ClientConfig
from .hs import start_handshake

__all__ = ["ClientConnection"]


class ClientConnection(Connection):
    """The client end of a TLS connection, as a sans-IO pipe.

    Creating it queues the ClientHello: call :meth:`write_tls` and send the bytes.

    Args:
        config: the client configuration.
        server_name: the host name (sent as SNI and verified in the certificate) or an IP
            address (verified against the certificate's IP SANs; no SNI).

    Raises:
        ConfigError: an invalid server name.
    """

    def __init__(self, config: ClientConfig, server_name: str) -> None:
        cx = CommonState(
            Side.CLIENT,
            max_fragment_size=config.max_fragment_size,
            buffer_limit=config.buffer_limit,
        )
        state = start_handshake(config, server_name, cx)
        super().__init__(cx, state)
        self.config = config
