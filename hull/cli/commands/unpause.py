"""``hull unpause CONTAINER...``: as ``docker unpause``; prints the names back."""

from __future__ import annotations

import argparse
from typing import Any

from .container import cpath, each

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser("unpause", help="Unpause all processes within one or more containers")
    )


def run(args: argparse.Namespace, client: Any) -> int:
    return each(args.containers, lambda n: client.post(cpath(n, "/unpause")))
