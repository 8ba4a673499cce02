"""Networks as the Docker API shows them: list, inspect, create, remove, prune, connect.

Functions of an :class:`~hull.engine.engine.Engine` (bound as its
``network_*`` methods), over its :class:`~hull.engine.networking.Networking`.
``host`` and ``none`` are listed and inspected as Docker's pre-defined
networks of drivers ``host`` and ``null``; they have no bridge behind them.
``reset`` is ``hull system reset``: every container removed, every network,
bridge, veth, namespace file and nft rule of this daemon gone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hull import metadata as md
from hull.engine.config import HostConfig
from hull.engine.networking import (
    PREDEFINED_DRIVERS,
    check_endpoint_config,
    endpoint_id,
    has_own_netns,
    mode_of,
    predefined_id,
)
from hull.errors import Conflict, HullError, InvalidArgument, NotFound
from hull.images.inspect import format_time, parse_time
from hull.network.models import DEFAULT_NETWORK_NAME, Network
from hull.network.netlink import delete_netns

if TYPE_CHECKING:
    from hull.engine.engine import Engine

LIST_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")
ICC_OPTION = "com.docker.network.bridge.enable_icc"
_KNOWN_OPTIONS = (ICC_OPTION, "com.docker.network.bridge.name",
                  "com.docker.network.driver.mtu", "com.docker.network.bridge.enable_ip_masquerade",
                  "com.docker.network.bridge.host_binding_ipv4")  # fmt: skip


def _event(engine: Engine, action: str, nid: str, **attrs: str) -> None:
    sink = engine._sink
    if sink is not None:
        with contextlib.suppress(Exception):
            sink("network", action, nid, {"type": "bridge", **attrs})


def _base(name: str, nid: str, driver: str, created: float) -> dict[str, Any]:
    return {
        "Name": name, "Id": nid, "Created": format_time(created), "Scope": "local",
        "Driver": driver, "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None, "Config": []},
        "Internal": False, "Attachable": False, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": {}, "Options": {},
        "Labels": {},
    }  # fmt: skip


def network_json(engine: Engine, net: Network) -> dict[str, Any]:
    """Docker's NetworkResource of a bridge network, with its running containers."""
    out = _base(net.name, net.id, "bridge", net.created)
    out["IPAM"]["Config"] = [{"Subnet": str(net.subnet), "Gateway": str(net.gateway)}]
    out["Internal"] = net.internal
    out["Labels"] = dict(net.labels)
    opts = {ICC_OPTION: "true" if net.icc else "false"}
    if net.is_default:
        opts.update({"com.docker.network.bridge.default_bridge": "true",
                     "com.docker.network.bridge.enable_ip_masquerade": "true",
                     "com.docker.network.bridge.name": net.bridge,
                     "com.docker.network.driver.mtu": str(engine.net.mgr.mtu)})  # fmt: skip
    elif net.icc:
        opts = {}
    out["Options"] = opts
    for ep in engine.net.mgr.store.endpoints(net.id):
        try:
            name = md.get_container(engine.db, ep.container_id).name
        except NotFound:
            name = ""
        out["Containers"][ep.container_id] = {
            "Name": name, "EndpointID": endpoint_id(net.id, ep.container_id),
            "MacAddress": ep.mac, "IPv4Address": f"{ep.ip}/{ep.prefixlen}", "IPv6Address": "",
        }  # fmt: skip
    return out


def _predefined(engine: Engine, name: str) -> dict[str, Any]:
    return _base(name, predefined_id(name, engine.net.names.owner), PREDEFINED_DRIVERS[name], 0)


def _all(engine: Engine) -> list[dict[str, Any]]:
    engine.net.mgr.ensure_default_network()
    docs = [network_json(engine, n) for n in engine.net.mgr.list_networks()]
    return docs + [_predefined(engine, n) for n in ("host", "none")]


