"""The spec's cgroup resources and device nodes from a ``HostConfig``.

``resources`` maps Docker's limits onto ``linux.resources`` (memory, CPU,
pids, block I/O, device cgroup rules); ``device_entries`` lists the nodes and rules
of ``--device`` and ``--privileged``; ``devices_from_path`` expands a host
path (a node or a directory of them); ``parse_device_cgroup_rule`` is the
grammar of ``--device-cgroup-rule``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from typing import Any

from hull.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.config import HostConfig, ThrottleDevice

# what every container may use, whatever its device rules (runc's AllowedDevices)
_DEFAULT_DEVICE_RULES: list[dict[str, Any]] = [
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    *({"allow": True, "type": "c", "major": a, "minor": b, "access": "rwm"}
      for a, b in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2))),
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},  # /dev/pts/*
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},  # /dev/net/tun
]  # fmt: skip


_CGROUP_RULE = re.compile(r"([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})")


def parse_device_cgroup_rule(rule: str) -> dict[str, Any]:
    """ "c 1:3 rwm" -> an OCI ``linux.resources.devices`` entry."""
    m = _CGROUP_RULE.fullmatch(rule)
    if m is None:
        raise InvalidArgument(f"invalid device cgroup rule format: '{rule}'")
    out: dict[str, Any] = {"allow": True, "type": m.group(1), "access": m.group(4)}
    if m.group(2) != "*":
        out["major"] = int(m.group(2))
    if m.group(3) != "*":
        out["minor"] = int(m.group(3))
    return out


def _device(path: str, dest: str, perms: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InvalidArgument(
            f"error gathering device information while adding custom device {path!r}:"
            f" {exc.strerror}"
        ) from exc
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        return None
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    dev = {"path": dest, "type": kind, "major": major, "minor": minor,
           "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}  # fmt: skip
    rule = {"allow": True, "type": kind, "major": major, "minor": minor, "access": perms}
    return dev, rule


def devices_from_path(
    on_host: str, in_container: str, perms: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """A device node, or every node under a directory, as (linux.devices entry, cgroup rule)."""
    perms = perms or "rwm"
    if any(c not in "rwm" for c in perms):
        raise InvalidArgument(f"invalid device mode: {perms}")
    in_container = in_container or on_host
    one = _device(on_host, in_container, perms)
    if one is not None:
        return [one]
    if not os.path.isdir(on_host):
        raise InvalidArgument(
            f"error gathering device information while adding custom device {on_host!r}:"
            " not a device node"
        )
    out = []
    for dirpath, _dirs, files in os.walk(on_host):
        for name in sorted(files):
            full = os.path.join(dirpath, name)
            found = _device(full, in_container + full[len(on_host) :], perms)
            if found is not None:
                out.append(found)
    return out


def host_devices() -> list[dict[str, Any]]:
    """Every device node of the host's /dev (``--privileged``), as containerd lists them."""
    out = []
    for dirpath, dirs, files in os.walk("/dev"):
        dirs[:] = [d for d in dirs if d not in ("pts", "shm", "fd", "mqueue", ".lxc", ".udev")]
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            if path == "/dev/console" or os.path.islink(path):
                continue
            try:
                found = _device(path, path, "rwm")
            except InvalidArgument:
                continue
            if found is not None:
                out.append(found[0])
    return out


def _rdev(path: str) -> tuple[int, int]:
    try:
        rdev = os.stat(path).st_rdev
    except OSError as exc:
        raise InvalidArgument(f"invalid device path {path!r}: {exc.strerror}") from exc
    return os.major(rdev), os.minor(rdev)


def _throttle(devs: Sequence[ThrottleDevice] | None) -> list[dict[str, int]]:
    return [dict(zip(("major", "minor"), _rdev(d.path), strict=True), rate=d.rate)
            for d in devs or ()]  # fmt: skip


