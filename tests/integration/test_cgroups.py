"""The cgroup managers against the real kernel (root).

v1 tests run on the host's v1 hierarchies (v1 or hybrid hosts); the v2 tests
run the v2 driver in the host's cgroup2 tree (``/sys/fs/cgroup`` on a v2
host, ``/sys/fs/cgroup/unified`` on a hybrid one) with whatever controllers
it offers. Every cgroup lives under a unique ``/hull-test-<pid>-<n>`` and is
removed, with its processes, even when a test fails.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hull.errors import FailedPrecondition, InvalidArgument
from hull.oci.runtime_spec import Resources, _Reader
from hull.runtime.cgroups import (
    create_cgroup_manager,
    discover_mounts,
    host_layout,
    load_cgroup_manager,
)
from hull.runtime.cgroups.base import CgroupManager
from hull.runtime.cgroups.v1 import V1Manager
from hull.runtime.cgroups.v2 import V2Manager

pytestmark = pytest.mark.root

_counter = itertools.count()


def _layout() -> str:
    try:
        return host_layout()
    except FailedPrecondition:
        return "none"


def _skip_unless_root() -> None:
    if os.geteuid() != 0:
        reason = "needs root: cgroup directories can only be made by root"
        print(f"SKIP: {reason}")
        pytest.skip(reason)


def res(doc: dict[str, object]) -> Resources:
    return Resources(_Reader(doc, "linux.resources"))


def read(d: str, name: str) -> str:
    return Path(d, name).read_text().strip()


class Procs:
    """Children started for a test; all killed and reaped at the end."""

    def __init__(self) -> None:
        self.items: list[subprocess.Popen[bytes]] = []

    def start(self, code: str) -> subprocess.Popen[bytes]:
        """A python child that waits for one byte on stdin, then runs ``code``."""
        p = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", f"import os, sys\nsys.stdin.buffer.read(1)\n{code}"],
            stdin=subprocess.PIPE,
        )
        self.items.append(p)
        return p

    def sleeper(self) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(["sleep", "300"])
        self.items.append(p)
        return p

    @staticmethod
    def go(p: subprocess.Popen[bytes], timeout: float = 30) -> int:
        assert p.stdin is not None
        p.stdin.write(b"g")
        p.stdin.close()
        return p.wait(timeout)

    def cleanup(self) -> None:
        for p in self.items:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
            if p.stdin is not None and not p.stdin.closed:
                try:
                    p.stdin.close()
                except OSError:
                    pass


@pytest.fixture
def procs() -> Iterator[Procs]:
    ps = Procs()
    try:
        yield ps
    finally:
        ps.cleanup()


def _remove(m: CgroupManager, top: str) -> None:
    """Kill what is left, destroy the cgroup and the test's parent dirs."""
    try:
        for pid in m.pids():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        try:
            m.thaw()
        except Exception:
            pass
        m.destroy()
    finally:
        for d in set(m.paths().values()):
            parent = d[: d.index(top) + len(top)] if top in d else ""
            if parent:
                try:
                    os.rmdir(parent)
                except FileNotFoundError:
                    pass


@pytest.fixture
def v1() -> Iterator[V1Manager]:
    _skip_unless_root()
    layout = _layout()
    if layout not in ("v1", "hybrid"):
        reason = f"this host's cgroups are {layout!r}: no v1 hierarchies to test the v1 driver on"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    top = f"/hull-test-{os.getpid()}-{next(_counter)}"
    m = create_cgroup_manager(f"{top}/c1", "c1")
    assert isinstance(m, V1Manager)
    try:
        m.create()
        yield m
    finally:
        _remove(m, top)
        for d in m.paths().values():
            assert not os.path.exists(d), f"left behind: {d}"


def _v2_mount() -> str | None:
    mounts = discover_mounts()
    return mounts.v2[0] if mounts.v2 else None


@pytest.fixture
def v2() -> Iterator[V2Manager]:
    _skip_unless_root()
    mnt = _v2_mount()
    if mnt is None:
        reason = "no cgroup2 mount on this host"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    top = f"/hull-test-{os.getpid()}-{next(_counter)}"
    m = create_cgroup_manager(f"{top}/c1", "c1", root=mnt)
    assert isinstance(m, V2Manager)
    try:
        m.create()
        yield m
    finally:
        _remove(m, top)
        assert not os.path.exists(m.dir)


