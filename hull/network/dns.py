"""The embedded DNS server of user-defined networks (asyncio, UDP and TCP).

It answers A (and, empty, AAAA) queries for container names, aliases and short
ids, but only with endpoints on the networks the asking container is attached
to: the query's source address identifies the container (or, failing that, the
network whose subnet contains it). Every other question is forwarded, bytes as
they are, to the host's resolvers from ``/etc/resolv.conf`` — the server runs
in the host's namespace, so loopback resolvers such as systemd-resolved's
127.0.0.53 are reachable from it although not from a container.

Where it listens: on each user network's gateway address, port 53, and
``resolv.conf`` names the gateway. (Docker listens on 127.0.0.11 inside each
container's namespace, reached through a DNAT rule installed in that namespace;
hull could do the same with a per-container nft table later — the record lookup
would not change.)

``DnsRegistry`` is thread-safe: the manager updates it from any thread while
the server reads it on its event loop. ``DnsThread`` runs a server on its own
loop in a daemon thread for synchronous callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_address
from typing import Any, cast

TYPE_A = 1
TYPE_AAAA = 28
TYPE_ANY = 255
CLASS_IN = 1
RCODE_OK = 0
RCODE_FORMERR = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
TTL = 600
FORWARD_TIMEOUT = 2.0


class DnsFormatError(ValueError):
    """A message that is not a DNS query we can read."""


@dataclass(frozen=True)
class Question:
    id: int
    flags: int
    name: str  # lower case, no trailing dot
    qtype: int
    qclass: int
    end: int  # offset just after the first question


def _read_name(data: bytes, off: int) -> tuple[str, int]:
    labels: list[str] = []
    jumped = False
    end = off
    for _ in range(128):
        if off >= len(data):
            raise DnsFormatError("name runs past the message")
        n = data[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(data):
                raise DnsFormatError("truncated pointer")
            if not jumped:
                end = off + 2
            jumped = True
            off = ((n & 0x3F) << 8) | data[off + 1]
            continue
        if n & 0xC0:
            raise DnsFormatError("bad label type")
        labels.append(data[off + 1 : off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    else:
        raise DnsFormatError("name too long or looping")
    return ".".join(labels), (end if jumped else off)


def parse_question(data: bytes) -> Question:
    """Header and first question of a query."""
    if len(data) < 12:
        raise DnsFormatError("short header")
    qid, flags, qd, _an, _ns, _ar = struct.unpack("!6H", data[:12])
    if qd < 1 or flags & 0x8000:
        raise DnsFormatError("not a query")
    name, off = _read_name(data, 12)
    if off + 4 > len(data):
        raise DnsFormatError("truncated question")
    qtype, qclass = struct.unpack("!HH", data[off : off + 4])
    return Question(qid, flags, name.lower().rstrip("."), qtype, qclass, off + 4)


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("idna") if not label.isascii() else label.encode()
            if len(raw) > 63:
                raise ValueError(f"label too long: {label}")
            out += bytes([len(raw)]) + raw
    return bytes(out) + b"\x00"


def build_query(name: str, qtype: int = TYPE_A, qid: int = 0x1234) -> bytes:
    """A recursive query (for tests and health checks)."""
    return (
        struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0)
        + encode_name(name)
        + struct.pack("!HH", qtype, CLASS_IN)
    )


def build_response(
    query: bytes, q: Question, answers: Sequence[str], rcode: int = RCODE_OK
) -> bytes:
    """Answer ``query`` with A/AAAA records (authoritative, recursion available)."""
    flags = 0x8000 | (q.flags & 0x7900) | 0x0400 | 0x0080 | rcode
    records = bytearray()
    for a in answers:
        addr = ip_address(a)
        rtype = TYPE_A if addr.version == 4 else TYPE_AAAA
        records += struct.pack("!HHHIH", 0xC00C, rtype, CLASS_IN, TTL, len(addr.packed))
        records += addr.packed
    header = struct.pack("!6H", q.id, flags, 1, len(answers), 0, 0)
    return header + query[12 : q.end] + bytes(records)


def error_response(query: bytes, rcode: int) -> bytes | None:
    """SERVFAIL/FORMERR echoing the question when it can be read, else None."""
    try:
        q = parse_question(query)
    except DnsFormatError:
        if len(query) < 12:
            return None
        qid, flags = struct.unpack("!HH", query[:4])
        return struct.pack("!6H", qid, 0x8000 | (flags & 0x7900) | rcode, 0, 0, 0, 0)
    return build_response(query, q, [], rcode)


def parse_answers(data: bytes) -> tuple[int, list[str]]:
    """(rcode, A/AAAA addresses) of a response — for tests and diagnostics."""
    if len(data) < 12:
        raise DnsFormatError("short header")
    _qid, flags, qd, an, _ns, _ar = struct.unpack("!6H", data[:12])
    off = 12
    for _ in range(qd):
        _, off = _read_name(data, off)
        off += 4
    out = []
    for _ in range(an):
        _, off = _read_name(data, off)
        rtype, _rclass, _ttl, rdlen = struct.unpack("!HHIH", data[off : off + 10])
        off += 10
        rdata = data[off : off + rdlen]
        off += rdlen
        if rtype in (TYPE_A, TYPE_AAAA):
            out.append(str(ip_address(rdata)))
    return flags & 0xF, out


class DnsRegistry:
    """Names per network, and which container (by address) sits on which networks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subnets: dict[str, IPv4Network] = {}
        # network id → container id → (address, names)
        self._eps: dict[str, dict[str, tuple[IPv4Address, tuple[str, ...]]]] = {}

    def add_network(self, network_id: str, subnet: IPv4Network) -> None:
        with self._lock:
            self._subnets[network_id] = subnet
            self._eps.setdefault(network_id, {})

    def remove_network(self, network_id: str) -> None:
        with self._lock:
            self._subnets.pop(network_id, None)
            self._eps.pop(network_id, None)

    def add_endpoint(
        self, network_id: str, container_id: str, address: IPv4Address, names: Iterable[str]
    ) -> None:
        clean = tuple(dict.fromkeys(n.lower().rstrip(".") for n in names if n))
        with self._lock:
            self._eps.setdefault(network_id, {})[container_id] = (address, clean)

    def remove_endpoint(self, network_id: str, container_id: str) -> None:
        with self._lock:
            self._eps.get(network_id, {}).pop(container_id, None)

    def networks_of(self, source: str) -> list[str]:
        """Networks visible to the sender at ``source``."""
        try:
            src = IPv4Address(source)
        except ValueError:
            return []
        with self._lock:
            owner = None
            for eps in self._eps.values():
                for cid, (addr, _names) in eps.items():
                    if addr == src:
                        owner = cid
                        break
                if owner:
                    break
            if owner is not None:
                return [nid for nid, eps in self._eps.items() if owner in eps]
            return [nid for nid, net in self._subnets.items() if src in net]

    def resolve(self, source: str, name: str) -> list[str] | None:
        """Addresses for ``name`` seen from ``source``; None when the name is not ours."""
        name = name.lower().rstrip(".")
        found: list[str] = []
        nets = self.networks_of(source)
        with self._lock:
            for nid in nets:
                for addr, names in self._eps.get(nid, {}).values():
                    if name in names and str(addr) not in found:
                        found.append(str(addr))
        return found or None


