"""Connections to a daemon address: ``unix:///PATH`` or ``tcp://HOST:PORT``."""

from __future__ import annotations

import os
import socket

from hull.errors import InvalidArgument

from .http11 import Connection

DEFAULT_HOST = "unix:///run/hull/hull.sock"


def resolve_host(host: str | None = None) -> str:
    """``host``, else ``$HULL_HOST``, else the default socket."""
    return host or os.environ.get("HULL_HOST") or DEFAULT_HOST


def parse_host(host: str) -> tuple[str, str, int]:
    """(kind, path or host name, port): ``("unix", "/run/hull/hull.sock", 0)``."""
    if host.startswith("unix://"):
        path = host[len("unix://") :]
        if not path:
            raise InvalidArgument(f"invalid host {host!r}: empty socket path")
        return "unix", path, 0
    for scheme in ("tcp://", "http://"):
        if host.startswith(scheme):
            hp = host[len(scheme) :].rstrip("/")
            name, sep, port = hp.rpartition(":")
            if not sep or not port.isdigit():
                raise InvalidArgument(f"invalid host {host!r}: expected tcp://HOST:PORT")
            return "tcp", name.strip("[]") or "127.0.0.1", int(port)
    if host.startswith("/"):
        return "unix", host, 0
    raise InvalidArgument(f"invalid host {host!r}: expected unix:///PATH or tcp://HOST:PORT")


def open_connection(host: str, timeout: float | None) -> Connection:
    """An unconnected keep-alive connection to ``host`` (it connects on first use)."""
    kind, where, port = parse_host(host)
    return Connection(kind, where, port, timeout)


def open_socket(host: str, timeout: float | None) -> socket.socket:
    """A connected socket to ``host`` (for hijacked connections)."""
    kind, where, port = parse_host(host)
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(where)
        except OSError:
            sock.close()
            raise
        return sock
    return socket.create_connection((where, port), timeout=timeout)


__all__ = [
    "DEFAULT_HOST",
    "open_connection",
    "open_socket",
    "parse_host",
    "resolve_host",
]
