"""``NetworkManager``: the facade the engine calls to give containers networks.

It composes the parts of ``hull/network/``: the store (networks, leases,
endpoints, ports), IPAM, netlink (bridge, veth, addresses, routes), the nft
table (NAT, ports, isolation) and the embedded DNS server.

Lifecycle (engine side)::

    mgr = NetworkManager(store)            # at daemon start
    mgr.cleanup_stale(live_container_ids)  # re-create bridges/rules, drop leftovers of a crash
    mgr.connect("bridge", cid, "/proc/<pid>/ns/net")  → Endpoint
    mgr.publish(cid, endpoint, parse_port_spec("8080:80"))
    mgr.disconnect_all(cid)                # container stopped or removed
    mgr.reset()                            # hull system reset: nothing of hull remains

Crash safety: an endpoint is recorded before its veth is made and forgotten
after it is deleted, so ``cleanup_stale`` always knows what to remove.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from ipaddress import IPv4Interface, IPv4Network

from hull.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from hull.network import ipam
from hull.network.dns import DnsRegistry, DnsServer, DnsThread, resolvers_from
from hull.network.hostports import pick_host_port, probe
from hull.network.models import (
    DEFAULT_NETWORK_NAME,
    Endpoint,
    Network,
    PortBinding,
    PublishedPort,
)
from hull.network.netlink import Netlink, set_ipv4_conf
from hull.network.nft import NetworkRules, NftTable
from hull.network.store import NetworkStore

PREDEFINED = (DEFAULT_NETWORK_NAME, "host", "none")
LOOPBACK_INDEX = 1  # the kernel gives every namespace's lo index 1


def veth_name(network_id: str, container_id: str) -> str:
    """Host-side veth name: ``hl`` + 11 hex digits of a hash (≤ 15 characters)."""
    return "hl" + hashlib.sha256(f"{network_id}/{container_id}".encode()).hexdigest()[:11]


def _rules(net: Network) -> NetworkRules:
    return NetworkRules(net.id, net.bridge, net.subnet, net.internal)


class NetworkManager:
    """Networks, endpoints and published ports of one hull daemon."""

    def __init__(
        self,
        store: NetworkStore,
        *,
        default_bridge: str = "hull0",
        table: str = "hull",
        bridge_prefix: str = "hlbr-",
        pools: Sequence[IPv4Network] = ipam.DEFAULT_POOLS,
        mtu: int | None = None,
        dns_upstreams: Sequence[tuple[str, int]] | None = None,
        dns_port: int = 53,
        owner: str = "",
    ) -> None:
        self.store = store
        # written as each bridge's ifalias ("hull:<data root>"): see naming.sweep_orphans
        self.owner = owner
        self.default_bridge = default_bridge
        self.bridge_prefix = bridge_prefix
        self.pools = tuple(pools)
        self.nft = NftTable(table)
        self._lock = threading.RLock()
        self._nl: Netlink | None = None
        self._mtu = mtu
        self._dns_upstreams = dns_upstreams
        self._dns_port = dns_port
        self._dns: DnsThread | None = None
        self._held: dict[str, list[socket.socket]] = {}
        self._bridge_idx: dict[str, int] = {}

    # -- plumbing ----------------------------------------------------------
    @property
    def nl(self) -> Netlink:
        if self._nl is None:
            self._nl = Netlink()
        return self._nl

    @property
    def mtu(self) -> int:
        if self._mtu is None:
            self._mtu = self.nl.default_route_mtu()
        return self._mtu

    @property
    def dns(self) -> DnsThread:
        if self._dns is None:
            upstreams = self._dns_upstreams
            if upstreams is None:
                try:
                    with open("/etc/resolv.conf") as f:
                        upstreams = resolvers_from(f.read())
                except OSError:
                    upstreams = []
            self._dns = DnsThread(DnsServer(DnsRegistry(), upstreams, port=self._dns_port))
        return self._dns

    def close(self) -> None:
        """Release sockets and threads (leaves the kernel state in place)."""
        with self._lock:
            for socks in self._held.values():
                for s in socks:
                    s.close()
            self._held.clear()
            if self._dns is not None:
                self._dns.close()
                self._dns = None
            if self._nl is not None:
                self._nl.close()
                self._nl = None

    # -- networks ----------------------------------------------------------
    def list_networks(self) -> list[Network]:
        return self.store.networks()

    def get_network(self, ref: str) -> Network:
        """A network by name, full id or unique id prefix."""
        nets = self.store.networks()
        for n in nets:
            if ref in (n.name, n.id):
                return n
        matches = [n for n in nets if ref and n.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"network {ref} not found")

    def ensure_default_network(self) -> Network:
        """The default ``bridge`` network on ``default_bridge``, made on first use."""
        with self._lock:
            with contextlib.suppress(NotFound):
                return self.get_network(DEFAULT_NETWORK_NAME)
            return self._create(DEFAULT_NETWORK_NAME, None, None, False, {}, True, default=True)

    def create_network(
        self,
        name: str,
        subnet: str | None = None,
        gateway: str | None = None,
        internal: bool = False,
        labels: Mapping[str, str] | None = None,
        icc: bool = True,
    ) -> Network:
        """Create a user-defined bridge network (subnet chosen when not given)."""
        if not name or "/" in name or name != name.strip():
            raise InvalidArgument(f"invalid network name: {name!r}")
        if name in PREDEFINED:
            raise Conflict(f"{name} is a pre-defined network and cannot be created")
        with self._lock:
            return self._create(name, subnet, gateway, internal, dict(labels or {}), icc)

    def _create(
        self,
        name: str,
        subnet_text: str | None,
        gateway_text: str | None,
        internal: bool,
        labels: dict[str, str],
        icc: bool,
        *,
        default: bool = False,
    ) -> Network:
        subnet = ipam.parse_subnet(subnet_text) if subnet_text else None
        gateway = ipam.parse_address(gateway_text, "gateway") if gateway_text else None
        if gateway is not None and subnet is None:
            raise InvalidArgument("a gateway needs a subnet (--subnet)")
        host_routes = [r for r in self.nl.host_route_networks() if not self._is_our_route(r)]
        nid = secrets.token_hex(32)
        bridge = self.default_bridge if default else (self.bridge_prefix + nid)[:15]

        def choose(existing: list[Network]) -> Network:
            if any(n.name == name for n in existing):
                raise AlreadyExists(f"network with name {name} already exists")
            taken = [n.subnet for n in existing]
            if subnet is not None:
                ipam.check_subnet_free(subnet, taken)
                net_subnet = subnet
            else:
                net_subnet = ipam.choose_subnet(taken, host_routes, self.pools)
            gw = gateway or ipam.default_gateway(net_subnet)
            ipam.check_gateway(net_subnet, gw)
            return Network(
                id=nid,
                name=name,
                bridge=bridge,
                subnet=net_subnet,
                gateway=gw,
                internal=internal,
                icc=icc,
                labels=labels,
                created=time.time(),
                is_default=default,
            )

        net = self.store.add_network(choose)
        try:
            self._setup_network(net)
        except BaseException:
            with contextlib.suppress(Exception):
                self._teardown_network(net)
            self.store.remove_network(net.id)
            raise
        return net

    def _is_our_route(self, route: IPv4Network) -> bool:
        return any(route == n.subnet for n in self.store.networks())

    def _setup_network(self, net: Network) -> None:
        """Bridge up with its gateway address, nft rules, DNS listener (idempotent)."""
        self._bridge_idx.pop(net.bridge, None)
        self.nl.create_bridge(net.bridge, self.mtu, alias=self.owner)
        self.nl.add_address(net.bridge, IPv4Interface(f"{net.gateway}/{net.subnet.prefixlen}"))
        # lets DNATed 127.0.0.1 → container traffic leave through the bridge (see nft.py)
        set_ipv4_conf(net.bridge, "route_localnet", 1)
        self.nft.add_network(_rules(net))
        if net.dns_enabled:
            self.dns.registry.add_network(net.id, net.subnet)
            self.dns.listen(str(net.gateway))

    def _teardown_network(self, net: Network) -> None:
        self._bridge_idx.pop(net.bridge, None)
        if net.dns_enabled and self._dns is not None:
            self._dns.unlisten(str(net.gateway))
            self._dns.registry.remove_network(net.id)
        self.nft.remove_network(_rules(net))
        self.nl.delete_link(net.bridge)

    def remove_network(self, ref: str) -> None:
        """Remove a network; refused while containers are attached."""
        with self._lock:
            net = self.get_network(ref)
            if net.is_default:
                raise Conflict(f"{net.name} is a pre-defined network and cannot be removed")
            if self.store.endpoints(net.id):
                raise Conflict(
                    f"error while removing network: network {net.name} id {net.id}"
                    " has active endpoints"
                )
            self._teardown_network(net)
            self.store.remove_network(net.id)

    # -- endpoints ---------------------------------------------------------
    def endpoints(
        self, network: str | None = None, container_id: str | None = None
    ) -> list[Endpoint]:
        nid = self.get_network(network).id if network is not None else None
        eps = self.store.endpoints(nid)
        return [e for e in eps if container_id is None or e.container_id == container_id]

    def connect(
        self,
        network: str,
        container_id: str,
        netns_path: str,
        *,
        ip: str | None = None,
        aliases: Iterable[str] = (),
        mac: str | None = None,
        name: str = "",
        fresh: bool = False,
    ) -> Endpoint:
        """Attach a container's namespace: veth, address, routes, DNS records.

        ``fresh``: the namespace was just made and holds only ``lo`` (the engine's
        start path), so the interface is ``eth0`` and there is no default route
        yet: two dumps of the namespace are skipped.
        """
        aliases = tuple(aliases)
        with self._lock:
            if network == DEFAULT_NETWORK_NAME:
                net = self.ensure_default_network()
            else:
                net = self.get_network(network)
            if net.is_default and ip:
                raise InvalidArgument(
                    "user specified IP address is supported on user defined networks only"
                )
            if net.is_default and aliases:
                raise InvalidArgument(
                    "network-scoped alias is supported only for containers in user defined networks"
                )
            if any(e.container_id == container_id for e in self.store.endpoints(net.id)):
                raise AlreadyExists(
                    f"endpoint with name {name or container_id[:12]} already exists in network"
                    f" {net.name}"
                )
            requested = ipam.parse_address(ip) if ip else None
            addr = ipam.allocate(
                self.store, net.id, net.subnet, net.gateway, container_id, requested
            )
            veth = veth_name(net.id, container_id)
            ep: Endpoint | None = None
            try:
                with Netlink(netns_path) as inner:
                    if fresh:
                        ifname = "eth0"
                    else:
                        names = {link.name for link in inner.links()}
                        ifname = next(f"eth{i}" for i in range(1024) if f"eth{i}" not in names)
                    ep = Endpoint(
                        network_id=net.id,
                        container_id=container_id,
                        ip=addr,
                        prefixlen=net.subnet.prefixlen,
                        gateway=net.gateway,
                        mac=mac or ipam.mac_for(addr),
                        host_veth=veth,
                        ifname=ifname,
                        netns_path=str(netns_path),
                        name=name,
                        aliases=aliases,
                    )
                    self.store.add_endpoint(ep)
                    # one request: veth, its peer's MAC, enslaved to the bridge, up
                    self._create_veth(veth, netns_path, ifname, self._bridge_index(net.bridge),
                                      ep.mac)  # fmt: skip
                    self.nl.set_bridge_port(veth, hairpin=True, isolated=not net.icc or None)
                    inner_idx = inner.index(ifname)
                    if inner_idx is None:
                        raise OSError(errno.ENODEV, os.strerror(errno.ENODEV), ifname)
                    inner.set_link(inner_idx, up=True)
                    inner.set_link(LOOPBACK_INDEX, up=True)
                    inner.add_address(inner_idx, IPv4Interface(f"{addr}/{net.subnet.prefixlen}"))
                    if not net.internal and (fresh or not inner.has_default_route()):
                        inner.add_default_route(net.gateway)
            except BaseException:
                self._bridge_idx.pop(net.bridge, None)  # deleted behind our back, maybe
                with contextlib.suppress(Exception):
                    self.nl.delete_link(veth)
                if ep is not None:
                    self.store.remove_endpoint(net.id, container_id)
                self.store.release_address(net.id, addr)
                raise
            if net.dns_enabled:
                self.dns.registry.add_endpoint(net.id, container_id, addr, ep.dns_names)
            return ep

    def _create_veth(self, veth: str, netns_path: str, ifname: str, master: int, mac: str) -> None:
        """The veth pair, up on ``master``; a stale host end of the same name is replaced.

        A container's previous run leaves its veth to the kernel, which
        deletes it with the namespace, asynchronously: a quick restart can
        find it still there. The name is ours (a hash of network and
        container), so it is deleted, synchronously this once.
        """
        for attempt in (0, 1):
            try:
                self.nl.create_veth(veth, netns_path, ifname, self.mtu, master=master,
                                    peer_mac=mac, up=True)  # fmt: skip
                return
            except OSError as exc:
                if exc.errno != errno.EEXIST or attempt:
                    raise
                self.nl.delete_link(veth)

    def disconnect(self, network: str, container_id: str) -> None:
        """Detach a container from one network: veth, lease, ports, DNS records."""
        with self._lock:
            net = self.get_network(network)
            eps = [e for e in self.store.endpoints(net.id) if e.container_id == container_id]
            if not eps:
                raise NotFound(
                    f"container {container_id[:12]} is not connected to network {net.name}"
                )
            self._teardown_endpoint(net, eps[0])

    def disconnect_all(self, container_id: str, *, keep_links: bool = False) -> None:
        """Detach a container from every network and unpublish its ports.

        ``keep_links``: the caller is about to destroy the container's namespace,
        and the kernel then removes the veths itself, asynchronously; deleting
        each one here would cost ~10 ms of ``synchronize_net`` on the exit path.
        """
        with self._lock:
            self.unpublish(container_id)
            nets = {n.id: n for n in self.store.networks()}
            for ep in self.store.endpoints():
                if ep.container_id == container_id and ep.network_id in nets:
                    self._teardown_endpoint(nets[ep.network_id], ep, keep_link=keep_links)

    def _teardown_endpoint(self, net: Network, ep: Endpoint, *, keep_link: bool = False) -> None:
        ports = [p for p in self.store.ports(ep.container_id) if p.network_id == net.id]
        if ports:
            self.unpublish(ep.container_id)
        if self._dns is not None:
            self._dns.registry.remove_endpoint(net.id, ep.container_id)
        if not keep_link:
            self.nl.delete_link(ep.host_veth)  # takes the peer in the container with it
        self.store.remove_endpoint(net.id, ep.container_id)
        self.store.release_address(net.id, ep.ip)

    def _bridge_index(self, bridge: str) -> int:
        """The bridge's link index, remembered (a lookup is a netlink round trip)."""
        idx = self._bridge_idx.get(bridge)
        if idx is None:
            idx = self.nl.index(bridge)
            if idx is None:
                raise NotFound(f"bridge {bridge} does not exist: restart hulld to re-create it")
            self._bridge_idx[bridge] = idx
        return idx

    # -- published ports ---------------------------------------------------
    def publish(
        self, container_id: str, endpoint: Endpoint, ports: Sequence[PortBinding]
    ) -> list[PublishedPort]:
        """Choose host ports (probing them with a bind), record them, add the DNAT rules.

        The probing sockets are kept open (TCP ones listening) while the ports
        are published, so no host process can take a port hull has handed out;
        traffic never reaches them, DNAT happens first.
        """
        with self._lock:
            nets = {n.id: n for n in self.store.networks()}
            net = nets.get(endpoint.network_id)
            if net is None:
                raise NotFound(f"network {endpoint.network_id} not found")
            if net.internal or not ports:
                return []
            held: list[socket.socket] = []

            def choose(existing: list[PublishedPort]) -> list[PublishedPort]:
                out: list[PublishedPort] = []
                for b in ports:
                    port, sock = pick_host_port(b, [*existing, *out])
                    held.append(sock)
                    out.append(
                        PublishedPort(
                            container_id=container_id,
                            network_id=net.id,
                            protocol=b.protocol,
                            host_ip=b.bind_ip,
                            host_port=port,
                            container_ip=endpoint.ip,
                            container_port=b.container_port,
                        )
                    )
                return out

            try:
                new = self.store.add_ports(choose)
            except BaseException:
                for s in held:
                    s.close()
                raise
            try:
                self.nft.add_ports(container_id, new)
            except BaseException:
                self.store.remove_ports(container_id, net.id)
                for s in held:
                    s.close()
                raise
            self._held.setdefault(container_id, []).extend(held)
            return new

    def unpublish(self, container_id: str) -> None:
        """Remove a container's DNAT rules and release its host ports."""
        with self._lock:
            # listing the table costs an nft process: only when there is something to remove
            if self.store.ports(container_id) or container_id in self._held:
                self.nft.remove_owner(container_id)
            self.store.remove_ports(container_id)
            for s in self._held.pop(container_id, []):
                s.close()

    def ports(self, container_id: str | None = None) -> list[PublishedPort]:
        return self.store.ports(container_id)

    # -- daemon start, reset -----------------------------------------------
    def restore(self) -> None:
        """Re-create bridges, rules, DNS listeners and port reservations from the store."""
        with self._lock:
            nets = {n.id: n for n in self.store.networks()}
            for net in nets.values():
                self._setup_network(net)
            for ep in self.store.endpoints():
                owner = nets.get(ep.network_id)
                if owner is not None and owner.dns_enabled:
                    self.dns.registry.add_endpoint(owner.id, ep.container_id, ep.ip, ep.dns_names)
            owners_in_table = self.nft.owners()
            by_owner: dict[str, list[PublishedPort]] = {}
            for p in self.store.ports():
                by_owner.setdefault(p.container_id, []).append(p)
            for cid, plist in by_owner.items():
                if cid not in owners_in_table:
                    self.nft.add_ports(cid, plist)
                if cid not in self._held:
                    socks = []
                    for p in plist:
                        with contextlib.suppress(OSError):
                            socks.append(probe(p.protocol, p.host_ip, p.host_port))
                    self._held[cid] = socks

    def cleanup_stale(self, live_containers: Collection[str]) -> None:
        """At daemon start: restore, then remove everything of containers not in ``live``."""
        live = set(live_containers)
        with self._lock:
            self.restore()
            nets = {n.id: n for n in self.store.networks()}
            for ep in self.store.endpoints():
                alive = ep.container_id in live and os.path.exists(ep.netns_path)
                if not alive and ep.network_id in nets:
                    with contextlib.suppress(OSError):
                        self._teardown_endpoint(nets[ep.network_id], ep)
            for p in self.store.ports():
                if p.container_id not in live:
                    self.unpublish(p.container_id)
            for owner in self.nft.owners() - live:
                self.nft.remove_owner(owner)
            for net in nets.values():
                for addr, owner in self.store.leases(net.id).items():
                    if owner not in live:
                        self.store.release_address(net.id, addr)
            # veths on hull bridges that no endpoint knows (a crash before the record)
            known = {e.host_veth for e in self.store.endpoints()}
            links = self.nl.links()
            bridges = {
                link.index for link in links if link.name in {n.bridge for n in nets.values()}
            }
            for link in links:
                if link.master in bridges and link.name not in known:
                    self.nl.delete_link(link.name)

    def reset(self) -> None:
        """Remove everything hull made: veths, bridges, the nft table, DNS records, state."""
        with self._lock:
            for socks in self._held.values():
                for s in socks:
                    s.close()
            self._held.clear()
            self._bridge_idx.clear()
            nets = self.store.networks()
            for ep in self.store.endpoints():
                with contextlib.suppress(OSError):
                    self.nl.delete_link(ep.host_veth)
            for net in nets:
                if self._dns is not None:
                    with contextlib.suppress(Exception):
                        self._dns.unlisten(str(net.gateway))
                    self._dns.registry.remove_network(net.id)
                with contextlib.suppress(OSError):
                    self.nl.delete_link(net.bridge)
            self.nft.delete()
            self.store.wipe()


__all__ = ["PREDEFINED", "NetworkManager", "veth_name"]
