"""The cgroup v1 manager: one directory per mounted controller hierarchy.

Writes ``linux.resources`` the way runc's ``libcontainer/cgroups/fs`` does:

    memory.limit / swap            memory.limit_in_bytes, memory.memsw.limit_in_bytes,
                                   in the order that keeps memsw >= memory at every step
    memory.reservation             memory.soft_limit_in_bytes
    memory.kernel / kernelTCP      memory.kmem[.tcp].limit_in_bytes where the file exists
    memory.swappiness              memory.swappiness
    memory.disableOOMKiller        memory.oom_control = 1
    cpu.shares                     cpu.shares (read back: the kernel clamps)
    cpu.quota / period / burst     cpu.cfs_quota_us, cpu.cfs_period_us, cpu.cfs_burst_us
    cpu.idle, realtime*            cpu.idle, cpu.rt_period_us, cpu.rt_runtime_us
    cpu.cpus / mems                cpuset.cpus, cpuset.mems (a new cpuset cgroup starts
                                   empty: create() copies the parent's values down)
    pids.limit                     pids.max ("max" for <= 0)
    devices                        devices.deny / devices.allow (see devices.py)
    blockIO                        blkio.weight or blkio.bfq.weight, *weight_device,
                                   blkio.throttle.{read,write}_{bps,iops}_device
    hugepageLimits                 hugetlb.<size>.limit_in_bytes; on a hybrid host whose
                                   hugetlb lives in the unified tree, hugetlb.<size>.max
    unified                        the unified tree of a hybrid host (key ``""``)

The manager joins every v1 controller mounted plus the ``name=systemd``
hierarchy, as runc's fs driver does.
"""

from __future__ import annotations

import errno
import time

from hull.errors import FailedPrecondition, HullError, InvalidArgument
from hull.linux import fastos as os
from hull.runtime.cgroups import (
    SYSTEMD_HIERARCHY,
    add_pid_to,
    check_page_size,
    hugepage_sizes,
    mkdir_all,
    procs,
    read_file,
    read_keyed,
    remove_cgroups,
    signal_pids,
    to_int,
    try_read,
    write_file,
)
from hull.runtime.cgroups.devices import parse_list, target_state, transition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.oci.runtime_spec import Resources
    from hull.runtime.cgroups.v2 import V2Manager

SIGKILL = 9

# Which hierarchy answers pids(): any would do; runc uses devices.
_PIDS_FROM = ("pids", "freezer", "devices", "memory", "cpu", SYSTEMD_HIERARCHY)


