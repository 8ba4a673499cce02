"""Seccomp user notification: the listener fd goes to ``linux.seccomp.listenerPath``.

A small agent in a thread of the test listens on a unix socket, receives the
container process state with the listener fd (SCM_RIGHTS), answers the one
notified syscall (``mkdir``) with EACCES, and the container reports that
errno. (runc 1.1.5 is no reference here: its own init hits the notified
syscall before the agent has the listener, and the run hangs.)
"""

from __future__ import annotations

import array
import errno
import fcntl
import json
import select
import socket
import struct
import threading
from pathlib import Path
from typing import Any

from tests.conftest import Runtime, unique_id

# <linux/seccomp.h>: _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, ..._resp)
NOTIF_RECV = 0xC0502100
NOTIF_SEND = 0xC0182101
NOTIF_SIZE = 80  # u64 id, u32 pid, u32 flags, struct seccomp_data (64)
RESP = struct.Struct("=QqiI")  # id, val, error, flags


class Agent:
    """Accept one connection, keep what it carries, answer notifications with EACCES."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(1)
        self.state: dict[str, Any] = {}
        self.fd_target = ""
        self.answered: list[int] = []  # syscall numbers answered
        self.error = ""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.sock.settimeout(30)
            conn, _ = self.sock.accept()
            with conn:
                fds = array.array("i")
                msg, anc, _flags, _addr = conn.recvmsg(65536, socket.CMSG_LEN(fds.itemsize))
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
                # one state per connection: the runtime closes it after sending
                assert conn.recv(1) == b""
            self.state = json.loads(msg)
            assert len(fds) == 1, fds
            listener = fds[0]
            self.fd_target = Path(f"/proc/self/fd/{listener}").readlink().as_posix()
            try:
                while True:
                    r, _, _ = select.select([listener], [], [], 30)
                    if not r:
                        return
                    buf = bytearray(NOTIF_SIZE)
                    try:
                        fcntl.ioctl(listener, NOTIF_RECV, buf)
                    except OSError:
                        return  # the filtered process is gone
                    nid, _pid, _fl, nr = struct.unpack_from("=QIIi", buf)
                    self.answered.append(nr)
                    resp = bytearray(RESP.pack(nid, 0, -errno.EACCES, 0))
                    fcntl.ioctl(listener, NOTIF_SEND, resp)
            finally:
                import os

                os.close(listener)
        except Exception as exc:  # reported by the test
            self.error = repr(exc)
        finally:
            self.sock.close()


def test_listener_goes_to_listener_path(hull_rt: Runtime, make_bundle: Any, tmp_path: Path) -> None:
    sock = tmp_path / "agent.sock"
    agent = Agent(sock)

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "listenerPath": str(sock),
            "listenerMetadata": "hull-test-metadata",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
        }

    b = make_bundle(["sh", "-c", "mkdir /tmp/made-here; echo rc=$?"], edit)
    cid = unique_id()
    res = hull_rt("run", "--bundle", str(b.path), cid, timeout=60)
    agent.thread.join(timeout=30)
    assert res.returncode == 0, res.stderr
    assert not agent.error, agent.error
    assert "Permission denied" in res.stderr + res.stdout
    assert "rc=1" in res.stdout
    assert agent.answered, "no notification reached the agent"
    assert agent.fd_target == "anon_inode:seccomp notify"
    st = agent.state
    assert st["ociVersion"].startswith("1.")
    assert st["fds"] == ["seccompFd"]
    assert st["metadata"] == "hull-test-metadata"
    assert st["pid"] > 0 and st["pid"] == st["state"]["pid"]
    assert st["state"]["id"] == cid
    assert st["state"]["bundle"] == str(b.path)


def test_unreachable_listener_path_fails_cleanly(hull_rt: Runtime, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/nonexistent/agent.sock",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}],
        }

    cid = unique_id()
    res = hull_rt("run", "--bundle", str(make_bundle(["true"], edit).path), cid)
    assert res.returncode != 0
    assert "listenerPath /nonexistent/agent.sock" in res.stderr
    assert not (hull_rt.root / cid).exists()
