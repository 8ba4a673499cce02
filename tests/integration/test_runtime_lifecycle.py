"""Lifecycle verbs beyond run: terminals, hooks, pause, list/ps/events, joined namespaces."""

from __future__ import annotations

import array
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import Runtime, unique_id


def wait_status(runtime: Runtime, cid: str, want: str, timeout: float = 5) -> str:
    deadline = time.time() + timeout
    status = ""
    while time.time() < deadline:
        res = runtime("state", cid)
        status = json.loads(res.stdout)["status"] if res.returncode == 0 else "gone"
        if status == want:
            return status
        time.sleep(0.02)
    return status


class ConsoleSocket:
    """A --console-socket server that receives the pty master (SCM_RIGHTS)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(1)
        self.master = -1
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        conn, _ = self.sock.accept()
        fds = array.array("i")
        _msg, anc, _flags, _addr = conn.recvmsg(1024, socket.CMSG_SPACE(4))
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % 4)])
        conn.close()
        self.master = fds[0]

    def read_all(self, timeout: float = 5) -> str:
        self.thread.join(timeout)
        assert self.master >= 0, "no pty master received"
        out = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the slave side closed
                break
            if not chunk:
                break
            out += chunk
        return out.decode(errors="replace")

    def close(self) -> None:
        if self.master >= 0:
            os.close(self.master)
        self.sock.close()


def test_terminal_through_console_socket(
    runtime: Runtime, make_bundle: Any, tmp_path: Path
) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["terminal"] = True
        c["process"]["consoleSize"] = {"height": 33, "width": 101}

    b = make_bundle(["sh", "-c", "tty; stty size; echo ok"], edit)
    cs = ConsoleSocket(tmp_path / "console.sock")
    cid = unique_id()
    try:
        res = runtime("create", "--console-socket", str(cs.path), "--bundle", str(b.path), cid)
        assert res.returncode == 0, res.stderr
        assert runtime("start", cid).returncode == 0
        out = cs.read_all()
    finally:
        cs.close()
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    assert lines[0].startswith("/dev/pts/")
    assert lines[1] == "33 101"
    assert lines[2] == "ok"


def test_hooks_run_in_order_with_state(runtime: Runtime, make_bundle: Any, tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    hooks = {}
    for kind in ("prestart", "createRuntime", "poststart", "poststop"):
        hooks[kind] = [
            {
                "path": "/bin/sh",
                "args": ["sh", "-c", f'read s; echo {kind} "$s" >> {log}'],
            }
        ]

    def edit(c: dict[str, Any]) -> None:
        c["hooks"] = hooks

    cid = unique_id()
    b = make_bundle(["true"], edit)
    res = runtime("run", "--bundle", str(b.path), cid)
    assert res.returncode == 0, res.stderr
    lines = log.read_text().splitlines()
    kinds = [ln.split(" ", 1)[0] for ln in lines]
    assert kinds == ["prestart", "createRuntime", "poststart", "poststop"]
    state = json.loads(lines[0].split(" ", 1)[1])
    assert state["id"] == cid
    assert state["pid"] > 0
    assert state["bundle"] == str(b.path)


def test_failing_prestart_hook_fails_create(hull_rt: Runtime, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]}

    cid = unique_id()
    res = hull_rt("create", "--bundle", str(make_bundle(["true"], edit).path), cid)
    assert res.returncode == 1
    assert "prestart hook" in res.stderr
    assert not (hull_rt.root / cid).exists()


def test_pause_resume_list_ps_events(runtime: Runtime, make_bundle: Any) -> None:
    cid = unique_id()
    b = make_bundle(["sleep", "30"])
    assert runtime("run", "--detach", "--bundle", str(b.path), cid).returncode == 0
    try:
        assert wait_status(runtime, cid, "running") == "running"
        assert runtime("pause", cid).returncode == 0
        assert wait_status(runtime, cid, "paused") == "paused"
        assert runtime("resume", cid).returncode == 0
        assert wait_status(runtime, cid, "running") == "running"
        listed = json.loads(runtime("list", "--format", "json").stdout)
        assert [c["id"] for c in listed] == [cid]
        assert listed[0]["status"] == "running"
        assert runtime("list", "-q").stdout.split() == [cid]
        table = runtime("list").stdout.splitlines()
        assert table[0].split()[:3] == ["ID", "PID", "STATUS"]
        pids = json.loads(runtime("ps", "--format", "json", cid).stdout)
        state = json.loads(runtime("state", cid).stdout)
        assert state["pid"] in pids
        ev = json.loads(runtime("events", "--stats", cid).stdout)
        assert ev["type"] == "stats"
        assert ev["data"]["pids"]["current"] >= 1
        assert ev["data"]["memory"]["usage"]["usage"] > 0
    finally:
        runtime("delete", "--force", cid)


def test_kill_all_and_signal_names(runtime: Runtime, make_bundle: Any) -> None:
    cid = unique_id()
    b = make_bundle(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    assert runtime("run", "--detach", "--bundle", str(b.path), cid).returncode == 0
    try:
        assert runtime("kill", "--all", cid, "SIGKILL").returncode == 0
        assert wait_status(runtime, cid, "stopped") == "stopped"
        res = runtime("kill", cid, "TERM")
        assert res.returncode != 0
    finally:
        runtime("delete", "--force", cid)


def test_join_network_namespace_by_path(runtime: Runtime, make_bundle: Any) -> None:
    first = unique_id()
    b1 = make_bundle(["sleep", "30"])
    assert runtime("run", "--detach", "--bundle", str(b1.path), first).returncode == 0
    try:
        pid = json.loads(runtime("state", first).stdout)["pid"]
        netns = f"/proc/{pid}/ns/net"

        def edit(c: dict[str, Any]) -> None:
            c["linux"]["namespaces"] = [
                {"type": "network", "path": netns} if n["type"] == "network" else n
                for n in c["linux"]["namespaces"]
            ]

        b2 = make_bundle(["readlink", "/proc/self/ns/net"], edit)
        res = runtime("run", "--bundle", str(b2.path), unique_id())
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == os.readlink(netns)
    finally:
        runtime("delete", "--force", first)


def test_no_pivot_and_readonly_root(runtime: Runtime, make_bundle: Any) -> None:
    script = "touch /bin/x 2>&1; echo rc=$?; cat /proc/sys/kernel/hostname"
    res = runtime("run", "--no-pivot", "--bundle", str(make_bundle(["sh", "-c", script]).path),
                  unique_id())  # fmt: skip
    assert "Read-only file system" in res.stdout
    assert "rc=1" in res.stdout


def test_sysctl_and_domainname(runtime: Runtime, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
        c["domainname"] = "example.test"
        c["linux"]["readonlyPaths"] = []

    res = runtime(
        "run",
        "--bundle",
        str(
            make_bundle(
                ["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname"], edit
            ).path
        ),
        unique_id(),
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout.split()
    assert out[0] == "1"
    # runc 1.1 ignores the spec's domainname (support came in runc 1.2)
    assert out[1] == ("(none)" if runtime.name == "runc" else "example.test")


def test_exec_with_process_file_and_user(
    runtime: Runtime, make_bundle: Any, tmp_path: Path
) -> None:
    cid = unique_id()
    b = make_bundle(["sleep", "30"])
    assert runtime("run", "--detach", "--bundle", str(b.path), cid).returncode == 0
    try:
        proc = {
            "terminal": False,
            "user": {"uid": 65534, "gid": 65534},
            "args": ["sh", "-c", "id -u; pwd; echo $FOO"],
            "env": ["PATH=/bin", "FOO=bar"],
            "cwd": "/tmp",
        }
        pf = tmp_path / "process.json"
        pf.write_text(json.dumps(proc))
        res = runtime("exec", "--process", str(pf), cid)
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == ["65534", "/tmp", "bar"]
        res = runtime("exec", "--user", "1000:1000", "--env", "X=1", "--cwd", "/", cid,
                      "sh", "-c", "id -u; echo $X; pwd")  # fmt: skip
        assert res.stdout.split() == ["1000", "1", "/"]
    finally:
        runtime("delete", "--force", cid)


def test_foreground_terminal_is_interactive(hull_rt: Runtime, make_bundle: Any) -> None:
    """`run` of a terminal container from a real pty: raw mode, input, exit status."""
    import pty
    import select

    def edit(c: dict[str, Any]) -> None:
        c["process"]["terminal"] = True
        c["process"]["args"] = ["sh"]
        c["process"]["env"].append("PS1=$ ")

    b = make_bundle(["sh"], edit)
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(hull_rt.binary, hull_rt.cmd("run", "--bundle", str(b.path), unique_id()))
    out = b""
    sent = False
    status = None
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the runtime exited and closed the pty
                    break
                if not chunk:
                    break
                out += chunk
                if b"\x1b[6n" in chunk:  # the shell asks the terminal for the cursor
                    os.write(fd, b"\x1b[1;1R")
            if not sent and b"$ " in out:
                os.write(fd, b"echo hi-$((40+2)); tty\r")
                os.write(fd, b"exit 5\r")
                sent = True
        end = time.time() + 10
        while status is None and time.time() < end:
            wpid, st = os.waitpid(pid, os.WNOHANG)
            if wpid == pid:
                status = st
            else:
                time.sleep(0.02)
    finally:
        if status is None:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    assert b"hi-42" in out
    assert b"/dev/pts/0" in out
    assert status is not None and os.waitstatus_to_exitcode(status) == 5


def test_user_namespace_create_then_start(runtime: Runtime, make_bundle: Any) -> None:
    """init reopens the exec fifo as the user namespace's root (host uid 100000)."""

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    cid = unique_id()
    b = make_bundle(["sleep", "30"], edit)
    assert runtime("create", "--bundle", str(b.path), cid).returncode == 0
    try:
        assert wait_status(runtime, cid, "created") == "created"
        res = runtime("start", cid)
        assert res.returncode == 0, res.stderr
        assert wait_status(runtime, cid, "running") == "running"
    finally:
        runtime("delete", "--force", cid)


