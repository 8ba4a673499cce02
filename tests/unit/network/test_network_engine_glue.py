"""The pure parts between the engine and the network layer: options, shapes, names."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from hull.cli.commands.port import lines
from hull.engine.config import ContainerConfig, HostConfig
from hull.engine.networking import (
    Networking,
    check_endpoint_config,
    check_mac,
    mode_of,
    port_map,
    ps_ports,
)
from hull.errors import InvalidArgument
from hull.metadata import ContainerRecord
from hull.network.models import PortBinding, PublishedPort
from hull.network.naming import names_for


def test_modes() -> None:
    assert mode_of(HostConfig()) == "bridge"
    assert mode_of(HostConfig.from_json({"NetworkMode": "default"})) == "bridge"
    assert mode_of(HostConfig.from_json({"NetworkMode": "container:x"})) == "container:x"


def test_port_bindings_from_docker_shapes() -> None:
    host = HostConfig.from_json({
        "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                         "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
                         "9000/tcp": [{"HostIp": "", "HostPort": "9000-9010"}],
                         "7/tcp": [{"HostIp": "", "HostPort": "0"}]},
        "PublishAllPorts": True,
    })  # fmt: skip
    cfg = ContainerConfig.from_json({"ExposedPorts": {"80/tcp": {}, "443/tcp": {}}})
    got = Networking.port_bindings(cfg, host)
    assert got == [
        PortBinding(53, "udp", "127.0.0.1", 0, 0),
        PortBinding(7, "tcp", "", 0, 0),
        PortBinding(80, "tcp", "", 8080, 8080),
        PortBinding(9000, "tcp", "", 9000, 9010),
        PortBinding(443, "tcp", "", 0, 0),
    ]
    bad = HostConfig.from_json({"PortBindings": {"80/tcp": [{"HostIp": "1.2.3", "HostPort": ""}]}})
    with pytest.raises(InvalidArgument, match=r"invalid host IP address: 1\.2\.3"):
        Networking.port_bindings(cfg, bad)


def test_endpoint_config_checks() -> None:
    raw = {"Aliases": ["a", "a", "b"], "IPAMConfig": {"IPv4Address": "10.1.0.9"}}
    ep = check_endpoint_config("app", raw, True)
    assert ep["Aliases"] == ["a", "b"] and ep["IPAMConfig"] == {"IPv4Address": "10.1.0.9"}
    with pytest.raises(InvalidArgument, match="user defined networks only"):
        check_endpoint_config("bridge", {"IPAMConfig": {"IPv4Address": "10.1.0.9"}}, False)
    with pytest.raises(InvalidArgument, match="network-scoped alias"):
        check_endpoint_config("bridge", {"Aliases": ["x"]}, False)
    with pytest.raises(InvalidArgument, match=r"invalid IPv4 address: 10\.1\.0"):
        check_endpoint_config("app", {"IPAMConfig": {"IPv4Address": "10.1.0"}}, True)
    assert check_mac("02-42-AC-11-00-02") == "02:42:ac:11:00:02"
    with pytest.raises(InvalidArgument, match="not a valid mac address"):
        check_mac("02:42")


def test_port_shapes_and_port_verb() -> None:
    rec = ContainerRecord(id="c" * 64, name="x", image_id="", image_ref="", runtime="",
                          config={"ExposedPorts": {"80/tcp": {}, "81/tcp": {}}},
                          host_config={})  # fmt: skip
    pub = [PublishedPort("c" * 64, "n", "tcp", "0.0.0.0", 8080, IPv4Address("10.0.0.2"), 80)]
    ports = port_map(rec, pub, running=True)
    assert ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "81/tcp": None}
    assert port_map(rec, pub, running=False) == {}
    assert ps_ports({"Ports": ports}) == [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 81, "Type": "tcp"},
    ]
    assert lines(ports) == ["80/tcp -> 0.0.0.0:8080"]
    assert lines(ports, "80") == ["0.0.0.0:8080"]
    assert lines(ports, "81/tcp") == []


def test_names_per_data_root() -> None:
    default = names_for("/var/lib/hull")
    assert (default.default_bridge, default.table, default.bridge_prefix) == (
        "hull0", "hull", "hlbr-"
    )  # fmt: skip
    a, b = names_for(Path("/tmp/a/data")), names_for("/tmp/b/data")
    assert a.default_bridge != b.default_bridge and a.table != b.table
    assert len(a.default_bridge) <= 15 and len(a.bridge_prefix + "0" * 6) <= 15
    assert a.owner == "hull:/tmp/a/data"
