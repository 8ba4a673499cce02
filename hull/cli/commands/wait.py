"""``hull wait CONTAINER...``: as ``docker wait``; prints each exit code."""

from __future__ import annotations

import argparse
from typing import Any

from .container import cpath, each

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser(
            "wait", help="Block until one or more containers stop, then print their exit codes"
        )
    )


def run(args: argparse.Namespace, client: Any) -> int:
    def wait(name: str) -> None:
        doc = client.request("POST", cpath(name, "/wait")).json() or {}
        print(int(doc.get("StatusCode", 0)))

    return each(args.containers, wait, echo=False)
