"""The container verbs of ``hull`` against canned Docker-shaped answers on a temp socket.

The server records every request and answers from a table: this tests the
CLI's edge (what it sends, how it prints, which exit code), not hulld.
"""

from __future__ import annotations

import json
import re
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hull.api.stdcopy import frame
from hull.cli.commands.ps import display_ports
from hull.cli.main import main

CID = "4f66ad9a0b2e" + "0" * 52


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    raw: bytes | None = None  # a body sent as is
    upgrade: bytes | None = None  # hijack: 101 then these bytes, then close
    content_type: str = "application/json"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeDaemon:
    """Routes ``(METHOD, path regex)`` → Answer (or a callable giving one)."""

    routes: dict[tuple[str, str], Answer | Callable[[Request], Answer]] = field(
        default_factory=dict
    )
    requests: list[Request] = field(default_factory=list)

    def answer(self, req: Request) -> Answer:
        for (method, pattern), ans in self.routes.items():
            if method == req.method and re.fullmatch(pattern, req.path):
                return ans(req) if callable(ans) else ans
        return Answer(404, {"message": f"page not found: {req.method} {req.path}"})

    def find(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(path, r.path)]


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    fake: FakeDaemon

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the CLI hanging up on a kept-alive connection is no failure


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def address_string(self) -> str:
        return "unix"

    def _handle(self) -> None:
        url = urlsplit(self.path)
        path = re.sub(r"^/v1\.\d+", "", url.path)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = raw
        req = Request(self.command, path, parse_qs(url.query, keep_blank_values=True), body)
        if path != "/_ping":
            self.server.fake.requests.append(req)
        if path == "/_ping":
            ans = Answer(raw=b"OK", content_type="text/plain")
        else:
            ans = self.server.fake.answer(req)
        if ans.upgrade is not None:
            self.send_response(101, "UPGRADED")
            self.send_header("Content-Type", ans.content_type)
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "tcp")
            self.end_headers()
            self.wfile.write(ans.upgrade)
            self.wfile.flush()
            self.close_connection = True
            return
        data = ans.raw if ans.raw is not None else (
            b"" if ans.body is None else json.dumps(ans.body).encode()
        )  # fmt: skip
        self.send_response(ans.status)
        self.send_header("Api-Version", "1.43")
        self.send_header("Content-Type", ans.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _handle


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[FakeDaemon, str]]:
    sock = tmp_path / "d.sock"
    server = _Server(str(sock), _Handler)
    server.fake = FakeDaemon()
    t = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    t.start()
    try:
        yield server.fake, f"unix://{sock}"
    finally:
        server.shutdown()
        server.server_close()


