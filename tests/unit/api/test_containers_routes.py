"""The container, exec and volume endpoints against an in-process hulld on a temp data root.

The daemon runs busybox containers for real (hull-runtime under the
engine's monitor), so these tests need root. One daemon serves the module;
teardown force-removes every container, stops the daemon, stops the
monitor by its pid file and unmounts whatever is left, even on failure.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hull.api import Daemon
from hull.api.stdcopy import STDOUT, Demuxer
from hull.client import Client
from hull.errors import Conflict, InvalidArgument, NotFound
from hull.images import bootstrap_busybox
from tests.conftest import hull_runtime_path, requires_root
from tests.unit.api._daemon import running_daemon

pytestmark = [requires_root]


def stop_monitor(run: Path) -> None:
    """SIGTERM the engine's monitor (it outlives hulld by design), then SIGKILL."""
    with contextlib.suppress(OSError, ValueError):
        pid = int((run / "monitor" / "monitor.pid").read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 10
        while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ", 1)[1][0] == "Z":
                    break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def unmount_under(base: Path) -> None:
    with open("/proc/self/mountinfo") as f:
        points = [ln.split()[4] for ln in f]
    for p in sorted((p for p in points if p.startswith(str(base))), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], capture_output=True, check=False)


@pytest.fixture(scope="module")
def daemon() -> Iterator[tuple[Daemon, Client]]:
    tmp = Path(tempfile.mkdtemp(prefix="hull-ctr-api-"))
    try:
        with running_daemon(tmp, runtimes={"hull-runtime": hull_runtime_path()}) as d:
            bootstrap_busybox(d.app.images)
            client = Client(d.addresses[0], timeout=60)
            try:
                yield d, client
            finally:
                with contextlib.suppress(Exception):
                    for c in client.get("/containers/json", {"all": True}):
                        with contextlib.suppress(Exception):
                            client.delete(f"/containers/{c['Id']}", {"force": True, "v": True})
                client.close()
    finally:
        stop_monitor(tmp / "run")
        unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def create(c: Client, cmd: list[str], name: str | None = None, **cfg: Any) -> str:
    body = {"Image": "busybox", "Cmd": cmd, **cfg}
    out = c.request("POST", "/containers/create", params={"name": name}, json=body)
    assert out.status == 201
    doc = out.json()
    assert set(doc) == {"Id", "Warnings"} and doc["Warnings"] == []
    return str(doc["Id"])


def wait(c: Client, cid: str, condition: str | None = None) -> dict[str, Any]:
    return dict(c.post(f"/containers/{cid}/wait", {"condition": condition}))


def logs(c: Client, cid: str, **params: Any) -> list[tuple[int, bytes]]:
    raw = b"".join(
        c.stream_raw(
            "GET", f"/containers/{cid}/logs", params={"stdout": True, "stderr": True, **params}
        )
    )
    return list(Demuxer().feed(raw))


