"""The checks Docker makes when a container is created (and updated): ``validate``.

Pure functions over :class:`~hull.engine.config.ContainerConfig` and
:class:`~hull.engine.config.HostConfig`; the first failure raises
``InvalidArgument`` with Docker's words. Also the capability-name and
``cpuset`` list grammars the checks share with ``with_create_defaults``.
"""

from __future__ import annotations

import os
import re

from hull.errors import InvalidArgument
from hull.linux import caps as _caps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.config import ContainerConfig, HostConfig

MIN_MEMORY = 6 * 1024 * 1024
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
_PORT = re.compile(r"(\d+)(?:-(\d+))?")


def normalize_capabilities(names: tuple[str, ...] | list[str] | None) -> list[str]:
    """Upper-case, ``CAP_``-prefixed names, "ALL" kept; unknown ones refused as Docker does."""
    top = _caps.last_cap()
    out: list[str] = []
    for name in names or ():
        c = name.upper()
        if c != "ALL":
            if not c.startswith("CAP_"):
                c = "CAP_" + c
            if _caps.CAPS.get(c, top + 1) > top:
                raise InvalidArgument(f'unknown capability: "{c}"')
        out.append(c)
    return out


def parse_uint_list(text: str, what: str) -> set[int]:
    """A cpuset list ("0-2,4"), as Docker's ``parsers.ParseUintList``."""
    out: set[int] = set()
    if text == "":
        return out
    for part in text.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m is None or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise InvalidArgument(f"Invalid value {text} for {what}")
        lo = int(m.group(1))
        out.update(range(lo, int(m.group(2) or lo) + 1))
    return out


def _check_port(port: str) -> None:
    if port == "":
        return
    m = _PORT.fullmatch(port)
    if m is None or int(m.group(1)) > 65535 or int(m.group(2) or 0) > 65535:
        raise InvalidArgument(f'invalid port specification: "{port}"')
    if m.group(2) is not None and int(m.group(2)) < int(m.group(1)):
        raise InvalidArgument(f'invalid port specification: "{port}"')


def _check_proto_port(spec: str) -> None:
    port, _, proto = spec.partition("/")
    if proto and proto.lower() not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f'invalid proto: "{proto}"')
    if port == "":
        raise InvalidArgument(f'invalid port specification: "{port}"')
    _check_port(port)


def _ranges(ids: set[int]) -> str:
    return f"0-{max(ids)}" if ids else ""


