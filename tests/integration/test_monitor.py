"""The container monitor against the real kernel: busybox bundles run by hull-runtime."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hull import errors
from hull.engine.monitor import MonitorClient, ensure_monitor, read_logs
from tests.conftest import hull_runtime_path, remove_cgroup_prefix, requires_root, unique_id

pytestmark = [requires_root, pytest.mark.root]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Mon:
    """A monitor on a temp state dir, driving hull-runtime with a temp --root."""

    def __init__(self, base: Path, tmp_path: Path) -> None:
        self.base = base
        self.state = base / "mon"
        self.rt_root = base / "rt"
        self.tmp_path = tmp_path
        self.runtime = hull_runtime_path()
        self.pid = ensure_monitor(self.state)
        self.client = MonitorClient(self.state, timeout=30)
        self.cgroup_prefix = f"/hull-mon-{unique_id('t')}"

    def start(self, bundle: Any, cid: str | None = None, **kw: Any) -> str:
        cid = cid or unique_id("m")
        kw.setdefault("log", {"path": str(self.base / "logs" / cid / "container.log")})
        kw.setdefault("exit_file", str(self.base / "exits" / f"{cid}.json"))
        self.client.start(cid, str(bundle.path), runtime=self.runtime,
                          runtime_root=str(self.rt_root), **kw)  # fmt: skip
        return cid

    def log_path(self, cid: str) -> Path:
        return self.base / "logs" / cid / "container.log"

    def exit_record(self, cid: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.base / "exits" / f"{cid}.json").read_text())
        return data

    def rt(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.runtime, "--root", str(self.rt_root), *args],
                              capture_output=True, text=True, timeout=30, check=False)  # fmt: skip

    def close(self) -> None:
        if self.rt_root.exists():
            for cid in os.listdir(self.rt_root):
                self.rt("delete", "--force", cid)
        deadline = time.time() + 10
        sig = signal.SIGTERM
        while _alive(self.pid):
            if time.time() > deadline:
                sig = signal.SIGKILL
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            time.sleep(0.1)
        remove_cgroup_prefix(self.cgroup_prefix)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def mon(tmp_path: Path) -> Iterator[Mon]:
    base = Path(tempfile.mkdtemp(prefix="hmon-"))  # short: unix socket paths
    m = Mon(base, tmp_path)
    try:
        yield m
    finally:
        m.close()


def wait_for(cond: Callable[[], Any], timeout: float = 10, what: str = "condition") -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def recv_until(s: socket.socket, want: bytes, timeout: float = 10) -> bytes:
    s.settimeout(timeout)
    buf = b""
    while want not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def demux(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while len(data) >= 8:
        n = int.from_bytes(data[4:8], "big")
        out.append((data[0], data[8 : 8 + n]))
        data = data[8 + n :]
    return out


def test_exit_code_logs_and_wait(mon: Mon, make_bundle: Any) -> None:
    b = make_bundle(["sh", "-c", "echo out1; echo err1 >&2; echo out2; exit 3"])
    cid = mon.start(b)
    assert mon.client.wait(cid, timeout=20) == {"exit_code": 3, "oom_killed": False}
    rec = mon.exit_record(cid)
    assert rec["exit_code"] == 3 and rec["oom_killed"] is False
    assert rec["started_at"] <= rec["finished_at"]
    lines = [json.loads(x) for x in mon.log_path(cid).read_text().splitlines()]
    by_stream = {(e["stream"], e["log"]) for e in lines}
    assert by_stream == {("stdout", "out1\n"), ("stderr", "err1\n"), ("stdout", "out2\n")}
    for e in lines:
        assert set(e) == {"log", "stream", "time"}
        assert len(e["time"]) == 30 and e["time"].endswith("Z")  # nine fractional digits
    # wait again: immediate; the runtime state is gone (deleted after the exit)
    assert mon.client.wait(cid)["exit_code"] == 3
    wait_for(lambda: mon.rt("state", cid).returncode != 0, what="runtime delete")
    listed = {x["id"]: x for x in mon.client.list()}
    assert listed[cid]["running"] is False and listed[cid]["exit_code"] == 3


def test_missing_command_is_127_and_leaves_nothing(mon: Mon, make_bundle: Any) -> None:
    cid = unique_id("m")
    with pytest.raises(errors.ContainerExit) as ei:
        mon.start(make_bundle(["/no/such/program"]), cid)
    assert ei.value.exit_code == 127
    assert mon.rt("state", cid).returncode != 0
    assert cid not in {x["id"] for x in mon.client.list()}
    with pytest.raises(errors.NotFound):
        mon.client.wait(cid)


def test_long_line_split_into_partial_entries(mon: Mon, make_bundle: Any) -> None:
    b = make_bundle(["sh", "-c", "head -c 102400 /dev/zero | tr '\\0' x; echo; echo short"])
    cid = mon.start(b)
    assert mon.client.wait(cid, timeout=20)["exit_code"] == 0
    entries = list(read_logs(mon.log_path(cid)))
    partial = [e for e in entries if e.partial]
    assert len(partial) == 6 and all(len(e.log) == 16384 for e in partial)
    whole = "".join(e.log for e in entries)
    assert whole == "x" * 102400 + "\nshort\n"


def test_rotation_tail_and_since(mon: Mon, make_bundle: Any) -> None:
    script = "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done"
    cid = unique_id("m")
    log = mon.base / "logs" / cid / "container.log"
    mon.start(make_bundle(["sh", "-c", script]), cid,
              log={"path": str(log), "max_size": 1024, "max_file": 3})  # fmt: skip
    assert mon.client.wait(cid, timeout=20)["exit_code"] == 0
    files = sorted(p.name for p in log.parent.iterdir())
    assert files == ["container.log", "container.log.1", "container.log.2"]
    assert all(p.stat().st_size <= 1024 for p in log.parent.iterdir())
    entries = list(read_logs(log))
    nums = [int(e.log.strip().split("-")[1]) for e in entries]
    assert nums == list(range(nums[0], 200))  # consecutive, newest last, intact
    assert nums[0] > 0  # the oldest were rotated away
    assert [e.log for e in read_logs(log, tail=5)] == [f"line-{i}\n" for i in range(195, 200)]
    # one read of the pipe may carry every line: they can share one time
    first, last = entries[0].time_ns / 1e9, entries[-1].time_ns / 1e9
    assert [e.log for e in read_logs(log, since=first - 0.001)] == [e.log for e in entries]
    assert list(read_logs(log, since=last + 0.001)) == []
    assert list(read_logs(log, until=first - 0.001)) == []


def test_attach_non_tty_and_reattach(mon: Mon, make_bundle: Any) -> None:
    cid = mon.start(make_bundle(["cat"]), open_stdin=True)
    s = mon.client.attach(cid, stdin=True)
    s.sendall(b"hello\n")
    frames = demux(recv_until(s, b"hello\n"))
    assert frames == [(1, b"hello\n")]
    s.close()  # detach: no stdin_once, so cat keeps running
    time.sleep(0.1)
    assert {x["id"]: x for x in mon.client.list()}[cid]["running"]
    s2 = mon.client.attach(cid, stdin=True)
    s3 = mon.client.attach(cid)  # a second, read-only client
    s2.sendall(b"again\n")
    assert demux(recv_until(s2, b"again\n")) == [(1, b"again\n")]
    assert demux(recv_until(s3, b"again\n")) == [(1, b"again\n")]
    s2.close()
    s3.close()
    mon.client.kill(cid, 9)
    assert mon.client.wait(cid, timeout=10)["exit_code"] == 137
    logged = [e.log for e in read_logs(mon.log_path(cid))]
    assert logged == ["hello\n", "again\n"]


def test_stdin_once_eof_ends_container(mon: Mon, make_bundle: Any) -> None:
    b = make_bundle(["sh", "-c", "cat; echo done"])
    cid = unique_id("m")
    pid, s = mon.client.start_attached(
        cid, str(b.path), stdin=True, runtime=mon.runtime, runtime_root=str(mon.rt_root),
        open_stdin=True, stdin_once=True,
        log={"path": str(mon.log_path(cid))}, exit_file=str(mon.base / "exits" / f"{cid}.json"),
    )  # fmt: skip
    assert pid > 0
    s.sendall(b"abc\n")
    s.shutdown(socket.SHUT_WR)
    out = b"".join(d for _, d in demux(recv_until(s, b"done\n")))
    assert out == b"abc\ndone\n"
    assert mon.client.wait(cid, timeout=10)["exit_code"] == 0
    s.close()


def test_tty_attach_and_resize(mon: Mon, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["terminal"] = True

    cid = mon.start(make_bundle(["sh"], edit), tty=True, open_stdin=True)
    s = mon.client.attach(cid, stdin=True)
    s.sendall(b"echo $((6*7))\r")
    assert b"42" in recv_until(s, b"42")
    mon.client.resize(cid, height=33, width=101)
    s.sendall(b"stty size\r")
    assert b"33 101" in recv_until(s, b"33 101")
    s.sendall(b"exit 5\r")
    assert mon.client.wait(cid, timeout=10)["exit_code"] == 5
    s.close()
    assert "42" in "".join(e.log for e in read_logs(mon.log_path(cid)))


def test_exec_output_and_exit_code(mon: Mon, make_bundle: Any) -> None:
    cid = mon.start(make_bundle(["sleep", "60"]))
    exit_file = mon.base / "exits" / "exec1.json"
    process = {"args": ["sh", "-c", "echo in-exec; echo oops >&2; exit 4"], "cwd": "/",
               "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}  # fmt: skip
    pid, s = mon.client.exec(cid, "exec1", process, runtime=mon.runtime,
                             runtime_root=str(mon.rt_root), exit_file=str(exit_file),
                             attach={"stdin": False, "stdout": True, "stderr": True})  # fmt: skip
    assert pid > 0 and s is not None
    s.settimeout(10)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    frames = demux(data)
    assert (1, b"in-exec\n") in frames and (2, b"oops\n") in frames
    assert mon.client.wait(exec_id="exec1", timeout=10)["exit_code"] == 4
    assert json.loads(exit_file.read_text())["exit_code"] == 4
    assert not mon.log_path(cid).read_text()  # exec output is not logged
    with pytest.raises(errors.ContainerExit) as ei:
        mon.client.exec(cid, "exec2", {**process, "args": ["/nope"]}, runtime=mon.runtime,
                        runtime_root=str(mon.rt_root))  # fmt: skip
    assert ei.value.exit_code == 127
    with pytest.raises(errors.Conflict):
        mon.client.forget(cid)
    mon.client.kill(cid, 9)
    assert mon.client.wait(cid, timeout=10)["exit_code"] == 137
    mon.client.forget(cid)
    assert cid not in {x["id"] for x in mon.client.list()}


def test_oom_killed(mon: Mon, make_bundle: Any) -> None:
    cid = unique_id("m")
    cg = f"{mon.cgroup_prefix}/{cid}"

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["resources"]["memory"] = {"limit": 16 << 20, "swap": 16 << 20}
        c["linux"]["cgroupsPath"] = cg

    b = make_bundle(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], edit)
    v2 = not Path("/sys/fs/cgroup/memory").is_dir()
    mem = Path("/sys/fs/cgroup" if v2 else "/sys/fs/cgroup/memory") / cg.lstrip("/")
    try:
        mon.start(b, cid, cgroup_memory=str(mem))
        assert mon.client.wait(cid, timeout=20) == {"exit_code": 137, "oom_killed": True}
        assert mon.exit_record(cid)["oom_killed"] is True
    finally:
        wait_for(lambda: mon.rt("state", cid).returncode != 0, what="runtime delete")
        with contextlib.suppress(OSError):
            mem.parent.rmdir()


def test_monitor_survives_its_client(mon: Mon, make_bundle: Any) -> None:
    cid = mon.start(make_bundle(["sh", "-c", "while true; do echo tick; sleep 0.1; done"]))
    events = mon.client.events()  # a subscriber that goes away
    events.close()
    mon.client = MonitorClient(mon.state)  # the old client is gone
    assert ensure_monitor(mon.state) == mon.pid  # already running: not started again
    c2 = MonitorClient(mon.state)
    assert {x["id"]: x for x in c2.list()}[cid]["running"]
    size = wait_for(lambda: mon.log_path(cid).stat().st_size, what="log")
    wait_for(lambda: mon.log_path(cid).stat().st_size > size, what="log to grow")
    # a second monitor on the same state dir refuses
    res = subprocess.run(["python3", "-m", "hull.engine.monitor", "--state-dir", str(mon.state)],
                         capture_output=True, text=True, timeout=10,
                         cwd=Path(__file__).resolve().parents[2], check=False)  # fmt: skip
    assert res.returncode != 0 and "another monitor" in res.stderr
    # SIGTERM while a container runs: the monitor stays
    os.kill(mon.pid, signal.SIGTERM)
    time.sleep(0.3)
    assert _alive(mon.pid)
    it = c2.events()
    c2.kill(cid, 9)  # (SIGTERM: sh as pid 1 of its namespace has no handler: ignored)
    ev = next(it)
    assert ev["type"] == "exit" and ev["id"] == cid and ev["exit_code"] == 137


def test_density_and_every_exit_recorded(mon: Mon, make_bundle: Any) -> None:
    n = 50
    b = make_bundle(["sleep", "60"])
    # warm up once so that imports and allocator arenas are in the baseline
    warm = mon.start(b)
    mon.client.kill(warm, 9)
    mon.client.wait(warm, timeout=10)
    mon.client.forget(warm)
    before = rss_kib(mon.pid)
    ids = [mon.start(b) for _ in range(n)]
    after = rss_kib(mon.pid)
    per = (after - before) / n
    print(f"\nmonitor RSS: {before} KiB idle, {after} KiB with {n} containers: "
          f"{per:.1f} KiB per container")  # fmt: skip
    assert per < 1024
    running = [x for x in mon.client.list() if x["running"]]
    assert len(running) == n
    for cid in ids:
        mon.client.kill(cid, 9)
    for cid in ids:
        assert mon.client.wait(cid, timeout=20)["exit_code"] == 137
        assert mon.exit_record(cid)["exit_code"] == 137
