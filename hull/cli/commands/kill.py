"""``hull kill [-s SIGNAL] CONTAINER...``: as ``docker kill``; prints the names back."""

from __future__ import annotations

import argparse
from typing import Any

from .container import cpath, each

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-s", "--signal", default="KILL", help="signal to send to the container")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("kill", help="Kill one or more running containers"))


def run(args: argparse.Namespace, client: Any) -> int:
    params = {"signal": args.signal}
    return each(args.containers, lambda n: client.post(cpath(n, "/kill"), params=params))
