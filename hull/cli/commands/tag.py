"""``hull tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]``: one more name for an image (docker tag)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import UsageError
from .images import image_path, split_tag

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser("tag", help="Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    )


def run(args: argparse.Namespace, client: Any) -> int:
    if "@" in args.target:
        raise UsageError("refusing to create a tag with a digest reference", f"hull {args.verb}")
    repo, tag = split_tag(args.target)
    client.post(image_path(args.source, "/tag"), params={"repo": repo, "tag": tag or "latest"})
    return 0
