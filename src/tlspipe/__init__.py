"""tlspipe: a sans-IO TLS 1.2/1.3 library in the design of rustls."""

from __future__ import annotations

from .errors import (
    AlertReceived,
    ConfigError,
    DecodeError,
    DecryptError,
    Error,
    InappropriateMessage,
    InvalidCertificate,
    PeerIncompatible,
    PeerMisbehaved,
    UnexpectedEof,
)

__all__ = [
    "AlertReceived",
    "ConfigError",
    "DecodeError",
    "DecryptError",
    "Error",
    "InappropriateMessage",
    "InvalidCertificate",
    "PeerIncompatible",
    "PeerMisbehaved",
    "UnexpectedEof",
]
