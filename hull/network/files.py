"""A container's ``/etc/hosts`` and ``/etc/resolv.conf``: Docker's contents, atomic writes.

resolv.conf:
- ``--dns`` given: those servers;
- a user-defined network: its embedded DNS server (the gateway address);
- the default bridge: the host's nameservers minus loopback ones (unreachable
  from a container's namespace), or Google's public resolvers when nothing is
  left — only written into the file, never contacted by hull;
- ``search`` and ``options`` from the host unless ``--dns-search`` /
  ``--dns-option`` are given (``.`` as the only search domain clears it).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

from hull.errors import InvalidArgument

DEFAULT_HOSTS = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""
FALLBACK_DNS_V4 = ("8.8.8.8", "8.8.4.4")
FALLBACK_DNS_V6 = ("2001:4860:4860::8888", "2001:4860:4860::8844")


@dataclass(frozen=True)
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


def parse_resolv_conf(text: str) -> ResolvConf:
    ns: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split(";", 1)[0].split()
        if not parts:
            continue
        if parts[0] == "nameserver" and len(parts) > 1:
            ns.append(parts[1])
        elif parts[0] in ("search", "domain"):
            search = parts[1:]
        elif parts[0] == "options":
            options.extend(parts[1:])
    return ResolvConf(tuple(ns), tuple(search), tuple(options))


def read_host_resolv_conf(path: Path = Path("/etc/resolv.conf")) -> ResolvConf:
    try:
        return parse_resolv_conf(path.read_text())
    except OSError:
        return ResolvConf()


def _is_loopback(addr: str) -> bool:
    try:
        return ip_address(addr.split("%")[0]).is_loopback
    except ValueError:
        return False


def render_resolv_conf(
    host: ResolvConf,
    *,
    embedded_dns: str | None = None,
    dns: Sequence[str] = (),
    dns_search: Sequence[str] = (),
    dns_options: Sequence[str] = (),
    ipv6: bool = False,
) -> str:
    """The text of a container's resolv.conf (see the module docstring for the rules)."""
    for d in dns:
        try:
            ip_address(d)
        except ValueError as exc:
            raise InvalidArgument(f"{d} is not an ip address") from exc
    if dns:
        servers = list(dns)
    elif embedded_dns:
        servers = [embedded_dns]
    else:
        servers = [s for s in host.nameservers if not _is_loopback(s)]
        if not ipv6:
            servers = [s for s in servers if ":" not in s]
        if not servers:
            servers = list(FALLBACK_DNS_V4) + (list(FALLBACK_DNS_V6) if ipv6 else [])
    search = list(dns_search) if dns_search else list(host.search)
    if search == ["."]:
        search = []
    options = list(dns_options) if dns_options else list(host.options)
    if embedded_dns and not dns_options and "ndots:0" not in options:
        # Docker's embedded-DNS resolv.conf: container names are single labels
        options = ["ndots:0", *[o for o in options if not o.startswith("ndots:")]]
    lines = [f"nameserver {s}" for s in servers]
    if search:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def parse_add_host(spec: str, host_gateway: str | None = None) -> tuple[str, str]:
    """``--add-host name:ip`` (also ``name=ip``, ``[v6]``, ``host-gateway``) → (name, ip)."""
    sep = "=" if "=" in spec else ":"
    name, _, addr = spec.partition(sep)
    addr = addr.strip()
    if addr.startswith("[") and addr.endswith("]"):
        addr = addr[1:-1]
    if not name or not addr:
        raise InvalidArgument(f"bad format for add-host: {spec!r}")
    if addr == "host-gateway":
        if not host_gateway:
            raise InvalidArgument("unable to derive the IP value for host-gateway")
        addr = host_gateway
    try:
        ip_address(addr)
    except ValueError as exc:
        raise InvalidArgument(f"invalid IP address in add-host: {addr!r}") from exc
    return name, addr


def render_hosts(
    hostname: str,
    addresses: Sequence[str],
    *,
    domainname: str = "",
    aliases: Sequence[str] = (),
    extra_hosts: Sequence[tuple[str, str]] = (),
) -> str:
    """Docker's /etc/hosts: localhost lines, ``--add-host`` entries, then the container's own."""
    out = [DEFAULT_HOSTS]
    for name, addr in extra_hosts:
        out.append(f"{addr}\t{name}\n")
    names = [f"{hostname}.{domainname}", hostname] if domainname else [hostname]
    names += [a for a in aliases if a and a not in names]
    for addr in addresses:
        out.append(f"{addr}\t{' '.join(names)}\n")
    return "".join(out)


def write_atomic(path: Path, text: str, mode: int = 0o644, *, durable: bool = True) -> None:
    """Temp file in the same directory → write → fsync → rename → fsync the directory.

    ``durable=False`` skips both fsyncs, for files derived from the database
    and written again at every start: readers still never see half a file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), mode)
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if not durable:
        return
    dfd = os.open(str(path.parent), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


__all__ = [
    "DEFAULT_HOSTS",
    "ResolvConf",
    "parse_add_host",
    "parse_resolv_conf",
    "read_host_resolv_conf",
    "render_hosts",
    "render_resolv_conf",
    "write_atomic",
]
