"""The client against an in-process hulld on a temp unix socket."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hull.api import Daemon
from hull.client import Client, encode_params, parse_host, resolve_host
from hull.errors import InvalidArgument, NotFound, Unavailable
from tests.unit.api._daemon import running_daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    with running_daemon(tmp_path) as d:
        yield d


def test_ping_negotiate_get(daemon: Daemon) -> None:
    with Client(daemon.addresses[0]) as c:
        p = c.ping()
        assert p.api_version == "1.43" and p.os_type == "linux" and not p.experimental
        assert c.api_version == "1.43"
        v = c.get("/version")
        assert v["ApiVersion"] == "1.43" and v["MinAPIVersion"] == "1.24"
        info = c.get("/info")
        assert info["DockerRootDir"] == str(daemon.config.data_root)
        assert info["CgroupVersion"] in ("1", "2")
        assert c.head("/_ping").status == 200


def test_errors_map_back(daemon: Daemon) -> None:
    c = Client(daemon.addresses[0])
    with pytest.raises(NotFound, match="page not found"):
        c.get("/no/such/route")
    with pytest.raises(InvalidArgument, match="too new"):
        Client(daemon.addresses[0], version="1.99").get("/version")


def test_stream_events(daemon: Daemon) -> None:
    c = Client(daemon.addresses[0])
    got: list[dict[str, object]] = []

    def consume() -> None:
        for ev in c.stream("GET", "/events", params={"filters": {"type": ["volume"]}}):
            got.append(ev)
            return

    t = threading.Thread(target=consume)
    t.start()
    deadline = time.time() + 5
    while daemon.app.events.listeners == 0 and time.time() < deadline:
        time.sleep(0.01)
    daemon.app.events.publish("network", "create", "n1")
    daemon.app.events.publish("volume", "create", "v1")
    t.join(5)
    assert [e["Actor"]["ID"] for e in got] == ["v1"]  # type: ignore[index]


def test_cannot_connect(tmp_path: Path) -> None:
    with pytest.raises(Unavailable) as e:
        Client(f"unix://{tmp_path}/none.sock").ping()
    assert str(e.value) == (
        f"Cannot connect to the hull daemon at unix://{tmp_path}/none.sock. Is hulld running?"
    )


def test_hosts_and_params(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HULL_HOST", raising=False)
    assert resolve_host(None) == "unix:///run/hull/hull.sock"
    monkeypatch.setenv("HULL_HOST", "tcp://127.0.0.1:2375")
    assert resolve_host(None) == "tcp://127.0.0.1:2375"
    assert parse_host("tcp://127.0.0.1:2375") == ("tcp", "127.0.0.1", 2375)
    assert parse_host("unix:///x.sock") == ("unix", "/x.sock", 0)
    with pytest.raises(InvalidArgument):
        parse_host("ftp://x")
    assert encode_params({"all": True, "n": None, "f": {"a": ["b"]}}) == (
        "all=1&f=%7B%22a%22%3A%5B%22b%22%5D%7D"
    )


def test_tcp_listener(tmp_path: Path) -> None:
    with running_daemon(tmp_path, hosts=[f"unix://{tmp_path}/h.sock", "tcp://127.0.0.1:0"]) as d:
        tcp = d.addresses[1]
        assert tcp.startswith("tcp://127.0.0.1:") and not tcp.endswith(":0")
        assert Client(tcp).ping().api_version == "1.43"


def test_optimistic_version_falls_back_to_negotiation(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hull.client.client as cc

    with Client(daemon.addresses[0]) as c:  # no ping: our own version is taken as is
        assert c.get("/version")["ApiVersion"] == "1.43" and c.api_version == "1.43"
    # a client newer than the daemon (as hull against dockerd 20.10): negotiated, then again
    monkeypatch.setattr(cc, "CLIENT_API_VERSION", "1.99")
    with Client(daemon.addresses[0]) as c:
        assert c.get("/version")["ApiVersion"] == "1.43"
        assert c.api_version == "1.43"


def test_optimistic_version_on_a_stream(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    import hull.client.client as cc

    monkeypatch.setattr(cc, "CLIENT_API_VERSION", "1.99")
    with Client(daemon.addresses[0]) as c:  # a stream as the first call: negotiated, then again
        data = b"".join(c.stream_raw("GET", "/version"))
        assert b'"ApiVersion":"1.43"' in data and c.api_version == "1.43"
