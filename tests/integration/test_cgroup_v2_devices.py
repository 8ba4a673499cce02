"""cgroup v2 device rules: the eBPF program against the real kernel (root).

A cgroup2 directory takes a device program whatever controllers it has, so
these tests run in the host's cgroup2 tree (``/sys/fs/cgroup/unified`` on a
hybrid host). A probe process joins the cgroup and tries read, write and
read-write opens, ``access(F_OK)`` and mknod on nodes made in a temp dir; a
refusal by the device filter is EPERM (a node without a driver answers
ENXIO after passing the filter). On a hybrid host the same rules are also
written to a v1 devices cgroup and the kernel's v1 answers must be the same.
Every cgroup is removed, with its processes, even when a test fails (its
programs go with it).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from hull.errors import Internal
from hull.oci.runtime_spec import DeviceRule, Resources, _Reader
from hull.runtime.cgroups import create_cgroup_manager, discover_mounts, ebpf
from hull.runtime.cgroups.devices import parse_list, target_state, transition
from hull.runtime.cgroups.v2 import V2Manager
from tests.conftest import base_config, hull_runtime_path

pytestmark = pytest.mark.root

_counter = itertools.count()

# majors 60-63 are "local/experimental use": no driver takes them dynamically
NODES = {
    "null": ("c", 1, 3),
    "zero": ("c", 1, 5),
    "full": ("c", 1, 7),
    "c60": ("c", 60, 1),
    "b60": ("b", 60, 1),
    "b61": ("b", 61, 2),
}
OPS = ("r", "w", "rw", "f", "m")

PROBE = r"""
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
procs, nodedir, ops = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
with open(procs, "w") as f:
    f.write(str(os.getpid()))
