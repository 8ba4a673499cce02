"""``docker update``'s merge rules, without a container."""

from __future__ import annotations

import pytest

from hull.engine.config import HostConfig
from hull.engine.update import merged
from hull.errors import Conflict, InvalidArgument


def test_only_set_fields_change() -> None:
    host = HostConfig.from_json({"Memory": 64 << 20, "MemorySwap": 128 << 20, "CpuShares": 512})
    new = merged(host, {"CpuShares": 0, "Memory": 0, "PidsLimit": 30, "CpusetCpus": "0"})
    assert (new.memory, new.memory_swap, new.cpu_shares) == (64 << 20, 128 << 20, 512)
    assert (new.pids_limit, new.cpuset_cpus) == (30, "0")
    assert merged(new, {"PidsLimit": -1}).pids_limit is None  # unlimited
    assert merged(new, {}).pids_limit == 30  # absent: unchanged


def test_cpu_limits_exclude_each_other() -> None:
    with pytest.raises(Conflict, match="Nano CPUs cannot be updated as CPU Period"):
        merged(HostConfig.from_json({"CpuPeriod": 100000}), {"NanoCpus": 500_000_000})
    with pytest.raises(Conflict, match="CPU Quota cannot be updated as NanoCPUs"):
        merged(HostConfig.from_json({"NanoCpus": 10**9}), {"CpuQuota": 50000})
    new = merged(HostConfig.from_json({"NanoCpus": 10**9}), {"NanoCpus": 5 * 10**8})
    assert new.nano_cpus == 5 * 10**8


def test_memory_above_swap_needs_both() -> None:
    host = HostConfig.from_json({"Memory": 64 << 20, "MemorySwap": 128 << 20})
    with pytest.raises(InvalidArgument, match="update the memoryswap at the same time"):
        merged(host, {"Memory": 256 << 20})
    new = merged(host, {"Memory": 256 << 20, "MemorySwap": 512 << 20})
    assert (new.memory, new.memory_swap) == (256 << 20, 512 << 20)


def test_restart_policy() -> None:
    new = merged(HostConfig.from_json({}), {"RestartPolicy": {"Name": "on-failure",
                                                              "MaximumRetryCount": 2}})  # fmt: skip
    assert (new.restart_policy.name, new.restart_policy.maximum_retry_count) == ("on-failure", 2)
    with pytest.raises(InvalidArgument, match="AutoRemove"):
        merged(HostConfig.from_json({"AutoRemove": True}), {"RestartPolicy": {"Name": "always"}})


def test_bad_types() -> None:
    with pytest.raises(InvalidArgument, match=r"UpdateConfig\.Memory"):
        merged(HostConfig.from_json({}), {"Memory": "lots"})
