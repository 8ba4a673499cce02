"""``hull stop [-t SECONDS] CONTAINER...``: as ``docker stop``; prints the names back."""

from __future__ import annotations

import argparse
from typing import Any

from .container import cpath, each

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-t", "--time", type=int, default=None, help="seconds to wait before killing")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("stop", help="Stop one or more running containers"))


def run(args: argparse.Namespace, client: Any) -> int:
    params = {"t": args.time}
    return each(args.containers, lambda n: client.post(cpath(n, "/stop"), params=params))
