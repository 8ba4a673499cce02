"""``hull top CONTAINER [ps OPTIONS]``: as ``docker top`` (columns at least 20 wide)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..table import tabwrite
from .container import cpath

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("ps_args", nargs=argparse.REMAINDER, metavar="ps OPTIONS")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("top", help="Display the running processes of a container"))


def run(args: argparse.Namespace, client: Any) -> int:
    params = {"ps_args": " ".join(args.ps_args) or None}
    doc = client.get(cpath(args.container, "/top"), params=params) or {}
    lines = ["\t".join(doc.get("Titles") or [])]
    lines += ["\t".join(str(c) for c in proc) for proc in doc.get("Processes") or []]
    sys.stdout.write(tabwrite(lines, minwidth=20))
    return 0