# ---- v1


def test_v1_paths_follow_mountinfo(v1: V1Manager) -> None:
    mounts = discover_mounts()
    paths = v1.paths()
    for ctrl, (mnt, _) in mounts.v1.items():
        assert paths[ctrl].startswith(mnt + "/hull-test-")
        assert os.path.isdir(paths[ctrl])
    if mounts.v2 is not None:
        assert paths[""].startswith(mounts.v2[0] + "/hull-test-")
        assert os.path.isdir(paths[""])
    again = load_cgroup_manager(paths)
    assert isinstance(again, V1Manager)
    assert again.paths() == paths
    v1.create()  # idempotent


def test_v1_cpuset_copied_down_from_parent(v1: V1Manager) -> None:
    d = v1.paths()["cpuset"]
    mnt = discover_mounts().v1["cpuset"][0]
    want_cpus, want_mems = read(mnt, "cpuset.cpus"), read(mnt, "cpuset.mems")
    assert read(d, "cpuset.cpus") == want_cpus != ""
    assert read(d, "cpuset.mems") == want_mems != ""
    parent = os.path.dirname(d)
    assert read(parent, "cpuset.cpus") == want_cpus


def test_v1_apply_reads_back(v1: V1Manager) -> None:
    p = v1.paths()
    v1.apply(
        res(
            {
                "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20,
                           "swappiness": 10},
                "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0",
                        "mems": "0"},
                "pids": {"limit": 10},
                "devices": [
                    {"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"},
                    {"allow": True, "type": "c", "access": "m"},
                ],
            }
        )
    )  # fmt: skip
    mem = p["memory"]
    assert read(mem, "memory.limit_in_bytes") == str(64 << 20)
    assert read(mem, "memory.soft_limit_in_bytes") == str(32 << 20)
    if os.path.exists(mem + "/memory.memsw.limit_in_bytes"):
        assert read(mem, "memory.memsw.limit_in_bytes") == str(128 << 20)
    assert read(mem, "memory.swappiness") == "10"
    assert read(p["cpu"], "cpu.shares") == "512"
    assert read(p["cpu"], "cpu.cfs_quota_us") == "50000"
    assert read(p["cpu"], "cpu.cfs_period_us") == "100000"
    assert read(p["cpuset"], "cpuset.cpus") == "0"
    assert read(p["cpuset"], "cpuset.mems") == "0"
    assert read(p["pids"], "pids.max") == "10"
    listed = set(Path(p["devices"], "devices.list").read_text().splitlines())
    assert listed == {"c 1:3 rwm", "c 1:5 r", "c *:* m"}
    # An update (white list to white list) applies only the differences.
    v1.apply(res({"devices": [{"allow": False, "access": "rwm"},
                              {"allow": True, "type": "c", "major": 1, "minor": 3,
                               "access": "rw"}]}))  # fmt: skip
    assert Path(p["devices"], "devices.list").read_text().split("\n")[0] == "c 1:3 rw"
    # Back to allow-all.
    v1.apply(res({"devices": [{"allow": True, "access": "rwm"}]}))
    assert read(p["devices"], "devices.list") == "a *:* rwm"
    v1.apply(res({"pids": {"limit": 0}, "cpu": {"quota": -1}}))
    assert read(p["pids"], "pids.max") == "max"
    assert read(p["cpu"], "cpu.cfs_quota_us") == "-1"