class V1Manager:
    """A container's cgroup in every v1 hierarchy (and the unified tree of a hybrid host)."""

    __slots__ = ("_dirs", "_paths", "_unified")

    def __init__(self, paths: dict[str, str], unified_mount: str | None = None) -> None:
        self._paths = paths
        # Combined mounts (cpu,cpuacct) share a dir: act on each dir once.
        self._dirs = list(dict.fromkeys(p for k, p in paths.items() if k))
        self._unified: V2Manager | None = None
        if "" in paths:
            # the v2 driver only when the unified tree is used (imports cost at start)
            from hull.runtime.cgroups.v2 import V2Manager

            self._unified = V2Manager(paths[""], mount=unified_mount)

    def __repr__(self) -> str:
        return f"V1Manager({self._paths!r})"

    def _need(self, ctrl: str, field: str) -> str:
        d = self._paths.get(ctrl)
        if d is None:
            raise FailedPrecondition(
                f"cgroup: {field} needs the {ctrl} controller, which is not mounted on "
                "this host (no cgroup v1 hierarchy carries it)"
            )
        return d

    # ---- lifecycle

    def create(self) -> None:
        """mkdir the cgroup in every hierarchy; cpuset gets its parent's cpus and mems."""
        cpuset = self._paths.get("cpuset")
        for d in self._dirs:
            if d == cpuset:
                _cpuset_create(d)
            else:
                mkdir_all(d)
        if self._unified is not None:
            self._unified.create()

    def add_pid(self, pid: int) -> None:
        """Write ``pid`` to cgroup.procs in every hierarchy."""
        for d in self._dirs:
            add_pid_to(d, pid)
        if self._unified is not None:
            self._unified.add_pid(pid)

    def paths(self) -> dict[str, str]:
        """Controller name -> dir; ``""`` is the unified tree's dir on a hybrid host."""
        return dict(self._paths)

    def pids(self) -> list[int]:
        """Every process in the cgroup and its child cgroups."""
        for key in _PIDS_FROM:
            if key in self._paths:
                return procs(self._paths[key])
        if self._dirs:
            return procs(self._dirs[0])
        return self._unified.pids() if self._unified is not None else []

    def destroy(self) -> None:
        """rmdir every dir, retrying while processes exit; missing dirs are fine."""
        dirs = list(self._dirs)
        if self._unified is not None:
            dirs.append(self._unified.dir)
        remove_cgroups(dirs)

    # ---- freezer

    def _freezer(self) -> str:
        return self._need("freezer", "pausing a container")

    def freeze(self) -> None:
        """FROZEN in freezer.state, retrying FREEZING as runc does (v1 races with forks)."""
        d = self._freezer()
        # runc's empirically tuned loop: re-write FROZEN while the kernel says
        # FREEZING, with an occasional short sleep and an occasional thaw.
        for i in range(1000):
            if i % 50 == 49:
                try:
                    write_file(d, "freezer.state", "THAWED")
                except HullError:
                    pass
                time.sleep(0.01)
            write_file(d, "freezer.state", "FROZEN")
            if i % 25 == 24:
                time.sleep(0.00001)
            state = read_file(d, "freezer.state").strip()
            if state == "FROZEN":
                return
            if state != "FREEZING":
                raise FailedPrecondition(f"cgroup: {d}/freezer.state is {state!r} after FROZEN")
        try:
            write_file(d, "freezer.state", "THAWED")
        except HullError:
            pass
        raise FailedPrecondition(f"cgroup: cannot freeze {d}: it stays FREEZING")

    def thaw(self) -> None:
        """THAWED in freezer.state."""
        write_file(self._freezer(), "freezer.state", "THAWED")

    def freezer_state(self) -> str:
        """ "FROZEN" or "THAWED" (waits out a transient FREEZING)."""
        d = self._paths.get("freezer")
        if d is None:
            return "THAWED"
        for _ in range(50):
            state = (try_read(d, "freezer.state") or "THAWED").strip()
            if state != "FREEZING":
                return "FROZEN" if state == "FROZEN" else "THAWED"
            time.sleep(0.001)
        return "THAWED"

    def kill_all(self, sig: int) -> None:
        """Freeze, signal every pid, thaw: no process can fork past the signal.

        A paused container stays paused, except for SIGKILL: frozen v1 tasks
        only die once thawed.
        """
        thaw = False
        if "freezer" in self._paths:
            try:
                was_frozen = self.freezer_state() == "FROZEN"
                self.freeze()
                thaw = not was_frozen or sig == SIGKILL
            except HullError:
                pass  # best effort, as runc: signal anyway
        try:
            signal_pids(self.pids(), sig)
        finally:
            if thaw:
                self.thaw()

    # ---- counters

    def oom_kill_count(self) -> int:
        """The ``oom_kill`` line of memory.oom_control (0 without a memory hierarchy)."""
        d = self._paths.get("memory")
        if d is None:
            return 0
        return read_keyed(d, "memory.oom_control").get("oom_kill", 0)

    def stats(self) -> dict[str, object]:
        """runc's ``events --stats`` data, from the v1 files that exist."""
        from hull.runtime.cgroups.v2 import pids_stats

        return {
            "cpu": self._cpu_stats(),
            "memory": self._memory_stats(),
            "pids": pids_stats(self._paths["pids"]) if "pids" in self._paths else {},
            "blkio": _blkio_stats(self._paths["blkio"]) if "blkio" in self._paths else {},
            "hugetlb": self._hugetlb_stats(),
        }

    def _cpu_stats(self) -> dict[str, object]:
        usage: dict[str, object] = {
            "total": 0,
            "percpu": [],
            "percpu_kernel": [],
            "percpu_user": [],
            "kernel": 0,
            "user": 0,
        }
        acct = self._paths.get("cpuacct")
        if acct is not None:
            usage["total"] = to_int(try_read(acct, "cpuacct.usage"))
            usage["percpu"] = [
                int(x) for x in (try_read(acct, "cpuacct.usage_percpu") or "").split()
            ]
            kernel: list[int] = []
            user: list[int] = []
            for line in (try_read(acct, "cpuacct.usage_all") or "").splitlines()[1:]:
                f = line.split()
                if len(f) == 3:
                    user.append(int(f[1]))
                    kernel.append(int(f[2]))
            usage["percpu_kernel"], usage["percpu_user"] = kernel, user
            if os.path.exists(acct + "/cpuacct.usage_user"):
                usage["user"] = to_int(try_read(acct, "cpuacct.usage_user"))
                usage["kernel"] = to_int(try_read(acct, "cpuacct.usage_sys"))
            else:
                ticks = read_keyed(acct, "cpuacct.stat")
                hz = os.sysconf("SC_CLK_TCK") or 100
                usage["user"] = ticks.get("user", 0) * 1_000_000_000 // hz
                usage["kernel"] = ticks.get("system", 0) * 1_000_000_000 // hz
        cpu = self._paths.get("cpu")
        st = read_keyed(cpu, "cpu.stat") if cpu is not None else {}
        return {
            "usage": usage,
            "throttling": {
                "periods": st.get("nr_periods", 0),
                "throttledPeriods": st.get("nr_throttled", 0),
                "throttledTime": st.get("throttled_time", 0),
            },
        }

    def _memory_stats(self) -> dict[str, object]:
        d = self._paths.get("memory")
        if d is None:
            return {}
        raw = read_keyed(d, "memory.stat")
        return {
            "cache": raw.get("cache", 0),
            "usage": _mem_entry(d, "memory"),
            "swap": _mem_entry(d, "memory.memsw"),
            "kernel": _mem_entry(d, "memory.kmem"),
            "kernelTCP": _mem_entry(d, "memory.kmem.tcp"),
            "raw": raw,
        }

    def _hugetlb_stats(self) -> dict[str, dict[str, int]]:
        d = self._paths.get("hugetlb")
        if d is None:
            from hull.runtime.cgroups.v2 import hugetlb_stats_v2

            return hugetlb_stats_v2(self._unified.dir) if self._unified is not None else {}
        out: dict[str, dict[str, int]] = {}
        for size in hugepage_sizes():
            usage = try_read(d, f"hugetlb.{size}.usage_in_bytes")
            if usage is None:
                continue
            out[size] = {
                "usage": to_int(usage),
                "max": to_int(try_read(d, f"hugetlb.{size}.max_usage_in_bytes")),
                "failcnt": to_int(try_read(d, f"hugetlb.{size}.failcnt")),
            }
        return out

    # ---- limits

    def apply(self, resources: Resources, *, devices: bool = True, limits: bool = True) -> None:
        """Write every limit the spec sets, controller by controller; unset fields stay.

        ``devices``/``limits``: the device rules / everything else (see base.py).
        """
        r = resources
        if devices and r.devices:
            self._apply_devices(r)
        if limits:
            self._apply_limits(r)

    def _apply_limits(self, r: Resources) -> None:
        c = r.cpu
        if c is not None and (c.cpus or c.mems):
            d = self._need("cpuset", "linux.resources.cpu.cpus/mems")
            if c.cpus:
                write_file(d, "cpuset.cpus", c.cpus)
            if c.mems:
                write_file(d, "cpuset.mems", c.mems)
        self._apply_memory(r)
        self._apply_cpu(r)
        if r.pids_limit is not None:
            d = self._need("pids", "linux.resources.pids")
            write_file(d, "pids.max", "max" if r.pids_limit <= 0 else str(r.pids_limit))
        self._apply_blkio(r)
        if r.hugepage_limits:
            self._apply_hugetlb(r)
        if r.unified:
            if self._unified is None:
                raise FailedPrecondition(
                    "cgroup: linux.resources.unified needs cgroup v2, and this host has "
                    "only cgroup v1 hierarchies (no unified tree)"
                )
            self._unified.apply_unified(r.unified)

    def _apply_devices(self, r: Resources) -> None:
        d = self._need("devices", "linux.resources.devices")
        target = target_state(r.devices)
        current = parse_list(read_file(d, "devices.list"))
        for file, rule in transition(current, target):
            write_file(d, file, rule)
        # Safety net, as runc: what the kernel now enforces must be what we meant.
        after = parse_list(read_file(d, "devices.list"))
        if after.default_allow != target.default_allow or (
            not target.default_allow and after != target
        ):
            raise FailedPrecondition(
                f"cgroup: {d}/devices.list shows {after!r} after applying the rules, "
                f"not the requested {target!r}"
            )

    def _apply_memory(self, r: Resources) -> None:
        m = r.memory
        if m is None:
            return
        limit, swap, reservation = m.limit or 0, m.swap or 0, m.reservation or 0
        disable_oom = m.disable_oom_killer is True
        if limit or swap or reservation or disable_oom or m.swappiness is not None:
            d = self._need("memory", "linux.resources.memory")
        else:
            d2 = self._paths.get("memory")
            if d2 is None:
                return  # only kernel limits, which are ignored where unsupported
            d = d2
        has_memsw = os.path.exists(d + "/memory.memsw.limit_in_bytes")
        # Unlimited memory with swap unset means unlimited swap too (runc).
        if limit == -1 and swap == 0 and has_memsw:
            swap = -1
        if swap == -1 and not has_memsw:
            swap = 0  # no swap accounting: nothing to lift
        if limit and swap:
            # memsw must stay >= memory at each step: raise swap first when the
            # new memory+swap exceeds the current memory limit, else memory first.
            current = to_int(read_file(d, "memory.limit_in_bytes"))
            if swap == -1 or current < swap:
                write_file(d, "memory.memsw.limit_in_bytes", str(swap))
                _set_memory_limit(d, limit)
                swap = 0
                limit = 0
        if limit:
            _set_memory_limit(d, limit)
        if swap:
            write_file(d, "memory.memsw.limit_in_bytes", str(swap))
        if reservation:
            write_file(d, "memory.soft_limit_in_bytes", str(reservation))
        for value, name in (
            (m.kernel, "memory.kmem.limit_in_bytes"),
            (m.kernel_tcp, "memory.kmem.tcp.limit_in_bytes"),
        ):
            if value and os.path.exists(f"{d}/{name}"):
                try:
                    write_file(d, name, str(value))
                except HullError as exc:
                    # Kernels from 5.16 deprecate kmem limits: ignore, as runc does.
                    cause = exc.__cause__
                    if not (isinstance(cause, OSError) and cause.errno == errno.EOPNOTSUPP):
                        raise
        if disable_oom:
            write_file(d, "memory.oom_control", "1")
        if m.swappiness is not None:
            write_file(d, "memory.swappiness", str(m.swappiness))

    def _apply_cpu(self, r: Resources) -> None:
        c = r.cpu
        if c is None:
            return
        rt = bool(c.realtime_runtime or c.realtime_period)
        if not (c.shares or c.quota or c.period or c.burst is not None or c.idle is not None or rt):
            return
        d = self._need("cpu", "linux.resources.cpu")
        if c.shares:
            write_file(d, "cpu.shares", str(c.shares))
            got = to_int(read_file(d, "cpu.shares"))
            if c.shares > got:
                raise InvalidArgument(
                    f"linux.resources.cpu.shares: {c.shares} exceeds the maximum {got}"
                )
            if c.shares < got:
                raise InvalidArgument(
                    f"linux.resources.cpu.shares: {c.shares} is below the minimum {got}"
                )
        # A smaller period can be refused (EINVAL) until the quota fits: retry after it.
        period = str(c.period) if c.period else ""
        if period:
            try:
                write_file(d, "cpu.cfs_period_us", period)
                period = ""
            except InvalidArgument:
                if not c.quota:
                    raise
        if c.quota:
            write_file(d, "cpu.cfs_quota_us", str(c.quota))
            if period:
                write_file(d, "cpu.cfs_period_us", period)
        if c.burst is not None:
            write_file(d, "cpu.cfs_burst_us", str(c.burst))
        if c.idle is not None:
            write_file(d, "cpu.idle", str(c.idle))
        if rt:
            _set_rt(d, c.realtime_period or 0, c.realtime_runtime or 0)

    def _apply_blkio(self, r: Resources) -> None:
        b = r.block_io
        if b is None:
            return
        if not (
            b.weight
            or b.leaf_weight
            or b.weight_device
            or b.throttle_read_bps_device
            or b.throttle_write_bps_device
            or b.throttle_read_iops_device
            or b.throttle_write_iops_device
        ):
            return
        d = self._need("blkio", "linux.resources.blockIO")
        if os.path.exists(d + "/blkio.weight"):
            weight, weight_device = "blkio.weight", "blkio.weight_device"
        else:
            weight, weight_device = "blkio.bfq.weight", "blkio.bfq.weight_device"
        if b.weight:
            write_file(d, weight, str(b.weight))
        if b.leaf_weight:
            write_file(d, "blkio.leaf_weight", str(b.leaf_weight))
        for wd in b.weight_device:
            if wd.weight:
                write_file(d, weight_device, f"{wd.major}:{wd.minor} {wd.weight}")
            if wd.leaf_weight:
                write_file(d, "blkio.leaf_weight_device", f"{wd.major}:{wd.minor} {wd.leaf_weight}")
        for name, devs in (
            ("blkio.throttle.read_bps_device", b.throttle_read_bps_device),
            ("blkio.throttle.write_bps_device", b.throttle_write_bps_device),
            ("blkio.throttle.read_iops_device", b.throttle_read_iops_device),
            ("blkio.throttle.write_iops_device", b.throttle_write_iops_device),
        ):
            for td in devs:
                write_file(d, name, f"{td.major}:{td.minor} {td.rate}")

    def _apply_hugetlb(self, r: Resources) -> None:
        d = self._paths.get("hugetlb")
        if d is None:
            # Hybrid hosts may carry hugetlb in the unified tree only.
            u = self._unified
            if u is not None and "hugetlb" in (try_read(u.dir, "cgroup.controllers") or "").split():
                u.apply_hugetlb(r)
                return
            self._need("hugetlb", "linux.resources.hugepageLimits")
            return
        rsvd = True
        for h in r.hugepage_limits:
            prefix = "hugetlb." + check_page_size(h.page_size)
            write_file(d, prefix + ".limit_in_bytes", str(h.limit))
            if rsvd:
                if os.path.exists(f"{d}/{prefix}.rsvd.limit_in_bytes"):
                    write_file(d, prefix + ".rsvd.limit_in_bytes", str(h.limit))
                else:
                    rsvd = False