def resources(host: HostConfig) -> dict[str, Any]:
    """``linux.resources`` (without devices) from HostConfig, as moby's WithResources."""
    out: dict[str, Any] = {}
    mem: dict[str, Any] = {}
    if host.memory > 0:
        mem["limit"] = host.memory
    if host.memory_reservation > 0:
        mem["reservation"] = host.memory_reservation
    if host.memory_swap > 0:  # Docker's MemorySwap is memory + swap; -1 leaves it unlimited
        mem["swap"] = host.memory_swap
    if host.memory_swappiness is not None and 0 <= host.memory_swappiness <= 100:
        mem["swappiness"] = host.memory_swappiness
    if host.oom_kill_disable is not None:
        mem["disableOOMKiller"] = host.oom_kill_disable
    if mem:
        out["memory"] = mem
    cpu: dict[str, Any] = {}
    if host.cpu_shares < 0:
        raise InvalidArgument(
            f"invalid CPU shares ({host.cpu_shares}): value must be a positive integer"
        )
    if host.cpu_shares:
        cpu["shares"] = host.cpu_shares
    if host.cpuset_cpus:
        cpu["cpus"] = host.cpuset_cpus
    if host.cpuset_mems:
        cpu["mems"] = host.cpuset_mems
    if host.nano_cpus > 0:
        cpu["period"] = 100_000  # 100 ms, in microseconds
        cpu["quota"] = host.nano_cpus * 100_000 // 1_000_000_000
    if host.cpu_period:
        cpu["period"] = host.cpu_period
    if host.cpu_quota:
        cpu["quota"] = host.cpu_quota
    if host.cpu_realtime_period:
        cpu["realtimePeriod"] = host.cpu_realtime_period
    if host.cpu_realtime_runtime:
        cpu["realtimeRuntime"] = host.cpu_realtime_runtime
    if cpu:
        out["cpu"] = cpu
    if host.pids_limit is not None:
        out["pids"] = {"limit": host.pids_limit if host.pids_limit > 0 else -1}
    blkio: dict[str, Any] = {}
    if host.blkio_weight:
        blkio["weight"] = host.blkio_weight
    weights = [dict(zip(("major", "minor"), _rdev(d.path), strict=True), weight=d.weight)
               for d in host.blkio_weight_device or ()]  # fmt: skip
    for key, value in (
        ("weightDevice", weights),
        ("throttleReadBpsDevice", _throttle(host.blkio_device_read_bps)),
        ("throttleWriteBpsDevice", _throttle(host.blkio_device_write_bps)),
        ("throttleReadIOPSDevice", _throttle(host.blkio_device_read_iops)),
        ("throttleWriteIOPSDevice", _throttle(host.blkio_device_write_iops)),
    ):
        if value:
            blkio[key] = value
    if blkio:
        out["blockIO"] = blkio
    return out


def device_entries(host: HostConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(linux.devices, linux.resources.devices) as moby's WithDevices."""
    devs: list[dict[str, Any]] = []
    if host.privileged:
        devs = host_devices()
        paths = {d["path"] for d in devs}
        for dm in host.devices or ():
            if dm.path_in_container not in paths and dm.path_in_container != dm.path_on_host:
                devs += [
                    d for d, _ in devices_from_path(dm.path_on_host, dm.path_in_container, "rwm")
                ]
        return devs, [{"allow": True, "access": "rwm"}]
    rules = [dict(r) for r in _DEFAULT_DEVICE_RULES]
    for dm in host.devices or ():
        for dev, rule in devices_from_path(
            dm.path_on_host, dm.path_in_container, dm.cgroup_permissions
        ):
            devs.append(dev)
            rules.append(rule)
    rules += [parse_device_cgroup_rule(r) for r in host.device_cgroup_rules or ()]
    return devs, rules


# -- the whole spec ----------------------------------------------------------------------------


def host_cgroup_v2() -> bool:
    from hull.runtime.cgroups import host_layout

    return host_layout() == "v2"
