"""``hull logout [SERVER]``: forget a login in the docker CLI's ``config.json``."""

from __future__ import annotations

import argparse
from typing import Any

NEEDS_DAEMON = False


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("logout", help="Log out from a registry")
    p.add_argument("server", nargs="?", default="", metavar="SERVER")
    return p


def run(args: argparse.Namespace, client: Any) -> int:
    from hull.distribution import erase_credentials
    from hull.distribution.credentials import DOCKER_HUB_AUTH_KEY, hostname_of

    server = args.server or DOCKER_HUB_AUTH_KEY
    shown = server if server == DOCKER_HUB_AUTH_KEY else hostname_of(server)
    if erase_credentials(server):
        print(f"Removing login credentials for {shown}")
    else:
        print(f"Not logged in to {shown}")
    return 0
