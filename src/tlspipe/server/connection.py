"""The public :class:`ServerConnection`."""

from __future__ import annotations

from ..conn import CommonState, Connection, Side
from .config import ServerConfig
from .hs import ExpectClientHello

__all__ = ["ServerConnection"]


class ServerConnection(Connection):
    """The server end of a TLS connection, as a sans-IO pipe.

    Feed the client's bytes to :meth:`read_tls` and call :meth:`process_new_packets`.

    Args:
        config: the server configuration.
    """

    def __init__(self, config: ServerConfig) -> None:
        cx = CommonState(
            Side.SERVER,
            max_fragment_size=config.max_fragment_size,
            buffer_limit=config.buffer_limit,
        )
        super().__init__(cx, ExpectClientHello(config=config))
        self.config = config