def _find(engine: Engine, ref: str) -> dict[str, Any]:
    docs = _all(engine)
    for d in docs:
        if ref in (d["Name"], d["Id"]):
            return d
    hits = [d for d in docs if ref and d["Id"].startswith(ref)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise InvalidArgument(f"network {ref} is ambiguous ({len(hits)} matches found on id)")
    raise NotFound(f"network {ref} not found")


def _matches(doc: Mapping[str, Any], f: Mapping[str, list[str]]) -> bool:
    builtin = doc["Name"] in PREDEFINED_DRIVERS
    checks: dict[str, Callable[[str], bool]] = {
        "name": lambda v: v in doc["Name"],
        "id": lambda v: doc["Id"].startswith(v),
        "driver": lambda v: v == doc["Driver"],
        "scope": lambda v: v == "local",
        "type": lambda v: v == ("builtin" if builtin else "custom"),
        "dangling": lambda v: (v in ("true", "1")) == (not doc["Containers"] and not builtin),
    }
    for key, values in f.items():
        if key == "label":
            labels = doc["Labels"]
            for spec in values:
                k, eq, v = spec.partition("=")
                if k not in labels or (eq and labels[k] != v):
                    return False
        elif key in checks and values and not any(checks[key](v) for v in values):
            return False
    return True


def network_list(engine: Engine, filters: Mapping[str, list[str]] | None = None) -> list[Any]:
    """``GET /networks``: every network (pre-defined ones too) matching the filters."""
    f = dict(filters or {})
    for key in f:
        if key not in (*LIST_FILTERS, "until"):
            raise InvalidArgument(f"invalid filter '{key}'")
    docs = [d for d in _all(engine) if _matches(d, f)]
    for d in docs:  # Docker's list has no containers in it
        d["Containers"] = {}
    return docs


def network_inspect(engine: Engine, ref: str) -> dict[str, Any]:
    """``GET /networks/{id}``."""
    return _find(engine, ref)


def network_create(engine: Engine, body: Any) -> dict[str, str]:
    """``POST /networks/create`` with Docker's body: ``{Id, Warning}``."""
    if not isinstance(body, dict):
        raise InvalidArgument("the network create body must be a JSON object")
    name = body.get("Name")
    if not isinstance(name, str) or not name:
        raise InvalidArgument("network name is required")
    driver = body.get("Driver") or "bridge"
    if driver != "bridge":
        if driver in ("host", "null"):
            raise Conflict(f'only one instance of "{driver}" network is allowed')
        raise NotFound(f'plugin "{driver}" not found')
    if body.get("EnableIPv6"):
        raise InvalidArgument("IPv6 networks are not supported by hull yet")
    if body.get("Ingress"):
        raise InvalidArgument("ingress networks need swarm mode, which hull has not")
    opts = body.get("Options") or {}
    labels = body.get("Labels") or {}
    for what, m in (("Options", opts), ("Labels", labels)):
        if not isinstance(m, dict) or not all(isinstance(v, str) for v in m.values()):
            raise InvalidArgument(f"json: cannot unmarshal {what} into map[string]string")
    for key in opts:
        if key not in _KNOWN_OPTIONS:
            raise InvalidArgument(f"unsupported network option: {key}")
    icc = opts.get(ICC_OPTION, "true").lower() not in ("false", "0")
    subnet = gateway = None
    ipam = body.get("IPAM") or {}
    if not isinstance(ipam, dict):
        raise InvalidArgument("json: cannot unmarshal IPAM")
    if (ipam.get("Driver") or "default") != "default":
        raise NotFound(f'plugin "{ipam["Driver"]}" not found')
    configs = [c for c in ipam.get("Config") or [] if isinstance(c, dict)]
    if len(configs) > 1:
        raise InvalidArgument("hull networks have one IPv4 subnet (IPAM.Config has several)")
    if configs:
        c = configs[0]
        subnet = str(c.get("Subnet") or "") or None
        gateway = str(c.get("Gateway") or "") or None
        if c.get("IPRange") and c.get("IPRange") != subnet:
            raise InvalidArgument("IPAM IPRange is not supported: give the whole Subnet")
    net = engine.net.mgr.create_network(
        name, subnet=subnet, gateway=gateway, internal=bool(body.get("Internal")),
        labels=labels, icc=icc,
    )  # fmt: skip
    _event(engine, "create", net.id, name=net.name)
    return {"Id": net.id, "Warning": ""}


def network_remove(engine: Engine, ref: str) -> None:
    """``DELETE /networks/{id}``: refused for pre-defined networks and ones in use."""
    doc = _find(engine, ref)
    if doc["Name"] in PREDEFINED_DRIVERS:
        raise Conflict(f"{doc['Name']} is a pre-defined network and cannot be removed")
    engine.net.mgr.remove_network(doc["Id"])
    _event(engine, "destroy", doc["Id"], name=doc["Name"])


def network_prune(engine: Engine, filters: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    """``POST /networks/prune``: user networks no running container uses."""
    f = dict(filters or {})
    for key in f:
        if key not in ("until", "label", "label!"):
            raise InvalidArgument(f"invalid filter '{key}'")
    until = [parse_time(v) for v in f.get("until", [])]
    deleted = []
    for net in engine.net.mgr.list_networks():
        if net.is_default or engine.net.mgr.store.endpoints(net.id):
            continue
        if until and not all(net.created < t for t in until if t is not None):
            continue
        if not _matches({"Name": net.name, "Id": net.id, "Driver": "bridge", "Containers": {},
                         "Labels": dict(net.labels)}, {"label": f.get("label", [])}):  # fmt: skip
            continue
        if any(k.partition("=")[0] in net.labels for k in f.get("label!", [])):
            continue
        with contextlib.suppress(HullError):
            engine.net.mgr.remove_network(net.id)
            deleted.append(net.name)
            _event(engine, "destroy", net.id, name=net.name)
    return {"NetworksDeleted": deleted}


def _own_netns_or_refuse(mode: str) -> None:
    if mode == "host":
        raise Conflict("container cannot be disconnected from host network or connected to host"
                       " network")  # fmt: skip
    if not has_own_netns(mode):
        raise Conflict("container sharing network namespace with another container or host"
                       " cannot be connected to any other network")  # fmt: skip


def network_connect(engine: Engine, ref: str, body: Any) -> None:
    """``POST /networks/{id}/connect`` ``{Container, EndpointConfig}``."""
    if not isinstance(body, dict) or not isinstance(body.get("Container"), str):
        raise InvalidArgument("a container to connect is required (Container)")
    doc = _find(engine, ref)
    with engine._lock:
        rec = engine.find(body["Container"])
        mode = mode_of(HostConfig.from_json(rec.host_config))
        if doc["Name"] in ("host", "none"):
            _own_netns_or_refuse(doc["Name"] if doc["Name"] == "host" else "none")
        _own_netns_or_refuse(mode)
        net = engine.net.network(doc["Id"])
        nets = dict(rec.network_settings.get("Networks") or {})
        if net.name in nets:
            raise Conflict(f"endpoint with name {rec.name} already exists in network {net.name}")
        ep = check_endpoint_config(net.name, body.get("EndpointConfig"), not net.is_default)
        ep["NetworkID"] = net.id
        nets[net.name] = ep
        new = md.update_container(
            engine.db, rec.id, network_settings={**rec.network_settings, "Networks": nets}
        )
        running = rec.state.get("Running") and not rec.state.get("Restarting")
        if running:
            try:
                engine.net.connect_running(new, net.name, ep, engine.container_dir(rec.id))
            except BaseException:
                md.update_container(engine.db, rec.id, network_settings=rec.network_settings)
                raise
    _event(engine, "connect", net.id, container=rec.id, name=net.name)


def network_disconnect(engine: Engine, ref: str, body: Any) -> None:
    """``POST /networks/{id}/disconnect`` ``{Container, Force}``."""
    if not isinstance(body, dict) or not isinstance(body.get("Container"), str):
        raise InvalidArgument("a container to disconnect is required (Container)")
    doc = _find(engine, ref)
    with engine._lock:
        rec = engine.find(body["Container"])
        nets = dict(rec.network_settings.get("Networks") or {})
        if doc["Name"] not in nets:
            raise NotFound(f"container {rec.id} is not connected to network {doc['Name']}")
        mode = mode_of(HostConfig.from_json(rec.host_config))
        if doc["Name"] in ("host", "none") or not has_own_netns(mode):
            _own_netns_or_refuse(doc["Name"] if doc["Name"] in ("host", "none") else mode)
        running = rec.state.get("Running") and not rec.state.get("Restarting")
        if running:
            with contextlib.suppress(NotFound):
                engine.net.mgr.disconnect(doc["Id"], rec.id)
        del nets[doc["Name"]]
        new = md.update_container(
            engine.db, rec.id, network_settings={**rec.network_settings, "Networks": nets}
        )
        if running:
            with contextlib.suppress(OSError, HullError):
                engine.net.rewrite_hosts(new, engine.container_dir(rec.id))
    _event(engine, "disconnect", doc["Id"], container=rec.id, name=doc["Name"])


def network_reset(engine: Engine) -> dict[str, Any]:
    """``hull system reset``: remove every container and network; nothing of hull left behind."""
    removed = []
    for rec in md.list_containers(engine.db):
        with contextlib.suppress(NotFound):
            engine.remove(rec.id, force=True, volumes=True)
            removed.append(rec.id)
    names = [n.name for n in engine.net.mgr.list_networks() if n.name != DEFAULT_NETWORK_NAME]
    engine.net.mgr.reset()
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(engine.net.netns_dir):
            delete_netns(entry.path)
    return {"ContainersDeleted": removed, "NetworksDeleted": names}


__all__ = [
    "LIST_FILTERS",
    "network_connect",
    "network_create",
    "network_disconnect",
    "network_inspect",
    "network_json",
    "network_list",
    "network_prune",
    "network_remove",
    "network_reset",
]
