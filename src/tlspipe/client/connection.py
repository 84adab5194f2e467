"""The public :class:`ClientConnection`."""

from __future__ import annotations

from ..conn import CommonState, Connection, Side
from ..enums import ContentType
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

    # -- 0-RTT (RFC 8446 §2.3, §4.2.10) ---------------------------------------------------------
    def write_early_data(self, data: bytes | bytearray | memoryview) -> int:
        """Send ``data`` as 0-RTT early data, before the handshake completes.

        Possible only right after creating the connection with a config that has
        ``enable_early_data`` and a stored ticket allowing 0-RTT, until the server's
        ServerHello is processed.  Early data can be replayed by an attacker: send only
        idempotent requests.  Check :attr:`early_data_accepted` once the handshake is done:
        rejected data was dropped by the server and must be sent again with :meth:`write`.

        Returns:
            The number of bytes taken (0 when 0-RTT is not possible (any more); at most the
            ticket's max_early_data_size in total).

        Raises:
            Error: the connection already failed.
        """
        self._check_poisoned()
        cx = self._cx
        mv = memoryview(data).cast("B")
        take = min(len(mv), cx.early_data_left)
        if take:
            cx.send_raw_record(ContentType.application_data, mv[:take])
            cx.early_data_left -= take
        return take

    @property
    def early_data_offered(self) -> bool:
        """True when the ClientHello offered 0-RTT (writes were possible)."""
        return self._cx.early_data_offered

    @property
    def early_data_accepted(self) -> bool:
        """True when the server accepted our 0-RTT data (known once EncryptedExtensions
        arrived; after the handshake, offered but not accepted means rejected)."""
        return self._cx.early_data_accepted
