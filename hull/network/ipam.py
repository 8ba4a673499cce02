"""IP address management: choosing subnets for networks and addresses for endpoints.

Pure arithmetic plus one atomic step through ``IpamStore``:

- a network's subnet is either asked for (refused if it overlaps another hull
  network: Docker's "Pool overlaps with other one on this address space") or
  chosen from ``DEFAULT_POOLS``, skipping any candidate that overlaps a host
  route or another hull network;
- the gateway is the first host address (``.1``) unless given;
- an endpoint's address is the lowest free host address (never the network or
  broadcast address, never the gateway), or the one the user asked for with
  ``--ip`` (refused when outside the subnet or leased already).

Leases live in the store, so they survive restarts and are never handed out
twice, even by two processes at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, ip_network

from hull.errors import Conflict, InvalidArgument, Unavailable
from hull.network.store import IpamStore

# Docker's local scope pools start at 172.17/16; hull starts elsewhere so the two coexist.
DEFAULT_POOLS: tuple[IPv4Network, ...] = (
    IPv4Network("172.30.0.0/16"),
    IPv4Network("10.88.0.0/16"),
    IPv4Network("172.31.0.0/16"),
    *(IPv4Network(f"172.{n}.0.0/16") for n in range(18, 30)),
    *(IPv4Network(f"192.168.{n}.0/24") for n in range(200, 256, 8)),
    # then small ones, so many daemons (tests, benchmarks) on one host never run out
    *(IPv4Network(f"10.89.{n}.0/24") for n in range(256)),
)


def parse_subnet(text: str) -> IPv4Network:
    """``"10.1.0.0/24"`` → network; host bits set are refused as Docker does."""
    try:
        net = ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise InvalidArgument(f"invalid subnet {text}: {exc}") from exc
    if not isinstance(net, IPv4Network):
        raise InvalidArgument(f"invalid subnet {text}: only IPv4 subnets are supported")
    if net.prefixlen > 30:
        raise InvalidArgument(f"invalid subnet {text}: too small for a gateway and a host")
    return net


def parse_address(text: str, what: str = "IP address") -> IPv4Address:
    try:
        return IPv4Address(text)
    except ValueError as exc:
        raise InvalidArgument(f"invalid {what}: {text}") from exc


def overlaps_any(net: IPv4Network, others: Iterable[IPv4Network]) -> bool:
    return any(net.overlaps(o) for o in others)


def choose_subnet(
    taken: Sequence[IPv4Network],
    host_routes: Sequence[IPv4Network],
    pools: Sequence[IPv4Network] = DEFAULT_POOLS,
) -> IPv4Network:
    """The first pool candidate overlapping neither a hull network nor a host route."""
    for cand in pools:
        if not overlaps_any(cand, taken) and not overlaps_any(cand, host_routes):
            return cand
    raise Unavailable(
        "could not find an available, non-overlapping IPv4 address pool among the defaults"
        " to assign to the network"
    )


def check_subnet_free(subnet: IPv4Network, taken: Sequence[IPv4Network]) -> None:
    if overlaps_any(subnet, taken):
        raise Conflict("Pool overlaps with other one on this address space")


def default_gateway(subnet: IPv4Network) -> IPv4Address:
    return subnet.network_address + 1


def check_gateway(subnet: IPv4Network, gateway: IPv4Address) -> None:
    if not is_host_address(subnet, gateway):
        raise InvalidArgument(f"gateway {gateway} is not a host address of subnet {subnet}")


def is_host_address(subnet: IPv4Network, addr: IPv4Address) -> bool:
    """In the subnet and neither its network nor its broadcast address."""
    return addr in subnet and addr not in (subnet.network_address, subnet.broadcast_address)


def first_free(
    subnet: IPv4Network, used: set[IPv4Address], reserved: Iterable[IPv4Address] = ()
) -> IPv4Address:
    """The lowest host address of ``subnet`` that is neither used nor reserved."""
    skip = used | set(reserved)
    start = int(subnet.network_address) + 1
    end = int(subnet.broadcast_address)  # exclusive
    for n in range(start, end):
        a = IPv4Address(n)
        if a not in skip:
            return a
    raise Unavailable(f"no available IPv4 addresses on this network's address pools: {subnet}")


def check_requested(
    subnet: IPv4Network, requested: IPv4Address, used: set[IPv4Address], gateway: IPv4Address
) -> IPv4Address:
    """Docker's answers to ``--ip``: outside the subnet, or in use, is refused."""
    if not is_host_address(subnet, requested):
        raise InvalidArgument(f"no configured subnet contains IP address {requested}")
    if requested in used or requested == gateway:
        raise Conflict(f"Address already in use: {requested}")
    return requested


def allocate(
    store: IpamStore,
    network_id: str,
    subnet: IPv4Network,
    gateway: IPv4Address,
    owner: str,
    requested: IPv4Address | None = None,
) -> IPv4Address:
    """Lease an address for ``owner`` (a container id) atomically through ``store``."""

    def choose(used: set[IPv4Address]) -> IPv4Address:
        if requested is not None:
            return check_requested(subnet, requested, used, gateway)
        return first_free(subnet, used, (gateway,))

    return store.claim_address(network_id, owner, choose)


def release(store: IpamStore, network_id: str, address: IPv4Address) -> None:
    store.release_address(network_id, address)


def mac_for(address: IPv4Address) -> str:
    """Docker's deterministic MAC: ``02:42`` followed by the IPv4 address bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in address.packed)


__all__ = [
    "DEFAULT_POOLS",
    "allocate",
    "check_gateway",
    "check_requested",
    "check_subnet_free",
    "choose_subnet",
    "default_gateway",
    "first_free",
    "is_host_address",
    "mac_for",
    "overlaps_any",
    "parse_address",
    "parse_subnet",
    "release",
]
