from __future__ import annotations

from pathlib import Path

import pytest

from hull.errors import InvalidArgument
from hull.network.files import (
    DEFAULT_HOSTS,
    parse_add_host,
    parse_resolv_conf,
    render_hosts,
    render_resolv_conf,
    write_atomic,
)

HOST = parse_resolv_conf(
    "# generated\nnameserver 127.0.0.53\nnameserver 10.9.9.9\nnameserver fd00::1\n"
    "search corp.example\noptions edns0 trust-ad\n"
)


def test_parse_resolv_conf() -> None:
    assert HOST.nameservers == ("127.0.0.53", "10.9.9.9", "fd00::1")
    assert HOST.search == ("corp.example",)
    assert HOST.options == ("edns0", "trust-ad")


def test_resolv_conf_default_bridge_drops_loopback() -> None:
    assert render_resolv_conf(HOST) == (
        "nameserver 10.9.9.9\nsearch corp.example\noptions edns0 trust-ad\n"
    )
    only_local = parse_resolv_conf("nameserver 127.0.0.53\n")
    assert render_resolv_conf(only_local) == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"


def test_resolv_conf_user_network_and_overrides() -> None:
    assert render_resolv_conf(HOST, embedded_dns="10.213.1.1") == (
        "nameserver 10.213.1.1\nsearch corp.example\noptions ndots:0 edns0 trust-ad\n"
    )
    text = render_resolv_conf(
        HOST,
        embedded_dns="10.213.1.1",
        dns=["1.1.1.1"],
        dns_search=["a.example", "b.example"],
        dns_options=["ndots:2"],
    )
    assert text == "nameserver 1.1.1.1\nsearch a.example b.example\noptions ndots:2\n"
    assert "search" not in render_resolv_conf(HOST, dns_search=["."])
    with pytest.raises(InvalidArgument):
        render_resolv_conf(HOST, dns=["not-an-ip"])


def test_hosts() -> None:
    text = render_hosts(
        "abc123",
        ["10.213.1.2"],
        aliases=["web"],
        extra_hosts=[parse_add_host("db:10.0.0.5"), parse_add_host("gw:host-gateway", "10.0.0.1")],
    )
    assert text.startswith(DEFAULT_HOSTS)
    assert text.endswith("10.0.0.5\tdb\n10.0.0.1\tgw\n10.213.1.2\tabc123 web\n")
    assert "10.213.1.2\tbox.example box\n" in render_hosts(
        "box", ["10.213.1.2"], domainname="example"
    )
    assert parse_add_host("v6=[::1]") == ("v6", "::1")
    for bad in ("nocolon", "x:notip", "x:host-gateway"):
        with pytest.raises(InvalidArgument):
            parse_add_host(bad)


def test_write_atomic(tmp_path: Path) -> None:
    p = tmp_path / "hosts"
    p.write_text("old")
    write_atomic(p, "new\n")
    assert p.read_text() == "new\n"
    assert oct(p.stat().st_mode & 0o777) == "0o644"
    assert [x.name for x in tmp_path.iterdir()] == ["hosts"]