def hull(host: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["-H", host, *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def container_json(**over: Any) -> dict[str, Any]:
    doc = {
        "Id": CID,
        "Names": ["/web"],
        "Image": "docker.io/library/busybox:latest",
        "ImageID": "sha256:" + "b" * 64,
        "Command": "sh -c 'while true; do sleep 1; done'",
        "Created": int(time.time()) - 7200,
        "Ports": [
            {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"PrivatePort": 443, "Type": "tcp"},
        ],
        "Labels": {"a": "b"},
        "State": "running",
        "Status": "Up 2 hours",
        "Mounts": [],
        "NetworkSettings": {"Networks": {"bridge": {}}},
    }
    doc.update(over)
    return doc


# -- ps ---------------------------------------------------------------------------------


def test_ps_table_quiet_and_format(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, host = daemon
    other = container_json(Id="9" * 64, Names=["/db"], Image="sha256:" + "b" * 64,
                           Command="postgres", Ports=[], Status="Exited (0) 5 minutes ago",
                           State="exited")  # fmt: skip
    fake.routes[("GET", "/containers/json")] = Answer(body=[container_json(), other])
    rc, out, _ = hull(host, capsys, "ps", "-a")
    assert rc == 0
    lines = out.splitlines()
    assert re.fullmatch(r"CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES", lines[0])
    assert lines[1].startswith("4f66ad9a0b2e   busybox:latest   ")
    assert '"sh -c \'while true; …"' in lines[1]
    assert "2 hours ago" in lines[1] and "Up 2 hours" in lines[1]
    assert "443/tcp, 0.0.0.0:8080->80/tcp" in lines[1] and lines[1].endswith("web")
    assert re.match(r'999999999999   bbbbbbbbbbbb +"postgres" +2 hours ago +Exited', lines[2])
    # columns line up as Go's tabwriter
    assert lines[0].index("IMAGE") == lines[1].index("busybox")
    assert (
        display_ports(
            [
                {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 80, "Type": "tcp"},
                {"IP": "0.0.0.0", "PrivatePort": 81, "PublicPort": 81, "Type": "tcp"},
                {"IP": "::", "PrivatePort": 22, "PublicPort": 2222, "Type": "tcp"},
                {"PrivatePort": 53, "Type": "udp"},
            ]
        )
        == "53/udp, 0.0.0.0:80-81->80-81/tcp, :::2222->22/tcp"
    )
    assert fake.requests[-1].query == {"all": ["1"]}

    rc, out, _ = hull(host, capsys, "ps", "-q")
    assert out == "4f66ad9a0b2e\n999999999999\n"
    assert "all" not in fake.requests[-1].query
    rc, out, _ = hull(host, capsys, "ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}")
    assert out == f"{CID} web\n{'9' * 64} db\n"
    rc, out, _ = hull(host, capsys, "ps", "--format", "table {{.Names}}\t{{.State}}")
    assert out == "NAMES     STATE\nweb       running\ndb        exited\n"
    rc, out, _ = hull(host, capsys, "ps", "--format", "{{json .}}", "-n", "1")
    doc = json.loads(out.splitlines()[0])
    assert list(doc) == sorted(doc) and doc["Labels"] == "a=b" and doc["Networks"] == "bridge"
    assert fake.requests[-1].query["limit"] == ["1"]
    rc, out, _ = hull(host, capsys, "container", "ls", "-l", "-f", "status=exited")
    assert fake.requests[-1].query["filters"] == ['{"status":["exited"]}']
    assert fake.requests[-1].query["limit"] == ["1"]


# -- rm, stop, kill ------------------------------------------------------------------------


def test_rm_prints_names_and_errors(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, host = daemon
    fake.routes[("DELETE", "/containers/(web|db)")] = Answer(204)
    fake.routes[("DELETE", "/containers/nope")] = Answer(
        404, {"message": "No such container: nope"}
    )
    fake.routes[("DELETE", "/containers/busy")] = Answer(
        409, {"message": "You cannot remove a running container busy. Stop the container "
                         "before attempting removal or force remove"}
    )  # fmt: skip
    rc, out, err = hull(host, capsys, "rm", "-v", "web", "nope", "busy", "db")
    assert rc == 1
    assert out == "web\ndb\n"
    assert err.splitlines() == [
        "Error: No such container: nope",
        "Error response from daemon: You cannot remove a running container busy. Stop the "
        "container before attempting removal or force remove",
    ]
    assert fake.find("DELETE", "/containers/web")[0].query == {
        "v": ["1"],
        "link": ["0"],
        "force": ["0"],
    }
    rc, out, err = hull(host, capsys, "rm", "-f", "nope", "web")
    assert (rc, out, err) == (0, "web\n", "")


def test_stop_kill_restart_pause(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, host = daemon
    for verb in ("stop", "kill", "restart", "pause", "unpause"):
        fake.routes[("POST", f"/containers/web/{verb}")] = Answer(204)
    fake.routes[("POST", "/containers/gone/stop")] = Answer(
        404, {"message": "No such container: gone"}
    )
    rc, out, err = hull(host, capsys, "stop", "-t", "3", "web", "gone")
    assert (rc, out) == (1, "web\n")
    assert err == "Error response from daemon: No such container: gone\n"
    assert fake.find("POST", "/containers/web/stop")[0].query == {"t": ["3"]}
    assert hull(host, capsys, "kill", "-s", "HUP", "web")[:2] == (0, "web\n")
    assert fake.find("POST", "/containers/web/kill")[0].query == {"signal": ["HUP"]}
    assert hull(host, capsys, "kill", "web")[0] == 0
    assert fake.find("POST", "/containers/web/kill")[1].query == {"signal": ["KILL"]}
    for verb in ("restart", "pause", "unpause"):
        assert hull(host, capsys, verb, "web")[:2] == (0, "web\n")


# -- run -------------------------------------------------------------------------------------


def _run_routes(fake: FakeDaemon, *, status: int = 0, start: Answer | None = None,
                output: bytes = b"") -> None:  # fmt: skip
    fake.routes[("POST", "/containers/create")] = Answer(201, {"Id": CID, "Warnings": []})
    fake.routes[("POST", f"/containers/{CID}/attach")] = Answer(
        upgrade=output, content_type="application/vnd.docker.multiplexed-stream"
    )
    fake.routes[("POST", f"/containers/{CID}/wait")] = Answer(
        body={"StatusCode": status, "Error": None}
    )
    fake.routes[("POST", f"/containers/{CID}/start")] = start or Answer(204)


def test_run_detached_prints_the_id(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, host = daemon
    _run_routes(fake)
    rc, out, err = hull(host, capsys, "run", "-d", "--name", "web", "-e", "A=1", "busybox",
                        "sleep", "60")  # fmt: skip
    assert (rc, out, err) == (0, CID + "\n", "")
    create = fake.find("POST", "/containers/create")[0]
    assert create.query == {"name": ["web"]}
    assert create.body["Cmd"] == ["sleep", "60"] and create.body["Env"] == ["A=1"]
    assert create.body["AttachStdout"] is False and create.body["AttachStderr"] is False
    assert not fake.find("POST", f"/containers/{CID}/attach")
    assert fake.find("POST", f"/containers/{CID}/start")


def test_run_attached_streams_and_exits_with_status(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, host = daemon
    _run_routes(fake, status=3, output=frame(1, b"hello\n") + frame(2, b"oops\n"))
    rc, out, err = hull(host, capsys, "run", "--rm", "busybox", "sh", "-c", "exit 3")
    assert (rc, out, err) == (3, "hello\n", "oops\n")
    attach = fake.find("POST", f"/containers/{CID}/attach")[0]
    assert attach.query == {"stream": ["1"], "stdin": ["0"], "stdout": ["1"], "stderr": ["1"]}
    assert fake.find("POST", f"/containers/{CID}/wait")[0].query == {"condition": ["removed"]}
    # attach and wait come before start, as the docker CLI orders them
    order = [r.path.rsplit("/", 1)[-1] for r in fake.requests]
    assert order.index("attach") < order.index("start")
    assert order.index("wait") < order.index("start")

    fake.requests.clear()
    rc, _, _ = hull(host, capsys, "run", "busybox", "true")
    assert rc == 3
    assert fake.find("POST", f"/containers/{CID}/wait")[0].query == {"condition": ["next-exit"]}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ('failed to create task: exec: "nope": executable file not found in $PATH', 127),
        ("exec /bin/x: no such file or directory", 127),
        ("exec /etc/passwd: permission denied", 126),
        ("cannot start a container with a bad cgroup", 125),
    ],
)
def test_run_start_errors_map_to_126_127_125(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str], message: str, code: int
) -> None:
    fake, host = daemon
    _run_routes(fake, start=Answer(400, {"message": message}))
    rc, _, err = hull(host, capsys, "run", "busybox", "nope")
    assert rc == code
    assert err == f"hull: Error response from daemon: {message}.\n"
    rc, out, err = hull(host, capsys, "run", "-d", "busybox", "nope")
    assert rc == code and out == CID + "\n"


def test_run_create_error_exits_125(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, host = daemon
    fake.routes[("POST", "/containers/create")] = Answer(
        409, {"message": 'Conflict. The container name "/web" is already in use'}
    )
    rc, out, err = hull(host, capsys, "run", "--name", "web", "busybox")
    assert (rc, out) == (125, "")
    assert err == (
        'hull: Error response from daemon: Conflict. The container name "/web" is already in '
        "use.\nSee 'hull run --help'.\n"
    )
    rc, _, err = hull(host, capsys, "run", "-p", "x:80", "busybox")
    assert rc == 125 and "invalid hostPort: x" in err


def test_run_pulls_a_missing_image_unless_pull_never(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, host = daemon
    _run_routes(fake)
    created = Answer(201, {"Id": CID, "Warnings": ["Your kernel does not support swap"]})
    missing = Answer(404, {"message": "No such image: nosuch:latest"})
    pulled: list[bool] = []
    fake.routes[("POST", "/containers/create")] = lambda r: created if pulled else missing

    def pull(req: Request) -> Answer:
        pulled.append(True)
        lines = [{"status": "Pulling from library/nosuch", "id": "latest"},
                 {"status": "Status: Downloaded newer image for nosuch:latest"}]  # fmt: skip
        return Answer(raw=b"".join(json.dumps(m).encode() + b"\n" for m in lines))

    rc, out, err = hull(host, capsys, "run", "--pull", "never", "nosuch")
    assert rc == 125 and "No such image: nosuch:latest" in err and not pulled
    fake.routes[("POST", "/images/create")] = pull
    rc, out, err = hull(host, capsys, "run", "-d", "nosuch")
    assert (rc, out) == (0, CID + "\n")
    assert err.splitlines()[0] == "Unable to find image 'nosuch:latest' locally"
    assert "Status: Downloaded newer image for nosuch:latest" in err
    assert "WARNING: Your kernel does not support swap" in err
    assert fake.find("POST", "/images/create")[0].query == {
        "fromImage": ["docker.io/library/nosuch"],
        "tag": ["latest"],
    }


# -- exec --------------------------------------------------------------------------------------


def test_exec_exit_code_from_inspect(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, host = daemon
    fake.routes[("POST", "/containers/web/exec")] = Answer(201, {"Id": "e1"})
    fake.routes[("POST", "/exec/e1/start")] = Answer(
        upgrade=frame(1, b"out\n") + frame(2, b"err\n"),
        content_type="application/vnd.docker.multiplexed-stream",
    )
    fake.routes[("GET", "/exec/e1/json")] = Answer(body={"Running": False, "ExitCode": 42})
    rc, out, err = hull(host, capsys, "exec", "-e", "X=1", "-u", "nobody", "-w", "/tmp", "web",
                        "sh", "-c", "exit 42")  # fmt: skip
    assert (rc, out, err) == (42, "out\n", "err\n")
    body = fake.find("POST", "/containers/web/exec")[0].body
    assert body["Cmd"] == ["sh", "-c", "exit 42"] and body["Env"] == ["X=1"]
    assert body["User"] == "nobody" and body["WorkingDir"] == "/tmp"
    assert body["AttachStdout"] and body["AttachStderr"] and not body["AttachStdin"]
    assert fake.find("POST", "/exec/e1/start")[0].body == {"Detach": False, "Tty": False}

    fake.requests.clear()
    fake.routes[("POST", "/exec/e1/start")] = Answer(200)
    rc, out, _ = hull(host, capsys, "exec", "-d", "web", "sleep", "9")
    assert (rc, out) == (0, "")
    assert fake.find("POST", "/exec/e1/start")[0].body == {"Detach": True, "Tty": False}

    fake.routes[("POST", "/containers/stopped/exec")] = Answer(
        409, {"message": "Container stopped is not running"}
    )
    rc, _, err = hull(host, capsys, "exec", "stopped", "ls")
    assert rc == 1 and err == "Error response from daemon: Container stopped is not running\n"


# -- logs ---------------------------------------------------------------------------------------


def test_logs_demuxes_frames_and_passes_tty_raw(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, host = daemon
    fake.routes[("GET", "/containers/web/json")] = Answer(
        body={"Id": CID, "Config": {"Tty": False}}
    )
    fake.routes[("GET", f"/containers/{CID}/logs")] = Answer(
        raw=frame(1, b"one\n") + frame(2, b"two\n") + frame(1, b"three\n"),
        content_type="application/vnd.docker.multiplexed-stream",
    )
    rc, out, err = hull(host, capsys, "logs", "--tail", "3", "-t", "web")
    assert (rc, out, err) == (0, "one\nthree\n", "two\n")
    q = fake.find("GET", f"/containers/{CID}/logs")[0].query
    assert q == {"stdout": ["1"], "stderr": ["1"], "timestamps": ["1"], "tail": ["3"]}

    fake.routes[("GET", "/containers/t/json")] = Answer(
        body={"Id": "t" * 64, "Config": {"Tty": True}}
    )
    fake.routes[("GET", f"/containers/{'t' * 64}/logs")] = Answer(raw=b"raw\r\nbytes\r\n")
    rc, out, _ = hull(host, capsys, "logs", "--since", "1700000000", "t")
    assert out == "raw\r\nbytes\r\n"
    assert fake.requests[-1].query["since"] == ["1700000000"]

    fake.routes[("GET", "/containers/nope/json")] = Answer(
        404, {"message": "No such container: nope"}
    )
    rc, _, err = hull(host, capsys, "logs", "nope")
    assert rc == 1 and err == "Error: No such container: nope\n"


# -- the rest ---------------------------------------------------------------------------------


def test_wait_diff_top_rename_inspect(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, host = daemon
    fake.routes[("POST", "/containers/web/wait")] = Answer(body={"StatusCode": 7})
    assert hull(host, capsys, "wait", "web")[:2] == (0, "7\n")
    fake.routes[("GET", "/containers/web/changes")] = Answer(
        body=[{"Path": "/etc", "Kind": 0}, {"Path": "/etc/x", "Kind": 1}, {"Path": "/y", "Kind": 2}]
    )
    assert hull(host, capsys, "diff", "web")[1] == "C /etc\nA /etc/x\nD /y\n"
    fake.routes[("GET", "/containers/web/top")] = Answer(
        body={"Titles": ["UID", "PID", "CMD"], "Processes": [["root", "4242", "sleep 60"]]}
    )
    out = hull(host, capsys, "top", "web")[1]
    assert (
        out
        == "UID"
        + " " * 17
        + "PID"
        + " " * 17
        + "CMD\nroot"
        + " " * 16
        + "4242"
        + " " * 16
        + "sleep 60\n"
    )
    fake.routes[("POST", "/containers/web/rename")] = Answer(204)
    assert hull(host, capsys, "rename", "web", "www")[0] == 0
    assert fake.requests[-1].query == {"name": ["www"]}
    fake.routes[("GET", "/containers/web/json")] = Answer(body={"Id": CID, "Name": "/web"})
    rc, out, _ = hull(host, capsys, "inspect", "--format", "{{.Name}} {{.Id}}", "web")
    assert (rc, out) == (0, f"/web {CID}\n")
    fake.routes[("GET", "/images/busybox/json")] = Answer(body={"Id": "sha256:abc"})
    rc, out, _ = hull(host, capsys, "inspect", "--format", "{{.Id}}", "busybox")
    assert (rc, out) == (0, "sha256:abc\n")  # not a container: the image
    rc, out, err = hull(host, capsys, "container", "inspect", "busybox")
    assert (rc, out, err) == (1, "[]\n", "Error: No such container: busybox\n")


def test_stats_no_stream_computes_from_two_samples(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, host = daemon
    sample = {
        "id": CID,
        "name": "/web",
        "cpu_stats": {
            "cpu_usage": {"total_usage": 3_000_000_000},
            "system_cpu_usage": 20_000_000_000,
            "online_cpus": 2,
        },
        "precpu_stats": {
            "cpu_usage": {"total_usage": 2_000_000_000},
            "system_cpu_usage": 10_000_000_000,
        },
        "memory_stats": {
            "usage": 12 * 1024**2,
            "limit": 100 * 1024**2,
            "stats": {"inactive_file": 2 * 1024**2},
        },
        "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 648}},
        "blkio_stats": {
            "io_service_bytes_recursive": [
                {"op": "read", "value": 4096000},
                {"op": "write", "value": 0},
            ]
        },
        "pids_stats": {"current": 3},
    }
    fake.routes[("GET", "/containers/web/stats")] = Answer(body=sample)
    rc, out, _ = hull(host, capsys, "stats", "--no-stream", "web")
    assert rc == 0
    head, line = out.splitlines()
    assert re.fullmatch(
        r"CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS", head
    )
    cells = re.split(r" {3,}", line)
    assert cells == ["4f66ad9a0b2e", "web", "20.00%", "10MiB / 100MiB", "10.00%",
                     "1.5kB / 648B", "4.1MB / 0B", "3"]  # fmt: skip
    assert fake.requests[-1].query == {"stream": ["0"]}


def test_volume_verbs(daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]) -> None:
    fake, host = daemon
    fake.routes[("POST", "/volumes/create")] = lambda r: Answer(201, {"Name": r.body["Name"]})
    assert hull(host, capsys, "volume", "create", "--label", "a=b", "data")[1] == "data\n"
    assert fake.requests[-1].body == {"Name": "data", "Driver": "local", "DriverOpts": {},
                                      "Labels": {"a": "b"}}  # fmt: skip
    fake.routes[("GET", "/volumes")] = Answer(
        body={"Volumes": [{"Name": "data", "Driver": "local"}, {"Name": "b", "Driver": "local"}],
              "Warnings": None}
    )  # fmt: skip
    assert hull(host, capsys, "volume", "ls")[1] == (
        "DRIVER    VOLUME NAME\nlocal     b\nlocal     data\n"
    )
    assert hull(host, capsys, "volume", "ls", "-q")[1] == "b\ndata\n"
    fake.routes[("DELETE", "/volumes/data")] = Answer(204)
    assert hull(host, capsys, "volume", "rm", "data")[1] == "data\n"
    fake.routes[("POST", "/volumes/prune")] = Answer(
        body={"VolumesDeleted": ["x"], "SpaceReclaimed": 2048}
    )
    out = hull(host, capsys, "volume", "prune", "-f")[1]
    assert out == "Deleted Volumes:\nx\n\nTotal reclaimed space: 2.048kB\n"


# -- create, start, commit, cp, export ------------------------------------------------------


def test_create_start_commit(
    daemon: tuple[FakeDaemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, host = daemon
    _run_routes(fake)
    rc, out, _ = hull(host, capsys, "create", "-it", "--name", "c1", "busybox")
    assert (rc, out) == (0, CID + "\n")
    body = fake.find("POST", "/containers/create")[0].body
    assert body["Tty"] and body["OpenStdin"] and body["AttachStdin"] and body["StdinOnce"]
    assert not fake.find("POST", f"/containers/{CID}/start")

    def start(req: Request) -> Answer:
        if req.path.endswith("/a/start"):
            return Answer(204)
        return Answer(404, {"message": "No such container: b"})

    fake.routes[("POST", "/containers/(a|b)/start")] = start
    rc, out, err = hull(host, capsys, "start", "a", "b")
    assert (rc, out) == (1, "a\n")
    assert err == (
        "Error response from daemon: No such container: b\nError: failed to start containers: b\n"
    )

    fake.routes[("GET", "/containers/c1/json")] = Answer(
        body={"Id": CID, "Config": {"Tty": False, "OpenStdin": False}, "HostConfig": {}}
    )
    fake.routes[("POST", f"/containers/{CID}/wait")] = Answer(body={"StatusCode": 5})
    fake.routes[("POST", f"/containers/{CID}/attach")] = Answer(
        upgrade=frame(1, b"started\n"), content_type="application/vnd.docker.multiplexed-stream"
    )
    rc, out, _ = hull(host, capsys, "start", "-a", "c1")
    assert (rc, out) == (5, "started\n")

    fake.routes[("POST", "/commit")] = Answer(201, {"Id": "sha256:" + "c" * 64})
    rc, out, _ = hull(host, capsys, "commit", "-m", "msg", "-c", "ENV A=1", "-c", "USER 1",
                      "c1", "me/app:v1")  # fmt: skip
    assert (rc, out) == (0, "sha256:" + "c" * 64 + "\n")
    q = fake.find("POST", "/commit")[0].query
    assert q == {"container": ["c1"], "repo": ["me/app"], "tag": ["v1"], "comment": ["msg"],
                 "changes": ["ENV A=1", "USER 1"], "pause": ["1"]}  # fmt: skip


def _tar(files: dict[str, bytes]) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_cp_both_ways_and_export(
    daemon: tuple[FakeDaemon, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64
    import io
    import tarfile

    fake, host = daemon
    fake.routes[("GET", "/containers/web/archive")] = Answer(
        raw=_tar({"hosts": b"127.0.0.1 localhost\n"}), content_type="application/x-tar"
    )
    assert hull(host, capsys, "cp", "web:/etc/hosts", str(tmp_path / "copy"))[0] == 0
    assert (tmp_path / "copy").read_bytes() == b"127.0.0.1 localhost\n"
    assert fake.requests[-1].query == {"path": ["/etc/hosts"]}
    assert hull(host, capsys, "cp", "web:/etc/hosts", str(tmp_path))[0] == 0
    assert (tmp_path / "hosts").read_bytes() == b"127.0.0.1 localhost\n"

    stat = base64.b64encode(json.dumps({"name": "tmp", "mode": 0x80000000 | 0o1777}).encode())
    fake.routes[("HEAD", "/containers/web/archive")] = Answer(raw=b"")
    fake.routes[("PUT", "/containers/web/archive")] = Answer(200)

    def head(req: Request) -> Answer:
        return Answer(raw=b"") if req.query["path"] == ["/tmp"] else Answer(404, {"message": "x"})

    fake.routes[("HEAD", "/containers/web/archive")] = head
    (tmp_path / "f.txt").write_text("data")
    # the stat header is what the CLI reads; the canned HEAD sends none, so add it here
    orig = _Handler.send_header

    def with_stat(self: _Handler, k: str, v: str) -> None:
        orig(self, k, v)
        if k == "Content-Length" and self.command == "HEAD":
            orig(self, "X-Docker-Container-Path-Stat", stat.decode())

    _Handler.send_header = with_stat  # type: ignore[method-assign]
    try:
        assert hull(host, capsys, "cp", str(tmp_path / "f.txt"), "web:/tmp")[0] == 0
        assert hull(host, capsys, "cp", str(tmp_path / "f.txt"), "web:/new.txt")[0] == 0
    finally:
        _Handler.send_header = orig  # type: ignore[method-assign]
    puts = fake.find("PUT", "/containers/web/archive")
    assert puts[0].query["path"] == ["/tmp"] and puts[1].query["path"] == ["/"]
    names = []
    for p in puts:
        with tarfile.open(fileobj=io.BytesIO(p.body)) as tar:
            names.append(tar.getnames())
    assert names == [["f.txt"], ["new.txt"]]

    fake.routes[("GET", "/containers/web/export")] = Answer(raw=b"TARBYTES")
    assert hull(host, capsys, "export", "-o", str(tmp_path / "x.tar"), "web")[0] == 0
    assert (tmp_path / "x.tar").read_bytes() == b"TARBYTES"


# -- the terminal side --------------------------------------------------------------------------


def test_detach_keys_and_pump_over_a_socketpair() -> None:
    import os
    import socket

    from hull.cli.tty import DetachKeys, parse_detach_keys, pump
    from hull.client import Hijacked

    keys = DetachKeys()
    assert keys.feed(b"a\x10b") == (b"a\x10b", False)
    assert keys.feed(b"x\x10") == (b"x", False)
    assert keys.feed(b"\x11rest") == (b"", True)
    assert parse_detach_keys("ctrl-a,x") == b"\x01x"

    ours, theirs = socket.socketpair()
    r, w = os.pipe()
    os.write(w, b"typed\x10\x11ignored")
    theirs.sendall(b"prompt$ ")
    out = io_bytes()
    detached = pump(Hijacked(ours, b"", "application/vnd.docker.raw-stream"), tty=True,
                    stdin=os.fdopen(r, "rb"), out=out)  # fmt: skip
    assert detached is True
    theirs.settimeout(1)
    assert theirs.recv(100) == b"typed"
    assert out.buffer.getvalue() == b"prompt$ "
    os.close(w)
    ours.close()
    theirs.close()


def io_bytes() -> Any:
    import io

    return io.TextIOWrapper(io.BytesIO())
