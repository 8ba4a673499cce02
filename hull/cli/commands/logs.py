"""``hull logs [-f] [--since T] [--until T] [--tail N] [-t] [--details] CONTAINER``.

As ``docker logs``: the container is inspected first, to know whether its
output is raw (a TTY) or Docker's multiplexed frames, split here to
stdout and stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull.errors import NotFound

from ..timeutil import get_timestamp
from ..tty import write_stream
from .container import cpath

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--details", action="store_true", help="show extra details")
    p.add_argument("-f", "--follow", action="store_true", help="follow log output")
    p.add_argument("--since", default="", help="show logs since timestamp or relative (42m)")
    p.add_argument("--until", default="", help="show logs before a timestamp or relative")
    p.add_argument("-n", "--tail", default="all", help="number of lines from the end")
    p.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    p.add_argument("container", metavar="CONTAINER")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("logs", help="Fetch the logs of a container"))


def run(args: argparse.Namespace, client: Any) -> int:
    try:
        info = client.get(cpath(args.container, "/json"))
    except NotFound:
        # the docker client's ContainerInspect error, not the daemon's words
        print(f"Error: No such container: {args.container}", file=sys.stderr)
        return 1
    tty = bool((info.get("Config") or {}).get("Tty"))
    params: dict[str, Any] = {
        "stdout": True,
        "stderr": True,
        "since": get_timestamp(args.since) or None,
        "until": get_timestamp(args.until) or None,
        "timestamps": args.timestamps or None,
        "follow": args.follow or None,
        "tail": args.tail,
        "details": args.details or None,
    }
    chunks = client.stream_raw("GET", cpath(str(info.get("Id") or args.container), "/logs"),
                               params=params)  # fmt: skip
    write_stream(chunks, tty)
    return 0
