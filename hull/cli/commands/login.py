"""``hull login [-u USER] [-p PASS | --password-stdin] [SERVER]``: as ``docker login``.

hulld checks the credentials with the registry (``POST /auth``); accepted,
they are stored in the docker CLI's ``config.json`` (0600, atomically).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

NEEDS_DAEMON = True


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("login", help="Log in to a registry")
    p.add_argument("-u", "--username", default="", help="Username")
    p.add_argument("-p", "--password", default="", help="Password")
    p.add_argument("--password-stdin", action="store_true", help="Take the password from stdin")
    p.add_argument("server", nargs="?", default="", metavar="SERVER")
    return p


def run(args: argparse.Namespace, client: Any) -> int:
    from hull.distribution import AuthConfig, store_credentials
    from hull.distribution.credentials import DOCKER_HUB_AUTH_KEY, auth_key, load_credentials

    server = args.server or DOCKER_HUB_AUTH_KEY
    password = args.password
    if args.password:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
              file=sys.stderr)  # fmt: skip
        if args.password_stdin:
            print("--password and --password-stdin are mutually exclusive", file=sys.stderr)
            return 1
    if args.password_stdin:
        if not args.username:
            print("Must provide --username with --password-stdin", file=sys.stderr)
            return 1
        password = sys.stdin.read().rstrip("\r\n")
    username = args.username
    if not username or not password:
        stored = load_credentials(server)
        if not sys.stdin.isatty():
            if stored is None:
                print("Error: Cannot perform an interactive login from a non TTY device",
                      file=sys.stderr)  # fmt: skip
                return 1
            username, password = stored.username, stored.password
        else:
            if not username:
                default = f" ({stored.username})" if stored and stored.username else ""
                username = input(f"Username{default}: ").strip() or (
                    stored.username if stored else ""
                )
            if not password:
                password = getpass.getpass("Password: ")
    if not username:
        print("Error: Non-null Username Required", file=sys.stderr)
        return 1
    auth = AuthConfig(username=username, password=password, server_address=auth_key(server))
    answer = client.post("/auth", json=auth.to_json()) or {}
    store_credentials(server, auth)
    print(answer.get("Status") or "Login Succeeded")
    return 0
