"""The cgroup v2 manager: one directory in the unified hierarchy.

Writes ``linux.resources`` the way runc's ``libcontainer/cgroups/fs2`` does:

    memory.limit / reservation / swap   memory.max, memory.low, memory.swap.max
                                        (OCI swap is memory+swap: swap.max = swap - limit)
    cpu.shares                          cpu.weight = 1 + (shares-2)*9999/262142
    cpu.quota / period / burst / idle   cpu.max "QUOTA|max [PERIOD]", cpu.max.burst, cpu.idle
    cpu.cpus / mems                     cpuset.cpus, cpuset.mems
    pids.limit                          pids.max ("max" for <= 0)
    blockIO.weight / weightDevice       io.bfq.weight if present, else io.weight
                                        converted 10..1000 -> 1 + (w-10)*9999/990
    blockIO.throttle*                   io.max "MAJ:MIN rbps=N" (wbps, riops, wiops)
    hugepageLimits                      hugetlb.<size>.max (and .rsvd.max if present)
    unified                             the file named by the key, value verbatim
    devices                             a BPF_CGROUP_DEVICE program (ebpf.py) replacing
                                        the one attached before

``create()`` enables, in ``cgroup.subtree_control`` of every ancestor, the
controllers the root offers (the leaf keeps none, so it may hold processes).
The same class serves the unified part of a hybrid host (see ``v1.py``).
"""

from __future__ import annotations

import time

