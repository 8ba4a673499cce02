"""Compiled seccomp filters on the real kernel.

Each case forks a child, which sets no_new_privs, loads a filter and reports
what its syscalls returned through a pipe; the parent checks the report and
the child's exit status, and always reaps (or kills and reaps) the child.
"""

from __future__ import annotations

import ast
import ctypes
import errno
import os
import signal
import tempfile
from collections.abc import Callable
from typing import Any

import pytest

from hull import linux
from hull.linux import syscall_table
from hull.oci.runtime_spec import Seccomp, Spec
from hull.runtime import seccomp

pytestmark = pytest.mark.root

NR = syscall_table.X86_64
_libc = ctypes.CDLL(None, use_errno=True)


def profile(d: dict[str, Any]) -> Seccomp:
    spec = Spec({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "linux": {"seccomp": d}})
    assert spec.linux.seccomp is not None
    return spec.linux.seccomp


def raw_syscall(nr: int, *args: int) -> int:
    """syscall(2) with 64-bit arguments; returns -errno on failure."""
    ctypes.set_errno(0)
    rc = _libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a) for a in args])
    return -ctypes.get_errno() if rc == -1 else int(rc)


def in_child(prof: Seccomp, body: Callable[[], object]) -> tuple[int, str]:
    """Run ``body`` in a forked child under ``prof``; (wait status, its report)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(r)
            linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
            fd = seccomp.load(prof)
            report = repr((fd, body()))
            os.write(w, report.encode())
        except BaseException as exc:
            try:
                os.write(w, f"error: {exc!r}".encode())
            finally:
                code = 1
        finally:
            os._exit(code)
    os.close(w)
    try:
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
        pid = 0
    finally:
        os.close(r)
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return status, b"".join(chunks).decode()


def test_errno_action_with_custom_errno(tmp_path: Any) -> None:
    prof = profile(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 123},
                {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
            ],
        }
    )
    target = str(tmp_path / "d")

    def body() -> object:
        out: list[object] = [os.getpid() > 0]
        try:
            os.mkdir(target)
            out.append("created")
        except OSError as exc:
            out.append(exc.errno)
        out.append(raw_syscall(NR["rmdir"], 0))
        return out

    status, report = in_child(prof, body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, report
    assert report == repr((0, [True, 123, -errno.EPERM]))
    assert not os.path.exists(target)


def test_errno_only_when_argument_matches() -> None:
    # block personality only for the query value 0xffffffff
    prof = profile(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {
                    "names": ["personality"],
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": 77,
                    "args": [{"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_EQ"}],
                }
            ],
        }
    )
    nr = NR["personality"]
    current = raw_syscall(nr, 0xFFFFFFFF)
    assert current >= 0

    def body() -> object:
        return [
            raw_syscall(nr, 0xFFFFFFFF),  # blocked
            # the kernel truncates to unsigned int (a query again), but seccomp
            # sees all 64 bits: the high word differs, so it is allowed
            raw_syscall(nr, 0x1FFFFFFFF),
            raw_syscall(nr, current),  # allowed: sets the same persona
        ]

    status, report = in_child(prof, body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, report
    assert report == repr((0, [-77, current, current]))


def test_kill_process_kills_with_sigsys() -> None:
    prof = profile(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}],
        }
    )

    def body() -> object:
        os.getpid()
        os.getppid()  # dies here
        return "survived"

    status, report = in_child(prof, body)
    assert os.WIFSIGNALED(status), (status, report)
    assert os.WTERMSIG(status) == signal.SIGSYS
    assert report == ""


def test_large_default_deny_profile() -> None:
    # Deny by default (EPERM) and allow every x86_64 syscall but a few: a
    # program of the size of Docker's default, which the kernel must accept.
    denied = {"mount", "umount2", "unshare", "setns", "kexec_load", "reboot", "clone3"}
    allowed = [n for n in NR if n not in denied and NR[n] < 440]
    prof = profile(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": allowed, "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
            ],
        }
    )
    assert len(seccomp.compile_filter(prof)) // 8 > 700

    def body() -> object:
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "f"), "w") as f:
                f.write("x")
            os.mkdir(os.path.join(d, "sub"))
        return [
            raw_syscall(NR["unshare"], 0),
            raw_syscall(NR["clone3"], 0, 0),
            raw_syscall(NR["mount"], 0, 0, 0, 0, 0),
            raw_syscall(470),  # listns: newer than the profile -> ENOSYS stub
            os.getpid() > 0,
        ]

    status, report = in_child(prof, body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, report
    assert report == repr((0, [-errno.EPERM, -errno.ENOSYS, -errno.EPERM, -errno.ENOSYS, True]))


def test_notify_returns_listener_fd() -> None:
    prof = profile(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
            "syscalls": [{"names": ["mknodat"], "action": "SCMP_ACT_NOTIFY"}],
        }
    )

    def body() -> object:
        return "ok"

    status, report = in_child(prof, body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, report
    fd, ok = ast.literal_eval(report)
    assert fd > 2 and ok == "ok"