class DnsServer:
    """Serves a ``DnsRegistry`` on port ``port`` of each address it is told to listen on."""

    def __init__(
        self,
        registry: DnsRegistry,
        upstreams: Sequence[tuple[str, int]],
        *,
        port: int = 53,
    ) -> None:
        self.registry = registry
        self.upstreams = list(upstreams)
        self.port = port
        self._listeners: dict[str, tuple[asyncio.DatagramTransport, asyncio.Server]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def answer(self, query: bytes, source: str, *, tcp: bool = False) -> bytes | None:
        """The reply to one query from ``source`` (local answer, forwarded, or an error)."""
        try:
            q = parse_question(query)
        except DnsFormatError:
            return error_response(query, RCODE_FORMERR)
        if q.qclass == CLASS_IN and q.qtype in (TYPE_A, TYPE_AAAA, TYPE_ANY):
            addrs = self.registry.resolve(source, q.name)
            if addrs is not None:
                return build_response(query, q, addrs if q.qtype != TYPE_AAAA else [])
        for host, port in self.upstreams:
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                return await asyncio.wait_for(
                    self._forward(query, host, port, tcp), FORWARD_TIMEOUT
                )
        return error_response(query, RCODE_SERVFAIL)

    async def _forward(self, query: bytes, host: str, port: int, tcp: bool) -> bytes:
        if tcp:
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(struct.pack("!H", len(query)) + query)
                await writer.drain()
                (n,) = struct.unpack("!H", await reader.readexactly(2))
                return await reader.readexactly(n)
            finally:
                writer.close()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes] = loop.create_future()

        class _Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                if not fut.done() and data[:2] == query[:2]:
                    fut.set_result(data)

            def error_received(self, exc: Exception) -> None:
                if not fut.done():
                    fut.set_exception(exc)

        transport, _ = await loop.create_datagram_endpoint(_Client, remote_addr=(host, port))
        try:
            transport.sendto(query)
            return await fut
        finally:
            transport.close()

    async def listen(self, address: str) -> None:
        """Serve UDP and TCP on ``address:port`` (idempotent)."""
        if address in self._listeners:
            return
        loop = asyncio.get_running_loop()
        server = self

        class _Udp(asyncio.DatagramProtocol):
            transport: asyncio.DatagramTransport

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = cast(asyncio.DatagramTransport, transport)

            def datagram_received(self, data: bytes, addr: Any) -> None:
                async def reply() -> None:
                    out = await server.answer(data, addr[0])
                    if out is not None and not self.transport.is_closing():
                        self.transport.sendto(out, addr)

                task = loop.create_task(reply())
                server._tasks.add(task)
                task.add_done_callback(server._tasks.discard)

        async def on_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            try:
                while True:
                    (n,) = struct.unpack("!H", await reader.readexactly(2))
                    out = await server.answer(await reader.readexactly(n), peer[0], tcp=True)
                    if out is None:
                        break
                    writer.write(struct.pack("!H", len(out)) + out)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        udp, _ = await loop.create_datagram_endpoint(_Udp, local_addr=(address, self.port))
        try:
            tcp = await asyncio.start_server(on_tcp, address, self.port, reuse_address=True)
        except BaseException:
            udp.close()
            raise
        self._listeners[address] = (udp, tcp)

    async def unlisten(self, address: str) -> None:
        entry = self._listeners.pop(address, None)
        if entry is not None:
            udp, tcp = entry
            udp.close()
            tcp.close()
            await tcp.wait_closed()

    def addresses(self) -> list[str]:
        return list(self._listeners)

    async def close(self) -> None:
        for address in list(self._listeners):
            await self.unlisten(address)


class DnsThread:
    """A ``DnsServer`` on its own event loop in a daemon thread, driven synchronously."""

    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.registry = server.registry
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hull-dns", daemon=True)
        self._thread.start()

    def _call(self, coro: Any) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout=10)

    def listen(self, address: str) -> None:
        self._call(self.server.listen(address))

    def unlisten(self, address: str) -> None:
        self._call(self.server.unlisten(address))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._call(self.server.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


def resolvers_from(resolv_conf_text: str, port: int = 53) -> list[tuple[str, int]]:
    """``nameserver`` lines of a resolv.conf as (address, port) upstreams."""
    out = []
    for line in resolv_conf_text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            addr = parts[1].split("%")[0]
            with contextlib.suppress(ValueError):
                out.append((str(ip_address(addr)), port))
    return out


__all__ = [
    "DnsFormatError",
    "DnsRegistry",
    "DnsServer",
    "DnsThread",
    "Question",
    "build_query",
    "build_response",
    "parse_answers",
    "parse_question",
    "resolvers_from",
]
