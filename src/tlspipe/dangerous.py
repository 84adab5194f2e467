"""Unsafe configuration hooks.  Everything here can make a connection insecure.

Only this module can install a custom server certificate verifier, so code review can find
every place verification is changed by searching for ``tlspipe.dangerous``.
"""

from __future__ import annotations

import dataclasses

from .client.config import ClientConfig
from .verify.base import ServerCertVerifier

__all__ = ["dangerous_with_custom_verifier"]


def dangerous_with_custom_verifier(
    config: ClientConfig, verifier: ServerCertVerifier
) -> ClientConfig:
    """A copy of ``config`` that verifies servers with ``verifier`` instead of WebPKI.

    The verifier decides alone whether a server is trusted: a verifier that accepts
    everything makes TLS worthless against an active attacker.

    Raises:
        ConfigError: never for a valid config.
    """
    return dataclasses.replace(config, _verifier=verifier)
