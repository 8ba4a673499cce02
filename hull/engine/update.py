"""``docker update``: change a container's resource limits and restart policy.

The rules are moby's (``container.UpdateContainer``): only the fields the
request sets (non-zero) change; the merged HostConfig must still validate;
a running container gets the new limits through the runtime's ``update``
(the stored HostConfig changes only once that worked), a stopped one at its
next start. Nano CPUs and a CPU period/quota exclude each other in either
order, and a memory limit cannot exceed an already set memory+swap limit
unless both change together.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import tempfile
from typing import TYPE_CHECKING, Any

from hull import errors
from hull.engine.config import HostConfig, RestartPolicy, validate
from hull.errors import Conflict, InvalidArgument

if TYPE_CHECKING:
    from hull.engine.engine import Engine

# UpdateConfig field -> HostConfig attribute; zero means "leave as it is"
_FIELDS = {
    "BlkioWeight": "blkio_weight",
    "CpuShares": "cpu_shares",
    "CpuPeriod": "cpu_period",
    "CpuQuota": "cpu_quota",
    "CpuRealtimePeriod": "cpu_realtime_period",
    "CpuRealtimeRuntime": "cpu_realtime_runtime",
    "CpusetCpus": "cpuset_cpus",
    "CpusetMems": "cpuset_mems",
    "Memory": "memory",
    "MemorySwap": "memory_swap",
    "MemoryReservation": "memory_reservation",
    "NanoCpus": "nano_cpus",
    "PidsLimit": "pids_limit",
}


def _int(body: dict[str, Any], key: str) -> int:
    v = body.get(key)
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidArgument(f"json: cannot unmarshal {type(v).__name__} into Go struct field "
                              f"UpdateConfig.{key} of type int64")  # fmt: skip
    return v


def merged(host: HostConfig, body: dict[str, Any]) -> HostConfig:
    """``host`` with the update applied, checked as moby checks it."""
    if not isinstance(body, dict):
        raise InvalidArgument("the update body must be a JSON object")
    changes: dict[str, Any] = {}
    for key, attr in _FIELDS.items():
        if not hasattr(host, attr):
            continue
        if key in ("CpusetCpus", "CpusetMems"):
            v = body.get(key)
            if v:
                if not isinstance(v, str):
                    raise InvalidArgument(f"{key} must be a string")
                changes[attr] = v
            continue
        n = _int(body, key)
        if key == "PidsLimit":
            if key in body and body[key] is not None:
                changes[attr] = None if n <= 0 else n  # 0 or -1: unlimited
            continue
        if n:
            changes[attr] = n
    if changes.get("nano_cpus"):
        if host.cpu_period and "cpu_period" not in changes:
            raise Conflict("Conflicting options: Nano CPUs cannot be updated as CPU Period has "
                           "already been set")  # fmt: skip
        if host.cpu_quota and "cpu_quota" not in changes:
            raise Conflict("Conflicting options: Nano CPUs cannot be updated as CPU Quota has "
                           "already been set")  # fmt: skip
    if host.nano_cpus and "nano_cpus" not in changes:
        if "cpu_period" in changes:
            raise Conflict("Conflicting options: CPU Period cannot be updated as NanoCPUs has "
                           "already been set")  # fmt: skip
        if "cpu_quota" in changes:
            raise Conflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has "
                           "already been set")  # fmt: skip
    mem = changes.get("memory")
    if mem and "memory_swap" not in changes and host.memory_swap > 0 and mem > host.memory_swap:
        raise InvalidArgument("Memory limit should be smaller than already set memoryswap limit, "
                              "update the memoryswap at the same time")  # fmt: skip
    rp = body.get("RestartPolicy")
    if isinstance(rp, dict) and rp.get("Name"):
        if host.auto_remove:
            raise InvalidArgument("Restart policy cannot be updated because AutoRemove is "
                                  "enabled for the container")  # fmt: skip
        changes["restart_policy"] = RestartPolicy.from_json(rp, where="RestartPolicy")
    return dataclasses.replace(host, **changes) if changes else host


def update(engine: Engine, ref: str, body: dict[str, Any]) -> list[str]:
    """Apply an UpdateConfig to a container; Docker's warnings (none so far)."""
    from hull.engine.config import ContainerConfig
    from hull.engine.resources import resources
    from hull.metadata import containers as md

    with engine._lock:
        rec = engine.find(ref)
        host = HostConfig.from_json(rec.host_config)
        new = merged(host, body)
        validate(ContainerConfig.from_json(rec.config), new)
        if new == host:
            return []
        if engine._has_process(rec.id) and new != dataclasses.replace(
            host, restart_policy=new.restart_policy
        ):
            _runtime_update(engine, rec, resources(new))
        md.update_container(engine.db, rec.id, host_config=new.to_json())
    engine.publish("update", md.get_container(engine.db, rec.id))
    return []


def _runtime_update(engine: Engine, rec: Any, res: dict[str, Any]) -> None:
    fd, path = tempfile.mkstemp(prefix="update-", suffix=".json", dir=engine.container_dir(rec.id))
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(res, f)
        argv = [engine.runtime_path(rec), "--root", str(engine.runtime_root(rec.runtime)),
                "update", "--resources", path, rec.id]  # fmt: skip
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    finally:
        os.unlink(path)
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines()
        raise errors.Internal(
            f"Cannot update container {rec.id}: OCI runtime update failed: "
            f"{lines[-1] if lines else r.returncode}"
        )
