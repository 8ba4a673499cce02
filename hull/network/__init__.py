"""Container networking: bridges, veth pairs, IPAM, NAT and published ports, DNS, hosts files.

Public API (everything else is internal to the package):

- ``NetworkManager`` — the facade the engine drives (networks, connect, publish, cleanup).
- ``SqliteNetworkStore`` / ``NetworkStore`` / ``IpamStore`` — persistent state.
- ``Network``, ``Endpoint``, ``PortBinding``, ``PublishedPort`` — the values.
- ``parse_port_spec``, ``publish_all`` — Docker's ``-p`` / ``-P``.
- ``render_hosts``, ``render_resolv_conf``, ``read_host_resolv_conf``, ``write_atomic``.

Importing this package imports pyroute2 (through the manager); the runtime's
hot path does not import it.
"""

from __future__ import annotations

from hull.network.files import (
    ResolvConf,
    parse_add_host,
    read_host_resolv_conf,
    render_hosts,
    render_resolv_conf,
    write_atomic,
)
from hull.network.manager import NetworkManager
from hull.network.models import (
    DEFAULT_NETWORK_NAME,
    Endpoint,
    Network,
    PortBinding,
    PublishedPort,
)
from hull.network.ports import parse_port_spec, publish_all
from hull.network.store import IpamStore, NetworkStore, SqliteNetworkStore

__all__ = [
    "DEFAULT_NETWORK_NAME",
    "Endpoint",
    "IpamStore",
    "Network",
    "NetworkManager",
    "NetworkStore",
    "PortBinding",
    "PublishedPort",
    "ResolvConf",
    "SqliteNetworkStore",
    "parse_add_host",
    "parse_port_spec",
    "publish_all",
    "read_host_resolv_conf",
    "render_hosts",
    "render_resolv_conf",
    "write_atomic",
]