def test_v1_memory_limits_lowered_and_raised(v1: V1Manager) -> None:
    mem = v1.paths()["memory"]
    if not os.path.exists(mem + "/memory.memsw.limit_in_bytes"):
        pytest.skip("no swap accounting (memory.memsw.*) on this kernel")
    steps = [(64 << 20, 128 << 20), (16 << 20, 16 << 20), (256 << 20, 512 << 20),
             (32 << 20, 48 << 20), (-1, 0)]  # fmt: skip
    for limit, swap in steps:
        v1.apply(res({"memory": {"limit": limit, "swap": swap}}))
        if limit == -1:
            unlimited = read(os.path.dirname(mem), "memory.limit_in_bytes")
            assert read(mem, "memory.limit_in_bytes") == unlimited
            assert read(mem, "memory.memsw.limit_in_bytes") == unlimited
        else:
            assert read(mem, "memory.limit_in_bytes") == str(limit)
            assert read(mem, "memory.memsw.limit_in_bytes") == str(swap)


def test_v1_kernel_memory_is_tolerated(v1: V1Manager) -> None:
    v1.apply(res({"memory": {"kernel": 64 << 20, "kernelTCP": 16 << 20}}))


def test_v1_write_error_names_file_and_value(v1: V1Manager) -> None:
    with pytest.raises(InvalidArgument) as ei:
        v1.apply(res({"cpu": {"quota": 500}}))  # below the kernel's 1 ms minimum
    path = v1.paths()["cpu"] + "/cpu.cfs_quota_us"
    assert str(ei.value) == f"cgroup: cannot write '500' to {path}: Invalid argument"
    with pytest.raises(InvalidArgument, match=r"cpuset\.cpus"):
        v1.apply(res({"cpu": {"cpus": "abc"}}))


def _first_block_device() -> tuple[int, int] | None:
    for line in Path("/proc/partitions").read_text().splitlines()[2:]:
        f = line.split()
        if len(f) == 4:
            return int(f[0]), int(f[1])
    return None


def test_v1_blkio(v1: V1Manager) -> None:
    d = v1.paths().get("blkio")
    if d is None:
        pytest.skip("no blkio hierarchy")
    weight = next(
        (n for n in ("blkio.weight", "blkio.bfq.weight") if os.path.exists(f"{d}/{n}")), None
    )
    if weight is None:
        with pytest.raises(FailedPrecondition, match=r"blkio\.bfq\.weight"):
            v1.apply(res({"blockIO": {"weight": 500}}))
    else:
        v1.apply(res({"blockIO": {"weight": 500}}))
        assert read(d, weight).split()[-1] == "500"
    dev = _first_block_device()
    if dev is not None:
        major, minor = dev
        v1.apply(res({"blockIO": {"throttleReadBpsDevice": [
            {"major": major, "minor": minor, "rate": 1048576}]}}))  # fmt: skip
        assert read(d, "blkio.throttle.read_bps_device") == f"{major}:{minor} 1048576"


def test_v1_processes_freeze_thaw_and_kill(v1: V1Manager, procs: Procs) -> None:
    p = procs.sleeper()
    v1.add_pid(p.pid)
    for d in set(v1.paths().values()):
        assert str(p.pid) in Path(d, "cgroup.procs").read_text().split()
    assert v1.pids() == [p.pid]
    freezer = v1.paths()["freezer"]
    v1.freeze()
    assert read(freezer, "freezer.state") == "FROZEN"
    assert v1.freezer_state() == "FROZEN"
    assert load_cgroup_manager(v1.paths()).freezer_state() == "FROZEN"
    v1.thaw()
    assert read(freezer, "freezer.state") == "THAWED"
    assert v1.freezer_state() == "THAWED"
    v1.kill_all(15)
    assert p.wait(10) == -15
    assert read(freezer, "freezer.state") == "THAWED"
    assert v1.pids() == []


def test_v1_kill_all_keeps_a_paused_container_paused(v1: V1Manager, procs: Procs) -> None:
    p = procs.sleeper()
    v1.add_pid(p.pid)
    v1.freeze()
    v1.kill_all(15)
    assert v1.freezer_state() == "FROZEN"
    assert p.poll() is None  # the signal waits for the thaw
    v1.kill_all(9)  # SIGKILL thaws: frozen v1 tasks cannot die otherwise
    assert p.wait(10) in (-9, -15)
    assert v1.freezer_state() == "THAWED"


