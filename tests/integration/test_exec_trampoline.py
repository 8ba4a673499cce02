"""The exec trampoline: CVE-2019-5736 closed by construction, errors kept.

init is a fork of the Python runtime: until its last execve its
/proc/self/exe is the host's interpreter. It now execs hull's trampoline
from a sealed memfd first (hull/linux/trampoline.c), which execs the
program: a ``#!/proc/self/exe`` chain reaches the trampoline, never Python.
These tests use the real kernel: the trampoline itself, then containers.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    REPO,
    Runtime,
    base_config,
    hull_runtime_path,
    is_root,
    make_busybox_rootfs,
    unique_id,
)

pytestmark = pytest.mark.skipif(not is_root(), reason="needs root and a real kernel")

REFUSAL = "refusing to run the exec trampoline as a program"
PYTHON_RAN = "PYTHON RAN"


def _trampoline_bytes() -> bytes:
    from hull import linux

    fd = linux.trampoline_memfd()
    try:
        return os.pread(fd, 1 << 20, 0)
    finally:
        os.close(fd)


def _runtime_interpreter() -> str:
    """The Python that runs hull-runtime (its launcher's #! line), i.e. init's /proc/self/exe."""
    with open(hull_runtime_path(), "rb") as f:
        head = f.readline()
    if head.startswith(b"#!"):
        return os.path.realpath(head[2:].split()[0].decode())
    return os.path.realpath(sys.executable)


def _break_elf_interpreter(src: str, dest: Path) -> None:
    """A copy of a dynamic ELF program whose PT_INTERP names a loader that does not exist."""
    data = bytearray(Path(src).read_bytes())
    assert data[:4] == b"\x7fELF" and data[4] == 2, "expected a 64-bit ELF"
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    for i in range(phnum):
        ph = phoff + i * phentsize
        if int.from_bytes(data[ph : ph + 4], "little") == 3:  # PT_INTERP
            off = int.from_bytes(data[ph + 8 : ph + 16], "little")
            size = int.from_bytes(data[ph + 32 : ph + 40], "little")
            name = b"/nonexistent/ld.so"
            assert len(name) < size
            data[off : off + size] = name.ljust(size, b"\0")
            dest.write_bytes(bytes(data))
            dest.chmod(0o755)
            return
    pytest.skip(f"{src} is not a dynamic program")


@pytest.fixture(scope="module")
def rootfs() -> Iterator[Path]:
    """busybox, programs that fail to exec, a #! chain, and what the host's Python needs.

    With the runtime interpreter's libraries in it, that interpreter *can*
    start in the container (it dies for want of its stdlib, loudly): so "no
    Python ran" below is a real observation, not an impossibility.
    """
    base = Path(tempfile.mkdtemp(prefix="hull-test-trampoline-"))
    base.chmod(0o755)  # a user namespace's root must traverse it
    try:
        root = make_busybox_rootfs(base / "rootfs")
        (root / "garbage").write_text("not a program, no #! either\n")
        (root / "garbage").chmod(0o755)
        _break_elf_interpreter(shutil.which("true") or "/bin/true", root / "no-loader")
        (root / "no-interp").write_text("#!/nonexistent/interp\n")
        (root / "no-interp").chmod(0o755)
        # /chain -> /a -> /proc/self/exe; /a is executable but unreadable: in
        # a user namespace the runtime cannot follow the chain (the file's
        # owner is not mapped there) while the kernel does
        (root / "chain").write_text("#!/a\n")
        (root / "chain").chmod(0o755)
        (root / "a").write_text(f"#!/proc/self/exe\nprint('{PYTHON_RAN}')\n")
        os.chown(root / "a", 12345, 12345)
        (root / "a").chmod(0o711)
        interp = _runtime_interpreter()
        out = subprocess.run(["ldd", interp], capture_output=True, text=True, check=False).stdout
        for word in out.split():
            if word.startswith("/") and os.path.exists(word):
                dest = root / word.lstrip("/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(os.path.realpath(word), dest)
        yield root
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _config(rootfs: Path, args: list[str], userns: bool = False) -> dict[str, Any]:
    cfg = base_config(rootfs, args)
    if userns:
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    return cfg


def _deny(cfg: dict[str, Any], syscall: str, err: int, action: str = "SCMP_ACT_ERRNO") -> None:
    rule: dict[str, Any] = {"names": [syscall], "action": action}
    if action == "SCMP_ACT_ERRNO":
        rule["errnoRet"] = err
    cfg["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
        "syscalls": [rule],
    }


def _bundle(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    path = Path(tempfile.mkdtemp(dir=tmp_path, prefix="bundle"))
    (path / "config.json").write_text(json.dumps(cfg))
    return path


def _run(rt: Runtime, tmp_path: Path, cfg: dict[str, Any], *flags: str) -> Any:
    return rt("run", *flags, "--bundle", str(_bundle(tmp_path, cfg)), unique_id())


def _traced(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """``argv`` with the runtime's timing marks on (they say when it fell back)."""
    return subprocess.run(
        argv,
        env={**os.environ, "HULL_RUNTIME_TRACE": "1"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# -- the trampoline itself --------------------------------------------------


def test_trampoline_is_a_sealed_private_memfd() -> None:
    from hull import linux

    fd = linux.trampoline_memfd()
    try:
        assert os.readlink(f"/proc/self/fd/{fd}").startswith("/memfd:hull-exec")
        import fcntl

        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        want = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
        assert seals & want == want
        with pytest.raises(PermissionError):
            os.pwrite(fd, b"x", 0)
        # the CVE-2019-5736 way in: reopen /proc/<pid>/exe (here its fd) for writing
        wfd = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY)
        try:
            with pytest.raises(PermissionError):
                os.write(wfd, b"#!/bin/sh\n")
        finally:
            os.close(wfd)
        with pytest.raises(OSError):
            os.ftruncate(fd, 0)
        data = os.pread(fd, 1 << 20, 0)
        assert data[:4] == b"\x7fELF"
        assert len(data) < 16384  # a tiny static program, not a copy of anything big
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def trampoline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trampoline") / "hull-exec"
    path.write_bytes(_trampoline_bytes())
    path.chmod(0o755)
    return path


def _tramp(trampoline: Path, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, executable=str(trampoline), capture_output=True, timeout=10, **kw)


@pytest.mark.parametrize(
    "argv",
    [
        ["/proc/self/exe", "/chain"],  # what a #!/proc/self/exe chain gives it
        ["/proc/self/exe"],
        ["hull-exec", "-1", "/bin/true"],  # no program argv
        ["hull-exec", "3x", "/bin/true", "true"],
        ["hull-exec", "", "/bin/true", "true"],
        ["hull-exec", "99999999", "/bin/true", "true"],
    ],
)
def test_trampoline_refuses_unexpected_argv(trampoline: Path, argv: list[str]) -> None:
    res = _tramp(trampoline, argv)
    assert res.returncode == 126
    assert REFUSAL in res.stderr.decode()
    assert res.stdout == b""


def test_trampoline_execs_and_reports_like_the_python_path(
    trampoline: Path, tmp_path: Path
) -> None:
    ok = _tramp(trampoline, ["hull-exec", "-1", "/bin/sh", "sh", "-c", "echo $0 $1", "zero", "one"])
    assert (ok.returncode, ok.stdout) == (0, b"zero one\n")
    garbage = tmp_path / "garbage"
    garbage.write_text("nothing\n")
    garbage.chmod(0o755)
    plain = tmp_path / "plain"
    plain.write_text("")
    (tmp_path / "loop").symlink_to("loop")
    busy = tmp_path / "busy"
    shutil.copy2("/bin/true", busy)
    cases = {
        str(tmp_path / "missing"): errno.ENOENT,
        str(plain): errno.EACCES,
        str(garbage): errno.ENOEXEC,
        str(plain / "x"): errno.ENOTDIR,
        str(tmp_path / "loop"): errno.ELOOP,
        str(busy): errno.ETXTBSY,
    }
    with open(busy, "r+b"):  # open for writing: exec gives ETXTBSY
        for path, err in cases.items():
            res = _tramp(trampoline, ["hull-exec", "-1", path, "prog"])
            want = f'hull-runtime: exec: "prog": {os.strerror(err).lower()}\n'
            assert (res.returncode, res.stderr.decode()) == (
                127 if err == errno.ENOENT else 126,
                want,
            )


def test_trampoline_reports_on_the_sync_pipe_and_leaks_it_to_nobody(trampoline: Path) -> None:
    from hull.runtime import sync

    r, w = os.pipe()
    try:
        # a failed exec: one ERROR message, as init's own
        res = _tramp(trampoline, ["hull-exec", str(w), "/nonexistent", "x" * 2000], pass_fds=(w,))
        assert res.returncode == 127 and res.stderr == b""
        os.close(w)
        w = -1
        msg = sync.recv(r)
        assert msg is not None and msg[0] == sync.ERROR
        err = sync.InitError.from_payload(msg[1])
        assert err.exit_code == 127
        assert str(err) == f'exec: "{"x" * 512}...": no such file or directory'
        assert sync.recv(r) is None
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    r, w = os.pipe()
    try:
        # a good exec: the pipe is close-on-exec again, the program never sees it
        res = _tramp(trampoline, ["hull-exec", str(w), "/bin/ls", "ls", "/proc/self/fd"],
                     pass_fds=(w,))  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert str(w) not in res.stdout.decode().split()
    finally:
        os.close(r)
        os.close(w)


def test_trampoline_framing_matches_sync() -> None:
    """The ERROR type byte is written in C: it must stay sync.ERROR."""
    from hull.runtime import sync

    src = (REPO / "hull" / "linux" / "trampoline.c").read_text()
    assert f"#define SYNC_ERROR {sync.ERROR}\n" in src


# -- containers -------------------------------------------------------------


# create, start, then wait for init as its subreaper: after `create` returned,
# the container's stderr is all an exec error can reach, its status the code
_CREATE_START = r"""
import json, os, signal, subprocess, sys
from hull import linux
linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
signal.alarm(60)
rt, root, bundle, cid, errpath = sys.argv[1:]
with open(errpath, "wb") as err:
    created = subprocess.run([rt, "--root", root, "create", "--bundle", bundle, cid],
                             stdin=subprocess.DEVNULL, stdout=err, stderr=err)
if created.returncode:
    print(json.dumps({"create": created.returncode}))
    sys.exit()
pid = json.loads(subprocess.run([rt, "--root", root, "state", cid],
                                capture_output=True, text=True).stdout)["pid"]
started = subprocess.run([rt, "--root", root, "start", cid], capture_output=True, text=True)
_, status = os.waitpid(pid, 0)
print(json.dumps({"create": 0, "start": started.returncode, "start_err": started.stderr,
                  "code": os.waitstatus_to_exitcode(status)}))
"""


def _create_start(rt: Runtime, tmp_path: Path, cfg: dict[str, Any]) -> tuple[int, str]:
    """create + start; (init's exit code, what the container wrote on stdout and stderr)."""
    bundle = _bundle(tmp_path, cfg)
    errpath = Path(tempfile.mkstemp(dir=tmp_path, prefix="stderr")[1])
    res = subprocess.run(
        [sys.executable, "-c", _CREATE_START, rt.binary, str(rt.root), str(bundle), unique_id(),
         str(errpath)],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["create"] == 0, errpath.read_text()
    assert got["start"] == 0, got["start_err"]
    return got["code"], errpath.read_text()


def test_interpreter_chain_never_reaches_the_host_interpreter(
    hull_rt: Runtime, rootfs: Path, tmp_path: Path
) -> None:
    """/chain is #!/a, /a is #!/proc/self/exe: the trampoline ends it, not Python.

    In a user namespace /a is unreadable to the runtime, whose check cannot
    see the chain: the kernel follows it, to the trampoline. In `run`, in
    `create` + `start` and in `exec`.
    """

    def no_python(out: str) -> None:
        assert REFUSAL in out
        assert PYTHON_RAN not in out and "Python" not in out, out

    res = _run(hull_rt, tmp_path, _config(rootfs, ["/chain"], userns=True))
    assert res.returncode == 126, res.stderr
    no_python(res.stdout + res.stderr)
    code, out = _create_start(hull_rt, tmp_path, _config(rootfs, ["/chain"], userns=True))
    assert code == 126
    no_python(out)
    cid = unique_id()
    bundle = _bundle(tmp_path, _config(rootfs, ["sleep", "30"], userns=True))
    assert hull_rt("run", "--detach", "--bundle", str(bundle), cid).returncode == 0
    try:
        res = hull_rt("exec", cid, "/chain")
        assert res.returncode == 126, res.stderr
        no_python(res.stdout + res.stderr)
    finally:
        hull_rt("delete", "--force", cid)
    # without a user namespace, the runtime's own check refuses it before any exec
    res = _run(hull_rt, tmp_path, _config(rootfs, ["/chain"]))
    assert res.returncode == 126, res.stderr
    assert "refusing a script interpreted by /proc/self/exe" in res.stderr


def test_control_without_the_trampoline_the_chain_reaches_python(
    hull_rt: Runtime, rootfs: Path, tmp_path: Path
) -> None:
    """The control of the test above: Python can start in that rootfs.

    With execveat denied the runtime falls back to a plain execve, and then
    (the check being blind to /a) the kernel starts the host's interpreter
    inside the container, as in CVE-2019-5736. What the trampoline prevents.
    """
    cfg = _config(rootfs, ["/chain"], userns=True)
    _deny(cfg, "execveat", errno.EPERM)
    res = _run(hull_rt, tmp_path, cfg)
    assert "Python" in res.stdout + res.stderr


def test_proc_exe_is_the_program(hull_rt: Runtime, rootfs: Path, tmp_path: Path) -> None:
    cid = unique_id()
    bundle = _bundle(tmp_path, _config(rootfs, ["sleep", "30"]))
    assert hull_rt("run", "--detach", "--bundle", str(bundle), cid).returncode == 0
    try:
        pid = json.loads(hull_rt("state", cid).stdout)["pid"]
        exe = os.stat(f"/proc/{pid}/exe")
        busybox = os.stat(rootfs / "bin" / "busybox")
        host_python = os.stat(_runtime_interpreter())
        assert (exe.st_dev, exe.st_ino) == (busybox.st_dev, busybox.st_ino)
        assert (exe.st_dev, exe.st_ino) != (host_python.st_dev, host_python.st_ino)
        res = hull_rt("exec", cid, "sh", "-c", "readlink /proc/1/exe; readlink /proc/$$/exe")
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == ["/bin/busybox", "/bin/busybox"]
        # only stdio reached init and the exec'd process
        assert sorted(os.listdir(f"/proc/{pid}/fd")) == ["0", "1", "2"]
        res = hull_rt("exec", cid, "ls", "/proc/self/fd")
        assert sorted(int(x) for x in res.stdout.split()) == [0, 1, 2, 3]  # 3: ls's dir
    finally:
        hull_rt("delete", "--force", cid)


def test_only_stdio_and_preserved_fds_reach_the_program(
    hull_rt: Runtime, rootfs: Path, tmp_path: Path
) -> None:
    bundle = _bundle(tmp_path, _config(rootfs, ["ls", "/proc/self/fd"]))
    run = " ".join(hull_rt.cmd("run", "--preserve-fds", "1", "--bundle", str(bundle), unique_id()))
    res = subprocess.run(
        ["sh", "-c", f"exec 3</dev/null; exec {run}"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    # stdio, the preserved fd 3, and 4: the directory ls reads
    assert sorted(int(x) for x in res.stdout.split()) == [0, 1, 2, 3, 4]


# (program, exit code, reason): failures only execve itself sees, so the
# trampoline reports them (the runtime's own checks pass)
EXEC_FAILURES = [
    ("/garbage", 126, "exec format error"),
    ("/no-loader", 127, "no such file or directory"),  # its ELF interpreter is missing
    ("/no-interp", 127, "no such file or directory"),  # its #! interpreter is missing
]


@pytest.mark.parametrize(("prog", "code", "reason"), EXEC_FAILURES)
def test_exec_errors_in_run(
    hull_rt: Runtime, rootfs: Path, tmp_path: Path, prog: str, code: int, reason: str
) -> None:
    res = _run(hull_rt, tmp_path, _config(rootfs, [prog]))
    assert res.returncode == code
    assert res.stderr.strip() == f'hull-runtime: exec: "{prog}": {reason}'
    assert os.listdir(hull_rt.root) == []


@pytest.mark.parametrize(("prog", "code", "reason"), EXEC_FAILURES)
def test_exec_errors_in_exec(
    hull_rt: Runtime, rootfs: Path, tmp_path: Path, prog: str, code: int, reason: str
) -> None:
    cid = unique_id()
    bundle = _bundle(tmp_path, _config(rootfs, ["sleep", "30"]))
    assert hull_rt("run", "--detach", "--bundle", str(bundle), cid).returncode == 0
    try:
        res = hull_rt("exec", cid, prog)
        assert res.returncode == code
        assert res.stderr.strip() == f'hull-runtime: exec: "{prog}": {reason}'
    finally:
        hull_rt("delete", "--force", cid)


@pytest.mark.parametrize(
    ("prog", "code", "reason"), [*EXEC_FAILURES, ("/bin/echo", 0, "")]
)  # fmt: skip
def test_exec_errors_after_create_and_start(
    hull_rt: Runtime, rootfs: Path, tmp_path: Path, prog: str, code: int, reason: str
) -> None:
    got, output = _create_start(hull_rt, tmp_path, _config(rootfs, [prog]))
    assert got == code
    assert output == (f'hull-runtime: exec: "{prog}": {reason}\n' if code else "\n")


@pytest.mark.parametrize(
    ("action", "err"),
    [("SCMP_ACT_ERRNO", errno.EPERM), ("SCMP_ACT_ERRNO", errno.ENOSYS), ("SCMP_ACT_KILL", 0)],
)
def test_falls_back_when_execveat_is_denied(
    hull_rt: Runtime, rootfs: Path, tmp_path: Path, action: str, err: int
) -> None:
    """A filter that forbids execveat still runs the program, by a plain execve.

    One that would kill on it is not even tried: the runtime reads the spec.
    """
    cfg = _config(rootfs, ["sh", "-c", "readlink /proc/1/exe; ls /proc/self/fd"])
    _deny(cfg, "execveat", err, action)
    cid = unique_id()
    res = _traced(hull_rt.cmd("run", "--bundle", str(_bundle(tmp_path, cfg)), cid))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split()
    assert lines[0] == "/bin/busybox"
    assert sorted(int(x) for x in lines[1:]) == [0, 1, 2, 3]
    assert "exec: no trampoline" in res.stderr
    # and its errors are still reported, worded as the trampoline words them
    cfg = _config(rootfs, ["/garbage"])
    _deny(cfg, "execveat", err, action)
    res = _run(hull_rt, tmp_path, cfg)
    assert res.returncode == 126
    assert res.stderr.strip() == 'hull-runtime: exec: "/garbage": exec format error'


def test_a_filter_that_kills_fcntl_keeps_the_trampoline(
    hull_rt: Runtime, rootfs: Path, tmp_path: Path
) -> None:
    """The trampoline's fcntl (of the sync pipe) is skipped: errors go to stderr instead."""
    cfg = _config(rootfs, ["/garbage"])
    _deny(cfg, "fcntl", 0, "SCMP_ACT_KILL")
    res = _run(hull_rt, tmp_path, cfg)
    assert res.returncode == 126
    assert res.stderr.strip() == 'hull-runtime: exec: "/garbage": exec format error'
    cfg = _config(rootfs, ["/chain"], userns=True)
    _deny(cfg, "fcntl", 0, "SCMP_ACT_KILL")
    res = _run(hull_rt, tmp_path, cfg)
    assert res.returncode == 126
    assert REFUSAL in res.stderr


def test_falls_back_under_memfd_noexec(hull_rt: Runtime, rootfs: Path, tmp_path: Path) -> None:
    """vm.memfd_noexec=2 (in a pid namespace of its own) forbids executable memfds."""
    if not os.path.exists("/proc/sys/vm/memfd_noexec"):
        pytest.skip("kernel without vm.memfd_noexec (before 6.3)")
    bundle = _bundle(tmp_path, _config(rootfs, ["echo", "ran"]))
    script = "echo 2 > /proc/sys/vm/memfd_noexec && " + " ".join(
        hull_rt.cmd("run", "--bundle", str(bundle), unique_id())
    )
    res = _traced(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script])
    assert res.returncode == 0, res.stderr
    assert res.stdout == "ran\n"
    assert "exec: no trampoline" in res.stderr
    assert Path("/proc/sys/vm/memfd_noexec").read_text().strip() != "2"  # ours untouched


def test_run_detach_reports_exec_errors(hull_rt: Runtime, rootfs: Path, tmp_path: Path) -> None:
    """`run -d` fails itself (the trampoline reports on the sync pipe): nothing is left."""
    started = time.monotonic()
    res = _run(hull_rt, tmp_path, _config(rootfs, ["/garbage"]), "--detach")
    assert res.returncode == 126
    assert res.stderr.strip() == 'hull-runtime: exec: "/garbage": exec format error'
    assert os.listdir(hull_rt.root) == []
    assert time.monotonic() - started < 20


def test_exec_detach_reports_exec_errors(hull_rt: Runtime, rootfs: Path, tmp_path: Path) -> None:
    """`exec -d` fails itself, as `exec` does (the trampoline reports on the pipe)."""
    cid = unique_id()
    bundle = _bundle(tmp_path, _config(rootfs, ["sleep", "30"]))
    assert hull_rt("run", "--detach", "--bundle", str(bundle), cid).returncode == 0
    try:
        res = hull_rt("exec", "--detach", cid, "/garbage")
        assert res.returncode == 126
        assert res.stderr.strip() == 'hull-runtime: exec: "/garbage": exec format error'
    finally:
        hull_rt("delete", "--force", cid)
