"""``hull stats [-a] [--no-stream] [--no-trunc] [--format FMT] [CONTAINER...]``.

As ``docker stats``: one row per container, figures computed from two
samples (``cpu_stats`` and ``precpu_stats`` of ``GET
/containers/{id}/stats``) the way the docker CLI does: CPU % from the
usage delta over the system delta times the online CPUs, memory without
the inactive file cache, network and block I/O summed. Without
``--no-stream`` the table is redrawn every second until interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from hull.engine.units import bytes_size, human_size_with_precision
from hull.errors import HullError

from ..errors import daemon_message
from ..table import Format
from .container import cpath

NEEDS_DAEMON = True

TABLE = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}"
    "\t{{.BlockIO}}\t{{.PIDs}}"
)
HEADERS = {
    "ID": "CONTAINER ID",
    "Container": "CONTAINER",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-a", "--all", action="store_true", help="show all containers")
    p.add_argument("--format", help="pretty-print stats using a Go template")
    p.add_argument("--no-stream", action="store_true", help="disable streaming stats")
    p.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    p.add_argument("containers", nargs="*", metavar="CONTAINER")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser("stats", help="Display a live stream of container(s) resource usage")
    )


def cpu_percent(s: dict[str, Any]) -> float:
    """``calculateCPUPercentUnix``."""
    cpu = s.get("cpu_stats") or {}
    pre = s.get("precpu_stats") or {}
    usage = (cpu.get("cpu_usage") or {}).get("total_usage") or 0
    pre_usage = (pre.get("cpu_usage") or {}).get("total_usage") or 0
    system = cpu.get("system_cpu_usage") or 0
    pre_system = pre.get("system_cpu_usage") or 0
    cpu_delta = float(usage) - float(pre_usage)
    system_delta = float(system) - float(pre_system)
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [])
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * float(online) * 100.0
    return 0.0


def mem_usage(mem: dict[str, Any]) -> float:
    """``calculateMemUsageUnixNoCache``: usage without inactive file pages."""
    usage = float(mem.get("usage") or 0)
    stats = mem.get("stats") or {}
    v1 = stats.get("total_inactive_file")
    if v1 is not None and v1 < usage:
        return usage - float(v1)
    v2 = stats.get("inactive_file")
    if v2 is not None and v2 < usage:
        return usage - float(v2)
    return usage


def block_io(s: dict[str, Any]) -> tuple[float, float]:
    read = write = 0.0
    for e in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(e.get("op", "")).lower()
        if op == "read":
            read += float(e.get("value") or 0)
        elif op == "write":
            write += float(e.get("value") or 0)
    return read, write


def net_io(s: dict[str, Any]) -> tuple[float, float]:
    rx = tx = 0.0
    for n in (s.get("networks") or {}).values():
        rx += float(n.get("rx_bytes") or 0)
        tx += float(n.get("tx_bytes") or 0)
    return rx, tx


def row(s: dict[str, Any], container: str, trunc: bool) -> dict[str, str]:
    """One sample as the stats formatter's fields."""
    mem = s.get("memory_stats") or {}
    used = mem_usage(mem)
    limit = float(mem.get("limit") or 0)
    rx, tx = net_io(s)
    rd, wr = block_io(s)
    cid = str(s.get("id") or "")
    return {
        "BlockIO": f"{human_size_with_precision(rd, 3)} / {human_size_with_precision(wr, 3)}",
        "CPUPerc": f"{cpu_percent(s):.2f}%",
        "Container": container,
        "ID": cid[:12] if trunc else cid,
        "MemPerc": f"{used / limit * 100.0 if limit else 0.0:.2f}%",
        "MemUsage": f"{bytes_size(used)} / {bytes_size(limit)}",
        "Name": str(s.get("name") or "").lstrip("/") or "--",
        "NetIO": f"{human_size_with_precision(rx, 3)} / {human_size_with_precision(tx, 3)}",
        "PIDs": str(int((s.get("pids_stats") or {}).get("current") or 0)),
    }


def sample(client: Any, names: list[str], trunc: bool) -> tuple[list[dict[str, str]], list[str]]:
    rows, errors = [], []
    for name in names:
        try:
            s = client.get(cpath(name, "/stats"), params={"stream": False})
        except HullError as exc:
            errors.append(daemon_message(exc))
            continue
        rows.append(row(s or {}, name, trunc))
    return rows, errors


def run(args: argparse.Namespace, client: Any) -> int:
    names = list(args.containers)
    listed = not names
    fmt = Format(args.format or TABLE, HEADERS)
    while True:
        if listed:
            cs = client.get("/containers/json", params={"all": args.all or None}) or []
            names = [str(c["Id"]) for c in cs]
        rows, errors = sample(client, names, not args.no_trunc)
        if errors and not listed:
            print("\n".join(errors), file=sys.stderr)
            return 1
        if not args.no_stream:
            sys.stdout.write("\x1b[2J\x1b[H")
        sys.stdout.write(fmt.render(rows) if rows or fmt.is_table else "")
        sys.stdout.flush()
        if args.no_stream:
            return 0
        time.sleep(1.0)
