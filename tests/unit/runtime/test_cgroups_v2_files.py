"""The v2 cgroup driver against a directory tree that plays a cgroup2 mount.

The tree holds what the kernel would show: the root's cgroup.controllers and
cgroup.subtree_control, and in a new cgroup (``kernel_mkdir``) the interface
files of the controllers its parent enabled. Writes are recorded so that
multi-line files (io.max) can be checked write by write.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

import hull.runtime.cgroups.v2 as v2mod
from hull.errors import FailedPrecondition, InvalidArgument
from hull.oci.runtime_spec import Resources, _Reader
from hull.runtime.cgroups import (
    create_cgroup_manager,
    load_cgroup_manager,
    page_size_name,
    parse_mountinfo,
    write_error,
    write_file,
)
from hull.runtime.cgroups.devices import DeviceState, parse_list, transition
from hull.runtime.cgroups.v2 import (
    V2Manager,
    blkio_weight_to_io_weight,
    cpu_shares_to_weight,
    memory_swap_to_v2,
)

CONTROLLERS = "cpuset cpu io memory hugetlb pids"

CONTROLLER_FILES = {
    "memory": ["memory.max", "memory.low", "memory.high", "memory.swap.max", "memory.current",
               "memory.events", "memory.stat", "memory.peak", "memory.swap.current"],
    "cpu": ["cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle", "cpu.stat"],
    "cpuset": ["cpuset.cpus", "cpuset.mems"],
    "io": ["io.weight", "io.max", "io.stat"],
    "hugetlb": ["hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "hugetlb.1GB.max",
                "hugetlb.1GB.rsvd.max", "hugetlb.2MB.current"],
    "pids": ["pids.max", "pids.current"],
}  # fmt: skip


def kernel_mkdir(d: Path, controllers: str = CONTROLLERS) -> Path:
    """Make a cgroup dir with the files the kernel would put in it."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "cgroup.controllers").write_text(controllers + "\n")
    for name in ("cgroup.subtree_control", "cgroup.procs", "cgroup.freeze", "cgroup.kill"):
        (d / name).write_text("")
    (d / "cgroup.events").write_text("populated 0\nfrozen 0\n")
    for ctrl in controllers.split():
        for name in CONTROLLER_FILES[ctrl]:
            (d / name).write_text("")
    return d


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "cgroup2"
    r.mkdir()
    (r / "cgroup.controllers").write_text(CONTROLLERS + "\n")
    (r / "cgroup.subtree_control").write_text("")
    (r / "cgroup.procs").write_text("")
    return r


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every (file name, value) the v2 driver writes, in order."""
    log: list[tuple[str, str]] = []
    real = write_file

    def spy(dirpath: str, name: str, value: str) -> None:
        log.append((name, value))
        real(dirpath, name, value)

    monkeypatch.setattr(v2mod, "write_file", spy)
    return log


def manager(root: Path, controllers: str = CONTROLLERS) -> tuple[V2Manager, Path]:
    """A created cgroup /hull/c1 under the fake root, kernel files in place."""
    kernel_mkdir(root / "hull")
    m = create_cgroup_manager("", "c1", root=str(root))
    assert isinstance(m, V2Manager)
    m.create()
    leaf = root / "hull" / "c1"
    kernel_mkdir(leaf, controllers)
    return m, leaf


def res(doc: dict[str, object]) -> Resources:
    return Resources(_Reader(doc, "linux.resources"))


def read(leaf: Path, name: str) -> str:
    return (leaf / name).read_text()


# ---- paths and the factory


def test_default_path_is_hull_slash_id(root: Path) -> None:
    m = create_cgroup_manager("", "abc", root=str(root))
    assert m.paths() == {"": f"{root}/hull/abc"}


def test_absolute_and_relative_paths(root: Path) -> None:
    assert create_cgroup_manager("/a/b", "x", root=str(root)).paths() == {"": f"{root}/a/b"}
    assert create_cgroup_manager("a/./b/", "x", root=str(root)).paths() == {"": f"{root}/a/b"}
    assert create_cgroup_manager("/a/../b", "x", root=str(root)).paths() == {"": f"{root}/b"}


@pytest.mark.parametrize("path", ["/../x", "a/../../x", "/a/b/../../../etc", "..", "/", "/a/.."])
def test_paths_escaping_the_root_are_refused(root: Path, path: str) -> None:
    with pytest.raises(InvalidArgument):
        create_cgroup_manager(path, "x", root=str(root))


def test_systemd_style_path_is_refused(root: Path) -> None:
    with pytest.raises(InvalidArgument, match="systemd"):
        create_cgroup_manager("system.slice:hull:abc", "abc", root=str(root))


def test_load_round_trip(root: Path) -> None:
    m, _ = manager(root)
    again = load_cgroup_manager(m.paths())
    assert isinstance(again, V2Manager)
    assert again.paths() == m.paths()
    with pytest.raises(InvalidArgument):
        load_cgroup_manager({"": "/sys/fs/cgroup/../../etc"})
    with pytest.raises(InvalidArgument):
        load_cgroup_manager({})


def test_parse_mountinfo_layouts() -> None:
    hybrid = (
        "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "34 31 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
    )
    m = parse_mountinfo(hybrid)
    assert m.layout == "hybrid"
    assert m.v1["cpu"] == m.v1["cpuacct"] == ("/sys/fs/cgroup/cpu,cpuacct", "/")
    assert m.v1["name=systemd"][0] == "/sys/fs/cgroup/systemd"
    assert "xattr" not in m.v1
    assert m.v2 == ("/sys/fs/cgroup/unified", "/")
    v2only = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
    assert parse_mountinfo(v2only).layout == "v2"
    v1only = "34 31 0:31 /docker/x /sys/fs/cgroup/my\\040mem rw - cgroup cgroup rw,memory\n"
    m1 = parse_mountinfo(v1only)
    assert m1.layout == "v1"
    assert m1.v1["memory"] == ("/sys/fs/cgroup/my mem", "/docker/x")
    with pytest.raises(FailedPrecondition):
        _ = parse_mountinfo("").layout


def test_parse_mountinfo_prefers_sys_fs_cgroup() -> None:
    text = (
        "90 80 0:31 / /var/lib/x/rootfs/sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "34 31 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "35 31 0:31 / /mnt/other rw - cgroup cgroup rw,memory\n"
    )
    assert parse_mountinfo(text).v1["memory"][0] == "/sys/fs/cgroup/memory"


# ---- create: controllers enabled along the path


def test_create_enables_offered_controllers_in_every_parent(root: Path) -> None:
    _, leaf = manager(root)
    want = "+cpuset +cpu +io +memory +hugetlb +pids"
    assert read(root, "cgroup.subtree_control") == want
    assert read(root / "hull", "cgroup.subtree_control") == want
    assert read(leaf, "cgroup.subtree_control") == ""  # the leaf holds the processes
    assert leaf.is_dir()


def test_create_only_adds_missing_controllers(root: Path) -> None:
    (root / "cgroup.subtree_control").write_text("cpu memory io\n")
    manager(root)
    assert read(root, "cgroup.subtree_control") == "+cpuset +hugetlb +pids"


def test_create_is_idempotent(root: Path) -> None:
    m, leaf = manager(root)
    m.create()
    assert leaf.is_dir()


# ---- apply: every resource in its file


def test_apply_nothing_writes_nothing(root: Path, writes: list[tuple[str, str]]) -> None:
    m, _ = manager(root)
    writes.clear()
    m.apply(Resources(None))
    m.apply(res({"memory": {"swappiness": 10, "disableOOMKiller": True}, "cpu": {}}))
    assert writes == []


def test_memory(root: Path) -> None:
    m, leaf = manager(root)
    m.apply(res({"memory": {"limit": 64 << 20, "swap": 128 << 20, "reservation": 32 << 20}}))
    assert read(leaf, "memory.max") == str(64 << 20)
    assert read(leaf, "memory.swap.max") == str(64 << 20)  # OCI swap is memory+swap
    assert read(leaf, "memory.low") == str(32 << 20)


def test_memory_swap_equal_to_limit_disables_swap(root: Path) -> None:
    m, leaf = manager(root)
    m.apply(res({"memory": {"limit": 16 << 20, "swap": 16 << 20}}))
    assert read(leaf, "memory.swap.max") == "0"
    assert read(leaf, "memory.max") == str(16 << 20)


def test_memory_unlimited(root: Path) -> None:
    m, leaf = manager(root)
    m.apply(res({"memory": {"limit": -1}}))
    assert read(leaf, "memory.max") == "max"
    assert read(leaf, "memory.swap.max") == "max"


def test_memory_swap_below_limit_is_refused(root: Path) -> None:
    m, _ = manager(root)
    with pytest.raises(InvalidArgument, match="swap"):
        m.apply(res({"memory": {"limit": 64 << 20, "swap": 32 << 20}}))


def test_memory_check_before_update(root: Path) -> None:
    m, leaf = manager(root)
    (leaf / "memory.current").write_text(str(100 << 20))
    with pytest.raises(FailedPrecondition, match="current usage"):
        m.apply(res({"memory": {"limit": 64 << 20, "checkBeforeUpdate": True}}))


def test_cpu(root: Path) -> None:
    m, leaf = manager(root)
    m.apply(res({"cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000,
                         "idle": 0}}))  # fmt: skip
    assert read(leaf, "cpu.weight") == "39"
    assert read(leaf, "cpu.max") == "50000 100000"
    assert read(leaf, "cpu.max.burst") == "1000"
    assert read(leaf, "cpu.idle") == "0"


def test_cpu_unlimited_quota(root: Path) -> None:
    m, leaf = manager(root)
    m.apply(res({"cpu": {"quota": -1, "period": 100000}}))
    assert read(leaf, "cpu.max") == "max 100000"
    m.apply(res({"cpu": {"quota": 20000}}))
    assert read(leaf, "cpu.max") == "20000"


def test_cpu_realtime_is_refused(root: Path) -> None:
    m, _ = manager(root)
    with pytest.raises(InvalidArgument, match="realtime"):
        m.apply(res({"cpu": {"realtimeRuntime": 1000, "realtimePeriod": 10000}}))


def test_cpuset(root: Path) -> None:
    m, leaf = manager(root)
    m.apply(res({"cpu": {"cpus": "0-1", "mems": "0"}}))
    assert read(leaf, "cpuset.cpus") == "0-1"
    assert read(leaf, "cpuset.mems") == "0"


@pytest.mark.parametrize(("limit", "want"), [(10, "10"), (0, "max"), (-1, "max")])
def test_pids(root: Path, limit: int, want: str) -> None:
    m, leaf = manager(root)
    m.apply(res({"pids": {"limit": limit}}))
    assert read(leaf, "pids.max") == want


def test_io(root: Path, writes: list[tuple[str, str]]) -> None:
    m, _ = manager(root)
    writes.clear()
    m.apply(res({"blockIO": {
        "weight": 500,
        "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 16, "rate": 2048}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 200}],
    }}))  # fmt: skip
    assert writes == [
        ("io.weight", "default 4950"),
        ("io.weight", "8:0 10000"),
        ("io.max", "8:0 rbps=1048576"),
        ("io.max", "8:16 wbps=2048"),
        ("io.max", "8:0 riops=100"),
        ("io.max", "8:0 wiops=200"),
    ]


def test_io_prefers_bfq_weight(root: Path) -> None:
    m, leaf = manager(root)
    (leaf / "io.bfq.weight").write_text("")
    m.apply(res({"blockIO": {"weight": 300}}))
    assert read(leaf, "io.bfq.weight") == "300"
    assert read(leaf, "io.weight") == ""


def test_hugetlb(root: Path) -> None:
    m, leaf = manager(root)
    m.apply(res({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20},
                                    {"pageSize": "1GB", "limit": 0}]}))  # fmt: skip
    assert read(leaf, "hugetlb.2MB.max") == str(4 << 20)
    assert read(leaf, "hugetlb.2MB.rsvd.max") == str(4 << 20)
    assert read(leaf, "hugetlb.1GB.max") == "0"


def test_hugetlb_without_rsvd_files(root: Path) -> None:
    m, leaf = manager(root)
    (leaf / "hugetlb.2MB.rsvd.max").unlink()
    m.apply(res({"hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}]}))
    assert read(leaf, "hugetlb.2MB.max") == str(2 << 20)


@pytest.mark.parametrize("size", ["../2MB", "2MB/x", "", "MB", "2M"])
def test_hugetlb_bad_page_size(root: Path, size: str) -> None:
    m, _ = manager(root)
    with pytest.raises(InvalidArgument, match="pageSize"):
        m.apply(res({"hugepageLimits": [{"pageSize": size, "limit": 1}]}))


def test_unified_written_verbatim_line_by_line(root: Path, writes: list[tuple[str, str]]) -> None:
    m, leaf = manager(root)
    writes.clear()
    m.apply(res({"unified": {"memory.high": "1073741824", "io.max": "8:0 rbps=1\n8:16 wbps=2\n"}}))
    assert read(leaf, "memory.high") == "1073741824"
    assert read(leaf, "io.max") == "8:16 wbps=2"  # one write(2) per line, last one kept


def test_unified_applied_last_overrides(root: Path) -> None:
    m, leaf = manager(root)
    m.apply(res({"pids": {"limit": 5}, "unified": {"pids.max": "7"}}))
    assert read(leaf, "pids.max") == "7"


@pytest.mark.parametrize("key", ["../memory.max", "a/b", "..", ".", "", "x..y"])
def test_unified_invalid_keys_are_refused(root: Path, key: str) -> None:
    m, leaf = manager(root)
    with pytest.raises(InvalidArgument, match="unified"):
        m.apply(res({"unified": {"memory.high": "1", key: "1"}}))
    assert read(leaf, "memory.high") == ""  # nothing was written


def test_unified_missing_controller_named(root: Path) -> None:
    m, _ = manager(root)
    with pytest.raises(FailedPrecondition, match="rdma"):
        m.apply(res({"unified": {"rdma.max": "mlx4_0 hca_handle=2"}}))


def test_missing_controller_is_named(root: Path) -> None:
    m, leaf = manager(root, controllers="hugetlb")  # like /sys/fs/cgroup/unified here
    with pytest.raises(FailedPrecondition, match="memory controller"):
        m.apply(res({"memory": {"limit": 1 << 20}}))
    with pytest.raises(FailedPrecondition, match="pids controller"):
        m.apply(res({"pids": {"limit": 3}}))
    m.apply(res({"memory": {}, "hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}))
    assert read(leaf, "hugetlb.2MB.max") == "0"


def test_devices_need_an_ebpf_program_on_v2(root: Path, writes: list[tuple[str, str]]) -> None:
    # v2 has no devices files: the rules become an eBPF program, which the
    # kernel attaches only to a real cgroup2 dir (tests/integration/test_cgroup_v2_devices.py).
    m, leaf = manager(root)
    writes.clear()
    with pytest.raises(FailedPrecondition, match=f"eBPF device programs of {leaf}"):
        m.apply(res({"devices": [{"allow": False, "access": "rwm"}]}))
    m.apply(res({"devices": [{"allow": False, "access": "rwm"}]}), devices=False)
    assert writes == []
    assert not (leaf / "devices.deny").exists()


def test_write_error_names_file_and_value(root: Path) -> None:
    m, leaf = manager(root)
    (leaf / "pids.max").unlink()
    (leaf / "pids.max").mkdir()
    with pytest.raises(FailedPrecondition) as ei:
        m.apply(res({"pids": {"limit": 42}}))
    assert str(ei.value).startswith(f"cgroup: cannot write '42' to {leaf}/pids.max: ")
    err = write_error("/x/memory.max", "abc", OSError(errno.EINVAL, "Invalid argument"))
    assert isinstance(err, InvalidArgument)
    assert str(err) == "cgroup: cannot write 'abc' to /x/memory.max: Invalid argument"
    busy = write_error("/x/cgroup.procs", "1", OSError(errno.EBUSY, "busy"))
    assert isinstance(busy, FailedPrecondition)


# ---- conversions


def test_conversions() -> None:
    assert cpu_shares_to_weight(0) == 0
    assert cpu_shares_to_weight(2) == 1
    assert cpu_shares_to_weight(1024) == 39
    assert cpu_shares_to_weight(262144) == 10000
    assert blkio_weight_to_io_weight(0) == 0
    assert blkio_weight_to_io_weight(10) == 1
    assert blkio_weight_to_io_weight(500) == 4950
    assert blkio_weight_to_io_weight(1000) == 10000
    assert memory_swap_to_v2(0, -1) == -1
    assert memory_swap_to_v2(-1, 100) == -1
    assert memory_swap_to_v2(0, 100) == 0
    assert memory_swap_to_v2(300, 100) == 200
    with pytest.raises(InvalidArgument):
        memory_swap_to_v2(300, 0)
    assert page_size_name(2 << 20) == "2MB"
    assert page_size_name(1 << 30) == "1GB"
    assert page_size_name(64 << 10) == "64KB"


# ---- processes, freezer, counters


def test_pids_include_child_cgroups(root: Path) -> None:
    m, leaf = manager(root)
    (leaf / "cgroup.procs").write_text("10\n11\n")
    kernel_mkdir(leaf / "sub")
    (leaf / "sub" / "cgroup.procs").write_text("12\n")
    assert sorted(m.pids()) == [10, 11, 12]
    m.add_pid(99)
    assert read(leaf, "cgroup.procs") == "99"


def test_pids_of_a_removed_cgroup_is_empty(root: Path) -> None:
    m = create_cgroup_manager("/gone", "x", root=str(root))
    assert m.pids() == []


def test_freeze_and_thaw(root: Path) -> None:
    m, leaf = manager(root)
    assert m.freezer_state() == "THAWED"
    (leaf / "cgroup.events").write_text("populated 1\nfrozen 1\n")  # the kernel's answer
    m.freeze()
    assert read(leaf, "cgroup.freeze") == "1"
    assert m.freezer_state() == "FROZEN"
    (leaf / "cgroup.events").write_text("populated 1\nfrozen 0\n")
    m.thaw()
    assert read(leaf, "cgroup.freeze") == "0"
    assert m.freezer_state() == "THAWED"


def test_kill_all_with_sigkill_uses_cgroup_kill(root: Path) -> None:
    m, leaf = manager(root)
    m.kill_all(9)
    assert read(leaf, "cgroup.kill") == "1"


def test_oom_kill_count_and_stats(root: Path) -> None:
    m, leaf = manager(root)
    (leaf / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n")
    (leaf / "memory.current").write_text("1000\n")
    (leaf / "memory.max").write_text("max\n")
    (leaf / "memory.swap.current").write_text("10\n")
    (leaf / "memory.swap.max").write_text("0\n")
    (leaf / "memory.stat").write_text("anon 400\nfile 600\n")
    (leaf / "cpu.stat").write_text("usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 4\n"
                                   "nr_throttled 1\nthrottled_usec 7\n")  # fmt: skip
    (leaf / "pids.current").write_text("2\n")
    (leaf / "pids.max").write_text("max\n")
    (leaf / "io.stat").write_text("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n")
    assert m.oom_kill_count() == 2
    s = m.stats()
    cpu = s["cpu"]
    assert isinstance(cpu, dict)
    assert cpu["usage"]["total"] == 5000
    assert cpu["usage"]["user"] == 3000 and cpu["usage"]["kernel"] == 2000
    assert cpu["throttling"] == {"periods": 4, "throttledPeriods": 1, "throttledTime": 7000}
    mem = s["memory"]
    assert isinstance(mem, dict)
    assert mem["usage"]["usage"] == 1000 and mem["usage"]["failcnt"] == 3
    assert mem["usage"]["limit"] == 2**64 - 1
    assert mem["swap"]["usage"] == 1010  # memory+swap, as v1 reports it
    assert mem["cache"] == 600 and mem["raw"] == {"anon": 400, "file": 600}
    assert s["pids"] == {"current": 2, "limit": 0}
    blkio = s["blkio"]
    assert isinstance(blkio, dict)
    assert {"major": 8, "minor": 0, "op": "Read", "value": 10} in blkio["ioServiceBytesRecursive"]
    assert {"major": 8, "minor": 0, "op": "Write", "value": 2} in blkio["ioServicedRecursive"]


# ---- the v1 device emulation (pure logic, shared with the v1 driver)


def test_device_transition_from_allow_all() -> None:
    rules = res({"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "w"},
        {"allow": True, "type": "b", "access": "m"},
        {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"},
    ]}).devices  # fmt: skip
    from hull.runtime.cgroups.devices import target_state

    target = target_state(rules)
    current = parse_list("a *:* rwm\n")
    # grants in the order the spec listed them (the runtime spec requires it)
    assert transition(current, target) == [
        ("devices.deny", "a *:* rwm"),
        ("devices.allow", "c 1:3 rm"),
        ("devices.allow", "c 1:5 rw"),
        ("devices.allow", "b *:* m"),
    ]


def test_device_transition_white_to_white_is_minimal() -> None:
    current = parse_list("c 1:3 rwm\nc 1:5 rwm\n")
    target = DeviceState(default_allow=False)
    target.rules = {("c", 1, 3): "rwm", ("c", 1, 9): "r"}
    assert transition(current, target) == [
        ("devices.deny", "c 1:5 rwm"),
        ("devices.allow", "c 1:9 r"),
    ]


def test_device_hole_in_wildcard_is_refused() -> None:
    rules = res({"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "access": "rwm"},
        {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"},
    ]}).devices  # fmt: skip
    from hull.runtime.cgroups.devices import target_state

    with pytest.raises(InvalidArgument, match="hole"):
        target_state(rules)
