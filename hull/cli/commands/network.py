"""``hull network COMMAND``: manage networks, as ``docker network``.

hull network create [-d bridge] [--subnet CIDR] [--gateway IP] [--internal]
                    [--label K=V]... [-o K=V]... NAME
hull network ls [-q] [-f FILTER]... [--format FMT] [--no-trunc]
hull network inspect [-f FMT] NETWORK...
hull network rm [-f] NETWORK...
hull network prune [-f] [--filter FILTER]...
hull network connect [--alias A]... [--ip IP] NETWORK CONTAINER
hull network disconnect [-f] NETWORK CONTAINER
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull.client import quote_segment
from hull.errors import HullError, NotFound

from ..errors import UsageError, daemon_message
from ..table import Format
from .images import parse_filters

NEEDS_DAEMON = True

TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
HEADERS = {
    "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
    "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}  # fmt: skip
PRUNE_WARNING = (
    "WARNING! This will remove all custom networks not used by at least one container.\n"
    "Are you sure you want to continue?"
)


def npath(name: str, tail: str = "") -> str:
    return "/networks/" + quote_segment(name) + tail


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("network", help="Manage networks")
    cmds = p.add_subparsers(dest="network_cmd", metavar="COMMAND", required=True)
    c = cmds.add_parser("create", help="Create a network")
    c.add_argument("-d", "--driver", default="bridge", help="driver to manage the network")
    c.add_argument("--subnet", action="append", default=[], help="subnet in CIDR format")
    c.add_argument("--gateway", action="append", default=[], help="IPv4 gateway of the subnet")
    c.add_argument("--ip-range", action="append", default=[], help="allocate from a sub-range")
    c.add_argument("--internal", action="store_true", help="restrict external access")
    c.add_argument("--label", action="append", default=[], help="set metadata on a network")
    c.add_argument("-o", "--opt", action="append", default=[], help="driver specific options")
    c.add_argument("--ipv6", action="store_true", help="enable IPv6 networking")
    c.add_argument("--attachable", action="store_true", help="accepted for compatibility")
    c.add_argument("name", metavar="NETWORK")
    c.set_defaults(network_run=create)
    ls = cmds.add_parser("ls", aliases=["list"], help="List networks")
    ls.add_argument("-f", "--filter", action="append", default=[], help="provide filter values")
    ls.add_argument("--format", help="pretty-print networks using a Go template")
    ls.add_argument("-q", "--quiet", action="store_true", help="only display network IDs")
    ls.add_argument("--no-trunc", action="store_true", help="do not truncate the output")
    ls.set_defaults(network_run=list_networks)
    i = cmds.add_parser("inspect", help="Display detailed information on one or more networks")
    i.add_argument("-f", "--format", help="format the output using the given Go template")
    i.add_argument("-v", "--verbose", action="store_true", help="accepted for compatibility")
    i.add_argument("names", nargs="+", metavar="NETWORK")
    i.set_defaults(network_run=inspect)
    rm = cmds.add_parser("rm", aliases=["remove"], help="Remove one or more networks")
    rm.add_argument("-f", "--force", action="store_true", help="no error if it does not exist")
    rm.add_argument("names", nargs="+", metavar="NETWORK")
    rm.set_defaults(network_run=remove)
    pr = cmds.add_parser("prune", help="Remove all unused networks")
    pr.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    pr.add_argument("--filter", action="append", default=[], help="provide filter values")
    pr.set_defaults(network_run=prune)
    co = cmds.add_parser("connect", help="Connect a container to a network")
    co.add_argument("--alias", action="append", default=[], help="network-scoped alias")
    co.add_argument("--ip", default="", help="IPv4 address")
    co.add_argument("network", metavar="NETWORK")
    co.add_argument("container", metavar="CONTAINER")
    co.set_defaults(network_run=connect)
    dc = cmds.add_parser("disconnect", help="Disconnect a container from a network")
    dc.add_argument("-f", "--force", action="store_true", help="force the disconnection")
    dc.add_argument("network", metavar="NETWORK")
    dc.add_argument("container", metavar="CONTAINER")
    dc.set_defaults(network_run=disconnect)
    return p


def _kv(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for it in items:
        k, _, v = it.partition("=")
        if not k:
            raise UsageError(f"invalid argument {it!r} for {flag}", "hull network create")
        out[k] = v
    return out


def create(args: argparse.Namespace, client: Any) -> int:
    if len(args.gateway) > len(args.subnet):
        raise UsageError("every gateway needs a subnet (--subnet)", "hull network create")
    configs = []
    for n, subnet in enumerate(args.subnet):
        cfg = {"Subnet": subnet}
        if n < len(args.gateway):
            cfg["Gateway"] = args.gateway[n]
        if n < len(args.ip_range):
            cfg["IPRange"] = args.ip_range[n]
        configs.append(cfg)
    body = {
        "Name": args.name, "CheckDuplicate": True, "Driver": args.driver,
        "Internal": args.internal, "Attachable": args.attachable, "EnableIPv6": args.ipv6,
        "IPAM": {"Driver": "default", "Config": configs, "Options": {}},
        "Options": _kv(args.opt, "--opt"), "Labels": _kv(args.label, "--label"),
    }  # fmt: skip
    doc = client.post("/networks/create", json=body) or {}
    print(doc.get("Id", ""))
    return 0


def network_row(n: dict[str, Any], trunc: bool = True) -> dict[str, str]:
    nid = str(n.get("Id") or "")
    return {
        "CreatedAt": str(n.get("Created") or ""),
        "Driver": str(n.get("Driver") or ""),
        "ID": nid[:12] if trunc else nid,
        "IPv6": str(bool(n.get("EnableIPv6"))).lower(),
        "Internal": str(bool(n.get("Internal"))).lower(),
        "Labels": ",".join(f"{k}={v}" for k, v in (n.get("Labels") or {}).items()),
        "Name": str(n.get("Name") or ""),
        "Scope": str(n.get("Scope") or ""),
    }


def list_networks(args: argparse.Namespace, client: Any) -> int:
    filters = parse_filters(args.filter, "hull network ls")
    nets = client.get("/networks", params={"filters": filters or None}) or []
    nets = sorted(nets, key=lambda n: str(n.get("Name", "")))
    fmt = args.format or ("{{.ID}}" if args.quiet else TABLE)
    rows = [network_row(n, trunc=not args.no_trunc) for n in nets]
    sys.stdout.write(Format(fmt, HEADERS).render(rows))
    return 0


def inspect(args: argparse.Namespace, client: Any) -> int:
    from .inspect import inspect as inspect_objects

    return inspect_objects(client, args.names, "network", args.format)


def _each(names: list[str], fn: Any, ignore_missing: bool = False) -> int:
    errors = []
    for name in names:
        try:
            fn(name)
        except NotFound as exc:
            if not ignore_missing:
                errors.append(daemon_message(exc))
            continue
        except HullError as exc:
            errors.append(daemon_message(exc))
            continue
        print(name)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    return 0


def remove(args: argparse.Namespace, client: Any) -> int:
    return _each(args.names, lambda n: client.delete(npath(n)), ignore_missing=args.force)


def prune(args: argparse.Namespace, client: Any) -> int:
    from .image import confirm

    filters = parse_filters(args.filter, "hull network prune")
    if not args.force and not confirm(PRUNE_WARNING):
        return 0
    report = client.post("/networks/prune", params={"filters": filters or None}) or {}
    deleted = report.get("NetworksDeleted") or []
    if deleted:
        print("Deleted Networks:\n" + "\n".join(deleted))
    return 0


def connect(args: argparse.Namespace, client: Any) -> int:
    ep: dict[str, Any] = {}
    if args.alias:
        ep["Aliases"] = args.alias
    if args.ip:
        ep["IPAMConfig"] = {"IPv4Address": args.ip}
    client.post(npath(args.network, "/connect"),
                json={"Container": args.container, "EndpointConfig": ep})  # fmt: skip
    return 0


def disconnect(args: argparse.Namespace, client: Any) -> int:
    client.post(npath(args.network, "/disconnect"),
                json={"Container": args.container, "Force": args.force})  # fmt: skip
    return 0


def run(args: argparse.Namespace, client: Any) -> int:
    return int(args.network_run(args, client))
