"""``hull exec [-d] [-i] [-t] [-e K=V] [-u USER] [-w DIR] [--privileged] CONTAINER CMD...``.

As ``docker exec``: ``POST /containers/{id}/exec``, then start it (hijacked
unless ``-d``), copy the streams, and exit with the process's code from
``GET /exec/{id}/json``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull.errors import HullError

from ..errors import UsageError, daemon_message
from ..runopts import read_kv_file
from ..tty import forward_resizes, parse_detach_keys, pump, raw_terminal
from .container import cpath

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-d", "--detach", action="store_true", help="run command in the background")
    p.add_argument("--detach-keys", default="", help="override the key sequence for detaching")
    p.add_argument("-e", "--env", action="append", default=[], help="set environment variables")
    p.add_argument("--env-file", action="append", default=[], help="read in a file of env vars")
    p.add_argument("-i", "--interactive", action="store_true", help="keep STDIN open")
    p.add_argument("--privileged", action="store_true", help="give extended privileges")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    p.add_argument("-u", "--user", default="", help="username or UID")
    p.add_argument("-w", "--workdir", default="", help="working directory inside the container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("exec", help="Run a command in a running container"))


def exec_config(args: argparse.Namespace) -> dict[str, Any]:
    """The body of ``POST /containers/{id}/exec`` as the docker CLI's ``parseExec``."""
    env = [e for f in args.env_file for e in read_kv_file(f, lookup=True)] + list(args.env)
    return {
        "User": args.user,
        "Privileged": args.privileged,
        "Tty": args.tty,
        "AttachStdin": args.interactive and not args.detach,
        "AttachStderr": not args.detach,
        "AttachStdout": not args.detach,
        "Detach": args.detach,
        "DetachKeys": args.detach_keys,
        "Env": env or None,
        "WorkingDir": args.workdir,
        "Cmd": list(args.command),
    }


def run(args: argparse.Namespace, client: Any) -> int:
    if not args.command:
        raise UsageError('"hull exec" requires at least 2 arguments.', "hull exec")
    try:
        keys = parse_detach_keys(args.detach_keys)
    except ValueError as exc:
        raise UsageError(str(exc), "hull exec") from None
    cfg = exec_config(args)
    if cfg["AttachStdin"] and args.tty and not sys.stdin.isatty():
        print("the input device is not a TTY", file=sys.stderr)
        return 1
    try:
        resp = client.post(cpath(args.container, "/exec"), json=cfg)
    except HullError as exc:
        print(daemon_message(exc), file=sys.stderr)
        return 1
    eid = str(resp["Id"])
    start = {"Detach": args.detach, "Tty": args.tty}
    if args.detach:
        client.post(f"/exec/{eid}/start", json=start)
        return 0
    stream = client.hijack("POST", f"/exec/{eid}/start", json=start)
    stdin = sys.stdin if cfg["AttachStdin"] else None
    with (
        raw_terminal(sys.stdin, enabled=args.tty and stdin is not None),
        forward_resizes(client, f"/exec/{eid}/resize", enabled=args.tty),
    ):
        try:
            detached = pump(stream, tty=args.tty, stdin=stdin, detach_keys=keys)
        finally:
            stream.close()
    if detached:
        return 0
    info = client.get(f"/exec/{eid}/json") or {}
    if info.get("Running"):
        return 0
    return int(info.get("ExitCode") or 0)
