"""tlspipe: a sans-IO TLS 1.2/1.3 library in the design of rustls.

The core is an encrypted pipe: :class:`ClientConnection` and :class:`ServerConnection`
take TLS bytes in (:meth:`~Connection.read_tls`), give TLS bytes out
(:meth:`~Connection.write_tls`) and expose plaintext (:meth:`~Connection.read` /
:meth:`~Connection.write`).  No IO happens inside.

::

    TLS side                                            plaintext side
    read_tls(data) ─► process_new_packets() ─► read()   ─► your app
    write_tls()    ◄─ records ◄──────────────── write() ◄─ your app
"""

from __future__ import annotations

from .client.certs import AlwaysResolvesClientCert, ResolvesClientCert
from .client.config import ClientConfig
from .client.connection import ClientConnection
from .client.stores import (
    ClientSessionMemoryCache,
    NoClientSessionStorage,
    StoresClientSessions,
)
from .conn import Connection, IoState
from .crypto.sign import CertifiedKey
from .enums import CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme
from .errors import (
    AlertReceived,
    BufferFull,
    CertificateReason,
    ConfigError,
    DecodeError,
    DecryptError,
    EncryptError,
    Error,
    HandshakeNotComplete,
    InappropriateMessage,
    InternalError,
    InvalidCertificate,
    InvalidMessage,
    PeerIncompatible,
    PeerMisbehaved,
    RecordOverflow,
    UnexpectedEof,
)
from .keylog import KeyLog, KeyLogFile, NoKeyLog
from .psk import ExternalPsk
from .server.config import ServerConfig
from .server.connection import ServerConnection
from .server.resume13 import ReplayFilter
from .server.stores import (
    AlwaysResolvesCert,
    ClientHelloInfo,
    NoServerSessionStorage,
    ProducesTickets,
    ResolvesServerCert,
    ResolvesServerCertUsingSni,
    ServerSessionMemoryCache,
    StoresServerSessions,
    Ticketer,
)
from .stream import Stream, StreamOwned
from .verify.crl import CrlChecker
from .verify.ct import CtLog, CtPolicy
from .verify.ocsp import OcspPolicy
from .verify.pinning import PinSet
from .verify.roots import RootCertStore
from .verify.webpki import (
    AllowAnyAnonymousOrAuthenticatedClient,
    AllowAnyAuthenticatedClient,
    NoClientAuth,
    ServerCertChecks,
    WebPkiClientVerifier,
    WebPkiServerVerifier,
)

#: The seed's names for the two connection types.
ClientSession = ClientConnection
ServerSession = ServerConnection

__version__ = "0.1.0"

__all__ = [
    "AlertReceived",
    "AllowAnyAnonymousOrAuthenticatedClient",
    "AllowAnyAuthenticatedClient",
    "AlwaysResolvesCert",
    "AlwaysResolvesClientCert",
    "BufferFull",
    "CertificateReason",
    "CertifiedKey",
    "CipherSuite",
    "ClientConfig",
    "ClientConnection",
    "ClientHelloInfo",
    "ClientSession",
    "ClientSessionMemoryCache",
    "ConfigError",
    "Connection",
    "CrlChecker",
    "CtLog",
    "CtPolicy",
    "DecodeError",
    "DecryptError",
    "EncryptError",
    "Error",
    "ExternalPsk",
    "HandshakeNotComplete",
    "InappropriateMessage",
    "InternalError",
    "InvalidCertificate",
    "InvalidMessage",
    "IoState",
    "KeyLog",
    "KeyLogFile",
    "NamedGroup",
    "NoClientAuth",
    "NoClientSessionStorage",
    "NoKeyLog",
    "NoServerSessionStorage",
    "OcspPolicy",
    "PeerIncompatible",
    "PeerMisbehaved",
    "PinSet",
    "ProducesTickets",
    "ProtocolVersion",
    "RecordOverflow",
    "ReplayFilter",
    "ResolvesClientCert",
    "ResolvesServerCert",
    "ResolvesServerCertUsingSni",
    "RootCertStore",
    "ServerCertChecks",
    "ServerConfig",
    "ServerConnection",
    "ServerSession",
    "ServerSessionMemoryCache",
    "SignatureScheme",
    "StoresClientSessions",
    "StoresServerSessions",
    "Stream",
    "StreamOwned",
    "Ticketer",
    "UnexpectedEof",
    "WebPkiClientVerifier",
    "WebPkiServerVerifier",
    "__version__",
]