from hull.errors import FailedPrecondition, HullError, InvalidArgument
from hull.linux import fastos as os
from hull.runtime.cgroups import (
    MAX_UINT64,
    add_pid_to,
    check_page_size,
    check_unified_key,
    hugepage_sizes,
    mkdir_all,
    procs,
    read_keyed,
    remove_cgroups,
    signal_pids,
    to_int,
    try_read,
    unified_lines,
    write_error,
    write_file,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.oci.runtime_spec import Resources

SIGKILL = 9


def cpu_shares_to_weight(shares: int) -> int:
    """runc's ConvertCPUSharesToCgroupV2Value: v1 shares 2..262144 -> v2 weight 1..10000."""
    if shares == 0:
        return 0
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """runc's ConvertBlkIOToIOWeightValue: v1 weight 10..1000 -> io.weight 1..10000."""
    if weight == 0:
        return 0
    weight = min(max(weight, 10), 1000)
    return 1 + ((weight - 10) * 9999) // 990


def memory_swap_to_v2(swap: int, limit: int) -> int:
    """runc's ConvertMemorySwapToCgroupV2Value: OCI memory+swap -> memory.swap.max.

    -1 is "max", 0 is "unset"; otherwise swap must be >= limit.
    """
    if limit == -1 and swap == 0:
        return -1
    if swap in (-1, 0):
        return swap
    if limit in (0, -1):
        raise InvalidArgument(
            "linux.resources.memory.swap: a swap limit needs a memory limit as well"
        )
    if limit < 0:
        raise InvalidArgument(f"linux.resources.memory.limit: invalid value {limit}")
    if swap < limit:
        raise InvalidArgument(
            f"linux.resources.memory.swap: {swap} is below the memory limit {limit} "
            "(OCI swap counts memory+swap)"
        )
    return swap - limit


def _num(value: int) -> str:
    """runc's numToStr: -1 -> "max"; 0 means unset (caller skips)."""
    return "max" if value == -1 else str(value)


def _find_mount(path: str) -> str:
    """The cgroup2 mount point above ``path``: the topmost dir with cgroup.controllers."""
    mount = path
    cur = os.path.dirname(path)
    while cur != mount and os.path.exists(cur + "/cgroup.controllers"):
        mount = cur
        cur = os.path.dirname(cur)
    return mount


class V2Manager:
    """A container's cgroup in a cgroup2 hierarchy."""

    __slots__ = ("_dir", "_mount")

    def __init__(self, path: str, mount: str | None = None) -> None:
        self._dir = path
        self._mount = mount

    def __repr__(self) -> str:
        return f"V2Manager({self._dir!r})"

    @property
    def dir(self) -> str:
        """The cgroup's directory."""
        return self._dir

    def _mount_point(self) -> str:
        if self._mount is None:
            self._mount = _find_mount(self._dir)
        return self._mount

    # ---- lifecycle

    def create(self) -> None:
        """mkdir the cgroup and enable the offered controllers in every ancestor."""
        mkdir_all(self._dir)
        mount = self._mount_point()
        offered = (try_read(mount, "cgroup.controllers") or "").split()
        if not offered or not self._dir.startswith(mount + "/"):
            return
        cur = mount
        for part in self._dir[len(mount) + 1 :].split("/")[:-1]:
            _enable(cur, offered)
            cur = f"{cur}/{part}"
        _enable(cur, offered)

    def add_pid(self, pid: int) -> None:
        """Move ``pid`` into the cgroup."""
        add_pid_to(self._dir, pid)

    def paths(self) -> dict[str, str]:
        """``{"": dir}``."""
        return {"": self._dir}

    def pids(self) -> list[int]:
        """Every process in the cgroup and its children."""
        return procs(self._dir)

    def destroy(self) -> None:
        """rmdir the cgroup (and child cgroups), retrying while processes exit."""
        remove_cgroups([self._dir])

    # ---- freezer

    def freeze(self) -> None:
        """Write 1 to cgroup.freeze and wait until cgroup.events says frozen."""
        if not os.path.exists(self._dir + "/cgroup.freeze"):
            raise FailedPrecondition(
                f"cgroup: {self._dir} has no cgroup.freeze (kernel older than 5.2?)"
            )
        write_file(self._dir, "cgroup.freeze", "1")
        # runc polls cgroup.events too (up to 10 s); start fast, back off to 10 ms.
        delay = 0.0005
        deadline = time.monotonic() + 10
        while True:
            events = read_keyed(self._dir, "cgroup.events")
            if events.get("frozen") == 1 or "frozen" not in events:
                return
            if time.monotonic() > deadline:
                try:
                    write_file(self._dir, "cgroup.freeze", "0")
                except HullError:
                    pass
                raise FailedPrecondition(f"cgroup: {self._dir} did not freeze within 10 s")
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    def thaw(self) -> None:
        """Write 0 to cgroup.freeze."""
        write_file(self._dir, "cgroup.freeze", "0")

    def freezer_state(self) -> str:
        """ "FROZEN" once cgroup.freeze is 1 and the kernel reports it frozen."""
        if (try_read(self._dir, "cgroup.freeze") or "0").strip() != "1":
            return "THAWED"
        for _ in range(50):
            events = read_keyed(self._dir, "cgroup.events")
            if events.get("frozen", 1) == 1:
                return "FROZEN"
            time.sleep(0.001)
        return "THAWED"

    def kill_all(self, sig: int) -> None:
        """cgroup.kill for SIGKILL when the kernel has it; else freeze, signal, thaw."""
        if sig == SIGKILL and os.path.exists(self._dir + "/cgroup.kill"):
            write_file(self._dir, "cgroup.kill", "1")
            return
        thaw = False
        try:
            was_frozen = self.freezer_state() == "FROZEN"
            self.freeze()
            thaw = not was_frozen  # a paused container stays paused
        except HullError:
            pass  # best effort, as runc: signal anyway
        try:
            signal_pids(self.pids(), sig)
        finally:
            if thaw:
                self.thaw()

    # ---- counters

    def oom_kill_count(self) -> int:
        """The ``oom_kill`` count of memory.events."""
        return read_keyed(self._dir, "memory.events").get("oom_kill", 0)

    def stats(self) -> dict[str, object]:
        """runc's ``events --stats`` data, from the v2 files that exist."""
        d = self._dir
        cpu = read_keyed(d, "cpu.stat")
        mem_raw = read_keyed(d, "memory.stat")
        usage = _mem_entry(d, "memory")
        swap = _mem_entry(d, "memory.swap")
        # v1 reports swap as memory+swap; runc does the same on v2 for compatibility.
        swap["usage"] += usage["usage"]
        if swap["limit"] != MAX_UINT64:
            swap["limit"] = min(swap["limit"] + usage["limit"], MAX_UINT64)
        swap["max"] = 0
        return {
            "cpu": {
                "usage": {
                    "total": cpu.get("usage_usec", 0) * 1000,
                    "percpu": [],
                    "percpu_kernel": [],
                    "percpu_user": [],
                    "kernel": cpu.get("system_usec", 0) * 1000,
                    "user": cpu.get("user_usec", 0) * 1000,
                },
                "throttling": {
                    "periods": cpu.get("nr_periods", 0),
                    "throttledPeriods": cpu.get("nr_throttled", 0),
                    "throttledTime": cpu.get("throttled_usec", 0) * 1000,
                },
            },
            "memory": {
                "cache": mem_raw.get("file", 0),
                "usage": usage,
                "swap": swap,
                "kernel": {"limit": 0, "usage": mem_raw.get("kernel", 0), "max": 0, "failcnt": 0},
                "kernelTCP": {"limit": 0, "usage": mem_raw.get("sock", 0), "max": 0, "failcnt": 0},
                "raw": mem_raw,
            },
            "pids": pids_stats(d),
            "blkio": _io_stats(d),
            "hugetlb": hugetlb_stats_v2(d),
        }

    # ---- limits

    def apply(self, resources: Resources, *, devices: bool = True, limits: bool = True) -> None:
        """Write every limit the spec sets, in runc's order; unset fields are untouched.

        ``devices``/``limits``: the device rules / everything else (see base.py).
        """
        r = resources
        if devices and r.devices:
            # Imported here: only a cgroup with device rules pays for the builder.
            from hull.runtime.cgroups.ebpf import apply_device_rules

            apply_device_rules(self._dir, r.devices)
        if not limits:
            return
        need = _needed_controllers(r)
        if need:
            have = set((try_read(self._dir, "cgroup.controllers") or "").split())
            for ctrl, field in need:
                if ctrl not in have:
                    raise FailedPrecondition(
                        f"cgroup: {field} needs the {ctrl} controller, which is not "
                        f"available in {self._dir} (available: {' '.join(sorted(have)) or 'none'})"
                    )
        d = self._dir
        if r.pids_limit is not None:
            write_file(d, "pids.max", "max" if r.pids_limit <= 0 else str(r.pids_limit))
        self._apply_memory(r)
        self._apply_io(r)
        self._apply_cpu(r)
        if r.cpu is not None:
            if r.cpu.cpus:
                write_file(d, "cpuset.cpus", r.cpu.cpus)
            if r.cpu.mems:
                write_file(d, "cpuset.mems", r.cpu.mems)
        self.apply_hugetlb(r)
        self.apply_unified(r.unified)

    def _apply_memory(self, r: Resources) -> None:
        m = r.memory
        if m is None:
            return
        limit, swap, reservation = m.limit or 0, m.swap or 0, m.reservation or 0
        if not (limit or swap or reservation):
            return  # swappiness, disableOOMKiller and kernel limits have no v2 file
        d = self._dir
        if m.check_before_update and limit > 0:
            current = to_int(try_read(d, "memory.current"))
            if limit < current:
                raise FailedPrecondition(
                    f"cgroup: memory limit {limit} is below the current usage {current} "
                    f"of {d} (checkBeforeUpdate)"
                )
        v2swap = memory_swap_to_v2(swap, limit)
        swap_str = "" if v2swap == 0 else _num(v2swap)
        if not swap_str and v2swap == 0 and swap > 0:
            swap_str = "0"  # memory and memory+swap equal: no swap at all
        if swap_str:
            try:
                write_file(d, "memory.swap.max", swap_str)
            except FailedPrecondition:
                # No swap accounting: "max" and "0" ask for nothing we must enforce.
                if os.path.exists(d + "/memory.swap.max") or swap_str not in ("max", "0"):
                    raise
        if limit:
            write_file(d, "memory.max", _num(limit))
        if reservation:
            write_file(d, "memory.low", _num(reservation))

    def _apply_cpu(self, r: Resources) -> None:
        c = r.cpu
        if c is None:
            return
        d = self._dir
        if c.realtime_runtime or c.realtime_period:
            raise InvalidArgument(
                "linux.resources.cpu: realtimeRuntime and realtimePeriod are not "
                "supported on cgroup v2"
            )
        if c.shares:
            write_file(d, "cpu.weight", str(cpu_shares_to_weight(c.shares)))
        if c.idle is not None:
            write_file(d, "cpu.idle", str(c.idle))
        if c.quota or c.period:
            value = str(c.quota) if c.quota and c.quota > 0 else "max"
            if c.period:
                value += f" {c.period}"
            write_file(d, "cpu.max", value)
        if c.burst is not None:
            write_file(d, "cpu.max.burst", str(c.burst))

    def _apply_io(self, r: Resources) -> None:
        b = r.block_io
        if b is None:
            return
        d = self._dir
        bfq = (b.weight or any(w.weight for w in b.weight_device)) and os.path.exists(
            d + "/io.bfq.weight"
        )
        if b.weight:
            if bfq:
                write_file(d, "io.bfq.weight", str(b.weight))
            else:
                write_file(d, "io.weight", f"default {blkio_weight_to_io_weight(b.weight)}")
        for wd in b.weight_device:
            if not wd.weight:
                continue
            if bfq:
                write_file(d, "io.bfq.weight", f"{wd.major}:{wd.minor} {wd.weight}")
            else:
                conv = blkio_weight_to_io_weight(wd.weight)
                write_file(d, "io.weight", f"{wd.major}:{wd.minor} {conv}")
        for key, devs in (
            ("rbps", b.throttle_read_bps_device),
            ("wbps", b.throttle_write_bps_device),
            ("riops", b.throttle_read_iops_device),
            ("wiops", b.throttle_write_iops_device),
        ):
            for td in devs:
                write_file(d, "io.max", f"{td.major}:{td.minor} {key}={td.rate}")

    def apply_hugetlb(self, r: Resources) -> None:
        """hugetlb.<size>.max, and .rsvd.max where the kernel has it."""
        rsvd = True
        for h in r.hugepage_limits:
            prefix = "hugetlb." + check_page_size(h.page_size)
            write_file(self._dir, prefix + ".max", str(h.limit))
            if rsvd:
                try:
                    write_file(self._dir, prefix + ".rsvd.max", str(h.limit))
                except FailedPrecondition:
                    if os.path.exists(f"{self._dir}/{prefix}.rsvd.max"):
                        raise
                    rsvd = False

    def apply_unified(self, unified: dict[str, str]) -> None:
        """Write linux.resources.unified verbatim, one line per write(2)."""
        for key in unified:
            check_unified_key(key)
        for key, value in unified.items():
            for line in unified_lines(value):
                path = f"{self._dir}/{key}"
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
                    try:
                        os.write(fd, line.encode())
                    finally:
                        os.close(fd)
                except OSError as exc:
                    if isinstance(exc, (FileNotFoundError, PermissionError)):
                        ctrl = key.partition(".")[0]
                        have = (try_read(self._dir, "cgroup.controllers") or "").split()
                        if ctrl != "cgroup" and ctrl not in have:
                            raise FailedPrecondition(
                                f"cgroup: linux.resources.unified {key!r} needs the {ctrl} "
                                f"controller, which is not available in {self._dir}"
                            ) from exc
                    raise write_error(path, line, exc) from exc


def _enable(cgroup_dir: str, offered: list[str]) -> None:
    """Add the missing offered controllers to ``cgroup_dir/cgroup.subtree_control``.

    Errors are ignored as runc does (a parent with processes cannot delegate):
    ``apply()`` reports a controller that is then missing.
    """
    enabled = {
        c.lstrip("+") for c in (try_read(cgroup_dir, "cgroup.subtree_control") or "").split()
    }
    missing = [c for c in offered if c not in enabled]
    if not missing:
        return
    try:
        write_file(cgroup_dir, "cgroup.subtree_control", " ".join("+" + c for c in missing))
    except HullError:
        for c in missing:
            try:
                write_file(cgroup_dir, "cgroup.subtree_control", "+" + c)
            except HullError:
                pass


def _needed_controllers(r: Resources) -> list[tuple[str, str]]:
    """(controller, spec field) for every set value that needs a v2 controller."""
    need: list[tuple[str, str]] = []
    if r.pids_limit is not None:
        need.append(("pids", "linux.resources.pids"))
    m = r.memory
    if m is not None and (m.limit or m.swap or m.reservation):
        need.append(("memory", "linux.resources.memory"))
    c = r.cpu
    if c is not None:
        if c.shares or c.quota or c.period or c.burst is not None or c.idle is not None:
            need.append(("cpu", "linux.resources.cpu"))
        if c.cpus or c.mems:
            need.append(("cpuset", "linux.resources.cpu.cpus/mems"))
    b = r.block_io
    if b is not None and (
        b.weight
        or any(w.weight for w in b.weight_device)
        or b.throttle_read_bps_device
        or b.throttle_write_bps_device
        or b.throttle_read_iops_device
        or b.throttle_write_iops_device
    ):
        need.append(("io", "linux.resources.blockIO"))
    if r.hugepage_limits:
        need.append(("hugetlb", "linux.resources.hugepageLimits"))
    return need


def _mem_entry(d: str, prefix: str) -> dict[str, int]:
    events = read_keyed(d, prefix + ".events") if prefix == "memory" else {}
    return {
        "limit": to_int(try_read(d, prefix + ".max")) if os.path.exists(f"{d}/{prefix}.max") else 0,
        "usage": to_int(try_read(d, prefix + ".current")),
        "max": to_int(try_read(d, prefix + ".peak")),
        "failcnt": events.get("max", 0),
    }


def pids_stats(d: str) -> dict[str, int]:
    """pids.current and pids.max ("max" reads as 0: no limit, as runc)."""
    limit = to_int(try_read(d, "pids.max"))
    return {
        "current": to_int(try_read(d, "pids.current")),
        "limit": 0 if limit == MAX_UINT64 else limit,
    }


# io.stat keys -> runc's blkio op names ("bytes" keys feed ioServiceBytesRecursive).
_IO_STAT_KEYS = {
    "rbytes": "Read",
    "wbytes": "Write",
    "dbytes": "Discard",
    "rios": "Read",
    "wios": "Write",
    "dios": "Discard",
}


def _io_stats(d: str) -> dict[str, list[dict[str, object]]]:
    """io.stat as runc's blkio lists (bytes and ios, Read/Write/Discard)."""
    service_bytes: list[dict[str, object]] = []
    serviced: list[dict[str, object]] = []
    for line in (try_read(d, "io.stat") or "").splitlines():
        dev, *kvs = line.split()
        major_s, _, minor_s = dev.partition(":")
        if not (major_s.isdigit() and minor_s.isdigit()):
            continue
        major, minor = int(major_s), int(minor_s)
        for kv in kvs:
            k, _, v = kv.partition("=")
            op = _IO_STAT_KEYS.get(k)
            if op is not None:
                entry: dict[str, object] = {"major": major, "minor": minor, "op": op}
                entry["value"] = to_int(v)
                (service_bytes if k.endswith("bytes") else serviced).append(entry)
    return {"ioServiceBytesRecursive": service_bytes, "ioServicedRecursive": serviced}


def hugetlb_stats_v2(d: str) -> dict[str, dict[str, int]]:
    """hugetlb.<size>.current / .max / events "max" per page size present."""
    out: dict[str, dict[str, int]] = {}
    for size in hugepage_sizes():
        usage = try_read(d, f"hugetlb.{size}.current")
        if usage is None:
            continue
        out[size] = {
            "usage": to_int(usage),
            "max": 0,
            "failcnt": read_keyed(d, f"hugetlb.{size}.events").get("max", 0),
        }
    return out


__all__ = ["V2Manager", "blkio_weight_to_io_weight", "cpu_shares_to_weight", "memory_swap_to_v2"]
