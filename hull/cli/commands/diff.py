"""``hull diff CONTAINER``: as ``docker diff``: ``C``/``A``/``D`` and the path, one a line."""

from __future__ import annotations

import argparse
from typing import Any

from .container import cpath

NEEDS_DAEMON = True

KINDS = {0: "C", 1: "A", 2: "D"}


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("container", metavar="CONTAINER")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser(
            "diff", help="Inspect changes to files or directories on a container's filesystem"
        )
    )


def run(args: argparse.Namespace, client: Any) -> int:
    for change in client.get(cpath(args.container, "/changes")) or []:
        print(f"{KINDS.get(int(change.get('Kind', 0)), '?')} {change.get('Path', '')}")
    return 0