modes = {"r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR}
out = {}
for name in sorted(os.listdir(nodedir)):
    path = os.path.join(nodedir, name)
    st = os.stat(path)
    for op in ops:
        try:
            if op == "f":  # os.access() hides the errno
                if libc.access(path.encode(), 0) != 0:
                    raise OSError(ctypes.get_errno(), "access")
            elif op == "m":
                new = path + ".m"
                os.mknod(new, st.st_mode, st.st_rdev)
                os.unlink(new)
            else:
                os.close(os.open(path, modes[op] | os.O_NONBLOCK | os.O_NOCTTY))
            out[name + " " + op] = "ok"
        except OSError as exc:
            out[name + " " + op] = "EPERM" if exc.errno == 1 else "passed"
print(json.dumps(out))
"""


def rules(*items: dict[str, object]) -> list[DeviceRule]:
    return Resources(_Reader({"devices": list(items)}, "linux.resources")).devices


def _skip(reason: str) -> NoReturn:
    print(f"SKIP: {reason}")
    pytest.skip(reason)


def _kill_and_rmdir(d: str) -> None:
    """Kill the cgroup's processes and rmdir it (child cgroups first)."""
    if not os.path.isdir(d):
        return
    for sub in sorted((e.path for e in os.scandir(d) if e.is_dir()), reverse=True):
        _kill_and_rmdir(sub)
    for _ in range(200):
        try:
            pids = [int(p) for p in Path(d, "cgroup.procs").read_text().split()]
        except FileNotFoundError:
            return
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        try:
            os.rmdir(d)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
    os.rmdir(d)


@pytest.fixture
def unified() -> str:
    if os.geteuid() != 0:
        _skip("needs root: only root makes cgroups and loads eBPF programs")
    mounts = discover_mounts()
    if not mounts.v2:
        _skip("no cgroup2 mount on this host")
    return mounts.v2[0]


@pytest.fixture
def cgroups(unified: str) -> Iterator[list[str]]:
    """Cgroup dirs the test made (appended by ``new_cgroup``); all removed at the end."""
    made: list[str] = []
    try:
        yield made
    finally:
        for d in reversed(made):
            _kill_and_rmdir(d)
        for d in made:
            assert not os.path.exists(d), f"left behind: {d}"


def new_cgroup(made: list[str], mount: str) -> str:
    d = f"{mount}/hull-test-dev-{os.getpid()}-{next(_counter)}"
    made.append(d)
    os.mkdir(d)
    return d


@pytest.fixture(scope="module")
def nodedir() -> Iterator[str]:
    """Device nodes of NODES in a temp dir on a filesystem that honours them."""
    base = tempfile.mkdtemp(prefix="hull-test-devnodes-", dir="/var/tmp")
    try:
        devices = Path("/proc/devices").read_text()
        for name, (t, major, minor) in NODES.items():
            if major >= 60 and f"\n {major} " in devices:
                _skip(f"major {major} is in use on this host")
            kind = 0o020000 if t == "c" else 0o060000
            os.mknod(f"{base}/{name}", kind | 0o666, os.makedev(major, minor))
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def probe(cgroup_dir: str, nodedir: str, ops: tuple[str, ...] = OPS) -> dict[str, bool]:
    """What a process in ``cgroup_dir`` may do: ``{"null rw": True, ...}``."""
    res = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, f"{cgroup_dir}/cgroup.procs", nodedir,
         ",".join(ops)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return {k: v != "EPERM" for k, v in json.loads(res.stdout).items()}


def model(rs: list[DeviceRule], ops: tuple[str, ...] = OPS) -> dict[str, bool]:
    """What the v1 kernel allows for the replayed rules (device_cgroup.c)."""
    state = target_state(rs)
    out = {}
    for name, (t, major, minor) in NODES.items():
        for op in ops:
            asked = set("" if op == "f" else op)
            hits = [
                set(letters)
                for (kt, kmaj, kmin), letters in state.rules.items()
                if kt == t and kmaj in (-1, major) and kmin in (-1, minor)
            ]
            if state.default_allow:
                out[f"{name} {op}"] = not any(asked & h for h in hits)
            else:
                out[f"{name} {op}"] = any(asked <= h for h in hits)
    return out


def _v1_devices_mount() -> str | None:
    mount = discover_mounts().v1.get("devices")
    return mount[0] if mount is not None else None


RULE_SETS: dict[str, list[DeviceRule]] = {
    "deny all, allow zero rwm and null r": rules(
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"},
    ),
    "later rule overrides earlier": rules(
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"},
        {"allow": True, "type": "b", "major": 60, "minor": 1, "access": "r"},
        {"allow": True, "type": "b", "major": 60, "minor": 1, "access": "m"},
    ),
    "wildcards": rules(
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "access": "m"},
        {"allow": True, "type": "c", "major": 1, "access": "r"},
        {"allow": True, "type": "b", "minor": 2, "access": "rw"},
        {"allow": True, "type": "c", "minor": 7, "access": "w"},
    ),
    "allow all, deny some (partial letters)": rules(
        {"allow": True, "access": "rwm"},
        {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"},
        {"allow": False, "type": "b", "access": "rm"},
        {"allow": False, "type": "c", "major": 60, "access": "rwm"},
    ),
    "type a resets": rules(
        {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
        {"allow": True, "type": "a", "access": "rwm"},
        {"allow": False, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
    ),
}


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_program_enforces_rules_like_v1(
    name: str, unified: str, cgroups: list[str], nodedir: str
) -> None:
    rs = RULE_SETS[name]
    d = new_cgroup(cgroups, unified)
    ebpf.apply_device_rules(d, rs)
    got = probe(d, nodedir)
    want = model(rs)
    assert got == want, {k: (got[k], want[k]) for k in got if got[k] != want[k]}
    v1 = _v1_devices_mount()
    if v1 is None:
        print("no v1 devices hierarchy: compared with the model only")
        return
    # The same rules through hull's v1 driver code, enforced by the v1 kernel.
    v1dir = new_cgroup(cgroups, v1)
    current = parse_list(Path(v1dir, "devices.list").read_text())
    for file, rule in transition(current, target_state(rs)):
        Path(v1dir, file).write_text(rule)
    assert probe(v1dir, nodedir) == got


def test_brief_example(unified: str, cgroups: list[str], nodedir: str) -> None:
    d = new_cgroup(cgroups, unified)
    assert probe(d, nodedir)["null rw"]  # no program yet: everything passes
    ebpf.apply_device_rules(
        d,
        rules(
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
            {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "r"},
        ),
    )
    got = probe(d, nodedir)
    assert got["zero r"] and got["zero w"] and got["zero rw"] and got["zero m"]
    assert not any(got[f"null {op}"] for op in ("r", "w", "rw", "m"))
    assert got["full r"] and not got["full w"] and not got["full m"]
    assert not got["b60 r"] and not got["c60 m"]


def _ids(d: str) -> list[int]:
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return ebpf.attached_programs(fd, d)
    finally:
        os.close(fd)


def test_update_replaces_the_program(unified: str, cgroups: list[str], nodedir: str) -> None:
    d = new_cgroup(cgroups, unified)
    null_only = rules({"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
    full_only = rules({"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"})
    ebpf.apply_device_rules(d, null_only)
    first = _ids(d)
    assert len(first) == 1
    got = probe(d, nodedir, ("rw",))
    assert got["null rw"] and not got["full rw"]
    ebpf.apply_device_rules(d, full_only)  # one old program: swapped with BPF_F_REPLACE
    second = _ids(d)
    assert len(second) == 1 and second != first
    got = probe(d, nodedir, ("rw",))
    assert not got["null rw"] and got["full rw"]
    # Programs attached by someone else too: all replaced by the new one.
    extra = ebpf.load_program(ebpf.device_program(null_only))
    dir_fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        ebpf._attach(dir_fd, extra)
    finally:
        os.close(extra)
        os.close(dir_fd)
    assert len(_ids(d)) == 2
    assert not any(probe(d, nodedir, ("rw",)).values())  # both must allow
    ebpf.apply_device_rules(d, null_only)
    assert len(_ids(d)) == 1
    got = probe(d, nodedir, ("rw",))
    assert got["null rw"] and not got["full rw"]
    assert ebpf.detach_all(d) == 1
    assert _ids(d) == []
    assert all(probe(d, nodedir, ("rw",)).values())


def test_v2_driver_apply_attaches(unified: str, cgroups: list[str], nodedir: str) -> None:
    top = new_cgroup(cgroups, unified)
    m = create_cgroup_manager(f"{top[len(unified) :]}/c1", "c1", root=unified)
    assert isinstance(m, V2Manager)
    cgroups.append(m.dir)
    m.create()
    spec = Resources(_Reader({"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    ]}, "linux.resources"))  # fmt: skip
    m.apply(spec, devices=False)
    assert _ids(m.dir) == []
    m.apply(spec, limits=False)  # the runtime's first call, before init joins
    ids = _ids(m.dir)
    assert len(ids) == 1
    got = probe(m.dir, nodedir, ("rw",))
    assert got["zero rw"] and not got["null rw"]
    m.apply(Resources(_Reader({"pids": {}}, "linux.resources")))  # no rules: left alone
    assert _ids(m.dir) == ids
    m.apply(Resources(_Reader({"devices": [{"allow": True, "access": "rwm"}]}, "r")))
    assert len(_ids(m.dir)) == 1 and _ids(m.dir) != ids
    assert all(probe(m.dir, nodedir, ("rw",)).values())


def test_verifier_refusal_is_reported() -> None:
    if os.geteuid() != 0:
        _skip("needs root to load eBPF programs")
    load_r2 = bytes((0x61, 0x12, 0, 0, 0, 0, 0, 0))
    exit_ = bytes((0x95, 0, 0, 0, 0, 0, 0, 0))
    with pytest.raises(Internal, match=r"R0 !read_ok"):
        ebpf.load_program(load_r2 + exit_)  # exits without setting r0


def test_hull_runtime_on_a_pure_v2_host(unified: str, tmp_path: Path, busybox_rootfs: Path) -> None:
    """hull-runtime in a mount namespace that shows only the cgroup2 tree."""
    if shutil.which("unshare") is None:
        _skip("unshare (util-linux) is not installed")
    cg = f"/hull-test-dev-{os.getpid()}-{next(_counter)}"
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    script = (
        "mknod /tmp/denied c 60 1 && mknod /tmp/null c 1 3 && "
        "cat /tmp/null && echo null-ok; cat /tmp/denied"
    )
    cfg: dict[str, Any] = base_config(busybox_rootfs, ["sh", "-c", script])
    cfg["linux"]["cgroupsPath"] = f"{cg}/c1"
    for caps in cfg["process"]["capabilities"].values():
        caps.append("CAP_MKNOD")
    (bundle / "config.json").write_text(json.dumps(cfg))
    inner = (
        "set -e; umount -l /sys/fs/cgroup; mount -t cgroup2 cgroup2 /sys/fs/cgroup; "
        f'exec "$0" --root {tmp_path / "state"} run -b {bundle} v2dev'
    )
    try:
        res = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", inner, hull_runtime_path()],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert "null-ok" in res.stdout, res.stderr
        assert "can't open '/tmp/denied': Operation not permitted" in res.stderr
    finally:
        _kill_and_rmdir(unified + cg)
    assert not os.path.exists(unified + cg)