def validate(cfg: ContainerConfig, host: HostConfig, *, ncpu: int | None = None) -> None:
    """The checks Docker makes at create; the first failure raises ``InvalidArgument``."""
    if cfg.working_dir and not cfg.working_dir.startswith("/"):
        raise InvalidArgument(
            f"the working directory '{cfg.working_dir}' is invalid, it needs to be an absolute path"
        )
    hc = cfg.healthcheck
    if hc is not None:
        for name, v in (
            ("Interval", hc.interval),
            ("Timeout", hc.timeout),
            ("StartPeriod", hc.start_period),
            ("StartInterval", hc.start_interval),
        ):
            if v != 0 and v < 1_000_000:
                raise InvalidArgument(f"{name} in Healthcheck cannot be less than 1ms")
        if hc.retries < 0:
            raise InvalidArgument("Retries in Healthcheck cannot be negative")
    for spec in cfg.exposed_ports or ():
        _check_proto_port(spec)
    for spec, bindings in host.port_bindings.items():
        _check_proto_port(spec)
        for b in bindings or ():
            _check_port(b.host_port.partition("/")[0])

    # restart policy and --rm
    rp = host.restart_policy
    if rp.name in ("always", "unless-stopped", "no"):
        if rp.maximum_retry_count != 0:
            msg = "invalid restart policy: maximum retry count can only be used with 'on-failure'"
            raise InvalidArgument(
                msg + (" and cannot be negative" if rp.maximum_retry_count < 0 else "")
            )
    elif rp.name == "on-failure":
        if rp.maximum_retry_count < 0:
            raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    elif rp.name != "":
        raise InvalidArgument(
            f"invalid restart policy: unknown policy '{rp.name}'; use one of 'no', 'always',"
            " 'on-failure', or 'unless-stopped'"
        )
    if host.auto_remove and rp.name not in ("", "no"):
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")

    normalize_capabilities(host.cap_add)
    normalize_capabilities(host.cap_drop)

    # resources (daemon_unix.go verifyPlatformContainerResources)
    if host.memory != 0 and host.memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if host.memory > 0 and host.memory_swap > 0 and host.memory_swap < host.memory:
        raise InvalidArgument(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if host.memory == 0 and host.memory_swap > 0:
        raise InvalidArgument(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    if (
        host.memory_swappiness is not None
        and host.memory_swappiness != -1
        and not (0 <= host.memory_swappiness <= 100)
    ):
        raise InvalidArgument(
            f"Invalid value: {host.memory_swappiness}, valid memory swappiness range is 0-100"
        )
    if host.memory_reservation != 0 and host.memory_reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if host.memory > 0 and host.memory_reservation > 0 and host.memory < host.memory_reservation:
        raise InvalidArgument(
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        )
    if host.nano_cpus > 0 and host.cpu_period > 0:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if host.nano_cpus > 0 and host.cpu_quota > 0:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    n = ncpu if ncpu is not None else (os.cpu_count() or 1)
    if host.nano_cpus < 0 or host.nano_cpus > n * 1_000_000_000:
        raise InvalidArgument(
            f"range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"
        )
    if host.cpu_period != 0 and not 1000 <= host.cpu_period <= 1_000_000:
        raise InvalidArgument(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        )
    if host.cpu_quota > 0 and host.cpu_quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    cpus = parse_uint_list(host.cpuset_cpus, "cpuset cpus")
    if cpus and max(cpus) >= n:
        raise InvalidArgument(
            f"Requested CPUs are not available - requested {host.cpuset_cpus},"
            f" available: {_ranges(set(range(n)))}"
        )
    parse_uint_list(host.cpuset_mems, "cpuset mems")
    if host.blkio_weight > 0 and not 10 <= host.blkio_weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    for wd in host.blkio_weight_device or ():
        if wd.weight > 0 and not 10 <= wd.weight <= 1000:
            raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    if not -1000 <= host.oom_score_adj <= 1000:
        raise InvalidArgument(
            f"Invalid value {host.oom_score_adj}, range for oom score adj is [-1000, 1000]"
        )
    if host.io_maximum_bandwidth or host.io_maximum_iops:
        raise InvalidArgument(
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps"
        )
    if host.shm_size < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    for u in host.ulimits or ():
        if u.soft > u.hard and u.hard != -1:
            raise InvalidArgument(
                f"ulimit soft limit must be less than or equal to hard limit: {u.soft} > {u.hard}"
            )
    for mode, what in ((host.ipc_mode, "ipc"), (host.pid_mode, "pid")):
        if mode.startswith("container:") and not mode[len("container:") :]:
            raise InvalidArgument(f"invalid {what} mode: {mode!r}: no container named")
    if host.ipc_mode and host.ipc_mode.split(":")[0] not in (
        "private", "shareable", "host", "none", "container"
    ):  # fmt: skip
        raise InvalidArgument(f"invalid IPC mode: {host.ipc_mode}")
    if host.cgroupns_mode not in ("", "private", "host"):
        raise InvalidArgument(f"invalid cgroup namespace mode: {host.cgroupns_mode}")
    if host.uts_mode not in ("", "host"):
        raise InvalidArgument(f"invalid UTS mode: {host.uts_mode}")
    if host.userns_mode not in ("", "host"):
        raise InvalidArgument(f"invalid USER mode: {host.userns_mode}")
    for m in host.mounts or ():
        if m.type not in ("bind", "volume", "tmpfs", "npipe", "cluster"):
            raise InvalidArgument(f'invalid mount config for type "{m.type}": mount type unknown')
        if not m.target:
            raise InvalidArgument(
                f'invalid mount config for type "{m.type}": field Target must not be empty'
            )
    for path in host.tmpfs:
        if not path.startswith("/"):
            raise InvalidArgument(
                f'invalid mount config for type "tmpfs": invalid mount path: {path!r}'
                " mount path must be absolute"
            )


__all__ = [
    "MIN_MEMORY",
    "RESTART_POLICIES",
    "normalize_capabilities",
    "parse_uint_list",
    "validate",
]
