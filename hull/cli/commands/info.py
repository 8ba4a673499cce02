"""``hull info``: system-wide information, as ``docker info``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull import __version__
from hull.errors import HullError

from ..errors import report
from ..table import Format

NEEDS_DAEMON = True


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("info", help="Display system-wide information")
    p.add_argument("-f", "--format", help="format the output using the given Go template")
    return p


def human_size(n: float) -> str:
    """Docker's ``units.BytesSize``: binary units, up to 4 significant digits."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.4g}{units[i]}"


def render(info: dict[str, Any], debug: bool) -> str:
    """The text ``docker info`` prints for the fields hull reports."""
    g = info.get
    out = ["Client:", f" Version:    {__version__}", " Context:    default"]
    out += [f" Debug Mode: {str(debug).lower()}", "", "Server:"]
    out += [
        f" Containers: {g('Containers', 0)}",
        f"  Running: {g('ContainersRunning', 0)}",
        f"  Paused: {g('ContainersPaused', 0)}",
        f"  Stopped: {g('ContainersStopped', 0)}",
        f" Images: {g('Images', 0)}",
        f" Server Version: {g('ServerVersion', '')}",
    ]
    if g("Driver"):
        out.append(f" Storage Driver: {g('Driver')}")
        out += [f"  {k}: {v}" for k, v in g("DriverStatus") or []]
    out += [
        f" Logging Driver: {g('LoggingDriver', '')}",
        f" Cgroup Driver: {g('CgroupDriver', '')}",
        f" Cgroup Version: {g('CgroupVersion', '')}",
        " Plugins:",
    ]
    for kind in ("Volume", "Network", "Log"):
        names = (g("Plugins") or {}).get(kind) or []
        out.append(f"  {kind}: {' '.join(names)}")
    out.append(f" Swarm: {(g('Swarm') or {}).get('LocalNodeState', 'inactive')}")
    out.append(f" Runtimes: {' '.join(sorted(g('Runtimes') or {}))}")
    out.append(f" Default Runtime: {g('DefaultRuntime', '')}")
    opts = g("SecurityOptions") or []
    if opts:
        out.append(" Security Options:")
        for opt in opts:
            kv = dict(p.split("=", 1) for p in opt.split(",") if "=" in p)
            out.append(f"  {kv.get('name', opt)}")
            out += [f"   {k.title()}: {v}" for k, v in kv.items() if k != "name"]
    out += [
        f" Kernel Version: {g('KernelVersion', '')}",
        f" Operating System: {g('OperatingSystem', '')}",
        f" OSType: {g('OSType', '')}",
        f" Architecture: {g('Architecture', '')}",
        f" CPUs: {g('NCPU', 0)}",
        f" Total Memory: {human_size(g('MemTotal', 0) or 0)}",
        f" Name: {g('Name', '')}",
        f" ID: {g('ID', '')}",
        f" Hull Root Dir: {g('DockerRootDir', '')}",
        f" Debug Mode: {str(bool(g('Debug'))).lower()}",
        f" Experimental: {str(bool(g('ExperimentalBuild'))).lower()}",
        f" Live Restore Enabled: {str(bool(g('LiveRestoreEnabled'))).lower()}",
    ]
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace, client: Any) -> int:
    fmt = Format(args.format) if args.format else None
    try:
        info = client.get("/info")
    except HullError as exc:
        return report(exc)
    if fmt is not None:
        data = dict(info)
        data["ClientInfo"] = {"Debug": bool(args.debug), "Context": "default"}
        sys.stdout.write(fmt.render([data]))
        return 0
    sys.stdout.write(render(info, bool(args.debug)))
    for w in info.get("Warnings") or []:
        print(w, file=sys.stderr)  # docker prints the warnings on stderr
    return 0
