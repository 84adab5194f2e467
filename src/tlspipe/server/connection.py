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

    # -- 0-RTT (RFC 8446 §2.3, §4.2.10) ---------------------------------------------------------
    def read_early_data(self) -> bytes:
        """Take the 0-RTT data received so far (``b""`` when none).

        Early data is accepted only with ``max_early_data_size`` > 0, on a resumption with a
        fresh ticket that was not seen before; it is not protected against replay by the
        protocol: treat it as a possibly replayed, idempotent request.

        Raises:
            Nothing.
        """
        q = self._cx.received_early_data
        out = b"".join(q)
        q.clear()
        return out

    @property
    def early_data_accepted(self) -> bool:
        """True when this connection accepted the client's 0-RTT data."""
        return self._cx.early_data_accepted

    @property
    def early_data_offered(self) -> bool:
        """True when the client offered 0-RTT data (accepted or not)."""
        return self._cx.early_data_offered
