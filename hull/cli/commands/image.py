"""``hull image COMMAND``: manage images, as ``docker image``.

The subcommands are the image verbs under other names (``ls`` is
``images``, ``rm`` is ``rmi``, ``inspect`` is ``inspect --type image``),
plus ``prune``, which lives here:

    hull image prune [-a] [-f] [--filter FILTER]...
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from typing import Any

from hull.engine.units import human_size

from .images import parse_filters

NEEDS_DAEMON = True

# subcommand → (module, aliases, help)
SUBCOMMANDS: dict[str, tuple[str, list[str], str]] = {
    "history": ("history", [], "Show the history of an image"),
    "import": (
        "import_",
        [],
        "Import the contents from a tarball to create a filesystem image",
    ),
    "inspect": ("inspect", [], "Display detailed information on one or more images"),
    "load": ("load", [], "Load an image from a tar archive or STDIN"),
    "ls": ("images", ["list"], "List images"),
    "prune": ("image", [], "Remove unused images"),
    "rm": ("rmi", ["remove"], "Remove one or more images"),
    "save": ("save", [], "Save one or more images to a tar archive"),
    "tag": ("tag", [], "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
}

ALL_WARNING = (
    "WARNING! This will remove all images without at least one container associated to them.\n"
    "Are you sure you want to continue?"
)
DANGLING_WARNING = (
    "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
)


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-a", "--all", action="store_true", help="remove all unused images")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], help="provide filter values")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("image", help="Manage images")
    cmds = p.add_subparsers(dest="image_cmd", metavar="COMMAND", required=True)
    for name, (module, aliases, summary) in SUBCOMMANDS.items():
        sp = cmds.add_parser(name, aliases=aliases, help=summary)
        mod = (
            sys.modules[__name__] if module == "image" else import_module(f"{__package__}.{module}")
        )
        if name == "inspect":
            mod.configure(sp, typed=False)
            sp.set_defaults(image_run=inspect_images)
        elif name == "prune":
            configure(sp)
            sp.set_defaults(image_run=prune)
        else:
            mod.configure(sp)
            sp.set_defaults(image_run=mod.run)
    return p


def inspect_images(args: argparse.Namespace, client: Any) -> int:
    """``docker image inspect``: ``inspect --type image``."""
    from .inspect import inspect

    return inspect(client, args.names, "image", args.format)


def confirm(message: str) -> bool:
    """The docker CLI's ``PromptForConfirmation``: "y" or "Y" as the first word."""
    sys.stdout.write(message + " [y/N] ")
    sys.stdout.flush()
    words = sys.stdin.readline().split()
    return bool(words) and words[0] in ("y", "Y")


def prune(args: argparse.Namespace, client: Any) -> int:
    """``docker image prune``."""
    filters = parse_filters(args.filter, "hull image prune")
    filters["dangling"] = ["false" if args.all else "true"]
    reclaimed = 0
    if args.force or confirm(ALL_WARNING if args.all else DANGLING_WARNING):
        report = client.post("/images/prune", params={"filters": filters}) or {}
        deleted = report.get("ImagesDeleted") or []
        if deleted:
            lines = ["Deleted Images:"]
            for item in deleted:
                if item.get("Untagged"):
                    lines.append(f"untagged: {item['Untagged']}")
                else:
                    lines.append(f"deleted: {item.get('Deleted', '')}")
            print("\n".join(lines) + "\n")
            reclaimed = int(report.get("SpaceReclaimed") or 0)
    print("Total reclaimed space:", human_size(reclaimed))
    return 0


def run(args: argparse.Namespace, client: Any) -> int:
    return int(args.image_run(args, client))
