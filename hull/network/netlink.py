"""Netlink operations on links, addresses and routes: the only module that uses pyroute2.

Host side: bridges (created with an MTU, brought up), veth pairs whose peer the
kernel creates directly inside the container's network namespace (named
``eth0`` there; no rename, no clash with the host's own ``eth0``), bridge-port
flags (``isolated`` for ``icc=false``, hairpin), addresses, the host's routes
and default-route MTU, and per-interface IPv4 sysctls.

Inside a namespace: a netlink socket is opened by a short-lived thread that
``setns()``-es into the namespace file (``/proc/<pid>/ns/net`` or a bind
mount such as ``/run/netns/<name>``); a netlink socket stays bound to the
namespace it was created in, so the thread can exit and the socket is used
from anywhere. Joining a network namespace affects only the calling thread, so
this is safe in a multi-threaded daemon and costs no fork.

pyroute2 is untyped: its answers are converted here into the frozen
dataclasses below and never leak out. Errors become ``OSError`` (errno, text,
object name) or a ``HullError``.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    ip_network,
)
from pathlib import Path
from typing import Any, TypeVar

from pyroute2 import IPRoute  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from hull import linux
from hull.linux import setns

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
AF_INET = socket.AF_INET
RT_TABLE_MAIN = 254


@dataclass(frozen=True)
class LinkInfo:
    index: int
    name: str
    kind: str
    master: int
    mtu: int
    mac: str
    up: bool
    alias: str = ""


@dataclass(frozen=True)
class RouteInfo:
    dst: IPv4Network
    oif: int
    gateway: IPv4Address | None
    mtu: int


def _oserror(exc: NetlinkError, what: str) -> OSError:
    code = int(exc.code) if isinstance(exc.code, int) else errno.EIO
    return OSError(code, os.strerror(code), what)


def run_in_netns(netns_path: str | Path, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread that joined the network namespace at ``netns_path``."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            fd = os.open(str(netns_path), os.O_RDONLY | os.O_CLOEXEC)
            try:
                setns(fd, CLONE_NEWNET)
            finally:
                os.close(fd)
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=target, name="hull-netns")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result


def _netlink_socket_in(netns_path: str | Path) -> socket.socket:
    return run_in_netns(
        netns_path,
        lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, 0),
    )


class Netlink:
    """An rtnetlink handle on one namespace: the host's, or the one at ``netns_path``."""

    def __init__(self, netns_path: str | Path | None = None) -> None:
        self.netns_path = netns_path
        if netns_path is None:
            self._ipr: Any = IPRoute()
        else:
            self._ipr = IPRoute(use_socket=_netlink_socket_in(netns_path))

    def close(self) -> None:
        self._ipr.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except NetlinkError as exc:
            raise _oserror(exc, what) from exc

    # -- links -------------------------------------------------------------
    def index(self, name: str) -> int | None:
        """The index of link ``name``, or None when there is none."""
        found = self._call(name, lambda: self._ipr.link_lookup(ifname=name))
        return int(found[0]) if found else None

    def _require(self, name: str | int) -> int:
        if isinstance(name, int):  # already an index: no lookup round trip
            return name
        idx = self.index(name)
        if idx is None:
            raise OSError(errno.ENODEV, os.strerror(errno.ENODEV), name)
        return idx

    def links(self) -> list[LinkInfo]:
        out = []
        for msg in self._call("links", lambda: self._ipr.get_links()):
            info = msg.get_attr("IFLA_LINKINFO")
            kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
            out.append(
                LinkInfo(
                    index=int(msg["index"]),
                    name=str(msg.get_attr("IFLA_IFNAME")),
                    kind=str(kind or ""),
                    master=int(msg.get_attr("IFLA_MASTER") or 0),
                    mtu=int(msg.get_attr("IFLA_MTU") or 0),
                    mac=str(msg.get_attr("IFLA_ADDRESS") or ""),
                    up=bool(int(msg["flags"]) & 1),
                    alias=str(msg.get_attr("IFLA_IFALIAS") or ""),
                )
            )
        return out

    def create_bridge(self, name: str, mtu: int, alias: str = "") -> int:
        """Create bridge ``name`` (if missing) with ``mtu``, bring it up; return its index.

        ``alias`` (the link's ``ifalias``) marks who owns the bridge, so leftovers
        of a data root that no longer exists can be recognised and removed.
        """
        idx = self.index(name)
        if idx is None:
            # a fixed MAC: otherwise the bridge takes its lowest port's, which changes
            # when that container leaves and strands the others' ARP entries
            mac = random_mac()
            self._call(
                name,
                lambda: self._ipr.link("add", ifname=name, kind="bridge", mtu=mtu, address=mac),
            )
            idx = self._require(name)
        kw: dict[str, Any] = {"mtu": mtu, "state": "up"}
        if alias:
            kw["ifalias"] = alias
        self._call(name, lambda: self._ipr.link("set", index=idx, **kw))
        return idx

    def delete_link(self, name: str) -> bool:
        """Delete link ``name``; False when it was not there."""
        idx = self.index(name)
        if idx is None:
            return False
        try:
            self._ipr.link("del", index=idx)
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:
                return False
            raise _oserror(exc, name) from exc
        return True

    def set_link(
        self,
        name: str | int,
        *,
        mtu: int | None = None,
        mac: str | None = None,
        master: str | int | None = None,
        up: bool | None = None,
    ) -> None:
        """Change MTU, MAC, bridge master and state of link ``name`` in one request."""
        idx = self._require(name)
        kw: dict[str, Any] = {}
        if mtu is not None:
            kw["mtu"] = mtu
        if mac is not None:
            kw["address"] = mac
        if master is not None:
            kw["master"] = self._require(master)
        if up is not None:
            kw["state"] = "up" if up else "down"
        if kw:
            self._call(str(name), lambda: self._ipr.link("set", index=idx, **kw))

    def set_bridge_port(
        self, name: str | int, *, isolated: bool | None = None, hairpin: bool | None = None
    ) -> None:
        """Bridge-port flags: ``isolated`` (no forwarding to other isolated ports), hairpin."""
        idx = self._require(name)
        kw: dict[str, Any] = {}
        if isolated is not None:
            kw["isolated"] = int(isolated)
        if hairpin is not None:
            kw["mode"] = int(hairpin)
        if kw:
            self._call(str(name), lambda: self._ipr.brport("set", index=idx, **kw))

    def bridge_port_isolated(self, name: str) -> bool:
        idx = self._require(name)
        msgs = self._call(name, lambda: self._ipr.brport("show", index=idx))
        for msg in msgs:
            pinfo = msg.get_attr("IFLA_PROTINFO")
            if pinfo is not None:
                return bool(pinfo.get_attr("IFLA_BRPORT_ISOLATED"))
        return False

    def create_veth(
        self,
        host_name: str,
        netns_path: str | Path,
        peer_name: str = "eth0",
        mtu: int = 1500,
        *,
        master: int | None = None,
        peer_mac: str | None = None,
        up: bool = False,
    ) -> None:
        """A veth pair: ``host_name`` here, ``peer_name`` created inside ``netns_path``.

        One request also enslaves the host end to bridge index ``master``, brings
        it up and sets the peer's MAC (each would otherwise be a round trip).
        """
        fd = os.open(str(netns_path), os.O_RDONLY | os.O_CLOEXEC)
        peer: dict[str, Any] = {"ifname": peer_name, "net_ns_fd": fd, "mtu": mtu}
        if peer_mac:
            peer["address"] = peer_mac
        kw: dict[str, Any] = {}
        if master is not None:
            kw["master"] = master
        if up:
            kw["state"] = "up"
        try:
            self._call(
                host_name,
                lambda: self._ipr.link(
                    "add", ifname=host_name, kind="veth", mtu=mtu, peer=peer, **kw
                ),
            )
        finally:
            os.close(fd)

    # -- addresses ---------------------------------------------------------
    def add_address(self, name: str | int, iface: IPv4Interface | IPv6Interface) -> None:
        """Add ``iface`` (address/prefix) to link ``name``; present already is fine."""
        idx = self._require(name)
        try:
            self._ipr.addr(
                "add", index=idx, address=str(iface.ip), prefixlen=iface.network.prefixlen
            )
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise _oserror(exc, f"{name} {iface}") from exc

    def delete_address(self, name: str, iface: IPv4Interface | IPv6Interface) -> None:
        idx = self._require(name)
        try:
            self._ipr.addr(
                "del", index=idx, address=str(iface.ip), prefixlen=iface.network.prefixlen
            )
        except NetlinkError as exc:
            if exc.code not in (errno.EADDRNOTAVAIL, errno.ENOENT):
                raise _oserror(exc, f"{name} {iface}") from exc

    def addresses(self, name: str) -> list[IPv4Interface | IPv6Interface]:
        idx = self._require(name)
        out: list[IPv4Interface | IPv6Interface] = []
        for msg in self._call(name, lambda: self._ipr.get_addr(index=idx)):
            addr = msg.get_attr("IFA_ADDRESS")
            plen = int(msg["prefixlen"])
            if int(msg["family"]) == AF_INET:
                out.append(IPv4Interface(f"{addr}/{plen}"))
            else:
                out.append(IPv6Interface(f"{addr}/{plen}"))
        return out

    # -- routes ------------------------------------------------------------
    def add_default_route(self, gateway: IPv4Address | IPv6Address) -> None:
        dst = "0.0.0.0/0" if isinstance(gateway, IPv4Address) else "::/0"
        try:
            self._ipr.route("add", dst=dst, gateway=str(gateway))
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise _oserror(exc, f"default via {gateway}") from exc

    def routes(self) -> list[RouteInfo]:
        """IPv4 unicast routes of the main table."""
        out = []
        for msg in self._call("routes", lambda: self._ipr.get_routes(family=AF_INET)):
            table = msg.get_attr("RTA_TABLE") or msg["table"]
            if int(table) != RT_TABLE_MAIN or int(msg["type"]) != 1:
                continue
            dst = msg.get_attr("RTA_DST") or "0.0.0.0"
            gw = msg.get_attr("RTA_GATEWAY")
            mtu = 0
            metrics = msg.get_attr("RTA_METRICS")
            if metrics is not None:
                mtu = int(metrics.get_attr("RTAX_MTU") or 0)
            out.append(
                RouteInfo(
                    dst=IPv4Network(f"{dst}/{int(msg['dst_len'])}", strict=False),
                    oif=int(msg.get_attr("RTA_OIF") or 0),
                    gateway=IPv4Address(gw) if gw else None,
                    mtu=mtu,
                )
            )
        return out

    def has_default_route(self) -> bool:
        return any(r.dst.prefixlen == 0 for r in self.routes())

    def host_route_networks(self) -> list[IPv4Network]:
        """Destinations of the host's non-default routes (subnets a new network must avoid)."""
        return [r.dst for r in self.routes() if r.dst.prefixlen > 0]

    def default_route_mtu(self, fallback: int = 1500) -> int:
        """MTU of the default route (its own metric, else its device's); ``fallback`` if none."""
        mtus = {link.index: link.mtu for link in self.links()}
        for r in self.routes():
            if r.dst.prefixlen == 0:
                return r.mtu or mtus.get(r.oif, fallback) or fallback
        return fallback


