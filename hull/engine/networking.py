"""Containers on networks: the engine's side of :mod:`hull.network`.

Network modes (``HostConfig.NetworkMode``): ``default`` (= ``bridge``, the
default bridge), a user-defined network by name or id, ``host``, ``none`` and
``container:<id>``. What the user asked for is checked at create and kept in
the record's ``NetworkSettings.Networks`` (one entry per network: its id,
``IPAMConfig``, ``Aliases``, ``MacAddress``); the live figures (address,
gateway, endpoint, published ports) come from the network store when the
container is inspected, so they can never disagree with the kernel's state.

Start (bridge and user networks), all before the runtime runs::

    create_netns(<exec-root>/netns/<id>)       a bind-mounted, empty namespace
    connect(network, id, that path)            veth into it, address, routes, DNS name
      ... once per network, the primary one first (it gets the default route)
    publish(-p / -P on the primary endpoint)   DNAT rules, host ports held
    write hosts, resolv.conf                   the container's address; embedded DNS
    spec: {"type": "network", "path": ...}     the runtime joins the prepared namespace

so the process starts with its network up, and no round trip between the
monitor and the daemon sits between ``create`` and ``start``. Any failure
undoes what was done. At exit (or removal) the endpoints, leases, DNS names
and port rules are dropped and the namespace unmounted: the kernel then
destroys it and the veths in its own time, off the exit path.

Daemon start: namespaces and endpoints of containers that are not running
any more (a crash of hulld or of the host) are removed and the rest of the
network state (bridges, rules, DNS listeners, held ports) re-created.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hull.engine.config import ContainerConfig, HostConfig
from hull.errors import Conflict, HullError, InvalidArgument, NotFound
from hull.network import files as netfiles
from hull.network.manager import NetworkManager
from hull.network.models import DEFAULT_NETWORK_NAME, Endpoint, Network, PortBinding, PublishedPort
from hull.network.naming import names_for, sweep_orphans
from hull.network.netlink import create_netns, delete_netns
from hull.network.ports import parse_exposed, parse_port_range
from hull.network.store import SqliteNetworkStore

if TYPE_CHECKING:
    from hull.engine.engine import Engine
    from hull.metadata import ContainerRecord

PREDEFINED_DRIVERS = {"bridge": "bridge", "host": "host", "none": "null"}
_MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")


def mode_of(host: HostConfig) -> str:
    """The network mode with ``default`` spelled ``bridge``."""
    mode = host.network_mode or "default"
    return DEFAULT_NETWORK_NAME if mode == "default" else mode


def is_container_mode(mode: str) -> bool:
    return mode.startswith("container:")


def has_own_netns(mode: str) -> bool:
    """Whether hull prepares the container's namespace (bridge and user networks)."""
    return mode not in ("host", "none") and not is_container_mode(mode)


def endpoint_id(network_id: str, container_id: str) -> str:
    return hashlib.sha256(f"endpoint/{network_id}/{container_id}".encode()).hexdigest()


def predefined_id(name: str, owner: str) -> str:
    """A stable id for the ``host`` and ``none`` pseudo-networks of one daemon."""
    return hashlib.sha256(f"{owner}/{name}".encode()).hexdigest()


def empty_endpoint(network_id: str = "") -> dict[str, Any]:
    """Docker's EndpointSettings with nothing assigned yet."""
    return {
        "IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "",
        "NetworkID": network_id, "EndpointID": "", "Gateway": "", "IPAddress": "",
        "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "DriverOpts": None, "DNSNames": None,
    }  # fmt: skip


@dataclass(frozen=True)
class StartNet:
    """What ``generate_spec`` needs from the network at start."""

    netns_path: str | None
    hostname: str | None = None  # container: mode takes the other container's
    files_dir: Path | None = None  # where hosts, hostname, resolv.conf are


def check_mac(mac: str) -> str:
    if not _MAC.match(mac):
        raise InvalidArgument(f"{mac} is not a valid mac address")
    return mac.lower().replace("-", ":")


