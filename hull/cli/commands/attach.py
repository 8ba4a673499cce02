"""``hull attach [--no-stdin] [--sig-proxy] [--detach-keys K] CONTAINER``: as ``docker attach``.

Attaches to a running container's streams and exits with its status;
ctrl-p ctrl-q (or ``--detach-keys``) detaches with "read escape sequence".
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import UsageError
from ..tty import forward_resizes, parse_detach_keys, pump, raw_terminal
from .container import cpath

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--detach-keys", default="", help="override the key sequence for detaching")
    p.add_argument("--no-stdin", action="store_true", help="do not attach STDIN")
    p.add_argument("--sig-proxy", default="true", choices=["true", "false"],
                   help="proxy all received signals to the process")  # fmt: skip
    p.add_argument("container", metavar="CONTAINER")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser("attach", help="Attach local standard input, output, and error streams")
    )


def run(args: argparse.Namespace, client: Any) -> int:
    from .run import Waiter, proxy_signals

    try:
        keys = parse_detach_keys(args.detach_keys)
    except ValueError as exc:
        raise UsageError(str(exc), "hull attach") from None
    info = client.get(cpath(args.container, "/json"))
    state = info.get("State") or {}
    if not state.get("Running"):
        print("You cannot attach to a stopped container, start it first", file=sys.stderr)
        return 1
    if state.get("Paused"):
        print("You cannot attach to a paused container, unpause it first", file=sys.stderr)
        return 1
    if state.get("Restarting"):
        print("You cannot attach to a restarting container, wait until it is running",
              file=sys.stderr)  # fmt: skip
        return 1
    cid = str(info["Id"])
    cfg = info.get("Config") or {}
    tty = bool(cfg.get("Tty"))
    stdin_on = bool(cfg.get("OpenStdin")) and not args.no_stdin
    if tty and stdin_on and not sys.stdin.isatty():
        print("the input device is not a TTY", file=sys.stderr)
        return 1
    params = {"stream": True, "stdin": stdin_on, "stdout": True, "stderr": True}
    stream = client.hijack("POST", cpath(cid, "/attach"), params=params)
    waiter = Waiter(client, cid, "not-running")
    waiter.start()
    stdin = sys.stdin if stdin_on else None
    with (
        raw_terminal(sys.stdin, enabled=tty and stdin is not None),
        forward_resizes(client, cpath(cid, "/resize"), enabled=tty),
        proxy_signals(client, cid, enabled=args.sig_proxy == "true" and not tty),
    ):
        try:
            detached = pump(stream, tty=tty, stdin=stdin, detach_keys=keys)
        finally:
            stream.close()
    if detached:
        print("read escape sequence", file=sys.stderr)
        return 1
    return waiter.result()
