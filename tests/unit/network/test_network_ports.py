from __future__ import annotations

import pytest

from hull.errors import InvalidArgument
from hull.network import PortBinding, parse_port_spec, publish_all


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [PortBinding(80, "tcp", "", 0, 0)]),
        ("8080:80", [PortBinding(80, "tcp", "", 8080, 8080)]),
        ("127.0.0.1:8080:80/udp", [PortBinding(80, "udp", "127.0.0.1", 8080, 8080)]),
        ("127.0.0.1::80", [PortBinding(80, "tcp", "127.0.0.1", 0, 0)]),
        (
            "8000-8001:80-81",
            [PortBinding(80, "tcp", "", 8000, 8000), PortBinding(81, "tcp", "", 8001, 8001)],
        ),
        ("8000-8010:80", [PortBinding(80, "tcp", "", 8000, 8010)]),
        ("80-81/TCP", [PortBinding(80, "tcp", "", 0, 0), PortBinding(81, "tcp", "", 0, 0)]),
        ("[::1]:8080:80", [PortBinding(80, "tcp", "::1", 8080, 8080)]),
    ],
)
def test_parse_port_spec(spec: str, expected: list[PortBinding]) -> None:
    assert parse_port_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("80a", "Invalid containerPort: 80a"),
        ("8080:0", "Invalid containerPort: 0"),
        ("x:80", "invalid hostPort: x"),
        ("70000:80", "invalid hostPort: 70000"),
        ("8080:", "No port specified: 8080:<empty>"),
        ("1.2.3:8080:80", "Invalid ip address: 1.2.3"),
        ("80/icmp", "Invalid proto: icmp"),
        ("8000-8001:80-82", "Invalid ranges specified for container and host Ports: 80-82"),
        ("90-80", "Invalid containerPort: 90-80"),
    ],
)
def test_parse_port_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace(".", r"\.")):
        parse_port_spec(spec)


def test_publish_all() -> None:
    assert publish_all(["80/tcp", "53/udp"]) == [
        PortBinding(80, "tcp", "", 0, 0),
        PortBinding(53, "udp", "", 0, 0),
    ]
    with pytest.raises(InvalidArgument):
        publish_all(["x/tcp"])
