"""Unsafe configuration hooks.  Everything here can make a connection insecure.

Only this module can install a custom server certificate verifier, so code review can find
every place verification is changed by searching for ``tlspipe.dangerous``.
"""

from __future__ import annotations

import dataclasses

from .client.config import ClientConfig
from .client.stores import ClientSessionMemoryCache, NoClientSessionStorage
from .verify.base import ServerCertVerifier

__all__ = ["dangerous_with_custom_verifier"]


def dangerous_with_custom_verifier(
    config: ClientConfig, verifier: ServerCertVerifier
) -> ClientConfig:
    """A copy of ``config`` that verifies servers with ``verifier`` instead of WebPKI.

    The verifier decides alone whether a server is trusted: a verifier that accepts
    everything makes TLS worthless against an active attacker.

    The copy gets a session store of its own (unless ``config`` stores no sessions): a
    session resumes without any certificate check, so one that only ``verifier`` vouched for
    must never be offered by ``config`` (which shared its store with every copy).  Replace
    ``session_store`` on the result to share one deliberately.

    Raises:
        ConfigError: never for a valid config.
    """
    store = config.session_store
    if not isinstance(store, NoClientSessionStorage):
        store = ClientSessionMemoryCache()
    return dataclasses.replace(config, _verifier=verifier, session_store=store)
