"""``hull update [OPTIONS] CONTAINER...``: as ``docker update``; prints the names back.

Only the flags given change anything (the API's zero means "unchanged"); a
running container gets the new limits at once, a stopped one when it starts.
"""

from __future__ import annotations

import argparse
from typing import Any

from .container import cpath, each

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    a = p.add_argument
    a("--blkio-weight", type=int, default=0, help="Block IO (relative weight), 10 to 1000, or 0")
    a("--cpu-period", type=int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) period")
    a("--cpu-quota", type=int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) quota")
    a("--cpu-rt-period", type=int, default=0, help="Limit the CPU real-time period in microseconds")
    a(
        "--cpu-rt-runtime",
        type=int,
        default=0,
        help="Limit the CPU real-time runtime (µs)",
    )
    a("-c", "--cpu-shares", type=int, default=0, help="CPU shares (relative weight)")
    a("--cpus", default="", help="Number of CPUs")
    a("--cpuset-cpus", default="", help="CPUs in which to allow execution (0-3, 0,1)")
    a("--cpuset-mems", default="", help="MEMs in which to allow execution (0-3, 0,1)")
    a("-m", "--memory", default="", help="Memory limit")
    a("--memory-reservation", default="", help="Memory soft limit")
    a(
        "--memory-swap",
        default="",
        help="Memory plus swap limit; -1: unlimited swap",
    )
    a(
        "--pids-limit",
        type=int,
        default=None,
        help="Tune the pids limit (-1: unlimited)",
    )
    a("--restart", default="", help="Restart policy to apply when a container exits")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser("update", help="Update configuration of one or more containers")
    )


def body_of(args: argparse.Namespace) -> dict[str, Any]:
    """The UpdateConfig the flags ask for."""
    from ..runopts import _nano_cpus, _swap, parse_restart
    from ..runvalues import _size

    body: dict[str, Any] = {
        "BlkioWeight": args.blkio_weight,
        "CpuPeriod": args.cpu_period,
        "CpuQuota": args.cpu_quota,
        "CpuRealtimePeriod": args.cpu_rt_period,
        "CpuRealtimeRuntime": args.cpu_rt_runtime,
        "CpuShares": args.cpu_shares,
        "NanoCpus": _nano_cpus(args.cpus),
        "CpusetCpus": args.cpuset_cpus,
        "CpusetMems": args.cpuset_mems,
        "Memory": _size(args.memory, "--memory"),
        "MemoryReservation": _size(args.memory_reservation, "--memory-reservation"),
        "MemorySwap": _swap(args.memory_swap),
    }
    if args.pids_limit is not None:
        body["PidsLimit"] = args.pids_limit
    if args.restart:
        body["RestartPolicy"] = parse_restart(args.restart)
    return body


def run(args: argparse.Namespace, client: Any) -> int:
    body = body_of(args)
    return each(args.containers, lambda n: client.post(cpath(n, "/update"), json=body))
