"""Docker's ``-p`` syntax: ``[ip:][hostPort:]containerPort[/proto]`` with ranges.

``parse_port_spec("127.0.0.1:8080-8081:80-81/udp")`` → two ``PortBinding``s.
Errors carry Docker's wording ("Invalid containerPort: 80a", "invalid hostPort: x").
"""

from __future__ import annotations

from ipaddress import ip_address

from hull.errors import InvalidArgument
from hull.network.models import PortBinding

PROTOCOLS = ("tcp", "udp", "sctp")


def parse_port_range(text: str) -> tuple[int, int]:
    """``"80"`` → (80, 80); ``"8000-8010"`` → (8000, 8010); ValueError otherwise."""
    if not text:
        raise ValueError("empty port")
    lo_s, sep, hi_s = text.partition("-")
    if not lo_s.isdigit() or (sep and not hi_s.isdigit()):
        raise ValueError(text)
    lo = int(lo_s)
    hi = int(hi_s) if sep else lo
    if not (0 < lo <= 65535 and 0 < hi <= 65535) or hi < lo:
        raise ValueError(text)
    return lo, hi


def _split(raw: str) -> tuple[str, str, str]:
    """(ip, hostPort, containerPort) from the part before ``/proto``."""
    if raw.startswith("["):  # [ipv6]:host:container
        end = raw.find("]")
        if end < 0:
            raise InvalidArgument(f"Invalid ip address: {raw}")
        ip = raw[1:end]
        rest = raw[end + 1 :].lstrip(":").split(":")
        if len(rest) != 2:
            raise InvalidArgument(f"Invalid port format: {raw}")
        return ip, rest[0], rest[1]
    parts = raw.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    # a bare IPv6 address without brackets: everything before the last two fields
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def parse_port_spec(spec: str) -> list[PortBinding]:
    """Parse one ``-p`` value into one binding per container port."""
    raw, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"Invalid proto: {proto}")
    ip, host, container = _split(raw)
    if ip:
        try:
            ip = str(ip_address(ip))
        except ValueError as exc:
            raise InvalidArgument(f"Invalid ip address: {ip}") from exc
    if not container:
        raise InvalidArgument(f"No port specified: {spec}<empty>")
    try:
        c_lo, c_hi = parse_port_range(container)
    except ValueError as exc:
        raise InvalidArgument(f"Invalid containerPort: {container}") from exc
    h_lo = h_hi = 0
    if host:
        try:
            h_lo, h_hi = parse_port_range(host)
        except ValueError as exc:
            raise InvalidArgument(f"invalid hostPort: {host}") from exc
        if (c_hi - c_lo) != (h_hi - h_lo) and c_hi != c_lo:
            raise InvalidArgument(
                f"Invalid ranges specified for container and host Ports: {container} and {host}"
            )
    out = []
    for i, cport in enumerate(range(c_lo, c_hi + 1)):
        if not host:
            out.append(PortBinding(cport, proto, ip, 0, 0))
        elif c_lo == c_hi and h_hi > h_lo:
            out.append(PortBinding(cport, proto, ip, h_lo, h_hi))
        else:
            out.append(PortBinding(cport, proto, ip, h_lo + i, h_lo + i))
    return out


def parse_exposed(spec: str) -> tuple[int, str]:
    """``"80/tcp"`` (an image's ExposedPorts key) → (80, "tcp")."""
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS or not port.isdigit() or not 0 < int(port) <= 65535:
        raise InvalidArgument(f"invalid exposed port: {spec}")
    return int(port), proto


def publish_all(exposed: list[str], host_ip: str = "") -> list[PortBinding]:
    """``-P``: every exposed port on an ephemeral host port."""
    out = []
    for spec in exposed:
        port, proto = parse_exposed(spec)
        out.append(PortBinding(port, proto, host_ip, 0, 0))
    return out


__all__ = ["PROTOCOLS", "parse_exposed", "parse_port_range", "parse_port_spec", "publish_all"]
