"""``hull builder prune [-a] [-f]``: as ``docker builder prune``; drops the build cache.

hull's builder keeps one kind of cache (the layers of cached steps), so
``--all`` changes nothing: every entry goes either way.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull.engine.units import human_size

NEEDS_DAEMON = True
WARNING = "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("builder", help="Manage builds")
    cmds = p.add_subparsers(dest="builder_cmd", metavar="COMMAND", required=True)
    pr = cmds.add_parser("prune", help="Remove build cache")
    pr.add_argument("-a", "--all", action="store_true", help="remove all unused build cache")
    pr.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    return p


def run(args: argparse.Namespace, client: Any) -> int:
    from .image import confirm

    if not args.force and not confirm(WARNING):
        return 0
    report = client.post("/build/prune", params={"all": args.all or None}) or {}
    deleted = report.get("CachesDeleted") or []
    if deleted:
        sys.stdout.write("Deleted build cache objects:\n" + "\n".join(deleted) + "\n\n")
    print("Total reclaimed space:", human_size(int(report.get("SpaceReclaimed") or 0)))
    return 0
