"""``hull push [-a] [-q] NAME[:TAG]``: as ``docker push``, through hulld."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull.cli.commands.pull import StreamError, auth_header, open_null, render
from hull.client.client import quote_segment

NEEDS_DAEMON = True


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("push", help="Upload an image to a registry")
    p.add_argument("-a", "--all-tags", action="store_true", help="Push all tags of an image")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("name", metavar="NAME[:TAG]")
    return p


def run(args: argparse.Namespace, client: Any) -> int:
    from hull.images import parse_normalized_named

    ref = parse_normalized_named(args.name)
    if args.all_tags and ref.tag is not None:
        print("tag can't be used with --all-tags/-a", file=sys.stderr)
        return 1
    tag = "" if args.all_tags else (ref.tag or "latest")
    messages = client.stream(
        "POST",
        f"/images/{quote_segment(str(ref.trimmed()))}/push",
        params={"tag": tag},
        headers=auth_header(ref.domain),
    )
    try:
        if args.quiet:
            render(messages, open_null(), False)
            print(str(ref.with_tag(tag)) if tag else str(ref.trimmed()))
        else:
            render(messages, sys.stdout, sys.stdout.isatty())
    except StreamError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    return 0
