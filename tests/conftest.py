"""Shared pytest fixtures for tlspipe tests.

``pki``: the session's test PKI (tests/pki.py), generated with `cryptography` into a session
tmp dir on first use; identities are built lazily and cached, RSA keys made once per session.
"""

from __future__ import annotations

import pytest

from pki import PKI


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    """The session-wide test PKI (root + intermediate CA, server/client/bad identities)."""
    return PKI(tmp_path_factory.mktemp("pki"))