def _cpuset_create(path: str) -> None:
    """mkdir a cpuset cgroup, filling empty cpus/mems from the parent, up the path."""
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        pass
    except FileNotFoundError:
        _cpuset_create(os.path.dirname(path))
        mkdir_all(path)
    except OSError as exc:
        raise FailedPrecondition(
            f"cgroup: cannot create {path}: {os.strerror(exc.errno or 0)}"
        ) from exc
    _cpuset_fill(path)


def _cpuset_fill(path: str) -> None:
    """Copy the parent's cpuset.cpus/mems into ``path`` where they are empty (runc)."""
    cpus = read_file(path, "cpuset.cpus").strip()
    mems = read_file(path, "cpuset.mems").strip()
    if cpus and mems:
        return
    parent = os.path.dirname(path)
    pcpus = read_file(parent, "cpuset.cpus").strip()
    pmems = read_file(parent, "cpuset.mems").strip()
    if not (pcpus and pmems):
        _cpuset_fill(parent)  # the root is never empty, so this ends
        pcpus = read_file(parent, "cpuset.cpus").strip()
        pmems = read_file(parent, "cpuset.mems").strip()
    if not cpus:
        write_file(path, "cpuset.cpus", pcpus)
    if not mems:
        write_file(path, "cpuset.mems", pmems)