def check_endpoint_config(name: str, raw: Any, user_defined: bool) -> dict[str, Any]:
    """One ``EndpointsConfig`` entry, checked, as stored in ``NetworkSettings.Networks``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidArgument(f"json: cannot unmarshal EndpointsConfig[{name}]")
    ep = empty_endpoint()
    ipam = raw.get("IPAMConfig") or None
    if ipam is not None:
        if not isinstance(ipam, dict):
            raise InvalidArgument("json: cannot unmarshal IPAMConfig")
        v4 = str(ipam.get("IPv4Address") or "")
        if v4:
            try:
                IPv4Address(v4)
            except ValueError:
                raise InvalidArgument(f"invalid IPv4 address: {v4}") from None
            if not user_defined:
                raise InvalidArgument(
                    "user specified IP address is supported on user defined networks only"
                )
        if ipam.get("IPv6Address"):
            raise InvalidArgument("IPv6 addresses are not supported by hull networks yet")
        ep["IPAMConfig"] = {"IPv4Address": v4} if v4 else None
    aliases = raw.get("Aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise InvalidArgument("json: cannot unmarshal Aliases into Go value of type []string")
    if aliases and not user_defined:
        raise InvalidArgument(
            "network-scoped alias is supported only for containers in user defined networks"
        )
    ep["Aliases"] = list(dict.fromkeys(aliases)) or None
    if raw.get("MacAddress"):
        ep["MacAddress"] = check_mac(str(raw["MacAddress"]))
    return ep


class Networking:
    """The network manager of one engine, made on first use, and the namespace files."""

    def __init__(self, data_root: Path, exec_root: Path, db_path: Path) -> None:
        self.names = names_for(data_root)
        self.netns_dir = Path(exec_root) / "netns"
        self._db_path = Path(db_path)
        self._mgr: NetworkManager | None = None
        self._lock = threading.Lock()
        # containers whose namespace another container joined (container: mode)
        self.shared: set[str] = set()

    @property
    def mgr(self) -> NetworkManager:
        with self._lock:
            if self._mgr is None:
                # bridges and tables of data roots that were deleted (a crashed test,
                # a removed daemon) would otherwise hold their subnets forever
                with contextlib.suppress(OSError, HullError, ValueError):
                    sweep_orphans()
                store = SqliteNetworkStore(self._db_path)
                self._mgr = NetworkManager(
                    store, default_bridge=self.names.default_bridge, table=self.names.table,
                    bridge_prefix=self.names.bridge_prefix, owner=self.names.owner,
                )  # fmt: skip
            return self._mgr

    def close(self) -> None:
        with self._lock:
            mgr, self._mgr = self._mgr, None
        if mgr is not None:
            mgr.close()
            store = mgr.store
            if isinstance(store, SqliteNetworkStore):
                store.close()

    def netns_path(self, cid: str) -> Path:
        return self.netns_dir / cid

    def network(self, ref: str) -> Network:
        """A network by name, id or id prefix; ``bridge`` is made on first use."""
        if ref in (DEFAULT_NETWORK_NAME, "default"):
            return self.mgr.ensure_default_network()
        try:
            return self.mgr.get_network(ref)
        except NotFound:
            raise NotFound(f"network {ref} not found") from None

    # -- create -------------------------------------------------------------------------

    def plan(
        self, engine: Engine, cfg: ContainerConfig, host: HostConfig, networking: Any
    ) -> dict[str, Any]:
        """Check the network options of a new container: its ``NetworkSettings.Networks``."""
        mode = mode_of(host)
        if cfg.mac_address:
            check_mac(cfg.mac_address)
        if is_container_mode(mode):
            engine.find(mode.split(":", 1)[1])  # "No such container: x"
            for what, given in (
                ("port publishing", bool(host.port_bindings) or host.publish_all_ports),
                ("hostname", bool(cfg.hostname)), ("dns", bool(host.dns)),
                ("extra hosts", bool(host.extra_hosts)), ("mac-address", bool(cfg.mac_address)),
            ):  # fmt: skip
                if given:
                    raise InvalidArgument(
                        f"conflicting options: {what} and the container type network mode"
                    )
            return {}
        if mode in ("host", "none"):
            return {mode: empty_endpoint(predefined_id(mode, self.names.owner))}
        if networking is not None and not isinstance(networking, dict):
            raise InvalidArgument("json: cannot unmarshal NetworkingConfig")
        raw_eps = (networking or {}).get("EndpointsConfig") or {}
        if not isinstance(raw_eps, dict):
            raise InvalidArgument("json: cannot unmarshal EndpointsConfig")
        primary = self.network(mode)
        keys = (mode, "default", primary.name, primary.id)
        out: dict[str, Any] = {}

        def add(net: Network, raw: Any) -> None:
            ep = check_endpoint_config(net.name, raw, not net.is_default)
            ep["NetworkID"] = net.id
            out[net.name] = ep

        add(primary, next((raw_eps[k] for k in keys if k in raw_eps), None))
        for key, raw in raw_eps.items():
            if key not in keys:
                add(self.network(key), raw)
        self.port_bindings(cfg, host)  # bad -p values fail at create
        return out

    @staticmethod
    def port_bindings(cfg: ContainerConfig, host: HostConfig) -> list[PortBinding]:
        """``PortBindings`` and, with ``-P``, every other exposed port on a random host port."""
        out: list[PortBinding] = []
        bound: set[str] = set()
        for key, binds in sorted(host.port_bindings.items()):
            port, proto = parse_exposed(key if "/" in key else key + "/tcp")
            bound.add(f"{port}/{proto}")
            for b in binds or ():
                ip = b.host_ip
                if ip:
                    try:
                        ip = str(IPv4Address(ip))
                    except ValueError:
                        if ip not in ("::", "0.0.0.0"):
                            raise InvalidArgument(f"invalid host IP address: {ip}") from None
                        ip = "0.0.0.0"
                lo = hi = 0
                if b.host_port and b.host_port != "0":  # "0": a random port, as ""
                    try:
                        lo, hi = parse_port_range(b.host_port.partition("/")[0])
                    except ValueError:
                        raise InvalidArgument(f"invalid hostPort: {b.host_port}") from None
                out.append(PortBinding(port, proto, ip, lo, hi))
        if host.publish_all_ports:
            for key in sorted(cfg.exposed_ports or ()):
                port, proto = parse_exposed(key)
                if f"{port}/{proto}" not in bound:
                    out.append(PortBinding(port, proto))
        return out

    # -- start and exit -----------------------------------------------------------------

    def attach(self, engine: Engine, rec: ContainerRecord, cfg: ContainerConfig,
               host: HostConfig, cdir: Path) -> StartNet:  # fmt: skip
        """Prepare the container's network before the runtime runs (see the module docstring)."""
        mode = mode_of(host)
        if mode in ("host", "none"):
            return StartNet(None)
        if is_container_mode(mode):
            return self._join(engine, mode.split(":", 1)[1])
        path = self.netns_path(rec.id)
        if path.exists():
            self.detach(rec.id, mode)
        networks = self.ordered(rec, mode)
        create_netns(path)
        try:
            eps: list[Endpoint] = []
            for name, conf in networks:
                eps.append(self._connect_one(rec, cfg, name, conf, str(path), first=not eps))
            bindings = self.port_bindings(cfg, host)
            if bindings and eps:
                try:
                    self.mgr.publish(rec.id, eps[0], bindings)
                except Conflict as exc:
                    raise Conflict(
                        f"driver failed programming external connectivity on endpoint {rec.name}"
                        f" ({endpoint_id(eps[0].network_id, rec.id)}): {exc.message}"
                    ) from None
            self.write_files(rec, cfg, host, cdir, eps)
        except BaseException:
            with contextlib.suppress(Exception):
                self.detach(rec.id, mode)
            raise
        return StartNet(str(path))

    def ordered(self, rec: ContainerRecord, mode: str) -> list[tuple[str, dict[str, Any]]]:
        """The container's networks, the one of its mode first."""
        nets: Mapping[str, Any] = rec.network_settings.get("Networks") or {}
        primary = self.network(mode).name
        # "host"/"none" entries: records made before bridge networking was the default
        items = sorted(((k, v) for k, v in nets.items() if k not in ("host", "none")),
                       key=lambda kv: (kv[0] != primary, kv[0]))  # fmt: skip
        if not items:
            items = [(primary, empty_endpoint())]
        return [(k, dict(v or {})) for k, v in items]

    def _connect_one(self, rec: ContainerRecord, cfg: ContainerConfig, name: str,
                     conf: Mapping[str, Any], path: str, *, first: bool) -> Endpoint:  # fmt: skip
        ref = str(conf.get("NetworkID") or "") or name
        try:
            net = self.network(ref)
        except NotFound:
            net = self.network(name)  # removed and made again under the same name
        ipam = conf.get("IPAMConfig") or {}
        mac = str(conf.get("MacAddress") or "") or (cfg.mac_address if first else "")
        return self.mgr.connect(
            net.id, rec.id, path, fresh=first,
            ip=str(ipam.get("IPv4Address") or "") or None,
            aliases=[] if net.is_default else list(conf.get("Aliases") or ()),
            mac=check_mac(mac) if mac else None, name=rec.name,
        )  # fmt: skip

    def _join(self, engine: Engine, ref: str) -> StartNet:
        target = engine.find(ref)
        pid = int(target.state.get("Pid") or 0)
        if not target.state.get("Running") or target.state.get("Restarting") or pid <= 0:
            raise Conflict(f"cannot join network of a non running container: {target.id}")
        own = self.netns_path(target.id)
        path = str(own) if own.exists() else f"/proc/{pid}/ns/net"
        self.shared.add(target.id)
        hostname = str(target.config.get("Hostname") or target.id[:12])
        return StartNet(path, hostname=hostname, files_dir=engine.container_dir(target.id))

    def write_files(self, rec: ContainerRecord, cfg: ContainerConfig, host: HostConfig,
                    cdir: Path, eps: Sequence[Endpoint]) -> None:  # fmt: skip
        """``hosts`` with the container's addresses and ``resolv.conf`` (embedded DNS or host's)."""
        extra = [netfiles.parse_add_host(h, _host_gateway(eps)) for h in host.extra_hosts or ()]
        hosts = netfiles.render_hosts(
            cfg.hostname, [str(e.ip) for e in eps[:1]] or ["127.0.0.1"],
            domainname=cfg.domainname, extra_hosts=extra,
        )  # fmt: skip
        nets = {n.id: n for n in self.mgr.list_networks()}
        dns_gw = next((str(e.gateway) for e in eps
                       if (n := nets.get(e.network_id)) and n.dns_enabled), None)  # fmt: skip
        resolv = netfiles.render_resolv_conf(
            netfiles.read_host_resolv_conf(), embedded_dns=dns_gw, dns=host.dns or (),
            dns_search=host.dns_search or (), dns_options=host.dns_options or (),
        )  # fmt: skip
        write_in_place(cdir / "hosts", hosts)
        write_in_place(cdir / "resolv.conf", resolv)

    def detach(self, cid: str, mode: str | None = None) -> None:
        """Drop the container's endpoints, ports, names, leases and namespace (idempotent)."""
        if mode is not None and not has_own_netns(mode):
            self.shared.discard(cid)
            return
        path = self.netns_path(cid)
        if self._mgr is not None or path.exists() or mode is not None:
            keep = cid not in self.shared  # a joined namespace outlives ours: delete veths
            self.mgr.disconnect_all(cid, keep_links=keep)
        self.shared.discard(cid)
        delete_netns(path)

    # -- connect / disconnect of a running container ------------------------------------

    def connect_running(self, rec: ContainerRecord, name: str, conf: Mapping[str, Any],
                        cdir: Path) -> None:  # fmt: skip
        """``network connect`` of a running container: a new interface in its namespace."""
        path = self.netns_path(rec.id)
        if not path.exists():
            raise Conflict(f"container {rec.id[:12]} has no network namespace of hull's")
        cfg = ContainerConfig.from_json(rec.config)
        self._connect_one(rec, cfg, name, conf, str(path), first=False)
        self.rewrite_hosts(rec, cdir)

    def rewrite_hosts(self, rec: ContainerRecord, cdir: Path) -> None:
        cfg = ContainerConfig.from_json(rec.config)
        host = HostConfig.from_json(rec.host_config)
        eps = self.mgr.endpoints(container_id=rec.id)
        order = {k: i for i, (k, _) in enumerate(self.ordered(rec, mode_of(host)))}
        names = {n.id: n.name for n in self.mgr.list_networks()}
        eps.sort(key=lambda e: order.get(names.get(e.network_id, ""), 99))
        extra = [netfiles.parse_add_host(h, _host_gateway(eps)) for h in host.extra_hosts or ()]
        hosts = netfiles.render_hosts(
            cfg.hostname, [str(e.ip) for e in eps[:1]] or ["127.0.0.1"],
            domainname=cfg.domainname, extra_hosts=extra,
        )  # fmt: skip
        write_in_place(cdir / "hosts", hosts)

    # -- daemon start -------------------------------------------------------------------

    def recover(self, live: Collection[str]) -> None:
        """Remove namespaces and endpoints of containers not in ``live``; restore the rest."""
        live = set(live)
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.netns_dir):
                if entry.name not in live:
                    delete_netns(entry.path)
        if self._db_path.exists() and self.mgr.list_networks():
            self.mgr.cleanup_stale(live)

    # -- inspect --------------------------------------------------------------------------

    def settings(
        self,
        rec: ContainerRecord,
        endpoints: Sequence[Endpoint] | None = None,
        ports: Sequence[PublishedPort] | None = None,
    ) -> dict[str, Any]:
        """Docker's ``NetworkSettings`` of a container, live figures from the store."""
        running = bool(rec.state.get("Running")) and not rec.state.get("Restarting")
        host = HostConfig.from_json(rec.host_config)
        mode = mode_of(host)
        eps: list[Endpoint] = []
        pub: list[PublishedPort] = []
        if running and has_own_netns(mode):
            mgr = self.mgr
            eps = [e for e in (mgr.store.endpoints() if endpoints is None else endpoints)
                   if e.container_id == rec.id]  # fmt: skip
            pub = list(mgr.ports(rec.id) if ports is None else
                       [p for p in ports if p.container_id == rec.id])  # fmt: skip
        by_net = {e.network_id: e for e in eps}
        nets: dict[str, Any] = {}
        top: dict[str, Any] = {"EndpointID": "", "Gateway": "", "IPAddress": "",
                               "IPPrefixLen": 0, "MacAddress": ""}  # fmt: skip
        for name, conf in (rec.network_settings.get("Networks") or {}).items():
            ep = {**empty_endpoint(), **(conf or {})}
            e = by_net.get(str(ep.get("NetworkID") or ""))
            if e is not None:
                ep.update(
                    EndpointID=endpoint_id(e.network_id, rec.id),
                    Gateway=str(e.gateway),
                    IPAddress=str(e.ip),
                    IPPrefixLen=e.prefixlen,
                    MacAddress=e.mac,
                    DNSNames=list(e.dns_names) if name != DEFAULT_NETWORK_NAME else None,
                )
                if name == DEFAULT_NETWORK_NAME:  # Docker fills the top level for bridge only
                    top = {k: ep[k] for k in top}
            nets[name] = ep
        return {
            "Bridge": "",
            "SandboxID": hashlib.sha256(f"sandbox/{rec.id}".encode()).hexdigest() if eps else "",
            "SandboxKey": str(self.netns_path(rec.id)) if eps else "",
            "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Ports": port_map(rec, pub, running and has_own_netns(mode)),
            "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
            **top, "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPv6Gateway": "",
            "Networks": nets,
        }  # fmt: skip


