"""The monitor's wire protocol, error mapping and client framing (no kernel needed)."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest

from hull import errors
from hull.engine.monitor import protocol as p
from hull.engine.monitor.client import read_line
from hull.engine.monitor.ops import runtime_error

START: dict[str, Any] = {
    "op": "start",
    "id": "abc",
    "bundle": "/b",
    "runtime": "/usr/bin/runc",
    "runtime_root": "/run/r",
    "tty": True,
    "log": {"path": "/l/c.log", "max_size": 1024, "max_file": 3},
    "exit_file": "/e",
    "cgroup_memory": None,
}


def test_parse_start() -> None:
    req = p.parse_request(START)
    assert isinstance(req, p.StartRequest)
    assert req.tty and not req.open_stdin and req.cgroup_memory is None
    assert req.log == p.LogConfig("/l/c.log", 1024, 3)
    assert req.runtime.argv("start", "abc") == ["/usr/bin/runc", "--root", "/run/r", "start", "abc"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bundle": None}, "bundle"),
        ({"tty": 1}, "tty"),
        ({"id": "../x"}, "id"),
        ({"log": {"max_size": 1}}, "path"),
        ({"runtime_args": [1]}, "runtime_args"),
    ],
)
def test_parse_start_names_bad_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=field):
        p.parse_request({**START, **change})


def test_parse_other_ops() -> None:
    a = p.parse_request({"op": "attach", "exec_id": "e1", "stdin": True})
    assert isinstance(a, p.AttachRequest)
    assert a.target == p.Target(None, "e1") and a.streams.stdin and a.streams.stdout
    k = p.parse_request({"op": "kill", "id": "c", "signal": 9})
    assert isinstance(k, p.KillRequest) and k.signal == 9
    with pytest.raises(errors.InvalidArgument, match="signal"):
        p.parse_request({"op": "kill", "id": "c", "signal": 99})
    with pytest.raises(errors.InvalidArgument, match="'id' or 'exec_id'"):
        p.parse_request({"op": "wait"})
    with pytest.raises(errors.InvalidArgument, match="unknown op"):
        p.parse_request({"op": "frobnicate"})
    with pytest.raises(errors.InvalidArgument):
        p.parse_request(["op"])
    assert p.parse_request({"op": "list"}) == p.Simple("list")


def test_error_replies_round_trip() -> None:
    for exc in (errors.NotFound("no such container: x"), errors.Conflict("busy")):
        reply = p.error_reply(exc)
        assert reply["ok"] is False and reply["kind"] == exc.kind
        with pytest.raises(type(exc), match=exc.message):
            p.raise_for_reply(reply)
    reply = p.error_reply(errors.ContainerExit("not found", 127))
    assert reply["exit_code"] == 127
    with pytest.raises(errors.ContainerExit) as ei:
        p.raise_for_reply(reply)
    assert ei.value.exit_code == 127
    assert p.raise_for_reply({"ok": True, "pid": 3}) == {"ok": True, "pid": 3}
    assert p.error_reply(RuntimeError("boom"))["kind"] == "internal"


def test_frame_is_dockers_header() -> None:
    assert p.frame(p.STDERR, b"hi") == b"\x02\x00\x00\x00\x00\x00\x00\x02hi"
    assert p.encode({"ok": True}) == b'{"ok":true}\n'


def test_runtime_error_mapping() -> None:
    status_127 = 127 << 8
    e = runtime_error("create", status_127, 'hull-runtime: exec: "x": not found\n')
    assert isinstance(e, errors.ContainerExit) and e.exit_code == 127
    assert e.message == 'OCI runtime create failed: exec: "x": not found'
    assert isinstance(runtime_error("create", 1 << 8, "container with id a already exists"),
                      errors.AlreadyExists)  # fmt: skip
    assert isinstance(runtime_error("start", 1 << 8, ""), errors.Internal)


def test_read_line_leaves_the_stream() -> None:
    a, b = socket.socketpair()
    try:
        a.sendall(b'{"ok":true}\n\x01\x00\x00\x00\x00\x00\x00\x01x')
        assert read_line(b) == {"ok": True}
        assert b.recv(100) == b"\x01\x00\x00\x00\x00\x00\x00\x01x"
        a.close()
        with pytest.raises(errors.Unavailable):
            read_line(b)
    finally:
        b.close()
        if a.fileno() >= 0:
            os.close(a.detach())
