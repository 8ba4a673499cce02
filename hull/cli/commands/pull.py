"""``hull pull [--platform P] [-q] NAME[:TAG|@DIGEST]``: as ``docker pull``, through hulld.

The credentials stored for the registry by ``hull login`` go in
``X-Registry-Auth``. Without a login file the name goes to hulld as typed
(it parses and normalises it as this command would) and is parsed here only
once the request is out, while hulld pulls: the parser's imports (~5 ms)
and the credentials' (~5 ms) would otherwise delay every pull's start.
Also the renderer ``push`` shares: Docker's
``jsonmessage`` display, one redrawn line per layer on a terminal (ANSI
cursor moves), plain lines without the byte-count updates otherwise.
"""

from __future__ import annotations

import itertools
import os
import sys

from hull.errors import HullError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable
    from typing import IO, Any

    from hull.images.reference import Reference

NEEDS_DAEMON = True


class StreamError(HullError):
    """An error the daemon reported inside the progress stream."""


def auth_header(domain: str) -> dict[str, str]:
    """``X-Registry-Auth`` from the docker config file for ``domain`` (empty if no login)."""
    from hull.distribution import load_credentials

    auth = load_credentials(domain)
    return {"X-Registry-Auth": auth.to_header()} if auth is not None else {}


def _bar(msg: dict[str, Any], width: int) -> str:
    from hull.distribution.progress import progress_bar

    detail = msg.get("progressDetail") or {}
    if detail.get("current") is not None:
        return progress_bar(int(detail.get("current") or 0), int(detail.get("total") or 0), width)
    return str(msg.get("progress") or "")


def render(messages: Iterable[dict[str, Any]], out: IO[str], tty: bool) -> list[dict[str, Any]]:
    """Show messages as ``DisplayJSONMessagesStream``; StreamError on an error line."""
    ids: dict[str, int] = {}
    width = 200
    if tty:
        import shutil  # ~4 ms: only for a terminal's width

        width = shutil.get_terminal_size((200, 24)).columns
    seen: list[dict[str, Any]] = []
    for msg in messages:
        seen.append(msg)
        if msg.get("errorDetail") or msg.get("error"):
            detail = msg.get("errorDetail") or {}
            raise StreamError(str(detail.get("message") or msg.get("error")))
        if "status" not in msg:
            continue
        status, mid = str(msg["status"]), msg.get("id")
        has_progress = bool(msg.get("progressDetail"))
        if not tty:
            if has_progress:
                continue  # byte counts are for terminals
            out.write(f"{mid}: {status}\n" if mid else f"{status}\n")
            continue
        text = f"{mid}: {status}" if mid else status
        if has_progress:
            text += " " + _bar(msg, width)
        if not mid:
            ids.clear()
            out.write(f"\x1b[2K\r{text}\n")
            continue
        if mid not in ids:
            ids[mid] = len(ids)
            out.write("\n")
        diff = len(ids) - ids[mid]
        out.write(f"\x1b[{diff}A\x1b[2K\r{text}\r\x1b[{diff}B")
        out.flush()
    out.flush()
    return seen


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("pull", help="Download an image from a registry")
    p.add_argument(
        "--platform", default="", help="Set platform if server is multi-platform capable"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    return p


def login_file() -> str:
    """Where ``hull login`` keeps credentials: ``credentials.config_path()``, cheaply.

    (``hull.distribution.credentials`` costs ~5 ms to import; a test keeps
    the two in agreement.)
    """
    base = os.environ.get("DOCKER_CONFIG")
    if base:
        return os.path.join(base, "config.json")
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".docker", "config.json")


def pull_params(ref: Reference) -> dict[str, str]:
    """``fromImage`` and ``tag`` for ``POST /images/create``, as the docker CLI sends them."""
    params = {"fromImage": str(ref.without_tag() if ref.digest else ref.trimmed())}
    params["tag"] = str(ref.digest) if ref.digest is not None else str(ref.tag)
    return params


def parse(name: str) -> Reference:
    """``name`` parsed and normalised (the parser is imported on first use)."""
    from hull.images import parse_reference

    return parse_reference(name)


def run(args: argparse.Namespace, client: Any) -> int:
    ref: Reference | None = None
    headers: dict[str, str] = {}
    if os.path.exists(login_file()):
        # a stored login may be for this registry: its domain is needed first
        ref = parse(args.name)
        params = pull_params(ref)
        headers = auth_header(ref.domain)
    else:
        # hulld normalises the name (see the module docstring); a name without
        # tag or digest gets "latest" here, as docker's TagNameOnly: a daemon
        # asked for a bare name pulls every tag (a tag follows the last "/")
        params = {"fromImage": args.name}
        if "@" not in args.name and ":" not in args.name.rsplit("/", 1)[-1]:
            params["tag"] = "latest"
    if args.platform:
        params["platform"] = args.platform
    messages = iter(client.stream("POST", "/images/create", params=params, headers=headers))
    try:
        head = [m for m in (next(messages, None),) if m is not None]  # sends the request
    except HullError:
        if ref is None:
            parse(args.name)  # a malformed name: this command's own error
        raise
    if ref is None:
        ref = parse(args.name)  # while hulld pulls
    try:
        if args.quiet:
            render(itertools.chain(head, messages), open_null(), False)
            print(str(ref))
        else:
            render(itertools.chain(head, messages), sys.stdout, sys.stdout.isatty())
    except StreamError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    return 0


def open_null() -> IO[str]:
    import io

    return io.StringIO()
