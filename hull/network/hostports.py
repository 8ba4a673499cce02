"""Host ports for published container ports: choosing them and holding them.

A port is free when no other hull binding uses it (the store's view, checked
inside its transaction) and a bind on it succeeds (the host's view). The bound
socket (listening, for TCP) is then kept for as long as the port is published,
so no host process can take the port later; traffic never reaches it because
DNAT happens before the socket lookup.
"""

from __future__ import annotations

import errno
import socket

from hull.errors import Conflict, InvalidArgument
from hull.network.models import PortBinding, PublishedPort

EPHEMERAL_TRIES = 64


def pick_host_port(b: PortBinding, taken: list[PublishedPort]) -> tuple[int, socket.socket]:
    """A free host port for ``b`` (its own, one of its range, or ephemeral) and its socket."""
    ip = b.bind_ip
    if ":" in ip:
        raise InvalidArgument(f"IPv6 host addresses are not supported yet: {ip}")

    def clash(port: int) -> bool:
        return any(
            p.protocol == b.protocol
            and p.host_port == port
            and (p.host_ip == ip or "0.0.0.0" in (p.host_ip, ip))
            for p in taken
        )

    if b.host_port == 0:
        for _ in range(EPHEMERAL_TRIES):
            sock = probe(b.protocol, ip, 0)
            port = int(sock.getsockname()[1])
            if not clash(port):
                return port, sock
            sock.close()
        raise Conflict(f"Bind for {ip}:0 failed: no free ephemeral port")
    last = max(b.host_port_end, b.host_port)
    for port in range(b.host_port, last + 1):
        if clash(port):
            continue
        try:
            return port, probe(b.protocol, ip, port)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise InvalidArgument(
                    f"Error starting userland proxy: listen {b.protocol} {ip}:{port}:"
                    " bind: cannot assign requested address"
                ) from exc
            continue
    shown = str(b.host_port) if last == b.host_port else f"{b.host_port}-{last}"
    raise Conflict(f"Bind for {ip}:{shown} failed: port is already allocated")


def probe(protocol: str, ip: str, port: int) -> socket.socket:
    """Bind (and for TCP listen on) ``ip:port``; raises OSError when it is taken."""
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    proto = 132 if protocol == "sctp" else 0
    sock = socket.socket(socket.AF_INET, kind | socket.SOCK_CLOEXEC, proto)
    try:
        sock.bind((ip, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(1)
    except BaseException:
        sock.close()
        raise
    return sock


__all__ = ["EPHEMERAL_TRIES", "pick_host_port", "probe"]
