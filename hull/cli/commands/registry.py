"""``hull registry serve|gc ...``: the registry server (hull.registry), in its own process.

The ``hull`` command runs bare (no site-packages, for start-up speed) while
the server needs the venv's packages (bcrypt for htpasswd), so this verb
execs the ``hull-registry`` launcher that ``make`` writes beside ``hull``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import Any

from ..errors import UsageError

NEEDS_DAEMON = False


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("action", choices=["serve", "gc"], help="serve the registry, or collect garbage")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="flags of the action (see --help)")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser("registry", help="Run an OCI distribution registry server", add_help=False)
    )


def launcher() -> str:
    """The ``hull-registry`` launcher beside this ``hull``, else on PATH."""
    here = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "hull-registry")
    if os.access(here, os.X_OK):
        return here
    found = shutil.which("hull-registry")
    if found is None:
        raise UsageError("hull-registry is not installed (run make setup)", "hull registry")
    return found


def run(args: argparse.Namespace, client: Any) -> int:
    exe = launcher()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(exe, [exe, args.action, *args.rest])
    return 127  # not reached
