"""``hull export [-o FILE] CONTAINER``: a container's filesystem as a tar (``docker export``)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .container import cpath

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-o", "--output", default="", help="write to a file, instead of STDOUT")
    p.add_argument("container", metavar="CONTAINER")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser("export", help="Export a container's filesystem as a tar archive")
    )


def run(args: argparse.Namespace, client: Any) -> int:
    if not args.output and sys.stdout.isatty():
        print("cowardly refusing to save to a terminal. Use the -o flag or redirect",
              file=sys.stderr)  # fmt: skip
        return 1
    chunks = client.stream_raw("GET", cpath(args.container, "/export"))
    if args.output:
        tmp = args.output + ".tmp"
        with open(tmp, "wb") as f:
            for c in chunks:
                f.write(c)
        os.replace(tmp, args.output)
    else:
        out = sys.stdout.buffer
        for c in chunks:
            out.write(c)
        out.flush()
    return 0