def test_v1_oom_kill(v1: V1Manager, procs: Procs) -> None:
    v1.apply(res({"memory": {"limit": 16 << 20, "swap": 16 << 20}}))
    before = v1.oom_kill_count()
    p = procs.start("b = bytearray(b'x' * (64 << 20))\nsys.exit(0)")
    v1.add_pid(p.pid)
    assert procs.go(p) == -9  # SIGKILL from the OOM killer
    assert v1.oom_kill_count() > before
    stats = v1.stats()
    memory = stats["memory"]
    assert isinstance(memory, dict)
    assert memory["usage"]["limit"] == 16 << 20
    assert memory["usage"]["max"] == 16 << 20  # the peak reached the limit


def test_v1_pids_limit_stops_forks(v1: V1Manager, procs: Procs) -> None:
    v1.apply(res({"pids": {"limit": 1}}))
    code = (
        "try:\n    pid = os.fork()\nexcept BlockingIOError:\n    os._exit(42)\n"
        "if pid == 0:\n    os._exit(0)\nos.waitpid(pid, 0)\nos._exit(0)"
    )
    p = procs.start(code)
    v1.add_pid(p.pid)
    assert procs.go(p) == 42


def test_v1_devices_enforced(v1: V1Manager, procs: Procs) -> None:
    v1.apply(res({"devices": [{"allow": False, "access": "rwm"},
                              {"allow": True, "type": "c", "major": 1, "minor": 3,
                               "access": "rw"}]}))  # fmt: skip
    code = (
        "open('/dev/null', 'wb').close()\n"
        "try:\n    open('/dev/zero', 'rb').close()\nexcept PermissionError:\n    os._exit(42)\n"
        "os._exit(0)"
    )
    p = procs.start(code)
    v1.add_pid(p.pid)
    assert procs.go(p) == 42


def test_v1_stats_shape(v1: V1Manager, procs: Procs) -> None:
    p = procs.start("x = sum(range(3_000_000))\nos._exit(0)")
    v1.add_pid(p.pid)
    assert procs.go(p) == 0
    s = v1.stats()
    assert set(s) >= {"cpu", "memory", "pids", "blkio", "hugetlb"}
    cpu = s["cpu"]
    assert isinstance(cpu, dict)
    assert cpu["usage"]["total"] > 0
    assert len(cpu["usage"]["percpu"]) == os.cpu_count()
    assert set(cpu["throttling"]) == {"periods", "throttledPeriods", "throttledTime"}
    pids = s["pids"]
    assert isinstance(pids, dict)
    assert pids["current"] == 0


def test_v1_hugetlb_where_the_controller_is(v1: V1Manager) -> None:
    paths = v1.paths()
    if "hugetlb" in paths:
        v1.apply(res({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}))
        assert read(paths["hugetlb"], "hugetlb.2MB.limit_in_bytes") == str(4 << 20)
        return
    unified = paths.get("")
    if unified is None or "hugetlb" not in read(unified, "cgroup.controllers").split():
        with pytest.raises(FailedPrecondition, match="hugetlb"):
            v1.apply(res({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}))
        return
    # Hybrid host whose hugetlb lives in the unified tree (this test machine).
    v1.apply(res({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}))
    assert read(unified, "hugetlb.2MB.max") == str(4 << 20)


def test_v1_unified_needs_the_unified_tree(v1: V1Manager) -> None:
    if "" in v1.paths():
        with pytest.raises(FailedPrecondition, match="memory"):
            v1.apply(res({"unified": {"memory.high": "100000000"}}))
    else:
        with pytest.raises(FailedPrecondition, match="cgroup v2"):
            v1.apply(res({"unified": {"memory.high": "100000000"}}))


def test_v1_destroy_waits_for_exiting_processes(procs: Procs) -> None:
    _skip_unless_root()
    if _layout() not in ("v1", "hybrid"):
        pytest.skip("no v1 hierarchies")
    top = f"/hull-test-{os.getpid()}-{next(_counter)}"
    m = create_cgroup_manager(f"{top}/c1", "c1")
    try:
        m.create()
        p = procs.sleeper()
        m.add_pid(p.pid)
        m.kill_all(9)
        m.destroy()  # the process may still be exiting: destroy retries EBUSY
        for d in m.paths().values():
            assert not os.path.exists(d)
        m.destroy()  # already gone: fine
    finally:
        _remove(m, top)


