"""``hull events``: the daemon's events as they happen, as ``docker events``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import UsageError
from ..table import Format
from ..timeutil import format_nano_local, get_timestamp

NEEDS_DAEMON = True


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "events", help="Get real time events from the server"
    )
    p.add_argument("--since", default="", help="show all events created since timestamp")
    p.add_argument("--until", default="", help="stream events until this timestamp")
    p.add_argument(
        "-f", "--filter", action="append", default=[], help="filter output based on conditions"
    )
    p.add_argument("--format", help="format the output using the given Go template")
    return p


def parse_filters(specs: list[str]) -> dict[str, list[str]]:
    """``key=value`` flags → Docker's filters map."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key:
            raise UsageError(f"bad format of filter (expected name=value): {spec}", "hull events")
        out.setdefault(key.strip().lower(), []).append(value)
    return out


def default_line(ev: dict[str, Any]) -> str:
    """``2024-01-02T03:04:05.000000000+01:00 container start ID (image=busybox, name=x)``."""
    actor = ev.get("Actor") or {}
    line = f"{format_nano_local(int(ev.get('timeNano') or 0))} {ev.get('Type', '')} "
    line += f"{ev.get('Action', '')} {actor.get('ID', '')}"
    attrs = actor.get("Attributes") or {}
    if attrs:
        line += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return line


def run(args: argparse.Namespace, client: Any) -> int:
    params: dict[str, Any] = {
        "since": get_timestamp(args.since) or None,
        "until": get_timestamp(args.until) or None,
    }
    filters = parse_filters(args.filter)
    if filters:
        params["filters"] = filters
    fmt = Format(args.format) if args.format else None
    for ev in client.stream("GET", "/events", params=params):
        sys.stdout.write(fmt.render([ev]) if fmt else default_line(ev) + "\n")
        sys.stdout.flush()
    return 0
