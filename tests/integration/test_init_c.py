"""The C init (hull/linux/initexec.c) against the Python init, on the real kernel.

Each case runs one bundle under both executors: the default, which takes
the C path for an eligible config (the trace says so), and
``HULL_RUNTIME_INIT=python``. Exit code, stdout and stderr must be
identical, errors included (the messages are the Python init's).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import base_config, hull_runtime_path, is_root, make_busybox_rootfs, unique_id

pytestmark = pytest.mark.skipif(not is_root(), reason="needs root and a real kernel")

C_MARK = "create: init in C"
_MARK_LINE = re.compile(r"^\d+\.\d\d \d+ .*\n?", re.M)
_ID = re.compile(r"\bt-[0-9a-f]{10}\b")


@pytest.fixture(scope="module")
def rootfs() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="hull-test-initc-"))
    base.chmod(0o755)
    try:
        root = make_busybox_rootfs(base / "rootfs")
        (root / "garbage").write_text("not a program, no #! either\n")
        (root / "garbage").chmod(0o755)
        (root / "noexec").write_text("#!/bin/sh\necho no\n")
        (root / "noexec").chmod(0o644)
        (root / "dir").mkdir()
        (root / "procexe").write_text("#!/proc/self/exe\n")
        (root / "procexe").chmod(0o755)
        # not UTF-8: the message shows U+FFFD for each invalid byte, as Python decodes
        (root / "latin1").write_bytes(b"#!/proc/\xe9\xe0\x80/exe\n")
        (root / "latin1").chmod(0o755)
        (root / "loop").symlink_to("loop")
        (root / "escape").symlink_to("../../../../../../tmp/hull-initc-escape")
        (root / "private").mkdir(mode=0o700)
        (root / "private").chmod(0o700)
        yield root
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(binary: str, bundle: Path, root: Path, env: dict[str, str], *verb: str) -> tuple[Any, ...]:
    res = subprocess.run(
        [binary, "--root", str(root), *(verb or ("run",)), "--bundle", str(bundle), unique_id()],
        env={**os.environ, "HULL_RUNTIME_TRACE": "1", **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    marks = "".join(_MARK_LINE.findall(res.stderr))
    # the container's id shows in its cgroup paths
    out, err = (_ID.sub("<id>", t) for t in (res.stdout, _MARK_LINE.sub("", res.stderr)))
    return res.returncode, out, err, marks


def both(tmp_path: Path, cfg: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """(code, stdout, stderr) under the C init and under the Python init, same bundle."""
    bundle = Path(tempfile.mkdtemp(dir=tmp_path, prefix="bundle"))
    (bundle / "config.json").write_text(json.dumps(cfg))
    state = tmp_path / "state"
    try:
        c = _run(hull_runtime_path(), bundle, state, {})
        py = _run(hull_runtime_path(), bundle, state, {"HULL_RUNTIME_INIT": "python"})
    finally:
        for cid in os.listdir(state) if state.exists() else []:
            subprocess.run([hull_runtime_path(), "--root", str(state), "delete", "-f", cid],
                           capture_output=True, check=False)  # fmt: skip
    assert C_MARK in c[3], f"the C init did not run: {c}"
    assert C_MARK not in py[3]
    return c[:3], py[:3]


def _cfg(rootfs: Path, args: list[str], edit: Any = None) -> dict[str, Any]:
    cfg = base_config(rootfs, args)
    if edit is not None:
        edit(cfg)
    return cfg


def _mount(dest: str, kind: str = "tmpfs", source: str = "tmpfs", opts: Any = None) -> Any:
    def edit(c: dict[str, Any]) -> None:
        c["mounts"].append(
            {"destination": dest, "type": kind, "source": source, "options": opts or []}
        )

    return edit


def _set(path: str, value: Any) -> Any:
    def edit(c: dict[str, Any]) -> None:
        *head, last = path.split(".")
        d = c
        for k in head:
            d = d.setdefault(k, {})
        d[last] = value

    return edit


ERRORS = {
    "not found in PATH": (["nope"], None, 127),
    "missing absolute": (["/nope"], None, 127),
    "not executable": (["/noexec"], None, 126),
    "exec format error": (["/garbage"], None, 126),
    "a directory": (["/dir"], None, 126),
    "#! of /proc/self/exe": (["/procexe"], None, 126),
    "#! not UTF-8": (["/latin1"], None, 126),
    "cwd is a file": (["true"], _set("process.cwd", "/etc/passwd"), 1),
    "cwd under a file": (["true"], _set("process.cwd", "/etc/passwd/x"), 1),
    "cwd through a symlink loop": (["true"], _set("process.cwd", "/loop/x"), 1),
    "destination symlink loop": (["true"], _mount("/loop/x"), 1),
    "missing bind source": (["true"], _mount("/mnt", "bind", "/nonexistent", ["bind"]), 1),
    "unknown filesystem": (["true"], _mount("/mnt", "nosuchfs", "x"), 1),
    # a raw mount error names /proc/self/fd/N: the same N on both paths
    "bind a file over a directory": (
        ["true"],
        _mount("/etc", "bind", "/etc/hostname", ["bind"]),
        1,
    ),
    "bad sysctl": (["true"], _set("linux.sysctl", {"kernel.nope": "1"}), 1),
    "invalid sysctl": (["true"], _set("linux.sysctl", {"kernel/x": "1"}), 1),
    "rlimit above the hard limit": (
        ["true"],
        _set("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 1 << 30, "hard": 1 << 30}]),
        1,
    ),
    "unknown rlimit": (
        ["true"],
        _set("process.rlimits", [{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]),
        1,
    ),
    "invalid device path": (
        ["true"],
        _set("linux.devices", [{"path": "/dev/..", "type": "c", "major": 1, "minor": 3}]),
        1,
    ),
    "bad seccomp flag": (
        ["true"],
        _set("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["NOPE"]}),
        1,
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_are_the_python_inits(rootfs: Path, tmp_path: Path, case: str) -> None:
    args, edit, code = ERRORS[case]
    c, py = both(tmp_path, _cfg(rootfs, args, edit))
    assert c == py
    assert c[0] == code, c
    assert c[2].startswith("hull-runtime: "), c


_PROBE = (
    "echo HOME=$HOME; umask; id; pwd; stat -c '%n %a %u %g %t %T %F %N' /dev/* | sort; "
    "grep -E '^(Cap|NoNewPrivs|Seccomp|SigIgn|SigBlk)' /proc/self/status; "
    "cut -d' ' -f4-6,8- /proc/self/mountinfo | sed 's/ shared:[0-9]*//' | sort; "
    "readlink /proc/self/ns/net /proc/self/ns/ipc | sed 's/[0-9]//g'; "
    "stat -c '%n %a %F %N' /sys/fs/cgroup/*; hostname; ulimit -n; env | sort"
)


def _devices_and_paths(c: dict[str, Any]) -> None:
    dev = {"path": "/dev/sub/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o4640}
    c["linux"]["devices"] = [{**dev, "uid": 3, "gid": 4}]
    c["linux"]["readonlyPaths"] = ["/proc/sys", "/nonexistent"]
    c["linux"]["maskedPaths"] = ["/proc/kcore", "/sys/firmware", "/nonexistent"]
    c["root"]["readonly"] = False


def _seccomp_before_caps(c: dict[str, Any]) -> None:
    c["process"]["noNewPrivileges"] = False
    rule = {"names": ["mknod"], "action": "SCMP_ACT_ERRNO"}
    c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}


def _binds(c: dict[str, Any]) -> None:
    c["mounts"] += [
        {"destination": "/mnt/file", "type": "bind", "source": "/etc/hostname",
         "options": ["rbind", "ro", "nosuid"]},
        {"destination": "/mnt/dir", "source": "/etc", "options": ["bind", "ro", "rprivate"]},
    ]  # fmt: skip


def _no_cgroup_ns(c: dict[str, Any]) -> None:
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "cgroup"]


def _host_network(c: dict[str, Any]) -> None:
    c["linux"]["namespaces"] = [
        n for n in c["linux"]["namespaces"] if n["type"] not in ("network", "ipc")
    ]
    c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("sysfs", "mqueue")]


def _user(**kw: Any) -> Any:
    return lambda c: c["process"]["user"].update(kw)


SUCCESSES = {
    "defaults": None,
    "uid in passwd": _user(uid=65534, gid=65534),
    "uid not in passwd": _user(uid=12345, gid=12345, additionalGids=[1, 2], umask=0o077),
    "HOME set": lambda c: c["process"]["env"].append("HOME=/tmp"),
    "devices and ro paths": _devices_and_paths,
    "seccomp before caps": _seccomp_before_caps,
    "symlinked destination stays inside": _mount("/escape/sub"),
    "bind mounts": _binds,
    "cgroup without a cgroup ns": _no_cgroup_ns,
    "host network and ipc (no namespace made ahead)": _host_network,
    "sysctl and propagation": lambda c: c["linux"].update(
        sysctl={"kernel.msgmax": "4096"}, rootfsPropagation="rshared"
    ),
}


@pytest.mark.parametrize("case", list(SUCCESSES))
def test_the_container_sees_the_same(rootfs: Path, tmp_path: Path, case: str) -> None:
    c, py = both(tmp_path, _cfg(rootfs, ["sh", "-c", _PROBE], SUCCESSES[case]))
    assert c[0] == 0, c
    assert c == py
    assert not os.path.exists("/tmp/hull-initc-escape")


def test_create_then_start(rootfs: Path, tmp_path: Path) -> None:
    """create leaves init on the exec fifo; start lets it exec (the C init in a created state)."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(_cfg(rootfs, ["sh", "-c", "echo started"])))
    state, cid = tmp_path / "state", unique_id()
    rt = hull_runtime_path()
    out, err = tmp_path / "out", tmp_path / "err"
    try:
        # files, not pipes: the created init holds its stdio until it runs
        with open(out, "wb") as f, open(err, "wb") as e:
            res = subprocess.run(
                [rt, "--root", str(state), "create", "--bundle", str(bundle), cid],
                env={**os.environ, "HULL_RUNTIME_TRACE": "1"},
                stdin=subprocess.DEVNULL, stdout=f, stderr=e, timeout=30,
            )  # fmt: skip
        assert res.returncode == 0, err.read_text()
        assert C_MARK in err.read_text()
        st = json.loads(subprocess.run([rt, "--root", str(state), "state", cid],
                                       capture_output=True, check=True).stdout)  # fmt: skip
        assert st["status"] == "created"
        assert subprocess.run([rt, "--root", str(state), "start", cid], check=False).returncode == 0
        for _ in range(200):
            if out.read_bytes():
                break
            time.sleep(0.01)
        assert out.read_bytes() == b"started\n"
    finally:
        subprocess.run([rt, "--root", str(state), "delete", "-f", cid], capture_output=True)


