"""The example programs: ``tlspipe server``, ``tlspipe client`` and ``tlspipe demo``.

``python -m tlspipe …`` and the installed ``tlspipe`` command both run :func:`main`.
Layer 7: uses the public API (plus the build's implemented versions and provider tables).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .. import __version__
from . import client, demo, server

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``tlspipe`` argument parser with its three subcommands."""
    p = argparse.ArgumentParser(
        prog="tlspipe",
        description="Example programs for tlspipe, a sans-IO TLS 1.3/1.2 library.",
    )
    p.add_argument("--version", action="version", version=f"tlspipe {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{server,client,demo}", required=True)
    server.add_parser(sub)
    client.add_parser(sub)
    demo.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tlspipe`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Raises:
        SystemExit: usage errors (status 2), ``--help`` and ``--version`` (status 0).
    """
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status
