"""``hull volume COMMAND``: manage volumes, as ``docker volume``.

hull volume create [-d DRIVER] [-o K=V]... [--label K=V]... [NAME]
hull volume ls [-q] [-f FILTER]... [--format FMT]
hull volume inspect [-f FMT] VOLUME...
hull volume rm [-f] VOLUME...
hull volume prune [-f] [--filter FILTER]...
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull.client import quote_segment
from hull.engine.units import human_size
from hull.errors import HullError

from ..errors import UsageError, daemon_message
from ..table import Format
from .images import parse_filters

NEEDS_DAEMON = True

TABLE = "table {{.Driver}}\t{{.Name}}"
HEADERS = {
    "Name": "VOLUME NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS",
    "Links": "LINKS",
    "Size": "SIZE",
}
PRUNE_WARNING = (
    "WARNING! This will remove all local volumes not used by at least one container.\n"
    "Are you sure you want to continue?"
)


def vpath(name: str) -> str:
    return "/volumes/" + quote_segment(name)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("volume", help="Manage volumes")
    cmds = p.add_subparsers(dest="volume_cmd", metavar="COMMAND", required=True)
    c = cmds.add_parser("create", help="Create a volume")
    c.add_argument("-d", "--driver", default="local", help="specify volume driver name")
    c.add_argument("--label", action="append", default=[], help="set metadata for a volume")
    c.add_argument("-o", "--opt", action="append", default=[], help="driver specific options")
    c.add_argument("--name", default="", help="specify volume name")
    c.add_argument("name_arg", nargs="?", metavar="VOLUME")
    c.set_defaults(volume_run=create)
    ls = cmds.add_parser("ls", aliases=["list"], help="List volumes")
    ls.add_argument("-f", "--filter", action="append", default=[], help="provide filter values")
    ls.add_argument("--format", help="pretty-print volumes using a Go template")
    ls.add_argument("-q", "--quiet", action="store_true", help="only display volume names")
    ls.set_defaults(volume_run=list_volumes)
    i = cmds.add_parser("inspect", help="Display detailed information on one or more volumes")
    i.add_argument("-f", "--format", help="format the output using the given Go template")
    i.add_argument("names", nargs="+", metavar="VOLUME")
    i.set_defaults(volume_run=inspect)
    rm = cmds.add_parser("rm", aliases=["remove"], help="Remove one or more volumes")
    rm.add_argument("-f", "--force", action="store_true", help="force the removal")
    rm.add_argument("names", nargs="+", metavar="VOLUME")
    rm.set_defaults(volume_run=remove)
    pr = cmds.add_parser("prune", help="Remove all unused local volumes")
    pr.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    pr.add_argument("--filter", action="append", default=[], help="provide filter values")
    pr.set_defaults(volume_run=prune)
    return p


def _kv(items: list[str]) -> dict[str, str]:
    out = {}
    for it in items:
        k, _, v = it.partition("=")
        out[k] = v
    return out


def create(args: argparse.Namespace, client: Any) -> int:
    if args.name and args.name_arg and args.name != args.name_arg:
        raise UsageError(
            "conflicting options: either specify --name or provide positional arg, not both",
            "hull volume create",
        )
    body = {
        "Name": args.name or args.name_arg or "",
        "Driver": args.driver,
        "DriverOpts": _kv(args.opt),
        "Labels": _kv(args.label),
    }
    vol = client.post("/volumes/create", json=body) or {}
    print(vol.get("Name", ""))
    return 0


def volume_row(v: dict[str, Any]) -> dict[str, str]:
    usage = v.get("UsageData") or {}
    size = int(usage.get("Size", -1)) if usage else -1
    links = int(usage.get("RefCount", -1)) if usage else -1
    return {
        "Driver": str(v.get("Driver") or ""),
        "Labels": ",".join(f"{k}={val}" for k, val in (v.get("Labels") or {}).items()),
        "Links": "N/A" if links == -1 else str(links),
        "Mountpoint": str(v.get("Mountpoint") or ""),
        "Name": str(v.get("Name") or ""),
        "Scope": str(v.get("Scope") or ""),
        "Size": "N/A" if size == -1 else human_size(size),
    }


def list_volumes(args: argparse.Namespace, client: Any) -> int:
    filters = parse_filters(args.filter, "hull volume ls")
    doc = client.get("/volumes", params={"filters": filters or None}) or {}
    vols = sorted(doc.get("Volumes") or [], key=lambda v: str(v.get("Name", "")))
    fmt = args.format or ("{{.Name}}" if args.quiet else TABLE)
    sys.stdout.write(Format(fmt, HEADERS).render(volume_row(v) for v in vols))
    for w in doc.get("Warnings") or []:
        print(w, file=sys.stderr)
    return 0


def inspect(args: argparse.Namespace, client: Any) -> int:
    from .inspect import inspect as inspect_objects

    return inspect_objects(client, args.names, "volume", args.format)


def remove(args: argparse.Namespace, client: Any) -> int:
    errors = []
    for name in args.names:
        try:
            client.delete(vpath(name), params={"force": args.force or None})
        except HullError as exc:
            errors.append(daemon_message(exc))
            continue
        print(name)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    return 0


def prune(args: argparse.Namespace, client: Any) -> int:
    from .image import confirm

    filters = parse_filters(args.filter, "hull volume prune")
    if not args.force and not confirm(PRUNE_WARNING):
        return 0
    report = client.post("/volumes/prune", params={"filters": filters or None}) or {}
    deleted = report.get("VolumesDeleted") or []
    if deleted:
        print("Deleted Volumes:\n" + "\n".join(deleted) + "\n")
    print("Total reclaimed space:", human_size(int(report.get("SpaceReclaimed") or 0)))
    return 0


def run(args: argparse.Namespace, client: Any) -> int:
    return int(args.volume_run(args, client))
