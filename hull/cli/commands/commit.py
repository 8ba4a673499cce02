"""``hull commit [-a A] [-c CHANGE]... [-m MSG] [-p] CONTAINER [REPOSITORY[:TAG]]``.

As ``docker commit``: ``POST /commit``; prints the new image's ID.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlencode

from ..errors import UsageError

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-a", "--author", default="", help="author")
    p.add_argument(
        "-c", "--change", action="append", default=[], help="apply Dockerfile instruction"
    )
    p.add_argument("-m", "--message", default="", help="commit message")
    p.add_argument("-p", "--pause", default="true", nargs="?", const="true",
                   choices=["true", "false"], help="pause container during commit")  # fmt: skip
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("commit", help="Create a new image from a container's changes"))


def run(args: argparse.Namespace, client: Any) -> int:
    from hull.errors import HullError
    from hull.images import parse_reference

    repo = tag = ""
    if args.reference:
        try:
            ref = parse_reference(args.reference, default_tag=None)
        except HullError as exc:
            raise UsageError(exc.message, "hull commit") from None
        if ref.digest is not None:
            raise UsageError("refusing to create a tag with a digest reference", "hull commit")
        repo, tag = ref.familiar_name(), ref.tag or ""
    items: list[tuple[str, str]] = [("container", args.container)]
    for key, value in (("repo", repo), ("tag", tag), ("comment", args.message),
                       ("author", args.author)):  # fmt: skip
        if value:
            items.append((key, value))
    # repeated ``changes=`` as the docker client sends them
    items += [("changes", c) for c in args.change]
    items.append(("pause", "1" if args.pause == "true" else "0"))
    resp = client.post("/commit?" + urlencode(items), json={}) or {}
    print(resp.get("Id", ""))
    return 0
