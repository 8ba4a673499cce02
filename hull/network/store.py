"""Persistent state of the network layer in SQLite: networks, address leases, endpoints, ports.

``NetworkStore`` (a Protocol) is what the manager and IPAM need; ``SqliteNetworkStore``
implements it with the stdlib ``sqlite3`` on a path the caller passes (the
engine gives it hull's database); its tables are a migration of
:mod:`hull.metadata`, which owns the database file. Every read-choose-write step runs in one
``BEGIN IMMEDIATE`` transaction, so two processes never hand out the same
address, subnet or host port: the second waits on SQLite's write lock and
then sees the first one's row.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Protocol, TypeVar

from hull.errors import AlreadyExists, Unavailable
from hull.metadata.db import Database
from hull.network.models import Endpoint, Network, PublishedPort

T = TypeVar("T")


class IpamStore(Protocol):
    """Address leases per network; ``claim_address`` is atomic across processes."""

    def claim_address(
        self, network_id: str, owner: str, choose: Callable[[set[IPv4Address]], IPv4Address]
    ) -> IPv4Address:
        """In one transaction: read the leased addresses, ``choose`` one, record it."""
        ...

    def release_address(self, network_id: str, address: IPv4Address) -> None:
        """Forget one lease (no error if it is not there)."""
        ...

    def leases(self, network_id: str) -> dict[IPv4Address, str]:
        """Address → owner of every lease in the network."""
        ...


class NetworkStore(IpamStore, Protocol):
    """Everything the manager persists: networks, endpoints, published ports."""

    def add_network(self, choose: Callable[[list[Network]], Network]) -> Network:
        """In one transaction: read all networks, ``choose`` (validate) a new one, insert it."""
        ...

    def remove_network(self, network_id: str) -> None: ...
    def networks(self) -> list[Network]: ...
    def add_endpoint(self, endpoint: Endpoint) -> None: ...
    def remove_endpoint(self, network_id: str, container_id: str) -> None: ...
    def endpoints(self, network_id: str | None = None) -> list[Endpoint]: ...

    def add_ports(
        self, choose: Callable[[list[PublishedPort]], list[PublishedPort]]
    ) -> list[PublishedPort]:
        """In one transaction: read all published ports, ``choose`` new ones, insert them."""
        ...

    def remove_ports(self, container_id: str, network_id: str | None = None) -> None: ...
    def ports(self, container_id: str | None = None) -> list[PublishedPort]: ...
    def wipe(self) -> None:
        """Forget every network, lease, endpoint and port."""
        ...


class SqliteNetworkStore:
    """``NetworkStore`` on one SQLite file (WAL); safe across threads and processes."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        # the tables are metadata's (migration 4): opening the database
        # creates or upgrades them
        Database.open(self.path, busy_timeout=busy_timeout).close()
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            str(self.path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise Unavailable(f"network database {self.path} is busy: {exc}") from exc
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, sql: str, args: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return list(self._conn.execute(sql, tuple(args)).fetchall())

    # -- IPAM --------------------------------------------------------------
    def claim_address(
        self, network_id: str, owner: str, choose: Callable[[set[IPv4Address]], IPv4Address]
    ) -> IPv4Address:
        with self._tx() as c:
            used = {
                IPv4Address(str(r[0]))
                for r in c.execute(
                    "SELECT address FROM net_leases WHERE network_id=?", (network_id,)
                )
            }
            addr = choose(used)
            try:
                c.execute(
                    "INSERT INTO net_leases (network_id, address, owner) VALUES (?,?,?)",
                    (network_id, str(addr), owner),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(f"address {addr} is already in use") from exc
            return addr

    def release_address(self, network_id: str, address: IPv4Address) -> None:
        with self._tx() as c:
            c.execute(
                "DELETE FROM net_leases WHERE network_id=? AND address=?",
                (network_id, str(address)),
            )

    def leases(self, network_id: str) -> dict[IPv4Address, str]:
        rows = self._read("SELECT address, owner FROM net_leases WHERE network_id=?", (network_id,))
        return {IPv4Address(str(a)): str(o) for a, o in rows}

    # -- networks ----------------------------------------------------------
    @staticmethod
    def _network(row: tuple[object, ...]) -> Network:
        nid, name, bridge, subnet, gw, internal, icc, labels, created, is_default = row
        return Network(
            id=str(nid),
            name=str(name),
            bridge=str(bridge),
            subnet=IPv4Network(str(subnet)),
            gateway=IPv4Address(str(gw)),
            internal=bool(internal),
            icc=bool(icc),
            labels=dict(json.loads(str(labels))),
            created=float(str(created)),
            is_default=bool(is_default),
        )

    _NET_COLS = "id, name, bridge, subnet, gateway, internal, icc, labels, created, is_default"

    def add_network(self, choose: Callable[[list[Network]], Network]) -> Network:
        with self._tx() as c:
            existing = [
                self._network(r) for r in c.execute(f"SELECT {self._NET_COLS} FROM net_networks")
            ]
            net = choose(existing)
            c.execute(
                f"INSERT INTO net_networks ({self._NET_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    net.id,
                    net.name,
                    net.bridge,
                    str(net.subnet),
                    str(net.gateway),
                    int(net.internal),
                    int(net.icc),
                    json.dumps(dict(net.labels), sort_keys=True),
                    net.created,
                    int(net.is_default),
                ),
            )
            return net

    def remove_network(self, network_id: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM net_leases WHERE network_id=?", (network_id,))
            c.execute("DELETE FROM net_endpoints WHERE network_id=?", (network_id,))
            c.execute("DELETE FROM net_ports WHERE network_id=?", (network_id,))
            c.execute("DELETE FROM net_networks WHERE id=?", (network_id,))

    def networks(self) -> list[Network]:
        rows = self._read(f"SELECT {self._NET_COLS} FROM net_networks ORDER BY created, name")
        return [self._network(r) for r in rows]

    # -- endpoints ---------------------------------------------------------
    _EP_COLS = (
        "network_id, container_id, ip, prefixlen, gateway, mac, host_veth, ifname,"
        " netns_path, name, aliases"
    )

    def add_endpoint(self, endpoint: Endpoint) -> None:
        e = endpoint
        with self._tx() as c:
            try:
                c.execute(
                    f"INSERT INTO net_endpoints ({self._EP_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        e.network_id,
                        e.container_id,
                        str(e.ip),
                        e.prefixlen,
                        str(e.gateway),
                        e.mac,
                        e.host_veth,
                        e.ifname,
                        e.netns_path,
                        e.name,
                        json.dumps(list(e.aliases)),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(
                    f"container {e.container_id[:12]} is already attached to network"
                    f" {e.network_id[:12]}"
                ) from exc

    def remove_endpoint(self, network_id: str, container_id: str) -> None:
        with self._tx() as c:
            c.execute(
                "DELETE FROM net_endpoints WHERE network_id=? AND container_id=?",
                (network_id, container_id),
            )

    def endpoints(self, network_id: str | None = None) -> list[Endpoint]:
        sql = f"SELECT {self._EP_COLS} FROM net_endpoints"
        rows = (
            self._read(sql + " WHERE network_id=?", (network_id,))
            if network_id is not None
            else self._read(sql)
        )
        out = []
        for nid, cid, ip, plen, gw, mac, veth, ifname, ns, name, aliases in rows:
            out.append(
                Endpoint(
                    network_id=str(nid),
                    container_id=str(cid),
                    ip=IPv4Address(str(ip)),
                    prefixlen=int(str(plen)),
                    gateway=IPv4Address(str(gw)),
                    mac=str(mac),
                    host_veth=str(veth),
                    ifname=str(ifname),
                    netns_path=str(ns),
                    name=str(name),
                    aliases=tuple(json.loads(str(aliases))),
                )
            )
        return out

    # -- published ports ---------------------------------------------------
    _PORT_COLS = (
        "container_id, network_id, protocol, host_ip, host_port, container_ip, container_port"
    )

    @staticmethod
    def _port(row: tuple[object, ...]) -> PublishedPort:
        cid, nid, proto, hip, hport, cip, cport = row
        return PublishedPort(
            container_id=str(cid),
            network_id=str(nid),
            protocol=str(proto),
            host_ip=str(hip),
            host_port=int(str(hport)),
            container_ip=IPv4Address(str(cip)),
            container_port=int(str(cport)),
        )

    def add_ports(
        self, choose: Callable[[list[PublishedPort]], list[PublishedPort]]
    ) -> list[PublishedPort]:
        with self._tx() as c:
            existing = [
                self._port(r) for r in c.execute(f"SELECT {self._PORT_COLS} FROM net_ports")
            ]
            new = choose(existing)
            for p in new:
                c.execute(
                    f"INSERT INTO net_ports ({self._PORT_COLS}) VALUES (?,?,?,?,?,?,?)",
                    (
                        p.container_id,
                        p.network_id,
                        p.protocol,
                        p.host_ip,
                        p.host_port,
                        str(p.container_ip),
                        p.container_port,
                    ),
                )
            return new

    def remove_ports(self, container_id: str, network_id: str | None = None) -> None:
        with self._tx() as c:
            if network_id is None:
                c.execute("DELETE FROM net_ports WHERE container_id=?", (container_id,))
            else:
                c.execute(
                    "DELETE FROM net_ports WHERE container_id=? AND network_id=?",
                    (container_id, network_id),
                )

    def ports(self, container_id: str | None = None) -> list[PublishedPort]:
        sql = f"SELECT {self._PORT_COLS} FROM net_ports"
        rows = (
            self._read(sql + " WHERE container_id=?", (container_id,))
            if container_id is not None
            else self._read(sql)
        )
        return [self._port(r) for r in rows]

    def wipe(self) -> None:
        with self._tx() as c:
            for table in ("net_ports", "net_endpoints", "net_leases", "net_networks"):
                c.execute(f"DELETE FROM {table}")


__all__ = ["IpamStore", "NetworkStore", "SqliteNetworkStore"]
