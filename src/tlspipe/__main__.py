"""``python -m tlspipe server|client|demo``: the example programs (see :mod:`tlspipe.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
