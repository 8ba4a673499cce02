"""``hull rmi [-f] [--no-prune] IMAGE...``: remove images, as ``docker rmi`` (``hull image rm``).

Prints ``Untagged: …`` and ``Deleted: …`` per line. Errors are gathered and
printed at the end; with ``-f`` an image that does not exist is not fatal.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull.errors import HullError, NotFound

from ..errors import daemon_message
from .images import image_path

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-f", "--force", action="store_true", help="force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="do not delete untagged parents")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("rmi", help="Remove one or more images"))


def run(args: argparse.Namespace, client: Any) -> int:
    params = {"force": args.force, "noprune": args.no_prune}
    errors: list[str] = []
    fatal = False
    for name in args.images:
        try:
            items = client.delete(image_path(name), params=params)
        except HullError as exc:
            fatal = fatal or not isinstance(exc, NotFound)
            errors.append(daemon_message(exc))
            continue
        for item in items or []:
            if item.get("Deleted"):
                print(f"Deleted: {item['Deleted']}")
            else:
                print(f"Untagged: {item.get('Untagged', '')}")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        if not args.force or fatal:
            return 1
    return 0