def test_create_start_wait_logs(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    events: list[dict[str, Any]] = []
    since = time.time()
    cid = create(c, ["echo", "hi"], name="hello")
    c.post(f"/containers/{cid}/start")
    assert wait(c, cid) == {"StatusCode": 0, "Error": None}
    assert logs(c, cid) == [(STDOUT, b"hi\n")]
    assert logs(c, "hello", follow=True, tail="1") == [(STDOUT, b"hi\n")]
    ts = logs(c, cid, timestamps=True)
    assert ts[0][1].endswith(b" hi\n") and ts[0][1][:4].isdigit()
    doc = c.get(f"/containers/{cid}/json")
    assert doc["Id"] == cid and doc["Name"] == "/hello"
    assert doc["State"]["Status"] == "exited" and doc["State"]["ExitCode"] == 0
    assert doc["Config"]["Cmd"] == ["echo", "hi"] and doc["Config"]["Image"] == "busybox"
    # events on the bus, in Docker's shape
    evs = c.stream_raw("GET", "/events", params={"since": str(since), "until": str(time.time())})
    for line in b"".join(evs).splitlines():
        events.append(json.loads(line))
    mine = [e for e in events if e.get("Type") == "container" and e["Actor"]["ID"] == cid]
    assert [e["Action"] for e in mine] == ["create", "start", "die"]
    assert mine[-1]["Actor"]["Attributes"]["exitCode"] == "0"
    assert mine[0]["Actor"]["Attributes"]["name"] == "hello"
    assert mine[0]["Actor"]["Attributes"]["image"] == "busybox"
    assert c.post(f"/containers/{cid}/start") is None  # a new run
    assert wait(c, cid)["StatusCode"] == 0
    c.delete(f"/containers/{cid}")
    with pytest.raises(NotFound):
        c.get(f"/containers/{cid}/json")


def test_exit_codes_and_bad_create(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    cid = create(c, ["sh", "-c", "exit 3"])
    c.post(f"/containers/{cid}/start")
    assert wait(c, cid)["StatusCode"] == 3
    c.delete(f"/containers/{cid}")
    cid = create(c, ["nosuchcmd"])
    with pytest.raises(Exception) as ei:
        c.post(f"/containers/{cid}/start")
    assert "nosuchcmd" in str(ei.value) or "not found" in str(ei.value)
    assert c.get(f"/containers/{cid}/json")["State"]["ExitCode"] == 127
    c.delete(f"/containers/{cid}")
    with pytest.raises(NotFound, match="No such image: nope:latest"):
        c.post("/containers/create", json={"Image": "nope"})
    with pytest.raises(InvalidArgument):
        c.request("POST", "/containers/create", data=b"{nope", headers={"Content-Type": "x"})
    with pytest.raises(NotFound):
        c.post("/containers/nosuch/start")


def test_lifecycle_statuses(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    cid = create(c, ["sleep", "60"], name="sleeper")
    with pytest.raises(Conflict, match="already in use"):
        create(c, ["true"], name="sleeper")
    with pytest.raises(Conflict, match="is not running"):
        c.post(f"/containers/{cid}/kill")
    assert c.request("POST", f"/containers/{cid}/stop").status == 304
    assert c.request("POST", f"/containers/{cid}/start").status == 204
    assert c.request("POST", f"/containers/{cid}/start").status == 304
    lst = c.get("/containers/json")
    mine = [x for x in lst if x["Id"] == cid]
    assert mine and mine[0]["Names"] == ["/sleeper"] and mine[0]["State"] == "running"
    want = {"Id", "Names", "Image", "ImageID", "Command", "Created", "State", "Status",
            "Labels", "Mounts", "HostConfig", "NetworkSettings", "Ports"}  # fmt: skip
    assert want <= set(mine[0])
    assert [x["Id"] for x in c.get("/containers/json", {"filters": {"name": ["sleeper"]}})] == [cid]
    top = c.get(f"/containers/{cid}/top")
    assert any("sleep" in " ".join(p) for p in top["Processes"])
    stats = c.get(f"/containers/{cid}/stats", {"stream": False})
    assert "memory_stats" in stats and "cpu_stats" in stats
    with pytest.raises(Conflict, match="running"):
        c.delete(f"/containers/{cid}")
    assert c.request("POST", f"/containers/{cid}/pause").status == 204
    assert c.get(f"/containers/{cid}/json")["State"]["Paused"] is True
    assert c.request("POST", f"/containers/{cid}/unpause").status == 204
    c.post(f"/containers/{cid}/rename", {"name": "sleepy"})
    assert c.get("/containers/sleepy/json")["Id"] == cid
    t0 = time.monotonic()
    # sleep as pid 1 ignores SIGTERM: killed after 1 s
    assert c.request("POST", f"/containers/{cid}/stop", params={"t": 1}).status == 204
    assert 0.9 < time.monotonic() - t0 < 15
    assert c.get(f"/containers/{cid}/json")["State"]["ExitCode"] == 137
    assert c.request("POST", f"/containers/{cid}/stop").status == 304
    c.post(f"/containers/{cid}/start")
    c.post(f"/containers/{cid}/kill", {"signal": "SIGKILL"})
    assert wait(c, cid)["StatusCode"] == 137
    c.post(f"/containers/{cid}/start")
    c.delete(f"/containers/{cid}", {"force": True})
    assert not [x for x in c.get("/containers/json", {"all": True}) if x["Id"] == cid]


def test_wait_headers_before_start_and_attach(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    cid = create(c, ["cat"], OpenStdin=True, StdinOnce=True, AttachStdin=True,
                 AttachStdout=True, AttachStderr=True)  # fmt: skip
    # the wait's headers arrive before the container even starts
    it = c.stream_raw("POST", f"/containers/{cid}/wait", params={"condition": "next-exit"})
    got: list[bytes] = []
    waiter = threading.Thread(target=lambda: got.extend(it))
    waiter.start()
    params = {"stream": True, "stdin": True, "stdout": True, "stderr": True}
    h = c.hijack("POST", f"/containers/{cid}/attach", params=params)
    assert h.multiplexed
    c.post(f"/containers/{cid}/start")
    h.sendall(b"hello cat\n")
    h.close_write()
    out = b"".join(p for s, p in h.frames() if s == STDOUT)
    h.close()
    assert out == b"hello cat\n"
    waiter.join(30)
    assert json.loads(b"".join(got)) == {"StatusCode": 0, "Error": None}
    c.delete(f"/containers/{cid}")


def test_exec(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    cid = create(c, ["sleep", "60"])
    c.post(f"/containers/{cid}/start")
    r = c.request("POST", f"/containers/{cid}/exec",
                  json={"Cmd": ["sh", "-c", "echo in; echo err >&2; exit 5"],
                        "AttachStdout": True, "AttachStderr": True})  # fmt: skip
    assert r.status == 201
    eid = r.json()["Id"]
    h = c.hijack("POST", f"/exec/{eid}/start", json={"Detach": False, "Tty": False})
    frames = list(h.frames())
    h.close()
    assert (1, b"in\n") in frames and (2, b"err\n") in frames
    deadline = time.time() + 10
    while (info := c.get(f"/exec/{eid}/json"))["Running"] and time.time() < deadline:
        time.sleep(0.05)
    assert info["ExitCode"] == 5 and info["ContainerID"] == cid
    with pytest.raises(NotFound):
        c.get("/exec/nope/json")
    # detached
    eid = c.post(f"/containers/{cid}/exec", json={"Cmd": ["touch", "/tmp/x"]})["Id"]
    assert c.request("POST", f"/exec/{eid}/start", json={"Detach": True}).status == 200
    c.delete(f"/containers/{cid}", {"force": True})
    stopped = create(c, ["true"])
    with pytest.raises(Conflict, match="is not running"):
        c.post(f"/containers/{stopped}/exec", json={"Cmd": ["true"]})
    c.delete(f"/containers/{stopped}")


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_archive_round_trip(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    cid = create(c, ["true"])  # never started: the snapshot is mounted for the copy
    c.put(f"/containers/{cid}/archive", {"path": "/tmp"}, data=_tar({"hello.txt": b"hi there\n"}))
    r = c.request("GET", f"/containers/{cid}/archive", params={"path": "/tmp/hello.txt"})
    st = json.loads(base64.b64decode(r.headers["X-Docker-Container-Path-Stat"]))
    assert st["name"] == "hello.txt" and st["size"] == 9 and st["linkTarget"] == ""
    with tarfile.open(fileobj=io.BytesIO(r.body)) as tf:
        f = tf.extractfile("hello.txt")
        assert f is not None and f.read() == b"hi there\n"
    h = c.head(f"/containers/{cid}/archive", {"path": "/etc"})
    st = json.loads(base64.b64decode(h.headers["X-Docker-Container-Path-Stat"]))
    assert st["name"] == "etc" and st["mode"] & (1 << 31)  # Go's ModeDir
    with pytest.raises(NotFound):
        c.head(f"/containers/{cid}/archive", {"path": "/nope"})
    # a tar climbing out of the rootfs is refused; nothing lands outside
    evil = _tar({"../../../../escaped": b"x"})
    with pytest.raises(InvalidArgument):
        c.put(f"/containers/{cid}/archive", {"path": "/tmp"}, data=evil)
    assert not Path("/escaped").exists()
    # and a running container
    c.post(f"/containers/{cid}/rename", {"name": "arch"})
    run = create(c, ["sleep", "60"])
    c.post(f"/containers/{run}/start")
    c.put(f"/containers/{run}/archive", {"path": "/"}, data=_tar({"new.txt": b"x"}))
    ex = c.post(f"/containers/{run}/exec", json={"Cmd": ["cat", "/new.txt"], "AttachStdout": True})
    h = c.hijack("POST", f"/exec/{ex['Id']}/start", json={})
    assert list(h.frames()) == [(1, b"x")]
    h.close()
    changes = c.get(f"/containers/{run}/changes")
    assert {"Path": "/new.txt", "Kind": 1} in changes
    c.delete(f"/containers/{run}", {"force": True})
    c.delete(f"/containers/{cid}")


def test_volumes(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    r = c.request("POST", "/volumes/create", json={"Name": "data", "Labels": {"a": "b"}})
    assert r.status == 201
    vol = r.json()
    assert vol["Name"] == "data" and vol["Driver"] == "local" and vol["Labels"] == {"a": "b"}
    assert c.get("/volumes/data")["Mountpoint"] == vol["Mountpoint"]
    lst = c.get("/volumes")
    assert [v["Name"] for v in lst["Volumes"]] == ["data"]
    assert c.get("/volumes", {"filters": {"label": ["a=c"]}})["Volumes"] == []
    cid = create(c, ["sh", "-c", "echo v > /data/f"], HostConfig={"Binds": ["data:/data"]})
    c.post(f"/containers/{cid}/start")
    assert wait(c, cid)["StatusCode"] == 0
    assert Path(vol["Mountpoint"], "f").read_text() == "v\n"
    with pytest.raises(Conflict, match="in use"):
        c.delete("/volumes/data")
    c.delete(f"/containers/{cid}")
    df = c.get("/system/df")
    assert [v["Name"] for v in df["Volumes"]] == ["data"]
    assert df["Volumes"][0]["UsageData"]["Size"] == 2
    assert c.request("DELETE", "/volumes/data").status == 204
    with pytest.raises(NotFound):
        c.get("/volumes/data")
    c.post("/volumes/create", json={"Name": "keep"})
    assert c.post("/volumes/prune")["VolumesDeleted"] is None  # named: kept without all
    out = c.post("/volumes/prune", {"filters": {"all": ["true"]}})
    assert out["VolumesDeleted"] == ["keep"]


def test_info_counts_and_prune(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    cid = create(c, ["true"])
    info = c.get("/info")
    assert info["Containers"] >= 1 and info["ContainersStopped"] >= 1
    out = c.post("/containers/prune")
    assert cid in out["ContainersDeleted"]
    # the image is in use by a container: rmi refuses without force
    cid = create(c, ["true"])
    with pytest.raises(Conflict):
        c.delete("/images/busybox")
    commit = c.request("POST", "/commit", params={"container": cid, "repo": "mine", "tag": "v1"})
    assert commit.status == 201 and commit.json()["Id"].startswith("sha256:")
    assert c.get("/images/mine:v1/json")["Id"] == commit.json()["Id"]
    exported = b"".join(c.stream_raw("GET", f"/containers/{cid}/export"))
    with tarfile.open(fileobj=io.BytesIO(exported)) as tf:
        assert "bin/busybox" in tf.getnames() or "./bin/busybox" in tf.getnames()
    c.delete(f"/containers/{cid}")


@pytest.mark.parametrize("tty", [False, True])
def test_detach_keeps_stdin_open(daemon: tuple[Daemon, Client], tty: bool) -> None:
    _, c = daemon
    cid = create(c, ["sh"], Tty=tty, OpenStdin=True, StdinOnce=True, AttachStdin=True,
                 AttachStdout=True)  # fmt: skip
    params = {"stream": True, "stdin": True, "stdout": True, "stderr": True}
    h = c.hijack("POST", f"/containers/{cid}/attach", params=params)
    c.post(f"/containers/{cid}/start")
    h.sendall(b"echo a\n")
    out = b""
    while b"a\n" not in out.replace(b"\r", b""):
        data = h.recv()
        assert data, out
        out += data
    h.sendall(b"\x10\x11")  # ctrl-p ctrl-q: the default detach keys
    while h.recv():  # the daemon ends the stream
        pass
    h.close()
    time.sleep(0.3)
    assert c.get(f"/containers/{cid}/json")["State"]["Running"] is True
    # attach again and end it: the shell still reads its stdin
    h = c.hijack("POST", f"/containers/{cid}/attach", params=params)
    h.sendall(b"exit 4\n")
    while h.recv():
        pass
    h.close()
    assert wait(c, cid)["StatusCode"] == 4
    c.delete(f"/containers/{cid}")
