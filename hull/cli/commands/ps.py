"""``hull ps``: list containers, as ``docker ps`` (``hull container ls``).

    hull ps [-a] [-q] [-n N] [-l] [-s] [--no-trunc] [-f FILTER]... [--format FMT]

Rows as the docker CLI's container formatter: IDs cut to 12, the command
quoted and cut to 20 columns, "2 hours ago", ports as
``0.0.0.0:8080->80/tcp``, names without their slash.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hull.engine.units import human_size_with_precision

from ..table import Format
from .history import ellipsis
from .images import created_since, go_time, parse_filters

NEEDS_DAEMON = True

TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)
HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "LocalVolumes": "LOCAL VOLUMES",
    "Networks": "NETWORKS",
}


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-a", "--all", action="store_true", help="show all containers")
    p.add_argument("-q", "--quiet", action="store_true", help="only display container IDs")
    p.add_argument("-n", "--last", type=int, default=-1, help="show n last created containers")
    p.add_argument("-l", "--latest", action="store_true", help="show the latest created container")
    p.add_argument("-s", "--size", action="store_true", help="display total file sizes")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("-f", "--filter", action="append", default=[], help="filter output")
    p.add_argument("--format", help="pretty-print containers using a Go template")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("ps", help="List containers"))


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote`` for printable text."""
    return json.dumps(s, ensure_ascii=False)


def image_name(c: dict[str, Any], trunc: bool) -> str:
    """The IMAGE column: a short ID for an ID, the familiar name otherwise."""
    image = str(c.get("Image") or "")
    if not image:
        return "<no image>"
    if not trunc:
        return image
    image_id = str(c.get("ImageID") or "")
    short = image.removeprefix("sha256:")[:12]
    if image_id and image_id.removeprefix("sha256:")[:12] == short:
        return short
    try:
        from hull.images import parse_reference

        ref = parse_reference(image, default_tag=None)
    except Exception:
        return image
    out = ref.familiar_name()
    return out + (f":{ref.tag}" if ref.tag else "")


def display_ports(ports: list[dict[str, Any]]) -> str:
    """``DisplayablePorts``: runs of ports grouped, host mappings after them."""

    def key(p: dict[str, Any]) -> tuple[int, str, int, str]:
        return (int(p.get("PrivatePort") or 0), str(p.get("IP") or ""),
                int(p.get("PublicPort") or 0), str(p.get("Type") or ""))  # fmt: skip

    groups: dict[str, list[int]] = {}  # key → [first, last], in creation order
    result: list[str] = []
    mappings: list[str] = []
    for p in sorted(ports or [], key=key):
        priv, ip, pub, typ = key(p)
        group_key = typ
        if ip:
            if pub != priv:
                mappings.append(f"{ip}:{pub}->{priv}/{typ}")
                continue
            group_key = f"{ip}/{typ}"
        g = groups.get(group_key)
        if g is None:
            groups[group_key] = [priv, priv]
        elif priv == g[1] + 1:
            g[1] = priv
        else:
            result.append(_form_group(group_key, g[0], g[1]))
            groups[group_key] = [priv, priv]
    result += [_form_group(k, g[0], g[1]) for k, g in groups.items()]
    return ", ".join(result + mappings)


def _form_group(key: str, first: int, last: int) -> str:
    ip, _, typ = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{ip}:{group}->{group}"
    return f"{group}/{typ}"


def row(c: dict[str, Any], trunc: bool, now: float | None = None) -> dict[str, str]:
    """One container as the formatter's fields (sorted: what ``{{json .}}`` prints)."""
    cid = str(c.get("Id") or "")
    command = str(c.get("Command") or "")
    names = [str(n).lstrip("/") for n in c.get("Names") or []]
    if trunc:
        names = [n for n in names if "/" not in n][:1] or names[:1]
    created = float(c.get("Created") or 0)
    size = ""
    if "SizeRw" in c or "SizeRootFs" in c:
        rw = int(c.get("SizeRw") or 0)
        size = human_size_with_precision(rw, 3)
        root = int(c.get("SizeRootFs") or 0)
        if root > 0:
            size += f" (virtual {human_size_with_precision(root, 3)})"
    labels = c.get("Labels") or {}
    mounts = []
    for m in c.get("Mounts") or []:
        name = str(m.get("Name") or m.get("Source") or "")
        mounts.append(ellipsis(name, 15) if trunc else name)
    nets = sorted(((c.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    return {
        "Command": go_quote(ellipsis(command, 20) if trunc else command),
        "CreatedAt": go_time(created),
        "ID": cid[:12] if trunc else cid,
        "Image": image_name(c, trunc),
        "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
        "LocalVolumes": str(sum(1 for m in c.get("Mounts") or [] if m.get("Driver") == "local")),
        "Mounts": ",".join(mounts),
        "Names": ",".join(names),
        "Networks": ",".join(nets),
        "Ports": display_ports(c.get("Ports") or []),
        "RunningFor": created_since(created, now),
        "Size": size,
        "State": str(c.get("State") or ""),
        "Status": str(c.get("Status") or ""),
    }


def list_format(fmt: str | None, quiet: bool, size: bool) -> Format:
    if quiet and not fmt:
        fmt = "{{.ID}}"
    if not fmt or fmt == "table":
        fmt = "{{.ID}}" if quiet else TABLE + ("\t{{.Size}}" if size else "")
    return Format(fmt, HEADERS)


def run(args: argparse.Namespace, client: Any) -> int:
    filters = parse_filters(args.filter, "hull ps")
    limit = 1 if args.latest and args.last == -1 else args.last
    params: dict[str, Any] = {
        "all": args.all or None,
        "limit": limit if limit != -1 else None,
        "size": args.size or None,
        "filters": filters or None,
    }
    containers = client.get("/containers/json", params=params) or []
    fmt = list_format(args.format, args.quiet, args.size)
    sys.stdout.write(fmt.render(row(c, not args.no_trunc) for c in containers))
    return 0
