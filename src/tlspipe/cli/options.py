"""Option parsing shared by ``tlspipe server`` and ``tlspipe client``.

IANA names for ``--suite`` (e.g. ``TLS_AES_128_GCM_SHA256``,
``TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256``), ``--group`` (``x25519``, ``secp256r1``,
``secp384r1``, ``X25519MLKEM768``) and ``--protover`` (``1.2``, ``1.3``); a wrong value is an
argparse usage error (exit 2) listing the valid names.  Options naming a feature this build
does not implement yet fail the same way, with one line saying so.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Callable
from typing import TypeVar

from .. import config as _config
from ..crypto.default import ALL_CIPHER_SUITES, ALL_KX_GROUPS, default_provider
from ..crypto.provider import CryptoProvider
from ..enums import CipherSuite, NamedGroup, ProtocolVersion

__all__ = [
    "GROUP_NAMES",
    "PROTOVER_NAMES",
    "SUITE_NAMES",
    "add_common_options",
    "check_pending_features",
    "iana_suite_name",
    "provider_for",
    "read_file",
    "setup_logging",
    "version_name",
    "versions_for",
]


T = TypeVar("T")


def iana_suite_name(suite: CipherSuite | int) -> str:
    """The IANA registry name of a cipher suite (TLS 1.3 suites lose the ``13``)."""
    try:
        name = CipherSuite(suite).name
    except ValueError:
        return f"0x{int(suite):04X}"
    return name.replace("TLS13_", "TLS_", 1)


#: IANA name → suite, for every suite the default provider implements.
SUITE_NAMES: dict[str, CipherSuite] = {
    iana_suite_name(s.suite): CipherSuite(s.suite) for s in ALL_CIPHER_SUITES
}
#: IANA name → group, for every group implemented (the hybrid included).
GROUP_NAMES: dict[str, NamedGroup] = {
    NamedGroup(g.name).name: NamedGroup(g.name) for g in ALL_KX_GROUPS
}
#: ``--protover`` value → version (whether implemented is checked at run time).
PROTOVER_NAMES: dict[str, ProtocolVersion] = {
    "1.3": ProtocolVersion.TLSv1_3,
    "1.2": ProtocolVersion.TLSv1_2,
}


def _lookup(table: dict[str, T], what: str) -> Callable[[str], T]:
    folded = {k.lower(): v for k, v in table.items()}
    aliases = {k.lower().replace("tls_", "tls13_", 1): v for k, v in table.items()}

    def parse(value: str) -> T:
        v = value.strip().lower()
        if v in folded:
            return folded[v]
        if v in aliases and what == "cipher suite":  # rustls spelling TLS13_AES_…
            return aliases[v]
        valid = ", ".join(table)
        raise argparse.ArgumentTypeError(f"unknown {what} {value!r} (valid: {valid})")

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def add_common_options(p: argparse.ArgumentParser) -> None:
    """``--protover``, ``--suite``, ``--group``, ``--alpn``, ``--verbose``."""
    p.add_argument(
        "--protover",
        action="append",
        type=_lookup(PROTOVER_NAMES, "protocol version"),
        metavar="VERSION",
        help="enable only these protocol versions: 1.3, 1.2 (repeatable)",
    )
    p.add_argument(
        "--suite",
        action="append",
        type=_lookup(SUITE_NAMES, "cipher suite"),
        metavar="IANA_NAME",
        help="enable only these cipher suites, e.g. TLS_AES_128_GCM_SHA256 (repeatable)",
    )
    p.add_argument(
        "--group",
        action="append",
        type=_lookup(GROUP_NAMES, "key exchange group"),
        metavar="NAME",
        help="key exchange groups in preference order: " + ", ".join(GROUP_NAMES),
    )
    p.add_argument(
        "--alpn",
        action="append",
        default=[],
        metavar="PROTO",
        help="ALPN protocol, most preferred first (repeatable), e.g. h2, http/1.1",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="log protocol events to stderr")


#: Options whose feature has not landed yet: dest → (flag, feature).  Empty today: every
#: option issue 4 names is implemented; keep the mechanism for the next feature.
PENDING: dict[str, tuple[str, str]] = {}


def check_pending_features(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage error (exit 2) for an option whose feature is not implemented in this build,
    or for ``--protover`` naming a version this build does not implement.

    Raises:
        SystemExit: with status 2.
    """
    for dest, (flag, feature) in PENDING.items():
        value = getattr(args, dest, None)
        if value not in (None, False):
            p.error(f"{flag}: {feature} is not implemented in this version of tlspipe")
    for v in args.protover or ():
        if v not in _config.IMPLEMENTED_VERSIONS:
            p.error(f"--protover: {v.name} is not implemented in this version of tlspipe")


def versions_for(args: argparse.Namespace) -> tuple[ProtocolVersion, ...]:
    """Versions from ``--protover``, else every implemented one."""
    if args.protover:
        return tuple(dict.fromkeys(args.protover))
    return _config.IMPLEMENTED_VERSIONS


def provider_for(args: argparse.Namespace) -> CryptoProvider:
    """The default provider; with every implemented group when ``--group`` asks for one
    outside the defaults (e.g. the ML-KEM hybrid)."""
    prov = default_provider()
    if args.group:
        prov = dataclasses.replace(prov, kx_groups=ALL_KX_GROUPS)
    return prov


def version_name(version: ProtocolVersion | None) -> str:
    """``TLS 1.3`` for TLSv1_3 (``?`` when not negotiated yet)."""
    if version is None:
        return "?"
    return f"TLS 1.{(int(version) & 0xFF) - 1}"


def read_file(p: argparse.ArgumentParser, flag: str, path: str) -> bytes:
    """The contents of ``path``; a usage error (exit 2) naming ``flag`` if unreadable.

    Raises:
        SystemExit: with status 2.
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        p.error(f"{flag} {path}: {e.strerror or e}")


def setup_logging(verbose: bool) -> None:
    """Protocol debug logging to stderr with ``--verbose``."""
    if verbose:
        logging.basicConfig(stream=sys.stderr, level=logging.DEBUG, format="%(name)s: %(message)s")
