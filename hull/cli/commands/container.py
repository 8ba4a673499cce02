"""``hull container COMMAND``: manage containers, as ``docker container``.

The subcommands are the container verbs under their own names (``ls`` is
``ps``, ``inspect`` is ``inspect --type container``), plus ``prune``,
which lives here. Also the helpers the container verbs share:
``cpath``, ``each`` (one call per named container, errors gathered),
``run_error`` (``docker: …\\nSee 'docker run --help'.``).

    hull container prune [-f] [--filter FILTER]...
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import import_module

from hull.client import quote_segment
from hull.engine.units import human_size
from hull.errors import HullError

from ..errors import daemon_message

NEEDS_DAEMON = True

# subcommand → (module, aliases, help)
SUBCOMMANDS: dict[str, tuple[str, list[str], str]] = {
    "attach": ("attach", [], "Attach local standard input, output, and error streams"),
    "commit": ("commit", [], "Create a new image from a container's changes"),
    "cp": ("cp", [], "Copy files/folders between a container and the local filesystem"),
    "create": ("create", [], "Create a new container"),
    "diff": ("diff", [], "Inspect changes to files or directories on a container's filesystem"),
    "exec": ("exec_", [], "Run a command in a running container"),
    "export": ("export", [], "Export a container's filesystem as a tar archive"),
    "inspect": ("inspect", [], "Display detailed information on one or more containers"),
    "kill": ("kill", [], "Kill one or more running containers"),
    "logs": ("logs", [], "Fetch the logs of a container"),
    "ls": ("ps", ["list", "ps"], "List containers"),
    "pause": ("pause", [], "Pause all processes within one or more containers"),
    "prune": ("container", [], "Remove all stopped containers"),
    "rename": ("rename", [], "Rename a container"),
    "restart": ("restart", [], "Restart one or more containers"),
    "rm": ("rm", ["remove"], "Remove one or more containers"),
    "run": ("run", [], "Run a command in a new container"),
    "start": ("start", [], "Start one or more stopped containers"),
    "stats": ("stats", [], "Display a live stream of container(s) resource usage statistics"),
    "stop": ("stop", [], "Stop one or more running containers"),
    "top": ("top", [], "Display the running processes of a container"),
    "unpause": ("unpause", [], "Unpause all processes within one or more containers"),
    "wait": ("wait", [], "Block until one or more containers stop, then print their exit codes"),
}

PRUNE_WARNING = (
    "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?"
)

# not typing.TYPE_CHECKING: importing typing costs ~2 ms of every command; mypy honours it
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# -- shared by the container verbs ----------------------------------------------------------


def cpath(name: str, suffix: str = "") -> str:
    """``/containers/<name><suffix>``."""
    return "/containers/" + quote_segment(name) + suffix


def short_id(cid: str) -> str:
    return cid[:12]


def each(names: list[str], call: Callable[[str], Any], echo: bool = True) -> int:
    """``call(name)`` for every name, printing it back; errors at the end, exit 1."""
    errors: list[str] = []
    for name in names:
        try:
            call(name)
        except HullError as exc:
            errors.append(daemon_message(exc))
            continue
        if echo:
            print(name)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    return 0


def run_error(message: str, verb: str, with_help: bool = True) -> None:
    """The docker CLI's ``reportError``: ``hull: MSG.`` and where to get help."""
    text = message.rstrip(".") + "."
    if with_help:
        text += f"\nSee 'hull {verb} --help'."
    print("hull: " + text, file=sys.stderr)


def is_tty_container(client: Any, name: str) -> bool:
    """Whether the container has a TTY (its output is raw, not multiplexed)."""
    info = client.get(cpath(name, "/json"))
    return bool((info.get("Config") or {}).get("Tty"))


# -- the verb -------------------------------------------------------------------------------


def configure_prune(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], help="provide filter values")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("container", help="Manage containers")
    cmds = p.add_subparsers(dest="container_cmd", metavar="COMMAND", required=True)
    for name, (module, aliases, summary) in SUBCOMMANDS.items():
        if name in ("run", "create"):
            sp = cmds.add_parser(name, aliases=aliases, help=summary, add_help=False)
        else:
            sp = cmds.add_parser(name, aliases=aliases, help=summary)
        if name == "prune":
            configure_prune(sp)
            sp.set_defaults(container_run=prune)
            continue
        mod = import_module(f"{__package__}.{module}")
        if name == "inspect":
            mod.configure(sp, typed=False)
            sp.set_defaults(container_run=inspect_containers)
        else:
            mod.configure(sp)
            sp.set_defaults(container_run=mod.run)
    return p


def inspect_containers(args: argparse.Namespace, client: Any) -> int:
    """``docker container inspect``: ``inspect --type container``."""
    from .inspect import inspect

    return inspect(client, args.names, "container", args.format)


def prune(args: argparse.Namespace, client: Any) -> int:
    """``docker container prune``."""
    from .image import confirm
    from .images import parse_filters

    filters = parse_filters(args.filter, "hull container prune")
    if not args.force and not confirm(PRUNE_WARNING):
        return 0
    report = client.post("/containers/prune", params={"filters": filters or None}) or {}
    deleted = report.get("ContainersDeleted") or []
    if deleted:
        print("Deleted Containers:\n" + "\n".join(deleted) + "\n")
    print("Total reclaimed space:", human_size(int(report.get("SpaceReclaimed") or 0)))
    return 0


def run(args: argparse.Namespace, client: Any) -> int:
    return int(args.container_run(args, client))