def test_rootfs_propagation_modes(hull_rt: Runtime, make_bundle: Any) -> None:
    # hull only: runc 1.1.5 fails this, as it fails runtime-tools' linux_rootfs_propagation
    runtime = hull_rt
    for mode, want in (("shared", "shared:"), ("unbindable", "unbindable"), ("private", "")):

        def edit(c: dict[str, Any], mode: str = mode) -> None:
            c["linux"]["rootfsPropagation"] = mode

        res = runtime(
            "run",
            "--bundle",
            str(make_bundle(["awk", '$5 == "/"', "/proc/self/mountinfo"], edit).path),
            unique_id(),
        )
        assert res.returncode == 0, (mode, res.stderr)
        fields = res.stdout.split(" - ")[0].split()[6:]
        if want:
            assert any(f.startswith(want) for f in fields), (mode, res.stdout)
        else:
            assert not any(f.startswith(("shared:", "master:")) for f in fields), res.stdout


def test_unknown_capability_is_refused(hull_rt: Runtime, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["capabilities"]["bounding"].append("CAP_TEST")

    cid = unique_id()
    res = hull_rt("create", "--bundle", str(make_bundle(["true"], edit).path), cid)
    assert res.returncode == 1
    assert "unknown capability 'CAP_TEST'" in res.stderr
    assert not (hull_rt.root / cid).exists()


def test_exec_tty_through_console_socket(
    runtime: Runtime, make_bundle: Any, tmp_path: Path
) -> None:
    cid = unique_id()
    b = make_bundle(["sleep", "30"])
    assert runtime("run", "--detach", "--bundle", str(b.path), cid).returncode == 0
    cs = ConsoleSocket(tmp_path / "exec-console.sock")
    try:
        res = runtime(
            "exec",
            "--detach",
            "--tty",
            "--console-socket",
            str(cs.path),
            cid,
            "sh",
            "-c",
            "tty; echo ok",
        )
        assert res.returncode == 0, res.stderr
        out = cs.read_all()
    finally:
        cs.close()
        runtime("delete", "--force", cid)
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    assert lines[0].startswith("/dev/pts/")
    assert lines[-1] == "ok"
