"""The engine's container lifecycle on the real kernel: busybox containers end to end.

Each test gets a temp data root and exec root with the busybox image
bootstrapped, an Engine driving hull-runtime through its own monitor, and a
teardown that force-removes every container, stops the monitor, unmounts
whatever is left under the temp root and deletes it, even when a test fails.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hull import errors
from hull import metadata as md
from hull.engine.containers import AlreadyInState
from hull.engine.engine import Engine
from hull.images import ImageService, bootstrap_busybox
from tests.conftest import hull_runtime_path, requires_root

pytestmark = [requires_root, pytest.mark.root]


class Env:
    """A temp data root + exec root, the busybox image, and engines on them."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "data"
        self.run = base / "run"
        with ImageService(self.data) as svc:
            bootstrap_busybox(svc)
        self.events: list[tuple[str, str, str, dict[str, str]]] = []
        self.engines: list[Engine] = []
        self.engine = self.new_engine()

    def new_engine(self) -> Engine:
        def sink(t: str, a: str, i: str, attrs: Any) -> None:
            self.events.append((t, a, i, dict(attrs)))

        e = Engine(self.data, self.run, runtimes={"hull-runtime": hull_runtime_path()}, events=sink)
        self.engines.append(e)
        return e

    def actions(self, cid: str) -> list[str]:
        return [a for _, a, i, _ in self.events if i == cid]

    def close(self) -> None:
        eng = self.engines[-1]
        with contextlib.suppress(Exception):
            for rec in md.list_containers(eng.db):
                with contextlib.suppress(Exception):
                    eng.remove(rec.id, force=True, volumes=True)
        for e in self.engines:
            with contextlib.suppress(Exception):
                e.close()
        rt_root = self.run / "runtime" / "hull-runtime"
        if rt_root.exists():
            for cid in os.listdir(rt_root):
                subprocess.run([hull_runtime_path(), "--root", str(rt_root), "delete", "--force",
                                cid], capture_output=True, timeout=30, check=False)  # fmt: skip
        pid_file = self.run / "monitor" / "monitor.pid"
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip())
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
        with open("/proc/self/mountinfo") as f:
            points = [ln.split()[4] for ln in f]
        for p in reversed(points):
            if p.startswith(str(self.base) + "/"):
                subprocess.run(["umount", "-l", p], capture_output=True, check=False)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def env() -> Iterator[Env]:
    base = Path(tempfile.mkdtemp(prefix="heng-"))  # short: unix socket paths
    e: Env | None = None
    try:
        e = Env(base)
        yield e
    finally:
        if e is not None:
            e.close()
        else:
            shutil.rmtree(base, ignore_errors=True)


def run(engine: Engine, cmd: list[str], *, name: str | None = None, start: bool = True,
        **body: Any) -> str:  # fmt: skip
    cid, warnings = engine.create({"Image": "busybox", "Cmd": cmd, **body}, name)
    assert warnings == []
    if start:
        engine.start(cid)
    return cid