def test_relative_path_is_under_own_cgroup() -> None:
    _skip_unless_root()
    if _layout() not in ("v1", "hybrid"):
        pytest.skip("no v1 hierarchies")
    m = create_cgroup_manager("sub/c1", "c1")
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(","):
            own[c] = path
    mounts = discover_mounts()
    for ctrl, d in m.paths().items():
        if ctrl:
            mnt, mroot = mounts.v1[ctrl]
            base = own[ctrl] if mroot == "/" else own[ctrl][len(mroot) :]
            assert d == (mnt + base).rstrip("/") + "/sub/c1"
    with pytest.raises(InvalidArgument):
        create_cgroup_manager("../" * 50 + "x", "c1")


# ---- v2 in the host's cgroup2 tree


def test_v2_lifecycle(v2: V2Manager, procs: Procs) -> None:
    assert os.path.isdir(v2.dir)
    p = procs.sleeper()
    v2.add_pid(p.pid)
    assert v2.pids() == [p.pid]
    assert read(v2.dir, "cgroup.procs") == str(p.pid)
    if os.path.exists(v2.dir + "/cgroup.freeze"):
        v2.freeze()
        assert read(v2.dir, "cgroup.freeze") == "1"
        assert "frozen 1" in Path(v2.dir, "cgroup.events").read_text()
        assert v2.freezer_state() == "FROZEN"
        v2.thaw()
        assert v2.freezer_state() == "THAWED"
    v2.kill_all(15)
    assert p.wait(10) == -15
    assert v2.pids() == []
    again = load_cgroup_manager(v2.paths())
    assert again.paths() == {"": v2.dir}


def test_v2_kill_all_sigkill(v2: V2Manager, procs: Procs) -> None:
    p = procs.sleeper()
    v2.add_pid(p.pid)
    v2.kill_all(9)
    assert p.wait(10) == -9


def test_v2_controllers_on_this_tree(v2: V2Manager) -> None:
    offered = read(os.path.dirname(os.path.dirname(v2.dir)), "cgroup.controllers").split()
    available = read(v2.dir, "cgroup.controllers").split()
    assert set(available) <= set(offered)
    if "memory" not in available:
        with pytest.raises(FailedPrecondition, match="memory controller"):
            v2.apply(res({"memory": {"limit": 64 << 20}}))
    else:
        v2.apply(res({"memory": {"limit": 64 << 20}}))
        assert read(v2.dir, "memory.max") == str(64 << 20)
    if "hugetlb" in available:
        v2.apply(res({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}))
        assert read(v2.dir, "hugetlb.2MB.max") == str(4 << 20)
    if "pids" not in available:
        with pytest.raises(FailedPrecondition, match="pids controller"):
            v2.apply(res({"pids": {"limit": 5}}))
    # Unset values need no controller.
    v2.apply(res({"memory": {}, "cpu": {}}))
    assert v2.oom_kill_count() == 0
    assert isinstance(v2.stats()["cpu"], dict)


def test_timing_create_apply_add_destroy(procs: Procs) -> None:
    """Not a benchmark gate: prints what one container's cgroup costs here."""
    _skip_unless_root()
    if _layout() == "none":
        pytest.skip("no cgroups")
    empty = Resources(None)
    top = f"/hull-test-{os.getpid()}-{next(_counter)}"
    p = procs.sleeper()
    m = create_cgroup_manager(f"{top}/c1", "c1")
    try:
        t0 = time.perf_counter()
        m.create()
        m.apply(empty)
        t1 = time.perf_counter()
        m.add_pid(p.pid)
        t2 = time.perf_counter()
        p.kill()
        p.wait()
        t3 = time.perf_counter()
        m.destroy()
        t4 = time.perf_counter()
        print(
            f"\ncgroup timing: create+apply {1e3 * (t1 - t0):.3f} ms, add_pid "
            f"{1e3 * (t2 - t1):.3f} ms, destroy {1e3 * (t4 - t3):.3f} ms"
        )
    finally:
        _remove(m, top)
