"""``hull start [-a] [-i] [--detach-keys K] CONTAINER...``: as ``docker start``.

Without ``-a``/``-i`` every container is started and its name printed;
failures are printed as they come and summed up at the end (exit 1).
With them, one container: attach, start, stream, exit with its status.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull.errors import HullError

from ..errors import EXIT_USAGE, UsageError, daemon_message
from ..tty import forward_resizes, parse_detach_keys, pump, raw_terminal
from .container import cpath, run_error

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-a", "--attach", action="store_true", help="attach STDOUT/STDERR")
    p.add_argument("-i", "--interactive", action="store_true", help="attach STDIN")
    p.add_argument("--detach-keys", default="", help="override the key sequence for detaching")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("start", help="Start one or more stopped containers"))


def run(args: argparse.Namespace, client: Any) -> int:
    if args.attach or args.interactive:
        if len(args.containers) > 1:
            raise UsageError(
                "you cannot start and attach multiple containers at once", "hull start"
            )
        return start_attached(client, args.containers[0], args)
    failed = []
    for name in args.containers:
        try:
            client.post(cpath(name, "/start"))
        except HullError as exc:
            print(daemon_message(exc), file=sys.stderr)
            failed.append(name)
            continue
        print(name)
    if failed:
        print(f"Error: failed to start containers: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def start_attached(client: Any, name: str, args: argparse.Namespace) -> int:
    from .run import Waiter, start_exit_code

    try:
        keys = parse_detach_keys(args.detach_keys)
    except ValueError as exc:
        raise UsageError(str(exc), "hull start") from None
    info = client.get(cpath(name, "/json"))
    cid = str(info["Id"])
    cfg = info.get("Config") or {}
    tty = bool(cfg.get("Tty"))
    stdin_on = bool(args.interactive and cfg.get("OpenStdin"))
    params = {"stream": True, "stdin": stdin_on, "stdout": True, "stderr": True}
    stream = client.hijack("POST", cpath(cid, "/attach"), params=params)
    auto_remove = bool((info.get("HostConfig") or {}).get("AutoRemove"))
    waiter = Waiter(client, cid, "removed" if auto_remove else "next-exit")
    waiter.start()
    waiter.registered.wait(5.0)
    try:
        client.post(cpath(cid, "/start"))
    except HullError as exc:
        stream.close()
        run_error(daemon_message(exc), "start", with_help=False)
        return start_exit_code(exc.message) if exc.message else EXIT_USAGE
    stdin = sys.stdin if stdin_on else None
    with (
        raw_terminal(sys.stdin, enabled=tty and stdin is not None),
        forward_resizes(client, cpath(cid, "/resize"), enabled=tty),
    ):
        try:
            detached = pump(stream, tty=tty, stdin=stdin, detach_keys=keys)
        finally:
            stream.close()
    if detached:
        return 0
    return waiter.result()
