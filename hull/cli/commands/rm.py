"""``hull rm [-f] [-v] [-l] CONTAINER...``: as ``docker rm``; prints the names back.

A container that does not exist is reported as the docker client does
("Error: No such container: x"); errors come after the names, exit 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull.errors import HullError, NotFound

from ..errors import daemon_message
from .container import cpath

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument(
        "-f", "--force", action="store_true", help="force the removal of a running container"
    )
    p.add_argument("-v", "--volumes", action="store_true", help="remove anonymous volumes")
    p.add_argument("-l", "--link", action="store_true", help="remove the specified link")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("rm", help="Remove one or more containers"))


def run(args: argparse.Namespace, client: Any) -> int:
    params = {"v": args.volumes, "link": args.link, "force": args.force}
    errors: list[str] = []
    for name in args.containers:
        name = name.strip("/")
        if not name:
            errors.append("Container name cannot be empty")
            continue
        try:
            client.delete(cpath(name), params=params)
        except NotFound as exc:
            if args.force:
                continue
            errors.append(
                f"Error: No such container: {name}"
                if "No such container" in exc.message
                else daemon_message(exc)
            )
            continue
        except HullError as exc:
            errors.append(daemon_message(exc))
            continue
        print(name)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    return 0
