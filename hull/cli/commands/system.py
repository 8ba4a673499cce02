"""``hull system COMMAND``: manage hull, as ``docker system``.

    hull system df [-v] [--format FMT]     disk usage (``GET /system/df``)
    hull system reset [-f]                 every container and network gone, and
                                           nothing of hull in the host's network

``info``, ``prune`` and ``events`` join ``SUBCOMMANDS`` as the engine grows.
``df`` prints what the docker CLI 20.10 prints: one summary row per kind
(images, containers, local volumes, build cache) with the active count,
the size and what could be reclaimed; ``-v`` the per-image table (and the
per-container, per-volume, per-cache tables, empty until those exist).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from hull.engine.units import human_size

from ..table import Format
from .images import HEADERS as IMAGE_HEADERS
from .images import created_since, is_dangling, short_id, split_tag
from .images import human_size as size3

NEEDS_DAEMON = True

TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
HEADERS = {
    "Type": "TYPE",
    "TotalCount": "TOTAL",
    "Active": "ACTIVE",
    "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}
VERBOSE_IMAGES = (
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    "\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"
)
VERBOSE_CONTAINERS = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}"
    "\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"
)
VERBOSE_VOLUMES = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
VERBOSE_CACHE = (
    "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}"
    "\t{{.UsageCount}}\t{{.Shared}}"
)
OTHER_HEADERS = {
    "ID": "CONTAINER ID",
    "LocalVolumes": "LOCAL VOLUMES",
    "RunningFor": "CREATED",
    "Name": "VOLUME NAME",
}
CACHE_HEADERS = {
    "ID": "CACHE ID",
    "CacheType": "CACHE TYPE",
    "CreatedSince": "CREATED",
    "LastUsedSince": "LAST USED",
    "UsageCount": "USAGE",
}


def _reclaimable(reclaimable: int, total: int, percent: bool = True) -> str:
    if percent and total > 0:
        return f"{human_size(reclaimable)} ({int(reclaimable * 100 / total)}%)"
    return human_size(reclaimable)


def _summary(kind: str, count: int, active: int, size: int, reclaim: str) -> dict[str, str]:
    # sorted keys: what {{json .}} prints
    return {
        "Active": str(active),
        "Reclaimable": reclaim,
        "Size": human_size(size),
        "TotalCount": str(count),
        "Type": kind,
    }


def summary_rows(du: dict[str, Any]) -> list[dict[str, str]]:
    """The four rows of ``docker system df`` (the docker CLI 20.10's arithmetic)."""
    images = du.get("Images") or []
    total = int(du.get("LayersSize") or 0)
    used = 0
    for i in images:
        if i.get("Containers", 0) not in (0, -1):
            if i.get("VirtualSize", -1) == -1 or i.get("SharedSize", -1) == -1:
                continue
            used += int(i["VirtualSize"]) - int(i["SharedSize"])
    active = sum(1 for i in images if int(i.get("Containers", 0)) > 0)
    rows = [_summary("Images", len(images), active, total, _reclaimable(total - used, total))]

    containers = du.get("Containers") or []
    running = [c for c in containers if any(s in c.get("State", "") for s in _ACTIVE)]
    csize = sum(int(c.get("SizeRw") or 0) for c in containers)
    cfree = csize - sum(int(c.get("SizeRw") or 0) for c in running)
    rows.append(
        _summary("Containers", len(containers), len(running), csize, _reclaimable(cfree, csize))
    )

    volumes = du.get("Volumes") or []
    usage = [v.get("UsageData") or {} for v in volumes]
    vsize = sum(int(u.get("Size", 0)) for u in usage if u.get("Size", -1) != -1)
    vfree = sum(
        int(u.get("Size", 0))
        for u in usage
        if u.get("RefCount", 0) == 0 and u.get("Size", -1) != -1
    )
    vactive = sum(1 for u in usage if int(u.get("RefCount", 0)) > 0)
    rows.append(_summary("Local Volumes", len(volumes), vactive, vsize, _reclaimable(vfree, vsize)))

    cache = du.get("BuildCache") or []
    bsize = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared"))
    bfree = sum(
        int(b.get("Size") or 0) for b in cache if not b.get("Shared") and not b.get("InUse")
    )
    bactive = sum(1 for b in cache if b.get("InUse"))
    rows.append(
        _summary("Build Cache", len(cache), bactive, bsize, _reclaimable(bfree, bsize, False))
    )
    return rows


_ACTIVE = ("running", "paused", "restarting")


def verbose_image_rows(du: dict[str, Any], trunc: bool = True) -> list[dict[str, str]]:
    """``system df -v``'s images: the first tag only, sizes with 3 digits."""
    rows = []
    for i in du.get("Images") or []:
        repo, tag = "<none>", "<none>"
        tags = i.get("RepoTags") or []
        if tags and not is_dangling(i):
            repo, tag = split_tag(tags[0])
        size = int(i.get("Size") or 0)
        shared = int(i.get("SharedSize", -1))
        image_id = str(i.get("Id", ""))
        rows.append(
            {
                "Containers": str(i.get("Containers", 0)),
                "CreatedSince": created_since(float(i.get("Created") or 0)),
                "ID": short_id(image_id) if trunc else image_id,
                "Repository": repo,
                "SharedSize": "N/A" if shared == -1 else size3(shared),
                "Size": size3(size),
                "Tag": tag,
                "UniqueSize": "N/A" if shared == -1 else size3(size - shared),
            }
        )
    return rows


def verbose(du: dict[str, Any]) -> str:
    """The four tables of ``system df -v``."""
    out = ["Images space usage:\n\n"]
    out.append(Format(VERBOSE_IMAGES, IMAGE_HEADERS).render(verbose_image_rows(du)))
    out.append("\nContainers space usage:\n\n")
    out.append(Format(VERBOSE_CONTAINERS, OTHER_HEADERS).render([]))
    out.append("\nLocal Volumes space usage:\n\n")
    out.append(Format(VERBOSE_VOLUMES, OTHER_HEADERS).render([]))
    cache = sum(int(b.get("Size") or 0) for b in du.get("BuildCache") or [])
    out.append(f"\nBuild cache usage: {human_size(cache)}\n\n")
    out.append(Format(VERBOSE_CACHE, CACHE_HEADERS).render([]))
    return "".join(out)


def configure_df(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--format", help="pretty-print using a Go template")
    p.add_argument("-v", "--verbose", action="store_true", help="show detailed information")
    return p


def df(args: argparse.Namespace, client: Any) -> int:
    """``docker system df``."""
    du = client.get("/system/df")
    if args.verbose:
        if args.format and args.format != "table":
            doc = {"Images": verbose_image_rows(du, trunc=False), "Containers": [],
                   "Volumes": [], "BuildCache": []}  # fmt: skip
            sys.stdout.write(Format(args.format).render_one(doc) + "\n")
        else:
            sys.stdout.write(verbose(du))
        return 0
    fmt = args.format if args.format and args.format != "table" else TABLE
    sys.stdout.write(Format(fmt, HEADERS).render(summary_rows(du)))
    return 0


RESET_WARNING = (
    "WARNING! This will remove:\n"
    "  - all containers\n"
    "  - all networks, and every bridge, veth and nftables rule of hull on this host\n"
    "Images and volumes are kept.\n"
    "Are you sure you want to continue?"
)


def configure_reset(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    return p


def reset(args: argparse.Namespace, client: Any) -> int:
    """``hull system reset``: no container, no network, nothing of hull in the host's network."""
    from .image import confirm

    if not args.force and not confirm(RESET_WARNING):
        return 0
    out = client.post("/system/reset") or {}
    for cid in out.get("ContainersDeleted") or []:
        print(f"Deleted container {cid[:12]}")
    for name in out.get("NetworksDeleted") or []:
        print(f"Deleted network {name}")
    return 0


# subcommand → (help, configure, run)
SUBCOMMANDS: dict[
    str,
    tuple[
        str,
        Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
        Callable[[argparse.Namespace, Any], int],
    ],
] = {
    "df": ("Show hull disk usage", configure_df, df),
    "reset": (
        "Remove all containers and networks, and hull's host network setup",
        configure_reset,
        reset,
    ),
}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("system", help="Manage hull")
    cmds = p.add_subparsers(dest="system_cmd", metavar="COMMAND", required=True)
    for name, (summary, configure, handler) in SUBCOMMANDS.items():
        configure(cmds.add_parser(name, help=summary)).set_defaults(system_run=handler)
    return p


def run(args: argparse.Namespace, client: Any) -> int:
    return int(args.system_run(args, client))