def _set_memory_limit(d: str, limit: int) -> None:
    try:
        write_file(d, "memory.limit_in_bytes", str(limit))
    except FailedPrecondition as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.errno == errno.EBUSY:
            usage = to_int(try_read(d, "memory.usage_in_bytes"))
            peak = to_int(try_read(d, "memory.max_usage_in_bytes"))
            raise FailedPrecondition(
                f"{exc.message} (current usage {usage}, peak {peak}: the limit is too low)"
            ) from cause
        raise


def _set_rt(d: str, period: int, runtime: int) -> None:
    """cpu.rt_period_us and cpu.rt_runtime_us depend on each other: order as runc."""
    pending = str(period) if period else ""
    if pending:
        try:
            write_file(d, "cpu.rt_period_us", pending)
            pending = ""
        except InvalidArgument:
            if not runtime:
                raise
    if runtime:
        write_file(d, "cpu.rt_runtime_us", str(runtime))
        if pending:
            write_file(d, "cpu.rt_period_us", pending)


def _mem_entry(d: str, prefix: str) -> dict[str, int]:
    return {
        "limit": to_int(try_read(d, prefix + ".limit_in_bytes")),
        "usage": to_int(try_read(d, prefix + ".usage_in_bytes")),
        "max": to_int(try_read(d, prefix + ".max_usage_in_bytes")),
        "failcnt": to_int(try_read(d, prefix + ".failcnt")),
    }


def _blkio_stats(d: str) -> dict[str, list[dict[str, object]]]:
    """The recursive blkio lists: CFQ files, else BFQ, else throttle (runc's order)."""
    for prefix in ("blkio.", "blkio.bfq.", "blkio.throttle."):
        if os.path.exists(f"{d}/{prefix}io_service_bytes_recursive"):
            break
    else:
        return {}
    return {
        "ioServiceBytesRecursive": _blkio_entries(d, prefix + "io_service_bytes_recursive"),
        "ioServicedRecursive": _blkio_entries(d, prefix + "io_serviced_recursive"),
    }


def _blkio_entries(d: str, name: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for line in (try_read(d, name) or "").splitlines():
        f = line.split()
        if len(f) != 3:
            continue  # "Total N"
        major, _, minor = f[0].partition(":")
        if major.isdigit() and minor.isdigit():
            out.append(
                {"major": int(major), "minor": int(minor), "op": f[1], "value": to_int(f[2])}
            )
    return out


__all__ = ["V1Manager"]
