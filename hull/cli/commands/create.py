"""``hull create [OPTIONS] IMAGE [COMMAND] [ARG...]``: create a container, as ``docker create``.

The flags are ``runopts``'; the image is pulled first with ``--pull
always``, or when the daemon says it has no such image ("Unable to find
image 'x:latest' locally", progress on stderr) unless ``--pull never``.
Prints the new container's ID. Daemon errors exit 125.
"""

from __future__ import annotations

import argparse
import os
import sys

from hull.errors import HullError, NotFound

from ..errors import EXIT_USAGE, daemon_message
from ..runopts import CreateRequest, add_run_flags, build
from .container import run_error

# not typing.TYPE_CHECKING: importing typing costs ~2 ms of every command; mypy honours it
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_run_flags(p)
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("create", help="Create a new container", add_help=False))


def pull_image(client: Any, image: str, platform: str) -> None:
    """``docker pull`` with its progress on stderr (StreamError if the pull fails)."""
    from hull.images import parse_reference

    from .pull import auth_header, render

    ref = parse_reference(image)
    params = {"fromImage": str(ref.without_tag() if ref.digest else ref.trimmed())}
    params["tag"] = str(ref.digest) if ref.digest is not None else str(ref.tag)
    if platform:
        params["platform"] = platform
    messages = client.stream(
        "POST", "/images/create", params=params, headers=auth_header(ref.domain)
    )
    render(messages, sys.stderr, sys.stderr.isatty())


def familiar(image: str) -> str:
    """``busybox`` → ``busybox:latest`` as the "Unable to find image" line shows it."""
    from hull.images import parse_reference

    try:
        return parse_reference(image).familiar()
    except HullError:
        return image


def create_container(client: Any, req: CreateRequest, cidfile: str = "") -> str:
    """Create (pulling as ``--pull`` says); print the daemon's warnings; the ID."""
    if cidfile and os.path.exists(cidfile):
        raise HullError(
            "Container ID file found, make sure the other container isn't running or "
            f"delete {cidfile}"
        )
    image = str(req.body.get("Image", ""))
    if req.pull == "always":
        pull_image(client, image, req.platform)
    try:
        resp = client.post("/containers/create", params=req.params(), json=req.body)
    except NotFound as exc:
        if req.pull == "never" or "No such image" not in exc.message:
            raise
        print(f"Unable to find image '{familiar(image)}' locally", file=sys.stderr)
        pull_image(client, image, req.platform)
        resp = client.post("/containers/create", params=req.params(), json=req.body)
    for w in resp.get("Warnings") or []:
        print(f"WARNING: {w}", file=sys.stderr)
    cid = str(resp["Id"])
    if cidfile:
        with open(cidfile, "w") as f:
            f.write(cid)
    return cid


def plain(exc: HullError) -> bool:
    """Errors printed as they are, not as "Error response from daemon"."""
    from .pull import StreamError

    return isinstance(exc, StreamError) or exc.message.startswith("Container ID file")


def run(args: argparse.Namespace, client: Any) -> int:
    req = build(args, prog="hull create")
    try:
        cid = create_container(client, req, args.cidfile)
    except HullError as exc:
        run_error(exc.message if plain(exc) else daemon_message(exc), "create")
        return EXIT_USAGE
    print(cid)
    return 0
