from __future__ import annotations

import subprocess
import sys
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from hull.errors import Conflict, InvalidArgument, Unavailable
from hull.network import ipam
from hull.network.store import SqliteNetworkStore

NET = IPv4Network("10.213.5.0/29")  # hosts .1-.6, gateway .1


def test_first_free_skips_network_broadcast_gateway_and_used() -> None:
    gw = ipam.default_gateway(NET)
    assert gw == IPv4Address("10.213.5.1")
    assert ipam.first_free(NET, set(), [gw]) == IPv4Address("10.213.5.2")
    used = {IPv4Address(f"10.213.5.{i}") for i in (2, 3, 5)}
    assert ipam.first_free(NET, used, [gw]) == IPv4Address("10.213.5.4")
    full = {IPv4Address(f"10.213.5.{i}") for i in range(2, 7)}
    with pytest.raises(Unavailable):
        ipam.first_free(NET, full, [gw])


def test_requested_address() -> None:
    gw = ipam.default_gateway(NET)
    assert ipam.check_requested(NET, IPv4Address("10.213.5.6"), set(), gw)
    for bad in ("10.213.5.0", "10.213.5.7", "10.213.6.2"):
        with pytest.raises(InvalidArgument, match="no configured subnet"):
            ipam.check_requested(NET, IPv4Address(bad), set(), gw)
    with pytest.raises(Conflict, match="Address already in use"):
        ipam.check_requested(NET, gw, set(), gw)
    with pytest.raises(Conflict):
        ipam.check_requested(NET, IPv4Address("10.213.5.3"), {IPv4Address("10.213.5.3")}, gw)


def test_choose_subnet_avoids_routes_and_networks() -> None:
    pools = [IPv4Network("172.30.0.0/16"), IPv4Network("10.88.0.0/16"), IPv4Network("10.89.0.0/16")]
    assert ipam.choose_subnet([], [], pools) == pools[0]
    assert ipam.choose_subnet([], [IPv4Network("172.30.5.0/24")], pools) == pools[1]
    assert ipam.choose_subnet([pools[1]], [IPv4Network("172.0.0.0/8")], pools) == pools[2]
    with pytest.raises(Unavailable):
        ipam.choose_subnet(pools, [], pools)
    with pytest.raises(Conflict, match="Pool overlaps with other one on this address space"):
        ipam.check_subnet_free(IPv4Network("10.88.4.0/24"), [pools[1]])


def test_parse_subnet_and_mac() -> None:
    assert ipam.parse_subnet("10.1.0.0/24") == IPv4Network("10.1.0.0/24")
    for bad in ("10.1.0.5/24", "nonsense", "fd00::/64", "10.0.0.0/31"):
        with pytest.raises(InvalidArgument):
            ipam.parse_subnet(bad)
    assert ipam.mac_for(IPv4Address("172.17.0.2")) == "02:42:ac:11:00:02"


def test_store_leases_survive_reopen(tmp_path: Path) -> None:
    store = SqliteNetworkStore(tmp_path / "n.db")
    gw = ipam.default_gateway(NET)
    a = ipam.allocate(store, "net1", NET, gw, "c1")
    b = ipam.allocate(store, "net1", NET, gw, "c2")
    assert (a, b) == (IPv4Address("10.213.5.2"), IPv4Address("10.213.5.3"))
    store.close()
    store = SqliteNetworkStore(tmp_path / "n.db")
    assert store.leases("net1") == {a: "c1", b: "c2"}
    ipam.release(store, "net1", a)
    assert ipam.allocate(store, "net1", NET, gw, "c3") == a
    with pytest.raises(Conflict):
        ipam.allocate(store, "net1", NET, gw, "c4", IPv4Address("10.213.5.3"))
    store.close()


_WORKER = """
import sys
from ipaddress import IPv4Network
from pathlib import Path
from hull.network import ipam
from hull.network.store import SqliteNetworkStore
store = SqliteNetworkStore(Path(sys.argv[1]))
net = IPv4Network("10.213.0.0/22")
for i in range(int(sys.argv[3])):
    a = ipam.allocate(store, "n", net, ipam.default_gateway(net), f"{sys.argv[2]}-{i}")
    print(a, flush=True)
"""


def test_no_address_handed_out_twice_across_processes(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    SqliteNetworkStore(db).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(db), f"p{k}", "60"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(3)
    ]
    got: list[str] = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        got += out.split()
    assert len(got) == 180 and len(set(got)) == 180
    store = SqliteNetworkStore(db)
    assert len(store.leases("n")) == 180
    store.close()
