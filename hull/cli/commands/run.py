"""``hull run [OPTIONS] IMAGE [COMMAND] [ARG...]``: as ``docker run``.

Create (pulling a missing image), attach before start unless ``-d``,
wait for ``next-exit`` (``removed`` with ``--rm``) registered before the
start so a quick exit is not missed, start, copy the streams, exit with
the container's status. ``-d`` prints the ID. Exit codes as the docker
CLI: 125 when the daemon refuses, 127 when the command is not found,
126 when it cannot be run. With ``-t`` on a terminal: raw mode, window
size forwarded, ctrl-p ctrl-q detaches.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from hull.client.errors import error_for_status
from hull.client.transport import open_connection
from hull.errors import HullError
from hull.oci import fastjson

from ..errors import EXIT_USAGE, UsageError, daemon_message
from ..runopts import add_run_flags, build
from ..tty import forward_resizes, parse_detach_keys, pump, raw_terminal
from .container import cpath, run_error
from .create import create_container, plain

# not typing.TYPE_CHECKING: importing typing costs ~2 ms of every command; mypy honours it
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-d", "--detach", action="store_true", help="run in background, print ID")
    p.add_argument("--detach-keys", default="", help="override the key sequence for detaching")
    p.add_argument(
        "--sig-proxy",
        default="true",
        choices=["true", "false"],
        help="proxy received signals to the process",
    )
    add_run_flags(p)
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("run", help="Run a command in a new container", add_help=False))


def start_exit_code(message: str) -> int:
    """``runStartContainerErr``: 127 not found, 126 not runnable, else 125."""
    m = message.removeprefix("Error response from daemon: ")
    if (
        "executable file not found" in m
        or "no such file or directory" in m
        or "system cannot find the file specified" in m
    ):
        return 127
    if "permission denied" in m:
        return 126
    return 125


class Waiter(threading.Thread):
    """``POST /containers/{id}/wait?condition=…`` on a connection of its own."""

    def __init__(self, client: Any, cid: str, condition: str) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.path = client.url(cpath(cid, "/wait"), {"condition": condition})
        self.registered = threading.Event()
        self.status: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        conn = open_connection(self.client.host, None)
        try:
            conn.request("POST", self.path, body=b"", headers={"Content-Length": "0"})
            resp = conn.getresponse()
            self.registered.set()  # the daemon flushes the headers once the wait is set up
            body = resp.read()
            if resp.status >= 400:
                raise error_for_status(resp.status, body, resp.reason)
            doc = fastjson.loads(body) if body.strip() else {}
            err = (doc.get("Error") or {}).get("Message")
            if err:
                print(f"Error waiting for container: {err}", file=sys.stderr)
                self.status = 125
            else:
                self.status = int(doc.get("StatusCode", 0))
        except BaseException as exc:  # handed to the main thread
            self.error = exc
        finally:
            self.registered.set()
            conn.close()

    def result(self) -> int:
        self.join()
        if self.error is not None:
            if isinstance(self.error, HullError):
                print(daemon_message(self.error), file=sys.stderr)
                return EXIT_USAGE
            raise self.error
        return self.status if self.status is not None else EXIT_USAGE


@contextlib.contextmanager
def proxy_signals(client: Any, cid: str, enabled: bool) -> Any:
    """Forward SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR* to the container (``--sig-proxy``)."""
    if not enabled:
        yield
        return
    sigs = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]
    sigs += [signal.SIGUSR1, signal.SIGUSR2]
    saved = {}

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(Exception):
            client.post(cpath(cid, "/kill"), params={"signal": signal.Signals(signum).name})

    try:
        for s in sigs:
            saved[s] = signal.signal(s, forward)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


def attach_params(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "stream": True,
        "stdin": bool(body.get("AttachStdin")),
        "stdout": bool(body.get("AttachStdout")),
        "stderr": bool(body.get("AttachStderr")),
    }


def run(args: argparse.Namespace, client: Any) -> int:
    if args.detach and args.attach:
        raise UsageError("Conflicting options: -a and -d", "hull run")
    req = build(args, prog="hull run")
    body = req.body
    if args.detach:
        body.update(AttachStdin=False, AttachStdout=False, AttachStderr=False, StdinOnce=False)
    tty = bool(body["Tty"])
    if tty and body["AttachStdin"] and not sys.stdin.isatty():
        print("the input device is not a TTY", file=sys.stderr)
        return 1
    try:
        keys = parse_detach_keys(args.detach_keys)
    except ValueError as exc:
        raise UsageError(str(exc), "hull run") from None
    try:
        cid = create_container(client, req, args.cidfile)
    except HullError as exc:
        run_error(exc.message if plain(exc) else daemon_message(exc), "run")
        return EXIT_USAGE
    if args.detach:
        print(cid, flush=True)
        try:
            client.post(cpath(cid, "/start"))
        except HullError as exc:
            run_error(daemon_message(exc), "run", with_help=False)
            return start_exit_code(exc.message)
        return 0
    return attached(client, cid, body, tty, keys, args)


def attached(
    client: Any, cid: str, body: dict[str, Any], tty: bool, keys: bytes, args: argparse.Namespace
) -> int:
    """Attach, register the wait, start, stream; the container's exit status."""
    stream = None
    attaching = body["AttachStdin"] or body["AttachStdout"] or body["AttachStderr"]
    try:
        if attaching:
            stream = client.hijack("POST", cpath(cid, "/attach"), params=attach_params(body))
        waiter = Waiter(client, cid, "removed" if body["HostConfig"]["AutoRemove"] else "next-exit")
        waiter.start()
        waiter.registered.wait(5.0)
        client.post(cpath(cid, "/start"))
    except HullError as exc:
        if stream is not None:
            stream.close()
        run_error(daemon_message(exc), "run", with_help=False)
        return start_exit_code(exc.message)
    detached = False
    if stream is not None:
        stdin = sys.stdin if body["AttachStdin"] else None
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
        return 0
    return waiter.result()
