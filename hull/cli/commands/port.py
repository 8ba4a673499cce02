"""``hull port CONTAINER [PRIVATE_PORT[/PROTO]]``: as ``docker port``.

80/tcp -> 0.0.0.0:8080
"""

from __future__ import annotations

import argparse
from typing import Any

from hull.errors import NotFound

from .container import cpath

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("port", nargs="?", metavar="PRIVATE_PORT[/PROTO]")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser("port", help="List port mappings or a specific mapping for the container")
    )


def lines(ports: dict[str, Any], want: str | None = None) -> list[str]:
    """``docker port``'s lines, ports in numeric order; only ``want`` when given."""
    if want is not None and "/" not in want:
        want += "/tcp"
    out = []

    def key(k: str) -> tuple[int, str]:
        port, _, proto = k.partition("/")
        return (int(port) if port.isdigit() else 0, proto)

    for k in sorted(ports, key=key):
        if want is not None and k != want:
            continue
        for b in ports[k] or ():
            target = f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}"
            out.append(target if want is not None else f"{k} -> {target}")
    return out


def run(args: argparse.Namespace, client: Any) -> int:
    doc = client.get(cpath(args.container, "/json")) or {}
    ports = (doc.get("NetworkSettings") or {}).get("Ports") or {}
    found = lines(ports, args.port)
    if args.port is not None and not found:
        raise NotFound(f"Error: No public port '{args.port}' published for {args.container}")
    for line in found:
        print(line)
    return 0