def wait_for(cond: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def logs(engine: Engine, cid: str, **kw: Any) -> str:
    return b"".join(data for _, data in engine.logs(cid, **kw)).decode()


def read_stream(s: socket.socket, timeout: float = 15) -> bytes:
    s.settimeout(timeout)
    buf = b""
    with s:
        while chunk := s.recv(65536):
            buf += chunk
    return buf


def demux(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while len(data) >= 8:
        n = int.from_bytes(data[4:8], "big")
        out.append((data[0], data[8 : 8 + n]))
        data = data[8 + n :]
    return out


# -- create, start, wait, logs ----------------------------------------------------------


def test_run_exit_code_logs_state(env: Env) -> None:
    e = env.engine
    # stdout and stderr are two pipes: the sleep fixes their order in the log
    cid = run(e, ["sh", "-c", "echo hi; sleep 0.2; echo oops >&2; exit 3"], name="first")
    assert e.wait(cid, "not-running") == {"StatusCode": 3, "Error": None}
    wait_for(lambda: e.inspect(cid)["State"]["Status"] == "exited", what="exited")
    st = e.inspect(cid)["State"]
    assert st["ExitCode"] == 3 and st["Running"] is False and st["Pid"] == 0
    assert st["FinishedAt"] >= st["StartedAt"] and st["StartedAt"].endswith("Z")
    assert logs(e, cid) == "hi\noops\n"
    assert logs(e, cid, stderr=False) == "hi\n"
    assert logs(e, cid, stdout=False, timestamps=True).endswith("Z oops\n")
    assert logs(e, cid, tail=1) == "oops\n"
    assert env.actions(cid) == ["create", "start", "die"]
    die = next(attrs for _, a, i, attrs in env.events if i == cid and a == "die")
    assert die["exitCode"] == "3" and die["name"] == "first" and die["image"] == "busybox"
    # the rootfs was unmounted at exit; the log is Docker's name in the container dir
    assert not os.path.ismount(e.bundle_dir(cid) / "rootfs")
    assert e.log_path(cid) == env.data / "containers" / cid / f"{cid}-json.log"
    # start again: a second run appends to the log
    e.start(cid)
    assert e.wait(cid, "next-exit")["StatusCode"] == 3
    wait_for(lambda: logs(e, cid) == "hi\noops\nhi\noops\n", what="second run's logs")
    with pytest.raises(errors.NotFound, match="No such container: nope"):
        e.inspect("nope")


def test_logs_follow_ends_at_exit_and_attach(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sh", "-c", "echo a; sleep 0.5; echo b"])
    t0 = time.monotonic()
    assert logs(e, cid, follow=True) == "a\nb\n"
    assert time.monotonic() - t0 < 10
    cat = run(e, ["cat"], OpenStdin=True, StdinOnce=True)
    s = e.attach(cat, stdin=True)
    s.sendall(b"echoed\n")
    s.shutdown(socket.SHUT_WR)  # stdin_once: EOF ends cat
    assert demux(read_stream(s)) == [(1, b"echoed\n")]
    assert e.wait(cat)["StatusCode"] == 0


def test_create_errors(env: Env) -> None:
    e = env.engine
    with pytest.raises(errors.NotFound, match="No such image: nosuch:latest"):
        e.create({"Image": "nosuch", "Cmd": ["true"]})
    run(e, ["true"], name="taken", start=False)
    with pytest.raises(errors.AlreadyExists, match='The container name "/taken" is already in use'):
        e.create({"Image": "busybox", "Cmd": ["true"]}, "taken")
    with pytest.raises(errors.NotFound, match="network nosuchnet not found"):
        e.create({"Image": "busybox", "HostConfig": {"NetworkMode": "nosuchnet"}})
    with pytest.raises(errors.InvalidArgument, match="no log driver named 'syslog'"):
        e.create({"Image": "busybox", "HostConfig": {"LogConfig": {"Type": "syslog"}}})
    with pytest.raises(errors.InvalidArgument, match="bind source path does not exist"):
        e.create({"Image": "busybox", "HostConfig": {"Mounts": [
            {"Type": "bind", "Source": str(env.base / "missing"), "Target": "/x"}]}})  # fmt: skip
    # nothing was left behind by the failures
    assert [r.name for r in md.list_containers(e.db)] == ["taken"]
    cid = run(e, ["/no/such/prog"], start=False)
    with pytest.raises(errors.ContainerExit) as ei:
        e.start(cid)
    assert ei.value.exit_code == 127
    assert str(ei.value).startswith("failed to create task for container: ")
    assert str(ei.value).endswith(": unknown")
    st = e.inspect(cid)["State"]
    assert st["ExitCode"] == 127 and st["Status"] == "created" and "/no/such/prog" in st["Error"]
    assert not os.path.ismount(e.bundle_dir(cid) / "rootfs")


def test_random_names_and_rename(env: Env) -> None:
    e = env.engine
    cid = run(e, ["true"], start=False)
    name = e.inspect(cid)["Name"]
    assert name.startswith("/") and "_" in name
    e.rename(cid, "renamed")
    assert e.inspect("renamed")["Id"] == cid
    other = run(e, ["true"], name="other", start=False)
    with pytest.raises(errors.Conflict):
        e.rename(other, "renamed")


# -- stop, kill, restart policies, --rm -------------------------------------------------


def test_stop_escalates_to_sigkill(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sleep", "60"])
    assert e.inspect(cid)["State"]["Running"] is True
    with pytest.raises(AlreadyInState):
        e.start(cid)
    t0 = time.monotonic()
    e.stop(cid, timeout=1)  # sleep as pid 1 ignores SIGTERM: killed after 1 s
    took = time.monotonic() - t0
    assert 0.9 < took < 8
    st = e.inspect(cid)["State"]
    assert st["Status"] == "exited" and st["ExitCode"] == 137
    assert "stop" in env.actions(cid) and "kill" in env.actions(cid)
    with pytest.raises(AlreadyInState):
        e.stop(cid)
    with pytest.raises(errors.Conflict, match=f"Container {cid} is not running"):
        e.kill(cid)


def test_stop_with_a_handled_signal_and_kill(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done"])
    time.sleep(0.3)
    e.stop(cid, timeout=10)
    assert e.inspect(cid)["State"]["ExitCode"] == 7
    cid2 = run(e, ["sleep", "60"])
    e.kill(cid2, "SIGKILL")
    wait_for(lambda: e.inspect(cid2)["State"]["Status"] == "exited", what="killed")
    assert e.inspect(cid2)["State"]["ExitCode"] == 137
    cid3 = run(e, ["sleep", "60"])
    e.restart(cid3, timeout=0)
    assert e.inspect(cid3)["State"]["Running"] is True
    assert "restart" in env.actions(cid3)


def test_restart_policy_on_failure(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sh", "-c", "exit 1"], HostConfig={
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}})  # fmt: skip

    def settled() -> bool:
        d = e.inspect(cid)
        return d["RestartCount"] == 2 and d["State"]["Status"] == "exited"

    wait_for(settled, timeout=20, what="two restarts")
    time.sleep(1.0)  # and no third one
    d = e.inspect(cid)
    assert d["RestartCount"] == 2 and d["State"]["Status"] == "exited"
    assert d["State"]["ExitCode"] == 1 and d["State"]["Restarting"] is False
    assert env.actions(cid).count("start") == 3 and env.actions(cid).count("die") == 3


def test_restart_always_not_after_user_stop(env: Env) -> None:
    e = env.engine
    cid = run(
        e, ["sh", "-c", "sleep 0.2; exit 0"], HostConfig={"RestartPolicy": {"Name": "always"}}
    )
    wait_for(lambda: e.inspect(cid)["RestartCount"] >= 1, what="a restart")
    wait_for(lambda: e.inspect(cid)["State"]["Running"], what="running")
    e.stop(cid, timeout=1)
    time.sleep(1.0)
    st = e.inspect(cid)["State"]
    assert st["Status"] == "exited" and st["Restarting"] is False


def test_auto_remove(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sh", "-c", "exit 0"], HostConfig={"AutoRemove": True, "Binds": []},
              Volumes={"/anon": {}})  # fmt: skip
    vols = [m["Name"] for m in md.get_container(e.db, cid).state["_mounts"]]
    assert e.wait(cid, "removed")["StatusCode"] == 0
    with pytest.raises(errors.NotFound):
        e.inspect(cid)
    assert "destroy" in env.actions(cid)
    e.reaper.settle()  # the files go in the background
    assert not (env.data / "containers" / cid).exists()
    for v in vols:  # --rm removes anonymous volumes too
        with pytest.raises(errors.NotFound):
            e.volumes.get(v)


def test_remove(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sleep", "60"])
    with pytest.raises(errors.Conflict, match="You cannot remove a running container"):
        e.remove(cid)
    e.remove(cid, force=True)
    with pytest.raises(errors.NotFound):
        e.inspect(cid)
    e.reaper.settle()  # the files go in the background
    assert not (e.bundle_dir(cid) / "rootfs").exists()
    assert cid not in {s.name for s in e.images.snapshots.list()}


def test_a_restart_sweeps_what_a_removal_left(env: Env) -> None:
    from hull.engine.reaper import Reaper

    e = env.engine
    cid = run(e, ["true"])
    e.wait(cid)
    e.reaper = Reaper()  # a fresh, idle reaper: as if hulld died before it ran
    e.reaper.submit = lambda job: None  # type: ignore[method-assign]
    e.remove(cid)
    assert cid in {s.name for s in e.images.snapshots.list()}
    assert (env.data / "containers" / cid).exists()
    e.close()
    e2 = env.new_engine()
    e2.recover()
    assert cid not in {s.name for s in e2.images.snapshots.list()}
    assert not (env.data / "containers" / cid).exists()


# -- volumes and mounts -----------------------------------------------------------------


def test_named_volume_keeps_data(env: Env) -> None:
    e = env.engine
    a = run(e, ["sh", "-c", "echo kept > /data/f"], HostConfig={"Binds": ["vol1:/data"]})
    assert e.wait(a)["StatusCode"] == 0
    b = run(e, ["cat", "/data/f"], HostConfig={"Mounts": [
        {"Type": "volume", "Source": "vol1", "Target": "/data"}]})  # fmt: skip
    assert e.wait(b)["StatusCode"] == 0
    wait_for(lambda: logs(e, b) == "kept\n", what="data from the volume")
    m = e.inspect(a)["Mounts"]
    assert m == [{"Type": "volume", "Name": "vol1", "Source": e.volumes.get("vol1").mountpoint,
                  "Destination": "/data", "Driver": "local", "Mode": "z", "RW": True,
                  "Propagation": ""}]  # fmt: skip
    e.remove(a, volumes=True)
    e.volumes.get("vol1")  # named volumes survive rm -v


def test_anonymous_volume_copy_up_and_rm_v(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sh", "-c", "cat /etc/passwd; ls /cache"], Volumes={"/etc": {}, "/cache": {}})
    assert e.wait(cid)["StatusCode"] == 0
    mounts = {m["Destination"]: m for m in e.inspect(cid)["Mounts"]}
    assert set(mounts) == {"/etc", "/cache"}
    etc = Path(mounts["/etc"]["Source"])
    assert (etc / "passwd").read_text().startswith("root:")  # copied up from the image
    wait_for(lambda: "root:x:0:0" in logs(e, cid), what="passwd through the volume")
    names = [m["Name"] for m in mounts.values()]
    e.remove(cid, volumes=True)
    for n in names:
        with pytest.raises(errors.NotFound):
            e.volumes.get(n)


def test_bind_mounts_ro_and_created(env: Env) -> None:
    e = env.engine
    src = env.base / "bindsrc"
    src.mkdir()
    (src / "hello").write_text("from host\n")
    made = env.base / "made" / "here"
    cid = run(e, ["sh", "-c", "cat /b/hello; touch /b/x 2>/dev/null && echo writable; "
                  "touch /m/y && echo made-ok"],
              HostConfig={"Binds": [f"{src}:/b:ro", f"{made}:/m"]})  # fmt: skip
    assert e.wait(cid)["StatusCode"] == 0
    wait_for(lambda: logs(e, cid) == "from host\nmade-ok\n", what="bind output")
    assert (made / "y").exists() and not (src / "x").exists()
    m = {x["Destination"]: x for x in e.inspect(cid)["Mounts"]}
    assert m["/b"] == {"Type": "bind", "Source": str(src), "Destination": "/b", "Mode": "ro",
                       "RW": False, "Propagation": "rprivate"}  # fmt: skip


def test_tmpfs_mounts(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sh", "-c", "grep -E ' /(t1|t2) ' /proc/mounts | cut -d' ' -f2,3"],
              HostConfig={"Tmpfs": {"/t1": "size=1m"}, "Mounts": [
                  {"Type": "tmpfs", "Target": "/t2"}]})  # fmt: skip
    assert e.wait(cid)["StatusCode"] == 0
    wait_for(lambda: sorted(logs(e, cid).split("\n")) == ["", "/t1 tmpfs", "/t2 tmpfs"],
             what="tmpfs mounts")  # fmt: skip


# -- exec, resources --------------------------------------------------------------------


def test_exec_output_and_exit_code(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sleep", "60"], Env=["FROM_CTR=1"])
    script = "echo out $FROM_CTR $X; echo err >&2; exit 5"
    eid = e.exec_create(cid, {"Cmd": ["sh", "-c", script], "Env": ["X=2"],
                              "AttachStdout": True, "AttachStderr": True})  # fmt: skip
    s = e.exec_start(eid)
    assert s is not None
    frames = demux(read_stream(s))
    assert (1, b"out 1 2\n") in frames and (2, b"err\n") in frames
    wait_for(lambda: e.exec_inspect(eid)["Running"] is False, what="exec exit")
    info = e.exec_inspect(eid)
    assert info["ExitCode"] == 5 and info["ContainerID"] == cid
    assert info["ProcessConfig"]["entrypoint"] == "sh"
    eid2 = e.exec_create(cid, {"Cmd": ["id", "-u"], "User": "nobody", "AttachStdout": True})
    s2 = e.exec_start(eid2)
    assert s2 is not None
    assert demux(read_stream(s2)) == [(1, b"65534\n")]
    top = e.top(cid)
    assert "PID" in top["Titles"] and any("sleep 60" in p[-1] for p in top["Processes"])
    with pytest.raises(errors.NotFound):
        e.exec_inspect("nope")


def test_oom_killed(env: Env) -> None:
    e = env.engine
    cid = run(e, ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
              HostConfig={"Memory": 16 * 1024 * 1024, "MemorySwap": 16 * 1024 * 1024})  # fmt: skip
    e.wait(cid)
    wait_for(lambda: e.inspect(cid)["State"]["Status"] == "exited", what="exit")
    st = e.inspect(cid)["State"]
    assert st["OOMKilled"] is True and st["ExitCode"] == 137
    assert "oom" in env.actions(cid)


def test_pids_limit(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; "
                  "wait; echo done"], HostConfig={"PidsLimit": 5})  # fmt: skip
    e.wait(cid)
    assert "can't fork" in logs(e, cid)


def test_pause_unpause_and_stats(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sleep", "60"], HostConfig={"Memory": 64 * 1024 * 1024, "PidsLimit": 50})
    e.pause(cid)
    assert e.inspect(cid)["State"]["Status"] == "paused"
    with pytest.raises(errors.Conflict, match="already paused"):
        e.pause(cid)
    e.unpause(cid)
    assert e.inspect(cid)["State"]["Status"] == "running"
    with pytest.raises(errors.Conflict, match="is not paused"):
        e.unpause(cid)
    s = e.stats(cid)
    assert s["memory_stats"]["limit"] == 64 * 1024 * 1024
    assert s["pids_stats"]["current"] >= 1 and s["pids_stats"]["limit"] == 50
    assert s["cpu_stats"]["cpu_usage"]["total_usage"] > 0 and s["cpu_stats"]["online_cpus"] >= 1
    it = e.stats_stream(cid, interval=0.2)
    first, second = next(it), next(it)
    assert second["preread"] == first["read"] and second["precpu_stats"] == first["cpu_stats"]


# -- inspect, list ------------------------------------------------------------------------


def test_inspect_shape(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sleep", "60"], name="shape", Labels={"a": "1"})
    d = e.inspect(cid)
    for key in ("Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath",
                "HostnamePath", "HostsPath", "LogPath", "Name", "RestartCount", "Driver",
                "Platform", "MountLabel", "ProcessLabel", "AppArmorProfile", "ExecIDs",
                "HostConfig", "GraphDriver", "Mounts", "Config", "NetworkSettings"):  # fmt: skip
        assert key in d, key
    assert set(d["State"]) == {"Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead",
                               "Pid", "ExitCode", "Error", "StartedAt", "FinishedAt"}  # fmt: skip
    assert d["Path"] == "sleep" and d["Args"] == ["60"] and d["Name"] == "/shape"
    assert d["Image"].startswith("sha256:") and d["Config"]["Image"] == "busybox"
    assert d["Config"]["Hostname"] == cid[:12] and d["Config"]["Labels"] == {"a": "1"}
    assert d["HostConfig"]["NetworkMode"] == "default"
    assert d["HostConfig"]["LogConfig"]["Type"] == "json-file"
    assert d["State"]["Pid"] > 0 and d["Driver"] == e.images.snapshots.driver
    assert Path(d["HostnamePath"]).read_text() == cid[:12] + "\n"
    hosts = Path(d["HostsPath"]).read_text()
    assert "localhost" in hosts and cid[:12] in hosts
    br = d["NetworkSettings"]["Networks"]["bridge"]  # the default network is the bridge
    assert br["IPAddress"] and br["IPAddress"] == d["NetworkSettings"]["IPAddress"]
    assert f"{br['IPAddress']}\t{cid[:12]}" in hosts
    eid = e.exec_create(cid, {"Cmd": ["hostname"], "AttachStdout": True})
    s = e.exec_start(eid)
    assert s is not None
    assert demux(read_stream(s)) == [(1, f"{cid[:12]}\n".encode())]


def test_list_filters(env: Env) -> None:
    e = env.engine
    up = run(e, ["sleep", "60"], name="up", Labels={"role": "web"})
    done = run(e, ["sh", "-c", "exit 2"], name="done", Labels={"role": "job"})
    e.wait(done)
    wait_for(lambda: e.inspect(done)["State"]["Status"] == "exited", what="exit")
    fresh = run(e, ["true"], name="fresh", start=False)

    def ids(**kw: Any) -> list[str]:
        return [c["Id"] for c in e.list(**kw)]

    assert ids() == [up]
    assert set(ids(all=True)) == {up, done, fresh}
    assert ids(all=True)[0] == fresh  # newest first
    assert ids(all=True, filters={"label": ["role=job"]}) == [done]
    assert ids(filters={"status": ["exited"]}) == [done]
    assert ids(filters={"status": ["created"]}) == [fresh]
    assert ids(all=True, filters={"exited": ["2"]}) == [done]
    assert ids(all=True, filters={"name": ["^fr"]}) == [fresh]
    assert ids(all=True, filters={"id": [up[:10]]}) == [up]
    assert set(ids(all=True, filters={"ancestor": ["busybox"]})) == {up, done, fresh}
    assert ids(all=True, filters={"before": ["done"]}) == [up]
    assert ids(all=True, filters={"since": ["done"]}) == [fresh]
    assert ids(limit=1) == [fresh]
    row = e.list(filters={"id": [up]})[0]
    assert row["Names"] == ["/up"] and row["Command"] == "sleep 60" and row["State"] == "running"
    assert row["Status"].startswith("Up ") and row["Image"] == "busybox"
    row = e.list(all=True, filters={"id": [done]})[0]
    assert row["Status"].startswith("Exited (2) ") and row["Status"].endswith(" ago")
    assert e.list(all=True, filters={"id": [fresh]})[0]["Status"] == "Created"
    with pytest.raises(errors.InvalidArgument):
        e.list(filters={"bogus": ["1"]})
    users = {u.container_id: u.running for u in e.image_users(e.inspect(up)["Image"])}
    assert users == {up: True, done: False, fresh: False}
    pruned = e.prune({"label": ["role=job"]})
    assert pruned["ContainersDeleted"] == [done]


# -- images from containers ---------------------------------------------------------------


def test_changes_export_commit(env: Env) -> None:
    e = env.engine
    cid = run(e, ["sh", "-c", "echo new > /hello; rm /etc/group; echo x >> /etc/passwd"])
    assert e.wait(cid)["StatusCode"] == 0
    changes = {c["Path"]: c["Kind"] for c in e.changes(cid)}
    assert changes["/hello"] == 1 and changes["/etc/group"] == 2 and changes["/etc/passwd"] == 0
    assert "/etc/hosts" not in changes
    buf = io.BytesIO()
    e.export(cid, buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        names = set(tar.getnames())
    assert "hello" in names and "bin/busybox" in names and "etc/group" not in names
    image_id = e.commit(cid, repo="committed", tag="v1", comment="c1", author="me",
                        changes=["CMD cat /hello", "ENV K=V"])  # fmt: skip
    img = e.images.resolve("committed:v1")
    assert str(img.id) == image_id and len(img.layers) == 2
    top = img.layers[-1]
    assert top.digest is not None
    with e.images.content.open(top.digest) as f:
        layer = gzip.decompress(f.read())
    with tarfile.open(fileobj=io.BytesIO(layer)) as t:
        assert "hello" in t.getnames()
    new = run(e, [], Image="committed:v1")
    assert e.wait(new)["StatusCode"] == 0
    wait_for(lambda: logs(e, new) == "new\n", what="the committed file")
    assert "K=V" in e.inspect(new)["Config"]["Env"]
    hist = e.images.history("committed:v1")
    assert hist[0]["Comment"] == "c1"


# -- daemon restart -----------------------------------------------------------------------


def test_recover_after_daemon_restart(env: Env) -> None:
    e1 = env.engine
    long = run(e1, ["sh", "-c", "sleep 2; exit 4"])
    short = run(e1, ["sleep", "0.3"])
    always = run(e1, ["sh", "-c", "sleep 0.3; exit 1"], HostConfig={
        "RestartPolicy": {"Name": "always"}})  # fmt: skip
    e1.close()  # hulld goes away; the monitor and the containers stay
    time.sleep(0.8)  # short and always exit while nobody watches
    e2 = env.new_engine()
    e2.recover()
    assert e2.inspect(long)["State"]["Running"] is True
    st = e2.inspect(short)["State"]
    assert st["Status"] == "exited" and st["ExitCode"] == 0
    assert e2.inspect(always)["State"]["Running"] is True  # restarted at daemon start
    assert e2.wait(long)["StatusCode"] == 4
    wait_for(lambda: e2.inspect(long)["State"]["Status"] == "exited", what="exit seen by e2")
    assert e2.inspect(long)["State"]["ExitCode"] == 4
    assert not os.path.ismount(e2.bundle_dir(long) / "rootfs")
    assert logs(e2, long) == ""
