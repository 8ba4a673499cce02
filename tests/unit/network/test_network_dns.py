from __future__ import annotations

import asyncio
import socket
import struct
import threading
from ipaddress import IPv4Address, IPv4Network

import pytest

from hull.network import dns


def test_query_roundtrip() -> None:
    q = dns.build_query("Web.Example.", dns.TYPE_AAAA, qid=7)
    parsed = dns.parse_question(q)
    assert (parsed.id, parsed.name, parsed.qtype, parsed.qclass) == (7, "web.example", 28, 1)
    resp = dns.build_response(q, parsed, ["10.0.0.2", "10.0.0.3"])
    qid, flags, qd, an = struct.unpack("!4H", resp[:8])
    assert qid == 7 and flags & 0x8000 and flags & 0x0100 and (qd, an) == (1, 2)
    assert dns.parse_answers(resp) == (0, ["10.0.0.2", "10.0.0.3"])
    nx = dns.build_response(q, parsed, [], dns.RCODE_NXDOMAIN)
    assert dns.parse_answers(nx) == (3, [])


def test_bad_messages() -> None:
    with pytest.raises(dns.DnsFormatError):
        dns.parse_question(b"\x00\x01")
    q = bytearray(dns.build_query("a"))
    q[2] |= 0x80  # a response, not a query
    with pytest.raises(dns.DnsFormatError):
        dns.parse_question(bytes(q))
    looping = struct.pack("!6H", 1, 0x100, 1, 0, 0, 0) + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    with pytest.raises(dns.DnsFormatError):
        dns.parse_question(looping)
    assert dns.error_response(b"\x00\x05" + b"\x00" * 10, dns.RCODE_FORMERR) is not None


def test_registry_scopes_names_to_the_askers_networks() -> None:
    r = dns.DnsRegistry()
    r.add_network("n1", IPv4Network("10.213.1.0/24"))
    r.add_network("n2", IPv4Network("10.213.2.0/24"))
    r.add_endpoint("n1", "a", IPv4Address("10.213.1.2"), ["alpha", "web"])
    r.add_endpoint("n2", "b", IPv4Address("10.213.2.2"), ["beta"])
    r.add_endpoint("n1", "c", IPv4Address("10.213.1.3"), ["gamma"])
    r.add_endpoint("n2", "c", IPv4Address("10.213.2.3"), ["gamma"])
    assert r.resolve("10.213.1.2", "WEB.") == ["10.213.1.2"]
    assert r.resolve("10.213.1.2", "beta") is None
    assert r.resolve("10.213.2.2", "alpha") is None
    # c is on both networks and sees both; asked from n1 it gets both its own addresses
    assert r.resolve("10.213.1.3", "beta") == ["10.213.2.2"]
    assert sorted(r.resolve("10.213.1.2", "gamma") or []) == ["10.213.1.3"]
    # an unknown sender inside a subnet sees that network
    assert r.resolve("10.213.2.99", "beta") == ["10.213.2.2"]
    r.remove_endpoint("n2", "b")
    assert r.resolve("10.213.2.3", "beta") is None


class _FakeUpstream:
    """Answers every query with 10.213.254.1 (never leaves 127.0.0.1)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            q = dns.parse_question(data)
            self.sock.sendto(dns.build_response(data, q, ["10.213.254.1"]), addr)

    def close(self) -> None:
        self._stop.set()
        self._t.join()
        self.sock.close()


def test_server_answers_and_forwards_over_udp_and_tcp() -> None:
    up = _FakeUpstream()
    reg = dns.DnsRegistry()
    reg.add_network("n", IPv4Network("127.0.0.0/8"))
    reg.add_endpoint("n", "x", IPv4Address("127.0.0.42"), ["box"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    srv = dns.DnsThread(dns.DnsServer(reg, [("127.0.0.1", up.port)], port=port))
    try:
        srv.listen("127.0.0.1")

        def udp(name: str) -> tuple[int, list[str]]:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(3)
                s.sendto(dns.build_query(name), ("127.0.0.1", port))
                return dns.parse_answers(s.recv(512))

        assert udp("box") == (0, ["127.0.0.42"])
        assert udp("elsewhere.test") == (0, ["10.213.254.1"])
        q = dns.build_query("box")
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(struct.pack("!H", len(q)) + q)
            (n,) = struct.unpack("!H", s.recv(2))
            assert dns.parse_answers(s.recv(n)) == (0, ["127.0.0.42"])
        srv.unlisten("127.0.0.1")
        assert srv.server.addresses() == []
    finally:
        srv.close()
        up.close()


def test_forward_failure_is_servfail() -> None:
    reg = dns.DnsRegistry()
    server = dns.DnsServer(reg, [], port=0)
    q = dns.build_query("x.test")
    out = asyncio.run(server.answer(q, "10.0.0.1"))
    assert out is not None and dns.parse_answers(out)[0] == dns.RCODE_SERVFAIL


def test_resolvers_from() -> None:
    text = "nameserver 127.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\n"
    assert dns.resolvers_from(text) == [("127.0.0.53", 53), ("fe80::1", 53)]