def create_netns(path: str | Path) -> None:
    """A new, empty network namespace kept alive by a bind mount on ``path``.

    A short-lived thread ``unshare``-s its own network namespace (only that
    thread changes; safe in a multi-threaded daemon) and bind-mounts it on
    ``path``, as ``ip netns add`` does; the namespace then outlives the thread.
    """
    path = Path(path)
    path.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)

    def make() -> None:
        linux.unshare(CLONE_NEWNET)
        linux.mount("/proc/thread-self/ns/net", str(path), None, linux.MS_BIND, None)

    box: dict[str, BaseException] = {}

    def target() -> None:
        try:
            make()
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=target, name="hull-netns-new")
    t.start()
    t.join()
    if "error" in box:
        path.unlink(missing_ok=True)
        exc = box["error"]
        raise exc


def delete_netns(path: str | Path) -> None:
    """Unmount and remove a namespace file made by ``create_netns`` (missing is fine).

    The kernel destroys the namespace, and the veth peers inside it with their
    host ends, once nothing else holds it: asynchronously, in its own worker,
    which is why container exits do not wait for the slow veth deletion.
    """
    path = Path(path)
    try:
        linux.umount2(str(path), linux.MNT_DETACH)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOENT):
            raise
    path.unlink(missing_ok=True)


def random_mac() -> str:
    """A random unicast, locally administered MAC address."""
    b = bytearray(os.urandom(6))
    b[0] = (b[0] & 0xFE) | 0x02
    return ":".join(f"{x:02x}" for x in b)


def set_ipv4_conf(ifname: str, key: str, value: int) -> None:
    """Write ``/proc/sys/net/ipv4/conf/<ifname>/<key>`` (only ever for hull's bridges)."""
    if "/" in ifname or ifname in ("all", "default", ".", ".."):
        raise ValueError(f"refusing to set {key} on {ifname!r}")
    Path(f"/proc/sys/net/ipv4/conf/{ifname}/{key}").write_text(f"{value}\n")


def ipv6_enabled() -> bool:
    return Path("/proc/net/if_inet6").exists()


def as_network(text: str) -> IPv4Network:
    net = ip_network(text, strict=False)
    if not isinstance(net, IPv4Network):
        raise ValueError(f"not an IPv4 network: {text}")
    return net


__all__ = [
    "LinkInfo",
    "Netlink",
    "RouteInfo",
    "create_netns",
    "delete_netns",
    "ipv6_enabled",
    "run_in_netns",
    "set_ipv4_conf",
]