def test_strings_the_c_init_cannot_carry_take_the_python_init(rootfs: Path, tmp_path: Path) -> None:
    """A NUL in an environment variable: the C init refuses the plan, the Python one runs."""
    bundle = Path(tempfile.mkdtemp(dir=tmp_path, prefix="bundle"))
    cfg = _cfg(rootfs, ["true"], lambda c: c["process"]["env"].append("BAD=a\0b"))
    (bundle / "config.json").write_text(json.dumps(cfg))
    c = _run(hull_runtime_path(), bundle, tmp_path / "state", {})
    py = _run(hull_runtime_path(), bundle, tmp_path / "state", {"HULL_RUNTIME_INIT": "python"})
    assert "create: python init (ValueError" in c[3]
    assert c[:3] == py[:3]
    assert c[0] == 1 and "embedded null" in c[2], c


def test_ineligible_configs_take_the_python_init(rootfs: Path, tmp_path: Path) -> None:
    def userns(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    for edit in (userns, _set("hooks", {"createContainer": [{"path": "/bin/true"}]})):
        bundle = Path(tempfile.mkdtemp(dir=tmp_path, prefix="bundle"))
        (bundle / "config.json").write_text(json.dumps(_cfg(rootfs, ["true"], edit)))
        code, _out, err, marks = _run(hull_runtime_path(), bundle, tmp_path / "state", {})
        assert code == 0, err
        assert C_MARK not in marks
        assert "init: exec" in marks


def test_the_runtime_keeps_its_own_oom_score_adj(rootfs: Path, tmp_path: Path) -> None:
    """oom_score_adj reaches every process of an mm: the runtime's is put back."""
    probe = tmp_path / "probe"
    cfg = _cfg(rootfs, ["sh", "-c", "cat /proc/self/oom_score_adj; sleep 0.3"],
               _set("process.oomScoreAdj", 500))  # fmt: skip
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(cfg))
    # the runtime's own values, read while it waits for the container
    script = (
        f"{hull_runtime_path()} --root {tmp_path}/state run --bundle {bundle} {unique_id()} & "
        f"sleep 0.2; cat /proc/$!/oom_score_adj > {probe}; wait"
    )
    res = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["500"]
    own = Path("/proc/self/oom_score_adj").read_text().split()
    assert probe.read_text().split() == own
