"""Bridge networks against the real kernel: reachability, DNS, isolation, NAT, ports, cleanup.

Root only. Every namespace, bridge, veth and nft table is the test's own and
is removed in a finally block; traffic stays in 10.213.0.0/16 and 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hull.errors import Conflict, InvalidArgument, NotFound
from hull.network import dns, parse_port_spec
from hull.network.manager import NetworkManager
from hull.network.netlink import run_in_netns
from hull.network.store import SqliteNetworkStore


def rand(prefix: str = "hl") -> str:
    return prefix + secrets.token_hex(4)


def host_routes() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(["ip", "-j", "-4", "route"], capture_output=True, text=True, check=True)
    nets = []
    for r in json.loads(out.stdout):
        dst = r.get("dst", "default")
        if dst != "default":
            nets.append(ipaddress.IPv4Network(dst if "/" in dst else dst + "/32", strict=False))
    return nets


def free_subnets(n: int) -> list[ipaddress.IPv4Network]:
    """``n`` random /24s of 10.213.0.0/16 overlapping no host route."""
    taken = host_routes()
    out: list[ipaddress.IPv4Network] = []
    while len(out) < n:
        k = secrets.randbelow(250) + 2
        cand = ipaddress.IPv4Network(f"10.213.{k}.0/24")
        if not any(cand.overlaps(t) for t in taken) and cand not in out:
            out.append(cand)
    return out


class Netns:
    def __init__(self) -> None:
        self.name = rand()
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.path = f"/run/netns/{self.name}"

    def run(self, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ping(self, addr: str) -> bool:
        return self.run("busybox", "ping", "-c", "1", "-W", "1", addr).returncode == 0

    def call(self, fn: Callable[[], object]) -> object:
        return run_in_netns(self.path, fn)

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)


@contextlib.contextmanager
def netns_factory() -> Iterator[Callable[[], Netns]]:
    made: list[Netns] = []

    def make() -> Netns:
        ns = Netns()
        made.append(ns)
        return ns

    try:
        yield make
    finally:
        for ns in made:
            ns.delete()


class FakeUpstream:
    """A DNS server on 127.0.0.1 answering ``upstream.test`` and NXDOMAIN otherwise."""

    ANSWER = "10.213.254.254"

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.queries: list[str] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            q = dns.parse_question(data)
            self.queries.append(q.name)
            if q.name == "upstream.test":
                out = dns.build_response(data, q, [self.ANSWER])
            else:
                out = dns.build_response(data, q, [], dns.RCODE_NXDOMAIN)
            self.sock.sendto(out, addr)

    def close(self) -> None:
        # stop and join before closing: a thread still using the fd number after
        # close() could read from whatever socket reuses it next
        self._stop.set()
        self._t.join()
        self.sock.close()


@contextlib.contextmanager
def manager(tmp_path: Path) -> Iterator[NetworkManager]:
    """A manager with its own store, bridge prefix, nft table and fake DNS upstream."""
    up = FakeUpstream()
    store = SqliteNetworkStore(tmp_path / "net.db")
    tag = secrets.token_hex(3)
    mgr = NetworkManager(
        store,
        default_bridge=f"hl{tag}d",
        table=f"hull_t{tag}",
        bridge_prefix=f"hl{tag}",
        pools=free_subnets(3),
        dns_upstreams=[("127.0.0.1", up.port)],
    )
    try:
        yield mgr
    finally:
        try:
            mgr.reset()
        finally:
            mgr.close()
            store.close()
            up.close()


def dns_query(
    ns: Netns, server: str, name: str, qtype: int = dns.TYPE_A, tcp: bool = False
) -> tuple[int, list[str]]:
    """Ask ``server:53`` from inside ``ns``; (rcode, addresses)."""
    query = dns.build_query(name, qtype)

    def ask() -> bytes:
        if tcp:
            with socket.create_connection((server, 53), timeout=3) as s:
                s.sendall(len(query).to_bytes(2, "big") + query)
                n = int.from_bytes(s.recv(2), "big")
                data = b""
                while len(data) < n:
                    data += s.recv(n - len(data))
                return data
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            s.sendto(query, (server, 53))
            return s.recv(4096)

    data = ns.call(ask)
    assert isinstance(data, bytes)
    return dns.parse_answers(data)


class TcpServer:
    """A TCP server whose listening socket lives in ``ns`` (or the host when None).

    Each connection gets ``b"hello from <addr>\\n"`` naming the peer address it saw.
    """

    def __init__(self, ns: Netns | None, addr: str, port: int = 0) -> None:
        def make() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
            s.listen(8)
            return s

        sock = ns.call(make) if ns is not None else make()
        assert isinstance(sock, socket.socket)
        sock.settimeout(0.2)
        self.sock = sock
        self.port = int(sock.getsockname()[1])
        self.peers: list[str] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                self.peers.append(peer[0])
                conn.sendall(f"hello from {peer[0]}\n".encode())

    def close(self) -> None:
        self._stop.set()
        self._t.join()
        self.sock.close()


def tcp_get(ns: Netns | None, addr: str, port: int, timeout: float = 3) -> str:
    def get() -> str:
        with socket.create_connection((addr, port), timeout=timeout) as s:
            return s.recv(200).decode()

    out = ns.call(get) if ns is not None else get()
    assert isinstance(out, str)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def link_names() -> set[str]:
    out = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True)
    return {link["ifname"] for link in json.loads(out.stdout)}


def nft_tables() -> str:
    return subprocess.run(
        ["nft", "list", "tables"], capture_output=True, text=True, check=True
    ).stdout


pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root and a real kernel"),
]


def test_two_containers_reach_and_resolve_each_other(tmp_path: Path) -> None:
    with manager(tmp_path) as mgr, netns_factory() as mkns:
        (sub,) = free_subnets(1)
        net = mgr.create_network(rand("n"), subnet=str(sub))
        assert str(net.gateway) == str(sub.network_address + 1)
        a, b = mkns(), mkns()
        ea = mgr.connect(net.name, "a" * 64, a.path, name="alpha", aliases=["web"])
        eb = mgr.connect(net.name, "b" * 64, b.path, name="beta")
        assert ea.ip != eb.ip and ea.ifname == "eth0"
        assert a.ping(str(eb.ip)) and b.ping(str(ea.ip))
        # names, aliases and short ids through the DNS server on the gateway
        assert dns_query(a, str(net.gateway), "beta") == (0, [str(eb.ip)])
        assert dns_query(b, str(net.gateway), "web") == (0, [str(ea.ip)])
        assert dns_query(b, str(net.gateway), "ALPHA.") == (0, [str(ea.ip)])
        assert dns_query(b, str(net.gateway), "a" * 12, tcp=True) == (0, [str(ea.ip)])
        assert dns_query(b, str(net.gateway), "alpha", dns.TYPE_AAAA) == (0, [])
        # anything else goes to the host's resolvers (here a fake on 127.0.0.1)
        assert dns_query(a, str(net.gateway), "upstream.test") == (0, [FakeUpstream.ANSWER])
        assert dns_query(a, str(net.gateway), "nope.test")[0] == dns.RCODE_NXDOMAIN
        # MAC, MTU and routes inside the namespace
        out = a.run("ip", "-o", "link", "show", "eth0").stdout
        assert ea.mac in out and f"mtu {mgr.mtu}" in out
        assert f"default via {net.gateway}" in a.run("ip", "route").stdout
        # disconnect removes the veth, the lease and the name
        mgr.disconnect(net.name, "b" * 64)
        assert eb.host_veth not in link_names()
        assert "eth0" not in b.run("ip", "-o", "link").stdout
        assert dns_query(a, str(net.gateway), "beta")[0] == dns.RCODE_NXDOMAIN
        again = mgr.connect(net.name, "c" * 64, b.path)
        assert again.ip == eb.ip  # the freed address is handed out again


def test_networks_are_isolated(tmp_path: Path) -> None:
    with manager(tmp_path) as mgr, netns_factory() as mkns:
        s1, s2 = free_subnets(2)
        n1 = mgr.create_network(rand("n"), subnet=str(s1))
        n2 = mgr.create_network(rand("n"), subnet=str(s2))
        a, b, other = mkns(), mkns(), mkns()
        ea = mgr.connect(n1.name, "a" * 64, a.path, name="alpha")
        mgr.connect(n1.name, "b" * 64, b.path, name="beta")
        eo = mgr.connect(n2.name, "o" * 64, other.path, name="other")
        assert not other.ping(str(ea.ip))
        assert not a.ping(str(eo.ip))
        assert a.ping(str(n1.gateway))
        # names of another network are not answered (forwarded, and unknown upstream)
        assert dns_query(other, str(n2.gateway), "alpha")[0] == dns.RCODE_NXDOMAIN
        assert dns_query(other, str(n2.gateway), "other") == (0, [str(eo.ip)])
        # a container joining both networks sees both
        eboth = mgr.connect(n2.name, "b" * 64, b.path)
        assert eboth.ifname == "eth1"
        assert b.ping(str(eo.ip)) and b.ping(str(ea.ip))
        assert dns_query(b, str(n1.gateway), "other") == (0, [str(eo.ip)])


def _outside(mkns: Callable[[], Netns], veth: str) -> tuple[Netns, str, str]:
    """A netns "outside" reachable only through the host's routing, via host veth ``veth``."""
    ns = mkns()
    (sub,) = free_subnets(1)
    host_ip, out_ip = str(sub.network_address + 1), str(sub.network_address + 2)
    subprocess.run(
        ["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns.name],
        check=True,
    )
    subprocess.run(["ip", "addr", "add", f"{host_ip}/24", "dev", veth], check=True)
    subprocess.run(["ip", "link", "set", veth, "up"], check=True)
    ns.run("ip", "addr", "add", f"{out_ip}/24", "dev", "eth0")
    ns.run("ip", "link", "set", "eth0", "up")
    ns.run("ip", "link", "set", "lo", "up")
    return ns, host_ip, out_ip


def test_outbound_nat_and_internal(tmp_path: Path) -> None:
    with manager(tmp_path) as mgr, netns_factory() as mkns:
        veth = rand("hl") + "o"
        server: TcpServer | None = None
        try:
            outside, host_ip, out_ip = _outside(mkns, veth)
            server = TcpServer(outside, out_ip)
            s1, s2 = free_subnets(2)
            net = mgr.create_network(rand("n"), subnet=str(s1))
            c = mkns()
            mgr.connect(net.name, "c" * 64, c.path)
            # the outside host has no route to the container subnet: only NAT makes this work
            assert tcp_get(c, out_ip, server.port) == f"hello from {host_ip}\n"
            assert server.peers == [host_ip]
            internal = mgr.create_network(rand("n"), subnet=str(s2), internal=True)
            i = mkns()
            ei = mgr.connect(internal.name, "i" * 64, i.path)
            assert "default" not in i.run("ip", "route").stdout
            assert i.ping(str(internal.gateway))
            i.run("ip", "route", "add", "default", "via", str(ei.gateway))
            with pytest.raises(OSError):
                tcp_get(i, out_ip, server.port, timeout=1)
            assert server.peers == [host_ip]
        finally:
            if server is not None:
                server.close()
            subprocess.run(["ip", "link", "del", veth], capture_output=True, check=False)


def test_published_port_from_host_localhost_and_other_network(tmp_path: Path) -> None:
    with manager(tmp_path) as mgr, netns_factory() as mkns:
        s1, s2 = free_subnets(2)
        net = mgr.create_network(rand("n"), subnet=str(s1))
        other_net = mgr.create_network(rand("n"), subnet=str(s2))
        c, client = mkns(), mkns()
        ep = mgr.connect(net.name, "c" * 64, c.path)
        mgr.connect(other_net.name, "d" * 64, client.path)
        server = TcpServer(c, "0.0.0.0", 80)
        try:
            hp = free_port()
            spec = f"127.0.0.1:{hp}:80"
            published = mgr.publish("c" * 64, ep, parse_port_spec(spec))
            assert [(p.host_ip, p.host_port, p.container_port) for p in published] == [
                ("127.0.0.1", hp, 80)
            ]
            assert tcp_get(None, "127.0.0.1", hp).startswith("hello from ")
            # from a container on another network, through its gateway address
            hp2 = free_port()
            mgr.publish("c" * 64, ep, parse_port_spec(f"{other_net.gateway}:{hp2}:80"))
            assert tcp_get(client, str(other_net.gateway), hp2).startswith("hello from ")
            # the same host port again: refused, as is a port a host process holds
            d = mkns()
            ed = mgr.connect(net.name, "e" * 64, d.path)
            with pytest.raises(Conflict, match=rf"Bind for 127.0.0.1:{hp} failed: port is already"):
                mgr.publish("e" * 64, ed, parse_port_spec(spec))
            with socket.socket() as busy:
                busy.bind(("127.0.0.1", 0))
                busy.listen(1)
                taken = busy.getsockname()[1]
                with pytest.raises(Conflict, match="port is already allocated"):
                    mgr.publish("e" * 64, ed, parse_port_spec(f"127.0.0.1:{taken}:80"))
            # a host port handed out is held: no host process can take it
            with socket.socket() as s, pytest.raises(OSError):
                s.bind(("127.0.0.1", hp))
            # unpublish frees it and removes the rule
            mgr.unpublish("c" * 64)
            with pytest.raises(OSError):
                tcp_get(None, "127.0.0.1", hp, timeout=1)
            assert mgr.nft.owners() == set()
        finally:
            server.close()


def test_icc_false_isolates_containers_but_not_the_gateway(tmp_path: Path) -> None:
    with manager(tmp_path) as mgr, netns_factory() as mkns:
        (sub,) = free_subnets(1)
        net = mgr.create_network(rand("n"), subnet=str(sub), icc=False)
        a, b = mkns(), mkns()
        ea = mgr.connect(net.name, "a" * 64, a.path)
        eb = mgr.connect(net.name, "b" * 64, b.path)
        assert mgr.nl.bridge_port_isolated(ea.host_veth)
        assert not a.ping(str(eb.ip))
        assert a.ping(str(net.gateway)) and b.ping(str(net.gateway))


def test_network_errors(tmp_path: Path) -> None:
    with manager(tmp_path) as mgr, netns_factory() as mkns:
        s1, s2 = free_subnets(2)
        net = mgr.create_network(rand("n"), subnet=str(s1))
        with pytest.raises(Conflict, match="Pool overlaps with other one on this address space"):
            mgr.create_network(rand("n"), subnet=str(s1.supernet(4)))
        a = mkns()
        mgr.connect(net.name, "a" * 64, a.path, ip=str(s1.network_address + 9))
        b = mkns()
        with pytest.raises(Conflict, match="Address already in use"):
            mgr.connect(net.name, "b" * 64, b.path, ip=str(s1.network_address + 9))
        with pytest.raises(InvalidArgument, match="no configured subnet"):
            mgr.connect(net.name, "b" * 64, b.path, ip=str(s2.network_address + 9))
        assert "eth0" not in b.run("ip", "-o", "link").stdout  # nothing half-made
        with pytest.raises(Conflict, match=f"network {net.name} id {net.id} has active endpoints"):
            mgr.remove_network(net.name)
        with pytest.raises(NotFound, match="network nosuch not found"):
            mgr.connect("nosuch", "b" * 64, b.path)
        mgr.disconnect(net.name, "a" * 64)
        mgr.remove_network(net.name)
        assert net.bridge not in link_names()


def test_default_bridge_cleanup_stale_and_reset(tmp_path: Path) -> None:
    with manager(tmp_path) as mgr, netns_factory() as mkns:
        a, b = mkns(), mkns()
        ea = mgr.connect("bridge", "a" * 64, a.path)
        eb = mgr.connect("bridge", "b" * 64, b.path)
        default = mgr.get_network("bridge")
        assert default.bridge == mgr.default_bridge and default.is_default
        assert a.ping(str(eb.ip))
        mgr.publish("b" * 64, eb, parse_port_spec(f"127.0.0.1:{free_port()}:80"))
        # a stray veth on a hull bridge (a crash before its record) and a dead container
        stray = rand("hl")
        try:
            subprocess.run(
                ["ip", "link", "add", stray, "type", "veth", "peer", "name", stray + "p"]
            )
            subprocess.run(["ip", "link", "set", stray, "master", default.bridge])
            mgr.cleanup_stale({"a" * 64})
        finally:
            subprocess.run(["ip", "link", "del", stray], capture_output=True, check=False)
        names = link_names()
        assert ea.host_veth in names and eb.host_veth not in names and stray not in names
        assert mgr.ports() == [] and mgr.nft.owners() == set()
        assert set(mgr.store.leases(default.id).values()) == {"a" * 64}
        (sub,) = free_subnets(1)
        user = mgr.create_network(rand("n"), subnet=str(sub))
        mgr.connect(user.name, "a" * 64, a.path)
        mgr.reset()
        names = link_names()
        assert default.bridge not in names and user.bridge not in names
        assert ea.host_veth not in names
        assert f"inet {mgr.nft.name}\n" not in nft_tables()
        assert mgr.list_networks() == []


def test_restart_restores_dns_and_ports_and_ephemeral_publish(tmp_path: Path) -> None:
    with manager(tmp_path) as mgr, netns_factory() as mkns:
        (sub,) = free_subnets(1)
        net = mgr.create_network(rand("n"), subnet=str(sub))
        a, b = mkns(), mkns()
        ea = mgr.connect(net.name, "a" * 64, a.path, name="alpha")
        mgr.connect(net.name, "b" * 64, b.path, name="beta")
        server = TcpServer(a, "0.0.0.0", 80)
        try:
            (p,) = mgr.publish("a" * 64, ea, parse_port_spec("127.0.0.1::80"))
            assert p.host_port > 0
            # hairpin: a container reaches a published port through its gateway address
            (g,) = mgr.publish("a" * 64, ea, parse_port_spec(f"{net.gateway}::80"))
            assert tcp_get(b, str(net.gateway), g.host_port).startswith("hello from ")
            assert tcp_get(a, str(net.gateway), g.host_port).startswith("hello from ")
            # a daemon restart: a second manager on the same store and table
            mgr.close()
            again = NetworkManager(
                mgr.store,
                default_bridge=mgr.default_bridge,
                table=mgr.nft.name,
                bridge_prefix=mgr.bridge_prefix,
                pools=mgr.pools,
                dns_upstreams=mgr._dns_upstreams,
            )
            try:
                again.cleanup_stale({"a" * 64, "b" * 64})
                assert dns_query(b, str(net.gateway), "alpha") == (0, [str(ea.ip)])
                assert tcp_get(None, "127.0.0.1", p.host_port).startswith("hello from ")
                with socket.socket() as s, pytest.raises(OSError):
                    s.bind(("127.0.0.1", p.host_port))
                assert len(again.ports("a" * 64)) == 2
            finally:
                again.reset()
                again.close()
        finally:
            server.close()
