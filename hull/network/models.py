"""Typed values of the network layer: networks, endpoints, port bindings.

Pure data (frozen dataclasses, ``ipaddress`` values): no I/O. Every other
module of ``hull/network/`` passes these around; the store persists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

DEFAULT_NETWORK_NAME = "bridge"


@dataclass(frozen=True)
class Network:
    """A bridge network: one Linux bridge, one IPv4 subnet, its gateway on the bridge."""

    id: str
    name: str
    bridge: str
    subnet: IPv4Network
    gateway: IPv4Address
    internal: bool = False
    icc: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)
    created: float = 0.0
    is_default: bool = False

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def dns_enabled(self) -> bool:
        """User-defined networks get the embedded DNS server; the default bridge does not."""
        return not self.is_default


@dataclass(frozen=True)
class Endpoint:
    """A container's attachment to a network: its veth, address and names."""

    network_id: str
    container_id: str
    ip: IPv4Address
    prefixlen: int
    gateway: IPv4Address
    mac: str
    host_veth: str
    ifname: str
    netns_path: str
    name: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def dns_names(self) -> tuple[str, ...]:
        """Names the embedded DNS server answers for this endpoint."""
        names = [n for n in (self.name, *self.aliases) if n]
        if self.container_id:
            names.append(self.container_id[:12])
        return tuple(dict.fromkeys(n.lower().rstrip(".") for n in names))


@dataclass(frozen=True)
class PortBinding:
    """One container port published on the host (``-p [ip:]host:container[/proto]``).

    ``host_port == 0`` asks for an ephemeral port; ``host_port_end > host_port``
    gives a range of host ports to choose one from (``-p 8000-8010:80``).
    """

    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""
    host_port: int = 0
    host_port_end: int = 0

    @property
    def bind_ip(self) -> str:
        return self.host_ip or "0.0.0.0"


@dataclass(frozen=True)
class PublishedPort:
    """A binding made real: the chosen host port and the container address it leads to."""

    container_id: str
    network_id: str
    protocol: str
    host_ip: str
    host_port: int
    container_ip: IPv4Address
    container_port: int


__all__ = [
    "DEFAULT_NETWORK_NAME",
    "Endpoint",
    "Network",
    "PortBinding",
    "PublishedPort",
]
