"""``hull rename CONTAINER NEW_NAME``: as ``docker rename``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull.errors import HullError

from ..errors import daemon_message
from .container import cpath

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("new_name", metavar="NEW_NAME")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("rename", help="Rename a container"))


def run(args: argparse.Namespace, client: Any) -> int:
    old, new = args.container.strip(), args.new_name.strip()
    if not old or not new:
        print("Error: Neither old nor new names may be empty", file=sys.stderr)
        return 1
    try:
        client.post(cpath(old, "/rename"), params={"name": new})
    except HullError as exc:
        print(daemon_message(exc), file=sys.stderr)
        print(f"Error: failed to rename container named {old}", file=sys.stderr)
        return 1
    return 0