def port_map(rec: ContainerRecord, pub: Sequence[PublishedPort], running: bool) -> dict[str, Any]:
    """``NetworkSettings.Ports``: exposed ports (null when unpublished) → host bindings."""
    if not running:
        return {}
    out: dict[str, Any] = {k: None for k in (rec.config.get("ExposedPorts") or {})}
    for p in sorted(pub, key=lambda p: (p.container_port, p.protocol, p.host_port)):
        key = f"{p.container_port}/{p.protocol}"
        if out.get(key) is None:
            out[key] = []
        out[key].append({"HostIp": p.host_ip or "0.0.0.0", "HostPort": str(p.host_port)})
    return out


def ps_ports(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``ps``'s ``Ports`` list from ``NetworkSettings.Ports``."""
    out: list[dict[str, Any]] = []
    for key, binds in (settings.get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        if not binds:
            out.append({"PrivatePort": int(port), "Type": proto})
        for b in binds or ():
            out.append({"IP": b["HostIp"], "PrivatePort": int(port),
                        "PublicPort": int(b["HostPort"]), "Type": proto})  # fmt: skip
    return out


def _host_gateway(eps: Sequence[Endpoint]) -> str | None:
    return str(eps[0].gateway) if eps else None


def write_in_place(path: Path, text: str) -> None:
    """Rewrite a file keeping its inode: it is bind-mounted into a running container.

    A rename would leave the container looking at the old inode; the files are
    derived data rewritten at every start, so no fsync either.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        data = text.encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    finally:
        os.close(fd)


__all__ = [
    "Networking",
    "StartNet",
    "check_endpoint_config",
    "check_mac",
    "empty_endpoint",
    "endpoint_id",
    "has_own_netns",
    "is_container_mode",
    "mode_of",
    "port_map",
    "predefined_id",
    "ps_ports",
    "write_in_place",
]
