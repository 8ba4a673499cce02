"""``hull inspect [-f FMT] [--type image] NAME...``: objects as JSON, as ``docker inspect``.

Prints a JSON array indented by 4 spaces (the docker CLI's
``IndentedInspector``), or each object through ``--format``. Objects are
looked up by type in ``KINDS`` order, as docker: containers, images,
volumes, networks; ``-s`` asks for the
containers' sizes. ``hull image
inspect`` is this verb with ``--type image``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from hull.client import quote_segment
from hull.errors import HullError, NotFound

from ..errors import daemon_message
from ..table import Format
from .images import image_path

NEEDS_DAEMON = True

# type → (how to fetch one object, the noun in "No such <noun>")
KINDS: dict[str, tuple[Callable[[Any, str, bool], Any], str]] = {
    "container": (
        lambda client, name, size: client.get(
            "/containers/" + quote_segment(name) + "/json", params={"size": size or None}
        ),
        "container",
    ),
    "image": (lambda client, name, size: client.get(image_path(name, "/json")), "image"),
    "volume": (
        lambda client, name, size: client.get("/volumes/" + quote_segment(name)),
        "volume",
    ),
    "network": (
        lambda client, name, size: client.get("/networks/" + quote_segment(name)),
        "network",
    ),
}


def configure(p: argparse.ArgumentParser, *, typed: bool = True) -> argparse.ArgumentParser:
    p.add_argument("-f", "--format", help="format the output using the given Go template")
    if typed:
        p.add_argument("--type", choices=sorted(KINDS), help="return JSON for specified type")
        p.add_argument("-s", "--size", action="store_true", help="display total file sizes")
    p.add_argument("names", nargs="+", metavar="NAME")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("inspect", help="Return low-level information on hull objects"))


def find(client: Any, name: str, kind: str | None, size: bool = False) -> Any:
    """The object called ``name``: of ``kind``, else the first type that has one."""
    kinds = [kind] if kind else list(KINDS)
    for k in kinds:
        fetch, _ = KINDS[k]
        try:
            return fetch(client, name, size)
        except NotFound:
            continue
    noun = KINDS[kind][1] if kind else "object"
    raise NotFound(f"Error: No such {noun}: {name}")


def indented(objects: list[Any]) -> str:
    """The docker CLI's ``IndentedInspector.Flush``."""
    if not objects:
        return "[]\n"
    return json.dumps(objects, indent=4, ensure_ascii=False) + "\n"


def inspect(
    client: Any, names: list[str], kind: str | None, fmt: str | None, size: bool = False
) -> int:
    """Print the objects; errors after them, exit 1 if any."""
    found: list[Any] = []
    errors: list[str] = []
    for name in names:
        try:
            found.append(find(client, name, kind, size))
        except NotFound as exc:
            if exc.message.startswith("Error: "):
                errors.append(exc.message)
            else:
                errors.append(daemon_message(exc))
        except HullError as exc:
            errors.append(daemon_message(exc))
    if fmt:
        template = Format(fmt)
        sys.stdout.write("".join(template.render_one(obj) + "\n" for obj in found))
    else:
        sys.stdout.write(indented(found))
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace, client: Any) -> int:
    return inspect(
        client, args.names, getattr(args, "type", None), args.format, getattr(args, "size", False)
    )
